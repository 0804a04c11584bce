//! The dialer function: EventBridge Scheduler fires it at each scheduled
//! attempt's time with `{orgId, callId, attempt}`, and it places that
//! attempt through Vapi exactly once.
//!
//! Delivery is at least once and Vapi's `POST /call` has no idempotency key,
//! so: an attempt is claimed by one conditional write (SCHEDULED -> DIALING,
//! taking one of the agent's concurrent-call slots in the same transaction)
//! before anything is sent; a duplicate or late trigger finds the claim and
//! does nothing; and after an answer that leaves it unknown whether Vapi
//! created the call (timeout, 5xx, 429, a broken connection), Vapi is asked
//! for this attempt's call before any new POST.
//!
//! [`reconcile`] is the periodic run that finishes what a lost webhook or a
//! crash left behind.

pub mod reconcile;
pub mod vapi;

use std::{sync::Arc, time::Duration};

use callops_aws::{AlongWithCall, DynamoStore, StoredCall, store::NO_FREE_SLOT};
pub use callops_domain::schedule::DialRequest;
use callops_domain::{
    CallLog, CallStatus, DomainError, VoiceAgent,
    campaign::CampaignStatus,
    phone,
    schedule::{CLOCK_SKEW, DialScheduler, ScheduledDial},
    secret::{SecretNamespace, SecretSource},
    time,
};
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::vapi::{AssistantOverrides, CallMetadata, CreateCall, Customer, TransientNumber, VapiCall, VapiClient, VapiError};

#[derive(Debug, Error)]
pub enum DialError {
    /// The call is not (yet) stored: its schedule fired before its creating
    /// write landed. Retried by the trigger; an orphan ends in the dead-letter queue.
    #[error("call {0} is not stored")]
    CallNotFound(String),
    #[error(transparent)]
    Store(#[from] DomainError),
}

impl From<DialError> for lambda_runtime::Diagnostic {
    fn from(err: DialError) -> Self {
        let error_type = match &err {
            DialError::CallNotFound(_) => "CallNotFound",
            DialError::Store(_) => "StoreUnavailable",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: err.to_string() }
    }
}

/// The dialer's timings; the defaults are what production uses.
#[derive(Debug, Clone)]
pub struct DialSettings {
    /// No free slot, or Vapi's concurrency reached: the attempt moves this
    /// much later, plus up to `busy_jitter`.
    pub busy_delay: Duration,
    pub busy_jitter: Duration,
    /// POSTs per attempt while Vapi answers 429/5xx/nothing.
    pub max_posts: u32,
    /// First backoff between those POSTs (doubling), and the longest wait.
    pub backoff: Duration,
    pub max_wait: Duration,
    /// Every request to Vapi gives up after this long.
    pub request_timeout: Duration,
}

impl Default for DialSettings {
    fn default() -> Self {
        DialSettings {
            busy_delay: Duration::from_secs(20),
            busy_jitter: Duration::from_secs(40),
            max_posts: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(8),
            request_timeout: Duration::from_secs(8),
        }
    }
}

#[derive(Clone)]
pub struct Dialer {
    store: DynamoStore,
    scheduler: Arc<dyn DialScheduler>,
    vapi: VapiClient,
    secrets: Arc<dyn SecretSource>,
    /// Which secret references a tenant's agent may name; checked again
    /// before each is read, whatever the agent was stored with.
    namespace: SecretNamespace,
    settings: DialSettings,
}

/// What one trigger did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum Dialed {
    /// Vapi took the call.
    Placed { vapi_call_id: String },
    /// A duplicate or late trigger: the attempt was claimed or ended already.
    AlreadyHandled,
    /// Fired before its time (the call was moved): its schedule is set again.
    Early,
    /// Not dialed, and never will be: cancelled, its campaign cancelled, or its number on the do-not-call list.
    NotDialed(&'static str),
    /// Moved later: outside calling hours, no free slot, or Vapi's concurrency reached.
    Moved {
        #[serde(with = "time::ms")]
        to: DateTime<Utc>,
        why: &'static str,
    },
    /// Vapi refused it for good; the call is FAILED.
    Failed(String),
    /// Unknown whether Vapi created it; left DIALING for the reconciler.
    Unconfirmed,
}

impl Dialer {
    pub fn new(
        store: DynamoStore,
        scheduler: Arc<dyn DialScheduler>,
        vapi: VapiClient,
        secrets: Arc<dyn SecretSource>,
        namespace: SecretNamespace,
        settings: DialSettings,
    ) -> Self {
        Dialer { store, scheduler, vapi, secrets, namespace, settings }
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    pub fn vapi(&self) -> &VapiClient {
        &self.vapi
    }

    /// Places the attempt's call, if it is still this attempt's turn.
    pub async fn dial(&self, request: DialRequest) -> Result<Dialed, DialError> {
        let now = Utc::now();
        let Some(stored) = self.store.get_call(&request.org_id, &request.call_id).await? else {
            return Err(DialError::CallNotFound(request.call_id));
        };
        let dialed = self.dial_stored(stored, &request, now).await?;
        tracing::info!(call_id = %request.call_id, attempt = request.attempt, result = ?dialed, "dial trigger handled");
        Ok(dialed)
    }

    async fn dial_stored(&self, stored: StoredCall, request: &DialRequest, now: DateTime<Utc>) -> Result<Dialed, DialError> {
        let call = &stored.call;
        // Attempt 0 marks a call CallOps did not schedule (inbound, or imported): never dialed.
        if call.attempt == 0 || call.attempt != request.attempt || call.status != CallStatus::Scheduled {
            return Ok(Dialed::AlreadyHandled);
        }
        let due = call.scheduled_at.unwrap_or(now);
        if due > now + CLOCK_SKEW {
            self.scheduler.schedule(&ScheduledDial { request: request.clone(), at: due }).await?;
            return Ok(Dialed::Early);
        }
        if let Some(campaign_id) = &call.campaign_id {
            let cancelled = self.store.get_campaign(&call.org_id, campaign_id).await?.is_some_and(|(c, _)| c.status == CampaignStatus::Cancelled);
            if cancelled {
                return self.end_unplaced(stored, CallStatus::Cancelled, "campaign-cancelled", now).await;
            }
        }
        if self.store.is_on_do_not_call(&call.org_id, &call.phone_number).await? {
            return self.end_unplaced(stored, CallStatus::Cancelled, "on-do-not-call-list", now).await;
        }
        let Some(agent) = self.store.get_agent(&call.org_id, &call.voice_agent_id).await? else {
            return self.end_unplaced(stored, CallStatus::Failed, "voice-agent-not-found", now).await;
        };
        if !agent.calling_hours.allows(now, agent.time_zone) {
            return match agent.calling_hours.next_allowed(now, agent.time_zone) {
                Some(opening) => self.move_attempt(stored, opening, "outside calling hours", now).await,
                None => self.end_unplaced(stored, CallStatus::Failed, "no-calling-hours-ahead", now).await,
            };
        }

        let mut claimed = call.clone();
        claimed.status = CallStatus::Dialing;
        claimed.updated_at = time::to_millis(now);
        let claim = self.store.update_call_with(&stored, &claimed, &[AlongWithCall::TakeSlot { max: agent.max_concurrent_calls }]).await;
        let claimed = match claim {
            Ok(claimed) => claimed,
            Err(DomainError::Conflict { code, .. }) if code == NO_FREE_SLOT => {
                let later = self.busy_later(now);
                return self.move_attempt(stored, later, "no free slot", now).await;
            }
            // Another trigger changed the call first; what it did stands.
            Err(DomainError::Conflict { .. }) => return Ok(Dialed::AlreadyHandled),
            Err(other) => return Err(other.into()),
        };
        Ok(self.place(claimed, &agent, now).await?)
    }

    fn busy_later(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let jitter = self.settings.busy_jitter.as_millis() as u64;
        let wait = self.settings.busy_delay + Duration::from_millis(if jitter == 0 { 0 } else { rand::random_range(0..jitter) });
        time::to_millis(now + chrono::Duration::from_std(wait).unwrap_or_default())
    }

    /// Ends a call that was never placed.
    async fn end_unplaced(&self, stored: StoredCall, status: CallStatus, reason: &'static str, now: DateTime<Utc>) -> Result<Dialed, DialError> {
        let mut next = stored.call.clone();
        next.status = status;
        next.ended_reason = Some(reason.into());
        next.updated_at = time::to_millis(now);
        match self.store.update_call(&stored, &next).await {
            Ok(_) | Err(DomainError::Conflict { .. }) => Ok(Dialed::NotDialed(reason)),
            Err(other) => Err(other.into()),
        }
    }

    /// Puts the attempt back in the queue at `to` (from DIALING this gives
    /// its slot back), then moves its schedule there.
    async fn move_attempt(&self, stored: StoredCall, to: DateTime<Utc>, why: &'static str, now: DateTime<Utc>) -> Result<Dialed, DialError> {
        let to = time::to_millis(to);
        let mut next = stored.call.clone();
        next.status = CallStatus::Scheduled;
        next.scheduled_at = Some(to);
        next.updated_at = time::to_millis(now);
        match self.store.update_call(&stored, &next).await {
            Ok(moved) => {
                self.scheduler.schedule(&ScheduledDial { request: DialRequest::for_call(&moved.call), at: to }).await?;
                Ok(Dialed::Moved { to, why })
            }
            Err(DomainError::Conflict { .. }) => Ok(Dialed::AlreadyHandled),
            Err(other) => Err(other.into()),
        }
    }

    /// What `POST /call` gets for this call.
    async fn create_call(&self, call: &CallLog, agent: &VoiceAgent) -> Result<CreateCall, DomainError> {
        let phone_number = match (&agent.vapi_phone_number_id, &agent.twilio_number) {
            (Some(_), _) => None,
            (None, Some(twilio)) => {
                // Only a secret of the call's own tenant is ever read and sent to Vapi.
                self.namespace
                    .check(&call.org_id, &twilio.auth_token_secret)
                    .map_err(|err| DomainError::Unavailable(format!("agent {} names a secret outside its tenant's namespace: {err}", agent.id)))?;
                Some(TransientNumber {
                    twilio_phone_number: twilio.number.clone(),
                    twilio_account_sid: twilio.account_sid.clone(),
                    twilio_auth_token: self.secrets.secret(&twilio.auth_token_secret).await?,
                })
            }
            (None, None) => return Err(DomainError::Unavailable(format!("agent {} has no number to call from", agent.id))),
        };
        let mut variables = serde_json::Map::new();
        for (name, value) in &call.variable_values {
            variables.insert(name.clone(), value.clone().into());
        }
        let mut set = |name: &str, value: Option<&String>| {
            if let Some(value) = value {
                variables.entry(name.to_string()).or_insert_with(|| value.clone().into());
            }
        };
        set("purpose", call.call_purpose.as_ref());
        set("customerName", call.customer_name.as_ref());
        set("notes", call.call_notes.as_ref());
        set("callType", Some(&call.call_type.to_string()));
        set("practiceAgent", Some(&agent.name));
        Ok(CreateCall {
            assistant_id: agent.vapi_assistant_id.clone(),
            phone_number_id: agent.vapi_phone_number_id.clone(),
            phone_number,
            customer: Customer { number: call.phone_number.clone(), name: call.customer_name.clone() },
            name: format!("CallOps {} #{}", call.call_type.as_str().trim_start_matches("OUTBOUND_").to_lowercase(), call.attempt),
            assistant_overrides: AssistantOverrides { metadata: metadata(call), variable_values: variables },
        })
    }

    /// Sends the claimed attempt to Vapi and records the answer.
    async fn place(&self, claimed: StoredCall, agent: &VoiceAgent, started: DateTime<Utc>) -> Result<Dialed, DomainError> {
        let body = match self.create_call(&claimed.call, agent).await {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(call_id = %claimed.call.id, error = %err, "cannot build the Vapi request");
                return self.fail(claimed, "callops-configuration-error".into()).await;
            }
        };
        let number = phone::mask(&claimed.call.phone_number);
        let mut wait = self.settings.backoff;
        for post in 1..=self.settings.max_posts {
            let err = match self.vapi.create_call(&body).await {
                Ok(created) => return self.record_placed(claimed, &created).await,
                Err(err) => err,
            };
            match err {
                VapiError::ConcurrencyBlocked => {
                    let later = self.busy_later(Utc::now());
                    return Ok(self.move_attempt(claimed, later, "Vapi concurrency limit", Utc::now()).await.unwrap_or(Dialed::Unconfirmed));
                }
                VapiError::Rejected { message } => {
                    tracing::warn!(call_id = %claimed.call.id, number = %number, reason = %phone::mask_numbers_in(&message), "Vapi refused the call");
                    return self.fail(claimed, format!("vapi-rejected: {message}")).await;
                }
                VapiError::Unauthorized { status } => {
                    tracing::error!(alarm = "VapiUnauthorized", call_id = %claimed.call.id, status, "Vapi refused the API key; no call can be placed");
                    return self.fail(claimed, format!("vapi-unauthorized: HTTP {status}")).await;
                }
                err => {
                    tracing::warn!(call_id = %claimed.call.id, post, error = %err, "Vapi gave no usable answer; asking whether it made the call");
                    // Before any new POST: did Vapi create this attempt's call after all?
                    let since = started - chrono::Duration::minutes(2);
                    match self.vapi.find_attempt(&metadata(&claimed.call), body.phone_number_id.as_deref(), since).await {
                        Ok(Some(found)) => return self.record_placed(claimed, &found).await,
                        Ok(None) => {}
                        Err(lookup) => {
                            tracing::warn!(call_id = %claimed.call.id, error = %lookup, "cannot tell whether Vapi made the call; the reconciler will");
                            return Ok(Dialed::Unconfirmed);
                        }
                    }
                    if post == self.settings.max_posts {
                        return self.fail(claimed, format!("vapi-unavailable: {err}")).await;
                    }
                    let pause = match &err {
                        VapiError::RateLimited { retry_after: Some(after) } => *after,
                        _ => wait,
                    };
                    tokio::time::sleep(pause.min(self.settings.max_wait)).await;
                    wait *= 2;
                }
            }
        }
        // The last POST returns above; a setting of no POSTs at all places nothing.
        self.fail(claimed, "vapi-unavailable: no attempt was made".into()).await
    }

    /// Records that Vapi took the call: its id, IN_PROGRESS, the start. A
    /// webhook about the call may have landed first; what it wrote stands.
    pub async fn record_placed(&self, stored: StoredCall, created: &VapiCall) -> Result<Dialed, DomainError> {
        self.change_call(stored, |call| {
            let mut next = call.clone();
            if next.vapi_call_id.is_none() {
                next.vapi_call_id = Some(created.id.clone());
            }
            if next.status == CallStatus::Dialing {
                next.status = CallStatus::InProgress;
            }
            if next.call_started_at.is_none() {
                next.call_started_at = Some(time::to_millis(created.created_at.unwrap_or_else(Utc::now)));
            }
            (next != *call).then_some(next)
        })
        .await?;
        Ok(Dialed::Placed { vapi_call_id: created.id.clone() })
    }

    /// The attempt failed for good (its slot is given back by the same write).
    async fn fail(&self, stored: StoredCall, reason: String) -> Result<Dialed, DomainError> {
        self.change_call(stored, |call| {
            (!call.status.is_terminal()).then(|| {
                let mut next = call.clone();
                next.status = CallStatus::Failed;
                next.outcome = Some(callops_domain::CallOutcome::Failed);
                next.ended_reason = Some(reason.chars().take(300).collect());
                next
            })
        })
        .await?;
        Ok(Dialed::Failed(reason))
    }

    /// Writes `change(call)`, reading the call again and redoing the change
    /// when another writer (a webhook) got there first. `None`: nothing to write.
    async fn change_call(&self, mut stored: StoredCall, change: impl Fn(&CallLog) -> Option<CallLog>) -> Result<(), DomainError> {
        for _ in 0..5 {
            let Some(mut next) = change(&stored.call) else { return Ok(()) };
            next.updated_at = time::to_millis(Utc::now());
            match self.store.update_call(&stored, &next).await {
                Ok(_) => return Ok(()),
                Err(DomainError::Conflict { .. }) => {
                    stored = self.store.get_call(&next.org_id, &next.id).await?.ok_or(DomainError::NotFound { what: "call" })?;
                }
                Err(other) => return Err(other),
            }
        }
        Err(DomainError::Unavailable(format!("call {} kept changing", stored.call.id)))
    }
}

/// The ids that travel with the call through Vapi.
pub fn metadata(call: &CallLog) -> CallMetadata {
    CallMetadata { org_id: call.org_id.clone(), call_id: call.id.clone(), attempt: call.attempt }
}
