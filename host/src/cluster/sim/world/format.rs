//! How the world writes names and times: listing order of workload kinds,
//! the deterministic name suffixes Kubernetes would generate, and RFC 3339
//! timestamps in and out, shared by the loader, the controllers and dumps.

use crate::wit::WorkloadKind;

/// Workload kinds in listing order.
pub fn kind_order(kind: WorkloadKind) -> u8 {
    match kind {
        WorkloadKind::Deployment => 0,
        WorkloadKind::StatefulSet => 1,
        WorkloadKind::DaemonSet => 2,
    }
}

/// The alphabet Kubernetes uses for generated name suffixes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A deterministic name suffix (FNV-1a of the input).
pub fn short_hash(input: &str, len: usize) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in input.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(SAFE_ALPHABET[(h % SAFE_ALPHABET.len() as u64) as usize] as char);
        h /= SAFE_ALPHABET.len() as u64;
        if h == 0 {
            h = 0x9e3779b97f4a7c15;
        }
    }
    out
}

pub fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.to_string())
}

pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}
