//! Whole-simulator tests driven through the `Cluster` trait.

use super::*;

#[tokio::test]
async fn demo_loads_converged() {
    let sim = SimCluster::demo();
    let r = sim.simulation_report();
    assert_eq!(r.outage.broken_pair_seconds, 0.0, "{r:#?}");
    assert!(r.final_state.workloads_not_ready.is_empty(), "{r:#?}");
    assert_eq!(r.final_state.bundle_anchors, 1);
    let pods = sim
        .list_pods(None, "linkerd.io/control-plane-ns=linkerd")
        .await
        .unwrap();
    assert!(pods.len() > 10, "{}", pods.len());
    assert!(pods.iter().all(|p| p.ready));
    sim.wait(3600).await.unwrap();
    let r = sim.simulation_report();
    assert_eq!(r.outage.broken_pair_seconds, 0.0, "{r:#?}");
    assert!(r.final_state.workloads_not_ready.is_empty(), "{r:#?}");
}
