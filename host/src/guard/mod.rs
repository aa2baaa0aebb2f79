//! The guard between a policy and the cluster: every host import passes
//! here before it reaches `dyn Cluster`.
//!
//! It checks the run's grants (refusals are `denied` values the policy can
//! handle, never traps), holds back mutations under `--dry-run`, enforces the
//! run deadline and the per-wait bound (those end the run), bounds argument
//! sizes, counts calls and keeps the audit trail. Secret values are learned
//! by the [`Redactor`] so they can be masked wherever policy text leaves.

pub mod audit;
mod certificates;
mod checks;
mod events;
pub mod grants;
mod pods;
mod progress;
pub mod redact;
pub mod routing;
mod secrets;
mod workloads;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use audit::{AuditEntry, AuditOutcome, CallCounts, DryRunMutation};
pub use grants::{Grants, Verb};
pub use redact::Redactor;
pub use routing::{ClusterGuards, LOCAL_CLUSTER};

use crate::cluster::{Cluster, ClusterError, IssuerRef};
use crate::observe::RunObserver;
pub use crate::primitive::Primitive;
use crate::wit::{
    Certificate, ConfigMap, ConfigMapWrite, Event, EventType, Issuer, Namespace, ObjectRef, Pod,
    PodSummary, RolloutOutcome, RolloutPhase, RolloutStatus, Secret, SecretWrite, Timestamp,
    Workload, WorkloadKind, WorkloadRef,
};

/// Strings longer than this are refused with `invalid` (no Kubernetes name,
/// selector or message comes close).
pub const MAX_ARG_BYTES: usize = 1 << 20;
/// Kubernetes refuses Secrets and progress records larger than this.
pub const MAX_OBJECT_BYTES: usize = 1 << 20;

/// A limit that ends the run. Raised from a host import as a trap; the
/// runtime recognises it and reports it in these words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunLimitExceeded {
    #[error("run deadline of {deadline_seconds} s exceeded ({detail})")]
    Deadline {
        deadline_seconds: u64,
        detail: String,
    },
    /// `--kill-after-mutations`: the run stops right after the N-th applied
    /// mutation, as if the process died, leaving the cluster as it is.
    #[error("killed after {mutations} mutations")]
    Killed { mutations: u64 },
}

/// Why a guarded call did not return a value.
#[derive(Debug, Clone, PartialEq)]
pub enum GuardError {
    /// An expected failure the policy receives as a WIT `error`.
    Refused(ClusterError),
    /// The run must end.
    Limit(RunLimitExceeded),
}

impl From<ClusterError> for GuardError {
    fn from(e: ClusterError) -> Self {
        GuardError::Refused(e)
    }
}

pub type GuardResult<T> = Result<T, GuardError>;

/// Bounds the guard enforces on time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeLimits {
    pub deadline_seconds: u64,
    pub max_wait_seconds: u32,
}

/// What the guard recorded over a run, for the report.
#[derive(Debug, Clone, Default)]
pub struct GuardRecord {
    pub calls: CallCounts,
    pub audit: Vec<AuditEntry>,
    pub dry_run_mutations: Vec<DryRunMutation>,
}

pub struct Guard {
    cluster: Arc<dyn Cluster>,
    grants: Grants,
    limits: TimeLimits,
    dry_run: bool,
    started_at: Timestamp,
    record: GuardRecord,
    redactor: Redactor,
    /// Progress saved during a dry run: kept here so the policy reads back
    /// what it "saved" without the cluster changing. `Some(None)` = cleared.
    dry_progress: Option<Option<String>>,
    /// Told of each applied restart (the run's events); the host's own
    /// writes, outside the policy's grants and audit.
    observer: Option<Arc<dyn RunObserver>>,
    /// Stop the run after so many applied mutations (resume testing).
    kill_switch: Option<KillSwitch>,
}

/// Ends a run, as a killed process would, right after its `n`-th mutation
/// that reached a backend, counted over every guard holding a clone: a run
/// over several clusters is killed at one point of its whole sequence.
#[derive(Debug, Clone)]
pub struct KillSwitch {
    after: u64,
    applied: Arc<std::sync::atomic::AtomicU64>,
}

impl KillSwitch {
    pub fn after(n: u64) -> KillSwitch {
        KillSwitch {
            after: n,
            applied: Arc::default(),
        }
    }

    /// Count one mutation that reached a backend; `true` when it is the
    /// `n`-th and succeeded.
    fn fires(&self, ok: bool) -> bool {
        let applied = self
            .applied
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        ok && applied == self.after
    }
}

impl Guard {
    /// Starts the run's deadline clock at the backend's `now`.
    pub async fn new(
        cluster: Arc<dyn Cluster>,
        grants: Grants,
        limits: TimeLimits,
        dry_run: bool,
    ) -> Guard {
        let started_at = cluster.now().await;
        Guard {
            cluster,
            grants,
            limits,
            dry_run,
            started_at,
            record: GuardRecord::default(),
            redactor: Redactor::default(),
            dry_progress: None,
            observer: None,
            kill_switch: None,
        }
    }

    pub fn with_observer(mut self, observer: Option<Arc<dyn RunObserver>>) -> Guard {
        self.observer = observer;
        self
    }

    pub fn observer(&self) -> Option<&Arc<dyn RunObserver>> {
        self.observer.as_ref()
    }

    /// End the run (see [`KillSwitch`]).
    pub fn kill_switch(&mut self, switch: Option<KillSwitch>) {
        self.kill_switch = switch;
    }

    pub fn record(&self) -> &GuardRecord {
        &self.record
    }

    pub fn into_record(self) -> GuardRecord {
        self.record
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn redactor_mut(&mut self) -> &mut Redactor {
        &mut self.redactor
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    pub fn deadline_at(&self) -> Timestamp {
        self.started_at
            .saturating_add(i64::try_from(self.limits.deadline_seconds).unwrap_or(i64::MAX))
    }

    /// Count a call that does not touch the cluster (context, x509, log).
    pub fn count(&mut self, primitive: Primitive) {
        self.record.calls.count(primitive);
    }

    pub async fn now(&self) -> Timestamp {
        self.cluster.now().await
    }

    pub fn backend(&self) -> crate::cluster::Backend {
        self.cluster.backend()
    }
}

/// Workloads one `wait-rollouts` call may name: a window of rollouts, not
/// the mesh (a policy's `parallelism` above it waits in several calls).
pub const MAX_ROLLOUTS_PER_WAIT: usize = 1000;

/// Annotation keys one `list-pod-summaries` call may name.
pub const MAX_SUMMARY_ANNOTATIONS: usize = 16;

/// Refuse oversized string arguments before they reach a backend.
pub fn bounded(args: &[(&str, &str)]) -> Result<(), ClusterError> {
    for (name, value) in args {
        if value.len() > MAX_ARG_BYTES {
            return Err(ClusterError::Invalid(format!(
                "argument {name} is {} bytes; at most {MAX_ARG_BYTES} are accepted",
                value.len()
            )));
        }
    }
    Ok(())
}
