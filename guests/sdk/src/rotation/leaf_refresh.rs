//! `adoptNewIssuer: leaf-refresh`: proxies move to the new issuer without a
//! restart. Linkerd's proxy asks identity for a new leaf at about 70% of
//! its leaf's life, and identity issues leaves that live at most its
//! issuance lifetime (clamped to the issuer's end). Once every identity
//! replica serves the new issuer (`issuer_reloaded_at`), a leaf of the old
//! one was issued before that moment and has expired one lifetime later;
//! a proxy still working then presents a leaf of the new issuer. Until
//! then the rotation pauses before adopt-new-issuer and a later run
//! continues, restarting nothing in that step.
//!
//! With `proxyMetrics`, a run that finds the wait not over asks the
//! proxies themselves ([`crate::proxy_metrics`]): when every proxy older
//! than the reload took its leaf after it, the wait ends there, and the
//! record keeps that moment for the steps after.

use super::config::IssuerAdoption;
use super::run::Run;
use crate::{RotorError, mesh, proxy_metrics};

/// Beyond one leaf lifetime: clock skew between rotor and identity, and a
/// proxy's retries when its refresh first fails.
pub const LEAF_REFRESH_MARGIN_SECONDS: i64 = 600;

impl Run<'_> {
    /// When every working proxy presents a leaf of the new issuer, where
    /// the rotation waits for leaf refreshes instead of restarting (`None`:
    /// it restarts, or identity's reload is not recorded yet).
    pub(super) fn leaves_refreshed_by(&self) -> Result<Option<i64>, RotorError> {
        if !self.cfg.mode.rotates_anchor()
            || self.cfg.adopt_new_issuer != IssuerAdoption::LeafRefresh
        {
            return Ok(None);
        }
        let Some(reloaded_at) = self.rec.issuer_reloaded_at else {
            return Ok(None);
        };
        let lifetime = self.leaf_lifetime.clone().map_err(RotorError::State)?;
        let by = reloaded_at + lifetime + LEAF_REFRESH_MARGIN_SECONDS;
        Ok(Some(self.rec.leaves_proven_at.map_or(by, |at| at.min(by))))
    }

    /// Why the run must stop before adopt-new-issuer: leaves of the old
    /// issuer may still be in use. A dry run walks on.
    pub(super) fn leaves_still_refreshing(&mut self) -> Result<Option<String>, RotorError> {
        if self.dry_run {
            return Ok(None);
        }
        let Some(by) = self.leaves_refreshed_by()? else {
            return Ok(None);
        };
        let now = crate::clock::now();
        if now >= by {
            return Ok(None);
        }
        let mut why = format!(
            "proxies are renewing their leaves from the new issuer (adoptNewIssuer: \
             leaf-refresh); run again at or after {} ({} s from now)",
            crate::utc::rfc3339(by),
            by - now
        );
        if self.cfg.proxy_metrics
            && let Some(reloaded_at) = self.rec.issuer_reloaded_at
        {
            let mesh = mesh::discover(&self.cfg.control_plane_namespace)?;
            match proxy_metrics::first_doubt(mesh.all_pods(), reloaded_at) {
                None => {
                    crate::info(
                        "every proxy took its leaf after identity's reload: the wait ends early",
                        &[("savedSeconds", &(by - now).to_string())],
                    );
                    self.rec.leaves_proven_at = Some(now);
                    self.save()?;
                    return Ok(None);
                }
                Some(doubt) => why.push_str(&format!("; the proxies' metrics: {doubt}")),
            }
        }
        Ok(Some(why))
    }
}
