//! Kubernetes objects (k8s-openapi types, cert-manager JSON) turned into the
//! WIT records of the [`Cluster`](crate::cluster::Cluster) trait.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap as K8sConfigMap, Event as K8sEvent, Namespace as K8sNamespace, Pod as K8sPod,
    PodTemplateSpec, Secret as K8sSecret,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use kube::core::DynamicObject;
use serde_json::Value;

use crate::wit::{
    Certificate, Condition, ConfigMap, Event, EventType, Issuer, KeyValue, Namespace, ObjectRef,
    Pod, Secret, Timestamp, UpdateStrategy, Workload, WorkloadKind,
};

pub fn key_values(map: &Option<BTreeMap<String, String>>) -> Vec<KeyValue> {
    map.iter()
        .flatten()
        .map(|(k, v)| KeyValue::new(k, v))
        .collect()
}

pub fn time(t: &Option<Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0.as_second())
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn count(v: Option<i32>) -> u32 {
    v.unwrap_or(0).max(0) as u32
}

/// A `LabelSelector` as the selector string `kubectl -l` accepts.
pub fn selector_string(sel: &Option<LabelSelector>) -> String {
    let Some(sel) = sel else {
        return String::new();
    };
    let mut parts: Vec<String> = key_values(&sel.match_labels)
        .into_iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    for req in sel.match_expressions.iter().flatten() {
        let values = req.values.clone().unwrap_or_default().join(",");
        parts.push(match req.operator.as_str() {
            "In" => format!("{} in ({values})", req.key),
            "NotIn" => format!("{} notin ({values})", req.key),
            "Exists" => req.key.clone(),
            _ => format!("!{}", req.key),
        });
    }
    parts.join(",")
}

pub fn namespace_record(ns: &K8sNamespace) -> Namespace {
    Namespace {
        name: name(&ns.metadata),
        labels: key_values(&ns.metadata.labels),
        annotations: key_values(&ns.metadata.annotations),
    }
}

fn strategy(s: Option<&str>, default: UpdateStrategy) -> UpdateStrategy {
    match s {
        Some("OnDelete") => UpdateStrategy::OnDelete,
        Some("Recreate") => UpdateStrategy::Recreate,
        Some("RollingUpdate") => UpdateStrategy::RollingUpdate,
        _ => default,
    }
}

/// What every workload kind fills the same way: its names and labels, its
/// pod template's labels and annotations, its selector and generations. The
/// caller sets the counts and the kind's own fields.
fn workload(
    kind: WorkloadKind,
    meta: &ObjectMeta,
    template: &PodTemplateSpec,
    selector: &LabelSelector,
    strategy: UpdateStrategy,
    observed_generation: Option<i64>,
) -> Workload {
    let template = template.metadata.clone().unwrap_or_default();
    Workload {
        kind,
        namespace: namespace(meta),
        name: name(meta),
        labels: key_values(&meta.labels),
        template_labels: key_values(&template.labels),
        template_annotations: key_values(&template.annotations),
        selector: selector_string(&Some(selector.clone())),
        strategy,
        paused: false,
        partition: 0,
        generation: meta.generation.unwrap_or(0),
        observed_generation: observed_generation.unwrap_or(0),
        desired: 0,
        current: 0,
        updated: 0,
        ready: 0,
        available: 0,
    }
}

/// A Deployment, and whether kubectl would call its rollout failed
/// (`Progressing=False`, reason `ProgressDeadlineExceeded`).
pub fn deployment_record(d: &Deployment) -> (Workload, bool) {
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    let strategy = strategy(
        spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
        UpdateStrategy::RollingUpdate,
    );
    let w = Workload {
        paused: spec.paused.unwrap_or(false),
        desired: count(Some(spec.replicas.unwrap_or(1))),
        current: count(status.replicas),
        updated: count(status.updated_replicas),
        ready: count(status.ready_replicas),
        available: count(status.available_replicas),
        ..workload(
            WorkloadKind::Deployment,
            &d.metadata,
            &spec.template,
            &spec.selector,
            strategy,
            status.observed_generation,
        )
    };
    (w, deadline_exceeded)
}

pub fn stateful_set_record(s: &StatefulSet) -> Workload {
    let spec = s.spec.clone().unwrap_or_default();
    let status = s.status.clone().unwrap_or_default();
    let update = spec.update_strategy.clone().unwrap_or_default();
    let strategy = strategy(update.type_.as_deref(), UpdateStrategy::RollingUpdate);
    let partition = update
        .rolling_update
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0) as u32;
    Workload {
        partition,
        desired: count(Some(spec.replicas.unwrap_or(1))),
        current: count(Some(status.replicas)),
        updated: count(status.updated_replicas),
        ready: count(status.ready_replicas),
        available: count(status.available_replicas),
        ..workload(
            WorkloadKind::StatefulSet,
            &s.metadata,
            &spec.template,
            &spec.selector,
            strategy,
            status.observed_generation,
        )
    }
}

pub fn daemon_set_record(d: &DaemonSet) -> Workload {
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    let strategy = strategy(
        spec.update_strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref()),
        UpdateStrategy::RollingUpdate,
    );
    Workload {
        desired: count(Some(status.desired_number_scheduled)),
        current: count(Some(status.current_number_scheduled)),
        updated: count(status.updated_number_scheduled),
        ready: count(Some(status.number_ready)),
        available: count(status.number_available),
        ..workload(
            WorkloadKind::DaemonSet,
            &d.metadata,
            &spec.template,
            &spec.selector,
            strategy,
            status.observed_generation,
        )
    }
}

/// "namespace/replicaset" -> the name of the Deployment that controls it.
pub fn replica_set_owners(sets: &[ReplicaSet]) -> HashMap<String, RsOwner> {
    sets.iter()
        .filter_map(|rs| {
            // A Deployment's; else the controller of another kind (an Argo
            // Rollout's ReplicaSets carry its controller reference).
            let refs = rs.metadata.owner_references.iter().flatten();
            let owner = refs
                .clone()
                .find(|o| o.kind == "Deployment" && o.controller.unwrap_or(true))
                .or_else(|| refs.clone().find(|o| o.controller == Some(true)))?;
            Some((
                format!("{}/{}", namespace(&rs.metadata), name(&rs.metadata)),
                (owner.kind.clone(), owner.name.clone()),
            ))
        })
        .collect()
}

/// The controller of a ReplicaSet: (kind, name).
pub type RsOwner = (String, String);

/// A pod, its owner resolved through a ReplicaSet to its Deployment
/// or the custom controller behind it (`rs_owners` maps
/// "namespace/replicaset" to its owner).
pub fn pod_record(p: &K8sPod, rs_owners: &HashMap<String, RsOwner>) -> Pod {
    let ns = namespace(&p.metadata);
    let spec = p.spec.clone().unwrap_or_default();
    let status = p.status.clone().unwrap_or_default();
    let controller = p
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller.unwrap_or(false))
        .or_else(|| p.metadata.owner_references.iter().flatten().next());
    let owner = controller.map(|o| {
        if o.kind == "ReplicaSet"
            && let Some((kind, owner)) = rs_owners.get(&format!("{ns}/{}", o.name))
        {
            return ObjectRef {
                kind: kind.clone(),
                namespace: ns.clone(),
                name: owner.clone(),
            };
        }
        ObjectRef {
            kind: o.kind.clone(),
            namespace: ns.clone(),
            name: o.name.clone(),
        }
    });
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    Pod {
        namespace: ns,
        name: name(&p.metadata),
        labels: key_values(&p.metadata.labels),
        annotations: key_values(&p.metadata.annotations),
        containers: spec.containers.iter().map(|c| c.name.clone()).collect(),
        init_containers: spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| c.name.clone())
            .collect(),
        ready,
        phase: status.phase.unwrap_or_default(),
        node_name: spec.node_name.unwrap_or_default(),
        start_time: time(&status.start_time),
        owner,
    }
}

pub fn secret_record(s: &K8sSecret) -> Secret {
    Secret {
        namespace: namespace(&s.metadata),
        name: name(&s.metadata),
        type_: s.type_.clone().unwrap_or_else(|| "Opaque".into()),
        data: s
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
        labels: key_values(&s.metadata.labels),
        annotations: key_values(&s.metadata.annotations),
        resource_version: s.metadata.resource_version.clone().unwrap_or_default(),
    }
}

pub fn config_map_record(c: &K8sConfigMap) -> ConfigMap {
    ConfigMap {
        namespace: namespace(&c.metadata),
        name: name(&c.metadata),
        data: key_values(&c.data),
        labels: key_values(&c.metadata.labels),
        annotations: key_values(&c.metadata.annotations),
        resource_version: c.metadata.resource_version.clone().unwrap_or_default(),
    }
}

/// A core/v1 Event (what `kubectl get events` shows). Events written through
/// events.k8s.io/v1 appear here too, with `eventTime` and `series`.
pub fn event_record(e: &K8sEvent) -> Event {
    let first = time(&e.first_timestamp)
        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_second()))
        .or_else(|| time(&e.metadata.creation_timestamp))
        .unwrap_or(0);
    let last = time(&e.last_timestamp)
        .or_else(|| {
            e.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0.as_second())
        })
        .unwrap_or(first);
    let count = e
        .count
        .or_else(|| e.series.as_ref().and_then(|s| s.count))
        .unwrap_or(1)
        .max(1) as u32;
    let inv = &e.involved_object;
    Event {
        involved: ObjectRef {
            kind: inv.kind.clone().unwrap_or_default(),
            namespace: inv.namespace.clone().unwrap_or_default(),
            name: inv.name.clone().unwrap_or_default(),
        },
        type_: if e.type_.as_deref() == Some("Warning") {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        count,
        first_time: first,
        last_time: last,
        source: e
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .or_else(|| e.reporting_component.clone())
            .unwrap_or_default(),
    }
}

fn json_time(v: &Value) -> Option<Timestamp> {
    v.as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
}

fn json_str(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `status.conditions` of a cert-manager object.
fn cert_manager_conditions(status: &Value) -> Vec<Condition> {
    status
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| Condition {
            type_: json_str(c, "type"),
            status: json_str(c, "status"),
            reason: json_str(c, "reason"),
            message: json_str(c, "message"),
            observed_generation: c.get("observedGeneration").and_then(Value::as_i64),
            last_transition_time: c.get("lastTransitionTime").and_then(json_time),
        })
        .collect()
}

/// `Ready=True`, observed at `generation` (a condition without an
/// observedGeneration, as older controllers write, counts as current).
fn ready_at(conditions: &[Condition], generation: i64) -> bool {
    conditions.iter().any(|c| {
        c.type_ == "Ready"
            && c.status == "True"
            && c.observed_generation.is_none_or(|g| g == generation)
    })
}

/// A cert-manager Issuer or ClusterIssuer read as a `DynamicObject`.
pub fn issuer_record(kind: &str, obj: &DynamicObject) -> Issuer {
    let status = obj.data.get("status").cloned().unwrap_or(Value::Null);
    let generation = obj.metadata.generation.unwrap_or(0);
    Issuer {
        kind: kind.to_string(),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: obj.metadata.name.clone().unwrap_or_default(),
        ca_secret_name: obj
            .data
            .pointer("/spec/ca/secretName")
            .and_then(Value::as_str)
            .map(String::from),
        generation,
        ready: ready_at(&cert_manager_conditions(&status), generation),
    }
}

/// A cert-manager Certificate read as a `DynamicObject`.
pub fn certificate_record(obj: &DynamicObject) -> Certificate {
    let spec = obj.data.get("spec").cloned().unwrap_or(Value::Null);
    let status = obj.data.get("status").cloned().unwrap_or(Value::Null);
    let generation = obj.metadata.generation.unwrap_or(0);
    let conditions = cert_manager_conditions(&status);
    let ready = ready_at(&conditions, generation);
    let issuing = conditions
        .iter()
        .any(|c| c.type_ == "Issuing" && c.status == "True");
    let issuer = spec.get("issuerRef").cloned().unwrap_or(Value::Null);
    Certificate {
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: obj.metadata.name.clone().unwrap_or_default(),
        secret_name: json_str(&spec, "secretName"),
        issuer_kind: issuer
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("Issuer")
            .to_string(),
        issuer_name: json_str(&issuer, "name"),
        is_ca: spec.get("isCA").and_then(Value::as_bool).unwrap_or(false),
        generation,
        ready,
        issuing,
        revision: status.get("revision").and_then(Value::as_u64),
        conditions,
        not_before: status.get("notBefore").and_then(json_time),
        not_after: status.get("notAfter").and_then(json_time),
        renewal_time: status.get("renewalTime").and_then(json_time),
        renewal_disabled: spec
            .pointer("/renewal/policy")
            .and_then(Value::as_str)
            .is_some_and(|p| p == "Disabled"),
    }
}
