//! The dialer's outcomes that place nothing: a claimed attempt withdrawn,
//! a waiting call held for its paused campaign, a call ended unplaced with
//! its refusal, and an attempt moved to a later time.

use callops_aws::StoredCall;
use callops_aws::store::CallStore;
use callops_domain::{
    CallStatus, DomainError,
    placement::Refusal,
    placement::schedule::{DialRequest, ScheduledDial},
    records::audit::Action,
    time,
};
use chrono::{DateTime, Utc};

use super::{DIALER, DialError, Dialed, Dialer, audited};

impl Dialer {
    /// Takes back a claimed attempt that was not placed: CANCELLED with why, its slot given back.
    pub(super) async fn withdraw(&self, claimed: StoredCall, refusal: Refusal, now: DateTime<Utc>) -> Result<Dialed, DialError> {
        let reason = refusal.ended_reason();
        tracing::info!(call_id = %claimed.call.id, reason = reason.code(), "a claimed attempt is withdrawn before it was placed");
        let Ok(next) = claimed.call.withdraw(reason.clone(), now) else { return Ok(Dialed::AlreadyHandled) };
        match self.store.update_call_with(&claimed, &next, &[audited(DIALER, Action::CallCancelled, &claimed.call, &next, now)]).await {
            Ok(_) | Err(DomainError::Conflict { .. }) => Ok(Dialed::NotDialed(reason.code())),
            Err(other) => Err(other.into()),
        }
    }

    /// Holds a waiting call of a paused campaign: no time, no planned attempt, until the campaign resumes.
    pub(super) async fn hold(&self, stored: StoredCall, now: DateTime<Utc>) -> Result<Dialed, DialError> {
        if stored.call.is_held() {
            return Ok(Dialed::Held);
        }
        let Ok(next) = stored.call.hold(now) else { return Ok(Dialed::AlreadyHandled) };
        match self.store.update_call_with(&stored, &next, &[audited(DIALER, Action::CallMoved, &stored.call, &next, now)]).await {
            Ok(_) => Ok(Dialed::Held),
            Err(DomainError::Conflict { .. }) => Ok(Dialed::AlreadyHandled),
            Err(other) => Err(other.into()),
        }
    }

    /// Ends a call that was never placed.
    pub(super) async fn end_unplaced(&self, stored: StoredCall, refusal: Refusal, now: DateTime<Utc>) -> Result<Dialed, DialError> {
        let reason = refusal.ended_reason();
        let next = match refusal.status() {
            CallStatus::Cancelled => stored.call.cancel(reason.clone(), now).ok(),
            _ => stored.call.fail(reason.clone(), now),
        };
        let Some(next) = next else { return Ok(Dialed::AlreadyHandled) };
        let action = if next.status == CallStatus::Cancelled { Action::CallCancelled } else { Action::CallFailed };
        match self.store.update_call_with(&stored, &next, &[audited(DIALER, action, &stored.call, &next, now)]).await {
            Ok(_) | Err(DomainError::Conflict { .. }) => Ok(Dialed::NotDialed(reason.code())),
            Err(other) => Err(other.into()),
        }
    }

    /// Puts the attempt back in the queue at `to` (from DIALING this gives
    /// its slot back), then moves its schedule there.
    pub(crate) async fn move_attempt(
        &self,
        stored: StoredCall,
        to: DateTime<Utc>,
        why: &'static str,
        by: &'static str,
        now: DateTime<Utc>,
    ) -> Result<Dialed, DialError> {
        let to = time::to_millis(to);
        let next = match stored.call.requeue(to, now) {
            Ok(next) => next,
            Err(_) => return Ok(Dialed::AlreadyHandled),
        };
        match self.store.update_call_with(&stored, &next, &[audited(by, Action::CallMoved, &stored.call, &next, now)]).await {
            Ok(moved) => {
                self.scheduler.schedule(&ScheduledDial { request: DialRequest::for_call(&moved.call), at: to }).await?;
                Ok(Dialed::Moved { to, why })
            }
            Err(DomainError::Conflict { .. }) => Ok(Dialed::AlreadyHandled),
            Err(other) => Err(other.into()),
        }
    }
}
