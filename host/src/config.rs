//! The run configuration (`--config FILE`): the policy's own settings, the
//! grants the guard enforces and the limits the runtime enforces.
//!
//! YAML or JSON (JSON is read as YAML, so one parser names the field at
//! fault either way). Unknown keys are an error: a misspelt grant must not
//! silently widen or narrow what a policy may do.

mod clusters;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::guard::Grants;
use crate::observe::EventSubject;
use crate::text::one_line;

pub use clusters::{ClusterEntry, ClusterSource, KubeconfigSecret};

/// Everything `--config` can set. Defaults apply when no file is given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunConfig {
    /// Handed to the policy's `run(config)` as a JSON string.
    #[serde(default)]
    pub policy: Option<serde_json::Value>,
    #[serde(default)]
    pub grants: Grants,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub events: EventsConfig,
    /// The clusters of a multicluster mesh; empty: the one cluster rotor
    /// connects to.
    #[serde(default)]
    pub clusters: Vec<ClusterEntry>,
}

/// Where `rotor run` records the run's own events.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct EventsConfig {
    /// The object run events are about [default: Certificate cert-manager/linkerd-trust-anchor].
    pub subject: EventSubject,
}

/// Bounds on one run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Limits {
    /// The whole run: virtual seconds in the simulator, wall clock against a cluster.
    pub deadline_seconds: u64,
    /// One `clock.wait` or `wait-rollout` call.
    pub max_wait_seconds: u32,
    /// Guest linear memory.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: u64,
    /// Guest CPU time (epoch deadline); time spent in host calls is not counted.
    pub cpu_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline_seconds: 7200,
            max_wait_seconds: 3600,
            memory_mib: 128,
            cpu_seconds: 10,
        }
    }
}

/// Why a run configuration could not be used; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path}: {field}: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

impl RunConfig {
    /// Read and validate a YAML or JSON file.
    pub fn load(path: &Path) -> Result<RunConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        RunConfig::parse(&text, path)
    }

    /// Parse and validate; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RunConfig, ConfigError> {
        let config: RunConfig = if text.trim().is_empty() {
            RunConfig::default()
        } else {
            serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: one_line(&e.to_string()),
            })?
        };
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            message: message.to_string(),
        };
        let limits = &self.limits;
        if limits.deadline_seconds == 0 {
            return Err(invalid("limits.deadlineSeconds", "must be at least 1"));
        }
        if limits.max_wait_seconds == 0 {
            return Err(invalid("limits.maxWaitSeconds", "must be at least 1"));
        }
        if !(16..=4096).contains(&limits.memory_mib) {
            return Err(invalid(
                "limits.memoryMiB",
                "must be between 16 and 4096 (a policy needs room for its stack and heap)",
            ));
        }
        if !(1..=3600).contains(&limits.cpu_seconds) {
            return Err(invalid("limits.cpuSeconds", "must be between 1 and 3600"));
        }
        self.grants
            .validate()
            .map_err(|(field, message)| invalid(field, &message))?;
        let subject = &self.events.subject;
        if subject.kind.is_empty() || subject.name.is_empty() {
            return Err(invalid("events.subject", "needs a kind and a name"));
        }
        clusters::validate(&self.clusters, self.policy.as_ref())
            .map_err(|(field, message)| invalid(&field, &message))?;
        Ok(())
    }

    /// Whether the run spans several clusters (a `clusters` list is given).
    pub fn is_multicluster(&self) -> bool {
        !self.clusters.is_empty()
    }

    /// The string the policy's `run` receives: empty when no `policy` was
    /// given and the run reaches one cluster.
    pub fn policy_json(&self) -> String {
        if !self.clusters.is_empty() {
            return self.policy_json_across_clusters();
        }
        match &self.policy {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(value) => value.to_string(),
        }
    }

    /// With `clusters`: the top-level settings, and under `clusters` each
    /// cluster's own ones by name, for the policy to lay over the top-level
    /// ones where it runs in that cluster.
    fn policy_json_across_clusters(&self) -> String {
        let mut top = match &self.policy {
            Some(serde_json::Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let own: serde_json::Map<String, serde_json::Value> = self
            .clusters
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.policy.clone()?)))
            .collect();
        top.insert("clusters".into(), serde_json::Value::Object(own));
        serde_json::Value::Object(top).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::Verb;

    fn parse(text: &str) -> Result<RunConfig, ConfigError> {
        RunConfig::parse(text, Path::new("run.yaml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = parse("").expect("empty config is valid");
        assert_eq!(config, RunConfig::default());
        assert_eq!(config.limits.deadline_seconds, 7200);
        assert_eq!(config.limits.memory_mib, 128);
        assert!(config.grants.allows_verb(Verb::Restart));
        assert_eq!(config.policy_json(), "");
    }

    #[test]
    fn yaml_sets_every_section() {
        let config = parse(
            "policy: {dataPlane: false}\n\
             grants:\n  readNamespaces: [\"linkerd*\"]\n  verbs: [renew]\n\
             limits:\n  deadlineSeconds: 60\n  memoryMiB: 64\n",
        )
        .expect("valid config");
        assert_eq!(config.policy_json(), r#"{"dataPlane":false}"#);
        assert_eq!(config.limits.deadline_seconds, 60);
        assert_eq!(config.limits.memory_mib, 64);
        assert_eq!(
            config.limits.cpu_seconds, 10,
            "unset limits keep their defaults"
        );
        assert!(config.grants.allows_verb(Verb::Renew));
        assert!(!config.grants.allows_verb(Verb::Restart));
    }

    #[test]
    fn each_clusters_own_policy_keys_reach_the_policy_under_its_name() {
        let config = parse(
            "policy: {parallelism: 5}\n\
             clusters:\n- {name: east, context: east, home: true}\n\
             - {name: west, context: west, policy: {parallelism: 2}}\n",
        )
        .expect("valid config");
        assert_eq!(
            config.policy_json(),
            r#"{"clusters":{"west":{"parallelism":2}},"parallelism":5}"#
        );
    }

    #[test]
    fn json_is_accepted() {
        let config = parse(r#"{"limits": {"cpuSeconds": 2}, "policy": "loop"}"#).expect("json");
        assert_eq!(config.limits.cpu_seconds, 2);
        assert_eq!(config.policy_json(), r#""loop""#);
    }

    #[test]
    fn unknown_key_names_file_and_field() {
        let err = parse("grants:\n  readNamspaces: [\"*\"]\n").expect_err("typo must fail");
        let message = err.to_string();
        assert!(message.starts_with("config run.yaml: "), "{message}");
        assert!(message.contains("readNamspaces"), "{message}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn unknown_verb_is_rejected() {
        let err = parse("grants:\n  verbs: [restart, nuke]\n").expect_err("bad verb");
        assert!(err.to_string().contains("nuke"), "{err}");
    }

    #[test]
    fn zero_deadline_is_rejected() {
        let err = parse("limits: {deadlineSeconds: 0}").expect_err("zero deadline");
        assert_eq!(
            err.to_string(),
            "config run.yaml: limits.deadlineSeconds: must be at least 1"
        );
    }

    #[test]
    fn event_subject_defaults_to_the_anchor_and_can_be_moved() {
        let subject = parse("limits: {}").unwrap().events.subject;
        assert_eq!(
            (
                subject.kind.as_str(),
                subject.namespace.as_str(),
                subject.name.as_str()
            ),
            ("Certificate", "cert-manager", "linkerd-trust-anchor")
        );
        let subject = parse("events: {subject: {namespace: pki, name: mesh-root}}")
            .unwrap()
            .events
            .subject;
        assert_eq!(
            (subject.kind.as_str(), subject.name.as_str()),
            ("Certificate", "mesh-root")
        );
        let err = parse("events: {subject: {name: \"\"}}").expect_err("no name");
        assert_eq!(
            err.to_string(),
            "config run.yaml: events.subject: needs a kind and a name"
        );
    }

    #[test]
    fn malformed_secret_grant_is_rejected() {
        let err = parse("grants: {readSecrets: [\"no-slash\"]}").expect_err("needs ns/name");
        assert!(err.to_string().contains("grants.readSecrets"), "{err}");
    }

    #[test]
    fn single_cluster_configs_load_unchanged() {
        let config = parse("policy: {dataPlane: false}\nlimits: {cpuSeconds: 2}\n").expect("valid");
        assert!(config.clusters.is_empty());
        assert!(!config.is_multicluster());
        assert_eq!(parse("clusters: []").expect("valid"), RunConfig::default());
    }

    const TWO: &str = "policy: {mode: full, anchor: {name: linkerd-trust-anchor}}\n\
         grants: {verbs: [renew]}\n\
         clusters:\n\
         - {name: east, context: kind-east, home: true}\n\
         - name: west\n  \
           kubeconfigSecret: {namespace: rotor-system, name: west-kubeconfig}\n  \
           policy: {anchor: {name: mesh-root}, dataPlane: false}\n  \
           grants: {verbs: [restart]}\n";

    #[test]
    fn clusters_are_read_with_their_sources_policies_and_grants() {
        let config = parse(TWO).expect("valid");
        assert!(config.is_multicluster());
        let [east, west] = &config.clusters[..] else {
            panic!("two clusters: {:?}", config.clusters)
        };
        assert_eq!(east.source(), ClusterSource::Context("kind-east"));
        assert!(east.home && !west.home);
        let ClusterSource::Secret(secret) = west.source() else {
            panic!("west reads a Secret")
        };
        assert_eq!(
            (
                secret.namespace.as_str(),
                secret.name.as_str(),
                secret.key.as_str()
            ),
            ("rotor-system", "west-kubeconfig", "kubeconfig"),
            "the key defaults to kubeconfig"
        );
        // East inherits the top-level policy and grants; west overrides
        // `anchor` whole and adds `dataPlane`, keeping `mode`.
        assert_eq!(east.policy_over(config.policy.as_ref()), config.policy);
        assert_eq!(
            west.policy_over(config.policy.as_ref()),
            Some(
                serde_json::json!({"mode": "full", "anchor": {"name": "mesh-root"}, "dataPlane": false})
            )
        );
        assert!(east.grants_or(&config.grants).allows_verb(Verb::Renew));
        assert!(!east.grants_or(&config.grants).allows_verb(Verb::Restart));
        assert!(west.grants_or(&config.grants).allows_verb(Verb::Restart));
        assert!(!west.grants_or(&config.grants).allows_verb(Verb::Renew));
    }

    #[test]
    fn bad_clusters_name_the_entry_and_field() {
        let home = "- {name: east, context: east, home: true}\n";
        for (yaml, want) in [
            (
                format!(
                    "{home}- {{name: west, context: w, kubeconfigSecret: {{namespace: a, name: b}}}}\n"
                ),
                "clusters[1] (\"west\"): both context and kubeconfigSecret set",
            ),
            (
                format!("{home}- {{name: west}}\n"),
                "clusters[1] (\"west\"): needs context or kubeconfigSecret",
            ),
            (
                format!("{home}- {{name: West_1, context: w}}\n"),
                "clusters[1].name: \"West_1\" is not a DNS label",
            ),
            (
                format!("{home}- {{name: east, context: w}}\n"),
                "clusters[1] (\"east\"): name already used by clusters[0]",
            ),
            (
                "- {name: east, context: e}\n- {name: west, context: w}\n".to_string(),
                "clusters: no entry has home: true",
            ),
            (
                format!("{home}- {{name: west, context: w, home: true}}\n"),
                "clusters[1] (\"west\"): home: true again (clusters[0] (\"east\") is home already)",
            ),
            (
                format!("{home}- {{name: west, context: \"\"}}\n"),
                "clusters[1] (\"west\").context: is empty",
            ),
            (
                format!("{home}- {{name: west, kubeconfigSecret: {{namespace: a, name: \"\"}}}}\n"),
                "clusters[1] (\"west\").kubeconfigSecret: needs a namespace, a name and a key",
            ),
            (
                format!("{home}- {{name: west, context: w, policy: [1]}}\n"),
                "clusters[1] (\"west\").policy: must be an object",
            ),
            (
                format!("{home}- {{name: west, context: w, grants: {{readSecrets: [nope]}}}}\n"),
                "clusters[1] (\"west\").grants.readSecrets: \"nope\" is not of the form namespace/name",
            ),
        ] {
            let err = parse(&format!("clusters:\n{yaml}"))
                .expect_err(want)
                .to_string();
            let want = format!("config run.yaml: {want}");
            assert!(err.starts_with(&want), "want {want}\n got {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = parse(
            "policy: loop\nclusters:\n- {name: east, context: e, home: true, policy: {a: 1}}\n",
        )
        .expect_err("a string does not merge");
        assert!(
            err.to_string().starts_with(
                "config run.yaml: policy: must be an object for clusters[0] (\"east\")'s policy"
            ),
            "{err}"
        );
        let err = parse("clusters:\n- {name: east, context: e, home: true, kubeConfig: x}\n")
            .expect_err("unknown field");
        assert!(err.to_string().contains("kubeConfig"), "{err}");
    }
}
