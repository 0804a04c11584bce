//! The Vapi webhook function: Vapi's server messages about each call,
//! authenticated by the tenant's Vapi credential (not the JWT), turned into
//! the CallLog and, through the store's transactions, the analytics rollups.
//!
//! Order of work: size check, authentication over the raw body, parsing,
//! then the message. Only `status-update` and `end-of-call-report` change
//! anything; every other authentic message gets a 2xx and is ignored.
//!
//! It also takes the texts patients send to the practice's Twilio number
//! ([`sms`]): an opt-out by text is honoured before Twilio gets its answer.

pub mod auth;
pub mod sms;
pub mod twilio_signature;

use std::sync::Arc;

use callops_aws::DynamoStore;
use callops_domain::placement::schedule::DialScheduler;
use callops_http::{ApiError, json, respond, route_key};
use callops_service::Calls;
use callops_vapi::parse_server_message;
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde_json::json as body;

use crate::{auth::WebhookAuth, sms::TwilioTokens};

/// The routes this function serves, as API Gateway names them.
pub const ROUTES: &[&str] = &["POST /webhooks/vapi", sms::ROUTE];
/// Bodies above this are refused before anything else.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub use callops_domain::ids::UNASSIGNED_AGENT;

#[derive(Clone)]
pub struct Webhook {
    calls: Calls,
    auth: WebhookAuth,
    twilio: Arc<TwilioTokens>,
    public_base: Option<String>,
}

impl Webhook {
    pub fn new(store: DynamoStore, auth: WebhookAuth, scheduler: Arc<dyn DialScheduler>, vapi: Arc<dyn callops_vapi::VapiApi>) -> Self {
        Webhook { calls: Calls::new(store, scheduler, vapi), auth, twilio: Arc::new(TwilioTokens::Fixed(Default::default())), public_base: None }
    }

    /// Where the tenants' Twilio auth tokens come from, and the public base URL Twilio calls, if not the `Host` it sends.
    pub fn with_twilio(mut self, tokens: TwilioTokens, public_base: Option<String>) -> Self {
        self.twilio = Arc::new(tokens);
        self.public_base = public_base;
        self
    }

    /// Handles one API Gateway request; every error is already a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(self.receive(req, Utc::now()).await)
    }

    /// Size check, authentication over the raw body, parsing, then the
    /// report recorded ([`Calls::record_report`]).
    async fn receive(&self, req: Request, now: DateTime<Utc>) -> Result<Response<Body>, ApiError> {
        let route = route_key(&req);
        if !ROUTES.contains(&route.as_str()) {
            return Err(ApiError::NoRoute(route));
        }
        if route == sms::ROUTE {
            return self.receive_text(&req, now).await;
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
        if !message.ignored.is_empty() {
            tracing::warn!(org_id, kind = %message.kind, vapi_call_id = ?message.vapi_call_id(), ignored = ?message.ignored, "fields out of bounds were ignored; the rest of the message is applied");
        }
        let handled = match &message.report {
            Some(report) => {
                self.calls.record_report(&org_id, &message.subject(), report, "webhook", now).await?;
                true
            }
            None => false,
        };
        Ok(json(StatusCode::OK, &body!({ "received": true, "handled": handled })))
    }

    /// A text to a practice's number, answered in TwiML ([`sms`]).
    async fn receive_text(&self, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, ApiError> {
        let (org_id, text) = sms::authenticate(req, &self.twilio, self.public_base.as_deref()).await?;
        let handled = self.calls.receive_text(&org_id, &text, now).await?;
        tracing::info!(
            org_id,
            meaning = handled.meaning,
            cancelled_calls = handled.cancelled_calls,
            repeated = handled.repeated,
            "a text to the practice's number"
        );
        Ok(sms::answer(handled.reply.as_deref()))
    }
}
