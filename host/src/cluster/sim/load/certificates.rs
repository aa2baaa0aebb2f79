//! The trust setup at load: certificates whose Secret the scenario lacks
//! are issued, every PEM it holds becomes known to the PKI table, status it
//! left out is read from the certificates, and bundles converge, so the
//! roots a settled mesh would hold are known before any pod starts.

use std::collections::BTreeMap;

use crate::cluster::sim::linkerd::{PREVIOUS_ANCHOR, TRUST_ANCHOR};
use crate::cluster::sim::pki::{CertId, sha256_hex};
use crate::cluster::sim::scenario::ScenarioError;
use crate::cluster::sim::trustmanager::TRUST_NAMESPACE;
use crate::cluster::sim::world::{SecretRec, World};
use crate::wit::{Condition, Timestamp};

use super::invalid;

impl World {
    /// Issue, intern and converge the trust setup, and record the roots
    /// the chart was installed with.
    pub(super) fn settle_trust(&mut self) -> Result<(), ScenarioError> {
        let anchor_given = self
            .secrets
            .contains_key(&(TRUST_NAMESPACE.to_string(), TRUST_ANCHOR.to_string()));
        self.issue_missing_certificates()?;
        self.intern_secret_certificates();
        self.fill_certificate_status();
        if !anchor_given {
            self.ensure_previous_anchor();
        }
        self.converge_bundles();
        let roots = self.current_roots_pem();
        self.install_roots_sha = Some(sha256_hex(roots.as_bytes()));
        self.roots_history.push((i64::MIN, roots));
        Ok(())
    }

    /// The first certificate in a Secret's tls.crt.
    pub fn secret_cert(&mut self, ns: &str, name: &str) -> Option<CertId> {
        let pem = self
            .secrets
            .get(&(ns.to_string(), name.to_string()))?
            .data
            .get("tls.crt")?
            .clone();
        self.pki
            .intern_pem(&String::from_utf8_lossy(&pem))
            .ok()?
            .first()
            .copied()
    }

    /// When a certificate issued at load was issued: the scenario's
    /// `status.notBefore` if it is in the past, else now.
    fn issued_at(&self, cert: usize) -> Timestamp {
        self.certificates[cert]
            .not_before
            .filter(|&t| t < self.now)
            .unwrap_or(self.now)
    }

    /// Certificates whose Secret is missing are issued now, CAs first.
    fn issue_missing_certificates(&mut self) -> Result<(), ScenarioError> {
        let mut pending: Vec<usize> = (0..self.certificates.len())
            .filter(|&c| {
                let rec = &self.certificates[c];
                !self
                    .secrets
                    .get(&(rec.namespace.clone(), rec.spec.secret_name.clone()))
                    .is_some_and(|s| s.data.contains_key("tls.crt"))
            })
            .collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut last_error = String::new();
            // A scenario's `status.notBefore` dates the certificate it lacks.
            pending.retain(|&c| match self.issue_as_of(c, self.issued_at(c)) {
                Ok(()) => false,
                Err(e) => {
                    last_error = format!(
                        "Certificate {}/{}: {e}",
                        self.certificates[c].namespace, self.certificates[c].name
                    );
                    true
                }
            });
            if pending.len() == before {
                return Err(invalid(format!("cannot issue at load: {last_error}")));
            }
        }
        Ok(())
    }

    /// Every PEM held in a Secret or ConfigMap becomes known to the PKI
    /// table (CAs resolve their signers this way).
    fn intern_secret_certificates(&mut self) {
        let pems: Vec<String> = self
            .secrets
            .values()
            .flat_map(|s| {
                ["ca.crt", "tls.crt"]
                    .iter()
                    .filter_map(|k| s.data.get(*k))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect::<Vec<_>>()
            })
            .chain(
                self.config_maps
                    .values()
                    .flat_map(|c| c.data.values().map(|v| v.to_string()).collect::<Vec<_>>()),
            )
            .collect();
        for pem in pems {
            if pem.contains("BEGIN CERTIFICATE") {
                let _ = self.pki.intern_pem(&pem);
            }
        }
    }

    /// Status a scenario left out is read from the Secret's certificate.
    fn fill_certificate_status(&mut self) {
        for c in 0..self.certificates.len() {
            let (ns, secret) = (
                self.certificates[c].namespace.clone(),
                self.certificates[c].spec.secret_name.clone(),
            );
            let Some(id) = self.secret_cert(&ns, &secret) else {
                continue;
            };
            let info = self.pki.get(id).clone();
            let (duration, renew_before) = self.certificate_durations(c).unwrap_or((0, 0));
            let generation = self.certificates[c].generation;
            let rec = &mut self.certificates[c];
            rec.revision.get_or_insert(1);
            rec.not_before.get_or_insert(info.not_before);
            rec.not_after.get_or_insert(info.not_after);
            if rec.renewal_time.is_none() {
                let total = info.not_after - info.not_before;
                let before = if duration > 0 && total > 0 {
                    renew_before.min(total)
                } else {
                    total / 3
                };
                rec.renewal_time = Some(info.not_after - before);
            }
            if !rec.conditions.iter().any(|x| x.type_ == "Ready") {
                rec.conditions.push(Condition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    reason: "Ready".into(),
                    message: "Certificate is up to date and has not expired".into(),
                    observed_generation: Some(generation),
                    last_transition_time: Some(info.not_before),
                });
            }
        }
    }

    /// An anchor issued at load is a cluster the scenario did not describe:
    /// it gets what the chart's bootstrap hook creates, a certificate-only
    /// previous anchor equal to the anchor. A scenario that brings its own
    /// anchor Secret (a live cluster's dump) gets nothing it lacks: rotor
    /// must meet a missing previous anchor there as it would in the cluster.
    fn ensure_previous_anchor(&mut self) {
        let prev = (TRUST_NAMESPACE.to_string(), PREVIOUS_ANCHOR.to_string());
        if self.secrets.contains_key(&prev) {
            return;
        }
        let uses_previous = self.bundles.iter().any(|b| {
            b.spec
                .sources
                .iter()
                .any(|s| s.secret.as_ref().is_some_and(|r| r.name == PREVIOUS_ANCHOR))
        });
        let anchor = (TRUST_NAMESPACE.to_string(), TRUST_ANCHOR.to_string());
        if let (true, Some(cert)) = (
            uses_previous,
            self.secrets
                .get(&anchor)
                .and_then(|a| a.data.get("tls.crt")),
        ) {
            let rv = self.resource_version + 1;
            let copy = SecretRec {
                type_: "Opaque".into(),
                data: BTreeMap::from([("tls.crt".to_string(), cert.clone())]),
                labels: Default::default(),
                annotations: Default::default(),
                resource_version: rv,
            };
            self.resource_version = rv;
            self.secrets.insert(prev, copy);
        }
    }

    /// A loaded cluster has converged: bundles hold their sources.
    fn converge_bundles(&mut self) {
        for b in 0..self.bundles.len() {
            self.sync_bundle(b);
        }
    }
}
