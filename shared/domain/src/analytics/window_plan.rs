//! How a window is read from the rollups: whole UTC days, whole hours, and
//! the partial hours at its ends from the calls themselves.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::time::Span;

/// How a window `[start, end)` is read: whole UTC days from day rollups,
/// whole hours from hour rollups, and at most two partial hours (one at each
/// end) from the calls themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowPlan {
    pub raw: Vec<Span>,
    pub hours: Vec<Span>,
    pub days: Option<Span>,
}

/// `t` cut down to a whole `unit` (an hour, a day) since the epoch. Exact
/// for every supported time; a time beyond chrono's range stays as it is.
fn floor_to(t: DateTime<Utc>, unit: Duration) -> DateTime<Utc> {
    let unit = unit.num_milliseconds().max(1);
    DateTime::from_timestamp_millis(t.timestamp_millis().div_euclid(unit) * unit).unwrap_or(t)
}

fn ceil_to(t: DateTime<Utc>, unit: Duration) -> DateTime<Utc> {
    let floor = floor_to(t, unit);
    if floor == t { t } else { floor.checked_add_signed(unit).unwrap_or(t) }
}

impl WindowPlan {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> WindowPlan {
        let mut plan = WindowPlan::default();
        if end <= start {
            return plan;
        }
        let (hour, day) = (Duration::hours(1), Duration::days(1));
        let (first_hour, last_hour) = (ceil_to(start, hour), floor_to(end, hour));
        if first_hour >= last_hour {
            plan.raw.push(Span::new(start, end));
            return plan;
        }
        if start < first_hour {
            plan.raw.push(Span::new(start, first_hour));
        }
        if last_hour < end {
            plan.raw.push(Span::new(last_hour, end));
        }
        let (first_day, last_day) = (ceil_to(first_hour, day), floor_to(last_hour, day));
        if first_day < last_day {
            if first_hour < first_day {
                plan.hours.push(Span::new(first_hour, first_day));
            }
            plan.days = Some(Span::new(first_day, last_day));
            if last_day < last_hour {
                plan.hours.push(Span::new(last_day, last_hour));
            }
        } else {
            plan.hours.push(Span::new(first_hour, last_hour));
        }
        plan
    }
}

/// The UTC hour a time falls in, as a rollup key: `2024-02-07T09`.
pub fn hour_key(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

/// The UTC day a time falls in, as a rollup key: `2024-02-07`.
pub fn day_key(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The UTC days of a span (both ends at midnight).
pub fn days_of(span: Span) -> impl Iterator<Item = NaiveDate> {
    let (from, to) = (span.start.date_naive(), span.end.date_naive());
    from.iter_days().take_while(move |d| *d < to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        crate::time::parse(text).unwrap()
    }

    #[test]
    fn windows_at_the_ends_of_time_plan_without_panicking() {
        let _ = WindowPlan::new(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let _ = WindowPlan::new(at("2300-01-01T00:30:00Z"), at("2301-01-01T00:00:00Z"));
    }

    #[test]
    fn a_window_splits_into_days_hours_and_two_partial_hours() {
        let plan = WindowPlan::new(at("2024-02-05T22:15:00.500Z"), at("2024-02-08T03:10:00Z"));
        assert_eq!(plan.raw, vec![(at("2024-02-05T22:15:00.500Z"), at("2024-02-05T23:00:00Z")), (at("2024-02-08T03:00:00Z"), at("2024-02-08T03:10:00Z")),]);
        assert_eq!(plan.hours, vec![(at("2024-02-05T23:00:00Z"), at("2024-02-06T00:00:00Z")), (at("2024-02-08T00:00:00Z"), at("2024-02-08T03:00:00Z")),]);
        assert_eq!(plan.days, Some(Span::new(at("2024-02-06T00:00:00Z"), at("2024-02-08T00:00:00Z"))));

        let aligned = WindowPlan::new(at("2024-02-01T00:00:00Z"), at("2024-02-08T00:00:00Z"));
        assert!(aligned.raw.is_empty() && aligned.hours.is_empty());
        assert_eq!(days_of(aligned.days.unwrap()).count(), 7);

        let inside_an_hour = WindowPlan::new(at("2024-02-01T10:05:00Z"), at("2024-02-01T10:55:00Z"));
        assert_eq!(inside_an_hour.raw.len(), 1);
        assert!(inside_an_hour.hours.is_empty() && inside_an_hour.days.is_none());
        assert_eq!(WindowPlan::new(at("2024-02-01T10:00:00Z"), at("2024-02-01T10:00:00Z")), WindowPlan::default());
    }
}
