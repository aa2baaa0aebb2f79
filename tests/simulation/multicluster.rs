//! Several clusters in one simulation: one member signing with an anchor
//! the other clusters do not trust breaks the pairs across clusters (in
//! gateway and flat mode), and a wait in one cluster moves them all.

use crate::support;

use std::sync::Arc;

use rotor::cluster::Cluster;
use rotor::cluster::sim::SimCluster;
use rotor::cluster::sim::multicluster::MultiSim;
use rotor::cluster::sim::pki;
use rotor::wit::{RolloutPhase, SecretWrite, WorkloadKind};

const THREE: &str = "multicluster/three-clusters.yaml";

fn three_clusters(mode: &str) -> MultiSim {
    let text = support::scenario(THREE).replace("mode: gateway", &format!("mode: {mode}"));
    MultiSim::from_yaml(&text).expect("the scenario loads")
}

/// Put a CA no other cluster trusts into `cluster`'s anchor Secret,
/// re-issue its identity issuer with it, and restart what the other
/// clusters call there, so those pods take leaves from the new issuer.
async fn sign_with_an_untrusted_anchor(cluster: &Arc<SimCluster>) {
    let now = cluster.now().await;
    let rogue = pki::generate_ca(
        "root.linkerd.cluster.local",
        now,
        now + 86400 * 365,
        77,
        None,
    )
    .expect("a CA");
    let current = cluster
        .read_secret("cert-manager", "linkerd-trust-anchor")
        .await
        .expect("the anchor Secret");
    cluster
        .write_secret(SecretWrite {
            namespace: "cert-manager".into(),
            name: "linkerd-trust-anchor".into(),
            type_: current.type_,
            data: vec![
                ("tls.crt".into(), rogue.cert_pem.clone().into_bytes()),
                ("tls.key".into(), rogue.key_pem.into_bytes()),
                ("ca.crt".into(), rogue.cert_pem.into_bytes()),
            ],
            labels: vec![],
            annotations: vec![],
            expected_resource_version: Some(current.resource_version),
        })
        .await
        .expect("written");
    cluster
        .renew_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .expect("renewal");
    // Issuance, bundle sync and every kubelet's copy of the bundle.
    cluster.wait(120).await.expect("waits");
    for (ns, name) in [
        ("linkerd", "linkerd-identity"),
        ("linkerd-multicluster", "linkerd-gateway"),
        ("shop", "cart"),
    ] {
        cluster
            .restart_workload(WorkloadKind::Deployment, ns, name)
            .await
            .expect("restart");
        let status = cluster
            .wait_rollout(WorkloadKind::Deployment, ns, name, 600)
            .await
            .expect("rollout");
        assert_eq!(
            status.phase,
            RolloutPhase::Complete,
            "{ns}/{name}: {status:?}"
        );
    }
    cluster.wait(60).await.expect("waits");
}

async fn untrusted_member_anchor_breaks_pairs_across_clusters(mode: &str) {
    let sim = three_clusters(mode);
    assert_eq!(sim.report().broken_pair_seconds, 0.0);
    let west = sim.cluster("west").expect("west").clone();
    sign_with_an_untrusted_anchor(&west).await;
    let report = sim.report();
    let cross = &report.cross_cluster;
    assert!(cross.broken_pair_seconds > 0.0, "{mode}: {report:#?}");
    let samples: Vec<&String> = cross.windows.iter().flat_map(|w| &w.sample_pairs).collect();
    assert!(
        samples
            .iter()
            .any(|s| s.as_str() == "east:shop/Deployment/web -> west:shop/Deployment/cart"),
        "{mode}: {samples:?}"
    );
    // Pairs within east and north never involve west's anchor.
    for c in &report.clusters {
        if c.name != "west" {
            assert_eq!(
                c.simulation.outage.broken_pair_seconds, 0.0,
                "{mode}: {}: {:?}",
                c.name, c.simulation.outage
            );
        }
    }
    let intra: f64 = report
        .clusters
        .iter()
        .map(|c| c.simulation.outage.broken_pair_seconds)
        .sum();
    assert_eq!(
        report.broken_pair_seconds,
        intra + cross.broken_pair_seconds
    );
}

#[tokio::test]
async fn through_the_gateway_a_member_signing_with_an_untrusted_anchor_breaks_calls_into_it() {
    untrusted_member_anchor_breaks_pairs_across_clusters("gateway").await;
}

#[tokio::test]
async fn pod_to_pod_a_member_signing_with_an_untrusted_anchor_breaks_calls_into_it() {
    untrusted_member_anchor_breaks_pairs_across_clusters("flat").await;
}

#[tokio::test]
async fn a_wait_in_one_cluster_moves_every_cluster() {
    let sim = three_clusters("gateway");
    let [east, west, north] = ["east", "west", "north"].map(|n| sim.cluster(n).unwrap().clone());
    let start = east.now().await;
    assert_eq!(west.now().await, start);
    // An issuance in east, started now, lands while west waits.
    let before = east
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    east.renew_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    west.wait(100).await.unwrap();
    for c in [&east, &west, &north] {
        assert_eq!(c.now().await, start + 100);
    }
    assert_eq!(sim.now(), start + 100);
    let after = east
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    assert!(after.revision > before.revision, "{before:?} -> {after:?}");
    assert!(!after.issuing);
    // A rollout waited for in north runs east's and west's events too.
    east.restart_workload(WorkloadKind::Deployment, "shop", "web")
        .await
        .unwrap();
    let north_cart = north
        .restart_workload(WorkloadKind::Deployment, "shop", "cart")
        .await;
    assert!(north_cart.is_ok());
    north
        .wait_rollout(WorkloadKind::Deployment, "shop", "cart", 600)
        .await
        .unwrap();
    let east_web = east
        .rollout_status(WorkloadKind::Deployment, "shop", "web")
        .await
        .unwrap();
    assert_eq!(east_web.phase, RolloutPhase::Complete, "{east_web:?}");
    assert_eq!(east.now().await, north.now().await);
}
