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
