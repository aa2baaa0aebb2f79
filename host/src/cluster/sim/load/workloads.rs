//! The scenario's Deployments, StatefulSets and DaemonSets as workload
//! records: validated, meshed as Linkerd's injector would, and given the
//! revision and nodes a dump of a live cluster names, so a converged
//! cluster does not roll on load.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::cluster::selector::Selector;
use crate::cluster::sim::linkerd::{
    CONTROL_PLANE_NS, PROXY_CONTAINER, TRUST_ANCHORS_ENV, mesh_for,
};
use crate::cluster::sim::manifest::WorkloadObject;
use crate::cluster::sim::scenario::ScenarioError;
use crate::cluster::sim::world::{Mesh, Namespace, WlId, Workload, World, short_hash};
use crate::wit::WorkloadKind;

use super::{invalid, namespace_of, relocate, strip_owner_prefix};

impl World {
    /// Add every workload; returns those whose template revision was given.
    pub(super) fn load_workloads(
        &mut self,
        workloads: Vec<(WorkloadKind, WorkloadObject, String, String)>,
    ) -> Result<HashSet<WlId>, ScenarioError> {
        let mut hash_known = HashSet::new();
        for (kind, o, doc, what) in workloads {
            let (wl, known) = self
                .add_workload(kind, o)
                .map_err(|e| relocate(e, &doc, &what))?;
            if known {
                hash_known.insert(wl);
            }
        }
        Ok(hash_known)
    }

    /// Returns the new workload and whether its template revision was given.
    fn add_workload(
        &mut self,
        kind: WorkloadKind,
        o: WorkloadObject,
    ) -> Result<(WlId, bool), ScenarioError> {
        let ns = namespace_of(&o.metadata, kind.as_kind())?;
        let name = o.metadata.name.clone();
        let what = format!("{} {ns}/{name}", kind.as_kind());
        let selector_string = o
            .spec
            .selector
            .to_selector_string()
            .map_err(|e| invalid(format!("{what}: spec.selector: {e}")))?;
        Selector::parse(&selector_string)
            .map_err(|e| invalid(format!("{what}: spec.selector: {e}")))?;
        o.spec
            .template
            .spec
            .check_proxy()
            .map_err(|e| invalid(format!("{what}: {e}")))?;
        for r in [o.spec.strategy.as_ref(), o.spec.update_strategy.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|s| s.rolling_update.as_ref())
        {
            for v in [&r.max_surge, &r.max_unavailable].into_iter().flatten() {
                v.resolve(1, true)
                    .map_err(|e| invalid(format!("{what}: rollingUpdate: {e}")))?;
            }
        }
        if self.find_workload(kind, &ns, &name).is_some() {
            return Err(invalid(format!("{what} is defined twice")));
        }
        self.namespaces
            .entry(ns.clone())
            .or_insert_with(|| Namespace {
                name: ns.clone(),
                labels: Default::default(),
                annotations: Default::default(),
            });
        let containers: Vec<String> = o
            .spec
            .template
            .spec
            .containers
            .iter()
            .chain(o.spec.template.spec.init_containers.iter())
            .map(|c| c.name.clone())
            .collect();
        let mesh = mesh_for(
            &ns,
            self.namespaces.get(&ns),
            &o.spec.template.metadata.annotations,
            &containers,
        );
        let pre_injected_roots = (mesh == Mesh::Injected && ns != CONTROL_PLANE_NS)
            .then(|| {
                o.spec
                    .template
                    .spec
                    .containers
                    .iter()
                    .chain(o.spec.template.spec.init_containers.iter())
                    .find(|c| c.name == PROXY_CONTAINER)
            })
            .flatten()
            .map(|proxy| {
                let env = proxy.env.iter().find(|e| e.name == TRUST_ANCHORS_ENV);
                match env.and_then(|e| e.value.clone()) {
                    Some(pem) => Arc::from(pem),
                    // Rendered when the cluster was set up: the roots at load.
                    None => self.current_roots_pem(),
                }
            });
        let generation = o.metadata.generation.unwrap_or(1);
        let status = o.status.clone().unwrap_or_default();
        let hash = short_hash(&format!("{ns}/{name}/{generation}"), 10);
        let unit = self
            .outage
            .add_unit(format!("{ns}/{}/{name}", kind.as_kind()));
        let id = self.workloads.len();
        self.workloads.push(Workload {
            kind,
            namespace: ns.clone(),
            name: name.clone(),
            labels: o.metadata.labels,
            annotations: o.metadata.annotations,
            spec: o.spec,
            selector_string,
            generation,
            observed_generation: status.observed_generation.unwrap_or(generation),
            template_hash: hash.clone(),
            current_hash: hash,
            pods: Default::default(),
            progressing: status
                .conditions
                .iter()
                .find(|c| c.type_ == "Progressing")
                .map(|c| {
                    (
                        c.status == "True",
                        c.reason.clone().unwrap_or_default(),
                        c.message.clone().unwrap_or_default(),
                    )
                }),
            last_progress: self.now,
            mesh,
            never_ready: false,
            reconcile_pending: false,
            unit,
            pod_parts: None,
            pre_injected_roots,
        });
        self.add_workload_index(kind, &ns, &name, id);
        // A dumped StatefulSet/DaemonSet names its revision; pods carry it.
        let w = &mut self.workloads[id];
        if let Some(rev) = status.update_revision.as_deref() {
            w.template_hash = strip_owner_prefix(rev, &w.name);
        }
        if let Some(rev) = status.current_revision.as_deref() {
            w.current_hash = strip_owner_prefix(rev, &w.name);
        }
        let mut known = status.update_revision.is_some();
        if let Some(hash) = w.annotations.remove("sim.rotor.dev/template-hash") {
            w.template_hash = hash;
            known = true;
        }
        Ok((id, known))
    }

    /// A scenario holding DaemonSet pods names the cluster's nodes: a
    /// DaemonSet runs on every node, so those (and any other pod's node) are
    /// the nodes, not `spec.nodes` generated ones.
    pub(super) fn adopt_node_names(&mut self) {
        let has_daemon_pods = self.pods.iter().flatten().any(|p| {
            p.owner
                .is_some_and(|wl| self.workloads[wl].kind == WorkloadKind::DaemonSet)
        });
        if !has_daemon_pods {
            return;
        }
        let nodes: BTreeSet<String> = self.pods.iter().flatten().map(|p| p.node.clone()).collect();
        let mut nodes: Vec<String> = nodes.into_iter().collect();
        // node-2 before node-10.
        nodes.sort_by_key(|n| {
            let stem = n.trim_end_matches(|c: char| c.is_ascii_digit());
            (stem.to_string(), n[stem.len()..].parse::<u64>().ok())
        });
        self.node_names = nodes;
        self.spec.nodes = self.node_names.len() as u32;
    }

    /// A plain `kubectl get -o yaml` dump names revisions the simulator did
    /// not make: the workload's current revision is the one most of its
    /// pods run, so a converged cluster does not roll on load.
    pub(super) fn adopt_pod_revisions(&mut self, known: &HashSet<WlId>) {
        for wl in 0..self.workloads.len() {
            if known.contains(&wl) {
                continue;
            }
            let mut votes: HashMap<&str, usize> = HashMap::new();
            for &p in &self.workloads[wl].pods {
                let h = self.pod(p).template_hash.as_str();
                if !h.is_empty() {
                    *votes.entry(h).or_default() += 1;
                }
            }
            let Some(hash) = votes
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(h, _)| h.to_string())
            else {
                continue;
            };
            let w = &mut self.workloads[wl];
            w.template_hash = hash.clone();
            w.current_hash = hash;
        }
    }

    pub(super) fn mark_never_ready(&mut self) -> Result<(), ScenarioError> {
        for r in self.spec.never_ready.clone() {
            let wl = self
                .resolve_workload_ref(&r)
                .map_err(|e| invalid(format!("Simulation spec.neverReady: {e}")))?;
            self.workloads[wl].never_ready = true;
        }
        Ok(())
    }

    /// `ns/Kind/name` or `ns/name` (unique across kinds).
    pub fn resolve_workload_ref(&self, r: &str) -> Result<WlId, String> {
        let parts: Vec<&str> = r.split('/').collect();
        match parts.as_slice() {
            [ns, kind, name] => {
                let kind = WorkloadKind::from_kind(kind).ok_or_else(|| {
                    format!("{r:?}: kind must be Deployment, StatefulSet or DaemonSet")
                })?;
                self.find_workload(kind, ns, name)
                    .ok_or_else(|| format!("{r:?}: no such workload"))
            }
            [ns, name] => {
                let found: Vec<WlId> = [
                    WorkloadKind::Deployment,
                    WorkloadKind::StatefulSet,
                    WorkloadKind::DaemonSet,
                ]
                .into_iter()
                .filter_map(|k| self.find_workload(k, ns, name))
                .collect();
                match found.as_slice() {
                    [one] => Ok(*one),
                    [] => Err(format!("{r:?}: no such workload")),
                    _ => Err(format!("{r:?}: ambiguous, write ns/Kind/name")),
                }
            }
            _ => Err(format!("{r:?}: expected ns/Kind/name or ns/name")),
        }
    }
}
