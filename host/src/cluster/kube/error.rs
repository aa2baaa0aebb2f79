//! Mapping kube-rs errors onto [`ClusterError`], and the bounded retry of
//! transient ones.
//!
//! kube's own retry layer (on clients built from a `Config`) retries 429,
//! 503 and 504; it leaves 500, 502 and broken connections to us. The API
//! server's verdict is read from `status.code`, because a 404 without a
//! `reason` (a missing CRD, for one) does not satisfy `is_not_found()`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cluster::{ClusterError, ClusterResult};

pub use crate::cluster::retry::RetryPolicy;

impl RetryPolicy {
    /// Run one API call under the call timeout, retrying transient failures
    /// (429, 5xx, connection errors, timeouts) with jittered exponential
    /// backoff. `what` names the call in error messages.
    pub async fn run<T, F, Fut>(&self, what: &str, call: F) -> ClusterResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let timeout = self.call_timeout;
        let mut call = call;
        let attempt = || {
            let fut = call();
            async move {
                match tokio::time::timeout(timeout, fut).await {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(map_error(what, e)),
                    Err(_) => Err(ClusterError::Timeout(format!(
                        "{what}: no answer from the API server within {}s",
                        timeout.as_secs()
                    ))),
                }
            }
        };
        self.retry_transient(attempt, tokio::time::sleep).await
    }
}

/// A 404 whose body is not a `NotFound` Status means the path itself does
/// not exist: the CRD is not installed.
pub fn missing_crd(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404 && s.reason != "NotFound")
}

impl RetryPolicy {
    /// [`RetryPolicy::run`] for a custom resource: when the call fails
    /// because its CRD is not installed ([`missing_crd`]), `missing()` says
    /// so instead.
    pub async fn run_crd<T, F, Fut>(
        &self,
        what: &str,
        missing: impl Fn() -> ClusterError,
        call: F,
    ) -> ClusterResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let crd_missing = AtomicBool::new(false);
        let result = self
            .run(what, || {
                let attempt = call();
                let flag = &crd_missing;
                async move {
                    let r = attempt.await;
                    if let Err(e) = &r {
                        flag.store(missing_crd(e), Ordering::Relaxed);
                    }
                    r
                }
            })
            .await;
        match result {
            Err(_) if crd_missing.load(Ordering::Relaxed) => Err(missing()),
            other => other,
        }
    }
}

/// An error and each of its causes, `: `-separated, repeats left out:
/// hyper's "client error (Connect)" alone does not say why.
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// The HTTP status code of an API error, if the server answered.
pub fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Map by status code; connection-level failures are `Unavailable` (retried).
pub fn map_error(what: &str, e: kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(status) => {
            let msg = if status.message.is_empty() {
                format!("{what}: HTTP {} {}", status.code, status.reason)
            } else {
                format!("{what}: {}", status.message)
            };
            match status.code {
                404 => ClusterError::NotFound(msg),
                401 | 403 => ClusterError::Denied(msg),
                409 | 410 => ClusterError::Conflict(msg),
                400 | 405 | 415 | 422 => ClusterError::Invalid(msg),
                408 | 429 | 500..=599 => ClusterError::Unavailable(msg),
                _ => ClusterError::Internal(msg),
            }
        }
        kube::Error::HyperError(e) => ClusterError::Unavailable(format!(
            "{what}: connection to the API server failed: {}",
            cause_chain(&e)
        )),
        kube::Error::Service(e) => ClusterError::Unavailable(format!(
            "{what}: request to the API server failed: {}",
            cause_chain(e.as_ref())
        )),
        kube::Error::SerdeError(e) => ClusterError::Internal(format!(
            "{what}: unexpected answer from the API server: {e}"
        )),
        other => ClusterError::Internal(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use std::time::Duration;

    fn api(code: u16, reason: &str) -> kube::Error {
        let mut s = Status::failure("boom", reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn maps_by_status_code_even_without_reason() {
        assert!(matches!(
            map_error("get", api(404, "")),
            ClusterError::NotFound(_)
        ));
        assert!(matches!(
            map_error("get", api(403, "Forbidden")),
            ClusterError::Denied(_)
        ));
        assert!(matches!(
            map_error("put", api(409, "Conflict")),
            ClusterError::Conflict(_)
        ));
        assert!(matches!(
            map_error("get", api(429, "TooManyRequests")),
            ClusterError::Unavailable(_)
        ));
        assert!(matches!(
            map_error("get", api(502, "")),
            ClusterError::Unavailable(_)
        ));
        assert!(matches!(
            map_error("get", api(422, "Invalid")),
            ClusterError::Invalid(_)
        ));
    }

    #[tokio::test]
    async fn retries_transient_errors_then_gives_up() {
        let policy = RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            call_timeout: Duration::from_secs(1),
        };
        let mut calls = 0;
        let r: ClusterResult<()> = policy
            .run("get x", || {
                calls += 1;
                async { Err(api(503, "ServiceUnavailable")) }
            })
            .await;
        assert!(matches!(r, Err(ClusterError::Unavailable(_))));
        assert_eq!(calls, 4);
    }

    #[tokio::test]
    async fn does_not_retry_conflicts() {
        let policy = RetryPolicy::default();
        let mut calls = 0;
        let r: ClusterResult<()> = policy
            .run("put x", || {
                calls += 1;
                async { Err(api(409, "Conflict")) }
            })
            .await;
        assert!(matches!(r, Err(ClusterError::Conflict(_))));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn succeeds_after_a_transient_failure() {
        let policy = RetryPolicy {
            min_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let mut calls = 0;
        let r = policy
            .run("get x", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(api(500, "InternalError"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r, Ok(3));
    }
}
