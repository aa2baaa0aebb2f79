//! Workload mechanics through the `Cluster` trait: rollout arithmetic
//! (surge and availability bounds), kubectl's wording, restarts, replaced
//! pods and their owners, and a bare pod no rotation restarts. `SMALL`, the
//! cluster they run on, serves the certificate tests too.

use super::*;

pub(super) const SMALL: &str = r#"
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
