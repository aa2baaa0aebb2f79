//! What a run reports: the summary's message and facts when the rotation
//! finishes, or when a site stops it before a step (leaving no record
//! behind when nothing was done yet).

use super::Mode;
use super::plan::{self, Step};
use super::run::Run;
use crate::fingerprint::short;
use crate::{KeyValue, RotorError, Summary, record};

impl Run<'_> {
    /// Stop before `at` because the site said so. A fresh run stopped
    /// before its first step leaves no record behind.
    pub(super) fn pause(self, at: Step, reason: String) -> Result<Summary, RotorError> {
        let untouched = self.resumed_at.is_none() && at == Step::first(self.rec.mode);
        if !self.dry_run && untouched {
            record::clear()?;
        }
        crate::info(
            "stopping before the next step",
            &[("step", at.name()), ("reason", &reason)],
        );
        Ok(self.summary(Some((at, reason))))
    }

    /// The run's summary; `paused` when it stopped before a step.
    pub(super) fn summary(mut self, paused: Option<(Step, String)>) -> Summary {
        let fact = |k: &str, v: String| KeyValue {
            key: k.into(),
            value: v,
        };
        let mut facts = vec![
            fact("mode", plan::mode_name(self.rec.mode).into()),
            fact("dryRun", self.dry_run.to_string()),
        ];
        if let Some(at) = self.resumed_at {
            facts.push(fact("resumedAt", at.name().into()));
        }
        if self.rec.mode.rotates_anchor() {
            facts.push(fact(
                "oldAnchor",
                self.rec.anchor_before.fingerprint.clone(),
            ));
            if let Some(new) = &self.rec.new_anchor {
                facts.push(fact("newAnchor", new.clone()));
            }
            if let Some(next) = self.rec.staged.as_ref().and_then(|r| r.new_next.as_ref()) {
                facts.push(fact("nextAnchor", next.clone()));
            }
        } else {
            facts.push(fact("anchor", self.rec.anchor_before.fingerprint.clone()));
        }
        if let Some(b) = &self.rec.issuer_before {
            facts.push(fact("oldIssuer", b.fingerprint.clone()));
        }
        if let Some(new) = &self.rec.new_issuer {
            facts.push(fact("newIssuer", new.clone()));
        }
        if let Some(at) = self.rec.issuer_reloaded_at {
            facts.push(fact("issuerReloadedAt", at.to_string()));
        }
        if let Some(at) = self.rec.leaves_proven_at {
            facts.push(fact("leavesProvenAt", at.to_string()));
        }
        let restarts = if self.dry_run {
            "restartsPlanned"
        } else {
            "restarts"
        };
        facts.push(fact(restarts, self.restarted.to_string()));
        if !self.dry_run {
            facts.push(fact("restartsTotal", self.rec.restarts.to_string()));
        }
        facts.push(fact("podsDeleted", self.pods_deleted.to_string()));
        facts.append(&mut self.notes);
        if let Some((at, _)) = &paused {
            facts.push(fact("pausedBefore", at.name().into()));
        }
        let message = match (paused, self.dry_run, self.rec.mode) {
            (Some((at, reason)), _, _) => format!(
                "stopped before step {}: {reason}; the next run resumes there",
                at.name()
            ),
            (None, true, _) => "dry run: walked every step; nothing was changed".to_string(),
            (None, false, Mode::Full) => format!(
                "rotated trust anchor {} -> {} and the identity issuer; {} workload restart(s)",
                short(&self.rec.anchor_before.fingerprint),
                self.rec.new_anchor.as_deref().map(short).unwrap_or("?"),
                self.restarted
            ),
            (None, false, Mode::Staged) => format!(
                "rotated trust anchor {} -> {} and the identity issuer; next anchor {} staged; \
                 {} workload restart(s)",
                short(&self.rec.anchor_before.fingerprint),
                self.rec.new_anchor.as_deref().map(short).unwrap_or("?"),
                self.rec
                    .staged
                    .as_ref()
                    .and_then(|r| r.new_next.as_deref())
                    .map(short)
                    .unwrap_or("?"),
                self.restarted
            ),
            (None, false, Mode::IssuerOnly) => {
                "rotated the identity issuer; identity reloaded it, proxies \
                pick it up at their next leaf refresh"
                    .to_string()
            }
        };
        Summary { message, facts }
    }
}
