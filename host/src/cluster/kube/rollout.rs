//! kubectl's rollout-status rules (`rollout_status.go`), per kind, with
//! `observedGeneration` checked first so a fresh restart never reads as done.

use crate::cluster::{ClusterError, ClusterResult};
use crate::wit::{RolloutPhase, RolloutStatus, UpdateStrategy, Workload, WorkloadKind};

fn progressing(message: String) -> RolloutStatus {
    RolloutStatus {
        phase: RolloutPhase::Progressing,
        message,
    }
}

fn complete(message: String) -> RolloutStatus {
    RolloutStatus {
        phase: RolloutPhase::Complete,
        message,
    }
}

/// The status kubectl would print for `w`. `deadline_exceeded` is a
/// Deployment's `Progressing=False` / `ProgressDeadlineExceeded` condition.
/// Like kubectl, a StatefulSet or DaemonSet that does not use RollingUpdate
/// has no rollout status (`Invalid`): its pods must be replaced by deletion.
pub fn rollout_status(w: &Workload, deadline_exceeded: bool) -> ClusterResult<RolloutStatus> {
    let name = &w.name;
    match w.kind {
        WorkloadKind::Deployment => {
            if w.generation > w.observed_generation {
                return Ok(progressing(
                    "Waiting for deployment spec update to be observed...".into(),
                ));
            }
            if deadline_exceeded {
                return Ok(RolloutStatus {
                    phase: RolloutPhase::Failed,
                    message: format!("deployment {name:?} exceeded its progress deadline"),
                });
            }
            if w.updated < w.desired {
                return Ok(progressing(format!(
                    "Waiting for deployment {name:?} rollout to finish: {} out of {} new replicas have been updated...",
                    w.updated, w.desired
                )));
            }
            if w.current > w.updated {
                return Ok(progressing(format!(
                    "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
                    w.current - w.updated
                )));
            }
            if w.available < w.updated {
                return Ok(progressing(format!(
                    "Waiting for deployment {name:?} rollout to finish: {} of {} updated replicas are available...",
                    w.available, w.updated
                )));
            }
            Ok(complete(format!(
                "deployment {name:?} successfully rolled out"
            )))
        }
        WorkloadKind::DaemonSet => {
            if w.strategy != UpdateStrategy::RollingUpdate {
                return Err(ClusterError::Invalid(format!(
                    "daemon set {}/{name}: rollout status is only available for RollingUpdate strategy type; delete its pods to replace them",
                    w.namespace
                )));
            }
            if w.generation > w.observed_generation {
                return Ok(progressing(
                    "Waiting for daemon set spec update to be observed...".into(),
                ));
            }
            if w.updated < w.desired {
                return Ok(progressing(format!(
                    "Waiting for daemon set {name:?} rollout to finish: {} out of {} new pods have been updated...",
                    w.updated, w.desired
                )));
            }
            if w.available < w.desired {
                return Ok(progressing(format!(
                    "Waiting for daemon set {name:?} rollout to finish: {} of {} updated pods are available...",
                    w.available, w.desired
                )));
            }
            Ok(complete(format!(
                "daemon set {name:?} successfully rolled out"
            )))
        }
        WorkloadKind::StatefulSet => {
            if w.strategy != UpdateStrategy::RollingUpdate {
                return Err(ClusterError::Invalid(format!(
                    "statefulset {}/{name}: rollout status is only available for RollingUpdate strategy type; delete its pods to replace them",
                    w.namespace
                )));
            }
            if w.observed_generation == 0 || w.generation > w.observed_generation {
                return Ok(progressing(
                    "Waiting for statefulset spec update to be observed...".into(),
                ));
            }
            if w.ready < w.desired {
                return Ok(progressing(format!(
                    "Waiting for {} pods to be ready...",
                    w.desired - w.ready
                )));
            }
            if w.partition > 0 {
                let want = w.desired.saturating_sub(w.partition);
                if w.updated < want {
                    return Ok(progressing(format!(
                        "Waiting for partitioned roll out to finish: {} out of {want} new pods have been updated...",
                        w.updated
                    )));
                }
                return Ok(complete(format!(
                    "partitioned roll out complete: {} new pods have been updated...",
                    w.updated
                )));
            }
            if w.updated < w.desired {
                return Ok(progressing(format!(
                    "waiting for statefulset rolling update to complete {} pods...",
                    w.updated
                )));
            }
            Ok(complete(format!(
                "statefulset rolling update complete {} pods...",
                w.updated
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Workload {
        Workload {
            kind: WorkloadKind::Deployment,
            namespace: "emojivoto".into(),
            name: "web".into(),
            labels: vec![],
            template_labels: vec![],
            template_annotations: vec![],
            selector: "app=web".into(),
            strategy: UpdateStrategy::RollingUpdate,
            paused: false,
            partition: 0,
            generation: 2,
            observed_generation: 2,
            desired: 3,
            current: 3,
            updated: 3,
            ready: 3,
            available: 3,
        }
    }

    #[test]
    fn unobserved_generation_is_progressing_even_if_counts_look_done() {
        let mut w = deployment();
        w.generation = 3;
        let s = rollout_status(&w, false).unwrap();
        assert_eq!(s.phase, RolloutPhase::Progressing);
        assert_eq!(
            s.message,
            "Waiting for deployment spec update to be observed..."
        );
    }

    #[test]
    fn deployment_messages_follow_kubectl() {
        let mut w = deployment();
        w.updated = 1;
        w.current = 4;
        assert_eq!(
            rollout_status(&w, false).unwrap().message,
            "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated..."
        );
        w.updated = 3;
        assert_eq!(
            rollout_status(&w, false).unwrap().message,
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination..."
        );
        w.current = 3;
        w.available = 2;
        assert_eq!(
            rollout_status(&w, false).unwrap().message,
            "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available..."
        );
        w.available = 3;
        let s = rollout_status(&w, false).unwrap();
        assert_eq!(s.phase, RolloutPhase::Complete);
        assert_eq!(s.message, "deployment \"web\" successfully rolled out");
        assert_eq!(
            rollout_status(&w, true).unwrap().phase,
            RolloutPhase::Failed
        );
    }

    #[test]
    fn statefulset_rules() {
        let mut w = deployment();
        w.kind = WorkloadKind::StatefulSet;
        w.observed_generation = 0;
        assert_eq!(
            rollout_status(&w, false).unwrap().phase,
            RolloutPhase::Progressing
        );
        w.observed_generation = 2;
        w.ready = 1;
        assert_eq!(
            rollout_status(&w, false).unwrap().message,
            "Waiting for 2 pods to be ready..."
        );
        w.ready = 3;
        w.partition = 2;
        w.updated = 0;
        assert_eq!(
            rollout_status(&w, false).unwrap().message,
            "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated..."
        );
        w.updated = 1;
        assert_eq!(
            rollout_status(&w, false).unwrap().phase,
            RolloutPhase::Complete
        );
        w.strategy = UpdateStrategy::OnDelete;
        assert!(matches!(
            rollout_status(&w, false),
            Err(ClusterError::Invalid(_))
        ));
    }

    #[test]
    fn daemonset_rules() {
        let mut w = deployment();
        w.kind = WorkloadKind::DaemonSet;
        w.updated = 2;
        assert_eq!(
            rollout_status(&w, false).unwrap().message,
            "Waiting for daemon set \"web\" rollout to finish: 2 out of 3 new pods have been updated..."
        );
        w.updated = 3;
        w.available = 1;
        assert_eq!(
            rollout_status(&w, false).unwrap().message,
            "Waiting for daemon set \"web\" rollout to finish: 1 of 3 updated pods are available..."
        );
        w.available = 3;
        assert_eq!(
            rollout_status(&w, false).unwrap().phase,
            RolloutPhase::Complete
        );
    }
}
