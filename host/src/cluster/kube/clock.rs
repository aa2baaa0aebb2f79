//! Where a [`KubeCluster`](super::KubeCluster) reads the time and sleeps.
//!
//! Against a real cluster this is the wall clock. The test API server runs
//! its backing cluster on a faster virtual clock, and hands out a clock that
//! reads and waits on that one, so a policy's `clock.wait(60)` takes 60
//! virtual seconds on both sides.

use std::time::Duration;

use async_trait::async_trait;

use crate::wit::Timestamp;

#[async_trait]
pub trait Clock: Send + Sync {
    async fn now(&self) -> Timestamp;
    async fn sleep(&self, seconds: u32);
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

#[async_trait]
impl Clock for WallClock {
    async fn now(&self) -> Timestamp {
        jiff::Timestamp::now().as_second()
    }

    async fn sleep(&self, seconds: u32) {
        tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await;
    }
}
