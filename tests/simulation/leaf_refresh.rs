//! `adoptNewIssuer: leaf-refresh`: the rotation pauses before
//! adopt-new-issuer until one leaf lifetime has passed since identity
//! served the new issuer, a later run finishes it without restarting for
//! the issuer, and no proxy loses a connection on the way: two restarts
//! per workload instead of three.

use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::config::RunConfig;
use rotor::primitive::Primitive;
use rotor::report::{Outcome, RunReport};
use rotor::runtime::RunOutcome;

use crate::rotation_matrix::{error_text, run_with, scenarios_dir};
use crate::support::{self, fact, restarts};

fn config(adoption: &str) -> RunConfig {
    RunConfig::parse(
        &format!("policy: {{adoptNewIssuer: {adoption}}}\n"),
        std::path::Path::new("test.yaml"),
    )
    .expect("config parses")
}

fn load(scenario: &str) -> Arc<SimCluster> {
    let text = std::fs::read_to_string(scenarios_dir().join(scenario)).expect("read");
    Arc::new(SimCluster::from_yaml(&text).expect("loads"))
}

fn succeeded(report: &RunReport) {
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", error_text(report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaves_move_to_the_new_issuer_without_a_restart_round() {
    for scenario in ["demo.yaml", "ha-identity.yaml"] {
        // Linkerd's documented order, for the count.
        let whole = load(scenario);
        let report = run_with(support::policy(), &whole, &config("restart")).await;
        succeeded(&report);
        let three_rounds = restarts(&report);

        let cluster = load(scenario);
        let first = run_with(support::policy(), &cluster, &config("leaf-refresh")).await;
        succeeded(&first);
        assert_eq!(
            fact(&first, "pausedBefore"),
            "adopt-new-issuer",
            "{scenario}: {:?}",
            first.summary
        );
        let message = &first.summary.as_ref().unwrap().message;
        assert!(message.contains("run again at or after"), "{message}");

        // Too early: an hour later the run pauses again, changing nothing
        // in the mesh.
        cluster.wait(3_600).await.expect("time passes");
        let early = run_with(support::policy(), &cluster, &config("leaf-refresh")).await;
        succeeded(&early);
        assert_eq!(fact(&early, "pausedBefore"), "adopt-new-issuer");
        let saves = early
            .calls
            .by_primitive
            .get(&Primitive::SaveProgress)
            .copied()
            .unwrap_or(0);
        assert_eq!(
            early.calls.mutations, saves,
            "{scenario}: only the progress record: {:?}",
            early.calls
        );
        assert_eq!(restarts(&early), 0);

        // A day later every leaf has turned over: the rotation finishes.
        cluster.wait(86_400).await.expect("time passes");
        let second = run_with(support::policy(), &cluster, &config("leaf-refresh")).await;
        succeeded(&second);
        assert_eq!(fact(&second, "pausedBefore"), "", "{:?}", second.summary);
        let sim = second.simulation.as_ref().expect("simulation report");
        assert!(
            sim.final_state.anchor_rotated && sim.final_state.issuer_rotated,
            "{scenario}: {:?}",
            sim.final_state
        );
        assert_eq!(sim.final_state.proxies_with_retired_chain_leaf, 0);
        assert_eq!(
            sim.outage.broken_pair_seconds, 0.0,
            "{scenario}: {:?}",
            sim.outage
        );
        // The issuer (48 h, renewed 25 h before its end) was renewed by
        // cert-manager itself during the pause: the rotation still ends clean.
        let issuer = cluster
            .get_certificate("linkerd", "linkerd-identity-issuer")
            .await
            .expect("issuer");
        assert!(
            issuer.revision >= Some(3),
            "{scenario}: revision {:?}",
            issuer.revision
        );
        let two_rounds = restarts(&first) + restarts(&second);
        eprintln!(
            "{scenario}: {three_rounds} workload restarts with restart, {two_rounds} with leaf-refresh ({} + {}), {} virtual s in all",
            restarts(&first),
            restarts(&second),
            sim.virtual_seconds
        );
        assert_eq!(
            two_rounds * 3,
            three_rounds * 2,
            "{scenario}: {two_rounds} restarts with leaf-refresh, {three_rounds} without"
        );
    }
}

/// The wait rests on identity's issuance lifetime as `linkerd-config`
/// states it: a control plane that says its leaves live an hour, while
/// they live a day, lets the rotation drop the old anchor under proxies
/// still presenting leaves of the old issuer, and the simulator shows the
/// outage that follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifetime_shorter_than_the_leaves_shows_as_outage() {
    let text = std::fs::read_to_string(scenarios_dir().join("demo.yaml")).expect("read");
    let text = format!(
        "{text}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: linkerd-config\n  namespace: linkerd\ndata:\n  values: |\n    identity:\n      issuer:\n        issuanceLifetime: 1h0m0s\n    linkerdVersion: edge-25.12.1\n"
    );
    let cluster = Arc::new(SimCluster::from_yaml(&text).expect("loads"));
    let first = run_with(support::policy(), &cluster, &config("leaf-refresh")).await;
    succeeded(&first);
    assert_eq!(fact(&first, "pausedBefore"), "adopt-new-issuer");
    cluster.wait(2 * 3_600).await.expect("time passes");
    let second = run_with(support::policy(), &cluster, &config("leaf-refresh")).await;
    let sim = second.simulation.as_ref().expect("simulation report");
    assert!(
        sim.outage.broken_pair_seconds > 0.0,
        "{:?} {}",
        sim.outage,
        error_text(&second)
    );
}

/// A run on `cluster` (`kill`: killed after that many mutations).
async fn run_once(cluster: &Arc<SimCluster>, kill: Option<u64>) -> RunOutcome {
    let backend: Arc<dyn Cluster> = cluster.clone();
    support::run_configured(backend, &config("leaf-refresh"), kill).await
}

fn paused(outcome: &RunOutcome) -> bool {
    outcome.result.as_ref().is_ok_and(|s| {
        s.facts
            .iter()
            .any(|kv| kv.key == "pausedBefore" && kv.value == "adopt-new-issuer")
    })
}

/// Run again, a leaf lifetime later whenever a run pauses, until the
/// rotation is done; what went wrong, if anything.
async fn finish(cluster: &Arc<SimCluster>) -> Option<String> {
    for _ in 0..3 {
        let outcome = run_once(cluster, None).await;
        match &outcome.result {
            Err(e) => return Some(format!("run failed: {e}")),
            Ok(_) if paused(&outcome) => {
                cluster.wait(86_400 + 700).await.expect("time passes");
            }
            Ok(_) => {
                let report = cluster.simulation_report();
                return (report.outage.broken_pair_seconds > 0.0
                    || !support::fully_rotated(&report.final_state))
                .then(|| format!("{:?} {:?}", report.outage, report.final_state));
            }
        }
    }
    Some("still paused after three runs".into())
}

/// A run killed after any mutation, before the pause or after it, is
/// resumed by the next runs to a complete rotation without outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_mutation_a_leaf_refresh_rotation_resumes_without_outage() {
    let text = support::scenario("demo.yaml");
    let fresh = || Arc::new(SimCluster::from_yaml(&text).expect("loads"));

    let whole = fresh();
    let first = run_once(&whole, None).await;
    assert!(paused(&first), "{:?}", first.result);
    whole.wait(86_400 + 700).await.expect("time passes");
    let second = run_once(&whole, None).await;
    assert!(
        second.result.is_ok() && !paused(&second),
        "{:?}",
        second.result
    );
    let (before, after) = (first.record.calls.mutations, second.record.calls.mutations);

    let mut failures = Vec::new();
    for n in 1..=before {
        let cluster = fresh();
        let killed = run_once(&cluster, Some(n)).await;
        assert!(killed.result.is_err(), "killed after {n}");
        if let Some(why) = finish(&cluster).await {
            failures.push(format!("first run killed after {n}: {why}"));
        }
    }
    for n in 1..=after {
        let cluster = fresh();
        assert!(paused(&run_once(&cluster, None).await));
        cluster.wait(86_400 + 700).await.expect("time passes");
        let killed = run_once(&cluster, Some(n)).await;
        assert!(killed.result.is_err(), "killed after {n}");
        if let Some(why) = finish(&cluster).await {
            failures.push(format!("second run killed after {n}: {why}"));
        }
    }
    eprintln!("leaf-refresh: resumed after each of {before} + {after} mutations");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn with_proxy_metrics(grant: bool) -> RunConfig {
    let grants = if grant {
        "grants: {podMetrics: [linkerd/9990, \"*/4191\"]}\n"
    } else {
        ""
    };
    RunConfig::parse(
        &format!("policy: {{adoptNewIssuer: leaf-refresh, proxyMetrics: true}}\n{grants}"),
        std::path::Path::new("test.yaml"),
    )
    .expect("config parses")
}

/// With `proxyMetrics`, the proxies' own refresh timestamps end the wait
/// once every proxy older than identity's reload has taken a new leaf, at
/// about 70 % of a leaf's life instead of one whole lifetime; until then,
/// and without the grant to read them, the wait stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxies_metrics_end_the_wait_once_every_leaf_is_new() {
    let cluster = load("demo.yaml");
    let first = run_with(support::policy(), &cluster, &with_proxy_metrics(true)).await;
    succeeded(&first);
    assert_eq!(fact(&first, "pausedBefore"), "adopt-new-issuer");
    let paused_at = cluster.now().await;

    // An hour on, the leaves taken before the reload are still in use.
    cluster.wait(3_600).await.expect("time passes");
    let early = run_with(support::policy(), &cluster, &with_proxy_metrics(true)).await;
    succeeded(&early);
    assert_eq!(fact(&early, "pausedBefore"), "adopt-new-issuer");
    let message = &early.summary.as_ref().unwrap().message;
    assert!(
        message.contains("the proxies' metrics: pod ") && message.contains("took its leaf at"),
        "{message}"
    );

    // Without the grant the metrics cannot be read, and the run says so.
    cluster.wait(16 * 3_600).await.expect("time passes");
    let denied = run_with(support::policy(), &cluster, &with_proxy_metrics(false)).await;
    succeeded(&denied);
    assert_eq!(fact(&denied, "pausedBefore"), "adopt-new-issuer");
    let message = &denied.summary.as_ref().unwrap().message;
    assert!(
        message.contains("not granted") && message.contains("*/4191"),
        "{message}"
    );

    // 18 h after the pause every proxy has refreshed (at 70 % of its 24 h
    // leaf): the rotation finishes six hours before the lifetime wait would.
    cluster.wait(3_600).await.expect("time passes");
    let second = run_with(support::policy(), &cluster, &with_proxy_metrics(true)).await;
    succeeded(&second);
    assert_eq!(fact(&second, "pausedBefore"), "", "{:?}", second.summary);
    let proven: i64 = fact(&second, "leavesProvenAt")
        .parse()
        .expect("leavesProvenAt");
    assert!(proven - paused_at < 86_400, "proven at {proven}");
    let sim = second.simulation.as_ref().expect("simulation report");
    assert!(sim.final_state.anchor_rotated && sim.final_state.issuer_rotated);
    assert_eq!(sim.final_state.proxies_with_retired_chain_leaf, 0);
    assert_eq!(sim.outage.broken_pair_seconds, 0.0, "{:?}", sim.outage);
}
