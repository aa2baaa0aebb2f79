//! `mode: staged`: two anchor Certificates whose roles alternate. A
//! rotation restarts each workload once fewer than Linkerd's documented
//! order (and once in all with `adoptNewIssuer: leaf-refresh`), swaps the
//! roles back on the next rotation, migrates from the standard layout with
//! one more round, never switches the signing anchor while a proxy lacks
//! the next one, and resumes after a kill at every mutation.

use std::sync::Arc;

use rotor::cluster::sim::SimCluster;
use rotor::cluster::{Cluster, IssuerRef};
use rotor::config::RunConfig;
use rotor::report::{Outcome, RunReport};
use rotor::wit::WorkloadKind;

use crate::resume::resume_at_every_mutation_to;
use crate::rotation_matrix::{error_text, run_with, scenario_config};
use crate::support::{self, fact, restarts};

const SCENARIO: &str = "staged-anchor.yaml";
const NEXT: &str = "linkerd-trust-anchor-next";

fn config(extra: &str) -> RunConfig {
    let text = format!(
        "policy:\n  mode: staged\n  nextAnchor: {{namespace: cert-manager, name: {NEXT}}}\n{extra}\
         grants:\n  readSecrets: [cert-manager/linkerd-trust-anchor, cert-manager/{NEXT}, \
         linkerd/linkerd-identity-issuer]\n  writeSecrets: []\n  \
         writeIssuers: [ClusterIssuer/linkerd-identity-issuer]\n"
    );
    RunConfig::parse(&text, std::path::Path::new("test.yaml")).expect("config parses")
}

fn leaf_refresh() -> RunConfig {
    config("  adoptNewIssuer: leaf-refresh\n")
}

fn clean(report: &RunReport, what: &str) {
    assert_eq!(
        report.outcome,
        Outcome::Succeeded,
        "{what}: {}",
        error_text(report)
    );
    let sim = report.simulation.as_ref().expect("simulation report");
    assert_eq!(
        sim.outage.broken_pair_seconds, 0.0,
        "{what}: {:?}",
        sim.outage.windows
    );
}

/// The Secret the CA issuer signs identity's issuer with.
async fn signing_secret(cluster: &SimCluster) -> String {
    cluster
        .get_issuer(&IssuerRef::cluster("linkerd-identity-issuer"))
        .await
        .expect("the CA issuer")
        .ca_secret_name
        .expect("a CA issuer")
}

fn load(text: &str) -> Arc<SimCluster> {
    Arc::new(SimCluster::from_yaml(text).expect("loads"))
}

/// Meshed workloads of the demo mesh, and those of its control plane:
/// Linkerd's documented order restarts each three times.
async fn demo_workloads() -> (u64, u64) {
    let demo = load(&support::scenario("demo.yaml"));
    let report = run_with(support::policy(), &demo, &RunConfig::default()).await;
    clean(&report, "full rotation of the demo");
    let all = restarts(&report);
    assert_eq!(all % 3, 0, "three rounds: {all}");
    let control_plane = demo
        .list_workloads(Some("linkerd"), None, "")
        .await
        .expect("control plane")
        .len() as u64;
    (all / 3, control_plane)
}

/// Restart mode: the round for the issuer and the round for the new pair.
/// rotor cannot tell from a control-plane pod which bundle it mounted
/// (Linkerd's chart mounts the ConfigMap, stamping nothing), so the
/// control plane also restarts in the first round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_rotation_restarts_twice_and_ends_on_the_new_pair() {
    let (workloads, control_plane) = demo_workloads().await;
    let cluster = load(&support::scenario(SCENARIO));
    assert_eq!(signing_secret(&cluster).await, "linkerd-trust-anchor");
    let report = run_with(support::policy(), &cluster, &scenario_config(SCENARIO)).await;
    clean(&report, SCENARIO);
    assert_eq!(restarts(&report), 2 * workloads + control_plane);
    assert_eq!(signing_secret(&cluster).await, NEXT);
    let f = &report.simulation.as_ref().unwrap().final_state;
    assert_eq!(f.bundle_anchors, 2, "{f:?}");
    assert!(f.anchor_rotated && f.issuer_rotated, "{f:?}");
    assert_eq!(f.proxies_trusting_retired_anchor, 0, "{f:?}");
    assert_eq!(f.proxies_with_retired_chain_leaf, 0, "{f:?}");
    assert!(f.private_key_copies.is_empty(), "{f:?}");
    assert!(
        !fact(&report, "nextAnchor").is_empty(),
        "{:?}",
        report.summary
    );
}

/// With leaf-refresh: the data plane restarts once, for the new pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_leaf_refresh_a_staged_rotation_restarts_each_workload_once() {
    let (workloads, control_plane) = demo_workloads().await;
    let cluster = load(&support::scenario(SCENARIO));
    let first = run_with(support::policy(), &cluster, &leaf_refresh()).await;
    clean(&first, "first run");
    assert_eq!(fact(&first, "pausedBefore"), "adopt-new-issuer");
    cluster.wait(86_400 + 700).await.expect("time passes");
    let second = run_with(support::policy(), &cluster, &leaf_refresh()).await;
    clean(&second, "second run");
    assert!(
        fact(&second, "pausedBefore").is_empty(),
        "{:?}",
        second.summary
    );
    assert_eq!(
        restarts(&first) + restarts(&second),
        workloads + control_plane,
        "first {}, second {}",
        restarts(&first),
        restarts(&second)
    );
    let f = &second.simulation.as_ref().unwrap().final_state;
    assert_eq!(
        (f.bundle_anchors, f.proxies_with_retired_chain_leaf),
        (2, 0)
    );
}

/// The next rotation moves back to the first Certificate, renewed as the
/// next anchor by the first rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_rotation_swaps_the_roles_back() {
    let cluster = load(&support::scenario(SCENARIO));
    for (round, signs) in [(1, NEXT), (2, "linkerd-trust-anchor")] {
        let report = run_with(support::policy(), &cluster, &config("")).await;
        clean(&report, &format!("rotation {round}"));
        assert_eq!(signing_secret(&cluster).await, signs, "rotation {round}");
        let f = &report.simulation.as_ref().unwrap().final_state;
        assert_eq!(f.bundle_anchors, 2, "rotation {round}: {f:?}");
        assert_eq!(f.proxies_trusting_retired_anchor, 0, "rotation {round}");
        cluster.wait(3_600).await.expect("time passes");
    }
}

/// The demo in the standard layout (one anchor, a previous-anchor copy)
/// with a next anchor Certificate added and the Bundle sourcing it: every
/// proxy started before the next anchor existed.
fn migrating_demo() -> Arc<SimCluster> {
    let demo = load(&support::scenario("demo.yaml"));
    Arc::new(demo.with_next_anchor(NEXT).expect("next anchor added"))
}

/// Migration: the first staged rotation restarts every workload in its
/// first round too, so every proxy trusts the next anchor before it signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_from_the_standard_layout_takes_one_more_round() {
    let (workloads, _) = demo_workloads().await;
    let cluster = migrating_demo();
    let report = run_with(support::policy(), &cluster, &config("")).await;
    clean(&report, "migration");
    assert_eq!(restarts(&report), 3 * workloads);
    assert_eq!(signing_secret(&cluster).await, NEXT);
    let f = &report.simulation.as_ref().unwrap().final_state;
    assert_eq!(
        (f.bundle_anchors, f.proxies_trusting_retired_anchor),
        (2, 0)
    );
}

/// A proxy rotor may not restart lacks the next anchor: the rotation stops
/// before the CA issuer signs with it, and nothing breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_without_the_next_anchor_stops_the_switch() {
    let cluster = migrating_demo();
    let report = run_with(
        support::policy(),
        &cluster,
        &config("  excludeNamespaces: [shop]\n"),
    )
    .await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.summary);
    let error = error_text(&report);
    assert!(error.contains("shop/"), "{error}");
    assert_eq!(signing_secret(&cluster).await, "linkerd-trust-anchor");
    let sim = report.simulation.as_ref().unwrap();
    assert_eq!(sim.outage.broken_pair_seconds, 0.0);
}

/// What the gate prevents, shown by the simulator: the CA issuer pointed
/// at the next anchor while only identity (restarted) trusts it. Identity
/// serves the new issuer; a workload restarted then gets leaves the
/// proxies still holding the current anchor alone cannot verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_before_proxies_trust_the_next_anchor_shows_outage() {
    // The same moves where every proxy trusts both anchors break nothing.
    let outage = |cluster: Arc<SimCluster>| async move {
        cluster
            .set_ca_issuer_secret(&IssuerRef::cluster("linkerd-identity-issuer"), NEXT)
            .await
            .expect("switch");
        cluster
            .renew_certificate("linkerd", "linkerd-identity-issuer")
            .await
            .expect("renew");
        for (namespace, name) in [("linkerd", "linkerd-identity"), ("shop", "frontend")] {
            cluster.wait(300).await.expect("time passes");
            cluster
                .restart_workload(WorkloadKind::Deployment, namespace, name)
                .await
                .expect("restart");
        }
        cluster.wait(600).await.expect("time passes");
        cluster.simulation_report().outage
    };
    let early = outage(migrating_demo()).await;
    assert!(early.broken_pair_seconds > 0.0, "{early:?}");
    let staged = outage(load(&support::scenario(SCENARIO))).await;
    assert_eq!(staged.broken_pair_seconds, 0.0, "{staged:?}");
}

/// A kill after any mutation resumes to a complete staged rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_mutation_a_staged_rotation_resumes_without_outage() {
    let mutations = resume_at_every_mutation_to(&support::scenario(SCENARIO), &config(""), 2).await;
    eprintln!("staged: resumed after each of {mutations} mutations");
}
