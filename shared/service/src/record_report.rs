//! Recording what the voice provider says of a call, from the webhook or
//! the reconciler alike: find the call (or make the one CallOps did not
//! place), apply the report ([`callops_domain::ending::apply::apply`]), carry out
//! what follows its end, and write it all in one transaction, redone on
//! the fresh call when another report won the race.

use callops_aws::store::{AgentStore, CallStore, SettingsStore};
use callops_aws::{AlongWithCall, StoredCall, store::LedgerNotes};
use callops_domain::{
    CallLog, CallStatus, CallType, DomainError, NewCall, VoiceAgent,
    call::{CallText, new_call_id},
    ending::follow_through::FollowThrough,
    ending::{
        apply,
        report::{CallReport, ReportKind, ReportSubject},
    },
    ids::UNASSIGNED_AGENT,
    records::audit::{Action, AuditEntry},
    time,
};
use chrono::{DateTime, Utc};

use crate::{
    Calls,
    change::{Change, Decide, change_call},
    follow_through::{AgentOnce, follow_through, schedule_follow_ons},
    metrics,
};

impl Calls {
    /// Records `report` about `subject` for the tenant `org_id` (whose
    /// credential the report came with); `by` is the part of CallOps that
    /// brings it (`webhook`, `reconciler`), the audit entry's actor.
    pub async fn record_report(
        &self,
        org_id: &str,
        subject: &ReportSubject,
        report: &CallReport,
        by: &'static str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        for _ in 0..crate::change::WRITE_ATTEMPTS {
            let made = match self.find_call(org_id, subject, report).await? {
                Some(stored) if stored.call.was_never_placed() => {
                    tracing::warn!(org_id, call_id = %stored.call.id, status = %stored.call.status, "a report about a call that was never placed changes nothing");
                    return Ok(());
                }
                Some(stored) => {
                    let mut agent = AgentOnce::default();
                    let report = self.reading_output(&mut agent, &stored.call, report).await?;
                    return self.record_on(stored, &report, agent, by, now, false).await;
                }
                None if report.vapi_call_id.is_none() => {
                    tracing::warn!(org_id, "a report names no call CallOps knows and no provider call id: nothing to record it under");
                    return Ok(());
                }
                None => self.unplaced_call(org_id, subject, report, now).await?,
            };
            // A call CallOps did not place: `made` is the call as it would have been before this report.
            let mut agent = AgentOnce::default();
            let report = &self.reading_output(&mut agent, &made, report).await?;
            let mut apply = ApplyReport::new(self, report, agent, by, now, Reported::NewCall, made.clone());
            let Some(change) = apply.decide(&made).await? else { return Ok(()) };
            apply.act(&change).await?;
            match self.store.create_call_with(&change.call, &change.also).await {
                // Another report created it first: record this one on it.
                Err(DomainError::Conflict { .. }) => continue,
                Err(other) => return Err(other),
                Ok(written) => {
                    self.recorded(&apply.before, &written, &apply.follow, report, now).await?;
                    return Ok(());
                }
            }
        }
        Err(DomainError::Unavailable(format!("call for provider call {:?} kept changing", report.vapi_call_id)))
    }

    /// Records what a later read of a call says of the structured output
    /// it awaits ([`apply::apply_awaited_output`]): applied once when it
    /// is there, else the next read planned. A call that awaits nothing
    /// (any more) is left as it is.
    pub async fn record_awaited_output(&self, stored: StoredCall, report: &CallReport, by: &'static str, now: DateTime<Utc>) -> Result<(), DomainError> {
        let Some(awaited) = &stored.call.awaiting_output else { return Ok(()) };
        let report = report.clone().reading_output(&awaited.name, true);
        self.record_on(stored, &report, AgentOnce::default(), by, now, true).await
    }

    /// `next` as it may be kept: content that arrives for a call already
    /// past the tenant's retention is not stored (its removal's audit entry
    /// comes back with it). The tenant's retention is read once, when first needed.
    async fn within_retention(
        &self,
        retention: &mut Option<callops_domain::settings::Retention>,
        next: CallLog,
        by: &'static str,
        now: DateTime<Utc>,
    ) -> Result<(CallLog, Option<AuditEntry>), DomainError> {
        // The shortest retention is a day: a call of the last day keeps its content, and the settings need no read.
        let started = next.call_started_at.unwrap_or(next.created_at);
        if !next.has_content() || next.content_is_removed() || now - started < chrono::Duration::days(callops_domain::settings::MIN_CONTENT_DAYS.into()) {
            return Ok((next, None));
        }
        let kept = match retention {
            Some(kept) => *kept,
            None => *retention.insert(self.store.settings(&next.org_id).await?.retention),
        };
        if !kept.content_expired(&next, now) {
            return Ok((next, None));
        }
        let removed = next.remove_content(callops_domain::call::RemovalReason::Retention, now, None);
        let entry = AuditEntry::of_system_change(by, Action::ContentExpired, Some(&next), &removed, now);
        Ok((removed, Some(entry)))
    }

    /// `report` with its analysis read from the structured output the call
    /// awaits, else the one its agent names (and expects), else the default one.
    async fn reading_output(&self, agent: &mut AgentOnce, call: &CallLog, report: &CallReport) -> Result<CallReport, DomainError> {
        if report.kind != ReportKind::Ended {
            return Ok(report.clone());
        }
        if let Some(awaited) = &call.awaiting_output {
            return Ok(report.clone().reading_output(&awaited.name, true));
        }
        let agent = match call.reported_at {
            None => agent.get(&self.store, call).await?,
            Some(_) => None,
        };
        let (name, expected) = agent.map_or((callops_domain::agent::DEFAULT_OUTPUT_NAME, false), VoiceAgent::structured_output);
        Ok(report.clone().reading_output(name, expected))
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_on(
        &self,
        stored: StoredCall,
        report: &CallReport,
        agent: AgentOnce,
        by: &'static str,
        now: DateTime<Utc>,
        awaited_output: bool,
    ) -> Result<(), DomainError> {
        let reported = if awaited_output { Reported::AwaitedOutput } else { Reported::OnTheCall };
        let mut apply = ApplyReport::new(self, report, agent, by, now, reported, stored.call.clone());
        if let Some(written) = change_call(&self.store, stored, &mut apply).await? {
            self.recorded(&apply.before, &written, &apply.follow, report, now).await?;
        }
        Ok(())
    }

    /// What follows a report's write: its cost measured, and an opt-out
    /// asked during the call honoured at once (the number's consents
    /// revoked, its waiting calls cancelled; the list entry and its history
    /// came with the write).
    async fn recorded(
        &self,
        before: &CallLog,
        written: &StoredCall,
        follow: &FollowThrough,
        report: &CallReport,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if let Some(number) = &follow.do_not_call {
            let pressed = report.transcript.as_deref().is_some_and(callops_domain::consent::stop_request::pressed_to_stop);
            let opt_out = crate::opt_out::OptOut {
                number: number.clone(),
                channel: callops_domain::consent::Channel::Call,
                source: Some(if pressed { "keypress" } else { "asked during a call" }.into()),
                reason: Some(if pressed { "pressed the opt-out key during a call" } else { "requested during a call" }.into()),
                by: callops_domain::caller::Actor::system("webhook"),
            };
            let webhook = callops_domain::caller::Caller::system(&written.call.org_id, "webhook");
            let done = self.honour_opt_out(&webhook, &opt_out, now).await?;
            tracing::info!(
                call_id = %written.call.id,
                revoked_consents = done.revoked_consents,
                cancelled_calls = done.cancelled_calls,
                ended_calls = done.ended_calls.len(),
                "an opt-out asked during a call is honoured"
            );
        }
        // Only a write that set or changed the cost reports it, so a duplicate counts nothing.
        if written.call.cost_cents != before.cost_cents {
            metrics::emit_cost(&written.call, now);
        }
        if follow.retry.is_some() || follow.follow_up_at.is_some() {
            tracing::info!(call_id = %written.call.id, retry = ?follow.retry, follow_up_at = ?follow.follow_up_at, "follow-on calls scheduled");
        }
        Ok(())
    }

    /// The call by the ids CallOps passed with it, else by the provider's call id.
    async fn find_call(&self, org_id: &str, subject: &ReportSubject, report: &CallReport) -> Result<Option<StoredCall>, DomainError> {
        if let Some(call_id) = &subject.call_id {
            // Ids naming another tenant are ignored: the credential decides the tenant.
            if subject.org_id.as_deref().is_none_or(|org| org == org_id)
                && let Some(stored) = self.store.get_call(org_id, call_id).await?
            {
                return Ok(Some(stored));
            }
        }
        match &report.vapi_call_id {
            Some(vapi_call_id) => self.store.find_call_by_vapi_id(org_id, vapi_call_id).await,
            None => Ok(None),
        }
    }

    /// A call CallOps did not place (an inbound call, or one placed outside
    /// CallOps), under the agent that owns its number or assistant.
    async fn unplaced_call(&self, org_id: &str, subject: &ReportSubject, report: &CallReport, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        let agents = self.store.list_agents(org_id).await?;
        let agent = agents
            .iter()
            .find(|a| a.vapi_phone_number_id.is_some() && a.vapi_phone_number_id == subject.phone_number_id)
            .or_else(|| agents.iter().find(|a| Some(&a.vapi_assistant_id) == subject.assistant_id.as_ref()))
            .map_or(UNASSIGNED_AGENT.to_string(), |a| a.id.clone().into());
        let call_type = if subject.outbound { CallType::OutboundOther } else { CallType::Inbound };
        let created = report.at.unwrap_or(now);
        let mut call = CallLog::new(
            NewCall {
                org_id: org_id.into(),
                voice_agent_id: agent.into(),
                phone_number: subject.customer_number.clone().unwrap_or_else(|| "unknown".into()),
                call_type,
                status: CallStatus::InProgress,
                attempt: 0,
            },
            new_call_id(),
            time::to_millis(created),
        );
        call.vapi_call_id = report.vapi_call_id.clone();
        if let Some(name) = &report.customer_name {
            call.set_text(CallText::CustomerName, name);
        }
        call.call_started_at = report.started_at.or(Some(time::to_millis(created)));
        if call_type == CallType::Inbound {
            // Whether its recording may be kept: where the caller may be, and what the practice says its inbound assistant discloses.
            let settings = self.store.settings(org_id).await?;
            let caller = callops_domain::placement::callee::Callee::of(&call.phone_number, &callops_domain::placement::callee::Places::default());
            call.compliance = Some(callops_domain::call::compliance::ComplianceRecord::inbound(&caller, settings.inbound_recording_disclosed, created));
        }
        Ok(call)
    }
}

/// The times the callee said are inconvenient, to keep with the number
/// (and with the call's debt, for every number of the person), when this
/// write records the report that says so (the first end-of-call report, or
/// the awaited output when it comes).
fn add_inconvenient_times(also: &mut Vec<AlongWithCall>, report: &CallReport, before: &CallLog, after: &CallLog, awaited_output: bool) {
    let Some(times) = report.analysis.inconvenient_times.clone() else { return };
    let recorded = match awaited_output {
        false => before.reported_at.is_none() && after.reported_at.is_some(),
        true => before.awaiting_output.is_some() && after.awaiting_output.is_none() && report.output_found,
    };
    if !recorded {
        return;
    }
    let notes = || LedgerNotes { conversation: None, inconvenient: times.clone() };
    AlongWithCall::add_ledger_notes(also, false, notes());
    if after.call_type == CallType::OutboundDebt && after.debt_id.is_some() {
        AlongWithCall::add_ledger_notes(also, true, notes());
    }
}

/// The audit entries of a report's write, by `by`: the call's change, a
/// removal of content that came past its retention, and each call it
/// schedules (a retry, a follow-up).
fn audit_report(also: &mut Vec<AlongWithCall>, before: Option<&CallLog>, next: &CallLog, expired: Option<AuditEntry>, by: &'static str, now: DateTime<Utc>) {
    let mut entries = vec![AuditEntry::of_system_change(by, Action::CallReported, before, next, now)];
    entries.extend(expired);
    for write in also.iter() {
        if let AlongWithCall::NewCall(call) = write {
            entries.push(AuditEntry::of_system_change(by, Action::CallScheduled, None, call, now));
        }
    }
    also.extend(entries.into_iter().map(|entry| AlongWithCall::Audit(Box::new(entry))));
}

/// What a report is recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    /// A stored call.
    OnTheCall,
    /// A stored call, by a later read for the structured output it awaits.
    AwaitedOutput,
    /// A call CallOps did not place, made from the report: written even
    /// when the report adds nothing to it.
    NewCall,
}

/// The report use case's one decision: the report applied to the call
/// (as stored, or as made for a call CallOps did not place), kept within
/// the tenant's retention, and what its end brings; then, before the
/// write, the calls that follow scheduled.
struct ApplyReport<'a> {
    calls: &'a Calls,
    report: &'a CallReport,
    now: DateTime<Utc>,
    /// The part of CallOps that brings the report: the audit entries' actor.
    by: &'static str,
    /// The tenant's retention, once read.
    retention: Option<callops_domain::settings::Retention>,
    reported: Reported,
    agent: AgentOnce,
    /// The call the last decision started from, and what it decided follows.
    before: CallLog,
    follow: FollowThrough,
}

impl<'a> ApplyReport<'a> {
    fn new(calls: &'a Calls, report: &'a CallReport, agent: AgentOnce, by: &'static str, now: DateTime<Utc>, reported: Reported, before: CallLog) -> Self {
        ApplyReport { calls, report, now, by, retention: None, reported, agent, before, follow: FollowThrough::default() }
    }
}

#[async_trait::async_trait]
impl Decide for ApplyReport<'_> {
    async fn decide(&mut self, call: &CallLog) -> Result<Option<Change>, DomainError> {
        let awaited_output = self.reported == Reported::AwaitedOutput;
        let next = match self.reported {
            Reported::OnTheCall => apply::apply(call, self.report, self.now),
            Reported::AwaitedOutput => apply::apply_awaited_output(call, self.report, self.now),
            Reported::NewCall => Some(apply::apply(call, self.report, self.now).unwrap_or_else(|| call.clone())),
        };
        let Some(next) = next else { return Ok(None) };
        let (next, expired) = self.calls.within_retention(&mut self.retention, next, self.by, self.now).await?;
        let mut follow = follow_through(&self.calls.store, &mut self.agent, call, &next, self.report.asks_not_to_call(), awaited_output, self.now).await?;
        add_inconvenient_times(&mut follow.also, self.report, call, &next, awaited_output);
        let before = (self.reported != Reported::NewCall).then_some(call);
        audit_report(&mut follow.also, before, &next, expired, self.by, self.now);
        (self.before, self.follow) = (call.clone(), follow.decided);
        Ok(Some(Change { call: next, also: follow.also }))
    }

    async fn act(&mut self, change: &Change) -> Result<(), DomainError> {
        schedule_follow_ons(&self.calls.scheduler, &change.also).await
    }
}
