//! Grants as data: which namespaces a policy may read and write, which
//! Secrets it may read and write, which ConfigMaps and CA issuers it may
//! change, and which mutating verbs it may use.

use serde::{Deserialize, Serialize};

use crate::cluster::IssuerRef;

/// A mutating capability a run may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    Restart,
    DeletePod,
    EvictPod,
    Renew,
    WriteSecret,
    WriteConfigMap,
    SetCaIssuer,
    RecordEvent,
    SaveProgress,
}

impl Verb {
    pub const ALL: [Verb; 9] = [
        Verb::Restart,
        Verb::DeletePod,
        Verb::EvictPod,
        Verb::Renew,
        Verb::WriteSecret,
        Verb::WriteConfigMap,
        Verb::SetCaIssuer,
        Verb::RecordEvent,
        Verb::SaveProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Restart => "restart",
            Verb::DeletePod => "delete-pod",
            Verb::EvictPod => "evict-pod",
            Verb::Renew => "renew",
            Verb::WriteSecret => "write-secret",
            Verb::WriteConfigMap => "write-config-map",
            Verb::SetCaIssuer => "set-ca-issuer",
            Verb::RecordEvent => "record-event",
            Verb::SaveProgress => "save-progress",
        }
    }
}

/// The `grants` section of the run configuration. Namespace entries are glob
/// patterns (`*` any run of characters, `?` one); Secret and ConfigMap
/// entries are `namespace/name` globs; issuer entries are
/// `ClusterIssuer/<name>` or `Issuer/<namespace>/<name>`, the parts globs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Grants {
    pub read_namespaces: Vec<String>,
    pub write_namespaces: Vec<String>,
    pub read_secrets: Vec<String>,
    pub write_secrets: Vec<String>,
    /// ConfigMaps a policy may create or replace, by name. None by default:
    /// only a site where rotor writes the trust roots itself grants one.
    pub write_config_maps: Vec<String>,
    /// CA issuers a policy may point at another Secret
    /// (`set-ca-issuer-secret`), by name. None by default: only a site
    /// that runs a staged anchor grants its issuer.
    pub write_issuers: Vec<String>,
    pub verbs: Vec<Verb>,
    /// Pods whose `/metrics` may be read, as `namespace/port` (namespace
    /// a glob, port a number): reading through the pod proxy reaches the
    /// pod's own server, so it is granted per port, not with namespace reads.
    pub pod_metrics: Vec<String>,
}

impl Default for Grants {
    /// What the default Linkerd rotation needs, and nothing more on Secrets.
    fn default() -> Self {
        Grants {
            read_namespaces: vec!["*".into()],
            write_namespaces: vec!["*".into()],
            read_secrets: vec![
                "cert-manager/linkerd-trust-anchor".into(),
                "cert-manager/linkerd-previous-anchor".into(),
                "linkerd/linkerd-identity-issuer".into(),
            ],
            write_secrets: vec!["cert-manager/linkerd-previous-anchor".into()],
            write_config_maps: vec![],
            write_issuers: vec![],
            verbs: Verb::ALL.to_vec(),
            // Linkerd identity's admin port: its issuer TTL gauge.
            pod_metrics: vec!["linkerd/9990".into()],
        }
    }
}

impl Grants {
    /// Grants nothing at all (tests and `--deny-all` style configs).
    pub fn none() -> Self {
        Grants {
            read_namespaces: vec![],
            write_namespaces: vec![],
            read_secrets: vec![],
            write_secrets: vec![],
            write_config_maps: vec![],
            write_issuers: vec![],
            verbs: vec![],
            pod_metrics: vec![],
        }
    }

    /// `Err((field, message))` for an entry that can never match what it means to.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (field, list) in [
            ("grants.readSecrets", &self.read_secrets),
            ("grants.writeSecrets", &self.write_secrets),
            ("grants.writeConfigMaps", &self.write_config_maps),
        ] {
            for entry in list {
                if entry != "*" && entry.split('/').count() != 2 {
                    return Err((
                        field,
                        format!(
                            "{entry:?} is not of the form namespace/name (globs allowed, e.g. \"linkerd/*\")"
                        ),
                    ));
                }
            }
        }
        if let Some(entry) = self.write_issuers.iter().find(|e| !issuer_pattern(e)) {
            return Err((
                "grants.writeIssuers",
                format!(
                    "{entry:?} is not of the form ClusterIssuer/<name> or Issuer/<namespace>/<name> (globs allowed in the name and namespace)"
                ),
            ));
        }
        for (field, list) in [
            ("grants.readNamespaces", &self.read_namespaces),
            ("grants.writeNamespaces", &self.write_namespaces),
        ] {
            if let Some(entry) = list.iter().find(|e| e.is_empty() || e.contains('/')) {
                return Err((field, format!("{entry:?} is not a namespace pattern")));
            }
        }
        for entry in &self.pod_metrics {
            let port = entry.split_once('/').map(|(_, p)| p.parse::<u16>());
            if !matches!(port, Some(Ok(p)) if p > 0) {
                return Err((
                    "grants.podMetrics",
                    format!("{entry:?} is not of the form namespace/port (e.g. \"linkerd/9990\")"),
                ));
            }
        }
        Ok(())
    }

    pub fn can_read_namespace(&self, namespace: &str) -> bool {
        // Cluster-scoped objects (empty namespace) are readable when anything is.
        if namespace.is_empty() {
            return !self.read_namespaces.is_empty();
        }
        any_glob(&self.read_namespaces, namespace)
    }

    /// Whether every namespace is readable (a `*` pattern): only then does
    /// a cluster-wide list fit what the run may read.
    pub fn reads_every_namespace(&self) -> bool {
        self.read_namespaces.iter().any(|p| p == "*")
    }

    pub fn can_write_namespace(&self, namespace: &str) -> bool {
        any_glob(&self.write_namespaces, namespace)
    }

    pub fn can_read_secret(&self, namespace: &str, name: &str) -> bool {
        any_glob(&self.read_secrets, &format!("{namespace}/{name}"))
    }

    pub fn can_read_pod_metrics(&self, namespace: &str, port: u16) -> bool {
        self.pod_metrics.iter().any(|e| {
            e.split_once('/')
                .is_some_and(|(ns, p)| p == port.to_string() && glob_match(ns, namespace))
        })
    }

    pub fn can_write_secret(&self, namespace: &str, name: &str) -> bool {
        any_glob(&self.write_secrets, &format!("{namespace}/{name}"))
    }

    pub fn can_write_config_map(&self, namespace: &str, name: &str) -> bool {
        any_glob(&self.write_config_maps, &format!("{namespace}/{name}"))
    }

    pub fn can_write_issuer(&self, issuer: &IssuerRef) -> bool {
        any_glob(&self.write_issuers, &issuer.to_string())
    }

    pub fn allows_verb(&self, verb: Verb) -> bool {
        self.verbs.contains(&verb)
    }
}

/// `ClusterIssuer/<name>` or `Issuer/<namespace>/<name>`, none of the
/// parts empty.
fn issuer_pattern(entry: &str) -> bool {
    let parts: Vec<&str> = entry.split('/').collect();
    let shape = match parts.first() {
        Some(&"ClusterIssuer") => 2,
        Some(&"Issuer") => 3,
        _ => return false,
    };
    parts.len() == shape && parts.iter().all(|p| !p.is_empty())
}

fn any_glob(patterns: &[String], text: &str) -> bool {
    patterns.iter().any(|p| glob_match(p, text))
}

/// `*` matches any run of characters (also `/`), `?` exactly one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` and the text index it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("*", ""));
        assert!(glob_match("linkerd*", "linkerd-viz"));
        assert!(glob_match("linkerd*", "linkerd"));
        assert!(!glob_match("linkerd*", "cert-manager"));
        assert!(glob_match("*-viz", "linkerd-viz"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match(
            "cert-manager/linkerd-*",
            "cert-manager/linkerd-trust-anchor"
        ));
        assert!(!glob_match(
            "cert-manager/linkerd-*",
            "linkerd/linkerd-identity-issuer"
        ));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(!glob_match("*a*b*", "xxbxxaxx"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn default_grants_allow_the_rotation_and_no_other_secrets() {
        let g = Grants::default();
        assert!(g.can_read_namespace("emojivoto"));
        assert!(g.can_write_namespace("linkerd"));
        assert!(g.can_read_secret("linkerd", "linkerd-identity-issuer"));
        assert!(!g.can_read_secret("default", "db-password"));
        assert!(g.can_write_secret("cert-manager", "linkerd-previous-anchor"));
        assert!(!g.can_write_secret("cert-manager", "linkerd-trust-anchor"));
        // The trust roots are trust-manager's unless a site grants them.
        assert!(!g.can_write_config_map("linkerd", "linkerd-identity-trust-roots"));
        // No issuer is granted: only a staged anchor points one elsewhere.
        assert!(!g.can_write_issuer(&IssuerRef::cluster("linkerd-identity-issuer")));
        assert!(Verb::ALL.iter().all(|v| g.allows_verb(*v)));
    }

    #[test]
    fn empty_grants_allow_nothing() {
        let g = Grants::none();
        assert!(!g.can_read_namespace("default"));
        assert!(!g.can_read_namespace(""));
        assert!(!g.allows_verb(Verb::Restart));
    }

    #[test]
    fn issuer_grants_match_kind_namespace_and_name() {
        let g = Grants {
            write_issuers: vec![
                "ClusterIssuer/linkerd-*".into(),
                "Issuer/linkerd/identity-ca".into(),
            ],
            ..Grants::default()
        };
        assert!(g.validate().is_ok());
        assert!(g.can_write_issuer(&IssuerRef::cluster("linkerd-identity-issuer")));
        assert!(!g.can_write_issuer(&IssuerRef::cluster("other")));
        assert!(g.can_write_issuer(&IssuerRef::namespaced("linkerd", "identity-ca")));
        assert!(!g.can_write_issuer(&IssuerRef::namespaced("linkerd-viz", "identity-ca")));
        // A ClusterIssuer grant does not reach an Issuer of the same name.
        assert!(!g.can_write_issuer(&IssuerRef::namespaced("x", "linkerd-identity-issuer")));
    }

    #[test]
    fn validate_rejects_malformed_entries() {
        let g = Grants {
            write_secrets: vec!["just-a-name".into()],
            ..Grants::default()
        };
        let (field, _) = g.validate().expect_err("needs namespace/name");
        assert_eq!(field, "grants.writeSecrets");
        let g = Grants {
            write_config_maps: vec!["linkerd-identity-trust-roots".into()],
            ..Grants::default()
        };
        let (field, _) = g.validate().expect_err("needs namespace/name");
        assert_eq!(field, "grants.writeConfigMaps");
        for entry in [
            "linkerd-identity-issuer",
            "ClusterIssuer/cert-manager/linkerd-identity-issuer",
            "Issuer/linkerd-identity-issuer",
            "clusterissuer/linkerd-identity-issuer",
            "ClusterIssuer/",
        ] {
            let g = Grants {
                write_issuers: vec![entry.into()],
                ..Grants::default()
            };
            let (field, _) = g.validate().expect_err(entry);
            assert_eq!(field, "grants.writeIssuers");
        }
        let g = Grants {
            read_namespaces: vec!["a/b".into()],
            ..Grants::default()
        };
        assert_eq!(
            g.validate().expect_err("no slash").0,
            "grants.readNamespaces"
        );
    }
}
