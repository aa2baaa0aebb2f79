//! The default policy across the three clusters of one mesh: it rotates
//! them in lock-step with no meshed pair ever failing, within a cluster or
//! across clusters, through the gateway and pod to pod, and a run killed
//! after any mutation resumes to completion on the same clusters.

use crate::support;

use rotor::cluster::sim::multicluster::MultiSim;
use rotor::config::RunConfig;
use rotor::guard::Grants;
use rotor::runtime::{FailureKind, LoadedPolicy, RunCluster, RunControls, RunOutcome};
use rotor::testing::policies::guest;

use support::fully_rotated_to;

const THREE: &str = "multicluster/three-clusters.yaml";

fn three_clusters(mode: &str) -> MultiSim {
    let text = support::scenario(THREE).replace("mode: gateway", &format!("mode: {mode}"));
    MultiSim::from_yaml(&text).expect("the scenario loads")
}

async fn run(sim: &MultiSim, kill_after_mutations: Option<u64>) -> RunOutcome {
    run_policy(sim, support::policy(), kill_after_mutations).await
}

async fn run_policy(
    sim: &MultiSim,
    policy: &LoadedPolicy,
    kill_after_mutations: Option<u64>,
) -> RunOutcome {
    let config = RunConfig::default();
    let clusters = sim
        .clusters()
        .iter()
        .map(|m| RunCluster {
            name: m.name.clone(),
            home: m.home,
            cluster: m.cluster.clone(),
            grants: grants(&config, m.home),
        })
        .collect();
    let controls = RunControls {
        kill_after_mutations,
        ..RunControls::default()
    };
    support::runtime()
        .run_clusters(policy, clusters, &config, controls)
        .await
}

/// A member writes its copy of the anchor besides the previous anchor.
fn grants(config: &RunConfig, home: bool) -> Grants {
    let mut grants = config.grants.clone();
    if !home {
        grants
            .write_secrets
            .push("cert-manager/linkerd-trust-anchor".into());
    }
    grants
}

/// No outage anywhere, every cluster on the one new anchor.
async fn assert_rotated_without_outage(sim: &MultiSim, context: &str) {
    sim.watch_after_run();
    let report = sim.report();
    assert_eq!(report.broken_pair_seconds, 0.0, "{context}: {report:#?}");
    for c in &report.clusters {
        let f = &c.simulation.final_state;
        assert!(
            fully_rotated_to(f, 1),
            "{context}: {} not fully rotated: {f:?}",
            c.name
        );
    }
    let mut anchors = Vec::new();
    for m in sim.clusters() {
        anchors.push(support::anchor_pem(&m.cluster).await);
    }
    assert!(
        anchors.iter().all(|a| *a == anchors[0]),
        "{context}: the clusters ended on different anchors"
    );
}

async fn rotates_without_outage(mode: &str) {
    let sim = three_clusters(mode);
    let before = support::anchor_pem(&sim.clusters()[0].cluster).await;
    let outcome = run(&sim, None).await;
    assert!(outcome.result.is_ok(), "{mode}: {:?}", outcome.result);
    assert_rotated_without_outage(&sim, mode).await;
    assert_ne!(
        support::anchor_pem(&sim.clusters()[0].cluster).await,
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_rotates_three_clusters_linked_through_gateways_without_outage() {
    rotates_without_outage("gateway").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_rotates_three_clusters_linked_pod_to_pod_without_outage() {
    rotates_without_outage("flat").await;
}

/// Kill after every N in 1..=mutations of an uninterrupted rotation, then
/// run again on the same clusters; every N that does not end rotated
/// without outage is named.
async fn resumes_after_every_mutation(mode: &str) {
    let whole = three_clusters(mode);
    let outcome = run(&whole, None).await;
    assert!(outcome.result.is_ok(), "{mode}: {:?}", outcome.result);
    let mutations = outcome.record.calls.mutations;
    assert!(mutations > 0, "a rotation mutates");
    let mut failures = Vec::new();
    for n in 1..=mutations {
        let sim = three_clusters(mode);
        let killed = run(&sim, Some(n)).await;
        match killed.result {
            Err(f) if f.kind == FailureKind::Killed => {}
            other => {
                failures.push(format!("N={n}: the killed run ended {other:?}"));
                continue;
            }
        }
        assert_eq!(killed.record.calls.mutations, n, "{mode} N={n}");
        let resumed = run(&sim, None).await;
        if let Err(f) = &resumed.result {
            failures.push(format!("N={n}: resume failed: {}", f.message));
            continue;
        }
        sim.watch_after_run();
        let report = sim.report();
        if report.broken_pair_seconds > 0.0 {
            failures.push(format!(
                "N={n}: {} broken pair-seconds ({} across clusters)",
                report.broken_pair_seconds, report.cross_cluster.broken_pair_seconds
            ));
        }
        for c in &report.clusters {
            if !fully_rotated_to(&c.simulation.final_state, 1) {
                failures.push(format!("N={n}: {} not fully rotated", c.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{mode}: {} of {mutations} kills did not resume cleanly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_through_gateways_resume_after_a_kill_at_every_mutation() {
    resumes_after_every_mutation("gateway").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_pod_to_pod_resume_after_a_kill_at_every_mutation() {
    resumes_after_every_mutation("flat").await;
}

/// The mistake the lock-step prevents: the home rotated as if alone (the
/// single-cluster rotation, `tests/guests/home-alone`). Each cluster stays
/// whole, but once the home's issuer signs under the new anchor, which the
/// members' proxies do not trust, every call between the home and a member
/// fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_home_alone_breaks_the_calls_across_clusters() {
    let sim = three_clusters("gateway");
    let policy = support::runtime()
        .load("home_alone.wasm", &guest("home_alone"))
        .expect("loads");
    let outcome = run_policy(&sim, &policy, None).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    sim.watch_after_run();
    let report = sim.report();
    for c in &report.clusters {
        assert_eq!(
            c.simulation.outage.broken_pair_seconds, 0.0,
            "{} alone stays whole: {:?}",
            c.name, c.simulation.outage
        );
    }
    let cross = &report.cross_cluster;
    assert!(cross.broken_pair_seconds > 0.0, "{report:#?}");
    let samples: Vec<&str> = cross
        .windows
        .iter()
        .flat_map(|w| w.sample_pairs.iter().map(String::as_str))
        .collect();
    assert!(
        samples
            .iter()
            .any(|p| p.starts_with("east:") && p.contains(" -> west:")),
        "{samples:?}"
    );
}
