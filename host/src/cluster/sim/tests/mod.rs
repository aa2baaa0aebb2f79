//! Whole-simulator tests driven through the `Cluster` trait, and the
//! helpers they share (the steps of a rotation, written against the trait).

mod certificates;
mod foreign;
mod matrix;
mod multicluster;
mod objects;
mod rotation;
mod sidecar;
mod trust_model;
mod workloads;

use std::collections::BTreeSet;

use super::*;
use crate::cluster::ClusterError;
use crate::wit::{RolloutPhase, UpdateStrategy, WorkloadKind};

pub(super) const TRUST_NS: &str = "cert-manager";

/// The identity Deployment, whose Events tell of issuer reloads.
pub(super) fn identity_ref() -> ObjectRef {
    ObjectRef {
        kind: "Deployment".into(),
        namespace: "linkerd".into(),
        name: "linkerd-identity".into(),
    }
}

/// Wait up to `timeout` seconds for the identity Deployment's rollout.
pub(super) async fn wait_identity(sim: &SimCluster, timeout: u32) -> RolloutStatus {
    sim.wait_rollout(
        WorkloadKind::Deployment,
        "linkerd",
        "linkerd-identity",
        timeout,
    )
    .await
    .unwrap()
}

/// The identity issuer Secret as it is now, and a root no bundle holds
/// with an identity issuer it signed, both valid for a day from the
/// virtual now: an issuer identity must refuse.
pub(super) async fn rogue_issuer(sim: &SimCluster) -> (Secret, pki::Issued, pki::Issued) {
    let now = sim.now().await;
    let rogue = pki::generate_ca("rogue root", now, now + 86400, 7, None).unwrap();
    let issuer = pki::generate_ca(
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
    (current, rogue, issuer)
}

pub(super) fn count_certs(pem: &str) -> usize {
    pem.matches("BEGIN CERTIFICATE").count()
}

pub(super) async fn bundle(sim: &SimCluster) -> String {
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

/// What retire-old-anchor writes: the anchor's certificate alone.
pub(super) async fn copy_anchor_to_previous(sim: &SimCluster) {
    let anchor = sim
        .read_secret(TRUST_NS, "linkerd-trust-anchor")
        .await
        .unwrap();
    sim.write_secret(SecretWrite {
        namespace: TRUST_NS.into(),
        name: "linkerd-previous-anchor".into(),
        type_: "Opaque".into(),
        data: anchor
            .data
            .into_iter()
            .filter(|(k, _)| k == "tls.crt")
            .collect(),
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    })
    .await
    .unwrap();
}

/// Write the identity issuer's Secret by hand over whatever it holds now.
pub(super) async fn overwrite_issuer(sim: &SimCluster, type_: &str, data: Vec<(String, Vec<u8>)>) {
    let rv = sim
        .read_secret("linkerd", "linkerd-identity-issuer")
        .await
        .unwrap()
        .resource_version;
    sim.write_secret(SecretWrite {
        namespace: "linkerd".into(),
        name: "linkerd-identity-issuer".into(),
        type_: type_.into(),
        data,
        labels: vec![],
        annotations: vec![],
        expected_resource_version: Some(rv),
    })
    .await
    .unwrap();
}

/// Renew and wait until the revision moved and Issuing is gone.
pub(super) async fn renew_and_wait(sim: &SimCluster, ns: &str, name: &str) {
    let before = sim.get_certificate(ns, name).await.unwrap().revision;
    sim.renew_certificate(ns, name).await.unwrap();
    assert!(sim.get_certificate(ns, name).await.unwrap().issuing);
    for _ in 0..900 {
        sim.wait(1).await.unwrap();
        let c = sim.get_certificate(ns, name).await.unwrap();
        if c.revision > before && !c.issuing {
            assert!(c.ready);
            return;
        }
    }
    panic!("{ns}/{name} was not re-issued");
}

/// Wait for the bundle to hold `n` anchors, then for every kubelet to
/// propagate it (60 s plus up to 30 s of jitter).
pub(super) async fn wait_bundle(sim: &SimCluster, n: usize) {
    for _ in 0..120 {
        if count_certs(&bundle(sim).await) == n {
            sim.wait(91).await.unwrap();
            return;
        }
        sim.wait(1).await.unwrap();
    }
    panic!("bundle never held {n} anchors");
}

/// Restart one workload the way its strategy allows and wait for it.
pub(super) async fn restart_and_wait(sim: &SimCluster, w: &Workload) {
    if w.paused {
        return; // refused; a rotation has to report it instead
    }
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

pub(super) async fn restart_control_plane(sim: &SimCluster) {
    let mut workloads = sim.list_workloads(Some("linkerd"), None, "").await.unwrap();
    // Identity first: the other components need leaves from it.
    workloads.sort_by_key(|w| w.name != "linkerd-identity");
    for w in workloads {
        restart_and_wait(sim, &w).await;
    }
}

/// Every workload owning a meshed pod outside the control plane.
pub(super) async fn meshed_workloads(sim: &SimCluster) -> Vec<Workload> {
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

pub(super) async fn restart_data_plane(sim: &SimCluster) {
    for w in meshed_workloads(sim).await {
        restart_and_wait(sim, &w).await;
    }
}

pub(super) async fn restart_everything(sim: &SimCluster) {
    restart_control_plane(sim).await;
    restart_data_plane(sim).await;
}

/// Everything a policy can observe, for comparing two clusters.
pub(super) async fn observable(sim: &SimCluster) -> String {
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
pub(super) fn assert_same(a: &str, b: &str) {
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

/// Linkerd's documented safe order (docs/trust-model.md), with a gate on every step.
/// Returns whether identity reported `IssuerUpdated` (step 4 restarts it anyway).
pub(super) async fn rotate_safely(sim: &SimCluster) -> bool {
    // 1. previous-anchor = anchor (bundle {A}); renew the anchor (bundle {A,B}).
    copy_anchor_to_previous(sim).await;
    wait_bundle(sim, 1).await;
    renew_and_wait(sim, TRUST_NS, "linkerd-trust-anchor").await;
    wait_bundle(sim, 2).await;
    // 2. Every proxy learns {A,B}.
    restart_everything(sim).await;
    // 3. Renew the issuer (signed by B); identity reloads it.
    renew_and_wait(sim, "linkerd", "linkerd-identity-issuer").await;
    let identity = ObjectRef {
        kind: "Deployment".into(),
        namespace: "linkerd".into(),
        name: "linkerd-identity".into(),
    };
    let mut reloaded = false;
    // Each replica reloads at its kubelet's next sync (slow-sync: 300-330 s).
    for _ in 0..400 {
        reloaded = !sim
            .list_events(&identity, Some("IssuerUpdated"))
            .await
            .unwrap()
            .is_empty();
        if reloaded {
            break;
        }
        sim.wait(1).await.unwrap();
    }
    // 4. Every leaf chains to B.
    restart_everything(sim).await;
    // 5. Drop A from the bundle.
    copy_anchor_to_previous(sim).await;
    wait_bundle(sim, 1).await;
    // 6. No proxy trusts A any more.
    restart_everything(sim).await;
    sim.wait(600).await.unwrap();
    reloaded
}

/// `kubectl rollout restart deployment -n <namespace>`.
async fn restart_deployments(sim: &SimCluster, namespace: &str) {
    for w in sim
        .list_workloads(Some(namespace), Some(WorkloadKind::Deployment), "")
        .await
        .unwrap()
    {
        sim.restart_workload(w.kind, &w.namespace, &w.name)
            .await
            .unwrap();
    }
}

/// The "Hands off Linkerd certificate rotation" script: sleeps instead of
/// gates, restarts only Deployments in annotated namespaces.
pub(super) async fn rotate_like_blog(sim: &SimCluster) {
    renew_and_wait(sim, TRUST_NS, "linkerd-trust-anchor").await;
    sim.wait(120).await.unwrap();
    renew_and_wait(sim, "linkerd", "linkerd-identity-issuer").await;
    sim.wait(120).await.unwrap();
    restart_deployments(sim, "linkerd").await;
    sim.wait(120).await.unwrap();
    for ns in sim.list_namespaces("").await.unwrap() {
        let injected = ns
            .annotations
            .iter()
            .any(|kv| kv.key == "linkerd.io/inject" && kv.value == "enabled");
        if !injected {
            continue;
        }
        restart_deployments(sim, &ns.name).await;
        sim.wait(120).await.unwrap();
    }
    copy_anchor_to_previous(sim).await;
    sim.wait(600).await.unwrap();
}
