//! The host side of every `rotor:policy` import. Each one goes through the
//! [`Guard`](crate::guard::Guard) (cluster calls) or pure host code (x509,
//! log, context); time spent here is kept off the policy's CPU budget.

use std::time::Instant;

use crate::guard::{GuardError, GuardResult, bounded};
use crate::primitive::Primitive;
use crate::wit::rotor::policy::{
    certificates, clock, clusters, config_maps, context, events, log, namespaces, pods, progress,
    secrets, types, workloads, x509,
};
use crate::wit::{
    Certificate, CertificateKey, CertificateSummary, ClusterInfo, ConfigMap, ConfigMapWrite, Event,
    EventType, Issuer, KeyValue, Level, Namespace, ObjectRef, Pod, PodSummary, RolloutOutcome,
    RolloutStatus, Secret, SecretWrite, Timestamp, Workload, WorkloadKind, WorkloadRef,
};

use super::state::HostState;

type WitError = types::Error;
type HostResult<T> = wasmtime::Result<Result<T, WitError>>;

/// Expected failures become WIT errors; a run limit becomes a trap.
fn finish<T>(result: GuardResult<T>) -> HostResult<T> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(GuardError::Refused(e)) => Ok(Err(e.into())),
        Err(GuardError::Limit(limit)) => Err(wasmtime::Error::new(limit)),
    }
}

/// Await a guard call, charging its time to the host, not the policy.
macro_rules! guarded {
    ($self:ident, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.cpu.add_host_time(started.elapsed());
        finish(result)
    }};
}

impl types::Host for HostState {}

impl namespaces::Host for HostState {
    async fn list_namespaces(&mut self, label_selector: String) -> HostResult<Vec<Namespace>> {
        guarded!(
            self,
            self.clusters.guard_mut().list_namespaces(&label_selector)
        )
    }
}

impl workloads::Host for HostState {
    async fn list_workloads(
        &mut self,
        namespace: Option<String>,
        kind: Option<WorkloadKind>,
        label_selector: String,
    ) -> HostResult<Vec<Workload>> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .list_workloads(namespace.as_deref(), kind, &label_selector)
        )
    }

    async fn get_workload(
        &mut self,
        kind: WorkloadKind,
        namespace: String,
        name: String,
    ) -> HostResult<Workload> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .get_workload(kind, &namespace, &name)
        )
    }

    async fn restart_workload(
        &mut self,
        kind: WorkloadKind,
        namespace: String,
        name: String,
    ) -> HostResult<Timestamp> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .restart_workload(kind, &namespace, &name)
        )
    }

    async fn restart_workloads(
        &mut self,
        namespace: String,
        kind: WorkloadKind,
        label_selector: String,
    ) -> HostResult<Vec<ObjectRef>> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .restart_workloads(&namespace, kind, &label_selector)
        )
    }

    async fn get_rollout_status(
        &mut self,
        kind: WorkloadKind,
        namespace: String,
        name: String,
    ) -> HostResult<RolloutStatus> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .rollout_status(kind, &namespace, &name)
        )
    }

    async fn wait_rollout(
        &mut self,
        kind: WorkloadKind,
        namespace: String,
        name: String,
        timeout_seconds: u32,
    ) -> HostResult<RolloutStatus> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .wait_rollout(kind, &namespace, &name, timeout_seconds)
        )
    }

    async fn wait_rollouts(
        &mut self,
        workloads: Vec<WorkloadRef>,
        timeout_seconds: u32,
    ) -> HostResult<Vec<RolloutOutcome>> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .wait_rollouts(&workloads, timeout_seconds)
        )
    }

    async fn restart_owner(&mut self, owner: ObjectRef) -> HostResult<Timestamp> {
        guarded!(self, self.clusters.guard_mut().restart_owner(&owner))
    }
}

impl pods::Host for HostState {
    async fn list_pods(
        &mut self,
        namespace: Option<String>,
        label_selector: String,
    ) -> HostResult<Vec<Pod>> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .list_pods(namespace.as_deref(), &label_selector)
        )
    }

    async fn list_pod_summaries(
        &mut self,
        namespace: Option<String>,
        label_selector: String,
        annotations: Vec<String>,
    ) -> HostResult<Vec<PodSummary>> {
        guarded!(
            self,
            self.clusters.guard_mut().list_pod_summaries(
                namespace.as_deref(),
                &label_selector,
                &annotations
            )
        )
    }

    async fn delete_pod(&mut self, namespace: String, name: String) -> HostResult<()> {
        guarded!(
            self,
            self.clusters.guard_mut().delete_pod(&namespace, &name)
        )
    }

    async fn evict_pod(&mut self, namespace: String, name: String) -> HostResult<()> {
        guarded!(self, self.clusters.guard_mut().evict_pod(&namespace, &name))
    }

    async fn get_pod_metrics(
        &mut self,
        namespace: String,
        name: String,
        port: u16,
    ) -> HostResult<String> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .get_pod_metrics(&namespace, &name, port)
        )
    }
}

impl certificates::Host for HostState {
    async fn get_certificate(
        &mut self,
        namespace: String,
        name: String,
    ) -> HostResult<Certificate> {
        guarded!(
            self,
            self.clusters.guard_mut().get_certificate(&namespace, &name)
        )
    }

    async fn list_certificates(
        &mut self,
        namespace: Option<String>,
    ) -> HostResult<Vec<Certificate>> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .list_certificates(namespace.as_deref())
        )
    }

    async fn renew_certificate(&mut self, namespace: String, name: String) -> HostResult<()> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .renew_certificate(&namespace, &name)
        )
    }

    async fn get_issuer(
        &mut self,
        kind: String,
        namespace: String,
        name: String,
    ) -> HostResult<Issuer> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .get_issuer(&kind, &namespace, &name)
        )
    }

    async fn set_ca_issuer_secret(
        &mut self,
        kind: String,
        namespace: String,
        name: String,
        secret_name: String,
    ) -> HostResult<()> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .set_ca_issuer_secret(&kind, &namespace, &name, &secret_name)
        )
    }
}

impl secrets::Host for HostState {
    async fn read_secret(&mut self, namespace: String, name: String) -> HostResult<Secret> {
        guarded!(
            self,
            self.clusters.guard_mut().read_secret(&namespace, &name)
        )
    }

    async fn write_secret(&mut self, secret: SecretWrite) -> HostResult<String> {
        guarded!(self, self.clusters.guard_mut().write_secret(secret))
    }
}

impl config_maps::Host for HostState {
    async fn read_config_map(&mut self, namespace: String, name: String) -> HostResult<ConfigMap> {
        guarded!(
            self,
            self.clusters.guard_mut().read_config_map(&namespace, &name)
        )
    }

    async fn write_config_map(&mut self, config_map: ConfigMapWrite) -> HostResult<String> {
        guarded!(self, self.clusters.guard_mut().write_config_map(config_map))
    }
}

impl events::Host for HostState {
    async fn list_events(
        &mut self,
        involved: ObjectRef,
        reason: Option<String>,
    ) -> HostResult<Vec<Event>> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .list_events(&involved, reason.as_deref())
        )
    }

    async fn record_event(
        &mut self,
        involved: ObjectRef,
        type_: EventType,
        reason: String,
        message: String,
    ) -> HostResult<()> {
        guarded!(
            self,
            self.clusters
                .guard_mut()
                .record_event(&involved, type_, &reason, &message)
        )
    }
}

impl progress::Host for HostState {
    async fn load_progress(&mut self) -> HostResult<Option<String>> {
        guarded!(self, self.clusters.guard_mut().load_progress())
    }

    async fn save_progress(&mut self, value: String) -> HostResult<()> {
        guarded!(self, self.clusters.guard_mut().save_progress(&value))
    }

    async fn clear_progress(&mut self) -> HostResult<()> {
        guarded!(self, self.clusters.guard_mut().clear_progress())
    }
}

impl context::Host for HostState {
    async fn dry_run(&mut self) -> wasmtime::Result<bool> {
        self.clusters.guard_mut().count(Primitive::DryRun);
        Ok(self.clusters.guard().is_dry_run())
    }

    async fn backend(&mut self) -> wasmtime::Result<String> {
        self.clusters.guard_mut().count(Primitive::Backend);
        Ok(self.clusters.guard().backend().as_str().to_string())
    }
}

impl clock::Host for HostState {
    async fn now(&mut self) -> wasmtime::Result<Timestamp> {
        match guarded!(self, self.clusters.home_mut().clock_now())? {
            Ok(now) => Ok(now),
            // `clock_now` refuses nothing; keep the types honest anyway.
            Err(e) => Err(wasmtime::Error::msg(format!("clock.now failed: {e:?}"))),
        }
    }

    async fn wait(&mut self, seconds: u32) -> HostResult<()> {
        guarded!(self, self.clusters.home_mut().wait(seconds))
    }
}

impl log::Host for HostState {
    async fn log(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<KeyValue>,
    ) -> wasmtime::Result<()> {
        self.clusters.guard_mut().count(Primitive::Log);
        self.log
            .record(level, &message, &fields, self.clusters.redactor());
        if let Some(progress) = &mut self.progress
            && fields.iter().any(|kv| kv.key == "progress")
        {
            let started = Instant::now();
            let now = self.clusters.home().now().await;
            self.cpu.add_host_time(started.elapsed());
            progress.log_line(&fields, now, self.clusters.redactor());
        }
        Ok(())
    }

    async fn begin_step(&mut self, name: String) -> wasmtime::Result<()> {
        self.clusters.guard_mut().count(Primitive::BeginStep);
        let started = Instant::now();
        let now = self.clusters.home().now().await;
        self.cpu.add_host_time(started.elapsed());
        tracing::info!(target: "policy", step = %name, "step begins");
        if let Some(progress) = &mut self.progress {
            progress.step_began(&name, now, self.clusters.redactor());
        }
        self.steps.begin(&name, now);
        Ok(())
    }

    async fn end_step(&mut self, name: String, ok: bool, detail: String) -> wasmtime::Result<()> {
        self.clusters.guard_mut().count(Primitive::EndStep);
        let started = Instant::now();
        let now = self.clusters.home().now().await;
        self.cpu.add_host_time(started.elapsed());
        if ok {
            tracing::info!(target: "policy", step = %name, "step ends");
        } else {
            tracing::warn!(target: "policy", step = %name, detail = %detail, "step failed");
        }
        if let Some(progress) = &mut self.progress {
            progress.step_ended(&name, ok, &detail, now, self.clusters.redactor());
        }
        self.steps.end(&name, ok, &detail, now);
        if let Some(observer) = self.clusters.home().observer().cloned() {
            let started = Instant::now();
            let detail = self.clusters.redactor().redact(&detail).into_owned();
            observer.step_ended(&name, ok, &detail).await;
            self.cpu.add_host_time(started.elapsed());
        }
        Ok(())
    }
}

/// Which cluster later calls reach; no cluster is contacted to answer.
impl clusters::Host for HostState {
    async fn list(&mut self) -> wasmtime::Result<Vec<ClusterInfo>> {
        Ok(self.clusters.list())
    }

    async fn select(&mut self, name: String) -> HostResult<()> {
        if let Err(e) = bounded(&[("name", &name)]) {
            return Ok(Err(e.into()));
        }
        Ok(self.clusters.select(&name).map_err(Into::into))
    }

    async fn current(&mut self) -> wasmtime::Result<String> {
        Ok(self.clusters.current().to_string())
    }
}

impl x509::Host for HostState {
    async fn parse_pem(&mut self, pem: String) -> HostResult<Vec<CertificateSummary>> {
        self.clusters.guard_mut().count(Primitive::ParsePem);
        if let Err(e) = bounded(&[("pem", &pem)]) {
            return Ok(Err(e.into()));
        }
        Ok(crate::x509::parse_pem(&pem).map_err(Into::into))
    }

    async fn parse_pem_keys(&mut self, pem: String) -> HostResult<Vec<CertificateKey>> {
        self.clusters.guard_mut().count(Primitive::ParsePemKeys);
        if let Err(e) = bounded(&[("pem", &pem)]) {
            return Ok(Err(e.into()));
        }
        Ok(crate::x509::parse_pem_keys(&pem).map_err(Into::into))
    }

    async fn verify_signed_by(&mut self, cert_pem: String, issuer_pem: String) -> HostResult<bool> {
        self.clusters.guard_mut().count(Primitive::VerifySignedBy);
        if let Err(e) = bounded(&[("cert-pem", &cert_pem), ("issuer-pem", &issuer_pem)]) {
            return Ok(Err(e.into()));
        }
        Ok(self
            .clusters
            .guard()
            .verify_signed_by(&cert_pem, &issuer_pem)
            .map_err(Into::into))
    }
}
