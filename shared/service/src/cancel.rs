//! Cancelling: a waiting call (marked CANCELLED, then its schedule removed,
//! so a schedule that still fires finds a cancelled call), and a campaign
//! with every call of it that still waits.

use callops_aws::StoredCall;
use callops_aws::store::{CallStore, CampaignStore};
use callops_domain::{
    CallLog, CallStatus, DomainError,
    call::lifecycle::EndedReason,
    caller::Caller,
    campaign::{Campaign, CampaignCounts},
    placement::schedule::DialRequest,
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use crate::{
    Calls,
    change::{Change, Decided, change_call},
};
use callops_aws::AlongWithCall;
use callops_domain::records::audit::{Action, AuditEntry};

/// How many calls are cancelled at once when a campaign is.
const CANCEL_CONCURRENCY: usize = 16;

/// A campaign cancelled, and how many of its calls this cancelled.
#[derive(Debug, Clone)]
pub struct CampaignCancelled {
    pub campaign: Campaign,
    pub cancelled: usize,
    pub counts: CampaignCounts,
}

impl Calls {
    /// Cancels a waiting call for `caller`; `not_cancellable` once it is dialed.
    pub async fn cancel_call(&self, caller: &Caller, stored: StoredCall, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        self.cancel_call_because(caller, stored, EndedReason::CancelledBeforeDialing, now).await
    }

    /// [`Self::cancel_call`], with the reason it ends with. The audit entry
    /// of the cancel is written with it.
    pub async fn cancel_call_because(&self, caller: &Caller, stored: StoredCall, reason: EndedReason, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        let cancel = |call: &CallLog| {
            call.cancel(reason.clone(), now).map(|next| {
                let entry = AuditEntry::of_change(caller, Action::CallCancelled, &call.id, Some(call), &next, now);
                Some(Change { call: next, also: vec![AlongWithCall::Audit(Box::new(entry))] })
            })
        };
        let written = change_call(&self.store, stored, &mut Decided(cancel)).await?.ok_or_else(|| DomainError::Unavailable("a cancel wrote nothing".into()))?;
        if let Err(err) = self.scheduler.unschedule(&DialRequest::for_call(&written.call)).await {
            tracing::warn!(call_id = %written.call.id, error = %err, "schedule of a cancelled call is left; the dialer will not dial it");
        }
        Ok(written.call)
    }

    /// Marks the campaign cancelled, then cancels each of its waiting calls.
    /// Cancelling again finishes what an interrupted cancel left.
    pub async fn cancel_campaign(&self, caller: &Caller, campaign_id: &str, now: DateTime<Utc>) -> Result<CampaignCancelled, DomainError> {
        let campaign = self.caller_campaign(caller, campaign_id).await?;
        let cancelled = campaign.clone().cancelled(now);
        let entry = AuditEntry::of_change(caller, Action::CampaignCancelled, &campaign.id, Some(&campaign), &cancelled, now);
        self.store.cancel_campaign(&caller.org_id, &campaign.id, now, &entry).await?;
        let campaign = cancelled;
        let waiting = self.store.campaign_calls(&caller.org_id, &campaign.id, Some(CallStatus::Scheduled)).await?;
        let ids = waiting.into_iter().map(|w| w.call_id).collect();
        let cancelled = self.cancel_waiting(caller, ids, EndedReason::CancelledBeforeDialing, now).await?;
        let counts = self.campaign_counts(&campaign).await?;
        Ok(CampaignCancelled { campaign, cancelled, counts })
    }

    /// Cancels each of `call_ids` that still waits, `CANCEL_CONCURRENCY` at
    /// once, with `reason`; returns how many it cancelled. A call dialed in
    /// the meantime is left to the dialer, which asks again before it places one.
    pub async fn cancel_waiting(&self, caller: &Caller, call_ids: Vec<String>, reason: EndedReason, now: DateTime<Utc>) -> Result<usize, DomainError> {
        let reason = &reason;
        let org_id = caller.org_id.as_str();
        let results: Vec<Result<bool, DomainError>> = stream::iter(call_ids)
            .map(|call_id| async move {
                let Some(stored) = self.store.get_call(org_id, &call_id).await? else { return Ok(false) };
                match self.cancel_call_because(caller, stored, reason.clone(), now).await {
                    Ok(_) => Ok(true),
                    Err(DomainError::Conflict { .. }) => Ok(false),
                    Err(other) => Err(other),
                }
            })
            .buffer_unordered(CANCEL_CONCURRENCY)
            .collect()
            .await;
        let mut cancelled = 0;
        for result in results {
            cancelled += usize::from(result?);
        }
        Ok(cancelled)
    }

    /// How a campaign's calls stand.
    pub async fn campaign_counts(&self, campaign: &Campaign) -> Result<CampaignCounts, DomainError> {
        let mut counts = CampaignCounts::default();
        for call in self.store.campaign_calls(&campaign.org_id, &campaign.id, None).await? {
            counts.add(call.status, call.outcome.as_deref());
        }
        Ok(counts)
    }
}
