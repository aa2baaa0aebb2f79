//! `rotor simulate`: run a policy against the simulated cluster and report
//! what meshed traffic would have seen (`simulate_clusters` for a
//! scenario of several clusters).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::cluster::Cluster;
use crate::cluster::faults::{SimulatedBackend, simulated_backend};
use crate::cluster::sim::SimCluster;
use crate::report::RunReport;
use crate::runtime::{LoadedPolicy, RunControls, Runtime, RuntimeOptions};

use super::{
    CommandError, OutputFormat, Pinning, PolicyArgs, load_guest, new_runtime, one_line,
    print_report, read_config, write_file,
};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Scenario: Kubernetes manifests plus an optional Simulation document [default: the built-in demo cluster].
    #[arg(long, value_name = "FILE.yaml")]
    pub scenario: Option<PathBuf>,

    /// Record mutations instead of applying them.
    #[arg(long)]
    pub dry_run: bool,

    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Write the cluster state as the run left it (before the watch after
    /// the run) as a scenario that loads again.
    #[arg(long, value_name = "FILE")]
    pub save_state: Option<PathBuf>,

    /// Stop the run abruptly right after the N-th applied mutation, leaving the
    /// cluster as it is (with --save-state, to test that a policy resumes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub kill_after_mutations: Option<u64>,
}

/// Exit 0 only when the policy succeeded.
pub async fn run(args: SimulateArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    if let Some(text) = args.scenario.as_ref().and_then(|p| read_scenario(p).ok())
        && super::simulate_clusters::names_clusters(&text)
    {
        return super::simulate_clusters::run(args, &text, options).await;
    }
    // Everything the user supplied is checked before the (slower) compile.
    let config = read_config(args.policy.config.as_deref())?;
    super::multicluster::one_cluster_only(&config, "simulate")?;
    let cluster = Arc::new(load_scenario(&args)?);
    let (runtime, policy) = load_policy(&args, options).await?;

    let SimulatedBackend { backend, faults } =
        simulated_backend(cluster.clone()).map_err(|e| CommandError::Scenario {
            path: args.scenario.clone().unwrap_or_default(),
            message: e.to_string(),
        })?;
    let controls = RunControls {
        dry_run: args.dry_run,
        kill_after_mutations: args.kill_after_mutations,
        progress: true,
        ..RunControls::default()
    };
    let outcome = runtime.run(&policy, backend, &config, controls).await;
    // The saved state is the cluster as the run left it (what a resumed or
    // repeated run would find); the report then watches the mesh on.
    if let Some(path) = &args.save_state {
        write_file("state", path, cluster.state_yaml())?;
    }
    cluster.watch_after_run();
    let report = RunReport::new(
        outcome,
        &policy,
        cluster.backend(),
        args.dry_run,
        Some(cluster.simulation_report()),
    );

    if let Some(faulty) = faults {
        let n = faulty.injected();
        tracing::info!(
            conflicts = n.conflict,
            throttled = n.throttled,
            server_errors = n.server_error,
            timeouts = n.timeout,
            persisted = n.persisted,
            "injected API errors"
        );
    }
    Ok(print_report(&report, args.output))
}

fn load_scenario(args: &SimulateArgs) -> Result<SimCluster, CommandError> {
    let Some(path) = &args.scenario else {
        return Ok(SimCluster::demo());
    };
    let text = read_scenario(path)?;
    SimCluster::from_yaml(&text).map_err(|e| CommandError::Scenario {
        path: path.clone(),
        message: one_line(&e.to_string()),
    })
}

fn read_scenario(path: &std::path::Path) -> Result<String, CommandError> {
    std::fs::read_to_string(path).map_err(|e| CommandError::Scenario {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })
}

/// The policy `--guest` names (tags allowed: a simulation changes nothing),
/// compiled, and checked against `--guest-sha256` when given.
pub(super) async fn load_policy(
    args: &SimulateArgs,
    options: RuntimeOptions,
) -> Result<(Runtime, LoadedPolicy), CommandError> {
    let guest = load_guest(
        &args.policy,
        options.cache_dir.as_deref(),
        Pinning::TagsAllowed,
    )
    .await?;
    let runtime = new_runtime(options)?;
    let policy = runtime.load_pinned(
        &guest.label,
        &guest.wasm,
        args.policy.guest_sha256.as_deref(),
    )?;
    Ok((runtime, policy))
}
