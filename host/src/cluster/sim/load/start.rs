//! What runs once every object is in: which workloads talk to which (the
//! outage checker's pairs), the controllers' first work (reconciles,
//! issuances, renewals, an identity that missed an issuer change), and the
//! anchor and issuer rotation is judged against.

use crate::cluster::sim::linkerd::{CONTROL_PLANE_NS, DESTINATION, IDENTITY, IDENTITY_ISSUER};
use crate::cluster::sim::scenario::ScenarioError;
use crate::cluster::sim::world::World;
use crate::wit::WorkloadKind;

use super::invalid;

impl World {
    pub(super) fn configure_traffic(&mut self) -> Result<(), ScenarioError> {
        let cp: Vec<usize> = [IDENTITY, DESTINATION]
            .iter()
            .filter_map(|n| self.find_workload(WorkloadKind::Deployment, CONTROL_PLANE_NS, n))
            .map(|wl| self.workloads[wl].unit)
            .collect();
        let pairs = match self.spec.traffic.clone() {
            None => None,
            Some(list) => {
                let mut pairs = Vec::new();
                for (i, t) in list.iter().enumerate() {
                    let unit = |r: &str| -> Result<usize, ScenarioError> {
                        if let [ns, "Pod", name] = r.split('/').collect::<Vec<_>>().as_slice()
                            && let Some(p) = self.pod_id(ns, name)
                            && let Some(u) = self.pod(p).unit
                        {
                            return Ok(u);
                        }
                        self.resolve_workload_ref(r)
                            .map(|wl| self.workloads[wl].unit)
                            .map_err(|e| invalid(format!("Simulation spec.traffic[{i}]: {e}")))
                    };
                    let (c, s) = (unit(&t.from)?, unit(&t.to)?);
                    // Pairs with the control plane are counted anyway.
                    if !cp.contains(&s) {
                        pairs.push((c, s));
                    }
                }
                Some(pairs)
            }
        };
        self.outage.set_traffic(pairs, cp);
        Ok(())
    }

    pub(super) fn schedule_initial_work(&mut self) {
        for wl in 0..self.workloads.len() {
            self.request_reconcile(wl);
        }
        for c in 0..self.certificates.len() {
            let issuing = self.certificates[c]
                .conditions
                .iter()
                .any(|x| x.type_ == "Issuing" && x.status == "True");
            if issuing {
                let (reason, message) = self.certificates[c]
                    .conditions
                    .iter()
                    .find(|x| x.type_ == "Issuing")
                    .map(|x| (x.reason.clone(), x.message.clone()))
                    .unwrap_or_default();
                self.begin_issuance(c, &reason, &message);
            } else {
                self.schedule_renewal(c);
            }
        }
        // Identity misses nothing that happened while the state was on disk.
        let current = self.secret_cert(CONTROL_PLANE_NS, IDENTITY_ISSUER);
        let stale = (0..self.pods.len()).any(|p| {
            self.pods[p]
                .as_ref()
                .and_then(|p| p.identity)
                .is_some_and(|c| c.issuer.is_some() && c.issuer != current)
        });
        if stale {
            self.issuer_secret_changed();
        }
    }

    /// The anchor and issuer at first load: a dumped Simulation's
    /// fingerprints, else the Secrets' certificates now.
    pub(super) fn record_initial_trust(&mut self, anchor: Option<String>, issuer: Option<String>) {
        self.initial_anchor = match anchor {
            Some(fp) => Some(self.pki.intern_fingerprint(&fp)),
            None => {
                let (ns, name) = self.signing_anchor_secret();
                self.secret_cert(&ns, &name)
            }
        };
        self.initial_issuer = match issuer {
            Some(fp) => Some(self.pki.intern_fingerprint(&fp)),
            None => self.secret_cert(CONTROL_PLANE_NS, IDENTITY_ISSUER),
        };
    }
}
