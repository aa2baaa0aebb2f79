//! The policy's `log` import: lines go to `tracing` (target `policy`),
//! bounded in size and in number per run; the last error is kept because a
//! panicking policy's message arrives there just before its trap.

use crate::guard::Redactor;
use crate::wit::{KeyValue, Level};

use super::steps::clip;

pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;
pub const MAX_LINES_PER_RUN: u64 = 10_000;

#[derive(Debug, Default)]
pub struct PolicyLog {
    pub lines: u64,
    pub dropped: u64,
    pub last_error: Option<String>,
}

impl PolicyLog {
    pub fn record(
        &mut self,
        level: Level,
        message: &str,
        fields: &[KeyValue],
        redactor: &Redactor,
    ) {
        let message = clip(&redactor.redact(message), MAX_MESSAGE_BYTES);
        if level == Level::Error {
            self.last_error = Some(message.clone());
        }
        if self.lines >= MAX_LINES_PER_RUN {
            self.dropped += 1;
            if self.dropped == 1 {
                tracing::warn!(target: "policy", "policy log limit of {MAX_LINES_PER_RUN} lines reached; further lines are counted, not shown");
            }
            return;
        }
        self.lines += 1;
        let fields = render_fields(fields, redactor);
        match level {
            Level::Trace => tracing::trace!(target: "policy", fields = %fields, "{message}"),
            Level::Debug => tracing::debug!(target: "policy", fields = %fields, "{message}"),
            Level::Info => tracing::info!(target: "policy", fields = %fields, "{message}"),
            Level::Warn => tracing::warn!(target: "policy", fields = %fields, "{message}"),
            Level::Error => tracing::error!(target: "policy", fields = %fields, "{message}"),
        }
    }
}

fn render_fields(fields: &[KeyValue], redactor: &Redactor) -> String {
    let mut out = String::new();
    for kv in fields.iter().take(32) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&clip(&kv.key, 64));
        out.push('=');
        out.push_str(&clip(&redactor.redact(&kv.value), 512));
        if out.len() > MAX_MESSAGE_BYTES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_is_capped_and_counted() {
        let mut log = PolicyLog::default();
        let r = Redactor::default();
        for i in 0..(MAX_LINES_PER_RUN + 5) {
            log.record(Level::Debug, &format!("line {i}"), &[], &r);
        }
        assert_eq!(log.lines, MAX_LINES_PER_RUN);
        assert_eq!(log.dropped, 5);
    }

    #[test]
    fn last_error_is_kept_clipped_and_redacted() {
        let mut log = PolicyLog::default();
        let mut r = Redactor::default();
        r.learn(b"hunter2hunter2");
        log.record(Level::Error, "leaked hunter2hunter2", &[], &r);
        assert_eq!(log.last_error.as_deref(), Some("leaked [redacted]"));
        log.record(Level::Error, &"x".repeat(MAX_MESSAGE_BYTES * 2), &[], &r);
        assert!(
            log.last_error
                .as_ref()
                .is_some_and(|m| m.len() <= MAX_MESSAGE_BYTES + 4)
        );
    }
}
