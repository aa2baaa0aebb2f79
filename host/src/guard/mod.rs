//! The guard between a policy and the cluster: every host import passes
//! here before it reaches `dyn Cluster`.
//!
//! It checks the run's grants (refusals are `denied` values the policy can
//! handle, never traps), holds back mutations under `--dry-run`, enforces the
//! run deadline and the per-wait bound (those end the run), bounds argument
//! sizes, counts calls and keeps the audit trail. Secret values are learned
//! by the [`Redactor`] so they can be masked wherever policy text leaves.

pub mod audit;
pub mod grants;
pub mod redact;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use audit::{AuditEntry, AuditOutcome, CallCounts, DryRunMutation};
pub use grants::{Grants, Verb};
pub use redact::Redactor;

use crate::cluster::{Cluster, ClusterError};
use crate::observe::RunObserver;
use crate::wit::{
    Certificate, ConfigMap, Event, EventType, Namespace, ObjectRef, Pod, PodSummary, RolloutPhase,
    RolloutStatus, Secret, SecretWrite, Timestamp, Workload, WorkloadKind,
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
    /// Stop the run after this many applied mutations (resume testing).
    kill_after_mutations: Option<u64>,
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
            kill_after_mutations: None,
        }
    }

    pub fn with_observer(mut self, observer: Option<Arc<dyn RunObserver>>) -> Guard {
        self.observer = observer;
        self
    }

    pub fn observer(&self) -> Option<&Arc<dyn RunObserver>> {
        self.observer.as_ref()
    }

    /// End the run (as a killed process would) right after the `n`-th
    /// mutation that reached the backend.
    pub fn kill_after_mutations(&mut self, n: Option<u64>) {
        self.kill_after_mutations = n;
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
    pub fn count(&mut self, primitive: &str) {
        self.record.calls.count(primitive);
    }

    pub async fn now(&self) -> Timestamp {
        self.cluster.now().await
    }

    pub fn backend(&self) -> &'static str {
        self.cluster.backend()
    }

    // ----- bookkeeping -------------------------------------------------

    /// Count the call and end the run if its deadline has passed.
    async fn enter(&mut self, primitive: &str) -> GuardResult<()> {
        self.record.calls.count(primitive);
        let now = self.cluster.now().await;
        if now >= self.deadline_at() {
            return Err(self.deadline_error(format!(
                "{primitive} called at +{} s",
                now - self.started_at
            )));
        }
        Ok(())
    }

    fn deadline_error(&self, detail: String) -> GuardError {
        GuardError::Limit(RunLimitExceeded::Deadline {
            deadline_seconds: self.limits.deadline_seconds,
            detail,
        })
    }

    async fn deny(&mut self, primitive: &str, target: String, reason: String) -> GuardError {
        let at = self.cluster.now().await;
        self.record.calls.denied += 1;
        tracing::warn!(target: "rotor::guard", primitive, %target, %reason, "call denied");
        self.record.audit.push(AuditEntry {
            at,
            primitive: primitive.to_string(),
            target,
            outcome: AuditOutcome::Denied,
            detail: reason.clone(),
        });
        GuardError::Refused(ClusterError::Denied(reason))
    }

    /// Audit a mutation that reached the backend (or failed there).
    async fn audit_applied<T>(
        &mut self,
        primitive: &str,
        target: String,
        detail: String,
        result: Result<T, ClusterError>,
    ) -> GuardResult<T> {
        let at = self.cluster.now().await;
        let (outcome, detail) = match &result {
            Ok(_) => {
                self.record.calls.mutations += 1;
                (AuditOutcome::Applied, detail)
            }
            Err(e) => (AuditOutcome::Failed, format!("{detail}: {e}")),
        };
        self.record.audit.push(AuditEntry {
            at,
            primitive: primitive.to_string(),
            target,
            outcome,
            detail,
        });
        let mutations = self.record.calls.mutations;
        if result.is_ok() && self.kill_after_mutations == Some(mutations) {
            tracing::warn!(target: "rotor::guard", mutations, "run killed after this mutation");
            return Err(GuardError::Limit(RunLimitExceeded::Killed { mutations }));
        }
        result.map_err(GuardError::Refused)
    }

    /// Record a mutation held back by `--dry-run`.
    async fn hold_back(&mut self, primitive: &str, target: String, would: String) {
        let at = self.cluster.now().await;
        self.record.calls.mutations += 1;
        tracing::info!(target: "rotor::guard", primitive, %target, %would, "dry run: mutation held back");
        self.record.audit.push(AuditEntry {
            at,
            primitive: primitive.to_string(),
            target: target.clone(),
            outcome: AuditOutcome::DryRun,
            detail: would.clone(),
        });
        self.record.dry_run_mutations.push(DryRunMutation {
            at,
            primitive: primitive.to_string(),
            target,
            would,
        });
    }

    async fn require_read_ns(
        &mut self,
        primitive: &str,
        namespace: &str,
        what: &str,
    ) -> GuardResult<()> {
        if self.grants.can_read_namespace(namespace) {
            return Ok(());
        }
        let reason = format!(
            "reading {what} in namespace {namespace:?} is not granted (grants.readNamespaces)"
        );
        Err(self
            .deny(primitive, format!("{what} {namespace}"), reason)
            .await)
    }

    async fn require_verb(&mut self, primitive: &str, verb: Verb, target: &str) -> GuardResult<()> {
        if self.grants.allows_verb(verb) {
            return Ok(());
        }
        let reason = format!("verb {:?} is not granted (grants.verbs)", verb.as_str());
        Err(self.deny(primitive, target.to_string(), reason).await)
    }

    async fn require_write(
        &mut self,
        primitive: &str,
        verb: Verb,
        namespace: &str,
        target: &str,
    ) -> GuardResult<()> {
        self.require_verb(primitive, verb, target).await?;
        if !self.grants.can_write_namespace(namespace) {
            let reason = format!(
                "changing objects in namespace {namespace:?} is not granted (grants.writeNamespaces)"
            );
            return Err(self.deny(primitive, target.to_string(), reason).await);
        }
        Ok(())
    }

    /// Where a list the policy asked for goes: its namespace; everywhere
    /// (`None`, one cluster-wide request) when every namespace is readable;
    /// otherwise each readable namespace on its own. Namespace-scoped RBAC
    /// (the chart's `rbac.scope=Namespaced`) forbids cluster-wide lists, and
    /// the grants say which namespaces the run may read.
    async fn list_scopes(&self, namespace: Option<&str>) -> GuardResult<Vec<Option<String>>> {
        if let Some(ns) = namespace {
            return Ok(vec![Some(ns.to_string())]);
        }
        if self.grants.reads_every_namespace() {
            return Ok(vec![None]);
        }
        let all = self.cluster.list_namespaces("").await?;
        Ok(all
            .into_iter()
            .filter(|n| self.grants.can_read_namespace(&n.name))
            .map(|n| Some(n.name))
            .collect())
    }

    fn filter_readable<T>(&self, items: Vec<T>, namespace_of: impl Fn(&T) -> &str) -> Vec<T> {
        items
            .into_iter()
            .filter(|item| self.grants.can_read_namespace(namespace_of(item)))
            .collect()
    }

    // ----- namespaces --------------------------------------------------

    pub async fn list_namespaces(&mut self, selector: &str) -> GuardResult<Vec<Namespace>> {
        self.enter("list-namespaces").await?;
        bounded(&[("label-selector", selector)])?;
        let all = self.cluster.list_namespaces(selector).await?;
        Ok(self.filter_readable(all, |ns| ns.name.as_str()))
    }

    // ----- workloads ---------------------------------------------------

    pub async fn list_workloads(
        &mut self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> GuardResult<Vec<Workload>> {
        self.enter("list-workloads").await?;
        bounded(&[
            ("namespace", namespace.unwrap_or("")),
            ("label-selector", selector),
        ])?;
        if let Some(ns) = namespace {
            self.require_read_ns("list-workloads", ns, "workloads")
                .await?;
        }
        let mut all = Vec::new();
        for ns in self.list_scopes(namespace).await? {
            all.extend(
                self.cluster
                    .list_workloads(ns.as_deref(), kind, selector)
                    .await?,
            );
        }
        Ok(self.filter_readable(all, |w| w.namespace.as_str()))
    }

    pub async fn get_workload(
        &mut self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> GuardResult<Workload> {
        self.enter("get-workload").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns("get-workload", namespace, kind.as_kind())
            .await?;
        Ok(self.cluster.get_workload(kind, namespace, name).await?)
    }

    pub async fn restart_workload(
        &mut self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> GuardResult<Timestamp> {
        self.enter("restart-workload").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.restart_one("restart-workload", kind, namespace, name)
            .await
    }

    async fn restart_one(
        &mut self,
        primitive: &str,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> GuardResult<Timestamp> {
        let target = format!("{} {namespace}/{name}", kind.as_kind());
        self.require_write(primitive, Verb::Restart, namespace, &target)
            .await?;
        if self.dry_run {
            // Surface what the real call would refuse: a missing or paused workload.
            let workload = self.cluster.get_workload(kind, namespace, name).await?;
            if workload.paused {
                return Err(ClusterError::Invalid(format!(
                    "{target} is paused; resume it before restarting"
                ))
                .into());
            }
            let at = self.cluster.now().await;
            self.hold_back(
                primitive,
                target,
                "set kubectl.kubernetes.io/restartedAt on the pod template".into(),
            )
            .await;
            return Ok(at);
        }
        let result = self.cluster.restart_workload(kind, namespace, name).await;
        if let (Ok(_), Some(observer)) = (&result, &self.observer) {
            observer.workload_restarted(kind, namespace, name).await;
        }
        self.audit_applied(primitive, target, "rollout restart".into(), result)
            .await
    }

    pub async fn restart_workloads(
        &mut self,
        namespace: &str,
        kind: WorkloadKind,
        selector: &str,
    ) -> GuardResult<Vec<ObjectRef>> {
        self.enter("restart-workloads").await?;
        bounded(&[("namespace", namespace), ("label-selector", selector)])?;
        let target = format!("{} {namespace} matching {selector:?}", kind.as_kind());
        self.require_write("restart-workloads", Verb::Restart, namespace, &target)
            .await?;
        self.require_read_ns("restart-workloads", namespace, kind.as_kind())
            .await?;
        let workloads = self
            .cluster
            .list_workloads(Some(namespace), Some(kind), selector)
            .await?;
        let mut restarted = Vec::with_capacity(workloads.len());
        for w in workloads {
            self.restart_one("restart-workloads", kind, &w.namespace, &w.name)
                .await?;
            restarted.push(ObjectRef {
                kind: kind.as_kind().to_string(),
                namespace: w.namespace,
                name: w.name,
            });
        }
        Ok(restarted)
    }

    pub async fn rollout_status(
        &mut self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> GuardResult<RolloutStatus> {
        self.enter("get-rollout-status").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns("get-rollout-status", namespace, kind.as_kind())
            .await?;
        Ok(self.cluster.rollout_status(kind, namespace, name).await?)
    }

    pub async fn wait_rollout(
        &mut self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> GuardResult<RolloutStatus> {
        self.enter("wait-rollout").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.check_wait_bound("wait-rollout", timeout_seconds)?;
        self.require_read_ns("wait-rollout", namespace, kind.as_kind())
            .await?;
        // Never wait past the run's deadline: a rollout still progressing when
        // the deadline cuts the wait short ends the run.
        let now = self.cluster.now().await;
        let remaining = (self.deadline_at() - now).clamp(0, i64::from(u32::MAX));
        let timeout = timeout_seconds.min(u32::try_from(remaining).unwrap_or(u32::MAX));
        let status = self
            .cluster
            .wait_rollout(kind, namespace, name, timeout)
            .await?;
        if timeout < timeout_seconds && status.phase == RolloutPhase::Progressing {
            return Err(self.deadline_error(format!(
                "wait-rollout {} {namespace}/{name} for {timeout_seconds} s reached it",
                kind.as_kind()
            )));
        }
        Ok(status)
    }

    fn check_wait_bound(&self, primitive: &str, seconds: u32) -> GuardResult<()> {
        if seconds > self.limits.max_wait_seconds {
            return Err(ClusterError::Invalid(format!(
                "{primitive} of {seconds} s exceeds the run's limit of {} s per wait (limits.maxWaitSeconds)",
                self.limits.max_wait_seconds
            ))
            .into());
        }
        Ok(())
    }

    // ----- pods --------------------------------------------------------

    pub async fn list_pods(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> GuardResult<Vec<Pod>> {
        self.enter("list-pods").await?;
        self.check_pod_list("list-pods", namespace, selector)
            .await?;
        let mut all = Vec::new();
        for ns in self.list_scopes(namespace).await? {
            all.extend(self.cluster.list_pods(ns.as_deref(), selector).await?);
        }
        Ok(self.filter_readable(all, |p| p.namespace.as_str()))
    }

    /// `list-pods` reduced to what gates read (see `PodSummary::of`).
    pub async fn list_pod_summaries(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> GuardResult<Vec<PodSummary>> {
        self.enter("list-pod-summaries").await?;
        if annotations.len() > MAX_SUMMARY_ANNOTATIONS {
            return Err(ClusterError::Invalid(format!(
                "list-pod-summaries asks for {} annotations; at most {MAX_SUMMARY_ANNOTATIONS} are accepted",
                annotations.len()
            ))
            .into());
        }
        for key in annotations {
            bounded(&[("annotation key", key)])?;
        }
        self.check_pod_list("list-pod-summaries", namespace, selector)
            .await?;
        let mut all = Vec::new();
        for ns in self.list_scopes(namespace).await? {
            all.extend(
                self.cluster
                    .list_pod_summaries(ns.as_deref(), selector, annotations)
                    .await?,
            );
        }
        Ok(self.filter_readable(all, |p| p.namespace.as_str()))
    }

    /// Refuse a pod listing with oversized arguments or in a namespace the
    /// run may not read.
    async fn check_pod_list(
        &mut self,
        primitive: &str,
        namespace: Option<&str>,
        selector: &str,
    ) -> GuardResult<()> {
        bounded(&[
            ("namespace", namespace.unwrap_or("")),
            ("label-selector", selector),
        ])?;
        if let Some(ns) = namespace {
            self.require_read_ns(primitive, ns, "pods").await?;
        }
        Ok(())
    }

    pub async fn delete_pod(&mut self, namespace: &str, name: &str) -> GuardResult<()> {
        self.pod_removal("delete-pod", Verb::DeletePod, namespace, name)
            .await
    }

    pub async fn evict_pod(&mut self, namespace: &str, name: &str) -> GuardResult<()> {
        self.pod_removal("evict-pod", Verb::EvictPod, namespace, name)
            .await
    }

    async fn pod_removal(
        &mut self,
        primitive: &str,
        verb: Verb,
        namespace: &str,
        name: &str,
    ) -> GuardResult<()> {
        self.enter(primitive).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        let target = format!("Pod {namespace}/{name}");
        self.require_write(primitive, verb, namespace, &target)
            .await?;
        if self.dry_run {
            let pods = self.cluster.list_pods(Some(namespace), "").await?;
            if !pods.iter().any(|p| p.name == name) {
                return Err(ClusterError::NotFound(format!("pod {namespace}/{name}")).into());
            }
            let would = if verb == Verb::EvictPod {
                "evict the pod (PodDisruptionBudgets apply)"
            } else {
                "delete the pod"
            };
            self.hold_back(primitive, target, would.into()).await;
            return Ok(());
        }
        let result = if verb == Verb::EvictPod {
            self.cluster.evict_pod(namespace, name).await
        } else {
            self.cluster.delete_pod(namespace, name).await
        };
        self.audit_applied(primitive, target, primitive.replace('-', " "), result)
            .await
    }

    // ----- certificates ------------------------------------------------

    pub async fn get_certificate(
        &mut self,
        namespace: &str,
        name: &str,
    ) -> GuardResult<Certificate> {
        self.enter("get-certificate").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns("get-certificate", namespace, "certificates")
            .await?;
        Ok(self.cluster.get_certificate(namespace, name).await?)
    }

    pub async fn list_certificates(
        &mut self,
        namespace: Option<&str>,
    ) -> GuardResult<Vec<Certificate>> {
        self.enter("list-certificates").await?;
        bounded(&[("namespace", namespace.unwrap_or(""))])?;
        if let Some(ns) = namespace {
            self.require_read_ns("list-certificates", ns, "certificates")
                .await?;
        }
        let mut all = Vec::new();
        for ns in self.list_scopes(namespace).await? {
            all.extend(self.cluster.list_certificates(ns.as_deref()).await?);
        }
        Ok(self.filter_readable(all, |c| c.namespace.as_str()))
    }

    pub async fn renew_certificate(&mut self, namespace: &str, name: &str) -> GuardResult<()> {
        self.enter("renew-certificate").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        let target = format!("Certificate {namespace}/{name}");
        self.require_write("renew-certificate", Verb::Renew, namespace, &target)
            .await?;
        if self.dry_run {
            self.cluster.get_certificate(namespace, name).await?;
            self.hold_back(
                "renew-certificate",
                target,
                "set Issuing=True (ManuallyTriggered) so cert-manager re-issues".into(),
            )
            .await;
            return Ok(());
        }
        let result = self.cluster.renew_certificate(namespace, name).await;
        self.audit_applied(
            "renew-certificate",
            target,
            "manual renewal triggered".into(),
            result,
        )
        .await
    }

    // ----- secrets -----------------------------------------------------

    pub async fn read_secret(&mut self, namespace: &str, name: &str) -> GuardResult<Secret> {
        self.enter("read-secret").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        if !self.grants.can_read_secret(namespace, name) {
            let reason =
                format!("reading Secret {namespace}/{name} is not granted (grants.readSecrets)");
            return Err(self
                .deny("read-secret", format!("Secret {namespace}/{name}"), reason)
                .await);
        }
        let secret = self.cluster.read_secret(namespace, name).await?;
        for (_, value) in &secret.data {
            self.redactor.learn(value);
        }
        Ok(secret)
    }

    pub async fn write_secret(&mut self, secret: SecretWrite) -> GuardResult<String> {
        self.enter("write-secret").await?;
        bounded(&[
            ("namespace", &secret.namespace),
            ("name", &secret.name),
            ("type", &secret.type_),
        ])?;
        // Learn first: even a refused write must not leak its payload.
        for (_, value) in &secret.data {
            self.redactor.learn(value);
        }
        let target = format!("Secret {}/{}", secret.namespace, secret.name);
        let size: usize = secret.data.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_OBJECT_BYTES {
            return Err(ClusterError::Invalid(format!(
                "{target} would hold {size} bytes; Kubernetes allows at most {MAX_OBJECT_BYTES}"
            ))
            .into());
        }
        self.require_verb("write-secret", Verb::WriteSecret, &target)
            .await?;
        if !self
            .grants
            .can_write_secret(&secret.namespace, &secret.name)
        {
            let reason = format!(
                "writing Secret {}/{} is not granted (grants.writeSecrets)",
                secret.namespace, secret.name
            );
            return Err(self.deny("write-secret", target, reason).await);
        }
        let keys: Vec<&str> = secret.data.iter().map(|(k, _)| k.as_str()).collect();
        let summary = format!(
            "type {:?}, keys [{}], {size} bytes of data (values withheld)",
            secret.type_,
            keys.join(", ")
        );
        if self.dry_run {
            self.hold_back("write-secret", target, format!("write {summary}"))
                .await;
            return Ok(secret
                .expected_resource_version
                .unwrap_or_else(|| "dry-run".to_string()));
        }
        let mut secret = secret;
        let replaced = match self.replace_type(&mut secret).await {
            Ok(replaced) => replaced,
            Err(e) => {
                return self
                    .audit_applied("write-secret", target, format!("replace {summary}"), Err(e))
                    .await;
            }
        };
        let result = self.cluster.write_secret(secret).await;
        let detail = match replaced {
            Some(from) => {
                format!("replaced a Secret of type {from:?} (deleted, then created): {summary}")
            }
            None => format!("wrote {summary}"),
        };
        self.audit_applied("write-secret", target, detail, result)
            .await
    }

    /// Kubernetes refuses to change a Secret's type in place: a write of
    /// another type deletes the stored Secret first (at the expected
    /// resourceVersion, else the one read now) and creates it anew. Returns
    /// the type replaced.
    async fn replace_type(&self, secret: &mut SecretWrite) -> Result<Option<String>, ClusterError> {
        let wanted = if secret.type_.is_empty() {
            "Opaque"
        } else {
            secret.type_.as_str()
        };
        let current = match self
            .cluster
            .read_secret(&secret.namespace, &secret.name)
            .await
        {
            Ok(current) => current,
            Err(ClusterError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if current.type_ == wanted {
            return Ok(None);
        }
        let version = secret
            .expected_resource_version
            .take()
            .unwrap_or(current.resource_version);
        self.cluster
            .delete_secret(&secret.namespace, &secret.name, &version)
            .await?;
        Ok(Some(current.type_))
    }

    /// Signature check through the backend (see [`Cluster::verify_signed_by`]).
    pub fn verify_signed_by(&self, cert_pem: &str, issuer_pem: &str) -> Result<bool, ClusterError> {
        self.cluster.verify_signed_by(cert_pem, issuer_pem)
    }

    // ----- config maps -------------------------------------------------

    pub async fn read_config_map(&mut self, namespace: &str, name: &str) -> GuardResult<ConfigMap> {
        self.enter("read-config-map").await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns("read-config-map", namespace, "config maps")
            .await?;
        Ok(self.cluster.read_config_map(namespace, name).await?)
    }

    // ----- events ------------------------------------------------------

    pub async fn list_events(
        &mut self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> GuardResult<Vec<Event>> {
        self.enter("list-events").await?;
        bounded(&[
            ("kind", &involved.kind),
            ("namespace", &involved.namespace),
            ("name", &involved.name),
            ("reason", reason.unwrap_or("")),
        ])?;
        self.require_read_ns("list-events", &involved.namespace, "events")
            .await?;
        Ok(self.cluster.list_events(involved, reason).await?)
    }

    pub async fn record_event(
        &mut self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> GuardResult<()> {
        self.enter("record-event").await?;
        bounded(&[
            ("kind", &involved.kind),
            ("namespace", &involved.namespace),
            ("name", &involved.name),
            ("reason", reason),
            ("message", message),
        ])?;
        let target = format!("{} {}/{}", involved.kind, involved.namespace, involved.name);
        self.require_write(
            "record-event",
            Verb::RecordEvent,
            &involved.namespace,
            &target,
        )
        .await?;
        let message = self.redactor.redact(message).into_owned();
        let detail = format!("{type_:?} {reason}: {message}");
        if self.dry_run {
            self.hold_back("record-event", target, format!("record event {detail}"))
                .await;
            return Ok(());
        }
        let result = self
            .cluster
            .record_event(involved, type_, reason, &message)
            .await;
        self.audit_applied("record-event", target, detail, result)
            .await
    }

    // ----- progress ----------------------------------------------------

    pub async fn load_progress(&mut self) -> GuardResult<Option<String>> {
        self.enter("load-progress").await?;
        if let Some(saved) = &self.dry_progress {
            return Ok(saved.clone());
        }
        Ok(self.cluster.load_progress().await?)
    }

    pub async fn save_progress(&mut self, value: &str) -> GuardResult<()> {
        self.enter("save-progress").await?;
        if value.len() > MAX_OBJECT_BYTES {
            return Err(ClusterError::Invalid(format!(
                "progress record of {} bytes exceeds {MAX_OBJECT_BYTES}",
                value.len()
            ))
            .into());
        }
        // Progress lives wherever the backend keeps it: only the verb matters.
        self.require_verb("save-progress", Verb::SaveProgress, "progress record")
            .await?;
        if self.dry_run {
            self.dry_progress = Some(Some(value.to_string()));
            self.hold_back(
                "save-progress",
                "progress record".into(),
                format!("save {} bytes", value.len()),
            )
            .await;
            return Ok(());
        }
        let result = self.cluster.save_progress(value).await;
        self.audit_applied(
            "save-progress",
            "progress record".into(),
            format!("saved {} bytes", value.len()),
            result,
        )
        .await
    }

    pub async fn clear_progress(&mut self) -> GuardResult<()> {
        self.enter("clear-progress").await?;
        self.require_verb("clear-progress", Verb::SaveProgress, "progress record")
            .await?;
        if self.dry_run {
            self.dry_progress = Some(None);
            self.hold_back(
                "clear-progress",
                "progress record".into(),
                "clear the progress record".into(),
            )
            .await;
            return Ok(());
        }
        let result = self.cluster.clear_progress().await;
        self.audit_applied(
            "clear-progress",
            "progress record".into(),
            "cleared".into(),
            result,
        )
        .await
    }

    // ----- clock -------------------------------------------------------

    pub async fn clock_now(&mut self) -> GuardResult<Timestamp> {
        self.enter("now").await?;
        Ok(self.cluster.now().await)
    }

    /// A wait past the run's deadline ends the run instead of sleeping into it.
    pub async fn wait(&mut self, seconds: u32) -> GuardResult<()> {
        self.enter("wait").await?;
        self.check_wait_bound("wait", seconds)?;
        let now = self.cluster.now().await;
        if now.saturating_add(i64::from(seconds)) > self.deadline_at() {
            return Err(self.deadline_error(format!(
                "wait of {seconds} s requested at +{} s",
                now - self.started_at
            )));
        }
        Ok(self.cluster.wait(seconds).await?)
    }
}

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
