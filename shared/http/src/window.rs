//! Date windows from query parameters: `startDate` inclusive, `endDate`
//! exclusive, both optional (the last 7 days up to now), dates without a time
//! read as the start of that day in `tz` (for `endDate`, the start of the
//! next day), times without an offset read in `tz`.

use callops_domain::{
    DomainError,
    time::{self, Span},
};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// The longest window a query may ask for.
pub const MAX_WINDOW_DAYS: i64 = 400;
/// The window when neither end is given.
pub const DEFAULT_WINDOW_DAYS: i64 = 7;

/// A span read from query parameters, with the zone its dates were read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zoned<S = Span> {
    pub span: S,
    pub tz: Tz,
}

pub fn parse_tz(text: Option<&str>) -> Result<Tz, DomainError> {
    match text {
        None => Ok(Tz::UTC),
        Some(name) => {
            name.parse::<Tz>().map_err(|_| DomainError::invalid("invalid_tz", format!("{name:?} is not an IANA time zone name (e.g. America/New_York)")))
        }
    }
}

/// Which end of the window a date is for: a bare date means the start of the
/// day for `startDate` and the start of the next day for `endDate`.
#[derive(Clone, Copy)]
enum End {
    Start,
    End,
}

fn parse_instant(text: &str, tz: Tz, end: End) -> Option<DateTime<Utc>> {
    if let Some(t) = time::parse(text) {
        return Some(t);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = match end {
            End::Start => date,
            End::End => date.succ_opt()?,
        };
        return Some(time::local_to_utc(tz, day.and_time(chrono::NaiveTime::MIN)));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|local| time::to_millis(time::local_to_utc(tz, local)))
}

/// Reads the ends of a window as given, either one open (`None`), and
/// refuses one that runs backwards.
pub fn parse_bounds(start: Option<&str>, end: Option<&str>, tz: Option<&str>) -> Result<Zoned<Span<Option<DateTime<Utc>>>>, DomainError> {
    let tz = parse_tz(tz)?;
    let read = |text: &str, end: End, name: &str, code: &'static str| {
        let shown: String = text.chars().take(64).collect();
        let at = parse_instant(text, tz, end)
            .ok_or_else(|| DomainError::invalid(code, format!("{name} {shown:?} is not a date (YYYY-MM-DD) or an RFC 3339 time")))?;
        time::supported(at).ok_or_else(|| DomainError::invalid(code, format!("{name} {shown:?} must be {}", time::SUPPORTED_TEXT)))
    };
    let start = start.map(|text| read(text, End::Start, "startDate", "invalid_start_date")).transpose()?;
    let end = end.map(|text| read(text, End::End, "endDate", "invalid_end_date")).transpose()?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(DomainError::invalid("invalid_window", "startDate must not be after endDate"));
    }
    Ok(Zoned { span: Span::new(start, end), tz })
}

/// Reads a window; `now` is the default end.
pub fn parse_window(start: Option<&str>, end: Option<&str>, tz: Option<&str>, now: DateTime<Utc>) -> Result<Zoned, DomainError> {
    let Zoned { span: Span { start, end }, tz } = parse_bounds(start, end, tz)?;
    let end = end.unwrap_or_else(|| time::to_millis(now));
    let start = start.unwrap_or(end - Duration::days(DEFAULT_WINDOW_DAYS));
    if start > end {
        return Err(DomainError::invalid("invalid_window", "startDate must not be after endDate"));
    }
    if end - start > Duration::days(MAX_WINDOW_DAYS) {
        return Err(DomainError::invalid("window_too_long", format!("a window may span at most {MAX_WINDOW_DAYS} days")));
    }
    Ok(Zoned { span: Span::new(start, end), tz })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn code(err: DomainError) -> &'static str {
        match err {
            DomainError::Invalid { code, .. } => code,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn dates_are_whole_days_in_the_zone() {
        let now = at("2024-02-20T12:00:00Z");
        let w = parse_window(Some("2024-02-01"), Some("2024-02-07"), None, now).unwrap();
        assert_eq!((w.span.start, w.span.end), (at("2024-02-01T00:00:00Z"), at("2024-02-08T00:00:00Z")));
        let w = parse_window(Some("2024-03-09"), Some("2024-03-10"), Some("America/New_York"), now).unwrap();
        assert_eq!((w.span.start, w.span.end), (at("2024-03-09T05:00:00Z"), at("2024-03-11T04:00:00Z")), "the DST day is 23 hours");
        let w = parse_window(Some("2024-02-01T09:30"), Some("2024-02-01T11:00:00-05:00"), Some("America/Chicago"), now).unwrap();
        assert_eq!((w.span.start, w.span.end), (at("2024-02-01T15:30:00Z"), at("2024-02-01T16:00:00Z")), "no offset: read in tz");
    }

    #[test]
    fn the_default_is_the_last_seven_days() {
        let now = at("2024-02-20T12:34:56.789Z");
        let w = parse_window(None, None, None, now).unwrap();
        assert_eq!((w.span.start, w.span.end), (at("2024-02-13T12:34:56.789Z"), now));
    }

    #[test]
    fn bad_windows_are_refused_with_a_code() {
        let now = at("2024-02-20T12:00:00Z");
        assert_eq!(code(parse_window(Some("yesterday"), None, None, now).unwrap_err()), "invalid_start_date");
        assert_eq!(code(parse_window(None, Some("2024-13-01"), None, now).unwrap_err()), "invalid_end_date");
        assert_eq!(code(parse_window(Some("2024-02-10"), Some("2024-02-01"), None, now).unwrap_err()), "invalid_window");
        assert_eq!(code(parse_window(Some("2022-01-01"), Some("2024-01-01"), None, now).unwrap_err()), "window_too_long");
        assert_eq!(code(parse_window(None, None, Some("Mars/Olympus"), now).unwrap_err()), "invalid_tz");
        assert!(parse_window(Some("2024-02-10T00:00:00Z"), Some("2024-02-10T00:00:00Z"), None, now).is_ok(), "an empty window is fine");
    }

    #[test]
    fn times_outside_the_supported_range_are_refused_never_panicked_on() {
        let now = at("2024-02-20T12:00:00Z");
        for (start, end, code_expected) in [
            (Some("2300-01-01"), None, "invalid_start_date"),
            (None, Some("+10000-01-01"), "invalid_end_date"),
            (Some("-0001-01-01"), None, "invalid_start_date"),
            (Some("1999-12-31T23:59:59Z"), None, "invalid_start_date"),
            (None, Some("2099-12-31"), "invalid_end_date"),
            (Some("262143-12-31"), Some("262143-12-31"), "invalid_start_date"),
        ] {
            assert_eq!(code(parse_window(start, end, None, now).unwrap_err()), code_expected, "{start:?} {end:?}");
        }
        // Samoa skipped 2011-12-30; a window over it is read, not panicked on.
        assert!(parse_window(Some("2011-12-30"), Some("2011-12-31"), Some("Pacific/Apia"), now).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text shaped like the dates and times a client sends, at every size of year, and anything else.
    fn when() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            "[+-]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}",
            "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?",
            "\\PC{0,30}",
        ])
    }

    fn zone() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            Just("America/New_York".to_string()),
            Just("Pacific/Apia".to_string()),
            Just("Pacific/Kiritimati".to_string()),
            Just("Asia/Kathmandu".to_string()),
            Just("UTC".to_string()),
            "\\PC{0,20}",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_window_is_read_within_bounds_or_refused_with_a_code(start in when(), end in when(), tz in zone(), now_ms in time::SUPPORTED_MILLIS) {
            let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
            match parse_window(start.as_deref(), end.as_deref(), tz.as_deref(), now) {
                Ok(window) => {
                    prop_assert!(window.span.start <= window.span.end);
                    prop_assert!(window.span.end - window.span.start <= Duration::days(MAX_WINDOW_DAYS));
                    prop_assert!(start.is_none() || time::is_supported(&window.span.start));
                    prop_assert!(time::is_supported(&window.span.end));
                }
                Err(err) => {
                    let refused = matches!(err, DomainError::Invalid { code, .. } if code.starts_with("invalid_") || code == "window_too_long");
                    prop_assert!(refused, "{:?}", err);
                }
            }
        }
    }
}
