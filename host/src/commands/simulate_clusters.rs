//! `rotor simulate` over a scenario of several clusters: the policy runs
//! against every cluster of the scenario at once, the home first, and the
//! report gives each cluster's outage and the pairs across clusters.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cluster::Cluster;
use crate::cluster::faults::simulated_backend;
use crate::cluster::sim::multicluster::MultiSim;
use crate::guard::Grants;
use crate::linkerd::{CERT_MANAGER_NS, TRUST_ANCHOR};
use crate::report::RunReport;
use crate::runtime::{RunCluster, RunControls, RuntimeOptions};

use super::simulate::SimulateArgs;
use super::{CommandError, one_line, print_report, read_config};

/// Whether the scenario file describes several clusters.
pub fn names_clusters(text: &str) -> bool {
    crate::cluster::sim::multicluster::is_multicluster(text)
}

pub async fn run(
    args: SimulateArgs,
    text: &str,
    options: RuntimeOptions,
) -> Result<ExitCode, CommandError> {
    let path = args.scenario.clone().unwrap_or_default();
    let scenario_error = |message: String| CommandError::Scenario {
        path: path.clone(),
        message,
    };
    let config = read_config(args.policy.config.as_deref())?;
    super::multicluster::one_cluster_only(&config, "simulate")?;
    if args.save_state.is_some() {
        return Err(scenario_error(
            "--save-state writes one cluster's state; it is not available for a scenario of several clusters".into(),
        ));
    }
    let sim = MultiSim::from_yaml(text).map_err(|e| scenario_error(one_line(&e.to_string())))?;
    let (runtime, policy) = super::simulate::load_policy(&args, options).await?;

    let mut clusters = Vec::new();
    for member in sim.clusters() {
        let backend = simulated_backend(member.cluster.clone())
            .map_err(|e| scenario_error(format!("cluster {}: {e}", member.name)))?
            .backend;
        clusters.push(RunCluster {
            name: member.name.clone(),
            home: member.home,
            cluster: backend,
            grants: member_grants(&config.grants, member.home),
        });
    }
    let controls = RunControls {
        dry_run: args.dry_run,
        kill_after_mutations: args.kill_after_mutations,
        progress: true,
        ..RunControls::default()
    };
    let outcome = runtime
        .run_clusters(&policy, clusters, &config, controls)
        .await;
    sim.watch_after_run();
    let home: Arc<dyn Cluster> = sim.clusters()[0].cluster.clone();
    let report = RunReport::new(outcome, &policy, home.backend(), args.dry_run, None)
        .with_multicluster(sim.report());
    Ok(print_report(&report, args.output))
}

/// A member's anchor is a Secret the rotation copies the home's anchor
/// into, so a member may write it besides what the configuration grants.
fn member_grants(grants: &Grants, home: bool) -> Grants {
    let mut grants = grants.clone();
    let copy = format!("{CERT_MANAGER_NS}/{TRUST_ANCHOR}");
    if !home && !grants.write_secrets.contains(&copy) {
        grants.write_secrets.push(copy);
    }
    grants
}
