//! The virtual clock and its discrete event queue: time moves only when a
//! caller waits, and each due event goes to the controller it belongs to
//! (a stale one, for a pod or issuance since replaced, is dropped).

use std::cmp::Reverse;

use super::{BundleId, CertRecId, PodId, WlId, World};

/// Something that happens at a point in virtual time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ev {
    Reconcile(WlId),
    PodStarted { pod: PodId, uid: u64 },
    PodGone { pod: PodId, uid: u64 },
    IssuanceDone { cert: CertRecId, token: u64 },
    RenewalDue { cert: CertRecId, token: u64 },
    BundleSync(BundleId),
    IdentityReload { pod: PodId, uid: u64 },
    IdentityRetry { pod: PodId, uid: u64 },
    LeafRefresh { pod: PodId, uid: u64, leaf_gen: u64 },
    LeafExpiry { pod: PodId, uid: u64, leaf_gen: u64 },
    ProgressDeadline { wl: WlId, since: i64 },
    ProbeOut { pod: PodId, uid: u64, n: u32 },
    SidecarRestart { pod: PodId, uid: u64 },
    OwnerRestart(usize),
}

impl World {
    pub fn schedule(&mut self, at: i64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((at.max(self.now), self.seq, ev)));
    }

    pub fn next_event_time(&self) -> Option<i64> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Run every event up to `target` in time order, then set the clock there.
    pub fn advance_to(&mut self, target: i64) {
        while let Some(t) = self.next_event_time() {
            if t > target {
                break;
            }
            let Some(Reverse((t, _, ev))) = self.queue.pop() else {
                break;
            };
            if t > self.now {
                self.outage.elapse(self.now, t);
                self.now = t;
            }
            self.handle(ev);
            if self.next_event_time() != Some(self.now) {
                self.evaluate_outage();
            }
        }
        if target > self.now {
            self.outage.elapse(self.now, target);
            self.now = target;
        }
        self.evaluate_outage();
    }

    /// Run what is due now (after a mutation) without moving the clock.
    pub fn settle(&mut self) {
        self.advance_to(self.now);
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Reconcile(wl) => {
                self.workloads[wl].reconcile_pending = false;
                self.reconcile(wl);
            }
            Ev::PodStarted { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.pod_started(pod);
                }
            }
            Ev::PodGone { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.remove_pod(pod);
                }
            }
            Ev::IssuanceDone { cert, token } => {
                if self.certificates[cert].issue_token == token {
                    self.complete_issuance(cert);
                }
            }
            Ev::RenewalDue { cert, token } => {
                if self.certificates[cert].issue_token == token {
                    self.begin_issuance(
                        cert,
                        "Renewing",
                        "Renewing certificate as renewal was scheduled",
                    );
                }
            }
            Ev::BundleSync(b) => self.sync_bundle(b),
            Ev::IdentityReload { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.identity_reload(pod);
                }
            }
            Ev::IdentityRetry { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.identity_restart_container(pod);
                }
            }
            Ev::ProbeOut { pod, uid, n } => {
                if self.pod_uid_is(pod, uid) {
                    self.startup_probe_deadline(pod, n);
                }
            }
            Ev::SidecarRestart { pod, uid } => {
                if self.pod_uid_is(pod, uid) {
                    self.sidecar_restart(pod);
                }
            }
            Ev::LeafRefresh { pod, uid, leaf_gen } => {
                if self.pod_uid_is(pod, uid) && self.pod(pod).leaf_gen == leaf_gen {
                    self.request_leaf(pod);
                }
            }
            Ev::LeafExpiry { pod, uid, leaf_gen } => {
                if self.pod_uid_is(pod, uid) && self.pod(pod).leaf_gen == leaf_gen {
                    self.pod_mut(pod).leaf_expired = true;
                    self.update_contrib(pod);
                }
            }
            Ev::OwnerRestart(idx) => self.owner_restart_due(idx),
            Ev::ProgressDeadline { wl, since } => {
                if self.workloads[wl].last_progress == since {
                    self.check_progress_deadline(wl);
                }
            }
        }
    }

    fn pod_uid_is(&self, pod: PodId, uid: u64) -> bool {
        self.pods
            .get(pod)
            .and_then(Option::as_ref)
            .is_some_and(|p| p.uid == uid)
    }

    pub fn evaluate_outage(&mut self) {
        if self.outage.is_dirty() {
            let now = self.now;
            self.outage.evaluate(now);
        }
    }
}
