//! cert-manager Certificates: trigger a re-issue, prove it happened, and copy
//! a certificate (never its key) the way Linkerd's previous-anchor needs it.

use crate::certificates::{self, Certificate};
use crate::error::{CallContext, RotorError, is_conflict, is_not_found};
use crate::fingerprint::short;
use crate::gate::{Check, HostClock, POLL_SECONDS, wait_for};
use crate::secrets::{self, Secret, SecretWrite};
use crate::x509;

/// `namespace/name` of a namespaced object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Named {
    pub namespace: String,
    pub name: String,
}

impl Named {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Named {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What a certificate looked like before a renewal: the gate compares against it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    pub revision: Option<u64>,
    /// SHA-256 of the Secret's `tls.crt` (first certificate).
    pub fingerprint: String,
}

/// A finished re-issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewed {
    pub revision: u64,
    pub fingerprint: String,
}

/// Read a Certificate.
pub fn get(cert: &Named) -> Result<Certificate, RotorError> {
    certificates::get_certificate(&cert.namespace, &cert.name)
        .call(|| format!("get certificate {cert}"))
}

/// Read a Secret.
pub fn read_secret(secret: &Named) -> Result<Secret, RotorError> {
    secrets::read_secret(&secret.namespace, &secret.name).call(|| format!("read secret {secret}"))
}

/// One data key of a Secret as text.
pub fn secret_text(secret: &Secret, key: &str) -> Result<String, RotorError> {
    let bytes = secret
        .data
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| {
            RotorError::State(format!(
                "secret {}/{} has no key {key}",
                secret.namespace, secret.name
            ))
        })?;
    String::from_utf8(bytes.clone()).map_err(|_| {
        RotorError::State(format!(
            "secret {}/{} key {key} is not text",
            secret.namespace, secret.name
        ))
    })
}

/// SHA-256 fingerprint of the first certificate in a PEM text.
pub fn pem_fingerprint(pem: &str, what: &str) -> Result<String, RotorError> {
    let certs = x509::parse_pem(pem).call(|| format!("parse {what}"))?;
    certs
        .first()
        .map(|c| c.fingerprint_sha256.clone())
        .ok_or_else(|| RotorError::State(format!("{what} holds no certificate")))
}

/// The `tls.crt` PEM of a Secret and its fingerprint.
pub fn secret_certificate(secret: &Named) -> Result<(String, String), RotorError> {
    let s = read_secret(secret)?;
    let pem = secret_text(&s, "tls.crt")?;
    let fp = pem_fingerprint(&pem, &format!("secret {secret} tls.crt"))?;
    Ok((pem, fp))
}

/// The Certificate's revision and its Secret's fingerprint, before a renewal.
pub fn baseline(cert: &Named) -> Result<Baseline, RotorError> {
    let c = get(cert)?;
    let (_, fingerprint) = secret_certificate(&Named::new(&cert.namespace, &c.secret_name))?;
    Ok(Baseline {
        revision: c.revision,
        fingerprint,
    })
}

/// Ask cert-manager to re-issue now (what `cmctl renew` does). Does not wait.
pub fn request_renewal(cert: &Named) -> Result<(), RotorError> {
    certificates::renew_certificate(&cert.namespace, &cert.name)
        .call(|| format!("renew certificate {cert}"))
}

/// Ask for a re-issue unless one is under way (`issuing`): a resumed run
/// waits for the issuance an earlier run started.
pub fn request_renewal_unless_issuing(
    cert: &Named,
    issuing: bool,
    what: &str,
) -> Result<(), RotorError> {
    if issuing {
        crate::info(
            &format!("{what} is already being issued; waiting for it"),
            &[("certificate", &cert.to_string())],
        );
        return Ok(());
    }
    request_renewal(cert)
}

/// Whether a re-issue after `before` is done: revision up, Issuing gone,
/// Ready for the current generation, Secret fingerprint changed. A failed
/// issuance (`Issuing=False`) fails the check at once.
pub fn renewal_check(before: &Baseline, cert: &Certificate, fingerprint: &str) -> Check<Renewed> {
    let name = format!("{}/{}", cert.namespace, cert.name);
    if let Some(c) = cert
        .conditions
        .iter()
        .find(|c| c.type_ == "Issuing" && c.status == "False")
    {
        return Check::Fail(format!(
            "certificate {name} issuance failed: {} {}",
            c.reason, c.message
        ));
    }
    let revision_up = match (cert.revision, before.revision) {
        (Some(now), Some(then)) => now > then,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let mut missing = Vec::new();
    if !revision_up {
        missing.push(format!(
            "revision still {}",
            cert.revision
                .map_or_else(|| "unset".to_string(), |r| r.to_string())
        ));
    }
    if cert.issuing {
        missing.push("Issuing still True".to_string());
    }
    if !cert.ready {
        missing.push("not Ready for the current generation".to_string());
    }
    if fingerprint == before.fingerprint {
        missing.push(format!(
            "secret {} still holds {}",
            cert.secret_name,
            short(fingerprint)
        ));
    }
    match (missing.is_empty(), cert.revision) {
        (true, Some(revision)) => Check::Pass(Renewed {
            revision,
            fingerprint: fingerprint.to_string(),
        }),
        _ => Check::Pending(format!("certificate {name}: {}", missing.join(", "))),
    }
}

/// Gate `gate`: wait until the re-issue after `before` is done.
pub fn wait_renewed(
    cert: &Named,
    before: &Baseline,
    gate: &str,
    timeout: u32,
) -> Result<Renewed, RotorError> {
    wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        let c = get(cert)?;
        let (_, fp) = secret_certificate(&Named::new(&cert.namespace, &c.secret_name))?;
        Ok(renewal_check(before, &c, &fp))
    })
}

/// Renew `cert` and wait for the new revision (gate `gate`).
pub fn renew_and_wait(cert: &Named, gate: &str, timeout: u32) -> Result<Renewed, RotorError> {
    let before = baseline(cert)?;
    request_renewal(cert)?;
    wait_renewed(cert, &before, gate, timeout)
}

/// The type of a certificate-only copy: `kubernetes.io/tls` requires a key.
pub const CERTIFICATE_ONLY_TYPE: &str = "Opaque";

/// Whether `secret` is a certificate-only copy: `Opaque`, `tls.crt` alone.
pub fn is_certificate_only(secret: &Secret) -> bool {
    secret.type_ == CERTIFICATE_ONLY_TYPE && secret.data.iter().all(|(k, _)| k == "tls.crt")
}

/// The write that makes `to` hold `from`'s `tls.crt` and nothing else, as an
/// `Opaque` Secret: whoever can read the copy must not be able to sign with
/// it. `to`'s own labels and annotations stay (cert-manager's must not
/// travel: cainjector would adopt the copy); an existing `to` is guarded by
/// its resourceVersion, a missing one (`None`) is created.
pub fn certificate_copy_write(
    from: &Secret,
    to: &Named,
    existing: Option<&Secret>,
) -> Result<SecretWrite, RotorError> {
    let cert = from
        .data
        .iter()
        .find(|(k, _)| k == "tls.crt")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            RotorError::State(format!(
                "secret {}/{} has no key tls.crt",
                from.namespace, from.name
            ))
        })?;
    Ok(SecretWrite {
        namespace: to.namespace.clone(),
        name: to.name.clone(),
        type_: CERTIFICATE_ONLY_TYPE.into(),
        data: vec![("tls.crt".into(), cert)],
        labels: existing.map(|s| s.labels.clone()).unwrap_or_default(),
        annotations: existing.map(|s| s.annotations.clone()).unwrap_or_default(),
        expected_resource_version: existing.map(|s| s.resource_version.clone()),
    })
}

/// Read a Secret that may be missing (`None`).
pub fn read_optional_secret(secret: &Named) -> Result<Option<Secret>, RotorError> {
    match read_secret(secret) {
        Ok(s) => Ok(Some(s)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How many times in all [`copy_certificate`] reads both Secrets and
/// writes, when `to` keeps changing between its read and its write.
pub const COPY_ATTEMPTS: usize = 5;

/// Make `to` a certificate-only copy of `from`'s `tls.crt` (see
/// [`certificate_copy_write`]), creating it when missing. The write is
/// conditional on the `to` just read; if `to` changed in between (409),
/// both are read again and the copy repeated, [`COPY_ATTEMPTS`] times in
/// all, since the copy's outcome does not depend on what `to` held. A `to`
/// of another type (a `kubernetes.io/tls` copy holding a key) is replaced
/// by the host: deleted and created anew. Returns the new resourceVersion.
pub fn copy_certificate(from: &Named, to: &Named) -> Result<String, RotorError> {
    let mut attempt = 1;
    loop {
        let source = read_secret(from)?;
        let target = read_optional_secret(to)?;
        let write = certificate_copy_write(&source, to, target.as_ref())?;
        match secrets::write_secret(&write)
            .call(|| format!("copy the certificate of {from} to {to}"))
        {
            Err(e) if is_conflict(&e) && attempt < COPY_ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificates::Condition;

    pub(crate) fn cert(revision: Option<u64>, issuing: bool, ready: bool) -> Certificate {
        Certificate {
            namespace: "cert-manager".into(),
            name: "linkerd-trust-anchor".into(),
            secret_name: "linkerd-trust-anchor".into(),
            issuer_kind: "Issuer".into(),
            issuer_name: "linkerd-trust-root-issuer".into(),
            is_ca: true,
            generation: 1,
            ready,
            issuing,
            revision,
            conditions: vec![],
            not_before: None,
            not_after: None,
            renewal_time: None,
            renewal_disabled: false,
        }
    }

    fn before() -> Baseline {
        Baseline {
            revision: Some(3),
            fingerprint: "aaaa".into(),
        }
    }

    #[test]
    fn done_only_when_all_four_facts_hold() {
        let c = cert(Some(4), false, true);
        assert_eq!(
            renewal_check(&before(), &c, "bbbb"),
            Check::Pass(Renewed {
                revision: 4,
                fingerprint: "bbbb".into()
            })
        );
    }

    #[test]
    fn ready_alone_proves_nothing() {
        let c = cert(Some(3), false, true);
        match renewal_check(&before(), &c, "aaaa") {
            Check::Pending(saw) => {
                assert!(saw.contains("revision still 3"), "{saw}");
                assert!(saw.contains("still holds aaaa"), "{saw}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn issuing_or_unchanged_secret_keeps_waiting() {
        assert!(matches!(
            renewal_check(&before(), &cert(Some(4), true, true), "bbbb"),
            Check::Pending(_)
        ));
        assert!(matches!(
            renewal_check(&before(), &cert(Some(4), false, true), "aaaa"),
            Check::Pending(_)
        ));
        assert!(matches!(
            renewal_check(&before(), &cert(Some(4), false, false), "bbbb"),
            Check::Pending(_)
        ));
    }

    #[test]
    fn first_revision_counts_as_up() {
        let b = Baseline {
            revision: None,
            fingerprint: "aaaa".into(),
        };
        assert!(matches!(
            renewal_check(&b, &cert(Some(1), false, true), "bbbb"),
            Check::Pass(_)
        ));
    }

    #[test]
    fn failed_issuance_fails_at_once() {
        let mut c = cert(Some(3), false, true);
        c.conditions.push(Condition {
            type_: "Issuing".into(),
            status: "False".into(),
            reason: "Failed".into(),
            message: "issuer not ready".into(),
            observed_generation: Some(1),
            last_transition_time: None,
        });
        match renewal_check(&before(), &c, "aaaa") {
            Check::Fail(saw) => assert!(saw.contains("issuer not ready"), "{saw}"),
            other => panic!("{other:?}"),
        }
    }

    fn kv(k: &str, v: &str) -> crate::KeyValue {
        crate::KeyValue {
            key: k.into(),
            value: v.into(),
        }
    }

    fn anchor_secret() -> Secret {
        Secret {
            namespace: "cert-manager".into(),
            name: "linkerd-trust-anchor".into(),
            type_: "kubernetes.io/tls".into(),
            data: vec![
                ("ca.crt".into(), b"CA".to_vec()),
                ("tls.crt".into(), b"NEW".to_vec()),
                ("tls.key".into(), b"KEY".to_vec()),
            ],
            labels: vec![kv("controller.cert-manager.io/fao", "true")],
            annotations: vec![kv(
                "cert-manager.io/certificate-name",
                "linkerd-trust-anchor",
            )],
            resource_version: "10".into(),
        }
    }

    #[test]
    fn copy_takes_the_certificate_never_the_key() {
        let to = Secret {
            namespace: "cert-manager".into(),
            name: "linkerd-previous-anchor".into(),
            type_: "kubernetes.io/tls".into(),
            data: vec![
                ("tls.crt".into(), b"OLD".to_vec()),
                ("tls.key".into(), b"OLDKEY".to_vec()),
            ],
            labels: vec![kv("app", "previous")],
            annotations: vec![],
            resource_version: "7".into(),
        };
        let named = Named::new("cert-manager", "linkerd-previous-anchor");
        let w = certificate_copy_write(&anchor_secret(), &named, Some(&to)).unwrap();
        assert_eq!(w.name, "linkerd-previous-anchor");
        assert_eq!(w.type_, "Opaque");
        assert_eq!(w.data, vec![("tls.crt".to_string(), b"NEW".to_vec())]);
        assert_eq!(w.labels.len(), 1);
        assert_eq!(w.labels[0].key, "app");
        assert!(w.annotations.is_empty());
        assert_eq!(w.expected_resource_version.as_deref(), Some("7"));
        assert!(!is_certificate_only(&to));
    }

    #[test]
    fn a_missing_copy_is_created_bare() {
        let named = Named::new("cert-manager", "linkerd-previous-anchor");
        let w = certificate_copy_write(&anchor_secret(), &named, None).unwrap();
        assert_eq!(w.expected_resource_version, None);
        assert!(w.labels.is_empty() && w.annotations.is_empty());
        assert_eq!(w.data.len(), 1);
        let mut no_cert = anchor_secret();
        no_cert.data.retain(|(k, _)| k != "tls.crt");
        let err = certificate_copy_write(&no_cert, &named, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret cert-manager/linkerd-trust-anchor has no key tls.crt"
        );
    }
}
