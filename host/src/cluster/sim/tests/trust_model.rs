//! The trust model's timing against what Linkerd, the proxy and the kubelet
//! really do (docs/trust-model.md): identity replicas reload one by one,
//! each reporting its own event; a proxy that failed to renew waits for its
//! own timer; the kubelet's crash back-off doubles.

use super::*;

const HA: &str = r#"
apiVersion: rotor.dev/v1alpha1
kind: Simulation
spec:
  startTime: "2026-05-01T00:00:00Z"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: linkerd-identity
  namespace: linkerd
spec:
  replicas: 3
  selector:
    matchLabels: {linkerd.io/control-plane-component: identity}
  template:
    metadata:
      labels: {linkerd.io/control-plane-component: identity}
    spec:
      containers:
      - name: identity
      - name: linkerd-proxy
"#;

/// Each of three identity replicas reloads a renewed issuer at its own
/// kubelet sync, 60-90 s after the Secret changed, and reports it as an
/// Event of its own.
#[tokio::test]
async fn identity_replicas_reload_one_by_one_each_with_its_own_event() {
    let sim = SimCluster::from_yaml(HA).unwrap();
    let start = sim.now().await;
    renew_and_wait(&sim, "linkerd", "linkerd-identity-issuer").await;
    let written = sim.now().await;
    sim.wait(59).await.unwrap();
    let none = sim
        .list_events(&identity_ref(), Some("IssuerUpdated"))
        .await
        .unwrap();
    assert!(
        none.is_empty(),
        "no replica reloads before its sync: {none:?}"
    );
    sim.wait(32).await.unwrap();
    let events = sim
        .list_events(&identity_ref(), Some("IssuerUpdated"))
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    let mut times: Vec<i64> = events.iter().map(|e| e.first_time).collect();
    times.sort();
    assert!(
        times[0] >= written + 60 && times[2] <= written + 90,
        "{times:?} after {written}"
    );
    assert!(times[0] < times[2], "the replicas reload apart: {times:?}");
    assert!(start < written);
}

/// Identity reports a reload on every change of its files, even when the
/// issuer it reads is the one it already has.
#[tokio::test]
async fn identity_reports_a_reload_of_an_unchanged_issuer() {
    let sim = SimCluster::demo();
    let issuer = sim
        .read_secret("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    let mut data = issuer.data.clone();
    data.retain(|(k, _)| k != "ca.crt");
    sim.write_secret(SecretWrite {
        namespace: "linkerd".into(),
        name: "linkerd-identity-issuer".into(),
        type_: issuer.type_.clone(),
        data,
        labels: vec![],
        annotations: vec![],
        expected_resource_version: Some(issuer.resource_version.clone()),
    })
    .await
    .unwrap();
    sim.wait(95).await.unwrap();
    let events = sim
        .list_events(&identity_ref(), Some("IssuerUpdated"))
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
}

/// A crash-looping identity container is retried after 10 s, then 20, 40,
/// ... (the kubelet's back-off), not at a flat interval.
#[tokio::test]
async fn a_crash_looping_identity_backs_off_exponentially() {
    let sim = SimCluster::demo();
    // An issuer nobody's roots hold: a restarted identity cannot start.
    let (current, _, issuer) = rogue_issuer(&sim).await;
    let rogue_data = vec![
        ("tls.crt".into(), issuer.cert_pem.into_bytes()),
        ("tls.key".into(), issuer.key_pem.into_bytes()),
    ];
    overwrite_issuer(&sim, &current.type_, rogue_data).await;
    sim.restart_workload(WorkloadKind::Deployment, "linkerd", "linkerd-identity")
        .await
        .unwrap();
    // Put the good issuer back 100 s into the crash loop: starts at +10
    // (crash), +20, +40, +80 s; the next try is at +160 s, not +110 s.
    sim.wait(100).await.unwrap();
    overwrite_issuer(&sim, &current.type_, current.data.clone()).await;
    let st = wait_identity(&sim, 40).await;
    assert_eq!(
        st.phase,
        RolloutPhase::Progressing,
        "still backing off: {}",
        st.message
    );
    let st = wait_identity(&sim, 300).await;
    assert_eq!(st.phase, RolloutPhase::Complete, "{}", st.message);
}

/// The trust-roots ConfigMap holds exactly what trust-manager writes:
/// certificates ordered by the SHA-256 of their DER, no final newline. The
/// injector hashes these bytes, so a plan of a live cluster must not
/// rewrite them.
#[tokio::test]
async fn the_bundle_is_written_as_trust_manager_writes_it() {
    let sim = SimCluster::demo();
    copy_anchor_to_previous(&sim).await;
    renew_and_wait(&sim, TRUST_NS, "linkerd-trust-anchor").await;
    sim.wait(5).await.unwrap();
    let text = bundle(&sim).await;
    assert!(text.ends_with("-----END CERTIFICATE-----"), "{text:?}");
    let ders = pki::pem_blocks(&text).unwrap();
    assert_eq!(ders.len(), 2);
    let hashes: Vec<String> = ders.iter().map(|d| pki::sha256_hex(d)).collect();
    let mut sorted = hashes.clone();
    sorted.sort();
    assert_eq!(hashes, sorted, "ordered by certificate hash");
}

/// A ClusterBundle's target is written only where the cluster showed
/// trust-manager reconciling it (a `Synced` condition): trust-manager
/// v0.25.0 serves the API without a controller for it. Either way it
/// survives a dump and a reload in its own shape.
#[tokio::test]
async fn a_cluster_bundle_is_written_only_when_reconciled() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios/cluster-bundle.yaml");
    let reconciled = std::fs::read_to_string(path).unwrap();
    let start = reconciled.find("status:\n  conditions:").unwrap();
    let end = start + reconciled[start..].find("---").unwrap();
    let never = format!("{}{}", &reconciled[..start], &reconciled[end..]);
    for (yaml, written) in [(reconciled, true), (never, false)] {
        let sim = SimCluster::from_yaml(&yaml).unwrap();
        let roots = sim
            .read_config_map("linkerd", "linkerd-identity-trust-roots")
            .await;
        assert_eq!(roots.is_ok(), written, "{roots:?}");
        let dump = sim.state_yaml();
        assert!(dump.contains("kind: ClusterBundle"), "{dump}");
        assert!(
            !dump.contains("kind: Bundle\n"),
            "the standard Bundle is replaced"
        );
        let again = SimCluster::from_yaml(&dump).unwrap();
        let setup = again.trust_manager_setup().await.unwrap().unwrap();
        assert_eq!(setup.bundles.len(), 1);
        assert_eq!(setup.bundles[0].kind, "ClusterBundle");
        assert_eq!(setup.bundles[0].synced.is_some(), written);
    }
}

/// A selector trust-manager would reject is refused at load, naming it.
#[test]
fn a_bundle_selector_with_an_unknown_operator_is_refused() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios/cluster-bundle.yaml");
    let yaml = std::fs::read_to_string(path)
        .unwrap()
        .replace("operator: In", "operator: Within");
    let err = SimCluster::from_yaml(&yaml).unwrap_err().to_string();
    assert!(
        err.contains("spec.target.namespaceSelector.matchExpressions: operator \"Within\""),
        "{err}"
    );
}
