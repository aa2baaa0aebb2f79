//! Linkerd identity's issuer TTL gauge as a reload gate: each replica
//! serves `issuer_cert_ttl_seconds`, the seconds until the issuer *it has
//! loaded* expires, on its admin port (linkerd2 `pkg/identity/service.go`,
//! since edge-25.2.1). Read through the pod proxy, now + TTL is that
//! issuer's `notAfter`: a replica serving the new issuer says so directly,
//! where the `IssuerUpdated` events say it only if they are recorded and
//! kept (the API server drops events under load and expires them).
//!
//! The gauge tells the issuers apart only by expiry, so it is used only
//! when the old and new issuers' `notAfter` differ by more than the
//! tolerance; otherwise, and where the metric cannot be read (a version
//! without it, no grant), the caller falls back to the events.

use crate::error::{CallContext, RotorError};
use crate::gate::{Check, HostClock, POLL_SECONDS, wait_for};
use crate::pods;
use crate::{ObjectRef, clock, identity};

/// Identity's admin port.
pub const ADMIN_PORT: u16 = 9990;
/// The gauge.
pub const ISSUER_TTL_METRIC: &str = "issuer_cert_ttl_seconds";
/// How far now + TTL may stray from the new issuer's `notAfter` and still
/// name it: rotor's clock against identity's, and the time between the two.
pub const TOLERANCE_SECONDS: i64 = 60;

/// The two issuers' expiry, as the gauge compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerExpiry {
    pub old_not_after: i64,
    pub new_not_after: i64,
}

impl IssuerExpiry {
    /// Whether the gauge can tell the two apart.
    pub fn distinguishable(&self) -> bool {
        (self.old_not_after - self.new_not_after).abs() > 2 * TOLERANCE_SECONDS
    }
}

/// The gauge's value in a Prometheus text exposition, if present.
pub fn issuer_ttl(text: &str) -> Option<f64> {
    crate::exposition::gauge(text, |name| name == ISSUER_TTL_METRIC)
}

/// What one replica's `/metrics` said.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// The expiry of the issuer it serves (now + TTL).
    Expires(i64),
    /// It answered without the gauge: this version does not export it.
    NoGauge,
    /// It did not answer (starting, crash-looping, going away).
    NoAnswer,
}

/// Whether every replica serves the new issuer. `None`: the gauge cannot
/// gate: it is not exported, or a replica's now + TTL matches neither
/// issuer, so rotor's clock and identity's disagree by more than the
/// tolerance (or identity serves a third issuer), or a replica does not
/// answer; only the events can say what it loaded.
pub fn ttl_check(
    readings: &[(String, Reading)],
    expiry: IssuerExpiry,
    now: i64,
) -> Option<Check<i64>> {
    if readings.is_empty() {
        return Some(Check::Pending("no Running identity replica".into()));
    }
    let mut behind = Vec::new();
    for (pod, r) in readings {
        match r {
            // Not exported, or not reachable from the API server (a
            // network policy, a pod going away): the events decide.
            Reading::NoGauge | Reading::NoAnswer => return None,
            Reading::Expires(at) if (at - expiry.new_not_after).abs() <= TOLERANCE_SECONDS => {}
            Reading::Expires(at) if (at - expiry.old_not_after).abs() > TOLERANCE_SECONDS => {
                return None;
            }
            Reading::Expires(at) => behind.push(format!(
                "{pod} serves an issuer expiring at {at}, not the new one's {}",
                expiry.new_not_after
            )),
        }
    }
    Some(if behind.is_empty() {
        Check::Pass(now)
    } else {
        Check::Pending(format!(
            "{} of {} identity replica(s) serve the new issuer ({ISSUER_TTL_METRIC}); {}",
            readings.len() - behind.len(),
            readings.len(),
            behind.join("; ")
        ))
    })
}

/// Read every Running replica's gauge. `Ok(None)`: not allowed to read it.
fn readings(identity: &ObjectRef) -> Result<Option<Vec<(String, Reading)>>, RotorError> {
    let pods = pods::list_pod_summaries(Some(&identity.namespace), "", &[])
        .call(|| format!("list pods in {}", identity.namespace))?;
    let mut out = Vec::new();
    for p in pods.iter().filter(|p| {
        p.phase == "Running"
            && p.owner.as_ref().is_some_and(|o| {
                o.kind == identity.kind
                    && o.namespace == identity.namespace
                    && o.name == identity.name
            })
    }) {
        let now = clock::now();
        let reading = match pods::get_pod_metrics(&p.namespace, &p.name, ADMIN_PORT) {
            Ok(text) => match issuer_ttl(&text) {
                Some(ttl) => Reading::Expires(now + ttl.round() as i64),
                None => Reading::NoGauge,
            },
            Err(crate::Error::Denied(_)) => return Ok(None),
            Err(error) => {
                let why = RotorError::Call {
                    call: format!("read metrics of pod {}/{}", p.namespace, p.name),
                    error,
                };
                crate::debug(
                    "identity replica's metrics unreadable",
                    &[("error", &why.to_string())],
                );
                Reading::NoAnswer
            }
        };
        out.push((p.name.clone(), reading));
    }
    Ok(Some(out))
}

/// Gate `gate`: wait until every identity replica serves the issuer
/// expiring at `expiry.new_not_after`; fail at once on an
/// `IssuerUpdateSkipped` since `since`. `Ok(None)`: the gauge cannot gate
/// here (not granted, not exported, issuers not distinguishable), so the
/// caller waits for the events instead.
pub fn wait_every_replica_serves(
    identity: &ObjectRef,
    expiry: IssuerExpiry,
    since: i64,
    gate: &str,
    timeout: u32,
) -> Result<Option<i64>, RotorError> {
    if !expiry.distinguishable() {
        return Ok(None);
    }
    let mut usable = true;
    let at = wait_for(&HostClock, gate, timeout, POLL_SECONDS, || {
        if let Some(message) = identity::skipped_since(identity, since)? {
            return Ok(Check::Fail(format!(
                "identity kept the old issuer: {}: {message}",
                identity::ISSUER_UPDATE_SKIPPED
            )));
        }
        let Some(readings) = readings(identity)? else {
            usable = false;
            return Ok(Check::Pass(0));
        };
        match ttl_check(&readings, expiry, clock::now()) {
            Some(check) => Ok(check),
            None => {
                usable = false;
                Ok(Check::Pass(0))
            }
        }
    })?;
    Ok(usable.then_some(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP issuer_cert_ttl_seconds The remaining seconds until the issuer certificate expires\n\
        # TYPE issuer_cert_ttl_seconds gauge\n\
        issuer_cert_ttl_seconds 3.1535966230955437e+07\n";

    #[test]
    fn the_gauge_is_read_from_the_exposition() {
        assert_eq!(issuer_ttl(TEXT), Some(31_535_966.230_955_437));
        assert_eq!(
            issuer_ttl("issuer_cert_ttl_seconds{a=\"b\"} -572.0\n"),
            Some(-572.0)
        );
        assert_eq!(issuer_ttl("go_goroutines 12\n"), None);
    }

    #[test]
    fn every_replica_must_serve_the_new_issuer() {
        let expiry = IssuerExpiry {
            old_not_after: 1_000,
            new_not_after: 200_000,
        };
        let new = Reading::Expires(200_030);
        let old = Reading::Expires(1_000);
        let both = [("a".to_string(), new.clone()), ("b".to_string(), old)];
        match ttl_check(&both, expiry, 50) {
            Some(Check::Pending(m)) => {
                assert!(m.starts_with("1 of 2 identity replica(s)"), "{m}");
                assert!(m.contains("b serves an issuer expiring at 1000"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        let all = [("a".to_string(), new.clone()), ("b".to_string(), new)];
        assert_eq!(ttl_check(&all, expiry, 50), Some(Check::Pass(50)));
        let without = [("a".to_string(), Reading::NoGauge)];
        assert_eq!(ttl_check(&without, expiry, 50), None);
        let silent = [
            ("a".to_string(), Reading::Expires(200_000)),
            ("b".to_string(), Reading::NoAnswer),
        ];
        assert_eq!(ttl_check(&silent, expiry, 50), None);
    }

    #[test]
    fn a_reading_matching_neither_issuer_leaves_the_gate_to_the_events() {
        let expiry = IssuerExpiry {
            old_not_after: 100_000,
            new_not_after: 200_000,
        };
        // Identity's clock an hour ahead of rotor's: the old issuer seems
        // to expire an hour early, which no issuer does.
        let skewed = [("a".to_string(), Reading::Expires(96_400))];
        assert_eq!(ttl_check(&skewed, expiry, 50), None);
        // Within the tolerance it is still the old issuer.
        let old = [("a".to_string(), Reading::Expires(99_950))];
        assert!(matches!(
            ttl_check(&old, expiry, 50),
            Some(Check::Pending(_))
        ));
    }

    #[test]
    fn issuers_expiring_together_cannot_be_told_apart() {
        let close = IssuerExpiry {
            old_not_after: 100_000,
            new_not_after: 100_100,
        };
        assert!(!close.distinguishable());
    }
}
