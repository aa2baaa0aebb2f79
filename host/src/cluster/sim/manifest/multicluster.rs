//! The `Simulation` fields of a multicluster scenario: which cluster a
//! section describes, and the traffic its pods send to other clusters.

use serde::{Deserialize, Serialize};

/// `spec.cluster`: the cluster a section of a multicluster scenario describes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub name: String,
    /// The cluster whose cert-manager issues the shared trust anchor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub home: bool,
}

/// How a pod reaches a workload of another cluster.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MulticlusterMode {
    /// Through the target cluster's `linkerd-gateway`: one mTLS connection
    /// to the gateway, another from the gateway to the target pod.
    #[default]
    Gateway,
    /// Pod to pod: one mTLS connection straight to the target pod.
    Flat,
}

/// `spec.multicluster`: this cluster's gateway and what its pods call in
/// other clusters.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MulticlusterSpec {
    /// How this cluster's pods reach other clusters.
    #[serde(default)]
    pub mode: MulticlusterMode,
    /// This cluster's gateway (`namespace/name` of a Deployment, or
    /// `namespace/Kind/name`), the hop other clusters' gateway traffic
    /// takes. Default `linkerd-multicluster/linkerd-gateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<RemoteTraffic>,
}

/// The gateway a cluster has unless its `spec.multicluster.gateway` says.
pub const DEFAULT_GATEWAY: &str = "linkerd-multicluster/linkerd-gateway";

impl MulticlusterSpec {
    pub fn gateway(&self) -> &str {
        self.gateway.as_deref().unwrap_or(DEFAULT_GATEWAY)
    }
}

/// A workload of this cluster calling a workload of another.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteTraffic {
    /// `namespace/name` or `namespace/Kind/name` in this cluster.
    pub from: String,
    pub to: RemoteWorkload,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWorkload {
    pub cluster: String,
    /// `namespace/name` or `namespace/Kind/name` in that cluster.
    pub workload: String,
}
