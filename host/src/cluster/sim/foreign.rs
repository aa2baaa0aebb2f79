//! Pods owned by controllers rotor does not restart (an Argo Rollout, a
//! StrimziPodSet, any other custom kind): what their owner reference says,
//! and how their controller replaces a pod that is deleted.
//!
//! rotor can only delete such pods one by one; what keeps them running is
//! their own controller. The model is the part rotor relies on:
//!
//! - A pod whose ReplicaSet belongs to an Argo `Rollout`
//!   (`argoproj.io/v1alpha1`), or to any kind the model does not know, is
//!   replaced at once under a new name: the ReplicaSet controller counts a
//!   pod with a deletion timestamp as gone and creates another
//!   (Kubernetes' `pkg/controller/replicaset`, `FilterActivePods`). Argo
//!   Rollouts' own restart (`spec.restartAt`, argo-rollouts'
//!   `docs/features/restart.md`) deletes one pod at a time and relies on
//!   exactly this, so deleting pods one by one is the restart the Rollout
//!   itself would make.
//! - A pod of a `StrimziPodSet` (`core.strimzi.io/v1beta2`) comes back under
//!   the same name once the old one is gone: the StrimziPodSet controller
//!   recreates each pod its set lists that is missing (strimzi-kafka-operator,
//!   `StrimziPodSetController.java`), as a StatefulSet would.
//! - A pod with no owner is not replaced: deleting a bare pod removes it.
//!
//! A replacement is admitted like any new pod: the injector writes the
//! trust roots it holds now.

use std::sync::Arc;

use super::manifest::OwnerReference;
use super::world::{Ev, Pod, PodId, World, short_hash};

/// The kind whose pods come back under their own name.
pub const STRIMZI_POD_SET: &str = "StrimziPodSet";

/// The controller behind a pod rotor does not own.
#[derive(Debug, Clone)]
pub struct ForeignOwner {
    /// The pod's own controller reference, as a dump writes it back.
    pub reference: OwnerReference,
    /// The owner the pod is listed under: the ReplicaSet's controller when
    /// the pod belongs to a ReplicaSet of a custom kind (a Rollout's), else
    /// `reference` again.
    pub owner: OwnerReference,
}

impl ForeignOwner {
    /// Whether a replacement keeps the deleted pod's name (after it is gone).
    fn same_name(&self) -> bool {
        self.owner.kind == STRIMZI_POD_SET
    }

    /// The ReplicaSet between the pod and its owner, when there is one.
    pub fn replica_set(&self) -> Option<&str> {
        (self.reference.kind == "ReplicaSet" && self.owner.kind != "ReplicaSet")
            .then_some(self.reference.name.as_str())
    }
}

impl World {
    /// A foreign-owned pod was deleted: a ReplicaSet-like controller
    /// replaces it now, under a new name.
    pub(super) fn foreign_pod_deleted(&mut self, id: PodId) {
        let template = self.pod(id).clone();
        if template.foreign.as_ref().is_some_and(|f| !f.same_name()) {
            let base = match template.name.rsplit_once('-') {
                Some((base, _)) => base,
                None => template.name.as_str(),
            };
            let mut n = self.next_uid;
            let name = loop {
                let candidate = format!("{base}-{}", short_hash(&format!("{base}/{n}"), 5));
                if self.pod_id(&template.namespace, &candidate).is_none() {
                    break candidate;
                }
                n += 1;
            };
            self.replace_foreign(&template, name);
        }
    }

    /// A foreign-owned pod is gone: a StrimziPodSet brings it back under
    /// its name.
    pub(super) fn foreign_pod_gone(&mut self, gone: &Pod) {
        if gone.foreign.as_ref().is_some_and(|f| f.same_name()) {
            self.replace_foreign(gone, gone.name.clone());
        }
    }

    /// Create `name` from `template`'s metadata and containers, admitted
    /// and started as a new pod.
    fn replace_foreign(&mut self, template: &Pod, name: String) {
        let mut annotations = (*template.annotations).clone();
        // The injector writes this hash at admission; a new pod gets its own.
        annotations.remove(super::linkerd::TRUST_ROOT_SHA_ANNOTATION);
        let pod = Pod {
            foreign: template.foreign.clone(),
            labels: template.labels.clone(),
            annotations: Arc::new(annotations),
            containers: template.containers.clone(),
            init_containers: template.init_containers.clone(),
            created: self.now,
            unit: template.unit,
            ..Pod::new(
                template.namespace.clone(),
                name,
                template.node.clone(),
                template.mesh,
            )
        };
        let id = self.insert_pod(pod);
        self.admit(id);
        let uid = self.pod(id).uid;
        let start = self.now + self.spec.timings.pod_start_seconds;
        self.schedule(start, Ev::PodStarted { pod: id, uid });
    }
}
