//! The Vapi webhook function: Vapi's server messages about each call,
//! authenticated by the tenant's Vapi credential (not the JWT), turned into
//! the CallLog and, through the store's transactions, the analytics rollups.
//!
//! Order of work: size check, authentication over the raw body, parsing,
//! then the message. Only `status-update` and `end-of-call-report` change
//! anything; every other authentic message gets a 2xx and is ignored.

pub mod apply;
pub mod auth;
pub mod message;
pub mod metrics;

use std::sync::Arc;

use callops_aws::{AlongWithCall, DynamoStore};
use callops_domain::{
    CallLog, CallStatus, CallType, DomainError, NewCall,
    call::new_call_id,
    followup,
    schedule::{DialRequest, DialScheduler, ScheduledDial},
    time,
};
use callops_http::{ApiError, json, respond, route_key};
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde_json::json as body;

use crate::{
    auth::WebhookAuth,
    message::{ServerMessage, parse_server_message},
};

/// The routes this function serves, as API Gateway names them.
pub const ROUTES: &[&str] = &["POST /webhooks/vapi"];
/// Bodies above this are refused before anything else.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub use callops_domain::agent::UNASSIGNED_AGENT;
/// How often a write that lost a race with another message is tried again.
const WRITE_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct Webhook {
    store: DynamoStore,
    auth: WebhookAuth,
    /// For the retries and follow-up calls an ended call brings.
    scheduler: Arc<dyn DialScheduler>,
}

impl Webhook {
    pub fn new(store: DynamoStore, auth: WebhookAuth, scheduler: Arc<dyn DialScheduler>) -> Self {
        Webhook { store, auth, scheduler }
    }

    /// Handles one API Gateway request; every error is already a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(self.receive(req, Utc::now()).await)
    }

    async fn receive(&self, req: Request, now: DateTime<Utc>) -> Result<Response<Body>, ApiError> {
        let route = route_key(&req);
        if !ROUTES.contains(&route.as_str()) {
            return Err(ApiError::NoRoute(route));
        }
        let raw: &[u8] = req.body().as_ref();
        if raw.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
        let org_id = self.auth.authenticate(req.headers(), raw, now).map_err(|err| {
            tracing::warn!(error = %err, "refused a webhook without a valid Vapi credential");
            ApiError::Unauthorized
        })?;
        let message = parse_server_message(raw)?;
        let handled = match message.kind.as_str() {
            "status-update" | "end-of-call-report" => {
                self.record(&org_id, &message, now).await?;
                true
            }
            _ => false,
        };
        Ok(json(StatusCode::OK, &body!({ "received": true, "handled": handled })))
    }

    /// Applies what Vapi says of a call (its Call object, from `GET /call`)
    /// through the same path as Vapi's messages about it: an ended call as
    /// its end-of-call-report, any other as a status-update.
    pub async fn record_vapi_call(&self, org_id: &str, call: &serde_json::Value, now: DateTime<Utc>) -> Result<(), DomainError> {
        let ended = call.get("status").and_then(serde_json::Value::as_str) == Some("ended");
        let mut message = body!({
            "type": if ended { "end-of-call-report" } else { "status-update" },
            "timestamp": now.timestamp_millis(),
            "call": call,
        });
        for field in ["status", "endedReason", "startedAt", "endedAt", "cost", "costs", "artifact", "analysis", "customer", "phoneNumber"] {
            if let Some(value) = call.get(field) {
                message[field] = value.clone();
            }
        }
        let raw = serde_json::to_vec(&body!({ "message": message })).map_err(|e| DomainError::Unavailable(format!("a Vapi call does not serialise: {e}")))?;
        let message = parse_server_message(&raw)?;
        self.record(org_id, &message, now).await
    }

    /// Applies a message to its call, creating the call when it is one CallOps
    /// never scheduled. A write that lost a race with another message for the
    /// same call is redone on the fresh call.
    async fn record(&self, org_id: &str, message: &ServerMessage, now: DateTime<Utc>) -> Result<(), DomainError> {
        if !message.ignored.is_empty() {
            tracing::warn!(org_id, kind = %message.kind, vapi_call_id = ?message.vapi_call_id, ignored = ?message.ignored, "fields out of bounds were ignored; the rest of the message is applied");
        }
        for _ in 0..WRITE_ATTEMPTS {
            // `before` is the call as it was (for a new call, as it would have
            // been before this message), so the follow-through sees the change.
            let (stored, before) = match self.find_call(org_id, message).await? {
                Some(stored) if stored.call.was_never_placed() => {
                    tracing::warn!(org_id, call_id = %stored.call.id, status = %stored.call.status, kind = %message.kind, "a message about a call that was never placed changes nothing");
                    return Ok(());
                }
                Some(stored) => {
                    let before = stored.call.clone();
                    (Some(stored), before)
                }
                None if message.vapi_call_id.is_none() => {
                    tracing::warn!(org_id, kind = %message.kind, "a message names no call CallOps knows and no Vapi call id: nothing to record it under");
                    return Ok(());
                }
                None => (None, self.unscheduled_call(org_id, message, now).await?),
            };
            let next = match (apply(&before, message, now), &stored) {
                (Some(next), _) => next,
                (None, Some(_)) => return Ok(()),
                (None, None) => before.clone(),
            };
            let follow = self.follow_through(&before, &next, message, now).await?;
            let mut also: Vec<AlongWithCall> =
                follow.do_not_call.iter().map(|number| AlongWithCall::DoNotCall { number: number.clone(), reason: "requested during a call".into() }).collect();
            if let Some(date) = follow.follow_up_too_far {
                tracing::warn!(call_id = %next.id, follow_up_date = %time::format(&date), "the agreed follow-up is more than a year ahead: no call is made for it");
            }
            // The calls that follow are stored in the ended call's own transaction,
            // each after its schedule: one that fires for a call never stored dials nothing.
            let follow_ons: Vec<CallLog> = follow
                .retry
                .map(|(attempt, at)| followup::retry_call(&next, attempt, at, now))
                .into_iter()
                .chain(follow.follow_up_at.map(|at| followup::follow_up_call(&next, at, now)))
                .collect();
            for call in follow_ons {
                let Some(at) = call.scheduled_at else { continue };
                self.scheduler.schedule(&ScheduledDial { request: DialRequest::for_call(&call), at }).await?;
                also.push(AlongWithCall::NewCall(Box::new(call)));
            }
            let result = match &stored {
                Some(stored) => self.store.update_call_with(stored, &next, &also).await,
                None => self.store.create_call_with(&next, &also).await,
            };
            match result {
                Err(DomainError::Conflict { .. }) => continue,
                Err(other) => return Err(other),
                Ok(written) => {
                    // Only a write that set or changed the cost reports it, so a duplicate counts nothing.
                    if written.call.cost_cents != before.cost_cents {
                        metrics::emit_cost(&written.call, now);
                    }
                    if follow.retry.is_some() || follow.follow_up_at.is_some() {
                        tracing::info!(call_id = %written.call.id, retry = ?follow.retry, follow_up_at = ?follow.follow_up_at, "follow-on calls scheduled");
                    }
                    return Ok(());
                }
            }
        }
        Err(DomainError::Unavailable(format!("call for Vapi call {:?} kept changing", message.vapi_call_id)))
    }

    /// What follows if `before` becomes `after`. The do-not-call request, the
    /// retry and the follow-up call are written in the call's own
    /// transaction, and so is giving back the dialer slot (the store does
    /// that for every write that ends a call).
    async fn follow_through(
        &self,
        before: &CallLog,
        after: &CallLog,
        message: &ServerMessage,
        now: DateTime<Utc>,
    ) -> Result<followup::FollowThrough, DomainError> {
        if before.status.is_terminal() || !after.status.is_terminal() {
            return Ok(followup::FollowThrough::default());
        }
        let do_not_call = message.analysis.do_not_call_requested == Some(true);
        let agent = self.store.get_agent(&after.org_id, &after.voice_agent_id).await?;
        let follow = followup::follow_through(before, after, agent.as_ref(), do_not_call, now);
        if do_not_call && follow.do_not_call.is_none() {
            tracing::warn!(call_id = %after.id, "the patient asked not to be called, but the call's number has no digits to put on the list");
        }
        Ok(follow)
    }

    /// The call by the ids CallOps passed in the metadata, else by Vapi call id.
    async fn find_call(&self, org_id: &str, message: &ServerMessage) -> Result<Option<callops_aws::StoredCall>, DomainError> {
        let ours = &message.ours;
        if let Some(call_id) = &ours.call_id {
            // Metadata naming another tenant is ignored: the credential decides the tenant.
            if ours.org_id.as_deref().is_none_or(|org| org == org_id)
                && let Some(stored) = self.store.get_call(org_id, call_id).await?
            {
                return Ok(Some(stored));
            }
        }
        match &message.vapi_call_id {
            Some(vapi_call_id) => self.store.find_call_by_vapi_id(org_id, vapi_call_id).await,
            None => Ok(None),
        }
    }

    /// A call CallOps did not place (an inbound call, or one placed outside
    /// CallOps), under the agent that owns its number or assistant.
    async fn unscheduled_call(&self, org_id: &str, message: &ServerMessage, now: DateTime<Utc>) -> Result<CallLog, DomainError> {
        let agents = self.store.list_agents(org_id).await?;
        let agent = agents
            .iter()
            .find(|a| a.vapi_phone_number_id.is_some() && a.vapi_phone_number_id == message.phone_number_id)
            .or_else(|| agents.iter().find(|a| Some(&a.vapi_assistant_id) == message.assistant_id.as_ref()))
            .map_or(UNASSIGNED_AGENT.to_string(), |a| a.id.clone());
        let call_type = match message.call_type.as_deref() {
            Some("outboundPhoneCall") => CallType::OutboundOther,
            _ => CallType::Inbound,
        };
        let created = message.timestamp.unwrap_or(now);
        let mut call = CallLog::new(
            NewCall {
                org_id: org_id.to_string(),
                voice_agent_id: agent,
                phone_number: message.customer_number.clone().unwrap_or_else(|| "unknown".into()),
                call_type,
                status: CallStatus::InProgress,
                attempt: 0,
            },
            new_call_id(),
            time::to_millis(created),
        );
        call.vapi_call_id = message.vapi_call_id.clone();
        if let Some(name) = &message.customer_name {
            call.set_text(callops_domain::call::CallText::CustomerName, name);
        }
        call.call_started_at = message.started_at.or(Some(time::to_millis(created)));
        Ok(call)
    }
}

fn apply(call: &CallLog, message: &ServerMessage, now: DateTime<Utc>) -> Option<CallLog> {
    match message.kind.as_str() {
        "status-update" => apply::apply_status_update(call, message, now),
        "end-of-call-report" => apply::apply_end_of_call_report(call, message, now),
        _ => None,
    }
}
