//! The public holidays the law's calling windows name: the federal legal
//! public holidays and the states' own lists, each with its source, and
//! the date each falls on in a year (observed days, the nth weekday,
//! Easter's offsets, election day).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// A public holiday a rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    /// A date every year (month, day); `observed`: when it falls on a
    /// Saturday the Friday before, on a Sunday the Monday after, is a holiday too.
    Fixed { month: u32, day: u32, observed: bool },
    /// The `n`th (1 to 5; -1: the last) `weekday` of `month`.
    Nth { month: u32, weekday: Weekday, n: i8 },
    /// This many days from Easter Sunday (Mardi Gras: -47; Good Friday: -2).
    Easter(i16),
    /// General election day: the Tuesday after the first Monday of November.
    ElectionDay,
}

impl Holiday {
    /// Whether `date` is this holiday (or its observed day).
    pub fn falls_on(self, date: NaiveDate) -> bool {
        match self {
            Holiday::Fixed { month, day, observed } => {
                // The date itself; observed: a Saturday's Friday before and Monday after (states shift either
                // way), a Sunday's Monday after. New Year's Day on a Saturday is observed on 31 December.
                [date.year(), date.year() + 1].iter().any(|year| {
                    NaiveDate::from_ymd_opt(*year, month, day).is_some_and(|actual| {
                        let shift = |days: i64| actual.checked_add_signed(Duration::days(days)) == Some(date);
                        date == actual
                            || (observed && actual.weekday() == Weekday::Sat && (shift(-1) || shift(2)))
                            || (observed && actual.weekday() == Weekday::Sun && shift(1))
                    })
                })
            }
            Holiday::Nth { month, weekday, n } => nth_weekday(date.year(), month, weekday, n) == Some(date),
            Holiday::Easter(days) => easter(date.year()).and_then(|e| e.checked_add_signed(Duration::days(i64::from(days)))) == Some(date),
            Holiday::ElectionDay => nth_weekday(date.year(), 11, Weekday::Mon, 1).and_then(|monday| monday.succ_opt()) == Some(date),
        }
    }
}

/// The `n`th `weekday` of `month` in `year` (`n` -1: the last).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: i8) -> Option<NaiveDate> {
    if n > 0 {
        return NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8);
    }
    let last = NaiveDate::from_ymd_opt(year, month + 1, 1).or_else(|| NaiveDate::from_ymd_opt(year + 1, 1, 1))?.pred_opt()?;
    let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    last.checked_sub_signed(Duration::days(i64::from(back)))
}

/// Easter Sunday of `year` (Gregorian; the anonymous algorithm of 1876).
pub(crate) fn easter(year: i32) -> Option<NaiveDate> {
    let (a, b, c) = (year % 19, year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

pub(crate) const fn fixed(month: u32, day: u32) -> Holiday {
    Holiday::Fixed { month, day, observed: true }
}

pub(crate) const fn nth(month: u32, weekday: Weekday, n: i8) -> Holiday {
    Holiday::Nth { month, weekday, n }
}

/// The federal legal public holidays (5 U.S.C. 6103(a)), with their observed days (6103(b)).
pub const FEDERAL_HOLIDAYS: &[Holiday] = &[
    fixed(1, 1),
    nth(1, Weekday::Mon, 3),
    nth(2, Weekday::Mon, 3),
    nth(5, Weekday::Mon, -1),
    fixed(6, 19),
    fixed(7, 4),
    nth(9, Weekday::Mon, 1),
    nth(10, Weekday::Mon, 2),
    fixed(11, 11),
    nth(11, Weekday::Thu, 4),
    fixed(12, 25),
];

/// Alabama's holidays beyond the federal ones (Ala. Code 1-3-8, with its shift of a weekend holiday):
/// r. 770-X-5-.17 says "holidays" and names no list, so both.
pub(crate) const AL_HOLIDAYS: &[&[Holiday]] = &[
    FEDERAL_HOLIDAYS,
    &[
        Holiday::Easter(-47), // Mardi Gras (Baldwin and Mobile counties)
        nth(4, Weekday::Mon, 4),
        nth(6, Weekday::Mon, 1),
    ],
];

/// Louisiana's legal holidays (La. R.S. 1:55(A)(1)): the federal ones (Juneteenth too, the stricter) and its own.
pub(crate) const LA_HOLIDAYS: &[&[Holiday]] = &[
    FEDERAL_HOLIDAYS,
    &[
        fixed(1, 8),
        Holiday::Easter(-47), // Mardi Gras
        Holiday::Easter(-2),  // Good Friday
        fixed(8, 30),
        fixed(11, 1),
    ],
];

/// Rhode Island's holidays (R.I. Gen. Laws 25-1-1) and the federal ones: 5-61-2(2) says "a state or federal holiday".
pub(crate) const RI_HOLIDAYS: &[&[Holiday]] = &[FEDERAL_HOLIDAYS, &[fixed(5, 4), nth(8, Weekday::Mon, 2), Holiday::ElectionDay]];

/// Utah's legal holidays (Utah Code 63G-1-301, the text in force from 2026-05-06): the federal ones, Good Friday and Pioneer Day.
pub(crate) const UT_HOLIDAYS: &[&[Holiday]] = &[FEDERAL_HOLIDAYS, &[Holiday::Easter(-2), fixed(7, 24)]];

/// The federal holidays alone, for rules that name "legal holidays" without a list of their own here.
pub(crate) const FEDERAL_ONLY: &[&[Holiday]] = &[FEDERAL_HOLIDAYS];
