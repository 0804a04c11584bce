//! A campaign paused, resumed, given an end, and ended.
//!
//! Pausing marks the campaign `paused` (in one conditional write, with its
//! audit entry), then holds each of its waiting calls: no time, no planned
//! attempt at its number, no schedule ([`CallLog::hold`]). The dialer's
//! claim of a campaign call holds only while the campaign is active (a
//! condition in the claim's own transaction), so a claim racing a pause
//! places at most the call it had already claimed; a call that fires while
//! the campaign is paused is held by the dialer itself. Calls in flight
//! finish. Resuming marks it `active` and lays every held call out again
//! from now (or its start, still to come) at the campaign's pace, every rule asked again on what is on
//! record now (consent, registries, frequency, the callee's hours, the
//! do-not-call list); a call a rule now refuses is cancelled with its
//! reason. Past `endAt`, the reconciler ends the campaign and closes every
//! call still waiting with `campaign-ended`; the dialer places nothing of
//! it from that moment. Each step may be repeated: it finishes what an
//! interrupted one left.

use std::collections::{HashMap, HashSet};

use callops_aws::store::{AgentStore, CallStore, CampaignStore, DoNotCallStore, SettingsStore};
use callops_aws::{AlongWithCall, StoredCall};
use callops_domain::{
    CallLog, CallStatus, DomainError,
    call::lifecycle::EndedReason,
    caller::Caller,
    campaign::plan::{CampaignDraft, ContactCheck, Known, lay_out},
    campaign::{Campaign, CampaignGate, CampaignStatus, Contact},
    placement::Refusal,
    placement::schedule::{DialRequest, ScheduledDial},
    records::audit::{Action, AuditEntry},
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use crate::{
    Calls,
    change::{Change, Decided, change_call},
};

/// How many of a campaign's calls that changed since they were read are held, planned or closed again at once.
const CONTROL_CONCURRENCY: usize = 16;
/// How many schedules are set at once (in AWS, one EventBridge request each).
const SCHEDULE_CONCURRENCY: usize = 64;

/// What a pause, resume or end did.
#[derive(Debug, Clone)]
pub struct CampaignControlled {
    pub campaign: Campaign,
    /// Calls held (pause), planned again (resume) or closed (end).
    pub calls: usize,
    /// Calls a rule refused on resume, closed with their reason: (call id, code).
    pub refused: Vec<(String, &'static str)>,
}

impl Calls {
    /// Pauses `campaign_id` for `caller`: nothing new of it is placed; its waiting calls are held.
    pub async fn pause_campaign(&self, caller: &Caller, campaign_id: &str, now: DateTime<Utc>) -> Result<CampaignControlled, DomainError> {
        let campaign = self.set_campaign_status(caller, campaign_id, CampaignStatus::Paused, Action::CampaignPaused, now).await?;
        let waiting = self.waiting_calls(&campaign).await?;
        let held = self.each_call(caller, waiting.into_iter().filter(|s| !s.call.is_held()).map(|s| (s, None)).collect(), now, Control::Hold).await?;
        Ok(CampaignControlled { campaign, calls: held, refused: Vec::new() })
    }

    /// Resumes `campaign_id` for `caller`: every held call is laid out again from now, every rule asked again.
    pub async fn resume_campaign(&self, caller: &Caller, campaign_id: &str, now: DateTime<Utc>) -> Result<CampaignControlled, DomainError> {
        let campaign = self.set_campaign_status(caller, campaign_id, CampaignStatus::Active, Action::CampaignResumed, now).await?;
        let held: Vec<StoredCall> = self.waiting_calls(&campaign).await?.into_iter().filter(|s| s.call.is_held()).collect();
        if held.is_empty() {
            return Ok(CampaignControlled { campaign, calls: 0, refused: Vec::new() });
        }
        let times = self.lay_out_again(&campaign, &held, now).await?;
        let mut refused = Vec::new();
        let mut planned = Vec::new();
        let mut closed = Vec::new();
        for (stored, at) in held.into_iter().zip(times) {
            match at {
                Ok(at) => planned.push((stored, at)),
                Err(refusal) => {
                    refused.push((stored.call.id.to_string(), refusal.error().code().unwrap_or("refused")));
                    closed.push((stored, refusal.ended_reason()));
                }
            }
        }
        let moved = self.each_call(caller, planned.into_iter().map(|(s, at)| (s, Some(at))).collect(), now, Control::Plan).await?;
        for (stored, reason) in closed {
            self.close_call(caller, stored, reason, now).await?;
        }
        Ok(CampaignControlled { campaign, calls: moved, refused })
    }

    /// Sets (or clears) `campaign_id`'s `endAt` for `caller`.
    pub async fn set_campaign_end(
        &self,
        caller: &Caller,
        campaign_id: &str,
        end_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Campaign, DomainError> {
        let campaign = self.caller_campaign(caller, campaign_id).await?;
        let next = campaign.with_end(end_at, now)?;
        let audit = AuditEntry::of_change(caller, Action::CampaignUpdated, &campaign.id, Some(&campaign), &next, now);
        self.store.change_campaign(&campaign, &next, &audit).await?;
        Ok(next)
    }

    /// Ends every campaign of `org_id` whose `endAt` has passed, and closes
    /// its waiting calls with `campaign-ended` (those of a campaign ended in
    /// the last day too, so an interrupted end finishes). Returns the calls closed.
    pub async fn end_due_campaigns(&self, org_id: &str, now: DateTime<Utc>) -> Result<usize, DomainError> {
        let caller = Caller::system(org_id, "reconciler");
        let mut closed = 0;
        for campaign in self.store.list_campaigns(org_id).await? {
            let due = matches!(campaign.status, CampaignStatus::Active | CampaignStatus::Paused) && campaign.is_ended_at(now);
            let lately_ended = campaign.status == CampaignStatus::Ended && campaign.updated_at > now - chrono::Duration::days(1);
            if !due && !lately_ended {
                continue;
            }
            if due {
                let ended = campaign.ended(now);
                let audit = AuditEntry::of_change(&caller, Action::CampaignEnded, &campaign.id, Some(&campaign), &ended, now);
                match self.store.change_campaign(&campaign, &ended, &audit).await {
                    Ok(()) => tracing::info!(campaign_id = %campaign.id, "campaign ended at its endAt"),
                    // Paused, resumed or ended by someone else meanwhile: the next round sees what stands.
                    Err(DomainError::Conflict { .. }) => continue,
                    Err(other) => return Err(other),
                }
            }
            let waiting = self.waiting_calls(&campaign).await?;
            closed += self.each_call(&caller, waiting.into_iter().map(|s| (s, None)).collect(), now, Control::End).await?;
        }
        Ok(closed)
    }

    /// Moves the caller's campaign to `status`, audited, unless it is there already.
    async fn set_campaign_status(
        &self,
        caller: &Caller,
        id: &str,
        status: CampaignStatus,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<Campaign, DomainError> {
        let campaign = self.caller_campaign(caller, id).await?;
        if let CampaignGate::Refused(refusal) = campaign.gate(now) {
            return Err(refusal.error());
        }
        let next = campaign.with_status(status, now)?;
        if next != campaign {
            let audit = AuditEntry::of_change(caller, action, &campaign.id, Some(&campaign), &next, now);
            self.store.change_campaign(&campaign, &next, &audit).await?;
        }
        Ok(next)
    }

    /// The campaign's waiting calls, read from the table (with their revisions).
    async fn waiting_calls(&self, campaign: &Campaign) -> Result<Vec<StoredCall>, DomainError> {
        let ids: Vec<String> =
            self.store.campaign_calls(&campaign.org_id, &campaign.id, Some(CallStatus::Scheduled)).await?.into_iter().map(|c| c.call_id).collect();
        let mut waiting = Vec::with_capacity(ids.len());
        // A hundred calls a read (BatchGetItem's most), eight reads at once.
        let groups: Vec<&[String]> = ids.chunks(100).collect();
        for reads in groups.chunks(8) {
            let read: Vec<_> = reads.iter().map(|group| Box::pin(self.store.calls_by_id(&campaign.org_id, group))).collect();
            for (group, found) in reads.iter().zip(futures::future::try_join_all(read).await?) {
                waiting.extend(group.iter().filter_map(|id| found.get(id).cloned()).filter(|s| s.call.status == CallStatus::Scheduled));
            }
        }
        Ok(waiting)
    }

    /// When each held call may be placed now: the campaign's layout from now, on what is on record.
    async fn lay_out_again(&self, campaign: &Campaign, held: &[StoredCall], now: DateTime<Utc>) -> Result<Vec<Result<DateTime<Utc>, Refusal>>, DomainError> {
        let org_id = campaign.org_id.as_str();
        let Some(agent) = self.store.get_agent(org_id, &campaign.voice_agent_id).await? else {
            return Ok(held.iter().map(|_| Err(Refusal::NoAgent)).collect());
        };
        let settings = self.store.settings(org_id).await?;
        let contacts: Vec<(usize, Contact)> = held.iter().enumerate().map(|(i, s)| (i, Contact::of_call(&s.call))).collect();
        let numbers: Vec<String> = contacts.iter().map(|(_, c)| c.number.clone()).collect();
        let listed: HashSet<String> = self.store.do_not_call_among(org_id, &numbers).await?;
        let check = ContactCheck { accepted: contacts, refused: Vec::new() };
        let (ledgers, consents) = self.number_states(org_id, numbers).await?;
        let debts = self.debt_ledgers(org_id, campaign.call_type, &check).await?;
        let registries = self.contact_registries(&settings, campaign.call_type, &check, &ledgers).await?;
        let known = Known {
            holidays: &settings.holidays,
            ledgers: &ledgers,
            tenant_cap_per_day: settings.max_attempts_per_number_per_day,
            consents: &consents,
            accepted: settings.consent_policy.accepts(campaign.call_type),
            refuse_unknown_location: settings.refuses_unknown_location(),
            registries: &registries,
            debts: &debts,
        };
        let ids: Vec<callops_domain::ids::CallId> = held.iter().map(|s| s.call.id.clone()).collect();
        let draft = CampaignDraft::resuming(campaign, now);
        let (times, _) = lay_out(&draft, &agent, &known, &check.accepted, &ids, now)?;
        let listed_at: HashMap<usize, bool> = check.accepted.iter().map(|(i, c)| (*i, listed.contains(&c.number))).collect();
        Ok(times
            .into_iter()
            .enumerate()
            .map(|(i, at)| if listed_at.get(&i).copied().unwrap_or(false) { Err(Refusal::OnDoNotCallList) } else { at.map_err(|(refusal, _)| refusal) })
            .collect())
    }

    /// Does `control` to each call: written many to a transaction, each with
    /// its audit entry ([`CallStore::update_calls`]), then each schedule set
    /// to match; a call that changed since it was read is read again and
    /// done alone. Returns how many it changed.
    async fn each_call(
        &self,
        caller: &Caller,
        calls: Vec<(StoredCall, Option<DateTime<Utc>>)>,
        now: DateTime<Utc>,
        control: Control,
    ) -> Result<usize, DomainError> {
        let mut changes = Vec::with_capacity(calls.len());
        let mut planned = Vec::with_capacity(calls.len());
        for (stored, at) in calls {
            let next = match (control, at) {
                (Control::Hold, _) => stored.call.hold(now),
                (Control::Plan, Some(at)) => stored.call.requeue(at, now),
                (Control::Plan, None) => continue,
                (Control::End, _) => stored.call.cancel(EndedReason::CampaignEnded, now),
            };
            let Ok(next) = next else { continue };
            let entry = AuditEntry::of_change(caller, control.action(), &stored.call.id, Some(&stored.call), &next, now);
            planned.push(at);
            changes.push((stored, next, vec![AlongWithCall::Audit(Box::new(entry))]));
        }
        let outcomes = self.store.update_calls(&changes).await?;
        let mut written = Vec::with_capacity(changes.len());
        let mut again = Vec::new();
        for (((stored, _, _), at), outcome) in changes.into_iter().zip(planned).zip(outcomes) {
            match outcome {
                Ok(done) => written.push(done.call),
                // Changed since it was read (dialed, moved, cancelled): read again and decided alone.
                Err(DomainError::Conflict { .. }) => again.push((stored, at)),
                Err(other) => return Err(other),
            }
        }
        let mut changed = written.len();
        for group in written.chunks(SCHEDULE_CONCURRENCY) {
            let matched: Vec<_> = group.iter().map(|call| Box::pin(self.match_schedule(call.clone()))).collect();
            futures::future::join_all(matched).await;
        }
        let results: Vec<Result<bool, DomainError>> =
            stream::iter(again).map(|(stored, at)| self.control_call(caller, stored, at, now, control)).buffer_unordered(CONTROL_CONCURRENCY).collect().await;
        for result in results {
            changed += usize::from(result?);
        }
        Ok(changed)
    }

    /// Sets a changed call's schedule to match it: at its time, or none.
    async fn match_schedule(&self, call: CallLog) {
        let request = DialRequest::for_call(&call);
        let scheduled = match call.scheduled_at {
            Some(at) => self.scheduler.schedule(&ScheduledDial { request, at }).await,
            None => self.scheduler.unschedule(&request).await,
        };
        if let Err(err) = scheduled {
            // A held or closed call is not dialed whatever fires; a planned one is found overdue by the reconciler.
            tracing::warn!(call_id = %call.id, error = %err, "a campaign call's schedule could not be set to match it");
        }
    }

    /// Holds, plans or closes one waiting call, with its audit entry, then sets its schedule to match.
    async fn control_call(
        &self,
        caller: &Caller,
        stored: StoredCall,
        at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        control: Control,
    ) -> Result<bool, DomainError> {
        let change = |call: &CallLog| {
            let next = match (control, at) {
                (Control::Hold, _) => call.hold(now),
                (Control::Plan, Some(at)) => call.requeue(at, now),
                (Control::Plan, None) => return Ok(None),
                (Control::End, _) => call.cancel(EndedReason::CampaignEnded, now),
            }?;
            let entry = AuditEntry::of_change(caller, control.action(), &call.id, Some(call), &next, now);
            Ok(Some(Change { call: next, also: vec![AlongWithCall::Audit(Box::new(entry))] }))
        };
        let written = match change_call(&self.store, stored, &mut Decided(change)).await {
            Ok(Some(written)) => written,
            Ok(None) => return Ok(false),
            // Dialed, ended or cancelled meanwhile: what happened stands.
            Err(DomainError::Conflict { .. }) => return Ok(false),
            Err(other) => return Err(other),
        };
        self.match_schedule(written.call).await;
        Ok(true)
    }

    /// Closes a held call a rule now refuses, with its reason.
    async fn close_call(&self, caller: &Caller, stored: StoredCall, reason: EndedReason, now: DateTime<Utc>) -> Result<(), DomainError> {
        match self.cancel_call_because(caller, stored, reason, now).await {
            Ok(_) | Err(DomainError::Conflict { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

/// What is done to each of a campaign's waiting calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Hold,
    Plan,
    End,
}

impl Control {
    /// The audit entry each call's change leaves.
    fn action(self) -> Action {
        match self {
            Control::End => Action::CallCancelled,
            Control::Hold | Control::Plan => Action::CallMoved,
        }
    }
}
