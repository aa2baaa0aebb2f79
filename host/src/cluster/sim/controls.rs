//! What the simulator offers beyond the `Cluster` trait: its report
//! (outage, never-ready pods, final trust state), its state as a scenario
//! that loads again, driving the virtual clock directly or after the run,
//! and the faults the scenario injects.

use super::report::{FinalState, OutageReport, SimulationReport};
use super::world::{Mesh, World};
use super::{SimCluster, pki};

impl SimCluster {
    /// Outage, never-ready pods and the final trust state so far.
    pub fn simulation_report(&self) -> SimulationReport {
        self.lock().report()
    }

    /// The whole cluster state as a scenario that loads again and continues.
    pub fn state_yaml(&self) -> String {
        self.lock().state_yaml()
    }

    /// Keep the virtual clock running after the policy returned, for the
    /// scenario's `afterRunSeconds`: what the run set in motion (a bundle
    /// sync, a kubelet update, an expiring leaf) lands in the report too.
    pub fn watch_after_run(&self) {
        let mut w = self.lock();
        let seconds = w.spec.after_run();
        let target = w.now + seconds.max(0);
        w.fleet.advance_to(target);
        w.after_run_seconds += seconds.max(0);
    }

    /// The scenario's `spec.faults`, if it injects API errors.
    pub fn fault_spec(&self) -> Option<crate::cluster::faults::FaultSpec> {
        self.lock().spec.faults.clone()
    }

    /// Advance the virtual clock (tests and tools that drive time directly).
    pub fn advance(&self, seconds: i64) {
        let mut w = self.lock();
        let target = w.now + seconds.max(0);
        w.fleet.advance_to(target);
    }
}

impl World {
    pub(super) fn report(&self) -> SimulationReport {
        let mut never_ready = self.never_ready_log.clone();
        let current_anchor = self.current_anchor();
        let current_issuer = self.current_issuer();
        let held = self.held_anchors();
        let mut trusting_retired = 0;
        let mut retired_leaf = 0;
        for p in self.pods.iter().flatten() {
            if p.terminating {
                continue;
            }
            if p.running && !p.ever_ready {
                never_ready.push(format!("{}/{}", p.namespace, p.name));
            }
            if p.mesh == Mesh::Off || !p.running {
                continue;
            }
            if let Some(r) = p.roots
                && self.outage.roots(r).iter().any(|a| !held.contains(a))
            {
                trusting_retired += 1;
            }
            if let Some(l) = p.leaf
                && !held.contains(&l.anchor)
            {
                retired_leaf += 1;
            }
        }
        never_ready.sort();
        let workloads_not_ready = (0..self.workloads.len())
            .filter(|&wl| self.workload_ready_count(wl) < self.desired_replicas(wl))
            .map(|wl| self.workloads[wl].reference())
            .collect();
        let bundle_anchors = pki::pem_blocks(&self.current_roots_pem())
            .map(|b| b.len())
            .unwrap_or(0);
        SimulationReport {
            virtual_seconds: self.now - self.loaded_at,
            after_run_seconds: self.after_run_seconds,
            outage: OutageReport {
                broken_pair_seconds: self.outage.broken_pair_seconds(),
                windows: self.outage.windows(self.now),
            },
            pods_never_ready: never_ready,
            final_state: FinalState {
                bundle_anchors,
                proxies_trusting_retired_anchor: trusting_retired,
                proxies_with_retired_chain_leaf: retired_leaf,
                anchor_rotated: current_anchor.is_some() && current_anchor != self.initial_anchor,
                issuer_rotated: current_issuer.is_some() && current_issuer != self.initial_issuer,
                workloads_not_ready,
                private_key_copies: self.private_key_copies(),
            },
        }
    }
}
