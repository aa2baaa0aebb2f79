//! Named steps a policy marks with `begin-step` / `end-step`, timed in
//! backend time, for the run report.

use serde::Serialize;

use crate::wit::Timestamp;

const MAX_STEPS: usize = 1_000;
const MAX_NAME: usize = 200;
const MAX_DETAIL: usize = 4_096;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    pub name: String,
    pub started_at: Timestamp,
    /// `None` while the step is still open.
    pub ended_at: Option<Timestamp>,
    pub ok: Option<bool>,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct StepRecorder {
    steps: Vec<Step>,
    dropped: u64,
}

impl StepRecorder {
    /// Opens `name`, closing (as ok) a step still open.
    pub fn begin(&mut self, name: &str, now: Timestamp) {
        self.close_open(now, true, "ended by the next step");
        if self.steps.len() >= MAX_STEPS {
            self.dropped += 1;
            return;
        }
        self.steps.push(Step {
            name: clip(name, MAX_NAME),
            started_at: now,
            ended_at: None,
            ok: None,
            detail: String::new(),
        });
    }

    /// Closes the latest open step of that name; an `end-step` without a
    /// `begin-step` becomes a zero-length step so its verdict is not lost.
    pub fn end(&mut self, name: &str, ok: bool, detail: &str, now: Timestamp) {
        let name = clip(name, MAX_NAME);
        let detail = clip(detail, MAX_DETAIL);
        if let Some(step) = self
            .steps
            .iter_mut()
            .rev()
            .find(|s| s.ended_at.is_none() && s.name == name)
        {
            step.ended_at = Some(now);
            step.ok = Some(ok);
            step.detail = detail;
            return;
        }
        if self.steps.len() >= MAX_STEPS {
            self.dropped += 1;
            return;
        }
        self.steps.push(Step {
            name,
            started_at: now,
            ended_at: Some(now),
            ok: Some(ok),
            detail,
        });
    }

    /// At the end of the run: a step left open ends with the run's verdict.
    pub fn finish(mut self, now: Timestamp, run_ok: bool) -> Vec<Step> {
        let detail = if run_ok {
            "policy returned"
        } else {
            "run ended during this step"
        };
        self.close_open(now, run_ok, detail);
        self.steps
    }

    fn close_open(&mut self, now: Timestamp, ok: bool, detail: &str) {
        for step in self.steps.iter_mut().filter(|s| s.ended_at.is_none()) {
            step.ended_at = Some(now);
            step.ok = Some(ok);
            step.detail = detail.to_string();
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Apply `f` to every policy-supplied string (redaction).
    pub fn map_text(&mut self, f: impl Fn(&str) -> String) {
        for step in &mut self.steps {
            step.name = f(&step.name);
            step.detail = f(&step.detail);
        }
    }
}

/// At most `max` bytes, cut at a character boundary.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_open_close_and_chain() {
        let mut r = StepRecorder::default();
        r.begin("preflight", 10);
        r.end("preflight", true, "all good", 12);
        r.begin("renew-anchor", 12);
        r.begin("restart", 20);
        r.end("verify", false, "bundle missing anchor", 25);
        let steps = r.finish(30, false);
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0].ended_at, Some(12));
        assert_eq!(steps[0].ok, Some(true));
        assert_eq!(steps[1].ended_at, Some(20), "closed by the next begin");
        assert_eq!(steps[2].name, "restart");
        assert_eq!(steps[2].ended_at, Some(30), "closed at the run's end");
        assert_eq!(steps[2].ok, Some(false));
        assert_eq!((steps[3].started_at, steps[3].ended_at), (25, Some(25)));
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h…");
        assert_eq!(clip("short", 10), "short");
    }
}
