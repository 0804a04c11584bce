//! The law's rules for outbound calls, as data: when a call may reach the
//! callee (in the callee's own local time) and how often, each with its
//! source (../shared/COMPLIANCE.md). No setting loosens them: an agent's
//! hours and a tenant's own limit only narrow what these allow.
//! [`crate::clock`] applies the windows, [`crate::frequency`] the limits.

use chrono::Duration;

use crate::CallType;

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every outbound call.
    Federal,
    /// Calls to a callee in this state (by the number's area code or the contact's own state).
    State(&'static str),
}

/// A local window outbound calls must fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowRule {
    /// The rule's name, as `GET /api/compliance/check` reports it.
    pub rule: &'static str,
    pub scope: Scope,
    /// Minutes from local midnight: `start` inclusive, `end` exclusive.
    pub start: u16,
    pub end: u16,
    pub source: &'static str,
}

/// Outbound calls by the callee's local clock.
pub const WINDOWS: &[WindowRule] = &[
    WindowRule {
        rule: "tcpa_hours",
        scope: Scope::Federal,
        start: 8 * 60,
        end: 21 * 60,
        source: "47 CFR 64.1200(c)(1); for debt collection 12 CFR 1006.6(b)(1)(i)",
    },
    WindowRule { rule: "fl_hours", scope: Scope::State("FL"), start: 8 * 60, end: 20 * 60, source: "Fla. Stat. 501.059 (2021, SB 1120)" },
    WindowRule { rule: "ok_hours", scope: Scope::State("OK"), start: 8 * 60, end: 20 * 60, source: "Okla. Stat. tit. 15, 775C" },
    WindowRule { rule: "md_hours", scope: Scope::State("MD"), start: 8 * 60, end: 20 * 60, source: "Md. Com. Law 14-4501 ff." },
    WindowRule { rule: "wa_hours", scope: Scope::State("WA"), start: 8 * 60, end: 20 * 60, source: "RCW 80.36.390" },
];

/// What a frequency limit counts attempts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Every outbound attempt to the number, whatever it is about.
    Number,
    /// Attempts about one debt (`debtId`; a call without one counts under its number).
    Debt,
}

/// At most `max` attempts within `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrequencyRule {
    pub rule: &'static str,
    /// The refusal's code.
    pub code: &'static str,
    pub scope: Scope,
    /// The call types it counts and limits; `None`: every outbound type.
    pub call_types: Option<&'static [CallType]>,
    pub per: Per,
    pub max: u32,
    pub within: Duration,
    pub source: &'static str,
}

const DEBT: &[CallType] = &[CallType::OutboundDebt];

/// How often a number (or a debt) may be called.
pub const FREQUENCY: &[FrequencyRule] = &[
    FrequencyRule {
        rule: "fl_3_in_24h",
        code: "frequency_limit",
        scope: Scope::State("FL"),
        call_types: None,
        per: Per::Number,
        max: 3,
        within: Duration::hours(24),
        source: "Fla. Stat. 501.059 (2021, SB 1120)",
    },
    FrequencyRule {
        rule: "ok_3_in_24h",
        code: "frequency_limit",
        scope: Scope::State("OK"),
        call_types: None,
        per: Per::Number,
        max: 3,
        within: Duration::hours(24),
        source: "Okla. Stat. tit. 15, 775C",
    },
    FrequencyRule {
        rule: "md_3_in_24h",
        code: "frequency_limit",
        scope: Scope::State("MD"),
        call_types: None,
        per: Per::Number,
        max: 3,
        within: Duration::hours(24),
        source: "Md. Com. Law 14-4501 ff.",
    },
    FrequencyRule {
        rule: "regf_7_in_7",
        code: "regf_7_in_7",
        scope: Scope::Federal,
        call_types: Some(DEBT),
        per: Per::Debt,
        max: 7,
        within: Duration::days(7),
        source: "12 CFR 1006.14(b)(2)(i)(A)",
    },
];

/// Regulation F: no call about a debt within seven days after a telephone
/// conversation about it, the conversation's day counting as the first.
pub const REGF_AFTER_CONVERSATION: (&str, &str, i64, &str) = ("regf_after_conversation", "regf_after_conversation", 7, "12 CFR 1006.14(b)(2)(i)(B)");

/// The tenant's own cap when it sets none: attempts to one number within 24 hours, across every call type.
pub const DEFAULT_TENANT_CAP_PER_DAY: u32 = 3;

impl Scope {
    /// Whether the rule applies to a callee in `states`.
    pub fn applies(self, states: &[crate::callee::UsState]) -> bool {
        match self {
            Scope::Federal => true,
            Scope::State(code) => states.iter().any(|s| s.as_str() == code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_are_the_compliance_figures() {
        let federal = WINDOWS.iter().find(|w| w.scope == Scope::Federal).unwrap();
        assert_eq!((federal.start, federal.end), (480, 1260));
        for state in ["FL", "OK", "MD", "WA"] {
            let rule = WINDOWS.iter().find(|w| w.scope == Scope::State(state)).unwrap();
            assert_eq!((rule.start, rule.end), (480, 1200), "{state}: 8:00-20:00");
        }
        let limited: Vec<_> = FREQUENCY.iter().filter(|f| f.max == 3).filter_map(|f| if let Scope::State(s) = f.scope { Some(s) } else { None }).collect();
        assert_eq!(limited, vec!["FL", "OK", "MD"]);
        let regf = FREQUENCY.iter().find(|f| f.rule == "regf_7_in_7").unwrap();
        assert_eq!((regf.max, regf.within, regf.per), (7, Duration::days(7), Per::Debt));
        assert!(WINDOWS.iter().all(|w| !w.source.is_empty()) && FREQUENCY.iter().all(|f| !f.source.is_empty()));
    }
}
