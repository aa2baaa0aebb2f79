//! `rotor run` over the clusters a run configuration lists: once they share
//! an anchor and the policy selects among them, the run lock is taken in
//! every cluster, home first and then in the configuration's order (one
//! order for every run, so two runs over the same mesh cannot each hold a
//! part), the policy runs with one guard per cluster, and every lock is
//! released whatever the outcome. `--resume-only` runs when any cluster
//! holds a progress record.

use std::sync::Arc;

use crate::cluster::Backend;
use crate::cluster::Cluster;
use crate::cluster::kube::RetryPolicy;
use crate::config::RunConfig;
use crate::lock::{LockError, LockTiming, RunLock, default_holder};
use crate::report::{Outcome, RunReport};
use crate::runtime::{RunCluster, RuntimeOptions};

use super::connect::Member;
use super::run::{RunArgs, announce_end, start_telemetry};
use super::{CommandError, Guest, KubeCommandError, new_runtime};

/// Refuse, or run the policy across every cluster under every run lock.
/// `None`: `--resume-only` found nothing to resume, or another run at it.
pub async fn run(
    args: &RunArgs,
    guest: &Guest,
    config: &RunConfig,
    options: RuntimeOptions,
) -> Result<Option<RunReport>, CommandError> {
    // Home first, then the others in the configuration's order.
    let members = super::multicluster::sharing_an_anchor(&args.cluster, config).await?;
    let runtime = new_runtime(options)?;
    let policy = runtime.load_pinned(
        &guest.label,
        &guest.wasm,
        args.policy.guest_sha256.as_deref(),
    )?;
    super::multicluster::selects_clusters(&policy, config)?;
    if args.resume_only && !any_in_progress(&members).await? {
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        eprintln!(
            "rotor run --resume-only: no rotation in progress (no progress record in {}): nothing to do",
            names.join(", ")
        );
        return Ok(None);
    }
    let namespace = members[0].kube.namespace().to_string();
    let mut telemetry = args.observe.targets(&namespace)?;

    let locks = if args.dry_run {
        Vec::new()
    } else {
        match lock_all(&members, LockTiming::default()).await {
            Err(CommandError::Kube(KubeCommandError::Member { cluster, source }))
                if args.resume_only
                    && matches!(*source, KubeCommandError::Lock(LockError::Held { .. })) =>
            {
                eprintln!(
                    "rotor run --resume-only: another run is rotating, nothing to do: cluster {cluster}: {source}"
                );
                return Ok(None);
            }
            locks => locks?,
        }
    };
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let mut clusters = Vec::with_capacity(members.len());
    for (i, member) in members.into_iter().enumerate() {
        let mut kube = member.kube.with_dry_run(args.dry_run);
        if let Some(lock) = locks.get(i) {
            kube = kube.with_fence(lock.lost_flag());
        }
        let grants = config
            .clusters
            .iter()
            .find(|e| e.name == member.name)
            .map_or(&config.grants, |e| e.grants_or(&config.grants));
        clusters.push(RunCluster {
            name: member.name,
            home: member.home,
            cluster: Arc::new(kube) as Arc<dyn Cluster>,
            grants: grants.clone(),
        });
    }
    let home = clusters[0].cluster.clone();
    let controls = start_telemetry(
        &mut telemetry,
        args.dry_run,
        &home,
        config,
        &policy,
        &namespace,
    )
    .await;
    let outcome = runtime
        .run_clusters(&policy, clusters, config, controls)
        .await;
    let mut report = RunReport::new(outcome, &policy, Backend::Kubernetes, args.dry_run, None);
    for (name, lock) in names.iter().zip(&locks) {
        if let Err(e) = lock.check() {
            // Another run took over there: not a clean success.
            report.outcome = Outcome::Failed;
            report.error = Some(format!("cluster {name}: {e}"));
        }
    }
    if let Some(events) = &telemetry.events {
        events.finished(&report).await;
    }
    release_all(&names, locks).await;
    announce_end(&telemetry, &report, &namespace).await;
    Ok(Some(report))
}

/// Whether any cluster holds a progress record: a rotation killed in one
/// cluster is a rotation in progress in all of them.
async fn any_in_progress(members: &[Member]) -> Result<bool, CommandError> {
    for member in members {
        let record =
            member
                .kube
                .load_progress()
                .await
                .map_err(|source| KubeCommandError::Member {
                    cluster: member.name.clone(),
                    source: Box::new(KubeCommandError::Cluster {
                        what: "read the progress record",
                        source,
                    }),
                })?;
        if record.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The run lock in each cluster, in order. When one cannot be taken, the
/// ones already taken are released before the error (naming the cluster)
/// is returned: a refused run leaves no lock behind.
async fn lock_all(members: &[Member], timing: LockTiming) -> Result<Vec<RunLock>, CommandError> {
    let holder = default_holder();
    let mut locks = Vec::with_capacity(members.len());
    for member in members {
        let taken = RunLock::acquire(
            member.kube.client().clone(),
            member.kube.namespace(),
            &holder,
            timing,
            RetryPolicy::default(),
        )
        .await;
        match taken {
            Ok(lock) => locks.push(lock),
            Err(e) => {
                let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
                release_all(&names, locks).await;
                return Err(KubeCommandError::Member {
                    cluster: member.name.clone(),
                    source: Box::new(KubeCommandError::Lock(e)),
                }
                .into());
            }
        }
    }
    Ok(locks)
}

/// Release every lock, the last taken first; one that cannot be released
/// expires on its own.
async fn release_all(names: &[String], locks: Vec<RunLock>) {
    for (name, lock) in names.iter().zip(locks).rev() {
        if let Err(e) = lock.release().await {
            tracing::warn!(cluster = %name, error = %e, "could not release the run lock; it expires on its own");
        }
    }
}
