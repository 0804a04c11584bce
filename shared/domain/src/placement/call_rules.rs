//! The law's rules for outbound calls, as data: when a call may reach the
//! callee (in the callee's own local time) and how often, each with its
//! source (../shared/COMPLIANCE.md). No setting loosens them: an agent's
//! hours and a tenant's own limit only narrow what these allow.
//! [`crate::placement::clock`] applies the windows, [`crate::placement::frequency`] the limits.

use chrono::{Datelike, Duration, NaiveDate};

pub use crate::placement::holidays::{FEDERAL_HOLIDAYS, Holiday};
use crate::{
    call::CallType,
    placement::{
        callee::Callee,
        holidays::{AL_HOLIDAYS, FEDERAL_ONLY, LA_HOLIDAYS, RI_HOLIDAYS, UT_HOLIDAYS},
    },
};

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every outbound call.
    Federal,
    /// Calls to a callee who may be in this state (by the number's area code, the contact's record or the number's history).
    State(&'static str),
    /// Calls to a number libphonenumber assigns to this country (ISO 3166 code).
    Country(&'static str),
}

/// Telemarketing: calls that sell or promote (lead calls, campaigns).
pub const TELEMARKETING: &[CallType] = &[CallType::OutboundLead, CallType::OutboundCampaign];

/// A local window outbound calls must fall in, by day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowRule {
    /// The rule's name, as `GET /api/compliance/check` reports it.
    pub rule: &'static str,
    pub scope: Scope,
    /// The call types it holds; `None`: every outbound call.
    pub call_types: Option<&'static [CallType]>,
    /// Each day's window, Monday first, in minutes from local midnight
    /// (start inclusive, end exclusive); `None`: no calls that day.
    pub week: [Option<(u16, u16)>; 7],
    /// The holidays the rule names (lists of them), and the window it keeps on them (`None`: no calls).
    pub holidays: &'static [&'static [Holiday]],
    pub on_holidays: Option<(u16, u16)>,
    pub source: &'static str,
}

const fn every_day(start: u16, end: u16) -> [Option<(u16, u16)>; 7] {
    [Some((start, end)); 7]
}

impl WindowRule {
    /// Whether the rule holds a call of `call_type` to `callee`.
    pub fn holds(&self, callee: &Callee, call_type: CallType) -> bool {
        self.scope.applies(callee) && self.call_types.is_none_or(|types| types.contains(&call_type))
    }

    /// The window the rule allows on a local date (`None`: no calls that day).
    pub fn window_on(&self, day: NaiveDate) -> Option<(u16, u16)> {
        if self.holidays.iter().flat_map(|list| list.iter()).any(|h| h.falls_on(day)) {
            return self.on_holidays;
        }
        self.week[day.weekday().num_days_from_monday() as usize]
    }
}

const H8_21: [Option<(u16, u16)>; 7] = every_day(8 * 60, 21 * 60);
const H8_20: [Option<(u16, u16)>; 7] = every_day(8 * 60, 20 * 60);
const H9_21: [Option<(u16, u16)>; 7] = every_day(9 * 60, 21 * 60);

/// Monday to Saturday in one window, no calls on Sunday.
const fn but_sunday(start: u16, end: u16) -> [Option<(u16, u16)>; 7] {
    let mut week = every_day(start, end);
    week[6] = None;
    week
}

/// Monday to Friday in one window, none at the weekend.
const fn weekdays(start: u16, end: u16) -> [Option<(u16, u16)>; 7] {
    let mut week = every_day(start, end);
    week[5] = None;
    week[6] = None;
    week
}

/// A state's telemarketing window, the same every day it names, no holidays.
const fn telemarketing(rule: &'static str, state: &'static str, week: [Option<(u16, u16)>; 7], source: &'static str) -> WindowRule {
    WindowRule { rule, scope: Scope::State(state), call_types: Some(TELEMARKETING), week, holidays: &[], on_holidays: None, source }
}

/// Outbound calls by the callee's local clock.
pub const WINDOWS: &[WindowRule] = &[
    WindowRule {
        rule: "tcpa_hours",
        scope: Scope::Federal,
        call_types: None,
        week: H8_21,
        holidays: &[],
        on_holidays: None,
        source: "47 CFR 64.1200(c)(1); for debt collection 12 CFR 1006.6(b)(1)(i)",
    },
    WindowRule {
        rule: "fl_hours",
        scope: Scope::State("FL"),
        call_types: None,
        week: H8_20,
        holidays: &[],
        on_holidays: None,
        source: "Fla. Stat. 501.059 (2021, SB 1120)",
    },
    WindowRule {
        rule: "ok_hours",
        scope: Scope::State("OK"),
        call_types: None,
        week: H8_20,
        holidays: &[],
        on_holidays: None,
        source: "Okla. Stat. tit. 15, 775C",
    },
    WindowRule {
        rule: "md_hours",
        scope: Scope::State("MD"),
        call_types: None,
        week: H8_20,
        holidays: &[],
        on_holidays: None,
        source: "Md. Com. Law 14-4501 ff.",
    },
    WindowRule { rule: "wa_hours", scope: Scope::State("WA"), call_types: None, week: H8_20, holidays: &[], on_holidays: None, source: "RCW 80.36.390" },
    WindowRule {
        rule: "crtc_telemarketing_hours",
        scope: Scope::Country("CA"),
        call_types: Some(TELEMARKETING),
        week: [
            Some((9 * 60, 21 * 60 + 30)),
            Some((9 * 60, 21 * 60 + 30)),
            Some((9 * 60, 21 * 60 + 30)),
            Some((9 * 60, 21 * 60 + 30)),
            Some((9 * 60, 21 * 60 + 30)),
            Some((10 * 60, 18 * 60)),
            Some((10 * 60, 18 * 60)),
        ],
        holidays: &[],
        on_holidays: None,
        source: "CRTC Unsolicited Telecommunications Rules, Part III (Telemarketing Rules): 9:00-21:30 weekdays, 10:00-18:00 weekends, the called consumer's time (crtc.gc.ca/eng/phone/telemarketing/tobligations/rules-regles.htm)",
    },
    // The states' telemarketing days and hours (COMPLIANCE.md, "State solicitation hours"), each read
    // against the statute's or rule's text where marked "read"; the others from the secondary sources named.
    WindowRule {
        rule: "al_telemarketing_hours",
        scope: Scope::State("AL"),
        call_types: Some(TELEMARKETING),
        week: but_sunday(8 * 60, 20 * 60),
        holidays: AL_HOLIDAYS,
        on_holidays: None,
        source: "Ala. Admin. Code r. 770-X-5-.17(1)(b), (2) (read): no solicitation calls on Sundays or holidays, none before 8 a.m. or after 8 p.m.; holidays: Ala. Code 1-3-8 and 5 U.S.C. 6103",
    },
    telemarketing(
        "ct_telemarketing_hours",
        "CT",
        every_day(9 * 60, 20 * 60),
        "Conn. Gen. Stat. 42-288a(c), as amended by P.A. 23-98 (2023-10-01): 9 a.m. to 8 p.m. local time (secondary: Klein Moynihan Turco; tcpaworld.com 2023-06-28)",
    ),
    WindowRule {
        rule: "la_telemarketing_hours",
        scope: Scope::State("LA"),
        call_types: Some(TELEMARKETING),
        // Every Saturday is a legal holiday in Orleans Parish, Baton Rouge and other parishes (La. R.S. 1:55(A)(2)),
        // which no number or state tells apart: no Saturdays either.
        week: weekdays(8 * 60, 20 * 60),
        holidays: LA_HOLIDAYS,
        on_holidays: None,
        source: "La. R.S. 45:811(2)-(3) (read): 8 a.m. to 8 p.m. Monday through Saturday, not on state holidays or Sundays; holidays: La. R.S. 1:55 (read), whose Saturday holidays in many parishes close Saturdays",
    },
    WindowRule {
        rule: "ne_telemarketing_hours",
        scope: Scope::State("NE"),
        call_types: Some(TELEMARKETING),
        week: {
            let mut week = H8_21;
            week[6] = Some((13 * 60, 21 * 60));
            week
        },
        holidays: FEDERAL_ONLY,
        on_holidays: Some((13 * 60, 21 * 60)),
        source: "Neb. Rev. Stat. 86-248(1) (read): no solicitation by an automatic dialing-announcing device before 8 a.m. or after 9 p.m.; Neb. Admin. Code tit. 291 ch. 11: Sundays and holidays 1 p.m. to 9 p.m. (COMPLIANCE.md; the rule's text not read; holidays: 5 U.S.C. 6103)",
    },
    WindowRule {
        rule: "ri_telemarketing_hours",
        scope: Scope::State("RI"),
        call_types: Some(TELEMARKETING),
        week: {
            let mut week = weekdays(9 * 60, 18 * 60);
            week[5] = Some((10 * 60, 17 * 60));
            week
        },
        holidays: RI_HOLIDAYS,
        on_holidays: None,
        source: "R.I. Gen. Laws 5-61-3.6(a), 5-61-2(2) (read): Monday to Friday, except a state or federal holiday, 9 a.m. to 6 p.m.; Saturday 10 a.m. to 5 p.m.; holidays: R.I. Gen. Laws 25-1-1 (read) and 5 U.S.C. 6103",
    },
    telemarketing(
        "tx_telemarketing_hours",
        "TX",
        {
            let mut week = but_sunday(9 * 60, 21 * 60);
            week[6] = Some((12 * 60, 21 * 60));
            week
        },
        "Tex. Bus. & Com. Code 301.051(b)(2): 9 a.m. to 9 p.m. Monday to Saturday, noon to 9 p.m. Sunday (secondary: tcpaguide.org and others)",
    ),
    telemarketing(
        "ky_telemarketing_hours",
        "KY",
        every_day(10 * 60, 21 * 60),
        "KRS 367.46955(16): 10 a.m. to 9 p.m. at the called person's location (secondary)",
    ),
    telemarketing(
        "ma_telemarketing_hours",
        "MA",
        H8_20,
        "201 CMR 12.02(2) (read): no unsolicited telephonic sales call between 8:00 P.M. and 8:00 A.M., local time at the consumer's location; M.G.L. c. 159C s. 3",
    ),
    telemarketing(
        "nv_telemarketing_hours",
        "NV",
        H9_21,
        "NRS 597.814(2)(a) (read): no automatic dialing-announcing call received in Nevada between 9 p.m. and 9 a.m.",
    ),
    telemarketing("mi_telemarketing_hours", "MI", H9_21, "MCL 750.540e(1)(f): no unsolicited commercial call between 9 p.m. and 9 a.m. (secondary)"),
    telemarketing("mn_telemarketing_hours", "MN", H9_21, "Minn. Stat. 325E.30: no commercial telephone solicitation before 9 a.m. or after 9 p.m. (secondary)"),
    telemarketing("nm_telemarketing_hours", "NM", H9_21, "NMSA 57-12-22(B)(5) (read): no telephone solicitation received before 9:00 a.m. or after 9:00 p.m."),
    telemarketing(
        "ms_telemarketing_hours",
        "MS",
        but_sunday(9 * 60, 20 * 60),
        "Miss. Code 77-3-723(1) (read): 8:00 a.m. to 8:00 p.m. Central Standard Time, none on Sunday; 8:00 CST is 9:00 on daylight time, so 9:00 to 20:00 local all year",
    ),
    WindowRule {
        rule: "ut_telemarketing_hours",
        scope: Scope::State("UT"),
        call_types: Some(TELEMARKETING),
        week: but_sunday(8 * 60, 21 * 60),
        holidays: UT_HOLIDAYS,
        on_holidays: None,
        source: "Utah Code 13-25a-103(3) (read): none between 9 p.m. and 8 a.m., on a Sunday or on a legal holiday; holidays: Utah Code 63G-1-301",
    },
    WindowRule {
        rule: "pa_telemarketing_hours",
        scope: Scope::State("PA"),
        call_types: Some(TELEMARKETING),
        week: but_sunday(9 * 60, 19 * 60),
        holidays: FEDERAL_ONLY,
        on_holidays: None,
        source: "73 P.S. 2245(a)(1) (read: 8 a.m. to 9 p.m.), (a)(10) (no legal holidays); Act 47 of 2026 (SB 992, reported in force from 2026-10-18: 9 a.m. to 7 p.m., no Sundays; secondary); holidays: 5 U.S.C. 6103",
    },
    telemarketing(
        "or_telemarketing_hours",
        "OR",
        H8_20,
        "ORS 646.563 as amended by HB 3865 (2025), from 2026-01-01: 8 a.m. to 8 p.m. (secondary: Troutman Pepper Locke)",
    ),
    telemarketing("wy_telemarketing_hours", "WY", H8_20, "Wyo. Stat. 40-12-302(d): not before 8 a.m. or after 8 p.m. local time (secondary)"),
    telemarketing(
        "ca_telemarketing_hours",
        "CA",
        H9_21,
        "Cal. Pub. Util. Code 2872(c) (read): no automatic dialing-announcing call received between 9 p.m. and 9 a.m. California time",
    ),
    telemarketing(
        "me_telemarketing_hours",
        "ME",
        weekdays(9 * 60, 17 * 60),
        "10 M.R.S. 1498(3) (read): automated solicitation calls only on weekdays between 9 a.m. and 5 p.m.",
    ),
    telemarketing(
        "sd_telemarketing_hours",
        "SD",
        weekdays(9 * 60, 21 * 60),
        "SDCL 37-30-28 (read): automated solicitation calls only on weekdays between 9 a.m. and 9 p.m.",
    ),
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
    /// The rule holds only attempts that rest on the healthcare exemption (47 CFR 64.1200(a)(9)(iv)).
    pub exemption: bool,
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
        exemption: false,
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
        exemption: false,
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
        exemption: false,
        source: "Md. Com. Law 14-4501 ff.",
    },
    FrequencyRule {
        rule: "or_3_in_24h",
        code: "frequency_limit",
        scope: Scope::State("OR"),
        call_types: Some(TELEMARKETING),
        per: Per::Number,
        max: 3,
        within: Duration::hours(24),
        exemption: false,
        source: "ORS 646.563 as amended by HB 3865 (2025), from 2026-01-01: at most three solicitations in 24 hours (secondary: Troutman Pepper Locke)",
    },
    FrequencyRule {
        rule: "regf_7_in_7",
        code: "regf_7_in_7",
        scope: Scope::Federal,
        call_types: Some(DEBT),
        per: Per::Debt,
        max: 7,
        within: Duration::days(7),
        exemption: false,
        source: "12 CFR 1006.14(b)(2)(i)(A)",
    },
    FrequencyRule {
        rule: "hc_1_per_day",
        code: "healthcare_exemption_limit",
        scope: Scope::Federal,
        call_types: None,
        per: Per::Number,
        max: 1,
        within: Duration::hours(24),
        exemption: true,
        source: "47 CFR 64.1200(a)(9)(iv)(F); FCC 15-72: one message a day",
    },
    FrequencyRule {
        rule: "hc_3_per_week",
        code: "healthcare_exemption_limit",
        scope: Scope::Federal,
        call_types: None,
        per: Per::Number,
        max: 3,
        within: Duration::days(7),
        exemption: true,
        source: "47 CFR 64.1200(a)(9)(iv)(F); FCC 15-72: three a week",
    },
];

/// Regulation F: no call about a debt within seven days after a telephone
/// conversation about it, the conversation's day counting as the first.
pub const REGF_AFTER_CONVERSATION: (&str, &str, i64, &str) = ("regf_after_conversation", "regf_after_conversation", 7, "12 CFR 1006.14(b)(2)(i)(B)");

/// The tenant's own cap when it sets none: attempts to one number within 24 hours, across every call type.
pub const DEFAULT_TENANT_CAP_PER_DAY: u32 = 3;

impl Scope {
    /// Whether the rule applies to `callee`.
    pub fn applies(self, callee: &Callee) -> bool {
        match self {
            Scope::Federal => true,
            Scope::State(code) => callee.states.iter().any(|s| s.as_str() == code),
            Scope::Country(code) => callee.country.is_some_and(|c| c.as_ref() == code),
        }
    }
}

/// The rules as the docs table shows them (`docs/call-safety.md`, between
/// its `rules-table` markers; a test holds the two the same): every window
/// and limit, where it applies, its figures and its source.
pub fn rules_table() -> String {
    let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let scope = |s: Scope| match s {
        Scope::Federal => "every callee".to_string(),
        Scope::State(code) => format!("a callee who may be in {code}"),
        Scope::Country(code) => format!("a number libphonenumber assigns to country {code} (ISO 3166)"),
    };
    let types = |t: Option<&[CallType]>| t.map_or("every outbound call".to_string(), |t| t.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "));
    let mut out = String::from("| Rule | Applies to | Calls | Figures (the callee's local time) | Source |\n|---|---|---|---|---|\n");
    for rule in WINDOWS {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let mut days: Vec<String> = Vec::new();
        let mut i = 0;
        while i < 7 {
            let mut j = i;
            while j + 1 < 7 && rule.week[j + 1] == rule.week[i] {
                j += 1;
            }
            let span = if i == j { names[i].to_string() } else { format!("{}-{}", names[i], names[j]) };
            days.push(match rule.week[i] {
                Some((a, b)) => format!("{span} {}-{}", clock(a), clock(b)),
                None => format!("{span} none"),
            });
            i = j + 1;
        }
        if !rule.holidays.is_empty() {
            days.push(match rule.on_holidays {
                Some((a, b)) => format!("holidays {}-{}", clock(a), clock(b)),
                None => "holidays none".into(),
            });
        }
        out.push_str(&format!("| `{}` | {} | {} | {} | {} |\n", rule.rule, scope(rule.scope), types(rule.call_types), days.join("; "), rule.source));
    }
    for rule in FREQUENCY {
        let hours = rule.within.num_hours();
        let window = if hours % 24 == 0 && hours > 24 { format!("{} days", hours / 24) } else { format!("{hours} hours") };
        let per = match rule.per {
            Per::Number => "to the number",
            Per::Debt => "about the debt, on any number",
        };
        let calls = if rule.exemption { "calls resting on the healthcare exemption".to_string() } else { types(rule.call_types) };
        out.push_str(&format!(
            "| `{}` (`{}`) | {} | {} | at most {} attempts {per} in {window} | {} |\n",
            rule.rule,
            rule.code,
            scope(rule.scope),
            calls,
            rule.max,
            rule.source
        ));
    }
    let (rule, code, days, source) = REGF_AFTER_CONVERSATION;
    out.push_str(&format!("| `{rule}` (`{code}`) | every callee | OUTBOUND_DEBT | none in the {days} days after a conversation about the debt, its day the first, in every zone the callee may be in | {source} |\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::holidays::easter;

    #[test]
    fn the_docs_show_every_rule_as_the_data_holds_it() {
        let docs = include_str!("../../../../docs/call-safety.md");
        let (begin, end) = ("<!-- rules-table:begin -->\n", "<!-- rules-table:end -->");
        let shown = docs.split_once(begin).and_then(|(_, rest)| rest.split_once(end)).map(|(table, _)| table);
        if std::env::var_os("CALLOPS_WRITE_DOCS").is_some() {
            let (head, rest) = docs.split_once(begin).expect("the begin marker");
            let (_, tail) = rest.split_once(end).expect("the end marker");
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/call-safety.md"), format!("{head}{begin}{}{end}{tail}", rules_table())).unwrap();
            return;
        }
        assert_eq!(
            shown,
            Some(rules_table().as_str()),
            "docs/call-safety.md's rules table is stale: rewrite it with CALLOPS_WRITE_DOCS=1 cargo test -p callops-domain the_docs_show"
        );
    }

    #[test]
    fn holidays_fall_on_their_days() {
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let on = |lists: &[&[Holiday]], text: &str| lists.iter().flat_map(|l| l.iter()).any(|h| h.falls_on(day(text)));
        // 5 U.S.C. 6103: Thanksgiving 2026 is 26 November; Memorial Day the last Monday of May; 4 July 2026 is a Saturday, observed Friday 3 July.
        for date in ["2026-11-26", "2026-05-25", "2026-07-03", "2026-07-04", "2026-01-19", "2027-12-31"] {
            assert!(on(FEDERAL_ONLY, date), "{date}");
        }
        for date in ["2026-11-27", "2026-05-18", "2026-07-07", "2026-03-03"] {
            assert!(!on(FEDERAL_ONLY, date), "{date}");
        }
        // Louisiana: Mardi Gras 2026 is 17 February (Easter 5 April), Good Friday 3 April, Huey P. Long Day 30 August.
        for date in ["2026-02-17", "2026-04-03", "2026-08-30", "2026-01-08"] {
            assert!(on(LA_HOLIDAYS, date), "{date}");
        }
        // Rhode Island: Victory Day the second Monday of August, election day the Tuesday after the first Monday of November.
        assert!(on(RI_HOLIDAYS, "2026-08-10") && on(RI_HOLIDAYS, "2026-11-03") && !on(RI_HOLIDAYS, "2026-11-02"));
        assert!(on(UT_HOLIDAYS, "2026-07-24") && on(AL_HOLIDAYS, "2026-04-27") && on(AL_HOLIDAYS, "2026-06-01"));
        assert_eq!(easter(2024), NaiveDate::from_ymd_opt(2024, 3, 31));
        assert_eq!(easter(2027), NaiveDate::from_ymd_opt(2027, 3, 28));
    }

    #[test]
    fn the_states_telemarketing_days_close_and_open_as_their_statutes_say() {
        let rule = |name: &str| WINDOWS.iter().find(|w| w.rule == name).unwrap();
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        // 2026-12-06 is a Sunday, 2026-12-05 a Saturday, 2026-12-07 a Monday.
        assert_eq!(rule("tx_telemarketing_hours").window_on(day("2026-12-06")), Some((12 * 60, 21 * 60)), "Texas: noon on Sunday");
        assert_eq!(rule("tx_telemarketing_hours").window_on(day("2026-12-07")), Some((9 * 60, 21 * 60)));
        assert_eq!(rule("ri_telemarketing_hours").window_on(day("2026-12-05")), Some((10 * 60, 17 * 60)), "Rhode Island: Saturday 10 to 5");
        assert_eq!(rule("ri_telemarketing_hours").window_on(day("2026-12-06")), None, "no Sundays");
        assert_eq!(rule("ri_telemarketing_hours").window_on(day("2026-11-26")), None, "Thanksgiving");
        assert_eq!(rule("al_telemarketing_hours").window_on(day("2026-12-25")), None, "Christmas");
        assert_eq!(rule("la_telemarketing_hours").window_on(day("2026-02-17")), None, "Mardi Gras");
        assert_eq!(rule("ut_telemarketing_hours").window_on(day("2026-12-06")), None);
        assert_eq!(rule("ne_telemarketing_hours").window_on(day("2026-12-06")), Some((13 * 60, 21 * 60)));
        assert_eq!(rule("crtc_telemarketing_hours").window_on(day("2026-12-05")), Some((10 * 60, 18 * 60)), "Canada: weekends 10 to 6");
        assert_eq!(rule("crtc_telemarketing_hours").window_on(day("2026-12-07")), Some((9 * 60, 21 * 60 + 30)), "weekdays 9 to 9:30");
        assert!(WINDOWS.iter().filter(|w| w.call_types.is_some()).all(|w| w.call_types == Some(TELEMARKETING)), "state days and hours hold telemarketing");
    }

    #[test]
    fn the_rules_are_the_compliance_figures() {
        let federal = WINDOWS.iter().find(|w| w.scope == Scope::Federal).unwrap();
        assert_eq!(federal.week, [Some((480, 1260)); 7]);
        for state in ["FL", "OK", "MD", "WA"] {
            let rule = WINDOWS.iter().find(|w| w.scope == Scope::State(state) && w.call_types.is_none()).unwrap();
            assert_eq!(rule.week, [Some((480, 1200)); 7], "{state}: 8:00-20:00 every day");
        }
        let limited: Vec<_> = FREQUENCY.iter().filter(|f| f.max == 3).filter_map(|f| if let Scope::State(s) = f.scope { Some(s) } else { None }).collect();
        assert_eq!(limited, vec!["FL", "OK", "MD", "OR"]);
        let regf = FREQUENCY.iter().find(|f| f.rule == "regf_7_in_7").unwrap();
        assert_eq!((regf.max, regf.within, regf.per), (7, Duration::days(7), Per::Debt));
        assert!(WINDOWS.iter().all(|w| !w.source.is_empty()) && FREQUENCY.iter().all(|f| !f.source.is_empty()));
    }
}
