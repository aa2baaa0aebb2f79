//! The shared-anchor check of a mesh that spans several clusters. Linkerd
//! multicluster needs every linked cluster to trust one anchor while each
//! keeps its own identity issuer signed by it: do all clusters trust a
//! common anchor (the intersection of the trust-roots bundles they
//! distribute, compared by the certificates' SHA-256 fingerprints), and
//! does every cluster's identity issuer chain to an anchor every cluster
//! trusts. What differs is named cluster by cluster, so a person knows
//! where to look. `rotor status` reports it; `plan` and `run` require it.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cluster::{Cluster, ClusterError};
use crate::linkerd::{CONTROL_PLANE_NS, IDENTITY_ISSUER, TRUST_ROOTS, TRUST_ROOTS_KEY};

/// An anchor as the check names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TrustedAnchor {
    pub subject: String,
    pub fingerprint_sha256: String,
}

impl std::fmt::Display for TrustedAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fp = &self.fingerprint_sha256;
        write!(f, "{} (sha256:{})", self.subject, &fp[..16.min(fp.len())])
    }
}

/// What one cluster shows of its trust, read-only.
#[derive(Debug, Clone)]
pub struct ClusterTrust {
    pub cluster: String,
    /// The anchors its trust-roots bundle holds, with their PEM; `Err`
    /// says why none could be read.
    pub anchors: Result<Vec<(TrustedAnchor, String)>, String>,
    /// Its identity issuer's certificate (PEM); `Err` says why none.
    pub issuer: Result<String, String>,
}

impl ClusterTrust {
    /// Read `cluster`'s trust roots and identity issuer. A missing or
    /// malformed object is a finding; an API failure is an error.
    pub async fn read(name: &str, cluster: &dyn Cluster) -> Result<Self, ClusterError> {
        Ok(ClusterTrust {
            cluster: name.to_string(),
            anchors: bundle(cluster).await?,
            issuer: issuer(cluster).await?,
        })
    }

    fn fingerprints(&self) -> BTreeSet<&str> {
        match &self.anchors {
            Ok(anchors) => anchors
                .iter()
                .map(|(a, _)| a.fingerprint_sha256.as_str())
                .collect(),
            Err(_) => BTreeSet::new(),
        }
    }
}

async fn bundle(
    cluster: &dyn Cluster,
) -> Result<Result<Vec<(TrustedAnchor, String)>, String>, ClusterError> {
    let at = format!("{CONTROL_PLANE_NS}/{TRUST_ROOTS}");
    let cm = match cluster.read_config_map(CONTROL_PLANE_NS, TRUST_ROOTS).await {
        Ok(cm) => cm,
        Err(ClusterError::NotFound(_)) => return Ok(Err(format!("ConfigMap {at} not found"))),
        Err(e) => return Err(e),
    };
    let Some(kv) = cm.data.iter().find(|kv| kv.key == TRUST_ROOTS_KEY) else {
        return Ok(Err(format!("{at} has no {TRUST_ROOTS_KEY}")));
    };
    let parsed = crate::x509::parse_pem(&kv.value)
        .and_then(|summaries| Ok((summaries, crate::x509::certificate_pems(&kv.value)?)));
    Ok(match parsed {
        Ok((summaries, pems)) => Ok(summaries
            .into_iter()
            .zip(pems)
            .map(|(s, pem)| {
                let anchor = TrustedAnchor {
                    subject: s.subject,
                    fingerprint_sha256: s.fingerprint_sha256,
                };
                (anchor, pem)
            })
            .collect()),
        Err(e) => Err(format!(
            "{at} {TRUST_ROOTS_KEY} does not parse: {}",
            e.detail()
        )),
    })
}

/// The issuer's `tls.crt`: the Secret its Certificate names, else the
/// Secret of Linkerd's standard name (an issuer cert-manager does not manage).
async fn issuer(cluster: &dyn Cluster) -> Result<Result<String, String>, ClusterError> {
    let secret_name = match cluster
        .get_certificate(CONTROL_PLANE_NS, IDENTITY_ISSUER)
        .await
    {
        Ok(cert) => cert.secret_name,
        Err(ClusterError::NotFound(_)) => IDENTITY_ISSUER.to_string(),
        Err(e) => return Err(e),
    };
    let at = format!("{CONTROL_PLANE_NS}/{secret_name}");
    let secret = match cluster.read_secret(CONTROL_PLANE_NS, &secret_name).await {
        Ok(s) => s,
        Err(ClusterError::NotFound(_)) => return Ok(Err(format!("Secret {at} not found"))),
        Err(e) => return Err(e),
    };
    let Some((_, pem)) = secret.data.iter().find(|(k, _)| k == "tls.crt") else {
        return Ok(Err(format!("Secret {at} has no tls.crt")));
    };
    Ok(Ok(String::from_utf8_lossy(pem).into_owned()))
}

/// The check's answer.
#[derive(Debug, Clone, Serialize)]
pub struct SharedAnchor {
    /// Anchors every cluster's bundle holds.
    pub shared: Vec<TrustedAnchor>,
    /// What differs, one line each, naming the clusters; empty: every
    /// cluster trusts a common anchor and every issuer chains to one.
    pub problems: Vec<String>,
}

impl SharedAnchor {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// One line: the shared anchor, or every problem.
    pub fn line(&self) -> String {
        if self.ok() {
            let shared: Vec<String> = self.shared.iter().map(ToString::to_string).collect();
            format!(
                "the clusters share anchor {}; every issuer chains to it",
                shared.join(", ")
            )
        } else {
            self.problems.join("; ")
        }
    }
}

/// Judge the clusters' trust. `signed_by` says whether an issuer (PEM) is
/// signed by an anchor (PEM), as the issuer's own cluster verifies it.
pub fn verdict(
    clusters: &[ClusterTrust],
    signed_by: impl Fn(usize, &str, &str) -> Result<bool, ClusterError>,
) -> SharedAnchor {
    let mut problems = Vec::new();
    for c in clusters {
        if let Err(why) = &c.anchors {
            problems.push(format!("{} distributes no trust roots: {why}", c.cluster));
        }
    }
    let every: Vec<(TrustedAnchor, String)> = {
        let mut seen = BTreeSet::new();
        clusters
            .iter()
            .filter_map(|c| c.anchors.as_ref().ok())
            .flatten()
            .filter(|(a, _)| seen.insert(a.fingerprint_sha256.clone()))
            .cloned()
            .collect()
    };
    let sets: Vec<BTreeSet<&str>> = clusters.iter().map(ClusterTrust::fingerprints).collect();
    let trusted_by_all = |fp: &str| sets.iter().all(|s| s.contains(fp));
    let shared: Vec<TrustedAnchor> = every
        .iter()
        .filter(|(a, _)| trusted_by_all(&a.fingerprint_sha256))
        .map(|(a, _)| a.clone())
        .collect();
    let readable: Vec<usize> = (0..clusters.len())
        .filter(|i| clusters[*i].anchors.is_ok())
        .collect();
    if shared.is_empty() && readable.len() > 1 {
        let before = problems.len();
        for (n, &i) in readable.iter().enumerate() {
            for &j in &readable[n + 1..] {
                if sets[i].is_disjoint(&sets[j]) {
                    problems.push(format!(
                        "{} trusts no anchor that {} trusts",
                        clusters[j].cluster, clusters[i].cluster
                    ));
                }
            }
        }
        if problems.len() == before {
            let names: Vec<&str> = readable
                .iter()
                .map(|&i| clusters[i].cluster.as_str())
                .collect();
            problems.push(format!(
                "no anchor is trusted by all of {}",
                names.join(", ")
            ));
        }
    }
    for (i, c) in clusters.iter().enumerate() {
        let pem = match &c.issuer {
            Ok(pem) => pem,
            Err(why) => {
                problems.push(format!(
                    "{}'s identity issuer cannot be read: {why}",
                    c.cluster
                ));
                continue;
            }
        };
        let signers: Result<Vec<&TrustedAnchor>, ClusterError> = every
            .iter()
            .filter_map(|(anchor, anchor_pem)| match signed_by(i, pem, anchor_pem) {
                Ok(true) => Some(Ok(anchor)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            })
            .collect();
        let signers = match signers {
            Ok(signers) => signers,
            Err(e) => {
                problems.push(format!(
                    "{}'s identity issuer cannot be checked: {}",
                    c.cluster,
                    e.detail()
                ));
                continue;
            }
        };
        if signers
            .iter()
            .any(|a| trusted_by_all(&a.fingerprint_sha256))
        {
            continue;
        }
        let Some(anchor) = signers.first() else {
            problems.push(format!(
                "{}'s issuer chains to no anchor any cluster distributes",
                c.cluster
            ));
            continue;
        };
        // A cluster whose roots cannot be read is named above already.
        let distrust: Vec<&str> = clusters
            .iter()
            .zip(&sets)
            .filter(|(other, set)| {
                other.anchors.is_ok() && !set.contains(anchor.fingerprint_sha256.as_str())
            })
            .map(|(other, _)| other.cluster.as_str())
            .collect();
        if distrust.is_empty() {
            continue;
        }
        problems.push(format!(
            "{}'s issuer chains to {anchor}, which {} {} not trust",
            c.cluster,
            distrust.join(", "),
            if distrust.len() == 1 { "does" } else { "do" }
        ));
    }
    SharedAnchor { shared, problems }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    fn ca(cn: &str) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("key");
        CertifiedIssuer::self_signed(params, key)
            .expect("self-signed")
            .pem()
    }

    fn trust(cluster: &str, bundle: &[&String]) -> ClusterTrust {
        let anchors = bundle
            .iter()
            .map(|pem| {
                let s = crate::x509::parse_pem(pem).expect("parses").remove(0);
                let anchor = TrustedAnchor {
                    subject: s.subject,
                    fingerprint_sha256: s.fingerprint_sha256,
                };
                (anchor, (*pem).clone())
            })
            .collect();
        ClusterTrust {
            cluster: cluster.into(),
            anchors: Ok(anchors),
            // The issuers are judged in the API tests; here each is its
            // cluster's first anchor.
            issuer: Ok(bundle[0].clone()),
        }
    }

    #[test]
    fn three_clusters_overlapping_in_pairs_share_no_anchor() {
        let (a, b, c) = (ca("a"), ca("b"), ca("c"));
        let clusters = [
            trust("east", &[&a, &b]),
            trust("west", &[&b, &c]),
            trust("north", &[&c, &a]),
        ];
        let v = verdict(&clusters, |_, cert, anchor| Ok(cert == anchor));
        assert!(v.shared.is_empty());
        assert_eq!(
            v.problems[0],
            "no anchor is trusted by all of east, west, north"
        );
        assert!(
            v.problems[1].starts_with("east's issuer chains to CN=a (sha256:"),
            "{:?}",
            v.problems
        );
        assert!(v.problems[1].ends_with(", which west does not trust"));
    }

    #[test]
    fn a_cluster_without_trust_roots_or_issuer_is_named() {
        let a = ca("a");
        let mut west = trust("west", &[&a]);
        west.anchors = Err("ConfigMap linkerd/linkerd-identity-trust-roots not found".into());
        west.issuer = Err("Secret linkerd/linkerd-identity-issuer not found".into());
        let v = verdict(&[trust("east", &[&a]), west], |_, cert, anchor| {
            Ok(cert == anchor)
        });
        assert_eq!(
            v.problems,
            [
                "west distributes no trust roots: ConfigMap linkerd/linkerd-identity-trust-roots not found",
                "west's identity issuer cannot be read: Secret linkerd/linkerd-identity-issuer not found",
            ]
        );
        assert!(!v.ok());
        let ok = verdict(&[trust("east", &[&a]), trust("west", &[&a])], |_, c, a| {
            Ok(c == a)
        });
        assert!(ok.ok(), "{:?}", ok.problems);
        assert!(
            ok.line()
                .starts_with("the clusters share anchor CN=a (sha256:")
        );
    }
}
