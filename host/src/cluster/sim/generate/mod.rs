//! Generated mesh scenarios: many namespaces of meshed Deployments, a few
//! StatefulSets and DaemonSets, for scale tests and benchmarks. The standard
//! Linkerd setup is left out; the loader adds it.
//!
//! Output depends only on the options: the random choices come from a
//! SplitMix64 stream seeded by `seed`, which (unlike a library RNG) cannot
//! change between releases.

mod clusters;

use std::fmt::Write;

pub use clusters::{MAX_CLUSTERS, generate_clusters};

/// The largest scenario rotor generates; beyond it the YAML alone is
/// hundreds of MiB.
pub const MAX_WORKLOADS: u64 = 1_000_000;

/// Nodes in the generated cluster: each DaemonSet runs one pod per node.
pub const NODES: u32 = 3;

/// One in this many namespaces is meshed by pod-template annotations
/// instead of the namespace annotation.
const POD_LEVEL_ONE_IN: u64 = 10;

const START_TIME: &str = "2026-03-02T09:00:00Z";

const TEAMS: &[&str] = &[
    "payments",
    "orders",
    "catalog",
    "search",
    "accounts",
    "billing",
    "shipping",
    "media",
    "analytics",
    "checkout",
    "inventory",
    "support",
];
const DEPLOYMENTS: &[&str] = &[
    "api",
    "worker",
    "web",
    "gateway",
    "scheduler",
    "notifier",
    "ingest",
    "reporting",
    "auth",
    "backend",
    "frontend",
    "exporter",
];
const STATEFULSETS: &[&str] = &["postgres", "redis", "kafka", "zookeeper", "etcd", "nats"];
const DAEMONSETS: &[&str] = &["log-agent", "node-exporter", "fluent-bit", "node-monitor"];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    pub namespaces: u32,
    pub workloads_per_namespace: u32,
    /// How many of the workloads are StatefulSets (spread at random).
    pub statefulsets: u32,
    /// How many of the workloads are DaemonSets (spread at random).
    pub daemonsets: u32,
    pub seed: u64,
}

/// Options that describe no scenario, or one too large to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("--namespaces must be at least 1")]
    NoNamespaces,
    #[error("--workloads-per-namespace must be at least 1")]
    NoWorkloads,
    #[error("--clusters must be between 1 and {MAX_CLUSTERS}, not {0}")]
    Clusters(u32),
    #[error(
        "{namespaces} namespaces x {per_namespace} workloads is {total} workloads; at most {MAX_WORKLOADS} can be generated"
    )]
    TooLarge {
        namespaces: u32,
        per_namespace: u32,
        total: u64,
    },
    #[error(
        "{statefulsets} StatefulSets and {daemonsets} DaemonSets do not fit in {total} workloads; lower --statefulsets/--daemonsets or raise --workloads-per-namespace"
    )]
    TooManySpecial {
        statefulsets: u32,
        daemonsets: u32,
        total: u64,
    },
}

/// What a generated scenario holds, for messages and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GeneratedCounts {
    pub namespaces: u32,
    pub pod_level_namespaces: u32,
    pub deployments: u32,
    pub statefulsets: u32,
    pub daemonsets: u32,
    /// Meshed pods once the scenario loads (every generated workload is meshed).
    pub pods: u64,
}

/// A generated scenario: multi-document YAML that `SimCluster::from_yaml` loads.
#[derive(Debug, Clone)]
pub struct Generated {
    pub yaml: String,
    pub counts: GeneratedCounts,
    /// Each namespace's first workload (`ns/Kind/name`), for traffic
    /// between clusters.
    pub first_workloads: Vec<String>,
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, fixed forever.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

/// Generate a scenario for `options`.
pub fn generate(options: &GenerateOptions) -> Result<Generated, GenerateError> {
    generate_with(options, "")
}

/// Generate a scenario whose Simulation spec also holds `extra_spec`
/// (YAML lines indented under `spec:`).
fn generate_with(options: &GenerateOptions, extra_spec: &str) -> Result<Generated, GenerateError> {
    let GenerateOptions {
        namespaces,
        workloads_per_namespace: per_ns,
        statefulsets,
        daemonsets,
        seed,
    } = *options;
    if namespaces == 0 {
        return Err(GenerateError::NoNamespaces);
    }
    if per_ns == 0 {
        return Err(GenerateError::NoWorkloads);
    }
    let total = u64::from(namespaces) * u64::from(per_ns);
    if total > MAX_WORKLOADS {
        return Err(GenerateError::TooLarge {
            namespaces,
            per_namespace: per_ns,
            total,
        });
    }
    if u64::from(statefulsets) + u64::from(daemonsets) > total {
        return Err(GenerateError::TooManySpecial {
            statefulsets,
            daemonsets,
            total,
        });
    }

    let mut rng = SplitMix64(seed);
    let kinds = spread_kinds(total as usize, statefulsets, daemonsets, &mut rng);
    let mut counts = GeneratedCounts {
        namespaces,
        ..GeneratedCounts::default()
    };
    // About 700 bytes per workload; one allocation up front.
    let mut out = String::with_capacity(total as usize * 720 + 1024);
    write_header(&mut out, options);
    out.push_str(extra_spec);
    let mut first_workloads = Vec::with_capacity(namespaces as usize);
    let width = namespaces.to_string().len();
    for n in 0..namespaces {
        let team = TEAMS[n as usize % TEAMS.len()];
        let ns = format!("{team}-{:0width$}", n + 1);
        let pod_level = rng.below(POD_LEVEL_ONE_IN) == 0;
        if pod_level {
            counts.pod_level_namespaces += 1;
        }
        write_namespace(&mut out, &ns, pod_level);
        let mut used = [0usize; 3];
        for w in 0..per_ns {
            let kind = kinds[(n as usize) * (per_ns as usize) + w as usize];
            let (names, slot) = match kind {
                Kind::Deployment => (DEPLOYMENTS, 0),
                Kind::StatefulSet => (STATEFULSETS, 1),
                Kind::DaemonSet => (DAEMONSETS, 2),
            };
            let name = numbered(names, used[slot]);
            used[slot] += 1;
            if w == 0 {
                first_workloads.push(format!("{ns}/{}/{name}", kind_name(kind)));
            }
            let replicas = 1 + rng.below(3) as u32;
            let minor = rng.below(20);
            match kind {
                Kind::Deployment => {
                    counts.deployments += 1;
                    counts.pods += u64::from(replicas);
                }
                Kind::StatefulSet => {
                    counts.statefulsets += 1;
                    counts.pods += u64::from(replicas);
                }
                Kind::DaemonSet => {
                    counts.daemonsets += 1;
                    counts.pods += u64::from(NODES);
                }
            }
            write_workload(
                &mut out,
                &Workload {
                    kind,
                    namespace: &ns,
                    name: &name,
                    replicas,
                    image_minor: minor,
                    pod_level,
                },
            );
        }
    }
    Ok(Generated {
        yaml: out,
        counts,
        first_workloads,
    })
}

/// Which workload index is which kind: `statefulsets` and `daemonsets`
/// indices drawn without replacement, the rest Deployments.
fn spread_kinds(
    total: usize,
    statefulsets: u32,
    daemonsets: u32,
    rng: &mut SplitMix64,
) -> Vec<Kind> {
    let special = statefulsets as usize + daemonsets as usize;
    let mut order: Vec<usize> = (0..total).collect();
    // Partial Fisher-Yates: the first `special` entries are a uniform sample.
    for i in 0..special {
        let j = i + rng.below((total - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut kinds = vec![Kind::Deployment; total];
    for (i, &index) in order[..special].iter().enumerate() {
        kinds[index] = if i < statefulsets as usize {
            Kind::StatefulSet
        } else {
            Kind::DaemonSet
        };
    }
    kinds
}

/// `names[i]`, then `names[i]-2`, `-3`, ... once the list is used up.
fn numbered(names: &[&str], i: usize) -> String {
    let base = names[i % names.len()];
    match i / names.len() {
        0 => base.to_string(),
        round => format!("{base}-{}", round + 1),
    }
}

fn write_header(out: &mut String, o: &GenerateOptions) {
    // `write!` to a String cannot fail.
    let _ = write!(
        out,
        "# Generated by `rotor scenario generate --namespaces {} --workloads-per-namespace {} \
         --statefulsets {} --daemonsets {} --seed {}`.\n\
         # The standard Linkerd setup (control plane, cert-manager, trust-manager) is added on load.\n\
         apiVersion: rotor.dev/v1alpha1\n\
         kind: Simulation\n\
         spec:\n  startTime: \"{START_TIME}\"\n  nodes: {NODES}\n",
        o.namespaces, o.workloads_per_namespace, o.statefulsets, o.daemonsets, o.seed
    );
}

fn write_namespace(out: &mut String, name: &str, pod_level: bool) {
    let _ = write!(
        out,
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    \
         kubernetes.io/metadata.name: {name}\n"
    );
    if !pod_level {
        out.push_str("  annotations:\n    linkerd.io/inject: enabled\n");
    }
}

struct Workload<'a> {
    kind: Kind,
    namespace: &'a str,
    name: &'a str,
    replicas: u32,
    image_minor: u64,
    pod_level: bool,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Deployment => "Deployment",
        Kind::StatefulSet => "StatefulSet",
        Kind::DaemonSet => "DaemonSet",
    }
}

fn write_workload(out: &mut String, w: &Workload<'_>) {
    let Workload {
        kind,
        namespace,
        name,
        replicas,
        image_minor,
        pod_level,
    } = *w;
    let kind_name = kind_name(kind);
    let _ = write!(
        out,
        "---\napiVersion: apps/v1\nkind: {kind_name}\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  \
         labels:\n    app.kubernetes.io/name: {name}\n    app.kubernetes.io/part-of: {namespace}\nspec:\n"
    );
    if kind != Kind::DaemonSet {
        let _ = writeln!(out, "  replicas: {replicas}");
    }
    if kind == Kind::StatefulSet {
        let _ = writeln!(out, "  serviceName: {name}");
    }
    let _ = write!(
        out,
        "  selector:\n    matchLabels:\n      app.kubernetes.io/name: {name}\n  template:\n    metadata:\n      \
         labels:\n        app.kubernetes.io/name: {name}\n"
    );
    if pod_level {
        out.push_str("      annotations:\n        linkerd.io/inject: enabled\n");
    }
    let _ = write!(
        out,
        "    spec:\n      containers:\n      - name: app\n        image: ghcr.io/example/{name}:1.{image_minor}.0\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use crate::cluster::sim::SimCluster;
    use crate::wit::WorkloadKind;

    fn options(namespaces: u32, per_ns: u32, seed: u64) -> GenerateOptions {
        GenerateOptions {
            namespaces,
            workloads_per_namespace: per_ns,
            statefulsets: 3,
            daemonsets: 2,
            seed,
        }
    }

    #[test]
    fn same_seed_same_scenario_other_seed_other_scenario() {
        let a = generate(&options(20, 4, 7)).expect("generates");
        let b = generate(&options(20, 4, 7)).expect("generates");
        let c = generate(&options(20, 4, 8)).expect("generates");
        assert_eq!(a.yaml, b.yaml);
        assert_ne!(a.yaml, c.yaml);
    }

    #[tokio::test]
    async fn generated_scenario_loads_with_every_workload_meshed() {
        let generated = generate(&options(30, 5, 42)).expect("generates");
        let counts = generated.counts;
        assert_eq!(counts.namespaces, 30);
        assert_eq!(
            counts.deployments + counts.statefulsets + counts.daemonsets,
            150
        );
        assert_eq!((counts.statefulsets, counts.daemonsets), (3, 2));
        assert!(
            counts.pod_level_namespaces > 0 && counts.pod_level_namespaces < 30,
            "{counts:?}"
        );

        let cluster = SimCluster::from_yaml(&generated.yaml).expect("loads");
        let is_app = |ns: &str| !["linkerd", "linkerd-viz", "cert-manager"].contains(&ns);
        let workloads: Vec<_> = cluster
            .list_workloads(None, None, "")
            .await
            .expect("lists")
            .into_iter()
            .filter(|w| is_app(&w.namespace))
            .collect();
        assert_eq!(workloads.len(), 150);
        let of = |k: WorkloadKind| workloads.iter().filter(|w| w.kind == k).count();
        assert_eq!(of(WorkloadKind::StatefulSet), 3);
        assert_eq!(of(WorkloadKind::DaemonSet), 2);
        let pods = cluster
            .list_pods(None, "linkerd.io/control-plane-ns=linkerd")
            .await
            .expect("lists");
        let app_pods = pods.iter().filter(|p| is_app(&p.namespace)).count() as u64;
        assert_eq!(app_pods, counts.pods);
    }

    #[test]
    fn names_stay_unique_past_the_word_lists() {
        let generated = generate(&GenerateOptions {
            namespaces: 1,
            workloads_per_namespace: 40,
            statefulsets: 10,
            daemonsets: 5,
            seed: 1,
        })
        .expect("generates");
        SimCluster::from_yaml(&generated.yaml).expect("loads");
        assert!(generated.yaml.contains("name: api-2\n"));
        assert!(generated.yaml.contains("name: postgres-2\n"));
    }

    #[test]
    fn impossible_options_are_refused() {
        let mut o = options(0, 1, 1);
        assert_eq!(generate(&o).unwrap_err(), GenerateError::NoNamespaces);
        o = options(1, 0, 1);
        assert_eq!(generate(&o).unwrap_err(), GenerateError::NoWorkloads);
        o = options(1, 4, 1);
        let err = generate(&o).unwrap_err();
        assert!(
            matches!(err, GenerateError::TooManySpecial { total: 4, .. }),
            "{err}"
        );
        o = options(100_000, 100, 1);
        assert!(matches!(
            generate(&o).unwrap_err(),
            GenerateError::TooLarge { .. }
        ));
    }
}
