//! The use cases below HTTP: each run against the embedded engine, with a
//! fake Vapi and a scheduler that records what it is asked. The behaviour
//! suite keeps the HTTP contract; these keep what each use case does.

use std::sync::{Arc, Mutex};

use callops_aws::{
    DynamoStore,
    embedded::EmbeddedDynamo,
    store::{AgentStore, CallStore, ConsentStore, DoNotCallStore},
};
use callops_domain::{
    CallLog, CallOutcome, CallStatus, CallType, NewCall, VoiceAgent,
    agent::{AgentInput, secret::SecretNamespace},
    caller::{Actor, Caller},
    consent::{Channel, ConsentInput},
    ending::report::{CallAnalysis, CallEnd, CallReport, ReportKind, ReportSubject},
    placement::schedule::{DialRequest, DialScheduler, ScheduledDial},
    records::audit::{Action, AuditEntry},
    time::Clock,
};
use callops_vapi::{
    CreateCall, VapiApi, VapiCall, VapiError,
    api::{CallMetadata, EndCall},
};
use chrono::{DateTime, Duration, Utc};

use crate::{
    Calls, DialSettings, Dialer,
    opt_out::OptOut,
    reconcile::{ReconcileSettings, Reconciled},
};

mod placing;

const ORG: &str = "acme";
const NUMBER: &str = "+12125550142";

/// The schedules a use case asked for, and those it removed.
#[derive(Default)]
struct RecordingScheduler {
    scheduled: Mutex<Vec<ScheduledDial>>,
    unscheduled: Mutex<Vec<DialRequest>>,
}

#[async_trait::async_trait]
impl DialScheduler for RecordingScheduler {
    async fn schedule(&self, dial: &ScheduledDial) -> Result<(), callops_domain::DomainError> {
        self.scheduled.lock().unwrap().push(dial.clone());
        Ok(())
    }

    async fn unschedule(&self, request: &DialRequest) -> Result<(), callops_domain::DomainError> {
        self.unscheduled.lock().unwrap().push(request.clone());
        Ok(())
    }
}

/// A Vapi that takes every call it is sent (or, `full`, answers that the
/// account's concurrency is reached), knows the calls it is given (as
/// `GET /call/{id}` answers them) and ends every call it is asked to.
#[derive(Default)]
struct FakeVapi {
    posted: Mutex<Vec<CreateCall>>,
    full: std::sync::atomic::AtomicBool,
    ended: Mutex<Vec<String>>,
    calls: Mutex<std::collections::HashMap<String, serde_json::Value>>,
}

impl FakeVapi {
    fn posted(&self) -> Vec<CreateCall> {
        self.posted.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl VapiApi for FakeVapi {
    async fn create_call(&self, call: &CreateCall) -> Result<VapiCall, VapiError> {
        let mut posted = self.posted.lock().unwrap();
        posted.push(call.clone());
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(VapiError::ConcurrencyBlocked);
        }
        Ok(VapiCall::from_json(serde_json::json!({"id": format!("vapi-{}", posted.len()), "status": "queued"})).expect("an id"))
    }

    async fn find_attempt(&self, _: &CallMetadata, _: Option<&str>, _: DateTime<Utc>) -> Result<Option<VapiCall>, VapiError> {
        Ok(None)
    }

    async fn get_call(&self, id: &str) -> Result<Option<VapiCall>, VapiError> {
        Ok(self.calls.lock().unwrap().get(id).cloned().and_then(VapiCall::from_json))
    }

    async fn end_call(&self, id: &str) -> Result<EndCall, VapiError> {
        self.ended.lock().unwrap().push(id.to_string());
        Ok(EndCall::Ended)
    }

    fn controls_calls(&self) -> bool {
        true
    }
}

struct World {
    _engine: EmbeddedDynamo,
    store: DynamoStore,
    scheduler: Arc<RecordingScheduler>,
    vapi: Arc<FakeVapi>,
    calls: Calls,
    agent: VoiceAgent,
}

impl World {
    /// A dialer over the world's store, scheduler and Vapi, reading the time from `clock`.
    fn dialer(&self, clock: Arc<dyn Clock>) -> Dialer {
        Dialer::new(
            self.store.clone(),
            self.scheduler.clone(),
            self.vapi.clone(),
            Arc::new(callops_aws::secrets::SecretResolver::env_only()),
            SecretNamespace::local(),
            DialSettings { busy_jitter: std::time::Duration::ZERO, ..DialSettings::default() },
        )
        .with_clock(clock)
    }
}

/// A clock that says what it is set to.
struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    fn at(at: DateTime<Utc>) -> Arc<FixedClock> {
        Arc::new(FixedClock(Mutex::new(at)))
    }

    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A written consent for `number`, captured a day ago (once).
async fn consent(store: &DynamoStore, number: &str) {
    if !store.consents(ORG, number).await.unwrap().is_empty() {
        return;
    }
    let by = Actor { sub: "staff".into(), name: None };
    let id = format!("consent-{number}");
    let consent = ConsentInput {
        phone_number: number.into(),
        basis: "prior_express_written".into(),
        scope: None,
        source: "signed form".into(),
        evidence: None,
        captured_at: None,
        expires_at: None,
    }
    .check(id.clone(), ORG, by, Utc::now() - Duration::days(1))
    .unwrap();
    assert!(store.record_consents(&[consent], &[audit(&id)]).await.unwrap().iter().all(Result::is_ok));
}

fn audit(what: &str) -> AuditEntry {
    AuditEntry::new(&Caller::system(ORG, "test"), Action::AgentCreated, what, Default::default(), Utc::now())
}

/// A tenant with one agent (three attempts, the default hours) and a
/// written consent for `NUMBER`.
async fn world() -> World {
    let (engine, store) = callops_aws::embedded::fresh_store().await;
    let now = Utc::now();
    let input = AgentInput {
        id: Some("front-desk".into()),
        name: Some("Front desk".into()),
        vapi_assistant_id: Some("asst".into()),
        vapi_phone_number_id: Some("pn".into()),
        time_zone: Some("America/New_York".into()),
        ..Default::default()
    };
    let agent = input.create(ORG, now, &SecretNamespace::local()).unwrap();
    store.put_agent(&agent, true, &audit(&agent.id)).await.unwrap();
    consent(&store, NUMBER).await;
    let scheduler = Arc::new(RecordingScheduler::default());
    let vapi = Arc::new(FakeVapi::default());
    let calls = Calls::new(store.clone(), scheduler.clone(), vapi.clone());
    World { _engine: engine, store, scheduler, vapi, calls, agent }
}

/// A lead call to `NUMBER` in `status`, stored.
async fn stored_call(world: &World, id: &str, status: CallStatus, vapi_call_id: Option<&str>) -> CallLog {
    stored_call_since(world, id, status, vapi_call_id, Duration::minutes(10)).await
}

/// The same, created `age` ago (and, in progress, started 2 minutes after).
async fn stored_call_since(world: &World, id: &str, status: CallStatus, vapi_call_id: Option<&str>, age: Duration) -> CallLog {
    let new = NewCall {
        org_id: ORG.into(),
        voice_agent_id: world.agent.id.clone(),
        phone_number: NUMBER.into(),
        call_type: CallType::OutboundLead,
        status,
        attempt: 1,
    };
    let now = callops_domain::time::to_millis(Utc::now());
    let mut call = CallLog::new(new, id.to_string().into(), now - age);
    call.vapi_call_id = vapi_call_id.map(Into::into);
    if status == CallStatus::Scheduled {
        call.scheduled_at = Some(now + Duration::days(2));
    }
    if status == CallStatus::InProgress {
        call.call_started_at = Some(now - age + Duration::minutes(2));
    }
    world.store.create_call(&call).await.unwrap();
    call
}

fn subject(call: &CallLog) -> ReportSubject {
    ReportSubject {
        org_id: Some(ORG.into()),
        call_id: Some(call.id.to_string()),
        attempt: Some(call.attempt),
        phone_number_id: Some("pn".into()),
        assistant_id: Some("asst".into()),
        outbound: true,
        customer_number: Some(call.phone_number.clone()),
    }
}

fn ended_unanswered(vapi_call_id: &str) -> CallReport {
    let mut report = CallReport::new(ReportKind::Ended);
    report.vapi_call_id = Some(vapi_call_id.into());
    report.end = Some(CallEnd::NoAnswer);
    report.ended_reason = Some("customer-did-not-answer".into());
    report.structured_data = CallAnalysis { outcome: Some(CallOutcome::NoAnswer), ..CallAnalysis::default() };
    report
}

#[tokio::test]
async fn a_report_that_ends_a_call_unanswered_schedules_its_retry_once_and_stores_it_with_the_end() {
    let world = world().await;
    let call = stored_call(&world, "lead-1", CallStatus::InProgress, Some("vapi-1")).await;
    let now = Utc::now();
    world.calls.record_report(ORG, &subject(&call), &ended_unanswered("vapi-1"), "webhook", now).await.unwrap();

    let ended = world.store.get_call(ORG, &call.id).await.unwrap().unwrap().call;
    assert_eq!(ended.status, CallStatus::Missed, "{ended:?}");
    let scheduled = world.scheduler.scheduled.lock().unwrap().clone();
    assert_eq!(scheduled.len(), 1, "one retry, scheduled once: {scheduled:?}");
    let retry = world.store.get_call(ORG, &scheduled[0].request.call_id).await.unwrap().expect("the retry is stored with the end").call;
    assert_eq!((retry.status, retry.attempt, retry.scheduled_at), (CallStatus::Scheduled, 2, Some(scheduled[0].at)));
    let waited = scheduled[0].at - callops_domain::time::to_millis(now);
    assert!(waited >= Duration::minutes(30), "the agent's first retry waits 30 minutes: {waited}");

    // The same report again changes nothing and schedules nothing more.
    world.calls.record_report(ORG, &subject(&call), &ended_unanswered("vapi-1"), "webhook", Utc::now()).await.unwrap();
    assert_eq!(world.scheduler.scheduled.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_report_of_a_call_callops_did_not_place_records_it_under_the_agent_that_owns_the_number() {
    let world = world().await;
    let mut report = CallReport::new(ReportKind::Ended);
    report.vapi_call_id = Some("vapi-inbound".into());
    report.end = Some(CallEnd::Normal);
    // What the assistant's structured data says (the analysis is read from it).
    report.structured_data = CallAnalysis { outcome: Some(CallOutcome::Booked), ..CallAnalysis::default() };
    let subject = ReportSubject {
        org_id: None,
        call_id: None,
        attempt: None,
        phone_number_id: Some("pn".into()),
        assistant_id: None,
        outbound: false,
        customer_number: Some(NUMBER.into()),
    };
    world.calls.record_report(ORG, &subject, &report, "webhook", Utc::now()).await.unwrap();

    let found = world.store.find_call_by_vapi_id(ORG, "vapi-inbound").await.unwrap().expect("the inbound call is recorded").call;
    assert_eq!((found.call_type, found.status, found.outcome), (CallType::Inbound, CallStatus::Completed, Some(CallOutcome::Booked)));
    assert_eq!(found.voice_agent_id, world.agent.id);
    assert!(found.compliance.is_some(), "an inbound call keeps whether its recording may be kept");
    assert!(world.scheduler.scheduled.lock().unwrap().is_empty(), "an inbound call brings no retry");
}

#[tokio::test]
async fn an_opt_out_revokes_the_numbers_consents_cancels_its_waiting_calls_and_ends_the_live_one() {
    let world = world().await;
    let waiting = stored_call(&world, "waiting-1", CallStatus::Scheduled, None).await;
    let live = stored_call(&world, "live-1", CallStatus::InProgress, Some("vapi-live")).await;
    let opt_out = OptOut {
        number: NUMBER.into(),
        channel: Channel::Staff,
        source: Some("the front desk".into()),
        reason: None,
        by: Actor { sub: "staff".into(), name: None },
    };
    let caller = Caller::system(ORG, "test");
    let done = world.calls.opt_out(&caller, opt_out, Utc::now()).await.unwrap();

    assert!(done.added, "the number was not on the list before");
    assert_eq!((done.revoked_consents, done.cancelled_calls), (1, 1), "{done:?}");
    assert_eq!(done.ended_calls, vec![live.id.to_string()]);
    assert_eq!(*world.vapi.ended.lock().unwrap(), vec!["vapi-live".to_string()], "the live call is ended through Vapi");
    assert!(world.store.consents(ORG, NUMBER).await.unwrap().iter().all(|c| c.revoked.is_some()));
    assert_eq!(world.store.get_call(ORG, &waiting.id).await.unwrap().unwrap().call.status, CallStatus::Cancelled);
    assert!(world.scheduler.unscheduled.lock().unwrap().iter().any(|r| r.call_id == waiting.id.as_str()), "its schedule is removed");
    assert!(world.store.is_on_do_not_call(ORG, NUMBER).await.unwrap());
}

#[tokio::test]
async fn the_reconciler_finishes_an_ended_call_from_vapi_fails_one_vapi_lost_and_requeues_one_never_placed() {
    let world = world().await;
    let age = Duration::minutes(45);
    let ended = stored_call_since(&world, "ended-1", CallStatus::InProgress, Some("vapi-ended"), age).await;
    let lost = stored_call_since(&world, "lost-1", CallStatus::InProgress, Some("vapi-lost"), age).await;
    let never = stored_call_since(&world, "never-1", CallStatus::Dialing, None, age).await;
    let started = ended.call_started_at.unwrap();
    world.vapi.calls.lock().unwrap().insert(
        "vapi-ended".into(),
        serde_json::json!({
            "id": "vapi-ended", "status": "ended", "endedReason": "customer-ended-call",
            "startedAt": callops_domain::time::format(&started),
            "endedAt": callops_domain::time::format(&(started + Duration::minutes(3))),
            "cost": 0.42, "type": "outboundPhoneCall",
            "customer": {"number": NUMBER},
            "assistantOverrides": {"metadata": {"orgId": ORG, "callId": "ended-1", "attempt": 1}}
        }),
    );
    let dialer = world.dialer(Arc::new(callops_domain::time::SystemClock));
    let done = dialer.reconcile(&world.calls, &ReconcileSettings::default(), Utc::now()).await.unwrap();

    assert_eq!((done.finished, done.failed, done.requeued), (1, 1, 1), "{done:?}");
    let status = |id: &str| {
        let store = world.store.clone();
        let id = id.to_string();
        async move { store.get_call(ORG, &id).await.unwrap().unwrap().call }
    };
    let finished = status(&ended.id).await;
    assert_eq!((finished.status, finished.cost_cents), (CallStatus::Completed, Some(42)), "what Vapi says is recorded as its report");
    assert_eq!(status(&lost.id).await.status, CallStatus::Failed, "a call Vapi does not know fails and gives its slot back");
    let requeued = status(&never.id).await;
    assert_eq!(requeued.status, CallStatus::Scheduled, "an attempt Vapi never made goes back in the queue");
    assert!(world.scheduler.scheduled.lock().unwrap().iter().any(|d| d.request.call_id == never.id.as_str()), "and is scheduled again");
    // Nothing is left for the next run.
    let again = dialer.reconcile(&world.calls, &ReconcileSettings::default(), Utc::now()).await.unwrap();
    assert_eq!((again.finished, again.failed, again.requeued), (0, 0, 0), "{again:?}");
    assert_ne!(again, Reconciled { checked: 99, ..Reconciled::default() });
}

#[tokio::test]
async fn a_campaign_schedules_each_contact_it_may_call_and_says_why_of_each_it_may_not() {
    let world = world().await;
    let now = Utc::now();
    let start = callops_domain::time::to_millis(now + Duration::days(1));
    let contact =
        |number: &str| callops_domain::campaign::Contact { number: number.into(), ..serde_json::from_value(serde_json::json!({"number": number})).unwrap() };
    let ask = callops_domain::campaign::plan::CampaignAsk {
        name: "Spring recall".into(),
        purpose: Some("Recall visit".into()),
        start_at: Some(start),
        calls_per_minute: Some(5),
        call_type: None,
        end_at: None,
        voicemail_message: None,
        contacts: vec![contact(NUMBER), contact("+12125550143"), contact("12")],
    };
    let created = world.calls.create_campaign(&Caller::system(ORG, "test"), Some(&world.agent.id), ask, None, now).await.unwrap();

    assert_eq!(created.accepted, 1, "{created:?}");
    let mut codes: Vec<&str> = created.rejected.iter().map(|r| r.code).collect();
    codes.sort();
    assert_eq!(codes.len(), 2, "{:?}", created.rejected);
    assert!(codes.contains(&"no_consent"), "a number without written consent is refused with its reason: {codes:?}");
    let unconsented = created.rejected.iter().find(|r| r.code == "no_consent").unwrap();
    assert!(unconsented.message.contains("prior_express_written"), "the row says which bases a campaign call needs: {}", unconsented.message);
    assert_eq!(unconsented.details.get("acceptedBases"), Some(&serde_json::json!(["prior_express_written"])));
    let scheduled = world.scheduler.scheduled.lock().unwrap().clone();
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert!(scheduled[0].at >= start, "not before the campaign starts");
    let call = world.store.get_call(ORG, &scheduled[0].request.call_id).await.unwrap().expect("the call is stored").call;
    assert_eq!((call.status, call.call_type, call.phone_number.as_str()), (CallStatus::Scheduled, CallType::OutboundCampaign, NUMBER));
    assert_eq!(call.campaign_id.as_deref(), Some(created.campaign.id.as_str()));
}
