//! The trust bundle (the trust-roots ConfigMap) as the rotation sees it:
//! the gates that wait for it to hold both anchors, then the new one alone,
//! and the control-plane pods seen with it, which the restart rounds judge
//! stale by the bundle they mounted.

use super::Mode;
use super::bundle_writer;
use super::run::Run;
use crate::bundle::{self, Bundle, Want};
use crate::fingerprint::short;
use crate::mesh::{self, SeenPod};
use crate::{CallContext, RotorError, clock};

/// How long rotor lets a change of the trust bundle settle before it
/// restarts a control-plane pod. Pod start times have a resolution of one
/// second, and a kubelet's copy of the ConfigMap may trail the API server
/// by a moment: a pod started in the second of the change (or the next)
/// may have mounted the old content, and the proxy injector stamps what it
/// mounted into every pod it injects.
const BUNDLE_SETTLE_SECONDS: u32 = 2;

impl Run<'_> {
    /// Step bundle-holds-both: wait until the bundle holds the old and the
    /// new anchor.
    pub(super) fn bundle_holds_both(&mut self) -> Result<((), String), RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        if self.dry_run {
            return Ok((
                (),
                format!("would wait until {cm} holds the old and the new anchor"),
            ));
        }
        self.write_bundle()?;
        let both = vec![
            self.rec.anchor_before.fingerprint.clone(),
            self.new_anchor()?,
        ];
        // Staged: the pair and nothing else, or the bundle could never
        // come to hold the new pair alone at the end.
        let want = match self.cfg.mode {
            Mode::Staged => Want::Exactly(both),
            _ => Want::Contains(both),
        };
        let b = self.wait_bundle(&want, "bundle-holds-new-anchor")?;
        Ok((
            (),
            format!(
                "{cm} holds {} anchor(s), hash {}",
                b.anchors.len(),
                short(&b.hash)
            ),
        ))
    }

    /// With `bundle.writer: rotor`, write the bundle from its sources (a
    /// no-op when it holds them already, as after a resumed run's write).
    fn write_bundle(&mut self) -> Result<(), RotorError> {
        if let Some(w) = bundle_writer::write(&self.cfg)?
            && w.changed
        {
            let held: Vec<&str> = w.anchors.iter().map(|a| short(a)).collect();
            crate::info(
                "wrote the trust bundle",
                &[
                    (
                        "configmap",
                        &self.cfg.trust_roots_config_map.named().to_string(),
                    ),
                    ("anchors", &held.join(", ")),
                ],
            );
        }
        Ok(())
    }

    /// Wait until the bundle holds `want`, then keep the control-plane pods
    /// that run with it: the restart round after judges them by it.
    fn wait_bundle(&mut self, want: &Want, gate: &str) -> Result<Bundle, RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        let b = bundle::wait_until(&cm, want, gate, self.cfg.deadlines.bundle_seconds)?;
        self.rec.pods_at_bundle = Some(self.control_plane_pods_now()?);
        Ok(b)
    }

    /// Read the bundle and check it holds `want` now (no waiting).
    pub(super) fn bundle_now(&self, want: &Want) -> Result<Bundle, RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        let b = bundle::read(&cm)?;
        if !self.dry_run
            && let crate::gate::Check::Pending(saw) | crate::gate::Check::Fail(saw) =
                bundle::check(&cm, &b.anchors, want)
        {
            return Err(RotorError::State(format!(
                "the trust bundle changed underneath the rotation: {saw}"
            )));
        }
        Ok(b)
    }

    /// What the bundle holds once the old anchor is out: the new anchor
    /// alone, or (staged) the new anchor and the new next one.
    pub(super) fn final_bundle(&self) -> Want {
        let mut anchors: Vec<String> = self.rec.new_anchor.clone().into_iter().collect();
        if let Some(next) = self.rec.staged.as_ref().and_then(|r| r.new_next.clone()) {
            anchors.push(next);
        }
        Want::Exactly(anchors)
    }

    /// Step bundle-holds-new-pair (staged): wait until the bundle holds the
    /// new anchor and the new next one, nothing else.
    pub(super) fn bundle_holds_new_pair(&mut self) -> Result<((), String), RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        if self.dry_run {
            return Ok((
                (),
                format!("would wait until {cm} holds the new anchor and the new next one"),
            ));
        }
        let b = self.wait_bundle(&self.final_bundle(), "bundle-holds-new-pair")?;
        let held: Vec<&str> = b.anchors.iter().map(|a| short(a)).collect();
        Ok((
            (),
            format!("{cm} holds {}, hash {}", held.join(", "), short(&b.hash)),
        ))
    }

    /// Step bundle-holds-only-new: wait until the bundle holds the new
    /// anchor alone.
    pub(super) fn bundle_holds_only_new(&mut self) -> Result<((), String), RotorError> {
        let cm = self.cfg.trust_roots_config_map.named();
        if self.dry_run {
            return Ok((
                (),
                format!("would wait until {cm} holds only the new anchor"),
            ));
        }
        self.write_bundle()?;
        let want = Want::Exactly(vec![self.new_anchor()?]);
        let b = self.wait_bundle(&want, "bundle-drops-old-anchor")?;
        Ok((
            (),
            format!(
                "{cm} holds only {}, hash {}",
                short(&b.anchors[0]),
                short(&b.hash)
            ),
        ))
    }

    /// The control-plane pods that ran when the bundle was seen as it is
    /// now. A record from before rotor kept them (or a dry run, which does
    /// not wait) takes the pods running now, which may restart the control
    /// plane once more but never too few.
    pub(super) fn pods_at_bundle(&mut self) -> Result<Vec<SeenPod>, RotorError> {
        if let Some(seen) = &self.rec.pods_at_bundle {
            return Ok(seen.clone());
        }
        let seen = self.control_plane_pods_now()?;
        self.rec.pods_at_bundle = Some(seen.clone());
        self.save()?;
        Ok(seen)
    }

    /// The control-plane pods running now, the bundle as it is; then
    /// [`BUNDLE_SETTLE_SECONDS`] pass before rotor restarts any of them.
    fn control_plane_pods_now(&self) -> Result<Vec<SeenPod>, RotorError> {
        let seen = mesh::control_plane_pods(&self.cfg.control_plane_namespace)?;
        if !self.dry_run {
            clock::wait(BUNDLE_SETTLE_SECONDS).call(|| "let the bundle change settle")?;
        }
        Ok(seen)
    }
}
