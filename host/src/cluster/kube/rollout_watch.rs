//! `wait-rollouts`: one wait over a window of rollouts.
//!
//! A sliding window of restarts asks "has any of these finished?" once per
//! finished rollout. Opening a watch per workload on every such call would
//! cost a request per workload in the window per call; instead the backend
//! keeps one watch per kind and namespace open from one call to the next
//! (per kind across the cluster when the window spans more than
//! [`NAMESPACES_PER_WATCH`] namespaces and the run may read them all), and
//! judges each workload from the newest object its watch delivered. A
//! rotation then costs about one request per restart plus a few watches.
//!
//! A watch may deliver an event from before rotor's own restart patch. The
//! patch's answer recorded the new generation (`KubeCluster::remember`), and
//! an object older than it reads as "spec update not yet observed", so a
//! stale event never reads as a finished rollout.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::future::{FutureExt, select_all};
use futures::stream::{BoxStream, Peekable};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{WatchEvent, WatchParams};
use std::pin::Pin;

use super::workloads::{
    Seen, WATCH_SECONDS, api, from_daemon_set, from_deployment, from_stateful_set, resource,
};
use super::{KubeCluster, check_name, qualified, rollout};
use crate::cluster::{ClusterError, ClusterResult, finished};
use crate::wit::{
    RolloutOutcome, RolloutPhase, RolloutStatus, Workload, WorkloadKind, WorkloadRef,
};

/// Above this many namespaces of one kind in a window, watch the kind
/// across the cluster (when every namespace is readable): one stream
/// instead of one per namespace.
pub const NAMESPACES_PER_WATCH: usize = 8;

/// How long a fresh watch may stay silent about a workload before rotor
/// reads that workload once: the server sends every existing object as
/// ADDED when a watch opens, so silence means the object is missing.
const FIRST_EVENT_SECONDS: u64 = 5;

/// What one watch covers: a kind in one namespace, or in all (`None`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Scope {
    kind: &'static str,
    namespace: Option<String>,
}

/// One watch event, reduced to what the window needs.
enum Update {
    Object(Seen),
    Deleted {
        namespace: String,
        name: String,
    },
    Bookmark(String),
    /// The server ended the watch with an error (410 Gone: start afresh).
    Expired,
}

/// Peekable, so waiting for the next event does not consume it.
type Updates = Peekable<BoxStream<'static, Result<Update, kube::Error>>>;

/// One open watch and the newest object of each workload it delivered.
struct ScopeWatch {
    stream: Option<Updates>,
    /// Where to resume; "0" asks for the current state as ADDED events.
    resource_version: String,
    /// (namespace, name) -> the newest record and whether the Deployment
    /// exceeded its progress deadline.
    objects: HashMap<(String, String), (Workload, bool)>,
    failures: u32,
}

/// The watches `wait-rollouts` keeps open between calls.
#[derive(Default)]
pub struct RolloutWatches {
    scopes: BTreeMap<Scope, ScopeWatch>,
}

impl RolloutWatches {
    /// The scope that covers `t`, preferring a cluster-wide watch already
    /// open for its kind.
    fn scope_of(&self, t: &WorkloadRef, wide: &BTreeSet<&'static str>) -> Scope {
        let kind = t.kind.as_kind();
        if wide.contains(kind) {
            Scope {
                kind,
                namespace: None,
            }
        } else {
            Scope {
                kind,
                namespace: Some(t.namespace.clone()),
            }
        }
    }

    /// The kinds to watch across the cluster for `targets`.
    fn wide_kinds(&self, targets: &[WorkloadRef], cluster_wide: bool) -> BTreeSet<&'static str> {
        if !cluster_wide {
            return BTreeSet::new();
        }
        let mut namespaces: BTreeMap<&'static str, BTreeSet<&str>> = BTreeMap::new();
        for t in targets {
            namespaces
                .entry(t.kind.as_kind())
                .or_default()
                .insert(&t.namespace);
        }
        namespaces
            .into_iter()
            .filter(|(kind, ns)| {
                let open = self.scopes.contains_key(&Scope {
                    kind,
                    namespace: None,
                });
                open || ns.len() > NAMESPACES_PER_WATCH
            })
            .map(|(kind, _)| kind)
            .collect()
    }
}

fn kind_of(kind: &'static str) -> WorkloadKind {
    WorkloadKind::from_kind(kind).unwrap_or(WorkloadKind::Deployment)
}

impl KubeCluster {
    /// Until one of `targets` is complete or failed, or `timeout_seconds`
    /// pass; those no longer progressing, by position.
    pub(super) async fn watch_rollouts(
        &self,
        targets: &[WorkloadRef],
        timeout_seconds: u32,
        cluster_wide: bool,
    ) -> ClusterResult<Vec<RolloutOutcome>> {
        for t in targets {
            check_name("namespace", &t.namespace)?;
            check_name(resource(t.kind), &t.name)?;
        }
        let mut watches = self.rollout_watches.lock().await;
        let wide = watches.wide_kinds(targets, cluster_wide);
        let scopes: Vec<Scope> = targets.iter().map(|t| watches.scope_of(t, &wide)).collect();
        // Close what no workload of this window needs.
        let needed: BTreeSet<&Scope> = scopes.iter().collect();
        watches.scopes.retain(|s, _| needed.contains(s));
        let sleep = self.clock.sleep(timeout_seconds).fuse();
        futures::pin_mut!(sleep);
        let opened = tokio::time::Instant::now();
        let mut read_once: BTreeSet<usize> = BTreeSet::new();
        loop {
            for scope in &needed {
                self.ensure_open(&mut watches, scope).await?;
            }
            drain(&mut watches, targets, &scopes)?;
            let mut statuses = Vec::with_capacity(targets.len());
            let mut missing = Vec::new();
            for (i, (t, scope)) in targets.iter().zip(&scopes).enumerate() {
                match self.status_of(&watches, t, scope)? {
                    Some(s) => statuses.push(s),
                    None => {
                        missing.push(i);
                        statuses.push(RolloutStatus {
                            phase: RolloutPhase::Progressing,
                            message: format!(
                                "waiting for the watch to report {} {}",
                                resource(t.kind),
                                qualified(&t.namespace, &t.name)
                            ),
                        });
                    }
                }
            }
            let done = finished(statuses);
            if !done.is_empty() {
                return Ok(done);
            }
            // A workload the watches stay silent about is read once: it
            // may not exist (the read says so) or its event is late.
            if opened.elapsed() >= Duration::from_secs(FIRST_EVENT_SECONDS) {
                for i in missing {
                    if read_once.insert(i) {
                        let t = &targets[i];
                        let (w, exceeded) = self.workload(t.kind, &t.namespace, &t.name).await?;
                        if let Some(watch) = watches.scopes.get_mut(&scopes[i]) {
                            watch
                                .objects
                                .insert((t.namespace.clone(), t.name.clone()), (w, exceeded));
                        }
                    }
                }
            }
            let first_event_wait = Duration::from_secs(FIRST_EVENT_SECONDS)
                .saturating_sub(opened.elapsed())
                .max(Duration::from_millis(100));
            tokio::select! {
                _ = &mut sleep => return Ok(Vec::new()),
                () = next_event(&mut watches) => {}
                () = tokio::time::sleep(first_event_wait) => {}
            }
        }
    }

    /// The status of `t` from its watch's newest object; `None` when the
    /// watch has not reported it.
    fn status_of(
        &self,
        watches: &RolloutWatches,
        t: &WorkloadRef,
        scope: &Scope,
    ) -> ClusterResult<Option<RolloutStatus>> {
        let Some((w, exceeded)) = watches
            .scopes
            .get(scope)
            .and_then(|s| s.objects.get(&(t.namespace.clone(), t.name.clone())))
        else {
            return Ok(None);
        };
        let newest = self
            .seen
            .lock()
            .ok()
            .and_then(|m| {
                m.get(&(t.kind.as_kind(), t.namespace.clone(), t.name.clone()))
                    .map(|(_, _, g)| *g)
            })
            .unwrap_or(w.generation);
        if w.generation < newest {
            return Ok(Some(RolloutStatus {
                phase: RolloutPhase::Progressing,
                message: format!(
                    "Waiting for {} spec update to be observed...",
                    resource(t.kind)
                ),
            }));
        }
        rollout::rollout_status(w, *exceeded).map(Some)
    }

    /// Open (or reopen where it stopped) the watch of `scope`.
    async fn ensure_open(&self, watches: &mut RolloutWatches, scope: &Scope) -> ClusterResult<()> {
        let watch = watches
            .scopes
            .entry(scope.clone())
            .or_insert_with(|| ScopeWatch {
                stream: None,
                resource_version: "0".into(),
                objects: HashMap::new(),
                failures: 0,
            });
        if watch.stream.is_some() {
            return Ok(());
        }
        let what = match &scope.namespace {
            Some(ns) => format!("watch {}s in {ns}", resource(kind_of(scope.kind))),
            None => format!("watch {}s in all namespaces", resource(kind_of(scope.kind))),
        };
        let wp = WatchParams::default().timeout(WATCH_SECONDS);
        let ns = scope.namespace.as_deref();
        let rv = watch.resource_version.clone();
        let opened = match kind_of(scope.kind) {
            WorkloadKind::Deployment => {
                self.open::<Deployment>(ns, &wp, &rv, from_deployment, &what)
                    .await
            }
            WorkloadKind::StatefulSet => {
                self.open::<StatefulSet>(ns, &wp, &rv, from_stateful_set, &what)
                    .await
            }
            WorkloadKind::DaemonSet => {
                self.open::<DaemonSet>(ns, &wp, &rv, from_daemon_set, &what)
                    .await
            }
        };
        match opened {
            Ok(s) => {
                watch.stream = Some(s);
                Ok(())
            }
            Err(e) if e.is_transient() && watch.failures < self.retry.max_retries as u32 => {
                watch.failures += 1;
                tokio::time::sleep(self.retry.min_delay * 2u32.pow(watch.failures)).await;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn open<K>(
        &self,
        namespace: Option<&str>,
        wp: &WatchParams,
        rv: &str,
        seen: fn(&K) -> Seen,
        what: &str,
    ) -> ClusterResult<Updates>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + Send
            + 'static,
        <K as kube::Resource>::DynamicType: Default,
    {
        let api = api::<K>(&self.client, namespace);
        let stream = self.retry.run(what, || api.watch(wp, rv)).await?;
        Ok(stream
            .map_ok(move |ev| match ev {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => Update::Object(seen(&o)),
                WatchEvent::Deleted(o) => Update::Deleted {
                    namespace: o.meta().namespace.clone().unwrap_or_default(),
                    name: o.meta().name.clone().unwrap_or_default(),
                },
                WatchEvent::Bookmark(b) => Update::Bookmark(b.metadata.resource_version),
                WatchEvent::Error(_) => Update::Expired,
            })
            .boxed()
            .peekable())
    }
}

/// Apply every event already delivered, without waiting. A target deleted
/// while waited for is an error, as with one rollout.
fn drain(
    watches: &mut RolloutWatches,
    targets: &[WorkloadRef],
    scopes: &[Scope],
) -> ClusterResult<()> {
    for (scope, watch) in &mut watches.scopes {
        while let Some(stream) = watch.stream.as_mut() {
            let Some(next) = stream.next().now_or_never() else {
                break;
            };
            if let Some((namespace, name)) = apply(watch, next) {
                let target = targets
                    .iter()
                    .zip(scopes)
                    .find(|(t, s)| *s == scope && t.namespace == namespace && t.name == name);
                if let Some((t, _)) = target {
                    return Err(ClusterError::NotFound(format!(
                        "{} {} was deleted while waiting for its rollout",
                        resource(t.kind),
                        qualified(&t.namespace, &t.name)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Apply one poll of a stream; returns the workload a DELETED event named.
fn apply(
    watch: &mut ScopeWatch,
    next: Option<Result<Update, kube::Error>>,
) -> Option<(String, String)> {
    match next {
        None => watch.stream = None,
        Some(Err(e)) => {
            tracing::debug!(error = %e, "rollout watch broke; reopening");
            watch.stream = None;
        }
        Some(Ok(Update::Object((w, exceeded, rv)))) => {
            watch.failures = 0;
            watch.resource_version = rv;
            watch
                .objects
                .insert((w.namespace.clone(), w.name.clone()), (w, exceeded));
        }
        Some(Ok(Update::Deleted { namespace, name })) => {
            watch.objects.remove(&(namespace.clone(), name.clone()));
            return Some((namespace, name));
        }
        Some(Ok(Update::Bookmark(rv))) => watch.resource_version = rv,
        Some(Ok(Update::Expired)) => {
            watch.stream = None;
            watch.resource_version = "0".into();
            watch.objects.clear();
        }
    }
    None
}

/// Until any open watch has something to deliver (or ends). Pending
/// forever when none is open, so the caller's other branches decide.
async fn next_event(watches: &mut RolloutWatches) {
    let ready: Vec<_> = watches
        .scopes
        .values_mut()
        .filter_map(|w| w.stream.as_mut())
        .map(|s| {
            futures::future::poll_fn(move |cx| Pin::new(&mut *s).poll_peek(cx).map(|_| ())).boxed()
        })
        .collect();
    if ready.is_empty() {
        return futures::future::pending().await;
    }
    select_all(ready).await;
}
