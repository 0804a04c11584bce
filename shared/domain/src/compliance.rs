//! Why a call may be placed, written down: every rule the policy weighed
//! for an attempt at a time (the do-not-call list, the consent it rests
//! on, each rule of the clock, each frequency limit), where the callee is,
//! and whether it held. The
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
    /// The consent the attempt rests on, when one covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<crate::consent::ConsentRelied>,
    /// What the dialer asked Vapi about recording the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<crate::recording::RecordingDecision>,
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
    let relied = facts.consent.and_then(|c| c.relied_on(at));
    if let Some(consenting) = facts.consent {
        let accepted: Vec<&str> = consenting.accepted.iter().map(|b| b.as_str()).collect();
        rules.push(Check {
            rule: "consent".into(),
            ok: relied.is_some(),
            detail: match relied {
                Some(consent) => {
                    format!("{} consent {} ({}), captured {}", consent.basis.as_str(), consent.id, consent.source, time::format(&consent.captured_at))
                }
                None => format!("no consent on record covers a {} call then; it needs one of: {}", consenting.call_type, accepted.join(", ")),
            },
        });
    }
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
        consent: relied.map(Into::into),
        recording: None,
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
        assert_eq!(record.consent, None, "consent not weighed");
    }

    #[test]
    fn the_record_names_the_consent_an_attempt_rests_on() {
        let agent = fixtures::agent();
        let callee = Callee::of("+12125550142", None, None, chrono_tz::Tz::UTC);
        let noon = time::parse("2024-01-16T17:00:00Z").unwrap();
        let by = crate::caller::Actor { sub: "u".into(), name: None };
        let input = crate::consent::ConsentInput {
            phone_number: "+12125550142".into(),
            basis: "prior_express".into(),
            source: "intake form".into(),
            ..Default::default()
        };
        let consent = input.check("consent-1".into(), "o", by, noon - chrono::Duration::days(1)).unwrap();
        let policy = crate::consent::ConsentPolicy::default();
        let accepted = policy.accepts(CallType::OutboundFollowup);
        let consents = [consent];
        let consenting = crate::consent::Consenting { call_type: CallType::OutboundFollowup, consents: &consents, accepted };
        let record = evaluate(&PlacementFacts { consent: Some(consenting), ..planning(&agent, &callee, &[]) }, noon);
        assert_eq!(record.rules[1].rule, "consent");
        assert!(record.rules[1].ok && record.rules[1].detail.contains("consent-1"), "{:?}", record.rules[1]);
        assert_eq!(record.consent.as_ref().map(|c| (c.id.as_str(), c.basis)), Some(("consent-1", crate::consent::Basis::PriorExpress)));
        let lead = crate::consent::Consenting { call_type: CallType::OutboundLead, accepted: &[crate::consent::Basis::PriorExpressWritten], ..consenting };
        let refused = evaluate(&PlacementFacts { consent: Some(lead), ..planning(&agent, &callee, &[]) }, noon);
        assert!(!refused.rules[1].ok && refused.rules[1].detail.contains("prior_express_written"), "{:?}", refused.rules[1]);
        assert_eq!(refused.consent, None);
    }
}
