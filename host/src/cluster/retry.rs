//! Bounded, jittered retries of transient backend errors, shared by the
//! Kubernetes backend and the simulator's injected faults.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable, Sleeper};

use crate::cluster::{ClusterError, ClusterResult};

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
