//! The run configuration (`--config FILE`): the policy's own settings, the
//! grants the guard enforces and the limits the runtime enforces.
//!
//! YAML or JSON (JSON is read as YAML, so one parser names the field at
//! fault either way). Unknown keys are an error: a misspelt grant must not
//! silently widen or narrow what a policy may do.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::guard::Grants;
use crate::observe::EventSubject;
use crate::text::one_line;

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
        field: &'static str,
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
        let invalid = |field, message: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
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
        Ok(())
    }

    /// The string the policy's `run` receives: empty when no `policy` was given.
    pub fn policy_json(&self) -> String {
        match &self.policy {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(value) => value.to_string(),
        }
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
}
