//! Why a call may be placed, written down: every rule the policy weighed
//! for an attempt at a time (the do-not-call list, each rule of the clock,
//! each frequency limit), where the callee is, and whether it held. The
//! dialer keeps it on every call it places (`compliance`), and
//! `GET /api/compliance/check` answers with it, placing nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    CallType,
    call_rules::{FREQUENCY, REGF_AFTER_CONVERSATION},
    clock::{Clock, RuleCheck},
    frequency::Limits,
    policy::PlacementFacts,
    time,
};

/// The rules weighed for one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceRecord {
    #[serde(with = "time::ms")]
    pub decided_at: DateTime<Utc>,
    /// The callee's zones (IANA names) and US states.
    pub zones: Vec<String>,
    pub states: Vec<String>,
    pub rules: Vec<Check>,
}

/// One rule, and whether it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub rule: String,
    pub ok: bool,
    pub detail: String,
}

impl From<RuleCheck> for Check {
    fn from(check: RuleCheck) -> Check {
        Check { rule: check.rule, ok: check.ok, detail: check.detail }
    }
}

/// Every rule `facts` holds an attempt at `at` to.
pub fn evaluate(facts: &PlacementFacts, at: DateTime<Utc>) -> ComplianceRecord {
    let mut rules = vec![Check {
        rule: "do_not_call".into(),
        ok: !facts.on_do_not_call,
        detail: if facts.on_do_not_call { "the number is on the practice's do-not-call list".into() } else { "not on the practice's do-not-call list".into() },
    }];
    if let Some(agent) = facts.agent {
        rules.extend(Clock { agent, callee: facts.callee, holidays: facts.holidays, inconvenient: facts.inconvenient }.checks(at).into_iter().map(Check::from));
    }
    if let Some(frequency) = facts.frequency {
        let over = frequency.ledger.over_limits(frequency.call, at, &Limits { callee: facts.callee, tenant_cap_per_day: frequency.tenant_cap_per_day });
        let until = |rule: &str| over.iter().find(|o| o.rule == rule).map(|o| format!("; not before {}", time::format(&o.next_allowed_at)));
        let debt = frequency.call.call_type == CallType::OutboundDebt;
        for rule in FREQUENCY.iter().filter(|r| r.scope.applies(&facts.callee.states) && r.call_types.is_none_or(|t| t.contains(&frequency.call.call_type))) {
            let hours = rule.within.num_hours();
            let window = if hours % 24 == 0 && hours > 24 { format!("{} days", hours / 24) } else { format!("{hours} hours") };
            let blocked = until(rule.rule);
            rules.push(Check {
                rule: rule.rule.into(),
                ok: blocked.is_none(),
                detail: format!("at most {} attempts in {window} ({}){}", rule.max, rule.source, blocked.unwrap_or_default()),
            });
        }
        if debt {
            let (rule, _, days, source) = REGF_AFTER_CONVERSATION;
            let blocked = until(rule);
            rules.push(Check {
                rule: rule.into(),
                ok: blocked.is_none(),
                detail: format!("no call in the {days} days after a conversation about the debt ({source}){}", blocked.unwrap_or_default()),
            });
        }
        let blocked = until("tenant_cap");
        rules.push(Check {
            rule: "tenant_cap".into(),
            ok: blocked.is_none(),
            detail: format!(
                "at most {} attempts to the number in 24 hours (the practice's setting){}",
                frequency.tenant_cap_per_day,
                blocked.unwrap_or_default()
            ),
        });
    }
    ComplianceRecord {
        decided_at: time::to_millis(at),
        zones: facts.callee.zones.iter().map(|z| z.name().to_string()).collect(),
        states: facts.callee.states.iter().map(|s| s.to_string()).collect(),
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        callee::Callee,
        fixtures,
        frequency::Ledger,
        policy::{Frequency, planning},
    };

    #[test]
    fn the_record_names_every_rule_weighed_and_which_failed() {
        let agent = fixtures::agent();
        let callee = Callee::of("+13055550100", None, None, chrono_tz::Tz::UTC);
        let mut call = fixtures::call(crate::CallStatus::Scheduled);
        call.call_type = CallType::OutboundDebt;
        let ledger = Ledger::default();
        let facts =
            PlacementFacts { frequency: Some(Frequency { call: (&call).into(), ledger: &ledger, tenant_cap_per_day: 3 }), ..planning(&agent, &callee, &[]) };
        // 20:30 in Miami: past Florida's 20:00.
        let record = evaluate(&facts, time::parse("2024-01-16T01:30:00Z").unwrap());
        let names: Vec<(&str, bool)> = record.rules.iter().map(|c| (c.rule.as_str(), c.ok)).collect();
        assert_eq!(
            names,
            vec![
                ("do_not_call", true),
                ("open_day", true),
                ("agent_hours", true),
                ("tcpa_hours", true),
                ("fl_hours", false),
                ("fl_3_in_24h", true),
                ("regf_7_in_7", true),
                ("regf_after_conversation", true),
                ("tenant_cap", true),
            ]
        );
        assert_eq!((record.zones, record.states), (vec!["America/New_York".to_string()], vec!["FL".to_string()]));
    }
}
