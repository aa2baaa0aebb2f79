//! Building a [`World`] from a scenario: objects become typed records, the
//! standard Linkerd setup fills what the scenario leaves out, certificates
//! without Secrets are issued, workloads get steady-state pods, and every
//! proxy starts with the roots and leaf a converged mesh would give it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine;

use crate::wit::{Condition, EventType, ObjectRef, Timestamp, WorkloadKind};

use super::linkerd::{
    ANCHOR_SECRET, CONTROL_PLANE_NS, DESTINATION, IDENTITY, ISSUER_SECRET, PREVIOUS_ANCHOR_SECRET,
    PROXY_CONTAINER, TRUST_ANCHORS_ENV, mesh_for,
};
use super::manifest::{KubeCondition, Meta, PodObject, WorkloadObject};
use super::scenario::{Located, Object, Scenario, ScenarioError};
use super::trustmanager::TRUST_NAMESPACE;
use super::world::{
    BundleRec, CertificateRec, ConfigMapRec, Ev, EventRec, IssuerRec, Mesh, Namespace, Pod, PodId,
    SecretRec, WlId, Workload, World, parse_rfc3339, short_hash,
};

const STANDARD: &str = include_str!("standard.yaml");

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
        Object::Event(x) => ("Event", &x.metadata),
    };
    (
        kind.to_string(),
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone(),
    )
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
        let mut scenario = Scenario::parse(text)?;
        let standard = Scenario::parse(STANDARD)?;
        let present: std::collections::HashSet<_> = scenario
            .objects
            .iter()
            .map(|l| obj_key(&l.object))
            .collect();
        for mut l in standard.objects {
            if !present.contains(&obj_key(&l.object)) {
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
        let mut workloads = Vec::new();
        let mut pods = Vec::new();
        let mut replica_sets: HashMap<(String, String), String> = HashMap::new();
        let initial = (
            scenario
                .simulation_annotations
                .get(INITIAL_ANCHOR_ANNOTATION)
                .cloned(),
            scenario
                .simulation_annotations
                .get(INITIAL_ISSUER_ANNOTATION)
                .cloned(),
        );
        for Located { doc, what, object } in scenario.objects {
            let at = |e: ScenarioError| relocate(e, &doc, &what);
            match object {
                Object::Namespace(n) => {
                    self.namespaces.insert(
                        n.metadata.name.clone(),
                        Namespace {
                            name: n.metadata.name,
                            labels: n.metadata.labels,
                            annotations: n.metadata.annotations,
                        },
                    );
                }
                Object::Deployment(o) => {
                    workloads.push((WorkloadKind::Deployment, o, doc.clone(), what.clone()))
                }
                Object::StatefulSet(o) => {
                    workloads.push((WorkloadKind::StatefulSet, o, doc.clone(), what.clone()))
                }
                Object::DaemonSet(o) => {
                    workloads.push((WorkloadKind::DaemonSet, o, doc.clone(), what.clone()))
                }
                Object::ReplicaSet(rs) => {
                    let ns = rs.metadata.namespace.clone().unwrap_or_default();
                    if let Some(owner) = rs
                        .metadata
                        .owner_references
                        .iter()
                        .find(|o| o.kind == "Deployment")
                    {
                        replica_sets.insert((ns, rs.metadata.name.clone()), owner.name.clone());
                    }
                }
                Object::Pod(p) => pods.push((p, doc.clone(), what.clone())),
                Object::Secret(s) => {
                    let ns = namespace_of(&s.metadata, "Secret").map_err(at)?;
                    let mut data = BTreeMap::new();
                    for (k, v) in &s.data {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v.trim())
                            .map_err(|e| {
                                invalid(format!(
                                    "Secret {ns}/{}: data.{k} is not base64: {e}",
                                    s.metadata.name
                                ))
                            })
                            .map_err(at)?;
                        data.insert(k.clone(), bytes);
                    }
                    for (k, v) in &s.string_data {
                        data.insert(k.clone(), v.clone().into_bytes());
                    }
                    let rv = self.loaded_rv(&s.metadata);
                    self.secrets.insert(
                        (ns, s.metadata.name.clone()),
                        SecretRec {
                            type_: s.type_.unwrap_or_else(|| "Opaque".into()),
                            data,
                            labels: s.metadata.labels,
                            annotations: s.metadata.annotations,
                            resource_version: rv,
                        },
                    );
                }
                Object::ConfigMap(c) => {
                    let ns = namespace_of(&c.metadata, "ConfigMap").map_err(at)?;
                    let rv = self.loaded_rv(&c.metadata);
                    self.config_maps.insert(
                        (ns, c.metadata.name.clone()),
                        ConfigMapRec {
                            data: c.data.into_iter().map(|(k, v)| (k, Arc::from(v))).collect(),
                            labels: c.metadata.labels,
                            annotations: c.metadata.annotations,
                            resource_version: rv,
                        },
                    );
                }
                Object::Issuer(i) => {
                    let ns = namespace_of(&i.metadata, "Issuer").map_err(at)?;
                    self.issuers.insert(
                        (ns.clone(), i.metadata.name.clone()),
                        IssuerRec {
                            namespace: Some(ns),
                            name: i.metadata.name,
                            labels: i.metadata.labels,
                            annotations: i.metadata.annotations,
                            spec: i.spec,
                        },
                    );
                }
                Object::ClusterIssuer(i) => {
                    self.issuers.insert(
                        (String::new(), i.metadata.name.clone()),
                        IssuerRec {
                            namespace: None,
                            name: i.metadata.name,
                            labels: i.metadata.labels,
                            annotations: i.metadata.annotations,
                            spec: i.spec,
                        },
                    );
                }
                Object::Certificate(c) => {
                    let ns = namespace_of(&c.metadata, "Certificate").map_err(at)?;
                    let status = c.status.unwrap_or_default();
                    let rec = CertificateRec {
                        namespace: ns.clone(),
                        name: c.metadata.name.clone(),
                        labels: c.metadata.labels,
                        annotations: c.metadata.annotations,
                        spec: c.spec,
                        generation: c.metadata.generation.unwrap_or(1),
                        revision: status.revision,
                        conditions: status.conditions.iter().map(condition_from).collect(),
                        not_before: to_kv_time(&status.not_before),
                        not_after: to_kv_time(&status.not_after),
                        renewal_time: to_kv_time(&status.renewal_time),
                        last_failure: to_kv_time(&status.last_failure_time),
                        issue_token: 0,
                        failed_attempts: 0,
                    };
                    let id = self.certificates.len();
                    self.certificate_index.insert((ns, rec.name.clone()), id);
                    self.certificates.push(rec);
                    if let Err(e) = self.certificate_durations(id) {
                        return Err(at(invalid(format!("spec: {e}"))));
                    }
                }
                Object::Bundle(b) => {
                    let selector = b.spec.target.namespace_selector.clone();
                    self.bundles.push(BundleRec {
                        name: b.metadata.name,
                        labels: b.metadata.labels,
                        annotations: b.metadata.annotations,
                        spec: b.spec,
                        namespace_selector: selector,
                        sync_pending: false,
                    });
                }
                Object::Event(e) => {
                    let type_ = if e.type_ == "Warning" {
                        EventType::Warning
                    } else {
                        EventType::Normal
                    };
                    let first = to_kv_time(&e.first_timestamp).unwrap_or(self.now);
                    self.events.push(EventRec {
                        involved: ObjectRef {
                            kind: e.involved_object.kind,
                            namespace: e.involved_object.namespace.unwrap_or_default(),
                            name: e.involved_object.name,
                        },
                        type_,
                        reason: e.reason,
                        message: e.message,
                        count: e.count.unwrap_or(1),
                        first,
                        last: to_kv_time(&e.last_timestamp).unwrap_or(first),
                        source: e.source.map(|s| s.component).unwrap_or_default(),
                        emitter: 0,
                    });
                }
            }
        }
        let anchor_given = self
            .secrets
            .contains_key(&(TRUST_NAMESPACE.to_string(), ANCHOR_SECRET.to_string()));
        self.issue_missing_certificates()?;
        self.intern_secret_certificates();
        self.fill_certificate_status();
        if !anchor_given {
            self.ensure_previous_anchor();
        }
        self.converge_bundles();
        let roots = self.current_roots_pem();
        self.install_roots_sha = Some(super::pki::sha256_hex(roots.as_bytes()));
        self.roots_history.push((i64::MIN, roots));
        let mut hash_known = std::collections::HashSet::new();
        for (kind, o, doc, what) in workloads {
            let (wl, known) = self
                .add_workload(kind, o)
                .map_err(|e| relocate(e, &doc, &what))?;
            if known {
                hash_known.insert(wl);
            }
        }
        self.cache_control_plane_ids();
        self.mark_never_ready()?;
        let mut loaded_pods = Vec::new();
        for (p, doc, what) in pods {
            let id = self
                .add_loaded_pod(p, &replica_sets)
                .map_err(|e| relocate(e, &doc, &what))?;
            loaded_pods.push(id);
        }
        self.adopt_pod_revisions(&hash_known);
        self.adopt_node_names();
        self.fill_steady_pods();
        self.bring_up_pods(&loaded_pods);
        self.configure_traffic()?;
        self.schedule_initial_work();
        self.initial_anchor = match initial.0 {
            Some(fp) => Some(self.pki.intern_fingerprint(&fp)),
            None => self.secret_cert(TRUST_NAMESPACE, ANCHOR_SECRET),
        };
        self.initial_issuer = match initial.1 {
            Some(fp) => Some(self.pki.intern_fingerprint(&fp)),
            None => self.secret_cert(CONTROL_PLANE_NS, ISSUER_SECRET),
        };
        self.evaluate_outage();
        Ok(())
    }

    fn loaded_rv(&mut self, meta: &Meta) -> u64 {
        match meta
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
        {
            Some(rv) => {
                self.resource_version = self.resource_version.max(rv);
                rv
            }
            None => self.next_rv(),
        }
    }

    /// The first certificate in a Secret's tls.crt.
    pub fn secret_cert(&mut self, ns: &str, name: &str) -> Option<super::pki::CertId> {
        let pem = self
            .secrets
            .get(&(ns.to_string(), name.to_string()))?
            .data
            .get("tls.crt")?
            .clone();
        self.pki
            .intern_pem(&String::from_utf8_lossy(&pem))
            .ok()?
            .first()
            .copied()
    }

    /// Certificates whose Secret is missing are issued now, CAs first.
    /// When a certificate issued at load was issued: the scenario's
    /// `status.notBefore` if it is in the past, else now.
    fn issued_at(&self, cert: usize) -> Timestamp {
        self.certificates[cert]
            .not_before
            .filter(|&t| t < self.now)
            .unwrap_or(self.now)
    }

    fn issue_missing_certificates(&mut self) -> Result<(), ScenarioError> {
        let mut pending: Vec<usize> = (0..self.certificates.len())
            .filter(|&c| {
                let rec = &self.certificates[c];
                !self
                    .secrets
                    .get(&(rec.namespace.clone(), rec.spec.secret_name.clone()))
                    .is_some_and(|s| s.data.contains_key("tls.crt"))
            })
            .collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut last_error = String::new();
            // A scenario's `status.notBefore` dates the certificate it lacks.
            pending.retain(|&c| match self.issue_as_of(c, self.issued_at(c)) {
                Ok(()) => false,
                Err(e) => {
                    last_error = format!(
                        "Certificate {}/{}: {e}",
                        self.certificates[c].namespace, self.certificates[c].name
                    );
                    true
                }
            });
            if pending.len() == before {
                return Err(invalid(format!("cannot issue at load: {last_error}")));
            }
        }
        Ok(())
    }

    /// Every PEM held in a Secret or ConfigMap becomes known to the PKI
    /// table (CAs resolve their signers this way).
    fn intern_secret_certificates(&mut self) {
        let pems: Vec<String> = self
            .secrets
            .values()
            .flat_map(|s| {
                ["ca.crt", "tls.crt"]
                    .iter()
                    .filter_map(|k| s.data.get(*k))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect::<Vec<_>>()
            })
            .chain(
                self.config_maps
                    .values()
                    .flat_map(|c| c.data.values().map(|v| v.to_string()).collect::<Vec<_>>()),
            )
            .collect();
        for pem in pems {
            if pem.contains("BEGIN CERTIFICATE") {
                let _ = self.pki.intern_pem(&pem);
            }
        }
    }

    /// Status a scenario left out is read from the Secret's certificate.
    fn fill_certificate_status(&mut self) {
        for c in 0..self.certificates.len() {
            let (ns, secret) = (
                self.certificates[c].namespace.clone(),
                self.certificates[c].spec.secret_name.clone(),
            );
            let Some(id) = self.secret_cert(&ns, &secret) else {
                continue;
            };
            let info = self.pki.get(id).clone();
            let (duration, renew_before) = self.certificate_durations(c).unwrap_or((0, 0));
            let generation = self.certificates[c].generation;
            let rec = &mut self.certificates[c];
            rec.revision.get_or_insert(1);
            rec.not_before.get_or_insert(info.not_before);
            rec.not_after.get_or_insert(info.not_after);
            if rec.renewal_time.is_none() {
                let total = info.not_after - info.not_before;
                let before = if duration > 0 && total > 0 {
                    renew_before.min(total)
                } else {
                    total / 3
                };
                rec.renewal_time = Some(info.not_after - before);
            }
            if !rec.conditions.iter().any(|x| x.type_ == "Ready") {
                rec.conditions.push(Condition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    reason: "Ready".into(),
                    message: "Certificate is up to date and has not expired".into(),
                    observed_generation: Some(generation),
                    last_transition_time: Some(info.not_before),
                });
            }
        }
    }

    /// An anchor issued at load is a cluster the scenario did not describe:
    /// it gets what the chart's bootstrap hook creates, a certificate-only
    /// previous anchor equal to the anchor. A scenario that brings its own
    /// anchor Secret (a live cluster's dump) gets nothing it lacks: rotor
    /// must meet a missing previous anchor there as it would in the cluster.
    fn ensure_previous_anchor(&mut self) {
        let prev = (
            TRUST_NAMESPACE.to_string(),
            PREVIOUS_ANCHOR_SECRET.to_string(),
        );
        if self.secrets.contains_key(&prev) {
            return;
        }
        let uses_previous = self.bundles.iter().any(|b| {
            b.spec.sources.iter().any(|s| {
                s.secret
                    .as_ref()
                    .is_some_and(|r| r.name == PREVIOUS_ANCHOR_SECRET)
            })
        });
        let anchor = (TRUST_NAMESPACE.to_string(), ANCHOR_SECRET.to_string());
        if let (true, Some(cert)) = (
            uses_previous,
            self.secrets
                .get(&anchor)
                .and_then(|a| a.data.get("tls.crt")),
        ) {
            let rv = self.resource_version + 1;
            let copy = SecretRec {
                type_: "Opaque".into(),
                data: BTreeMap::from([("tls.crt".to_string(), cert.clone())]),
                labels: Default::default(),
                annotations: Default::default(),
                resource_version: rv,
            };
            self.resource_version = rv;
            self.secrets.insert(prev, copy);
        }
    }

    /// A loaded cluster has converged: bundles hold their sources.
    fn converge_bundles(&mut self) {
        for b in 0..self.bundles.len() {
            self.sync_bundle(b);
        }
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
        crate::cluster::selector::Selector::parse(&selector_string)
            .map_err(|e| invalid(format!("{what}: spec.selector: {e}")))?;
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
    fn adopt_node_names(&mut self) {
        let has_daemon_pods = self.pods.iter().flatten().any(|p| {
            p.owner
                .is_some_and(|wl| self.workloads[wl].kind == WorkloadKind::DaemonSet)
        });
        if !has_daemon_pods {
            return;
        }
        let nodes: std::collections::BTreeSet<String> =
            self.pods.iter().flatten().map(|p| p.node.clone()).collect();
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
    fn adopt_pod_revisions(&mut self, known: &std::collections::HashSet<WlId>) {
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

    fn mark_never_ready(&mut self) -> Result<(), ScenarioError> {
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

    fn add_loaded_pod(
        &mut self,
        p: PodObject,
        replica_sets: &HashMap<(String, String), String>,
    ) -> Result<PodId, ScenarioError> {
        let ns = namespace_of(&p.metadata, "Pod")?;
        let name = p.metadata.name.clone();
        if self.pod_id(&ns, &name).is_some() {
            return Err(invalid(format!("Pod {ns}/{name} is defined twice")));
        }
        let owner = p
            .metadata
            .owner_references
            .iter()
            .find(|o| o.controller.unwrap_or(true))
            .and_then(|o| match o.kind.as_str() {
                "ReplicaSet" => {
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
        let unit = match owner {
            Some(wl) => Some(self.workloads[wl].unit),
            None => Some(self.outage.add_unit(format!("{ns}/Pod/{name}"))),
        };
        let pod = Pod {
            uid: 0,
            namespace: ns,
            name,
            owner,
            template_hash: hash,
            ordinal,
            node,
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
            terminating: false,
            gone_at: None,
            ready: false,
            ever_ready: false,
            mesh,
            never_ready,
            roots: None,
            roots_pem: None,
            leaf: None,
            leaf_gen: 0,
            expiry_watch: 0,
            leaf_expired: false,
            contrib: None,
            unit,
            identity: None,
            crashes: 0,
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

    fn configure_traffic(&mut self) -> Result<(), ScenarioError> {
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

    fn schedule_initial_work(&mut self) {
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
        let current = self.secret_cert(CONTROL_PLANE_NS, ISSUER_SECRET);
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
