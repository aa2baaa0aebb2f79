//! Single mechanisms through the `Cluster` trait: rollout arithmetic and
//! kubectl's wording, cert-manager renewal, identity's issuer checks,
//! Secrets' optimistic concurrency, events, progress, scenario errors.

use super::*;
use crate::cluster::sim::pki::generate_ca;

const SMALL: &str = r#"
apiVersion: rotor.dev/v1alpha1
kind: Simulation
spec:
  startTime: "2026-05-01T00:00:00Z"
---
apiVersion: v1
kind: Namespace
metadata:
  name: web
  annotations:
    linkerd.io/inject: enabled
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: web
  labels: {app: api}
spec:
  replicas: 4
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frozen
  namespace: web
  labels: {app: frozen}
spec:
  paused: true
  replicas: 1
  selector:
    matchLabels: {app: frozen}
  template:
    metadata:
      labels: {app: frozen}
    spec:
      containers:
      - name: frozen
"#;

fn identity_ref() -> ObjectRef {
    ObjectRef {
        kind: "Deployment".into(),
        namespace: "linkerd".into(),
        name: "linkerd-identity".into(),
    }
}

#[tokio::test]
async fn rolling_update_keeps_surge_and_availability_bounds() {
    let sim = SimCluster::from_yaml(SMALL).unwrap();
    // replicas 4, defaults 25%/25%: at most 5 pods, at least 3 available.
    sim.restart_workload(WorkloadKind::Deployment, "web", "api")
        .await
        .unwrap();
    let first = sim
        .rollout_status(WorkloadKind::Deployment, "web", "api")
        .await
        .unwrap();
    assert_eq!(first.phase, RolloutPhase::Progressing);
    assert_eq!(
        first.message,
        "Waiting for deployment spec update to be observed..."
    );
    let mut messages = BTreeSet::new();
    for _ in 0..300 {
        sim.wait(1).await.unwrap();
        let w = sim
            .get_workload(WorkloadKind::Deployment, "web", "api")
            .await
            .unwrap();
        assert!(w.current <= 5, "{w:?}");
        assert!(w.available >= 3, "{w:?}");
        let st = sim
            .rollout_status(WorkloadKind::Deployment, "web", "api")
            .await
            .unwrap();
        messages.insert(st.message.clone());
        if st.phase == RolloutPhase::Complete {
            assert_eq!(st.message, "deployment \"api\" successfully rolled out");
            assert_eq!((w.updated, w.ready, w.current), (4, 4, 4));
            break;
        }
    }
    assert!(
        messages
            .iter()
            .any(|m| m.contains("new replicas have been updated")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("old replicas are pending termination")
                || m.contains("updated replicas are available")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn paused_deployment_refuses_restart_and_unknowns_are_not_found() {
    let sim = SimCluster::from_yaml(SMALL).unwrap();
    let err = sim
        .restart_workload(WorkloadKind::Deployment, "web", "frozen")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::Invalid(m) if m.contains("paused")),
        "{err}"
    );
    let w = sim
        .get_workload(WorkloadKind::Deployment, "web", "frozen")
        .await
        .unwrap();
    assert!(w.paused);
    assert_eq!(w.generation, 1);
    let err = sim
        .get_workload(WorkloadKind::StatefulSet, "web", "api")
        .await
        .unwrap_err();
    assert_eq!(err, ClusterError::NotFound("StatefulSet web/api".into()));
    assert!(matches!(
        sim.delete_pod("web", "nope").await,
        Err(ClusterError::NotFound(_))
    ));
    assert!(matches!(
        sim.list_pods(None, "app in (x").await,
        Err(ClusterError::Invalid(_))
    ));
    let listed = sim
        .list_workloads(Some("web"), Some(WorkloadKind::Deployment), "app!=frozen")
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].selector, "app=api");
}

#[tokio::test]
async fn restart_twice_in_one_second_is_one_rollout() {
    let sim = SimCluster::from_yaml(SMALL).unwrap();
    let t1 = sim
        .restart_workload(WorkloadKind::Deployment, "web", "api")
        .await
        .unwrap();
    let t2 = sim
        .restart_workload(WorkloadKind::Deployment, "web", "api")
        .await
        .unwrap();
    assert_eq!(t1, t2);
    let w = sim
        .get_workload(WorkloadKind::Deployment, "web", "api")
        .await
        .unwrap();
    assert_eq!(w.generation, 2);
    assert!(
        w.template_annotations
            .iter()
            .any(|kv| kv.key == "kubectl.kubernetes.io/restartedAt"
                && kv.value == "2026-05-01T00:00:00Z")
    );
}

#[tokio::test]
async fn deleted_pod_is_replaced_and_owner_resolves_through_the_replica_set() {
    let sim = SimCluster::from_yaml(SMALL).unwrap();
    let pods = sim.list_pods(Some("web"), "app=api").await.unwrap();
    assert_eq!(pods.len(), 4);
    let owner = pods[0].owner.clone().unwrap();
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Deployment", "api")
    );
    assert!(pods[0].name.starts_with("api-"));
    sim.delete_pod("web", &pods[0].name).await.unwrap();
    let gone = sim.list_pods(Some("web"), "app=api").await.unwrap();
    assert!(!gone.iter().find(|p| p.name == pods[0].name).unwrap().ready);
    sim.wait(30).await.unwrap();
    let after = sim.list_pods(Some("web"), "app=api").await.unwrap();
    assert_eq!(after.len(), 4);
    assert!(after.iter().all(|p| p.ready));
    assert!(!after.iter().any(|p| p.name == pods[0].name));
}

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
    let now = sim.now().await;
    let rogue = generate_ca("rogue root", now, now + 86400, 7, None).unwrap();
    let issuer = generate_ca(
        "identity.linkerd.cluster.local",
        now,
        now + 86400,
        8,
        Some((&rogue.cert_pem, &rogue.key_pem)),
    )
    .unwrap();
    let current = sim
        .read_secret("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap();
    sim.write_secret(SecretWrite {
        namespace: "linkerd".into(),
        name: "linkerd-identity-issuer".into(),
        type_: "kubernetes.io/tls".into(),
        data: vec![
            ("ca.crt".into(), rogue.cert_pem.clone().into_bytes()),
            ("tls.crt".into(), issuer.cert_pem.into_bytes()),
            ("tls.key".into(), issuer.key_pem.into_bytes()),
        ],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: Some(current.resource_version.clone()),
    })
    .await
    .unwrap();
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
    let st = sim
        .wait_rollout(WorkloadKind::Deployment, "linkerd", "linkerd-identity", 300)
        .await
        .unwrap();
    assert_eq!(st.phase, RolloutPhase::Progressing);
    assert_eq!(
        st.message,
        "Waiting for deployment \"linkerd-identity\" rollout to finish: 1 old replicas are pending termination..."
    );
    assert_eq!(sim.simulation_report().outage.broken_pair_seconds, 0.0);
    // Putting the real issuer back lets the crash-looping container start.
    overwrite_issuer(&sim, &current.type_, current.data.clone()).await;
    let st = sim
        .wait_rollout(WorkloadKind::Deployment, "linkerd", "linkerd-identity", 300)
        .await
        .unwrap();
    assert_eq!(st.phase, RolloutPhase::Complete, "{}", st.message);
}

#[tokio::test]
async fn secrets_use_optimistic_concurrency() {
    let sim = SimCluster::demo();
    let s = sim
        .read_secret(TRUST_NS, "linkerd-previous-anchor")
        .await
        .unwrap();
    let write = |rv: Option<String>| SecretWrite {
        namespace: TRUST_NS.into(),
        name: "linkerd-previous-anchor".into(),
        type_: s.type_.clone(),
        data: s.data.clone(),
        labels: vec![],
        annotations: vec![],
        expected_resource_version: rv,
    };
    let rv = sim
        .write_secret(write(Some(s.resource_version.clone())))
        .await
        .unwrap();
    assert_ne!(rv, s.resource_version);
    let stale = sim
        .write_secret(write(Some(s.resource_version.clone())))
        .await;
    assert!(matches!(stale, Err(ClusterError::Conflict(_))), "{stale:?}");
    let missing = sim
        .write_secret(SecretWrite {
            name: "does-not-exist".into(),
            ..write(Some("1".into()))
        })
        .await;
    assert!(
        matches!(missing, Err(ClusterError::NotFound(_))),
        "{missing:?}"
    );
    let created = sim
        .write_secret(SecretWrite {
            name: "scratch".into(),
            ..write(None)
        })
        .await
        .unwrap();
    let read = sim.read_secret(TRUST_NS, "scratch").await.unwrap();
    assert_eq!(read.resource_version, created);
}

#[tokio::test]
async fn a_secret_type_changes_only_by_delete_and_create() {
    let sim = SimCluster::demo();
    let s = sim
        .read_secret(TRUST_NS, "linkerd-previous-anchor")
        .await
        .unwrap();
    assert_eq!(s.type_, "Opaque", "the demo's copy is certificate-only");
    let tls = SecretWrite {
        namespace: TRUST_NS.into(),
        name: "linkerd-previous-anchor".into(),
        type_: "kubernetes.io/tls".into(),
        data: s.data.clone(),
        labels: vec![],
        annotations: vec![],
        expected_resource_version: Some(s.resource_version.clone()),
    };
    let refused = sim.write_secret(tls.clone()).await;
    assert!(
        matches!(&refused, Err(ClusterError::Invalid(m)) if m.contains("type: field is immutable")),
        "{refused:?}"
    );
    let stale = sim
        .delete_secret(TRUST_NS, "linkerd-previous-anchor", "1")
        .await;
    assert!(matches!(stale, Err(ClusterError::Conflict(_))), "{stale:?}");
    sim.delete_secret(TRUST_NS, "linkerd-previous-anchor", &s.resource_version)
        .await
        .unwrap();
    // trust-manager keeps the bundle it had while a source is missing.
    let before = bundle(&sim).await;
    sim.wait(60).await.unwrap();
    assert_eq!(bundle(&sim).await, before);
    sim.write_secret(SecretWrite {
        expected_resource_version: None,
        ..tls
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn events_and_progress_are_kept() {
    let sim = SimCluster::demo();
    let target = ObjectRef {
        kind: "Deployment".into(),
        namespace: "shop".into(),
        name: "cart".into(),
    };
    sim.record_event(&target, EventType::Normal, "RotationStarted", "rotating")
        .await
        .unwrap();
    sim.wait(5).await.unwrap();
    sim.record_event(&target, EventType::Normal, "RotationStarted", "rotating")
        .await
        .unwrap();
    let events = sim.list_events(&target, None).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].count, 2);
    assert_eq!(events[0].last_time - events[0].first_time, 5);
    assert_eq!(events[0].source, "rotor");
    assert!(
        sim.list_events(&target, Some("Other"))
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(sim.load_progress().await.unwrap(), None);
    sim.save_progress("{\"step\":2}").await.unwrap();
    assert_eq!(
        sim.load_progress().await.unwrap().as_deref(),
        Some("{\"step\":2}")
    );
    let cm = sim
        .read_config_map("rotor-system", "rotor-progress")
        .await
        .unwrap();
    assert_eq!(cm.data[0].key, "progress");
    sim.clear_progress().await.unwrap();
    assert_eq!(sim.load_progress().await.unwrap(), None);
}

#[test]
fn scenario_errors_name_what_is_wrong() {
    let cases = [
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: web}\nspec:\n  replicas: x\n",
            "document 1 (Deployment web/api): spec.replicas: invalid type: string \"x\"",
        ),
        (
            "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  startTime: yesterday\n",
            "spec.startTime",
        ),
        (
            "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  neverReady: [web/nothing]\n",
            "neverReady",
        ),
        (
            "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  traffic:\n  - {from: a/b, to: c/d}\n",
            "spec.traffic[0]",
        ),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: a}\ndata: {k: '***'}\n",
            "document 1 (Secret a/s): data.k is not base64",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {}\n",
            "document 1 (Deployment api): metadata.namespace is missing",
        ),
        (
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: web}\nspec:\n  selector:\n    matchExpressions: [{key: app, operator: Matches}]\n",
            "document 2 (Deployment web/api): spec.selector: matchExpressions operator \"Matches\"",
        ),
        (
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: a}\nspec:\n  secretName: c\n  issuerRef: {name: i}\n  duration: 3d\n",
            "document 1 (Certificate a/c): spec: duration \"3d\"",
        ),
    ];
    for (text, expected) in cases {
        let err = SimCluster::from_yaml(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{err} does not contain {expected}");
    }
}

#[tokio::test]
async fn explicit_traffic_narrows_the_pairs_checked() {
    let text = format!(
        "{}\n  traffic:\n  - {{from: shop/frontend, to: shop/Deployment/cart}}\n",
        "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  startTime: \"2026-03-02T09:00:00Z\""
    ) + &DEMO_SCENARIO[DEMO_SCENARIO.find("---\n").unwrap()..];
    let narrow = SimCluster::from_yaml(&text).unwrap();
    let wide = SimCluster::demo();
    for sim in [&narrow, &wide] {
        rotate_like_blog(sim).await;
    }
    let (n, w) = (
        narrow.simulation_report().outage,
        wide.simulation_report().outage,
    );
    assert!(n.broken_pair_seconds > 0.0);
    assert!(
        n.broken_pair_seconds < w.broken_pair_seconds / 4.0,
        "{n:#?} {w:#?}"
    );
    let max = n.windows.iter().map(|w| w.broken_pairs_max).max().unwrap();
    // One listed pair plus each meshed workload to identity and destination.
    assert!(max <= 1 + 2 * 20, "{max}");
}

/// What `kubectl get ns,deploy,rs,ds,pods -o yaml` prints for a small
/// cluster: revisions, nodes and owners the simulator did not make.
const KUBECTL_DUMP: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: web
    annotations: {linkerd.io/inject: enabled}
    uid: 5b1e
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: api, namespace: web, generation: 4, labels: {app: api}}
  spec:
    replicas: 1
    selector: {matchLabels: {app: api}}
    template:
      metadata: {labels: {app: api}}
      spec: {containers: [{name: api, image: api:2}]}
  status: {observedGeneration: 4, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: api-7d9f8c6b5
    namespace: web
    ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: api, controller: true}]
  spec:
    selector: {matchLabels: {app: api}}
- apiVersion: apps/v1
  kind: DaemonSet
  metadata: {name: agent, namespace: web, labels: {app: agent}}
  spec:
    selector: {matchLabels: {app: agent}}
    template:
      metadata: {labels: {app: agent}}
      spec: {containers: [{name: agent}]}
- apiVersion: v1
  kind: Pod
  metadata:
    name: api-7d9f8c6b5-x2x9q
    namespace: web
    labels: {app: api, pod-template-hash: 7d9f8c6b5}
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9f8c6b5, controller: true}]
  spec:
    nodeName: ip-10-0-1-17
    containers: [{name: api}]
  status: {phase: Running}
- apiVersion: v1
  kind: Pod
  metadata:
    name: agent-qq8vd
    namespace: web
    labels: {app: agent, controller-revision-hash: 6c9b4f7d5c}
    ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, controller: true}]
  spec:
    nodeName: ip-10-0-1-17
    containers: [{name: agent}]
  status: {phase: Running}
- apiVersion: v1
  kind: Pod
  metadata:
    name: agent-m4k2z
    namespace: web
    labels: {app: agent, controller-revision-hash: 6c9b4f7d5c}
    ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, controller: true}]
  spec:
    nodeName: ip-10-0-2-31
    containers: [{name: agent}]
  status: {phase: Running}
"#;

#[tokio::test]
async fn a_kubectl_dump_loads_as_is_and_stays_put() {
    let sim = SimCluster::from_yaml(KUBECTL_DUMP).unwrap();
    let before = sim.list_pods(Some("web"), "").await.unwrap();
    assert_eq!(before.len(), 3);
    // Injected by the namespace annotation, ready, owned through the ReplicaSet.
    assert!(
        before
            .iter()
            .all(|p| p.ready && p.containers.contains(&"linkerd-proxy".into()))
    );
    let api = before.iter().find(|p| p.name.starts_with("api-")).unwrap();
    assert_eq!(api.owner.as_ref().unwrap().name, "api");
    sim.wait(600).await.unwrap();
    assert_eq!(sim.list_pods(Some("web"), "").await.unwrap(), before);
    let ds = sim
        .get_workload(WorkloadKind::DaemonSet, "web", "agent")
        .await
        .unwrap();
    assert_eq!((ds.desired, ds.updated, ds.ready), (2, 2, 2));
    let st = sim
        .rollout_status(WorkloadKind::Deployment, "web", "api")
        .await
        .unwrap();
    assert_eq!(st.phase, RolloutPhase::Complete, "{}", st.message);
    // A restart rolls onto the same nodes.
    let w = sim
        .get_workload(WorkloadKind::DaemonSet, "web", "agent")
        .await
        .unwrap();
    restart_and_wait(&sim, &w).await;
    let nodes: BTreeSet<String> = sim
        .list_pods(Some("web"), "app=agent")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.node_name)
        .collect();
    assert_eq!(
        nodes,
        BTreeSet::from(["ip-10-0-1-17".to_string(), "ip-10-0-2-31".to_string()])
    );
    assert_eq!(sim.simulation_report().outage.broken_pair_seconds, 0.0);
}

#[tokio::test]
async fn a_bare_meshed_pod_is_left_behind_by_a_rotation() {
    let text = format!(
        "{SMALL}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: debug-shell\n  namespace: web\n  \
         labels: {{app: debug}}\nspec:\n  containers:\n  - name: shell\n"
    );
    let sim = SimCluster::from_yaml(&text).unwrap();
    let pod = sim.list_pods(Some("web"), "app=debug").await.unwrap();
    assert!(pod[0].owner.is_none());
    assert!(pod[0].ready && pod[0].containers.contains(&"linkerd-proxy".into()));
    rotate_safely(&sim).await;
    let r = sim.simulation_report();
    // Nothing restarts a bare pod (or the paused Deployment): they keep the
    // old roots and leaf, and lose everything once the old anchor leaves
    // the bundle.
    assert!(r.outage.broken_pair_seconds > 0.0);
    let w = r.outage.windows.last().unwrap();
    assert_eq!(w.end, sim.now().await);
    assert!(
        w.sample_pairs
            .iter()
            .all(|p| p.contains("web/Pod/debug-shell") || p.contains("web/Deployment/frozen")),
        "{w:#?}"
    );
    assert_eq!(r.final_state.proxies_trusting_retired_anchor, 2);
    assert_eq!(r.final_state.proxies_with_retired_chain_leaf, 2);
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
