//! The FCC's Reassigned Numbers Database (RND): whether a number was
//! permanently disconnected since the date a consent was given, and so may
//! belong to someone who never consented.
//!
//! The law (`../shared/COMPLIANCE.md`, "Reassigned Numbers Database"):
//! - a query is a number and a date (when consent was obtained); the answer
//!   is `yes` (disconnected on or after that date: do not call), `no`, or
//!   `no data` (FCC DA 21-1649);
//! - the safe harbour (47 CFR 64.1200(m)) covers a caller who had consent,
//!   got `no` from the database's most recent version, and was misled by
//!   it: `no data` gives none, and an answer from an older version covers
//!   nothing after the next update;
//! - providers report disconnections on the 15th of each month (47 CFR
//!   52.15(f)(1)(ii); DA 21-134), so the database changes monthly: a check
//!   made before the latest update is asked again.
//!
//! A consent keeps its latest check ([`RndCheck`]). `yes` marks the
//! consent: it covers no call again ([`crate::consent::NotCovering::Reassigned`]).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

pub use crate::call::compliance::{RndCheck, RndResult};

/// The day of the month providers report disconnections (47 CFR 52.15(f)(1)(ii)).
pub const REPORT_DAY: u32 = 15;

/// The database's latest monthly update at `now`: the end of the most
/// recent 15th (UTC), when that month's reports are in.
pub fn latest_update(now: DateTime<Utc>) -> DateTime<Utc> {
    let this_month = Utc.with_ymd_and_hms(now.year(), now.month(), REPORT_DAY + 1, 0, 0, 0).single().expect("the 16th exists in every month");
    if now >= this_month {
        return this_month;
    }
    let (year, month) = if now.month() == 1 { (now.year() - 1, 12) } else { (now.year(), now.month() - 1) };
    Utc.with_ymd_and_hms(year, month, REPORT_DAY + 1, 0, 0, 0).single().expect("the 16th exists in every month")
}

/// Whether a consent checked as `check` must be checked again at `now`:
/// never checked, or checked before the database's latest update.
pub fn needs_check(check: Option<&RndCheck>, now: DateTime<Utc>) -> bool {
    check.is_none_or(|c| c.checked_at < latest_update(now))
}

/// The most numbers one query carries (the database's API takes 1,000).
pub const MAX_BATCH: usize = 1_000;

/// One question to the database: a number (E.164) and the date its consent was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RndQuery {
    pub phone_number: String,
    pub since: NaiveDate,
}

/// The port to the Reassigned Numbers Database (directly, or through a caller agent).
#[async_trait::async_trait]
pub trait ReassignedNumbers: Send + Sync {
    /// One answer per query, in order; at most [`MAX_BATCH`] queries. An
    /// error: the database could not be asked (an outage, a refused key).
    async fn query(&self, queries: &[RndQuery]) -> Result<Vec<RndResult>, DomainError>;
}

/// What a tenant does when the database cannot be asked before a telemarketing call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RndOutage {
    /// The call waits for the database (the default: no safe harbour without an answer).
    #[default]
    Wait,
    /// The call proceeds on the consent alone, and its compliance record says the database was not asked.
    Proceed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    #[test]
    fn the_database_changes_after_each_15th_and_a_check_before_that_is_asked_again() {
        let at = |t: &str| time::parse(t).unwrap();
        assert_eq!(latest_update(at("2026-12-07T21:00:00Z")), at("2026-11-16T00:00:00Z"));
        assert_eq!(latest_update(at("2026-12-16T00:00:00Z")), at("2026-12-16T00:00:00Z"));
        assert_eq!(latest_update(at("2027-01-03T00:00:00Z")), at("2026-12-16T00:00:00Z"), "across the year");
        let checked = RndCheck { result: RndResult::No, rnd_as_of: "2026-11-16".parse().unwrap(), checked_at: at("2026-11-20T10:00:00Z") };
        assert!(!needs_check(Some(&checked), at("2026-12-15T23:59:59Z")));
        assert!(needs_check(Some(&checked), at("2026-12-16T00:00:00Z")), "a new version came out");
        assert!(needs_check(None, at("2026-12-16T00:00:00Z")), "never checked");
    }
}
