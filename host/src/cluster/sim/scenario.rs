//! Reading a scenario: multi-document YAML of Kubernetes objects plus at most
//! one `rotor.dev/v1alpha1` `Simulation` document.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_norway::Value;

use super::manifest::{
    BundleObject, CertificateObject, ClusterBundleObject, ConfigMapObject, IssuerObject,
    NamespaceObject, PodObject, SecretObject, SimulationSpec, WorkloadObject,
};

/// Why a scenario cannot be loaded. Messages name the document and object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("YAML does not parse: {0}")]
    Yaml(String),
    #[error("document {doc} ({what}): {message}")]
    Document {
        doc: String,
        what: String,
        message: String,
    },
    #[error("scenario: {0}")]
    Invalid(String),
}

/// One object of a scenario, typed.
#[derive(Debug, Clone)]
pub enum Object {
    Namespace(NamespaceObject),
    Deployment(WorkloadObject),
    StatefulSet(WorkloadObject),
    DaemonSet(WorkloadObject),
    Pod(PodObject),
    Secret(SecretObject),
    ConfigMap(ConfigMapObject),
    Certificate(CertificateObject),
    Issuer(IssuerObject),
    ClusterIssuer(IssuerObject),
    Bundle(BundleObject),
    /// trust-manager's cluster-scoped successor of `Bundle`.
    ClusterBundle(ClusterBundleObject),
    /// Only the owner reference matters: it resolves pods to their Deployment.
    ReplicaSet(WorkloadObject),
    Event(EventObject),
}

/// A core/v1 Event as `kubectl get events -o yaml` prints it.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventObject {
    #[serde(default)]
    pub metadata: super::manifest::Meta,
    pub involved_object: InvolvedObject,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub first_timestamp: Option<String>,
    #[serde(default)]
    pub last_timestamp: Option<String>,
    #[serde(default)]
    pub source: Option<EventSource>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct InvolvedObject {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct EventSource {
    #[serde(default)]
    pub component: String,
}

/// One object and where it came from, for error messages.
#[derive(Debug, Clone)]
pub struct Located {
    /// "3" or "3 item 2" (an item of a `kind: List`).
    pub doc: String,
    /// "Deployment web/api".
    pub what: String,
    pub object: Object,
}

/// The objects of a scenario in document order, and its Simulation spec.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub objects: Vec<Located>,
    pub simulation: Option<SimulationSpec>,
    /// The Simulation document's metadata annotations (state a dump carries).
    pub simulation_annotations: std::collections::BTreeMap<String, String>,
}

/// Kinds that appear in `kubectl get all -o yaml` and carry nothing the
/// simulator models; they are accepted and dropped.
const IGNORED_KINDS: &[&str] = &[
    "Service",
    "ServiceAccount",
    "ControllerRevision",
    "Endpoints",
    "EndpointSlice",
    "PodDisruptionBudget",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
];

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario = Scenario::default();
        for (index, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
            let number = index + 1;
            let value = Value::deserialize(doc)
                .map_err(|e| ScenarioError::Yaml(format!("document {number}: {e}")))?;
            if value.is_null() {
                continue;
            }
            scenario.add(number.to_string(), value)?;
        }
        Ok(scenario)
    }

    fn add(&mut self, doc: String, value: Value) -> Result<(), ScenarioError> {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .map(str::to_string);
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let what = describe(&value);
        let err = |message: String| ScenarioError::Document {
            doc: doc.clone(),
            what: what.clone(),
            message,
        };
        let Some(kind) = kind else {
            return Err(err("no `kind`".into()));
        };
        if kind == "List" || kind.ends_with("List") && value.get("items").is_some() {
            let items = match value.get("items") {
                Some(Value::Sequence(items)) => items.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(_) => return Err(err("items: expected a list".into())),
            };
            for (i, item) in items.into_iter().enumerate() {
                self.add(format!("{doc} item {}", i + 1), item)?;
            }
            return Ok(());
        }
        // Expectations for `rotor test` travel in the scenario file; the
        // simulator itself has nothing to do with them.
        if kind == "Expect" && api_version.starts_with("rotor.dev/") {
            return Ok(());
        }
        if kind == "Simulation" {
            if !api_version.starts_with("rotor.dev/") {
                return Err(err(format!(
                    "kind Simulation belongs to apiVersion rotor.dev/v1alpha1, not {api_version:?}"
                )));
            }
            if self.simulation.is_some() {
                return Err(err(
                    "a scenario holds at most one Simulation document".into()
                ));
            }
            if let Some(Value::Mapping(m)) = Some(&value) {
                for key in m.keys() {
                    let k = key.as_str().unwrap_or_default();
                    if !matches!(k, "apiVersion" | "kind" | "metadata" | "spec" | "status") {
                        return Err(err(format!("unknown field `{k}`")));
                    }
                }
            }
            let spec = value.get("spec").cloned().unwrap_or(Value::Null);
            let spec = if spec.is_null() {
                SimulationSpec::default()
            } else {
                typed::<SimulationSpec>(spec).map_err(|m| err(format!("spec.{m}")))?
            };
            self.simulation = Some(spec);
            if let Some(Value::Mapping(a)) =
                value.get("metadata").and_then(|m| m.get("annotations"))
            {
                for (k, v) in a {
                    if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                        self.simulation_annotations
                            .insert(k.to_string(), v.to_string());
                    }
                }
            }
            return Ok(());
        }
        let object = match kind.as_str() {
            "Namespace" => Object::Namespace(typed(value).map_err(err)?),
            "Deployment" => Object::Deployment(typed(value).map_err(err)?),
            "StatefulSet" => Object::StatefulSet(typed(value).map_err(err)?),
            "DaemonSet" => Object::DaemonSet(typed(value).map_err(err)?),
            "ReplicaSet" => Object::ReplicaSet(typed(value).map_err(err)?),
            "Pod" => Object::Pod(typed(value).map_err(err)?),
            "Secret" => Object::Secret(typed(value).map_err(err)?),
            "ConfigMap" => Object::ConfigMap(typed(value).map_err(err)?),
            "Certificate" => Object::Certificate(typed(value).map_err(err)?),
            "Issuer" => Object::Issuer(typed(value).map_err(err)?),
            "ClusterIssuer" => Object::ClusterIssuer(typed(value).map_err(err)?),
            "Bundle" => Object::Bundle(typed(value).map_err(err)?),
            "ClusterBundle" => Object::ClusterBundle(typed(value).map_err(err)?),
            "Event" => Object::Event(typed(value).map_err(err)?),
            k if IGNORED_KINDS.contains(&k) => return Ok(()),
            other => {
                return Err(err(format!(
                    "unknown kind {other:?} (the simulator models Namespace, Deployment, StatefulSet, DaemonSet, Pod, Secret, ConfigMap, Certificate, Issuer, ClusterIssuer, Bundle, ClusterBundle, Event and List)"
                )));
            }
        };
        let name_missing = match &object {
            Object::Namespace(o) => o.metadata.name.is_empty(),
            Object::Deployment(o)
            | Object::StatefulSet(o)
            | Object::DaemonSet(o)
            | Object::ReplicaSet(o) => o.metadata.name.is_empty(),
            Object::Pod(o) => o.metadata.name.is_empty(),
            Object::Secret(o) => o.metadata.name.is_empty(),
            Object::ConfigMap(o) => o.metadata.name.is_empty(),
            Object::Certificate(o) => o.metadata.name.is_empty(),
            Object::Issuer(o) | Object::ClusterIssuer(o) => o.metadata.name.is_empty(),
            Object::Bundle(o) => o.metadata.name.is_empty(),
            Object::ClusterBundle(o) => o.metadata.name.is_empty(),
            Object::Event(_) => false,
        };
        if name_missing {
            return Err(err("metadata.name: missing".into()));
        }
        self.objects.push(Located { doc, what, object });
        Ok(())
    }
}

/// "Deployment web/api", "ClusterIssuer linkerd-identity-issuer".
fn describe(value: &Value) -> String {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("object without kind");
    let meta = value.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    match meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// Deserialize with the path of the failing field in the message.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_field_names_document_object_and_path() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: web}\nspec:\n  replicas: x\n";
        let err = Scenario::parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "document 3 (Deployment web/api): spec.replicas: invalid type: string \"x\""
            ),
            "{err}"
        );
    }

    #[test]
    fn yaml_syntax_errors_name_the_document() {
        let err = Scenario::parse("kind: Namespace\nmetadata: {name: a}\n---\nkind: [unclosed\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("YAML does not parse: document 2:"), "{err}");
    }

    #[test]
    fn unknown_kind_is_refused() {
        let err = Scenario::parse("apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("document 1 (Widget w)"), "{err}");
        assert!(err.contains("unknown kind \"Widget\""), "{err}");
    }

    #[test]
    fn list_items_are_flattened_and_named() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c, namespace: a}\n  data: {k: v}\n";
        let s = Scenario::parse(text).unwrap();
        assert_eq!(s.objects.len(), 2);
        let bad = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s, namespace: a}\n  data: [1]\n";
        let err = Scenario::parse(bad).unwrap_err().to_string();
        assert!(
            err.starts_with("document 1 item 2 (Secret a/s): data:"),
            "{err}"
        );
    }

    #[test]
    fn simulation_typos_are_errors() {
        let text = "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  timings:\n    podStartSecond: 3\n";
        let err = Scenario::parse(text).unwrap_err().to_string();
        assert!(err.contains("spec.timings"), "{err}");
        assert!(err.contains("podStartSecond"), "{err}");
        let text = "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  nodes: 5\n  identityMissesReload: true\n";
        let s = Scenario::parse(text).unwrap();
        let spec = s.simulation.unwrap();
        assert_eq!(spec.nodes, 5);
        assert!(spec.identity_misses_reload);
        assert_eq!(spec.timings.pod_start_seconds, 10);
        let two = format!("{text}---\n{text}");
        assert!(Scenario::parse(&two).is_err());
    }
}
