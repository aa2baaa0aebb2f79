//! The cluster primitives policies act through, behind one trait.
//!
//! The wasmtime bindings call the guard, the guard calls `dyn Cluster`.
//! Nothing above this trait knows which backend it talks to; nothing below it
//! knows about WebAssembly.

pub mod faults;
pub mod issuer;
pub mod kube;
pub mod retry;
pub mod selector;
pub mod sim;
pub mod trust_manager;

use async_trait::async_trait;

pub use issuer::{IssuerKind, IssuerRef};

use crate::wit::{
    Certificate, ConfigMap, ConfigMapWrite, Event, EventType, Issuer, Namespace, ObjectRef, Pod,
    PodSummary, RolloutOutcome, RolloutStatus, Secret, SecretWrite, Timestamp, Workload,
    WorkloadKind, WorkloadRef,
};

/// Which kind of cluster a backend is. The simulator's clock is virtual, so
/// wall-clock limits and progress timing differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The simulator (and the in-memory fake): virtual time.
    Simulated,
    /// A real API server: wall-clock time.
    Kubernetes,
}

impl Backend {
    /// The name policies read from the `backend` import and reports carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Simulated => "simulated",
            Backend::Kubernetes => "kubernetes",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a backend call failed. Maps one to one onto the WIT `error` variant.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl ClusterError {
    /// The message without its kind.
    pub fn detail(&self) -> &str {
        match self {
            ClusterError::Denied(m)
            | ClusterError::NotFound(m)
            | ClusterError::Conflict(m)
            | ClusterError::Invalid(m)
            | ClusterError::Timeout(m)
            | ClusterError::Unavailable(m)
            | ClusterError::Internal(m) => m,
        }
    }

    /// Worth retrying: the same call may succeed a moment later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClusterError::Unavailable(_) | ClusterError::Timeout(_)
        )
    }
}

impl From<ClusterError> for crate::wit::Error {
    fn from(e: ClusterError) -> Self {
        use crate::wit::Error as W;
        match e {
            ClusterError::Denied(m) => W::Denied(m),
            ClusterError::NotFound(m) => W::NotFound(m),
            ClusterError::Conflict(m) => W::Conflict(m),
            ClusterError::Invalid(m) => W::Invalid(m),
            ClusterError::Timeout(m) => W::Timeout(m),
            ClusterError::Unavailable(m) => W::Unavailable(m),
            ClusterError::Internal(m) => W::Internal(m),
        }
    }
}

pub type ClusterResult<T> = Result<T, ClusterError>;

/// The custom owner kinds `restart-owner` knows, with their API group,
/// version and plural.
pub const ROLLOUT: (&str, &str, &str, &str) = ("Rollout", "argoproj.io", "v1alpha1", "rollouts");
pub const STRIMZI_POD_SET: (&str, &str, &str, &str) = (
    "StrimziPodSet",
    "core.strimzi.io",
    "v1beta2",
    "strimzipodsets",
);

/// The annotation that asks the Strimzi Cluster Operator to roll a set's pods.
pub const STRIMZI_MANUAL_ROLLING_UPDATE: &str = "strimzi.io/manual-rolling-update";

/// `Invalid` unless `kind` is one `restart-owner` knows.
pub fn check_owner_kind(kind: &str) -> ClusterResult<()> {
    if kind == ROLLOUT.0 || kind == STRIMZI_POD_SET.0 {
        return Ok(());
    }
    Err(ClusterError::Invalid(format!(
        "restart-owner supports kinds Rollout (argoproj.io) and StrimziPodSet (core.strimzi.io), not {kind:?}"
    )))
}

/// The most of a pod's `/metrics` a call returns: Linkerd's identity
/// serves a few kilobytes; anything far larger is not what a gate reads.
pub const MAX_METRICS_BYTES: usize = 1 << 20;

/// `Invalid` unless `text` fits [`MAX_METRICS_BYTES`].
pub fn check_metrics_size(what: &str, text: String) -> ClusterResult<String> {
    if text.len() > MAX_METRICS_BYTES {
        return Err(ClusterError::Invalid(format!(
            "{what}: {} bytes, more than the {MAX_METRICS_BYTES} a metrics read returns",
            text.len()
        )));
    }
    Ok(text)
}

/// The statuses no longer progressing, by position.
pub fn finished(statuses: Vec<RolloutStatus>) -> Vec<RolloutOutcome> {
    statuses
        .into_iter()
        .enumerate()
        .filter(|(_, s)| s.phase != crate::wit::RolloutPhase::Progressing)
        .map(|(i, status)| RolloutOutcome {
            index: i as u32,
            status,
        })
        .collect()
}

/// One backend: a real API server ([`kube::KubeCluster`]) or the simulator
/// ([`sim::SimCluster`]). Methods mirror the WIT primitives; selectors are
/// Kubernetes label-selector strings (`""` matches everything).
#[async_trait]
pub trait Cluster: Send + Sync {
    fn backend(&self) -> Backend;

    /// Whether the first certificate of `cert_pem` is signed by the first of
    /// `issuer_pem`. The simulator overrides it: it signs in the stead of CAs
    /// whose keys a scenario never holds (see `sim/pki.rs`).
    fn verify_signed_by(&self, cert_pem: &str, issuer_pem: &str) -> ClusterResult<bool> {
        crate::x509::verify_signed_by(cert_pem, issuer_pem)
    }

    async fn list_namespaces(&self, selector: &str) -> ClusterResult<Vec<Namespace>>;

    async fn list_workloads(
        &self,
        namespace: Option<&str>,
        kind: Option<WorkloadKind>,
        selector: &str,
    ) -> ClusterResult<Vec<Workload>>;

    async fn get_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Workload>;

    /// Set `kubectl.kubernetes.io/restartedAt` on the pod template; refuse a
    /// paused Deployment with `Invalid`. Returns the timestamp written.
    async fn restart_workload(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<Timestamp>;

    async fn rollout_status(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> ClusterResult<RolloutStatus>;

    /// Until complete or failed, or `timeout_seconds` pass (then the last
    /// `Progressing` status is returned).
    async fn wait_rollout(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
        timeout_seconds: u32,
    ) -> ClusterResult<RolloutStatus>;

    /// Until at least one of `targets` is complete or failed, or
    /// `timeout_seconds` pass; those no longer progressing, by position.
    /// `cluster_wide`: the run may read every namespace, so a backend may
    /// watch a kind across the cluster instead of per namespace.
    async fn wait_rollouts(
        &self,
        targets: &[WorkloadRef],
        timeout_seconds: u32,
        cluster_wide: bool,
    ) -> ClusterResult<Vec<RolloutOutcome>>;

    /// Ask `owner`'s controller to restart its pods: a Rollout's
    /// `spec.restartAt`, a StrimziPodSet's `strimzi.io/manual-rolling-update`
    /// annotation; `Invalid` for any other kind. Returns the time written.
    async fn restart_owner(&self, owner: &ObjectRef) -> ClusterResult<Timestamp>;

    async fn list_pods(&self, namespace: Option<&str>, selector: &str) -> ClusterResult<Vec<Pod>>;

    /// `list_pods` reduced to `annotations` (see [`PodSummary::of`]). A
    /// backend holding pods in memory overrides it to skip building whole
    /// pods: gates poll every meshed pod of the mesh with it.
    async fn list_pod_summaries(
        &self,
        namespace: Option<&str>,
        selector: &str,
        annotations: &[String],
    ) -> ClusterResult<Vec<PodSummary>> {
        let pods = self.list_pods(namespace, selector).await?;
        Ok(pods
            .into_iter()
            .map(|p| PodSummary::of(p, annotations))
            .collect())
    }

    /// The pods of `list_pods(namespace, selector)` being deleted
    /// (deletionTimestamp set), as `namespace/name`. Host-only (policies see
    /// no such field): `rotor status` leaves them out of its proxy counts.
    /// A backend whose deletions take effect at once has none.
    async fn terminating_pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> ClusterResult<std::collections::BTreeSet<String>> {
        let _ = (namespace, selector);
        Ok(std::collections::BTreeSet::new())
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> ClusterResult<()>;

    async fn evict_pod(&self, namespace: &str, name: &str) -> ClusterResult<()>;

    /// What the pod serves at `/metrics` on `port`, through the API
    /// server's pod proxy; at most [`MAX_METRICS_BYTES`].
    async fn get_pod_metrics(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> ClusterResult<String>;

    async fn get_certificate(&self, namespace: &str, name: &str) -> ClusterResult<Certificate>;

    async fn list_certificates(&self, namespace: Option<&str>) -> ClusterResult<Vec<Certificate>>;

    /// cmctl's renew: Issuing=True, reason ManuallyTriggered, on /status.
    async fn renew_certificate(&self, namespace: &str, name: &str) -> ClusterResult<()>;

    /// An Issuer or a ClusterIssuer; `not-found` naming the kind.
    async fn get_issuer(&self, issuer: &IssuerRef) -> ClusterResult<Issuer>;

    /// Set `spec.ca.secretName` of a CA issuer (`invalid` for any other
    /// type, which is left unchanged). The Secret need not exist: the
    /// issuer then reports itself not ready, as cert-manager does.
    async fn set_ca_issuer_secret(
        &self,
        issuer: &IssuerRef,
        secret_name: &str,
    ) -> ClusterResult<()>;

    async fn read_secret(&self, namespace: &str, name: &str) -> ClusterResult<Secret>;

    /// Create or update with optimistic concurrency; returns the new resourceVersion.
    async fn write_secret(&self, secret: SecretWrite) -> ClusterResult<String>;

    /// Delete only while the Secret is still at `resource_version`
    /// (`Conflict` otherwise): Kubernetes refuses to change a Secret's type
    /// in place, so a write of another type deletes it first.
    async fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
        resource_version: &str,
    ) -> ClusterResult<()>;

    async fn read_config_map(&self, namespace: &str, name: &str) -> ClusterResult<ConfigMap>;

    /// Create or replace with optimistic concurrency (as
    /// [`Cluster::write_secret`]); returns the new resourceVersion.
    async fn write_config_map(&self, config_map: ConfigMapWrite) -> ClusterResult<String>;

    async fn list_events(
        &self,
        involved: &ObjectRef,
        reason: Option<&str>,
    ) -> ClusterResult<Vec<Event>>;

    async fn record_event(
        &self,
        involved: &ObjectRef,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> ClusterResult<()>;

    async fn load_progress(&self) -> ClusterResult<Option<String>>;

    async fn save_progress(&self, record: &str) -> ClusterResult<()>;

    async fn clear_progress(&self) -> ClusterResult<()>;

    /// Unix seconds; virtual in the simulator.
    async fn now(&self) -> Timestamp;

    /// Sleep; in the simulator this advances the virtual clock.
    async fn wait(&self, seconds: u32) -> ClusterResult<()>;

    /// How trust-manager is set up to write the trust roots (read by
    /// `status`); `None`: this backend does not say.
    async fn trust_manager_setup(&self) -> ClusterResult<Option<trust_manager::TrustManagerSetup>> {
        Ok(None)
    }
}
