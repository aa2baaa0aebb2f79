//! The StatefulSet controller: pods by ordinal, created in order once all
//! below are Ready, rolled from the highest ordinal down to the partition,
//! and left alone under OnDelete.

use super::super::world::{WlId, World};

impl World {
    pub(super) fn reconcile_statefulset(&mut self, wl: WlId) {
        let replicas = self.desired_replicas(wl);
        let partition = self.partition(wl);
        let w = &self.workloads[wl];
        let rolling = w.strategy_type() == "RollingUpdate";
        let hash = w.template_hash.clone();
        let current = w.current_hash.clone();
        let mut by_ordinal = std::collections::BTreeMap::new();
        for &pid in &w.pods {
            if let Some(o) = self.pod(pid).ordinal {
                by_ordinal.insert(o, pid);
            }
        }
        // OrderedReady: create the lowest missing ordinal once all below are Ready.
        let mut all_ready = true;
        for i in 0..replicas {
            match by_ordinal.get(&i) {
                None => {
                    let h = if rolling && i < partition {
                        current.clone()
                    } else {
                        hash.clone()
                    };
                    let name = format!("{}-{}", self.workloads[wl].name, i);
                    let node = self.node_for(i as usize);
                    self.create_workload_pod(wl, name, node, Some(i), h);
                    all_ready = false;
                    break;
                }
                Some(&pid) => {
                    let p = self.pod(pid);
                    if !(p.active() && p.ready) {
                        all_ready = false;
                        break;
                    }
                }
            }
        }
        // Ordinals beyond replicas go, highest first.
        for (&o, &pid) in by_ordinal.iter().rev() {
            if o >= replicas && self.pod(pid).active() {
                self.terminate_pod(pid);
                return;
            }
        }
        if rolling && all_ready {
            for i in (partition..replicas).rev() {
                if let Some(&pid) = by_ordinal.get(&i)
                    && self.pod(pid).template_hash != hash
                {
                    self.terminate_pod(pid);
                    break;
                }
            }
        }
        let w = &self.workloads[wl];
        let all_updated = w.pods.len() as u32 == replicas
            && w.pods
                .iter()
                .all(|&p| self.pod(p).template_hash == w.template_hash);
        if all_updated {
            let w = &mut self.workloads[wl];
            w.current_hash = w.template_hash.clone();
        }
    }
}
