//! An opt-out, from any channel, honoured at once: the number goes on the
//! tenant's do-not-call list (with who, how and why in its history), every
//! consent on record for it is revoked, and every call waiting for it (a
//! scheduled call, a campaign's, a retry, a follow-up) is cancelled, all
//! before the request answers. A dial claimed already asks again just
//! before it places the call ([`crate::place`]).

use callops_aws::store::{DoNotCallChange, DoNotCallEntry};
use callops_domain::{
    DomainError,
    audit::{self, Action, AuditEntry},
    caller::{Actor, Caller},
    consent::{Channel, Consent, Revocation},
    lifecycle::EndedReason,
    time,
};
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
}

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
        let (revoked_consents, cancelled_calls) = self.honour_opt_out(caller, &opt_out, now).await?;
        tracing::info!(org_id, channel = opt_out.channel.as_str(), revoked_consents, cancelled_calls, "opt-out honoured");
        Ok(OptedOut { entry, added, revoked_consents, cancelled_calls })
    }

    /// For a number now on the list: revokes every consent on record for it
    /// and cancels every call waiting for it. Returns how many of each.
    pub async fn honour_opt_out(&self, caller: &Caller, opt_out: &OptOut, now: DateTime<Utc>) -> Result<(usize, usize), DomainError> {
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
        Ok((revoked, cancelled))
    }
}
