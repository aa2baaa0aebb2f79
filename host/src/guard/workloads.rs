//! Namespaces and workloads through the guard: reads limited to the
//! readable namespaces, restarts behind write grants, bounded rollout waits.

use super::*;

impl Guard {
    pub async fn list_namespaces(&mut self, selector: &str) -> GuardResult<Vec<Namespace>> {
        self.enter(Primitive::ListNamespaces).await?;
        bounded(&[("label-selector", selector)])?;
        let all = self.cluster.list_namespaces(selector).await?;
        Ok(self.filter_readable(all, |ns| ns.name.as_str()))
    }

    pub async fn list_workloads(
        &mut self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> GuardResult<Vec<Workload>> {
        self.enter(Primitive::ListWorkloads).await?;
        bounded(&[
            ("namespace", namespace.unwrap_or("")),
            ("label-selector", selector),
        ])?;
        if let Some(ns) = namespace {
            self.require_read_ns(Primitive::ListWorkloads, ns, "workloads")
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
        self.enter(Primitive::GetWorkload).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns(Primitive::GetWorkload, namespace, kind.as_kind())
            .await?;
        Ok(self.cluster.get_workload(kind, namespace, name).await?)
    }

    pub async fn restart_workload(
        &mut self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> GuardResult<Timestamp> {
        self.enter(Primitive::RestartWorkload).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.restart_one(Primitive::RestartWorkload, kind, namespace, name)
            .await
    }

    pub(super) async fn restart_one(
        &mut self,
        primitive: Primitive,
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

    /// Patching a custom owner is granted like a workload restart: the
    /// `restart` verb and its namespace in `grants.writeNamespaces`. A dry
    /// run checks the kind and holds the patch back.
    pub async fn restart_owner(&mut self, owner: &ObjectRef) -> GuardResult<Timestamp> {
        self.enter(Primitive::RestartOwner).await?;
        bounded(&[
            ("kind", &owner.kind),
            ("namespace", &owner.namespace),
            ("name", &owner.name),
        ])?;
        let target = format!("{} {}/{}", owner.kind, owner.namespace, owner.name);
        self.require_write(
            Primitive::RestartOwner,
            Verb::Restart,
            &owner.namespace,
            &target,
        )
        .await?;
        crate::cluster::check_owner_kind(&owner.kind)?;
        let would = if owner.kind == crate::cluster::ROLLOUT.0 {
            "set spec.restartAt to now"
        } else {
            "annotate strimzi.io/manual-rolling-update=true"
        };
        if self.dry_run {
            let at = self.cluster.now().await;
            self.hold_back(Primitive::RestartOwner, target, would.into())
                .await;
            return Ok(at);
        }
        let result = self.cluster.restart_owner(owner).await;
        self.audit_applied(Primitive::RestartOwner, target, would.into(), result)
            .await
    }

    pub async fn restart_workloads(
        &mut self,
        namespace: &str,
        kind: WorkloadKind,
        selector: &str,
    ) -> GuardResult<Vec<ObjectRef>> {
        self.enter(Primitive::RestartWorkloads).await?;
        bounded(&[("namespace", namespace), ("label-selector", selector)])?;
        let target = format!("{} {namespace} matching {selector:?}", kind.as_kind());
        self.require_write(
            Primitive::RestartWorkloads,
            Verb::Restart,
            namespace,
            &target,
        )
        .await?;
        self.require_read_ns(Primitive::RestartWorkloads, namespace, kind.as_kind())
            .await?;
        let workloads = self
            .cluster
            .list_workloads(Some(namespace), Some(kind), selector)
            .await?;
        let mut restarted = Vec::with_capacity(workloads.len());
        for w in workloads {
            self.restart_one(Primitive::RestartWorkloads, kind, &w.namespace, &w.name)
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
        self.enter(Primitive::GetRolloutStatus).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.require_read_ns(Primitive::GetRolloutStatus, namespace, kind.as_kind())
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
        self.enter(Primitive::WaitRollout).await?;
        bounded(&[("namespace", namespace), ("name", name)])?;
        self.check_wait_bound(Primitive::WaitRollout, timeout_seconds)?;
        self.require_read_ns(Primitive::WaitRollout, namespace, kind.as_kind())
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

    /// Every target must be readable; the backend may watch a kind across
    /// the cluster only when the run may read every namespace.
    pub async fn wait_rollouts(
        &mut self,
        targets: &[WorkloadRef],
        timeout_seconds: u32,
    ) -> GuardResult<Vec<RolloutOutcome>> {
        self.enter(Primitive::WaitRollouts).await?;
        if targets.len() > MAX_ROLLOUTS_PER_WAIT {
            return Err(ClusterError::Invalid(format!(
                "wait-rollouts on {} workloads exceeds the limit of {MAX_ROLLOUTS_PER_WAIT} per call",
                targets.len()
            ))
            .into());
        }
        self.check_wait_bound(Primitive::WaitRollouts, timeout_seconds)?;
        for t in targets {
            bounded(&[("namespace", &t.namespace), ("name", &t.name)])?;
            self.require_read_ns(Primitive::WaitRollouts, &t.namespace, t.kind.as_kind())
                .await?;
        }
        let now = self.cluster.now().await;
        let remaining = (self.deadline_at() - now).clamp(0, i64::from(u32::MAX));
        let timeout = timeout_seconds.min(u32::try_from(remaining).unwrap_or(u32::MAX));
        let cluster_wide = self.grants.reads_every_namespace();
        let finished = self
            .cluster
            .wait_rollouts(targets, timeout, cluster_wide)
            .await?;
        if timeout < timeout_seconds && finished.is_empty() && !targets.is_empty() {
            return Err(self.deadline_error(format!(
                "wait-rollouts on {} workload(s) for {timeout_seconds} s reached it",
                targets.len()
            )));
        }
        Ok(finished)
    }

    pub(super) fn check_wait_bound(&self, primitive: Primitive, seconds: u32) -> GuardResult<()> {
        if seconds > self.limits.max_wait_seconds {
            return Err(ClusterError::Invalid(format!(
                "{primitive} of {seconds} s exceeds the run's limit of {} s per wait (limits.maxWaitSeconds)",
                self.limits.max_wait_seconds
            ))
            .into());
        }
        Ok(())
    }
}
