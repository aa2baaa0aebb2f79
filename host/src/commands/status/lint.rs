//! The preflight lint in `rotor status`: the same rules the default
//! policy's preflight applies (`rotor-trust-lint`), over the anchor and
//! issuer Certificates and their Secrets' certificates, read with the
//! host's X.509 parser. A refusal is a finding that needs attention (the
//! next rotation would stop on it); a warning is shown only.

use rotor_trust_lint::{Facts, Limits, Severity, lint};
use serde::Serialize;

use super::StatusArgs;
use crate::cluster::{Cluster, ClusterError};
use crate::linkerd::{ANCHOR_CERTIFICATE, ISSUER_CERTIFICATE};
use crate::wit::Certificate;

/// One lint finding as status shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LintFinding {
    /// `refusal` (the next rotation stops on it) or `warning`.
    pub severity: &'static str,
    pub rule: &'static str,
    /// One line naming the Certificate and the problem.
    pub line: String,
}

/// The facts of `cert` from its Secret's `tls.crt`; `None` when the
/// Secret or its certificate is missing (status reports that elsewhere).
async fn facts(cluster: &dyn Cluster, cert: &Certificate) -> Result<Option<Facts>, ClusterError> {
    let secret = match cluster
        .read_secret(&cert.namespace, &cert.secret_name)
        .await
    {
        Ok(s) => s,
        Err(ClusterError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some((_, pem)) = secret.data.iter().find(|(k, _)| k == "tls.crt") else {
        return Ok(None);
    };
    let pem = String::from_utf8_lossy(pem);
    let (Ok(summaries), Ok(keys)) = (
        crate::x509::parse_pem(&pem),
        crate::x509::parse_pem_keys(&pem),
    ) else {
        return Ok(None);
    };
    let (Some(summary), Some(key)) = (summaries.first(), keys.first()) else {
        return Ok(None);
    };
    Ok(Some(Facts {
        object: format!("{}/{}", cert.namespace, cert.name),
        key_algorithm: key.algorithm.clone(),
        key_bits: key.bits,
        is_ca: summary.is_ca,
        key_cert_sign: key.key_cert_sign,
        not_before: summary.not_before,
        not_after: summary.not_after,
        renewal_time: cert.renewal_time,
        renewal_disabled: cert.renewal_disabled,
    }))
}

/// The lint's findings for the standard anchor and issuer Certificates
/// among `certs`, judged as for the next full rotation.
pub async fn findings(
    cluster: &dyn Cluster,
    certs: &[Certificate],
    args: &StatusArgs,
    now: i64,
) -> Result<Vec<LintFinding>, ClusterError> {
    let find =
        |(ns, name): (&str, &str)| certs.iter().find(|c| c.namespace == ns && c.name == name);
    let (Some(anchor), Some(issuer)) = (find(ANCHOR_CERTIFICATE), find(ISSUER_CERTIFICATE)) else {
        return Ok(vec![]);
    };
    let (Some(anchor), Some(issuer)) =
        (facts(cluster, anchor).await?, facts(cluster, issuer).await?)
    else {
        return Ok(vec![]);
    };
    let limits = Limits {
        now,
        run_seconds: i64::from(args.run_seconds),
        next_run_seconds: i64::from(args.schedule_interval_seconds),
        full: true,
    };
    Ok(lint(&anchor, &issuer, &limits)
        .into_iter()
        .map(|f| LintFinding {
            severity: f.severity.name(),
            rule: f.rule,
            line: f.line(),
        })
        .collect())
}

/// Whether a finding stops the next rotation.
pub fn is_refusal(f: &LintFinding) -> bool {
    f.severity == Severity::Refusal.name()
}
