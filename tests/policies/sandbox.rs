//! Hostile policies against the simulated cluster, through the library API:
//! whatever a policy does, the host survives and reports `failed` with the
//! reason, and the sandbox hands out nothing it did not grant.

use std::path::Path;
use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::config::RunConfig;
use rotor::report::{Outcome, RunReport};
use rotor::runtime::{LoadedPolicy, RunControls};

use crate::support;

use support::runtime;

fn hostile() -> &'static LoadedPolicy {
    support::hostile_policy()
}

/// Run the hostile policy in `mode` on the demo cluster; return the report.
/// Also returns the cluster state as it was before the run.
async fn run(
    mode: &str,
    edit: impl FnOnce(&mut RunConfig),
) -> (Arc<SimCluster>, String, RunReport) {
    let mut config = RunConfig::parse(
        &format!("policy: {mode}\nlimits: {{cpuSeconds: 2, memoryMiB: 64}}\n"),
        Path::new("test.yaml"),
    )
    .expect("config");
    edit(&mut config);
    let cluster = Arc::new(SimCluster::demo());
    let before = cluster.state_yaml();
    let backend: Arc<dyn Cluster> = cluster.clone();
    let outcome = runtime()
        .run(hostile(), backend, &config, RunControls::default())
        .await;
    let report = RunReport::new(
        outcome,
        hostile(),
        cluster.backend(),
        false,
        Some(cluster.simulation_report()),
    );
    (cluster, before, report)
}

fn fact(report: &RunReport, key: &str) -> String {
    let summary = report
        .summary
        .as_ref()
        .unwrap_or_else(|| panic!("no summary: {:?}", report.error));
    summary
        .facts
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.clone())
        .unwrap_or_else(|| panic!("no fact {key}"))
}

fn failed_with(report: &RunReport) -> String {
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.summary);
    assert!(!report.succeeded());
    report.error.clone().expect("a failed run says why")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_env_and_sockets_give_nothing() {
    let (_, _, report) = run("sandbox-probe", |_| {}).await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    assert!(fact(&report, "file").starts_with("error"));
    assert!(fact(&report, "listing").starts_with("error"));
    assert!(fact(&report, "env-var").starts_with("error"));
    assert_eq!(fact(&report, "env-count"), "0");
    assert!(fact(&report, "socket").starts_with("error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_is_stopped_at_the_cpu_deadline() {
    let (_, _, report) = run("loop", |_| {}).await;
    let error = failed_with(&report);
    assert!(error.starts_with("CPU deadline exceeded (2 s)"), "{error}");
    let text = report.render_text();
    assert!(
        text.starts_with("rotor: FAILED: CPU deadline exceeded"),
        "{text}"
    );
    assert!(
        text.contains("hostile::spin_forever"),
        "backtrace names the function: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_waiting_is_stopped_at_the_run_deadline_in_virtual_time() {
    let (_, _, report) = run("wait-forever", |c| c.limits.deadline_seconds = 3 * 3600).await;
    let error = failed_with(&report);
    assert!(
        error.starts_with("run deadline of 10800 s exceeded"),
        "{error}"
    );
    assert_eq!(report.finished_at - report.started_at, 3 * 3600);
    let simulation = report.simulation.as_ref().expect("simulation section");
    assert_eq!(simulation.virtual_seconds, 3 * 3600);
    assert!(
        report.wall_ms < 60_000,
        "virtual hours take real seconds at most"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_is_stopped_at_the_cap() {
    let (_, _, report) = run("memory-bomb", |_| {}).await;
    let error = failed_with(&report);
    assert!(
        error.starts_with("memory cap of 64 MiB exceeded"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_message_is_in_the_report() {
    let (_, _, report) = run("panic", |_| {}).await;
    let error = failed_with(&report);
    assert!(
        error.contains("hostile guest panicked on purpose"),
        "{error}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(json["outcome"], "failed");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("panicked on purpose"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_write_is_handled_and_the_policy_carries_on() {
    let (cluster, before, report) = run("write-secret-outside-grants", |_| {}).await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    assert!(
        fact(&report, "write")
            .starts_with("denied: writing Secret linkerd/linkerd-identity-issuer")
    );
    assert!(fact(&report, "namespaces").parse::<u32>().expect("count") > 0);
    assert_eq!(report.calls.denied, 1);
    assert_eq!(report.calls.mutations, 0);
    let json = report.to_json();
    assert!(
        json.contains("\"outcome\": \"denied\""),
        "the refusal is audited"
    );
    assert!(cluster.state_yaml() == before, "nothing was written");
    assert!(
        !json.contains("stolen-key-material"),
        "secret payloads are never reported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrower_grants_deny_mutations_as_values() {
    let (cluster, before, report) = run("mutate", |c| {
        c.grants.verbs.clear();
        c.grants.write_secrets.clear();
    })
    .await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    for key in [
        "write-secret",
        "renew",
        "restart",
        "delete-pod",
        "record-event",
        "save-progress",
    ] {
        assert!(
            fact(&report, key).contains("Denied("),
            "{key}: {}",
            fact(&report, key)
        );
    }
    assert_eq!(report.calls.denied, 6);
    assert!(cluster.state_yaml() == before, "nothing was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_survives_every_hostile_run_in_turn() {
    for mode in [
        "loop",
        "memory-bomb",
        "panic",
        "recursion",
        "giant-log",
        "succeed",
    ] {
        let (_, _, report) = run(mode, |_| {}).await;
        let expect_ok = matches!(mode, "giant-log" | "succeed");
        assert_eq!(report.succeeded(), expect_ok, "{mode}: {:?}", report.error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_of_host_calls_is_stopped_at_the_cpu_deadline() {
    let (cluster, before, report) = run("host-call-loop", |_| {}).await;
    let error = failed_with(&report);
    assert!(error.starts_with("CPU deadline exceeded (2 s)"), "{error}");
    assert!(
        report.calls.total > 1000,
        "it was calling: {:?}",
        report.calls
    );
    assert!(cluster.state_yaml() == before, "nothing was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_ends_in_a_stack_overflow_trap() {
    let (_, _, report) = run("recursion", |_| {}).await;
    let error = failed_with(&report);
    assert!(error.starts_with("policy trapped: "), "{error}");
    assert!(
        error.contains("stack overflow"),
        "the message says why: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabytes_of_log_output_are_clipped_and_counted() {
    let (_, _, report) = run("giant-log", |_| {}).await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    let json = report.to_json();
    assert!(
        json.len() < 1 << 20,
        "a 2 MiB log line does not reach the report: {} bytes",
        json.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giant_strings_to_host_calls_are_refused_as_invalid() {
    let (_, _, report) = run("giant-string", |_| {}).await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    let outcome = fact(&report, "outcome");
    assert!(outcome.starts_with("invalid: "), "{outcome}");
    assert!(
        outcome.contains("label-selector"),
        "names the argument: {outcome}"
    );
}
