//! Time as CallOps keeps it: UTC, millisecond precision, written the same way
//! everywhere (RFC 3339 with exactly three fractional digits and `Z`), so that
//! stored timestamps sort as text and equal what the legacy `timestamp(3)`
//! columns held.
//!
//! Every time that comes from outside (a query window, `scheduledAt`, a
//! campaign's start, a Vapi report, a legacy row) is checked against
//! [`SUPPORTED_MILLIS`] at the edge: inside it, the text form has a
//! four-digit year and sorts as time, and no date arithmetic CallOps does
//! can leave chrono's range.

use std::ops::Range;

use chrono::{DateTime, SubsecRound, Utc};

/// Where a use case reads the time. Production reads the system clock;
/// a test sets the hour it needs (a callee's calling window, a weekday).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A span of time, `start` inclusive, `end` exclusive: the one name for a
/// window, a range or the bounds of a query. `Span` has both ends;
/// `Span<Option<DateTime<Utc>>>` may leave either open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span<T = DateTime<Utc>> {
    pub start: T,
    pub end: T,
}

impl<T> Span<T> {
    pub fn new(start: T, end: T) -> Self {
        Span { start, end }
    }
}

impl Span<Option<DateTime<Utc>>> {
    /// All of time.
    pub const ALL: Self = Span { start: None, end: None };

    /// Everything before `end`.
    pub fn before(end: DateTime<Utc>) -> Self {
        Span { start: None, end: Some(end) }
    }
}

impl From<Span> for Span<Option<DateTime<Utc>>> {
    fn from(span: Span) -> Self {
        Span { start: Some(span.start), end: Some(span.end) }
    }
}

impl From<(DateTime<Utc>, DateTime<Utc>)> for Span {
    fn from((start, end): (DateTime<Utc>, DateTime<Utc>)) -> Self {
        Span { start, end }
    }
}

impl PartialEq<(DateTime<Utc>, DateTime<Utc>)> for Span {
    fn eq(&self, other: &(DateTime<Utc>, DateTime<Utc>)) -> bool {
        (self.start, self.end) == *other
    }
}

/// The times CallOps takes from outside, as epoch milliseconds: from
/// 2000-01-01T00:00:00Z (inclusive) to 2100-01-01T00:00:00Z (exclusive).
pub const SUPPORTED_MILLIS: Range<i64> = 946_684_800_000..4_102_444_800_000;

/// Whether `t` lies in [`SUPPORTED_MILLIS`].
pub fn is_supported(t: &DateTime<Utc>) -> bool {
    SUPPORTED_MILLIS.contains(&t.timestamp_millis())
}

/// `t` when it lies in [`SUPPORTED_MILLIS`].
pub fn supported(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    is_supported(&t).then_some(t)
}

/// Whether a stored time reads back as it is: supported, and to the millisecond.
pub fn is_storable(t: &DateTime<Utc>) -> bool {
    is_supported(t) && to_millis(*t) == *t
}

/// The supported range, in words, for error messages.
pub const SUPPORTED_TEXT: &str = "from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z";

/// The instant of epoch milliseconds `ms`, cut to the millisecond, when it is supported.
pub fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    SUPPORTED_MILLIS.contains(&ms).then(|| DateTime::from_timestamp_millis(ms)).flatten()
}

/// The one text form of a timestamp: `2024-02-07T09:30:00.000Z`.
pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// A timestamp cut to the millisecond, the precision every stored time has.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

/// Now, cut to the millisecond.
pub fn now() -> DateTime<Utc> {
    to_millis(Utc::now())
}

/// The canonical text of a timestamp.
pub fn format(t: &DateTime<Utc>) -> String {
    t.format(FORMAT).to_string()
}

/// Parses any RFC 3339 timestamp (any offset) into UTC at millisecond precision.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| to_millis(t.with_timezone(&Utc)))
}

/// Serde for `DateTime<Utc>` in the canonical form.
pub mod ms {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format(FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| D::Error::custom(format!("not an RFC 3339 timestamp: {text}")))
    }

    /// The same for `Option<DateTime<Utc>>` (`null` when absent).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.collect_str(&t.format(FORMAT)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(text) => parse(&text).map(Some).ok_or_else(|| D::Error::custom(format!("not an RFC 3339 timestamp: {text}"))),
            }
        }
    }
}

/// How far in the past a requested time may be (clocks differ a little).
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(30);
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_has_millis_and_sorts_as_time() {
        let a = parse("2024-02-07T09:30:00Z").unwrap();
        let b = parse("2024-02-07T10:30:00.5+01:00").unwrap();
        assert_eq!(format(&a), "2024-02-07T09:30:00.000Z");
        assert_eq!(format(&b), "2024-02-07T09:30:00.500Z");
        assert!(format(&a) < format(&b));
        let c = parse("2024-02-07T09:30:00.123456Z").unwrap();
        assert_eq!(format(&c), "2024-02-07T09:30:00.123Z");
        assert!(parse("yesterday").is_none());
    }

    #[test]
    fn the_supported_range_is_this_century() {
        assert!(is_supported(&parse("2000-01-01T00:00:00Z").unwrap()));
        assert!(is_supported(&parse("2099-12-31T23:59:59.999Z").unwrap()));
        assert!(!is_supported(&parse("2100-01-01T00:00:00Z").unwrap()));
        assert!(!is_supported(&parse("1999-12-31T23:59:59.999Z").unwrap()));
        assert_eq!(from_millis(SUPPORTED_MILLIS.start), parse("2000-01-01T00:00:00Z"));
        assert_eq!(from_millis(SUPPORTED_MILLIS.end), None);
        assert_eq!(from_millis(i64::MAX), None);
        assert_eq!(from_millis(i64::MIN), None);
    }
}

/// The UTC instant of a local wall-clock time in `zone`. An ambiguous time
/// (clocks falling back) is the earlier one; a time that does not exist
/// (clocks springing forward, or a whole skipped day, as Samoa skipped
/// 2011-12-30) moves to the first minute that does.
pub fn local_to_utc(zone: chrono_tz::Tz, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    use chrono::{Offset, TimeZone};
    let mut candidate = local;
    for _ in 0..=48 * 60 {
        if let Some(t) = zone.from_local_datetime(&candidate).earliest() {
            return t.with_timezone(&Utc);
        }
        match candidate.checked_add_signed(chrono::Duration::minutes(1)) {
            Some(next) => candidate = next,
            None => break,
        }
    }
    // No zone skips two days; at the very ends of chrono's range, read the
    // local time with the zone's offset at that instant.
    let offset = zone.offset_from_utc_datetime(&local).fix();
    local.checked_sub_offset(offset).unwrap_or(local).and_utc()
}

#[cfg(test)]
mod zone_tests {
    use super::*;

    #[test]
    fn local_times_resolve_across_daylight_saving_changes() {
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let local = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        assert_eq!(format(&local_to_utc(ny, local("2024-03-10T00:00"))), "2024-03-10T05:00:00.000Z");
        assert_eq!(format(&local_to_utc(ny, local("2024-03-11T00:00"))), "2024-03-11T04:00:00.000Z");
        // 02:30 does not exist on 2024-03-10: 03:00 EDT is the first minute that does.
        assert_eq!(format(&local_to_utc(ny, local("2024-03-10T02:30"))), "2024-03-10T07:00:00.000Z");
        // 01:30 happens twice on 2024-11-03: the first (EDT) is taken.
        assert_eq!(format(&local_to_utc(ny, local("2024-11-03T01:30"))), "2024-11-03T05:30:00.000Z");
    }

    #[test]
    fn a_skipped_day_and_the_ends_of_time_do_not_panic() {
        let apia: chrono_tz::Tz = "Pacific/Apia".parse().unwrap();
        let local = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        // Samoa went from 2011-12-29T23:59 straight to 2011-12-31T00:00.
        assert_eq!(format(&local_to_utc(apia, local("2011-12-30T00:00"))), "2011-12-30T10:00:00.000Z");
        let _ = local_to_utc(apia, chrono::NaiveDateTime::MAX);
        let _ = local_to_utc(apia, chrono::NaiveDateTime::MIN);
    }
}
