//! Kubernetes Events for a run. The host writes the run's start and end and
//! each restart (it knows them whatever the policy); the policy's steps become
//! phase events through [`phase_reason`], so a policy that names its steps
//! gets greppable events without writing any itself.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::{RunObserver, outcome_line};
use crate::cluster::Cluster;
use crate::linkerd::{CERT_MANAGER_NS, TRUST_ANCHOR};
use crate::report::RunReport;
use crate::wit::{EventType, ObjectRef, WorkloadKind};

pub const ROTATION_STARTED: &str = "RotationStarted";
pub const ROTATION_SUCCEEDED: &str = "RotationSucceeded";
pub const ROTATION_FAILED: &str = "RotationFailed";
pub const WORKLOAD_RESTARTED: &str = "WorkloadRestarted";
/// A step with no phase reason of its own.
pub const STEP_COMPLETED: &str = "StepCompleted";
pub const STEP_FAILED: &str = "StepFailed";

/// The object the run's own events are about: the trust anchor Certificate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct EventSubject {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Default for EventSubject {
    fn default() -> Self {
        EventSubject {
            kind: "Certificate".into(),
            namespace: CERT_MANAGER_NS.into(),
            name: TRUST_ANCHOR.into(),
        }
    }
}

impl EventSubject {
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// The event reason for a step that ended well. The default policy's steps
/// have their own (a restart round's groups, `trust-new-anchor/data-plane`,
/// share their round's); any other step is `StepCompleted` (its name is in
/// the note).
pub fn phase_reason(step: &str) -> &'static str {
    // Over several clusters a step is named `step@cluster`.
    let step = step.split_once('@').map_or(step, |(step, _)| step);
    let phase = step.split_once('/').map_or(step, |(round, _)| round);
    match phase {
        "preflight" => "PreflightPassed",
        "renew-anchor" => "AnchorRenewed",
        "bundle-holds-old-and-new" | "bundle-holds-only-new" | "bundle-holds-new-pair" => {
            "BundleUpdated"
        }
        "trust-new-anchor" => "NewAnchorTrusted",
        "renew-issuer" => "IssuerRenewed",
        "adopt-new-issuer" => "NewIssuerAdopted",
        "retire-old-anchor" => "PreviousAnchorRetired",
        "switch-signing-anchor" => "SigningAnchorSwitched",
        "renew-retired-anchor" => "NextAnchorStaged",
        "drop-old-anchor" => "OldAnchorDropped",
        _ => STEP_COMPLETED,
    }
}

/// Writes a run's events through a cluster backend. A backend in dry-run
/// mode records none (an event about an action not taken would mislead).
pub struct RunEvents {
    cluster: Arc<dyn Cluster>,
    subject: ObjectRef,
}

impl RunEvents {
    pub fn new(cluster: Arc<dyn Cluster>, subject: &EventSubject) -> RunEvents {
        RunEvents {
            cluster,
            subject: subject.object_ref(),
        }
    }

    pub async fn started(&self, policy: &str, sha256: &str) {
        let short = sha256.get(..12).unwrap_or(sha256);
        let note = format!("rotor run started with {policy} (sha256 {short})");
        self.record(&self.subject, EventType::Normal, ROTATION_STARTED, &note)
            .await;
    }

    pub async fn finished(&self, report: &RunReport) {
        let (type_, reason) = if report.succeeded() {
            (EventType::Normal, ROTATION_SUCCEEDED)
        } else {
            (EventType::Warning, ROTATION_FAILED)
        };
        let note = format!("rotation {}", outcome_line(report));
        self.record(&self.subject, type_, reason, &note).await;
    }

    async fn record(&self, involved: &ObjectRef, type_: EventType, reason: &str, note: &str) {
        if let Err(e) = self
            .cluster
            .record_event(involved, type_, reason, note)
            .await
        {
            tracing::warn!(
                reason,
                kind = %involved.kind,
                namespace = %involved.namespace,
                name = %involved.name,
                error = %e,
                "could not record an event; the run goes on"
            );
        }
    }
}

#[async_trait]
impl RunObserver for RunEvents {
    async fn step_ended(&self, name: &str, ok: bool, detail: &str) {
        let (type_, reason) = if ok {
            (EventType::Normal, phase_reason(name))
        } else {
            (EventType::Warning, STEP_FAILED)
        };
        let note = if detail.is_empty() {
            format!("step {name}")
        } else {
            format!("step {name}: {detail}")
        };
        self.record(&self.subject, type_, reason, &note).await;
    }

    async fn workload_restarted(&self, kind: WorkloadKind, namespace: &str, name: &str) {
        let workload = ObjectRef {
            kind: kind.as_kind().to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let note = format!(
            "rotor restarted {} {namespace}/{name} so its proxies load the current trust roots",
            workload.kind
        );
        self.record(&workload, EventType::Normal, WORKLOAD_RESTARTED, &note)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_steps_have_phase_reasons() {
        assert_eq!(phase_reason("renew-anchor"), "AnchorRenewed");
        assert_eq!(phase_reason("renew-anchor@west"), "AnchorRenewed");
        assert_eq!(
            phase_reason("trust-new-anchor/data-plane@west"),
            "NewAnchorTrusted"
        );
        assert_eq!(phase_reason("renew-issuer"), "IssuerRenewed");
        assert_eq!(phase_reason("retire-old-anchor"), "PreviousAnchorRetired");
        assert_eq!(phase_reason("bundle-holds-only-new"), "BundleUpdated");
        assert_eq!(
            phase_reason("switch-signing-anchor"),
            "SigningAnchorSwitched"
        );
        assert_eq!(phase_reason("renew-retired-anchor"), "NextAnchorStaged");
        assert_eq!(
            phase_reason("trust-new-anchor/control-plane"),
            "NewAnchorTrusted"
        );
        assert_eq!(
            phase_reason("drop-old-anchor/data-plane"),
            "OldAnchorDropped"
        );
        assert_eq!(phase_reason("site-specific-check"), STEP_COMPLETED);
    }
}
