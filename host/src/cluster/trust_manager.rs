//! trust-manager as it is set up to write Linkerd's trust roots: the
//! `Bundle` (`trust.cert-manager.io/v1alpha1`) or `ClusterBundle`
//! (`trust-manager.io/v1alpha2`) named like the trust-roots ConfigMap (both
//! name their target after themselves), and the namespaces trust-manager
//! may write in (`--target-namespaces`). `rotor status` reads it to warn
//! about a set-up under which the rotation would wait for a bundle that
//! never changes.

use serde::Serialize;

use super::selector::Selector;

/// The label trust-manager's chart puts on its Deployment.
pub const TRUST_MANAGER_LABEL: &str = "app.kubernetes.io/name=trust-manager";
/// trust-manager's flag limiting the namespaces it writes targets in
/// (`cmd/trust-manager/app/options/options.go`).
pub const TARGET_NAMESPACES_FLAG: &str = "--target-namespaces";

/// What the cluster shows of trust-manager's set-up.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TrustManagerSetup {
    /// Bundles and ClusterBundles named like the trust-roots ConfigMap.
    pub bundles: Vec<BundleWriter>,
    /// `--target-namespaces` of the trust-manager Deployment, when it has it.
    pub target_namespaces: Option<Vec<String>>,
}

/// One Bundle or ClusterBundle, reduced to what decides where it writes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BundleWriter {
    /// `Bundle` or `ClusterBundle`.
    pub kind: String,
    pub name: String,
    /// The Secrets it reads, by name, with the key.
    pub secret_sources: Vec<(String, String)>,
    /// The ConfigMap key it writes PEM to; `None`: it writes no ConfigMap.
    pub target_key: Option<String>,
    /// Its namespace selector in string form (`""`: every namespace);
    /// `Err` with the reason when the selector does not parse.
    pub namespace_selector: Result<String, String>,
    /// The status of its `Synced` condition, once trust-manager set one.
    pub synced: Option<String>,
}

impl BundleWriter {
    /// Whether it writes into a namespace with these labels.
    pub fn selects(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.namespace_selector
            .as_ref()
            .ok()
            .and_then(|s| Selector::parse(s).ok())
            .is_some_and(|s| s.matches(labels))
    }
}

/// The values of `--target-namespaces` in a container's arguments, in
/// either spelling (`--flag=a,b` or `--flag a,b`).
pub fn target_namespaces(args: &[String]) -> Option<Vec<String>> {
    let mut found = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if let Some(v) = a.strip_prefix(&format!("{TARGET_NAMESPACES_FLAG}=")) {
            Some(v.to_string())
        } else if a == TARGET_NAMESPACES_FLAG {
            it.next().cloned()
        } else {
            None
        };
        if let Some(v) = value {
            let list: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            found.get_or_insert_with(Vec::new).extend(list);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn target_namespaces_reads_both_spellings() {
        assert_eq!(
            target_namespaces(&args(&["--log-level=1", "--target-namespaces=a, b"])),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            target_namespaces(&args(&["--target-namespaces", "linkerd"])),
            Some(vec!["linkerd".into()])
        );
        assert_eq!(
            target_namespaces(&args(&["--trust-namespace=cert-manager"])),
            None
        );
    }

    #[test]
    fn a_writer_selects_by_its_selector() {
        let w = BundleWriter {
            kind: "Bundle".into(),
            name: "roots".into(),
            secret_sources: Vec::new(),
            target_key: None,
            namespace_selector: Ok("kubernetes.io/metadata.name in (linkerd,web)".into()),
            synced: None,
        };
        let ns = |n: &str| {
            std::collections::BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                n.to_string(),
            )])
        };
        assert!(w.selects(&ns("linkerd")));
        assert!(!w.selects(&ns("other")));
        let broken = BundleWriter {
            namespace_selector: Err("bad".into()),
            ..w.clone()
        };
        assert!(!broken.selects(&ns("linkerd")));
    }
}
