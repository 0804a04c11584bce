//! Scheduling one outbound call, and moving or changing one that waits.
//!
//! The call and its schedule never disagree for long: a new call's schedule
//! is made before the call is stored (a schedule that fires for a call that
//! never got stored finds nothing to dial), and a move that could not reach
//! the scheduler is undone. Every time goes through the placement policy
//! ([`callops_domain::placement::schedule::placement_time`]).

use std::collections::BTreeMap;

use callops_aws::store::{AgentStore, CallStore, CampaignStore, DoNotCallStore, LedgerStore, SettingsStore};
use callops_aws::{AlongWithCall, NumberState, StoredCall};
use callops_domain::{
    CallId, CallLog, CallStatus, CallType, DomainError, NewCall, VoiceAgent,
    caller::Caller,
    campaign::{Campaign, CampaignStatus},
    consent::Consenting,
    idempotency::{IdempotencyKey, scheduled_call_id},
    ids::valid_agent_id,
    limits,
    phone::{self, PhoneNumber},
    placement::callee::{Callee, Places, Whereabouts},
    placement::duplicate::{DUPLICATE_WINDOW, waiting_duplicate},
    placement::frequency::Attempting,
    placement::schedule::{DialRequest, ScheduledDial, placement_time},
    placement::{Frequency, PlacementFacts, Slot},
    records::audit::{Action, AuditEntry},
    settings::TenantSettings,
    time,
};
use chrono::{DateTime, Utc};

use crate::Calls;

/// What is on record for a call being planned ([`Calls::on_record`]).
struct OnRecord {
    state: NumberState,
    debt: Option<callops_domain::placement::frequency::Ledger>,
    callee: Callee,
    /// The times the person said are inconvenient, for a collection call.
    inconvenient: Vec<callops_domain::placement::clock::InconvenientTime>,
    /// What the do-not-call registries say, for a telemarketing call.
    registries: Option<callops_domain::placement::registries::RegistryFacts>,
}

/// The API code of a refusal.
fn refusal_code(refusal: callops_domain::placement::Refusal) -> &'static str {
    refusal.error().code().unwrap_or("refused")
}

/// The refusal of a call that repeats `waiting`: it names the call, so the
/// client can show it (and asks for `allowDuplicate` to schedule both).
fn duplicate(waiting: &callops_domain::placement::frequency::Attempt) -> DomainError {
    let minutes = DUPLICATE_WINDOW.num_minutes();
    let mut details = serde_json::Map::new();
    details.insert("existingCallId".into(), waiting.call_id.clone().into());
    details.insert("existingScheduledAt".into(), time::format(&waiting.at).into());
    DomainError::ConflictExplained {
        kind: callops_domain::error::Conflict::DuplicateCall,
        message: format!(
            "a {} call to this number already waits within {minutes} minutes of this time; change or cancel that call, or send allowDuplicate: true to schedule both",
            waiting.call_type
        ),
        details,
    }
}

/// A call to schedule, parsed and bounded at the edge.
#[derive(Debug, Clone)]
pub struct CallToSchedule {
    pub number: PhoneNumber,
    /// An outbound type.
    pub call_type: CallType,
    pub at: DateTime<Utc>,
    pub purpose: Option<String>,
    pub notes: Option<String>,
    pub customer_name: Option<String>,
    pub campaign_id: Option<String>,
    pub agent_id: Option<String>,
    pub variables: BTreeMap<String, String>,
    /// Where the contact's record puts them, and the debt a collection call is about.
    pub whereabouts: Whereabouts,
    /// Move a time outside calling hours to the next opening instead of refusing it.
    pub move_to_calling_hours: bool,
    /// Schedule it even when a call of the same type to the number waits
    /// within [`DUPLICATE_WINDOW`] of it.
    pub allow_duplicate: bool,
}

/// What may change while a call waits; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WaitingCallChange {
    pub at: Option<DateTime<Utc>>,
    pub move_to_calling_hours: bool,
    pub purpose: Option<Option<String>>,
    pub notes: Option<Option<String>>,
    pub customer_name: Option<Option<String>>,
    pub variables: Option<BTreeMap<String, String>>,
}

/// What `GET /api/compliance/check` asks: would the dialer place this call then?
#[derive(Debug, Clone)]
pub struct ComplianceAsk {
    pub number: PhoneNumber,
    pub call_type: CallType,
    pub at: DateTime<Utc>,
    pub agent_id: Option<String>,
    pub whereabouts: Whereabouts,
}

/// What the dialer would decide, and every rule it would weigh.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceAnswer {
    pub allowed: bool,
    pub code: Option<&'static str>,
    #[serde(with = "time::ms::option")]
    pub next_allowed_at: Option<DateTime<Utc>>,
    pub zones: Vec<String>,
    /// The first of the callee's states, when there is one.
    pub state: Option<String>,
    pub states: Vec<String>,
    pub rules: Vec<callops_domain::call::compliance::Check>,
    /// Nothing said where the callee is: `zones` and `states` are every one of the fifty states and DC.
    pub place_unknown: bool,
    /// The exemption the call would rest on, with its conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<callops_domain::call::compliance::Exemption>,
    /// Whether everyone's consent to record is needed, and what the dialer would ask Vapi.
    pub recording: Option<callops_domain::placement::recording::RecordingDecision>,
    /// What each do-not-call registry the call is held by says of the number (telemarketing; empty otherwise).
    pub registries: Vec<callops_domain::placement::registries::RegistryResult>,
    /// The Reassigned Numbers Database's latest answer for the consent the call would rest on (or, when none
    /// would, the number's latest answer); `None`: not asked yet (the dialer asks before the call).
    pub rnd: Option<callops_domain::consent::reassigned::RndCheck>,
    /// How the number's opt-out came in, when it is on the practice's list (the latest addition's channel, source and time).
    pub opt_out: Option<callops_aws::store::DoNotCallChange>,
}

/// A call scheduled, and whether it repeats what an earlier request with the same key made.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub call: CallLog,
    pub replayed: bool,
}

impl Calls {
    /// Schedules `ask` for `caller`: the call is built and checked in full,
    /// its dial is scheduled, then it is stored. With a key, a repeat of the
    /// same request answers with the call the first made.
    pub async fn schedule_call(
        &self,
        caller: &Caller,
        ask: CallToSchedule,
        key: Option<(IdempotencyKey, String)>,
        now: DateTime<Utc>,
    ) -> Result<Scheduled, DomainError> {
        let call_id = match &key {
            Some((key, print)) => {
                let id = scheduled_call_id(&caller.org_id, key);
                if let Some(call) = self.replay(caller, &id, print).await? {
                    return Ok(Scheduled { call, replayed: true });
                }
                id
            }
            None => callops_domain::call::new_call_id(),
        };
        let call = self.new_scheduled_call(caller, ask, call_id, now).await?;
        let at = call.scheduled_at.ok_or_else(|| DomainError::Unavailable(format!("scheduled call {} has no time", call.id)))?;
        let dial = ScheduledDial { request: DialRequest::for_call(&call), at };
        self.scheduler.schedule(&dial).await?;
        let mut also: Vec<AlongWithCall> = key.iter().map(|(_, print)| AlongWithCall::IdempotencyKey { fingerprint: print.clone() }).collect();
        also.push(AlongWithCall::Audit(Box::new(AuditEntry::of_change(caller, Action::CallScheduled, &call.id, None::<&CallLog>, &call, now))));
        match self.store.create_call_with(&call, &also).await {
            Ok(stored) => {
                tracing::info!(call_id = %call.id, agent_id = %call.voice_agent_id, number = %phone::mask(&call.phone_number), at = %time::format(&dial.at), "call scheduled");
                Ok(Scheduled { call: stored.call, replayed: false })
            }
            // The same key won a race with this request: answer as it did.
            Err(DomainError::Conflict { .. }) if key.is_some() => match self.replay(caller, &call.id, key.as_ref().map_or("", |(_, p)| p.as_str())).await? {
                Some(call) => Ok(Scheduled { call, replayed: true }),
                None => Err(DomainError::Unavailable(format!("call {} conflicted but cannot be read", call.id))),
            },
            Err(err) => {
                if let Err(cleanup) = self.scheduler.unschedule(&dial.request).await {
                    tracing::warn!(call_id = %call.id, error = %cleanup, "schedule of a call that was not stored is left; the dialer will find no call");
                }
                Err(err)
            }
        }
    }

    /// The call an earlier request with the same key created, when the key
    /// was used with the same body; `Conflict` when it came with another.
    async fn replay(&self, caller: &Caller, call_id: &str, print: &str) -> Result<Option<CallLog>, DomainError> {
        let Some(stored) = self.store.get_call(&caller.org_id, call_id).await? else { return Ok(None) };
        match self.store.request_fingerprint(&caller.org_id, call_id).await? {
            Some(earlier) if earlier == print => Ok(Some(stored.call)),
            _ => Err(DomainError::conflict(callops_domain::error::Conflict::IdempotencyKeyReused, "this Idempotency-Key was used with a different request")),
        }
    }

    /// What is on record for a call of `call_type` (about `debt_id`) to
    /// `number`: the number's state (its ledger with the calls waiting for
    /// it, and its consents), its debt's ledger, and where its callee may be
    /// by the number, what the request says (`contact`) and the number's history.
    async fn on_record(
        &self,
        settings: &TenantSettings,
        number: &str,
        contact: &Places,
        call_type: CallType,
        debt_id: Option<&str>,
    ) -> Result<OnRecord, DomainError> {
        let org_id = settings.org_id.as_str();
        let state = self.store.number_state(org_id, number).await?;
        let debt = self.store.debt_ledger_of(org_id, call_type, debt_id).await?;
        let callee = Callee::of(number, &contact.clone().with(&state.ledger.history()));
        let inconvenient = state.ledger.inconvenient_for(call_type, debt.as_ref());
        let registries = crate::registries::registry_facts(&self.store, settings, call_type, number, &callee).await?;
        Ok(OnRecord { state, debt, callee, inconvenient, registries })
    }

    /// The facts the placement policy needs about an attempt `who` to
    /// `number` by `agent` (the tenant's `settings`, what is `known` of the number).
    async fn placement_facts<'a>(
        &self,
        agent: &'a VoiceAgent,
        settings: &'a TenantSettings,
        known: &'a OnRecord,
        who: Attempting<'a>,
        number: &str,
        campaign: Option<&Campaign>,
    ) -> Result<PlacementFacts<'a>, DomainError> {
        let ledger = &known.state.ledger;
        let accepted = settings.consent_policy.accepts(who.call_type);
        Ok(PlacementFacts {
            call_type: who.call_type,
            debt_id: who.debt_id,
            agent: Some(agent),
            callee: &known.callee,
            refuse_unknown_location: settings.refuses_unknown_location(),
            practice_identified: settings.practice_identified(),
            holidays: &settings.holidays,
            inconvenient: &known.inconvenient,
            frequency: Some(Frequency { call: who, ledger, debt: known.debt.as_ref(), tenant_cap_per_day: settings.max_attempts_per_number_per_day }),
            campaign_cancelled: campaign.is_some_and(|c| c.status == CampaignStatus::Cancelled),
            campaign_ended: campaign.is_some_and(|c| c.status == CampaignStatus::Ended),
            on_do_not_call: self.store.is_on_do_not_call(&agent.org_id, number).await?,
            consent: Some(Consenting { call_type: who.call_type, consents: &known.state.consents, accepted, opted_out_at: ledger.opted_out_at }),
            registries: known.registries.as_ref(),
            slot: Slot::Free,
        })
    }

    /// Builds the call `ask` asks for, checked in full; nothing is stored.
    async fn new_scheduled_call(&self, caller: &Caller, ask: CallToSchedule, id: CallId, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        let agent = self.resolve_agent(caller, ask.agent_id.as_deref()).await?;
        let campaign = match &ask.campaign_id {
            Some(campaign_id) => Some(self.campaign_to_join(caller, campaign_id).await?),
            None => None,
        };
        let settings = self.store.settings(&caller.org_id).await?;
        let contact = Places::of_contact(ask.whereabouts.time_zone, ask.whereabouts.state);
        let known = self.on_record(&settings, &ask.number, &contact, ask.call_type, ask.whereabouts.debt_id.as_deref()).await?;
        let who = Attempting { call_id: id.as_str(), call_type: ask.call_type, debt_id: ask.whereabouts.debt_id.as_deref() };
        let facts = self.placement_facts(&agent, &settings, &known, who, &ask.number, campaign.as_ref()).await?;
        let at = placement_time(ask.at, &facts, ask.move_to_calling_hours, now)?;
        if !ask.allow_duplicate
            && let Some(waiting) = waiting_duplicate(&known.state.ledger.planned, ask.call_type, at, id.as_str())
        {
            return Err(duplicate(waiting));
        }
        let new = NewCall {
            org_id: caller.org_id.clone(),
            voice_agent_id: agent.id.clone(),
            phone_number: ask.number.into_string(),
            call_type: ask.call_type,
            status: CallStatus::Scheduled,
            attempt: 1,
        };
        let mut call = CallLog::new(new, id, now);
        call.scheduled_at = Some(at);
        call.call_purpose = ask.purpose;
        call.call_notes = ask.notes;
        call.customer_name = ask.customer_name;
        call.campaign_id = ask.campaign_id;
        call.variable_values = ask.variables;
        (call.callee_time_zone, call.callee_state, call.debt_id) = (ask.whereabouts.time_zone, ask.whereabouts.state, ask.whereabouts.debt_id);
        Ok(call)
    }

    /// What the dialer would decide for `ask`, reading what it would read
    /// (the agent, the settings, the do-not-call list, the number's
    /// ledger) and the calls waiting for the number, which will have been
    /// placed by then: nothing is stored or placed.
    pub async fn compliance_check(&self, caller: &Caller, ask: ComplianceAsk, now: DateTime<Utc>) -> Result<ComplianceAnswer, DomainError> {
        let agent = self.resolve_agent(caller, ask.agent_id.as_deref()).await?;
        let settings = self.store.settings(&caller.org_id).await?;
        let contact = Places::of_contact(ask.whereabouts.time_zone, ask.whereabouts.state);
        let known = self.on_record(&settings, &ask.number, &contact, ask.call_type, ask.whereabouts.debt_id.as_deref()).await?;
        let mut call = CallLog::new(
            NewCall {
                org_id: caller.org_id.clone(),
                voice_agent_id: agent.id.clone(),
                phone_number: ask.number.to_string(),
                call_type: ask.call_type,
                status: CallStatus::Scheduled,
                attempt: 1,
            },
            "compliance-check".into(),
            now,
        );
        call.debt_id = ask.whereabouts.debt_id.clone();
        let facts = self.placement_facts(&agent, &settings, &known, (&call).into(), &ask.number, None).await?;
        let at = time::to_millis(ask.at);
        let (allowed, code, next_allowed_at) = match callops_domain::placement::may_place(&facts, at) {
            callops_domain::placement::Placement::Allowed => (true, None, None),
            callops_domain::placement::Placement::Later { at, why } => (false, Some(why), Some(at)),
            callops_domain::placement::Placement::Refused(refusal) => (false, Some(refusal_code(refusal)), None),
        };
        let record = callops_domain::placement::record::evaluate(&facts, at)
            .with_recording(callops_domain::placement::recording::decide(&known.callee, settings.recording_policy));
        Ok(ComplianceAnswer {
            allowed,
            code,
            next_allowed_at,
            state: record.states.first().cloned(),
            zones: record.zones,
            states: record.states,
            rules: record.rules,
            place_unknown: record.place_unknown,
            exemption: record.exemption,
            recording: record.recording,
            rnd: record.rnd.or_else(|| known.state.consents.iter().filter_map(|c| c.rnd).max_by_key(|c| c.checked_at)),
            opt_out: match facts.on_do_not_call {
                true => self.store.do_not_call_history(&caller.org_id, &ask.number).await?.into_iter().rev().find(|c| c.action == "added"),
                false => None,
            },
            registries: record.registries,
        })
    }

    /// The agent a request names, or the tenant's only agent when it names none.
    /// The agent a call goes out through: one that dials (an agent imported
    /// with legacy history never does: `agent_not_dialable`).
    pub async fn resolve_agent(&self, caller: &Caller, agent_id: Option<&str>) -> Result<VoiceAgent, DomainError> {
        let agent = self.find_agent(caller, agent_id).await?;
        if !agent.dials() {
            return Err(DomainError::invalid("agent_not_dialable", format!("{:?} holds imported history and places no calls", agent.id)));
        }
        Ok(agent)
    }

    async fn find_agent(&self, caller: &Caller, agent_id: Option<&str>) -> Result<VoiceAgent, DomainError> {
        match agent_id {
            Some(id) if !valid_agent_id(id) => Err(DomainError::invalid("unknown_agent", "voiceAgentId is not an agent id (letters, digits, - and _)")),
            Some(id) => self
                .store
                .get_agent(&caller.org_id, id)
                .await?
                .filter(|agent| caller.may_see_agent(&agent.id))
                .ok_or_else(|| DomainError::invalid("unknown_agent", format!("there is no voice agent {id:?}"))),
            None => {
                let mut agents: Vec<VoiceAgent> =
                    self.store.list_agents(&caller.org_id).await?.into_iter().filter(|a| caller.may_see_agent(&a.id) && a.dials()).collect();
                match agents.len() {
                    1 => Ok(agents.remove(0)),
                    0 => Err(DomainError::invalid("unknown_agent", "this practice has no voice agent yet; create one first")),
                    _ => Err(DomainError::invalid("voice_agent_required", "this practice has several voice agents: name one in voiceAgentId")),
                }
            }
        }
    }

    /// A campaign of the caller's, open or not.
    pub async fn caller_campaign(&self, caller: &Caller, id: &str) -> Result<Campaign, DomainError> {
        if !limits::is_key_safe(id) {
            return Err(DomainError::NotFound { what: "campaign" });
        }
        self.store
            .get_campaign(&caller.org_id, id)
            .await?
            .map(|(campaign, _)| campaign)
            .filter(|campaign| caller.may_see_agent(&campaign.voice_agent_id))
            .ok_or(DomainError::NotFound { what: "campaign" })
    }

    /// The campaign a new call names: one of the caller's (whether it is
    /// still open is the placement policy's to say).
    async fn campaign_to_join(&self, caller: &Caller, id: &str) -> Result<Campaign, DomainError> {
        self.caller_campaign(caller, id).await.map_err(|err| match err {
            DomainError::NotFound { .. } => {
                DomainError::invalid("unknown_campaign", format!("there is no campaign {:?}", id.chars().take(80).collect::<String>()))
            }
            other => other,
        })
    }

    /// A call of the caller's, by id.
    pub async fn caller_call(&self, caller: &Caller, id: &str) -> Result<StoredCall, DomainError> {
        self.store
            .get_call(&caller.org_id, id)
            .await?
            .filter(|stored| caller.may_see_agent(&stored.call.voice_agent_id))
            .ok_or(DomainError::NotFound { what: "call" })
    }

    /// Changes a waiting call: load it and what a new time is weighed
    /// against, decide the time by the placement policy, write, then move
    /// the schedule. The schedule is the one act after the write: moved
    /// first, a write that lost a race would leave it firing at a time the
    /// call does not hold; moved after, a scheduler that fails undoes the write.
    pub async fn change_waiting_call(&self, caller: &Caller, call_id: &str, change: WaitingCallChange, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        let stored = self.caller_call(caller, call_id).await?;
        if stored.call.status != CallStatus::Scheduled {
            return Err(DomainError::conflict(
                callops_domain::error::Conflict::NotScheduled,
                format!("call {} is {}; only a waiting call can change", stored.call.id, stored.call.status),
            ));
        }
        let mut next = stored.call.clone();
        if let Some(at) = change.at {
            let agent = self.resolve_agent(caller, Some(&next.voice_agent_id)).await?;
            let campaign = match &next.campaign_id {
                Some(id) => self.store.get_campaign(&caller.org_id, id).await?.map(|(c, _)| c),
                None => None,
            };
            let settings = self.store.settings(&caller.org_id).await?;
            let known = self.on_record(&settings, &next.phone_number, &Places::of_call(&next), next.call_type, next.debt_id.as_deref()).await?;
            let facts = self.placement_facts(&agent, &settings, &known, (&next).into(), &next.phone_number, campaign.as_ref()).await?;
            next = next.requeue(placement_time(at, &facts, change.move_to_calling_hours, now)?, now)?;
        }
        if let Some(purpose) = change.purpose {
            next.call_purpose = purpose;
        }
        if let Some(notes) = change.notes {
            next.call_notes = notes;
        }
        if let Some(name) = change.customer_name {
            next.customer_name = name;
        }
        if let Some(variables) = change.variables {
            next.variable_values = variables;
        }
        next.updated_at = time::to_millis(now);
        let audit = AuditEntry::of_change(caller, Action::CallMoved, &next.id, Some(&stored.call), &next, now);
        let written = self.store.update_call_with(&stored, &next, &[AlongWithCall::Audit(Box::new(audit))]).await?;
        if let Some(at) = next.scheduled_at
            && next.scheduled_at != stored.call.scheduled_at
        {
            let dial = ScheduledDial { request: DialRequest::for_call(&next), at };
            if let Err(err) = self.scheduler.schedule(&dial).await {
                // The schedule still fires at the old time: put the call back to say so.
                let mut undo = stored.call.clone();
                undo.updated_at = time::to_millis(now);
                let audit = AuditEntry::of_change(&Caller::system(&caller.org_id, "scheduler"), Action::CallMoved, &next.id, Some(&written.call), &undo, now);
                if let Err(undo_err) = self.store.update_call_with(&written, &undo, &[AlongWithCall::Audit(Box::new(audit))]).await {
                    tracing::error!(call_id = %next.id, error = %undo_err, "a moved call could not be put back after its schedule did not move");
                }
                return Err(err);
            }
        }
        Ok(written.call)
    }
}
