//! API object mechanics through the `Cluster` trait: Secrets' optimistic
//! concurrency and immutable type, Events and the progress record, and
//! loading scenarios (named errors, explicit traffic, a `kubectl get -o
//! yaml` dump taken as is).

use super::*;

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
