//! Rotations of the demo mesh: the documented safe order keeps every meshed
//! pair working; the older blog-post order breaks traffic and strands
//! StatefulSet/DaemonSet proxies; a dumped state resumes where it stopped.

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
    // Pod-level injection is meshed; the legacy namespace is not.
    let batch = sim.list_pods(Some("batch"), "").await.unwrap();
    let meshed: Vec<bool> = batch
        .iter()
        .map(|p| p.containers.iter().any(|c| c == "linkerd-proxy"))
        .collect();
    assert!(
        meshed.contains(&true) && meshed.contains(&false),
        "{batch:#?}"
    );
    let legacy = sim.list_pods(Some("legacy"), "").await.unwrap();
    assert!(
        legacy
            .iter()
            .all(|p| !p.containers.iter().any(|c| c == "linkerd-proxy"))
    );
    sim.wait(3600).await.unwrap();
    let r = sim.simulation_report();
    assert_eq!(r.outage.broken_pair_seconds, 0.0, "{r:#?}");
    assert!(r.final_state.workloads_not_ready.is_empty(), "{r:#?}");
    assert!(!r.final_state.anchor_rotated && !r.final_state.issuer_rotated);
}

#[tokio::test]
async fn documented_safe_order_breaks_nothing() {
    let sim = SimCluster::demo();
    let install = pki::sha256_hex(bundle(&sim).await.as_bytes());
    assert!(rotate_safely(&sim).await, "identity reloads the new issuer");
    let r = sim.simulation_report();
    assert_eq!(r.outage.broken_pair_seconds, 0.0, "{:#?}", r.outage);
    assert!(r.outage.windows.is_empty());
    let f = &r.final_state;
    assert_eq!(f.bundle_anchors, 1);
    assert_eq!(f.proxies_trusting_retired_anchor, 0, "{f:#?}");
    assert_eq!(f.proxies_with_retired_chain_leaf, 0, "{f:#?}");
    assert!(f.anchor_rotated && f.issuer_rotated, "{f:#?}");
    assert!(f.workloads_not_ready.is_empty(), "{f:#?}");
    assert!(r.pods_never_ready.is_empty(), "{:?}", r.pods_never_ready);
    // Every injected pod carries the hash of the current bundle; the
    // control plane keeps the chart's install-time hash through every
    // restart (its proxies read the ConfigMap at start instead).
    let current = pki::sha256_hex(bundle(&sim).await.as_bytes());
    assert_ne!(current, install);
    for p in sim
        .list_pods(None, "linkerd.io/control-plane-ns=linkerd")
        .await
        .unwrap()
    {
        let sha = p
            .annotations
            .iter()
            .find(|kv| kv.key == "linkerd.io/trust-root-sha256")
            .map(|kv| kv.value.clone());
        let want = if p.namespace == "linkerd" {
            &install
        } else {
            &current
        };
        assert_eq!(
            sha.as_deref(),
            Some(want.as_str()),
            "{}/{}",
            p.namespace,
            p.name
        );
    }
}

#[tokio::test]
async fn blog_post_order_breaks_traffic_and_strands_statefulsets_and_daemonsets() {
    let sim = SimCluster::demo();
    rotate_like_blog(&sim).await;
    let r = sim.simulation_report();
    assert!(r.outage.broken_pair_seconds > 0.0, "{r:#?}");
    let last = r.outage.windows.last().unwrap();
    // Still broken at the end: the StatefulSet, DaemonSet and pod-level
    // injected proxies were never restarted.
    assert_eq!(last.end, sim.now().await, "{:#?}", r.outage);
    assert!(r.final_state.anchor_rotated && r.final_state.issuer_rotated);
    assert!(
        r.final_state.proxies_with_retired_chain_leaf >= 6,
        "{:#?}",
        r.final_state
    );
    assert!(
        r.final_state.proxies_trusting_retired_anchor >= 6,
        "{:#?}",
        r.final_state
    );
    let current = pki::sha256_hex(bundle(&sim).await.as_bytes());
    for (ns, kind) in [("payments", "StatefulSet"), ("logging", "DaemonSet")] {
        let pods = sim.list_pods(Some(ns), "").await.unwrap();
        let stranded: Vec<_> = pods
            .iter()
            .filter(|p| p.owner.as_ref().is_some_and(|o| o.kind == kind))
            .filter(|p| {
                p.annotations
                    .iter()
                    .any(|kv| kv.key == "linkerd.io/trust-root-sha256" && kv.value != current)
            })
            .collect();
        assert!(
            !stranded.is_empty(),
            "{kind} proxies in {ns} should keep the old roots"
        );
    }
}

#[tokio::test]
async fn state_yaml_round_trips_and_continues() {
    let sim = SimCluster::demo();
    sim.save_progress("{\"step\":\"anchor-renewed\"}")
        .await
        .unwrap();
    copy_anchor_to_previous(&sim).await;
    wait_bundle(&sim, 1).await;
    renew_and_wait(&sim, TRUST_NS, "linkerd-trust-anchor").await;
    wait_bundle(&sim, 2).await;
    restart_control_plane(&sim).await;
    // Mid-rollout: one Deployment restarted but not waited for.
    sim.restart_workload(WorkloadKind::Deployment, "shop", "frontend")
        .await
        .unwrap();
    sim.wait(12).await.unwrap();

    let dump = sim.state_yaml();
    let resumed = SimCluster::from_yaml(&dump).unwrap();
    assert_same(&observable(&sim).await, &observable(&resumed).await);
    // The dump of the resumed cluster is the same text again.
    assert_same(&resumed.state_yaml(), &dump);

    // Both continue the same way to the same end.
    for s in [&sim, &resumed] {
        let st = s
            .wait_rollout(WorkloadKind::Deployment, "shop", "frontend", 600)
            .await
            .unwrap();
        assert_eq!(st.phase, RolloutPhase::Complete, "{}", st.message);
        restart_data_plane(s).await;
        renew_and_wait(s, "linkerd", "linkerd-identity-issuer").await;
        s.wait(30).await.unwrap();
    }
    let (a, b) = (sim.simulation_report(), resumed.simulation_report());
    assert_eq!(a.final_state, b.final_state);
    assert_eq!(b.outage.broken_pair_seconds, 0.0, "{:#?}", b.outage);
    assert!(b.final_state.anchor_rotated && b.final_state.issuer_rotated);
    assert_eq!(
        resumed.load_progress().await.unwrap().as_deref(),
        Some("{\"step\":\"anchor-renewed\"}")
    );
}
