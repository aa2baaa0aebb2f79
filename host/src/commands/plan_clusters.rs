//! `rotor plan` over the clusters a run configuration lists: each cluster
//! is read (read-only) as `plan` reads one, the readings become one
//! scenario of several clusters sharing one clock (`MultiSim`), and the
//! policy runs there under each cluster's grants. A member's own anchor
//! Secrets are left out of its reading: the simulator gives every member
//! the home's, as the rotation keeps them (the shared-anchor check before
//! has shown they trust the same anchor).

use serde_norway::Value;

use crate::cluster::Backend;
use crate::cluster::sim::multicluster::MultiSim;
use crate::config::RunConfig;
use crate::report::RunReport;
use crate::runtime::{RunCluster, RunControls, RuntimeOptions};

use super::connect::Member;
use super::plan::Plan;
use super::{CommandError, Guest, KubeCommandError, new_runtime};

/// The Secrets a member's reading leaves to the home's.
const SHARED_SECRETS: [&str; 2] = ["linkerd-trust-anchor", "linkerd-previous-anchor"];

/// Read every cluster into one simulation and run the policy across them.
/// Nothing in any cluster is written.
pub async fn plan_across(
    members: &[Member],
    guest: &Guest,
    guest_sha256: Option<&str>,
    config: &RunConfig,
    options: RuntimeOptions,
) -> Result<Plan, CommandError> {
    let runtime = new_runtime(options)?;
    let policy = runtime.load_pinned(&guest.label, &guest.wasm, guest_sha256)?;
    super::multicluster::selects_clusters(&policy, config)?;
    let mut members: Vec<&Member> = members.iter().collect();
    members.sort_by_key(|m| !m.home);
    let mut sections = Vec::with_capacity(members.len());
    let mut start_time: Option<Value> = None;
    for m in &members {
        let reading = m.kube.dump_scenario().await.map_err(|source| {
            KubeCommandError::in_member(&m.name, "reading the cluster", source)
        })?;
        let section = section(&reading, &m.name, m.home, &mut start_time)
            .map_err(|e| KubeCommandError::Scenario(format!("cluster {}: {e}", m.name)))?;
        sections.push(section);
    }
    let scenario = sections.join("---\n");
    let sim =
        MultiSim::from_yaml(&scenario).map_err(|e| KubeCommandError::Scenario(e.to_string()))?;
    let clusters = sim
        .clusters()
        .iter()
        .map(|s| RunCluster {
            name: s.name.clone(),
            home: s.home,
            cluster: s.cluster.clone(),
            grants: config
                .clusters
                .iter()
                .find(|e| e.name == s.name)
                .map_or(&config.grants, |e| e.grants_or(&config.grants))
                .clone(),
        })
        .collect();
    let controls = RunControls {
        progress: true,
        ..RunControls::default()
    };
    let outcome = runtime
        .run_clusters(&policy, clusters, config, controls)
        .await;
    sim.watch_after_run();
    let report = RunReport::new(outcome, &policy, Backend::Simulated, false, None)
        .with_multicluster(sim.report());
    Ok(Plan { report, scenario })
}

/// Whether `value` is one of the anchor Secrets a member takes from the home.
fn is_shared_secret(value: &Value) -> bool {
    let field = |path: &[&str]| {
        let mut v = value;
        for key in path {
            v = v.get(*key)?;
        }
        v.as_str()
    };
    field(&["kind"]) == Some("Secret")
        && field(&["metadata", "namespace"]) == Some("cert-manager")
        && field(&["metadata", "name"]).is_some_and(|n| SHARED_SECRETS.contains(&n))
}

/// One cluster's reading as a section of the scenario: its `Simulation`
/// document names the cluster and takes the home's start time (the
/// clusters share one clock), and a member's anchor Secrets are dropped.
fn section(
    reading: &str,
    name: &str,
    home: bool,
    start_time: &mut Option<Value>,
) -> Result<String, String> {
    let mut out = String::new();
    for doc in serde_norway::Deserializer::from_str(reading) {
        let mut value: Value = serde::Deserialize::deserialize(doc).map_err(|e| e.to_string())?;
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind == "Simulation" {
            let spec = value
                .get_mut("spec")
                .and_then(Value::as_mapping_mut)
                .ok_or("its Simulation document has no spec")?;
            match start_time {
                Some(t) => {
                    spec.insert("startTime".into(), t.clone());
                }
                None => *start_time = spec.get("startTime").cloned(),
            }
            let mut cluster = serde_norway::Mapping::new();
            cluster.insert("name".into(), name.into());
            cluster.insert("home".into(), home.into());
            spec.insert("cluster".into(), Value::Mapping(cluster));
        } else if !home && is_shared_secret(&value) {
            continue;
        } else if !home
            && kind == "List"
            && let Some(items) = value.get_mut("items").and_then(Value::as_sequence_mut)
        {
            items.retain(|item| !is_shared_secret(item));
        }
        out.push_str(&serde_norway::to_string(&value).map_err(|e| e.to_string())?);
        out.push_str("---\n");
    }
    Ok(out.trim_end_matches("---\n").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const READING: &str = "apiVersion: rotor.dev/v1alpha1\nkind: Simulation\nspec:\n  startTime: \"2026-03-02T09:00:05Z\"\n---\n\
        apiVersion: v1\nkind: Secret\nmetadata:\n  name: linkerd-trust-anchor\n  namespace: cert-manager\ndata: {}\n---\n\
        apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: linkerd-previous-anchor\n    namespace: cert-manager\n\
        - apiVersion: v1\n  kind: Secret\n  metadata:\n    name: linkerd-identity-issuer\n    namespace: linkerd\n";

    #[test]
    fn a_members_section_names_it_takes_the_homes_clock_and_leaves_the_anchor_to_the_home() {
        let mut start = None;
        let home = section(READING, "east", true, &mut start).unwrap();
        assert!(home.contains("linkerd-trust-anchor"), "{home}");
        assert!(home.contains("linkerd-previous-anchor"), "{home}");
        assert!(home.contains("name: east\n    home: true"), "{home}");
        let member_reading = READING.replace("09:00:05Z", "09:00:09Z");
        let member = section(&member_reading, "west", false, &mut start).unwrap();
        assert!(!member.contains("linkerd-trust-anchor"), "{member}");
        assert!(!member.contains("linkerd-previous-anchor"), "{member}");
        assert!(member.contains("linkerd-identity-issuer"), "{member}");
        assert!(member.contains("2026-03-02T09:00:05Z"), "{member}");
        assert!(member.contains("name: west\n    home: false"), "{member}");
    }
}
