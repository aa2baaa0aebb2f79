//! `rotor test`: run scenario files that carry an `Expect` document and
//! check each run against it. One line per scenario, then `N passed, N failed`.
//! Every file's `Expect` is read before anything runs: a malformed one is an
//! error naming the file and the field, not a failed scenario.
//!
//! The expectation is its own document in the scenario file, so the same
//! file still runs through `rotor simulate` (the loader skips it):
//!
//! ```yaml
//! apiVersion: rotor.dev/v1alpha1
//! kind: Expect
//! metadata: {name: canary goes first}    # shown after the file's path
//! spec:
//!   guest: ../policy.wasm                # relative to this file; default --guest, then the built-in policy
//!   config: {policy: {site: {canary: canary}}}  # a run configuration inline, or a file relative to this one
//!   outcome: succeeded                   # default
//!   maxBrokenPairSeconds: 0              # default 0: an outage fails unless allowed
//!   anchorRotated: true
//!   restartOrder: [{first: canary, then: payments}]
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde::Deserialize;
use serde_norway::Value;

use crate::cluster::Cluster;
use crate::cluster::sim::SimCluster;
use crate::config::RunConfig;
use crate::guard::{AuditEntry, AuditOutcome};
use crate::report::{Outcome, RunReport};
use crate::runtime::{LoadedPolicy, RunControls, Runtime, RuntimeOptions};

use super::{CommandError, new_runtime, one_line, read_config, read_policy};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy component for scenarios whose Expect names none [default: the built-in policy].
    #[arg(long, value_name = "FILE.wasm")]
    pub guest: Option<PathBuf>,

    /// Run configuration for scenarios whose Expect gives none.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Scenario files, or directories whose `*.yaml` files are run (those without an Expect document are skipped).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// What a run must show. Every field is optional; `outcome` defaults to
/// `succeeded`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Expect {
    /// Policy component, relative to the scenario file.
    pub guest: Option<PathBuf>,
    /// Run configuration: a mapping, or a file path relative to the scenario.
    pub config: Option<Value>,
    pub dry_run: bool,
    pub outcome: Option<ExpectedOutcome>,
    /// Text the run's error must contain (with `outcome: failed`).
    pub error_contains: Option<String>,
    /// Text the policy's summary message must contain.
    pub summary_contains: Option<String>,
    /// Summary facts that must be present with exactly these values.
    pub facts: BTreeMap<String, String>,
    /// Unset means 0: a scenario that tolerates an outage says so.
    pub max_broken_pair_seconds: Option<f64>,
    pub max_virtual_seconds: Option<i64>,
    pub anchor_rotated: Option<bool>,
    pub issuer_rotated: Option<bool>,
    pub bundle_anchors: Option<usize>,
    pub proxies_trusting_retired_anchor: Option<usize>,
    pub proxies_with_retired_chain_leaf: Option<usize>,
    /// Number of workloads with fewer Ready pods than desired at the end.
    pub workloads_not_ready: Option<usize>,
    /// Workload restarts applied over the run.
    pub max_restarts: Option<usize>,
    pub min_restarts: Option<usize>,
    /// Namespaces (or `namespace/name` workloads) never restarted.
    pub not_restarted: Vec<String>,
    pub restart_order: Vec<RestartOrder>,
}

/// How the run must end.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedOutcome {
    Succeeded,
    Failed,
}

impl From<ExpectedOutcome> for Outcome {
    fn from(o: ExpectedOutcome) -> Outcome {
        match o {
            ExpectedOutcome::Succeeded => Outcome::Succeeded,
            ExpectedOutcome::Failed => Outcome::Failed,
        }
    }
}

/// "`then` is restarted after `first`", round by round: the n-th restart of
/// every workload in `then` comes after the n-th restart of every workload
/// in `first` (a policy that restarts the mesh three times keeps the order
/// in each round). Each side is a namespace (`payments`) or one workload
/// (`shop/web`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RestartOrder {
    pub first: String,
    pub then: String,
}

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

/// A scenario file and what its run must show.
struct Case {
    path: PathBuf,
    text: String,
    /// `path (metadata.name)`, or the path alone.
    name: String,
    expect: Expect,
}

fn scenario_error(path: &Path, message: String) -> CommandError {
    CommandError::Scenario {
        path: path.to_path_buf(),
        message,
    }
}

/// The file's case; `None` for a file found in a directory without an
/// `Expect` document (a file named on the command line must have one).
fn read_case(file: &ScenarioFile) -> Result<Option<Case>, CommandError> {
    let path = &file.path;
    let text = std::fs::read_to_string(path)
        .map_err(|e| scenario_error(path, format!("cannot read: {e}")))?;
    let (name, expect) = match find_expect(&text).map_err(|m| scenario_error(path, m))? {
        Some(found) => found,
        None if file.named => {
            return Err(scenario_error(
                path,
                "no `kind: Expect` document (apiVersion rotor.dev/v1alpha1) to test against".into(),
            ));
        }
        None => return Ok(None),
    };
    let name = match name {
        Some(n) => format!("{} ({n})", path.display()),
        None => path.display().to_string(),
    };
    Ok(Some(Case {
        path: path.clone(),
        text,
        name,
        expect,
    }))
}

/// Exit 0 only when every scenario passed.
pub async fn run(args: TestArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    let files = collect(&args.paths)?;
    let default_config = read_config(args.config.as_deref())?;
    let mut cases = Vec::new();
    for file in files {
        match read_case(&file)? {
            Some(case) => cases.push(case),
            None => eprintln!("skipped {}: no Expect document", file.path.display()),
        }
    }
    if cases.is_empty() {
        let path = args.paths.first().cloned().unwrap_or_default();
        return Err(scenario_error(
            &path,
            "no scenario with a `kind: Expect` document to test".into(),
        ));
    }
    let runtime = new_runtime(options)?;
    let mut tester = Tester {
        runtime,
        default_guest: args.guest.clone(),
        default_config,
        loaded: HashMap::new(),
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for case in cases {
        let verdict = tester.run_case(case).await;
        if verdict.failures.is_empty() {
            passed += 1;
        } else {
            failed += 1;
        }
        println!("{}", verdict.line());
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

struct ScenarioFile {
    path: PathBuf,
    /// Named on the command line (not found in a directory): a missing
    /// `Expect` document is a failure, not a skip.
    named: bool,
}

/// The `*.yaml` / `*.yml` files of `dir`, sorted.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, CommandError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CommandError::Scenario {
        path: dir.to_path_buf(),
        message: format!("cannot list the directory: {e}"),
    })?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Files as given, and the `*.yaml` / `*.yml` files of directories and of
/// their `scenarios/` subdirectory (a policy crate keeps them there), sorted.
fn collect(paths: &[PathBuf]) -> Result<Vec<ScenarioFile>, CommandError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = yaml_files(path)?;
            let nested = path.join("scenarios");
            if nested.is_dir() {
                found.extend(yaml_files(&nested)?);
            }
            out.extend(
                found
                    .into_iter()
                    .map(|path| ScenarioFile { path, named: false }),
            );
        } else if path.is_file() {
            out.push(ScenarioFile {
                path: path.clone(),
                named: true,
            });
        } else {
            return Err(CommandError::Scenario {
                path: path.clone(),
                message: "no such file or directory".into(),
            });
        }
    }
    Ok(out)
}

struct Tester {
    runtime: Runtime,
    default_guest: Option<PathBuf>,
    default_config: RunConfig,
    /// Compiled policies by file (`None`: the built-in one).
    loaded: HashMap<Option<PathBuf>, LoadedPolicy>,
}

impl Tester {
    async fn run_case(&mut self, case: Case) -> Verdict {
        let failures = match self.run_one(&case.path, &case.text, &case.expect).await {
            Ok(report) => check(&case.expect, &report),
            Err(message) => vec![message],
        };
        Verdict {
            name: case.name,
            failures,
        }
    }

    async fn run_one(
        &mut self,
        path: &Path,
        text: &str,
        expect: &Expect,
    ) -> Result<RunReport, String> {
        let base = path.parent().unwrap_or(Path::new("."));
        let config = match &expect.config {
            None => self.default_config.clone(),
            Some(Value::String(file)) => {
                RunConfig::load(&base.join(file)).map_err(|e| one_line(&e.to_string()))?
            }
            Some(inline) => {
                let text = serde_norway::to_string(inline)
                    .map_err(|e| format!("Expect spec.config: {e}"))?;
                RunConfig::parse(&text, path).map_err(|e| one_line(&e.to_string()))?
            }
        };
        let guest = match &expect.guest {
            Some(file) => Some(base.join(file)),
            None => self.default_guest.clone(),
        };
        let cluster = Arc::new(
            SimCluster::from_yaml(text)
                .map_err(|e| format!("scenario: {}", one_line(&e.to_string())))?,
        );
        if !self.loaded.contains_key(&guest) {
            let (label, wasm) =
                read_policy(guest.as_deref()).map_err(|e| one_line(&e.to_string()))?;
            let policy = self
                .runtime
                .load(&label, &wasm)
                .map_err(|e| one_line(&e.to_string()))?;
            self.loaded.insert(guest.clone(), policy);
        }
        let policy = &self.loaded[&guest];
        let backend: Arc<dyn Cluster> = cluster.clone();
        let outcome = self
            .runtime
            .run(
                policy,
                backend,
                &config,
                RunControls {
                    dry_run: expect.dry_run,
                    ..RunControls::default()
                },
            )
            .await;
        // Judge the mesh as it settles after the run, as `simulate` does.
        cluster.watch_after_run();
        Ok(RunReport::new(
            outcome,
            policy,
            cluster.backend(),
            expect.dry_run,
            Some(cluster.simulation_report()),
        ))
    }
}

/// The scenario's `Expect` document and its `metadata.name`, if it has one.
pub fn find_expect(text: &str) -> Result<Option<(Option<String>, Expect)>, String> {
    let mut found = None;
    for (index, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc)
            .map_err(|e| format!("YAML does not parse: document {}: {e}", index + 1))?;
        let kind = value.get("kind").and_then(Value::as_str);
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind != Some("Expect") || !api.starts_with("rotor.dev/") {
            continue;
        }
        if found.is_some() {
            return Err("a scenario holds at most one Expect document".into());
        }
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let spec = value.get("spec").cloned().unwrap_or(Value::Null);
        let expect = if spec.is_null() {
            Expect::default()
        } else {
            serde_path_to_error::deserialize::<_, Expect>(spec).map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." {
                    "spec".to_string()
                } else {
                    format!("spec.{field}")
                };
                format!(
                    "Expect (document {}): {field}: {}",
                    index + 1,
                    one_line(&e.into_inner().to_string())
                )
            })?
        };
        found = Some((name, expect));
    }
    Ok(found)
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
    fn expect_document_is_found_and_unknown_fields_refused() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n\
                    apiVersion: rotor.dev/v1alpha1\nkind: Expect\nmetadata: {name: n}\n\
                    spec: {maxBrokenPairSeconds: 0, anchorRotated: true}\n";
        let (name, expect) = find_expect(text).expect("parses").expect("found");
        assert_eq!(name.as_deref(), Some("n"));
        assert_eq!(expect.anchor_rotated, Some(true));
        let bad = "apiVersion: rotor.dev/v1alpha1\nkind: Expect\nspec: {anchorRotatd: true}\n";
        let err = find_expect(bad).expect_err("refused");
        assert!(err.contains("anchorRotatd"), "{err}");
    }

    #[test]
    fn restarts_come_from_applied_audit_entries_only() {
        let entry = |outcome, primitive: &str, target: &str| AuditEntry {
            at: 5,
            primitive: primitive.parse().expect("a primitive"),
            target: target.into(),
            outcome,
            detail: String::new(),
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
