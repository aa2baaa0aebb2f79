//! Gates: poll an observable fact until it holds, fails, or a deadline passes.
//!
//! Every step of a rotation is followed by a gate instead of a sleep. The
//! clock is a trait so the polling rules are testable off wasm.
//!
//! A waiting gate tells the host where it stands with a log line carrying
//! `progress=gate` (gate, waited, timeout, saw) when it first has to wait
//! and then once a minute of its clock, and `progress=gate-done` when it
//! stops waiting: `rotor run` shows them live and logs them.

use crate::error::{CallContext, GateError, RotorError};

/// Seconds between two checks of a gate.
pub const POLL_SECONDS: u32 = 5;

/// Seconds of the gate's clock between two `progress=gate` reports.
pub const REPORT_SECONDS: i64 = 60;

/// Where a gate gets the time, how it sleeps, and where it reports.
pub trait Clock {
    fn now(&self) -> i64;
    fn wait(&self, seconds: u32) -> Result<(), RotorError>;
    /// A progress line for the host (see the module's documentation).
    fn report(&self, message: &str, fields: &[(&str, &str)]);
}

/// The host's clock (virtual in the simulator).
pub struct HostClock;

impl Clock for HostClock {
    fn now(&self) -> i64 {
        crate::clock::now()
    }

    fn wait(&self, seconds: u32) -> Result<(), RotorError> {
        crate::clock::wait(seconds).call(|| format!("clock.wait({seconds})"))
    }

    fn report(&self, message: &str, fields: &[(&str, &str)]) {
        crate::debug(message, fields);
    }
}

/// Report that `gate` waits: `waited` of `timeout` seconds, last seeing `saw`.
pub fn report_waiting(clock: &dyn Clock, gate: &str, waited: i64, timeout: u32, saw: &str) {
    clock.report(
        "gate waiting",
        &[
            ("progress", "gate"),
            ("gate", gate),
            ("waited", &waited.to_string()),
            ("timeout", &timeout.to_string()),
            ("saw", saw),
        ],
    );
}

/// Report that `gate` stopped waiting (`passed`, `failed` or `timed-out`).
pub fn report_done(clock: &dyn Clock, gate: &str, waited: i64, outcome: &str) {
    clock.report(
        "gate done",
        &[
            ("progress", "gate-done"),
            ("gate", gate),
            ("waited", &waited.to_string()),
            ("outcome", outcome),
        ],
    );
}

/// One check of a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T> {
    /// The fact holds.
    Pass(T),
    /// Not yet; the string says what was seen.
    Pending(String),
    /// It will not hold without help (a failed rollout, a skipped reload).
    Fail(String),
}

/// Check `check` every `interval` seconds until it passes, fails, or
/// `timeout` seconds have passed since the first check.
pub fn wait_for<T>(
    clock: &dyn Clock,
    gate: &str,
    timeout: u32,
    interval: u32,
    mut check: impl FnMut() -> Result<Check<T>, RotorError>,
) -> Result<T, RotorError> {
    let start = clock.now();
    let interval = interval.max(1);
    // When the last `progress=gate` report was made; none before the first wait.
    let mut reported: Option<i64> = None;
    loop {
        let outcome = check()?;
        let now = clock.now();
        let waited = now - start;
        match outcome {
            Check::Pass(value) => {
                if reported.is_some() {
                    report_done(clock, gate, waited, "passed");
                }
                return Ok(value);
            }
            Check::Fail(saw) => {
                if reported.is_some() {
                    report_done(clock, gate, waited, "failed");
                }
                return Err(GateError {
                    gate: gate.to_string(),
                    waited,
                    saw,
                    timed_out: false,
                }
                .into());
            }
            Check::Pending(saw) => {
                let left = i64::from(timeout) - waited;
                if left <= 0 {
                    if reported.is_some() {
                        report_done(clock, gate, waited, "timed-out");
                    }
                    return Err(GateError {
                        gate: gate.to_string(),
                        waited,
                        saw,
                        timed_out: true,
                    }
                    .into());
                }
                if reported.is_none_or(|at| now - at >= REPORT_SECONDS) {
                    report_waiting(clock, gate, waited, timeout, &saw);
                    reported = Some(now);
                }
                let nap = u32::try_from(left).unwrap_or(u32::MAX).min(interval);
                clock.wait(nap)?;
            }
        }
    }
}

/// Seconds left until `deadline` (Unix seconds), never negative.
pub fn seconds_until(clock: &dyn Clock, deadline: i64) -> u32 {
    u32::try_from((deadline - clock.now()).max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;

    /// A clock that only moves when waited on, and keeps what it was told.
    pub struct FakeClock {
        pub now: Cell<i64>,
        pub waits: Cell<u32>,
        pub reports: RefCell<Vec<Vec<(String, String)>>>,
    }

    impl FakeClock {
        pub fn at(now: i64) -> Self {
            FakeClock {
                now: Cell::new(now),
                waits: Cell::new(0),
                reports: RefCell::new(Vec::new()),
            }
        }

        /// `field` of each report, in order.
        pub fn reported(&self, field: &str) -> Vec<String> {
            self.reports
                .borrow()
                .iter()
                .map(|r| {
                    r.iter()
                        .find(|(k, _)| k == field)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect()
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> i64 {
            self.now.get()
        }
        fn wait(&self, seconds: u32) -> Result<(), RotorError> {
            self.waits.set(self.waits.get() + 1);
            self.now.set(self.now.get() + i64::from(seconds));
            Ok(())
        }
        fn report(&self, _message: &str, fields: &[(&str, &str)]) {
            let fields = fields
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect();
            self.reports.borrow_mut().push(fields);
        }
    }

    #[test]
    fn passes_once_the_fact_holds() {
        let clock = FakeClock::at(1000);
        let got = wait_for(&clock, "g", 60, 5, || {
            Ok(if clock.now() >= 1012 {
                Check::Pass(clock.now())
            } else {
                Check::Pending("no".into())
            })
        })
        .unwrap();
        assert_eq!(got, 1015);
        assert_eq!(clock.waits.get(), 3);
    }

    #[test]
    fn times_out_at_the_deadline_with_what_it_saw() {
        let clock = FakeClock::at(0);
        let err = wait_for::<()>(&clock, "bundle-holds-new-anchor", 12, 5, || {
            Ok(Check::Pending(format!("still old at {}", clock.now())))
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "gate bundle-holds-new-anchor: after 12 s still old at 12"
        );
        // 5 + 5 + 2: the last nap is cut to the deadline.
        assert_eq!(clock.now(), 12);
    }

    #[test]
    fn a_failure_stops_without_waiting() {
        let clock = FakeClock::at(0);
        let err = wait_for::<()>(&clock, "rollout", 600, 5, || {
            Ok(Check::Fail("deadline exceeded".into()))
        })
        .unwrap_err();
        match err {
            RotorError::Gate(g) => {
                assert!(!g.timed_out);
                assert_eq!(g.waited, 0);
            }
            other => panic!("{other}"),
        }
        assert_eq!(clock.waits.get(), 0);
    }

    #[test]
    fn zero_timeout_checks_once() {
        let clock = FakeClock::at(0);
        assert!(wait_for::<()>(&clock, "g", 0, 5, || Ok(Check::Pending("x".into()))).is_err());
        assert_eq!(clock.waits.get(), 0);
        assert_eq!(
            wait_for(&clock, "g", 0, 5, || Ok(Check::Pass(7))).unwrap(),
            7
        );
    }

    #[test]
    fn a_waiting_gate_reports_at_first_then_once_a_minute_then_its_end() {
        let clock = FakeClock::at(0);
        wait_for(&clock, "anchor-renewed", 600, 5, || {
            Ok(if clock.now() >= 150 {
                Check::Pass(())
            } else {
                Check::Pending(format!("revision still 1 at {}", clock.now()))
            })
        })
        .unwrap();
        assert_eq!(
            clock.reported("progress"),
            vec!["gate", "gate", "gate", "gate-done"]
        );
        assert_eq!(clock.reported("waited"), vec!["0", "60", "120", "150"]);
        assert_eq!(clock.reported("saw")[1], "revision still 1 at 60");
        assert_eq!(clock.reported("timeout")[0], "600");
        assert_eq!(clock.reported("outcome")[3], "passed");
    }

    #[test]
    fn a_gate_that_never_waited_reports_nothing() {
        let clock = FakeClock::at(0);
        wait_for(&clock, "g", 60, 5, || Ok(Check::Pass(()))).unwrap();
        assert!(clock.reports.borrow().is_empty());
        let _ = wait_for::<()>(&clock, "g", 60, 5, || Ok(Check::Fail("x".into())));
        assert!(clock.reports.borrow().is_empty());
        let _ = wait_for::<()>(&clock, "g", 7, 5, || Ok(Check::Pending("x".into())));
        assert_eq!(clock.reported("outcome").last().unwrap(), "timed-out");
    }

    #[test]
    fn seconds_until_never_negative() {
        let clock = FakeClock::at(100);
        assert_eq!(seconds_until(&clock, 90), 0);
        assert_eq!(seconds_until(&clock, 130), 30);
    }
}
