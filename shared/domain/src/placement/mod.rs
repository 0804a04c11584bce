//! Whether an attempt may be placed, and when: the one seam every path that
//! places or moves a call asks (scheduling, campaigns, moves, retries,
//! follow-ups, the dialer at claim time, the reconciler through the dialer).
//! A rule about whether or when a call may be placed belongs here, and only
//! here: [`next_opening`] for rules of the clock, [`may_place`] for the rest.
//! [`may_place`] decides an attempt at a time (the dialer at claim time,
//! scheduling and moves through `schedule::placement_time`);
//! [`earliest_placement`] plans one (a campaign's calls, retries, follow-ups).

pub mod call_rules;
pub mod callee;
pub mod clock;
pub mod duplicate;
pub mod frequency;
pub mod holidays;
pub mod record;
pub mod recording;
pub mod registries;
pub mod schedule;

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    agent::VoiceAgent,
    call::CallStatus,
    call::CallType,
    call::lifecycle::EndedReason,
    consent::Basis,
    error::DomainError,
    placement::callee::Callee,
    placement::clock::{Clock, ClockRefusal},
    placement::frequency::Limits,
};

/// The earliest time at or after `at` that the clock rules allow a call by
/// `agent` to `callee` ([`Clock`]: the agent's week, the tenant's holidays
/// and the law's windows, in every zone of the callee), and why `at` itself
/// does not fit when it does not. `None` when no time comes.
pub fn next_opening(facts: &PlacementFacts, agent: &VoiceAgent, at: DateTime<Utc>) -> Option<(DateTime<Utc>, Option<ClockRefusal>)> {
    let clock = facts.clock(agent);
    clock.next_opening(at).map(|opening| (opening, clock.refusal(at)))
}

/// Whether the agent has a concurrent-call slot for the attempt. The
/// claim's conditional write is what takes one; when it finds none, the
/// dialer asks again with `Busy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Free,
    /// None free; try again at `retry_at`.
    Busy {
        retry_at: DateTime<Utc>,
    },
    /// The agent has one, but the practice's outbound calls together fill
    /// what the Vapi account leaves after the slots kept for patients
    /// calling in; try again at `retry_at`.
    Reserved {
        retry_at: DateTime<Utc>,
    },
}

/// What is known about an attempt when it is to be placed.
#[derive(Debug, Clone, Copy)]
pub struct PlacementFacts<'a> {
    /// What the call is.
    pub call_type: CallType,
    /// The debt a collection call is about.
    pub debt_id: Option<&'a str>,
    /// The call's agent; `None` when it no longer exists.
    pub agent: Option<&'a VoiceAgent>,
    /// Where the callee may be ([`Callee::of_call`]).
    pub callee: &'a Callee,
    /// The tenant refuses calls to a callee whose place nothing gives (`unknownCalleeLocation: refuse`).
    pub refuse_unknown_location: bool,
    /// The tenant's settings name the practice and its callback number, which
    /// a call resting on the healthcare exemption must state.
    pub practice_identified: bool,
    /// The tenant's closed dates.
    pub holidays: &'a [NaiveDate],
    /// For a collection call, the times the callee said are inconvenient; empty otherwise.
    pub inconvenient: &'a [crate::placement::clock::InconvenientTime],
    /// The number's attempts (made, and planned when a call is planned),
    /// when the attempt's frequency is checked.
    pub frequency: Option<Frequency<'a>>,
    pub campaign_cancelled: bool,
    /// The call's campaign ended (its `endAt` passed).
    pub campaign_ended: bool,
    pub on_do_not_call: bool,
    /// The number's consents and the bases the call's type accepts, when
    /// consent is checked (every outbound path does; a plan for the clock alone does not).
    pub consent: Option<crate::consent::Consenting<'a>>,
    /// What the do-not-call registries say of the number, when they are checked (every path that places a call does).
    pub registries: Option<&'a registries::RegistryFacts>,
    pub slot: Slot,
}

/// What the frequency limits of one attempt are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Frequency<'a> {
    /// The attempt checked.
    pub call: crate::placement::frequency::Attempting<'a>,
    pub ledger: &'a crate::placement::frequency::Ledger,
    /// The ledger of the call's debt, across every number (a collection call's).
    pub debt: Option<&'a crate::placement::frequency::Ledger>,
    pub tenant_cap_per_day: u32,
}

/// The call types the healthcare exemption may carry: no telemarketing,
/// billing or collection content (47 CFR 64.1200(a)(9)(iv); FCC 15-72).
pub const EXEMPTION_CALL_TYPES: &[CallType] = &[CallType::OutboundFollowup, CallType::OutboundOther];

/// The longest a call resting on the healthcare exemption may last, in
/// seconds: one minute (47 CFR 64.1200(a)(9)(iv)(E); FCC 15-72).
pub const EXEMPTION_MAX_SECONDS: u32 = 60;

impl<'a> PlacementFacts<'a> {
    /// The clock rules of the call by `agent`.
    pub fn clock(&self, agent: &'a VoiceAgent) -> Clock<'a> {
        Clock { agent, callee: self.callee, call_type: self.call_type, holidays: self.holidays, inconvenient: self.inconvenient }
    }

    /// The consent an attempt at `at` rests on, when consent is weighed and one covers it.
    pub fn relied_on(&self, at: DateTime<Utc>) -> Option<&'a crate::consent::Consent> {
        self.consent.and_then(|c| c.relied_on(at))
    }

    /// Whether an attempt at `at` rests on the healthcare exemption.
    pub fn rests_on_exemption(&self, at: DateTime<Utc>) -> bool {
        self.relied_on(at).is_some_and(|c| c.basis == Basis::HealthcareRelationship)
    }

    /// The frequency limits of an attempt at `at`.
    pub fn limits(&self, frequency: &Frequency<'a>, at: DateTime<Utc>) -> Limits<'a> {
        Limits {
            callee: self.callee,
            tenant_cap_per_day: frequency.tenant_cap_per_day,
            debt: frequency.debt,
            healthcare_exemption: self.rests_on_exemption(at),
        }
    }
}

/// Why an attempt will never be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    CampaignCancelled,
    /// The call's campaign ended before the call was placed.
    CampaignEnded,
    OnDoNotCallList,
    /// A collection call that names no debt: Regulation F counts calls per debt.
    DebtIdRequired,
    /// Nothing says where the callee is, and the tenant refuses such calls.
    UnknownCalleeLocation,
    NoConsent,
    /// The call rests on the healthcare exemption without one of its conditions
    /// (a call type it may carry, the practice's name and callback number).
    ExemptionConditions,
    NoAgent,
    NoCallingHoursAhead,
    /// Telemarketing to a number on the National Do Not Call Registry, without written consent or a current relationship.
    OnNationalRegistry,
    /// Telemarketing to a number on a state's do-not-call list, likewise.
    OnStateRegistry,
    /// Telemarketing while a registry copy would be older than 31 days at the call.
    RegistryStale,
    /// Every consent that would cover the call is for a number the Reassigned Numbers Database says was disconnected since.
    NumberReassigned,
}

impl Refusal {
    /// The status a waiting attempt ends in for this refusal.
    pub fn status(self) -> CallStatus {
        match self {
            Refusal::CampaignCancelled
            | Refusal::CampaignEnded
            | Refusal::OnDoNotCallList
            | Refusal::DebtIdRequired
            | Refusal::UnknownCalleeLocation
            | Refusal::NoConsent
            | Refusal::ExemptionConditions
            | Refusal::NoCallingHoursAhead
            | Refusal::OnNationalRegistry
            | Refusal::OnStateRegistry
            | Refusal::RegistryStale
            | Refusal::NumberReassigned => CallStatus::Cancelled,
            Refusal::NoAgent => CallStatus::Failed,
        }
    }

    /// The refusal as an API error, for a request that asked for the call.
    pub fn error(self) -> DomainError {
        match self {
            Refusal::OnDoNotCallList => DomainError::conflict(crate::error::Conflict::OnDoNotCallList, "this number is on the practice's do-not-call list"),
            Refusal::CampaignCancelled => DomainError::conflict(crate::error::Conflict::CampaignCancelled, "the campaign is cancelled"),
            Refusal::CampaignEnded => {
                DomainError::conflict(crate::error::Conflict::CampaignEnded, "the campaign ended (its endAt passed): start a new campaign for these contacts")
            }
            Refusal::DebtIdRequired => DomainError::invalid(
                "debt_id_required",
                "a collection call (OUTBOUND_DEBT) names the debt it is about in debtId: Regulation F counts calls per person and debt",
            ),
            Refusal::UnknownCalleeLocation => DomainError::invalid(
                "unknown_callee_location",
                "the number gives no place (toll-free, 5XX, 900 or unassigned) and the contact names none: give timeZone or state, or change the unknownCalleeLocation setting",
            ),
            Refusal::NoConsent => {
                DomainError::invalid("no_consent", "no consent on record covers this call (its basis, scope and time): record the patient's consent first")
            }
            Refusal::ExemptionConditions => DomainError::invalid(
                "healthcare_exemption_conditions",
                "this call would rest on the healthcare exemption, which needs the practice's name and callback number (practiceName, callbackNumber in the settings) and a care call (OUTBOUND_FOLLOWUP or OUTBOUND_OTHER); or record a prior express consent",
            ),
            Refusal::NoAgent => DomainError::invalid("unknown_agent", "the call's voice agent does not exist"),
            Refusal::NoCallingHoursAhead => {
                DomainError::invalid("no_calling_hours", "no time comes when the callee's calling hours are open in every zone they may be in")
            }
            Refusal::OnNationalRegistry => DomainError::invalid(
                "on_national_dnc",
                "the number is on the National Do Not Call Registry: a telemarketing call to it needs the patient's written consent (prior_express_written) or an established business relationship on record",
            ),
            Refusal::OnStateRegistry => DomainError::invalid(
                "on_state_dnc",
                "the number is on the do-not-call list of a state the callee may be in: a telemarketing call to it needs the patient's written consent (prior_express_written) or an established business relationship on record",
            ),
            Refusal::RegistryStale => DomainError::invalid(
                "registry_stale",
                "a do-not-call registry copy would be more than 31 days old at the call: import a fresh copy (callops import-dnc, or POST /api/registries/{registry}/import) before telemarketing",
            ),
            Refusal::NumberReassigned => DomainError::invalid(
                "number_reassigned",
                "the Reassigned Numbers Database says this number was disconnected after the patient's consent: it may belong to someone else now; record a new consent from whoever has it",
            ),
        }
    }

    pub fn ended_reason(self) -> EndedReason {
        match self {
            Refusal::CampaignCancelled => EndedReason::CampaignCancelled,
            Refusal::CampaignEnded => EndedReason::CampaignEnded,
            Refusal::OnDoNotCallList => EndedReason::OnDoNotCallList,
            Refusal::NoConsent => EndedReason::NoConsent,
            Refusal::DebtIdRequired => EndedReason::DebtIdRequired,
            Refusal::UnknownCalleeLocation => EndedReason::UnknownCalleeLocation,
            Refusal::ExemptionConditions => EndedReason::ExemptionConditions,
            Refusal::NoAgent => EndedReason::VoiceAgentNotFound,
            Refusal::NoCallingHoursAhead => EndedReason::NoCallingHoursAhead,
            Refusal::OnNationalRegistry => EndedReason::OnNationalRegistry,
            Refusal::OnStateRegistry => EndedReason::OnStateRegistry,
            Refusal::RegistryStale => EndedReason::RegistryStale,
            Refusal::NumberReassigned => EndedReason::NumberReassigned,
        }
    }
}

/// The decision for an attempt at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// It may be placed at `at`.
    Allowed,
    /// Not at `at`; the earliest time it may be, and why (the refusal's
    /// code: `outside_calling_hours`, `closed_day`, `no_free_slot`).
    Later { at: DateTime<Utc>, why: &'static str },
    /// Never.
    Refused(Refusal),
}

/// Whether an attempt may be placed at `at`. The rules, in order: its
/// campaign was cancelled, its number is on the do-not-call list, a
/// collection call names no debt, nothing says where the callee is (when
/// the tenant refuses that), the do-not-call registries (telemarketing), no
/// consent covers it (or only consents for a number since reassigned), the healthcare
/// exemption's conditions (when it rests on it), its agent is gone, the
/// clock rules ([`next_opening`]) and the frequency limits, a free slot.
pub fn may_place(facts: &PlacementFacts, at: DateTime<Utc>) -> Placement {
    if facts.campaign_cancelled {
        return Placement::Refused(Refusal::CampaignCancelled);
    }
    if facts.campaign_ended {
        return Placement::Refused(Refusal::CampaignEnded);
    }
    if facts.on_do_not_call {
        return Placement::Refused(Refusal::OnDoNotCallList);
    }
    if facts.call_type == CallType::OutboundDebt && facts.debt_id.is_none() {
        return Placement::Refused(Refusal::DebtIdRequired);
    }
    if facts.refuse_unknown_location && facts.callee.place_unknown {
        return Placement::Refused(Refusal::UnknownCalleeLocation);
    }
    // Telemarketing the registries refuse (a stale copy, or a listed number without written consent or a current
    // relationship: the registry says why before the consent does), then no consent (or only consents for a number
    // since reassigned), or the healthcare exemption without its conditions: refused.
    let unconsented = |t: DateTime<Utc>| {
        let written = facts.relied_on(t).is_some_and(|c| c.basis == Basis::PriorExpressWritten);
        let listed = facts.registries.and_then(|r| r.refusal(facts.call_type, written, t)).map(|why| match why {
            registries::RegistryRefusal::Stale => Refusal::RegistryStale,
            registries::RegistryRefusal::OnNational => Refusal::OnNationalRegistry,
            registries::RegistryRefusal::OnState => Refusal::OnStateRegistry,
        });
        listed.or_else(|| match facts.consent.map(|c| (c, c.relied_on(t))) {
            Some((c, None)) if c.reassigned_only(t) => Some(Refusal::NumberReassigned),
            Some((_, None)) => Some(Refusal::NoConsent),
            Some((_, Some(c)))
                if c.basis == Basis::HealthcareRelationship && !(facts.practice_identified && EXEMPTION_CALL_TYPES.contains(&facts.call_type)) =>
            {
                Some(Refusal::ExemptionConditions)
            }
            _ => None,
        })
    };
    if let Some(refusal) = unconsented(at) {
        return Placement::Refused(refusal);
    }
    let Some(agent) = facts.agent else { return Placement::Refused(Refusal::NoAgent) };
    // The first time both the clock and the frequency limits allow, and why `at` itself is refused.
    let (mut t, mut why) = (at, None);
    for _ in 0..32 {
        let Some((opening, refusal)) = next_opening(facts, agent, t) else {
            return Placement::Refused(Refusal::NoCallingHoursAhead);
        };
        if opening > t {
            why = why.or(Some(refusal.unwrap_or(ClockRefusal::OutsideHours).code()));
            t = opening;
        }
        let over = facts.frequency.map(|f| f.ledger.over_limits(f.call, t, &facts.limits(&f, t)));
        match over.as_deref().and_then(|o| o.iter().max_by_key(|o| o.next_allowed_at)) {
            Some(limit) => {
                why = why.or(over.as_ref().and_then(|o| o.first()).map(|o| o.code));
                t = limit.next_allowed_at;
            }
            // A consent that has expired by then covers no later time either.
            None if t > at => {
                return match unconsented(t) {
                    Some(refusal) => Placement::Refused(refusal),
                    None => Placement::Later { at: t, why: why.unwrap_or("outside_calling_hours") },
                };
            }
            None => break,
        }
    }
    if t > at {
        if let Some(refusal) = unconsented(t) {
            return Placement::Refused(refusal);
        }
        return Placement::Later { at: t, why: why.unwrap_or("frequency_limit") };
    }
    match facts.slot {
        Slot::Busy { retry_at } => Placement::Later { at: retry_at, why: "no_free_slot" },
        Slot::Reserved { retry_at } => Placement::Later { at: retry_at, why: "concurrency_reserved" },
        Slot::Free => Placement::Allowed,
    }
}

/// The earliest time at or after `at` that the attempt may be placed, for
/// planning a call not yet placed (a campaign's, a retry, a follow-up): a
/// free slot is assumed, since the dialer's claim takes one.
pub fn earliest_placement(facts: &PlacementFacts, at: DateTime<Utc>) -> Result<DateTime<Utc>, Refusal> {
    match may_place(&PlacementFacts { slot: Slot::Free, ..*facts }, at) {
        Placement::Allowed => Ok(at),
        Placement::Later { at, .. } => Ok(at),
        Placement::Refused(refusal) => Err(refusal),
    }
}

/// What is known when a call of `call_type` by `agent` to `callee` is planned: nothing stops it but the clock.
pub fn planning<'a>(call_type: CallType, agent: &'a VoiceAgent, callee: &'a Callee, holidays: &'a [NaiveDate]) -> PlacementFacts<'a> {
    PlacementFacts {
        call_type,
        debt_id: None,
        refuse_unknown_location: false,
        practice_identified: false,
        agent: Some(agent),
        callee,
        holidays,
        inconvenient: &[],
        frequency: None,
        campaign_cancelled: false,
        campaign_ended: false,
        on_do_not_call: false,
        consent: None,
        registries: None,
        slot: Slot::Free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures::agent, time};

    fn new_yorker() -> Callee {
        Callee::of("+12125550142", &crate::placement::callee::Places::default())
    }

    #[test]
    fn each_rule_decides_in_its_order() {
        let agent = agent();
        let callee = new_yorker();
        let noon = time::parse("2024-01-15T17:00:00Z").unwrap();
        let night = time::parse("2024-01-16T03:00:00Z").unwrap();
        let facts = PlacementFacts {
            call_type: crate::call::CallType::OutboundFollowup,
            debt_id: None,
            refuse_unknown_location: false,
            practice_identified: false,
            agent: Some(&agent),
            callee: &callee,
            holidays: &[],
            inconvenient: &[],
            frequency: None,
            campaign_cancelled: false,
            campaign_ended: false,
            on_do_not_call: false,
            consent: None,
            registries: None,
            slot: Slot::Free,
        };
        assert_eq!(may_place(&facts, noon), Placement::Allowed);
        assert_eq!(may_place(&facts, night), Placement::Later { at: time::parse("2024-01-16T13:00:00Z").unwrap(), why: "outside_calling_hours" });
        let busy = PlacementFacts { slot: Slot::Busy { retry_at: noon + chrono::Duration::seconds(30) }, ..facts };
        assert_eq!(may_place(&busy, noon), Placement::Later { at: noon + chrono::Duration::seconds(30), why: "no_free_slot" });
        assert_eq!(may_place(&PlacementFacts { agent: None, ..facts }, noon), Placement::Refused(Refusal::NoAgent));
        let dnc = PlacementFacts { on_do_not_call: true, agent: None, ..facts };
        assert_eq!(may_place(&dnc, noon), Placement::Refused(Refusal::OnDoNotCallList), "the list before anything else");
        let cancelled = PlacementFacts { campaign_cancelled: true, ..dnc };
        assert_eq!(may_place(&cancelled, noon), Placement::Refused(Refusal::CampaignCancelled));
        // No consent, no call; one that expires before the hours open covers nothing.
        let none = crate::consent::Consenting {
            call_type: crate::call::CallType::OutboundFollowup,
            consents: &[],
            accepted: &[crate::consent::Basis::PriorExpress],
            opted_out_at: None,
        };
        assert_eq!(may_place(&PlacementFacts { consent: Some(none), ..facts }, noon), Placement::Refused(Refusal::NoConsent));
        let by = crate::caller::Actor { sub: "u".into(), name: None };
        let input = crate::consent::ConsentInput {
            phone_number: "+12125550142".into(),
            basis: "prior_express".into(),
            source: "intake".into(),
            expires_at: Some("2024-01-16T06:00:00Z".into()),
            ..Default::default()
        };
        let expiring = [input.check("c".into(), "o", by, noon - chrono::Duration::days(1)).unwrap()];
        let consenting = crate::consent::Consenting { consents: &expiring, ..none };
        assert_eq!(may_place(&PlacementFacts { consent: Some(consenting), ..facts }, noon), Placement::Allowed);
        assert_eq!(may_place(&PlacementFacts { consent: Some(consenting), ..facts }, night), Placement::Refused(Refusal::NoConsent), "expired by 08:00");
        assert!(matches!(Refusal::NoConsent.error(), DomainError::Invalid { code: "no_consent", .. }));
        assert_eq!(Refusal::NoConsent.status(), CallStatus::Cancelled);
        assert_eq!((Refusal::OnDoNotCallList.status(), Refusal::NoAgent.status()), (CallStatus::Cancelled, CallStatus::Failed));
    }

    #[test]
    fn planning_takes_the_next_opening_and_keeps_every_refusal() {
        let agent = agent();
        let callee = new_yorker();
        let night = time::parse("2024-01-16T03:00:00Z").unwrap();
        assert_eq!(
            earliest_placement(&planning(crate::call::CallType::OutboundFollowup, &agent, &callee, &[]), night),
            Ok(time::parse("2024-01-16T13:00:00Z").unwrap())
        );
        let busy = PlacementFacts { slot: Slot::Busy { retry_at: night }, ..planning(crate::call::CallType::OutboundFollowup, &agent, &callee, &[]) };
        assert_eq!(earliest_placement(&busy, night), Ok(time::parse("2024-01-16T13:00:00Z").unwrap()), "a plan assumes the claim's slot");
        let listed = PlacementFacts { on_do_not_call: true, ..planning(crate::call::CallType::OutboundFollowup, &agent, &callee, &[]) };
        assert_eq!(earliest_placement(&listed, night), Err(Refusal::OnDoNotCallList));
        assert!(matches!(Refusal::OnDoNotCallList.error(), DomainError::Conflict { kind: crate::error::Conflict::OnDoNotCallList, .. }));
    }
}
