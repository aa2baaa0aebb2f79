//! Between rotations every member of a multicluster mesh keeps a copy of
//! the home's anchor in its anchor Secret, which its CA issuer signs its
//! identity issuer with. A member whose Secret holds another anchor would,
//! at its next issuer renewal, sign leaves no other cluster trusts, even
//! while every bundle still overlaps; `plan` and `run` refuse such a mesh
//! before any lock or write. Mid-rotation (a progress record in any
//! cluster) the copies differ for a step, and the policy's own records
//! judge them. The Secret of Linkerd's standard name is read; a cluster
//! without one is not compared.

use crate::cluster::{Cluster, ClusterError};
use crate::linkerd::{CERT_MANAGER_NS, TRUST_ANCHOR};
use crate::shared_anchor::TrustedAnchor;

use super::connect::Member;
use super::{CommandError, KubeCommandError};

/// The anchor a cluster's anchor Secret holds, if it has one.
async fn anchor_of(member: &Member) -> Result<Option<TrustedAnchor>, CommandError> {
    let failed =
        |source| KubeCommandError::in_member(&member.name, "reading its anchor Secret", source);
    let secret = match member.kube.read_secret(CERT_MANAGER_NS, TRUST_ANCHOR).await {
        Ok(s) => s,
        Err(ClusterError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(failed(e).into()),
    };
    let Some((_, pem)) = secret.data.iter().find(|(k, _)| k == "tls.crt") else {
        return Ok(None);
    };
    let summaries = crate::x509::parse_pem(&String::from_utf8_lossy(pem)).map_err(|e| {
        CommandError::Refused(format!(
            "cluster {}: Secret {CERT_MANAGER_NS}/{TRUST_ANCHOR} tls.crt does not parse: {}",
            member.name,
            e.detail()
        ))
    })?;
    Ok(summaries.into_iter().next().map(|s| TrustedAnchor {
        subject: s.subject,
        fingerprint_sha256: s.fingerprint_sha256,
    }))
}

/// Refuse when, with no rotation in progress, a member's anchor Secret
/// holds another anchor than the home's (`members`: home first).
pub async fn anchor_copies_agree(members: &[Member]) -> Result<(), CommandError> {
    for m in members {
        let record = m.kube.load_progress().await.map_err(|source| {
            KubeCommandError::in_member(&m.name, "read the progress record", source)
        })?;
        if record.is_some() {
            return Ok(());
        }
    }
    let Some((home, rest)) = members.split_first() else {
        return Ok(());
    };
    let Some(theirs) = anchor_of(home).await? else {
        return Ok(());
    };
    let mut differ = Vec::new();
    for m in rest {
        if let Some(own) = anchor_of(m).await?
            && own.fingerprint_sha256 != theirs.fingerprint_sha256
        {
            differ.push(format!(
                "{}'s anchor Secret {CERT_MANAGER_NS}/{TRUST_ANCHOR} holds {own}, {}'s holds {theirs}",
                m.name, home.name
            ));
        }
    }
    if differ.is_empty() {
        return Ok(());
    }
    Err(CommandError::Refused(format!(
        "the clusters do not share a trust anchor: {}; a member keeps a copy of the home's anchor \
         (certificate and key); nothing was changed",
        differ.join("; ")
    )))
}
