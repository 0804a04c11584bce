//! Scheduling one outbound call, listing the calls waiting to be dialed,
//! cancelling and moving them.
//!
//! The call and its schedule never disagree for long: a new call's schedule
//! is made before the call is stored (a schedule that fires for a call that
//! never got stored finds nothing to dial), a cancelled call's schedule is
//! removed after the call is marked (a schedule that still fires finds a
//! cancelled call), and a move that could not reach the scheduler is undone.

use std::collections::BTreeMap;

use callops_aws::{AlongWithCall, CallQuery, PageRequest, StoredCall, Window};
use callops_domain::{
    CallLog, CallStatus, CallType, DomainError, NewCall, VoiceAgent,
    agent::valid_agent_id,
    campaign::check_variables,
    limits, phone,
    schedule::{DialRequest, ScheduledDial, placement_time},
    time,
};
use callops_http::{ApiError, Caller, id_param, integer_param, json, json_body, paging_binding, query_param, window::parse_bounds};
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{Outbound, derived_id, fingerprint};

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
    /// Move a time outside the agent's calling hours to the next opening
    /// instead of refusing it.
    #[serde(default)]
    pub move_to_calling_hours: bool,
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScheduledCalls {
    calls: Vec<CallLog>,
    next_cursor: Option<String>,
}

/// Trims optional text and refuses it beyond `max` bytes.
pub(crate) fn text(value: Option<String>, max: usize, code: &'static str, what: &str) -> Result<Option<String>, DomainError> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > max => Err(DomainError::invalid(code, format!("{what} must be at most {max} bytes"))),
        other => Ok(other),
    }
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, DomainError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| DomainError::invalid("invalid_scheduled_at", format!("scheduledAt {text:?} is not an RFC 3339 time")))
}

/// The request's `Idempotency-Key`, checked: 1 to 255 characters of
/// visible ASCII, sent once (API Gateway joins a header sent twice with
/// commas, so a comma is refused too). A key that is there but not that is
/// refused, never dropped: dropped, the request would run as if it had
/// none, and a retry would make a second call.
pub(crate) fn idempotency_key(req: &Request) -> Result<Option<String>, DomainError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_HEADER).iter();
    let Some(value) = values.next() else { return Ok(None) };
    let refuse =
        || DomainError::invalid("invalid_idempotency_key", "Idempotency-Key must be sent once, as 1 to 255 characters of visible ASCII other than ','");
    if values.next().is_some() {
        return Err(refuse());
    }
    let key = value.as_bytes().trim_ascii();
    if key.is_empty() || key.len() > 255 || !key.iter().all(|b| b.is_ascii_graphic() && *b != b',') {
        return Err(refuse());
    }
    Ok(Some(String::from_utf8_lossy(key).into_owned()))
}

/// A 201 with the call; marked when it repeats an earlier answer.
pub(crate) fn created<T: Serialize>(body: &T, replayed: bool) -> Response<Body> {
    let mut response = json(StatusCode::CREATED, body);
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, lambda_http::http::HeaderValue::from_static("true"));
    }
    response
}

impl Outbound {
    pub(crate) async fn schedule_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let request: ScheduleRequest = json_body(req)?;
        let now = Utc::now();
        let key = idempotency_key(req)?;
        let print = fingerprint(&request);
        let call_id = match &key {
            Some(key) => {
                let id = derived_id(&["call", &caller.org_id, key]);
                if let Some(existing) = self.replay(caller, &id, &print).await? {
                    return Ok(created(&existing, true));
                }
                id
            }
            None => callops_domain::call::new_call_id(),
        };

        let call = self.new_scheduled_call(caller, request, call_id, now).await?;
        let at = call.scheduled_at.ok_or_else(|| DomainError::Unavailable(format!("scheduled call {} has no time", call.id)))?;
        let dial = ScheduledDial { request: DialRequest::for_call(&call), at };
        self.scheduler.schedule(&dial).await?;
        let also: Vec<AlongWithCall> = key.iter().map(|_| AlongWithCall::IdempotencyKey { fingerprint: print.clone() }).collect();
        match self.store.create_call_with(&call, &also).await {
            Ok(stored) => {
                tracing::info!(call_id = %call.id, agent_id = %call.voice_agent_id, number = %phone::mask(&call.phone_number), at = %time::format(&dial.at), "call scheduled");
                Ok(created(&stored.call, false))
            }
            // The same key won a race with this request: answer as it did.
            Err(DomainError::Conflict { .. }) if key.is_some() => match self.replay(caller, &call.id, &print).await? {
                Some(existing) => Ok(created(&existing, true)),
                None => Err(DomainError::Unavailable(format!("call {} conflicted but cannot be read", call.id)).into()),
            },
            Err(err) => {
                if let Err(cleanup) = self.scheduler.unschedule(&dial.request).await {
                    tracing::warn!(call_id = %call.id, error = %cleanup, "schedule of a call that was not stored is left; the dialer will find no call");
                }
                Err(err.into())
            }
        }
    }

    /// The call an earlier request with the same key created, when the key
    /// was used with the same body; `Conflict` when it came with another.
    async fn replay(&self, caller: &Caller, call_id: &str, print: &str) -> Result<Option<CallLog>, DomainError> {
        let Some(stored) = self.store.get_call(&caller.org_id, call_id).await? else { return Ok(None) };
        match self.store.request_fingerprint(&caller.org_id, call_id).await? {
            Some(earlier) if earlier == print => Ok(Some(stored.call)),
            _ => Err(DomainError::conflict("idempotency_key_reused", "this Idempotency-Key was used with a different request")),
        }
    }

    /// Checks a request in full and builds the call it asks for; nothing is stored.
    async fn new_scheduled_call(&self, caller: &Caller, request: ScheduleRequest, id: String, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        let number = phone::normalize(&request.phone_number)?;
        let call_type: CallType = request
            .call_type
            .parse()
            .map_err(|_| DomainError::invalid("invalid_call_type", format!("callType {:?} is not one of the OUTBOUND_* types", request.call_type)))?;
        if !call_type.is_outbound() {
            return Err(DomainError::invalid("invalid_call_type", "only OUTBOUND_* calls can be scheduled"));
        }
        let at = parse_time(&request.scheduled_at)?;
        let purpose = text(request.purpose, 500, "invalid_purpose", "purpose")?;
        let notes = text(request.notes, 2_000, "invalid_notes", "notes")?;
        let customer_name = text(request.customer_name, 200, "invalid_customer_name", "customerName")?;
        check_variables(&request.variables)?;
        let agent = self.resolve_agent(caller, request.voice_agent_id.as_deref()).await?;
        if let Some(campaign_id) = &request.campaign_id {
            self.open_campaign(caller, campaign_id).await?;
        }
        let at = placement_time(at, &agent, request.move_to_calling_hours, now)?;
        if self.store.is_on_do_not_call(&caller.org_id, &number).await? {
            return Err(on_do_not_call());
        }
        let mut call = CallLog::new(
            NewCall {
                org_id: caller.org_id.clone(),
                voice_agent_id: agent.id.clone(),
                phone_number: number,
                call_type,
                status: CallStatus::Scheduled,
                attempt: 1,
            },
            id,
            now,
        );
        call.scheduled_at = Some(at);
        call.call_purpose = purpose;
        call.call_notes = notes;
        call.customer_name = customer_name;
        call.campaign_id = request.campaign_id;
        call.variable_values = request.variables;
        Ok(call)
    }

    /// The agent a request names, or the tenant's only agent when it names none.
    pub(crate) async fn resolve_agent(&self, caller: &Caller, agent_id: Option<&str>) -> Result<VoiceAgent, DomainError> {
        match agent_id {
            Some(id) if !valid_agent_id(id) => Err(DomainError::invalid("unknown_agent", "voiceAgentId is not an agent id (letters, digits, - and _)")),
            Some(id) => self
                .store
                .get_agent(&caller.org_id, id)
                .await?
                .filter(|agent| caller.may_see_agent(&agent.id))
                .ok_or_else(|| DomainError::invalid("unknown_agent", format!("there is no voice agent {id:?}"))),
            None => {
                let mut agents: Vec<VoiceAgent> = self.store.list_agents(&caller.org_id).await?.into_iter().filter(|a| caller.may_see_agent(&a.id)).collect();
                match agents.len() {
                    1 => Ok(agents.remove(0)),
                    0 => Err(DomainError::invalid("unknown_agent", "this practice has no voice agent yet; create one first")),
                    _ => Err(DomainError::invalid("voice_agent_required", "this practice has several voice agents: name one in voiceAgentId")),
                }
            }
        }
    }

    /// A waiting call of the caller's, by the id in the path.
    async fn caller_call(&self, caller: &Caller, req: &Request) -> Result<StoredCall, DomainError> {
        let id = id_param(req, "id", "call")?;
        self.store
            .get_call(&caller.org_id, &id)
            .await?
            .filter(|stored| caller.may_see_agent(&stored.call.voice_agent_id))
            .ok_or(DomainError::NotFound { what: "call" })
    }

    pub(crate) async fn cancel_scheduled(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let stored = self.caller_call(caller, req).await?;
        let cancelled = self.cancel_call(stored, Utc::now()).await?;
        Ok(json(StatusCode::OK, &cancelled))
    }

    /// Marks a waiting call CANCELLED, then removes its schedule.
    pub(crate) async fn cancel_call(&self, mut stored: StoredCall, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        for _ in 0..3 {
            if stored.call.status != CallStatus::Scheduled {
                return Err(DomainError::conflict(
                    "not_cancellable",
                    format!("call {} is {} and can no longer be cancelled", stored.call.id, stored.call.status),
                ));
            }
            let mut next = stored.call.clone();
            next.status = CallStatus::Cancelled;
            next.ended_reason = Some("cancelled-before-dialing".into());
            next.updated_at = time::to_millis(now);
            match self.store.update_call(&stored, &next).await {
                Ok(written) => {
                    if let Err(err) = self.scheduler.unschedule(&DialRequest::for_call(&written.call)).await {
                        tracing::warn!(call_id = %next.id, error = %err, "schedule of a cancelled call is left; the dialer will not dial it");
                    }
                    return Ok(written.call);
                }
                Err(DomainError::Conflict { .. }) => {
                    stored = self.store.get_call(&next.org_id, &next.id).await?.ok_or(DomainError::NotFound { what: "call" })?;
                }
                Err(other) => return Err(other),
            }
        }
        Err(DomainError::Unavailable(format!("call {} kept changing while it was cancelled", stored.call.id)))
    }

    pub(crate) async fn reschedule(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let change: RescheduleRequest = json_body(req)?;
        let stored = self.caller_call(caller, req).await?;
        if stored.call.status != CallStatus::Scheduled {
            return Err(
                DomainError::conflict("not_scheduled", format!("call {} is {}; only a waiting call can change", stored.call.id, stored.call.status)).into()
            );
        }
        let now = Utc::now();
        let mut next = stored.call.clone();
        if let Some(at) = &change.scheduled_at {
            let agent = self.resolve_agent(caller, Some(&next.voice_agent_id)).await?;
            next.scheduled_at = Some(placement_time(parse_time(at)?, &agent, change.move_to_calling_hours, now)?);
        }
        if change.purpose.is_some() {
            next.call_purpose = text(change.purpose, 500, "invalid_purpose", "purpose")?;
        }
        if change.notes.is_some() {
            next.call_notes = text(change.notes, 2_000, "invalid_notes", "notes")?;
        }
        if change.customer_name.is_some() {
            next.customer_name = text(change.customer_name, 200, "invalid_customer_name", "customerName")?;
        }
        if let Some(variables) = change.variables {
            check_variables(&variables)?;
            next.variable_values = variables;
        }
        next.updated_at = time::to_millis(now);
        let written = self.store.update_call(&stored, &next).await?;
        if let Some(at) = next.scheduled_at
            && next.scheduled_at != stored.call.scheduled_at
        {
            let dial = ScheduledDial { request: DialRequest::for_call(&next), at };
            if let Err(err) = self.scheduler.schedule(&dial).await {
                // The schedule still fires at the old time: put the call back to say so.
                let mut undo = stored.call.clone();
                undo.updated_at = time::to_millis(Utc::now());
                if let Err(undo_err) = self.store.update_call(&written, &undo).await {
                    tracing::error!(call_id = %next.id, error = %undo_err, "a moved call could not be put back after its schedule did not move");
                }
                return Err(err.into());
            }
        }
        Ok(json(StatusCode::OK, &written.call))
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
        let page = self
            .store
            .query_calls(
                &caller.org_id,
                &PageRequest {
                    window: Window { from: bounds.start, to: bounds.end },
                    cursor: cursor.as_deref(),
                    only_agents: agent_filter.as_deref(),
                    only_status,
                    binding: &binding,
                    ..PageRequest::new(&query, limit)
                },
            )
            .await?;
        Ok(json(StatusCode::OK, &ScheduledCalls { calls: page.items, next_cursor: page.next_cursor }))
    }
}

pub(crate) fn on_do_not_call() -> DomainError {
    DomainError::conflict("on_do_not_call_list", "this number is on the practice's do-not-call list")
}
