//! The Kubernetes backend: the [`Cluster`] primitives over kube-rs.
//!
//! Every request runs under a timeout and transient failures are retried
//! with bounded, jittered backoff ([`RetryPolicy`]); waits watch instead of
//! polling. Mutations carry the field manager `rotor` and, in dry-run mode,
//! `dryRun=All`, so the API server validates them without persisting.
//!
//! Requests per primitive: one each, except `list_workloads` without a kind
//! (one list per kind) and `list_pods`, which lists ReplicaSets only when a
//! pod names one it cannot attribute (by name, to a Deployment already read).
//! A restart right after the workload was read is a single conditional
//! PATCH; `wait_rollout` is a single watch; `wait_rollouts` reuses watches
//! per kind and namespace (or kind) kept open between calls. A full default rotation costs the
//! policy's own calls plus a constant (`tests/kube/rotation.rs` prints them).

pub mod certificates;
pub mod clock;
pub mod connect;
pub mod convert;
pub mod dump;
pub mod error;
pub mod events;
mod issuers;
mod metrics;
pub mod owners;
pub mod pods;
pub mod progress;
pub mod rollout;
mod rollout_watch;
pub mod secrets;
pub mod sidecar;
mod trust_manager;
pub mod workloads;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

pub use clock::{Clock, WallClock};
pub use connect::{ConnectError, ConnectOptions, DEFAULT_NAMESPACE, install_crypto_provider};
pub use error::RetryPolicy;

use crate::cluster::{Cluster, ClusterError, ClusterResult, IssuerRef};
use crate::wit::{
    Certificate, ConfigMap, ConfigMapWrite, Event, EventType, Issuer, Namespace, ObjectRef, Pod,
    PodSummary, RolloutOutcome, RolloutStatus, Secret, SecretWrite, Timestamp, Workload,
    WorkloadKind, WorkloadRef,
};

/// The field manager of every write rotor makes.
pub const FIELD_MANAGER: &str = "rotor";

/// (kind, namespace, name) of a workload.
type WorkloadKey = (&'static str, String, String);

/// A live cluster behind the API server.
pub struct KubeCluster {
    client: Client,
    namespace: String,
    dry_run: bool,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    recorder: Recorder,
    /// Workloads seen in the last get/list: resourceVersion and `paused`,
    /// so a restart right after a list needs one request, not two; and the
    /// newest generation seen, which a rollout wait must see observed.
    seen: Mutex<HashMap<WorkloadKey, (String, bool, i64)>>,
    /// The open rollout watches `wait-rollouts` keeps between calls.
    rollout_watches: tokio::sync::Mutex<rollout_watch::RolloutWatches>,
    /// "namespace/replicaset" -> its controller, kind and name (`None`:
    /// none).
    rs_owners: Mutex<HashMap<String, Option<convert::RsOwner>>>,
    /// Set when the run lock is lost: every mutation is refused from then on.
    fence: Option<Arc<AtomicBool>>,
}

impl KubeCluster {
    /// A backend on an existing client. `namespace` is rotor's own (the
    /// progress ConfigMap and the run lock live there).
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        );
        KubeCluster {
            client,
            namespace: namespace.into(),
            dry_run: false,
            retry: RetryPolicy::default(),
            clock: Arc::new(WallClock),
            recorder,
            seen: Mutex::new(HashMap::new()),
            rollout_watches: tokio::sync::Mutex::new(rollout_watch::RolloutWatches::default()),
            rs_owners: Mutex::new(HashMap::new()),
            fence: None,
        }
    }

    /// Connect with `--kubeconfig` / `--context`, else kubeconfig then in-cluster.
    pub async fn connect(
        opts: &ConnectOptions,
        namespace: impl Into<String>,
    ) -> Result<Self, ConnectError> {
        Ok(Self::new(connect::client(opts).await?, namespace))
    }

    /// Send every mutation with `dryRun=All`.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refuse mutations once `lost` is set (by the run lock's renewer).
    pub fn with_fence(mut self, lost: Arc<AtomicBool>) -> Self {
        self.fence = Some(lost);
        self
    }

    fn fenced(&self) -> ClusterResult<()> {
        match &self.fence {
            Some(lost) if lost.load(Ordering::Relaxed) => Err(ClusterError::Conflict(
                "the run lock was lost to another rotor run; this run makes no further changes"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// rotor's own namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn post_params(&self) -> kube::api::PostParams {
        kube::api::PostParams {
            dry_run: self.dry_run,
            field_manager: Some(FIELD_MANAGER.into()),
        }
    }

    fn patch_params(&self) -> kube::api::PatchParams {
        kube::api::PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            dry_run: self.dry_run,
            ..kube::api::PatchParams::default()
        }
    }

    pub(super) fn delete_params(&self) -> kube::api::DeleteParams {
        kube::api::DeleteParams {
            dry_run: self.dry_run,
            ..kube::api::DeleteParams::default()
        }
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    fn backend(&self) -> crate::cluster::Backend {
        crate::cluster::Backend::Kubernetes
    }

    async fn list_namespaces(&self, selector: &str) -> ClusterResult<Vec<Namespace>> {
        self.namespaces(selector).await
    }

    async fn list_workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> ClusterResult<Vec<Workload>> {
        let kinds = match kind {
            Some(k) => vec![k],
            None => vec![
                WorkloadKind::Deployment,
                WorkloadKind::StatefulSet,
                WorkloadKind::DaemonSet,
            ],
        };
        let mut out = Vec::new();
        for k in kinds {
            out.extend(
                self.workloads(namespace, k, selector)
                    .await?
                    .into_iter()
                    .map(|(w, _)| w),
            );
        }
        Ok(out)
    }

    async fn get_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Workload> {
        Ok(self.workload(kind, namespace, name).await?.0)
    }

    async fn restart_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp> {
        self.fenced()?;
        self.restart(kind, namespace, name).await
    }

    async fn restart_owner(&self, owner: &ObjectRef) -> ClusterResult<Timestamp> {
        self.fenced()?;
        self.restart_owner_object(owner).await
    }

    async fn rollout_status(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<RolloutStatus> {
        let (w, deadline_exceeded) = self.workload(kind, namespace, name).await?;
        rollout::rollout_status(&w, deadline_exceeded)
    }

    async fn wait_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus> {
        self.watch_rollout(kind, namespace, name, timeout_seconds)
            .await
    }

    async fn wait_rollouts(
        &self,
        targets: &[WorkloadRef],
        timeout_seconds: u32,
        cluster_wide: bool,
    ) -> ClusterResult<Vec<RolloutOutcome>> {
        self.watch_rollouts(targets, timeout_seconds, cluster_wide)
            .await
    }

    async fn list_pods(&self, namespace: Option<&str>, selector: &str) -> ClusterResult<Vec<Pod>> {
        self.pods(namespace, selector).await
    }

    async fn list_pod_summaries(
        &self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> ClusterResult<Vec<PodSummary>> {
        self.pod_summaries(namespace, selector, annotations).await
    }

    async fn terminating_pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<std::collections::BTreeSet<String>> {
        self.pods_being_deleted(namespace, selector).await
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        self.fenced()?;
        self.remove_pod(namespace, name).await
    }

    async fn evict_pod(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        self.fenced()?;
        self.evict(namespace, name).await
    }

    async fn get_pod_metrics(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> ClusterResult<String> {
        self.pod_metrics(namespace, name, port).await
    }

    async fn get_certificate(&self, namespace: &str, name: &str) -> ClusterResult<Certificate> {
        self.certificate(namespace, name).await
    }

    async fn list_certificates(&self, namespace: Option<&str>) -> ClusterResult<Vec<Certificate>> {
        self.certificates(namespace).await
    }

    async fn renew_certificate(&self, namespace: &str, name: &str) -> ClusterResult<()> {
        self.fenced()?;
        self.renew(namespace, name).await
    }

    async fn get_issuer(&self, issuer: &IssuerRef) -> ClusterResult<Issuer> {
        self.issuer(issuer).await
    }

    async fn set_ca_issuer_secret(
        &self,
        issuer: &IssuerRef,
        secret_name: &str,
    ) -> ClusterResult<()> {
        self.fenced()?;
        self.point_ca_issuer(issuer, secret_name).await
    }

    async fn read_secret(&self, namespace: &str, name: &str) -> ClusterResult<Secret> {
        self.secret(namespace, name).await
    }

    async fn write_secret(&self, secret: SecretWrite) -> ClusterResult<String> {
        self.fenced()?;
        self.put_secret(secret).await
    }

    async fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
        resource_version: &str,
    ) -> ClusterResult<()> {
        self.fenced()?;
        self.remove_secret(namespace, name, resource_version).await
    }

    async fn read_config_map(&self, namespace: &str, name: &str) -> ClusterResult<ConfigMap> {
        self.config_map(namespace, name).await
    }

    async fn trust_manager_setup(
        &self,
    ) -> ClusterResult<Option<crate::cluster::trust_manager::TrustManagerSetup>> {
        self.read_trust_manager_setup().await.map(Some)
    }

    async fn write_config_map(&self, config_map: ConfigMapWrite) -> ClusterResult<String> {
        self.fenced()?;
        self.put_config_map(config_map).await
    }

    async fn list_events(
        &self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>> {
        self.events(involved, reason).await
    }

    async fn record_event(
        &self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()> {
        self.fenced()?;
        self.publish_event(involved, type_, reason, message).await
    }

    async fn load_progress(&self) -> ClusterResult<Option<String>> {
        self.read_progress().await
    }

    async fn save_progress(&self, record: &str) -> ClusterResult<()> {
        self.fenced()?;
        self.write_progress(record).await
    }

    async fn clear_progress(&self) -> ClusterResult<()> {
        self.fenced()?;
        self.delete_progress().await
    }

    async fn now(&self) -> Timestamp {
        self.clock.now().await
    }

    async fn wait(&self, seconds: u32) -> ClusterResult<()> {
        self.clock.sleep(seconds).await;
        Ok(())
    }
}

/// `ns/name` for messages.
fn qualified(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// A guard against names that would build a different URL than meant.
fn check_name(what: &str, name: &str) -> ClusterResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(ClusterError::Invalid(format!(
            "{what} {name:?} is not a valid Kubernetes name"
        )))
    }
}
