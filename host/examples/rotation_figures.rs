//! How long the default policy takes in virtual time, next to the fastest
//! any rotation in the documented safe order could be on the same scenario
//! at the same parallelism, and next to the blog script's order (fast, but
//! it breaks traffic).
//!
//! `cargo run --release -p rotor --example rotation_figures [SCENARIO.yaml ...]`
//! (default: the demo and `tests/scenarios/fifty-namespaces.yaml`).
//!
//! The lower bound (`common/bound.rs`) is built from the scenario's own
//! timings and rollouts, at the default policy's parallelism for the
//! default run and with every group at once for the unbounded one.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotor::cluster::Cluster;
use rotor::cluster::sim::{DEMO_SCENARIO, ScenarioError, SimCluster};
use rotor::config::RunConfig;
use rotor::report::RunReport;
use rotor::runtime::{
    DEFAULT_POLICY, GUESTS_DIR, LoadError, LoadedPolicy, RunControls, Runtime, RuntimeError,
    RuntimeOptions,
};

use common::bound::{GROUPS, Rollouts, Window};

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
    #[error("scenario {name}: {message}")]
    Bound { name: String, message: String },
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
    rollouts: Rollouts,
    default: RunFigures,
    /// The default policy with every group restarted at once, as far as
    /// its window goes: what is left is the policy's own pacing and checking.
    unbounded: RunFigures,
    blog: RunFigures,
}

/// The default policy's configuration with restarts as parallel as its
/// window goes.
fn unbounded_parallelism() -> RunConfig {
    RunConfig {
        policy: Some(serde_json::json!({
            "parallelism": Window::UNBOUNDED.parallelism,
            "parallelismPerNamespace": 0,
        })),
        ..RunConfig::default()
    }
}

fn print_formula() {
    println!("Lower bound for a rotation in the documented safe order, at a parallelism:");
    println!("  bound = I + B + round          (new anchor B; bundle {{A, B}})");
    println!("        + I + round              (issuer signed by B; identity restarted with it)");
    println!("        + B + round              (previous-anchor := B; bundle {{B}})");
    println!("  I issuance, B bundle sync;");
    println!("  round = control plane + extensions + data plane, each group at least its slowest");
    println!(
        "  rollout, its rollouts' sum over the window and any namespace's sum over its limit,"
    );
    println!("  every workload's rollout measured by restarting it alone.");
    println!();
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<18} {:>9} {:>8} {:>7} {:>7} {:>11} {:>8} {:>7} {:>7} {:>13} {:>10} {:>8}",
        "scenario",
        "default s",
        "bound s",
        "ratio",
        "target",
        "unbounded s",
        "bound s",
        "ratio",
        "blog s",
        "blog outage",
        "default ms",
        "blog ms"
    );
    for r in rows {
        let bound = r.rollouts.bound("full", "restart", Window::DEFAULT);
        let unbounded = r.rollouts.bound("full", "restart", Window::UNBOUNDED);
        let ratio = r.default.virtual_seconds as f64 / bound as f64;
        let unbounded_ratio = r.unbounded.virtual_seconds as f64 / unbounded as f64;
        println!(
            "{:<18} {:>9} {:>8} {:>6.2}x {:>7} {:>11} {:>8} {:>6.2}x {:>7} {:>13} {:>10.0} {:>8.0}",
            r.name,
            outcome_seconds(&r.default),
            bound,
            ratio,
            if ratio <= TARGET_RATIO {
                "met"
            } else {
                "missed"
            },
            outcome_seconds(&r.unbounded),
            unbounded,
            unbounded_ratio,
            outcome_seconds(&r.blog),
            format!("{} pair-s", r.blog.broken_pair_seconds),
            r.default.wall.as_secs_f64() * 1000.0,
            r.blog.wall.as_secs_f64() * 1000.0,
        );
    }
    println!();
    for r in rows {
        let t = &r.rollouts.timings;
        println!(
            "{}: I {} s, B {} s, K {} s, R {} s; round {} s at the default window, {} s unbounded",
            r.name,
            t.issuance_seconds,
            t.bundle_sync_seconds,
            t.kubelet_sync_seconds,
            t.identity_reload_seconds,
            r.rollouts.round(Window::DEFAULT),
            r.rollouts.round(Window::UNBOUNDED),
        );
        for (g, group) in GROUPS.iter().enumerate() {
            match r.rollouts.slowest(g) {
                None => println!("  {group}: no workloads"),
                Some(slowest) => println!(
                    "  {group}: {} rollouts, {} s at the default window, slowest {} s ({})",
                    r.rollouts.groups[g].len(),
                    r.rollouts.group_seconds(g, Window::DEFAULT),
                    slowest.seconds,
                    slowest.workload
                ),
            }
        }
        println!(
            "  blog order: {} s virtual ({:.2}x the default), outage {} pair-s",
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
            rollouts: Rollouts::measure(&source.text).await.map_err(|message| {
                FiguresError::Bound {
                    name: source.name.clone(),
                    message,
                }
            })?,
            default: run(&runtime, &default, source, &RunConfig::default()).await?,
            unbounded: run(&runtime, &default, source, &unbounded_parallelism()).await?,
            blog: run(&runtime, &blog, source, &RunConfig::default()).await?,
        });
    }
    print_table(&rows);
    println!();
    println!(
        "\"unbounded\": the default policy with parallelism {} and no limit per namespace; \
         the default configuration runs at most {} rollouts at once, {} in one namespace",
        Window::UNBOUNDED.parallelism,
        Window::DEFAULT.parallelism,
        Window::DEFAULT.per_namespace,
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
