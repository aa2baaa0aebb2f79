//! The identity issuer's step: once every proxy trusts the new anchor,
//! renew the issuer, check the new one is signed by the anchor, and wait
//! for identity to reload it (restarting identity if it missed the reload),
//! so new leaf certificates chain to the new anchor.

use super::run::Run;
use crate::bundle::Want;
use crate::certificates::Certificate;
use crate::certs::{self, Baseline, Named};
use crate::fingerprint::short;
use crate::identity_metrics::IssuerExpiry;
use crate::mesh::{self, stale_roots};
use crate::workloads;
use crate::{CallContext, RotorError, WorkloadKind, clock, identity};
use rotor_trust_lint::version::LinkerdVersion;

impl Run<'_> {
    /// Step renew-issuer: renew the issuer, check its signature, wait for
    /// identity's reload.
    pub(super) fn renew_issuer(&mut self) -> Result<((), String), RotorError> {
        let cert = self.cfg.identity_issuer.named();
        let anchor_secret = self.signing_anchor_secret()?;
        if self.cfg.mode.rotates_anchor() && !self.dry_run {
            self.wait_mesh_trusts_new_anchor()?;
        }
        let issuer_cert = certs::get(&cert)?;
        let issuer_secret = Named::new(&issuer_cert.namespace, &issuer_cert.secret_name);
        let (_, now_fp) = certs::secret_certificate(&issuer_secret)?;
        let before = self.issuer_baseline(&issuer_cert, &now_fp);
        if now_fp == before.fingerprint {
            if self.rec.issuer_requested_at.is_none() {
                self.rec.issuer_requested_at = Some(clock::now());
                self.save()?;
            }
            if !issuer_cert.issuing {
                certs::request_renewal(&cert)?;
            }
            if self.dry_run {
                return Ok((
                    (),
                    format!(
                        "would renew {cert}, check it is signed by the anchor, and wait for identity's {}",
                        identity::ISSUER_UPDATED
                    ),
                ));
            }
        }
        let renewed = certs::wait_renewed(
            &cert,
            &before,
            "issuer-renewed",
            self.cfg.deadlines.renewal_seconds,
        )?;
        self.rec.new_issuer = Some(renewed.fingerprint.clone());
        if self.rec.issuer_renewed_at.is_none() {
            self.rec.issuer_renewed_at = Some(clock::now());
        }
        self.save()?;
        let anchor_fp =
            self.check_signed_by_anchor(&anchor_secret, &issuer_secret, &renewed.fingerprint)?;
        let reloaded_at = self.issuer_reloaded_at()?;
        Ok((
            (),
            format!(
                "issuer {} -> {} (revision {}), signed by anchor {}, identity reloaded at {reloaded_at}",
                short(&before.fingerprint),
                short(&renewed.fingerprint),
                renewed.revision,
                short(&anchor_fp)
            ),
        ))
    }

    /// Gate mesh-trusts-new-anchor: every meshed proxy holds the bundle with
    /// both anchors before an issuer signed by the new one hands out leaves.
    pub(super) fn wait_mesh_trusts_new_anchor(&mut self) -> Result<(), RotorError> {
        let want = Want::Contains(vec![
            self.rec.anchor_before.fingerprint.clone(),
            self.new_anchor()?,
        ]);
        let bundle = self.bundle_now(&want)?;
        let seen = self.pods_at_bundle()?;
        let n = mesh::wait_every_pod(
            &self.cfg.control_plane_namespace,
            "mesh-trusts-new-anchor",
            self.cfg.deadlines.pods_seconds,
            &stale_roots(&self.cfg.control_plane_namespace, &bundle.hash, &seen),
        )?;
        crate::info(
            "every meshed proxy trusts the new anchor",
            &[("pods", &n.to_string())],
        );
        Ok(())
    }

    /// The issuer as it was before the rotation renewed it: from the record,
    /// or (the first time) the issuer now, kept in the record.
    fn issuer_baseline(&mut self, issuer_cert: &Certificate, now_fp: &str) -> Baseline {
        match &self.rec.issuer_before {
            Some(b) => b.clone(),
            None => {
                let b = Baseline {
                    revision: issuer_cert.revision,
                    fingerprint: now_fp.to_string(),
                };
                self.rec.issuer_before = Some(b.clone());
                self.rec.issuer_before_not_after = issuer_cert.not_after;
                b
            }
        }
    }

    /// Gate issuer-signed-by-anchor: the anchor is still the one the
    /// rotation renewed, and the new issuer is signed by it. Returns the
    /// anchor's fingerprint.
    fn check_signed_by_anchor(
        &self,
        anchor_secret: &Named,
        issuer_secret: &Named,
        new_issuer: &str,
    ) -> Result<String, RotorError> {
        let (anchor_pem, anchor_fp) = certs::secret_certificate(anchor_secret)?;
        if let Some(new) = &self.rec.new_anchor
            && *new != anchor_fp
        {
            return Err(RotorError::State(format!(
                "the anchor changed during the rotation: expected {}, found {}",
                short(new),
                short(&anchor_fp)
            )));
        }
        let (issuer_pem, _) = certs::secret_certificate(issuer_secret)?;
        let signed = crate::x509::verify_signed_by(&issuer_pem, &anchor_pem)
            .call(|| format!("verify {issuer_secret} against {anchor_secret}"))?;
        if !signed {
            return Err(RotorError::State(format!(
                "gate issuer-signed-by-anchor: the new issuer {} is not signed by the anchor {}: \
                 check the ClusterIssuer's ca.secretName",
                short(new_issuer),
                short(&anchor_fp)
            )));
        }
        Ok(anchor_fp)
    }

    /// The old and new issuers' expiry for identity's TTL gauge, where the
    /// gauge may gate: configured, the version exports it, and the old
    /// issuer's expiry was recorded before the renewal.
    fn issuer_expiry(&self) -> Result<Option<IssuerExpiry>, RotorError> {
        let exported = self
            .linkerd_version
            .as_deref()
            .and_then(|v| LinkerdVersion::parse(v).has_issuer_ttl_metric());
        let (true, Some(true), Some(old_not_after)) = (
            self.cfg.identity_metrics,
            exported,
            self.rec.issuer_before_not_after,
        ) else {
            return Ok(None);
        };
        let cert = certs::get(&self.cfg.identity_issuer.named())?;
        let secret = Named::new(&cert.namespace, &cert.secret_name);
        let (pem, _) = certs::secret_certificate(&secret)?;
        let new_not_after = crate::x509::parse_pem(&pem)
            .call(|| format!("parse secret {secret} tls.crt"))?
            .first()
            .map(|c| c.not_after);
        Ok(new_not_after.map(|new_not_after| IssuerExpiry {
            old_not_after,
            new_not_after,
        }))
    }

    /// When identity reloaded the new issuer: from the record, or waited for
    /// (and kept in the record).
    fn issuer_reloaded_at(&mut self) -> Result<i64, RotorError> {
        match self.rec.issuer_reloaded_at {
            Some(at) => Ok(at),
            None => {
                let at = self.wait_reload()?;
                self.rec.issuer_reloaded_at = Some(at);
                self.save()?;
                Ok(at)
            }
        }
    }

    /// Gate issuer-reloaded: every identity replica's `IssuerUpdated` after
    /// the renewal request. If identity missed the reload, restart it (it
    /// loads the issuer at start and crash-loops on one that does not
    /// verify) and check again.
    fn wait_reload(&mut self) -> Result<i64, RotorError> {
        let identity = identity::identity_ref(
            &self.cfg.control_plane_namespace,
            &self.cfg.identity_deployment,
        );
        let since = self.rec.issuer_requested_at.unwrap_or(self.rec.started_at);
        let renewed_at = self.rec.issuer_renewed_at.unwrap_or_else(clock::now);
        let expiry = self.issuer_expiry()?;
        match self.site.issuer_reloaded(
            &identity,
            since,
            renewed_at,
            expiry,
            self.cfg.deadlines.issuer_reload_seconds,
        ) {
            Ok(at) => Ok(at),
            Err(RotorError::Gate(g)) if g.timed_out => {
                crate::warn(
                    "identity did not report the issuer reload; restarting it",
                    &[("gate", &g.to_string())],
                );
                let w = workloads::get_workload(
                    WorkloadKind::Deployment,
                    &identity.namespace,
                    &identity.name,
                )
                .call(|| format!("get deployment {}/{}", identity.namespace, identity.name))?;
                let done = crate::window::restart_in_window(
                    std::slice::from_ref(&w),
                    &self.restart_options("identity-restarted".into()),
                )?;
                self.restarted += done.len() as u64;
                self.rec.restarts += done.len() as u64;
                let restarted_at = done.first().map_or_else(clock::now, |r| r.at);
                if let Some(message) = identity::skipped_since(&identity, restarted_at)? {
                    return Err(RotorError::State(format!(
                        "gate issuer-reloaded: identity rejected the new issuer after a restart: {message}"
                    )));
                }
                // The restarted identity is Ready, so it runs the new issuer.
                self.note(
                    "identityRestarted",
                    "identity missed the issuer reload and was restarted".into(),
                );
                Ok(clock::now())
            }
            Err(e) => Err(e),
        }
    }
}
