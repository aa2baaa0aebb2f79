//! Workload lookups: the index by namespace, kind and name, listing order,
//! the Ready count reports show, and the reconcile request that wakes a
//! workload's controller once per instant.

use std::collections::BTreeMap;

use crate::wit::WorkloadKind;

use super::{Ev, WlId, World, kind_order};

impl World {
    pub fn request_reconcile(&mut self, wl: WlId) {
        if !self.workloads[wl].reconcile_pending {
            self.workloads[wl].reconcile_pending = true;
            self.schedule(self.now, Ev::Reconcile(wl));
        }
    }

    pub fn find_workload(&self, kind: WorkloadKind, ns: &str, name: &str) -> Option<WlId> {
        self.workload_index.get(ns)?[kind_order(kind) as usize]
            .get(name)
            .copied()
    }

    pub fn add_workload_index(&mut self, kind: WorkloadKind, ns: &str, name: &str, id: WlId) {
        if !self.workload_index.contains_key(ns) {
            self.workload_index
                .insert(ns.to_string(), Default::default());
        }
        if let Some(kinds) = self.workload_index.get_mut(ns) {
            kinds[kind_order(kind) as usize].insert(name.to_string(), id);
        }
    }

    /// Workloads in listing order (namespace, kind, name), optionally one namespace.
    pub fn workload_ids(&self, ns: Option<&str>) -> Vec<WlId> {
        let per_ns = |kinds: &[BTreeMap<String, WlId>; 3]| {
            kinds
                .iter()
                .flat_map(|m| m.values().copied())
                .collect::<Vec<_>>()
        };
        match ns {
            Some(ns) => self.workload_index.get(ns).map(per_ns).unwrap_or_default(),
            None => self.workload_index.values().flat_map(per_ns).collect(),
        }
    }

    /// Is every pod of the namespace/kind/name a Ready one? Used by reports.
    pub fn workload_ready_count(&self, wl: WlId) -> u32 {
        self.workloads[wl]
            .pods
            .iter()
            .filter(|&&p| {
                let p = self.pod(p);
                p.active() && p.ready
            })
            .count() as u32
    }
}
