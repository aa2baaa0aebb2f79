//! The DaemonSet controller: one pod per node, old pods replaced within
//! maxUnavailable (default 1), unready old pods first.

use super::super::manifest::IntOrPercent;
use super::super::world::{PodId, WlId, World};

impl World {
    pub(super) fn reconcile_daemonset(&mut self, wl: WlId) {
        let nodes = self.node_names.clone();
        let w = &self.workloads[wl];
        let rolling = w.strategy_type() == "RollingUpdate";
        let hash = w.template_hash.clone();
        let max_unavail = w
            .spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_unavailable.clone())
            .unwrap_or(IntOrPercent::Int(1))
            .resolve(nodes.len() as u32, true)
            .unwrap_or(1)
            .max(1);
        let mut on_node: std::collections::HashMap<&str, Vec<PodId>> = Default::default();
        for &pid in &w.pods {
            on_node
                .entry(self.pod(pid).node.as_str())
                .or_default()
                .push(pid);
        }
        let mut missing = Vec::new();
        let mut unavailable = 0u32;
        let mut old_ready = Vec::new();
        let mut old_unready = Vec::new();
        for node in &nodes {
            match on_node.get(node.as_str()) {
                None => {
                    missing.push(node.clone());
                    unavailable += 1;
                }
                Some(pids) => {
                    let active: Vec<PodId> = pids
                        .iter()
                        .copied()
                        .filter(|&p| self.pod(p).active())
                        .collect();
                    if !active.iter().any(|&p| self.pod(p).ready) {
                        unavailable += 1;
                    }
                    for p in active {
                        if self.pod(p).template_hash != hash {
                            if self.pod(p).ready {
                                old_ready.push(p);
                            } else {
                                old_unready.push(p);
                            }
                        }
                    }
                }
            }
        }
        for node in missing {
            let suffix = self.pod_name_suffix();
            let name = format!("{}-{}", self.workloads[wl].name, suffix);
            self.create_workload_pod(wl, name, node, None, hash.clone());
        }
        if !rolling {
            return;
        }
        for p in old_unready {
            self.terminate_pod(p);
        }
        for p in old_ready {
            if unavailable >= max_unavail {
                break;
            }
            self.terminate_pod(p);
            unavailable += 1;
        }
    }
}
