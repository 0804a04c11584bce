//! Placing an attempt: EventBridge Scheduler fires the dialer at each
//! scheduled attempt's time with `{orgId, callId, attempt}`, and this use
//! case places that attempt through Vapi exactly once, if the placement
//! policy ([`callops_domain::placement`]) allows it then.
//!
//! Delivery is at least once and Vapi's `POST /call` has no idempotency key,
//! so: an attempt is claimed by one conditional write (SCHEDULED -> DIALING,
//! taking one of the agent's concurrent-call slots in the same transaction)
//! before anything is sent; a duplicate or late trigger finds the claim and
//! does nothing; and after an answer that leaves it unknown whether Vapi
//! created the call (timeout, 5xx, 429, a broken connection), Vapi is asked
//! for this attempt's call before any new POST.
//!
//! [`crate::reconcile`] is the periodic run that finishes what a lost webhook or a
//! crash left behind.

mod unplaced;

use std::{sync::Arc, time::Duration};

use callops_aws::store::{AgentStore, CallStore, CampaignStore, DoNotCallStore, LedgerStore, SettingsStore};
use callops_aws::{AlongWithCall, DynamoStore, NumberState, StoredCall};
pub use callops_domain::placement::schedule::DialRequest;
use callops_domain::{
    CallLog, CallStatus, DomainError, VoiceAgent,
    agent::secret::{SecretNamespace, SecretSource},
    call::compliance::Monitor,
    call::lifecycle::EndedReason,
    campaign::CampaignGate,
    consent::{
        Consenting,
        reassigned::{ReassignedNumbers, RndOutage},
    },
    error::Conflict,
    phone,
    placement::call_rules::TELEMARKETING,
    placement::callee::Callee,
    placement::schedule::{DialScheduler, ScheduledDial},
    placement::{Frequency, Placement, PlacementFacts, Refusal, Slot, may_place},
    records::audit::{Action, AuditEntry},
    settings::TenantSettings,
    time,
    time::{CLOCK_SKEW, Clock, SystemClock},
};
pub use callops_vapi::request::metadata;
use callops_vapi::{
    VapiApi, VapiCall, VapiError,
    api::{CreateCall, TransientNumber},
};
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::{
    change::{Change, Decided, change_call},
    reassigned::Checked,
};

/// How long a telemarketing call waits for the Reassigned Numbers Database when it could not be asked.
const RND_RETRY: chrono::Duration = chrono::Duration::minutes(15);

#[derive(Debug, Error)]
pub enum DialError {
    /// The call is not (yet) stored: its schedule fired before its creating
    /// write landed. Retried by the trigger; an orphan ends in the dead-letter queue.
    #[error("call {0} is not stored")]
    CallNotFound(String),
    #[error(transparent)]
    Store(#[from] DomainError),
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
    vapi: Arc<dyn VapiApi>,
    secrets: Arc<dyn SecretSource>,
    /// Which secret references a tenant's agent may name; checked again
    /// before each is read, whatever the agent was stored with.
    namespace: SecretNamespace,
    settings: DialSettings,
    /// What "now" is when a trigger is handled.
    clock: Arc<dyn Clock>,
    /// The Reassigned Numbers Database, when the deployment asks it.
    rnd: Option<Arc<dyn ReassignedNumbers>>,
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
    /// Its campaign is paused: the call waits with no time until the campaign resumes.
    Held,
    /// Vapi refused it for good; the call is FAILED.
    Failed(String),
    /// Unknown whether Vapi created it; left DIALING for the reconciler.
    Unconfirmed,
}

impl Dialer {
    pub fn new(
        store: DynamoStore,
        scheduler: Arc<dyn DialScheduler>,
        vapi: Arc<dyn VapiApi>,
        secrets: Arc<dyn SecretSource>,
        namespace: SecretNamespace,
        settings: DialSettings,
    ) -> Self {
        Dialer { store, scheduler, vapi, secrets, namespace, settings, clock: Arc::new(SystemClock), rnd: None }
    }

    /// The same dialer, asking `rnd` before a call rests on a consent not checked since its last update.
    pub fn with_rnd(self, rnd: Arc<dyn ReassignedNumbers>) -> Self {
        Dialer { rnd: Some(rnd), ..self }
    }

    /// The same dialer, reading the time from `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Dialer { clock, ..self }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    pub fn vapi(&self) -> &dyn VapiApi {
        self.vapi.as_ref()
    }

    /// Places the attempt's call, if it is still this attempt's turn.
    pub async fn dial(&self, request: DialRequest) -> Result<Dialed, DialError> {
        let now = self.now();
        let Some(stored) = self.store.get_call(&request.org_id, &request.call_id).await? else {
            return Err(DialError::CallNotFound(request.call_id.into()));
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
        let campaign = match &call.campaign_id {
            Some(campaign_id) => self.store.get_campaign(&call.org_id, campaign_id).await?.map(|(c, _)| c),
            None => None,
        };
        let gate = campaign.as_ref().map_or(CampaignGate::Open, |c| c.gate(now));
        // A paused campaign places nothing new: its call waits, held, until the campaign resumes.
        if gate == CampaignGate::Held {
            return self.hold(stored, now).await;
        }
        let campaign_cancelled = gate == CampaignGate::Refused(Refusal::CampaignCancelled);
        let campaign_ended = gate == CampaignGate::Refused(Refusal::CampaignEnded);
        let on_do_not_call = self.store.is_on_do_not_call(&call.org_id, &call.phone_number).await?;
        // The agent is read only for a call the list does not stop.
        let agent =
            if campaign_cancelled || campaign_ended || on_do_not_call { None } else { self.store.get_agent(&call.org_id, &call.voice_agent_id).await? };
        let settings = match &agent {
            Some(_) => self.store.settings(&call.org_id).await?,
            None => TenantSettings::defaults(&call.org_id),
        };
        let accepted = settings.consent_policy.accepts(call.call_type);
        // The number's attempts and consents (and its debt's), read again when another claim (or a revocation) wrote them first.
        for _ in 0..crate::change::WRITE_ATTEMPTS {
            let NumberState { mut ledger, consents } = self.store.number_state(&call.org_id, &call.phone_number).await?;
            let debt = self.store.debt_ledger_of(&call.org_id, call.call_type, call.debt_id.as_deref()).await?;
            // Every place a call to the number carried, waiting ones included, binds this one.
            let callee = Callee::of_call(call, &ledger.history());
            let inconvenient = ledger.inconvenient_for(call.call_type, debt.as_ref());
            let registries = crate::registries::registry_facts(&self.store, &settings, call.call_type, &call.phone_number, &callee).await?;
            // The claim counts the attempts made; the calls waiting are checked when their own time comes.
            ledger.planned.clear();
            let frequency = Frequency { call: call.into(), ledger: &ledger, debt: debt.as_ref(), tenant_cap_per_day: settings.max_attempts_per_number_per_day };
            let facts = PlacementFacts {
                call_type: call.call_type,
                debt_id: call.debt_id.as_deref(),
                agent: agent.as_ref(),
                callee: &callee,
                refuse_unknown_location: settings.refuses_unknown_location(),
                practice_identified: settings.practice_identified(),
                holidays: &settings.holidays,
                inconvenient: &inconvenient,
                frequency: Some(frequency),
                campaign_cancelled,
                campaign_ended,
                on_do_not_call,
                consent: Some(Consenting { call_type: call.call_type, consents: &consents, accepted, opted_out_at: ledger.opted_out_at }),
                registries: registries.as_ref(),
                slot: Slot::Free,
            };
            let agent = match (may_place(&facts, now), agent.as_ref()) {
                (Placement::Refused(refusal), _) => return self.end_unplaced(stored, refusal, now).await,
                // No allowed time within the attempt's life (a year from when it was made): it ends, and says why.
                (Placement::Later { at, .. }, _) if at > callops_domain::placement::schedule::latest_dial(call.created_at) => {
                    return self.end_unplaced(stored, Refusal::NoCallingHoursAhead, now).await;
                }
                (Placement::Later { at, why }, _) => return self.move_attempt(stored, at, why, DIALER, now).await,
                (Placement::Allowed, Some(agent)) => agent,
                (Placement::Allowed, None) => return self.end_unplaced(stored, Refusal::NoAgent, now).await,
            };
            // The consents it may rest on, checked against the Reassigned Numbers Database when not since its latest update.
            match crate::reassigned::check_consents(&self.store, self.rnd.as_deref(), facts.consent, &consents, now).await? {
                // Decide again on what is on record now: a `yes` leaves no consent to rest on.
                Checked::Answered(_) => continue,
                Checked::Unavailable(err) if TELEMARKETING.contains(&call.call_type) && settings.rnd_outage == RndOutage::Wait => {
                    tracing::warn!(call_id = %call.id, error = %err, "the Reassigned Numbers Database could not be asked: the telemarketing call waits");
                    return self.move_attempt(stored, now + RND_RETRY, "rnd_unavailable", DIALER, now).await;
                }
                Checked::Unavailable(err) => {
                    tracing::warn!(call_id = %call.id, error = %err, "the Reassigned Numbers Database could not be asked: the call proceeds on its consent")
                }
                Checked::NotNeeded => {}
            }
            // The agent's slot, and a place among the practice's outbound calls that leaves the inbound reserve free.
            let room = settings.outbound_room();
            let mut also = vec![
                AlongWithCall::TakeSlot { max: agent.max_concurrent_calls },
                AlongWithCall::TakeRoom { max: room },
                AlongWithCall::RecordAttempt(Box::new(ledger.with_attempt(call, now))),
            ];
            also.extend(debt.as_ref().map(|debt| AlongWithCall::RecordDebtAttempt(Box::new(debt.with_attempt(call, now)))));
            // The claim holds only while the campaign is active: a pause, end or cancel that commits first stops it.
            also.extend(campaign.as_ref().map(|c| AlongWithCall::CampaignActive { campaign_id: c.id.clone() }));
            let mut claim = call.claim(now)?;
            let mut record = callops_domain::placement::record::evaluate(&facts, now)
                .with_recording(callops_domain::placement::recording::decide(&callee, settings.recording_policy));
            if let (Some(exemption), Some(name), Some(number)) = (&mut record.exemption, &settings.practice_name, &settings.callback_number) {
                exemption.first_message = Some(callops_domain::placement::record::exemption_first_message(name, number));
            }
            record.monitor = Some(Monitor { listen: settings.live_listening, control: self.vapi.controls_calls() });
            record.outbound_room = Some(room);
            record.keypad = callops_domain::call::compliance::KeypadOptOut::for_call(call.call_type, settings.practice_name.as_deref());
            record.identity = settings
                .practice_name
                .clone()
                .map(|practice_name| callops_domain::call::compliance::Identity { practice_name, callback_number: settings.callback_number.clone() });
            // The campaign's voicemail message (or else its agent's), filled for this call and checked again on what the practice's settings say now.
            let voicemail = campaign
                .as_ref()
                .and_then(|c| c.voicemail_message.as_deref())
                .or(agent.voicemail_message.as_deref())
                .map(|template| settings.identity().and_then(|identity| callops_domain::campaign::voicemail::for_call(template, call, &identity)));
            if let Some(checked) = &voicemail {
                let plan = callops_domain::campaign::voicemail::plan(call.call_type, checked.as_ref().err().and_then(DomainError::code));
                record.rules.push(plan.check());
                record.voicemail = Some(plan);
            }
            let voicemail = voicemail.and_then(Result::ok);
            claim.compliance = Some(record);
            also.push(audited(DIALER, Action::CallDialed, call, &claim, now));
            let claimed = match self.store.update_call_with(&stored, &claim, &also).await {
                Ok(claimed) => claimed,
                Err(DomainError::Conflict { kind: kind @ (Conflict::NoFreeSlot | Conflict::ConcurrencyReserved), .. }) => {
                    let retry_at = self.busy_later(now);
                    let slot = if kind == Conflict::ConcurrencyReserved {
                        crate::metrics::emit_concurrency_reserved(&call.org_id, now);
                        Slot::Reserved { retry_at }
                    } else {
                        Slot::Busy { retry_at }
                    };
                    let busy = PlacementFacts { slot, ..facts };
                    return match may_place(&busy, now) {
                        Placement::Later { at, why } => self.move_attempt(stored, at, why, DIALER, now).await,
                        _ => Ok(Dialed::AlreadyHandled),
                    };
                }
                // Another call to the number was claimed since the ledger was read: decide again on the fresh ledger.
                Err(DomainError::Conflict { kind: Conflict::AttemptsChanged, .. }) => continue,
                // The campaign was paused, ended or cancelled since it was read: nothing was placed; do what it says now
                // (active again, resumed in between: decide again).
                Err(DomainError::Conflict { kind: Conflict::CampaignNotActive, .. }) => {
                    let now_stands = match &call.campaign_id {
                        Some(campaign_id) => self.store.get_campaign(&call.org_id, campaign_id).await?.map(|(c, _)| c.gate(now)),
                        None => None,
                    };
                    return match now_stands {
                        Some(CampaignGate::Refused(refusal)) => self.end_unplaced(stored, refusal, now).await,
                        Some(CampaignGate::Held) => self.hold(stored, now).await,
                        Some(CampaignGate::Open) => continue,
                        None => Ok(Dialed::AlreadyHandled),
                    };
                }
                // Another trigger changed the call first; what it did stands.
                Err(DomainError::Conflict { .. }) => return Ok(Dialed::AlreadyHandled),
                Err(other) => return Err(other.into()),
            };
            // An opt-out or a revocation can land after the claim: ask once more, just before Vapi is.
            if let Some(refusal) = self.refused_since_claim(&claimed.call, accepted).await? {
                return self.withdraw(claimed, refusal, now).await;
            }
            return Ok(self.place(claimed, agent, voicemail, now).await?);
        }
        Err(DomainError::Unavailable(format!("the attempts to call {}'s number kept changing", call.id)).into())
    }

    fn busy_later(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let jitter = self.settings.busy_jitter.as_millis() as u64;
        let wait = self.settings.busy_delay + Duration::from_millis(if jitter == 0 { 0 } else { rand::random_range(0..jitter) });
        time::to_millis(now + chrono::Duration::from_std(wait).unwrap_or_default())
    }

    /// Whether the number went on the do-not-call list, or lost every
    /// consent `call` could rest on (a revocation, an opt-out), since the claim read them.
    async fn refused_since_claim(&self, call: &CallLog, accepted: &[callops_domain::consent::Basis]) -> Result<Option<Refusal>, DomainError> {
        if self.store.is_on_do_not_call(&call.org_id, &call.phone_number).await? {
            return Ok(Some(Refusal::OnDoNotCallList));
        }
        let NumberState { ledger, consents } = self.store.number_state(&call.org_id, &call.phone_number).await?;
        let consenting = Consenting { call_type: call.call_type, consents: &consents, accepted, opted_out_at: ledger.opted_out_at };
        Ok(consenting.relied_on(self.now()).is_none().then_some(Refusal::NoConsent))
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
        Ok(callops_vapi::request::create_call(call, agent, phone_number))
    }

    /// Sends the claimed attempt to Vapi and records the answer.
    async fn place(&self, claimed: StoredCall, agent: &VoiceAgent, voicemail: Option<String>, started: DateTime<Utc>) -> Result<Dialed, DomainError> {
        let body = match self.create_call(&claimed.call, agent).await {
            Ok(mut body) => {
                if let Some(message) = voicemail {
                    callops_vapi::request::leave_on_voicemail(&mut body, message);
                }
                body
            }
            Err(err) => {
                tracing::error!(call_id = %claimed.call.id, error = %err, "cannot build the Vapi request");
                return self.fail(claimed, EndedReason::ConfigurationError, DIALER).await;
            }
        };
        let number = phone::mask(&claimed.call.phone_number);
        let mut wait = self.settings.backoff;
        for post in 1..=self.settings.max_posts {
            let err = match self.vapi.create_call(&body).await {
                Ok(created) => return self.record_placed(claimed, &created, DIALER).await,
                Err(err) => err,
            };
            match err {
                VapiError::ConcurrencyBlocked => {
                    let now = self.now();
                    let later = self.busy_later(now);
                    return Ok(self.move_attempt(claimed, later, "Vapi concurrency limit", DIALER, now).await.unwrap_or(Dialed::Unconfirmed));
                }
                VapiError::Rejected { message } => {
                    tracing::warn!(call_id = %claimed.call.id, number = %number, reason = %phone::mask_numbers_in(&message), "Vapi refused the call");
                    return self.fail(claimed, EndedReason::ProviderRejected(message), DIALER).await;
                }
                VapiError::Unauthorized { status } => {
                    tracing::error!(alarm = "VapiUnauthorized", call_id = %claimed.call.id, status, "Vapi refused the API key; no call can be placed");
                    return self.fail(claimed, EndedReason::ProviderUnauthorized(status), DIALER).await;
                }
                err => {
                    tracing::warn!(call_id = %claimed.call.id, post, error = %err, "Vapi gave no usable answer; asking whether it made the call");
                    // Before any new POST: did Vapi create this attempt's call after all?
                    let since = started - chrono::Duration::minutes(2);
                    match self.vapi.find_attempt(&metadata(&claimed.call), body.phone_number_id.as_deref(), since).await {
                        Ok(Some(found)) => return self.record_placed(claimed, &found, DIALER).await,
                        Ok(None) => {}
                        Err(lookup) => {
                            tracing::warn!(call_id = %claimed.call.id, error = %lookup, "cannot tell whether Vapi made the call; the reconciler will");
                            return Ok(Dialed::Unconfirmed);
                        }
                    }
                    if post == self.settings.max_posts {
                        return self.fail(claimed, EndedReason::ProviderUnavailable(err.to_string()), DIALER).await;
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
        self.fail(claimed, EndedReason::ProviderUnavailable("no attempt was made".into()), DIALER).await
    }

    /// Records that Vapi took the call: its id, IN_PROGRESS, the start. A
    /// webhook about the call may have landed first; what it wrote stands.
    /// An opt-out that landed between the last check and Vapi's answer
    /// found no live call to end: the call is ended through Vapi now.
    pub async fn record_placed(&self, stored: StoredCall, created: &VapiCall, by: &'static str) -> Result<Dialed, DomainError> {
        let started = created.created_at.unwrap_or_else(|| self.now());
        let (org_id, number) = (stored.call.org_id.clone(), stored.call.phone_number.clone());
        let placed = |call: &CallLog| {
            let now = self.now();
            Ok(call.placed(&created.id, started, created.listen_url.as_deref(), now).map(|next| {
                let also = vec![audited(by, Action::CallPlaced, call, &next, now)];
                Change { call: next, also }
            }))
        };
        change_call(&self.store, stored, &mut Decided(placed)).await?;
        if self.store.is_on_do_not_call(&org_id, &number).await? {
            match self.vapi.end_call(&created.id).await {
                Ok(_) => tracing::info!(vapi_call_id = %created.id, "the number opted out while the call was placed: it is ended through Vapi"),
                Err(err) => {
                    tracing::error!(vapi_call_id = %created.id, error = %err, "the number opted out while the call was placed, and Vapi could not end it")
                }
            }
        }
        Ok(Dialed::Placed { vapi_call_id: created.id.clone() })
    }

    /// The attempt failed for good (its slot is given back by the same write).
    pub(crate) async fn fail(&self, stored: StoredCall, reason: EndedReason, by: &'static str) -> Result<Dialed, DomainError> {
        let text = reason.text();
        let failed = |call: &CallLog| {
            let now = self.now();
            Ok(call.fail(reason.clone(), now).map(|next| {
                let also = vec![audited(by, Action::CallFailed, call, &next, now)];
                Change { call: next, also }
            }))
        };
        change_call(&self.store, stored, &mut Decided(failed)).await?;
        Ok(Dialed::Failed(text))
    }
}

/// The dialer, as the audit log names it.
pub(crate) const DIALER: &str = "dialer";

/// The audit entry of a change `by` makes to a call, written with it.
fn audited(by: &'static str, action: Action, before: &CallLog, after: &CallLog, at: DateTime<Utc>) -> AlongWithCall {
    AlongWithCall::Audit(Box::new(AuditEntry::of_system_change(by, action, Some(before), after, at)))
}
