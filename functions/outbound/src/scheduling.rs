//! `POST /api/outbound/schedule`, `GET /api/outbound/scheduled` and the
//! cancel and change of one waiting call: each parses its input into the
//! use case's types ([`callops_service::schedule`]), calls it, and shapes
//! the answer.

use std::collections::BTreeMap;

use callops_aws::store::{AuditStore, CallQueryStore};
use callops_aws::{CallQuery, PageRequest};
use callops_domain::{
    CallLog, CallStatus, CallType, DomainError,
    call::check_variables,
    idempotency::{IdempotencyKey, fingerprint},
    limits::{self, optional_text},
    phone,
    placement::callee::Whereabouts,
};
use callops_http::{ApiError, Caller, id_param, integer_param, json, json_body, paging_binding, query_param, window::parse_bounds};
use callops_service::schedule::{CallToSchedule, WaitingCallChange};
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::Outbound;

/// The header a client sends to make a retried request safe.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Set on a response that repeats an earlier one for the same key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// `POST /api/outbound/schedule`, as API.md gives it, plus the call's
/// prompt variables and the choice to move a time into calling hours.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleRequest {
    pub phone_number: String,
    pub call_type: String,
    pub scheduled_at: String,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub voice_agent_id: Option<String>,
    #[serde(default)]
    pub customer_name: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Where the contact's record puts them (an IANA zone, a US state): the
    /// call fits these as well as what the number says.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// The debt an `OUTBOUND_DEBT` call is about (Regulation F counts per debt).
    #[serde(default)]
    pub debt_id: Option<String>,
    /// Move a time outside the agent's calling hours to the next opening
    /// instead of refusing it.
    #[serde(default)]
    pub move_to_calling_hours: bool,
    /// Schedule it even when a call of the same type to the number waits
    /// within ten minutes of it (otherwise `409 duplicate_call`).
    #[serde(default)]
    pub allow_duplicate: bool,
}

impl TryFrom<ScheduleRequest> for CallToSchedule {
    type Error = DomainError;

    fn try_from(request: ScheduleRequest) -> Result<Self, DomainError> {
        let number = phone::normalize(&request.phone_number)?;
        let call_type = CallType::parse_outbound(&request.call_type)?;
        let at = parse_time(&request.scheduled_at)?;
        let purpose = optional_text(request.purpose, 500, "invalid_purpose", "purpose")?;
        let notes = optional_text(request.notes, 2_000, "invalid_notes", "notes")?;
        let customer_name = optional_text(request.customer_name, 200, "invalid_customer_name", "customerName")?;
        check_variables(&request.variables)?;
        let whereabouts = Whereabouts::parse(request.time_zone.as_deref(), request.state.as_deref(), request.debt_id.as_deref())?;
        Ok(CallToSchedule {
            number,
            call_type,
            at,
            purpose,
            notes,
            customer_name,
            campaign_id: request.campaign_id,
            agent_id: request.voice_agent_id,
            variables: request.variables,
            whereabouts,
            move_to_calling_hours: request.move_to_calling_hours,
            allow_duplicate: request.allow_duplicate,
        })
    }
}

/// `PATCH /api/outbound/scheduled/{id}`: what may change while a call waits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RescheduleRequest {
    pub scheduled_at: Option<String>,
    #[serde(default)]
    pub move_to_calling_hours: bool,
    pub purpose: Option<String>,
    pub customer_name: Option<String>,
    pub notes: Option<String>,
    pub variables: Option<BTreeMap<String, String>>,
}

impl TryFrom<RescheduleRequest> for WaitingCallChange {
    type Error = DomainError;

    fn try_from(change: RescheduleRequest) -> Result<Self, DomainError> {
        let present = |value: Option<String>, max, code, what| -> Result<Option<Option<String>>, DomainError> {
            value.map(|v| optional_text(Some(v), max, code, what)).transpose()
        };
        if let Some(variables) = &change.variables {
            check_variables(variables)?;
        }
        Ok(WaitingCallChange {
            at: change.scheduled_at.as_deref().map(parse_time).transpose()?,
            move_to_calling_hours: change.move_to_calling_hours,
            purpose: present(change.purpose, 500, "invalid_purpose", "purpose")?,
            notes: present(change.notes, 2_000, "invalid_notes", "notes")?,
            customer_name: present(change.customer_name, 200, "invalid_customer_name", "customerName")?,
            variables: change.variables,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScheduledCalls {
    calls: Vec<CallLog>,
    next_cursor: Option<String>,
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, DomainError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| DomainError::invalid("invalid_scheduled_at", format!("scheduledAt {text:?} is not an RFC 3339 time")))
}

/// The request's `Idempotency-Key` ([`IdempotencyKey`]), with the
/// fingerprint of `request` that tells its retries from another request.
pub(crate) fn idempotency<T: Serialize>(req: &Request, request: &T) -> Result<Option<(IdempotencyKey, String)>, DomainError> {
    let key = IdempotencyKey::from_header_values(req.headers().get_all(IDEMPOTENCY_HEADER).iter().map(|v| v.as_bytes()))?;
    Ok(key.map(|key| (key, fingerprint(request))))
}

/// A 201 with the body; marked when it repeats an earlier answer.
pub(crate) fn created<T: Serialize>(body: &T, replayed: bool) -> Response<Body> {
    let mut response = json(StatusCode::CREATED, body);
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, lambda_http::http::HeaderValue::from_static("true"));
    }
    response
}

impl Outbound {
    /// `GET /api/compliance/check`: what the dialer would decide, nothing stored or placed.
    pub(crate) async fn compliance_check(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let required = |name: &str, code: &'static str| query_param(req, name).ok_or_else(|| DomainError::invalid(code, format!("{name} is required")));
        let number = phone::normalize(&required("phoneNumber", "invalid_phone_number")?)?;
        let call_type = CallType::parse_outbound(&required("callType", "invalid_call_type")?)?;
        let now = Utc::now();
        let at = match query_param(req, "at") {
            Some(text) => parse_time(&text)
                .map_err(|_| DomainError::invalid("invalid_at", format!("at must be an RFC 3339 time, {}", callops_domain::time::SUPPORTED_TEXT)))?,
            None => now,
        };
        let whereabouts =
            Whereabouts::parse(query_param(req, "timeZone").as_deref(), query_param(req, "state").as_deref(), query_param(req, "debtId").as_deref())?;
        let ask = callops_service::schedule::ComplianceAsk { number: number.clone(), call_type, at, agent_id: query_param(req, "voiceAgentId"), whereabouts };
        let answer = self.calls.compliance_check(caller, ask, now).await?;
        // The answer names the consent on record for the number: a read of what is on record for it.
        let read = callops_domain::records::audit::fields_read(&["consents", "doNotCall", "ledger"]);
        self.store
            .record_audit(&[callops_domain::records::audit::AuditEntry::new(caller, callops_domain::records::audit::Action::NumberRead, &number, read, now)])
            .await?;
        Ok(json(StatusCode::OK, &answer))
    }

    pub(crate) async fn schedule_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let request: ScheduleRequest = json_body(req)?;
        let key = idempotency(req, &request)?;
        let scheduled = match self.calls.schedule_call(caller, request.try_into()?, key, Utc::now()).await {
            Err(DomainError::ConflictExplained { kind: callops_domain::error::Conflict::DuplicateCall, message, mut details }) => {
                // The call it repeats, as the caller's role may see it: a read, on the record. A caller
                // narrowed to other agents learns that a call waits, and when, but not which call.
                let existing = details.get("existingCallId").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
                match self.calls.caller_call(caller, &existing).await {
                    Ok(stored) => {
                        let (calls, reads) = callops_domain::records::audit::answer_calls(caller, vec![stored.call], Utc::now());
                        self.store.record_audit(&reads).await?;
                        details.insert("existingCall".into(), serde_json::to_value(&calls[0]).unwrap_or_default());
                    }
                    Err(_) => {
                        details.remove("existingCallId");
                    }
                }
                return Err(DomainError::ConflictExplained { kind: callops_domain::error::Conflict::DuplicateCall, message, details }.into());
            }
            other => other?,
        };
        if !scheduled.replayed {
            return Ok(created(&scheduled.call, false));
        }
        // A replay answers the call as it is now: a read, answered as the caller's role may see it, and on the record.
        let (mut calls, reads) = callops_domain::records::audit::answer_calls(caller, vec![scheduled.call], Utc::now());
        self.store.record_audit(&reads).await?;
        Ok(created(&calls.remove(0), true))
    }

    pub(crate) async fn cancel_scheduled(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let stored = self.calls.caller_call(caller, &id_param(req, "id", "call")?).await?;
        Ok(json(StatusCode::OK, &self.calls.cancel_call(caller, stored, Utc::now()).await?))
    }

    pub(crate) async fn reschedule(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let change: RescheduleRequest = json_body(req)?;
        let id = id_param(req, "id", "call")?;
        Ok(json(StatusCode::OK, &self.calls.change_waiting_call(caller, &id, change.try_into()?, Utc::now()).await?))
    }

    pub(crate) async fn list_scheduled(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let bounds = parse_bounds(query_param(req, "startDate").as_deref(), query_param(req, "endDate").as_deref(), query_param(req, "tz").as_deref())?;
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let cursor = query_param(req, "cursor");
        let agent_filter: Option<Vec<String>> = match query_param(req, "agentId") {
            Some(agent_id) if caller.may_see_agent(&agent_id) => Some(vec![agent_id]),
            Some(_) => Some(Vec::new()),
            None => caller.agent_ids.clone(),
        };
        let (query, only_status) = match query_param(req, "campaignId") {
            Some(campaign_id) if !limits::is_key_safe(&campaign_id) => {
                return Err(DomainError::invalid("invalid_campaign_id", "campaignId is not a campaign id").into());
            }
            Some(campaign_id) => (CallQuery::ByCampaign(campaign_id), Some(CallStatus::Scheduled)),
            None => (CallQuery::Scheduled, None),
        };
        let binding = paging_binding(req);
        let request = PageRequest {
            max_bytes: Some(callops_domain::records::export::MAX_PAGE_BYTES),
            window: bounds.span,
            cursor: cursor.as_deref(),
            only_agents: agent_filter.as_deref(),
            only_status,
            binding: &binding,
            ..PageRequest::new(&query, limit)
        };
        let page = self.store.query_calls(&caller.org_id, &request).await?;
        let (calls, reads) = callops_domain::records::audit::answer_calls(caller, page.items, Utc::now());
        self.store.record_audit(&reads).await?;
        Ok(json(StatusCode::OK, &ScheduledCalls { calls, next_cursor: page.next_cursor }))
    }
}
