//! Writes `RELIABILITY.md`: every injected fault, hostile policy and kind of
//! bad input rotor is tried against, how often, and what happened. Ignored
//! in the normal suite (it repeats what the other tests assert, many more
//! times); regenerate with
//! `cargo test -p rotor --test reliability -- --ignored`.

mod support;

use std::fmt::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rotor::cluster::Cluster;
use rotor::cluster::faults::{SimulatedBackend, simulated_backend};
use rotor::cluster::sim::{DEMO_SCENARIO, SimCluster};
use rotor::config::RunConfig;
use rotor::runtime::{DEFAULT_POLICY, RunControls};

use support::{fully_rotated, hostile_policy, run_default, runtime, scenario};

/// One line of the table.
struct Row {
    what: String,
    tries: u64,
    result: String,
}

/// Outcomes of some runs, tallied.
#[derive(Default)]
struct Tally {
    rotated: u64,
    stopped: Vec<String>,
    max_outage: f64,
}

impl Tally {
    fn result(&self) -> String {
        let mut stops = self.stopped.clone();
        stops.sort();
        stops.dedup();
        let mut out = format!(
            "{} rotated fully, {} stopped; broken pair-seconds (max, incl. 1 h after): {}",
            self.rotated,
            self.stopped.len(),
            self.max_outage
        );
        if !stops.is_empty() {
            let _ = write!(out, "; stopped with: {}", stops.join(" / "));
        }
        out
    }
}

fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let clipped: String = line.chars().take(110).collect();
    let clipped = clipped.replace('|', "\\|");
    if clipped.len() < line.len() {
        format!("{clipped}...")
    } else {
        clipped
    }
}

/// Run the default policy on `text`; advance an hour; tally the result.
async fn tally_run(text: &str, tally: &mut Tally) {
    let sim = Arc::new(SimCluster::from_yaml(text).expect("scenario loads"));
    let SimulatedBackend { backend, .. } = simulated_backend(sim.clone()).expect("valid faults");
    let outcome = run_default(backend, None).await;
    sim.advance(3600);
    let report = sim.simulation_report();
    tally.max_outage = tally.max_outage.max(report.outage.broken_pair_seconds);
    match outcome.result {
        Ok(_) if fully_rotated(&report.final_state) => tally.rotated += 1,
        Ok(_) => tally.stopped.push("succeeded without finishing".into()),
        Err(f) => tally.stopped.push(short(&f.message)),
    }
}

fn with_faults(faults: &str) -> String {
    scenario("demo.yaml").replacen(
        "  nodes: 3\n",
        &format!("  nodes: 3\n  faults: {faults}\n"),
        1,
    )
}

async fn fault_rows(rows: &mut Vec<Row>) {
    let seeded: [(&str, &str, u64); 4] = [
        (
            "10% transient API errors (429/500/timeout) on every primitive",
            "{seed: SEED, errors: {throttled: 0.04, serverError: 0.03, timeout: 0.03}}",
            50,
        ),
        (
            "30% transient API errors on every primitive",
            "{seed: SEED, errors: {throttled: 0.1, serverError: 0.1, timeout: 0.1}}",
            20,
        ),
        (
            "5% 409 Conflict on every mutation",
            "{seed: SEED, errors: {conflict: 0.05}}",
            20,
        ),
        (
            "renew-certificate always 500 (cert-manager API down)",
            "{seed: SEED, primitives: {renew-certificate: {serverError: 1.0}}}",
            1,
        ),
    ];
    for (what, faults, seeds) in seeded {
        let mut tally = Tally::default();
        for seed in 1..=seeds {
            tally_run(
                &with_faults(&faults.replace("SEED", &seed.to_string())),
                &mut tally,
            )
            .await;
        }
        rows.push(Row {
            what: what.into(),
            tries: seeds,
            result: tally.result(),
        });
    }
    for (file, what) in [
        (
            "never-ready.yaml",
            "a rollout that never completes (new pods never Ready)",
        ),
        (
            "identity-misses-reload.yaml",
            "identity misses the issuer reload (linkerd2#15109)",
        ),
        (
            "slow-cert-manager.yaml",
            "cert-manager issuance delayed 300 s",
        ),
        ("slow-sync.yaml", "trust-manager lag 90 s, kubelet 300 s"),
    ] {
        let mut tally = Tally::default();
        tally_run(&scenario(file), &mut tally).await;
        rows.push(Row {
            what: format!("{what} (`{file}`)"),
            tries: 1,
            result: tally.result(),
        });
    }
    for file in ["demo.yaml", "twenty-namespaces.yaml"] {
        rows.push(kill_and_resume(file).await);
    }
}

/// Kill after every mutation N of a full rotation, resume from saved state.
async fn kill_and_resume(file: &str) -> Row {
    let text = scenario(file);
    let whole = Arc::new(SimCluster::from_yaml(&text).expect("loads"));
    let mutations = run_default(whole.clone() as Arc<dyn Cluster>, None)
        .await
        .record
        .calls
        .mutations;
    let mut clean = 0;
    let mut max_outage: f64 = 0.0;
    for n in 1..=mutations {
        let first = Arc::new(SimCluster::from_yaml(&text).expect("loads"));
        let _ = run_default(first.clone() as Arc<dyn Cluster>, Some(n)).await;
        let second = Arc::new(SimCluster::from_yaml(&first.state_yaml()).expect("state loads"));
        let resumed = run_default(second.clone() as Arc<dyn Cluster>, None).await;
        let outage = first.simulation_report().outage.broken_pair_seconds
            + second.simulation_report().outage.broken_pair_seconds;
        max_outage = max_outage.max(outage);
        if resumed.result.is_ok() && fully_rotated(&second.simulation_report().final_state) {
            clean += 1;
        }
    }
    Row {
        what: format!("run killed after mutation N (every N), resumed from saved state (`{file}`)"),
        tries: mutations,
        result: format!(
            "{clean} of {mutations} resumed to a full rotation; broken pair-seconds (max, both runs): {max_outage}"
        ),
    }
}

async fn hostile_rows(rows: &mut Vec<Row>) {
    for (mode, what) in [
        ("loop", "endless loop"),
        ("host-call-loop", "endless loop of host calls"),
        ("memory-bomb", "memory bomb"),
        ("recursion", "deep recursion"),
        ("panic", "panic"),
        ("abort", "abort"),
        ("giant-log", "megabytes of log output"),
        ("giant-string", "a 2 MiB string passed to a host call"),
        (
            "write-secret-outside-grants",
            "writing a Secret outside its grants",
        ),
        ("sandbox-probe", "WASI file, environment, socket attempts"),
        ("wait-forever", "waiting forever (clock abuse)"),
    ] {
        let config = RunConfig::parse(
            &format!(
                "policy: {mode}\nlimits: {{cpuSeconds: 2, memoryMiB: 64, deadlineSeconds: 10800}}\n"
            ),
            Path::new("hostile.yaml"),
        )
        .expect("config");
        let sim = Arc::new(SimCluster::demo());
        let outcome = runtime()
            .run(
                hostile_policy(),
                sim.clone(),
                &config,
                RunControls::default(),
            )
            .await;
        let applied = match outcome.record.calls.mutations {
            0 => "no mutation applied".to_string(),
            n => format!("{n} MUTATIONS APPLIED"),
        };
        let result = match &outcome.result {
            Ok(summary) => format!(
                "ran to the end ({}); {} call(s) denied; {applied}",
                short(&summary.message),
                outcome.record.calls.denied
            ),
            Err(f) => format!("failed: {}; {applied}", short(&f.message)),
        };
        rows.push(Row {
            what: format!("hostile policy: {what} (`{mode}`)"),
            tries: 1,
            result,
        });
    }
    let unknown = wat::parse_str(
        "(component (import \"evil:exfiltrate/network@1.0.0\" (instance (export \"send\" (func (param \"data\" string))))))",
    )
    .expect("assembles");
    let mut header_only = b"\0asm\x0d\x00\x01\x00".to_vec();
    let mut truncated = DEFAULT_POLICY[..DEFAULT_POLICY.len() / 2].to_vec();
    for (what, bytes) in [
        ("component importing an unknown interface", unknown),
        (
            "empty component (no `run` export)",
            std::mem::take(&mut header_only),
        ),
        ("truncated component", std::mem::take(&mut truncated)),
        ("not wasm at all", b"#!/bin/sh\n".to_vec()),
    ] {
        let result = match runtime().load("policy.wasm", &bytes) {
            Ok(_) => "LOADED".to_string(),
            Err(e) => format!("refused at load: {}", short(&e.to_string())),
        };
        rows.push(Row {
            what: format!("hostile policy: {what}"),
            tries: 1,
            result,
        });
    }
}

/// Random damage to good input: accepted, refused with a message, or panic.
fn bad_input_rows(rows: &mut Vec<Row>) {
    const TRIES: u64 = 2000;
    let config = "policy: {mode: full}\nlimits: {cpuSeconds: 2, memoryMiB: 64}\n";
    let pem = rcgen::generate_simple_self_signed(vec!["issuer".to_string()])
        .expect("certificate")
        .cert
        .pem();
    type Check = Box<dyn Fn(&str) -> Result<(), String>>;
    let inputs: Vec<(&str, String, Check)> = vec![
        (
            "scenario loader (damaged demo scenario)",
            DEMO_SCENARIO.to_string(),
            Box::new(|t: &str| {
                SimCluster::from_yaml(t)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        ),
        (
            "run configuration parser (damaged config)",
            config.to_string(),
            Box::new(|t: &str| {
                RunConfig::parse(t, Path::new("run.yaml"))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        ),
        (
            "x509 helpers (damaged certificate PEM)",
            pem.clone(),
            Box::new(move |t: &str| {
                rotor::x509::verify_signed_by(t, &pem)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        ),
    ];
    let mut rng = StdRng::seed_from_u64(5);
    for (what, good, check) in inputs {
        let (mut accepted, mut refused, mut panicked) = (0, 0, 0);
        let mut example = String::new();
        for _ in 0..TRIES {
            let damaged = damage(&good, &mut rng);
            match catch_unwind(AssertUnwindSafe(|| check(&damaged))) {
                Ok(Ok(())) => accepted += 1,
                Ok(Err(message)) => {
                    refused += 1;
                    if example.is_empty() {
                        example = short(&message);
                    }
                }
                Err(_) => panicked += 1,
            }
        }
        rows.push(Row {
            what: format!("bad input: {what}"),
            tries: TRIES,
            result: format!("{accepted} accepted, {refused} refused with a message (e.g. \"{example}\"), {panicked} panicked"),
        });
    }
}

/// Delete, repeat or overwrite a random span, or cut the text short.
fn damage(text: &str, rng: &mut StdRng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = rng.random_range(0..=bytes.len());
    let len = rng.random_range(1..64).min(bytes.len() - at);
    match rng.random_range(0..4) {
        0 => {
            bytes.drain(at..at + len);
        }
        1 => {
            let span = bytes[at..at + len].to_vec();
            bytes.splice(at..at, span);
        }
        2 => bytes[at..at + len]
            .iter_mut()
            .for_each(|b| *b = rng.random_range(b' '..=b'~')),
        _ => bytes.truncate(at),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes RELIABILITY.md; run with --ignored"]
async fn write_reliability_table() {
    let mut rows = Vec::new();
    fault_rows(&mut rows).await;
    hostile_rows(&mut rows).await;
    bad_input_rows(&mut rows);
    let mut out = String::from(
        "# Reliability\n\n\
         What rotor was tried against and what happened. Generated by\n\
         `cargo test -p rotor --test reliability -- --ignored` (`tests/reliability.rs`);\n\
         rerun it to refresh this file. Fault runs use the default policy on the\n\
         demo scenario unless a scenario file is named, and the simulated mesh runs\n\
         on for an hour after each run so a mesh left broken would show as outage.\n\
         Hostile policies run `tests/guests/hostile` on the demo cluster (2 s CPU,\n\
         64 MiB). Bad input is random damage (delete, repeat, overwrite, cut) to\n\
         a good input; `tests/cli/bad_input.rs` runs the same checks as property tests.\n\n\
         | what was tried | times | what happened |\n|---|---|---|\n",
    );
    for row in &rows {
        let _ = writeln!(out, "| {} | {} | {} |", row.what, row.tries, row.result);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../RELIABILITY.md");
    std::fs::write(&path, &out).expect("write RELIABILITY.md");
    eprintln!("{out}");
}
