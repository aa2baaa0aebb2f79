//! What `rotor run` tells the world besides its report: Kubernetes Events on
//! the anchor Certificate and on restarted workloads, metrics pushed to a
//! Pushgateway, and webhook notifications. Every one of them is best effort:
//! failing to tell never fails a rotation. Reasons: `docs/observability.md`.

pub mod events;
pub mod metrics;
pub mod notify;

use std::sync::Arc;

use async_trait::async_trait;

use crate::report::RunReport;
use crate::wit::WorkloadKind;

pub use events::{EventSubject, RunEvents};
pub use metrics::{PushTarget, RunMetrics};
pub use notify::{Notifier, WebhookFormat};

/// Hears of a run's progress as it happens, so phase events carry the time
/// the phase ended rather than the time the run ended.
#[async_trait]
pub trait RunObserver: Send + Sync {
    /// A step the policy marked with `end-step`; `detail` is already redacted.
    async fn step_ended(&self, name: &str, ok: bool, detail: &str);

    /// The guard applied a restart (not called in a dry run).
    async fn workload_restarted(&self, kind: WorkloadKind, namespace: &str, name: &str);
}

/// Restarts the guard applied during the run, from its audit trail.
pub fn restarts(report: &RunReport) -> u64 {
    report
        .audit
        .iter()
        .filter(|a| a.outcome == crate::guard::AuditOutcome::Applied && a.primitive.is_restart())
        .count() as u64
}

/// The name of the first step that failed, if any.
pub fn failed_step(report: &RunReport) -> Option<&str> {
    report
        .steps
        .iter()
        .find(|s| s.ok == Some(false))
        .map(|s| s.name.as_str())
}

/// How a run ended, in one line for people: `succeeded in 42s: <summary>;
/// 12 workloads restarted` or `FAILED at step <step> after 42s: <error>; ...`.
pub fn outcome_line(report: &RunReport) -> String {
    let seconds = report.wall_ms / 1000;
    let restarted = restarts(report);
    if report.succeeded() {
        let summary = report
            .summary
            .as_ref()
            .map_or("done", |s| s.message.as_str());
        format!("succeeded in {seconds}s: {summary}; {restarted} workloads restarted")
    } else {
        let error = report.error.as_deref().unwrap_or("unknown error");
        let step = failed_step(report)
            .map(|s| format!(" at step {s}"))
            .unwrap_or_default();
        format!("FAILED{step} after {seconds}s: {error}; {restarted} workloads restarted")
    }
}

/// The observers of one run, in one place for `rotor run`.
#[derive(Default, Clone)]
pub struct RunTelemetry {
    pub events: Option<Arc<RunEvents>>,
    pub push: Option<PushTarget>,
    pub notifier: Option<Notifier>,
}
