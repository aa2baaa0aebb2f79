//! The shared-anchor check over the clusters a run configuration lists, as
//! `status`, `plan` and `run` use it, and what `plan` and `run` refuse
//! before touching anything: clusters without a shared anchor, a policy
//! that rotates one cluster. `simulate` and `test` model one cluster and
//! refuse such a configuration.

use crate::config::RunConfig;
use crate::runtime::LoadedPolicy;
use crate::shared_anchor::{ClusterTrust, SharedAnchor, verdict};

use super::connect::Member;
use super::{ClusterArgs, CommandError, KubeCommandError};

/// Read every member's trust roots and identity issuer (read-only) and
/// judge them; each issuer is verified as its own cluster's backend does.
pub async fn check(members: &[Member]) -> Result<SharedAnchor, KubeCommandError> {
    let mut trust = Vec::with_capacity(members.len());
    for m in members {
        let read = ClusterTrust::read(&m.name, &m.kube)
            .await
            .map_err(|source| {
                KubeCommandError::in_member(
                    &m.name,
                    "reading its trust roots and identity issuer",
                    source,
                )
            })?;
        trust.push(read);
    }
    Ok(verdict(&trust, |i, cert, anchor| {
        crate::cluster::Cluster::verify_signed_by(&members[i].kube, cert, anchor)
    }))
}

/// The clusters, connected, once they are known to share an anchor;
/// otherwise the refusal naming what differs. The clusters are only read:
/// no lock, no write.
pub async fn sharing_an_anchor(
    cluster: &ClusterArgs,
    config: &RunConfig,
) -> Result<Vec<Member>, CommandError> {
    let members = cluster.connect_members(&config.clusters).await?;
    let shared = check(&members).await?;
    if !shared.ok() {
        return Err(CommandError::Refused(format!(
            "the clusters do not share a trust anchor: {}",
            shared.line()
        )));
    }
    Ok(members)
}

/// A policy that does not import `rotor:policy/clusters` cannot tell the
/// clusters apart: run over several, it would rotate whichever it reached.
pub fn selects_clusters(policy: &LoadedPolicy, config: &RunConfig) -> Result<(), CommandError> {
    if policy.selects_clusters {
        return Ok(());
    }
    Err(CommandError::Refused(format!(
        "{} rotates one cluster (it does not import rotor:policy/clusters), and this configuration lists {} clusters; nothing was changed",
        policy.label,
        config.clusters.len()
    )))
}

/// `simulate` and `test` run one simulated cluster: a configuration that
/// lists clusters is refused rather than silently simulated as one.
pub fn one_cluster_only(config: &RunConfig, command: &str) -> Result<(), CommandError> {
    if !config.is_multicluster() {
        return Ok(());
    }
    Err(CommandError::Refused(format!(
        "`rotor {command}` simulates one cluster, and this configuration lists {} clusters; \
         drop `clusters` to simulate the mesh of one",
        config.clusters.len()
    )))
}
