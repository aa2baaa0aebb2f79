//! What the simulator adds to a run report: virtual time, outage, final state.

use serde::Serialize;

pub use super::outage::OutageWindow;

/// Flattened into the run report's JSON.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SimulationReport {
    /// Virtual seconds since the scenario was loaded.
    pub virtual_seconds: i64,
    /// Of those, seconds watched after the policy returned (outage and
    /// final state include them).
    pub after_run_seconds: i64,
    pub outage: OutageReport,
    /// Pods that started but were never Ready (`namespace/name`).
    pub pods_never_ready: Vec<String>,
    #[serde(rename = "final")]
    pub final_state: FinalState,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OutageReport {
    /// Broken (client, server) workload pairs integrated over virtual seconds.
    pub broken_pair_seconds: f64,
    pub windows: Vec<OutageWindow>,
}

/// The mesh at the end of the run. "Retired" means any anchor other than
/// the one the anchor Secret holds now.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FinalState {
    /// Certificates in the trust-roots ConfigMap.
    pub bundle_anchors: usize,
    pub proxies_trusting_retired_anchor: usize,
    pub proxies_with_retired_chain_leaf: usize,
    pub anchor_rotated: bool,
    pub issuer_rotated: bool,
    /// Workloads with fewer Ready pods than desired (`ns/Kind/name`).
    pub workloads_not_ready: Vec<String>,
    /// Secrets holding a private key that no Certificate writes and no CA
    /// issuer signs from (`ns/name`), such as a previous anchor copied with
    /// its key: whoever can read them can sign as that CA.
    pub private_key_copies: Vec<String>,
}

impl OutageReport {
    /// One line per window, then its sample pairs.
    pub fn render_windows(&self, out: &mut String) {
        use std::fmt::Write;
        for w in &self.windows {
            let _ = writeln!(
                out,
                "  {} .. {} ({}s): up to {} broken pairs; {}",
                time_text(w.start),
                time_text(w.end),
                w.end - w.start,
                w.broken_pairs_max,
                w.cause
            );
            for s in &w.sample_pairs {
                let _ = writeln!(out, "    e.g. {s}");
            }
        }
    }
}

impl SimulationReport {
    /// Human-readable lines for the text report.
    pub fn render_text(&self, out: &mut String) {
        use std::fmt::Write;
        if self.after_run_seconds > 0 {
            let _ = writeln!(
                out,
                "virtual time: {}s (the last {}s watching the mesh after the run)",
                self.virtual_seconds, self.after_run_seconds
            );
        } else {
            let _ = writeln!(out, "virtual time: {}s", self.virtual_seconds);
        }
        if self.outage.broken_pair_seconds == 0.0 {
            let _ = writeln!(out, "outage: none (no meshed pair ever failed mTLS)");
        } else {
            let _ = writeln!(
                out,
                "outage: {} broken pair-seconds in {} window(s)",
                self.outage.broken_pair_seconds,
                self.outage.windows.len()
            );
            self.outage.render_windows(out);
        }
        if !self.pods_never_ready.is_empty() {
            let _ = writeln!(
                out,
                "pods never ready: {} ({})",
                self.pods_never_ready.len(),
                preview(&self.pods_never_ready)
            );
        }
        let f = &self.final_state;
        let _ = writeln!(
            out,
            "final: anchor rotated: {}, issuer rotated: {}, anchors in bundle: {}",
            yes_no(f.anchor_rotated),
            yes_no(f.issuer_rotated),
            f.bundle_anchors
        );
        let _ = writeln!(
            out,
            "final: proxies trusting a retired anchor: {}, proxies with a leaf from a retired anchor: {}",
            f.proxies_trusting_retired_anchor, f.proxies_with_retired_chain_leaf
        );
        if !f.private_key_copies.is_empty() {
            let _ = writeln!(
                out,
                "final: PRIVATE KEYS OUTSIDE CERT-MANAGER'S SECRETS: {} ({})",
                f.private_key_copies.len(),
                preview(&f.private_key_copies)
            );
        }
        if !f.workloads_not_ready.is_empty() {
            let _ = writeln!(
                out,
                "final: workloads not ready: {} ({})",
                f.workloads_not_ready.len(),
                preview(&f.workloads_not_ready)
            );
        }
    }
}

/// Unix seconds as RFC 3339 (virtual time in the simulator).
fn time_text(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| format!("{t}s"))
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn preview(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(", ... {} more", items.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_match_the_run_report_contract() {
        let r = SimulationReport::default();
        let v = serde_json::to_value(&r).unwrap();
        for key in ["virtual_seconds", "outage", "pods_never_ready", "final"] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v["outage"].get("broken_pair_seconds").is_some());
        assert!(v["outage"].get("windows").is_some());
        for key in [
            "bundle_anchors",
            "proxies_trusting_retired_anchor",
            "proxies_with_retired_chain_leaf",
            "anchor_rotated",
            "issuer_rotated",
            "workloads_not_ready",
            "private_key_copies",
        ] {
            assert!(v["final"].get(key).is_some(), "missing final.{key}");
        }
    }

    #[test]
    fn text_names_windows_and_leftovers() {
        let r = SimulationReport {
            virtual_seconds: 900,
            after_run_seconds: 300,
            outage: OutageReport {
                broken_pair_seconds: 120.0,
                windows: vec![OutageWindow {
                    start: 1_772_442_000,
                    end: 1_772_442_060,
                    broken_pairs_max: 2,
                    sample_pairs: vec!["a/Deployment/x -> b/Deployment/y".into()],
                    cause: "neither side trusts the other's anchor".into(),
                }],
            },
            pods_never_ready: vec!["a/x-1".into()],
            final_state: FinalState {
                workloads_not_ready: vec!["a/Deployment/x".into()],
                private_key_copies: vec!["cert-manager/linkerd-previous-anchor".into()],
                ..FinalState::default()
            },
        };
        let mut out = String::new();
        r.render_text(&mut out);
        assert!(out.contains("120 broken pair-seconds in 1 window"), "{out}");
        assert!(
            out.contains("virtual time: 900s (the last 300s watching the mesh after the run)"),
            "{out}"
        );
        assert!(
            out.contains(
                "2026-03-02T09:00:00Z .. 2026-03-02T09:01:00Z (60s): up to 2 broken pairs"
            ),
            "{out}"
        );
        assert!(out.contains("a/Deployment/x -> b/Deployment/y"), "{out}");
        assert!(out.contains("pods never ready: 1"), "{out}");
        assert!(out.contains("workloads not ready: 1"), "{out}");
        assert!(
            out.contains(
                "PRIVATE KEYS OUTSIDE CERT-MANAGER'S SECRETS: 1 (cert-manager/linkerd-previous-anchor)"
            ),
            "{out}"
        );
    }
}
