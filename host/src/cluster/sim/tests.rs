//! Whole-simulator tests driven through the `Cluster` trait: the documented
//! safe rotation order keeps every meshed pair working; the older blog-post
//! order breaks traffic and strands StatefulSet/DaemonSet proxies.

use std::collections::BTreeSet;

use super::*;
use crate::wit::{UpdateStrategy, WorkloadKind};

const TRUST_NS: &str = "cert-manager";

fn count_certs(pem: &str) -> usize {
    pem.matches("BEGIN CERTIFICATE").count()
}

async fn bundle(sim: &SimCluster) -> String {
    let cm = sim
        .read_config_map("linkerd", "linkerd-identity-trust-roots")
        .await
        .unwrap();
    cm.data
        .into_iter()
        .find(|kv| kv.key == "ca-bundle.crt")
        .map(|kv| kv.value)
        .unwrap_or_default()
}

async fn copy_anchor_to_previous(sim: &SimCluster) {
    let anchor = sim
        .read_secret(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    sim.write_secret(SecretWrite {
        namespace: TRUST_NS.into(),
        name: "linkerd-previous-anchor".into(),
        type_: anchor.type_,
        data: anchor.data,
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    })
    .await
    .unwrap();
}

/// Renew and wait until the revision moved and Issuing is gone.
async fn renew_and_wait(sim: &SimCluster, ns: &str, name: &str) {
    let before = sim.get_certificate(ns, name).await.unwrap().revision;
    sim.renew_certificate(ns, name).await.unwrap();
    assert!(sim.get_certificate(ns, name).await.unwrap().issuing);
    for _ in 0..120 {
        sim.wait(1).await.unwrap();
        let c = sim.get_certificate(ns, name).await.unwrap();
        if c.revision > before && !c.issuing {
            assert!(c.ready);
            return;
        }
    }
    panic!("{ns}/{name} was not re-issued");
}

/// Wait for the bundle to hold `n` anchors, then for kubelet to propagate it.
async fn wait_bundle(sim: &SimCluster, n: usize) {
    for _ in 0..120 {
        if count_certs(&bundle(sim).await) == n {
            sim.wait(61).await.unwrap();
            return;
        }
        sim.wait(1).await.unwrap();
    }
    panic!("bundle never held {n} anchors");
}

/// Restart one workload the way its strategy allows and wait for it.
async fn restart_and_wait(sim: &SimCluster, w: &Workload) {
    if w.strategy == UpdateStrategy::OnDelete {
        sim.restart_workload(w.kind, &w.namespace, &w.name)
            .await
            .unwrap();
        let pods = sim
            .list_pods(Some(&w.namespace), &w.selector)
            .await
            .unwrap();
        for p in pods {
            sim.delete_pod(&p.namespace, &p.name).await.unwrap();
            for _ in 0..600 {
                sim.wait(1).await.unwrap();
                let now = sim
                    .list_pods(Some(&w.namespace), &w.selector)
                    .await
                    .unwrap();
                if now.len() as u32 == w.desired && now.iter().all(|p| p.ready) {
                    break;
                }
            }
        }
        return;
    }
    sim.restart_workload(w.kind, &w.namespace, &w.name)
        .await
        .unwrap();
    let st = sim
        .wait_rollout(w.kind, &w.namespace, &w.name, 900)
        .await
        .unwrap();
    assert_eq!(
        st.phase,
        RolloutPhase::Complete,
        "{}/{}: {}",
        w.namespace,
        w.name,
        st.message
    );
}

async fn restart_control_plane(sim: &SimCluster) {
    for w in sim.list_workloads(Some("linkerd"), None, "").await.unwrap() {
        restart_and_wait(sim, &w).await;
    }
}

/// Every workload owning a meshed pod outside the control plane.
async fn meshed_workloads(sim: &SimCluster) -> Vec<Workload> {
    let owners: BTreeSet<(String, String, String)> = sim
        .list_pods(None, "linkerd.io/control-plane-ns=linkerd")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|p| p.owner)
        .filter(|o| o.namespace != "linkerd")
        .map(|o| (o.namespace, o.kind, o.name))
        .collect();
    let mut out = Vec::new();
    for (ns, kind, name) in owners {
        let kind = WorkloadKind::from_kind(&kind).unwrap();
        out.push(sim.get_workload(kind, &ns, &name).await.unwrap());
    }
    out
}

async fn restart_data_plane(sim: &SimCluster) {
    for w in meshed_workloads(sim).await {
        restart_and_wait(sim, &w).await;
    }
}

async fn restart_everything(sim: &SimCluster) {
    restart_control_plane(sim).await;
    restart_data_plane(sim).await;
}

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
    // 1. previous-anchor = anchor (bundle {A}); renew the anchor (bundle {A,B}).
    copy_anchor_to_previous(&sim).await;
    wait_bundle(&sim, 1).await;
    renew_and_wait(&sim, TRUST_NS, "linkerd-trust-anchor").await;
    wait_bundle(&sim, 2).await;
    // 2. Every proxy learns {A,B}.
    restart_everything(&sim).await;
    // 3. Renew the issuer (signed by B); identity reloads it.
    renew_and_wait(&sim, "linkerd", "linkerd-identity-issuer").await;
    let identity = ObjectRef {
        kind: "Deployment".into(),
        namespace: "linkerd".into(),
        name: "linkerd-identity".into(),
    };
    for _ in 0..30 {
        if !sim
            .list_events(&identity, Some("IssuerUpdated"))
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        sim.wait(1).await.unwrap();
    }
    assert_eq!(
        sim.list_events(&identity, Some("IssuerUpdated"))
            .await
            .unwrap()
            .len(),
        1
    );
    // 4. Every leaf chains to B.
    restart_everything(&sim).await;
    // 5. Drop A from the bundle.
    copy_anchor_to_previous(&sim).await;
    wait_bundle(&sim, 1).await;
    // 6. No proxy trusts A any more.
    restart_everything(&sim).await;
    sim.wait(600).await.unwrap();

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
    // Every meshed pod carries the hash of the current bundle.
    let current = pki::sha256_hex(bundle(&sim).await.as_bytes());
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
        assert_eq!(
            sha.as_deref(),
            Some(current.as_str()),
            "{}/{}",
            p.namespace,
            p.name
        );
    }
}

#[tokio::test]
async fn blog_post_order_breaks_traffic_and_strands_statefulsets_and_daemonsets() {
    let sim = SimCluster::demo();
    renew_and_wait(&sim, TRUST_NS, "linkerd-trust-anchor").await;
    sim.wait(120).await.unwrap();
    renew_and_wait(&sim, "linkerd", "linkerd-identity-issuer").await;
    sim.wait(120).await.unwrap();
    for w in sim
        .list_workloads(Some("linkerd"), Some(WorkloadKind::Deployment), "")
        .await
        .unwrap()
    {
        sim.restart_workload(w.kind, &w.namespace, &w.name)
            .await
            .unwrap();
    }
    sim.wait(120).await.unwrap();
    for ns in sim.list_namespaces("").await.unwrap() {
        let injected = ns
            .annotations
            .iter()
            .any(|kv| kv.key == "linkerd.io/inject" && kv.value == "enabled");
        if !injected {
            continue;
        }
        for w in sim
            .list_workloads(Some(&ns.name), Some(WorkloadKind::Deployment), "")
            .await
            .unwrap()
        {
            sim.restart_workload(w.kind, &w.namespace, &w.name)
                .await
                .unwrap();
        }
        sim.wait(120).await.unwrap();
    }
    copy_anchor_to_previous(&sim).await;
    sim.wait(600).await.unwrap();

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

/// Everything a policy can observe, for comparing two clusters.
async fn observable(sim: &SimCluster) -> String {
    let mut out = String::new();
    out.push_str(&format!("now {}\n", sim.now().await));
    for n in sim.list_namespaces("").await.unwrap() {
        out.push_str(&format!("{n:?}\n"));
    }
    for w in sim.list_workloads(None, None, "").await.unwrap() {
        out.push_str(&format!("{w:?}\n"));
        let st = sim.rollout_status(w.kind, &w.namespace, &w.name).await;
        out.push_str(&format!("{st:?}\n"));
    }
    for p in sim.list_pods(None, "").await.unwrap() {
        out.push_str(&format!("{p:?}\n"));
    }
    for c in sim.list_certificates(None).await.unwrap() {
        out.push_str(&format!("{c:?}\n"));
    }
    for (ns, name) in [
        (TRUST_NS, "linkerd-trust-anchor"),
        (TRUST_NS, "linkerd-previous-anchor"),
        ("linkerd", "linkerd-identity-issuer"),
    ] {
        out.push_str(&format!("{:?}\n", sim.read_secret(ns, name).await.unwrap()));
    }
    out.push_str(&bundle(sim).await);
    out.push_str(&format!("{:?}\n", sim.load_progress().await.unwrap()));
    let identity = ObjectRef {
        kind: "Deployment".into(),
        namespace: "linkerd".into(),
        name: "linkerd-identity".into(),
    };
    out.push_str(&format!(
        "{:?}\n",
        sim.list_events(&identity, None).await.unwrap()
    ));
    out
}

/// Line-by-line equality with the differing lines in the message.
fn assert_same(a: &str, b: &str) {
    let diff: Vec<String> = a
        .lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .take(4)
        .map(|(x, y)| format!("- {x}\n+ {y}"))
        .collect();
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert_eq!(a.lines().count(), b.lines().count());
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
