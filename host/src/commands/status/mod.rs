//! `rotor status`: a read-only look at the rotation's state. Each
//! Certificate's age, expiry, renewal time and readiness; the anchors in the
//! trust bundle; meshed proxies still started with an older bundle; the
//! identity controller's last issuer reload; a rotation in progress (the
//! run lock's holder, the progress record's step) or one left half-done;
//! the preflight lint's findings on the anchor and issuer (`lint`); the
//! control plane's Linkerd version and what it implies (`version`); the
//! trust-manager set-up that writes the trust roots (`trust_manager`).
//! Exit codes: [`EXIT_OK`], [`EXIT_ATTENTION`], [`EXIT_IN_PROGRESS`].
//!
//! The command and its flags live here; the findings (`model`) are
//! gathered by `collect` and shown by `render`. With a run configuration
//! that lists clusters, each is shown and the shared-anchor check runs
//! across them (`clusters`).

mod clusters;
mod collect;
mod lint;
mod model;
mod render;
mod trust_manager;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cluster::kube::{KubeCluster, RetryPolicy};
use crate::cluster::{Cluster, ClusterError};
use crate::lock::current_holder;

use super::{ClusterArgs, CommandError, KubeCommandError, read_config};

pub use clusters::{ClustersStatus, MemberStatus, collect_members};
pub use collect::{anchors, collect, collect_with};
pub use lint::LintFinding;
pub use model::{
    Anchor, Bundle, CertificateStatus, IdentityReloads, Rotation, StaleWorkload, Status,
};
pub use version::LinkerdStatus;

/// Nothing needs attention.
pub const EXIT_OK: u8 = 0;
/// Something needs a person: expiring, not Ready, stale proxies, a rotation
/// left half-done.
pub const EXIT_ATTENTION: u8 = 1;
/// A run holds the run lock: a rotation is in progress.
pub const EXIT_IN_PROGRESS: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
    Prometheus,
}

/// `rotor status`'s command line: the cluster, then what to show.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusCommand {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub status: StatusArgs,
    /// Run configuration (YAML or JSON): with a `clusters` list, each
    /// cluster's status and whether they share a trust anchor.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub output: StatusFormat,
    /// Flag an anchor (in the bundle or the anchor Certificate) expiring sooner.
    #[arg(long, default_value_t = 30)]
    pub anchor_warn_days: u32,
    /// Flag the identity issuer expiring sooner (it normally renews a day early).
    #[arg(long, default_value_t = 12)]
    pub issuer_warn_hours: u32,
    /// How long the identity controller may take to announce a new issuer.
    #[arg(long, default_value_t = 600)]
    pub reload_grace_seconds: u32,
    /// The preflight lint: how long a rotation may take (the policy's
    /// `renewalMarginSeconds`).
    #[arg(long, default_value_t = 7200)]
    pub run_seconds: u32,
    /// The preflight lint: the longest gap until the next scheduled run
    /// (the chart's `cronJob.scheduleIntervalSeconds`).
    #[arg(long, default_value_t = 2_678_400)]
    pub schedule_interval_seconds: u32,
}

impl Default for StatusArgs {
    fn default() -> Self {
        StatusArgs {
            output: StatusFormat::Text,
            anchor_warn_days: 30,
            issuer_warn_hours: 12,
            reload_grace_seconds: 600,
            run_seconds: 7200,
            schedule_interval_seconds: 2_678_400,
        }
    }
}

/// Collect (no run lock holder known) and render, with the exit code.
pub async fn status(
    cluster: Arc<dyn Cluster>,
    args: &StatusArgs,
) -> Result<(String, i32), ClusterError> {
    let s = collect(cluster.as_ref(), args).await?;
    Ok((s.render(args.output), i32::from(s.exit_code())))
}

/// One cluster's status: its run lock's holder, then everything else.
pub async fn look(kube: &KubeCluster, args: &StatusArgs) -> Result<Status, KubeCommandError> {
    let holder = current_holder(
        kube.client().clone(),
        kube.namespace(),
        RetryPolicy::default(),
    )
    .await?;
    collect_with(kube, args, holder)
        .await
        .map_err(|source| KubeCommandError::Cluster {
            what: "reading the rotation's state",
            source,
        })
}

/// The command: connect, read the run lock, collect, print; the exit code
/// says ok, attention or rotation in progress. With clusters configured,
/// the same for each, and the shared-anchor check.
pub async fn run(args: StatusCommand) -> Result<ExitCode, CommandError> {
    let config = read_config(args.config.as_deref())?;
    if config.is_multicluster() {
        if args.status.output == StatusFormat::Prometheus {
            return Err(CommandError::Refused(
                "status --output prometheus shows one cluster; with clusters in the configuration use text or json".into(),
            ));
        }
        let members = args.cluster.connect_members(&config.clusters).await?;
        let s = collect_members(&members, &args.status).await?;
        print!("{}", s.render(args.status.output).unwrap_or_default());
        return Ok(ExitCode::from(s.exit_code()));
    }
    let kube = args.cluster.connect().await?;
    let s = look(&kube, &args.status).await?;
    print!("{}", s.render(args.status.output));
    Ok(ExitCode::from(s.exit_code()))
}
