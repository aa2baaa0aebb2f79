//! Several clusters in one simulation: members share the home's anchor and
//! sign their own issuer with it, and a malformed scenario is refused.

use super::*;
use crate::cluster::sim::multicluster::{MultiSim, is_multicluster};

const THREE: &str = include_str!("../../../../../tests/scenarios/multicluster/three-clusters.yaml");

fn tls_crt(s: &Secret) -> String {
    s.data
        .iter()
        .find(|(k, _)| k == "tls.crt")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .expect("tls.crt")
}

#[tokio::test]
async fn members_hold_the_home_anchor_and_their_own_issuer_signed_by_it() {
    let sim = MultiSim::from_yaml(THREE).expect("loads");
    let names: Vec<&str> = sim.clusters().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["east", "west", "north"]);
    let home = sim.cluster("east").unwrap();
    let anchor = tls_crt(
        &home
            .read_secret(TRUST_NS, "linkerd-trust-anchor")
            .await
            .unwrap(),
    );
    let home_issuer = tls_crt(
        &home
            .read_secret("linkerd", "linkerd-identity-issuer")
            .await
            .unwrap(),
    );
    for name in ["west", "north"] {
        let member = sim.cluster(name).unwrap();
        let copy = tls_crt(
            &member
                .read_secret(TRUST_NS, "linkerd-trust-anchor")
                .await
                .unwrap(),
        );
        assert_eq!(copy, anchor, "{name}");
        assert!(matches!(
            member
                .get_certificate(TRUST_NS, "linkerd-trust-anchor")
                .await,
            Err(ClusterError::NotFound(_))
        ));
        let issuer = tls_crt(
            &member
                .read_secret("linkerd", "linkerd-identity-issuer")
                .await
                .unwrap(),
        );
        assert_ne!(issuer, home_issuer, "{name} has an issuer of its own");
        assert!(member.verify_signed_by(&issuer, &anchor).unwrap(), "{name}");
        assert_eq!(count_certs(&bundle(member).await), 1, "{name}");
    }
    let report = sim.report();
    assert_eq!(report.broken_pair_seconds, 0.0, "{report:?}");
}

#[tokio::test]
async fn a_member_issuer_is_signed_with_the_key_its_anchor_secret_holds_at_issuance() {
    let sim = MultiSim::from_yaml(THREE).expect("loads");
    let west = sim.cluster("west").unwrap();
    let now = west.now().await;
    let next = pki::generate_ca(
        "root.linkerd.cluster.local",
        now,
        now + 86400 * 365,
        99,
        None,
    )
    .unwrap();
    let current = west
        .read_secret(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    west.write_secret(SecretWrite {
        namespace: TRUST_NS.into(),
        name: "linkerd-trust-anchor".into(),
        type_: current.type_.clone(),
        data: vec![
            ("tls.crt".into(), next.cert_pem.clone().into_bytes()),
            ("tls.key".into(), next.key_pem.clone().into_bytes()),
            ("ca.crt".into(), next.cert_pem.clone().into_bytes()),
        ],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: Some(current.resource_version),
    })
    .await
    .unwrap();
    // trust-manager picks up the rewritten Secret: old anchor (previous) and new.
    wait_bundle(west, 2).await;
    assert!(
        bundle(west)
            .await
            .contains(next.cert_pem.lines().nth(1).unwrap())
    );
    renew_and_wait(west, "linkerd", "linkerd-identity-issuer").await;
    let issuer = tls_crt(
        &west
            .read_secret("linkerd", "linkerd-identity-issuer")
            .await
            .unwrap(),
    );
    assert!(west.verify_signed_by(&issuer, &next.cert_pem).unwrap());
    // The other clusters kept theirs.
    let east = sim.cluster("east").unwrap();
    assert_eq!(count_certs(&bundle(east).await), 1);
}

#[test]
fn a_scenario_of_clusters_needs_one_home_and_named_clusters() {
    let two_homes = THREE.replacen("    name: west\n", "    name: west\n    home: true\n", 1);
    let e = MultiSim::from_yaml(&two_homes).unwrap_err().to_string();
    assert!(e.contains("exactly one cluster is the home"), "{e}");
    let twice = THREE.replacen("    name: north\n", "    name: west\n", 1);
    let e = MultiSim::from_yaml(&twice).unwrap_err().to_string();
    assert!(e.contains("\"west\" is described twice"), "{e}");
    let unknown = THREE.replacen("cluster: north", "cluster: south", 1);
    let e = MultiSim::from_yaml(&unknown).unwrap_err().to_string();
    assert!(e.contains("no cluster \"south\""), "{e}");
    let own_anchor = format!(
        "{THREE}---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: linkerd-trust-anchor\n  namespace: cert-manager\nspec:\n  isCA: true\n  secretName: linkerd-trust-anchor\n  issuerRef:\n    name: x\n"
    );
    let e = MultiSim::from_yaml(&own_anchor).unwrap_err().to_string();
    assert!(
        e.contains("cluster north") && e.contains("shares the home cluster's anchor"),
        "{e}"
    );
    let late = THREE.replacen("  startTime: \"2026-03-02T09:00:00Z\"\n", "", 2);
    let e = MultiSim::from_yaml(&late).unwrap_err().to_string();
    assert!(e.contains("startTime differs"), "{e}");
}

#[test]
fn one_cluster_without_a_name_is_an_ordinary_scenario() {
    assert!(!is_multicluster(DEMO_SCENARIO));
    assert!(is_multicluster(THREE));
}
