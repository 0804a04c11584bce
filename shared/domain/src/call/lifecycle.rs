//! The call's lifecycle: which status may follow which, and the operations
//! that move a call along it. Every status change CallOps makes goes
//! through [`CallStatus::transition`] by one of these operations; nothing
//! else assigns a status.
//!
//! ```text
//!  SCHEDULED ──claim──> DIALING ──placed──> IN_PROGRESS ──end──> COMPLETED | MISSED | VOICEMAIL | FAILED | CANCELLED
//!     │  ^                 │  └──────────────end / fail──────────> (any terminal status)
//!     │  └─────requeue─────┘ (no free slot, outside calling hours, never placed)
//!     └──cancel / fail──> CANCELLED | FAILED
//! ```
//! Terminal statuses never reopen: a retry after a missed call is a new call.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{call::CallLog, call::CallOutcome, call::CallStatus, call::CallText, error::DomainError, time};

impl CallStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, CallStatus::Completed | CallStatus::Missed | CallStatus::Voicemail | CallStatus::Failed | CallStatus::Cancelled)
    }

    /// How far along the lifecycle a status is; a report about the call may only
    /// move it to a later stage, never back.
    pub fn stage(self) -> u8 {
        match self {
            CallStatus::Scheduled => 0,
            CallStatus::Dialing => 1,
            CallStatus::InProgress => 2,
            _ => 3,
        }
    }

    /// Whether a call in `self` may move to `next`.
    pub fn can_become(self, next: CallStatus) -> bool {
        use CallStatus::*;
        match self {
            Scheduled => matches!(next, Dialing | Cancelled | Failed),
            Dialing => next != Dialing,
            InProgress => next.is_terminal(),
            Completed | Missed | Voicemail | Failed | Cancelled => false,
        }
    }

    /// The checked transition: `Conflict` when the lifecycle forbids it.
    pub fn transition(self, next: CallStatus) -> Result<CallStatus, DomainError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(DomainError::conflict(crate::error::Conflict::InvalidTransition, format!("a {self} call cannot become {next}")))
        }
    }
}

/// Why CallOps itself ended a call (the provider's reasons are kept as it
/// gave them). Stored as the text [`EndedReason::text`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndedReason {
    /// Cancelled through the API while it waited.
    CancelledBeforeDialing,
    /// Its campaign was cancelled before it was dialed.
    CampaignCancelled,
    /// Its campaign's `endAt` passed before it was reached.
    CampaignEnded,
    /// Its number was on the do-not-call list when its time came.
    OnDoNotCallList,
    /// Its agent no longer exists.
    VoiceAgentNotFound,
    /// Its agent's calling hours never open again.
    NoCallingHoursAhead,
    /// No consent on record covers it (none, revoked, expired, out of scope).
    NoConsent,
    /// A collection call that names no debt.
    DebtIdRequired,
    /// Nothing says where its callee is, and the tenant refuses such calls.
    UnknownCalleeLocation,
    /// It would rest on the healthcare exemption without the exemption's conditions.
    ExemptionConditions,
    /// Telemarketing to a number on the National Do Not Call Registry, without written consent or a relationship.
    OnNationalRegistry,
    /// Telemarketing to a number on a state's do-not-call list, likewise.
    OnStateRegistry,
    /// Telemarketing while a registry copy was older than 31 days.
    RegistryStale,
    /// The Reassigned Numbers Database says the number was disconnected after its consent.
    NumberReassigned,
    /// Ended through the provider because the number opted out while it was live.
    OptedOutDuringCall,
    /// The patient's records were erased while it waited.
    RecordsErased,
    /// The request to the provider could not be built (a missing number or secret).
    ConfigurationError,
    /// The provider refused the call, with its message.
    ProviderRejected(String),
    /// The provider refused the API key, with the HTTP status.
    ProviderUnauthorized(u16),
    /// The provider gave no usable answer, with the last error.
    ProviderUnavailable(String),
    /// The provider does not know a call it gave us the id of.
    ProviderCallNotFound,
}

impl EndedReason {
    /// The reason's code, without any detail.
    pub fn code(&self) -> &'static str {
        match self {
            EndedReason::CancelledBeforeDialing => "cancelled-before-dialing",
            EndedReason::CampaignCancelled => "campaign-cancelled",
            EndedReason::CampaignEnded => "campaign-ended",
            EndedReason::OnDoNotCallList => "on-do-not-call-list",
            EndedReason::VoiceAgentNotFound => "voice-agent-not-found",
            EndedReason::NoCallingHoursAhead => "no-calling-hours-ahead",
            EndedReason::NoConsent => "no-consent",
            EndedReason::DebtIdRequired => "debt-id-required",
            EndedReason::UnknownCalleeLocation => "unknown-callee-location",
            EndedReason::ExemptionConditions => "healthcare-exemption-conditions",
            EndedReason::OnNationalRegistry => "on-national-dnc",
            EndedReason::OnStateRegistry => "on-state-dnc",
            EndedReason::RegistryStale => "registry-stale",
            EndedReason::NumberReassigned => "number-reassigned",
            EndedReason::OptedOutDuringCall => "opted-out-during-call",
            EndedReason::RecordsErased => "records-erased",
            EndedReason::ConfigurationError => "callops-configuration-error",
            EndedReason::ProviderRejected(_) => "vapi-rejected",
            EndedReason::ProviderUnauthorized(_) => "vapi-unauthorized",
            EndedReason::ProviderUnavailable(_) => "vapi-unavailable",
            EndedReason::ProviderCallNotFound => "vapi-call-not-found",
        }
    }

    /// The text kept in `endedReason`: the code, and the detail after `: `.
    pub fn text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for EndedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndedReason::ProviderRejected(message) => write!(f, "{}: {message}", self.code()),
            EndedReason::ProviderUnauthorized(status) => write!(f, "{}: HTTP {status}", self.code()),
            EndedReason::ProviderUnavailable(error) => write!(f, "{}: {error}", self.code()),
            _ => f.write_str(self.code()),
        }
    }
}

impl CallLog {
    /// Moves the status to `next` when the lifecycle allows it.
    pub(crate) fn advance(&mut self, next: CallStatus) -> Result<(), DomainError> {
        self.status = self.status.transition(next)?;
        // A call that ended has no live audio: its listen link goes with it.
        if self.status.is_terminal() {
            self.listen_url = None;
        }
        Ok(())
    }

    /// Ends the call in the terminal status `status` when the lifecycle allows it.
    pub(crate) fn end(&mut self, status: CallStatus) -> Result<(), DomainError> {
        if !status.is_terminal() {
            return Err(DomainError::conflict(crate::error::Conflict::InvalidTransition, format!("{status} does not end a call")));
        }
        self.advance(status)
    }

    fn touched(mut self, now: DateTime<Utc>) -> CallLog {
        self.updated_at = time::to_millis(now).max(self.updated_at);
        self
    }

    /// The dialer takes a waiting attempt: SCHEDULED -> DIALING.
    pub fn claim(&self, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        if self.status != CallStatus::Scheduled {
            return Err(DomainError::conflict(crate::error::Conflict::InvalidTransition, format!("a {} call cannot be claimed", self.status)));
        }
        let mut next = self.clone();
        next.advance(CallStatus::Dialing)?;
        Ok(next.touched(now))
    }

    /// The provider took the call: its id, IN_PROGRESS, the start, and the
    /// listen link when one was asked for (a link that is not a
    /// `wss:`/`https:` URL is left out). What a report already wrote
    /// stands; `None` when nothing changes.
    pub fn placed(&self, vapi_call_id: &str, started_at: DateTime<Utc>, listen_url: Option<&str>, now: DateTime<Utc>) -> Option<CallLog> {
        let mut next = self.clone();
        if next.vapi_call_id.is_none() {
            next.vapi_call_id = Some(vapi_call_id.to_string());
        }
        if next.status == CallStatus::Dialing {
            next.advance(CallStatus::InProgress).ok()?;
        }
        if let Some(url) = listen_url.filter(|url| crate::limits::is_live_url(url))
            && next.status == CallStatus::InProgress
            && next.listen_url.is_none()
            && next.compliance.as_ref().and_then(|c| c.monitor).is_some_and(|m| m.listen)
        {
            next.listen_url = Some(url.to_string());
        }
        if next.call_started_at.is_none() {
            next.call_started_at = Some(time::to_millis(started_at));
        }
        (next != *self).then(|| next.touched(now))
    }

    /// Back in the queue at `at`: a waiting call moves, a claimed one that
    /// was not placed gives its claim back (DIALING -> SCHEDULED).
    pub fn requeue(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        let mut next = self.clone();
        if next.status != CallStatus::Scheduled {
            next.advance(CallStatus::Scheduled)?;
        }
        next.scheduled_at = Some(time::to_millis(at));
        Ok(next.touched(now))
    }

    /// A waiting call of a paused campaign, held: it keeps waiting with no
    /// time (so nothing dials it, and it plans no attempt at its number)
    /// until the campaign resumes and plans it again ([`CallLog::is_held`]).
    pub fn hold(&self, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        if self.status != CallStatus::Scheduled || self.campaign_id.is_none() {
            return Err(DomainError::conflict(crate::error::Conflict::NotScheduled, format!("call {} is not a campaign call that waits", self.id)));
        }
        let mut next = self.clone();
        next.scheduled_at = None;
        Ok(next.touched(now))
    }

    /// Whether the call waits, held by its paused campaign ([`CallLog::hold`]).
    pub fn is_held(&self) -> bool {
        self.status == CallStatus::Scheduled && self.scheduled_at.is_none() && self.campaign_id.is_some() && self.attempt >= 1
    }

    /// A waiting call that will never be dialed: CANCELLED, with why.
    pub fn cancel(&self, reason: EndedReason, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        if self.status != CallStatus::Scheduled {
            return Err(DomainError::conflict(
                crate::error::Conflict::NotCancellable,
                format!("call {} is {} and can no longer be cancelled", self.id, self.status),
            ));
        }
        let mut next = self.clone();
        next.advance(CallStatus::Cancelled)?;
        next.ended_reason = Some(reason.text());
        Ok(next.touched(now))
    }

    /// A claimed attempt taken back before it was placed (an opt-out or a
    /// revocation landed after the claim): CANCELLED, with why, no outcome.
    pub fn withdraw(&self, reason: EndedReason, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        if self.status != CallStatus::Dialing || self.vapi_call_id.is_some() {
            return Err(DomainError::conflict(
                crate::error::Conflict::NotWithdrawable,
                format!("call {} is {} and was placed or not claimed", self.id, self.status),
            ));
        }
        let mut next = self.clone();
        next.advance(CallStatus::Cancelled)?;
        next.ended_reason = Some(reason.text());
        Ok(next.touched(now))
    }

    /// The attempt failed for good: FAILED, with why. A call that was
    /// placed (or claimed) also gets the FAILED outcome; one that never left
    /// the queue has no outcome. `None` when the call has already ended.
    pub fn fail(&self, reason: EndedReason, now: DateTime<Utc>) -> Option<CallLog> {
        let mut next = self.clone();
        let was_waiting = self.status == CallStatus::Scheduled;
        next.advance(CallStatus::Failed).ok()?;
        if !was_waiting {
            next.outcome = Some(CallOutcome::Failed);
        }
        next.set_text(CallText::EndedReason, &reason.text());
        Some(next.touched(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::call;
    use CallStatus::*;

    #[test]
    fn only_a_waiting_campaign_call_is_held_and_a_held_call_plans_no_attempt() {
        let now = time::parse("2024-01-15T17:00:00Z").unwrap();
        let mut waiting = call(Scheduled);
        waiting.scheduled_at = Some(now);
        assert!(waiting.hold(now).is_err(), "a call of no campaign is not held");
        waiting.campaign_id = Some("camp".into());
        let held = waiting.hold(now).unwrap();
        assert!(held.is_held() && !waiting.is_held());
        assert_eq!((held.status, held.scheduled_at), (Scheduled, None));
        assert!(call(Dialing).hold(now).is_err(), "a claimed call goes on");
        let again = held.requeue(now + chrono::Duration::hours(1), now).unwrap();
        assert!(!again.is_held() && again.scheduled_at == Some(now + chrono::Duration::hours(1)));
    }

    #[test]
    fn terminal_statuses_never_reopen() {
        for from in CallStatus::ALL.iter().filter(|s| s.is_terminal()) {
            for to in CallStatus::ALL {
                assert!(!from.can_become(*to), "{from} must not become {to}");
                assert!(from.transition(*to).is_err());
            }
        }
    }

    #[test]
    fn the_lifecycle_moves_forward() {
        assert!(Scheduled.can_become(Dialing));
        assert!(Scheduled.can_become(Cancelled));
        assert!(!Scheduled.can_become(InProgress), "a call is dialed before it is in progress");
        assert!(!Scheduled.can_become(Completed));
        assert!(Dialing.can_become(InProgress));
        assert!(Dialing.can_become(Scheduled), "no free slot puts the attempt back in the queue");
        assert!(Dialing.can_become(Failed));
        assert!(Dialing.can_become(Completed), "a lost in-progress report still ends the call");
        assert!(!Dialing.can_become(Dialing), "a second trigger must not dial again");
        assert!(!InProgress.can_become(Dialing));
        assert!(!InProgress.can_become(Scheduled));
        for end in [Completed, Missed, Voicemail, Failed, Cancelled] {
            assert!(InProgress.can_become(end));
            assert!(end.stage() > InProgress.stage());
        }
        assert_eq!(
            Completed.transition(InProgress),
            Err(DomainError::conflict(crate::error::Conflict::InvalidTransition, "a COMPLETED call cannot become IN_PROGRESS"))
        );
    }

    #[test]
    fn each_operation_goes_through_the_lifecycle() {
        let now = time::parse("2024-07-27T21:05:00Z").unwrap();
        let claimed = call(Scheduled).claim(now).unwrap();
        assert_eq!((claimed.status, claimed.updated_at), (Dialing, now));
        assert!(claimed.claim(now).is_err(), "claimed once");
        let placed = claimed.placed("v1", now, None, now).unwrap();
        assert_eq!((placed.status, placed.vapi_call_id.as_deref(), placed.call_started_at), (InProgress, Some("v1"), Some(now)));
        assert_eq!(placed.placed("v2", now, None, now), None, "what was recorded stands");
        assert!(placed.requeue(now, now).is_err(), "a placed call does not go back");
        let back = claimed.requeue(now + chrono::Duration::minutes(5), now).unwrap();
        assert_eq!((back.status, back.scheduled_at), (Scheduled, Some(now + chrono::Duration::minutes(5))));
        let cancelled = back.cancel(EndedReason::CancelledBeforeDialing, now).unwrap();
        assert_eq!((cancelled.status, cancelled.ended_reason.as_deref()), (Cancelled, Some("cancelled-before-dialing")));
        assert!(matches!(
            placed.cancel(EndedReason::CancelledBeforeDialing, now),
            Err(DomainError::Conflict { kind: crate::error::Conflict::NotCancellable, .. })
        ));
        let failed = placed.fail(EndedReason::ProviderRejected("bad number".into()), now).unwrap();
        assert_eq!((failed.status, failed.outcome, failed.ended_reason.as_deref()), (Failed, Some(CallOutcome::Failed), Some("vapi-rejected: bad number")));
        assert_eq!(failed.fail(EndedReason::ProviderCallNotFound, now), None, "an ended call stays ended");
        let unplaced = call(Scheduled).fail(EndedReason::VoiceAgentNotFound, now).unwrap();
        assert_eq!((unplaced.status, unplaced.outcome), (Failed, None), "never placed: no outcome");
    }

    #[test]
    fn reasons_keep_their_stored_text() {
        assert_eq!(EndedReason::ProviderUnauthorized(401).text(), "vapi-unauthorized: HTTP 401");
        assert_eq!(EndedReason::OnDoNotCallList.text(), "on-do-not-call-list");
        assert_eq!(EndedReason::ProviderUnavailable("Vapi failed (HTTP 503)".into()).code(), "vapi-unavailable");
    }
}
