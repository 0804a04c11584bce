//! Where the person called is: the time zones, and for a US number the
//! state, that the number itself gives (its country code; for the North
//! American plan its area code, and the exchange where a code spans
//! zones), from libphonenumber's data (`data/phone_zones.txt`, generated
//! by `infra/scripts/phone-zones.py`), together with what the contact's own
//! record says (`timeZone`, `state`).
//!
//! The rule: a call must fit every zone and honour every state that
//! applies. The zones are the number's (all of them, when its prefix spans
//! several) and the contact's, when given and different; without either,
//! the agent's own zone. The states are the number's and the contact's.
//! So a contact who moved keeps the stricter of both places.

use std::{collections::HashMap, sync::OnceLock};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::DomainError;

const TABLE: &str = include_str!("../data/phone_zones.txt");

struct Table {
    /// Zones by E.164 digit prefix (without the `+`).
    zones: HashMap<&'static str, Vec<Tz>>,
    /// US states by `1` and area code.
    states: HashMap<&'static str, UsState>,
    longest: usize,
}

fn table() -> &'static Table {
    static TABLE_DATA: OnceLock<Table> = OnceLock::new();
    TABLE_DATA.get_or_init(|| {
        let mut names: HashMap<&str, Tz> = HashMap::new();
        let mut table = Table { zones: HashMap::new(), states: HashMap::new(), longest: 0 };
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("zone"), Some(index), Some(name)) => {
                    // Every name in the table is one chrono-tz knows (a test holds it); one it did not would be left out.
                    if let Ok(zone) = name.parse::<Tz>() {
                        names.insert(index, zone);
                    }
                }
                (Some("tz"), Some(prefix), Some(indices)) => {
                    let zones: Vec<Tz> = indices.split(',').filter_map(|i| names.get(i).copied()).collect();
                    table.longest = table.longest.max(prefix.len());
                    table.zones.insert(prefix, zones);
                }
                (Some("state"), Some(prefix), Some(state)) => {
                    if let Ok(state) = state.parse() {
                        table.states.insert(prefix, state);
                    }
                }
                _ => {}
            }
        }
        table
    })
}

/// The zones the number's longest known prefix gives; empty when none is
/// known, or only the whole country code `+1` (every zone of the plan,
/// which no call could fit: the number says nothing).
pub fn zones_of_number(number: &str) -> Vec<Tz> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let table = table();
    (2..=table.longest.min(digits.len()))
        .rev()
        .find_map(|len| table.zones.get(&digits[..len]))
        .or_else(|| table.zones.get(&digits[..digits.len().min(1)]).filter(|_| !digits.starts_with('1')))
        .cloned()
        .unwrap_or_default()
}

/// The US state of a North American number's area code, when the data names one.
pub fn state_of_number(number: &str) -> Option<UsState> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    digits.get(..4).filter(|d| d.starts_with('1')).and_then(|code| table().states.get(code).copied())
}

/// A US state (or DC) by its two-letter code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsState([u8; 2]);

/// The codes [`UsState`] takes: the fifty states and DC.
pub const US_STATES: [&str; 51] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT",
    "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC",
];

impl UsState {
    pub fn as_str(&self) -> &str {
        // Only made from US_STATES entries, which are ASCII.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::str::FromStr for UsState {
    type Err = DomainError;

    fn from_str(text: &str) -> Result<Self, DomainError> {
        let code = text.trim().to_ascii_uppercase();
        match US_STATES.iter().find(|s| **s == code) {
            Some(s) => Ok(UsState([s.as_bytes()[0], s.as_bytes()[1]])),
            None => Err(DomainError::invalid(
                "invalid_state",
                format!("state must be a US state's two-letter code (or DC), not {:?}", text.chars().take(20).collect::<String>()),
            )),
        }
    }
}

impl TryFrom<String> for UsState {
    type Error = DomainError;

    fn try_from(text: String) -> Result<Self, DomainError> {
        text.parse()
    }
}

impl From<UsState> for String {
    fn from(state: UsState) -> String {
        state.as_str().to_string()
    }
}

impl std::fmt::Display for UsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request says of where its contact is and what the call is about,
/// checked: `timeZone` an IANA zone, `state` a US state's code, `debtId` 1
/// to 200 bytes fit for a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Whereabouts {
    pub time_zone: Option<Tz>,
    pub state: Option<UsState>,
    pub debt_id: Option<String>,
}

impl Whereabouts {
    pub fn parse(time_zone: Option<&str>, state: Option<&str>, debt_id: Option<&str>) -> Result<Whereabouts, DomainError> {
        let time_zone = time_zone
            .map(|z| {
                z.trim().parse::<Tz>().map_err(|_| DomainError::invalid("invalid_time_zone", "timeZone must be an IANA time zone name, e.g. America/Chicago"))
            })
            .transpose()?;
        let state = state.map(str::parse::<UsState>).transpose()?;
        let debt_id = debt_id.map(str::trim).map(str::to_string);
        if debt_id.as_deref().is_some_and(|d| !crate::limits::is_key_safe(d)) {
            return Err(DomainError::invalid("invalid_debt_id", "debtId must be 1 to 200 bytes without '#' or control characters"));
        }
        Ok(Whereabouts { time_zone, state, debt_id })
    }
}

/// Where a call's callee is, as far as the rules of the clock care.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Callee {
    /// Every zone the call must fit, never empty.
    pub zones: Vec<Tz>,
    /// Every state whose rules apply.
    pub states: Vec<UsState>,
}

impl Callee {
    /// The callee of `number`, with what the contact's record says and the
    /// agent's zone for when nothing else gives one.
    pub fn of(number: &str, contact_zone: Option<Tz>, contact_state: Option<UsState>, agent_zone: Tz) -> Callee {
        let mut zones = zones_of_number(number);
        if let Some(zone) = contact_zone
            && !zones.contains(&zone)
        {
            zones.push(zone);
        }
        if zones.is_empty() {
            zones.push(agent_zone);
        }
        let mut states: Vec<UsState> = state_of_number(number).into_iter().collect();
        if let Some(state) = contact_state
            && !states.contains(&state)
        {
            states.push(state);
        }
        Callee { zones, states }
    }

    /// The callee of a call, from its number and its own `calleeTimeZone` and `calleeState`.
    pub fn of_call(call: &crate::CallLog, agent_zone: Tz) -> Callee {
        Callee::of(&call.phone_number, call.callee_time_zone, call.callee_state, agent_zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    #[test]
    fn every_zone_in_the_table_is_one_chrono_tz_knows() {
        let names: Vec<&str> = TABLE.lines().filter_map(|l| l.strip_prefix("zone ")).filter_map(|l| l.split(' ').nth(1)).collect();
        assert!(names.len() > 200, "{}", names.len());
        for name in names {
            assert!(name.parse::<Tz>().is_ok(), "{name}");
        }
    }

    #[test]
    fn a_number_gives_its_zones_and_state() {
        assert_eq!(zones_of_number("+12125550142"), vec![tz("America/New_York")]);
        assert_eq!(state_of_number("+12125550142").map(|s| s.to_string()).as_deref(), Some("NY"));
        assert_eq!(zones_of_number("+13105550100"), vec![tz("America/Los_Angeles")]);
        assert_eq!(state_of_number("+13055550100").map(|s| s.to_string()).as_deref(), Some("FL"));
        assert_eq!(state_of_number("+14055550100").map(|s| s.to_string()).as_deref(), Some("OK"));
        // Idaho's 208 spans Mountain and Pacific time; libphonenumber narrows many exchanges (208-255 is Pacific), not all.
        assert_eq!(zones_of_number("+12082550100"), vec![tz("America/Los_Angeles")]);
        let idaho = zones_of_number("+12082000100");
        assert!(idaho.contains(&tz("America/Boise")) && idaho.contains(&tz("America/Los_Angeles")), "{idaho:?}");
        assert_eq!(zones_of_number("+442079460000"), vec![tz("Europe/London")]);
        assert_eq!(zones_of_number("+1"), Vec::<Tz>::new(), "the whole plan says nothing");
        assert_eq!(zones_of_number("not a number"), Vec::<Tz>::new());
        assert_eq!(state_of_number("+442079460000"), None);
        assert_eq!(state_of_number("+14165550100"), None, "Toronto is in no US state");
    }

    #[test]
    fn the_contact_adds_its_place_and_the_agent_fills_in() {
        let ny = tz("America/New_York");
        let la = tz("America/Los_Angeles");
        let fl: UsState = "fl".parse().unwrap();
        let moved = Callee::of("+12125550142", Some(la), Some(fl), ny);
        assert_eq!(moved.zones, vec![ny, la], "both places");
        assert_eq!(moved.states.iter().map(|s| s.to_string()).collect::<Vec<_>>(), vec!["NY", "FL"]);
        assert_eq!(Callee::of("+12125550142", Some(ny), None, la).zones, vec![ny], "the same place once");
        assert_eq!(Callee::of("+999", None, None, la).zones, vec![la], "nothing known: the agent's zone");
        assert!("XX".parse::<UsState>().is_err() && "Florida".parse::<UsState>().is_err());
    }
}
