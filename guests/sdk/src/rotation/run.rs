//! A run of the rotation: the state one run carries from step to step, and
//! the loop that walks the steps from where preflight says the rotation
//! stands, saving the progress record after each so a killed run resumes.

use super::anchor::HomeAnchor;
use super::plan::Record;
use super::preflight::preflight;
use super::{Config, DefaultSite, Site, Step};
use crate::restart::RestartOptions;
use crate::{KeyValue, RotorError, Summary, context, record, step};

/// One run of the policy.
pub(super) struct Run<'s> {
    pub(super) cfg: Config,
    pub(super) site: &'s dyn Site,
    pub(super) dry_run: bool,
    pub(super) rec: Record,
    pub(super) resumed_at: Option<Step>,
    pub(super) restarted: u64,
    pub(super) pods_deleted: u64,
    pub(super) notes: Vec<KeyValue>,
    /// The control plane's Linkerd version, when preflight could read it.
    pub(super) linkerd_version: Option<String>,
    /// Identity's leaf lifetime, as preflight read it (see
    /// `version::ControlPlaneConfig`).
    pub(super) leaf_lifetime: Result<i64, String>,
}

/// Run the default policy's rotation (the JSON configuration handed to `run`)
/// from wherever the cluster and the record say it stands.
pub fn run(config_text: &str) -> Result<Summary, RotorError> {
    if crate::clusters::list().len() > 1 {
        return super::across_clusters::run_across(config_text, &DefaultSite);
    }
    let cfg = Config::parse(config_text).map_err(|e| RotorError::Config(e.to_string()))?;
    if cfg.trust_anchor_secret.is_some() {
        return Err(RotorError::Config(
            "trustAnchorSecret names a member cluster's copy of the anchor; this run reaches one cluster".into(),
        ));
    }
    run_site(cfg, &DefaultSite)
}

/// The policy's error for the host, logged first so the run's log says why
/// the rotation stopped: `run(..).map_err(rotation::stopped)`.
pub fn stopped(e: RotorError) -> crate::Error {
    crate::error("rotation stopped", &[("error", &e.to_string())]);
    crate::Error::from(e)
}

/// Run the rotation with a site's choices (see [`Site`]).
pub fn run_site(cfg: Config, site: &dyn Site) -> Result<Summary, RotorError> {
    let dry_run = context::dry_run();
    let mut run = step("preflight", || preflight(cfg, site, dry_run))?;
    if run.dry_run {
        crate::info(
            "dry run: mutations are recorded, gates that need them are not waited on",
            &[],
        );
    }
    while run.rec.next != Step::Done {
        let current = run.rec.next;
        if let Some(reason) = site.hold(current.name())? {
            return run.pause(current, reason);
        }
        if current == Step::AdoptNewIssuer
            && let Some(reason) = run.leaves_still_refreshing()?
        {
            return run.pause(current, reason);
        }
        run.advance(None)?;
    }
    if !run.dry_run {
        record::clear()?;
    }
    Ok(run.summary(None))
}

impl Run<'_> {
    /// Run the step the record names next, then record the one after it.
    /// `home`: in a member cluster, where the home keeps the anchor to copy.
    pub(super) fn advance(&mut self, home: Option<&HomeAnchor>) -> Result<(), RotorError> {
        let current = self.rec.next;
        match current {
            Step::RenewAnchor => match home {
                Some(home) => step(current.name(), || self.copy_home_anchor(home))?,
                None => step(current.name(), || self.renew_anchor())?,
            },
            Step::BundleHoldsBoth => step(current.name(), || self.bundle_holds_both())?,
            Step::TrustNewAnchor => self.trust_new_anchor()?,
            Step::SwitchSigningAnchor => {
                step(current.name(), || self.switch_signing_anchor())?;
            }
            Step::RenewIssuer => step(current.name(), || self.renew_issuer())?,
            Step::AdoptNewIssuer => self.adopt_new_issuer()?,
            Step::RetireOldAnchor => step(current.name(), || self.retire_old_anchor())?,
            Step::RenewRetiredAnchor => step(current.name(), || self.renew_retired_anchor())?,
            Step::BundleHoldsOnlyNew => step(current.name(), || self.bundle_holds_only_new())?,
            Step::BundleHoldsNewPair => step(current.name(), || self.bundle_holds_new_pair())?,
            Step::DropOldAnchor => self.drop_old_anchor()?,
            Step::Done => {}
        }
        self.rec.next = current.next(self.cfg.mode);
        // The last step is not recorded as done: a run killed before the
        // record is cleared resumes there (a no-op) instead of starting anew.
        if self.rec.next != Step::Done {
            self.save()?;
        }
        Ok(())
    }

    pub(super) fn restart_options(&self, gate: String) -> RestartOptions {
        RestartOptions {
            parallelism: self.cfg.parallelism,
            per_namespace: self.cfg.parallelism_per_namespace,
            rollout_timeout: self.cfg.deadlines.rollout_seconds,
            pod_timeout: self.cfg.deadlines.pod_seconds,
            dry_run: self.dry_run,
            gate,
        }
    }

    /// Save the progress record; a dry run keeps none (it changes nothing
    /// a later run could resume from).
    pub(super) fn save(&self) -> Result<(), RotorError> {
        if self.dry_run {
            return Ok(());
        }
        record::save(&self.rec)
    }

    pub(super) fn new_anchor(&self) -> Result<String, RotorError> {
        self.rec.new_anchor.clone().ok_or_else(|| {
            RotorError::State(
                "the new anchor is not known yet (the progress record lacks it)".into(),
            )
        })
    }

    pub(super) fn note(&mut self, key: &str, value: String) {
        self.notes.push(KeyValue {
            key: key.into(),
            value,
        });
    }
}
