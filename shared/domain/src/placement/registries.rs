//! The do-not-call registries a telemarketing call must heed, as a class:
//! the National Do Not Call Registry for every US number, and each state's
//! own list for every state the callee may be in
//! ([`crate::placement::callee::Callee::states`]), each from a copy no more
//! than 31 days old at the time of the call.
//!
//! Sources (`../shared/COMPLIANCE.md`, "Do-not-call registries"):
//! - a telemarketing call to a number on the National Registry is unlawful
//!   without the subscriber's prior express invitation or permission in a
//!   signed written agreement, or an established business relationship
//!   (47 CFR 64.1200(c)(2)(ii), (f)(5); 16 CFR 310.4(b)(1)(iii)(B));
//! - the copy used must be obtained no more than 31 days before the call
//!   (64.1200(c)(2)(i)(D); 16 CFR 310.4(b)(3)(iv));
//! - the relationship lasts 18 months after the consumer's last purchase or
//!   transaction and 3 months after an inquiry or application (64.1200(f)(5));
//!   a do-not-call request to the company ends it (the practice's own list
//!   refuses every call before this rule is asked);
//! - state lists: CO, FL, IN, LA, MA, MO, OK, PA, TN, TX, WY keep their own
//!   (compliancepoint.com, wipfli.com); any state's list may be imported.
//!
//! Only telemarketing is held ([`crate::placement::call_rules::TELEMARKETING`]):
//! care, follow-up and collection calls are not solicitations.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    call::CallType,
    error::DomainError,
    placement::{call_rules::TELEMARKETING, callee::Callee},
    us_state::UsState,
};

/// The National Do Not Call Registry's name here.
pub const NATIONAL: &str = "national";
/// The oldest a registry copy may be on the day of a call, in days (64.1200(c)(2)(i)(D)).
pub const MAX_COPY_AGE_DAYS: i64 = 31;
/// How long an established business relationship lasts after a transaction, and after an inquiry, in months (64.1200(f)(5)).
pub const TRANSACTION_MONTHS: u32 = 18;
pub const INQUIRY_MONTHS: u32 = 3;

/// A registry's name: `national`, or a US state's two-letter code.
pub fn parse_registry(text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case(NATIONAL) {
        return Ok(NATIONAL.to_string());
    }
    text.parse::<UsState>()
        .map(|state| state.to_string())
        .map_err(|_| DomainError::invalid("invalid_registry", "the registry is national or a US state's two-letter code (TX, FL, ...)"))
}

pub use crate::call::compliance::RegistryResult;

/// An established business relationship on record for a number (`PUT /api/numbers/{phoneNumber}/relationship`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    #[serde(with = "crate::time::ms::option", default)]
    pub last_transaction_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::ms::option", default)]
    pub last_inquiry_at: Option<DateTime<Utc>>,
}

impl Relationship {
    /// Whether it still exempts a call at `at`: 18 months after a transaction, 3 after an inquiry.
    pub fn current(&self, at: DateTime<Utc>) -> bool {
        let within =
            |since: Option<DateTime<Utc>>, months: u32| since.is_some_and(|s| s <= at && s.checked_add_months(Months::new(months)).is_some_and(|end| at < end));
        within(self.last_transaction_at, TRANSACTION_MONTHS) || within(self.last_inquiry_at, INQUIRY_MONTHS)
    }
}

/// The registries that hold a call to `callee`, by name: the national one
/// for a US number, and every state the callee may be in.
pub fn registries_of(callee: &Callee) -> Vec<String> {
    let us = callee.country == Some(phonenumber::country::Id::US) || !callee.states.is_empty();
    let mut names = Vec::new();
    if us {
        names.push(NATIONAL.to_string());
        names.extend(callee.states.iter().map(|s| s.to_string()));
    }
    names
}

/// What the registries say of the callee, read for a telemarketing call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryFacts {
    /// One per registry of [`registries_of`].
    pub results: Vec<RegistryResult>,
    pub relationship: Option<Relationship>,
}

/// Why the registries refuse a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryRefusal {
    /// An imported copy would be older than 31 days at the call.
    Stale,
    OnNational,
    OnState,
}

impl RegistryFacts {
    /// Whether a call of `call_type` at `at`, resting on written consent or not, may go.
    pub fn refusal(&self, call_type: CallType, written_consent: bool, at: DateTime<Utc>) -> Option<RegistryRefusal> {
        if !TELEMARKETING.contains(&call_type) {
            return None;
        }
        let day = at.date_naive();
        if self.results.iter().any(|r| r.as_of.is_some_and(|as_of| (day - as_of).num_days() > MAX_COPY_AGE_DAYS)) {
            return Some(RegistryRefusal::Stale);
        }
        if written_consent || self.relationship.is_some_and(|r| r.current(at)) {
            return None;
        }
        let listed = |national: bool| self.results.iter().any(|r| r.listed && (r.name == NATIONAL) == national);
        if listed(true) {
            Some(RegistryRefusal::OnNational)
        } else if listed(false) {
            Some(RegistryRefusal::OnState)
        } else {
            None
        }
    }
}

/// The most registries a practice keeps copies of (the national one and every state's).
pub const MAX_COPIES: usize = 52;

/// A practice's copy of one registry: what its imports brought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryCopy {
    pub name: String,
    /// The date of the latest file imported (a full list or a change list).
    pub as_of: NaiveDate,
    /// The date of the latest full list: a mark older than it is not on the list any more.
    pub full_as_of: NaiveDate,
    #[serde(with = "crate::time::ms")]
    pub imported_at: DateTime<Utc>,
    /// Numbers the latest full list held, plus additions since, less deletions.
    pub numbers: u64,
}

impl RegistryCopy {
    /// Whether a mark written as of `marked` is on this copy.
    pub fn lists(&self, marked: NaiveDate) -> bool {
        marked >= self.full_as_of
    }
}

/// What a registry file holds: a full list (every number, additions only) or a change list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryFile {
    /// In E.164.
    pub additions: Vec<String>,
    pub deletions: Vec<String>,
    /// It flags additions and deletions: a change list since the last download.
    pub change_list: bool,
    /// Lines that are not a number (1-based line, why), the first [`MAX_REPORTED`].
    pub rejected: Vec<(usize, String)>,
    pub rejected_count: usize,
}

/// The most rejected lines an import reports one by one.
pub const MAX_REPORTED: usize = 100;

/// A US number from a registry file: 10 digits (NPA then NXX, neither starting 0 or 1), or `AAA,NNNNNNN`.
fn nanp(digits: &str) -> Option<String> {
    let ok = digits.len() == 10
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !matches!(digits.as_bytes()[0], b'0' | b'1')
        && !matches!(digits.as_bytes()[3], b'0' | b'1');
    ok.then(|| format!("+1{digits}"))
}

fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "a" | "add" | "added" | "addition" => Some(true),
        "d" | "del" | "delete" | "deleted" | "deletion" => Some(false),
        _ => None,
    }
}

impl RegistryFile {
    fn reject(&mut self, line: usize, why: String) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_REPORTED {
            self.rejected.push((line, why));
        }
    }

    /// The FTC's flat files (`../shared/API.md`, "Registries"): a full list
    /// has one number a line, as 10 digits or `AAA,NNNNNNN`; a change list
    /// adds a flag to each line (`A`/`D`, or `add`/`delete`). A first line
    /// that holds no digits is a header.
    pub fn national(text: &str) -> RegistryFile {
        let mut file = RegistryFile::default();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim().trim_matches('"');
            if line.is_empty() || (index == 0 && !line.bytes().any(|b| b.is_ascii_digit())) {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(|f| f.trim().trim_matches('"')).collect();
            let parsed = match fields.as_slice() {
                [number] => nanp(number).map(|n| (n, None)),
                [area, number] if area.len() == 3 && number.len() == 7 => nanp(&format!("{area}{number}")).map(|n| (n, None)),
                [number, mark] => nanp(number).zip(flag(mark).map(Some)),
                [area, number, mark] => nanp(&format!("{area}{number}")).zip(flag(mark).map(Some)),
                _ => None,
            };
            match parsed {
                Some((number, Some(false))) => {
                    file.change_list = true;
                    file.deletions.push(number);
                }
                Some((number, added)) => {
                    file.change_list |= added.is_some();
                    file.additions.push(number);
                }
                None => file.reject(index + 1, "not a US number (10 digits, or AAA,NNNNNNN), with an optional A or D flag".into()),
            }
        }
        file
    }

    /// A state's list: CSV with a `phoneNumber` column (any case), every row an addition.
    pub fn state(text: &str) -> Result<RegistryFile, DomainError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|_| DomainError::invalid("invalid_registry_file", "a state list is CSV with a phoneNumber column"))?.clone();
        let column = headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case("phoneNumber") || h.eq_ignore_ascii_case("phone_number") || h.eq_ignore_ascii_case("phone"))
            .ok_or_else(|| DomainError::invalid("invalid_registry_file", "a state list is CSV with a phoneNumber column"))?;
        let mut file = RegistryFile::default();
        for (index, row) in reader.records().enumerate() {
            let number = row.ok().and_then(|r| r.get(column).map(str::to_string)).and_then(|n| crate::phone::normalize(&n).ok()).map(|n| n.into_string());
            match number.filter(|n| n.starts_with("+1")) {
                Some(number) => file.additions.push(number),
                None => file.reject(index + 2, "phoneNumber is not a US number".into()),
            }
        }
        Ok(file)
    }

    /// The copy after this file is imported over `before` (`None`: the first import) as of `as_of`.
    pub fn copy_after(&self, name: &str, before: Option<&RegistryCopy>, as_of: NaiveDate, now: DateTime<Utc>) -> Result<RegistryCopy, DomainError> {
        if let Some(before) = before
            && as_of < before.as_of
        {
            return Err(DomainError::invalid("registry_older_than_copy", format!("the {name} copy is already as of {}: import a newer file", before.as_of)));
        }
        if self.change_list {
            let before =
                before.ok_or_else(|| DomainError::invalid("registry_change_list_first", format!("import a full {name} list before its change lists")))?;
            let numbers = (before.numbers + self.additions.len() as u64).saturating_sub(self.deletions.len() as u64);
            return Ok(RegistryCopy { name: name.into(), as_of, full_as_of: before.full_as_of, imported_at: now, numbers });
        }
        Ok(RegistryCopy { name: name.into(), as_of, full_as_of: as_of, imported_at: now, numbers: self.additions.len() as u64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{placement::callee::Places, time};

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn facts(results: &[(&str, bool, Option<&str>)], relationship: Option<Relationship>) -> RegistryFacts {
        RegistryFacts {
            results: results
                .iter()
                .map(|(name, listed, as_of)| RegistryResult { name: name.to_string(), listed: *listed, as_of: as_of.map(|d| d.parse().unwrap()) })
                .collect(),
            relationship,
        }
    }

    #[test]
    fn every_us_number_is_held_by_the_national_registry_and_every_state_its_callee_may_be_in() {
        // Texas by its area code; an overlay or a split code gives each of its states.
        assert_eq!(registries_of(&Callee::of("+12145550100", &Places::default())), ["national", "TX"]);
        let unknown = registries_of(&Callee::of("+18005550100", &Places::default()));
        assert_eq!(unknown.len(), 52, "a toll-free number may be anywhere: every state's list and the national one");
        assert!(registries_of(&Callee::of("+442079460000", &Places::default())).is_empty(), "no US registry holds a London number");
        assert_eq!(parse_registry(" National ").unwrap(), NATIONAL);
        assert_eq!(parse_registry("tx").unwrap(), "TX");
        assert!(parse_registry("XX").is_err() && parse_registry("").is_err());
    }

    #[test]
    fn a_listed_number_takes_written_consent_or_a_current_relationship_and_only_telemarketing_is_held() {
        let noon = at("2026-06-10T16:00:00Z");
        let listed = facts(&[("national", true, Some("2026-06-01")), ("TX", false, Some("2026-06-01"))], None);
        assert_eq!(listed.refusal(CallType::OutboundCampaign, false, noon), Some(RegistryRefusal::OnNational));
        assert_eq!(listed.refusal(CallType::OutboundLead, true, noon), None, "written consent");
        for care in [CallType::OutboundFollowup, CallType::OutboundOther, CallType::OutboundDebt] {
            assert_eq!(listed.refusal(care, false, noon), None, "{care:?}");
        }
        let state = facts(&[("national", false, Some("2026-06-01")), ("TX", true, Some("2026-06-01"))], None);
        assert_eq!(state.refusal(CallType::OutboundCampaign, false, noon), Some(RegistryRefusal::OnState));
        // 18 months after a transaction, 3 after an inquiry (64.1200(f)(5)): the day before the end exempts, the end does not.
        let bought = Relationship { last_transaction_at: Some(at("2024-12-10T16:00:01Z")), last_inquiry_at: None };
        assert!(bought.current(noon));
        assert!(!Relationship { last_transaction_at: Some(at("2024-12-10T16:00:00Z")), ..bought }.current(noon));
        let asked = Relationship { last_transaction_at: None, last_inquiry_at: Some(at("2026-03-10T16:00:01Z")) };
        assert!(asked.current(noon));
        assert!(!Relationship { last_inquiry_at: Some(at("2026-03-10T16:00:00Z")), ..asked }.current(noon));
        assert!(!Relationship { last_inquiry_at: Some(at("2026-07-01T00:00:00Z")), ..asked }.current(noon), "not yet made");
        assert_eq!(facts(&[("national", true, Some("2026-06-01"))], Some(bought)).refusal(CallType::OutboundLead, false, noon), None);
    }

    #[test]
    fn the_ftc_flat_files_and_a_state_csv_are_read_line_by_line_and_a_bad_line_stops_nothing() {
        let full = RegistryFile::national("phone\n2125550142\n212,5550143\n0125550100\nnot a number\n\n 3055550100 \n");
        assert_eq!(full.additions, ["+12125550142", "+12125550143", "+13055550100"]);
        assert!(!full.change_list && full.deletions.is_empty());
        assert_eq!(full.rejected.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [4, 5]);
        let changes = RegistryFile::national("212,5550142,D\n2125550199,A\n212,5550198,add\n");
        assert!(changes.change_list);
        assert_eq!((changes.additions.len(), changes.deletions.as_slice()), (2, &["+12125550142".to_string()][..]));
        let state = RegistryFile::state("name,PhoneNumber\nA,(214) 555-0100\nB,+44 20 7946 0000\nC,nonsense\n").unwrap();
        assert_eq!(state.additions, ["+12145550100"]);
        assert_eq!(state.rejected_count, 2);
        assert!(RegistryFile::state("name,number\nA,2145550100\n").is_err(), "no phoneNumber column");
        // A change list needs a full list first and moves the copy's date, not the full list's.
        let now = at("2026-06-10T16:00:00Z");
        let d = |t: &str| t.parse::<NaiveDate>().unwrap();
        assert!(changes.copy_after("national", None, d("2026-06-01"), now).is_err());
        let first = full.copy_after("national", None, d("2026-06-01"), now).unwrap();
        assert_eq!((first.full_as_of, first.numbers), (d("2026-06-01"), 3));
        let next = changes.copy_after("national", Some(&first), d("2026-06-08"), now).unwrap();
        assert_eq!((next.as_of, next.full_as_of, next.numbers), (d("2026-06-08"), d("2026-06-01"), 4));
        assert!(full.copy_after("national", Some(&next), d("2026-05-01"), now).is_err(), "an older file never replaces a newer copy");
        assert!(next.lists(d("2026-06-08")) && next.lists(d("2026-06-01")) && !next.lists(d("2026-05-31")));
    }

    #[test]
    fn a_copy_older_than_31_days_on_the_day_of_the_call_refuses_telemarketing_whatever_it_lists() {
        let fresh = facts(&[("national", false, Some("2026-05-10"))], None);
        assert_eq!(fresh.refusal(CallType::OutboundCampaign, true, at("2026-06-10T23:59:00Z")), None, "31 days");
        assert_eq!(fresh.refusal(CallType::OutboundCampaign, true, at("2026-06-11T00:00:00Z")), Some(RegistryRefusal::Stale), "32 days");
        assert_eq!(fresh.refusal(CallType::OutboundFollowup, false, at("2026-09-11T00:00:00Z")), None);
        let never = facts(&[("national", false, None), ("TX", false, None)], None);
        assert_eq!(never.refusal(CallType::OutboundCampaign, false, at("2026-06-11T00:00:00Z")), None, "no copy: nothing listed");
    }
}
