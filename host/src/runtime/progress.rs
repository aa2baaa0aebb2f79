//! Where a running policy stands, as `tracing` events (target
//! `rotor::progress`) for the live display and the log: steps from
//! `begin-step` / `end-step`, restart windows (and the waves of policies
//! built before them) and waiting gates from the policy's log
//! lines that carry a `progress` field (the SDK's gate and restart code
//! writes them). Field names are documented in `docs/observability.md`.

use std::collections::HashMap;

use crate::cluster::Backend;
use crate::guard::Redactor;
use crate::wit::{KeyValue, Timestamp};

use super::steps::clip;

/// The `tracing` target the display and the log read.
pub const TARGET: &str = "rotor::progress";

/// Backend seconds between two `waiting` lines of one gate.
pub const WAITING_EVERY_SECONDS: i64 = 60;

/// In the simulator a gate can wait days of virtual time in a second:
/// at most this many `waiting` lines per gate there.
pub const MAX_SIMULATED_WAITING_LINES: u32 = 30;

const MAX_TEXT: usize = 300;

/// The run is over (the live display clears itself before the report).
pub fn run_finished(ok: bool, started_at: Timestamp, finished_at: Timestamp) {
    let seconds = finished_at - started_at;
    let verdict = if ok { "succeeded" } else { "failed" };
    tracing::info!(
        target: TARGET,
        event = "run-finished",
        ok,
        seconds,
        at = finished_at,
        "run {verdict} after {seconds} s"
    );
}

/// Turns what the policy tells the host into progress events.
#[derive(Debug)]
pub struct ProgressTracker {
    /// `virtual` in the simulator, `wall` against a cluster.
    clock: &'static str,
    step: Option<(String, Timestamp)>,
    /// Per gate: when its last `waiting` line was emitted, and how many.
    gates: HashMap<String, (Timestamp, u32)>,
}

impl ProgressTracker {
    pub fn new(backend: Backend) -> ProgressTracker {
        ProgressTracker {
            clock: if backend == Backend::Simulated {
                "virtual"
            } else {
                "wall"
            },
            step: None,
            gates: HashMap::new(),
        }
    }

    fn step_name(&self) -> &str {
        self.step.as_ref().map_or("", |(name, _)| name.as_str())
    }

    pub fn step_began(&mut self, name: &str, now: Timestamp, redactor: &Redactor) {
        let name = clip(&redactor.redact(name), MAX_TEXT);
        tracing::info!(
            target: TARGET,
            event = "step-started",
            step = %name,
            at = now,
            "step {name} started"
        );
        self.step = Some((name, now));
        self.gates.clear();
    }

    pub fn step_ended(
        &mut self,
        name: &str,
        ok: bool,
        detail: &str,
        now: Timestamp,
        redactor: &Redactor,
    ) {
        let name = clip(&redactor.redact(name), MAX_TEXT);
        let detail = clip(&redactor.redact(detail), MAX_TEXT);
        let seconds = match &self.step {
            Some((open, started)) if *open == name => now - started,
            _ => 0,
        };
        let verdict = if ok { "ok" } else { "failed" };
        tracing::info!(
            target: TARGET,
            event = "step-ended",
            step = %name,
            ok,
            seconds,
            detail = %detail,
            at = now,
            "step {name} ended {verdict} after {seconds} s"
        );
        self.step = None;
        self.gates.clear();
    }

    /// A policy log line: a progress event when it carries a `progress` field.
    pub fn log_line(&mut self, fields: &[KeyValue], now: Timestamp, redactor: &Redactor) {
        let Some(kind) = field(fields, "progress") else {
            return;
        };
        let text = |key: &str| clip(&redactor.redact(field(fields, key).unwrap_or("")), MAX_TEXT);
        let number = |key: &str| field(fields, key).and_then(|v| v.parse::<i64>().ok());
        let step = self.step_name().to_string();
        match kind {
            "wave" => {
                let (wave, waves) = (number("wave").unwrap_or(0), number("waves").unwrap_or(0));
                let (done, total) = (number("done").unwrap_or(0), number("total").unwrap_or(0));
                let size = number("size").unwrap_or(0);
                let workloads = text("workloads");
                tracing::info!(
                    target: TARGET,
                    event = "wave",
                    step = %step,
                    wave,
                    waves,
                    size,
                    done,
                    total,
                    workloads = %workloads,
                    at = now,
                    "wave {wave} of {waves}: restarting {size} workload(s), {done} of {total} done"
                );
            }
            "window" => {
                let (started, running) = (
                    number("started").unwrap_or(0),
                    number("running").unwrap_or(0),
                );
                let (done, total) = (number("done").unwrap_or(0), number("total").unwrap_or(0));
                let workloads = text("workloads");
                tracing::info!(
                    target: TARGET,
                    event = "window",
                    step = %step,
                    started,
                    running,
                    done,
                    total,
                    workloads = %workloads,
                    at = now,
                    "restarting {started} workload(s), {running} rolling out, {done} of {total} done"
                );
            }
            "gate" => {
                let gate = text("gate");
                let (count, due) = match self.gates.get(&gate) {
                    None => (0, true),
                    Some((last, count)) => (*count, now - last >= WAITING_EVERY_SECONDS),
                };
                let capped = self.clock == "virtual" && count >= MAX_SIMULATED_WAITING_LINES;
                if !due || capped {
                    return;
                }
                self.gates.insert(gate.clone(), (now, count + 1));
                let waited = number("waited").unwrap_or(0);
                let timeout = number("timeout").unwrap_or(0);
                let saw = text("saw");
                tracing::info!(
                    target: TARGET,
                    event = "waiting",
                    step = %step,
                    gate = %gate,
                    waited,
                    timeout,
                    saw = %saw,
                    clock = self.clock,
                    at = now,
                    "waiting on gate {gate} for {waited} s of {timeout} s: {saw}"
                );
            }
            "gate-done" => {
                let gate = text("gate");
                self.gates.remove(&gate);
                let waited = number("waited").unwrap_or(0);
                let outcome = text("outcome");
                tracing::info!(
                    target: TARGET,
                    event = "gate-done",
                    step = %step,
                    gate = %gate,
                    waited,
                    outcome = %outcome,
                    at = now,
                    "gate {gate} {outcome} after {waited} s"
                );
            }
            _ => {}
        }
    }
}

fn field<'a>(fields: &'a [KeyValue], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The log lines `f` emits, as the binary's text format writes them.
    fn captured(f: impl FnOnce()) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    fn waiting(gate: &str, waited: i64) -> Vec<KeyValue> {
        vec![
            KeyValue::new("progress", "gate"),
            KeyValue::new("gate", gate),
            KeyValue::new("waited", waited.to_string()),
            KeyValue::new("timeout", "3600"),
            KeyValue::new("saw", "revision still 1"),
        ]
    }

    /// A policy that reports its gate every 5 s for `seconds`.
    fn waiting_lines(backend: Backend, seconds: i64) -> Vec<String> {
        let r = Redactor::default();
        captured(|| {
            let mut t = ProgressTracker::new(backend);
            t.step_began("renew-anchor", 0, &r);
            for now in (0..=seconds).step_by(5) {
                t.log_line(&waiting("anchor-renewed", now), now, &r);
            }
            t.step_ended("renew-anchor", true, "done", seconds, &r);
        })
        .into_iter()
        .filter(|l| l.contains("waiting on gate"))
        .collect()
    }

    #[test]
    fn a_waiting_gate_is_logged_once_a_minute() {
        let lines = waiting_lines(Backend::Kubernetes, 300);
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert!(
            lines[1]
                .contains("waiting on gate anchor-renewed for 60 s of 3600 s: revision still 1"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("step=renew-anchor"), "{}", lines[1]);
    }

    #[test]
    fn the_simulator_logs_a_bounded_number_of_virtual_minutes() {
        assert_eq!(
            waiting_lines(Backend::Simulated, 3 * 3_600).len(),
            MAX_SIMULATED_WAITING_LINES as usize
        );
        assert_eq!(waiting_lines(Backend::Kubernetes, 3 * 3_600).len(), 181);
    }

    #[test]
    fn steps_waves_and_secrets_in_lines() {
        let mut r = Redactor::default();
        r.learn(b"hunter2hunter2");
        let lines = captured(|| {
            let mut t = ProgressTracker::new(Backend::Kubernetes);
            t.step_began("trust-new-anchor/data-plane", 100, &r);
            let wave = [
                ("progress", "wave"),
                ("wave", "2"),
                ("waves", "5"),
                ("size", "3"),
                ("done", "3"),
                ("total", "13"),
                ("workloads", "deployment shop/a, deployment shop/b"),
            ];
            let wave: Vec<KeyValue> = wave.iter().map(|(k, v)| KeyValue::new(*k, *v)).collect();
            t.log_line(&wave, 110, &r);
            t.log_line(&[KeyValue::new("other", "x")], 111, &r);
            t.step_ended(
                "trust-new-anchor/data-plane",
                false,
                "leaked hunter2hunter2",
                160,
                &r,
            );
        });
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].contains("step trust-new-anchor/data-plane started"));
        assert!(
            lines[1].contains("wave 2 of 5: restarting 3 workload(s), 3 of 13 done"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains("step trust-new-anchor/data-plane ended failed after 60 s"),
            "{}",
            lines[2]
        );
        assert!(lines[2].contains("[redacted]") && !lines[2].contains("hunter2"));
    }

    #[test]
    fn a_window_of_restarts_says_what_runs_and_what_is_done() {
        let r = Redactor::default();
        let lines = captured(|| {
            let mut t = ProgressTracker::new(Backend::Kubernetes);
            t.step_began("adopt-new-issuer/data-plane", 100, &r);
            let window = [
                ("progress", "window"),
                ("started", "2"),
                ("running", "50"),
                ("done", "120"),
                ("total", "500"),
                ("workloads", "deployment shop/a, deployment shop/b"),
            ];
            let window: Vec<KeyValue> = window.iter().map(|(k, v)| KeyValue::new(*k, *v)).collect();
            t.log_line(&window, 110, &r);
        });
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[1].contains("restarting 2 workload(s), 50 rolling out, 120 of 500 done"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains("step=adopt-new-issuer/data-plane"),
            "{}",
            lines[1]
        );
    }
}
