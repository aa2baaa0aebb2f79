//! The proxies' own word on their leaves, as an early end to the
//! leaf-refresh wait. Each Linkerd proxy serves, on its admin port, when it
//! took its current leaf: `identity_cert_refresh_timestamp_seconds`
//! (linkerd2-proxy `linkerd/identity/src/metrics.rs`, registered under the
//! `identity_cert` prefix; later versions nest it under a longer prefix,
//! so any name ending so is read). A proxy that took its
//! leaf after every identity replica served the new issuer holds a leaf of
//! the new issuer.
//!
//! The reading only shortens the wait. Any doubt (a proxy that does not
//! answer, a version without the gauge, no grant, a leaf taken too close
//! to the reload for the clocks to tell) leaves the wait of one leaf
//! lifetime in force.

use crate::error::RotorError;
use crate::pods;
use crate::pods::PodSummary;

/// The proxy's admin port.
pub const ADMIN_PORT: u16 = 4191;
/// The gauge, by the end of its name.
pub const REFRESH_METRIC: &str = "identity_cert_refresh_timestamp_seconds";
/// How much later than the reload a leaf must have been taken to count:
/// rotor's clock against the proxy's, and a request already in flight at
/// the reload.
pub const TOLERANCE_SECONDS: i64 = 60;

/// When the proxy took its current leaf, from its exposition.
pub fn leaf_taken_at(text: &str) -> Option<f64> {
    crate::exposition::gauge(text, |name| name.ends_with(REFRESH_METRIC))
}

/// The first of `pods` whose proxy may still hold a leaf from before
/// `reloaded_at`, and why; `None` when every one is proven to hold a
/// newer leaf. Pods that started after the reload took their first leaf
/// from the new issuer and are not read; pods not Running serve nothing.
/// It stops at the first doubt, so an early check costs one read.
pub fn first_doubt<'a>(
    pods: impl Iterator<Item = &'a PodSummary>,
    reloaded_at: i64,
) -> Option<String> {
    let mut proven = 0usize;
    for p in pods.filter(|p| p.phase == "Running") {
        if p.start_time.is_some_and(|t| t > reloaded_at) {
            continue;
        }
        let name = format!("{}/{}", p.namespace, p.name);
        let taken = match pods::get_pod_metrics(&p.namespace, &p.name, ADMIN_PORT) {
            Ok(text) => leaf_taken_at(&text),
            Err(crate::Error::Denied(why)) => {
                return Some(format!(
                    "the proxies' metrics are not granted ({why}; grant grants.podMetrics \
                     \"*/{ADMIN_PORT}\")"
                ));
            }
            Err(error) => {
                let why = RotorError::Call {
                    call: format!("read the proxy metrics of pod {name}"),
                    error,
                };
                return Some(why.to_string());
            }
        };
        match taken {
            None => {
                return Some(format!(
                    "pod {name}'s proxy does not export {REFRESH_METRIC}"
                ));
            }
            Some(at) if (at as i64) <= reloaded_at + TOLERANCE_SECONDS => {
                return Some(format!(
                    "pod {name}'s proxy took its leaf at {}, not {TOLERANCE_SECONDS} s after \
                     identity served the new issuer at {reloaded_at} ({proven} proxies proven \
                     so far)",
                    at as i64
                ));
            }
            Some(_) => proven += 1,
        }
    }
    crate::debug(
        "every proxy took its leaf after the reload",
        &[("proven", &proven.to_string())],
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_names_of_the_gauge_are_read() {
        let old = "# TYPE identity_cert_refresh_timestamp_seconds gauge\n\
                   identity_cert_refresh_timestamp_seconds 1765000000.0\n";
        let nested = "control_identity_cert_refresh_timestamp_seconds 1765000100.5\n";
        assert_eq!(leaf_taken_at(old), Some(1_765_000_000.0));
        assert_eq!(leaf_taken_at(nested), Some(1_765_000_100.5));
        assert_eq!(
            leaf_taken_at("identity_cert_expiration_timestamp_seconds 1.0\n"),
            None
        );
    }
}
