//! Restart building blocks: the options of a restart, what a restart
//! did, the pods of a workload, and the by-hand replacement of `OnDelete`
//! workloads' pods, the kubectl way. The scheduling (a sliding window of
//! rollouts) is in [`crate::window`].
//!
//! `OnDelete` workloads do not replace pods on a template change: their
//! pods are deleted one at a time, each replacement waited for until Ready.
//! A pod whose native-sidecar proxy is held in Init (the host's
//! [`NOT_READY_KEY`](crate::mesh::NOT_READY_KEY)) fails the wait at once,
//! named with its reason: waiting out the deadline would not help it.

use crate::error::{CallContext, RotorError};
use crate::gate::{Check, HostClock, POLL_SECONDS, wait_for};
use std::collections::BTreeSet;

use crate::mesh::{self, Kind, WorkloadId, held_in_init, owner_id, pod_name, pods_held_in_init};
use crate::pods::{self, PodSummary};
use crate::workloads::Workload;

/// How to restart a selection.
#[derive(Debug, Clone)]
pub struct RestartOptions {
    /// Rollouts running at once (at least 1).
    pub parallelism: usize,
    /// Rollouts running at once in one namespace (0: only `parallelism`).
    pub per_namespace: usize,
    /// Seconds one rollout may take, from its restart.
    pub rollout_timeout: u32,
    /// Seconds one replacement pod of an `OnDelete` workload may take.
    pub pod_timeout: u32,
    /// Issue the restarts (the host records them) but wait for nothing.
    pub dry_run: bool,
    /// The gate's name in failure messages.
    pub gate: String,
}

/// One workload restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarted {
    pub id: WorkloadId,
    /// The `restartedAt` time the host wrote.
    pub at: i64,
    /// Pods deleted by hand (`OnDelete` workloads).
    pub pods_deleted: usize,
}

/// The workload's own pods (selector match, owner checked).
pub fn workload_pods(w: &Workload) -> Result<Vec<PodSummary>, RotorError> {
    let id = WorkloadId::of(w);
    let pods = mesh::list_pods(Some(&w.namespace), &w.selector)?;
    Ok(pods.into_iter().filter(|p| owned_by(p, &id)).collect())
}

fn owned_by(pod: &PodSummary, id: &WorkloadId) -> bool {
    owner_id(pod).as_ref() == Some(id)
}

/// Pods that started before `since` (or never reported a start).
pub fn started_before(pods: &[PodSummary], since: i64) -> Vec<&PodSummary> {
    pods.iter()
        .filter(|p| p.start_time.is_none_or(|t| t < since))
        .collect()
}

/// Whether `deleted` (deleted at `deleted_at`) has a Ready replacement among
/// `pods`: same name for a StatefulSet, same node for a DaemonSet.
pub fn replacement_check(
    kind: Kind,
    pods: &[PodSummary],
    deleted: &PodSummary,
    deleted_at: i64,
) -> Check<()> {
    let fresh = |p: &&PodSummary| p.start_time.is_some_and(|t| t >= deleted_at);
    let candidate = pods.iter().filter(fresh).find(|p| match kind {
        Kind::DaemonSet => p.node_name == deleted.node_name,
        Kind::StatefulSet | Kind::Deployment => p.name == deleted.name,
    });
    match candidate {
        Some(p) if p.ready => Check::Pass(()),
        Some(p) if let Some(why) = held_in_init(p) => Check::Fail(format!(
            "replacement {} for deleted pod {}: {why}",
            pod_name(p),
            pod_name(deleted)
        )),
        Some(p) => Check::Pending(format!(
            "replacement {} for deleted pod {} is not Ready (phase {})",
            pod_name(p),
            pod_name(deleted),
            p.phase
        )),
        None => Check::Pending(format!(
            "no replacement yet for deleted pod {}",
            pod_name(deleted)
        )),
    }
}

/// Delete the pods of an `OnDelete` workload that predate `since`, one at a
/// time, waiting for each replacement to be Ready. Returns how many.
pub(crate) fn replace_pods_one_by_one(
    w: &Workload,
    since: i64,
    opts: &RestartOptions,
) -> Result<usize, RotorError> {
    let id = WorkloadId::of(w);
    let pods = workload_pods(w)?;
    let stale: Vec<PodSummary> = started_before(&pods, since).into_iter().cloned().collect();
    for pod in &stale {
        pods::delete_pod(&pod.namespace, &pod.name)
            .call(|| format!("delete pod {}", pod_name(pod)))?;
        crate::info(
            "deleted pod of OnDelete workload",
            &[("pod", &pod_name(pod)), ("workload", &id.to_string())],
        );
        if opts.dry_run {
            continue;
        }
        let deleted_at = crate::clock::now();
        wait_for(
            &HostClock,
            &opts.gate,
            opts.pod_timeout,
            POLL_SECONDS,
            || {
                Ok(replacement_check(
                    id.kind,
                    &workload_pods(w)?,
                    pod,
                    deleted_at,
                ))
            },
        )?;
    }
    Ok(stale.len())
}

/// What is wrong with a pod for a gate, if anything.
pub type PodProblem<'a> = &'a dyn Fn(&PodSummary) -> Option<String>;

/// Above this many namespaces a gate lists the selected pods of every
/// namespace in one call instead of one call per namespace: one API request
/// per poll instead of hundreds, at the price of also receiving the pods of
/// namespaces it does not check.
pub const NAMESPACES_PER_POLL: usize = 8;

/// Gate `gate`: wait until no pod of `targets` matching `selector` has a
/// problem. Returns the number of pods checked.
pub fn wait_pods(
    targets: &[Workload],
    selector: &str,
    gate: &str,
    timeout: u32,
    problem: PodProblem<'_>,
) -> Result<usize, RotorError> {
    // Borrowed keys: a poll of a large mesh checks every pod's owner.
    let ids: BTreeSet<(Kind, &str, &str)> = targets
        .iter()
        .map(|w| (w.kind.into(), w.namespace.as_str(), w.name.as_str()))
        .collect();
    let targeted = |p: &PodSummary| {
        p.owner.as_ref().is_some_and(|o| {
            Kind::from_owner_kind(&o.kind)
                .is_some_and(|k| ids.contains(&(k, o.namespace.as_str(), o.name.as_str())))
        })
    };
    let namespaces: BTreeSet<&str> = targets.iter().map(|w| w.namespace.as_str()).collect();
    let scopes: Vec<Option<&str>> = if namespaces.len() > NAMESPACES_PER_POLL {
        vec![None]
    } else {
        namespaces.into_iter().map(Some).collect()
    };
    wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        let mut checked = 0;
        let mut bad = Vec::new();
        let mut held = Vec::new();
        for scope in &scopes {
            let pods = mesh::list_pods(*scope, selector)?;
            held.extend(pods_held_in_init(pods.iter().filter(|p| targeted(p))));
            for pod in pods.iter().filter(|p| targeted(p)) {
                checked += 1;
                if let Some(why) = problem(pod) {
                    bad.push(format!("{} ({why})", pod_name(pod)));
                }
            }
        }
        if !held.is_empty() {
            return Ok(Check::Fail(format!(
                "{} of {checked} pod(s) will not become Ready by waiting: {}",
                held.len(),
                first_few(&held)
            )));
        }
        Ok(pods_check(checked, bad))
    })
}

/// The first five of `items`, and how many more.
fn first_few(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    let more = if items.len() > shown.len() {
        format!(" and {} more", items.len() - shown.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Pass when nothing is wrong; otherwise name the first few pods.
pub fn pods_check(checked: usize, bad: Vec<String>) -> Check<usize> {
    if bad.is_empty() {
        return Check::Pass(checked);
    }
    Check::Pending(format!(
        "{} of {checked} pod(s) not as required: {}",
        bad.len(),
        first_few(&bad)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::tests::pod;

    #[test]
    fn only_older_pods_need_deleting() {
        let mut a = pod("db", "db-0", Some(("StatefulSet", "db")), true);
        a.start_time = Some(50);
        let mut b = pod("db", "db-1", Some(("StatefulSet", "db")), true);
        b.start_time = Some(200);
        let mut c = pod("db", "db-2", Some(("StatefulSet", "db")), true);
        c.start_time = None;
        let pods = vec![a, b, c];
        let names: Vec<&str> = started_before(&pods, 100)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["db-0", "db-2"]);
    }

    #[test]
    fn a_replacement_held_in_init_fails_at_once_naming_it() {
        let old = pod("db", "db-0", Some(("StatefulSet", "db")), true);
        let mut new = old.clone();
        new.start_time = Some(600);
        new.ready = false;
        new.phase = "Pending".into();
        let why = "proxy sidecar not ready in Init (startup probe failed; restarted 1 time)";
        new.annotations
            .push(crate::mesh::tests::kv(crate::mesh::NOT_READY_KEY, why));
        match replacement_check(Kind::StatefulSet, &[new.clone()], &old, 500) {
            Check::Fail(saw) => assert_eq!(
                saw,
                format!("replacement db/db-0 for deleted pod db/db-0: {why}")
            ),
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(
            pods_held_in_init([&old, &new]),
            vec![format!("db/db-0: {why}")]
        );
    }

    #[test]
    fn statefulset_replacement_has_the_same_name_and_is_ready() {
        let old = pod("db", "db-0", Some(("StatefulSet", "db")), true);
        assert!(matches!(
            replacement_check(Kind::StatefulSet, &[], &old, 500),
            Check::Pending(_)
        ));
        let mut new = old.clone();
        new.start_time = Some(505);
        new.ready = false;
        match replacement_check(Kind::StatefulSet, std::slice::from_ref(&new), &old, 500) {
            Check::Pending(s) => assert!(s.contains("not Ready"), "{s}"),
            other => panic!("{other:?}"),
        }
        new.ready = true;
        assert_eq!(
            replacement_check(Kind::StatefulSet, &[new], &old, 500),
            Check::Pass(())
        );
        // The deleted pod itself (started before) is no replacement.
        assert!(matches!(
            replacement_check(Kind::StatefulSet, std::slice::from_ref(&old), &old, 500),
            Check::Pending(_)
        ));
    }

    #[test]
    fn daemonset_replacement_is_on_the_same_node() {
        let old = pod("mon", "agent-abc", Some(("DaemonSet", "agent")), true);
        let mut elsewhere = pod("mon", "agent-xyz", Some(("DaemonSet", "agent")), true);
        elsewhere.start_time = Some(600);
        elsewhere.node_name = "node-2".into();
        assert!(matches!(
            replacement_check(Kind::DaemonSet, std::slice::from_ref(&elsewhere), &old, 500),
            Check::Pending(_)
        ));
        elsewhere.node_name = old.node_name.clone();
        assert_eq!(
            replacement_check(Kind::DaemonSet, &[elsewhere], &old, 500),
            Check::Pass(())
        );
    }

    #[test]
    fn pods_check_names_a_few() {
        assert_eq!(pods_check(3, vec![]), Check::Pass(3));
        let bad: Vec<String> = (0..7).map(|i| format!("ns/p{i} (old roots)")).collect();
        match pods_check(9, bad) {
            Check::Pending(s) => {
                assert!(
                    s.starts_with("7 of 9 pod(s) not as required: ns/p0 (old roots)"),
                    "{s}"
                );
                assert!(s.ends_with("and 2 more"), "{s}");
            }
            other => panic!("{other:?}"),
        }
    }
}
