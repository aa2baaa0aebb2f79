//! Linkerd's identity controller: did it load the new issuer?
//!
//! Identity reports a reload with a Normal `IssuerUpdated` event on
//! `Deployment linkerd/linkerd-identity`, or keeps the old issuer and reports
//! a Warning `IssuerUpdateSkipped`. Reloads can be missed altogether.
//!
//! Each replica reloads on its own, when its kubelet rewrites the mounted
//! Secret (60–90 s after the change, at that pod's next sync), and reports
//! through its own event recorder, so each replica's report is an Event
//! object of its own (a replica's repeats fold into its object's count and
//! last time). Until every replica has reloaded, a proxy may still get a
//! leaf from the old issuer: [`wait_every_replica_reload`] waits for all.

use crate::ObjectRef;
use crate::error::{CallContext, RotorError};
use crate::events::{self, Event};
use crate::gate::{Check, HostClock, POLL_SECONDS, wait_for};

pub const ISSUER_UPDATED: &str = "IssuerUpdated";
pub const ISSUER_UPDATE_SKIPPED: &str = "IssuerUpdateSkipped";

/// The identity Deployment (normally `linkerd/linkerd-identity`): its
/// events are recorded against it.
pub fn identity_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        kind: "Deployment".into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

/// The reloads seen in `events` at or after `since`: a skip fails the gate
/// at once; `required` reports (one per replica) pass it with the time of
/// the last of them.
pub fn reload_check(events: &[Event], since: i64, required: usize) -> Check<i64> {
    fn recent<'a>(
        events: &'a [Event],
        reason: &'a str,
        since: i64,
    ) -> impl Iterator<Item = &'a Event> {
        events
            .iter()
            .filter(move |e| e.reason == reason && e.last_time >= since)
    }
    if let Some(skip) = recent(events, ISSUER_UPDATE_SKIPPED, since).last() {
        return Check::Fail(format!(
            "identity kept the old issuer: {ISSUER_UPDATE_SKIPPED} at {}: {}",
            skip.last_time, skip.message
        ));
    }
    let updates: Vec<i64> = recent(events, ISSUER_UPDATED, since)
        .map(|e| e.last_time)
        .collect();
    match updates.iter().max() {
        Some(&at) if updates.len() >= required.max(1) => Check::Pass(at),
        _ => Check::Pending(format!(
            "{} of {} identity replica(s) reported {ISSUER_UPDATED} since {since}",
            updates.len(),
            required.max(1)
        )),
    }
}

/// Gate `gate`: wait for `IssuerUpdated` at or after `since`; fail on
/// `IssuerUpdateSkipped`. Returns the reload time. One replica's report is
/// enough here; with several replicas use [`wait_every_replica_reload`].
pub fn wait_issuer_reload(
    identity: &ObjectRef,
    since: i64,
    gate: &str,
    timeout: u32,
) -> Result<i64, RotorError> {
    wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        Ok(reload_check(&identity_events(identity)?, since, 1))
    })
}

/// Gate `gate`: wait until every identity replica runs the issuer renewed
/// at `renewed_at`: each replica that started before then reports its own
/// `IssuerUpdated` at or after `since` (a replica started later read the
/// new issuer at start). Fails on `IssuerUpdateSkipped`. Returns when the
/// last replica reloaded: a proxy started after it gets a new leaf from
/// whichever replica it asks.
pub fn wait_every_replica_reload(
    identity: &ObjectRef,
    since: i64,
    renewed_at: i64,
    gate: &str,
    timeout: u32,
) -> Result<i64, RotorError> {
    wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        let required = replicas_started_before(identity, renewed_at)?;
        if required == 0 {
            return Ok(Check::Pass(renewed_at));
        }
        Ok(reload_check(&identity_events(identity)?, since, required))
    })
}

/// Running pods of the identity Deployment that started at or before `at`.
fn replicas_started_before(identity: &ObjectRef, at: i64) -> Result<usize, RotorError> {
    let pods = crate::pods::list_pod_summaries(Some(&identity.namespace), "", &[])
        .call(|| format!("list pods in {}", identity.namespace))?;
    Ok(pods
        .iter()
        .filter(|p| {
            p.owner.as_ref().is_some_and(|o| {
                o.kind == identity.kind
                    && o.namespace == identity.namespace
                    && o.name == identity.name
            }) && p.phase == "Running"
        })
        .filter(|p| p.start_time.is_some_and(|t| t <= at))
        .count())
}

fn identity_events(identity: &ObjectRef) -> Result<Vec<Event>, RotorError> {
    events::list_events(identity, None).call(|| {
        format!(
            "list events of {} {}/{}",
            identity.kind, identity.namespace, identity.name
        )
    })
}

/// Whether identity reported a skipped reload at or after `since`.
pub fn skipped_since(identity: &ObjectRef, since: i64) -> Result<Option<String>, RotorError> {
    let evs = events::list_events(identity, Some(ISSUER_UPDATE_SKIPPED))
        .call(|| format!("list {ISSUER_UPDATE_SKIPPED} events"))?;
    Ok(evs
        .iter()
        .rev()
        .find(|e| e.last_time >= since)
        .map(|e| e.message.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;

    fn event(reason: &str, at: i64) -> Event {
        Event {
            involved: identity_ref("linkerd", "linkerd-identity"),
            type_: if reason == ISSUER_UPDATED {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: reason.into(),
            message: format!("{reason} message"),
            count: 1,
            first_time: at,
            last_time: at,
            source: "linkerd-identity".into(),
        }
    }

    #[test]
    fn an_old_update_does_not_count() {
        assert!(matches!(
            reload_check(&[event(ISSUER_UPDATED, 90)], 100, 1),
            Check::Pending(_)
        ));
        assert_eq!(
            reload_check(
                &[event(ISSUER_UPDATED, 90), event(ISSUER_UPDATED, 130)],
                100,
                1
            ),
            Check::Pass(130)
        );
    }

    #[test]
    fn a_skip_after_the_renewal_fails() {
        let evs = [
            event(ISSUER_UPDATED, 120),
            event(ISSUER_UPDATE_SKIPPED, 125),
        ];
        match reload_check(&evs, 100, 1) {
            Check::Fail(s) => assert!(s.contains("kept the old issuer"), "{s}"),
            other => panic!("{other:?}"),
        }
        // A skip from an earlier rotation is history.
        let evs = [event(ISSUER_UPDATE_SKIPPED, 50), event(ISSUER_UPDATED, 120)];
        assert_eq!(reload_check(&evs, 100, 1), Check::Pass(120));
    }

    #[test]
    fn every_replica_must_report() {
        let evs = [event(ISSUER_UPDATED, 160), event(ISSUER_UPDATED, 175)];
        match reload_check(&evs, 100, 3) {
            Check::Pending(s) => assert!(s.contains("2 of 3 identity replica(s)"), "{s}"),
            other => panic!("{other:?}"),
        }
        let all = [evs[0].clone(), evs[1].clone(), event(ISSUER_UPDATED, 181)];
        assert_eq!(reload_check(&all, 100, 3), Check::Pass(181));
    }
}
