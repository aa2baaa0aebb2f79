//! `rotor run`: the CronJob's command. Take the run lock, run the policy
//! against the cluster through `KubeCluster`, report as `simulate` does
//! (without the simulation section), release the lock.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::OutputFormat;
use crate::cluster::Cluster;
use crate::cluster::kube::{ConnectError, ConnectOptions, KubeCluster, RetryPolicy, connect};
use crate::lock::{LockError, LockTiming, RunLock, default_holder};
use crate::report::{Outcome, RunReport};
use crate::runtime::RuntimeOptions;

use super::{CommandError, new_runtime, read_config, read_policy};

/// How to reach the cluster, shared by `run`, `status` and `plan`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// kubeconfig file [default: $KUBECONFIG, ~/.kube/config, then in-cluster].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use [default: the current one].
    #[arg(long)]
    pub context: Option<String>,
    /// rotor's own namespace (run lock, progress record) [default: the pod's namespace, else rotor-system].
    #[arg(long)]
    pub namespace: Option<String>,
}

impl ClusterArgs {
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }

    pub fn rotor_namespace(&self) -> String {
        connect::rotor_namespace(self.namespace.as_deref())
    }

    pub async fn connect(&self) -> Result<KubeCluster, KubeCommandError> {
        Ok(KubeCluster::connect(&self.connect_options(), self.rotor_namespace()).await?)
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Policy component (.wasm) [default: the built-in Linkerd rotation policy].
    #[arg(long, value_name = "FILE.wasm")]
    pub guest: Option<PathBuf>,

    /// Refuse to run unless the policy's SHA-256 is this (64 hex digits).
    #[arg(long, value_name = "HEX", value_parser = crate::cli::parse_sha256)]
    pub guest_sha256: Option<String>,

    /// Run configuration (YAML or JSON): policy settings, grants, limits.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Send every mutation with dryRun=All and record it instead of applying it.
    #[arg(long)]
    pub dry_run: bool,

    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Why `run`, `status` or `plan` could not talk to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum KubeCommandError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{what}: {source}")]
    Cluster {
        what: &'static str,
        source: crate::cluster::ClusterError,
    },
    #[error("the cluster's state does not load into the simulator: {0}")]
    Scenario(String),
}

/// Run a policy against a connected cluster under the run lock; the report
/// and whether it succeeded. A dry run takes no lock: it changes nothing.
pub async fn run_against(
    kube: KubeCluster,
    args: &RunArgs,
    options: RuntimeOptions,
    timing: LockTiming,
) -> Result<RunReport, CommandError> {
    let config = read_config(args.config.as_deref())?;
    let (label, wasm) = read_policy(args.guest.as_deref())?;
    let runtime = new_runtime(options)?;
    let policy = runtime.load_pinned(&label, &wasm, args.guest_sha256.as_deref())?;

    let kube = kube.with_dry_run(args.dry_run);
    let lock = if args.dry_run {
        None
    } else {
        Some(
            RunLock::acquire(
                kube.client().clone(),
                kube.namespace(),
                &default_holder(),
                timing,
                RetryPolicy::default(),
            )
            .await
            .map_err(KubeCommandError::from)?,
        )
    };
    let kube = match &lock {
        Some(lock) => kube.with_fence(lock.lost_flag()),
        None => kube,
    };
    let cluster: Arc<dyn Cluster> = Arc::new(kube);
    let outcome = runtime
        .run(&policy, cluster.clone(), &config, args.dry_run)
        .await;
    let mut report = RunReport::new(outcome, &policy, cluster.backend(), args.dry_run, None);
    if let Some(lock) = lock {
        if let Err(e) = lock.check() {
            // Another run took over while this one ran: its report must not
            // read as a clean success.
            report.outcome = Outcome::Failed;
            report.error = Some(e.to_string());
        }
        if let Err(e) = lock.release().await {
            tracing::warn!(error = %e, "could not release the run lock; it expires on its own");
        }
    }
    Ok(report)
}

pub async fn run(args: RunArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    let kube = args.cluster.connect().await?;
    let report = run_against(kube, &args, options, LockTiming::default()).await?;
    match args.output {
        OutputFormat::Text => print!("{}", report.render_text()),
        OutputFormat::Json => println!("{}", report.to_json()),
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
