//! Planning a campaign, as pure functions: the request checked as a whole,
//! each contact checked on its own (a bad row refuses only itself), the
//! contacts on the do-not-call list refused, and the campaign and its calls
//! laid out over the agent's calling hours. The use case reads what the
//! plan needs (the agent, the list) and writes what it makes.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    agent::VoiceAgent,
    call::CallLog,
    call::CallStatus,
    call::CallType,
    call::NewCall,
    call::check_variables,
    campaign::{Campaign, CampaignStatus, Contact, MAX_CALLS_PER_MINUTE, MAX_CONTACTS},
    consent::{Consent, Consenting},
    error::DomainError,
    idempotency::campaign_call_id,
    limits::optional_text,
    phone,
    placement::frequency::{Attempting, Ledger},
    placement::schedule::{latest_dial, spread},
    placement::{Frequency, Placement, PlacementFacts, Refusal, earliest_placement, may_place, planning},
    time,
    time::CLOCK_SKEW,
};

/// The record of a number nothing was attempted to yet.
static NO_RECORD: std::sync::LazyLock<Ledger> = std::sync::LazyLock::new(Ledger::default);

/// A contact that was not made into a call, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedContact {
    /// 1-based: the contact's place in the list (for CSV, its data row).
    pub row: usize,
    pub number: String,
    pub code: &'static str,
    pub message: String,
    /// What an explained refusal adds that stays small whatever the number
    /// holds (a `no_consent` row's `acceptedBases`): a campaign answers up to
    /// 10,000 rows, and each number's consents could take it past Lambda's 6 MB.
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// A campaign none of whose contacts can be called: every row with its
/// code and reason, so the list can be fixed in one go.
fn no_valid(refused: &[RejectedContact]) -> DomainError {
    let mut message = format!("none of the {} contacts can be called", refused.len());
    let mut codes: Vec<&str> = refused.iter().map(|r| r.code).collect();
    codes.sort_unstable();
    codes.dedup();
    if !codes.is_empty() {
        message.push_str(&format!(" ({}); each row's reason is in rejected", codes.join(", ")));
    }
    let mut details = serde_json::Map::new();
    details.insert("rejected".into(), serde_json::to_value(refused).unwrap_or_default());
    DomainError::Explained { code: "no_valid_contacts", message, details }
}

/// The details a refused row keeps: each bounded by the law's short lists, not by what a number holds.
const ROW_DETAILS: &[&str] = &["acceptedBases"];

impl RejectedContact {
    pub fn new(row: usize, number: &str, err: DomainError) -> Self {
        let code = err.code().unwrap_or("contact_refused");
        let message = err.to_string();
        let details = match err {
            DomainError::Explained { mut details, .. } | DomainError::ConflictExplained { mut details, .. } => {
                details.retain(|key, _| ROW_DETAILS.contains(&key.as_str()));
                details
            }
            _ => Default::default(),
        };
        RejectedContact { row, number: number.to_string(), code, message, details }
    }
}

/// A contact whose call waits past the first time its clock allows, for a
/// limit on how often its number may be called (the calls already made to
/// it and those waiting for it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeferredContact {
    pub row: usize,
    pub number: String,
    /// The limit's code: `frequency_limit`, `regf_7_in_7`, `regf_after_conversation`.
    pub code: &'static str,
    #[serde(with = "time::ms")]
    pub scheduled_at: DateTime<Utc>,
}

/// What a campaign is planned against besides its agent: the tenant's
/// holidays, cap and consent policy, the ledger of each contact's number
/// that has one (the attempts made, the calls waiting) and its consents.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub holidays: &'a [chrono::NaiveDate],
    pub ledgers: &'a HashMap<String, Ledger>,
    pub tenant_cap_per_day: u32,
    /// Each contact's number's consents, by number (none: no consent).
    pub consents: &'a HashMap<String, Vec<Consent>>,
    /// The bases a campaign call accepts (the tenant's policy for the campaign's call type).
    pub accepted: &'a [crate::consent::Basis],
    /// The record of each debt a collection campaign's contacts are about, by debt id (none: no attempt yet).
    pub debts: &'a HashMap<String, Ledger>,
    /// The tenant refuses calls to a callee whose place nothing gives.
    pub refuse_unknown_location: bool,
    /// What the do-not-call registries say of each contact's number (none kept: nothing listed).
    pub registries: &'a HashMap<String, crate::placement::registries::RegistryFacts>,
}

/// What a campaign request asks for, before it is checked.
#[derive(Debug, Clone)]
pub struct CampaignAsk {
    pub name: String,
    pub purpose: Option<String>,
    pub start_at: Option<DateTime<Utc>>,
    pub calls_per_minute: Option<u32>,
    /// An outbound call type (default `OUTBOUND_CAMPAIGN`).
    pub call_type: Option<CallType>,
    /// When the campaign ends: contacts not reached by then are closed.
    pub end_at: Option<DateTime<Utc>>,
    /// What its calls leave on voicemail ([`super::voicemail`]).
    pub voicemail_message: Option<String>,
    pub contacts: Vec<Contact>,
}

/// The request checked as a whole, for its agent.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDraft {
    pub name: String,
    pub purpose: Option<String>,
    pub per_minute: u32,
    pub start: DateTime<Utc>,
    pub call_type: CallType,
    pub end_at: Option<DateTime<Utc>>,
    pub voicemail_message: Option<String>,
}

impl CampaignDraft {
    /// What a campaign resuming at `now` lays its waiting contacts out by:
    /// its pace, type and end, from now (or from its start, when that is still to come).
    pub fn resuming(campaign: &super::Campaign, now: DateTime<Utc>) -> CampaignDraft {
        CampaignDraft {
            name: campaign.name.clone(),
            purpose: campaign.call_purpose.clone(),
            per_minute: campaign.calls_per_minute,
            start: now.max(campaign.starts_at),
            call_type: campaign.call_type,
            end_at: campaign.end_at,
            voicemail_message: campaign.voicemail_message.clone(),
        }
    }
}

impl Contact {
    /// The contact a campaign call was made for (its number, name, variables, place and debt).
    pub fn of_call(call: &CallLog) -> Contact {
        Contact {
            number: call.phone_number.clone(),
            name: call.customer_name.clone(),
            variables: call.variable_values.clone(),
            time_zone: call.callee_time_zone.map(|z| z.name().to_string()),
            state: call.callee_state.map(|s| s.to_string()),
            debt_id: call.debt_id.clone(),
        }
    }
}

/// Checks the request's own fields (not yet its contacts' numbers).
pub fn check_request(ask: &CampaignAsk, agent: &VoiceAgent, now: DateTime<Utc>) -> Result<CampaignDraft, DomainError> {
    let name =
        optional_text(Some(ask.name.clone()), 200, "invalid_name", "name")?.ok_or_else(|| DomainError::invalid("invalid_name", "a campaign needs a name"))?;
    let purpose = optional_text(ask.purpose.clone(), 500, "invalid_purpose", "purpose")?;
    match ask.contacts.len() {
        0 => return Err(DomainError::invalid("no_contacts", "a campaign needs at least one contact")),
        n if n > MAX_CONTACTS => return Err(DomainError::invalid("too_many_contacts", format!("{n} contacts: one campaign takes at most {MAX_CONTACTS}"))),
        _ => {}
    }
    let per_minute = ask.calls_per_minute.unwrap_or(agent.max_concurrent_calls.div_ceil(2).max(1));
    if !(1..=MAX_CALLS_PER_MINUTE).contains(&per_minute) {
        return Err(DomainError::invalid("invalid_calls_per_minute", format!("callsPerMinute must be 1 to {MAX_CALLS_PER_MINUTE}")));
    }
    let call_type = ask.call_type.unwrap_or_else(super::campaign_call_type);
    if !call_type.is_outbound() {
        return Err(DomainError::invalid("invalid_call_type", "a campaign's callType must be one of the OUTBOUND_* types: only outbound calls are placed"));
    }
    let start = ask.start_at.unwrap_or(now);
    if start < now - CLOCK_SKEW {
        return Err(DomainError::invalid("start_in_past", "startAt is in the past"));
    }
    if start > latest_dial(now) {
        return Err(DomainError::invalid("start_too_far", "startAt must be within a year"));
    }
    if let Some(end) = ask.end_at
        && (end <= start || end > latest_dial(now))
    {
        return Err(DomainError::invalid("invalid_end_at", "endAt must come after the campaign's start, and within a year"));
    }
    let voicemail_message = ask.voicemail_message.clone().filter(|m| !m.trim().is_empty());
    Ok(CampaignDraft { name, purpose, per_minute, start, call_type, end_at: ask.end_at.map(time::to_millis), voicemail_message })
}

/// A contact checked on its own: its number in E.164, sane variables, a
/// zone and a state that are ones, a debt id that fits a key.
pub fn check_contact(input: &Contact) -> Result<Contact, DomainError> {
    let number = phone::normalize(&input.number)?;
    let name = optional_text(input.name.clone(), 200, "invalid_customer_name", "name")?;
    check_variables(&input.variables)?;
    let whereabouts = crate::placement::callee::Whereabouts::parse(input.time_zone.as_deref(), input.state.as_deref(), input.debt_id.as_deref())?;
    Ok(Contact {
        number: number.into_string(),
        name,
        variables: input.variables.clone(),
        time_zone: whereabouts.time_zone.map(|z| z.name().to_string()),
        state: whereabouts.state.map(|s| s.to_string()),
        debt_id: whereabouts.debt_id,
    })
}

impl Contact {
    /// The contact's callee, held to the places its number's `history` carried (a checked contact's zone and state read).
    pub fn callee(&self, history: &crate::placement::callee::Places) -> crate::placement::callee::Callee {
        let zone = self.time_zone.as_deref().and_then(|z| z.parse().ok());
        let state = self.state.as_deref().and_then(|s| s.parse().ok());
        crate::placement::callee::Callee::of(&self.number, &crate::placement::callee::Places::of_contact(zone, state).with(history))
    }
}

/// The contacts that can be called (with their place in the request) and those refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactCheck {
    pub accepted: Vec<(usize, Contact)>,
    pub refused: Vec<RejectedContact>,
}

/// Checks every contact on its own; a number twice is refused the second time.
pub fn check_contacts(contacts: &[Contact]) -> ContactCheck {
    let mut check = ContactCheck::default();
    let mut seen = HashSet::new();
    for (index, input) in contacts.iter().enumerate() {
        match check_contact(input) {
            Ok(contact) if !seen.insert(contact.number.clone()) => check.refused.push(RejectedContact::new(
                index + 1,
                &input.number,
                DomainError::invalid("duplicate_number", "this number is already in the campaign"),
            )),
            Ok(contact) => check.accepted.push((index, contact)),
            Err(err) => check.refused.push(RejectedContact::new(index + 1, &input.number, err)),
        }
    }
    check
}

/// A campaign laid out: the campaign, one call per accepted contact at its
/// time, and every contact refused, by row.
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub campaign: Campaign,
    pub calls: Vec<CallLog>,
    /// The accepted contacts, with their place in the request, in call order.
    pub accepted: Vec<(usize, Contact)>,
    pub refused: Vec<RejectedContact>,
    /// The accepted contacts a frequency limit made wait, by row.
    pub deferred: Vec<DeferredContact>,
}

impl ContactCheck {
    /// Refuses the accepted contacts the placement policy refuses (a number
    /// on the do-not-call list, `listed`; a callee nothing places, when the
    /// tenant refuses those), by their row in `sent`, for calls of the
    /// draft's type from its start.
    pub fn placeable(
        mut self,
        sent: &[Contact],
        draft: &CampaignDraft,
        agent: &VoiceAgent,
        holidays: &[chrono::NaiveDate],
        listed: &HashSet<String>,
        refuse_unknown_location: bool,
    ) -> ContactCheck {
        let (call_type, at) = (draft.call_type, draft.start);
        self.accepted.retain(|(index, contact)| {
            let callee = contact.callee(&crate::placement::callee::Places::default());
            let facts = PlacementFacts {
                debt_id: contact.debt_id.as_deref(),
                on_do_not_call: listed.contains(&contact.number),
                refuse_unknown_location,
                ..planning(call_type, agent, &callee, holidays)
            };
            match earliest_placement(&facts, at) {
                // Whether its hours open in time is the spread's to say, for all the calls at once.
                Ok(_) | Err(Refusal::NoCallingHoursAhead) => true,
                Err(refusal) => {
                    let number = sent.get(*index).map_or("", |c| c.number.as_str());
                    self.refused.push(RejectedContact::new(index + 1, number, refusal.error()));
                    false
                }
            }
        });
        self.refused.sort_by_key(|r| r.row);
        self
    }
}

/// One contact's time in a layout, or the refusal that keeps it from one (with the error a request answers).
pub type LaidOut = Result<DateTime<Utc>, (Refusal, DomainError)>;

/// The times of `accepted` contacts (their calls' `ids`, in the same
/// order): each contact's first lawful time from the draft's start at its
/// pace ([`spread`]), or why the policy refuses it; and the contacts a
/// frequency limit made wait. Used when a campaign is made and when it
/// resumes, with every rule asked again.
pub fn lay_out(
    draft: &CampaignDraft,
    agent: &VoiceAgent,
    known: &Known,
    accepted: &[(usize, Contact)],
    ids: &[crate::ids::CallId],
    now: DateTime<Utc>,
) -> Result<(Vec<LaidOut>, Vec<DeferredContact>), DomainError> {
    let start = draft.start.max(now);
    let no_history = crate::placement::callee::Places::default();
    let callees: Vec<crate::placement::callee::Callee> =
        accepted.iter().map(|(_, c)| c.callee(&known.ledgers.get(&c.number).map_or_else(|| no_history.clone(), Ledger::history))).collect();
    let debt_of = |contact: &Contact| contact.debt_id.as_ref().filter(|_| draft.call_type == CallType::OutboundDebt).and_then(|d| known.debts.get(d));
    // The times each callee said are inconvenient (a collection call keeps to them, and to those said about its debt).
    let inconvenient: Vec<Vec<crate::placement::clock::InconvenientTime>> = accepted
        .iter()
        .map(|(_, contact)| known.ledgers.get(&contact.number).unwrap_or(&NO_RECORD).inconvenient_for(draft.call_type, debt_of(contact)))
        .collect();
    let contacts: Vec<PlacementFacts> = accepted
        .iter()
        .zip(&callees)
        .zip(ids)
        .zip(&inconvenient)
        .map(|((((_, contact), callee), call_id), inconvenient)| {
            let who = Attempting { call_id: call_id.as_str(), call_type: draft.call_type, debt_id: contact.debt_id.as_deref() };
            let ledger = known.ledgers.get(&contact.number);
            // A collection call is held to its debt's record too (Regulation F counts per person and debt, on any number).
            let debt = debt_of(contact);
            let frequency = match (ledger, debt) {
                (Some(ledger), debt) => Some(Frequency { call: who, ledger, debt, tenant_cap_per_day: known.tenant_cap_per_day }),
                (None, Some(debt)) => Some(Frequency { call: who, ledger: &NO_RECORD, debt: Some(debt), tenant_cap_per_day: known.tenant_cap_per_day }),
                (None, None) => None,
            };
            let consents = known.consents.get(&contact.number).map_or(&[][..], Vec::as_slice);
            let opted_out_at = ledger.and_then(|l| l.opted_out_at);
            let consent = Some(Consenting { call_type: draft.call_type, consents, accepted: known.accepted, opted_out_at });
            PlacementFacts {
                debt_id: contact.debt_id.as_deref(),
                inconvenient,
                frequency,
                consent,
                refuse_unknown_location: known.refuse_unknown_location,
                registries: known.registries.get(&contact.number),
                ..planning(draft.call_type, agent, callee, known.holidays)
            }
        })
        .collect();
    let planned = spread(start, &contacts, draft.per_minute, latest_dial(now))?;
    let mut deferred = Vec::new();
    for (((index, contact), facts), at) in accepted.iter().zip(&contacts).zip(&planned) {
        let (Ok(at), true) = (at, facts.frequency.is_some()) else { continue };
        let Ok(opening) = earliest_placement(&PlacementFacts { frequency: None, ..*facts }, start) else { continue };
        if let Placement::Later { why, .. } = may_place(facts, opening) {
            deferred.push(DeferredContact { row: index + 1, number: contact.number.clone(), code: why, scheduled_at: *at });
        }
    }
    // A contact the policy refuses (no consent, hours that never open) is refused alone, with why; the times of the others stand.
    // A contact whose first lawful time falls at or after the campaign's end is refused alone, as the end would close it.
    let planned: Vec<LaidOut> = planned
        .into_iter()
        .zip(&contacts)
        .map(|(at, facts)| {
            let at = at.and_then(|at| if draft.end_at.is_some_and(|end| at >= end) { Err(Refusal::CampaignEnded) } else { Ok(at) });
            at.map_err(|refusal| match (refusal, facts.consent) {
                (Refusal::NoConsent, Some(consenting)) => (refusal, consenting.refusal(start)),
                (refusal, _) => (refusal, refusal.error()),
            })
        })
        .collect();
    Ok((planned, deferred))
}

/// Lays the campaign `id` out: each accepted contact gets a call, spread
/// from the start over its callee's calling hours and within its number's
/// limits. Call ids derive from the campaign and the contact's row, so a
/// repeated request names the same calls (and a call does not count
/// against itself).
pub fn plan_campaign(
    id: String,
    org_id: &str,
    draft: &CampaignDraft,
    agent: &VoiceAgent,
    known: &Known,
    mut check: ContactCheck,
    now: DateTime<Utc>,
) -> Result<CampaignPlan, DomainError> {
    if check.accepted.is_empty() {
        return Err(no_valid(&check.refused));
    }
    let ids: Vec<crate::ids::CallId> = check.accepted.iter().map(|(index, _)| campaign_call_id(org_id, &id, *index)).collect();
    let (planned, deferred) = lay_out(draft, agent, known, &check.accepted, &ids, now)?;
    let mut times = Vec::with_capacity(planned.len());
    let mut accepted = Vec::with_capacity(planned.len());
    for ((index, contact), at) in check.accepted.into_iter().zip(planned) {
        match at {
            Ok(at) => {
                times.push(at);
                accepted.push((index, contact));
            }
            Err((_, err)) => check.refused.push(RejectedContact::new(index + 1, &contact.number, err)),
        }
    }
    check.accepted = accepted;
    check.refused.sort_by_key(|r| r.row);
    if check.accepted.is_empty() {
        return Err(no_valid(&check.refused));
    }
    let campaign = Campaign {
        id,
        org_id: org_id.into(),
        name: draft.name.clone(),
        voice_agent_id: agent.id.clone(),
        call_purpose: draft.purpose.clone(),
        call_type: draft.call_type,
        status: CampaignStatus::Active,
        calls_per_minute: draft.per_minute,
        starts_at: times.first().copied().unwrap_or(now),
        end_at: draft.end_at,
        voicemail_message: draft.voicemail_message.clone(),
        calls: u32::try_from(check.accepted.len()).unwrap_or(u32::MAX),
        rejected: u32::try_from(check.refused.len()).unwrap_or(u32::MAX),
        refusals: check
            .refused
            .iter()
            .take(super::MAX_REFUSALS_KEPT)
            .map(|r| super::RefusedRow { row: u32::try_from(r.row).unwrap_or(u32::MAX), code: r.code.to_string() })
            .collect(),
        created_at: time::to_millis(now),
        updated_at: time::to_millis(now),
    };
    let calls = campaign_calls(&campaign, &check.accepted, &times, now);
    Ok(CampaignPlan { campaign, calls, accepted: check.accepted, refused: check.refused, deferred })
}

/// The campaign's calls, one per accepted contact at its time.
pub fn campaign_calls(campaign: &Campaign, accepted: &[(usize, Contact)], times: &[DateTime<Utc>], now: DateTime<Utc>) -> Vec<CallLog> {
    accepted
        .iter()
        .zip(times)
        .map(|((index, contact), at)| {
            let mut call = CallLog::new(
                NewCall {
                    org_id: campaign.org_id.clone(),
                    voice_agent_id: campaign.voice_agent_id.clone(),
                    phone_number: contact.number.clone(),
                    call_type: campaign.call_type,
                    status: CallStatus::Scheduled,
                    attempt: 1,
                },
                campaign_call_id(&campaign.org_id, &campaign.id, *index),
                now,
            );
            call.scheduled_at = Some(*at);
            call.campaign_id = Some(campaign.id.clone());
            call.call_purpose = campaign.call_purpose.clone();
            call.customer_name = contact.name.clone();
            call.variable_values = contact.variables.clone();
            call.callee_time_zone = contact.time_zone.as_deref().and_then(|z| z.parse().ok());
            call.callee_state = contact.state.as_deref().and_then(|s| s.parse().ok());
            call.debt_id = contact.debt_id.clone();
            call
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::agent;

    fn contact(number: &str) -> Contact {
        Contact { number: number.into(), ..Contact::default() }
    }

    /// What the tests' plans are made against: written consent for every number of `sent` but `unconsented`.
    fn known<'a>(ledgers: &'a HashMap<String, Ledger>, sent: &[Contact], unconsented: &[&str]) -> Known<'a> {
        let by = crate::caller::Actor { sub: "u".into(), name: None };
        let consents: HashMap<String, Vec<Consent>> = sent
            .iter()
            .filter_map(|c| crate::phone::normalize(&c.number).ok())
            .filter(|n| !unconsented.contains(&n.as_str()))
            .map(|n| {
                let input = crate::consent::ConsentInput {
                    phone_number: n.to_string(),
                    basis: "prior_express_written".into(),
                    source: "web form".into(),
                    ..Default::default()
                };
                (n.to_string(), vec![input.check(format!("c{n}"), "o", by.clone(), time::parse("2024-01-01T00:00:00Z").unwrap()).unwrap()])
            })
            .collect();
        Known {
            holidays: &[],
            ledgers,
            tenant_cap_per_day: 3,
            consents: Box::leak(Box::new(consents)),
            accepted: &[crate::consent::Basis::PriorExpressWritten],
            refuse_unknown_location: false,
            registries: Box::leak(Box::default()),
            debts: Box::leak(Box::default()),
        }
    }

    #[test]
    fn ten_thousand_refused_rows_answer_well_under_lambdas_limit_whatever_each_number_holds() {
        // The worst a number can hold: its most consents, each on record and none covering the call.
        let consents: Vec<serde_json::Value> = (0..crate::consent::MAX_CONSENTS_PER_NUMBER)
            .map(|i| serde_json::json!({"id": format!("{i:036}"), "basis": "prior_express", "why": "wrong_basis"}))
            .collect();
        let mut details = serde_json::Map::new();
        details.insert("acceptedBases".into(), serde_json::json!(["prior_express_written"]));
        details.insert("consents".into(), consents.into());
        let refusal = DomainError::Explained { code: "no_consent", message: "m".repeat(300), details };
        let row = RejectedContact::new(1, "+12125550142", refusal);
        assert_eq!(row.details.keys().collect::<Vec<_>>(), vec!["acceptedBases"], "a row keeps the bases, not the number's consents");
        let rows: Vec<RejectedContact> = (1..=crate::campaign::MAX_CONTACTS).map(|i| RejectedContact { row: i, ..row.clone() }).collect();
        let DomainError::Explained { details, .. } = no_valid(&rows) else { panic!() };
        let answer = serde_json::to_string(&serde_json::json!({"error": details})).unwrap();
        assert!(answer.len() < 5_000_000, "{} bytes", answer.len());
    }

    #[test]
    fn a_contact_called_enough_waits_for_its_limit_and_is_reported() {
        let now = time::parse("2024-01-15T17:00:00Z").unwrap();
        let agent = agent();
        // Miami, called three times this morning; New York, waiting for a call this afternoon; one more without consent.
        let sent = vec![contact("+13055550100"), contact("+12125550142"), contact("+12125550199"), contact("+12125550111")];
        let ask = CampaignAsk {
            name: "Recall".into(),
            purpose: None,
            start_at: None,
            calls_per_minute: Some(1),
            call_type: None,
            end_at: None,
            voicemail_message: None,
            contacts: sent.clone(),
        };
        let draft = check_request(&ask, &agent, now).unwrap();
        let attempt = |at: &str, id: &str| crate::placement::frequency::Attempt {
            at: time::parse(at).unwrap(),
            call_type: CallType::OutboundLead,
            debt_id: None,
            call_id: id.into(),
            places: Default::default(),
        };
        let ledgers = HashMap::from([
            (
                "+13055550100".to_string(),
                Ledger {
                    attempts: vec![attempt("2024-01-15T13:00:00Z", "a"), attempt("2024-01-15T14:00:00Z", "b"), attempt("2024-01-15T15:00:00Z", "c")],
                    ..Ledger::default()
                },
            ),
            ("+12125550142".to_string(), Ledger { planned: vec![attempt("2024-01-15T19:00:00Z", "w")], ..Ledger::default() }),
        ]);
        let check = check_contacts(&sent).placeable(&sent, &draft, &agent, &[], &HashSet::new(), false);
        let plan = plan_campaign("camp".into(), "o", &draft, &agent, &known(&ledgers, &sent, &["+12125550111"]), check, now).unwrap();
        assert_eq!(plan.refused.iter().map(|r| (r.row, r.code)).collect::<Vec<_>>(), vec![(4, "no_consent")], "no consent: refused by row");
        let times: Vec<(&str, DateTime<Utc>)> = plan.calls.iter().map(|c| (c.phone_number.as_str(), c.scheduled_at.unwrap())).collect();
        assert_eq!(
            times,
            vec![
                // 24 hours after the first of the three: 08:00 in Miami, the first its clock allows too.
                ("+13055550100", time::parse("2024-01-16T13:00:00Z").unwrap()),
                // One waiting call leaves room under a cap of three: the New Yorkers keep the campaign's pace.
                ("+12125550142", now),
                ("+12125550199", now + chrono::Duration::minutes(1)),
            ]
        );
        assert_eq!(
            plan.deferred,
            vec![DeferredContact {
                row: 1,
                number: "+13055550100".into(),
                code: "frequency_limit",
                scheduled_at: time::parse("2024-01-16T13:00:00Z").unwrap()
            }]
        );
    }

    #[test]
    fn a_plan_refuses_bad_rows_listed_numbers_and_repeats_and_spreads_the_rest() {
        let now = time::parse("2024-01-15T17:00:00Z").unwrap();
        let mut agent = agent();
        agent.max_concurrent_calls = 4;
        let sent = vec![contact("+12125550142"), contact("not a number"), contact("(212) 555-0142"), contact("+12125550199"), contact("+12125550123")];
        let ask = CampaignAsk {
            name: " Recall ".into(),
            purpose: None,
            start_at: None,
            calls_per_minute: None,
            call_type: None,
            end_at: None,
            voicemail_message: None,
            contacts: sent.clone(),
        };
        let draft = check_request(&ask, &agent, now).unwrap();
        assert_eq!((draft.name.as_str(), draft.per_minute, draft.start), ("Recall", 2, now), "half the agent's concurrent calls a minute");
        let check = check_contacts(&sent);
        let listed = HashSet::from(["+12125550199".to_string()]);
        let none = HashMap::new();
        let plan =
            plan_campaign("camp".into(), "o", &draft, &agent, &known(&none, &sent, &[]), check.placeable(&sent, &draft, &agent, &[], &listed, false), now)
                .unwrap();
        let refused: Vec<(usize, &str)> = plan.refused.iter().map(|r| (r.row, r.code)).collect();
        assert_eq!(refused, vec![(2, "invalid_phone_number"), (3, "duplicate_number"), (4, "on_do_not_call_list")]);
        assert_eq!(plan.calls.len(), 2);
        assert_eq!((plan.campaign.calls, plan.campaign.rejected, plan.campaign.starts_at), (2, 3, now));
        let kept: Vec<(u32, &str)> = plan.campaign.refusals.iter().map(|r| (r.row, r.code.as_str())).collect();
        assert_eq!(
            kept,
            vec![(2, "invalid_phone_number"), (3, "duplicate_number"), (4, "on_do_not_call_list")],
            "the campaign keeps which rows were refused, and why"
        );
        assert_eq!(plan.calls[1].scheduled_at, Some(now + chrono::Duration::seconds(30)), "two a minute");
        assert_eq!(plan.calls[1].id, campaign_call_id("o", "camp", 4), "the id follows the contact's row");
        assert!(plan.calls.iter().all(|c| c.status == CallStatus::Scheduled && c.campaign_id.as_deref() == Some("camp")));
        let all_listed = check_contacts(&sent[..1]).placeable(&sent[..1], &draft, &agent, &[], &HashSet::from(["+12125550142".to_string()]), false);
        let none_left = plan_campaign("camp".into(), "o", &draft, &agent, &known(&none, &sent, &[]), all_listed, now);
        let Err(DomainError::Explained { code: "no_valid_contacts", message, details }) = none_left else { panic!("{none_left:?}") };
        assert_eq!((details["rejected"][0]["row"].clone(), details["rejected"][0]["code"].clone()), (1.into(), "on_do_not_call_list".into()), "{details:?}");
        assert!(message.contains("on_do_not_call_list"), "the reasons are named: {message}");
    }

    #[test]
    fn the_request_is_checked_as_a_whole() {
        let now = time::parse("2024-01-15T17:00:00Z").unwrap();
        let ask = |name: &str, per_minute: Option<u32>, start_at: Option<DateTime<Utc>>, contacts: usize| CampaignAsk {
            name: name.into(),
            purpose: None,
            start_at,
            calls_per_minute: per_minute,
            call_type: None,
            end_at: None,
            voicemail_message: None,
            contacts: vec![contact("+12125550142"); contacts],
        };
        let code = |ask: CampaignAsk| match check_request(&ask, &agent(), now) {
            Err(DomainError::Invalid { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(ask(" ", None, None, 1)), "invalid_name");
        assert_eq!(code(ask("n", None, None, 0)), "no_contacts");
        assert_eq!(code(ask("n", None, None, MAX_CONTACTS + 1)), "too_many_contacts");
        assert_eq!(code(ask("n", Some(0), None, 1)), "invalid_calls_per_minute");
        assert_eq!(code(ask("n", None, Some(now - chrono::Duration::hours(1)), 1)), "start_in_past");
        assert_eq!(code(ask("n", None, Some(now + chrono::Duration::days(400)), 1)), "start_too_far");
        assert_eq!(code(CampaignAsk { call_type: Some(CallType::Inbound), ..ask("n", None, None, 1) }), "invalid_call_type");
        assert_eq!(check_request(&ask("n", None, None, 1), &agent(), now).unwrap().call_type, CallType::OutboundCampaign, "the default");
    }

    #[test]
    fn a_collection_campaign_calls_as_collection_and_keeps_to_its_debts_record_on_every_number() {
        let now = time::parse("2024-01-15T17:00:00Z").unwrap();
        let agent = agent();
        let sent = vec![Contact { debt_id: Some("D1".into()), ..contact("+12125550142") }, Contact { debt_id: Some("D2".into()), ..contact("+12125550199") }];
        let ask = CampaignAsk {
            name: "Balances".into(),
            purpose: None,
            start_at: None,
            calls_per_minute: Some(1),
            call_type: Some(CallType::OutboundDebt),
            end_at: None,
            voicemail_message: None,
            contacts: sent.clone(),
        };
        let draft = check_request(&ask, &agent, now).unwrap();
        // Seven calls about D1 in the week before, all to the person's other number: Regulation F's seven in seven days.
        let first = time::parse("2024-01-10T15:00:00Z").unwrap();
        let attempts = (0..7)
            .map(|i| crate::placement::frequency::Attempt {
                at: first + chrono::Duration::hours(12 * i),
                call_type: CallType::OutboundDebt,
                debt_id: Some("D1".into()),
                call_id: format!("d{i}"),
                places: Default::default(),
            })
            .collect();
        let debts = HashMap::from([("D1".to_string(), Ledger { attempts, ..Ledger::default() })]);
        let ledgers = HashMap::new();
        let known = Known { debts: &debts, ..known(&ledgers, &sent, &[]) };
        let check = check_contacts(&sent).placeable(&sent, &draft, &agent, &[], &HashSet::new(), false);
        let plan = plan_campaign("camp".into(), "o", &draft, &agent, &known, check, now).unwrap();
        assert_eq!(plan.campaign.call_type, CallType::OutboundDebt);
        assert!(plan.calls.iter().all(|c| c.call_type == CallType::OutboundDebt), "every call carries the campaign's type");
        let d1 = plan.calls.iter().find(|c| c.debt_id.as_deref() == Some("D1")).unwrap().scheduled_at.unwrap();
        assert!(d1 >= first + chrono::Duration::days(7) && d1 < first + chrono::Duration::days(8), "D1 waits out the seven days: {d1}");
        assert_eq!(plan.deferred.iter().map(|d| (d.row, d.code)).collect::<Vec<_>>(), vec![(1, "regf_7_in_7")]);
        let d2 = plan.calls.iter().find(|c| c.debt_id.as_deref() == Some("D2")).unwrap().scheduled_at.unwrap();
        assert!(d2 < now + chrono::Duration::minutes(2), "another debt is not held by D1's record: {d2}");
    }
}
