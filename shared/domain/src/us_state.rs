//! The US states (and DC) by their two-letter codes: the places the law's
//! state rules name (calling windows, recording consent, frequency caps).

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

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
