//! The policy's configuration: JSON, camelCase, unknown keys rejected.

use super::unowned::Unowned;
use crate::certs::Named;
use serde::{Deserialize, Serialize};

/// What to rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Trust anchor and issuer, in the documented safe order.
    Full,
    /// The issuer alone (the monthly case). The new issuer is signed by the
    /// anchor every proxy already trusts and proxies fetch their leaves from
    /// identity, so once identity reports `IssuerUpdated` nothing needs a
    /// restart: every proxy moves to the new issuer at its next leaf refresh.
    IssuerOnly,
    /// Trust anchor and issuer with a staged successor: two anchor
    /// Certificates (`trustAnchor` and `nextAnchor`) whose roles alternate,
    /// both always in the bundle. The *current* one's Secret is what the CA
    /// issuer signs the identity issuer with; the *next* one signs nothing
    /// but every proxy already trusts it. A rotation points the CA issuer
    /// at the next anchor, renews the issuer, moves every leaf to it, then
    /// renews the retired anchor as the new next one and restarts once so
    /// proxies trust the new pair: one restart round fewer than `full`
    /// (none more with `adoptNewIssuer: leaf-refresh`).
    Staged,
}

impl Mode {
    /// Whether the mode replaces the trust anchor (every proxy restarts).
    pub fn rotates_anchor(self) -> bool {
        self != Mode::IssuerOnly
    }
}

/// Who writes the trust-roots ConfigMap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundleWriter {
    /// trust-manager's Bundle: rotor changes its sources and waits.
    #[default]
    TrustManager,
    /// rotor itself, for installs without trust-manager (the ConfigMap as
    /// Linkerd's chart renders it): it writes the bundle from the same
    /// sources a Bundle would read. Needs `grants.writeConfigMaps`.
    Rotor,
}

/// How proxies move to the new issuer in a full rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssuerAdoption {
    /// Restart every meshed workload once identity serves the new issuer
    /// (Linkerd's documented order: three restarts per workload in all).
    #[default]
    Restart,
    /// Restart nothing: a proxy fetches a new leaf at about 70% of its
    /// leaf's life and a leaf lives at most identity's issuance lifetime,
    /// so one lifetime after identity served the new issuer no working
    /// proxy still presents a leaf of the old one. The rotation pauses at
    /// adopt-new-issuer until then and a later run continues: two restarts
    /// per workload instead of three.
    LeafRefresh,
}

/// The `bundle` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BundleSettings {
    pub writer: BundleWriter,
}

/// `namespace` + `name` of an object in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectName {
    pub namespace: String,
    pub name: String,
}

impl ObjectName {
    fn new(namespace: &str, name: &str) -> Self {
        ObjectName {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn named(&self) -> Named {
        Named::new(&self.namespace, &self.name)
    }
}

/// Seconds each gate may wait before the rotation stops.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Deadlines {
    /// A Certificate re-issue (revision up, Issuing gone, Secret changed).
    pub renewal_seconds: u32,
    /// trust-manager updating the trust-roots ConfigMap.
    pub bundle_seconds: u32,
    /// One wave of rollouts.
    pub rollout_seconds: u32,
    /// One replacement pod of an OnDelete workload.
    pub pod_seconds: u32,
    /// Restarted pods showing the expected roots / start time.
    pub pods_seconds: u32,
    /// identity reporting `IssuerUpdated`.
    pub issuer_reload_seconds: u32,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            renewal_seconds: 300,
            bundle_seconds: 300,
            rollout_seconds: 900,
            pod_seconds: 600,
            pods_seconds: 300,
            issuer_reload_seconds: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    pub mode: Mode,
    pub trust_anchor: ObjectName,
    /// In a member cluster of a multicluster mesh: the Secret holding this
    /// cluster's copy of the home cluster's anchor, certificate and key, that
    /// its CA issuer signs with [default: `trustAnchor`'s namespace and
    /// name]. Only members have one: the home's anchor is its Certificate.
    pub trust_anchor_secret: Option<ObjectName>,
    /// Set for a member cluster by [`Config::for_clusters`]: the anchor is
    /// this Secret, copied from the home cluster, not a Certificate.
    #[serde(skip)]
    pub anchor_copy: Option<ObjectName>,
    /// The second anchor Certificate of `mode: staged` (its roles alternate
    /// with `trustAnchor`'s); unused by the other modes.
    pub next_anchor: Option<ObjectName>,
    pub identity_issuer: ObjectName,
    pub previous_anchor_secret: ObjectName,
    pub trust_roots_config_map: ObjectName,
    /// Who writes the trust-roots ConfigMap.
    pub bundle: BundleSettings,
    pub control_plane_namespace: String,
    pub identity_deployment: String,
    /// Extension namespaces restarted after the control plane (those present).
    pub extensions: Vec<String>,
    /// Rollouts running at once (see the guests README for the default).
    pub parallelism: usize,
    /// Rollouts running at once in one namespace, under `parallelism`
    /// (0: no limit of its own).
    pub parallelism_per_namespace: usize,
    pub deadlines: Deadlines,
    /// Do not start when cert-manager would renew the anchor or issuer on its
    /// own within this many seconds: it would race the rotation.
    pub renewal_margin_seconds: u32,
    /// The longest gap until the next scheduled run (the chart's
    /// `cronJob.scheduleIntervalSeconds`): the preflight lint refuses an
    /// anchor cert-manager would renew on its own before then.
    pub schedule_interval_seconds: u32,
    /// Namespaces whose workloads rotor does not restart (their proxies still
    /// count for every safety check: restart them yourself).
    pub exclude_namespaces: Vec<String>,
    /// `namespace/name` of workloads rotor does not restart.
    pub exclude_workloads: Vec<String>,
    /// Meshed pods of owners rotor does not restart, and bare pods.
    pub unowned: Unowned,
    /// Confirm identity's reload with its issuer TTL gauge (read through
    /// the pod proxy) on versions that export it; `false`: its events only.
    pub identity_metrics: bool,
    /// How proxies move to the new issuer (`restart` or `leaf-refresh`).
    pub adopt_new_issuer: IssuerAdoption,
    /// With leaf-refresh: end the wait early once every proxy's
    /// `identity_cert_refresh_timestamp_seconds` (read through the pod
    /// proxy, which needs `grants.podMetrics` `*/4191`) shows a leaf taken
    /// after identity's reload. Off by default: it reads every older pod.
    pub proxy_metrics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Full,
            trust_anchor: ObjectName::new("cert-manager", "linkerd-trust-anchor"),
            trust_anchor_secret: None,
            anchor_copy: None,
            next_anchor: None,
            identity_issuer: ObjectName::new("linkerd", "linkerd-identity-issuer"),
            previous_anchor_secret: ObjectName::new("cert-manager", "linkerd-previous-anchor"),
            trust_roots_config_map: ObjectName::new("linkerd", "linkerd-identity-trust-roots"),
            bundle: BundleSettings::default(),
            control_plane_namespace: "linkerd".into(),
            identity_deployment: "linkerd-identity".into(),
            extensions: [
                "linkerd-viz",
                "linkerd-jaeger",
                "linkerd-multicluster",
                "linkerd-smi",
            ]
            .map(String::from)
            .to_vec(),
            parallelism: 100,
            parallelism_per_namespace: 10,
            deadlines: Deadlines::default(),
            renewal_margin_seconds: 7200,
            schedule_interval_seconds: 31 * 86_400,
            exclude_namespaces: vec![],
            exclude_workloads: vec![],
            unowned: Unowned::default(),
            identity_metrics: true,
            adopt_new_issuer: IssuerAdoption::Restart,
            proxy_metrics: false,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Json(String),
    #[error("parallelism must be at least 1")]
    Parallelism,
    #[error("deadlines.{0} must be at least 1 second")]
    Deadline(&'static str),
    #[error("excludeWorkloads entry {0:?} is not namespace/name")]
    ExcludeWorkload(String),
    #[error("unowned.{0}")]
    Unowned(String),
    #[error(
        "mode staged needs nextAnchor: the second anchor Certificate, in trustAnchor's namespace"
    )]
    NextAnchorMissing,
    #[error("nextAnchor must name another Certificate than trustAnchor, in the same namespace")]
    NextAnchorSame,
    #[error(
        "mode staged writes no bundle itself: use bundle.writer trust-manager with both anchors' Secrets as sources"
    )]
    StagedWriter,
    #[error("cluster {0}: {1}")]
    Cluster(String, String),
}

impl Config {
    /// Parse the JSON handed to `run`; an empty string means all defaults.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?
        };
        config.validate()?;
        Ok(config)
    }

    /// One configuration per cluster of a multicluster run, in `names`'
    /// order (home first). `clusters` in the JSON maps a cluster's name to
    /// the keys that differ there, each replacing the top-level key of the
    /// same name. Every cluster rotates the same way (one `mode`), with
    /// trust-manager writing its bundle and proxies restarted onto the new
    /// issuer: the steps wait for one another across clusters, which the
    /// staged anchors and the leaf-lifetime pause do not do yet.
    pub fn for_clusters(text: &str, names: &[String]) -> Result<Vec<Config>, ConfigError> {
        let mut top = if text.trim().is_empty() {
            serde_json::Map::new()
        } else {
            match serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))? {
                serde_json::Value::Object(map) => map,
                other => {
                    return Err(ConfigError::Json(format!(
                        "expected an object, got {other}"
                    )));
                }
            }
        };
        let own = match top.remove("clusters") {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) => map,
            Some(other) => {
                return Err(ConfigError::Json(format!(
                    "clusters: expected an object of cluster names, got {other}"
                )));
            }
        };
        if let Some(unknown) = own.keys().find(|k| !names.contains(k)) {
            return Err(ConfigError::Cluster(
                unknown.clone(),
                format!("not one of this run's clusters ({})", names.join(", ")),
            ));
        }
        let mut configs = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let mut merged = top.clone();
            match own.get(name) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Object(keys)) => merged.extend(keys.clone()),
                Some(other) => {
                    let why = format!("expected an object of policy keys, got {other}");
                    return Err(ConfigError::Cluster(name.clone(), why));
                }
            }
            let text = serde_json::Value::Object(merged).to_string();
            let mut cfg = Config::parse(&text)
                .map_err(|e| ConfigError::Cluster(name.clone(), e.to_string()))?;
            let refuse = |why: &str| Err(ConfigError::Cluster(name.clone(), why.to_string()));
            if i == 0 {
                if cfg.trust_anchor_secret.is_some() {
                    return refuse(
                        "trustAnchorSecret names a member's copy of the anchor; the home cluster's anchor is its Certificate (trustAnchor)",
                    );
                }
            } else {
                cfg.anchor_copy = Some(
                    cfg.trust_anchor_secret
                        .clone()
                        .unwrap_or_else(|| cfg.trust_anchor.clone()),
                );
            }
            if let Some(first) = configs.first().map(|c: &Config| c.mode)
                && cfg.mode != first
            {
                return refuse("every cluster rotates in the mode of the home cluster");
            }
            if cfg.mode == Mode::Staged {
                return refuse("mode staged is not available across clusters: use full");
            }
            if cfg.bundle.writer == BundleWriter::Rotor {
                return refuse(
                    "bundle.writer rotor is not available across clusters: each cluster's trust-manager writes its bundle",
                );
            }
            if cfg.adopt_new_issuer == IssuerAdoption::LeafRefresh {
                return refuse(
                    "adoptNewIssuer leaf-refresh is not available across clusters: use restart",
                );
            }
            configs.push(cfg);
        }
        Ok(configs)
    }

    /// The checks `parse` makes beyond the JSON's shape.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.parallelism == 0 {
            return Err(ConfigError::Parallelism);
        }
        let d = &self.deadlines;
        for (name, v) in [
            ("renewalSeconds", d.renewal_seconds),
            ("bundleSeconds", d.bundle_seconds),
            ("rolloutSeconds", d.rollout_seconds),
            ("podSeconds", d.pod_seconds),
            ("podsSeconds", d.pods_seconds),
            ("issuerReloadSeconds", d.issuer_reload_seconds),
        ] {
            if v == 0 {
                return Err(ConfigError::Deadline(name));
            }
        }
        for w in &self.exclude_workloads {
            match w.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {}
                _ => return Err(ConfigError::ExcludeWorkload(w.clone())),
            }
        }
        if self.mode == Mode::Staged {
            let next = self
                .next_anchor
                .as_ref()
                .ok_or(ConfigError::NextAnchorMissing)?;
            if next.namespace != self.trust_anchor.namespace || next.name == self.trust_anchor.name
            {
                return Err(ConfigError::NextAnchorSame);
            }
            if self.bundle.writer == BundleWriter::Rotor {
                return Err(ConfigError::StagedWriter);
            }
        }
        self.unowned.validate().map_err(ConfigError::Unowned)
    }

    /// Whether rotor may restart this workload.
    pub fn restarts(&self, namespace: &str, name: &str) -> bool {
        !self.exclude_namespaces.iter().any(|n| n == namespace)
            && !self
                .exclude_workloads
                .iter()
                .any(|w| w.split_once('/') == Some((namespace, name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_empty_object_mean_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
        assert_eq!(Config::parse("{}").unwrap(), Config::default());
        let c = Config::default();
        assert_eq!(c.parallelism, 100);
        assert_eq!(
            c.trust_anchor.named().to_string(),
            "cert-manager/linkerd-trust-anchor"
        );
        assert_eq!(c.extensions[0], "linkerd-viz");
        assert_eq!(
            i64::from(c.schedule_interval_seconds),
            rotor_trust_lint::DEFAULT_NEXT_RUN_SECONDS
        );
        assert_eq!(
            i64::from(c.renewal_margin_seconds),
            rotor_trust_lint::DEFAULT_RUN_SECONDS
        );
    }

    #[test]
    fn camel_case_keys_and_partial_nesting() {
        let c = Config::parse(
            r#"{"mode":"issuer-only","parallelism":5,"deadlines":{"rolloutSeconds":60},
                "excludeNamespaces":["legacy"],"excludeWorkloads":["shop/batch"],
                "trustRootsConfigMap":{"namespace":"mesh","name":"roots"}}"#,
        )
        .unwrap();
        assert_eq!(c.mode, Mode::IssuerOnly);
        assert_eq!(c.parallelism, 5);
        assert_eq!(c.deadlines.rollout_seconds, 60);
        assert_eq!(
            c.deadlines.bundle_seconds, 300,
            "unset deadline keeps its default"
        );
        assert_eq!(c.trust_roots_config_map.named().to_string(), "mesh/roots");
        assert_eq!(c.bundle.writer, BundleWriter::TrustManager);
        let rotor = Config::parse(r#"{"bundle":{"writer":"rotor"}}"#).unwrap();
        assert_eq!(rotor.bundle.writer, BundleWriter::Rotor);
        let err = Config::parse(r#"{"bundle":{"writer":"helm"}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `helm`"), "{err}");
        assert!(!c.restarts("legacy", "anything"));
        assert!(!c.restarts("shop", "batch"));
        assert!(c.restarts("shop", "web"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse(r#"{"paralelism": 5}"#).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown field `paralelism`"), "{msg}");
        assert!(
            msg.contains("parallelism"),
            "the message lists the valid keys: {msg}"
        );
        let err = Config::parse(r#"{"deadlines": {"rollout": 5}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `rollout`"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            Config::parse(r#"{"parallelism":0}"#).unwrap_err(),
            ConfigError::Parallelism
        );
        assert_eq!(
            Config::parse(r#"{"deadlines":{"bundleSeconds":0}}"#).unwrap_err(),
            ConfigError::Deadline("bundleSeconds")
        );
        assert_eq!(
            Config::parse(r#"{"excludeWorkloads":["web"]}"#).unwrap_err(),
            ConfigError::ExcludeWorkload("web".into())
        );
        assert!(matches!(
            Config::parse(r#"{"mode":"partial"}"#),
            Err(ConfigError::Json(_))
        ));
        assert!(matches!(
            Config::parse("not json"),
            Err(ConfigError::Json(_))
        ));
    }

    #[test]
    fn staged_needs_a_second_anchor_and_trust_manager() {
        assert_eq!(
            Config::parse(r#"{"mode":"staged"}"#).unwrap_err(),
            ConfigError::NextAnchorMissing
        );
        let same = r#"{"mode":"staged","nextAnchor":{"namespace":"cert-manager","name":"linkerd-trust-anchor"}}"#;
        assert_eq!(
            Config::parse(same).unwrap_err(),
            ConfigError::NextAnchorSame
        );
        let ok = r#"{"mode":"staged","nextAnchor":{"namespace":"cert-manager","name":"linkerd-trust-anchor-next"}}"#;
        let c = Config::parse(ok).unwrap();
        assert_eq!(c.mode, Mode::Staged);
        assert!(c.mode.rotates_anchor() && !Mode::IssuerOnly.rotates_anchor());
        let writer = r#"{"mode":"staged","bundle":{"writer":"rotor"},
            "nextAnchor":{"namespace":"cert-manager","name":"linkerd-trust-anchor-next"}}"#;
        assert_eq!(
            Config::parse(writer).unwrap_err(),
            ConfigError::StagedWriter
        );
    }

    fn names() -> Vec<String> {
        vec!["east".into(), "west".into()]
    }

    #[test]
    fn each_cluster_lays_its_own_keys_over_the_top_level_ones() {
        let text = r#"{"parallelism":5,"excludeNamespaces":["legacy"],
            "clusters":{"west":{"parallelism":2,
                "trustAnchorSecret":{"namespace":"certs","name":"shared-anchor"}}}}"#;
        let [east, west] =
            <[Config; 2]>::try_from(Config::for_clusters(text, &names()).unwrap()).unwrap();
        assert_eq!((east.parallelism, west.parallelism), (5, 2));
        assert_eq!(west.exclude_namespaces, ["legacy"], "top-level keys stay");
        assert_eq!(
            east.anchor_copy, None,
            "the home's anchor is its Certificate"
        );
        assert_eq!(
            west.anchor_copy.as_ref().map(|o| o.named().to_string()),
            Some("certs/shared-anchor".into())
        );
        let plain = Config::for_clusters("", &names()).unwrap();
        assert_eq!(
            plain[1].anchor_copy.as_ref().map(|o| o.named().to_string()),
            Some("cert-manager/linkerd-trust-anchor".into()),
            "a member's copy is named as the home's anchor by default"
        );
    }

    #[test]
    fn settings_the_clusters_cannot_share_are_refused_naming_the_cluster() {
        let refused = |text: &str| {
            Config::for_clusters(text, &names())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(r#"{"clusters":{"north":{}}}"#),
            "cluster north: not one of this run's clusters (east, west)"
        );
        assert_eq!(
            refused(r#"{"clusters":{"west":{"mode":"issuer-only"}}}"#),
            "cluster west: every cluster rotates in the mode of the home cluster"
        );
        assert_eq!(
            refused(r#"{"clusters":{"west":{"paralelism":2}}}"#)
                .split(',')
                .next()
                .unwrap(),
            "cluster west: unknown field `paralelism`"
        );
        assert!(
            refused(r#"{"trustAnchorSecret":{"namespace":"a","name":"b"}}"#)
                .starts_with("cluster east: trustAnchorSecret names a member's copy")
        );
        assert!(
            refused(r#"{"adoptNewIssuer":"leaf-refresh"}"#)
                .starts_with("cluster east: adoptNewIssuer leaf-refresh")
        );
        let staged = r#"{"mode":"staged","nextAnchor":{"namespace":"cert-manager","name":"next"}}"#;
        assert!(refused(staged).starts_with("cluster east: mode staged"));
    }
}
