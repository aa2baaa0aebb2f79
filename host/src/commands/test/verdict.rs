//! Judging one `rotor test` run against its `Expect`: every way the report
//! falls short, and the restart order read from the audit trail.

use std::collections::BTreeMap;

use super::expect::{Expect, ExpectedOutcome, RestartOrder};
use crate::commands::one_line;
use crate::guard::{AuditEntry, AuditOutcome};
use crate::report::{Outcome, RunReport};

/// One scenario's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub name: String,
    /// Empty when the scenario passed.
    pub failures: Vec<String>,
}

impl Verdict {
    pub fn line(&self) -> String {
        if self.failures.is_empty() {
            format!("PASS {}", self.name)
        } else {
            format!("FAIL {}: {}", self.name, self.failures.join("; "))
        }
    }
}

/// Every way `report` falls short of `expect`.
pub fn check(expect: &Expect, report: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    let want = Outcome::from(expect.outcome.unwrap_or(ExpectedOutcome::Succeeded));
    if report.outcome != want {
        let why = match &report.error {
            Some(e) => format!(" ({})", one_line(e)),
            None => String::new(),
        };
        out.push(format!(
            "outcome {} expected {}{why}",
            outcome_name(report.outcome),
            outcome_name(want)
        ));
    }
    if let Some(part) = &expect.error_contains {
        match &report.error {
            Some(e) if e.contains(part.as_str()) => {}
            Some(e) => out.push(format!("error {:?} lacks {part:?}", one_line(e))),
            None => out.push(format!("no error, expected one containing {part:?}")),
        }
    }
    let summary = report.summary.as_ref();
    if let Some(part) = &expect.summary_contains {
        match summary {
            Some(s) if s.message.contains(part.as_str()) => {}
            Some(s) => out.push(format!("summary {:?} lacks {part:?}", s.message)),
            None => out.push(format!("no summary, expected one containing {part:?}")),
        }
    }
    for (key, value) in &expect.facts {
        let got = summary.and_then(|s| s.facts.iter().find(|f| &f.key == key));
        match got {
            Some(f) if &f.value == value => {}
            Some(f) => out.push(format!("fact {key} = {:?}, expected {value:?}", f.value)),
            None => out.push(format!("fact {key} missing, expected {value:?}")),
        }
    }
    if let Some(sim) = &report.simulation {
        let max = expect.max_broken_pair_seconds.unwrap_or(0.0);
        let got = sim.outage.broken_pair_seconds;
        if got > max {
            let cause = sim
                .outage
                .windows
                .first()
                .map(|w| format!(" (first window: {})", w.cause))
                .unwrap_or_default();
            out.push(format!(
                "outage {got} broken pair-seconds, at most {max} expected{cause}"
            ));
        }
        // The run's own duration, not the watch after it.
        let took = sim.virtual_seconds - sim.after_run_seconds;
        if let Some(max) = expect.max_virtual_seconds
            && took > max
        {
            out.push(format!(
                "took {took} virtual seconds, at most {max} expected"
            ));
        }
        let f = &sim.final_state;
        compare(
            &mut out,
            "anchorRotated",
            f.anchor_rotated,
            expect.anchor_rotated,
        );
        compare(
            &mut out,
            "issuerRotated",
            f.issuer_rotated,
            expect.issuer_rotated,
        );
        compare(
            &mut out,
            "bundleAnchors",
            f.bundle_anchors,
            expect.bundle_anchors,
        );
        compare(
            &mut out,
            "proxiesTrustingRetiredAnchor",
            f.proxies_trusting_retired_anchor,
            expect.proxies_trusting_retired_anchor,
        );
        compare(
            &mut out,
            "proxiesWithRetiredChainLeaf",
            f.proxies_with_retired_chain_leaf,
            expect.proxies_with_retired_chain_leaf,
        );
        compare(
            &mut out,
            "workloadsNotReady",
            f.workloads_not_ready.len(),
            expect.workloads_not_ready,
        );
    }
    if let Some(max) = expect.max_mutations {
        let applied: Vec<&AuditEntry> = report
            .audit
            .iter()
            .filter(|e| e.outcome == AuditOutcome::Applied)
            .collect();
        if applied.len() > max {
            out.push(format!(
                "{} mutations applied, at most {max} expected (first: {} {})",
                applied.len(),
                applied[0].primitive,
                applied[0].target
            ));
        }
    }
    let restarts = restarts(&report.audit);
    if let Some(max) = expect.max_restarts
        && restarts.len() > max
    {
        out.push(format!(
            "{} restarts, at most {max} expected",
            restarts.len()
        ));
    }
    if let Some(min) = expect.min_restarts
        && restarts.len() < min
    {
        out.push(format!(
            "{} restarts, at least {min} expected",
            restarts.len()
        ));
    }
    for ns in &expect.not_restarted {
        if let Some(r) = restarts.iter().find(|r| r.matches(ns)) {
            out.push(format!(
                "{} restarted at {}, expected none in {ns}",
                r.workload, r.at
            ));
        }
    }
    for order in &expect.restart_order {
        if let Some(problem) = order_problem(&restarts, order) {
            out.push(problem);
        }
    }
    out
}

fn compare<T: PartialEq + std::fmt::Display>(
    out: &mut Vec<String>,
    field: &str,
    got: T,
    want: Option<T>,
) {
    if let Some(want) = want
        && got != want
    {
        out.push(format!("{field} {got}, expected {want}"));
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
    }
}

/// One applied workload restart, in audit order.
#[derive(Debug, Clone, PartialEq)]
pub struct Restart {
    pub at: i64,
    pub namespace: String,
    /// `Kind namespace/name`.
    pub workload: String,
}

impl Restart {
    /// Whether `selector` (a namespace, or `namespace/name`) names it.
    fn matches(&self, selector: &str) -> bool {
        match selector.split_once('/') {
            None => self.namespace == selector,
            Some(_) => self
                .workload
                .split_once(' ')
                .is_some_and(|(_, object)| object == selector),
        }
    }
}

/// Applied restarts from the audit trail (targets read `Kind ns/name`).
pub fn restarts(audit: &[AuditEntry]) -> Vec<Restart> {
    audit
        .iter()
        .filter(|e| e.outcome == AuditOutcome::Applied && e.primitive.is_restart())
        .filter_map(|e| {
            let (_, object) = e.target.split_once(' ')?;
            let (namespace, _) = object.split_once('/')?;
            Some(Restart {
                at: e.at,
                namespace: namespace.to_string(),
                workload: e.target.clone(),
            })
        })
        .collect()
}

/// Why `restarts` break `order`, if they do.
pub fn order_problem(restarts: &[Restart], order: &RestartOrder) -> Option<String> {
    // Per workload, the audit positions of its restarts (its rounds).
    let mut rounds: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in restarts.iter().enumerate() {
        rounds.entry(r.workload.as_str()).or_default().push(i);
    }
    let selected = |selector: &str| -> Vec<(&str, &Vec<usize>)> {
        rounds
            .iter()
            .filter(|(w, _)| {
                restarts
                    .iter()
                    .any(|r| r.workload == **w && r.matches(selector))
            })
            .map(|(w, v)| (*w, v))
            .collect()
    };
    let firsts = selected(&order.first);
    let thens = selected(&order.then);
    if thens.is_empty() {
        return None;
    }
    if firsts.is_empty() {
        return Some(format!(
            "{} was restarted but {} never was (expected before it)",
            order.then, order.first
        ));
    }
    for (then_w, then_rounds) in &thens {
        for (round, &pos) in then_rounds.iter().enumerate() {
            for (first_w, first_rounds) in &firsts {
                let late = match first_rounds.get(round) {
                    Some(&p) => p > pos,
                    None => true,
                };
                if late {
                    return Some(format!(
                        "{then_w} restarted at {} (round {}) before {first_w} was (expected {} before {})",
                        restarts[pos].at,
                        round + 1,
                        order.first,
                        order.then
                    ));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restart(at: i64, ns: &str, name: &str) -> Restart {
        Restart {
            at,
            namespace: ns.into(),
            workload: format!("Deployment {ns}/{name}"),
        }
    }

    fn order() -> RestartOrder {
        RestartOrder {
            first: "canary".into(),
            then: "payments".into(),
        }
    }

    #[test]
    fn order_holds_round_by_round() {
        let rs = vec![
            restart(1, "canary", "a"),
            restart(2, "payments", "p"),
            restart(3, "canary", "a"),
            restart(4, "payments", "p"),
        ];
        assert_eq!(order_problem(&rs, &order()), None);
    }

    #[test]
    fn a_late_canary_in_round_two_is_named() {
        let rs = vec![
            restart(1, "canary", "a"),
            restart(2, "payments", "p"),
            restart(3, "payments", "p"),
            restart(4, "canary", "a"),
        ];
        let problem = order_problem(&rs, &order()).expect("order broken");
        assert!(problem.contains("round 2"), "{problem}");
    }

    #[test]
    fn workloads_can_be_ordered_within_a_namespace() {
        let rs = vec![
            restart(1, "shop", "web"),
            restart(2, "shop", "api"),
            restart(3, "shop", "db"),
        ];
        let order = |first: &str, then: &str| RestartOrder {
            first: first.into(),
            then: then.into(),
        };
        assert_eq!(order_problem(&rs, &order("shop/web", "shop/api")), None);
        let problem = order_problem(&rs, &order("shop/db", "shop/api")).expect("broken");
        assert!(problem.contains("Deployment shop/api"), "{problem}");
    }

    #[test]
    fn a_missing_first_namespace_fails() {
        let rs = vec![restart(1, "payments", "p")];
        assert!(order_problem(&rs, &order()).is_some());
    }

    #[test]
    fn restarts_come_from_applied_audit_entries_only() {
        let entry = |outcome, primitive: &str, target: &str| AuditEntry {
            at: 5,
            primitive: primitive.parse().expect("a primitive"),
            target: target.into(),
            outcome,
            detail: String::new(),
            cluster: None,
        };
        let audit = vec![
            entry(AuditOutcome::Applied, "restart-workload", "Deployment a/x"),
            entry(AuditOutcome::Denied, "restart-workload", "Deployment b/y"),
            entry(AuditOutcome::Applied, "delete-pod", "Pod a/x-1"),
            entry(
                AuditOutcome::Applied,
                "restart-workloads",
                "StatefulSet c/z",
            ),
        ];
        let rs = restarts(&audit);
        let names: Vec<_> = rs.iter().map(|r| r.namespace.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
    }
}
