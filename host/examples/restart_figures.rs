//! Restarts per workload, virtual time and host calls of the default
//! policy in Linkerd's documented order (`adoptNewIssuer: restart`) and
//! with leaf refresh (`adoptNewIssuer: leaf-refresh`: a first run that
//! pauses before adopt-new-issuer, one leaf lifetime, a second run).
//!
//! `cargo run --release -p rotor --example restart_figures SCENARIO.yaml...`
//! (default: the embedded demo).
//!
//! W is the number of workloads whose pods are meshed at the start. A
//! restart is one `restart-workload` (or OnDelete round) the policy
//! counts; host calls are every call the policy made through the guard.
//! For leaf-refresh, "runs s" adds up the two runs and "span s" is from the
//! first run's start to the second's end, the leaf lifetime included.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::sim::{DEMO_SCENARIO, SimCluster};
use rotor::config::RunConfig;
use rotor::runtime::{DEFAULT_POLICY, LoadedPolicy, RunControls, Runtime, RuntimeOptions};

/// What one run of the policy gave.
struct Run {
    restarts: u64,
    virtual_seconds: i64,
    host_calls: u64,
    paused: bool,
}

/// Both modes on one scenario.
struct Row {
    name: String,
    workloads: usize,
    restart: Vec<Run>,
    refresh: Vec<Run>,
    refresh_span: i64,
    broken_pair_seconds: [f64; 2],
}

fn config(adoption: &str) -> RunConfig {
    RunConfig {
        policy: Some(serde_json::json!({ "adoptNewIssuer": adoption })),
        ..RunConfig::default()
    }
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

async fn row(
    runtime: &Runtime,
    policy: &LoadedPolicy,
    name: String,
    yaml: &str,
) -> Result<Row, String> {
    let load = || {
        SimCluster::from_yaml(yaml)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let standard = load()?;
    let workloads = meshed_workloads(&standard).await?;
    let restart = until_done(runtime, policy, &standard, &config("restart")).await?;
    standard.watch_after_run();
    let refreshing = load()?;
    let start = refreshing.now().await;
    let refresh = until_done(runtime, policy, &refreshing, &config("leaf-refresh")).await?;
    let refresh_span = refreshing.now().await - start;
    refreshing.watch_after_run();
    Ok(Row {
        name,
        workloads,
        restart,
        refresh,
        refresh_span,
        broken_pair_seconds: [
            standard.simulation_report().outage.broken_pair_seconds,
            refreshing.simulation_report().outage.broken_pair_seconds,
        ],
    })
}

fn print(rows: &[Row]) {
    println!(
        "{:<20} {:>6} | {:>9} {:>7} {:>7} {:>7} | {:>9} {:>7} {:>5} {:>7} {:>7} {:>7} | broken pair-s",
        "scenario",
        "W",
        "restarts",
        "per W",
        "s",
        "calls",
        "restarts",
        "per W",
        "runs",
        "runs s",
        "span s",
        "calls",
    );
    for r in rows {
        let sum = |runs: &[Run], f: fn(&Run) -> i64| runs.iter().map(f).sum::<i64>();
        let restarts = |runs: &[Run]| sum(runs, |r| r.restarts as i64);
        let per = |n: i64| n as f64 / r.workloads.max(1) as f64;
        println!(
            "{:<20} {:>6} | {:>9} {:>7.2} {:>7} {:>7} | {:>9} {:>7.2} {:>5} {:>7} {:>7} {:>7} | {} / {}",
            r.name,
            r.workloads,
            restarts(&r.restart),
            per(restarts(&r.restart)),
            sum(&r.restart, |r| r.virtual_seconds),
            sum(&r.restart, |r| r.host_calls as i64),
            restarts(&r.refresh),
            per(restarts(&r.refresh)),
            r.refresh.len(),
            sum(&r.refresh, |r| r.virtual_seconds),
            r.refresh_span,
            sum(&r.refresh, |r| r.host_calls as i64),
            r.broken_pair_seconds[0],
            r.broken_pair_seconds[1],
        );
    }
    println!("left: adoptNewIssuer: restart; right: adoptNewIssuer: leaf-refresh");
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
