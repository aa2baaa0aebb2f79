//! API efficiency: Kubernetes API requests of one default rotation
//! through `KubeCluster` against the test API server (real wire format,
//! backed by the simulator), for W = 50 and W = 500 workloads, in each
//! mode: Linkerd's documented order (`full`) and a staged successor anchor
//! (`staged`, in its steady state: migrated in the simulator first), each
//! restarting for the new issuer or waiting out the leaves
//! (`adoptNewIssuer: leaf-refresh`: two runs a leaf lifetime apart, both
//! counted).
//!
//! ```text
//! cargo run --release -p rotor --example bench_api [-- WORKLOADS...]
//! ```

mod common;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use rotor::cluster::Cluster;
use rotor::cluster::kube::KubeCluster;
use rotor::cluster::sim::SimCluster;
use rotor::cluster::sim::generate::{GenerateOptions, generate};
use rotor::config::RunConfig;
use rotor::primitive::Primitive;
use rotor::report::RunReport;
use rotor::runtime::{DEFAULT_POLICY, RunControls, Runtime, RuntimeOptions};
use rotor::testing::apiserver::{ServerOptions, TestApiServer};

/// Two single-replica Deployments per namespace, as in the kube tests.
const PER_NAMESPACE: u32 = 2;
const DEFAULT_SIZES: [u32; 2] = [50, 500];

/// A mode: its name, and whether it rotates a staged anchor.
struct Mode {
    name: &'static str,
    staged: bool,
    adoption: &'static str,
}

const MODES: [Mode; 4] = [
    Mode {
        name: "full/restart",
        staged: false,
        adoption: "restart",
    },
    Mode {
        name: "full/leaf-refresh",
        staged: false,
        adoption: "leaf-refresh",
    },
    Mode {
        name: "staged/restart",
        staged: true,
        adoption: "restart",
    },
    Mode {
        name: "staged/leaf-refresh",
        staged: true,
        adoption: "leaf-refresh",
    },
];

impl Mode {
    fn config(&self) -> RunConfig {
        let mode = if self.staged { "staged" } else { "full" };
        common::rotation_config(mode, self.adoption)
    }
}

struct Figures {
    mode: &'static str,
    workloads: u32,
    requests: u64,
    by_request: BTreeMap<String, u64>,
    by_primitive: BTreeMap<Primitive, u64>,
    wall_ms: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let sizes: Result<Vec<u32>, String> = std::env::args()
        .skip(1)
        .map(|a| match a.parse::<u32>() {
            Ok(w) if w >= PER_NAMESPACE && w.is_multiple_of(PER_NAMESPACE) => Ok(w),
            _ => Err(format!(
                "workload count {a:?}: expected a multiple of {PER_NAMESPACE}"
            )),
        })
        .collect();
    let sizes = match sizes {
        Ok(s) if s.is_empty() => DEFAULT_SIZES.to_vec(),
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench_api: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("machine: {}", common::machine());
    let runtime = match Runtime::new(RuntimeOptions { cache_dir: None }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench_api: {e}");
            return ExitCode::FAILURE;
        }
    };
    for mode in &MODES {
        let mut all = vec![];
        for &w in &sizes {
            match rotate(&runtime, w, mode).await {
                Ok(f) => {
                    print_figures(&f);
                    all.push(f);
                }
                Err(e) => {
                    eprintln!("bench_api: {} W={w}: {e}", mode.name);
                    return ExitCode::FAILURE;
                }
            }
        }
        if let [a, b] = &all[..] {
            let slope =
                (b.requests as f64 - a.requests as f64) / f64::from(b.workloads - a.workloads);
            let constant = a.requests as f64 - slope * f64::from(a.workloads);
            println!(
                "{}: fit: requests = {slope:.2} * W + {constant:.0}",
                mode.name
            );
        }
    }
    ExitCode::SUCCESS
}

/// The generated mesh of `workloads`, as `mode` starts from it: a staged
/// mode's after the migrating rotation (in the simulator, uncounted).
async fn mesh(runtime: &Runtime, workloads: u32, mode: &Mode) -> Result<Arc<SimCluster>, String> {
    let generated = generate(&GenerateOptions {
        namespaces: workloads / PER_NAMESPACE,
        workloads_per_namespace: PER_NAMESPACE,
        statefulsets: 0,
        daemonsets: 0,
        seed: 1,
    })
    .map_err(|e| e.to_string())?;
    let sim = SimCluster::from_yaml(&generated.yaml).map_err(|e| e.to_string())?;
    if !mode.staged {
        return Ok(Arc::new(sim));
    }
    let migrating = Arc::new(
        sim.with_next_anchor(common::NEXT_ANCHOR)
            .map_err(|e| e.to_string())?,
    );
    let policy = runtime
        .load("linkerd-rotation", DEFAULT_POLICY)
        .map_err(|e| e.to_string())?;
    let migration = MODES[2].config();
    let backend: Arc<dyn Cluster> = migrating.clone();
    let outcome = runtime
        .run(&policy, backend, &migration, RunControls::default())
        .await;
    outcome
        .result
        .map_err(|e| format!("migrating rotation: {e}"))?;
    let steady = SimCluster::from_yaml(&migrating.state_yaml()).map_err(|e| e.to_string())?;
    Ok(Arc::new(steady))
}

async fn rotate(runtime: &Runtime, workloads: u32, mode: &Mode) -> Result<Figures, String> {
    let sim = mesh(runtime, workloads, mode).await?;
    let server = TestApiServer::start(sim.clone(), ServerOptions::default())
        .await
        .map_err(|e| format!("test API server: {e}"))?;
    let client = server.client().map_err(|e| e.to_string())?;
    let cluster: Arc<dyn Cluster> =
        Arc::new(KubeCluster::new(client, "rotor-system").with_clock(server.clock()));
    let policy = runtime
        .load("linkerd-rotation", DEFAULT_POLICY)
        .map_err(|e| e.to_string())?;
    let config = mode.config();
    let started = Instant::now();
    let mut by_primitive = BTreeMap::new();
    // leaf-refresh pauses once, for a leaf lifetime (and its margin).
    for run in 0..3 {
        let outcome = runtime
            .run(&policy, cluster.clone(), &config, RunControls::default())
            .await;
        let report = RunReport::new(
            outcome,
            &policy,
            rotor::cluster::Backend::Kubernetes,
            false,
            None,
        );
        if !report.succeeded() {
            return Err(format!("rotation failed:\n{}", report.render_text()));
        }
        for (p, n) in &report.calls.by_primitive {
            *by_primitive.entry(*p).or_insert(0) += n;
        }
        let paused = report
            .summary
            .as_ref()
            .is_some_and(|s| s.facts.iter().any(|kv| kv.key == "pausedBefore"));
        if !paused {
            break;
        }
        if run == 2 {
            return Err("still paused after three runs".into());
        }
        sim.advance(86_400 + 700);
    }
    let wall_ms = common::ms_since(started);
    let outage = sim.simulation_report().outage;
    if outage.broken_pair_seconds > 0.0 {
        return Err(format!("meshed traffic broke: {:?}", outage.windows));
    }
    Ok(Figures {
        mode: mode.name,
        workloads,
        requests: server.request_total(),
        by_request: server.requests(),
        by_primitive,
        wall_ms,
    })
}

fn print_figures(f: &Figures) {
    let w = u64::from(f.workloads);
    let restarts = f.by_primitive.get("restart-workload").copied().unwrap_or(0);
    println!(
        "{} W={w}: {} API requests ({:.1} per workload; 2W = {}), {restarts} restarts ({:.1} per workload), {:.0} ms wall",
        f.mode,
        f.requests,
        f.requests as f64 / w as f64,
        2 * w,
        restarts as f64 / w as f64,
        f.wall_ms,
    );
    fn per<K: std::fmt::Display>(m: &BTreeMap<K, u64>) -> String {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
    println!("  requests by verb and resource: {}", per(&f.by_request));
    println!("  policy calls by primitive: {}", per(&f.by_primitive));
}
