//! The kubelet's projection of ConfigMap and Secret volumes into pods.
//!
//! A change to a mounted ConfigMap or Secret reaches a running pod's files
//! at that pod's next sync, not at once: with the default `Watch` strategy
//! the kubelet re-syncs each pod every `SyncFrequency` (1 min) with a jitter
//! of up to half of it (kubelet `pkg/kubelet/kubelet.go`, `syncLoop`;
//! `pkg/kubelet/configmap` and `secret` managers), so each pod sees a change
//! 60–90 s after it, independently of its neighbours. A pod that starts
//! after the change mounts the new content. The simulator draws each pod's
//! delay from `kubeletSyncSeconds` plus up to `kubeletSyncJitterSeconds`,
//! deterministically from the pod and the change, so runs repeat exactly.

use super::world::World;

impl World {
    /// How long after change number `change` the files of the pod with
    /// `uid` show it.
    pub fn volume_delay(&self, uid: u64, change: u64) -> i64 {
        let t = &self.spec.timings;
        let jitter = t.kubelet_sync_jitter_seconds.max(0);
        if jitter == 0 {
            return t.kubelet_sync_seconds;
        }
        t.kubelet_sync_seconds + (mix(uid, change) % (jitter as u64 + 1)) as i64
    }
}

/// A well-spread 64-bit hash of two numbers (splitmix64's finaliser): the
/// simulator's only source of jitter, so the same scenario always runs the
/// same way.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(b)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
