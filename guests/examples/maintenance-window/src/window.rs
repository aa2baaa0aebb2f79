//! A weekly window in a time zone: open on the listed days from a local
//! time for a number of minutes (it may run past midnight). Local times are
//! resolved the way `jiff` does by default around DST changes (a start in a
//! skipped hour moves forward, one in a repeated hour takes the earlier).

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use rotor_sdk::RotorError;
use serde::Deserialize;

/// The `site` configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowConfig {
    /// IANA name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Days the window opens, e.g. `saturday` or `sat`.
    pub days: Vec<String>,
    /// Local opening time, `HH:MM`.
    pub start: String,
    pub duration_minutes: u32,
}

pub struct Window {
    tz: TimeZone,
    tz_name: String,
    days: Vec<Weekday>,
    start: Time,
    minutes: i64,
}

fn bad(field: &str, message: String) -> RotorError {
    RotorError::Config(format!("site.{field}: {message}"))
}

fn weekday(name: &str) -> Option<Weekday> {
    let day = match name.to_ascii_lowercase().as_str() {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return None,
    };
    Some(day)
}

fn time_error(e: jiff::Error) -> RotorError {
    RotorError::State(format!("maintenance window: time arithmetic failed: {e}"))
}

impl Window {
    pub fn new(c: &WindowConfig) -> Result<Window, RotorError> {
        let tz = TimeZone::get(&c.time_zone)
            .map_err(|e| bad("timeZone", format!("{:?}: {e}", c.time_zone)))?;
        if c.days.is_empty() {
            return Err(bad("days", "list at least one day".into()));
        }
        let days = c
            .days
            .iter()
            .map(|d| {
                weekday(d).ok_or_else(|| bad("days", format!("{d:?} is not a day of the week")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let start: Time = c.start.parse().map_err(|e| {
            bad(
                "start",
                format!("{:?} is not a time of day like 02:00: {e}", c.start),
            )
        })?;
        if c.duration_minutes == 0 || c.duration_minutes > 7 * 24 * 60 {
            return Err(bad(
                "durationMinutes",
                format!("{} is not between 1 and 10080 (a week)", c.duration_minutes),
            ));
        }
        Ok(Window {
            tz,
            tz_name: c.time_zone.clone(),
            days,
            start,
            minutes: i64::from(c.duration_minutes),
        })
    }

    /// The openings on the days from `first` to `last` days after `now`'s
    /// local date (negative: before), as (open, close).
    fn openings(
        &self,
        now: &Zoned,
        first: i64,
        last: i64,
    ) -> Result<Vec<(Zoned, Zoned)>, jiff::Error> {
        let mut out = Vec::new();
        for offset in first..=last {
            let date = now.date().checked_add(offset.days())?;
            if !self.days.contains(&date.weekday()) {
                continue;
            }
            let open = date.to_datetime(self.start).to_zoned(self.tz.clone())?;
            let close = open.checked_add(self.minutes.minutes())?;
            out.push((open, close));
        }
        Ok(out)
    }

    /// `None` when the window is open at `now` (Unix seconds); otherwise
    /// why not, naming the next opening.
    pub fn closed_at(&self, now: i64) -> Result<Option<String>, RotorError> {
        let at = Timestamp::from_second(now).map_err(time_error)?;
        let local = at.to_zoned(self.tz.clone());
        // A window lasts at most a week, so one opened up to 7 days ago may
        // still be open; the next opening is at most 7 days ahead.
        let openings = self.openings(&local, -7, 7).map_err(time_error)?;
        if openings
            .iter()
            .any(|(open, close)| open.timestamp() <= at && at < close.timestamp())
        {
            return Ok(None);
        }
        let next = openings
            .iter()
            .map(|(open, _)| open)
            .find(|open| open.timestamp() > at)
            .map(|open| open.strftime("%A %Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|| "never".into());
        Ok(Some(format!(
            "outside the maintenance window (it is {} in {}; next window opens {next})",
            local.strftime("%A %H:%M"),
            self.tz_name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(tz: &str, days: &[&str], start: &str, minutes: u32) -> Result<Window, RotorError> {
        Window::new(&WindowConfig {
            time_zone: tz.into(),
            days: days.iter().map(|d| d.to_string()).collect(),
            start: start.into(),
            duration_minutes: minutes,
        })
    }

    fn at(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn open_inside_closed_outside_with_the_next_opening() {
        let w = window("Europe/Berlin", &["saturday"], "02:00", 240).unwrap();
        // Saturday 02:30 CET.
        assert_eq!(w.closed_at(at("2026-03-07T01:30:00Z")).unwrap(), None);
        // Saturday 06:00 CET: the window has just closed.
        let why = w.closed_at(at("2026-03-07T05:00:00Z")).unwrap().unwrap();
        assert!(
            why.contains("next window opens Saturday 2026-03-14 02:00 CET"),
            "{why}"
        );
    }

    #[test]
    fn a_window_may_run_past_midnight() {
        let w = window("UTC", &["sun"], "23:00", 120).unwrap();
        assert_eq!(
            w.closed_at(at("2026-03-09T00:30:00Z")).unwrap(),
            None,
            "Monday 00:30"
        );
        assert!(w.closed_at(at("2026-03-09T01:00:00Z")).unwrap().is_some());
    }

    #[test]
    fn daylight_saving_moves_the_window_in_utc() {
        let w = window("Europe/Berlin", &["sunday"], "04:00", 60).unwrap();
        // 29 March 2026: clocks go from CET to CEST at 02:00.
        assert_eq!(w.closed_at(at("2026-03-29T02:30:00Z")).unwrap(), None);
        assert!(w.closed_at(at("2026-03-22T02:30:00Z")).unwrap().is_some());
        assert_eq!(w.closed_at(at("2026-03-22T03:30:00Z")).unwrap(), None);
    }

    #[test]
    fn bad_settings_name_the_field() {
        let err = |r: Result<Window, RotorError>| r.err().unwrap().to_string();
        assert!(err(window("Mars/Olympus", &["sat"], "02:00", 60)).contains("site.timeZone"));
        assert!(err(window("UTC", &["caturday"], "02:00", 60)).contains("site.days"));
        assert!(err(window("UTC", &[], "02:00", 60)).contains("site.days"));
        assert!(err(window("UTC", &["sat"], "25:00", 60)).contains("site.start"));
        assert!(err(window("UTC", &["sat"], "02:00", 0)).contains("site.durationMinutes"));
    }
}
