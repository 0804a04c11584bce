//! The tenant's do-not-call list: numbers that are never dialed, whether a
//! patient asked during a call (the webhook adds them) or staff added them;
//! and the times a patient said not to call, which collection calls keep to.

use callops_aws::store::DoNotCallChange;
use callops_aws::store::{AuditStore, DoNotCallStore, LedgerStore};
use callops_domain::{
    DomainError,
    consent::Channel,
    phone,
    placement::clock::{InconvenientTime, MAX_INCONVENIENT_TIMES},
    records::audit::{self, Action, AuditEntry},
};
use callops_http::{ApiError, Caller, integer_param, json, json_body, path_param, query_param};
use callops_service::opt_out::OptOut;
use chrono::Utc;
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::Outbound;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddRequest {
    phone_number: String,
    #[serde(default)]
    reason: Option<String>,
    /// How the opt-out came in (default `api`).
    #[serde(default)]
    channel: Option<String>,
    /// Where (the practice's words: "front desk", "letter of 3 May").
    #[serde(default)]
    source: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Added {
    entry: callops_aws::store::DoNotCallEntry,
    cancelled_calls: usize,
    revoked_consents: usize,
    /// The calls to the number that were ringing or talking, ended through Vapi.
    ended_calls: Vec<String>,
}

#[derive(Serialize)]
struct History {
    history: Vec<callops_aws::store::DoNotCallChange>,
}

/// The number of a do-not-call path, read as the list keeps it (so an entry
/// whose number does not normalise, one a patient's call put there, can be reached too).
fn listed_number(req: &Request) -> Result<String, DomainError> {
    let sent = path_param(req, "phoneNumber").unwrap_or_default();
    phone::do_not_call_key(&sent)
        .ok_or_else(|| phone::normalize(&sent).err().unwrap_or_else(|| DomainError::invalid("invalid_phone_number", "not a phone number")))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entries {
    entries: Vec<callops_aws::store::DoNotCallEntry>,
    next_cursor: Option<String>,
}

impl Outbound {
    /// An opt-out from any channel: the number listed (its history kept),
    /// its consents revoked and its waiting calls cancelled before this
    /// answers. 201 when the number is new to the list, 200 when it was on it already.
    pub(crate) async fn add_do_not_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let request: AddRequest = json_body(req)?;
        let number = phone::normalize(&request.phone_number)?;
        let reason = callops_domain::limits::optional_text(request.reason, 500, "invalid_reason", "reason")?;
        let source = callops_domain::limits::optional_text(request.source, 200, "invalid_source", "source")?;
        let channel = request.channel.as_deref().map(Channel::parse).transpose()?.unwrap_or(Channel::Api);
        let opt_out = OptOut { number: number.into_string(), channel, source, reason, by: caller.actor.clone() };
        let done = self.calls.opt_out(caller, opt_out, Utc::now()).await?;
        let body = Added { entry: done.entry, cancelled_calls: done.cancelled_calls, revoked_consents: done.revoked_consents, ended_calls: done.ended_calls };
        Ok(json(if done.added { StatusCode::CREATED } else { StatusCode::OK }, &body))
    }

    /// Takes a number off the list; `reason` (a query parameter) is required
    /// and kept in the number's history with who removed it.
    pub(crate) async fn remove_do_not_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = listed_number(req)?;
        let reason = callops_domain::limits::optional_text(query_param(req, "reason"), 500, "invalid_reason", "reason")?
            .ok_or_else(|| DomainError::invalid("reason_required", "say why the number comes off the list: ?reason=..."))?;
        let now = Utc::now();
        let change = DoNotCallChange {
            at: callops_domain::time::to_millis(now),
            action: "removed".into(),
            channel: None,
            source: None,
            reason: Some(reason),
            by: caller.actor.clone(),
        };
        let audit = AuditEntry::new(caller, Action::DoNotCallRemoved, &number, audit::changes(None::<&DoNotCallChange>, &change), now);
        self.store.remove_do_not_call(&caller.org_id, &number, &change, &audit).await?;
        Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).expect("a valid response"))
    }

    /// Every add and removal of a number, with who, when, how and why.
    pub(crate) async fn do_not_call_history(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = listed_number(req)?;
        let history = self.store.do_not_call_history(&caller.org_id, &number).await?;
        self.store.record_audit(&[AuditEntry::new(caller, Action::NumberRead, &number, audit::fields_read(&["doNotCallHistory"]), Utc::now())]).await?;
        Ok(json(StatusCode::OK, &History { history }))
    }

    pub(crate) async fn list_do_not_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let page = self.store.list_do_not_call(&caller.org_id, limit, query_param(req, "cursor").as_deref()).await?;
        let now = Utc::now();
        let reads: Vec<AuditEntry> =
            page.items.iter().map(|entry| AuditEntry::new(caller, Action::NumberRead, &entry.phone_number, audit::fields_read(&["doNotCall"]), now)).collect();
        self.store.record_audit(&reads).await?;
        Ok(json(StatusCode::OK, &Entries { entries: page.items, next_cursor: page.next_cursor }))
    }
}

/// `PUT /api/numbers/{phoneNumber}/inconvenient-times`: the times a patient said not to call.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InconvenientTimesRequest {
    times: Vec<InconvenientTimeInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InconvenientTimeInput {
    #[serde(default)]
    days: Vec<callops_domain::agent::Day>,
    start: String,
    end: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InconvenientTimes {
    phone_number: String,
    times: Vec<InconvenientTime>,
}

impl Outbound {
    pub(crate) fn path_number(req: &Request) -> Result<String, DomainError> {
        Ok(phone::normalize(&path_param(req, "phoneNumber").unwrap_or_default())?.into_string())
    }

    pub(crate) async fn inconvenient_times(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = Self::path_number(req)?;
        let times = self.store.ledger(&caller.org_id, &number).await?.inconvenient;
        self.store.record_audit(&[AuditEntry::new(caller, Action::NumberRead, &number, audit::fields_read(&["inconvenientTimes"]), Utc::now())]).await?;
        Ok(json(StatusCode::OK, &InconvenientTimes { phone_number: number, times }))
    }

    /// Replaces a number's inconvenient times; collection calls keep to them from then on.
    pub(crate) async fn put_inconvenient_times(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = Self::path_number(req)?;
        let request: InconvenientTimesRequest = json_body(req)?;
        if request.times.len() > MAX_INCONVENIENT_TIMES {
            return Err(DomainError::invalid("invalid_inconvenient_times", format!("at most {MAX_INCONVENIENT_TIMES} times")).into());
        }
        let clock = |text: &str| {
            callops_domain::agent::parse_clock(text)
                .ok_or_else(|| DomainError::invalid("invalid_inconvenient_times", "start and end are times of day, HH:MM (00:00 to 24:00)"))
        };
        let times = request.times.into_iter().map(|t| InconvenientTime::new(t.days, clock(&t.start)?, clock(&t.end)?)).collect::<Result<Vec<_>, _>>()?;
        let before = self.store.ledger(&caller.org_id, &number).await?.inconvenient;
        let audit = AuditEntry::new(
            caller,
            Action::InconvenientTimesSet,
            &number,
            audit::changes(Some(&serde_json::json!({"times": before})), &serde_json::json!({"times": times})),
            Utc::now(),
        );
        self.store.set_inconvenient_times(&caller.org_id, &number, &times, &audit).await?;
        Ok(json(StatusCode::OK, &InconvenientTimes { phone_number: number, times }))
    }
}
