//! Building a [`World`] from a scenario: objects become typed records, the
//! standard Linkerd setup fills what the scenario leaves out, certificates
//! without Secrets are issued, workloads get steady-state pods, and every
//! proxy starts with the roots and leaf a converged mesh would give it.
//!
//! This file holds the order of those steps and what they share; each step
//! lives with its concern: `objects` (records), `certificates` (the trust
//! setup), `workloads` and `pods` (what runs), `start` (the first work),
//! `linkerd_config` (the control plane's version and settings), `member`
//! (a multicluster member's shared anchor), and
//! `super::steady` (the proxies of a converged mesh).

mod certificates;
mod linkerd_config;
mod member;
mod objects;
mod pods;
mod start;
mod workloads;

use std::collections::HashSet;

use crate::wit::Condition;

use super::manifest::{DEFAULT_LINKERD_VERSION, KubeCondition, Meta};
use super::scenario::{Object, Scenario, ScenarioError};
use super::world::{World, parse_rfc3339};

pub use member::SharedAnchor;

const STANDARD: &str = include_str!("../standard.yaml");

/// Annotations the simulator writes on pods so a dumped state resumes.
pub const LEAF_ANNOTATION: &str = "sim.rotor.dev/leaf";
pub const NEVER_READY_ANNOTATION: &str = "sim.rotor.dev/never-ready";
pub const IDENTITY_ROOTS_ANNOTATION: &str = "sim.rotor.dev/identity-roots";
pub const IDENTITY_ISSUER_ANNOTATION: &str = "sim.rotor.dev/identity-issuer";
/// On a Simulation dump: the anchor and issuer fingerprints at first load.
pub const INITIAL_ANCHOR_ANNOTATION: &str = "sim.rotor.dev/initial-anchor";
pub const INITIAL_ISSUER_ANNOTATION: &str = "sim.rotor.dev/initial-issuer";

/// How old the pods of a freshly loaded scenario are.
pub(super) const STEADY_POD_AGE: i64 = 24 * 3600;

fn invalid(what: String) -> ScenarioError {
    ScenarioError::Invalid(what)
}

fn obj_key(o: &Object) -> (String, String, String) {
    let (kind, meta): (&str, &Meta) = match o {
        Object::Namespace(x) => ("Namespace", &x.metadata),
        Object::Deployment(x) => ("Deployment", &x.metadata),
        Object::StatefulSet(x) => ("StatefulSet", &x.metadata),
        Object::DaemonSet(x) => ("DaemonSet", &x.metadata),
        Object::ReplicaSet(x) => ("ReplicaSet", &x.metadata),
        Object::Pod(x) => ("Pod", &x.metadata),
        Object::Secret(x) => ("Secret", &x.metadata),
        Object::ConfigMap(x) => ("ConfigMap", &x.metadata),
        Object::Certificate(x) => ("Certificate", &x.metadata),
        Object::Issuer(x) => ("Issuer", &x.metadata),
        Object::ClusterIssuer(x) => ("ClusterIssuer", &x.metadata),
        Object::Bundle(x) => ("Bundle", &x.metadata),
        Object::ClusterBundle(x) => ("ClusterBundle", &x.metadata),
        Object::Event(x) => ("Event", &x.metadata),
    };
    (
        kind.to_string(),
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone(),
    )
}

/// Whether the scenario is an install without trust-manager: it declares
/// the trust-roots ConfigMap itself, as Linkerd's chart renders it from
/// `identityTrustAnchorsPEM`, without the label trust-manager puts on every
/// target it owns, and declares no Bundle. It then gets no standard Bundle
/// (a live cluster's dump without trust-manager reads the same way).
fn renders_trust_roots_without_trust_manager(scenario: &Scenario) -> bool {
    use crate::linkerd::{BUNDLE_LABEL, CLUSTER_BUNDLE_LABEL, CONTROL_PLANE_NS, TRUST_ROOTS};
    let mut declared = false;
    for l in &scenario.objects {
        match &l.object {
            Object::Bundle(_) | Object::ClusterBundle(_) => return false,
            Object::ConfigMap(c)
                if c.metadata.name == TRUST_ROOTS
                    && c.metadata.namespace.as_deref() == Some(CONTROL_PLANE_NS) =>
            {
                declared = ![BUNDLE_LABEL, CLUSTER_BUNDLE_LABEL]
                    .iter()
                    .any(|l| c.metadata.labels.contains_key(*l));
            }
            _ => {}
        }
    }
    declared
}

fn to_kv_time(s: &Option<String>) -> Option<i64> {
    s.as_deref().and_then(|s| parse_rfc3339(s).ok())
}

fn condition_from(k: &KubeCondition) -> Condition {
    Condition {
        type_: k.type_.clone(),
        status: k.status.clone(),
        reason: k.reason.clone().unwrap_or_default(),
        message: k.message.clone().unwrap_or_default(),
        observed_generation: k.observed_generation,
        last_transition_time: to_kv_time(&k.last_transition_time),
    }
}

impl World {
    pub fn load(text: &str) -> Result<World, ScenarioError> {
        World::load_with(text, None)
    }

    /// Load a scenario; a member of a multicluster mesh takes the home
    /// cluster's anchor.
    pub fn load_with(text: &str, shared: Option<&SharedAnchor>) -> Result<World, ScenarioError> {
        let mut scenario = Scenario::parse(text)?;
        if let Some(shared) = shared {
            shared.apply(&mut scenario)?;
        }
        // The standard control plane is rendered for the scenario's version.
        let version = scenario
            .simulation
            .as_ref()
            .map_or(DEFAULT_LINKERD_VERSION, |s| s.linkerd_version());
        let tag_char = |c: char| c.is_ascii_alphanumeric() || "-._+".contains(c);
        if version.is_empty() || !version.chars().all(tag_char) {
            return Err(invalid(format!(
                "Simulation spec.linkerdVersion: {version:?} is not a version tag (letters, digits, '-', '.', '_', '+')"
            )));
        }
        let standard = Scenario::parse(&STANDARD.replace(DEFAULT_LINKERD_VERSION, version))?;
        let present: HashSet<_> = scenario
            .objects
            .iter()
            .map(|l| obj_key(&l.object))
            .collect();
        // A ClusterBundle stands in for the standard Bundle of its name: the
        // two name the same target (trust-manager migrates one to the other).
        let cluster_bundles: HashSet<String> = scenario
            .objects
            .iter()
            .filter_map(|l| match &l.object {
                Object::ClusterBundle(b) => Some(b.metadata.name.clone()),
                _ => None,
            })
            .collect();
        let no_trust_manager = renders_trust_roots_without_trust_manager(&scenario);
        for mut l in standard.objects {
            let replaced = match &l.object {
                Object::Bundle(b) => no_trust_manager || cluster_bundles.contains(&b.metadata.name),
                o => shared.is_some() && SharedAnchor::replaces(o),
            };
            if !replaced && !present.contains(&obj_key(&l.object)) {
                l.doc = format!("{} of the standard setup", l.doc);
                scenario.objects.push(l);
            }
        }
        let spec = scenario.simulation.clone().unwrap_or_default();
        let start = parse_rfc3339(&spec.start_time)
            .map_err(|e| invalid(format!("Simulation spec.startTime: {e}")))?;
        if spec.nodes == 0 {
            return Err(invalid("Simulation spec.nodes: must be at least 1".into()));
        }
        if let Some(faults) = &spec.faults {
            faults.validate().map_err(|e| invalid(e.to_string()))?;
        }
        let mut world = World::new(spec, start);
        world.build(scenario)?;
        world.write_linkerd_config();
        for key in world.spec.fail_issuance.keys() {
            let known = key.split_once('/').is_some_and(|(ns, name)| {
                world
                    .certificate_index
                    .contains_key(&(ns.into(), name.into()))
            });
            if !known {
                return Err(invalid(format!(
                    "Simulation spec.failIssuance: {key:?} is not a Certificate of the scenario (namespace/name)"
                )));
            }
        }
        Ok(world)
    }

    fn build(&mut self, scenario: Scenario) -> Result<(), ScenarioError> {
        let annotation = |key: &str| scenario.simulation_annotations.get(key).cloned();
        let initial_anchor = annotation(INITIAL_ANCHOR_ANNOTATION);
        let initial_issuer = annotation(INITIAL_ISSUER_ANNOTATION);
        let deferred = self.load_objects(scenario.objects)?;
        self.settle_trust()?;
        let hash_known = self.load_workloads(deferred.workloads)?;
        self.cache_control_plane_ids();
        self.mark_never_ready()?;
        let loaded_pods = self.load_pods(
            deferred.pods,
            &deferred.replica_sets,
            &deferred.foreign_replica_sets,
        )?;
        self.adopt_pod_revisions(&hash_known);
        self.adopt_node_names();
        self.fill_steady_pods();
        self.bring_up_pods(&loaded_pods);
        self.configure_traffic()?;
        self.schedule_initial_work();
        self.record_initial_trust(initial_anchor, initial_issuer);
        self.evaluate_outage();
        Ok(())
    }
}

/// Name the document an object came from in a load error about it.
fn relocate(e: ScenarioError, doc: &str, what: &str) -> ScenarioError {
    match e {
        ScenarioError::Invalid(message) => ScenarioError::Document {
            doc: doc.to_string(),
            what: what.to_string(),
            message: message
                .strip_prefix(&format!("{what}: "))
                .map(str::to_string)
                .unwrap_or(message),
        },
        other => other,
    }
}

fn namespace_of(meta: &Meta, kind: &str) -> Result<String, ScenarioError> {
    meta.namespace
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "{kind} {}: metadata.namespace is missing",
                meta.name
            ))
        })
}

/// `web-6d4cf56db6` -> `6d4cf56db6` for revision names that carry the owner.
fn strip_owner_prefix(rev: &str, owner: &str) -> String {
    rev.strip_prefix(owner)
        .and_then(|r| r.strip_prefix('-'))
        .unwrap_or(rev)
        .to_string()
}
