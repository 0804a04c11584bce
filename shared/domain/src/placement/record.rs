//! The compliance record of an attempt, written from what the placement
//! policy weighed: every rule, where the callee may be, the consent or
//! exemption it rests on. The record's shape is the call's
//! ([`crate::call::compliance`]); what goes in it is decided here.

use chrono::{DateTime, Utc};

use crate::{
    call::{
        CallType,
        compliance::{Basis, Check, ComplianceRecord, Exemption},
    },
    placement::{
        EXEMPTION_CALL_TYPES, EXEMPTION_MAX_SECONDS, PlacementFacts,
        call_rules::{FREQUENCY, REGF_AFTER_CONVERSATION},
        callee::Callee,
        clock::RuleCheck,
        frequency::holds,
        recording::{self, RecordingAsk},
    },
    time,
};

/// What a call on the healthcare exemption says first: the practice's name and callback number.
pub fn exemption_first_message(practice_name: &str, callback_number: &str) -> String {
    format!("Hello, this is {practice_name} calling. You can reach us at {callback_number}.")
}

/// The healthcare exemption's record for a call it carries.
pub fn healthcare_exemption() -> Exemption {
    Exemption {
        name: Basis::HealthcareRelationship.as_str().into(),
        source: "47 CFR 64.1200(a)(9)(iv); FCC 15-72".into(),
        max_duration_seconds: EXEMPTION_MAX_SECONDS,
        conditions: vec![
            "a care call (OUTBOUND_FOLLOWUP or OUTBOUND_OTHER): no telemarketing, billing or collection content".into(),
            "to the number the patient gave the practice (the consent's own number)".into(),
            format!("one minute at most: Vapi's maxDurationSeconds is {EXEMPTION_MAX_SECONDS}"),
            "the practice's name and callback number stated at the start (the first message)".into(),
            "at most one call a day and three a week to the number".into(),
        ],
        first_message: None,
    }
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
    if facts.call_type == CallType::OutboundDebt {
        rules.push(Check {
            rule: "regf_debt_id".into(),
            ok: facts.debt_id.is_some(),
            detail: match facts.debt_id {
                Some(debt) => format!("about debt {debt}: Regulation F counts calls per person and debt (12 CFR 1006.14(b)(2)(i))"),
                None => "a collection call names its debt (debtId): Regulation F counts calls per person and debt (12 CFR 1006.14(b)(2)(i))".into(),
            },
        });
    }
    if facts.callee.place_unknown {
        rules.push(Check {
            rule: "callee_location".into(),
            ok: !facts.refuse_unknown_location,
            detail: if facts.refuse_unknown_location {
                "the number gives no place and no record names one: the practice refuses such calls (unknownCalleeLocation)".into()
            } else {
                "the number gives no place and no record names one: the call fits every zone and state of the fifty states and DC".into()
            },
        });
    }
    let relied = facts.relied_on(at);
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
    let exempt = relied.is_some_and(|c| c.basis == Basis::HealthcareRelationship);
    if exempt {
        let fits = facts.practice_identified && EXEMPTION_CALL_TYPES.contains(&facts.call_type);
        rules.push(Check {
            rule: "healthcare_exemption".into(),
            ok: fits,
            detail: if fits {
                format!("rests on the healthcare exemption (47 CFR 64.1200(a)(9)(iv)): a {} call of one minute at most, stating the practice's name and callback number", facts.call_type)
            } else {
                "the healthcare exemption carries only care calls (OUTBOUND_FOLLOWUP, OUTBOUND_OTHER) that state the practice's name and callback number (practiceName, callbackNumber in the settings)".into()
            },
        });
    }
    if let Some(registries) = facts.registries {
        let written = relied.is_some_and(|c| c.basis == Basis::PriorExpressWritten);
        let refusal = registries.refusal(facts.call_type, written, at);
        let listed: Vec<&str> = registries.results.iter().filter(|r| r.listed).map(|r| r.name.as_str()).collect();
        let kept: Vec<String> = registries.results.iter().filter_map(|r| r.as_of.map(|d| format!("{} as of {d}", r.name))).collect();
        let detail = match refusal {
            Some(super::registries::RegistryRefusal::Stale) => {
                format!("a registry copy would be more than 31 days old at the call ({}; 47 CFR 64.1200(c)(2)(i)(D))", kept.join(", "))
            }
            Some(_) => format!("listed on {} without written consent or a current business relationship (47 CFR 64.1200(c)(2), (f)(5))", listed.join(", ")),
            None if listed.is_empty() => {
                format!("on no registry copy the practice keeps ({})", if kept.is_empty() { "none imported".to_string() } else { kept.join(", ") })
            }
            None => format!("listed on {}, and the call rests on written consent or a current business relationship", listed.join(", ")),
        };
        rules.push(Check { rule: "dnc_registries".into(), ok: refusal.is_none(), detail });
    }
    if let Some(agent) = facts.agent {
        rules.extend(facts.clock(agent).checks(at).into_iter().map(Check::from));
    }
    if let Some(frequency) = facts.frequency {
        let limits = facts.limits(&frequency, at);
        let over = frequency.ledger.over_limits(frequency.call, at, &limits);
        let until = |rule: &str| over.iter().find(|o| o.rule == rule).map(|o| format!("; not before {}", time::format(&o.next_allowed_at)));
        let debt = frequency.call.call_type == CallType::OutboundDebt;
        for rule in FREQUENCY.iter().filter(|r| holds(r, frequency.call.call_type, &limits)) {
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
        exemption: exempt.then(healthcare_exemption),
        place_unknown: facts.callee.place_unknown,
        monitor: None,
        registries: facts.registries.map(|r| r.results.clone()).unwrap_or_default(),
        rnd: relied.and_then(|c| c.rnd),
        keypad: None,
        identity: None,
        disclosure: None,
        voicemail: None,
        outbound_room: None,
    }
}

impl ComplianceRecord {
    /// The record of an inbound call from `caller` (answered at `at`): where they may be, and whether its recording is kept.
    pub fn inbound(caller: &Callee, disclosed: bool, at: DateTime<Utc>) -> ComplianceRecord {
        let recording = recording::decide_inbound(caller, disclosed);
        let detail = match recording.asked {
            RecordingAsk::Record => "one party's consent is enough where the caller may be".to_string(),
            RecordingAsk::DisclosedInbound => "the caller may be where everyone's consent is needed: the practice's inbound assistant discloses the recording".into(),
            _ => "the caller may be where everyone's consent is needed, and the practice has not recorded that its inbound assistant discloses the recording (inboundRecordingDisclosed): the recording is not kept".into(),
        };
        ComplianceRecord {
            decided_at: time::to_millis(at),
            zones: caller.zones.iter().map(|z| z.name().to_string()).collect(),
            states: caller.states.iter().map(|s| s.to_string()).collect(),
            rules: vec![Check { rule: "recording_consent".into(), ok: recording.asked != RecordingAsk::NotDisclosed, detail }],
            consent: None,
            recording: Some(recording),
            exemption: None,
            place_unknown: caller.place_unknown,
            monitor: None,
            registries: Vec::new(),
            rnd: None,
            keypad: None,
            identity: None,
            disclosure: None,
            voicemail: None,
            outbound_room: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::compliance::{MAX_RULES, MAX_ZONES};
    use crate::{
        fixtures,
        placement::callee::Callee,
        placement::frequency::Ledger,
        placement::{Frequency, planning},
    };

    #[test]
    fn the_record_names_every_rule_weighed_and_which_failed() {
        let agent = fixtures::agent();
        let callee = Callee::of("+13055550100", &crate::placement::callee::Places::default());
        let mut call = fixtures::call(crate::call::CallStatus::Scheduled);
        call.call_type = CallType::OutboundDebt;
        let ledger = Ledger::default();
        let facts = PlacementFacts {
            debt_id: Some("inv-1"),
            frequency: Some(Frequency { call: (&call).into(), ledger: &ledger, debt: None, tenant_cap_per_day: 3 }),
            ..planning(CallType::OutboundDebt, &agent, &callee, &[])
        };
        // 20:30 in Miami: past Florida's 20:00.
        let record = evaluate(&facts, time::parse("2024-01-16T01:30:00Z").unwrap());
        let names: Vec<(&str, bool)> = record.rules.iter().map(|c| (c.rule.as_str(), c.ok)).collect();
        assert_eq!(
            names,
            vec![
                ("do_not_call", true),
                ("regf_debt_id", true),
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
    fn the_widest_record_a_callee_nothing_places_gets_is_one_a_call_can_keep() {
        // A toll-free number: every zone and state, every state's window and limit weighed, a telemarketing call, consent weighed.
        let agent = fixtures::agent();
        let callee = Callee::of("+18005550100", &crate::placement::callee::Places::default());
        assert!(callee.place_unknown && callee.states.len() == 51);
        let mut call = fixtures::call(crate::call::CallStatus::Scheduled);
        call.call_type = CallType::OutboundLead;
        let ledger = Ledger::default();
        let policy = crate::consent::ConsentPolicy::default();
        let consenting = crate::consent::Consenting {
            call_type: CallType::OutboundLead,
            consents: &[],
            accepted: policy.accepts(CallType::OutboundLead),
            opted_out_at: None,
        };
        let facts = PlacementFacts {
            frequency: Some(Frequency { call: (&call).into(), ledger: &ledger, debt: None, tenant_cap_per_day: 3 }),
            consent: Some(consenting),
            ..planning(CallType::OutboundLead, &agent, &callee, &[])
        };
        let record = evaluate(&facts, time::parse("2026-12-09T17:00:00Z").unwrap())
            .with_recording(crate::placement::recording::decide(&callee, crate::placement::recording::RecordingPolicy::Disclose));
        assert!(record.rules.len() > 25 && record.rules.len() <= MAX_RULES, "{}", record.rules.len());
        assert!(record.place_unknown && record.zones.len() <= MAX_ZONES && record.states.len() <= MAX_ZONES);
        call.compliance = Some(record);
        assert_eq!(call.check_storable(), Ok(()));
    }

    #[test]
    fn the_record_names_the_consent_an_attempt_rests_on() {
        let agent = fixtures::agent();
        let callee = Callee::of("+12125550142", &crate::placement::callee::Places::default());
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
        let consenting = crate::consent::Consenting { call_type: CallType::OutboundFollowup, consents: &consents, accepted, opted_out_at: None };
        let record = evaluate(&PlacementFacts { consent: Some(consenting), ..planning(crate::call::CallType::OutboundFollowup, &agent, &callee, &[]) }, noon);
        assert_eq!(record.rules[1].rule, "consent");
        assert!(record.rules[1].ok && record.rules[1].detail.contains("consent-1"), "{:?}", record.rules[1]);
        assert_eq!(record.consent.as_ref().map(|c| (c.id.as_str(), c.basis)), Some(("consent-1", crate::consent::Basis::PriorExpress)));
        let lead = crate::consent::Consenting { call_type: CallType::OutboundLead, accepted: &[crate::consent::Basis::PriorExpressWritten], ..consenting };
        let refused = evaluate(&PlacementFacts { consent: Some(lead), ..planning(crate::call::CallType::OutboundFollowup, &agent, &callee, &[]) }, noon);
        assert!(!refused.rules[1].ok && refused.rules[1].detail.contains("prior_express_written"), "{:?}", refused.rules[1]);
        assert_eq!(refused.consent, None);
    }
}
