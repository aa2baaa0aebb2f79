//! How long the default policy takes in virtual time, next to the fastest
//! any rotation in the documented safe order could be on the same scenario,
//! and next to the blog script's order (fast, but it breaks traffic).
//!
//! `cargo run --release -p rotor --example rotation_figures [SCENARIO.yaml ...]`
//! (default: the demo and `tests/scenarios/fifty-namespaces.yaml`).
//!
//! The lower bound is built from the scenario's own timings and rollouts:
//!
//! ```text
//! bound = issuance + bundle sync                       new anchor, bundle {A, B}
//!       + 3 x (CP + EXT + DP)                           three restart rounds
//!       + issuance + identity reload                    issuer signed by B
//!       + bundle sync                                   previous-anchor := B, bundle {B}
//! ```
//!
//! where CP, EXT and DP are the slowest single rollout of the control plane,
//! the extensions and the data plane: each group may restart all at once,
//! but a group must be done before the next starts, and each round before
//! the next step. Each rollout is measured by restarting the workload alone
//! in a fresh copy of the scenario, so the bound ignores the time a policy
//! spends checking, polling and pacing its restarts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotor::cluster::sim::manifest::Timings;
use rotor::cluster::sim::scenario::Scenario;
use rotor::cluster::sim::{DEMO_SCENARIO, ScenarioError, SimCluster};
use rotor::cluster::{Cluster, ClusterError};
use rotor::config::RunConfig;
use rotor::report::RunReport;
use rotor::runtime::{
    DEFAULT_POLICY, GUESTS_DIR, LoadError, LoadedPolicy, RunControls, Runtime, RuntimeError,
    RuntimeOptions,
};
use rotor::wit::{RolloutPhase, WorkloadKind};

/// The default policy's extension namespaces (restarted after the control
/// plane, before the data plane).
const EXTENSIONS: &[&str] = &[
    "linkerd-viz",
    "linkerd-jaeger",
    "linkerd-multicluster",
    "linkerd-smi",
];
const CONTROL_PLANE: &str = "linkerd";
const MESHED: &str = "linkerd.io/control-plane-ns=linkerd";
/// Longest a single measured rollout may take.
const ROLLOUT_TIMEOUT: u32 = 3600;
/// The default policy should stay within this factor of the bound.
const TARGET_RATIO: f64 = 1.25;

#[derive(Debug, thiserror::Error)]
enum FiguresError {
    #[error("scenario {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario {name}: {source}")]
    Scenario {
        name: String,
        #[source]
        source: ScenarioError,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("policy {path}: cannot read (build the guests first): {source}")]
    ReadPolicy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario {name}: measuring rollouts: {source}")]
    Cluster {
        name: String,
        #[source]
        source: ClusterError,
    },
    #[error(
        "scenario {name}: {workload} did not roll out alone within {ROLLOUT_TIMEOUT} s ({message}); \
         no lower bound without it"
    )]
    Rollout {
        name: String,
        workload: String,
        message: String,
    },
}

/// A scenario's name (for the table) and text.
struct Source {
    name: String,
    text: String,
}

impl Source {
    fn read(path: &Path) -> Result<Source, FiguresError> {
        let text = std::fs::read_to_string(path).map_err(|source| FiguresError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        Ok(Source { name, text })
    }

    fn cluster(&self) -> Result<Arc<SimCluster>, FiguresError> {
        SimCluster::from_yaml(&self.text)
            .map(Arc::new)
            .map_err(|source| FiguresError::Scenario {
                name: self.name.clone(),
                source,
            })
    }

    fn timings(&self) -> Result<Timings, FiguresError> {
        let scenario = Scenario::parse(&self.text).map_err(|source| FiguresError::Scenario {
            name: self.name.clone(),
            source,
        })?;
        Ok(scenario.simulation.unwrap_or_default().timings)
    }
}

/// The slowest single rollout of one restart group.
#[derive(Debug, Default, Clone)]
struct Slowest {
    seconds: i64,
    workload: String,
}

#[derive(Debug)]
struct LowerBound {
    issuance: i64,
    bundle_sync: i64,
    identity_reload: i64,
    control_plane: Slowest,
    extensions: Slowest,
    data_plane: Slowest,
}

impl LowerBound {
    fn round(&self) -> i64 {
        self.control_plane.seconds + self.extensions.seconds + self.data_plane.seconds
    }

    fn total(&self) -> i64 {
        self.issuance
            + self.bundle_sync
            + 3 * self.round()
            + self.issuance
            + self.identity_reload
            + self.bundle_sync
    }

    async fn measure(source: &Source) -> Result<LowerBound, FiguresError> {
        let t = source.timings()?;
        let cluster = source.cluster()?;
        let err = |e: ClusterError| FiguresError::Cluster {
            name: source.name.clone(),
            source: e,
        };
        let pods = cluster.list_pods(None, MESHED).await.map_err(err)?;
        // Bare pods have no rollout; leaving them out only lowers the bound.
        let owners: BTreeSet<(String, String, String)> = pods
            .into_iter()
            .filter_map(|p| p.owner)
            .map(|o| (o.namespace, o.kind, o.name))
            .collect();
        let mut bound = LowerBound {
            issuance: t.issuance_seconds,
            bundle_sync: t.bundle_sync_seconds,
            identity_reload: t.identity_reload_seconds,
            control_plane: Slowest::default(),
            extensions: Slowest::default(),
            data_plane: Slowest::default(),
        };
        for (namespace, kind_name, name) in owners {
            let Some(kind) = workload_kind(&kind_name) else {
                continue;
            };
            let workload = format!("{namespace}/{kind_name}/{name}");
            let started = cluster.now().await;
            cluster
                .restart_workload(kind, &namespace, &name)
                .await
                .map_err(err)?;
            let status = match cluster
                .wait_rollout(kind, &namespace, &name, ROLLOUT_TIMEOUT)
                .await
            {
                Ok(status) => status,
                // `OnDelete` has no rollout to wait for (a policy replaces
                // its pods one by one); leaving it out only lowers the bound.
                Err(ClusterError::Invalid(_)) => continue,
                Err(e) => return Err(err(e)),
            };
            if status.phase != RolloutPhase::Complete {
                return Err(FiguresError::Rollout {
                    name: source.name.clone(),
                    workload,
                    message: status.message,
                });
            }
            let seconds = cluster.now().await - started;
            let group = if namespace == CONTROL_PLANE {
                &mut bound.control_plane
            } else if EXTENSIONS.contains(&namespace.as_str()) {
                &mut bound.extensions
            } else {
                &mut bound.data_plane
            };
            if seconds > group.seconds {
                *group = Slowest { seconds, workload };
            }
        }
        Ok(bound)
    }
}

fn workload_kind(kind: &str) -> Option<WorkloadKind> {
    match kind {
        "Deployment" => Some(WorkloadKind::Deployment),
        "StatefulSet" => Some(WorkloadKind::StatefulSet),
        "DaemonSet" => Some(WorkloadKind::DaemonSet),
        _ => None,
    }
}

/// One policy run: virtual seconds, wall time, outcome and outage.
struct RunFigures {
    virtual_seconds: i64,
    wall: Duration,
    succeeded: bool,
    error: Option<String>,
    broken_pair_seconds: f64,
}

async fn run(
    runtime: &Runtime,
    policy: &LoadedPolicy,
    source: &Source,
    config: &RunConfig,
) -> Result<RunFigures, FiguresError> {
    let cluster = source.cluster()?;
    let backend: Arc<dyn Cluster> = cluster.clone();
    let started = Instant::now();
    let outcome = runtime
        .run(policy, backend, config, RunControls::default())
        .await;
    let wall = started.elapsed();
    cluster.watch_after_run();
    let sim = cluster.simulation_report();
    let report = RunReport::new(outcome, policy, cluster.backend(), false, None);
    Ok(RunFigures {
        virtual_seconds: report.finished_at - report.started_at,
        wall,
        succeeded: report.succeeded(),
        error: report.error,
        broken_pair_seconds: sim.outage.broken_pair_seconds,
    })
}

struct Row {
    name: String,
    bound: LowerBound,
    default: RunFigures,
    /// The default policy with every group restarted at once, as the bound
    /// assumes: what is left is the policy's own pacing and checking.
    unbounded: RunFigures,
    blog: RunFigures,
}

/// The default policy's configuration with restarts fully parallel.
fn unbounded_parallelism() -> RunConfig {
    RunConfig {
        policy: Some(serde_json::json!({ "parallelism": 100_000 })),
        ..RunConfig::default()
    }
}

fn print_formula() {
    println!("Lower bound for a rotation in the documented safe order:");
    println!("  bound = issuance + bundle sync          (new anchor B; bundle {{A, B}})");
    println!(
        "        + 3 x (CP + EXT + DP)             (restart rounds: trust B, adopt issuer, drop A)"
    );
    println!("        + issuance + identity reload      (issuer signed by B, reloaded)");
    println!("        + bundle sync                     (previous-anchor := B; bundle {{B}})");
    println!("  CP / EXT / DP = the slowest single rollout of the control plane, the extensions");
    println!("  and the data plane, measured by restarting each workload alone; a group restarts");
    println!("  fully in parallel, but each group (and each round) must finish before the next.");
    println!();
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<18} {:>9} {:>9} {:>8} {:>9} {:>11} {:>8} {:>9} {:>13} {:>10} {:>9}",
        "scenario",
        "default s",
        "bound s",
        "ratio",
        "target",
        "unbounded s",
        "ratio",
        "blog s",
        "blog outage",
        "default ms",
        "blog ms"
    );
    for r in rows {
        let ratio = r.default.virtual_seconds as f64 / r.bound.total() as f64;
        let unbounded_ratio = r.unbounded.virtual_seconds as f64 / r.bound.total() as f64;
        println!(
            "{:<18} {:>9} {:>9} {:>7.2}x {:>9} {:>11} {:>7.2}x {:>9} {:>13} {:>10.0} {:>9.0}",
            r.name,
            outcome_seconds(&r.default),
            r.bound.total(),
            ratio,
            if ratio <= TARGET_RATIO {
                "met"
            } else {
                "missed"
            },
            outcome_seconds(&r.unbounded),
            unbounded_ratio,
            outcome_seconds(&r.blog),
            format!("{} pair-s", r.blog.broken_pair_seconds),
            r.default.wall.as_secs_f64() * 1000.0,
            r.blog.wall.as_secs_f64() * 1000.0,
        );
    }
    println!();
    for r in rows {
        let b = &r.bound;
        println!(
            "{}: bound {} s = {} + {} + 3 x ({} + {} + {}) + {} + {} + {}",
            r.name,
            b.total(),
            b.issuance,
            b.bundle_sync,
            b.control_plane.seconds,
            b.extensions.seconds,
            b.data_plane.seconds,
            b.issuance,
            b.identity_reload,
            b.bundle_sync
        );
        for (group, slowest) in [
            ("control plane", &b.control_plane),
            ("extensions", &b.extensions),
            ("data plane", &b.data_plane),
        ] {
            if slowest.workload.is_empty() {
                println!("  slowest {group} rollout: none (no workloads)");
            } else {
                println!(
                    "  slowest {group} rollout: {} s ({})",
                    slowest.seconds, slowest.workload
                );
            }
        }
        println!(
            "  default policy: {} s virtual, outage {} pair-s, {:.2}x the bound; \
             blog order: {} s virtual ({:.2}x the default), outage {} pair-s",
            r.default.virtual_seconds,
            r.default.broken_pair_seconds,
            r.default.virtual_seconds as f64 / b.total() as f64,
            r.blog.virtual_seconds,
            r.blog.virtual_seconds as f64 / r.default.virtual_seconds as f64,
            r.blog.broken_pair_seconds,
        );
        for (label, figures) in [
            ("default policy", &r.default),
            ("default policy, unbounded parallelism", &r.unbounded),
            ("blog order", &r.blog),
        ] {
            if let Some(error) = &figures.error {
                println!("  {label} failed: {error}");
            }
        }
    }
}

fn outcome_seconds(f: &RunFigures) -> String {
    if f.succeeded {
        f.virtual_seconds.to_string()
    } else {
        format!("{} (failed)", f.virtual_seconds)
    }
}

fn sources() -> Result<Vec<Source>, FiguresError> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if !args.is_empty() {
        return args.iter().map(|p| Source::read(p)).collect();
    }
    let fifty =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios/fifty-namespaces.yaml");
    Ok(vec![
        Source {
            name: "demo".into(),
            text: DEMO_SCENARIO.into(),
        },
        Source::read(&fifty)?,
    ])
}

async fn figures() -> Result<(), FiguresError> {
    let sources = sources()?;
    let runtime = Runtime::new(RuntimeOptions::default())?;
    let compile_started = Instant::now();
    let default = runtime.load("linkerd-rotation", DEFAULT_POLICY)?;
    let blog_path = Path::new(GUESTS_DIR).join("blog_order.wasm");
    let blog_wasm = std::fs::read(&blog_path).map_err(|source| FiguresError::ReadPolicy {
        path: blog_path.clone(),
        source,
    })?;
    let blog = runtime.load("blog_order.wasm", &blog_wasm)?;
    let compile = compile_started.elapsed();

    print_formula();
    let mut rows = Vec::new();
    for source in &sources {
        rows.push(Row {
            name: source.name.clone(),
            bound: LowerBound::measure(source).await?,
            default: run(&runtime, &default, source, &RunConfig::default()).await?,
            unbounded: run(&runtime, &default, source, &unbounded_parallelism()).await?,
            blog: run(&runtime, &blog, source, &RunConfig::default()).await?,
        });
    }
    print_table(&rows);
    println!();
    println!(
        "\"unbounded\": the default policy with parallelism 100000 (each group at once, as the bound \
         assumes); the default configuration restarts at most 50 workloads at a time"
    );
    println!(
        "wall: compiling both policies took {:.0} ms (not counted per run); \
         \"default ms\" / \"blog ms\" are one whole run each (instantiate, run, simulate)",
        compile.as_secs_f64() * 1000.0
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match figures().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
