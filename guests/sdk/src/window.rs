//! Restart workloads through a sliding window: up to `parallelism`
//! rollouts run at once, and the next restart starts as soon as one of
//! them finishes. Lock-step waves waited for their slowest member before
//! starting anything; the window keeps `parallelism` rollouts going until
//! the list runs out. One `wait-rollouts` call waits on the whole window,
//! so the host watches per kind and namespace, not per workload.
//!
//! Each batch of restarts is announced with a log line carrying
//! `progress=window` (started, running, done, total, workloads), and the
//! window is reported like a waiting gate (`progress=gate`) each minute, so
//! `rotor run` shows how far the restarts have come.
//!
//! A workload whose rollout fails stops new restarts; the ones running
//! are waited for, and the failures are reported together. `OnDelete`
//! workloads are replaced pod by pod when their turn comes (see
//! [`replace_pods_one_by_one`]), holding the window meanwhile: their pods
//! must be deleted by hand, one at a time.

use crate::error::{CallContext, GateError, RotorError};
use crate::gate::{Clock, HostClock, REPORT_SECONDS, report_done, report_waiting, seconds_until};
use crate::mesh::{WorkloadId, pods_held_in_init};
use crate::restart::{RestartOptions, Restarted, replace_pods_one_by_one, workload_pods};
use crate::workloads::{self, RolloutPhase, RolloutStatus, UpdateStrategy, Workload, WorkloadRef};

/// The widest window: the host takes at most this many workloads in one
/// `wait-rollouts` call, so a larger `parallelism` runs as this.
pub const MAX_WINDOW: usize = 1000;

/// A rollout the window is waiting on.
struct Running<'a> {
    workload: &'a Workload,
    id: WorkloadId,
    /// The `restartedAt` time the host wrote.
    at: i64,
    /// When its rollout counts as not complete.
    deadline: i64,
    /// When its pods were last checked for a proxy held in Init.
    checked: i64,
}

/// The `progress=window` fields of a batch of `started` restarts, with
/// `running` rollouts in the window and `done` of `total` finished.
pub fn window_fields(
    started: &[&Workload],
    running: usize,
    done: usize,
    total: usize,
) -> Vec<(&'static str, String)> {
    let ids: Vec<String> = started
        .iter()
        .map(|w| WorkloadId::of(w).to_string())
        .collect();
    let shown = ids.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    let more = ids.len().saturating_sub(3);
    let workloads = if more > 0 {
        format!("{shown} and {more} more")
    } else {
        shown
    };
    vec![
        ("progress", "window".to_string()),
        ("started", started.len().to_string()),
        ("running", running.to_string()),
        ("done", done.to_string()),
        ("total", total.to_string()),
        ("workloads", workloads),
    ]
}

fn reference(w: &Workload) -> WorkloadRef {
    WorkloadRef {
        kind: w.kind,
        namespace: w.namespace.clone(),
        name: w.name.clone(),
    }
}

/// The targets not started yet, taken in order, skipping those of a
/// namespace that already has `per_namespace` rollouts in the window (a
/// namespace is usually one team's application under one ResourceQuota:
/// every rollout there surges pods against the same quota and restarts
/// services that call one another).
struct Queue<'a> {
    pending: Vec<Option<&'a Workload>>,
    /// Every entry before it has been taken.
    first: usize,
    per_namespace: usize,
}

impl<'a> Queue<'a> {
    fn new(targets: &'a [Workload], per_namespace: usize) -> Self {
        Queue {
            pending: targets.iter().map(Some).collect(),
            first: 0,
            per_namespace,
        }
    }

    /// The next target whose namespace has room, given what is running.
    fn next(&mut self, running: &[Running<'_>]) -> Option<&'a Workload> {
        while self.pending.get(self.first).is_some_and(Option::is_none) {
            self.first += 1;
        }
        let full = |ns: &str| {
            self.per_namespace > 0
                && running
                    .iter()
                    .filter(|r| r.workload.namespace == ns)
                    .count()
                    >= self.per_namespace
        };
        let mut skipped: Vec<&str> = Vec::new();
        for slot in self.pending.iter_mut().skip(self.first) {
            let Some(w) = *slot else { continue };
            if skipped.contains(&w.namespace.as_str()) {
                continue;
            }
            if full(&w.namespace) {
                skipped.push(&w.namespace);
                continue;
            }
            *slot = None;
            return Some(w);
        }
        None
    }
}

/// Restart `targets` in order, at most `opts.parallelism` rolling out at
/// once and at most `opts.per_namespace` in one namespace; each rollout
/// may take `opts.rollout_timeout` seconds from its restart. Stops
/// starting new ones after the first failure.
pub fn restart_in_window(
    targets: &[Workload],
    opts: &RestartOptions,
) -> Result<Vec<Restarted>, RotorError> {
    let clock = HostClock;
    let start = clock.now();
    let width = opts.parallelism.clamp(1, MAX_WINDOW);
    let mut done: Vec<Restarted> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut running: Vec<Running<'_>> = Vec::new();
    let mut queue = Queue::new(targets, opts.per_namespace);
    let mut reported_at: Option<i64> = None;
    loop {
        let mut started: Vec<&Workload> = Vec::new();
        while failures.is_empty() && running.len() < width {
            let Some(w) = queue.next(&running) else {
                break;
            };
            let id = WorkloadId::of(w);
            let at = match workloads::restart_workload(w.kind, &w.namespace, &w.name)
                .call(|| format!("restart {id}"))
            {
                Ok(at) => at,
                Err(e) => {
                    failures.push(format!("{id}: {e}"));
                    continue;
                }
            };
            crate::info("restarted", &[("workload", &id.to_string())]);
            if w.strategy == UpdateStrategy::OnDelete {
                match replace_pods_one_by_one(w, at, opts) {
                    Ok(pods_deleted) => done.push(Restarted {
                        id,
                        at,
                        pods_deleted,
                    }),
                    Err(e) => failures.push(format!("{id}: {e}")),
                }
            } else if opts.dry_run {
                done.push(Restarted {
                    id,
                    at,
                    pods_deleted: 0,
                });
            } else {
                let now = clock.now();
                started.push(w);
                running.push(Running {
                    workload: w,
                    id,
                    at,
                    deadline: now + i64::from(opts.rollout_timeout),
                    checked: now,
                });
            }
        }
        if !started.is_empty() {
            let fields = window_fields(&started, running.len(), done.len(), targets.len());
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            crate::info(&format!("restarting {} workload(s)", started.len()), &pairs);
        }
        if running.is_empty() {
            break;
        }
        running = wait_window(&clock, running, &mut done, &mut failures)?;
        let now = clock.now();
        if !running.is_empty() && now - reported_at.unwrap_or(start) >= REPORT_SECONDS {
            let oldest = running[0].workload;
            let status =
                workloads::get_rollout_status(oldest.kind, &oldest.namespace, &oldest.name)
                    .call(|| format!("rollout status of {}", running[0].id))?;
            let saw = format!(
                "{} rolling out, {} of {} done; {}: {}",
                running.len(),
                done.len(),
                targets.len(),
                running[0].id,
                status.message
            );
            report_waiting(&clock, &opts.gate, now - start, opts.rollout_timeout, &saw);
            reported_at = Some(now);
        }
    }
    let waited = clock.now() - start;
    if reported_at.is_some() {
        let outcome = if failures.is_empty() {
            "passed"
        } else {
            "failed"
        };
        report_done(&clock, &opts.gate, waited, outcome);
    }
    if !failures.is_empty() {
        return Err(GateError {
            gate: opts.gate.clone(),
            waited,
            saw: format!(
                "{} of {} workload(s) did not roll out: {}",
                failures.len(),
                targets.len(),
                failures.join("; ")
            ),
            timed_out: false,
        }
        .into());
    }
    Ok(done)
}

/// One wait on the window: until a rollout finishes, the earliest deadline,
/// or a minute. Returns what still runs; finished ones go to `done` or
/// `failures`. A rollout whose pods hold a proxy in Init fails at once
/// (checked once a minute per rollout): waiting would not help it.
fn wait_window<'a>(
    clock: &dyn Clock,
    running: Vec<Running<'a>>,
    done: &mut Vec<Restarted>,
    failures: &mut Vec<String>,
) -> Result<Vec<Running<'a>>, RotorError> {
    let earliest = running.iter().map(|r| r.deadline).min().unwrap_or(0);
    let chunk = seconds_until(clock, earliest).min(REPORT_SECONDS as u32);
    let refs: Vec<WorkloadRef> = running.iter().map(|r| reference(r.workload)).collect();
    let outcomes = workloads::wait_rollouts(&refs, chunk)
        .call(|| format!("wait for {} rollout(s)", refs.len()))?;
    let mut finished: Vec<Option<RolloutStatus>> = vec![None; running.len()];
    for o in outcomes {
        if let Some(slot) = finished.get_mut(o.index as usize) {
            *slot = Some(o.status);
        }
    }
    let now = clock.now();
    let mut still = Vec::with_capacity(running.len());
    for (mut r, status) in running.into_iter().zip(finished) {
        match status {
            Some(s) if s.phase == RolloutPhase::Complete => done.push(Restarted {
                id: r.id,
                at: r.at,
                pods_deleted: 0,
            }),
            Some(s) => failures.push(format!("{} failed: {}", r.id, s.message)),
            None if now >= r.deadline => {
                let w = r.workload;
                let s = workloads::get_rollout_status(w.kind, &w.namespace, &w.name)
                    .call(|| format!("rollout status of {}", r.id))?;
                failures.push(format!("{} not complete: {}", r.id, s.message));
            }
            None => {
                if now - r.checked >= REPORT_SECONDS {
                    r.checked = now;
                    let held = pods_held_in_init(&workload_pods(r.workload)?);
                    if !held.is_empty() {
                        failures.push(format!("{} failed: {}", r.id, held.join(", ")));
                        continue;
                    }
                }
                still.push(r);
            }
        }
    }
    Ok(still)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_names_its_place_and_a_few_workloads() {
        use crate::mesh::tests::workload;
        let batch: Vec<Workload> = (0..5)
            .map(|i| workload(crate::WorkloadKind::Deployment, "shop", &format!("w{i}")))
            .collect();
        let refs: Vec<&Workload> = batch.iter().collect();
        let fields = window_fields(&refs, 12, 5, 17);
        let get = |k: &str| fields.iter().find(|(f, _)| *f == k).unwrap().1.clone();
        assert_eq!(get("progress"), "window");
        assert_eq!(
            (get("started"), get("running"), get("done"), get("total")),
            ("5".into(), "12".into(), "5".into(), "17".into())
        );
        assert_eq!(
            get("workloads"),
            "deployment shop/w0, deployment shop/w1, deployment shop/w2 and 2 more"
        );
    }
}
