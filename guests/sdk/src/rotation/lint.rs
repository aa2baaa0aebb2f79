//! The preflight lint in the default rotation: the anchor's and issuer's
//! facts, read through `parse-pem` and `parse-pem-keys`, judged by
//! `rotor-trust-lint` (the rules `rotor status` shows too) before a fresh
//! rotation's first change. A refusal stops the run in one line naming the
//! Certificate and the problem; warnings are logged and counted.

use rotor_trust_lint::{Facts, Finding, Limits, first_refusal, lint};

use super::Config;
use crate::RotorError;
use crate::certificates::Certificate;
use crate::error::CallContext;
use crate::x509::{self, CertificateKey, CertificateSummary};

/// What the lint reads of a Certificate and the first certificate of its
/// Secret.
fn facts(cert: &Certificate, summary: &CertificateSummary, key: &CertificateKey) -> Facts {
    Facts {
        object: format!("{}/{}", cert.namespace, cert.name),
        key_algorithm: key.algorithm.clone(),
        key_bits: key.bits,
        is_ca: summary.is_ca,
        key_cert_sign: key.key_cert_sign,
        not_before: summary.not_before,
        not_after: summary.not_after,
        renewal_time: cert.renewal_time,
        renewal_disabled: cert.renewal_disabled,
    }
}

/// The facts of `cert`, whose Secret's `tls.crt` is `pem`.
fn read(cert: &Certificate, pem: &str) -> Result<Facts, RotorError> {
    let what = || format!("secret {}/{} tls.crt", cert.namespace, cert.secret_name);
    let summary = x509::parse_pem(pem).call(|| format!("parse {}", what()))?;
    let keys = x509::parse_pem_keys(pem).call(|| format!("read the key of {}", what()))?;
    match (summary.first(), keys.first()) {
        (Some(summary), Some(key)) => Ok(facts(cert, summary, key)),
        _ => Err(RotorError::State(format!(
            "{} holds no certificate",
            what()
        ))),
    }
}

/// What the run and the configuration allow.
fn limits(cfg: &Config, now: i64) -> Limits {
    Limits {
        now,
        run_seconds: i64::from(cfg.renewal_margin_seconds),
        next_run_seconds: i64::from(cfg.schedule_interval_seconds),
        full: cfg.mode.rotates_anchor(),
    }
}

/// The warning Linkerd's own recommended setup always raises.
const QUIET_RULE: &str = "issuer-renews-before-next-run";

/// Lint the anchor and the issuer (each a Certificate and its Secret's
/// PEM): the first refusal is the run's error; the warnings are logged and
/// returned.
pub(super) fn check(
    cfg: &Config,
    anchor: (&Certificate, &str),
    issuer: (&Certificate, &str),
    now: i64,
) -> Result<Vec<Finding>, RotorError> {
    let found = lint(
        &read(anchor.0, anchor.1)?,
        &read(issuer.0, issuer.1)?,
        &limits(cfg, now),
    );
    if let Some(refusal) = first_refusal(&found) {
        return Err(RotorError::State(refusal.line()));
    }
    for warning in &found {
        let pairs = [("rule", warning.rule)];
        // Linkerd's documented issuer (48 h, renewed 25 h early) renews
        // daily, so this one holds on most installs: logged at info (`-v`,
        // and `status` shows it) rather than a warning on every run.
        if warning.rule == QUIET_RULE {
            crate::info(&warning.line(), &pairs);
        } else {
            crate::warn(&warning.line(), &pairs);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::Mode;

    #[test]
    fn facts_come_from_the_certificate_and_its_secret() {
        let cert = Certificate {
            namespace: "linkerd".into(),
            name: "linkerd-identity-issuer".into(),
            secret_name: "issuer-tls".into(),
            issuer_kind: "ClusterIssuer".into(),
            issuer_name: "linkerd-identity-issuer".into(),
            is_ca: true,
            generation: 1,
            ready: true,
            issuing: false,
            revision: Some(1),
            conditions: vec![],
            not_before: Some(1),
            not_after: Some(2),
            renewal_time: Some(150),
            renewal_disabled: true,
        };
        let summary = CertificateSummary {
            subject: "CN=identity.linkerd.cluster.local".into(),
            issuer: "CN=root.linkerd.cluster.local".into(),
            serial: "01".into(),
            not_before: 100,
            not_after: 200,
            // The certificate says no CA, whatever the Certificate asked.
            is_ca: false,
            fingerprint_sha256: "ab".into(),
            subject_key_id: None,
            authority_key_id: None,
        };
        let key = CertificateKey {
            algorithm: "ecdsa".into(),
            bits: 384,
            key_cert_sign: None,
        };
        let f = facts(&cert, &summary, &key);
        assert_eq!(f.object, "linkerd/linkerd-identity-issuer");
        assert_eq!((f.key_algorithm.as_str(), f.key_bits), ("ecdsa", 384));
        assert!(!f.is_ca);
        assert_eq!((f.not_before, f.not_after), (100, 200));
        assert_eq!((f.renewal_time, f.renewal_disabled), (Some(150), true));
        let cfg = Config {
            mode: Mode::IssuerOnly,
            ..Config::default()
        };
        let l = limits(&cfg, 5);
        assert!(!l.full);
        assert_eq!(
            (l.now, l.run_seconds, l.next_run_seconds),
            (5, 7200, 31 * 86_400)
        );
    }
}
