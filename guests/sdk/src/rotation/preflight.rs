//! Preflight: where a run starts, and whether it may. A control plane
//! whose Linkerd version rotor cannot rotate is refused first (`version`);
//! a trust-bundle writer the trust-roots ConfigMap contradicts
//! (`bundle_writer`) before anything is written.
//! The record and the cluster's anchors decide between resuming and
//! starting afresh; a fresh
//! rotation is refused while the anchor or issuer fails the lint (`lint`),
//! a certificate is not Ready, cert-manager would renew one on its own
//! meanwhile, or the mesh holds proxies no restart would reach (pods of
//! other owners left to `report`: `unowned`).

use super::anchor::previous_anchor;
use super::bundle_writer;
use super::lint;
use super::plan::{self, AnchorFacts, Record, Start};
use super::run::Run;
use super::staged;
use super::unowned;
use super::{Config, Mode, Site, Step, version};
use crate::certificates::Certificate;
use crate::certs::Named;
use crate::fingerprint::short;
use crate::mesh::{self, Mesh};
use crate::{RotorError, certs, clock, record};

/// Refuse when cert-manager would renew `cert` on its own within `margin` s.
fn check_no_race(
    cert: &Certificate,
    matters: bool,
    now: i64,
    margin: u32,
) -> Result<(), RotorError> {
    let soon = |t: &i64| matters && !cert.renewal_disabled && *t <= now + i64::from(margin);
    match cert.renewal_time.filter(soon) {
        Some(at) => Err(RotorError::State(format!(
            "certificate {}/{} renews on its own at {at} ({} s from now), within the {margin} s \
             this rotation may take: run after that renewal, or disable automatic renewal \
             (spec.renewal.policy: Disabled)",
            cert.namespace,
            cert.name,
            at - now
        ))),
        None => Ok(()),
    }
}

/// Where the run starts (and what it says about it), the record saved.
pub(super) fn preflight(
    cfg: Config,
    site: &dyn Site,
    dry_run: bool,
) -> Result<(Run<'_>, String), RotorError> {
    let control_plane = version::check(&cfg.control_plane_namespace)?;
    let linkerd = control_plane.version;
    let anchor_cert = super::anchor::anchor_certificate(&cfg)?;
    let issuer_cert = certs::get(&cfg.identity_issuer.named())?;
    // Staged: the anchor is the one the CA issuer signs with now.
    let (anchor_cert, staged) = if cfg.mode == Mode::Staged {
        let ([current, next], facts) = staged::read(&cfg, anchor_cert, &issuer_cert)?;
        (current, Some((next, facts)))
    } else {
        (anchor_cert, None)
    };
    let anchor_named = Named::new(&anchor_cert.namespace, &anchor_cert.secret_name);
    let (anchor_pem, anchor) = certs::secret_certificate(&anchor_named)?;
    let saved: Option<Record> = record::load()?;
    let rotating = saved.as_ref().is_some_and(|r| r.next != Step::Done);
    let now = clock::now();
    // Before anything is written (previous-anchor included): a rotation
    // never starts from an anchor or issuer Linkerd refuses, or whose
    // lifetimes cannot fit. One under way was linted when it began.
    let warnings = if rotating {
        0
    } else {
        let issuer_named = Named::new(&issuer_cert.namespace, &issuer_cert.secret_name);
        let (issuer_pem, _) = certs::secret_certificate(&issuer_named)?;
        lint::check(
            &cfg,
            (&anchor_cert, &anchor_pem),
            (&issuer_cert, &issuer_pem),
            now,
        )?
        .len()
    };
    // Before the first write (previous-anchor's bootstrap just below).
    if cfg.mode.rotates_anchor() {
        bundle_writer::check(&cfg)?;
    }
    let start = match &staged {
        Some((_, facts)) => staged::decide(saved, facts),
        None => {
            let previous = previous_anchor(&cfg, &anchor_named, &anchor, rotating)?;
            let facts = AnchorFacts {
                anchor: anchor.clone(),
                previous,
            };
            plan::decide(cfg.mode, saved, &facts)
        }
    }
    .map_err(RotorError::State)?;
    // An automatic renewal during the run would sign with an anchor not every
    // proxy trusts yet (or add a third anchor): refuse to start into one.
    let issuer_pending = match &start {
        Start::Fresh => true,
        Start::Resume(rec) => rec.issuer_requested_at.is_none(),
    };
    let mut racing = vec![
        (&anchor_cert, true),
        (&issuer_cert, cfg.mode.rotates_anchor() && issuer_pending),
    ];
    if let Some((next, _)) = &staged {
        racing.push((next, true));
    }
    for (cert, matters) in racing {
        check_no_race(cert, matters, now, cfg.renewal_margin_seconds)?;
    }
    let (rec, resumed_at, detail) = match start {
        Start::Resume(rec) => {
            let detail = format!(
                "resuming the {} rotation begun at {} at step {}",
                plan::mode_name(rec.mode),
                rec.started_at,
                rec.next.name()
            );
            let at = rec.next;
            (*rec, Some(at), detail)
        }
        Start::Fresh => {
            let (mut rec, mut detail) =
                fresh_start(&cfg, &anchor_cert, &issuer_cert, &anchor, now)?;
            if let Some((next, facts)) = &staged {
                if !next.ready {
                    return Err(RotorError::State(format!(
                        "certificate {}/{} is not Ready for its current generation: fix it \
                         before rotating",
                        next.namespace, next.name
                    )));
                }
                let (roles, next_fp) = staged::fresh_roles(facts)?;
                detail.push_str(&format!(
                    "; {} signs, {} ({}) is next",
                    roles.retiring,
                    roles.successor,
                    short(&next_fp)
                ));
                rec.new_anchor = Some(next_fp);
                rec.staged = Some(roles);
            }
            if let Some(v) = &linkerd {
                detail.push_str(&format!("; Linkerd {v}"));
            }
            if warnings > 0 {
                detail.push_str(&format!("; {warnings} lint warning(s) logged"));
            }
            (rec, None, detail)
        }
    };
    if !dry_run {
        record::save(&rec)?;
    }
    let run = Run {
        cfg,
        site,
        dry_run,
        rec,
        resumed_at,
        restarted: 0,
        pods_deleted: 0,
        notes: vec![],
        linkerd_version: linkerd.clone(),
        leaf_lifetime: control_plane.leaf_lifetime,
    };
    Ok((run, detail))
}

/// A fresh rotation's record and what it starts from, once both
/// certificates are Ready and the mesh has nothing the rotation would break.
fn fresh_start(
    cfg: &Config,
    anchor_cert: &Certificate,
    issuer_cert: &Certificate,
    anchor: &str,
    now: i64,
) -> Result<(Record, String), RotorError> {
    for cert in [anchor_cert, issuer_cert] {
        if !cert.ready {
            return Err(RotorError::State(format!(
                "certificate {}/{} is not Ready for its current generation: fix it before rotating",
                cert.namespace, cert.name
            )));
        }
    }
    let mesh = mesh::discover(&cfg.control_plane_namespace)?;
    refuse_blocked_mesh(cfg, &mesh)?;
    let baseline = certs::Baseline {
        revision: anchor_cert.revision,
        fingerprint: anchor.to_string(),
    };
    let detail = format!(
        "{} rotation; anchor {}; {} meshed workload(s)",
        plan::mode_name(cfg.mode),
        short(anchor),
        mesh.workloads.len()
    );
    Ok((Record::fresh(cfg.mode, now, baseline), detail))
}

/// Refuse a mesh that a rotation would break: rollouts already failing, and
/// (for a full rotation) proxies that keep the old roots whatever rotor
/// restarts.
fn refuse_blocked_mesh(cfg: &Config, mesh: &Mesh) -> Result<(), RotorError> {
    let failing = mesh::failing_rollouts(mesh)?;
    if !failing.is_empty() {
        return Err(RotorError::Blocked {
            reason: "rollouts are already failing; fix them before rotating".into(),
            items: failing,
        });
    }
    if cfg.mode.rotates_anchor() {
        let fixed = mesh.pre_injected(&cfg.control_plane_namespace);
        if !fixed.is_empty() {
            return Err(RotorError::Blocked {
                reason: "workloads injected ahead of time keep the trust roots written \
                         in their pod template, so no restart gives them the new anchor; \
                         re-inject them from the new bundle (or let the injector do it), \
                         then run again"
                    .into(),
                items: fixed,
            });
        }
        unowned::refuse_reported(cfg, mesh)?;
        let paused: Vec<String> = mesh
            .paused()
            .into_iter()
            .map(|id| format!("{id} (paused)"))
            .collect();
        if !paused.is_empty() {
            return Err(RotorError::Blocked {
                reason: "paused Deployments would keep the old trust roots and lose traffic \
                         during the rotation; unpause them"
                    .into(),
                items: paused,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(renewal_time: Option<i64>, disabled: bool) -> Certificate {
        Certificate {
            namespace: "linkerd".into(),
            name: "linkerd-identity-issuer".into(),
            secret_name: "linkerd-identity-issuer".into(),
            issuer_kind: "ClusterIssuer".into(),
            issuer_name: "linkerd-identity-issuer".into(),
            is_ca: true,
            generation: 1,
            ready: true,
            issuing: false,
            revision: Some(1),
            conditions: vec![],
            not_before: None,
            not_after: None,
            renewal_time,
            renewal_disabled: disabled,
        }
    }

    #[test]
    fn automatic_renewal_inside_the_margin_is_refused() {
        let err = check_no_race(&issuer(Some(1_800), false), true, 0, 7_200).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("linkerd/linkerd-identity-issuer renews on its own at 1800"),
            "{msg}"
        );
        assert!(msg.contains("spec.renewal.policy: Disabled"), "{msg}");
        assert!(check_no_race(&issuer(Some(10_000), false), true, 0, 7_200).is_ok());
        assert!(
            check_no_race(&issuer(Some(1_800), true), true, 0, 7_200).is_ok(),
            "disabled"
        );
        assert!(
            check_no_race(&issuer(Some(1_800), false), false, 0, 7_200).is_ok(),
            "irrelevant"
        );
        assert!(check_no_race(&issuer(None, false), true, 0, 7_200).is_ok());
    }
}
