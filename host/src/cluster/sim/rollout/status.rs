//! kubectl's rollout-status rules and wording for each kind, observed
//! generation first, and the inputs they read, so a wait recomputes the
//! status only when one of them changed.

use crate::cluster::ClusterError;
use crate::wit::{RolloutPhase, RolloutStatus, WorkloadKind};

use super::super::world::{self, WlId, World};
use super::Counts;

/// Everything [`World::rollout_status`] reads, to tell cheaply whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInputs {
    generation: i64,
    observed: i64,
    counts: Counts,
    progressing: Option<bool>,
    current_is_update: bool,
}

/// kubectl reports the rollout of a DaemonSet or StatefulSet only under
/// RollingUpdate.
fn rolling_update_only(w: &world::Workload) -> Result<(), ClusterError> {
    if w.strategy_type() != "RollingUpdate" {
        return Err(ClusterError::Invalid(
            "rollout status is only available for RollingUpdate strategy type".into(),
        ));
    }
    Ok(())
}

impl World {
    pub fn status_inputs(&self, wl: WlId) -> StatusInputs {
        let w = &self.workloads[wl];
        StatusInputs {
            generation: w.generation,
            observed: w.observed_generation,
            counts: self.counts(wl),
            progressing: w.progressing.as_ref().map(|p| p.0),
            current_is_update: w.current_hash == w.template_hash,
        }
    }

    /// kubectl's rollout-status rules for the kind, observedGeneration first.
    pub fn rollout_status(&self, wl: WlId) -> Result<RolloutStatus, ClusterError> {
        let w = &self.workloads[wl];
        let c = self.counts(wl);
        let status = |phase, message: String| RolloutStatus { phase, message };
        use RolloutPhase::{Complete, Failed, Progressing};
        match w.kind {
            WorkloadKind::Deployment => {
                if w.generation > w.observed_generation {
                    return Ok(status(
                        Progressing,
                        "Waiting for deployment spec update to be observed...".into(),
                    ));
                }
                if let Some((false, reason, _)) = &w.progressing
                    && reason == "ProgressDeadlineExceeded"
                {
                    return Ok(status(
                        Failed,
                        format!("deployment {:?} exceeded its progress deadline", w.name),
                    ));
                }
                if c.updated < c.desired {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for deployment {:?} rollout to finish: {} out of {} new replicas have been updated...",
                            w.name, c.updated, c.desired
                        ),
                    ));
                }
                if c.current > c.updated {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for deployment {:?} rollout to finish: {} old replicas are pending termination...",
                            w.name,
                            c.current - c.updated
                        ),
                    ));
                }
                if c.available < c.updated {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for deployment {:?} rollout to finish: {} of {} updated replicas are available...",
                            w.name, c.available, c.updated
                        ),
                    ));
                }
                Ok(status(
                    Complete,
                    format!("deployment {:?} successfully rolled out", w.name),
                ))
            }
            WorkloadKind::DaemonSet => {
                rolling_update_only(w)?;
                if w.generation > w.observed_generation {
                    return Ok(status(
                        Progressing,
                        "Waiting for daemon set spec update to be observed...".into(),
                    ));
                }
                if c.updated < c.desired {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for daemon set {:?} rollout to finish: {} out of {} new pods have been updated...",
                            w.name, c.updated, c.desired
                        ),
                    ));
                }
                if c.available < c.desired {
                    return Ok(status(
                        Progressing,
                        format!(
                            "Waiting for daemon set {:?} rollout to finish: {} of {} updated pods are available...",
                            w.name, c.available, c.desired
                        ),
                    ));
                }
                Ok(status(
                    Complete,
                    format!("daemon set {:?} successfully rolled out", w.name),
                ))
            }
            WorkloadKind::StatefulSet => {
                rolling_update_only(w)?;
                if w.observed_generation == 0 || w.generation > w.observed_generation {
                    return Ok(status(
                        Progressing,
                        "Waiting for statefulset spec update to be observed...".into(),
                    ));
                }
                if c.ready < c.desired {
                    return Ok(status(
                        Progressing,
                        format!("Waiting for {} pods to be ready...", c.desired - c.ready),
                    ));
                }
                let partition = self.partition(wl);
                let update_revision = format!("{}-{}", w.name, w.template_hash);
                if partition > 0 {
                    if c.updated < c.desired.saturating_sub(partition) {
                        return Ok(status(
                            Progressing,
                            format!(
                                "Waiting for partitioned roll out to finish: {} out of {} new pods have been updated...",
                                c.updated,
                                c.desired - partition
                            ),
                        ));
                    }
                    return Ok(status(
                        Complete,
                        format!(
                            "partitioned roll out complete: {} new pods have been updated...",
                            c.updated
                        ),
                    ));
                }
                if w.current_hash != w.template_hash {
                    return Ok(status(
                        Progressing,
                        format!(
                            "waiting for statefulset rolling update to complete {} pods at revision {}...",
                            c.updated, update_revision
                        ),
                    ));
                }
                Ok(status(
                    Complete,
                    format!(
                        "statefulset rolling update complete {} pods at revision {}...",
                        c.current, update_revision
                    ),
                ))
            }
        }
    }
}
