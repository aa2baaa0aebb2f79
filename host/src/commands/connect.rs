//! How `run`, `status` and `plan` reach the cluster (`ClusterArgs`, which
//! each flattens into its command line), or each cluster a run
//! configuration's `clusters` lists (`Member`), and why talking to one
//! failed (`KubeCommandError`): one definition the three commands share.

use std::path::PathBuf;

use crate::cluster::Cluster;
use crate::cluster::kube::{ConnectError, ConnectOptions, KubeCluster, connect};
use crate::config::{ClusterEntry, ClusterSource, KubeconfigSecret};
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

    /// One `KubeCluster` per entry of `clusters`, in order: a `context` of
    /// the kubeconfig these flags name (or the default one), or the
    /// kubeconfig a `kubeconfigSecret` holds, read through the cluster
    /// these flags reach (the one rotor runs in). rotor's namespace is the
    /// same in every cluster. Errors name the cluster.
    pub async fn connect_members(
        &self,
        clusters: &[ClusterEntry],
    ) -> Result<Vec<Member>, KubeCommandError> {
        let mut local: Option<KubeCluster> = None;
        let mut members = Vec::with_capacity(clusters.len());
        for entry in clusters {
            let client = match entry.source() {
                ClusterSource::Context(context) => connect::client(&ConnectOptions {
                    kubeconfig: self.kubeconfig.clone(),
                    context: Some(context.to_string()),
                })
                .await
                .map_err(KubeCommandError::from),
                ClusterSource::Secret(secret) => {
                    let here = match local.take() {
                        Some(here) => here,
                        None => self.connect().await?,
                    };
                    let client = member_client(&here, secret).await;
                    local = Some(here);
                    client
                }
            };
            let client = client.map_err(|source| KubeCommandError::Member {
                cluster: entry.name.clone(),
                source: Box::new(source),
            })?;
            members.push(Member {
                name: entry.name.clone(),
                home: entry.home,
                kube: KubeCluster::new(client, self.rotor_namespace()),
            });
        }
        Ok(members)
    }
}

/// A client from the kubeconfig `secret` holds in `local`'s cluster.
async fn member_client(
    local: &KubeCluster,
    secret: &KubeconfigSecret,
) -> Result<kube::Client, KubeCommandError> {
    let at = format!("{}/{}", secret.namespace, secret.name);
    let bad = |message: String| KubeCommandError::KubeconfigSecret {
        secret: at.clone(),
        message,
    };
    let read = local
        .read_secret(&secret.namespace, &secret.name)
        .await
        .map_err(|e| bad(format!("cannot read it: {e}")))?;
    let Some((_, bytes)) = read.data.iter().find(|(k, _)| *k == secret.key) else {
        return Err(bad(format!("has no key {:?}", secret.key)));
    };
    let yaml = std::str::from_utf8(bytes)
        .map_err(|_| bad(format!("key {:?} is not UTF-8 text", secret.key)))?;
    let from = format!("Secret {at} key {:?}", secret.key);
    Ok(connect::client_from_kubeconfig_yaml(yaml, &from).await?)
}

/// One cluster of a multicluster run, connected.
pub struct Member {
    /// The name the run configuration gives it.
    pub name: String,
    /// Whether its cert-manager issues the shared anchor.
    pub home: bool,
    pub kube: KubeCluster,
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
    #[error("kubeconfig Secret {secret}: {message}")]
    KubeconfigSecret { secret: String, message: String },
    /// One cluster of a multicluster run, named.
    #[error("cluster {cluster}: {source}")]
    Member {
        cluster: String,
        source: Box<KubeCommandError>,
    },
}

impl KubeCommandError {
    /// `what` failed against the cluster named `cluster` of a multicluster run.
    pub fn in_member(
        cluster: &str,
        what: &'static str,
        source: crate::cluster::ClusterError,
    ) -> KubeCommandError {
        KubeCommandError::Member {
            cluster: cluster.to_string(),
            source: Box::new(KubeCommandError::Cluster { what, source }),
        }
    }
}
