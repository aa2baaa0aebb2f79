//! What the whole-run tests share: the built `rotor` binary for tests that
//! drive the CLI, and one runtime and one compiled default policy per test
//! binary for tests that drive the simulator in-process.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use assert_cmd::Command;
use rotor::cluster::Cluster;
use rotor::cluster::sim::{FinalState, SimCluster};
use rotor::config::RunConfig;
use rotor::report::RunReport;
use rotor::runtime::{RunControls, RunOutcome};

/// Run the built `rotor` (no compile cache) and collect its output.
pub fn rotor(args: &[&str]) -> Output {
    Command::cargo_bin("rotor")
        .expect("binary")
        .arg("--no-cache")
        .args(args)
        .output()
        .expect("rotor runs")
}

/// The one line on stderr a user sees for bad input (exit 2, no report).
pub fn one_line_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        output.stdout.is_empty(),
        "no report for bad input: {output:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

// Each test binary uses some of these (as `dead_code` is allowed above).
#[allow(unused_imports)]
pub use rotor::testing::policies::{default_policy as policy, hostile_policy, runtime};

/// Run the default policy with the default configuration on `backend`.
pub async fn run_default(
    backend: Arc<dyn Cluster>,
    kill_after_mutations: Option<u64>,
) -> RunOutcome {
    run_configured(backend, &RunConfig::default(), kill_after_mutations).await
}

/// [`run_default`] with a run configuration of the test's own.
pub async fn run_configured(
    backend: Arc<dyn Cluster>,
    config: &RunConfig,
    kill_after_mutations: Option<u64>,
) -> RunOutcome {
    let controls = RunControls {
        kill_after_mutations,
        ..RunControls::default()
    };
    runtime().run(policy(), backend, config, controls).await
}

/// A scenario file of `tests/scenarios`.
pub fn scenario(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The anchor Secret's certificate.
pub async fn anchor_pem(cluster: &SimCluster) -> Vec<u8> {
    let secret = cluster
        .read_secret("cert-manager", "linkerd-trust-anchor")
        .await
        .expect("anchor Secret");
    secret
        .data
        .iter()
        .find(|(k, _)| k == "tls.crt")
        .map(|(_, v)| v.clone())
        .expect("anchor tls.crt")
}

/// Both rotated, only the new anchor trusted, no proxy left on the old chain.
pub fn fully_rotated(f: &FinalState) -> bool {
    fully_rotated_to(f, 1)
}

/// [`fully_rotated`] to a bundle of `bundle_anchors` (a staged anchor's
/// pair: two).
pub fn fully_rotated_to(f: &FinalState, bundle_anchors: usize) -> bool {
    f.anchor_rotated
        && f.issuer_rotated
        && f.bundle_anchors == bundle_anchors
        && f.proxies_trusting_retired_anchor == 0
        && f.proxies_with_retired_chain_leaf == 0
}

/// The demo mesh moved to the present: the `rotor` binary reads the wall
/// clock, as against a real cluster, so the certificates must be current.
pub fn demo_in_the_present() -> Arc<SimCluster> {
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .expect("rounds");
    let demo = rotor::cluster::sim::DEMO_SCENARIO.replace(
        "startTime: \"2026-03-02T09:00:00Z\"",
        &format!("startTime: \"{now}\""),
    );
    Arc::new(SimCluster::from_yaml(&demo).expect("demo loads"))
}

/// A test API server over `sim`, and a kubeconfig for it written in `dir`.
pub async fn serve_with_kubeconfig(
    sim: Arc<SimCluster>,
    dir: &Path,
) -> (rotor::testing::apiserver::TestApiServer, std::path::PathBuf) {
    use rotor::testing::apiserver::{ServerOptions, TestApiServer};
    let server = TestApiServer::over_sim(sim, ServerOptions::default())
        .await
        .expect("test API server");
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    (server, kubeconfig)
}

/// A fact of the run's summary (empty when the summary lacks it).
pub fn fact(report: &RunReport, key: &str) -> String {
    let summary = report.summary.as_ref().expect("a summary");
    summary
        .facts
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.clone())
        .unwrap_or_default()
}

/// The workload restarts the run's summary counts.
pub fn restarts(report: &RunReport) -> u64 {
    fact(report, "restarts").parse().expect("restarts fact")
}
