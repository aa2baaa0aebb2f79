//! The run report: one JSON document for machines (stdout with
//! `--output json`) and a readable rendering for people. Outcome first;
//! Secret values never appear (the guard redacts what policies pass out).

use serde::Serialize;

use crate::cluster::Backend;
use crate::cluster::sim::SimulationReport;
use crate::cluster::sim::multicluster::MulticlusterReport;
use crate::guard::{AuditEntry, AuditOutcome, CallCounts, DryRunMutation};
use crate::runtime::{LoadedPolicy, PolicySummary, RunFailure, RunOutcome, RunTimings, Step};

use crate::wit::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyIdentity {
    /// Where it came from: a file, `oci://...@sha256:...` (pinned by the
    /// digest that was pulled), or the built-in policy.
    pub source: String,
    pub sha256: String,
    pub size_bytes: u64,
}

impl From<&LoadedPolicy> for PolicyIdentity {
    fn from(policy: &LoadedPolicy) -> Self {
        PolicyIdentity {
            source: policy.label.clone(),
            sha256: policy.sha256.clone(),
            size_bytes: policy.size_bytes,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LogVolume {
    pub lines: u64,
    pub dropped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub outcome: Outcome,
    pub error: Option<String>,
    /// Kind, backtrace and captured output of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<RunFailure>,
    pub backend: Backend,
    pub dry_run: bool,
    pub policy: PolicyIdentity,
    /// Backend time (virtual seconds in the simulator).
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub wall_ms: u64,
    pub calls: CallCounts,
    pub steps: Vec<Step>,
    pub summary: Option<PolicySummary>,
    pub audit: Vec<AuditEntry>,
    pub dry_run_mutations: Vec<DryRunMutation>,
    pub log: LogVolume,
    pub timings: RunTimings,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SimulationReport>,
    /// A simulation of several clusters: each cluster's outage and the
    /// pairs across clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multicluster: Option<MulticlusterReport>,
}

impl RunReport {
    pub fn new(
        outcome: RunOutcome,
        policy: impl Into<PolicyIdentity>,
        backend: Backend,
        dry_run: bool,
        simulation: Option<SimulationReport>,
    ) -> RunReport {
        let (outcome_kind, error, failure, summary) = match outcome.result {
            Ok(summary) => (Outcome::Succeeded, None, None, Some(summary)),
            Err(failure) => (
                Outcome::Failed,
                Some(failure.to_string()),
                Some(failure),
                None,
            ),
        };
        RunReport {
            outcome: outcome_kind,
            error,
            failure,
            backend,
            dry_run,
            policy: policy.into(),
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
            wall_ms: u64::try_from(outcome.wall.as_millis()).unwrap_or(u64::MAX),
            calls: outcome.record.calls,
            steps: outcome.steps,
            summary,
            audit: outcome.record.audit,
            dry_run_mutations: outcome.record.dry_run_mutations,
            log: LogVolume {
                lines: outcome.log_lines,
                dropped: outcome.log_dropped,
            },
            timings: outcome.timings,
            simulation,
            multicluster: None,
        }
    }

    /// The report of a simulation of several clusters.
    pub fn with_multicluster(mut self, report: MulticlusterReport) -> RunReport {
        self.multicluster = Some(report);
        self
    }

    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            format!("{{\"outcome\":\"failed\",\"error\":\"cannot serialize the report: {e}\"}}")
        })
    }

    /// The report for people: outcome first, then steps, calls, refusals,
    /// held-back mutations and the simulation.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        match (&self.outcome, &self.summary, &self.error) {
            (Outcome::Succeeded, Some(summary), _) => {
                out.push_str(&format!("rotor: succeeded: {}\n", summary.message))
            }
            (_, _, Some(error)) => out.push_str(&format!("rotor: FAILED: {error}\n")),
            _ => out.push_str("rotor: failed\n"),
        }
        // The policy's own verdict is not the mesh's: say so up front.
        if let Some(sim) = &self.simulation
            && sim.outage.broken_pair_seconds > 0.0
        {
            out.push_str(&format!(
                "rotor: WARNING: meshed traffic failed in the simulation ({} broken pair-seconds); see below\n",
                sim.outage.broken_pair_seconds
            ));
        }
        if let Some(mc) = &self.multicluster
            && mc.broken_pair_seconds > 0.0
        {
            out.push_str(&format!(
                "rotor: WARNING: meshed traffic failed in the simulation ({} broken pair-seconds, {} across clusters); see below\n",
                mc.broken_pair_seconds, mc.cross_cluster.broken_pair_seconds
            ));
        }
        let mode = if self.dry_run {
            ", dry run (nothing changed)"
        } else {
            ""
        };
        out.push_str(&format!(
            "backend: {}{mode}; policy {} sha256 {} ({} bytes)\n",
            self.backend,
            self.policy.source,
            short_hash(&self.policy.sha256),
            self.policy.size_bytes
        ));
        out.push_str(&format!(
            "time: {} to {} (+{} s backend time), {} ms wall\n",
            format_time(self.started_at),
            format_time(self.finished_at),
            self.finished_at - self.started_at,
            self.wall_ms
        ));

        if let Some(failure) = &self.failure {
            if !failure.backtrace.is_empty() {
                out.push_str("backtrace (innermost first):\n");
                for frame in &failure.backtrace {
                    out.push_str(&format!("  {frame}\n"));
                }
            }
            if let Some(stderr) = &failure.stderr {
                out.push_str("policy stderr:\n");
                for line in stderr.lines().take(20) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }

        if let Some(summary) = &self.summary
            && !summary.facts.is_empty()
        {
            out.push_str("facts:\n");
            for kv in &summary.facts {
                out.push_str(&format!("  {} = {}\n", kv.key, kv.value));
            }
        }

        if !self.steps.is_empty() {
            out.push_str("steps:\n");
            let width = self
                .steps
                .iter()
                .map(|s| s.name.chars().count())
                .max()
                .unwrap_or(0);
            for step in &self.steps {
                let mark = match step.ok {
                    Some(true) => "ok  ",
                    Some(false) => "FAIL",
                    None => "open",
                };
                let start = step.started_at - self.started_at;
                let span = match step.ended_at {
                    Some(end) => format!(
                        "+{start} s .. +{} s ({} s)",
                        end - self.started_at,
                        end - step.started_at
                    ),
                    None => format!("+{start} s .."),
                };
                out.push_str(&format!("  {mark} {:<width$}  {span}", step.name));
                if !step.detail.is_empty() {
                    out.push_str(&format!("  {}", step.detail));
                }
                out.push('\n');
            }
        }

        out.push_str(&format!(
            "calls: {} total, {} mutations, {} denied\n",
            self.calls.total, self.calls.mutations, self.calls.denied
        ));
        if !self.calls.by_primitive.is_empty() {
            let per: Vec<String> = self
                .calls
                .by_primitive
                .iter()
                .map(|(name, count)| format!("{name} {count}"))
                .collect();
            out.push_str(&format!("  {}\n", per.join(", ")));
        }
        if self.log.dropped > 0 {
            out.push_str(&format!(
                "policy log: {} lines shown, {} dropped over the limit\n",
                self.log.lines, self.log.dropped
            ));
        }

        let denied: Vec<&AuditEntry> = self
            .audit
            .iter()
            .filter(|e| e.outcome == AuditOutcome::Denied)
            .collect();
        if !denied.is_empty() {
            out.push_str("denied calls:\n");
            for entry in denied {
                out.push_str(&format!(
                    "  {}{} {}: {}\n",
                    in_cluster(entry.cluster.as_deref()),
                    entry.primitive,
                    entry.target,
                    entry.detail
                ));
            }
        }
        if !self.dry_run_mutations.is_empty() {
            out.push_str("held back by --dry-run:\n");
            for m in &self.dry_run_mutations {
                out.push_str(&format!(
                    "  +{} s {}{} {}: would {}\n",
                    m.at - self.started_at,
                    in_cluster(m.cluster.as_deref()),
                    m.primitive,
                    m.target,
                    m.would.trim_start_matches("would ")
                ));
            }
        }
        if let Some(simulation) = &self.simulation {
            out.push_str("simulation:\n");
            let mut section = String::new();
            simulation.render_text(&mut section);
            for line in section.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        if let Some(mc) = &self.multicluster {
            out.push_str(&format!("simulation of {} clusters:\n", mc.clusters.len()));
            let mut section = String::new();
            mc.render_text(&mut section);
            for line in section.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out.push_str(&format!(
            "timings: load {:.1} ms (cache {}), instantiate {:.1} ms, run {:.1} ms\n",
            self.timings.load_ms,
            serde_json::to_value(self.timings.cache)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            self.timings.instantiate_ms,
            self.timings.call_ms
        ));
        out
    }
}

fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn format_time(t: Timestamp) -> String {
    match jiff::Timestamp::from_second(t) {
        Ok(ts) => ts.to_string(),
        Err(_) => t.to_string(),
    }
}

/// `[name] ` before a line about a call in a run over several clusters;
/// nothing in a run over one, whose report reads as it always has.
fn in_cluster(cluster: Option<&str>) -> String {
    cluster.map(|c| format!("[{c}] ")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::guard::{AuditEntry, AuditOutcome, GuardRecord};
    use crate::runtime::{CacheUse, FailureKind, RunFailure};
    use crate::wit::KeyValue;

    fn outcome(result: Result<PolicySummary, RunFailure>) -> RunOutcome {
        let mut record = GuardRecord::default();
        record
            .calls
            .count(crate::primitive::Primitive::RestartWorkload);
        record.calls.denied = 1;
        record.audit.push(AuditEntry {
            at: 1_000_010,
            primitive: crate::primitive::Primitive::WriteSecret,
            target: "Secret linkerd/linkerd-identity-issuer".into(),
            outcome: AuditOutcome::Denied,
            detail: "writing Secret linkerd/linkerd-identity-issuer is not granted".into(),
            cluster: None,
        });
        RunOutcome {
            result,
            steps: vec![Step {
                name: "renew-anchor".into(),
                started_at: 1_000_000,
                ended_at: Some(1_000_030),
                ok: Some(true),
                detail: "revision 2".into(),
            }],
            record,
            log_lines: 3,
            log_dropped: 0,
            started_at: 1_000_000,
            finished_at: 1_000_060,
            wall: Duration::from_millis(12),
            timings: RunTimings {
                cache: CacheUse::Hit,
                load_ms: 1.0,
                instantiate_ms: 0.5,
                call_ms: 10.0,
            },
        }
    }

    fn identity() -> PolicyIdentity {
        PolicyIdentity {
            source: "policy.wasm".into(),
            sha256: "ab".repeat(32),
            size_bytes: 1234,
        }
    }

    #[test]
    fn json_has_the_contract_keys() {
        let summary = PolicySummary {
            message: "rotated".into(),
            facts: vec![KeyValue::new("anchor", "new")],
        };
        let report = RunReport::new(
            outcome(Ok(summary)),
            identity(),
            Backend::Simulated,
            false,
            None,
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
        assert_eq!(json["outcome"], "succeeded");
        assert_eq!(json["error"], serde_json::Value::Null);
        assert_eq!(json["policy"]["size_bytes"], 1234);
        assert_eq!(json["policy"]["source"], "policy.wasm");
        assert_eq!(json["calls"]["by_primitive"]["restart-workload"], 1);
        assert_eq!(json["steps"][0]["ended_at"], 1_000_030);
        assert_eq!(json["summary"]["facts"][0]["key"], "anchor");
        assert_eq!(json["audit"][0]["outcome"], "denied");
        assert_eq!(json["wall_ms"], 12);
        assert!(json.get("failure").is_none());
    }

    #[test]
    fn text_leads_with_the_outcome_and_lists_refusals() {
        let failure = RunFailure::new(FailureKind::CpuDeadline, "CPU deadline exceeded (10 s)");
        let report = RunReport::new(
            outcome(Err(failure)),
            identity(),
            Backend::Simulated,
            true,
            None,
        );
        assert!(!report.succeeded());
        let text = report.render_text();
        assert!(
            text.starts_with("rotor: FAILED: CPU deadline exceeded (10 s)\n"),
            "{text}"
        );
        assert!(text.contains("dry run (nothing changed)"), "{text}");
        assert!(
            text.contains("ok   renew-anchor  +0 s .. +30 s (30 s)  revision 2"),
            "{text}"
        );
        assert!(
            text.contains("denied calls:\n  write-secret Secret linkerd/linkerd-identity-issuer"),
            "{text}"
        );
        assert!(text.contains("(+60 s backend time)"), "{text}");
    }
}
