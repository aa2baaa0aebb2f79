//! Why a run ended without a summary, told so a policy author can act:
//! the limit that was hit, the trap and its Wasm backtrace, the policy's last
//! error log line (where the SDK's panic hook puts the panic message) and its
//! captured stderr.

use std::fmt;

use serde::Serialize;
use wasmtime::{Trap, WasmBacktrace};

use crate::guard::RunLimitExceeded;
use crate::text::one_line;
use crate::wit::rotor::policy::types::Error as WitError;

use super::limiter::MemoryCapExceeded;
use super::steps::clip;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The policy returned `err(...)`.
    PolicyError,
    CpuDeadline,
    RunDeadline,
    /// Stopped on purpose by `--kill-after-mutations`.
    Killed,
    WallClock,
    MemoryCap,
    StackOverflow,
    Trap,
    /// Instantiation failed (start function trapped, limits hit early).
    Instantiate,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunFailure {
    pub kind: FailureKind,
    pub message: String,
    /// Innermost frame first, with function names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backtrace: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_error_log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
}

impl fmt::Display for RunFailure {
    /// One line: the message, then what the policy said about it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(log) = &self.policy_error_log {
            write!(f, "; policy logged: {}", clip(&one_line(log), 1_000))?;
        }
        if let Some(stderr) = &self.stderr {
            let already_said = self
                .policy_error_log
                .as_ref()
                .is_some_and(|log| stderr.contains(log.trim_start_matches("policy panicked: ")));
            if !already_said {
                write!(f, "; stderr: {}", clip(&one_line(stderr), 1_000))?;
            }
        }
        Ok(())
    }
}

impl RunFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> RunFailure {
        RunFailure {
            kind,
            message: message.into(),
            backtrace: vec![],
            policy_error_log: None,
            stderr: None,
        }
    }

    pub fn policy_error(error: &WitError) -> RunFailure {
        let (what, why) = match error {
            WitError::Denied(m) => ("denied", m),
            WitError::NotFound(m) => ("not found", m),
            WitError::Conflict(m) => ("conflict", m),
            WitError::Invalid(m) => ("invalid", m),
            WitError::Timeout(m) => ("timeout", m),
            WitError::Unavailable(m) => ("unavailable", m),
            WitError::Internal(m) => ("internal", m),
        };
        RunFailure::new(
            FailureKind::PolicyError,
            format!("policy returned an error: {what}: {why}"),
        )
    }

    /// Classify an error that ended the guest call.
    pub fn from_trap(
        error: &wasmtime::Error,
        memory: Option<&MemoryCapExceeded>,
        cpu_seconds: u64,
    ) -> RunFailure {
        let (kind, message) = if let Some(limit) = error.downcast_ref::<RunLimitExceeded>() {
            let kind = match limit {
                RunLimitExceeded::Deadline { .. } => FailureKind::RunDeadline,
                RunLimitExceeded::Killed { .. } => FailureKind::Killed,
            };
            (kind, limit.to_string())
        } else if let Some(cap) = error.downcast_ref::<MemoryCapExceeded>().or(memory) {
            (FailureKind::MemoryCap, cap.to_string())
        } else if let Some(trap) = error.downcast_ref::<Trap>() {
            match trap {
                Trap::Interrupt => (FailureKind::CpuDeadline, format!("CPU deadline exceeded ({cpu_seconds} s)")),
                Trap::StackOverflow => (
                    FailureKind::StackOverflow,
                    "policy trapped: stack overflow (unbounded recursion?)".to_string(),
                ),
                Trap::UnreachableCodeReached => (
                    FailureKind::Trap,
                    "policy trapped: unreachable instruction executed (a panic or abort in the policy)".to_string(),
                ),
                Trap::MemoryOutOfBounds => (
                    FailureKind::Trap,
                    format!("policy trapped: {trap} (a Rust policy whose stack overflows ends this way)"),
                ),
                other => (FailureKind::Trap, format!("policy trapped: {other}")),
            }
        } else {
            (
                FailureKind::Trap,
                format!("policy failed: {}", one_line(&format!("{error:#}"))),
            )
        };
        let mut failure = RunFailure::new(kind, message);
        if let Some(trace) = error.downcast_ref::<WasmBacktrace>() {
            failure.backtrace = collapse_frames(trace.frames().iter().map(|frame| {
                let name = frame
                    .func_name()
                    .map(|n| format!("{:#}", rustc_demangle::demangle(n)))
                    .unwrap_or_else(|| format!("<wasm function {}>", frame.func_index()));
                match frame.module().name() {
                    Some(module) => format!("{module}!{name}"),
                    None => name,
                }
            }));
        }
        failure
    }

    pub fn wall_clock(seconds: u64) -> RunFailure {
        RunFailure::new(
            FailureKind::WallClock,
            format!(
                "wall-clock limit of {seconds} s exceeded (the run was cancelled while the policy or a host call was still busy)"
            ),
        )
    }

    /// Attach what the policy said (already redacted by the caller).
    pub fn with_context(mut self, policy_error_log: Option<String>, stderr: String) -> RunFailure {
        self.policy_error_log = policy_error_log;
        self.stderr = (!stderr.is_empty()).then_some(stderr);
        self
    }
}

/// Runs of the same frame (recursion) become one line with a count.
fn collapse_frames(frames: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for frame in frames {
        match out.last_mut() {
            Some((last, count)) if *last == frame => *count += 1,
            _ => out.push((frame, 1)),
        }
    }
    out.into_iter()
        .map(|(frame, count)| {
            if count == 1 {
                frame
            } else {
                format!("{frame} (x{count})")
            }
        })
        .collect()
}
