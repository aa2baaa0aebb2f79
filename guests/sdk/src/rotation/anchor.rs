//! The trust anchor and the previous-anchor Secret: renew the anchor, and
//! retire the old one by copying the new anchor's certificate (never its
//! key) over previous-anchor. Between rotations previous-anchor is kept a
//! certificate-only copy of the anchor, so the bundle never changes then.
//!
//! In a member cluster of a multicluster mesh the anchor is no Certificate
//! but a Secret holding a copy of the home cluster's anchor: renewing it
//! means copying the home's new anchor, certificate and key, over it.

use super::Config;
use super::run::Run;
use crate::certificates::Certificate;
use crate::certs::{self, Named};
use crate::error::CallContext;
use crate::fingerprint::short;
use crate::mesh::{self, pod_name};
use crate::secrets::{self, SecretWrite};
use crate::{RotorError, clusters, x509};

/// The Secret the trust anchor's Certificate writes (a member: its copy).
pub(super) fn anchor_secret(cfg: &Config) -> Result<Named, RotorError> {
    if let Some(copy) = &cfg.anchor_copy {
        return Ok(copy.named());
    }
    let cert = certs::get(&cfg.trust_anchor.named())?;
    Ok(Named::new(&cert.namespace, &cert.secret_name))
}

/// The anchor's Certificate. A member's copy has none, so it reads as one
/// that is always Ready and never renews on its own: only rotor changes it.
pub(super) fn anchor_certificate(cfg: &Config) -> Result<Certificate, RotorError> {
    let Some(copy) = &cfg.anchor_copy else {
        return certs::get(&cfg.trust_anchor.named());
    };
    let secret = copy.named();
    let (pem, _) = certs::secret_certificate(&secret)?;
    let parsed = x509::parse_pem(&pem).call(|| format!("parse secret {secret} tls.crt"))?;
    let first = parsed.first();
    Ok(Certificate {
        namespace: secret.namespace.clone(),
        name: secret.name.clone(),
        secret_name: secret.name,
        issuer_kind: String::new(),
        issuer_name: String::new(),
        is_ca: first.is_some_and(|c| c.is_ca),
        generation: 0,
        ready: true,
        issuing: false,
        revision: None,
        conditions: vec![],
        not_before: first.map(|c| c.not_before),
        not_after: first.map(|c| c.not_after),
        renewal_time: None,
        renewal_disabled: true,
    })
}

/// Where the home cluster keeps the anchor a member copies.
#[derive(Debug, Clone)]
pub(super) struct HomeAnchor {
    pub cluster: String,
    pub secret: Named,
}

/// The keys of the home's anchor Secret a member's CA issuer needs.
const ANCHOR_KEYS: [&str; 3] = ["tls.crt", "tls.key", "ca.crt"];

/// The previous anchor's fingerprint (`None`: the Secret is missing). Between
/// rotations, when it equals the anchor, a missing previous anchor is created
/// and one holding a key is rewritten, both as a certificate-only copy of the
/// anchor: the bundle reads the same certificate from the anchor meanwhile,
/// so it never changes. Mid-rotation it is left for retire-old-anchor.
pub(super) fn previous_anchor(
    cfg: &Config,
    anchor_secret: &Named,
    anchor: &str,
    rotating: bool,
) -> Result<Option<String>, RotorError> {
    let to = cfg.previous_anchor_secret.named();
    let bootstrap = |why: &str| {
        certs::copy_certificate(anchor_secret, &to).map_err(|e| {
            RotorError::State(format!(
                "secret {to} {why}; rotor could not write it as a copy of {anchor_secret}'s \
                 certificate (grants.writeSecrets and the write-secret verb must allow {to}): {e}"
            ))
        })
    };
    let Some(existing) = certs::read_optional_secret(&to)? else {
        if rotating {
            return Ok(None);
        }
        bootstrap("is missing")?;
        crate::info(
            "created the previous anchor as a certificate-only copy of the anchor",
            &[("secret", &to.to_string())],
        );
        return Ok(Some(anchor.to_string()));
    };
    let pem = certs::secret_text(&existing, "tls.crt")?;
    let previous = certs::pem_fingerprint(&pem, &format!("secret {to} tls.crt"))?;
    if !rotating && previous == anchor && !certs::is_certificate_only(&existing) {
        bootstrap("holds more than the anchor's certificate")?;
        crate::info(
            "rewrote the previous anchor as a certificate-only copy (no private key)",
            &[("secret", &to.to_string())],
        );
    }
    Ok(Some(previous))
}

impl Run<'_> {
    /// Step renew-anchor: renew the anchor and wait for the new revision.
    pub(super) fn renew_anchor(&mut self) -> Result<((), String), RotorError> {
        let cert = self.cfg.trust_anchor.named();
        let (_, now_fp) = certs::secret_certificate(&anchor_secret(&self.cfg)?)?;
        let before = self.rec.anchor_before.clone();
        if now_fp == before.fingerprint {
            certs::request_renewal_unless_issuing(&cert, certs::get(&cert)?.issuing, "anchor")?;
            if self.dry_run {
                return Ok((
                    (),
                    format!(
                        "would renew {cert} and wait for a revision above {}",
                        before.revision.unwrap_or(0)
                    ),
                ));
            }
        }
        let renewed = certs::wait_renewed(
            &cert,
            &before,
            "anchor-renewed",
            self.cfg.deadlines.renewal_seconds,
        )?;
        self.rec.new_anchor = Some(renewed.fingerprint.clone());
        Ok((
            (),
            format!(
                "anchor {} -> {} (revision {})",
                short(&before.fingerprint),
                short(&renewed.fingerprint),
                renewed.revision
            ),
        ))
    }

    /// Step renew-anchor in a member cluster: copy the home's renewed
    /// anchor, certificate and key, over this cluster's copy, so its
    /// trust-manager adds it to the bundle and its CA issuer signs the
    /// next issuer with it. The write is guarded by the copy's
    /// resourceVersion; an earlier run's copy is left as it is.
    pub(super) fn copy_home_anchor(
        &mut self,
        home: &HomeAnchor,
    ) -> Result<((), String), RotorError> {
        let to = anchor_secret(&self.cfg)?;
        let new = self.new_anchor()?;
        let here = clusters::current();
        let existing = certs::read_secret(&to)?;
        let (_, now_fp) = certs::secret_certificate(&to)?;
        if now_fp == new {
            return Ok(((), format!("{to} already holds anchor {}", short(&new))));
        }
        if now_fp != self.rec.anchor_before.fingerprint {
            return Err(RotorError::State(format!(
                "{to} holds {} but the rotation started from {}: it changed outside rotor",
                short(&now_fp),
                short(&self.rec.anchor_before.fingerprint)
            )));
        }
        clusters::select(&home.cluster).call(|| format!("select cluster {}", home.cluster))?;
        let read = certs::read_secret(&home.secret);
        clusters::select(&here).call(|| format!("select cluster {here}"))?;
        let source = read?;
        let pem = certs::secret_text(&source, "tls.crt")?;
        let home_fp = certs::pem_fingerprint(&pem, &format!("secret {} tls.crt", home.secret))?;
        if home_fp != new {
            return Err(RotorError::State(format!(
                "the home cluster's {} holds {} but the rotation renewed it to {}: it changed outside rotor",
                home.secret,
                short(&home_fp),
                short(&new)
            )));
        }
        let mut data = Vec::new();
        for key in ANCHOR_KEYS {
            let value = match source.data.iter().find(|(k, _)| k == key) {
                Some((_, v)) => v.clone(),
                // A self-signed anchor is its own CA.
                None if key == "ca.crt" => pem.clone().into_bytes(),
                None => {
                    return Err(RotorError::State(format!(
                        "the home cluster's {} has no key {key}: a member's CA issuer signs with it",
                        home.secret
                    )));
                }
            };
            data.push((key.to_string(), value));
        }
        let write = SecretWrite {
            namespace: to.namespace.clone(),
            name: to.name.clone(),
            type_: "kubernetes.io/tls".into(),
            data,
            labels: existing.labels.clone(),
            annotations: existing.annotations.clone(),
            expected_resource_version: Some(existing.resource_version.clone()),
        };
        secrets::write_secret(&write)
            .call(|| format!("copy the anchor of cluster {} to {to}", home.cluster))?;
        let verb = if self.dry_run { "would copy" } else { "copied" };
        Ok((
            (),
            format!(
                "{verb} anchor {} from cluster {}'s {} to {to} (certificate and key)",
                short(&new),
                home.cluster,
                home.secret
            ),
        ))
    }

    /// Everything that would still need the old anchor once it is gone.
    fn old_anchor_users(&self) -> Result<Vec<String>, RotorError> {
        let mesh = mesh::discover(&self.cfg.control_plane_namespace)?;
        let mut users = super::unowned::reported_items(&self.cfg, &mesh);
        users.extend(mesh.paused().into_iter().map(|id| format!("{id} (paused)")));
        users.extend(
            mesh::failing_rollouts(&mesh)?
                .into_iter()
                .map(|f| format!("rollout failed: {f}")),
        );
        // With leaf-refresh, pods started before the reload hold leaves
        // of the new issuer once the leaves have turned over (a dry run
        // plans the real run, which pauses until then).
        let refreshed = self
            .leaves_refreshed_by()?
            .is_some_and(|by| self.dry_run || crate::clock::now() >= by);
        if let Some(reloaded_at) = self.rec.issuer_reloaded_at.filter(|_| !refreshed) {
            users.extend(
                mesh.all_pods()
                    .filter(|p| p.start_time.is_none_or(|t| t <= reloaded_at))
                    .map(|p| {
                        format!(
                            "pod {} (started before the issuer reload at {reloaded_at})",
                            pod_name(p)
                        )
                    }),
            );
        }
        users.sort();
        users.dedup();
        Ok(users)
    }

    /// Stop (a dry run warns) while anything still needs the old anchor:
    /// the step after takes it out of the bundle.
    pub(super) fn refuse_while_old_anchor_used(&self) -> Result<(), RotorError> {
        let users = self.old_anchor_users()?;
        if users.is_empty() {
            return Ok(());
        }
        let reason = "the old anchor is still needed by meshed proxies; restart or remove them, then run again";
        if !self.dry_run {
            return Err(RotorError::Blocked {
                reason: reason.into(),
                items: users,
            });
        }
        crate::warn(
            &format!("dry run: a real run would stop here: {reason}"),
            &[("items", &users.join(", "))],
        );
        Ok(())
    }

    /// Step retire-old-anchor: copy the new anchor's certificate over the
    /// previous anchor once nothing needs the old one, so the bundle drops it.
    pub(super) fn retire_old_anchor(&mut self) -> Result<((), String), RotorError> {
        let from = anchor_secret(&self.cfg)?;
        let to = self.cfg.previous_anchor_secret.named();
        // Missing: a replacement (delete, then create) was cut short.
        if let Some(existing) = certs::read_optional_secret(&to)? {
            let pem = certs::secret_text(&existing, "tls.crt")?;
            let previous = certs::pem_fingerprint(&pem, &format!("secret {to} tls.crt"))?;
            if Some(&previous) == self.rec.new_anchor.as_ref()
                && certs::is_certificate_only(&existing)
            {
                return Ok(((), format!("{to} already holds the new anchor")));
            }
        }
        self.refuse_while_old_anchor_used()?;
        let (_, anchor) = certs::secret_certificate(&from)?;
        if !self.dry_run && Some(&anchor) != self.rec.new_anchor.as_ref() {
            return Err(RotorError::State(format!(
                "{from} holds {} but the rotation renewed it to {}: it changed outside rotor",
                short(&anchor),
                self.rec.new_anchor.as_deref().map(short).unwrap_or("?")
            )));
        }
        certs::copy_certificate(&from, &to)?;
        let verb = if self.dry_run { "would copy" } else { "copied" };
        Ok((
            (),
            format!("{verb} the certificate of {from} to {to} (tls.crt only, no key)"),
        ))
    }
}
