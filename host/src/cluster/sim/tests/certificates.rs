//! Certificate mechanics through the `Cluster` trait: cert-manager's
//! automatic renewal and its opt-out, identity's checks of a new issuer
//! (skipping one it cannot verify, crash-looping on it), and a failed
//! issuance as `Issuing=False`.

use super::workloads::SMALL;
use super::*;
use crate::cluster::sim::pki::generate_ca;

#[tokio::test]
async fn certificates_renew_automatically_unless_disabled() {
    let text = SMALL.replace(
        "kind: Simulation\nspec:",
        "kind: Simulation\nspec:\n  nodes: 2",
    ) + r#"---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: linkerd-trust-anchor
  namespace: cert-manager
spec:
  isCA: true
  commonName: root.linkerd.cluster.local
  secretName: linkerd-trust-anchor
  duration: 48h
  renewBefore: 24h
  renewal:
    policy: Disabled
  issuerRef:
    name: linkerd-trust-root-issuer
    kind: Issuer
"#;
    let sim = SimCluster::from_yaml(&text).unwrap();
    let anchor = sim
        .get_certificate(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    assert!(anchor.renewal_disabled && anchor.ready && !anchor.issuing);
    assert_eq!(anchor.revision, Some(1));
    // The issuer (48h, renewBefore 25h) renews itself after 23h; the anchor does not.
    // (Identity sees the new Secret at its kubelet's next sync, 60-90 s on.)
    sim.wait(23 * 3600 + 100).await.unwrap();
    let issuer = sim
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    assert_eq!(issuer.revision, Some(2));
    assert_eq!(
        sim.list_events(&identity_ref(), Some("IssuerUpdated"))
            .await
            .unwrap()
            .len(),
        1
    );
    sim.wait(24 * 3600).await.unwrap();
    let anchor = sim
        .get_certificate(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    assert_eq!(anchor.revision, Some(1));
    // A manual renew still re-issues it, and the Secret's certificate changes.
    let before = sim
        .read_secret(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    sim.renew_certificate(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    let c = sim
        .get_certificate(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    let issuing = c.conditions.iter().find(|c| c.type_ == "Issuing").unwrap();
    assert_eq!(
        (issuing.status.as_str(), issuing.reason.as_str()),
        ("True", "ManuallyTriggered")
    );
    sim.wait(10).await.unwrap();
    let after = sim
        .read_secret(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    assert_ne!(before.data, after.data);
    assert_ne!(before.resource_version, after.resource_version);
    let keys: Vec<&str> = after.data.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["ca.crt", "tls.crt", "tls.key"]);
}

#[tokio::test]
async fn identity_skips_an_issuer_it_cannot_verify_and_crash_loops_on_it() {
    let sim = SimCluster::demo();
    // An issuer signed by an anchor nobody trusts.
    let (current, rogue, issuer) = rogue_issuer(&sim).await;
    let rogue_data = vec![
        ("ca.crt".into(), rogue.cert_pem.clone().into_bytes()),
        ("tls.crt".into(), issuer.cert_pem.into_bytes()),
        ("tls.key".into(), issuer.key_pem.into_bytes()),
    ];
    overwrite_issuer(&sim, "kubernetes.io/tls", rogue_data).await;
    sim.wait(95).await.unwrap();
    let skipped = sim
        .list_events(&identity_ref(), Some("IssuerUpdateSkipped"))
        .await
        .unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].type_, EventType::Warning);
    assert_eq!(skipped[0].source, "linkerd-identity");
    // The running identity keeps the old issuer: new pods still get leaves.
    let cart = sim
        .get_workload(WorkloadKind::Deployment, "shop", "cart")
        .await
        .unwrap();
    restart_and_wait(&sim, &cart).await;
    // A restarted identity cannot start with it: its rollout stalls.
    sim.restart_workload(WorkloadKind::Deployment, "linkerd", "linkerd-identity")
        .await
        .unwrap();
    let st = wait_identity(&sim, 300).await;
    assert_eq!(st.phase, RolloutPhase::Progressing);
    assert_eq!(
        st.message,
        "Waiting for deployment \"linkerd-identity\" rollout to finish: 1 old replicas are pending termination..."
    );
    assert_eq!(sim.simulation_report().outage.broken_pair_seconds, 0.0);
    // Putting the real issuer back lets the crash-looping container start.
    overwrite_issuer(&sim, &current.type_, current.data.clone()).await;
    let st = wait_identity(&sim, 300).await;
    assert_eq!(st.phase, RolloutPhase::Complete, "{}", st.message);
}

#[tokio::test]
async fn a_failed_issuance_reports_issuing_false() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let ca = generate_ca("orphan", 1_772_000_000, 1_900_000_000, 9, None).unwrap();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: orphan, namespace: apps}}\ntype: kubernetes.io/tls\n\
         data: {{tls.crt: {}, tls.key: {}}}\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\n\
         metadata: {{name: orphan, namespace: apps}}\nspec:\n  secretName: orphan\n  issuerRef: {{name: gone, kind: Issuer}}\n",
        b64(&ca.cert_pem),
        b64(&ca.key_pem)
    );
    let sim = SimCluster::from_yaml(&text).unwrap();
    let c = sim.get_certificate("apps", "orphan").await.unwrap();
    assert!(c.ready && c.revision == Some(1));
    assert_eq!(c.not_after, Some(1_900_000_000));
    sim.renew_certificate("apps", "orphan").await.unwrap();
    sim.wait(30).await.unwrap();
    let c = sim.get_certificate("apps", "orphan").await.unwrap();
    let issuing = c.conditions.iter().find(|x| x.type_ == "Issuing").unwrap();
    assert_eq!(
        (issuing.status.as_str(), issuing.reason.as_str()),
        ("False", "Failed")
    );
    assert!(
        issuing.message.contains("Issuer \"gone\" not found"),
        "{}",
        issuing.message
    );
    assert!(!c.issuing && c.revision == Some(1));
    assert!(sim.get_certificate("apps", "nope").await.is_err());
}

/// cert-manager's CA issuer, as `set-ca-issuer-secret` changes it: a
/// missing Secret is accepted and leaves the issuer not ready (its `Setup`
/// cannot read the key pair), issuance from it fails; once the Secret
/// exists the issuer is ready and signs from it. Other issuer types are
/// refused unchanged.
#[tokio::test]
async fn a_ca_issuer_pointed_at_another_secret_signs_from_it() {
    use crate::cluster::IssuerRef;
    let sim = SimCluster::demo();
    let ca = IssuerRef::cluster("linkerd-identity-issuer");
    let i = sim.get_issuer(&ca).await.unwrap();
    assert_eq!(
        (i.kind.as_str(), i.namespace.as_str(), i.generation, i.ready),
        ("ClusterIssuer", "", 1, true)
    );
    assert_eq!(i.ca_secret_name.as_deref(), Some("linkerd-trust-anchor"));
    let root = IssuerRef::namespaced(TRUST_NS, "linkerd-trust-root-issuer");
    let before = sim.get_issuer(&root).await.unwrap();
    assert!(before.ready && before.ca_secret_name.is_none());
    let err = sim.set_ca_issuer_secret(&root, "x").await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::Invalid(m) if m.contains("not a CA issuer")),
        "{err}"
    );
    assert_eq!(sim.get_issuer(&root).await.unwrap(), before);
    let err = sim
        .set_ca_issuer_secret(&IssuerRef::cluster("gone"), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::NotFound(m) if m == "ClusterIssuer/gone"),
        "{err}"
    );

    let next = "linkerd-trust-anchor-next";
    sim.set_ca_issuer_secret(&ca, next).await.unwrap();
    let i = sim.get_issuer(&ca).await.unwrap();
    assert_eq!(
        (i.ca_secret_name.as_deref(), i.generation, i.ready),
        (Some(next), 2, false)
    );
    assert!(sim.state_yaml().contains(&format!("secretName: {next}")));
    sim.renew_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    sim.wait(30).await.unwrap();
    let c = sim
        .get_certificate("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    let issuing = c.conditions.iter().find(|x| x.type_ == "Issuing").unwrap();
    assert_eq!(
        (issuing.status.as_str(), issuing.reason.as_str()),
        ("False", "Failed")
    );
    assert!(
        issuing
            .message
            .contains(&format!("secret {TRUST_NS}/{next} not found")),
        "{}",
        issuing.message
    );

    let now = sim.now().await;
    let anchor = generate_ca(
        "root.linkerd.cluster.local",
        now,
        now + 86_400 * 365,
        77,
        None,
    )
    .unwrap();
    sim.write_secret(SecretWrite {
        namespace: TRUST_NS.into(),
        name: next.into(),
        type_: "kubernetes.io/tls".into(),
        data: vec![
            ("tls.crt".into(), anchor.cert_pem.clone().into_bytes()),
            ("tls.key".into(), anchor.key_pem.clone().into_bytes()),
        ],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    })
    .await
    .unwrap();
    assert!(sim.get_issuer(&ca).await.unwrap().ready);
    renew_and_wait(&sim, "linkerd", "linkerd-identity-issuer").await;
    let issued = sim
        .read_secret("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    let crt = issued.data.iter().find(|(k, _)| k == "tls.crt").unwrap();
    assert!(
        sim.verify_signed_by(&String::from_utf8_lossy(&crt.1), &anchor.cert_pem)
            .unwrap(),
        "the identity issuer is signed by the anchor the issuer now points at"
    );
}
