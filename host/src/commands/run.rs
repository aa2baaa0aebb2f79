//! `rotor run`: the CronJob's command. Take the run lock, run the policy
//! against the cluster through `KubeCluster`, report as `simulate` does
//! (without the simulation section), release the lock. Around the run:
//! Events, a Pushgateway push and webhook notifications (`crate::observe`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cluster::Cluster;
use crate::cluster::kube::{KubeCluster, RetryPolicy};
use crate::config::RunConfig;
use crate::lock::{LockError, LockTiming, RunLock, default_holder};
use crate::observe::notify::{Notice, WEBHOOK_URL_ENV};
use crate::observe::{
    Notifier, PushTarget, RunEvents, RunMetrics, RunObserver, RunTelemetry, WebhookFormat,
};
use crate::report::{Outcome, RunReport};
use crate::runtime::{LoadedPolicy, RunControls, RuntimeOptions};

use super::{
    ClusterArgs, CommandError, Guest, KubeCommandError, OutputFormat, Pinning, PolicyArgs,
    load_guest, new_runtime, print_report, read_config,
};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Send every mutation with dryRun=All and record it instead of applying it.
    #[arg(long)]
    pub dry_run: bool,

    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Only continue a rotation the progress record holds: with none, or
    /// with another run holding the lock, exit 0 having changed nothing
    /// (the chart's resume CronJob).
    #[arg(long, conflicts_with = "dry_run")]
    pub resume_only: bool,

    #[command(flatten)]
    pub observe: ObserveArgs,
}

/// Where a run reports besides stdout and Events. Dry runs push and notify
/// nothing: they would read as rotations that happened.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ObserveArgs {
    /// Push the run's metrics to this Prometheus Pushgateway when it ends (push-add).
    #[arg(long, value_name = "URL", env = "ROTOR_PUSHGATEWAY")]
    pub pushgateway: Option<String>,

    /// Read the notification webhook URL from this file (e.g. a mounted
    /// Secret) [or set $ROTOR_WEBHOOK_URL].
    #[arg(long, value_name = "FILE")]
    pub webhook_url_file: Option<PathBuf>,

    /// Message shape for the webhook.
    #[arg(long, value_enum, default_value_t = WebhookFormat::Generic)]
    pub webhook_format: WebhookFormat,
}

impl ObserveArgs {
    /// The Pushgateway and webhook, checked before the run touches anything.
    pub(super) fn targets(&self, namespace: &str) -> Result<RunTelemetry, CommandError> {
        let push = self
            .pushgateway
            .as_deref()
            .map(|url| PushTarget::parse(url, namespace))
            .transpose()?;
        let notifier = Notifier::configure(
            self.webhook_url_file.as_deref(),
            std::env::var(WEBHOOK_URL_ENV).ok(),
            self.webhook_format,
        )?;
        Ok(RunTelemetry {
            events: None,
            push,
            notifier,
        })
    }
}

/// Run a policy against a connected cluster under the run lock; the report
/// and whether it succeeded. A dry run takes no lock: it changes nothing.
pub async fn run_against(
    kube: KubeCluster,
    args: &RunArgs,
    guest: &Guest,
    config: &RunConfig,
    options: RuntimeOptions,
    timing: LockTiming,
) -> Result<RunReport, CommandError> {
    let label = guest.label.clone();
    let runtime = new_runtime(options)?;
    let policy = runtime.load_pinned(&label, &guest.wasm, args.policy.guest_sha256.as_deref())?;
    let namespace = kube.namespace().to_string();
    let mut telemetry = args.observe.targets(&namespace)?;

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
    let controls = start_telemetry(
        &mut telemetry,
        args.dry_run,
        &cluster,
        config,
        &policy,
        &namespace,
    )
    .await;
    let outcome = runtime
        .run(&policy, cluster.clone(), config, controls)
        .await;
    let mut report = RunReport::new(outcome, &policy, cluster.backend(), args.dry_run, None);
    if let Some(lock) = &lock
        && let Err(e) = lock.check()
    {
        // Another run took over while this one ran: its report must not
        // read as a clean success.
        report.outcome = Outcome::Failed;
        report.error = Some(e.to_string());
    }
    // Before the lock is released: the next run's RotationStarted follows it.
    if let Some(events) = &telemetry.events {
        events.finished(&report).await;
    }
    if let Some(lock) = lock
        && let Err(e) = lock.release().await
    {
        tracing::warn!(error = %e, "could not release the run lock; it expires on its own");
    }
    announce_end(&telemetry, &report, &namespace).await;
    Ok(report)
}

/// The run's Events in `home` (a dry run tells no one: it would read as a
/// rotation that happened), RotationStarted and the webhook's started
/// notice sent; the controls that report each step there.
pub(super) async fn start_telemetry(
    telemetry: &mut RunTelemetry,
    dry_run: bool,
    home: &Arc<dyn Cluster>,
    config: &RunConfig,
    policy: &LoadedPolicy,
    namespace: &str,
) -> RunControls {
    if dry_run {
        *telemetry = RunTelemetry::default();
    } else {
        telemetry.events = Some(Arc::new(RunEvents::new(
            home.clone(),
            &config.events.subject,
        )));
    }
    if let Some(events) = &telemetry.events {
        events.started(&policy.label, &policy.sha256).await;
    }
    if let Some(notifier) = &telemetry.notifier {
        notifier
            .send(&Notice::Started {
                policy: &policy.label,
                sha256: &policy.sha256,
                namespace,
            })
            .await;
    }
    RunControls {
        dry_run,
        progress: true,
        observer: telemetry.events.clone().map(|e| e as Arc<dyn RunObserver>),
        ..RunControls::default()
    }
}

/// The run's metrics pushed and the webhook's finished notice, once the
/// run lock is free.
pub(super) async fn announce_end(telemetry: &RunTelemetry, report: &RunReport, namespace: &str) {
    if let Some(push) = &telemetry.push
        && let Err(e) = push.push(&RunMetrics::from_report(report)).await
    {
        tracing::warn!(error = %e, "metrics not pushed; the run's outcome stands");
    }
    if let Some(notifier) = &telemetry.notifier {
        notifier.send(&Notice::Finished { report, namespace }).await;
    }
}

pub async fn run(args: RunArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    // The policy first: one refused (unpinned, untrusted, unreadable) has
    // not touched the cluster.
    let guest = load_guest(
        &args.policy,
        options.cache_dir.as_deref(),
        Pinning::DigestRequired,
    )
    .await?;
    // Clusters listed: read-only checks, then an honest refusal, before
    // any lock is taken.
    let config = read_config(args.policy.config.as_deref())?;
    if config.is_multicluster() {
        return Ok(
            match super::run_clusters::run(&args, &guest, &config, options).await? {
                Some(report) => print_report(&report, args.output),
                None => ExitCode::SUCCESS,
            },
        );
    }
    let kube = args.cluster.connect().await?;
    if args.resume_only {
        let record = kube
            .load_progress()
            .await
            .map_err(|source| KubeCommandError::Cluster {
                what: "read the progress record",
                source,
            })?;
        if record.is_none() {
            eprintln!(
                "rotor run --resume-only: no rotation in progress (no progress record in {}): nothing to do",
                kube.namespace()
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    let report =
        match run_against(kube, &args, &guest, &config, options, LockTiming::default()).await {
            Err(CommandError::Kube(KubeCommandError::Lock(e @ LockError::Held { .. })))
                if args.resume_only =>
            {
                eprintln!("rotor run --resume-only: another run is rotating, nothing to do: {e}");
                return Ok(ExitCode::SUCCESS);
            }
            r => r?,
        };
    Ok(print_report(&report, args.output))
}
