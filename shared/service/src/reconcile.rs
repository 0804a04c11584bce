//! The reconciler: a periodic run (every 5 minutes in AWS, every few
//! seconds on the local host) that finishes what a lost calls, a crash or
//! a lost trigger left behind. Vapi does not retry webhooks, so this is how
//! a call's end is never missed:
//!
//! - DIALING too long with no Vapi id (the dialer stopped between Vapi's
//!   answer and its write, or could not tell whether Vapi made the call):
//!   Vapi is asked for the attempt's call; found, it is recorded; not found,
//!   the attempt goes back in the queue (it was never placed).
//! - DIALING or IN_PROGRESS too long with a Vapi id: Vapi is asked for the
//!   call; what it says is recorded as the report it is
//!   ([`crate::record_report`]), which gives the slot back when it ends the call.
//! - SCHEDULED well past its time (its trigger was lost): dialed now. Calls
//!   CallOps did not schedule (attempt 0: imported history) are never dialed.
//! - Ended, awaiting a structured output its report did not carry, and due
//!   for another look ([`callops_domain::call::measures::AwaitedOutput`]): Vapi
//!   is asked for the call, and the output applied once when it is there
//!   ([`Calls::record_awaited_output`]); after the last look, no more.

use std::time::Duration;

use callops_aws::store::{AgentStore, AwaitedOutputStore, CallQueryStore, CallStore};
use callops_aws::{CallQuery, PageRequest};
use callops_domain::{
    CallLog, CallStatus, DomainError,
    call::lifecycle::EndedReason,
    ending::report::{CallReport, ReportKind},
    placement::schedule::DialRequest,
};
use callops_vapi::{VapiError, read_vapi_call};
use chrono::{DateTime, Utc};

use crate::{
    Calls,
    place::{Dialer, metadata},
};

/// How long a call may stay in each state before the reconciler looks.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    pub dialing: Duration,
    pub in_progress: Duration,
    pub overdue: Duration,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings { dialing: Duration::from_secs(120), in_progress: Duration::from_secs(20 * 60), overdue: Duration::from_secs(10 * 60) }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub checked: usize,
    /// Recorded or finished from what Vapi said.
    pub finished: usize,
    /// Never placed: back in the queue.
    pub requeued: usize,
    /// Unknown to Vapi although we hold its id: FAILED.
    pub failed: usize,
    /// SCHEDULED past its time: dialed now.
    pub redialed: usize,
    /// Ended calls read again for the structured output they await.
    pub outputs_read: usize,
    /// Calls whose content passed the tenant's retention: content removed.
    pub content_expired: usize,
    /// Waiting calls of campaigns whose `endAt` passed: closed with `campaign-ended`.
    pub campaign_calls_ended: usize,
    /// Tenants whose run failed (logged; tried again next run).
    pub tenants_failed: usize,
}

const PAGE: usize = 500;
/// The reconciler, as the audit log names it.
const RECONCILER: &str = "reconciler";

fn ago(now: DateTime<Utc>, age: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(age).unwrap_or_default()
}

impl Dialer {
    /// One run over every tenant. A tenant whose run fails is logged and
    /// left for the next run; the tenants after it are still reconciled.
    pub async fn reconcile(&self, calls: &Calls, settings: &ReconcileSettings, now: DateTime<Utc>) -> Result<Reconciled, DomainError> {
        let mut done = Reconciled::default();
        for org_id in self.store().tenants().await? {
            if let Err(err) = self.reconcile_tenant(&org_id, calls, settings, now, &mut done).await {
                done.tenants_failed += 1;
                tracing::error!(org_id = %org_id, error = %err, "the reconciler could not finish this tenant; it goes on with the next");
            }
            // Content past its retention goes on the same round, tenant by tenant.
            match crate::records::expire_content(self.store(), &org_id, now).await {
                Ok(expired) => done.content_expired += expired,
                Err(err) => {
                    done.tenants_failed += 1;
                    tracing::error!(org_id = %org_id, error = %err, "content past its retention is left for the next run");
                }
            }
        }
        if done != Reconciled::default() {
            tracing::info!(?done, "reconciled");
        }
        Ok(done)
    }

    async fn stuck(&self, org_id: &str, query: CallQuery, before: DateTime<Utc>) -> Result<Vec<CallLog>, DomainError> {
        let window = callops_domain::time::Span::before(before);
        Ok(self.store().query_calls(org_id, &PageRequest { window, ..PageRequest::new(&query, PAGE) }).await?.items)
    }

    async fn reconcile_tenant(
        &self,
        org_id: &str,
        calls: &Calls,
        settings: &ReconcileSettings,
        now: DateTime<Utc>,
        done: &mut Reconciled,
    ) -> Result<(), DomainError> {
        let mut stuck = self.stuck(org_id, CallQuery::ByStatus(CallStatus::Dialing), ago(now, settings.dialing)).await?;
        stuck.extend(self.stuck(org_id, CallQuery::ByStatus(CallStatus::InProgress), ago(now, settings.in_progress)).await?);
        for call in stuck.into_iter().filter(|c| c.holds_dialer_slot() || c.vapi_call_id.is_some()) {
            done.checked += 1;
            if let Err(err) = self.reconcile_call(&call, calls, now, done).await {
                tracing::warn!(call_id = %call.id, error = %err, "call left for the next run");
            }
        }
        // Campaigns past their end first: their waiting calls are closed, not dialed as overdue.
        match calls.end_due_campaigns(org_id, now).await {
            Ok(closed) => done.campaign_calls_ended += closed,
            Err(err) => tracing::warn!(error = %err, "campaigns past their end left for the next run"),
        }
        for call in self.stuck(org_id, CallQuery::Scheduled, ago(now, settings.overdue)).await?.into_iter().filter(|c| c.attempt >= 1) {
            done.checked += 1;
            match self.dial(DialRequest::for_call(&call)).await {
                Ok(_) => done.redialed += 1,
                Err(err) => tracing::warn!(call_id = %call.id, error = %err, "overdue call left for the next run"),
            }
        }
        for call_id in self.store().calls_awaiting_output(org_id, now, PAGE).await? {
            done.checked += 1;
            match self.read_awaited_output(org_id, &call_id, calls, now).await {
                Ok(()) => done.outputs_read += 1,
                Err(err) => tracing::warn!(call_id = %call_id, error = %err, "awaited output left for the next run"),
            }
        }
        Ok(())
    }

    /// Reads an ended call again for the structured output it awaits.
    async fn read_awaited_output(&self, org_id: &str, call_id: &str, calls: &Calls, now: DateTime<Utc>) -> Result<(), DomainError> {
        let Some(stored) = self.store().get_call(org_id, call_id).await? else { return Ok(()) };
        let report = match &stored.call.vapi_call_id {
            Some(id) => match self.vapi().get_call(id).await.map_err(|e| DomainError::Unavailable(e.to_string()))? {
                Some(found) => read_vapi_call(&found.raw, now)?.report,
                None => None,
            },
            None => None,
        };
        // A call Vapi does not know (any more) has no output to give: the look counts as one that found none.
        let report = report.unwrap_or_else(|| CallReport::new(ReportKind::Ended));
        calls.record_awaited_output(stored, &report, RECONCILER, now).await
    }

    async fn reconcile_call(&self, call: &CallLog, calls: &Calls, now: DateTime<Utc>, done: &mut Reconciled) -> Result<(), DomainError> {
        let vapi = |e: VapiError| DomainError::Unavailable(e.to_string());
        let found = match &call.vapi_call_id {
            Some(id) => match self.vapi().get_call(id).await.map_err(vapi)? {
                Some(found) => found,
                None => {
                    let stored = self.store().get_call(&call.org_id, &call.id).await?.ok_or(DomainError::NotFound { what: "call" })?;
                    self.fail(stored, EndedReason::ProviderCallNotFound, RECONCILER).await?;
                    done.failed += 1;
                    return Ok(());
                }
            },
            None => {
                let agent = self.store().get_agent(&call.org_id, &call.voice_agent_id).await?;
                let number_id = agent.as_ref().and_then(|a| a.vapi_phone_number_id.as_deref());
                let since = call.updated_at - chrono::Duration::minutes(5);
                let stored = self.store().get_call(&call.org_id, &call.id).await?.ok_or(DomainError::NotFound { what: "call" })?;
                match self.vapi().find_attempt(&metadata(call), number_id, since).await.map_err(vapi)? {
                    Some(found) => {
                        self.record_placed(stored, &found, RECONCILER).await?;
                        found
                    }
                    None => {
                        // Vapi never made it: the attempt goes back in the queue, now.
                        self.move_attempt(stored, now, "never placed", RECONCILER, now).await.map_err(|e| DomainError::Unavailable(e.to_string()))?;
                        done.requeued += 1;
                        return Ok(());
                    }
                }
            }
        };
        let message = read_vapi_call(&found.raw, now)?;
        if let Some(report) = &message.report {
            calls.record_report(&call.org_id, &message.subject(), report, RECONCILER, now).await?;
        }
        done.finished += 1;
        Ok(())
    }
}
