//! How `run`, `status` and `plan` reach the cluster (`ClusterArgs`, which
//! each flattens into its command line) and why talking to it failed
//! (`KubeCommandError`): one definition the three commands share.

use std::path::PathBuf;

use crate::cluster::kube::{ConnectError, ConnectOptions, KubeCluster, connect};
use crate::lock::LockError;

/// How to reach the cluster, shared by `run`, `status` and `plan`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// kubeconfig file [default: $KUBECONFIG, ~/.kube/config, then in-cluster].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use [default: the current one].
    #[arg(long)]
    pub context: Option<String>,
    /// rotor's own namespace (run lock, progress record) [default: the pod's namespace, else rotor-system].
    #[arg(long)]
    pub namespace: Option<String>,
}

impl ClusterArgs {
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }

    pub fn rotor_namespace(&self) -> String {
        connect::rotor_namespace(self.namespace.as_deref())
    }

    pub async fn connect(&self) -> Result<KubeCluster, KubeCommandError> {
        Ok(KubeCluster::connect(&self.connect_options(), self.rotor_namespace()).await?)
    }
}

/// Why `run`, `status` or `plan` could not talk to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum KubeCommandError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{what}: {source}")]
    Cluster {
        what: &'static str,
        source: crate::cluster::ClusterError,
    },
    #[error("the cluster's state does not load into the simulator: {0}")]
    Scenario(String),
}
