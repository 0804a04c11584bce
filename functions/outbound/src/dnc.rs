//! The tenant's do-not-call list: numbers that are never dialed, whether a
//! patient asked during a call (the webhook adds them) or staff added them.

use callops_domain::{DomainError, phone};
use callops_http::{ApiError, Caller, integer_param, json, json_body, path_param, query_param};
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
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entries {
    entries: Vec<callops_aws::store::DoNotCallEntry>,
    next_cursor: Option<String>,
}

impl Outbound {
    /// 201 when the number is new to the list, 200 when it was on it already.
    pub(crate) async fn add_do_not_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let request: AddRequest = json_body(req)?;
        let number = phone::normalize(&request.phone_number)?;
        let reason = callops_domain::limits::optional_text(request.reason, 500, "invalid_reason", "reason")?;
        let (entry, added) = self.store.add_do_not_call(&caller.org_id, &number, reason.as_deref(), Utc::now()).await?;
        Ok(json(if added { StatusCode::CREATED } else { StatusCode::OK }, &entry))
    }

    /// The number is read as the list keeps it, so an entry whose number
    /// does not normalise (one a patient's call put there) can be removed too.
    pub(crate) async fn remove_do_not_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let sent = path_param(req, "phoneNumber").unwrap_or_default();
        let number = phone::do_not_call_key(&sent)
            .ok_or_else(|| phone::normalize(&sent).err().unwrap_or_else(|| DomainError::invalid("invalid_phone_number", "not a phone number")))?;
        self.store.remove_do_not_call(&caller.org_id, &number).await?;
        Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).expect("a valid response"))
    }

    pub(crate) async fn list_do_not_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let page = self.store.list_do_not_call(&caller.org_id, limit, query_param(req, "cursor").as_deref()).await?;
        Ok(json(StatusCode::OK, &Entries { entries: page.items, next_cursor: page.next_cursor }))
    }
}
