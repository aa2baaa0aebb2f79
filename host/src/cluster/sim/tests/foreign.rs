//! Pods of owners the model does not run (an Argo Rollout's ReplicaSet, a
//! StrimziPodSet) and bare pods: listed under their owner, replaced as
//! their controllers replace them, and kept so across a dump and reload.

use super::*;

const UNOWNED: &str = include_str!("../../../../../tests/scenarios/unowned-delete-pods.yaml");

/// "namespace/name -> Kind owner" of every meshed pod outside `linkerd`.
async fn owners(sim: &SimCluster) -> BTreeSet<String> {
    let pods = sim
        .list_pods(None, "linkerd.io/control-plane-ns=linkerd")
        .await
        .unwrap();
    pods.into_iter()
        .filter(|p| p.namespace != "linkerd")
        .map(|p| {
            let owner = p.owner.map(|o| format!("{} {}", o.kind, o.name));
            format!(
                "{}/{} -> {}",
                p.namespace,
                p.name,
                owner.unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn deleted_pods_come_back_as_their_controllers_make_them() {
    let sim = SimCluster::from_yaml(UNOWNED).unwrap();
    let before = owners(&sim).await;
    assert!(
        before.contains("shop/cart-6c9d7f8b5-x7k2p -> Rollout cart"),
        "{before:?}"
    );
    assert!(before.contains("kafka/events-kafka-0 -> StrimziPodSet events-kafka"));
    assert!(before.contains("shop/debug-shell -> "), "{before:?}");

    for (ns, pod) in [
        ("shop", "cart-6c9d7f8b5-x7k2p"),
        ("kafka", "events-kafka-0"),
        ("shop", "debug-shell"),
    ] {
        sim.delete_pod(ns, pod).await.unwrap();
    }
    // The Rollout's ReplicaSet replaces its pod at once, under a new name.
    let now = owners(&sim).await;
    let carts: Vec<_> = now.iter().filter(|p| p.contains("Rollout cart")).collect();
    assert_eq!(
        carts.len(),
        3,
        "the old one terminating, a new one admitted: {now:?}"
    );
    sim.wait(60).await.unwrap();
    let after = owners(&sim).await;
    let carts: Vec<_> = after
        .iter()
        .filter(|p| p.contains("Rollout cart"))
        .collect();
    assert_eq!(carts.len(), 2, "{after:?}");
    assert!(!after.contains("shop/cart-6c9d7f8b5-x7k2p -> Rollout cart"));
    // The StrimziPodSet's comes back under its name; the bare pod is gone.
    assert!(after.contains("kafka/events-kafka-0 -> StrimziPodSet events-kafka"));
    assert!(!after.iter().any(|p| p.starts_with("shop/debug-shell")));
    let pods = sim.list_pods(Some("kafka"), "").await.unwrap();
    assert!(pods.iter().all(|p| p.ready), "{pods:?}");

    // A dump keeps the owners: the Rollout's ReplicaSet goes with it.
    let resumed = SimCluster::from_yaml(&sim.state_yaml()).unwrap();
    assert_eq!(owners(&resumed).await, after);
    assert_eq!(sim.simulation_report().outage.broken_pair_seconds, 0.0);
}
