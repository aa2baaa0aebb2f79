//! Linkerd's identity controller: did it load the new issuer?
//!
//! Identity reports a reload with a Normal `IssuerUpdated` event on
//! `Deployment linkerd/linkerd-identity`, or keeps the old issuer and reports
//! a Warning `IssuerUpdateSkipped`. Reloads can be missed altogether.

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

/// The reload seen in `events` at or after `since`: a skip fails the gate at
/// once, an update passes it with the event's time.
pub fn reload_check(events: &[Event], since: i64) -> Check<i64> {
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
    match recent(events, ISSUER_UPDATED, since)
        .map(|e| e.last_time)
        .max()
    {
        Some(at) => Check::Pass(at),
        None => Check::Pending(format!("no {ISSUER_UPDATED} event since {since}")),
    }
}

/// Gate `gate`: wait for `IssuerUpdated` at or after `since`; fail on
/// `IssuerUpdateSkipped`. Returns the reload time.
pub fn wait_issuer_reload(
    identity: &ObjectRef,
    since: i64,
    gate: &str,
    timeout: u32,
) -> Result<i64, RotorError> {
    wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        let evs = events::list_events(identity, None).call(|| {
            format!(
                "list events of {} {}/{}",
                identity.kind, identity.namespace, identity.name
            )
        })?;
        Ok(reload_check(&evs, since))
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
            reload_check(&[event(ISSUER_UPDATED, 90)], 100),
            Check::Pending(_)
        ));
        assert_eq!(
            reload_check(
                &[event(ISSUER_UPDATED, 90), event(ISSUER_UPDATED, 130)],
                100
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
        match reload_check(&evs, 100) {
            Check::Fail(s) => assert!(s.contains("kept the old issuer"), "{s}"),
            other => panic!("{other:?}"),
        }
        // A skip from an earlier rotation is history.
        let evs = [event(ISSUER_UPDATE_SKIPPED, 50), event(ISSUER_UPDATED, 120)];
        assert_eq!(reload_check(&evs, 100), Check::Pass(120));
    }
}
