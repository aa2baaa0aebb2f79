//! What the examples share: the machine they ran on, peak memory, medians
//! of repeated timings, and the run configuration of each rotation mode.

#![allow(dead_code)] // each example uses a different part

pub mod bound;

use std::time::Instant;

use rotor::config::RunConfig;
use rotor::guard::Grants;

/// The allocator the `rotor` binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One line naming the machine: cores, CPU model and load average, since
/// figures from a shared machine mean little without them.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cores} cores, {model}, load average {}", load.join(" "))
}

/// The process's peak resident set (VmHWM) in KiB, from /proc/self/status.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The median of `samples` (which must not be empty).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    }
}

/// Milliseconds since `started`.
pub fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// The anchor Certificate a staged rotation alternates with the trust anchor.
pub const NEXT_ANCHOR: &str = "linkerd-trust-anchor-next";

/// The default policy's run configuration in `mode` (`full` or `staged`)
/// with `adoptNewIssuer: adoption`: a staged one names the next anchor and
/// is granted its Secret and the CA ClusterIssuer, as the chart does.
pub fn rotation_config(mode: &str, adoption: &str) -> RunConfig {
    let mut policy = serde_json::json!({ "mode": mode, "adoptNewIssuer": adoption });
    let mut grants = Grants::default();
    if mode == "staged" {
        policy["nextAnchor"] =
            serde_json::json!({ "namespace": "cert-manager", "name": NEXT_ANCHOR });
        grants
            .read_secrets
            .push(format!("cert-manager/{NEXT_ANCHOR}"));
        grants
            .write_issuers
            .push("ClusterIssuer/linkerd-identity-issuer".into());
    }
    RunConfig {
        policy: Some(policy),
        grants,
        ..RunConfig::default()
    }
}
