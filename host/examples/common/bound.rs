//! The fastest a rotation could be on a scenario, per mode, at a given
//! parallelism: what the figures compare the default policy against, so
//! a ratio measures the scheduler, not the setting.
//!
//! Built from the scenario's own timings and rollouts. Each meshed
//! workload is restarted alone in a copy of the scenario and its rollout
//! timed. A restart round runs the control plane, then the extensions,
//! then the data plane (each group done before the next, as the default
//! policy does), and a group of rollouts with durations `d` in a window
//! of `parallelism` (at most `per_namespace` in one namespace) cannot end
//! sooner than the longest `d`, the sum of `d` over the window's width, or
//! any namespace's sum over its own limit. Everything the policy spends
//! checking, polling and pacing is left out, as are `OnDelete` workloads
//! and bare pods (no rollout to time): each only lowers the bound.
//!
//! The waits between rounds, by mode (I: issuance, B: trust-manager's
//! sync, K: the kubelet's least delay before a pod's mounted files show a
//! change, R: identity's reload once its files changed):
//!
//! ```text
//! full/restart         I + B + round + I + round + B + round
//! full/leaf-refresh    I + B + round + I + K + R  |  B + round
//! staged/restart       I + round + I + B + round
//! staged/leaf-refresh  I + K + R  |  I + B + round
//! ```
//!
//! A round that restarts the control plane needs no K or R: a restarted
//! identity or injector reads the new files at start. Without that round,
//! identity serves the new issuer only after its kubelet sync and reload.
//! `|` is the pause of one leaf lifetime between the two runs, which the
//! bound (like "runs s") leaves out.

use std::collections::{BTreeMap, BTreeSet};

use rotor::cluster::sim::SimCluster;
use rotor::cluster::sim::manifest::Timings;
use rotor::cluster::sim::scenario::Scenario;
use rotor::cluster::{Cluster, ClusterError};
use rotor::wit::{RolloutPhase, WorkloadKind};

/// The default policy's extension namespaces (restarted after the control
/// plane, before the data plane).
const EXTENSIONS: &[&str] = &[
    "linkerd-viz",
    "linkerd-jaeger",
    "linkerd-multicluster",
    "linkerd-smi",
];
const CONTROL_PLANE: &str = "linkerd";
const MESHED: &str = "linkerd.io/control-plane-ns=linkerd";
/// Longest a single measured rollout may take.
const ROLLOUT_TIMEOUT: u32 = 3600;

/// How many rollouts may run at once.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub parallelism: usize,
    /// 0: no limit per namespace.
    pub per_namespace: usize,
}

impl Window {
    /// The default policy's `parallelism` and `parallelismPerNamespace`.
    pub const DEFAULT: Window = Window {
        parallelism: 100,
        per_namespace: 10,
    };
    /// Every workload of a group at once, as far as the policy's widest
    /// window (1000 rollouts) goes.
    pub const UNBOUNDED: Window = Window {
        parallelism: 1000,
        per_namespace: 0,
    };
}

/// The restart groups, in the order a round runs them.
pub const GROUPS: [&str; 3] = ["control plane", "extensions", "data plane"];

/// One workload's rollout, restarted alone.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub namespace: String,
    /// `namespace/Kind/name`.
    pub workload: String,
    pub seconds: i64,
}

/// Every timed rollout of a scenario, by group, and its timings.
#[derive(Debug)]
pub struct Rollouts {
    pub groups: [Vec<Rollout>; 3],
    pub timings: Timings,
}

impl Rollouts {
    /// Restart each meshed workload of `yaml`'s scenario alone, one after
    /// the other, and time its rollout.
    pub async fn measure(yaml: &str) -> Result<Rollouts, String> {
        let scenario = Scenario::parse(yaml).map_err(|e| e.to_string())?;
        let timings = scenario.simulation.unwrap_or_default().timings;
        let cluster = SimCluster::from_yaml(yaml).map_err(|e| e.to_string())?;
        let err = |e: ClusterError| format!("measuring rollouts: {e}");
        let pods = cluster.list_pods(None, MESHED).await.map_err(err)?;
        let owners: BTreeSet<(String, String, String)> = pods
            .into_iter()
            .filter_map(|p| p.owner)
            .map(|o| (o.namespace, o.kind, o.name))
            .collect();
        let mut groups: [Vec<Rollout>; 3] = Default::default();
        for (namespace, kind_name, name) in owners {
            let Some(kind) = WorkloadKind::from_kind(&kind_name) else {
                continue;
            };
            let workload = format!("{namespace}/{kind_name}/{name}");
            let started = cluster.now().await;
            cluster
                .restart_workload(kind, &namespace, &name)
                .await
                .map_err(err)?;
            let status = match cluster
                .wait_rollout(kind, &namespace, &name, ROLLOUT_TIMEOUT)
                .await
            {
                Ok(status) => status,
                // `OnDelete` has no rollout to wait for.
                Err(ClusterError::Invalid(_)) => continue,
                Err(e) => return Err(err(e)),
            };
            if status.phase != RolloutPhase::Complete {
                return Err(format!(
                    "{workload} did not roll out alone within {ROLLOUT_TIMEOUT} s ({}); \
                     no lower bound without it",
                    status.message
                ));
            }
            let group = if namespace == CONTROL_PLANE {
                0
            } else if EXTENSIONS.contains(&namespace.as_str()) {
                1
            } else {
                2
            };
            groups[group].push(Rollout {
                namespace,
                workload,
                seconds: cluster.now().await - started,
            });
        }
        Ok(Rollouts { groups, timings })
    }

    /// The slowest rollout of group `g`.
    pub fn slowest(&self, g: usize) -> Option<&Rollout> {
        self.groups[g].iter().max_by_key(|r| r.seconds)
    }

    /// The least time group `g` takes in `window`.
    pub fn group_seconds(&self, g: usize, window: Window) -> i64 {
        let rollouts = &self.groups[g];
        let longest = rollouts.iter().map(|r| r.seconds).max().unwrap_or(0);
        let spread = |total: i64, width: usize| match i64::try_from(width) {
            Ok(w) if w > 0 => (total + w - 1) / w,
            _ => 0,
        };
        let all = spread(rollouts.iter().map(|r| r.seconds).sum(), window.parallelism);
        let mut per_namespace: BTreeMap<&str, i64> = BTreeMap::new();
        for r in rollouts {
            *per_namespace.entry(&r.namespace).or_default() += r.seconds;
        }
        let busiest = if window.per_namespace == 0 {
            0
        } else {
            per_namespace
                .values()
                .map(|&s| spread(s, window.per_namespace))
                .max()
                .unwrap_or(0)
        };
        longest.max(all).max(busiest)
    }

    /// The least time one restart round takes in `window`.
    pub fn round(&self, window: Window) -> i64 {
        (0..GROUPS.len())
            .map(|g| self.group_seconds(g, window))
            .sum()
    }

    /// The fastest rotation in `mode` (`full` or `staged`) with
    /// `adoption` (`restart` or `leaf-refresh`), its runs added up.
    pub fn bound(&self, mode: &str, adoption: &str, window: Window) -> i64 {
        let t = &self.timings;
        let (i, b, k, r) = (
            t.issuance_seconds,
            t.bundle_sync_seconds,
            t.kubelet_sync_seconds,
            t.identity_reload_seconds,
        );
        let round = self.round(window);
        let rounds = |n: i64| n * round;
        match (mode, adoption) {
            ("staged", "leaf-refresh") => (i + k + r) + (i + b) + rounds(1),
            ("staged", _) => i + (i + b) + rounds(2),
            (_, "leaf-refresh") => (i + b) + (i + k + r) + b + rounds(2),
            _ => (i + b) + i + b + rounds(3),
        }
    }
}
