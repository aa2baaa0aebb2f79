//! The `Expect` document a scenario file carries for `rotor test`: what
//! the run must show, read (and refused field by field) before anything
//! runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_norway::Value;

use crate::commands::one_line;
use crate::report::Outcome;

/// What a run must show. Every field is optional; `outcome` defaults to
/// `succeeded`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Expect {
    /// Policy component, relative to the scenario file.
    pub guest: Option<PathBuf>,
    /// Run configuration: a mapping, or a file path relative to the scenario.
    pub config: Option<Value>,
    pub dry_run: bool,
    pub outcome: Option<ExpectedOutcome>,
    /// Text the run's error must contain (with `outcome: failed`).
    pub error_contains: Option<String>,
    /// Text the policy's summary message must contain.
    pub summary_contains: Option<String>,
    /// Summary facts that must be present with exactly these values.
    pub facts: BTreeMap<String, String>,
    /// Unset means 0: a scenario that tolerates an outage says so.
    pub max_broken_pair_seconds: Option<f64>,
    pub max_virtual_seconds: Option<i64>,
    pub anchor_rotated: Option<bool>,
    pub issuer_rotated: Option<bool>,
    pub bundle_anchors: Option<usize>,
    pub proxies_trusting_retired_anchor: Option<usize>,
    pub proxies_with_retired_chain_leaf: Option<usize>,
    /// Number of workloads with fewer Ready pods than desired at the end.
    pub workloads_not_ready: Option<usize>,
    /// Mutations of any kind applied over the run (the audit's applied
    /// entries): `0` for a run refused before its first change.
    pub max_mutations: Option<usize>,
    /// Workload restarts applied over the run.
    pub max_restarts: Option<usize>,
    pub min_restarts: Option<usize>,
    /// Namespaces (or `namespace/name` workloads) never restarted.
    pub not_restarted: Vec<String>,
    pub restart_order: Vec<RestartOrder>,
}

/// How the run must end.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedOutcome {
    Succeeded,
    Failed,
}

impl From<ExpectedOutcome> for Outcome {
    fn from(o: ExpectedOutcome) -> Outcome {
        match o {
            ExpectedOutcome::Succeeded => Outcome::Succeeded,
            ExpectedOutcome::Failed => Outcome::Failed,
        }
    }
}

/// "`then` is restarted after `first`", round by round: the n-th restart of
/// every workload in `then` comes after the n-th restart of every workload
/// in `first` (a policy that restarts the mesh three times keeps the order
/// in each round). Each side is a namespace (`payments`) or one workload
/// (`shop/web`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RestartOrder {
    pub first: String,
    pub then: String,
}

/// The scenario's `Expect` document and its `metadata.name`, if it has one.
pub fn find_expect(text: &str) -> Result<Option<(Option<String>, Expect)>, String> {
    let mut found = None;
    for (index, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc)
            .map_err(|e| format!("YAML does not parse: document {}: {e}", index + 1))?;
        let kind = value.get("kind").and_then(Value::as_str);
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind != Some("Expect") || !api.starts_with("rotor.dev/") {
            continue;
        }
        if found.is_some() {
            return Err("a scenario holds at most one Expect document".into());
        }
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let spec = value.get("spec").cloned().unwrap_or(Value::Null);
        let expect = if spec.is_null() {
            Expect::default()
        } else {
            serde_path_to_error::deserialize::<_, Expect>(spec).map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." {
                    "spec".to_string()
                } else {
                    format!("spec.{field}")
                };
                format!(
                    "Expect (document {}): {field}: {}",
                    index + 1,
                    one_line(&e.into_inner().to_string())
                )
            })?
        };
        found = Some((name, expect));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_document_is_found_and_unknown_fields_refused() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n\
                    apiVersion: rotor.dev/v1alpha1\nkind: Expect\nmetadata: {name: n}\n\
                    spec: {maxBrokenPairSeconds: 0, anchorRotated: true}\n";
        let (name, expect) = find_expect(text).expect("parses").expect("found");
        assert_eq!(name.as_deref(), Some("n"));
        assert_eq!(expect.anchor_rotated, Some(true));
        let bad = "apiVersion: rotor.dev/v1alpha1\nkind: Expect\nspec: {anchorRotatd: true}\n";
        let err = find_expect(bad).expect_err("refused");
        assert!(err.contains("anchorRotatd"), "{err}");
    }
}
