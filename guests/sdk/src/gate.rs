//! Gates: poll an observable fact until it holds, fails, or a deadline passes.
//!
//! Every step of a rotation is followed by a gate instead of a sleep. The
//! clock is a trait so the polling rules are testable off wasm.

use crate::error::{CallContext, GateError, RotorError};

/// Seconds between two checks of a gate.
pub const POLL_SECONDS: u32 = 5;

/// Where a gate gets the time and how it sleeps.
pub trait Clock {
    fn now(&self) -> i64;
    fn wait(&self, seconds: u32) -> Result<(), RotorError>;
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
    loop {
        let outcome = check()?;
        let waited = clock.now() - start;
        match outcome {
            Check::Pass(value) => return Ok(value),
            Check::Fail(saw) => {
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
                    return Err(GateError {
                        gate: gate.to_string(),
                        waited,
                        saw,
                        timed_out: true,
                    }
                    .into());
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
    use std::cell::Cell;

    use super::*;

    /// A clock that only moves when waited on.
    pub struct FakeClock {
        pub now: Cell<i64>,
        pub waits: Cell<u32>,
    }

    impl FakeClock {
        pub fn at(now: i64) -> Self {
            FakeClock {
                now: Cell::new(now),
                waits: Cell::new(0),
            }
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
    fn seconds_until_never_negative() {
        let clock = FakeClock::at(100);
        assert_eq!(seconds_until(&clock, 90), 0);
        assert_eq!(seconds_until(&clock, 130), 30);
    }
}
