//! The guard's bookkeeping shared by every capability: entering a call
//! (deadline, kill switch, counting), refusals, the audit trail, dry-run
//! hold-backs and the grant checks each capability makes before the backend.

use super::*;

impl Guard {
    /// Count the call and end the run if its deadline has passed.
    pub(super) async fn enter(&mut self, primitive: Primitive) -> GuardResult<()> {
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

    pub(super) fn deadline_error(&self, detail: String) -> GuardError {
        GuardError::Limit(RunLimitExceeded::Deadline {
            deadline_seconds: self.limits.deadline_seconds,
            detail,
        })
    }

    pub(super) async fn deny(
        &mut self,
        primitive: Primitive,
        target: String,
        reason: String,
    ) -> GuardError {
        let at = self.cluster.now().await;
        self.record.calls.denied += 1;
        tracing::warn!(target: "rotor::guard", %primitive, %target, %reason, "call denied");
        self.record.audit.push(AuditEntry {
            at,
            primitive,
            target,
            outcome: AuditOutcome::Denied,
            detail: reason.clone(),
            cluster: None,
        });
        GuardError::Refused(ClusterError::Denied(reason))
    }

    /// Audit a mutation that reached the backend (or failed there).
    pub(super) async fn audit_applied<T>(
        &mut self,
        primitive: Primitive,
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
            primitive,
            target,
            outcome,
            detail,
            cluster: None,
        });
        let ok = result.is_ok();
        if let Some(switch) = self.kill_switch.as_ref().filter(|k| k.fires(ok)) {
            let mutations = switch.after;
            tracing::warn!(target: "rotor::guard", mutations, "run killed after this mutation");
            return Err(GuardError::Limit(RunLimitExceeded::Killed { mutations }));
        }
        result.map_err(GuardError::Refused)
    }

    /// Record a mutation held back by `--dry-run`.
    pub(super) async fn hold_back(&mut self, primitive: Primitive, target: String, would: String) {
        let at = self.cluster.now().await;
        self.record.calls.mutations += 1;
        tracing::info!(target: "rotor::guard", %primitive, %target, %would, "dry run: mutation held back");
        self.record.audit.push(AuditEntry {
            at,
            primitive,
            target: target.clone(),
            outcome: AuditOutcome::DryRun,
            detail: would.clone(),
            cluster: None,
        });
        self.record.dry_run_mutations.push(DryRunMutation {
            at,
            primitive,
            target,
            would,
            cluster: None,
        });
    }

    pub(super) async fn require_read_ns(
        &mut self,
        primitive: Primitive,
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

    pub(super) async fn require_verb(
        &mut self,
        primitive: Primitive,
        verb: Verb,
        target: &str,
    ) -> GuardResult<()> {
        if self.grants.allows_verb(verb) {
            return Ok(());
        }
        let reason = format!("verb {:?} is not granted (grants.verbs)", verb.as_str());
        Err(self.deny(primitive, target.to_string(), reason).await)
    }

    pub(super) async fn require_write(
        &mut self,
        primitive: Primitive,
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
    pub(super) async fn list_scopes(
        &self,
        namespace: Option<&str>,
    ) -> GuardResult<Vec<Option<String>>> {
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

    pub(super) fn filter_readable<T>(
        &self,
        items: Vec<T>,
        namespace_of: impl Fn(&T) -> &str,
    ) -> Vec<T> {
        items
            .into_iter()
            .filter(|item| self.grants.can_read_namespace(namespace_of(item)))
            .collect()
    }
}
