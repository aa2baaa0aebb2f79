//! A multicluster scenario's sections: each begins with a `Simulation`
//! document naming its cluster (`spec.cluster`) and holds that cluster's
//! objects, as a single-cluster scenario would.

use serde::Deserialize;
use serde_norway::Value;

use super::super::scenario::ScenarioError;

/// One cluster's part of the scenario, as a scenario of its own.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub home: bool,
    pub text: String,
}

fn cluster_of(value: &Value) -> Option<&Value> {
    let simulation = value.get("kind").and_then(Value::as_str) == Some("Simulation");
    simulation
        .then(|| value.get("spec").and_then(|s| s.get("cluster")))
        .flatten()
}

fn documents(text: &str) -> Result<Vec<Value>, ScenarioError> {
    let mut docs = Vec::new();
    for (index, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc)
            .map_err(|e| ScenarioError::Yaml(format!("document {}: {e}", index + 1)))?;
        docs.push(value);
    }
    Ok(docs)
}

/// Whether a scenario describes several clusters: a `Simulation` document
/// names its cluster.
pub fn is_multicluster(text: &str) -> bool {
    documents(text).is_ok_and(|docs| docs.iter().any(|d| cluster_of(d).is_some()))
}

/// Split a scenario at each `Simulation` document naming a cluster.
pub fn split(text: &str) -> Result<Vec<Section>, ScenarioError> {
    let invalid = |m: String| ScenarioError::Invalid(m);
    let mut sections: Vec<(Section, Vec<String>)> = Vec::new();
    for (index, value) in documents(text)?.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        let number = index + 1;
        let is_simulation = value.get("kind").and_then(Value::as_str) == Some("Simulation");
        if let Some(cluster) = cluster_of(&value) {
            let name = cluster
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    invalid(format!("document {number}: spec.cluster.name is missing"))
                })?;
            let home = cluster
                .get("home")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let section = Section {
                name: name.to_string(),
                home,
                text: String::new(),
            };
            sections.push((section, Vec::new()));
        } else if is_simulation {
            return Err(invalid(format!(
                "document {number}: in a scenario of several clusters every Simulation document names its cluster (spec.cluster)"
            )));
        }
        let Some((_, docs)) = sections.last_mut() else {
            return Err(invalid(format!(
                "document {number}: comes before the first Simulation document naming a cluster"
            )));
        };
        let yaml = serde_norway::to_string(&value)
            .map_err(|e| ScenarioError::Yaml(format!("document {number}: {e}")))?;
        docs.push(yaml);
    }
    let mut out: Vec<Section> = Vec::new();
    for (mut section, docs) in sections {
        if out.iter().any(|s| s.name == section.name) {
            return Err(invalid(format!(
                "cluster {:?} is described twice",
                section.name
            )));
        }
        section.text = docs.join("---\n");
        out.push(section);
    }
    match out.iter().filter(|s| s.home).count() {
        1 => Ok(out),
        n => Err(invalid(format!(
            "exactly one cluster is the home (spec.cluster.home: true), not {n}"
        ))),
    }
}
