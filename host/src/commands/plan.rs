//! `rotor plan`: read the live cluster (read-only) into the simulator and
//! run the policy there. The report predicts the steps, how long they take,
//! how many workloads restart and whether meshed traffic would break, before
//! anything is changed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cluster::Backend;
use crate::cluster::kube::KubeCluster;
use crate::cluster::sim::SimCluster;
use crate::config::RunConfig;
use crate::primitive::Primitive;
use crate::report::RunReport;
use crate::runtime::{RunControls, RuntimeOptions};

use super::{
    ClusterArgs, CommandError, Guest, KubeCommandError, OutputFormat, Pinning, PolicyArgs,
    load_guest, new_runtime, read_config, write_file,
};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Also write the cluster as read, a scenario `rotor simulate --scenario` loads.
    #[arg(long, value_name = "FILE")]
    pub save_scenario: Option<PathBuf>,
}

/// What a plan found: the simulated run's report and the scenario it ran on.
pub struct Plan {
    pub report: RunReport,
    pub scenario: String,
}

/// Read `kube` into a simulator and run the policy against it. Nothing in
/// the cluster is written.
pub async fn plan_against(
    kube: &KubeCluster,
    guest: &Guest,
    guest_sha256: Option<&str>,
    config: &RunConfig,
    options: RuntimeOptions,
) -> Result<Plan, CommandError> {
    // A policy other than the pinned one is refused before the cluster is read.
    let runtime = new_runtime(options)?;
    let policy = runtime.load_pinned(&guest.label, &guest.wasm, guest_sha256)?;
    let scenario = kube
        .dump_scenario()
        .await
        .map_err(|source| KubeCommandError::Cluster {
            what: "reading the cluster",
            source,
        })?;
    let sim = Arc::new(
        SimCluster::from_yaml(&scenario).map_err(|e| KubeCommandError::Scenario(e.to_string()))?,
    );
    let controls = RunControls {
        progress: true,
        ..RunControls::default()
    };
    let outcome = runtime.run(&policy, sim.clone(), config, controls).await;
    sim.watch_after_run();
    let report = RunReport::new(
        outcome,
        &policy,
        Backend::Simulated,
        false,
        Some(sim.simulation_report()),
    );
    Ok(Plan { report, scenario })
}

/// The simulated run's virtual seconds and broken pair-seconds (over
/// several clusters: within each and across them).
fn broken_pair_seconds(report: &RunReport) -> Option<(i64, f64)> {
    if let Some(mc) = &report.multicluster {
        let seconds = mc
            .clusters
            .first()
            .map_or(0, |c| c.simulation.virtual_seconds);
        return Some((seconds, mc.broken_pair_seconds));
    }
    let s = report.simulation.as_ref()?;
    Some((s.virtual_seconds, s.outage.broken_pair_seconds))
}

/// One line a person reads first: steps, duration, restarts, verdict.
pub fn verdict(report: &RunReport) -> String {
    let restarts = report
        .calls
        .by_primitive
        .get(&Primitive::RestartWorkload)
        .copied()
        .unwrap_or(0);
    let (seconds, outage) = match broken_pair_seconds(report) {
        Some((seconds, 0.0)) => (seconds, "no meshed traffic would break".to_string()),
        Some((seconds, broken)) => (
            seconds,
            format!("MESHED TRAFFIC WOULD BREAK ({broken} broken pair-seconds)"),
        ),
        None => (0, "no simulation".into()),
    };
    format!(
        "plan: {} step(s), about {seconds} s, {restarts} workload restart(s); {outage}; the policy {}\n",
        report.steps.len(),
        if report.succeeded() {
            "would succeed"
        } else {
            "would fail"
        },
    )
}

pub async fn run(args: PlanArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    // The policy first, as `run` does: a refused one never reads the cluster.
    let guest = load_guest(
        &args.policy,
        options.cache_dir.as_deref(),
        Pinning::DigestRequired,
    )
    .await?;
    // Clusters listed: the shared-anchor check (read-only) first.
    let config = read_config(args.policy.config.as_deref())?;
    let plan = if config.is_multicluster() {
        let members = super::multicluster::sharing_an_anchor(&args.cluster, &config).await?;
        super::plan_clusters::plan_across(
            &members,
            &guest,
            args.policy.guest_sha256.as_deref(),
            &config,
            options,
        )
        .await?
    } else {
        let kube = args.cluster.connect().await?;
        plan_against(
            &kube,
            &guest,
            args.policy.guest_sha256.as_deref(),
            &config,
            options,
        )
        .await?
    };
    if let Some(path) = &args.save_scenario {
        write_file("scenario", path, &plan.scenario)?;
    }
    match args.output {
        OutputFormat::Text => print!("{}{}", verdict(&plan.report), plan.report.render_text()),
        OutputFormat::Json => println!("{}", plan.report.to_json()),
    }
    let clean = plan.report.succeeded()
        && broken_pair_seconds(&plan.report).is_some_and(|(_, broken)| broken == 0.0);
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
