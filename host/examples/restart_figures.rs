//! Restarts per workload, virtual time and host calls of the default
//! policy in Linkerd's documented order (`mode: full`) and with a staged
//! successor anchor (`mode: staged`), each restarting for the new issuer
//! (`adoptNewIssuer: restart`) or waiting out the leaves
//! (`adoptNewIssuer: leaf-refresh`: a first run that pauses before
//! adopt-new-issuer, one leaf lifetime, a second run).
//!
//! The staged figures are of a rotation in the staged layout's steady
//! state: the scenario gets a next anchor Certificate in the Bundle
//! (`SimCluster::with_next_anchor`), a first staged rotation migrates it
//! (every proxy restarted to trust the next anchor), and the rotation
//! after that is measured.
//!
//! `cargo run --release -p rotor --example restart_figures SCENARIO.yaml...`
//! (default: the embedded demo).
//!
//! W is the number of workloads whose pods are meshed at the start. A
//! restart is one `restart-workload` (or OnDelete round) the policy
//! counts; host calls are every call the policy made through the guard.
//! For leaf-refresh, "runs s" adds up the two runs and "span s" is from the
//! first run's start to the second's end, the leaf lifetime included.
//! "bound s" is the fastest the mode could be at the default parallelism
//! (`common/bound.rs`), against "runs s".

mod common;

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::sim::{DEMO_SCENARIO, SimCluster};
use rotor::config::RunConfig;
use rotor::runtime::{DEFAULT_POLICY, LoadedPolicy, RunControls, Runtime, RuntimeOptions};

use common::bound::{Rollouts, Window};

/// What one run of the policy gave.
struct Run {
    restarts: u64,
    virtual_seconds: i64,
    host_calls: u64,
    paused: bool,
}

/// One mode's rotation of one scenario, over all its runs.
struct Rotation {
    /// `mode/adoptNewIssuer`.
    mode: String,
    /// The fastest the mode could be, its runs added up.
    bound: i64,
    runs: Vec<Run>,
    span: i64,
    broken_pair_seconds: f64,
}

/// Every mode on one scenario.
struct Row {
    name: String,
    workloads: usize,
    rotations: Vec<Rotation>,
}

async fn run_once(
    runtime: &Runtime,
    policy: &LoadedPolicy,
    cluster: &Arc<SimCluster>,
    config: &RunConfig,
) -> Result<Run, String> {
    let backend: Arc<dyn Cluster> = cluster.clone();
    let outcome = runtime
        .run(policy, backend, config, RunControls::default())
        .await;
    let summary = outcome.result.map_err(|e| e.to_string())?;
    let fact = |key: &str| {
        summary
            .facts
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.clone())
    };
    Ok(Run {
        restarts: fact("restarts").and_then(|v| v.parse().ok()).unwrap_or(0),
        virtual_seconds: outcome.finished_at - outcome.started_at,
        host_calls: outcome.record.calls.total,
        paused: fact("pausedBefore").is_some(),
    })
}

/// Workloads with a meshed pod, by their top-level owner.
async fn meshed_workloads(cluster: &SimCluster) -> Result<usize, String> {
    let pods = cluster
        .list_pods(None, "linkerd.io/control-plane-ns=linkerd")
        .await
        .map_err(|e| e.to_string())?;
    let owners: BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p.owner.as_ref())
        .map(|o| format!("{}/{}/{}", o.kind, o.namespace, o.name))
        .collect();
    Ok(owners.len())
}

/// Run until the rotation is no longer paused, waiting out a leaf
/// lifetime (and the policy's margin) after each pause.
async fn until_done(
    runtime: &Runtime,
    policy: &LoadedPolicy,
    cluster: &Arc<SimCluster>,
    config: &RunConfig,
) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = run_once(runtime, policy, cluster, config).await?;
        let paused = run.paused;
        runs.push(run);
        if !paused {
            return Ok(runs);
        }
        cluster
            .wait(86_400 + 700)
            .await
            .map_err(|e| e.to_string())?;
    }
    Err("still paused after three runs".into())
}

/// Rotate `cluster` in `mode` with `adoption` to the end.
async fn rotate(
    runtime: &Runtime,
    policy: &LoadedPolicy,
    cluster: &Arc<SimCluster>,
    mode: &'static str,
    adoption: &str,
    rollouts: &Rollouts,
) -> Result<Rotation, String> {
    let start = cluster.now().await;
    let runs = until_done(
        runtime,
        policy,
        cluster,
        &common::rotation_config(mode, adoption),
    )
    .await?;
    let span = cluster.now().await - start;
    cluster.watch_after_run();
    Ok(Rotation {
        mode: format!("{mode}/{adoption}"),
        bound: rollouts.bound(mode, adoption, Window::DEFAULT),
        runs,
        span,
        broken_pair_seconds: cluster.simulation_report().outage.broken_pair_seconds,
    })
}

async fn row(
    runtime: &Runtime,
    policy: &LoadedPolicy,
    name: String,
    yaml: &str,
) -> Result<Row, String> {
    let load = |yaml: &str| {
        SimCluster::from_yaml(yaml)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let rollouts = Rollouts::measure(yaml).await?;
    let standard = load(yaml)?;
    let workloads = meshed_workloads(&standard).await?;
    let staged = Arc::new(
        standard
            .with_next_anchor(common::NEXT_ANCHOR)
            .map_err(|e| e.to_string())?,
    );
    rotate(runtime, policy, &staged, "staged", "restart", &rollouts).await?;
    let steady = staged.state_yaml();
    let mut rotations = Vec::new();
    for (mode, start) in [("full", yaml), ("staged", steady.as_str())] {
        for adoption in ["restart", "leaf-refresh"] {
            let cluster = load(start)?;
            rotations.push(rotate(runtime, policy, &cluster, mode, adoption, &rollouts).await?);
        }
    }
    Ok(Row {
        name,
        workloads,
        rotations,
    })
}

fn print(rows: &[Row]) {
    println!(
        "{:<20} {:>6}  {:<20} {:>9} {:>6} {:>5} {:>7} {:>7} {:>6} {:>7} {:>7} {:>7}",
        "scenario",
        "W",
        "mode",
        "restarts",
        "per W",
        "runs",
        "runs s",
        "bound s",
        "ratio",
        "span s",
        "calls",
        "broken",
    );
    for r in rows {
        for rot in &r.rotations {
            let sum = |f: fn(&Run) -> i64| rot.runs.iter().map(f).sum::<i64>();
            let restarts = sum(|r| r.restarts as i64);
            let seconds = sum(|r| r.virtual_seconds);
            println!(
                "{:<20} {:>6}  {:<20} {:>9} {:>6.2} {:>5} {:>7} {:>7} {:>5.2}x {:>7} {:>7} {:>7}",
                r.name,
                r.workloads,
                rot.mode,
                restarts,
                restarts as f64 / r.workloads.max(1) as f64,
                rot.runs.len(),
                seconds,
                rot.bound,
                seconds as f64 / rot.bound.max(1) as f64,
                rot.span,
                sum(|r| r.host_calls as i64),
                rot.broken_pair_seconds,
            );
        }
    }
    println!(
        "mode: full or staged (steady state, after the migrating rotation) / adoptNewIssuer; \
         bound: the fastest the mode could be at parallelism {} ({} per namespace); \
         broken: broken pair-seconds",
        Window::DEFAULT.parallelism,
        Window::DEFAULT.per_namespace,
    );
}

async fn figures() -> Result<(), String> {
    let runtime = Runtime::new(RuntimeOptions::default()).map_err(|e| e.to_string())?;
    let policy = runtime
        .load("linkerd-rotation", DEFAULT_POLICY)
        .map_err(|e| e.to_string())?;
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let mut rows = Vec::new();
    if paths.is_empty() {
        rows.push(row(&runtime, &policy, "demo".into(), DEMO_SCENARIO).await?);
    }
    for path in paths {
        let yaml = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let name = std::path::Path::new(&path)
            .file_stem()
            .map_or(path.clone(), |s| s.to_string_lossy().into_owned());
        rows.push(
            row(&runtime, &policy, name, &yaml)
                .await
                .map_err(|e| format!("{path}: {e}"))?,
        );
    }
    print(&rows);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match figures().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
