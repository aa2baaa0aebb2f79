//! `rotor scenario generate`: write a generated mesh scenario for scale runs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::cluster::sim::SimCluster;
use crate::cluster::sim::generate::{GenerateOptions, generate_clusters};
use crate::cluster::sim::manifest::MulticlusterMode;
use crate::config::RunConfig;
use crate::runtime::{DEFAULT_POLICY, RunControls, RuntimeOptions};

use super::{CommandError, new_runtime, write_file};

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Write a generated mesh scenario (multi-document YAML), the same for the same options.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Meshed application namespaces.
    #[arg(long, value_name = "N")]
    pub namespaces: u32,

    /// Workloads in each namespace.
    #[arg(long, value_name = "M")]
    pub workloads_per_namespace: u32,

    /// How many of the workloads are StatefulSets.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub statefulsets: u32,

    /// How many of the workloads are DaemonSets.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub daemonsets: u32,

    /// Seed for the random choices (replicas, injection style, kinds).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Clusters sharing one trust anchor (the first is its home); each
    /// holds the generated namespaces and a meshed `linkerd-gateway`.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub clusters: u32,

    /// How pods reach the other clusters: through their gateway or pod to pod.
    #[arg(long, value_enum, default_value_t = ModeArg::Gateway)]
    pub multicluster_mode: ModeArg,

    /// Write the scenario here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `--multicluster-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Gateway,
    Flat,
}

impl From<ModeArg> for MulticlusterMode {
    fn from(m: ModeArg) -> MulticlusterMode {
        match m {
            ModeArg::Gateway => MulticlusterMode::Gateway,
            ModeArg::Flat => MulticlusterMode::Flat,
        }
    }
}

/// How far past the default deadline the check rotation may run to say
/// how long the mesh needs.
const CHECK_DEADLINE_FACTOR: u64 = 10;

pub async fn run(
    command: ScenarioCommand,
    options: RuntimeOptions,
) -> Result<ExitCode, CommandError> {
    match command {
        ScenarioCommand::Generate(args) => run_generate(&args, options).await,
    }
}

/// A warning when the default policy at default settings cannot rotate the
/// mesh within `deadline` seconds (the default run deadline): it rotates the
/// scenario in the simulator with a longer deadline and compares the
/// virtual time taken.
pub async fn deadline_warning(
    yaml: &str,
    deadline: u64,
    options: RuntimeOptions,
) -> Result<Option<String>, CommandError> {
    let cluster = Arc::new(
        SimCluster::from_yaml(yaml).map_err(|e| CommandError::Scenario {
            path: "<generated>".into(),
            message: e.to_string(),
        })?,
    );
    let mut config = RunConfig::default();
    config.limits.deadline_seconds = deadline * CHECK_DEADLINE_FACTOR;
    let runtime = new_runtime(options)?;
    let policy = runtime.load("built-in linkerd-rotation policy", DEFAULT_POLICY)?;
    let outcome = runtime
        .run(&policy, cluster, &config, RunControls::default())
        .await;
    let took = outcome.finished_at - outcome.started_at;
    let fix = "raise limits.deadlineSeconds in the run configuration, or policy.parallelism (rollouts running at once, default 100)";
    Ok(match &outcome.result {
        Ok(_) if took.unsigned_abs() <= deadline => None,
        Ok(_) => Some(format!(
            "a rotation of this mesh at default settings takes {took} virtual seconds, past the default run deadline of {deadline} s: {fix} (deadlineSeconds >= {took})"
        )),
        Err(_) => Some(format!(
            "a rotation of this mesh at default settings does not finish within {} virtual seconds, past the default run deadline of {deadline} s: {fix}",
            config.limits.deadline_seconds
        )),
    })
}

async fn run_generate(
    args: &GenerateArgs,
    options: RuntimeOptions,
) -> Result<ExitCode, CommandError> {
    let generate_options = GenerateOptions {
        namespaces: args.namespaces,
        workloads_per_namespace: args.workloads_per_namespace,
        statefulsets: args.statefulsets,
        daemonsets: args.daemonsets,
        seed: args.seed,
    };
    let generated = generate_clusters(
        &generate_options,
        args.clusters,
        args.multicluster_mode.into(),
    )?;
    match &args.output {
        Some(path) => {
            write_file("scenario", path, &generated.yaml)?;
            let c = generated.counts;
            // The file is the product; a one-line account goes to stderr.
            let clusters = match args.clusters {
                1 => String::new(),
                n => format!("{n} clusters, "),
            };
            eprintln!(
                "wrote {}: {clusters}{} namespaces ({} meshed by pod annotations), {} Deployments, {} StatefulSets, {} DaemonSets, {} meshed pods",
                path.display(),
                c.namespaces,
                c.pod_level_namespaces,
                c.deployments,
                c.statefulsets,
                c.daemonsets,
                c.pods
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(generated.yaml.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|source| CommandError::Write {
                    what: "scenario",
                    path: "<stdout>".into(),
                    source,
                })?;
        }
    }
    // The check rotates one cluster; a scenario of several is not checked.
    if args.clusters > 1 {
        return Ok(ExitCode::SUCCESS);
    }
    let deadline = RunConfig::default().limits.deadline_seconds;
    if let Some(warning) = deadline_warning(&generated.yaml, deadline, options).await? {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::sim::SimCluster;
    use crate::cluster::sim::generate::generate;
    use crate::config::RunConfig;

    /// The written file loads, and the default policy rotates it with no
    /// broken pair at any moment.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn default_rotation_of_a_generated_scenario_has_no_outage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("generated.yaml");
        let args = GenerateArgs {
            namespaces: 6,
            workloads_per_namespace: 3,
            statefulsets: 2,
            daemonsets: 1,
            seed: 3,
            clusters: 1,
            multicluster_mode: ModeArg::Gateway,
            output: Some(path.clone()),
        };
        let code = run(ScenarioCommand::Generate(args), RuntimeOptions::default())
            .await
            .expect("generates");
        assert_eq!(code, ExitCode::SUCCESS);
        let text = std::fs::read_to_string(&path).expect("written");
        let cluster = Arc::new(SimCluster::from_yaml(&text).expect("loads"));

        let outcome = crate::testing::policies::runtime()
            .run(
                crate::testing::policies::default_policy(),
                cluster.clone(),
                &RunConfig::default(),
                RunControls::default(),
            )
            .await;
        if let Err(failure) = &outcome.result {
            panic!("rotation failed: {failure}");
        }
        let report = cluster.simulation_report();
        assert_eq!(report.outage.broken_pair_seconds, 0.0, "{report:?}");
        assert!(report.outage.windows.is_empty(), "{report:?}");
        assert!(report.final_state.anchor_rotated, "{report:?}");
        assert_eq!(report.final_state.proxies_trusting_retired_anchor, 0);
        assert!(report.final_state.workloads_not_ready.is_empty());
        // Six namespaces of three workloads each were restarted, not skipped.
        assert!(report.virtual_seconds > 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_mesh_slower_than_the_deadline_is_warned_about() {
        let generated = generate(&GenerateOptions {
            namespaces: 6,
            workloads_per_namespace: 3,
            statefulsets: 0,
            daemonsets: 0,
            seed: 3,
        })
        .expect("generates");
        let options = RuntimeOptions::default();
        let within = deadline_warning(&generated.yaml, 7_200, options.clone())
            .await
            .expect("rotates");
        assert_eq!(within, None);
        // The same mesh against a deadline shorter than its rotation.
        let warning = deadline_warning(&generated.yaml, 60, options.clone())
            .await
            .expect("rotates")
            .expect("a warning");
        assert!(
            warning.contains("past the default run deadline of 60 s")
                && warning.contains("raise limits.deadlineSeconds"),
            "{warning}"
        );
        let took: u64 = warning
            .split("takes ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("the time it takes");
        assert!(took > 60, "{warning}");
        // Too slow even for ten times the deadline: no figure, still the fix.
        let warning = deadline_warning(&generated.yaml, 5, options)
            .await
            .expect("rotates")
            .expect("a warning");
        assert!(
            warning.contains("does not finish within 50 virtual seconds"),
            "{warning}"
        );
    }

    #[tokio::test]
    async fn bad_options_are_a_command_error() {
        let args = GenerateArgs {
            namespaces: 1,
            workloads_per_namespace: 1,
            statefulsets: 1,
            daemonsets: 1,
            seed: 1,
            clusters: 1,
            multicluster_mode: ModeArg::Gateway,
            output: None,
        };
        let err = run(ScenarioCommand::Generate(args), RuntimeOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--statefulsets"), "{err}");
    }
}
