//! `/version`, `/api`, `/apis` and the per-group resource lists clients use
//! to find out what the server serves (legacy discovery, which kubectl falls
//! back to when aggregated discovery is not offered).

use serde_json::{Value, json};

use super::ServerOptions;
use crate::cluster::{ROLLOUT, STRIMZI_POD_SET};

/// (group, version, resources as (plural, kind, namespaced, verbs)).
type Group = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str, bool, &'static [&'static str])>,
);

const RW: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const RO: &[&str] = &["get", "list", "watch"];
const STATUS: &[&str] = &["get", "patch", "update"];
/// Issuers: read, and a merge patch of a CA issuer's Secret.
const ISSUERS: &[&str] = &["get", "list", "patch", "watch"];

pub fn groups(opts: &ServerOptions) -> Vec<Group> {
    let mut g: Vec<Group> = vec![
        (
            "",
            "v1",
            vec![
                ("namespaces", "Namespace", false, RO),
                ("pods", "Pod", true, &["delete", "get", "list", "watch"]),
                ("pods/eviction", "Eviction", true, &["create"]),
                ("pods/proxy", "PodProxyOptions", true, &["get"]),
                ("secrets", "Secret", true, RW),
                ("configmaps", "ConfigMap", true, RW),
                ("events", "Event", true, RO),
            ],
        ),
        (
            "apps",
            "v1",
            vec![
                (
                    "deployments",
                    "Deployment",
                    true,
                    &["get", "list", "patch", "watch"],
                ),
                ("deployments/status", "Deployment", true, &["get"]),
                (
                    "statefulsets",
                    "StatefulSet",
                    true,
                    &["get", "list", "patch", "watch"],
                ),
                ("statefulsets/status", "StatefulSet", true, &["get"]),
                (
                    "daemonsets",
                    "DaemonSet",
                    true,
                    &["get", "list", "patch", "watch"],
                ),
                ("daemonsets/status", "DaemonSet", true, &["get"]),
                ("replicasets", "ReplicaSet", true, RO),
            ],
        ),
        (
            "events.k8s.io",
            "v1",
            vec![("events", "Event", true, &["create", "patch", "get", "list"])],
        ),
        (
            "coordination.k8s.io",
            "v1",
            vec![("leases", "Lease", true, RW)],
        ),
        ("policy", "v1", vec![]),
        (
            "trust.cert-manager.io",
            "v1alpha1",
            vec![("bundles", "Bundle", false, RO)],
        ),
        (
            "trust-manager.io",
            "v1alpha2",
            vec![("clusterbundles", "ClusterBundle", false, RO)],
        ),
    ];
    if opts.cert_manager {
        g.push((
            "cert-manager.io",
            "v1",
            vec![
                ("certificates", "Certificate", true, RW),
                ("certificates/status", "Certificate", true, STATUS),
                ("issuers", "Issuer", true, ISSUERS),
                ("clusterissuers", "ClusterIssuer", false, ISSUERS),
            ],
        ));
    }
    if opts.custom_owners {
        // Only what restart-owner sends: a merge patch of one object.
        for (kind, group, version, plural) in [ROLLOUT, STRIMZI_POD_SET] {
            g.push((
                group,
                version,
                vec![(plural, kind, true, &["get", "list", "patch"])],
            ));
        }
    }
    g
}

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-rotor-test",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

pub fn group_list(opts: &ServerOptions) -> Value {
    let groups: Vec<Value> = groups(opts)
        .into_iter()
        .filter(|(g, _, _)| !g.is_empty())
        .map(|(g, v, _)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(opts: &ServerOptions, name: &str) -> Option<Value> {
    groups(opts)
        .into_iter()
        .find(|(g, _, _)| *g == name && !g.is_empty())
        .map(|(g, v, _)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
}

pub fn resource_list(opts: &ServerOptions, group: &str, version: &str) -> Option<Value> {
    let (g, v, resources) = groups(opts)
        .into_iter()
        .find(|(g, v, _)| *g == group && *v == version)?;
    let gv = if g.is_empty() {
        v.to_string()
    } else {
        format!("{g}/{v}")
    };
    let resources: Vec<Value> = resources
        .into_iter()
        .map(|(plural, kind, namespaced, verbs)| {
            json!({"name": plural, "singularName": if plural.contains('/') { String::new() } else { kind.to_lowercase() },
                   "namespaced": namespaced, "kind": kind, "verbs": verbs})
        })
        .collect();
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// Whether `group/version/resource` is served at all (a path outside this is
/// answered like a missing CRD: a plain-text 404).
pub fn serves(opts: &ServerOptions, group: &str, version: &str, resource: &str) -> bool {
    groups(opts)
        .iter()
        .any(|(g, v, rs)| *g == group && *v == version && rs.iter().any(|(r, ..)| *r == resource))
}
