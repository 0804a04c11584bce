//! What follows when a call ends: the domain decides
//! ([`callops_domain::ending::follow_through::follow_through`], against the tenant's
//! holidays and consent policy and the number's ledger and consents, read
//! only when a call follows), this part lists what is written in the
//! ended call's own transaction (the do-not-call entry, the calls that
//! follow), and [`schedule_follow_ons`] acts on it before the write.
//! Giving back the dialer slot is the store's, for every write that ends a
//! call ([`callops_aws::store::effects`]).

use std::sync::Arc;

use callops_aws::store::{AgentStore, CallStore, DoNotCallStore, LedgerStore, SettingsStore};
use callops_aws::{AlongWithCall, DynamoStore, store::LedgerNotes};
use callops_domain::{
    CallLog, DomainError, VoiceAgent,
    ending::follow_through::{self, FollowThrough, Known},
    placement::schedule::{DialRequest, DialScheduler, ScheduledDial},
    time,
};
use chrono::{DateTime, Utc};

/// A call's voice agent, read from the store once, when first needed.
#[derive(Debug, Clone, Default)]
pub struct AgentOnce(Option<Option<VoiceAgent>>);

impl AgentOnce {
    pub async fn get(&mut self, store: &DynamoStore, call: &CallLog) -> Result<Option<&VoiceAgent>, DomainError> {
        if self.0.is_none() {
            self.0 = Some(store.get_agent(&call.org_id, &call.voice_agent_id).await?);
        }
        Ok(self.0.as_ref().and_then(Option::as_ref))
    }
}

/// What an ending brings: the decision, and the items to write with the call.
#[derive(Debug, Clone, Default)]
pub struct FollowOn {
    pub decided: FollowThrough,
    pub also: Vec<AlongWithCall>,
}

/// Decides and prepares what follows `before` becoming `after`: nothing
/// unless this change ends the call, or (`late_output`) applies the
/// structured output the ended call awaited. It reads what the decision
/// needs and schedules nothing: the calls that follow are in `also`, for
/// [`schedule_follow_ons`].
pub async fn follow_through(
    store: &DynamoStore,
    agent: &mut AgentOnce,
    before: &CallLog,
    after: &CallLog,
    do_not_call_requested: bool,
    late_output: bool,
    now: DateTime<Utc>,
) -> Result<FollowOn, DomainError> {
    // Nothing can follow: the agent is not read.
    if !follow_through::follows(before, after, late_output) {
        return Ok(FollowOn::default());
    }
    let agent = agent.get(store, after).await?;
    let decide = |known: &Known| match late_output {
        false => follow_through::follow_through(before, after, agent, known, do_not_call_requested, now),
        true => follow_through::follow_through_late_output(before, after, agent, known, do_not_call_requested, now),
    };
    // The tenant's holidays and the number's ledger matter only to a call that follows: read them then.
    let mut decided = decide(&Known::default());
    if decided.plans_a_call() {
        let settings = store.settings(&after.org_id).await?;
        let state = store.number_state(&after.org_id, &after.phone_number).await?;
        let debt = store.debt_ledger_of(&after.org_id, after.call_type, after.debt_id.as_deref()).await?;
        let inconvenient = state.ledger.inconvenient_for(after.call_type, debt.as_ref());
        decided = decide(&Known {
            holidays: &settings.holidays,
            ledger: Some(&state.ledger),
            debt: debt.as_ref(),
            inconvenient: &inconvenient,
            tenant_cap_per_day: settings.max_attempts_per_number_per_day,
            consents: Some((&state.consents, &settings.consent_policy)),
            on_do_not_call: store.is_on_do_not_call(&after.org_id, &after.phone_number).await?,
            refuse_unknown_location: settings.refuses_unknown_location(),
            practice_identified: settings.practice_identified(),
        });
    }
    // One follow-up a number and agreed day: a day another call planned already is planned.
    if let Some(at) = decided.follow_up_at {
        let planned = follow_through::follow_up_call(after, at, now);
        if store.get_call(&after.org_id, &planned.id).await?.is_some() {
            tracing::info!(call_id = %after.id, follow_up = %planned.id, "the agreed follow-up is planned already for this number and day");
            decided.follow_up_at = None;
        }
    }
    if let Some(date) = decided.follow_up_past {
        tracing::warn!(call_id = %after.id, follow_up_date = %time::format(&date), "the agreed follow-up day had passed: no call is made for it");
    }
    if let Some(refusal) = decided.not_planned {
        tracing::warn!(call_id = %after.id, reason = refusal.ended_reason().code(), "a retry or follow-up is due but the placement policy refuses it: none is planned");
    }
    if do_not_call_requested && decided.do_not_call.is_none() {
        tracing::warn!(call_id = %after.id, "the patient asked not to be called, but the call's number has no digits to put on the list");
    }
    if let Some(date) = decided.follow_up_too_far {
        tracing::warn!(call_id = %after.id, follow_up_date = %time::format(&date), "the agreed follow-up is more than a year ahead: no call is made for it");
    }
    let mut also: Vec<AlongWithCall> = Vec::new();
    if let Some(number) = &decided.do_not_call {
        // The announced opt-out key pressed, or the callee's words.
        let pressed = after.transcript.as_deref().is_some_and(callops_domain::consent::stop_request::pressed_to_stop);
        let (reason, source) = if pressed { ("pressed the opt-out key during a call", "keypress") } else { ("requested during a call", "asked during a call") };
        also.push(AlongWithCall::DoNotCall { number: number.clone(), reason: reason.into(), source });
        // The listing is a change like any other: its entry goes in the same write, CallOps' webhook its author.
        let mut changes = callops_domain::records::audit::fields_read(&[]);
        changes.insert("reason".into(), serde_json::json!({"from": null, "to": reason}));
        changes.insert("callId".into(), serde_json::json!({"from": null, "to": after.id.as_str()}));
        let webhook = callops_domain::caller::Caller::system(&after.org_id, "webhook");
        let entry = callops_domain::records::audit::AuditEntry::new(&webhook, callops_domain::records::audit::Action::DoNotCallAdded, number, changes, now);
        also.push(AlongWithCall::Audit(Box::new(entry)));
    }
    if let Some(conversation) = &decided.conversation {
        let notes = || LedgerNotes { conversation: Some(conversation.clone()), inconvenient: Vec::new() };
        AlongWithCall::add_ledger_notes(&mut also, false, notes());
        // Regulation F counts per person and debt, on any number: the debt's own ledger keeps it too.
        if after.debt_id.is_some() {
            AlongWithCall::add_ledger_notes(&mut also, true, notes());
        }
    }
    let follow_ons: Vec<CallLog> = decided
        .retry
        .map(|(attempt, at)| follow_through::retry_call(after, attempt, at, now))
        .into_iter()
        .chain(decided.follow_up_at.map(|at| follow_through::follow_up_call(after, at, now)))
        .collect();
    also.extend(follow_ons.into_iter().map(|call| AlongWithCall::NewCall(Box::new(call))));
    Ok(FollowOn { decided, also })
}

/// Schedules each call a write creates, before the write: a schedule that
/// fires for a call never stored (the write lost a race) dials nothing,
/// and one that a retried write schedules again is the same schedule.
pub async fn schedule_follow_ons(scheduler: &Arc<dyn DialScheduler>, also: &[AlongWithCall]) -> Result<(), DomainError> {
    for write in also {
        if let AlongWithCall::NewCall(call) = write
            && let Some(at) = call.scheduled_at
        {
            scheduler.schedule(&ScheduledDial { request: DialRequest::for_call(call), at }).await?;
        }
    }
    Ok(())
}
