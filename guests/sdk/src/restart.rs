//! Restart workloads in waves and wait for each rollout, the kubectl way.
//!
//! A wave restarts up to `parallelism` workloads at once, then waits for
//! every rollout in it before the next wave starts. `OnDelete` workloads do
//! not replace pods on a template change: their pods are deleted one at a
//! time, each replacement waited for until Ready.
//!
//! Each wave is announced with a log line carrying `progress=wave` (wave,
//! waves, size, done, total, workloads), and a rollout still going after a
//! minute is reported like a waiting gate (`progress=gate`), so `rotor run`
//! shows how far the restarts have come.
//!
//! A pod whose native-sidecar proxy is held in Init (the host's
//! [`NOT_READY_KEY`](crate::mesh::NOT_READY_KEY)) fails the wait at once,
//! named with its reason: waiting out the deadline would not help it.

use crate::error::{CallContext, GateError, RotorError};
use crate::gate::{
    Check, Clock, HostClock, POLL_SECONDS, REPORT_SECONDS, report_done, report_waiting,
    seconds_until, wait_for,
};
use std::collections::BTreeSet;

use crate::mesh::{self, Kind, WorkloadId, held_in_init, owner_id, pod_name, pods_held_in_init};
use crate::pods::{self, PodSummary};
use crate::workloads::{self, RolloutPhase, UpdateStrategy, Workload};

/// How to restart a selection.
#[derive(Debug, Clone)]
pub struct WaveOptions {
    /// Workloads restarted at once (at least 1).
    pub parallelism: usize,
    /// Seconds a wave's rollouts may take, from the wave's start.
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

/// The waves `targets` are restarted in, in order.
pub fn waves<T>(targets: &[T], parallelism: usize) -> std::slice::Chunks<'_, T> {
    targets.chunks(parallelism.max(1))
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
fn replace_pods_one_by_one(
    w: &Workload,
    since: i64,
    opts: &WaveOptions,
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

/// The `progress=wave` fields of wave `index` (from 1) of `count`, with
/// `done` of `total` workloads restarted before it.
pub fn wave_fields(
    index: usize,
    count: usize,
    wave: &[Workload],
    done: usize,
    total: usize,
) -> Vec<(&'static str, String)> {
    let ids: Vec<String> = wave.iter().map(|w| WorkloadId::of(w).to_string()).collect();
    let shown = ids.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    let more = ids.len().saturating_sub(3);
    let workloads = if more > 0 {
        format!("{shown} and {more} more")
    } else {
        shown
    };
    vec![
        ("progress", "wave".to_string()),
        ("wave", index.to_string()),
        ("waves", count.to_string()),
        ("size", wave.len().to_string()),
        ("done", done.to_string()),
        ("total", total.to_string()),
        ("workloads", workloads),
    ]
}

/// Wait for `w`'s rollout until `deadline`, a minute at a time, reporting
/// each minute it is still going as gate `gate` (waited from `since`).
fn wait_rollout_reporting(
    clock: &dyn Clock,
    w: &Workload,
    gate: &str,
    since: i64,
    deadline: i64,
    timeout: u32,
) -> Result<workloads::RolloutStatus, RotorError> {
    let id = WorkloadId::of(w);
    let mut reported = false;
    loop {
        let left = seconds_until(clock, deadline);
        let chunk = left.min(REPORT_SECONDS as u32);
        let status = workloads::wait_rollout(w.kind, &w.namespace, &w.name, chunk)
            .call(|| format!("wait for rollout of {id}"))?;
        let waited = clock.now() - since;
        let held = if status.phase == RolloutPhase::Progressing {
            pods_held_in_init(&workload_pods(w)?)
        } else {
            Vec::new()
        };
        if !held.is_empty() {
            if reported {
                report_done(clock, gate, waited, "failed");
            }
            return Ok(workloads::RolloutStatus {
                phase: RolloutPhase::Failed,
                message: held.join(", "),
            });
        }
        if status.phase != RolloutPhase::Progressing || chunk >= left {
            if reported {
                let outcome = match status.phase {
                    RolloutPhase::Complete => "passed",
                    RolloutPhase::Failed => "failed",
                    RolloutPhase::Progressing => "timed-out",
                };
                report_done(clock, gate, waited, outcome);
            }
            return Ok(status);
        }
        report_waiting(clock, gate, waited, timeout, &status.message);
        reported = true;
    }
}

/// Restart `targets` in waves; stop after the first wave with a failure.
pub fn restart_in_waves(
    targets: &[Workload],
    opts: &WaveOptions,
) -> Result<Vec<Restarted>, RotorError> {
    let clock = HostClock;
    let mut done = Vec::new();
    let count = waves(targets, opts.parallelism).len();
    for (i, wave) in waves(targets, opts.parallelism).enumerate() {
        let fields = wave_fields(i + 1, count, wave, done.len(), targets.len());
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::info(&format!("wave {} of {count}", i + 1), &pairs);
        let wave_start = clock.now();
        let mut failures = Vec::new();
        let mut started = Vec::new();
        for w in wave {
            let id = WorkloadId::of(w);
            match workloads::restart_workload(w.kind, &w.namespace, &w.name)
                .call(|| format!("restart {id}"))
            {
                Ok(at) => {
                    crate::info("restarted", &[("workload", &id.to_string())]);
                    started.push((w, id, at));
                }
                Err(e) => failures.push(format!("{id}: {e}")),
            }
        }
        let deadline = wave_start + i64::from(opts.rollout_timeout);
        for (w, id, at) in started {
            let pods_deleted = if w.strategy == UpdateStrategy::OnDelete {
                match replace_pods_one_by_one(w, at, opts) {
                    Ok(n) => n,
                    Err(e) => {
                        failures.push(format!("{id}: {e}"));
                        continue;
                    }
                }
            } else {
                if !opts.dry_run {
                    let status = wait_rollout_reporting(
                        &clock,
                        w,
                        &opts.gate,
                        wave_start,
                        deadline,
                        opts.rollout_timeout,
                    )?;
                    match status.phase {
                        RolloutPhase::Complete => {}
                        RolloutPhase::Failed => {
                            failures.push(format!("{id} failed: {}", status.message));
                            continue;
                        }
                        RolloutPhase::Progressing => {
                            failures.push(format!("{id} not complete: {}", status.message));
                            continue;
                        }
                    }
                }
                0
            };
            done.push(Restarted {
                id,
                at,
                pods_deleted,
            });
        }
        if !failures.is_empty() {
            let total = wave.len();
            return Err(GateError {
                gate: opts.gate.clone(),
                waited: clock.now() - wave_start,
                saw: format!(
                    "{} of {total} workload(s) in the wave did not roll out: {}",
                    failures.len(),
                    failures.join("; ")
                ),
                timed_out: false,
            }
            .into());
        }
    }
    Ok(done)
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
    fn waves_respect_parallelism() {
        let items: Vec<u32> = (0..7).collect();
        let sizes: Vec<usize> = waves(&items, 3).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![3, 3, 1]);
        assert_eq!(
            waves(&items, 0).count(),
            7,
            "parallelism 0 means one at a time"
        );
    }

    #[test]
    fn a_wave_names_its_place_and_a_few_workloads() {
        use crate::mesh::tests::workload;
        let wave: Vec<Workload> = (0..5)
            .map(|i| workload(crate::WorkloadKind::Deployment, "shop", &format!("w{i}")))
            .collect();
        let fields = wave_fields(2, 4, &wave, 5, 17);
        let get = |k: &str| fields.iter().find(|(f, _)| *f == k).unwrap().1.clone();
        assert_eq!(get("progress"), "wave");
        assert_eq!((get("wave"), get("waves")), ("2".into(), "4".into()));
        assert_eq!(
            (get("done"), get("total"), get("size")),
            ("5".into(), "17".into(), "5".into())
        );
        assert_eq!(
            get("workloads"),
            "deployment shop/w0, deployment shop/w1, deployment shop/w2 and 2 more"
        );
    }

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
