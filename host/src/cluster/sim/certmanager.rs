//! cert-manager: Certificates re-issued on `cmctl renew` or at renewalTime,
//! signed by a self-signed or CA Issuer/ClusterIssuer, into their Secret.

use crate::wit::{Certificate, Condition, Timestamp};

use super::keys::Profile;
use super::linkerd::{CONTROL_PLANE_NS, IDENTITY_ISSUER, TRUST_ANCHOR};
use super::manifest::parse_go_duration;
use super::pki::generate;
use super::trustmanager::TRUST_NAMESPACE;
use super::world::{CertRecId, Ev, SecretRec, World};

/// Where a ClusterIssuer's CA Secret lives (cert-manager's cluster resource namespace).
pub const CLUSTER_RESOURCE_NAMESPACE: &str = crate::linkerd::CERT_MANAGER_NS;

/// How long cert-manager waits before issuing again after `attempts`
/// failures in a row: an hour, doubling, at most 32 hours
/// (`shouldBackoffReissuingOnFailure`, cert-manager's
/// `internal/controller/certificates/trigger/trigger_controller.go`).
pub fn retry_backoff(attempts: u32) -> i64 {
    (3600_i64 << attempts.saturating_sub(1).min(5)).min(32 * 3600)
}

/// cert-manager's default duration when a Certificate gives none.
const DEFAULT_DURATION: i64 = 90 * 24 * 3600;

impl World {
    pub fn certificate_durations(&self, cert: CertRecId) -> Result<(i64, i64), String> {
        let spec = &self.certificates[cert].spec;
        let duration = match &spec.duration {
            Some(d) => parse_go_duration(d)?,
            None => DEFAULT_DURATION,
        };
        let renew_before = match &spec.renew_before {
            Some(d) => parse_go_duration(d)?,
            None => duration / 3,
        };
        Ok((duration, renew_before))
    }

    fn set_condition(
        &mut self,
        cert: CertRecId,
        type_: &str,
        status: &str,
        reason: &str,
        message: &str,
    ) {
        let now = self.now;
        let c = &mut self.certificates[cert];
        let generation = c.generation;
        if let Some(existing) = c.conditions.iter_mut().find(|x| x.type_ == type_) {
            if existing.status != status {
                existing.last_transition_time = Some(now);
            }
            existing.status = status.into();
            existing.reason = reason.into();
            existing.message = message.into();
            existing.observed_generation = Some(generation);
        } else {
            c.conditions.push(Condition {
                type_: type_.into(),
                status: status.into(),
                reason: reason.into(),
                message: message.into(),
                observed_generation: Some(generation),
                last_transition_time: Some(now),
            });
        }
    }

    /// Issuing=True; the new Secret appears after issuanceSeconds.
    pub fn begin_issuance(&mut self, cert: CertRecId, reason: &str, message: &str) {
        self.set_condition(cert, "Issuing", "True", reason, message);
        let c = &mut self.certificates[cert];
        c.issue_token += 1;
        let token = c.issue_token;
        let at = self.now + self.spec.timings.issuance_seconds;
        self.schedule(at, Ev::IssuanceDone { cert, token });
    }

    pub fn complete_issuance(&mut self, cert: CertRecId) {
        match self
            .injected_issuance_failure(cert)
            .map_or_else(|| self.issue_now(cert), Err)
        {
            Ok(()) => {
                let c = &mut self.certificates[cert];
                c.failed_attempts = 0;
                c.conditions.retain(|x| x.type_ != "Issuing");
                self.set_condition(
                    cert,
                    "Ready",
                    "True",
                    "Ready",
                    "Certificate is up to date and has not expired",
                );
            }
            Err(why) => {
                let now = self.now;
                let c = &mut self.certificates[cert];
                c.last_failure = Some(now);
                c.failed_attempts += 1;
                let retry = now + retry_backoff(c.failed_attempts);
                self.set_condition(cert, "Issuing", "False", "Failed", &why);
                // A failed manual renewal of a valid certificate is not
                // retried (nothing in the trigger policy chain asks for one),
                // but the renewal at renewalTime still comes, no sooner than
                // the back-off allows, however long a rotation has paused.
                let c = &mut self.certificates[cert];
                if !renewal_disabled(c)
                    && let Some(at) = c.renewal_time
                {
                    c.issue_token += 1;
                    let token = c.issue_token;
                    self.schedule(at.max(retry), Ev::RenewalDue { cert, token });
                }
            }
        }
    }

    /// The scenario's `failIssuance` for `cert`, counted down.
    fn injected_issuance_failure(&mut self, cert: CertRecId) -> Option<String> {
        let c = &self.certificates[cert];
        let key = format!("{}/{}", c.namespace, c.name);
        let left = self.spec.fail_issuance.get_mut(&key).filter(|n| **n > 0)?;
        *left -= 1;
        Some("issuance failed (injected by the scenario's failIssuance)".into())
    }

    /// Sign a new certificate and write its Secret now.
    pub fn issue_now(&mut self, cert: CertRecId) -> Result<(), String> {
        self.issue_as_of(cert, self.now)
    }

    /// Sign a certificate valid from `now` (earlier than the clock for one a
    /// scenario says was issued in the past) and write its Secret.
    pub fn issue_as_of(&mut self, cert: CertRecId, now: Timestamp) -> Result<(), String> {
        let (duration, renew_before) = self.certificate_durations(cert)?;
        let c = &self.certificates[cert];
        let ns = c.namespace.clone();
        let issuer_kind = c
            .spec
            .issuer_ref
            .kind
            .clone()
            .unwrap_or_else(|| "Issuer".into());
        let issuer_key = match issuer_kind.as_str() {
            "ClusterIssuer" => (String::new(), c.spec.issuer_ref.name.clone()),
            _ => (ns.clone(), c.spec.issuer_ref.name.clone()),
        };
        let issuer = self
            .issuers
            .get(&issuer_key)
            .ok_or_else(|| format!("{} {:?} not found", issuer_kind, c.spec.issuer_ref.name))?;
        let common_name = c.spec.common_name.clone().unwrap_or_else(|| c.name.clone());
        let signer = if issuer.spec.self_signed.is_some() {
            None
        } else if let Some(ca) = &issuer.spec.ca {
            let secret_ns = World::issuer_secret_namespace(issuer);
            let secret = self
                .secrets
                .get(&(secret_ns.clone(), ca.secret_name.clone()))
                .ok_or_else(|| format!("secret {secret_ns}/{} not found", ca.secret_name))?;
            let ca_pem = secret
                .data
                .get("tls.crt")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .ok_or_else(|| format!("secret {secret_ns}/{} has no tls.crt", ca.secret_name))?;
            match secret.data.get("tls.key") {
                Some(key) => Some((ca_pem, String::from_utf8_lossy(key).into_owned(), None)),
                None => {
                    let id = *self
                        .pki
                        .intern_pem(&ca_pem)
                        .map_err(|e| e.to_string())?
                        .first()
                        .ok_or_else(|| {
                            format!(
                                "secret {secret_ns}/{} tls.crt holds no certificate",
                                ca.secret_name
                            )
                        })?;
                    let key = self.pki.stand_in_key(id).map_err(|e| e.to_string())?;
                    Some((ca_pem, key, Some(id)))
                }
            }
        } else {
            return Err(format!(
                "{issuer_kind} {:?} is neither selfSigned nor ca",
                issuer_key.1
            ));
        };
        let profile = Profile::of(&self.certificates[cert].spec)?;
        let serial = self.next_rv();
        let issued = generate(
            &common_name,
            (now, now + duration),
            serial,
            signer.as_ref().map(|(c, k, _)| (c.as_str(), k.as_str())),
            profile,
        )
        .map_err(|e| e.to_string())?;
        let ca_crt = match &signer {
            Some((ca, _, _)) => first_pem_block(ca),
            None => issued.cert_pem.clone(),
        };
        self.pki.intern_pem(&ca_crt).map_err(|e| e.to_string())?;
        let issued_ids = self
            .pki
            .intern_pem(&issued.cert_pem)
            .map_err(|e| e.to_string())?;
        if let (Some((_, _, Some(ca))), Some(&id)) = (&signer, issued_ids.first()) {
            self.pki.vouch(id, *ca);
        }
        let c = &self.certificates[cert];
        let secret_key = (ns.clone(), c.spec.secret_name.clone());
        let cert_name = c.name.clone();
        let issuer_name = c.spec.issuer_ref.name.clone();
        let rv = self.next_rv();
        let secret = self
            .secrets
            .entry(secret_key.clone())
            .or_insert_with(|| SecretRec {
                type_: "kubernetes.io/tls".into(),
                data: Default::default(),
                labels: Default::default(),
                annotations: Default::default(),
                resource_version: rv,
            });
        secret.type_ = "kubernetes.io/tls".into();
        secret
            .data
            .insert("tls.crt".into(), issued.cert_pem.into_bytes());
        secret
            .data
            .insert("tls.key".into(), issued.key_pem.into_bytes());
        secret.data.insert("ca.crt".into(), ca_crt.into_bytes());
        secret
            .labels
            .insert("controller.cert-manager.io/fao".into(), "true".into());
        secret
            .annotations
            .insert("cert-manager.io/certificate-name".into(), cert_name);
        secret
            .annotations
            .insert("cert-manager.io/issuer-name".into(), issuer_name);
        secret
            .annotations
            .insert("cert-manager.io/issuer-kind".into(), issuer_kind);
        secret.resource_version = rv;
        let c = &mut self.certificates[cert];
        c.revision = Some(c.revision.unwrap_or(0) + 1);
        c.not_before = Some(now);
        c.not_after = Some(now + duration);
        c.renewal_time = Some(now + duration - renew_before);
        self.schedule_renewal(cert);
        self.secret_changed(&secret_key.0, &secret_key.1);
        Ok(())
    }

    /// The Secret (namespace, name) the CA issuer that signs `cert` signs
    /// with; `None` for a self-signed or missing issuer.
    pub fn ca_secret_of(&self, cert: CertRecId) -> Option<(String, String)> {
        let c = &self.certificates[cert];
        let key = match c.spec.issuer_ref.kind.as_deref() {
            Some("ClusterIssuer") => (String::new(), c.spec.issuer_ref.name.clone()),
            _ => (c.namespace.clone(), c.spec.issuer_ref.name.clone()),
        };
        let issuer = self.issuers.get(&key)?;
        let ca = issuer.spec.ca.as_ref()?;
        let ns = issuer
            .namespace
            .clone()
            .unwrap_or_else(|| CLUSTER_RESOURCE_NAMESPACE.to_string());
        Some((ns, ca.secret_name.clone()))
    }

    /// The Secret of the anchor that signs identity's issuer now: its CA
    /// issuer's Secret, which a staged anchor moves between two anchor
    /// Certificates; the anchor Secret where that issuer is not known.
    pub fn signing_anchor_secret(&self) -> (String, String) {
        self.certificates
            .iter()
            .position(|c| c.namespace == CONTROL_PLANE_NS && c.spec.secret_name == IDENTITY_ISSUER)
            .and_then(|cert| self.ca_secret_of(cert))
            .unwrap_or_else(|| (TRUST_NAMESPACE.to_string(), TRUST_ANCHOR.to_string()))
    }

    /// The Secrets of CA Certificates (anchors and issuers): an anchor no
    /// Certificate holds any more is retired, whatever copy keeps it in
    /// the bundle.
    pub fn ca_certificate_secrets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.certificates
            .iter()
            .filter(|c| c.spec.is_ca)
            .map(|c| (c.namespace.as_str(), c.spec.secret_name.as_str()))
    }

    /// Secrets holding a private key that no Certificate writes and no CA
    /// issuer signs from (`ns/name`). A member cluster's copy of the home's
    /// anchor is the Secret its CA issuer signs from: it must hold the key.
    pub fn private_key_copies(&self) -> Vec<String> {
        let signs_from = |ns: &str, name: &str| {
            self.issuers.values().any(|rec| {
                rec.spec.ca.as_ref().is_some_and(|ca| {
                    ca.secret_name == name && World::issuer_secret_namespace(rec) == ns
                })
            })
        };
        self.secrets
            .iter()
            .filter(|((ns, name), _)| {
                !self
                    .certificates
                    .iter()
                    .any(|c| c.namespace == *ns && c.spec.secret_name == *name)
                    && !signs_from(ns, name)
            })
            .filter(|(_, s)| {
                s.data
                    .values()
                    .any(|v| crate::x509::contains_private_key(v))
            })
            .map(|((ns, name), _)| format!("{ns}/{name}"))
            .collect()
    }

    /// Automatic renewal at renewalTime unless `spec.renewal.policy: Disabled`.
    pub fn schedule_renewal(&mut self, cert: CertRecId) {
        let c = &mut self.certificates[cert];
        if renewal_disabled(c) {
            return;
        }
        let Some(at) = c.renewal_time else { return };
        c.issue_token += 1;
        let token = c.issue_token;
        self.schedule(at, Ev::RenewalDue { cert, token });
    }

    pub fn certificate_view(&self, cert: CertRecId) -> Certificate {
        let c = &self.certificates[cert];
        let ready = c.conditions.iter().any(|x| {
            x.type_ == "Ready" && x.status == "True" && x.observed_generation == Some(c.generation)
        });
        let issuing = c
            .conditions
            .iter()
            .any(|x| x.type_ == "Issuing" && x.status == "True");
        Certificate {
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            secret_name: c.spec.secret_name.clone(),
            issuer_kind: c
                .spec
                .issuer_ref
                .kind
                .clone()
                .unwrap_or_else(|| "Issuer".into()),
            issuer_name: c.spec.issuer_ref.name.clone(),
            is_ca: c.spec.is_ca,
            generation: c.generation,
            ready,
            issuing,
            revision: c.revision,
            conditions: c.conditions.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            renewal_time: c.renewal_time,
            renewal_disabled: renewal_disabled(c),
        }
    }
}

pub fn renewal_disabled(c: &super::world::CertificateRec) -> bool {
    c.spec
        .renewal
        .as_ref()
        .and_then(|r| r.policy.as_deref())
        .is_some_and(|p| p.eq_ignore_ascii_case("Disabled"))
}

/// The first certificate of a PEM bundle (a CA Secret's tls.crt may hold a chain).
fn first_pem_block(pem: &str) -> String {
    match pem.find("-----END CERTIFICATE-----") {
        Some(end) => {
            let stop = end + "-----END CERTIFICATE-----".len();
            let mut s = pem[..stop].trim_start().to_string();
            s.push('\n');
            s
        }
        None => pem.to_string(),
    }
}
