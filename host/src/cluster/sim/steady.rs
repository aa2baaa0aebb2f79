//! A loaded scenario starts converged: workloads without pods get
//! long-running ones, every running proxy gets the roots and leaf a settled
//! mesh would give it (identity first), and a dumped state gets back what
//! its `sim.rotor.dev/` annotations recorded.

use std::sync::Arc;

use super::linkerd::{CONTROL_PLANE_NS, IDENTITY_ISSUER};
use super::load::{
    IDENTITY_ISSUER_ANNOTATION, IDENTITY_ROOTS_ANNOTATION, LEAF_ANNOTATION, STEADY_POD_AGE,
};
use super::world::{Ev, IdentityCtl, Leaf, Mesh, PodId, World, short_hash};
use crate::wit::WorkloadKind;

impl World {
    /// Workloads without pods in the scenario get them, as if long running.
    pub(super) fn fill_steady_pods(&mut self) {
        for wl in 0..self.workloads.len() {
            let w = &self.workloads[wl];
            if !w.pods.is_empty() {
                continue;
            }
            let hash = w.template_hash.clone();
            let name = w.name.clone();
            let count = self.desired_replicas(wl);
            for i in 0..count {
                let (pod_name, node, ordinal) = match self.workloads[wl].kind {
                    WorkloadKind::Deployment => (
                        format!("{name}-{hash}-{}", short_hash(&format!("{name}/{i}"), 5)),
                        self.node_names[i as usize % self.node_names.len()].clone(),
                        None,
                    ),
                    WorkloadKind::StatefulSet => (
                        format!("{name}-{i}"),
                        self.node_names[i as usize % self.node_names.len()].clone(),
                        Some(i),
                    ),
                    WorkloadKind::DaemonSet => (
                        format!("{name}-{}", short_hash(&format!("{name}/{i}"), 5)),
                        self.node_names[i as usize].clone(),
                        None,
                    ),
                };
                let never_ready = self.workloads[wl].never_ready;
                self.workloads[wl].never_ready = false;
                let id = self.create_workload_pod(wl, pod_name, node, ordinal, hash.clone());
                self.workloads[wl].never_ready = never_ready;
                let created = self.now - STEADY_POD_AGE;
                let p = self.pod_mut(id);
                p.created = created;
                p.never_ready = false;
                p.running = true;
                p.start_time = Some(created);
            }
        }
    }

    /// Start every running pod in a converged state: identity first, then
    /// the proxies that get leaves from it.
    pub(super) fn bring_up_pods(&mut self, loaded: &[PodId]) {
        let loaded: std::collections::HashSet<PodId> = loaded.iter().copied().collect();
        let ids: Vec<PodId> = (0..self.pods.len())
            .filter(|&p| self.pods[p].is_some())
            .collect();
        let (identity, rest): (Vec<PodId>, Vec<PodId>) =
            ids.into_iter().partition(|&p| self.is_identity_pod(p));
        for pod in identity.into_iter().chain(rest) {
            let p = self.pod(pod);
            if p.terminating {
                // Serves nothing any more; keep what it held for the record.
                let note = self.take_annotation(pod, LEAF_ANNOTATION);
                if let Some(leaf) = note.and_then(|n| self.parse_leaf(&n)) {
                    self.pod_mut(pod).leaf = Some(leaf);
                }
                if self.is_identity_pod(pod) {
                    self.restore_identity(pod);
                }
                continue;
            }
            if !p.running {
                let uid = p.uid;
                let at = self.now + self.spec.timings.pod_start_seconds;
                if p.roots.is_none() && p.mesh == Mesh::Injected {
                    self.admit(pod);
                }
                self.schedule(at, Ev::PodStarted { pod, uid });
                continue;
            }
            if p.mesh == Mesh::Off {
                let never = p.never_ready;
                self.set_ready(pod, !never);
                continue;
            }
            if loaded.contains(&pod) && p.roots.is_none() {
                // A manifest without the proxy's env: the injector gave it the current roots.
                self.admit(pod);
            }
            if self.pod(pod).roots.is_none() {
                let pem = self.current_roots_pem();
                let roots = self.roots_for_pem(&pem);
                let p = self.pod_mut(pod);
                p.roots = Some(roots);
                p.roots_pem = Some(pem);
            }
            if self.is_identity_pod(pod) {
                self.restore_identity(pod);
            }
            let leaf_note = self.take_annotation(pod, LEAF_ANNOTATION);
            match leaf_note {
                Some(note) => self.restore_leaf(pod, &note),
                None => {
                    let issued = self.now - self.steady_leaf_age(pod);
                    self.request_leaf_issued(pod, issued);
                }
            }
        }
    }

    /// Remove a simulator annotation from a pod, copying its map only if present.
    fn take_annotation(&mut self, pod: PodId, key: &str) -> Option<String> {
        let p = self.pod_mut(pod);
        if !p.annotations.contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut p.annotations).remove(key)
    }

    fn restore_identity(&mut self, pod: PodId) {
        let roots_note = self.take_annotation(pod, IDENTITY_ROOTS_ANNOTATION);
        let issuer_note = self.take_annotation(pod, IDENTITY_ISSUER_ANNOTATION);
        match (roots_note, issuer_note) {
            (Some(roots_pem), Some(issuer)) => {
                let roots = self.roots_for_pem(&Arc::from(roots_pem));
                let issuer = if issuer == "none" {
                    None
                } else {
                    self.pki
                        .intern_pem(&issuer)
                        .ok()
                        .and_then(|v| v.first().copied())
                };
                self.pod_mut(pod).identity = Some(IdentityCtl { roots, issuer });
                if issuer.is_none() {
                    self.schedule_container_restart(pod);
                }
            }
            _ => {
                let pem = self.current_roots_pem();
                let roots = self.roots_for_pem(&pem);
                let issuer = self.secret_cert(CONTROL_PLANE_NS, IDENTITY_ISSUER);
                let issuer = issuer.filter(|&i| {
                    let a = self.pki.anchor_of(i);
                    a != i && self.outage.roots(roots).contains(&a)
                });
                self.pod_mut(pod).identity = Some(IdentityCtl { roots, issuer });
                if issuer.is_none() {
                    self.schedule_container_restart(pod);
                }
            }
        }
    }

    /// `issuer-sha256 anchor-sha256 notAfter`; `none` (or anything else): no leaf.
    fn parse_leaf(&mut self, note: &str) -> Option<Leaf> {
        let parts: Vec<&str> = note.split_whitespace().collect();
        let [issuer, anchor, not_after] = parts.as_slice() else {
            return None;
        };
        let not_after = not_after.parse::<i64>().ok()?;
        Some(Leaf {
            issuer: self.pki.intern_fingerprint(issuer),
            anchor: self.pki.intern_fingerprint(anchor),
            not_after,
        })
    }

    fn restore_leaf(&mut self, pod: PodId, note: &str) {
        if let Some(leaf) = self.parse_leaf(note) {
            let issued = (leaf.not_after - 24 * 3600).min(self.now);
            self.install_leaf(pod, leaf, issued);
            let identity_ok = !self.is_identity_pod(pod)
                || self.pod(pod).identity.is_some_and(|c| c.issuer.is_some());
            let never = self.pod(pod).never_ready;
            self.set_ready(pod, identity_ok && !never);
        } else {
            self.schedule_certify_retry(pod);
        }
    }

    /// Spread the leaves of a loaded mesh over their lifetime, so refreshes
    /// do not all fall on one instant: up to 12h old, by pod name.
    fn steady_leaf_age(&self, pod: PodId) -> i64 {
        let h = super::pki::sha256_hex(self.pod(pod).name.as_bytes());
        (u64::from_str_radix(&h[..8], 16).unwrap_or(0) % (12 * 3600)) as i64
    }
}
