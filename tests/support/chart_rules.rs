//! The chart's rules the default rotation does not use, each with the
//! reason it is still granted. Shared by the RBAC proof against the test
//! API server (`tests/kube/rbac_proof.rs`) and the end-to-end run against the
//! real one (`tests/e2e`), so both hold the chart to one list.

use std::collections::BTreeSet;

use rotor::testing::rbac::RuleUnit;

/// Rules of the chart the default rotation does not use: (verb, group,
/// resource, why). Each one must still be in the chart and still unused.
pub const UNUSED_BY_THE_DEFAULT_RUN: &[Unused] = &[
    (
        "create",
        "",
        "pods/eviction",
        "the evict-pod grant: site policies may evict through PodDisruptionBudgets; the default policy deletes OnDelete pods",
    ),
    (
        "get",
        "apps",
        "deployments",
        "get-rollout-status and get-workload: the default policy reads a Deployment's status only when its counts show an unfinished rollout, and restarts identity by name when it misses the issuer reload; the proof's mesh is settled and its identity reloads",
    ),
    (
        "get",
        "apps",
        "statefulsets",
        "get-workload / get-rollout-status for site policies; the default policy lists StatefulSets",
    ),
    (
        "get",
        "apps",
        "daemonsets",
        "get-workload / get-rollout-status for site policies; the default policy lists DaemonSets",
    ),
];

/// Rules the end-to-end run (`tests/e2e`) does not use, though the proof
/// over the test API server does.
pub const UNUSED_IN_THE_END_TO_END_RUN: &[Unused] = &[(
    "get",
    "",
    "pods/proxy",
    "get-pod-metrics: the issuer-reloaded gate reads identity's issuer TTL gauge only when the old and new issuers' ends lie more than two minutes apart; the end-to-end run renews an issuer minutes old and waits on the events (the test API server's proof reads the gauge)",
)];

/// A rule the default run does not use: (verb, group, resource, why).
pub type Unused = (&'static str, &'static str, &'static str, &'static str);

/// `list namespaces` in ClusterRole mode: the default policy lists workloads
/// and pods cluster-wide there, so only `status`, `plan` and policies that
/// call `list-namespaces` use it (namespace-scoped mode: the run lists the
/// namespaces to list in each).
pub const UNUSED_IN_CLUSTER_MODE: &[Unused] = &[(
    "list",
    "",
    "namespaces",
    "the list-namespaces primitive (and status, plan); the default run lists cluster-wide in this mode",
)];

/// Whether a documented entry names the rule unit.
pub fn documents(entry: &Unused, u: &RuleUnit) -> bool {
    let (verb, group, resource, _) = entry;
    *verb == u.verb && *group == u.api_group && *resource == u.resource
}

/// The rule units of `all` that no request used and no entry of
/// `documented` explains, as text.
pub fn unexplained(
    all: &BTreeSet<RuleUnit>,
    used: &BTreeSet<RuleUnit>,
    documented: &[&Unused],
) -> Vec<String> {
    all.difference(used)
        .filter(|u| !documented.iter().any(|e| documents(e, u)))
        .map(ToString::to_string)
        .collect()
}
