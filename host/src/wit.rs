//! The host side of the `rotor:policy` WIT contract.
//!
//! The generated records and enums are also the vocabulary of the
//! [`Cluster`](crate::cluster::Cluster) trait: they are plain data, and using
//! them directly keeps the trait and the contract from drifting apart.

wasmtime::component::bindgen!({
    world: "policy",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});

pub use self::rotor::policy::certificates::{Certificate, Condition, Issuer};
pub use self::rotor::policy::clusters::ClusterInfo;
pub use self::rotor::policy::config_maps::{ConfigMap, ConfigMapWrite};
pub use self::rotor::policy::events::{Event, EventType};
pub use self::rotor::policy::log::Level;
pub use self::rotor::policy::namespaces::Namespace;
pub use self::rotor::policy::pods::{Pod, PodSummary};
pub use self::rotor::policy::secrets::{Secret, SecretWrite};
pub use self::rotor::policy::types::{KeyValue, ObjectRef, Timestamp, WorkloadKind};
pub use self::rotor::policy::workloads::{
    RolloutOutcome, RolloutPhase, RolloutStatus, UpdateStrategy, Workload, WorkloadRef,
};
pub use self::rotor::policy::x509::{CertificateKey, CertificateSummary};

/// The WIT package this host implements; a policy built against a newer
/// minor version cannot run here.
pub const WIT_PACKAGE: &str = "rotor:policy@0.1.6";

impl WorkloadKind {
    /// The Kubernetes `kind` string.
    pub fn as_kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }

    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "Deployment" => Some(WorkloadKind::Deployment),
            "StatefulSet" => Some(WorkloadKind::StatefulSet),
            "DaemonSet" => Some(WorkloadKind::DaemonSet),
            _ => None,
        }
    }
}

impl PodSummary {
    /// `pod` without its labels and with only the `annotations` asked for,
    /// in the order asked.
    pub fn of(pod: Pod, annotations: &[String]) -> Self {
        Self::answering(pod, annotations, None)
    }

    /// [`PodSummary::of`], with `not_ready` as the answer to
    /// [`NOT_READY_KEY`](crate::linkerd::NOT_READY_KEY) when asked. That key
    /// is the host's: a pod's own annotation of that name is never returned.
    pub fn answering(pod: Pod, annotations: &[String], not_ready: Option<String>) -> Self {
        let mut kept = Vec::new();
        for key in annotations {
            if key == crate::linkerd::NOT_READY_KEY {
                if let Some(why) = &not_ready {
                    kept.push(KeyValue::new(key, why));
                }
            } else if let Some(kv) = pod.annotations.iter().find(|kv| kv.key == *key) {
                kept.push(kv.clone());
            }
        }
        let mut containers = pod.containers;
        containers.extend(pod.init_containers);
        PodSummary {
            namespace: pod.namespace,
            name: pod.name,
            annotations: kept,
            containers,
            ready: pod.ready,
            phase: pod.phase,
            node_name: pod.node_name,
            start_time: pod.start_time,
            owner: pod.owner,
        }
    }
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}
