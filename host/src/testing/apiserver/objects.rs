//! The trait's records rebuilt as the Kubernetes objects a real API server
//! would return (the inverse of `cluster::kube::convert`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::wit::{
    Certificate, ConfigMap, Event, EventType, KeyValue, Namespace, Pod, RolloutPhase,
    RolloutStatus, Secret, Timestamp, UpdateStrategy, Workload, WorkloadKind,
};

fn map(kvs: &[KeyValue]) -> Value {
    Value::Object(
        kvs.iter()
            .map(|kv| (kv.key.clone(), Value::String(kv.value.clone())))
            .collect::<Map<String, Value>>(),
    )
}

pub fn rfc3339(t: Timestamp) -> Value {
    jiff::Timestamp::from_second(t)
        .map(|t| Value::String(t.to_string()))
        .unwrap_or(Value::Null)
}

/// `a=b,c=d` as matchLabels; other requirements become matchExpressions.
fn label_selector(selector: &str) -> Value {
    let mut labels = Map::new();
    let mut exprs = Vec::new();
    for part in selector.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((k, v)) = part.split_once("!=") {
            exprs.push(json!({"key": k.trim(), "operator": "NotIn", "values": [v.trim()]}));
        } else if let Some((k, v)) = part.split_once('=') {
            labels.insert(
                k.trim().to_string(),
                Value::String(v.trim_start_matches('=').trim().to_string()),
            );
        } else if let Some(k) = part.strip_prefix('!') {
            exprs.push(json!({"key": k.trim(), "operator": "DoesNotExist"}));
        } else {
            exprs.push(json!({"key": part, "operator": "Exists"}));
        }
    }
    let mut sel = json!({"matchLabels": labels});
    if !exprs.is_empty() {
        sel["matchExpressions"] = Value::Array(exprs);
    }
    sel
}

fn strategy_name(s: UpdateStrategy) -> &'static str {
    match s {
        UpdateStrategy::RollingUpdate => "RollingUpdate",
        UpdateStrategy::OnDelete => "OnDelete",
        UpdateStrategy::Recreate => "Recreate",
    }
}

pub fn resource_of(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::DaemonSet => "daemonsets",
    }
}

/// `status` is the backend's rollout verdict, used to show a Deployment's
/// ProgressDeadlineExceeded condition.
pub fn workload(w: &Workload, status: Option<&RolloutStatus>) -> Value {
    let metadata = json!({
        "name": w.name,
        "namespace": w.namespace,
        "labels": map(&w.labels),
        "generation": w.generation,
        "uid": format!("{}-{}-{}", w.kind.as_kind().to_lowercase(), w.namespace, w.name),
    });
    let template = json!({
        "metadata": {"labels": map(&w.template_labels), "annotations": map(&w.template_annotations)},
        "spec": {"containers": [{"name": "main", "image": "registry.example/main:1"}]},
    });
    match w.kind {
        WorkloadKind::Deployment => {
            let mut conditions = vec![json!({
                "type": "Available",
                "status": if w.available >= w.desired { "True" } else { "False" },
            })];
            if status.is_some_and(|s| s.phase == RolloutPhase::Failed) {
                conditions.push(json!({
                    "type": "Progressing", "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": status.map(|s| s.message.clone()).unwrap_or_default(),
                }));
            } else {
                conditions.push(json!({
                    "type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                }));
            }
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
                "spec": {
                    "replicas": w.desired, "paused": w.paused,
                    "selector": label_selector(&w.selector),
                    "strategy": {"type": strategy_name(w.strategy)},
                    "template": template,
                },
                "status": {
                    "observedGeneration": w.observed_generation,
                    "replicas": w.current, "updatedReplicas": w.updated,
                    "readyReplicas": w.ready, "availableReplicas": w.available,
                    "unavailableReplicas": w.current.saturating_sub(w.available),
                    "conditions": conditions,
                },
            })
        }
        WorkloadKind::StatefulSet => {
            let mut strategy = json!({"type": strategy_name(w.strategy)});
            if w.strategy == UpdateStrategy::RollingUpdate {
                strategy["rollingUpdate"] = json!({"partition": w.partition});
            }
            json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata,
                "spec": {
                    "replicas": w.desired, "serviceName": w.name,
                    "selector": label_selector(&w.selector),
                    "updateStrategy": strategy, "template": template,
                },
                "status": {
                    "observedGeneration": w.observed_generation,
                    "replicas": w.current, "updatedReplicas": w.updated,
                    "currentReplicas": w.current,
                    "readyReplicas": w.ready, "availableReplicas": w.available,
                },
            })
        }
        WorkloadKind::DaemonSet => json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": metadata,
            "spec": {
                "selector": label_selector(&w.selector),
                "updateStrategy": {"type": strategy_name(w.strategy)},
                "template": template,
            },
            "status": {
                "observedGeneration": w.observed_generation,
                "desiredNumberScheduled": w.desired,
                "currentNumberScheduled": w.current,
                "updatedNumberScheduled": w.updated,
                "numberReady": w.ready, "numberAvailable": w.available,
                "numberUnavailable": w.desired.saturating_sub(w.available),
                "numberMisscheduled": 0,
            },
        }),
    }
}

/// The ReplicaSet a Deployment's pod would belong to: the pod name without
/// its last `-suffix` (`web-5d9c7b-x2x9q` -> `web-5d9c7b`).
pub fn replica_set_name(pod: &str, deployment: &str) -> String {
    match pod.rsplit_once('-') {
        Some((rs, _)) if rs.starts_with(deployment) && rs.len() > deployment.len() => {
            rs.to_string()
        }
        _ => format!("{deployment}-rs"),
    }
}

/// The deletionTimestamp served for a pod the backend says is terminating
/// (the backend keeps no such time; clients only test for its presence).
pub const DELETING_SINCE: &str = "2026-01-01T00:00:00Z";

/// The kinds whose pods belong to ReplicaSets they control, with the
/// owner's apiVersion: Deployments, and Argo Rollouts (argo-rollouts'
/// `docs/features/restart.md`: the Rollout's ReplicaSets replace its pods).
fn replica_set_owner(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" => Some("apps/v1"),
        "Rollout" => Some("argoproj.io/v1alpha1"),
        _ => None,
    }
}

pub fn pod(p: &Pod) -> Value {
    let owner = p.owner.as_ref().map(|o| {
        if replica_set_owner(&o.kind).is_some() {
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "name": replica_set_name(&p.name, &o.name), "uid": "rs", "controller": true})
        } else {
            json!({"apiVersion": "apps/v1", "kind": o.kind, "name": o.name,
                   "uid": format!("{}-{}-{}", o.kind.to_lowercase(), o.namespace, o.name), "controller": true})
        }
    });
    let container = |n: &String| json!({"name": n, "image": "registry.example/main:1"});
    let mut obj = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": p.name, "namespace": p.namespace,
            "labels": map(&p.labels), "annotations": map(&p.annotations),
            "uid": format!("pod-{}-{}", p.namespace, p.name),
        },
        "spec": {
            "containers": p.containers.iter().map(container).collect::<Vec<_>>(),
            "nodeName": p.node_name,
        },
        "status": {
            "phase": p.phase,
            "conditions": [{"type": "Ready", "status": if p.ready { "True" } else { "False" }}],
        },
    });
    if !p.init_containers.is_empty() {
        // Backends name init containers only; the proxy is one solely as a
        // native sidecar, which is how Linkerd's injector writes it.
        let init = |n: &String| {
            let mut c = container(n);
            if n == crate::linkerd::PROXY_CONTAINER {
                c["restartPolicy"] = json!("Always");
            }
            c
        };
        obj["spec"]["initContainers"] = Value::Array(p.init_containers.iter().map(init).collect());
    }
    if let Some(o) = owner {
        obj["metadata"]["ownerReferences"] = json!([o]);
    }
    if let Some(t) = p.start_time {
        obj["status"]["startTime"] = rfc3339(t);
    }
    obj
}

/// ReplicaSets implied by the pods of Deployments and Rollouts.
pub fn replica_sets(pods: &[Pod]) -> Vec<Value> {
    let mut sets: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for p in pods {
        if let Some(o) = p
            .owner
            .as_ref()
            .filter(|o| replica_set_owner(&o.kind).is_some())
        {
            sets.insert(
                (p.namespace.clone(), replica_set_name(&p.name, &o.name)),
                (o.kind.clone(), o.name.clone()),
            );
        }
    }
    sets.into_iter()
        .map(|((ns, name), (kind, owner))| {
            let api = replica_set_owner(&kind).unwrap_or("apps/v1");
            let uid = format!("{}-{ns}-{owner}", kind.to_lowercase());
            json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {
                    "name": name, "namespace": ns,
                    "ownerReferences": [{"apiVersion": api, "kind": kind, "name": owner,
                                         "uid": uid, "controller": true}],
                },
                "spec": {"selector": {"matchLabels": {}}},
            })
        })
        .collect()
}

pub fn namespace(n: &Namespace) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": n.name, "labels": map(&n.labels), "annotations": map(&n.annotations)},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

pub fn certificate(c: &Certificate) -> Value {
    let conditions: Vec<Value> = c
        .conditions
        .iter()
        .map(|cond| {
            let mut v = json!({"type": cond.type_, "status": cond.status,
                               "reason": cond.reason, "message": cond.message});
            if let Some(g) = cond.observed_generation {
                v["observedGeneration"] = json!(g);
            }
            if let Some(t) = cond.last_transition_time {
                v["lastTransitionTime"] = rfc3339(t);
            }
            v
        })
        .collect();
    let mut spec = json!({
        "secretName": c.secret_name,
        "isCA": c.is_ca,
        "issuerRef": {"kind": c.issuer_kind, "name": c.issuer_name, "group": "cert-manager.io"},
    });
    if c.renewal_disabled {
        spec["renewal"] = json!({"policy": "Disabled"});
    }
    let mut status = json!({"conditions": conditions});
    if let Some(r) = c.revision {
        status["revision"] = json!(r);
    }
    for (key, t) in [
        ("notBefore", c.not_before),
        ("notAfter", c.not_after),
        ("renewalTime", c.renewal_time),
    ] {
        if let Some(t) = t {
            status[key] = rfc3339(t);
        }
    }
    json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": c.name, "namespace": c.namespace, "generation": c.generation},
        "spec": spec,
        "status": status,
    })
}

pub fn secret(s: &Secret) -> Value {
    use base64::Engine as _;
    let data: Map<String, Value> = s
        .data
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": s.name, "namespace": s.namespace, "labels": map(&s.labels),
                     "annotations": map(&s.annotations), "resourceVersion": s.resource_version},
        "type": s.type_,
        "data": data,
    })
}

pub fn config_map(c: &ConfigMap) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": c.name, "namespace": c.namespace, "labels": map(&c.labels),
                     "annotations": map(&c.annotations), "resourceVersion": c.resource_version},
        "data": map(&c.data),
    })
}

pub fn event(e: &Event, index: usize) -> Value {
    let ns = if e.involved.namespace.is_empty() {
        "default".to_string()
    } else {
        e.involved.namespace.clone()
    };
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{}.{:08x}", e.involved.name, index), "namespace": ns},
        "involvedObject": {"kind": e.involved.kind, "namespace": e.involved.namespace, "name": e.involved.name},
        "reason": e.reason,
        "message": e.message,
        "type": match e.type_ { EventType::Normal => "Normal", EventType::Warning => "Warning" },
        "count": e.count,
        "firstTimestamp": rfc3339(e.first_time),
        "lastTimestamp": rfc3339(e.last_time),
        "source": {"component": e.source},
        "reportingComponent": e.source,
    })
}
