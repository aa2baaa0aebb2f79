//! The shared-anchor check over the clusters a run configuration lists, as
//! `status`, `plan` and `run` use it, and why `plan` and `run` stop there;
//! `simulate` and `test` model one cluster and refuse such a configuration.

use crate::config::RunConfig;
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
            .map_err(|source| KubeCommandError::Member {
                cluster: m.name.clone(),
                source: Box::new(KubeCommandError::Cluster {
                    what: "reading its trust roots and identity issuer",
                    source,
                }),
            })?;
        trust.push(read);
    }
    Ok(verdict(&trust, |i, cert, anchor| {
        crate::cluster::Cluster::verify_signed_by(&members[i].kube, cert, anchor)
    }))
}

/// Why `plan` and `run` do not start on a configuration that lists
/// clusters: they do not share an anchor today, or they do and rotating
/// across them needs the multicluster policy contract, which this rotor
/// does not have. The clusters are only read: no lock, no write.
pub async fn refusal(cluster: &ClusterArgs, config: &RunConfig) -> CommandError {
    let members = match cluster.connect_members(&config.clusters).await {
        Ok(members) => members,
        Err(e) => return e.into(),
    };
    match check(&members).await {
        Err(e) => e.into(),
        Ok(shared) if !shared.ok() => CommandError::Refused(format!(
            "the clusters do not share a trust anchor: {}",
            shared.line()
        )),
        Ok(shared) => CommandError::Refused(format!(
            "rotating across clusters needs the multicluster policy contract, which this rotor does not have; nothing was changed ({})",
            shared.line()
        )),
    }
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
