//! An opt-out, from any channel, honoured at once: the number goes on the
//! tenant's do-not-call list (with who, how and why in its history), every
//! consent on record for it is revoked, every call waiting for it (a
//! scheduled call, a campaign's, a retry, a follow-up) is cancelled, and
//! every call to it already ringing or talking is ended through Vapi, all
//! before the request answers. A dial claimed already asks again just
//! before it places the call, and once more when Vapi has taken it ([`crate::place`]).

use callops_aws::store::{CallQueryStore, ConsentStore, DoNotCallStore, LedgerStore};
use callops_aws::{
    CallQuery, PageRequest,
    store::{DoNotCallChange, DoNotCallEntry},
};
use callops_domain::{
    CallStatus, DomainError,
    call::lifecycle::EndedReason,
    caller::{Actor, Caller},
    consent::{Channel, Consent, Revocation},
    records::audit::{self, Action, AuditEntry},
    time::{self, Span},
};
use callops_vapi::api::EndCall;
use chrono::{DateTime, Utc};

use crate::Calls;

/// An opt-out to honour.
#[derive(Debug, Clone)]
pub struct OptOut {
    /// In the list's form ([`callops_domain::phone::do_not_call_key`]).
    pub number: String,
    pub channel: Channel,
    pub source: Option<String>,
    pub reason: Option<String>,
    pub by: Actor,
}

/// What honouring an opt-out did.
#[derive(Debug, Clone)]
pub struct OptedOut {
    pub entry: DoNotCallEntry,
    /// The number was not on the list before.
    pub added: bool,
    pub revoked_consents: usize,
    pub cancelled_calls: usize,
    /// The calls to the number that were live (dialing or in progress) and were ended through Vapi.
    pub ended_calls: Vec<String>,
}

/// What honouring an opt-out did to what was on record for the number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Honoured {
    pub revoked_consents: usize,
    pub cancelled_calls: usize,
    pub ended_calls: Vec<String>,
}

/// How far back a live call to a number is looked for: longer than any call lasts.
const LIVE_WITHIN: chrono::Duration = chrono::Duration::hours(13);

impl Calls {
    /// Lists the number (history kept), then revokes its consents and
    /// cancels its waiting calls: [`Calls::honour_opt_out`].
    pub async fn opt_out(&self, caller: &Caller, opt_out: OptOut, now: DateTime<Utc>) -> Result<OptedOut, DomainError> {
        let org_id = caller.org_id.as_str();
        let change = DoNotCallChange {
            at: time::to_millis(now),
            action: "added".into(),
            channel: Some(opt_out.channel),
            source: opt_out.source.clone(),
            reason: opt_out.reason.clone(),
            by: opt_out.by.clone(),
        };
        let audit = AuditEntry::new(caller, Action::DoNotCallAdded, &opt_out.number, audit::changes(None::<&DoNotCallChange>, &change), now);
        let (entry, added) = self.store.add_do_not_call(org_id, &opt_out.number, &change, &audit).await?;
        let done = self.honour_opt_out(caller, &opt_out, now).await?;
        tracing::info!(
            org_id,
            channel = opt_out.channel.as_str(),
            revoked_consents = done.revoked_consents,
            cancelled_calls = done.cancelled_calls,
            ended_calls = done.ended_calls.len(),
            "opt-out honoured"
        );
        Ok(OptedOut { entry, added, revoked_consents: done.revoked_consents, cancelled_calls: done.cancelled_calls, ended_calls: done.ended_calls })
    }

    /// For a number now on the list: revokes every consent on record for it,
    /// cancels every call waiting for it and ends every live call to it.
    pub async fn honour_opt_out(&self, caller: &Caller, opt_out: &OptOut, now: DateTime<Utc>) -> Result<Honoured, DomainError> {
        let org_id = caller.org_id.as_str();
        let state = self.store.number_state(org_id, &opt_out.number).await?;
        let revocation = Revocation {
            at: time::to_millis(now),
            channel: opt_out.channel,
            reason: Some(opt_out.reason.clone().unwrap_or_else(|| "opted out of calls".into())),
            by: opt_out.by.clone(),
        };
        let mut revoked = 0;
        for consent in state.consents.iter().filter(|c| c.revoked.is_none()) {
            let revoked_one = Consent { revoked: Some(revocation.clone()), ..consent.clone() };
            let audit = AuditEntry::of_change(caller, Action::ConsentRevoked, &consent.id, Some(consent), &revoked_one, now);
            match self.store.revoke_consent(consent, &revocation, &audit).await {
                Ok(_) => revoked += 1,
                // Revoked by someone else meanwhile: it is revoked all the same.
                Err(DomainError::Conflict { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let waiting: Vec<String> = state.ledger.planned.iter().map(|p| p.call_id.clone()).collect();
        let cancelled = self.cancel_waiting(caller, waiting, EndedReason::OnDoNotCallList, now).await?;
        let ended = self.end_live_calls(org_id, &opt_out.number, now).await?;
        Ok(Honoured { revoked_consents: revoked, cancelled_calls: cancelled, ended_calls: ended })
    }

    /// Ends through Vapi every call to `number` that is dialing or in
    /// progress (one whose dial Vapi has not answered yet is ended by the
    /// dialer when it does). Returns the ids of the calls ended. A call Vapi
    /// cannot end now is logged and left to end as it will.
    pub async fn end_live_calls(&self, org_id: &str, number: &str, now: DateTime<Utc>) -> Result<Vec<String>, DomainError> {
        let query = CallQuery::ByNumber(number.to_string());
        let request = PageRequest { window: Span { start: Some(now - LIVE_WITHIN), end: None }, newest_first: true, ..PageRequest::new(&query, 100) };
        let page = self.store.query_calls(org_id, &request).await?;
        let mut ended = Vec::new();
        for call in page.items.iter().filter(|c| matches!(c.status, CallStatus::Dialing | CallStatus::InProgress)) {
            let Some(vapi_id) = &call.vapi_call_id else { continue };
            match self.vapi.end_call(vapi_id).await {
                Ok(EndCall::Ended) => ended.push(call.id.to_string()),
                Ok(EndCall::AlreadyEnded | EndCall::NotFound) => {}
                Err(err) => tracing::error!(call_id = %call.id, error = %err, "a live call to a number that opted out could not be ended through Vapi"),
            }
        }
        Ok(ended)
    }
}
