//! Restarting meshed pods whose owner rotor does not restart: pods of a
//! custom controller (an Argo Rollout, a StrimziPodSet, an operator of
//! one's own) and bare pods. An Argo Rollout or a StrimziPodSet can be
//! asked to restart its pods its own way (`restart-owner`), and rotor then
//! waits for the result; any other controller's pods are deleted one at a
//! time, the controller replacing each, a Ready replacement before the
//! next. A bare pod has no controller: deleting it removes it for good.

use crate::ObjectRef;
use crate::bindings::rotor::policy::workloads;
use crate::error::{CallContext, RotorError};
use crate::gate::{Check, HostClock, POLL_SECONDS, wait_for};
use crate::mesh::{self, held_in_init, pod_name};
use crate::pods::{self, PodSummary};
use crate::restart::PodProblem;

/// How to wait for each deleted pod.
pub struct DeleteOptions<'a> {
    /// The gate's name in failure messages.
    pub gate: &'a str,
    /// Seconds one replacement (or one disappearance) may take.
    pub pod_timeout: u32,
    /// The label selector of meshed pods (see [`mesh::mesh_selector`]).
    pub selector: &'a str,
    /// Delete (the host records it) but wait for nothing.
    pub dry_run: bool,
}

/// `Kind namespace/name` of an owner.
pub fn owner_text(owner: &ObjectRef) -> String {
    format!("{} {}/{}", owner.kind, owner.namespace, owner.name)
}

fn owned_by(pod: &PodSummary, owner: &ObjectRef) -> bool {
    pod.owner
        .as_ref()
        .is_some_and(|o| o.kind == owner.kind && o.name == owner.name)
}

/// The pods of `owner`; `Err` naming the first one its proxy sidecar holds
/// in Init (waiting does not fix it).
fn owned_pods<'p>(
    pods: &'p [PodSummary],
    owner: &ObjectRef,
) -> Result<Vec<&'p PodSummary>, String> {
    let mine: Vec<&PodSummary> = pods.iter().filter(|p| owned_by(p, owner)).collect();
    match mine
        .iter()
        .find_map(|p| held_in_init(p).map(|why| (p, why)))
    {
        Some((p, why)) => Err(format!(
            "pod {} of {}: {why}",
            pod_name(p),
            owner_text(owner)
        )),
        None => Ok(mine),
    }
}

/// Whether `owner` has one more Ready pod without a `problem` than `before`.
fn replacement_check(
    pods: &[PodSummary],
    owner: &ObjectRef,
    deleted: &PodSummary,
    before: usize,
    problem: PodProblem<'_>,
) -> Check<usize> {
    let mine = match owned_pods(pods, owner) {
        Ok(mine) => mine,
        Err(why) => return Check::Fail(why),
    };
    let good = mine
        .iter()
        .filter(|p| p.ready && problem(p).is_none())
        .count();
    if good > before {
        Check::Pass(good)
    } else {
        Check::Pending(format!(
            "no Ready replacement yet for deleted pod {} of {} ({good} of {} pod(s) fresh and Ready)",
            pod_name(deleted),
            owner_text(owner),
            mine.len()
        ))
    }
}

/// Delete `pod`, log `said` with `fields`, then (unless a dry run) wait for
/// `check` to pass.
fn delete_and_wait<T>(
    pod: &PodSummary,
    said: &str,
    fields: &[(&str, &str)],
    opts: &DeleteOptions<'_>,
    check: impl FnMut() -> Result<Check<T>, RotorError>,
) -> Result<(), RotorError> {
    pods::delete_pod(&pod.namespace, &pod.name).call(|| format!("delete pod {}", pod_name(pod)))?;
    crate::info(said, fields);
    if !opts.dry_run {
        wait_for(&HostClock, opts.gate, opts.pod_timeout, POLL_SECONDS, check)?;
    }
    Ok(())
}

/// Delete `stale` (pods of `owner`) one at a time; after each, wait until
/// `owner` has one more Ready pod that `problem` passes: its controller
/// replaced it. Returns how many were deleted.
pub fn replace_one_by_one(
    owner: &ObjectRef,
    stale: &[PodSummary],
    problem: PodProblem<'_>,
    opts: &DeleteOptions<'_>,
) -> Result<usize, RotorError> {
    let ns = owner.namespace.as_str();
    let by = owner_text(owner);
    for pod in stale {
        let name = pod_name(pod);
        let before = mesh::list_pods(Some(ns), opts.selector)?
            .iter()
            .filter(|p| owned_by(p, owner) && p.ready && problem(p).is_none())
            .count();
        delete_and_wait(
            pod,
            "deleted a pod for its owner to replace",
            &[("pod", &name), ("owner", &by)],
            opts,
            || {
                let pods = mesh::list_pods(Some(ns), opts.selector)?;
                Ok(replacement_check(&pods, owner, pod, before, problem))
            },
        )?;
    }
    Ok(stale.len())
}

/// Whether every pod of `owner` is Ready and no longer stale, and there are
/// at least `expected` of them (the Ready ones when the wait began: a pod
/// deleted and not yet recreated is missing from the list, not fresh). A pod counts once the round no
/// longer finds it stale, whenever it started: after a resumed run asks
/// again, the pods rolled before it are done.
fn restarted_check(
    pods: &[PodSummary],
    owner: &ObjectRef,
    since: i64,
    expected: usize,
    problem: PodProblem<'_>,
) -> Check<()> {
    let mine = match owned_pods(pods, owner) {
        Ok(mine) => mine,
        Err(why) => return Check::Fail(why),
    };
    let old: Vec<String> = mine
        .iter()
        .filter(|p| !p.ready || problem(p).is_some())
        .map(|p| pod_name(p))
        .collect();
    if old.is_empty() && mine.len() >= expected {
        return Check::Pass(());
    }
    Check::Pending(format!(
        "{} asked to restart at {since}: {} of {expected} pod(s) restarted and Ready; still old or not Ready: {}",
        owner_text(owner),
        mine.len() - old.len(),
        if old.is_empty() {
            "none (a pod is being recreated)".to_string()
        } else {
            old.join(", ")
        }
    ))
}

/// Ask `owner` (a Rollout or a StrimziPodSet) to restart its pods, then
/// wait up to `timeout` seconds until each is Ready and `problem` passes
/// it. Returns the time the request was written.
pub fn restart_through_owner(
    owner: &ObjectRef,
    problem: PodProblem<'_>,
    opts: &DeleteOptions<'_>,
    timeout: u32,
) -> Result<i64, RotorError> {
    let ns = owner.namespace.as_str();
    // Ready pods only: a pod already being deleted when the wait begins
    // (a resumed run's, say) is not Ready and is not coming back.
    let expected = mesh::list_pods(Some(ns), opts.selector)?
        .iter()
        .filter(|p| owned_by(p, owner) && p.ready)
        .count();
    let by = owner_text(owner);
    let since = workloads::restart_owner(owner).call(|| format!("restart-owner {by}"))?;
    crate::info(
        "asked a custom owner to restart its pods",
        &[("owner", &by)],
    );
    if !opts.dry_run {
        wait_for(&HostClock, opts.gate, timeout, POLL_SECONDS, || {
            let pods = mesh::list_pods(Some(ns), opts.selector)?;
            Ok(restarted_check(&pods, owner, since, expected, problem))
        })?;
    }
    Ok(since)
}

/// Delete a bare pod and wait until it is gone: nothing replaces it.
pub fn delete_bare(pod: &PodSummary, opts: &DeleteOptions<'_>) -> Result<(), RotorError> {
    let name = pod_name(pod);
    delete_and_wait(
        pod,
        "deleted a bare meshed pod; nothing replaces it",
        &[("pod", &name)],
        opts,
        || {
            let left = mesh::list_pods(Some(&pod.namespace), opts.selector)?;
            Ok(if left.iter().any(|p| p.name == pod.name) {
                Check::Pending(format!("bare pod {name} is still there"))
            } else {
                Check::Pass(())
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::tests::pod;

    fn rollout() -> ObjectRef {
        ObjectRef {
            kind: "Rollout".into(),
            namespace: "shop".into(),
            name: "web".into(),
        }
    }

    #[test]
    fn an_owner_restart_is_done_when_every_pod_is_fresh_ready_and_back() {
        let stale = |p: &PodSummary| p.name.ends_with("-old").then(|| "old roots".to_string());
        let mut pods = vec![
            pod("shop", "web-a-old", Some(("Rollout", "web")), true),
            pod("shop", "web-b", Some(("Rollout", "web")), true),
            pod("shop", "api-c-old", Some(("Rollout", "api")), true),
        ];
        match restarted_check(&pods, &rollout(), 100, 2, &stale) {
            Check::Pending(m) => {
                assert!(m.ends_with("still old or not Ready: shop/web-a-old"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        pods.remove(0);
        match restarted_check(&pods, &rollout(), 100, 2, &stale) {
            Check::Pending(m) => assert!(m.contains("1 of 2 pod(s)"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut recreated = pod("shop", "web-d", Some(("Rollout", "web")), true);
        recreated.ready = false;
        pods.push(recreated);
        assert!(matches!(
            restarted_check(&pods, &rollout(), 100, 2, &stale),
            Check::Pending(_)
        ));
        pods[2].ready = true;
        assert_eq!(
            restarted_check(&pods, &rollout(), 100, 2, &stale),
            Check::Pass(())
        );
    }

    #[test]
    fn a_replacement_counts_once_it_is_fresh_and_ready() {
        let old = pod("shop", "web-1", Some(("Rollout", "web")), true);
        let stale_roots = |p: &PodSummary| (p.name == "web-1").then(|| "old roots".to_string());
        let mut pods = vec![old.clone()];
        assert!(matches!(
            replacement_check(&pods, &rollout(), &old, 0, &stale_roots),
            Check::Pending(_)
        ));
        let mut new = pod("shop", "web-2", Some(("Rollout", "web")), true);
        new.ready = false;
        pods.push(new.clone());
        assert!(matches!(
            replacement_check(&pods, &rollout(), &old, 0, &stale_roots),
            Check::Pending(_)
        ));
        pods[1].ready = true;
        assert_eq!(
            replacement_check(&pods, &rollout(), &old, 0, &stale_roots),
            Check::Pass(1)
        );
        // Another owner's pod does not count.
        let other = vec![pod("shop", "web-2", Some(("Rollout", "api")), true)];
        assert!(matches!(
            replacement_check(&other, &rollout(), &old, 0, &stale_roots),
            Check::Pending(_)
        ));
    }
}
