//! Gathering `rotor status`'s findings from any `Cluster`, read-only: the
//! Certificates, the trust bundle, the meshed pods' trust-root hashes, the
//! identity controller's Events, the run lock's holder and the progress
//! record, with what of it needs a person's attention.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::StatusArgs;
use super::model::{
    Anchor, Bundle, CertificateStatus, IdentityReloads, Rotation, StaleWorkload, Status,
};
use super::render::{human_duration, rfc3339};
use crate::cluster::{Cluster, ClusterError};
use crate::linkerd::{
    ANCHOR_CERTIFICATE, CONTROL_PLANE_NS, IDENTITY, ISSUER_CERTIFICATE, MESHED_SELECTOR,
    NOT_READY_KEY, TRUST_ROOT_SHA_ANNOTATION, TRUST_ROOTS, TRUST_ROOTS_KEY,
};
use crate::lock::Holder;
use crate::wit::{EventType, ObjectRef};

/// The anchors in a PEM bundle.
pub fn anchors(pem: &str) -> Result<Vec<Anchor>, String> {
    let mut out = Vec::new();
    for (i, block) in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()).enumerate() {
        let block = block.map_err(|e| format!("PEM block {}: {e}", i + 1))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block
            .parse_x509()
            .map_err(|e| format!("certificate {}: {e}", i + 1))?;
        out.push(Anchor {
            subject: cert.subject().to_string(),
            fingerprint_sha256: hex::encode(Sha256::digest(&block.contents)),
            not_after: cert.validity().not_after.timestamp(),
        });
    }
    Ok(out)
}

/// Read everything `rotor status` shows, with no run lock holder known.
pub async fn collect(cluster: &dyn Cluster, args: &StatusArgs) -> Result<Status, ClusterError> {
    collect_with(cluster, args, None).await
}

/// Read everything `rotor status` shows; `holder` holds the run lock, if
/// anyone does. Nothing is written.
pub async fn collect_with(
    cluster: &dyn Cluster,
    args: &StatusArgs,
    holder: Option<Holder>,
) -> Result<Status, ClusterError> {
    let now = cluster.now().await;
    let mut attention = Vec::new();
    let anchor_warn = i64::from(args.anchor_warn_days) * 86_400;
    let issuer_warn = i64::from(args.issuer_warn_hours) * 3_600;

    let certs = cluster.list_certificates(None).await?;
    let certificates: Vec<CertificateStatus> = certs
        .iter()
        .map(|c| CertificateStatus {
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            ready: c.ready,
            issuing: c.issuing,
            revision: c.revision,
            age_seconds: c.not_before.map(|nb| now - nb),
            not_after: c.not_after,
            renewal_time: c.renewal_time,
        })
        .collect();
    for c in &certs {
        let id = (c.namespace.as_str(), c.name.as_str());
        if !c.ready {
            attention.push(format!(
                "certificate {}/{} is not Ready",
                c.namespace, c.name
            ));
        }
        let warn = if id == ANCHOR_CERTIFICATE {
            Some(anchor_warn)
        } else if id == ISSUER_CERTIFICATE {
            Some(issuer_warn)
        } else {
            None
        };
        if let (Some(warn), Some(na)) = (warn, c.not_after)
            && na - now < warn
        {
            attention.push(format!(
                "certificate {}/{} expires in {} (at {})",
                c.namespace,
                c.name,
                human_duration(na - now),
                rfc3339(na)
            ));
        }
    }

    let lint = super::lint::findings(cluster, &certs, args, now).await?;
    for f in lint.iter().filter(|f| super::lint::is_refusal(f)) {
        attention.push(format!("the next rotation would refuse: {}", f.line));
    }

    let bundle = match cluster.read_config_map(CONTROL_PLANE_NS, TRUST_ROOTS).await {
        Ok(cm) => match cm.data.iter().find(|kv| kv.key == TRUST_ROOTS_KEY) {
            Some(kv) => {
                let anchors = anchors(&kv.value).unwrap_or_else(|e| {
                    attention.push(format!(
                        "{CONTROL_PLANE_NS}/{TRUST_ROOTS} {TRUST_ROOTS_KEY} does not parse: {e}"
                    ));
                    Vec::new()
                });
                for a in &anchors {
                    if a.not_after - now < anchor_warn {
                        attention.push(format!(
                            "trust anchor {} ({}) in the bundle expires in {}",
                            a.subject,
                            &a.fingerprint_sha256[..16.min(a.fingerprint_sha256.len())],
                            human_duration(a.not_after - now)
                        ));
                    }
                }
                Some(Bundle {
                    sha256: hex::encode(Sha256::digest(kv.value.as_bytes())),
                    anchors,
                })
            }
            None => {
                attention.push(format!(
                    "{CONTROL_PLANE_NS}/{TRUST_ROOTS} has no {TRUST_ROOTS_KEY}"
                ));
                None
            }
        },
        Err(ClusterError::NotFound(_)) => {
            attention.push(format!(
                "trust bundle ConfigMap {CONTROL_PLANE_NS}/{TRUST_ROOTS} not found"
            ));
            None
        }
        Err(e) => return Err(e),
    };

    let deleting = cluster.terminating_pods(None, MESHED_SELECTOR).await?;
    let pods: Vec<_> = cluster
        .list_pods(None, MESHED_SELECTOR)
        .await?
        .into_iter()
        .filter(|p| {
            p.phase == "Running" && !deleting.contains(&format!("{}/{}", p.namespace, p.name))
        })
        .collect();
    // A native-sidecar proxy that cannot start holds its pod in Init
    // (Pending): not among the proxies above, so named here.
    let held = cluster
        .list_pod_summaries(None, MESHED_SELECTOR, &[NOT_READY_KEY.to_string()])
        .await?;
    for p in &held {
        if let Some(why) = p.annotations.iter().find(|kv| kv.key == NOT_READY_KEY) {
            attention.push(format!("pod {}/{}: {}", p.namespace, p.name, why.value));
        }
    }
    let linkerd = super::version::collect(cluster, &pods).await?;
    let trust_manager = super::trust_manager::collect(cluster).await?;
    attention.extend(trust_manager.problems.iter().cloned());
    if let Some(why) = &linkerd.refusal {
        attention.push(format!("the next rotation would refuse: {why}"));
    }
    let mut stale: BTreeMap<(String, String, String), u32> = BTreeMap::new();
    let mut unverified = 0u32;
    if let Some(b) = &bundle {
        for p in &pods {
            let root = p
                .annotations
                .iter()
                .find(|kv| kv.key == TRUST_ROOT_SHA_ANNOTATION)
                .map(|kv| kv.value.as_str())
                // Control-plane pods carry the chart's install-time hash,
                // not the roots they read from the ConfigMap at start.
                .filter(|_| p.namespace != CONTROL_PLANE_NS);
            let Some(root) = root else {
                unverified += 1;
                continue;
            };
            if root != b.sha256 {
                let key = match &p.owner {
                    Some(o) => (o.kind.clone(), o.namespace.clone(), o.name.clone()),
                    None => ("Pod".into(), p.namespace.clone(), p.name.clone()),
                };
                *stale.entry(key).or_default() += 1;
            }
        }
    }
    let stale_workloads: Vec<StaleWorkload> = stale
        .into_iter()
        .map(|((kind, namespace, name), pods)| StaleWorkload {
            kind,
            namespace,
            name,
            pods,
        })
        .collect();
    let stale_proxies: u32 = stale_workloads.iter().map(|w| w.pods).sum();
    // During a run the rollouts are under way: what it waits for, not a finding.
    if stale_proxies > 0 && holder.is_none() {
        attention.push(format!(
            "{stale_proxies} meshed proxies in {} workloads were started with another trust bundle: restart them",
            stale_workloads.len()
        ));
    }

    let identity_ref = ObjectRef {
        kind: "Deployment".into(),
        namespace: CONTROL_PLANE_NS.into(),
        name: IDENTITY.into(),
    };
    let events = cluster.list_events(&identity_ref, None).await?;
    let last = |reason: &str| {
        events
            .iter()
            .filter(|e| e.reason == reason)
            .map(|e| e.last_time)
            .max()
    };
    let identity = IdentityReloads {
        last_issuer_updated: last("IssuerUpdated"),
        last_issuer_update_skipped: last("IssuerUpdateSkipped"),
    };
    if let Some(skipped) = identity.last_issuer_update_skipped
        && identity.last_issuer_updated.is_none_or(|u| skipped > u)
    {
        let msg = events
            .iter()
            .rev()
            .find(|e| e.reason == "IssuerUpdateSkipped" && e.type_ == EventType::Warning)
            .map(|e| e.message.clone())
            .unwrap_or_default();
        attention.push(format!(
                "the identity controller skipped the latest issuer ({msg}); it still signs with the old one"
            ));
    }
    let issuer = certs
        .iter()
        .find(|c| (c.namespace.as_str(), c.name.as_str()) == ISSUER_CERTIFICATE);
    if let Some(issued) = issuer.and_then(|c| c.not_before) {
        let reloaded = identity.last_issuer_updated.is_some_and(|u| u >= issued);
        if !reloaded && now - issued > i64::from(args.reload_grace_seconds) {
            attention.push(format!(
                "the identity issuer was re-issued at {} but {IDENTITY} has not reported IssuerUpdated since (missed reload: restart {IDENTITY})",
                rfc3339(issued)
            ));
        }
    }

    let record = cluster.load_progress().await?;
    let rotation = rotation(holder, record.as_deref(), &certs, stale_proxies);
    if let Some(r) = rotation.as_ref().filter(|r| r.holder.is_none()) {
        attention.push(format!(
            "a rotation stopped half-done at step {} (begun {}): `rotor run` resumes it",
            r.step.as_deref().unwrap_or("unknown"),
            r.started_at
                .map_or_else(|| "at an unknown time".into(), rfc3339)
        ));
    }
    if rotation.as_ref().is_none_or(|r| r.holder.is_none()) {
        for c in certs.iter().filter(|c| c.issuing) {
            attention.push(format!(
                "certificate {}/{} has Issuing=True with no rotation running: an issuance was requested and has not finished",
                c.namespace, c.name
            ));
        }
        if let Some(b) = bundle.as_ref().filter(|b| b.anchors.len() > 1) {
            attention.push(format!(
                "the trust bundle holds {} anchors with no rotation running: the old anchor was never dropped",
                b.anchors.len()
            ));
        }
    }

    Ok(Status {
        now,
        rotation,
        certificates,
        bundle,
        meshed_pods: pods.len() as u32,
        unverified_proxies: unverified,
        stale_proxies,
        stale_workloads,
        identity,
        linkerd,
        trust_manager,
        lint,
        attention,
    })
}

/// The rotation the lock and the progress record show, if any, and what
/// it waits on as the cluster shows it.
fn rotation(
    holder: Option<Holder>,
    record: Option<&str>,
    certs: &[crate::wit::Certificate],
    stale_proxies: u32,
) -> Option<Rotation> {
    if holder.is_none() && record.is_none() {
        return None;
    }
    // The record is the policy's own; the default policy's names its
    // running step `next` and its start `startedAt`.
    let record: Option<serde_json::Value> = record.and_then(|r| serde_json::from_str(r).ok());
    let field = |key: &str| record.as_ref().and_then(|r| r.get(key).cloned());
    let mut waiting_for: Vec<String> = certs
        .iter()
        .filter(|c| c.issuing)
        .map(|c| format!("cert-manager to issue {}/{}", c.namespace, c.name))
        .collect();
    if stale_proxies > 0 {
        waiting_for.push(format!(
            "rollouts: {stale_proxies} meshed proxies still started with another trust bundle"
        ));
    }
    Some(Rotation {
        holder,
        step: field("next").and_then(|v| v.as_str().map(str::to_string)),
        started_at: field("startedAt").and_then(|v| v.as_i64()),
        waiting_for,
    })
}
