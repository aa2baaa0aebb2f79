//! Native sidecars in the simulator: the injector's choice (install value,
//! namespace and pod annotations), summaries that list the proxy sidecar
//! but not run-to-completion init containers, and a restarted pod whose
//! proxy cannot get a certificate held in Init and named with its reason.

use super::*;
use crate::linkerd::NOT_READY_KEY;

const NATIVE: &str = include_str!("../../../../../tests/scenarios/native-sidecars.yaml");

async fn summaries(sim: &SimCluster, ns: &str) -> Vec<PodSummary> {
    sim.list_pod_summaries(Some(ns), "", &[NOT_READY_KEY.to_string()])
        .await
        .unwrap()
}

#[tokio::test]
async fn the_injector_makes_the_proxy_a_native_sidecar_unless_told_otherwise() {
    let sim = SimCluster::from_yaml(NATIVE).unwrap();
    let shop = sim.list_pods(Some("shop"), "").await.unwrap();
    assert_eq!(shop.len(), 4);
    for p in &shop {
        assert!(p.init_containers.contains(&"linkerd-proxy".into()), "{p:?}");
        assert!(!p.containers.contains(&"linkerd-proxy".into()), "{p:?}");
        assert_eq!(p.phase, "Running");
        assert!(p.ready);
    }
    // The namespace's annotation turns it off for its pods.
    let legacy = sim.list_pods(Some("legacy"), "").await.unwrap();
    assert!(legacy[0].containers.contains(&"linkerd-proxy".into()));
    assert!(legacy[0].init_containers.is_empty());
    // A summary lists the sidecar after the containers, not `migrate`,
    // which runs to completion before the app starts.
    let web = summaries(&sim, "shop").await;
    let web = web.iter().find(|p| p.name.starts_with("web-")).unwrap();
    assert_eq!(web.containers, ["app", "linkerd-proxy"]);
    assert!(web.annotations.is_empty(), "nothing holds it: {web:?}");
}

#[tokio::test]
async fn a_proxy_that_trusts_only_a_new_anchor_holds_its_pod_in_init() {
    let sim = SimCluster::from_yaml(NATIVE).unwrap();
    // The anchor is re-issued and the old one dropped at once (the previous
    // anchor's Secret overwritten with the new one): the bundle holds the
    // new anchor alone, while identity still serves a certificate of the
    // old chain. The injector sees it after its sync.
    renew_and_wait(&sim, TRUST_NS, "linkerd-trust-anchor").await;
    copy_anchor_to_previous(&sim).await;
    wait_bundle(&sim, 1).await;
    sim.wait(120).await.unwrap();
    sim.restart_workload(WorkloadKind::Deployment, "shop", "web")
        .await
        .unwrap();
    // Start (10 s), the startup probe's 120 s, and a moment for the kubelet.
    sim.wait(140).await.unwrap();
    let pods = summaries(&sim, "shop").await;
    let held: Vec<&PodSummary> = pods.iter().filter(|p| !p.annotations.is_empty()).collect();
    assert!(!held.is_empty(), "{pods:#?}");
    for p in held {
        assert!(p.name.starts_with("web-"), "{p:?}");
        assert_eq!((p.phase.as_str(), p.ready), ("Pending", false));
        assert_eq!(p.annotations[0].key, NOT_READY_KEY);
        assert_eq!(
            p.annotations[0].value,
            "proxy sidecar not ready in Init (no identity certificate: identity's \
             certificate does not chain to the proxy's trust roots; startup probe failed; \
             restarted 1 time)"
        );
    }
    // The old pods keep serving: the rollout waits on the new ones.
    let status = sim
        .rollout_status(WorkloadKind::Deployment, "shop", "web")
        .await
        .unwrap();
    assert_eq!(status.phase, RolloutPhase::Progressing, "{status:?}");
}
