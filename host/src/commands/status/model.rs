//! What `rotor status` found: the Certificates, the trust bundle's
//! anchors, stale proxies, the identity controller's reloads, a rotation
//! under way or left half-done, and the findings that need a person. Kept
//! apart from how it is gathered (`collect`) and shown (`render`).

use serde::Serialize;

use super::{EXIT_ATTENTION, EXIT_IN_PROGRESS, EXIT_OK};
use crate::lock::Holder;

#[derive(Debug, Clone, Serialize)]
pub struct CertificateStatus {
    pub namespace: String,
    pub name: String,
    pub ready: bool,
    pub issuing: bool,
    pub revision: Option<u64>,
    pub age_seconds: Option<i64>,
    pub not_after: Option<i64>,
    pub renewal_time: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Anchor {
    pub subject: String,
    pub fingerprint_sha256: String,
    pub not_after: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    /// SHA-256 of `ca-bundle.crt`: what `linkerd.io/trust-root-sha256` holds.
    pub sha256: String,
    pub anchors: Vec<Anchor>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaleWorkload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub pods: u32,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct IdentityReloads {
    pub last_issuer_updated: Option<i64>,
    pub last_issuer_update_skipped: Option<i64>,
}

/// A rotation under way (the run lock is held) or stopped half-way.
#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    /// The run lock's holder while a run is going on; `None` when no run
    /// holds it (the rotation stopped and waits for the next run).
    pub holder: Option<Holder>,
    /// The step the progress record says is running (or resumes next).
    pub step: Option<String>,
    /// When the rotation began, from the progress record.
    pub started_at: Option<i64>,
    /// What the cluster shows it waits on: issuances, rollouts.
    pub waiting_for: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub now: i64,
    /// Present while a rotation is in progress or left half-done.
    pub rotation: Option<Rotation>,
    pub certificates: Vec<CertificateStatus>,
    pub bundle: Option<Bundle>,
    /// Meshed proxies: pods carrying the mesh's control-plane label, in
    /// phase Running and not being deleted (starting and terminating pods
    /// of a rollout are not counted).
    pub meshed_pods: u32,
    /// Meshed pods whose roots the annotation cannot tell: the control
    /// plane's, whose `linkerd.io/trust-root-sha256` is the chart's
    /// install-time hash (their proxies read the ConfigMap at start), and
    /// pods without the annotation.
    pub unverified_proxies: u32,
    pub stale_proxies: u32,
    pub stale_workloads: Vec<StaleWorkload>,
    pub identity: IdentityReloads,
    /// The control plane's Linkerd version and what it implies.
    pub linkerd: super::version::LinkerdStatus,
    /// Which trust-manager bundle writes the trust roots, and what in its
    /// set-up would keep the new anchor out of Linkerd's namespace.
    pub trust_manager: super::trust_manager::TrustManagerStatus,
    /// The preflight lint's findings on the anchor and issuer, as the next
    /// full rotation would meet them; refusals are in `attention` too.
    pub lint: Vec<super::LintFinding>,
    /// What needs a person's attention; empty when all is well.
    pub attention: Vec<String>,
}

impl Status {
    /// The exit code: in progress, then attention, then ok.
    pub fn exit_code(&self) -> u8 {
        if self.rotation.as_ref().is_some_and(|r| r.holder.is_some()) {
            EXIT_IN_PROGRESS
        } else if self.attention.is_empty() {
            EXIT_OK
        } else {
            EXIT_ATTENTION
        }
    }
}
