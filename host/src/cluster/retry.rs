//! Bounded, jittered retries of transient backend errors, shared by the
//! Kubernetes backend and the simulator's injected faults.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable, Sleeper};

use crate::cluster::{ClusterError, ClusterResult};

/// How many times in all rotor tries a mutation it may repeat (it reads
/// the object again, then writes) when the API server answers 409 Conflict.
pub const CONFLICT_ATTEMPTS: usize = 5;

/// Run `attempt` (a fresh read and a write) again while it fails with
/// [`ClusterError::Conflict`], at most [`CONFLICT_ATTEMPTS`] times in all.
/// Only for writes whose outcome does not depend on what changed: the
/// object moved on between rotor's read and write, and reading it again
/// is all a retry needs.
pub async fn on_conflict<T, F, Fut>(what: &str, mut attempt: F) -> ClusterResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ClusterResult<T>>,
{
    let mut last = String::new();
    for _ in 0..CONFLICT_ATTEMPTS {
        match attempt().await {
            Err(ClusterError::Conflict(m)) => last = m,
            other => return other,
        }
    }
    Err(ClusterError::Conflict(format!(
        "{what}: still changing underneath after {CONFLICT_ATTEMPTS} attempts: {last}"
    )))
}

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Bound on a single request, retries not included.
    pub call_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
    }

    /// Retry `attempt` while it fails transiently ([`ClusterError::is_transient`]),
    /// at most `max_retries` times, pausing with `sleep` between attempts
    /// (the simulator passes a sleep that takes no time).
    pub async fn retry_transient<T, F, Fut, S>(&self, attempt: F, sleep: S) -> ClusterResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ClusterResult<T>>,
        S: Sleeper,
        S::Sleep: Future<Output = ()>,
    {
        attempt
            .retry(self.backoff())
            .sleep(sleep)
            .when(ClusterError::is_transient)
            .notify(|e: &ClusterError, after: Duration| {
                tracing::debug!(error = %e, retry_in_ms = after.as_millis() as u64, "retrying API call");
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn a_conflict_is_read_again_and_repeated_within_bounds() {
        let calls = Cell::new(0);
        let settles = on_conflict("save progress", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(ClusterError::Conflict("409".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(settles.expect("third attempt lands"), 3);

        calls.set(0);
        let err = on_conflict("save progress", || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(ClusterError::Conflict("409 again".into())) }
        })
        .await
        .expect_err("always 409");
        assert_eq!(calls.get(), CONFLICT_ATTEMPTS);
        assert_eq!(
            err.to_string(),
            format!(
                "conflict: save progress: still changing underneath after {CONFLICT_ATTEMPTS} attempts: 409 again"
            )
        );

        calls.set(0);
        let err = on_conflict("save progress", || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(ClusterError::Invalid("bad".into())) }
        })
        .await
        .expect_err("invalid");
        assert_eq!(calls.get(), 1, "only conflicts are repeated: {err}");
    }
}
