//! trust-manager in `rotor status`: which Bundle or ClusterBundle writes the
//! trust roots, and whether anything in its set-up would keep the new
//! anchor out of Linkerd's namespace. A rotation renews the anchor and then
//! waits for the bundle to hold it; under any of these findings that wait
//! would run out after the anchor had already changed.
//!
//! The facts judged, from trust-manager v0.25.0: a Bundle and a
//! ClusterBundle name their target ConfigMap after themselves; a target is
//! written only in namespaces the bundle's `namespaceSelector` matches
//! (`pkg/bundle/bundle.go`) and, when trust-manager runs with
//! `--target-namespaces`, only in those (same file); a reconciled bundle
//! carries a `Synced` condition; and v0.25.0's manager starts only the
//! Bundle controller (`cmd/trust-manager/app/app.go`), so a ClusterBundle
//! there is served and validated but never written.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cluster::trust_manager::TrustManagerSetup;
use crate::cluster::{Cluster, ClusterError};
use crate::linkerd::{
    CERT_MANAGER_NS, CONTROL_PLANE_NS, PREVIOUS_ANCHOR, TRUST_ANCHOR, TRUST_ROOTS, TRUST_ROOTS_KEY,
};

/// What status found of trust-manager.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TrustManagerStatus {
    /// The set-up as read; `None` when it could not be read (see `note`).
    pub setup: Option<TrustManagerSetup>,
    /// Why the set-up is unknown, when it is.
    pub note: Option<String>,
    /// Findings that would stop a rotation at the bundle gate.
    pub problems: Vec<String>,
}

/// Read trust-manager's set-up and judge it against Linkerd's namespace.
pub async fn collect(cluster: &dyn Cluster) -> Result<TrustManagerStatus, ClusterError> {
    let setup = match cluster.trust_manager_setup().await {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(TrustManagerStatus::default()),
        Err(ClusterError::Denied(why)) => {
            return Ok(TrustManagerStatus {
                note: Some(format!("not readable ({why})")),
                ..TrustManagerStatus::default()
            });
        }
        Err(e) => return Err(e),
    };
    let labels = cluster
        .list_namespaces("")
        .await?
        .into_iter()
        .find(|n| n.name == CONTROL_PLANE_NS)
        .map(|n| n.labels.into_iter().map(|kv| (kv.key, kv.value)).collect())
        .unwrap_or_default();
    let problems = judge(&setup, &labels);
    Ok(TrustManagerStatus {
        setup: Some(setup),
        note: None,
        problems,
    })
}

/// Everything in `setup` that would keep the trust roots in Linkerd's
/// namespace (whose labels are `labels`) from following the anchor.
pub fn judge(
    setup: &TrustManagerSetup,
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    let target = format!("{CONTROL_PLANE_NS}/{TRUST_ROOTS}");
    let writes =
        |w: &&crate::cluster::trust_manager::BundleWriter| w.synced.as_deref() == Some("True");
    let any_writes = setup.bundles.iter().any(|w| writes(&w));
    for w in &setup.bundles {
        let name = format!("{} {}", w.kind, w.name);
        match w.synced.as_deref() {
            None if w.kind == "ClusterBundle" && !any_writes => out.push(format!(
                "{name} has no Synced condition: this trust-manager does not reconcile \
                 ClusterBundles (v0.25.0 serves the API without a controller), so {target} \
                 would never take the new anchor; keep a Bundle"
            )),
            Some("False") => out.push(format!(
                "{name} is not Synced: trust-manager cannot build it"
            )),
            _ => {}
        }
        if let Err(why) = &w.namespace_selector {
            out.push(format!("{name}: namespaceSelector does not parse ({why})"));
        } else if !w.selects(labels) {
            out.push(format!(
                "{name}'s namespaceSelector ({}) leaves out namespace {CONTROL_PLANE_NS}",
                w.namespace_selector.as_deref().unwrap_or_default()
            ));
        }
        if w.target_key.as_deref() != Some(TRUST_ROOTS_KEY) {
            out.push(format!(
                "{name} writes key {} instead of {TRUST_ROOTS_KEY}, the key Linkerd reads",
                w.target_key.as_deref().unwrap_or("(none)")
            ));
        }
        for secret in [TRUST_ANCHOR, PREVIOUS_ANCHOR] {
            if !w.secret_sources.iter().any(|(n, _)| n == secret) {
                out.push(format!(
                    "{name} does not read Secret {CERT_MANAGER_NS}/{secret}: the bundle must hold \
                     the new anchor and the one being retired while proxies move"
                ));
            }
        }
    }
    if let Some(list) = &setup.target_namespaces
        && !list.iter().any(|n| n == CONTROL_PLANE_NS)
    {
        out.push(format!(
            "trust-manager runs with --target-namespaces={}, which leaves out {CONTROL_PLANE_NS}: \
             it will not write {target}",
            list.join(",")
        ));
    }
    out
}

impl TrustManagerStatus {
    /// The text section.
    pub fn render_text(&self, out: &mut String) {
        let Some(setup) = &self.setup else {
            if let Some(note) = &self.note {
                let _ = writeln!(out, "\ntrust-manager: {note}");
            }
            return;
        };
        let _ = writeln!(out, "\ntrust-manager:");
        if setup.bundles.is_empty() {
            let _ = writeln!(
                out,
                "  no Bundle or ClusterBundle named {TRUST_ROOTS}: trust-manager does not write the trust roots"
            );
        }
        for w in &setup.bundles {
            let _ = writeln!(
                out,
                "  {} {}: Synced {}, sources {}",
                w.kind,
                w.name,
                w.synced.as_deref().unwrap_or("(never reconciled)"),
                w.secret_sources
                    .iter()
                    .map(|(n, k)| format!("Secret {n} ({k})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let Some(list) = &setup.target_namespaces {
            let _ = writeln!(out, "  target namespaces: {}", list.join(","));
        }
        for p in &self.problems {
            let _ = writeln!(out, "  ! {p}");
        }
    }
}
