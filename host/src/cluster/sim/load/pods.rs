//! The scenario's own pods as pod records: owned by the workload their
//! owner reference names, meshed as their owner or namespace says, and
//! carrying the trust roots their proxy was started with, so a dump of a
//! live cluster resumes where it stopped.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cluster::sim::foreign::ForeignOwner;
use crate::cluster::sim::linkerd::{
    CONTROL_PLANE_NS, PROXY_CONTAINER, TRUST_ANCHORS_ENV, mesh_for,
};
use crate::cluster::sim::manifest::{OwnerReference, PodObject};
use crate::cluster::sim::outage::UnitId;
use crate::cluster::sim::scenario::ScenarioError;
use crate::cluster::sim::world::{Ev, Mesh, Pod, PodId, World};
use crate::wit::WorkloadKind;

use super::{
    NEVER_READY_ANNOTATION, STEADY_POD_AGE, invalid, namespace_of, relocate, strip_owner_prefix,
    to_kv_time,
};

impl World {
    /// Add every pod; returns their ids in scenario order.
    pub(super) fn load_pods(
        &mut self,
        pods: Vec<(PodObject, String, String)>,
        replica_sets: &HashMap<(String, String), String>,
        foreign_sets: &HashMap<(String, String), OwnerReference>,
    ) -> Result<Vec<PodId>, ScenarioError> {
        let mut loaded_pods = Vec::new();
        let mut units = HashMap::new();
        for (p, doc, what) in pods {
            let id = self
                .add_loaded_pod(p, replica_sets, foreign_sets, &mut units)
                .map_err(|e| relocate(e, &doc, &what))?;
            loaded_pods.push(id);
        }
        Ok(loaded_pods)
    }

    fn add_loaded_pod(
        &mut self,
        p: PodObject,
        replica_sets: &HashMap<(String, String), String>,
        foreign_sets: &HashMap<(String, String), OwnerReference>,
        units: &mut HashMap<(String, String, String), UnitId>,
    ) -> Result<PodId, ScenarioError> {
        let ns = namespace_of(&p.metadata, "Pod")?;
        let name = p.metadata.name.clone();
        if self.pod_id(&ns, &name).is_some() {
            return Err(invalid(format!("Pod {ns}/{name} is defined twice")));
        }
        p.spec
            .check_proxy()
            .map_err(|e| invalid(format!("Pod {ns}/{name}: {e}")))?;
        let controller = p
            .metadata
            .owner_references
            .iter()
            .find(|o| o.controller.unwrap_or(true));
        let owner = controller.and_then(|o| match o.kind.as_str() {
            "ReplicaSet" if !foreign_sets.contains_key(&(ns.clone(), o.name.clone())) => {
                let deploy = replica_sets
                    .get(&(ns.clone(), o.name.clone()))
                    .cloned()
                    .or_else(|| o.name.rsplit_once('-').map(|(d, _)| d.to_string()))?;
                self.find_workload(WorkloadKind::Deployment, &ns, &deploy)
            }
            "StatefulSet" => self.find_workload(WorkloadKind::StatefulSet, &ns, &o.name),
            "DaemonSet" => self.find_workload(WorkloadKind::DaemonSet, &ns, &o.name),
            _ => None,
        });
        let foreign = match (owner, controller) {
            (None, Some(o)) => Some(Arc::new(foreign_owner(o, &ns, foreign_sets))),
            _ => None,
        };
        let labels = p.metadata.labels.clone();
        let mut annotations = p.metadata.annotations.clone();
        let hash = match owner.map(|wl| self.workloads[wl].kind) {
            Some(WorkloadKind::Deployment) => labels.get("pod-template-hash").cloned(),
            Some(WorkloadKind::StatefulSet) => labels
                .get("controller-revision-hash")
                .map(|h| strip_owner_prefix(h, &self.workloads[owner.unwrap_or(0)].name)),
            Some(WorkloadKind::DaemonSet) => labels.get("controller-revision-hash").cloned(),
            None => None,
        }
        .unwrap_or_default();
        let containers: Vec<String> = p.spec.containers.iter().map(|c| c.name.clone()).collect();
        let init_containers: Vec<String> = p
            .spec
            .init_containers
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let all: Vec<String> = containers.iter().chain(&init_containers).cloned().collect();
        let has_proxy = all.iter().any(|c| c == PROXY_CONTAINER);
        let mesh = match owner {
            Some(wl) => self.workloads[wl].mesh,
            None if ns == CONTROL_PLANE_NS && has_proxy => Mesh::ControlPlane,
            None if ns == CONTROL_PLANE_NS => Mesh::Off,
            // A bare pod is injected like any other: by its namespace or its own annotation.
            None => mesh_for(&ns, self.namespaces.get(&ns), &annotations, &all),
        };
        let env_roots = p
            .spec
            .containers
            .iter()
            .chain(p.spec.init_containers.iter())
            .filter(|c| c.name == PROXY_CONTAINER)
            .flat_map(|c| c.env.iter())
            .find(|e| e.name == TRUST_ANCHORS_ENV)
            .and_then(|e| e.value.clone());
        let status = p.status.clone().unwrap_or_default();
        let running = status.phase.as_deref().unwrap_or("Running") == "Running";
        let start_time = to_kv_time(&status.start_time);
        let created =
            to_kv_time(&p.metadata.creation_timestamp).unwrap_or(self.now - STEADY_POD_AGE);
        let ordinal = match owner.map(|wl| self.workloads[wl].kind) {
            Some(WorkloadKind::StatefulSet) => {
                name.rsplit_once('-').and_then(|(_, o)| o.parse().ok())
            }
            _ => None,
        };
        let never_ready = annotations.remove(NEVER_READY_ANNOTATION).is_some();
        let node =
            p.spec.node_name.clone().unwrap_or_else(|| {
                self.node_names[self.pods.len() % self.node_names.len()].clone()
            });
        let unit = match (owner, &foreign) {
            (Some(wl), _) => Some(self.workloads[wl].unit),
            // The pods of one custom owner serve as one workload.
            (None, Some(f)) => Some(
                *units
                    .entry((ns.clone(), f.owner.kind.clone(), f.owner.name.clone()))
                    .or_insert_with(|| {
                        self.outage
                            .add_unit(format!("{ns}/{}/{}", f.owner.kind, f.owner.name))
                    }),
            ),
            (None, None) => Some(self.outage.add_unit(format!("{ns}/Pod/{name}"))),
        };
        let pod = Pod {
            owner,
            foreign,
            template_hash: hash,
            ordinal,
            labels: Arc::new(labels),
            annotations: Arc::new(annotations),
            containers: Arc::new(containers),
            init_containers: Arc::new(init_containers),
            created,
            start_time: if running {
                start_time.or(Some(created))
            } else {
                None
            },
            running,
            never_ready,
            unit,
            ..Pod::new(ns, name, node, mesh)
        };
        let deleting = to_kv_time(&p.metadata.deletion_timestamp);
        let id = self.insert_pod(pod);
        if let Some(gone) = deleting {
            // Deleted before the dump: it serves nothing and goes at its deletionTimestamp.
            let uid = self.pod(id).uid;
            let p = self.pod_mut(id);
            p.terminating = true;
            p.gone_at = Some(gone);
            self.schedule(gone, Ev::PodGone { pod: id, uid });
        }
        if let Some(pem) = env_roots {
            let pem: Arc<str> = Arc::from(pem);
            let roots = self.roots_for_pem(&pem);
            let p = self.pod_mut(id);
            p.roots = Some(roots);
            p.roots_pem = Some(pem);
        }
        Ok(id)
    }
}

/// The owner a pod of no modelled workload is listed under: the controller
/// of its ReplicaSet when that is known (a Rollout), else its own reference.
fn foreign_owner(
    reference: &OwnerReference,
    ns: &str,
    foreign_sets: &HashMap<(String, String), OwnerReference>,
) -> ForeignOwner {
    let top = match reference.kind.as_str() {
        "ReplicaSet" => foreign_sets.get(&(ns.to_string(), reference.name.clone())),
        _ => None,
    }
    .unwrap_or(reference);
    ForeignOwner {
        reference: reference.clone(),
        owner: top.clone(),
    }
}
