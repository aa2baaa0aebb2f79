//! Unix seconds as an RFC 3339 UTC time, for messages people read (when to
//! run again). Hand-written: the proleptic Gregorian calendar from days
//! since 1970 is a dozen lines (the civil-from-days algorithm), where a
//! date-time crate would grow every policy component for one format.

/// `2026-03-03T09:12:53Z` for `1772529173`.
pub fn rfc3339(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    // Days since 0000-03-01, in 400-year eras of 146,097 days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_772_529_173), "2026-03-03T09:12:53Z");
        assert_eq!(rfc3339(1_796_813_313), "2026-12-09T10:48:33Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
