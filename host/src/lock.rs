//! The run lock: a `coordination.k8s.io/v1` Lease named `rotor` in rotor's
//! namespace, held and renewed for the whole run, so two rotations never
//! interleave. A holder that stopped renewing (crashed, killed) is taken
//! over once `renewTime + leaseDurationSeconds` has passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::task::JoinHandle;

use crate::cluster::ClusterError;
use crate::cluster::kube::{FIELD_MANAGER, RetryPolicy};

/// The Lease's name.
pub const LEASE_NAME: &str = "rotor";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "rotation in progress, held by {holder} since {since}; it expires {expires} unless renewed (lease {namespace}/{LEASE_NAME})"
    )]
    Held {
        holder: String,
        since: String,
        expires: String,
        namespace: String,
    },
    #[error("run lock (lease {namespace}/{LEASE_NAME}): {source}")]
    Api {
        namespace: String,
        source: ClusterError,
    },
    #[error("run lock lost: {0}")]
    Lost(String),
}

/// How long a lease lasts without renewal, and how often it is renewed.
#[derive(Debug, Clone, Copy)]
pub struct LockTiming {
    pub lease_duration: Duration,
    pub renew_every: Duration,
}

impl Default for LockTiming {
    fn default() -> Self {
        LockTiming {
            lease_duration: Duration::from_secs(60),
            renew_every: Duration::from_secs(20),
        }
    }
}

/// Who is running: the pod name in the cluster, else host and process id.
pub fn default_holder() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "rotor".into());
    format!("{host}/{}", std::process::id())
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// The moment a lease stops protecting its holder.
fn expiry(spec: &LeaseSpec) -> Option<jiff::Timestamp> {
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    renewed
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .ok()
}

/// Who holds a lease that still protects its holder at `t`, other than `me`.
fn live_holder(spec: &LeaseSpec, me: &str, t: jiff::Timestamp) -> Option<Holder> {
    let holder = spec
        .holder_identity
        .clone()
        .filter(|h| !h.is_empty() && h != me)?;
    let expires = expiry(spec);
    if expires.is_some_and(|e| e <= t) {
        return None;
    }
    Some(Holder {
        holder,
        since: spec.acquire_time.as_ref().map(|a| a.0.as_second()),
        expires: expires.map(|e| e.as_second()),
    })
}

/// The holder of an unexpired run lock: a rotation in progress.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub holder: String,
    /// Unix seconds the lease was taken.
    pub since: Option<i64>,
    /// Unix seconds it lapses unless renewed (`None`: never).
    pub expires: Option<i64>,
}

/// Who holds the run lock in `namespace` now, if anyone. Reads only.
pub async fn current_holder(
    client: kube::Client,
    namespace: &str,
    retry: RetryPolicy,
) -> Result<Option<Holder>, LockError> {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    match retry.run("read lease", || api.get(LEASE_NAME)).await {
        Ok(lease) => Ok(live_holder(&lease.spec.unwrap_or_default(), "", now())),
        Err(ClusterError::NotFound(_)) => Ok(None),
        Err(source) => Err(LockError::Api {
            namespace: namespace.to_string(),
            source,
        }),
    }
}

fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t).map_or_else(|_| t.to_string(), |t| t.to_string())
}

/// A held lock; renewed in the background until [`RunLock::release`].
pub struct RunLock {
    api: Api<Lease>,
    namespace: String,
    holder: String,
    retry: RetryPolicy,
    lost: Arc<AtomicBool>,
    renewer: JoinHandle<()>,
}

impl RunLock {
    /// Take the lock, or say who holds it.
    pub async fn acquire(
        client: kube::Client,
        namespace: &str,
        holder: &str,
        timing: LockTiming,
        retry: RetryPolicy,
    ) -> Result<RunLock, LockError> {
        let api: Api<Lease> = Api::namespaced(client, namespace);
        let api_err = |source| LockError::Api {
            namespace: namespace.to_string(),
            source,
        };
        let lease = take(&api, namespace, holder, timing, retry)
            .await
            .map_err(|e| match e {
                TakeError::Held(e) => e,
                TakeError::Api(e) => api_err(e),
            })?;
        tracing::info!(holder, namespace, "run lock acquired");
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew_loop(
            api.clone(),
            lease,
            holder.to_string(),
            timing,
            retry,
            lost.clone(),
        ));
        Ok(RunLock {
            api,
            namespace: namespace.to_string(),
            holder: holder.to_string(),
            retry,
            lost,
            renewer,
        })
    }

    /// Whether another holder has taken the lease (renewals failed for
    /// longer than it lasts).
    pub fn check(&self) -> Result<(), LockError> {
        if self.lost.load(Ordering::Relaxed) {
            Err(LockError::Lost(format!(
                "lease {}/{LEASE_NAME} is no longer held by {}",
                self.namespace, self.holder
            )))
        } else {
            Ok(())
        }
    }

    /// Becomes true when the lease is lost; hand it to
    /// [`KubeCluster::with_fence`](crate::cluster::kube::KubeCluster::with_fence)
    /// so a run that lost its lock stops changing the cluster.
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Stop renewing and free the lease for the next run.
    pub async fn release(self) -> Result<(), LockError> {
        self.renewer.abort();
        let api_err = |source| LockError::Api {
            namespace: self.namespace.clone(),
            source,
        };
        let current = self
            .retry
            .run("read lease", || self.api.get(LEASE_NAME))
            .await
            .map_err(api_err)?;
        let spec = current.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.holder.as_str()) {
            return Ok(());
        }
        let mut freed = current;
        freed.spec = Some(LeaseSpec {
            holder_identity: None,
            renew_time: None,
            acquire_time: None,
            ..spec
        });
        let pp = post_params();
        match self
            .retry
            .run("release lease", || {
                self.api.replace(LEASE_NAME, &pp, &freed)
            })
            .await
        {
            Ok(_) => {
                tracing::info!(holder = %self.holder, "run lock released");
                Ok(())
            }
            // Someone took it over in the meantime: nothing left to free.
            Err(ClusterError::Conflict(_)) => Ok(()),
            Err(e) => Err(api_err(e)),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

fn post_params() -> PostParams {
    PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.into()),
    }
}

enum TakeError {
    Held(LockError),
    Api(ClusterError),
}

impl From<ClusterError> for TakeError {
    fn from(e: ClusterError) -> Self {
        TakeError::Api(e)
    }
}

async fn take(
    api: &Api<Lease>,
    namespace: &str,
    holder: &str,
    timing: LockTiming,
    retry: RetryPolicy,
) -> Result<Lease, TakeError> {
    let pp = post_params();
    // A race with another run shows as 409: look again, a few times.
    for _ in 0..3 {
        let t = now();
        let existing = match retry.run("read lease", || api.get(LEASE_NAME)).await {
            Ok(l) => Some(l),
            Err(ClusterError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let fresh_spec = |transitions: i32| LeaseSpec {
            holder_identity: Some(holder.to_string()),
            lease_duration_seconds: Some(
                timing.lease_duration.as_secs().min(i32::MAX as u64) as i32
            ),
            acquire_time: Some(MicroTime(t)),
            renew_time: Some(MicroTime(t)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        };
        let result = match existing {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(LEASE_NAME.into()),
                        namespace: Some(namespace.to_string()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(fresh_spec(0)),
                };
                retry.run("create lease", || api.create(&pp, &lease)).await
            }
            Some(current) => {
                let spec = current.spec.clone().unwrap_or_default();
                if let Some(other) = live_holder(&spec, holder, t) {
                    return Err(TakeError::Held(LockError::Held {
                        holder: other.holder,
                        since: other
                            .since
                            .map_or_else(|| "an unknown time".into(), rfc3339),
                        expires: other
                            .expires
                            .map_or_else(|| "never".into(), |e| format!("at {}", rfc3339(e))),
                        namespace: namespace.to_string(),
                    }));
                }
                if let Some(previous) = spec
                    .holder_identity
                    .as_deref()
                    .filter(|h| !h.is_empty() && *h != holder)
                {
                    tracing::warn!(%previous, "taking over a run lock its holder stopped renewing");
                }
                let mut taken = current;
                let transitions = spec.lease_transitions.unwrap_or(0) + 1;
                taken.spec = Some(fresh_spec(transitions));
                retry
                    .run("take over lease", || api.replace(LEASE_NAME, &pp, &taken))
                    .await
            }
        };
        match result {
            Ok(l) => return Ok(l),
            Err(ClusterError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ClusterError::Conflict(
        "the lease kept changing while taking it; another run is starting".into(),
    )
    .into())
}

async fn renew_loop(
    api: Api<Lease>,
    mut lease: Lease,
    holder: String,
    timing: LockTiming,
    retry: RetryPolicy,
    lost: Arc<AtomicBool>,
) {
    let pp = post_params();
    loop {
        tokio::time::sleep(timing.renew_every).await;
        let mut next = lease.clone();
        if let Some(spec) = next.spec.as_mut() {
            spec.renew_time = Some(MicroTime(now()));
        }
        match retry
            .run("renew lease", || api.replace(LEASE_NAME, &pp, &next))
            .await
        {
            Ok(l) => lease = l,
            Err(ClusterError::Conflict(_)) => {
                // Changed underneath: still ours?
                match retry.run("read lease", || api.get(LEASE_NAME)).await {
                    Ok(current)
                        if current
                            .spec
                            .as_ref()
                            .and_then(|s| s.holder_identity.as_deref())
                            == Some(holder.as_str()) =>
                    {
                        lease = current;
                    }
                    _ => {
                        tracing::error!(%holder, "run lock lost to another holder");
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not renew the run lock; retrying");
                let expired = lease
                    .spec
                    .as_ref()
                    .and_then(expiry)
                    .is_some_and(|e| e <= now());
                if expired {
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}
