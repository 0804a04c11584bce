//! The dialer against a fake Vapi that checks what a real one would: each
//! attempt dials exactly once, inside every limit, whatever Vapi answers,
//! and the reconciler recovers what a crash or a lost webhook left. The
//! rules each attempt is placed under are checked below HTTP, with a set
//! clock (`shared/service/src/use_case_tests/placing.rs`).

use std::time::Duration;

use callops::{HostOptions, VapiBackend};
use callops_aws::StoredCall;
use callops_aws::store::{AgentStore, CallQueryStore, CallStore, LedgerStore, RollupCheckStore};
use callops_dialer::{DialRequest, DialSettings, Dialed, reconcile::ReconcileSettings};
use callops_domain::{CallStatus, CallType, call::new_call_id, time};
use callops_tests::{
    DEMO_TOKEN, DEMO_VAPI_SECRET, TestHost, callable,
    fake_vapi::{Answer, FAKE_VAPI_KEY, FakeVapi},
    host_options,
};
use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn start() -> (TestHost, FakeVapi) {
    let fake = FakeVapi::start().await;
    let options = HostOptions {
        vapi: VapiBackend::Remote {
            base_url: fake.base.clone(),
            api_key: FAKE_VAPI_KEY.into(),
            public_key: Some(callops_tests::fake_vapi::FAKE_VAPI_PUBLIC_KEY.into()),
        },
        dial: DialSettings {
            busy_delay: Duration::from_secs(30),
            busy_jitter: Duration::ZERO,
            max_posts: 3,
            backoff: Duration::from_millis(50),
            max_wait: Duration::from_secs(2),
            request_timeout: Duration::from_millis(400),
        },
        ..host_options(true, None)
    };
    (TestHost::start_with(options).await, fake)
}

/// A call due now, stored directly (no schedule, so only the test fires it).
async fn due_call(host: &TestHost, agent: &str, number: &str) -> DialRequest {
    let mut call = callops_tests::due_call(agent, number);
    call.customer_name = Some("Ada Lovelace".into());
    call.call_purpose = Some("New patient follow-up".into());
    call.variable_values.insert("appointment_date".into(), "May 3".into());
    host.consent("demo", &[number]).await;
    host.host.store().create_call(&call).await.unwrap();
    DialRequest { org_id: "demo".into(), call_id: call.id, attempt: 1 }
}

async fn stored(host: &TestHost, request: &DialRequest) -> StoredCall {
    host.host.store().get_call("demo", &request.call_id).await.unwrap().unwrap()
}

async fn slots(host: &TestHost, agent: &str) -> i64 {
    host.host.store().slots_in_use("demo", agent).await.unwrap()
}

async fn dial(host: &TestHost, request: &DialRequest) -> Dialed {
    host.host.dialer().dial(request.clone()).await.expect("the trigger is handled")
}

async fn make_agent(host: &TestHost, body: Value) {
    let (status, agent) = host.send(Method::POST, "/api/agents", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
}

#[tokio::test]
async fn an_attempt_dials_once_with_what_vapi_needs_and_a_duplicate_trigger_does_nothing() {
    let (host, fake) = start().await;
    let request = due_call(&host, "front-desk", &callable(142)).await;
    let placed = dial(&host, &request).await;
    let Dialed::Placed { vapi_call_id } = placed else { panic!("expected a placed call, got {placed:?}") };

    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.authorization.as_deref(), Some(format!("Bearer {FAKE_VAPI_KEY}").as_str()));
    assert!(post.content_type.as_deref().is_some_and(|t| t.starts_with("application/json")));
    let body = &post.body;
    assert_eq!(body["assistantId"], "asst-front-desk-demo");
    assert_eq!(body["phoneNumberId"], "pn-front-desk-demo");
    assert!(body.get("phoneNumber").is_none(), "one of phoneNumberId and phoneNumber");
    assert_eq!(body["customer"], json!({"number": callable(142), "name": "Ada Lovelace"}));
    assert_eq!(body["assistantOverrides"]["metadata"], json!({"orgId": "demo", "callId": request.call_id, "attempt": 1}));
    let variables = &body["assistantOverrides"]["variableValues"];
    assert_eq!((variables["purpose"].as_str(), variables["customerName"].as_str()), (Some("New patient follow-up"), Some("Ada Lovelace")));
    assert_eq!(variables["appointment_date"], "May 3");
    assert!(body.get("metadata").is_none(), "Vapi has no top-level metadata");
    assert!(body["name"].as_str().is_some_and(|n| n.chars().count() <= 40));

    let call = stored(&host, &request).await.call;
    assert_eq!((call.status, call.vapi_call_id.as_deref()), (CallStatus::InProgress, Some(vapi_call_id.as_str())));
    assert!(call.call_started_at.is_some());
    assert_eq!(slots(&host, "front-desk").await, 1, "the call holds a slot");

    // EventBridge delivers at least once: the same trigger again, and one racing it.
    assert_eq!(dial(&host, &request).await, Dialed::AlreadyHandled);
    let (a, b) = tokio::join!(host.host.dialer().dial(request.clone()), host.host.dialer().dial(request.clone()));
    assert_eq!((a.unwrap(), b.unwrap()), (Dialed::AlreadyHandled, Dialed::AlreadyHandled));
    assert_eq!(fake.posts().len(), 1, "never dialed twice");

    // The call ends (the webhook): the slot comes back in the same write.
    let report = json!({"message": {
        "type": "end-of-call-report", "endedReason": "customer-ended-call",
        "startedAt": time::format(&Utc::now()), "endedAt": time::format(&(Utc::now() + chrono::Duration::seconds(90))), "cost": 0.42,
        "call": {"id": vapi_call_id, "assistantOverrides": {"metadata": {"orgId": "demo", "callId": request.call_id, "attempt": 1}}},
        "analysis": {"structuredData": {"outcome": "BOOKED"}},
    }});
    let delivered = host.request(Method::POST, "/webhooks/vapi", None).header("x-vapi-secret", DEMO_VAPI_SECRET).json(&report).send().await.unwrap();
    assert!(delivered.status().is_success());
    let call = stored(&host, &request).await.call;
    assert_eq!((call.status, call.cost_cents), (CallStatus::Completed, Some(42)));
    assert_eq!(slots(&host, "front-desk").await, 0);
}

#[tokio::test]
async fn cancelled_calls_and_listed_numbers_are_not_dialed() {
    let (host, fake) = start().await;
    let cancelled = due_call(&host, "front-desk", &callable(142)).await;
    let (status, _) = host.send(Method::DELETE, &format!("/api/outbound/scheduled/{}", cancelled.call_id), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dial(&host, &cancelled).await, Dialed::AlreadyHandled);

    // An opt-out cancels the call waiting for the number before it answers: the trigger finds nothing to do.
    let listed = due_call(&host, "front-desk", &callable(143)).await;
    let (status, opted_out) = host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": callable(143)}))).await;
    assert_eq!((status, opted_out["cancelledCalls"].clone()), (StatusCode::CREATED, json!(1)), "{opted_out}");
    let call = stored(&host, &listed).await.call;
    assert_eq!((call.status, call.ended_reason.as_deref()), (CallStatus::Cancelled, Some("on-do-not-call-list")));
    assert_eq!(dial(&host, &listed).await, Dialed::AlreadyHandled);
    // A call to a listed number that reaches the dialer anyway (stored past every other path) is refused there too.
    let past_the_list = due_call(&host, "front-desk", &callable(143)).await;
    assert_eq!(dial(&host, &past_the_list).await, Dialed::NotDialed("on-do-not-call-list"));
    let call = stored(&host, &past_the_list).await.call;
    assert_eq!((call.status, call.ended_reason.as_deref()), (CallStatus::Cancelled, Some("on-do-not-call-list")));
    assert!(fake.posts().is_empty(), "nothing reached Vapi");
    assert_eq!(slots(&host, "front-desk").await, 0);
}

#[tokio::test]
async fn with_no_free_slot_the_attempt_waits_and_a_full_vapi_account_gives_the_slot_back() {
    let (host, fake) = start().await;
    make_agent(
        &host,
        json!({"id": "solo", "name": "Solo", "vapiAssistantId": "asst-solo", "vapiPhoneNumberId": "pn-solo", "timeZone": "UTC",
        "callingHours": {"start": "00:00", "end": "24:00"}, "maxConcurrentCalls": 1}),
    )
    .await;
    let first = due_call(&host, "solo", &callable(142)).await;
    assert!(matches!(dial(&host, &first).await, Dialed::Placed { .. }));
    let second = due_call(&host, "solo", &callable(143)).await;
    let Dialed::Moved { to, why } = dial(&host, &second).await else { panic!("expected a move") };
    assert_eq!(why, "no_free_slot");
    assert!(to > Utc::now() + chrono::Duration::seconds(25), "moved by the busy delay");
    assert_eq!(stored(&host, &second).await.call.status, CallStatus::Scheduled);
    assert_eq!(fake.posts().len(), 1, "the second never reached Vapi");
    assert_eq!(slots(&host, "solo").await, 1);

    // Vapi's own limit: a 201 saying the account is full.
    let third = due_call(&host, "front-desk", &callable(144)).await;
    fake.script([Answer { concurrency_blocked: true, ..Answer::created() }]);
    let Dialed::Moved { why, .. } = dial(&host, &third).await else { panic!("expected a move") };
    assert_eq!(why, "Vapi concurrency limit");
    assert_eq!(stored(&host, &third).await.call.status, CallStatus::Scheduled);
    assert_eq!(slots(&host, "front-desk").await, 0, "the slot came back");
    // ... and as a 400 mentioning concurrency.
    fake.script([Answer::error(400, "Over Concurrency Limit.")]);
    let fourth = due_call(&host, "front-desk", &callable(145)).await;
    assert!(matches!(dial(&host, &fourth).await, Dialed::Moved { why: "Vapi concurrency limit", .. }));
    assert_eq!(slots(&host, "front-desk").await, 0);
}

#[tokio::test]
async fn a_refused_call_fails_with_its_reason_and_gives_its_slot_back() {
    let (host, fake) = start().await;
    fake.script([Answer::error(400, "customer.number must be a valid phone number in the E.164 format.")]);
    let refused = due_call(&host, "front-desk", &callable(142)).await;
    assert!(matches!(dial(&host, &refused).await, Dialed::Failed(_)));
    let call = stored(&host, &refused).await.call;
    assert_eq!(call.status, CallStatus::Failed);
    assert!(call.ended_reason.as_deref().is_some_and(|r| r.contains("E.164")), "{:?}", call.ended_reason);

    fake.script([Answer::error(401, "Invalid Key")]);
    let unauthorized = due_call(&host, "front-desk", &callable(143)).await;
    assert!(matches!(dial(&host, &unauthorized).await, Dialed::Failed(_)));
    let call = stored(&host, &unauthorized).await.call;
    assert_eq!((call.status, call.ended_reason.as_deref()), (CallStatus::Failed, Some("vapi-unauthorized: HTTP 401")));
    assert_eq!(fake.posts().len(), 2, "no retry after a refusal");
    assert!(fake.lookups().is_empty(), "a refusal means no call was made: nothing to look up");
    assert_eq!(slots(&host, "front-desk").await, 0);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_only_after_asking_vapi() {
    let (host, fake) = start().await;
    fake.script([Answer { retry_after: Some("1".into()), ..Answer::error(429, "Too Many Requests") }]);
    let limited = due_call(&host, "front-desk", &callable(142)).await;
    let started = std::time::Instant::now();
    assert!(matches!(dial(&host, &limited).await, Dialed::Placed { .. }));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    let requests = fake.requests();
    let order: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(order, vec!["POST", "GET", "POST"], "asked before posting again");
    assert!(requests[1].query.contains("phoneNumberId=pn-front-desk-demo") && requests[1].query.contains("createdAtGt="), "{}", requests[1].query);

    fake.script([Answer::error(500, "Internal"), Answer::error(503, "Unavailable"), Answer::error(502, "Bad gateway")]);
    let failing = due_call(&host, "front-desk", &callable(143)).await;
    let Dialed::Failed(reason) = dial(&host, &failing).await else { panic!("expected a failure") };
    assert!(reason.starts_with("vapi-unavailable"), "{reason}");
    assert_eq!(fake.posts().len(), 2 + 3, "three tries, then FAILED");
    assert_eq!(stored(&host, &failing).await.call.status, CallStatus::Failed);
    assert_eq!(slots(&host, "front-desk").await, 1, "only the placed call holds a slot");
}

#[tokio::test]
async fn a_timeout_after_vapi_took_the_call_places_no_second_call() {
    let (host, fake) = start().await;
    // Vapi makes the call but answers after the dialer has given up waiting.
    fake.script([Answer { delay: Duration::from_secs(2), ..Answer::created() }]);
    let request = due_call(&host, "front-desk", &callable(142)).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &request).await else { panic!("expected the call found") };
    assert_eq!(fake.posts().len(), 1, "no second POST");
    assert_eq!(fake.calls().len(), 1, "one real phone call");
    assert_eq!(fake.calls()[0]["id"], vapi_call_id.as_str());
    assert_eq!(stored(&host, &request).await.call.vapi_call_id.as_deref(), Some(vapi_call_id.as_str()));
}

#[tokio::test]
async fn the_reconciler_recovers_a_crash_after_vapis_answer_and_a_lost_webhook() {
    let (host, fake) = start().await;
    // The dialer claimed the attempt, Vapi made the call, and the dialer died before writing it down.
    let request = due_call(&host, "front-desk", &callable(142)).await;
    let before = stored(&host, &request).await;
    let mut claimed = before.call.clone();
    claimed.status = CallStatus::Dialing;
    host.host.store().update_call_with(&before, &claimed, &[callops_aws::AlongWithCall::TakeSlot { max: 10 }]).await.unwrap();
    let vapi_id = uuid_like();
    let now = Utc::now();
    fake.make_call(json!({
        "id": vapi_id, "status": "ended", "type": "outboundPhoneCall", "phoneNumberId": "pn-front-desk-demo",
        "createdAt": time::format(&now), "startedAt": time::format(&now), "endedAt": time::format(&(now + chrono::Duration::seconds(75))),
        "endedReason": "customer-ended-call", "cost": 0.31,
        "assistantOverrides": {"metadata": {"orgId": "demo", "callId": request.call_id, "attempt": 1}},
        "analysis": {"summary": "Booked a cleaning.", "structuredData": {"outcome": "BOOKED", "appointmentBooked": true}},
        "artifact": {"transcript": "AI: Hello\nUser: Hi", "recordingUrl": "https://storage.vapi.ai/x.wav"},
    }));
    // A second call, in progress as far as we know, whose end-of-call webhook was lost.
    let lost = due_call(&host, "front-desk", &callable(143)).await;
    let Dialed::Placed { vapi_call_id: lost_vapi_id } = dial(&host, &lost).await else { panic!("placed") };
    fake.update_call(&lost_vapi_id, |call| {
        call["status"] = json!("ended");
        call["endedReason"] = json!("customer-did-not-answer");
        call["cost"] = json!(0.02);
    });
    assert_eq!(slots(&host, "front-desk").await, 2);

    let settings = ReconcileSettings { dialing: Duration::ZERO, in_progress: Duration::ZERO, overdue: Duration::from_secs(600) };
    let done = host.host.dialer().reconcile(&host.host.calls(), &settings, Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(done.finished, 2, "{done:?}");

    let recovered = stored(&host, &request).await.call;
    assert_eq!(recovered.vapi_call_id.as_deref(), Some(vapi_id.as_str()));
    assert_eq!((recovered.status, recovered.outcome, recovered.cost_cents), (CallStatus::Completed, Some(callops_domain::CallOutcome::Booked), Some(31)));
    assert_eq!(recovered.summary.as_deref(), Some("Booked a cleaning."));
    let missed = stored(&host, &lost).await.call;
    assert_eq!((missed.status, missed.cost_cents), (CallStatus::Missed, Some(2)));
    assert_eq!(slots(&host, "front-desk").await, 0, "both slots came back");
    assert_eq!(fake.posts().len(), 1, "the reconciler never dials");

    // A claim Vapi never saw goes back in the queue, to be dialed again.
    let unplaced = due_call(&host, "front-desk", &callable(144)).await;
    let before = stored(&host, &unplaced).await;
    let mut claimed = before.call.clone();
    claimed.status = CallStatus::Dialing;
    host.host.store().update_call_with(&before, &claimed, &[callops_aws::AlongWithCall::TakeSlot { max: 10 }]).await.unwrap();
    let done = host.host.dialer().reconcile(&host.host.calls(), &settings, Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(done.requeued, 1, "{done:?}");
    assert_eq!(stored(&host, &unplaced).await.call.status, CallStatus::Scheduled);
    assert_eq!(slots(&host, "front-desk").await, 0);
    let report = host.host.store().verify_rollups().await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
}

fn uuid_like() -> String {
    new_call_id().into_string()
}

#[tokio::test]
async fn a_call_scheduled_seconds_ahead_completes_through_the_simulator_and_the_webhook() {
    let host = TestHost::start(true).await;
    host.consent("demo", &[&callable(142)]).await;
    let at = time::format(&(Utc::now() + chrono::Duration::seconds(2)));
    let body = json!({"phoneNumber": callable(142), "callType": "OUTBOUND_LEAD", "scheduledAt": at, "voiceAgentId": "front-desk", "customerName": "Ada"});
    let (status, call) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let id = call["id"].as_str().unwrap().to_string();
    let mut seen = vec![call["status"].as_str().unwrap().to_string()];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let (_, now) = host.get(&format!("/api/calls/{id}"), Some(DEMO_TOKEN)).await;
        let status = now["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        // Ended, and its end-of-call-report recorded (a status update can end it first).
        if CallStatus::ALL.iter().any(|s| s.is_terminal() && s.as_str() == status) && now["reportedAt"].is_string() {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "the call did not end: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(seen.first().map(String::as_str), Some("SCHEDULED"));
    assert!(seen.contains(&"IN_PROGRESS".to_string()), "{seen:?}");
    assert!(done["vapiCallId"].is_string() && done["endedReason"].is_string(), "{done}");
    assert!(done["costCents"].as_i64().is_some_and(|c| c > 0), "a cost: {done}");
    assert!(done["outcome"].is_string(), "an outcome: {done}");
    assert_eq!(host.host.store().slots_in_use("demo", "front-desk").await.unwrap(), 0);
    assert_eq!(host.host.simulator().unwrap().calls_created(), 1);
}

#[tokio::test]
async fn a_call_that_reached_nobody_is_tried_again_once_and_an_agreed_follow_up_is_scheduled() {
    let (host, _fake) = start().await;
    let deliver = |body: Value| {
        let request = host.request(Method::POST, "/webhooks/vapi", None).header("x-vapi-secret", DEMO_VAPI_SECRET).json(&body);
        async move { assert!(request.send().await.unwrap().status().is_success()) }
    };
    let report = |request: &DialRequest, vapi_id: &str, reason: &str, data: Value| {
        json!({"message": {
            "type": "end-of-call-report", "endedReason": reason, "cost": 0.05,
            "startedAt": time::format(&Utc::now()), "endedAt": time::format(&(Utc::now() + chrono::Duration::seconds(20))),
            "call": {"id": vapi_id, "assistantOverrides": {"metadata": {"orgId": "demo", "callId": request.call_id, "attempt": request.attempt}}},
            "analysis": {"structuredData": data},
        }})
    };

    let unanswered = due_call(&host, "front-desk", &callable(142)).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &unanswered).await else { panic!("placed") };
    let no_answer = report(&unanswered, &vapi_call_id, "customer-did-not-answer", Value::Null);
    deliver(no_answer.clone()).await;
    deliver(no_answer).await; // delivered twice
    let ended = stored(&host, &unanswered).await.call;
    assert_eq!(ended.status, CallStatus::Missed);
    let waiting = host.host.store().query_calls("demo", &callops_aws::PageRequest::new(&callops_aws::CallQuery::Scheduled, 10)).await.unwrap().items;
    assert_eq!(waiting.len(), 1, "one retry, however often the report comes");
    let retry = &waiting[0];
    assert_eq!((retry.attempt, retry.phone_number.as_str(), retry.call_type), (2, callable(142).as_str(), CallType::OutboundLead));
    assert_eq!(retry.call_purpose, ended.call_purpose);
    let due = retry.scheduled_at.unwrap();
    let expected = ended.call_ended_at.unwrap().max(ended.updated_at) + chrono::Duration::minutes(30);
    assert!((due - expected).num_seconds().abs() <= 5, "30 minutes later by the default policy: {due} vs {expected}");
    let retry_request = DialRequest { org_id: "demo".into(), call_id: retry.id.clone(), attempt: 2 };
    assert!(host.host.scheduler().pending().contains(&(due, retry_request.schedule_name())), "the retry has its schedule");
    assert_eq!(slots(&host, "front-desk").await, 0);

    // A patient who agreed to a follow-up gets an OUTBOUND_FOLLOWUP call that day.
    let agreed = due_call(&host, "front-desk", &callable(143)).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &agreed).await else { panic!("placed") };
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let day = (Utc::now().with_timezone(&ny) + chrono::Duration::days(3)).date_naive();
    deliver(report(&agreed, &vapi_call_id, "customer-ended-call", json!({"outcome": "BOOKED", "followUpRequired": true, "followUpDate": day.to_string()})))
        .await;
    let waiting = host.host.store().query_calls("demo", &callops_aws::PageRequest::new(&callops_aws::CallQuery::Scheduled, 10)).await.unwrap().items;
    let follow_up = waiting.iter().find(|c| c.call_type == CallType::OutboundFollowup).expect("a follow-up call");
    assert_eq!((follow_up.phone_number.as_str(), follow_up.attempt), (callable(143).as_str(), 1));
    assert_eq!(follow_up.scheduled_at.unwrap().with_timezone(&ny).date_naive(), day, "on the agreed day, in the practice's zone");
}

#[tokio::test]
async fn a_transient_twilio_number_is_sent_with_its_token_read_from_the_secret_it_names() {
    let (host, fake) = start().await;
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var("CALLOPS_SECRET_demo_TWILIOTOKEN", "twilio-auth-token-value") };
    make_agent(
        &host,
        json!({"id": "twilio", "name": "Twilio", "vapiAssistantId": "asst-twilio", "timeZone": "UTC",
        "callingHours": {"start": "00:00", "end": "24:00"},
        "twilioNumber": {"number": "+1 (212) 555-0100", "accountSid": "AC0123", "authTokenSecret": "env:CALLOPS_SECRET_demo_TWILIOTOKEN"}}),
    )
    .await;
    let request = due_call(&host, "twilio", &callable(142)).await;
    assert!(matches!(dial(&host, &request).await, Dialed::Placed { .. }));
    let body = &fake.posts()[0].body;
    assert!(body.get("phoneNumberId").is_none());
    assert_eq!(body["phoneNumber"], json!({"twilioPhoneNumber": "+12125550100", "twilioAccountSid": "AC0123", "twilioAuthToken": "twilio-auth-token-value"}));
    let agent = host.get("/api/agents/twilio", Some(DEMO_TOKEN)).await.1;
    assert!(!agent.to_string().contains("twilio-auth-token-value"), "the token is never stored: {agent}");
}

/// Vapi's end-of-call report for a placed call, delivered to the webhook.
async fn report_end(host: &TestHost, request: &DialRequest, vapi_call_id: &str, message: Value) {
    callops_tests::report_end(host, &request.call_id, vapi_call_id, message).await
}

#[tokio::test]
async fn a_structured_output_that_comes_after_the_report_is_read_again_and_counted_once() {
    let (host, fake) = start().await;
    // The front desk's assistant fills a structured output of its own name.
    let (status, agent) =
        host.send(Method::PATCH, "/api/agents/front-desk", Some(DEMO_TOKEN), Some(&json!({"structuredOutputName": "riverside-fields"}))).await;
    assert_eq!((status, agent["structuredOutputName"].clone()), (StatusCode::OK, json!("riverside-fields")), "{agent}");
    let (status, refused) = host.send(Method::PATCH, "/api/agents/front-desk", Some(DEMO_TOKEN), Some(&json!({"structuredOutputName": "x".repeat(41)}))).await;
    assert_eq!((status, refused["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_structured_output_name")));

    let request = due_call(&host, "front-desk", &callable(142)).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &request).await else { panic!("placed") };
    let started = Utc::now() - chrono::Duration::minutes(3);
    let times = json!({"startedAt": time::format(&started), "endedAt": time::format(&(started + chrono::Duration::seconds(120))), "endedReason": "customer-ended-call"});
    // The report comes before the output is made: only the structured data of the legacy path.
    let mut message = times.clone();
    message["analysis"] = json!({"summary": "Talked about a payment plan.", "structuredData": {"insuranceProvider": "Aetna"}});
    report_end(&host, &request, &vapi_call_id, message).await;
    let call = stored(&host, &request).await.call;
    assert_eq!((call.status, call.outcome, call.payment_plan_discussed), (CallStatus::Completed, Some(callops_domain::CallOutcome::Other), false));
    let awaited = call.awaiting_output.clone().expect("the output is awaited");
    assert_eq!((awaited.name.as_str(), awaited.tries), ("riverside-fields", 0));
    let window = format!("startDate={}&agentId=front-desk", started.format("%Y-%m-%d"));
    let plans = |stats: &Value| stats["paymentPlans"].clone();
    assert_eq!(plans(&host.get(&format!("/api/analytics/calls?{window}"), Some(DEMO_TOKEN)).await.1), json!({"count": 0, "totalAmountCents": 0}));

    async fn reconcile_at(host: &TestHost, minutes: i64) -> callops_dialer::reconcile::Reconciled {
        let at = Utc::now() + chrono::Duration::minutes(minutes);
        host.host.dialer().reconcile(&host.host.calls(), &ReconcileSettings::default(), at).await.unwrap()
    }
    assert_eq!(reconcile_at(&host, 0).await.outputs_read, 0, "not due yet");
    // The first look: Vapi has not made it yet.
    fake.update_call(&vapi_call_id, |c| {
        c["status"] = json!("ended");
        c["endedReason"] = json!("customer-ended-call");
    });
    assert_eq!(reconcile_at(&host, 3).await.outputs_read, 1);
    assert_eq!(stored(&host, &request).await.call.awaiting_output.map(|a| a.tries), Some(1));
    // Now it is there, on the call Vapi returns.
    fake.update_call(&vapi_call_id, |c| {
        c["analysis"] = json!({"structuredData": {"insuranceProvider": "Aetna"}});
        c["artifact"] = json!({"structuredOutputs": {"5b0e": {"name": "riverside-fields", "result": {
            "outcome": "PAYMENT_PLAN", "paymentPlanDiscussed": true, "paymentPlanAmountCents": 90_000, "customerSentiment": "positive"}}}});
    });
    assert_eq!(reconcile_at(&host, 9).await.outputs_read, 1);
    let applied = stored(&host, &request).await;
    assert_eq!((applied.call.outcome, applied.call.payment_plan_amount), (Some(callops_domain::CallOutcome::PaymentPlan), Some(90_000)));
    assert_eq!((applied.call.insurance_provider.as_deref(), applied.call.awaiting_output.clone()), (Some("Aetna"), None));
    assert_eq!(plans(&host.get(&format!("/api/analytics/calls?{window}"), Some(DEMO_TOKEN)).await.1), json!({"count": 1, "totalAmountCents": 90_000}));
    // Once: later runs find nothing to read and change nothing.
    assert_eq!(reconcile_at(&host, 30).await.outputs_read, 0);
    assert_eq!(stored(&host, &request).await.revision, applied.revision);
    assert_eq!(plans(&host.get(&format!("/api/analytics/calls?{window}"), Some(DEMO_TOKEN)).await.1), json!({"count": 1, "totalAmountCents": 90_000}));

    // A call whose output never comes: three looks, then no more.
    let never = due_call(&host, "front-desk", &callable(143)).await;
    let Dialed::Placed { vapi_call_id: never_id } = dial(&host, &never).await else { panic!("placed") };
    report_end(&host, &never, &never_id, times).await;
    let mut looks = 0;
    for minutes in [3, 9, 20, 40, 80] {
        looks += reconcile_at(&host, minutes).await.outputs_read;
    }
    assert_eq!(looks, 3, "bounded in tries");
    let given_up = stored(&host, &never).await.call;
    assert_eq!((given_up.awaiting_output, given_up.outcome), (None, Some(callops_domain::CallOutcome::Other)));
    let report = host.host.store().verify_rollups().await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
}

/// A call due now for `demo`'s front desk, to `number`, of `call_type`, about `debt`, from a contact in `state`.
async fn due_to(host: &TestHost, number: &str, call_type: CallType, debt: Option<&str>, state: Option<&str>) -> DialRequest {
    let mut call = callops_tests::due_call("front-desk", number);
    call.call_type = call_type;
    call.debt_id = debt.map(str::to_string);
    call.callee_state = state.map(|s| s.parse().unwrap());
    // A record that names a state gives its zone too (the number's own, in its morning now): a state alone would add all of its zones.
    call.callee_time_zone = state.and_then(|_| callops_domain::placement::callee::zones_of_number(number).first().copied());
    host.consent("demo", &[number]).await;
    host.host.store().create_call(&call).await.unwrap();
    DialRequest { org_id: "demo".into(), call_id: call.id, attempt: 1 }
}

#[tokio::test]
async fn the_compliance_check_answers_what_the_dialer_would_decide_and_a_placed_call_keeps_why() {
    let (host, _fake) = start().await;
    let number = callable(170);
    let check = |query: String| {
        let host = &host;
        async move { host.get(&format!("/api/compliance/check?{query}"), Some(DEMO_TOKEN)).await }
    };
    let encoded = number.replace('+', "%2B");
    // No consent on record: the dialer would refuse it, for good.
    let (_, unconsented) = check(format!("phoneNumber={encoded}&callType=OUTBOUND_LEAD&voiceAgentId=front-desk")).await;
    assert_eq!((unconsented["allowed"].clone(), unconsented["code"].clone()), (json!(false), json!("no_consent")), "{unconsented}");
    host.consent("demo", &[&number]).await;
    let (status, now) = check(format!("phoneNumber={encoded}&callType=OUTBOUND_LEAD&voiceAgentId=front-desk")).await;
    assert_eq!(status, StatusCode::OK, "{now}");
    assert_eq!((now["allowed"].clone(), now["code"].clone()), (json!(true), Value::Null), "{now}");
    let zone = callops_domain::placement::callee::zones_of_number(&number)[0];
    assert_eq!(now["zones"], json!([zone.name()]));
    // 23:00 tomorrow on the callee's clock: refused, with the morning after's 08:00.
    let tomorrow = (Utc::now().with_timezone(&zone) + chrono::Duration::days(1)).date_naive();
    let night = time::local_to_utc(zone, tomorrow.and_hms_opt(23, 0, 0).unwrap());
    let morning = time::local_to_utc(zone, (tomorrow + chrono::Duration::days(1)).and_hms_opt(8, 0, 0).unwrap());
    let (_, later) =
        check(format!("phoneNumber={encoded}&callType=OUTBOUND_LEAD&voiceAgentId=front-desk&at={}", time::format(&night).replace('+', "%2B"))).await;
    assert_eq!((later["allowed"].clone(), later["code"].clone()), (json!(false), json!("outside_calling_hours")), "{later}");
    assert_eq!(later["nextAllowedAt"], json!(time::format(&morning)));
    let failed: Vec<&str> = later["rules"].as_array().unwrap().iter().filter(|r| r["ok"] == json!(false)).map(|r| r["rule"].as_str().unwrap()).collect();
    // The law's window and the practice's own hours (08:00 to 20:00) are closed at 23:00, and so is any state's
    // window where the callee is (Oregon's telemarketing hours, say); nothing else refuses the call.
    assert!(failed.contains(&"tcpa_hours") && failed.contains(&"agent_hours"), "{later}");
    assert!(failed.iter().all(|rule| rule.ends_with("_hours")), "only hours refuse it: {failed:?}");
    // A contact's state adds its rules: Florida's evening ends at 20:00.
    let (_, florida) = check(format!("phoneNumber={encoded}&callType=OUTBOUND_DEBT&debtId=inv-1&voiceAgentId=front-desk&state=FL")).await;
    let rules: Vec<&str> = florida["rules"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    for rule in ["fl_hours", "fl_3_in_24h", "regf_7_in_7", "regf_after_conversation", "tenant_cap"] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    assert!(florida["states"].as_array().unwrap().contains(&json!("FL")), "the contact's state besides the number's: {florida}");
    for (query, code) in [
        ("phoneNumber=nope&callType=OUTBOUND_LEAD".to_string(), "invalid_phone_number"),
        (format!("phoneNumber={encoded}&callType=INBOUND"), "invalid_call_type"),
        (format!("phoneNumber={encoded}&callType=OUTBOUND_LEAD&voiceAgentId=front-desk&state=Narnia"), "invalid_state"),
        (format!("phoneNumber={encoded}&callType=OUTBOUND_LEAD&voiceAgentId=front-desk&at=soon"), "invalid_at"),
    ] {
        callops_tests::assert_error(&check(query).await, StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(host.host.store().ledger("demo", &number).await.unwrap().attempts.len(), 0, "nothing stored");

    // The call the dialer places keeps the rules it was placed under.
    let request = due_to(&host, &number, CallType::OutboundLead, None, None).await;
    assert!(matches!(dial(&host, &request).await, Dialed::Placed { .. }));
    let record = stored(&host, &request).await.call.compliance.expect("the placed call says why");
    assert_eq!(record.zones, vec![zone.name().to_string()]);
    assert!(record.rules.iter().all(|r| r.ok), "{:?}", record.rules);
    assert!(record.rules.iter().any(|r| r.rule == "tenant_cap") && record.rules.iter().any(|r| r.rule == "tcpa_hours"));
}

#[tokio::test]
async fn on_a_holiday_where_the_callee_is_nothing_is_scheduled_or_dialed() {
    let (host, fake) = start().await;
    let number = callable(180);
    host.consent("demo", &[&number]).await;
    let zone = callops_domain::placement::callee::zones_of_number(&number)[0];
    let today = Utc::now().with_timezone(&zone).date_naive();
    let (status, settings) = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"holidays": [today.to_string()]}))).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    let tomorrow_morning = time::local_to_utc(zone, (today + chrono::Duration::days(1)).and_hms_opt(8, 0, 0).unwrap());

    // Scheduling for now: refused with the day's code and the next allowed time, or moved there when asked.
    let body = json!({"phoneNumber": number, "callType": "OUTBOUND_LEAD", "scheduledAt": time::format(&Utc::now()), "voiceAgentId": "front-desk"});
    let refused = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
    callops_tests::assert_error(&refused, StatusCode::BAD_REQUEST, "closed_day");
    assert_eq!(refused.1["error"]["nextAllowedAt"], json!(time::format(&tomorrow_morning)));
    let mut moving = body.clone();
    moving["moveToCallingHours"] = json!(true);
    let (status, moved) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&moving)).await;
    assert_eq!((status, moved["scheduledAt"].clone()), (StatusCode::CREATED, json!(time::format(&tomorrow_morning))), "{moved}");

    // An attempt already waiting when the holiday was set is moved by the dialer, not placed.
    let due = due_to(&host, &number, CallType::OutboundFollowup, None, None).await;
    let Dialed::Moved { to, why } = dial(&host, &due).await else { panic!("moved") };
    assert_eq!((to, why), (tomorrow_morning, "closed_day"));
    assert!(fake.posts().is_empty(), "nothing reached Vapi");
}

#[tokio::test]
async fn a_collection_call_keeps_to_the_times_the_patient_said_are_inconvenient() {
    let (host, fake) = start().await;
    let number = callable(190);
    host.consent("demo", &[&number]).await;
    let zone = callops_domain::placement::callee::zones_of_number(&number)[0];
    let local = Utc::now().with_timezone(&zone);
    let hour = chrono::Timelike::hour(&local);
    let path = format!("/api/numbers/{}/inconvenient-times", number.replace('+', "%2B"));
    let times = json!({"times": [{"start": format!("{hour:02}:00"), "end": format!("{:02}:00", hour + 2)}]});
    let (status, kept) = host.send(Method::PUT, &path, Some(DEMO_TOKEN), Some(&times)).await;
    assert_eq!((status, kept["times"][0]["start"].clone()), (StatusCode::OK, json!(format!("{hour:02}:00"))), "{kept}");
    assert_eq!(host.get(&path, Some(DEMO_TOKEN)).await.1, kept);
    for bad in [json!({"times": [{"start": "14:00", "end": "13:00"}]}), json!({"times": [{"start": "9am", "end": "10:00"}]})] {
        callops_tests::assert_error(&host.send(Method::PUT, &path, Some(DEMO_TOKEN), Some(&bad)).await, StatusCode::BAD_REQUEST, "invalid_inconvenient_times");
    }
    let free_again = time::local_to_utc(zone, local.date_naive().and_hms_opt(hour + 2, 0, 0).unwrap());

    // Scheduling a collection call now is refused with when it may come; a lead call is not held to them.
    let debt =
        json!({"phoneNumber": number, "callType": "OUTBOUND_DEBT", "scheduledAt": time::format(&Utc::now()), "voiceAgentId": "billing", "debtId": "inv-9"});
    let refused = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&debt)).await;
    callops_tests::assert_error(&refused, StatusCode::BAD_REQUEST, "inconvenient_time");
    assert_eq!(refused.1["error"]["nextAllowedAt"], json!(time::format(&free_again)));
    // A collection call already waiting is moved by the dialer; a lead call to the same number is placed.
    let waiting = due_to(&host, &number, CallType::OutboundDebt, Some("inv-9"), None).await;
    let Dialed::Moved { to, why } = dial(&host, &waiting).await else { panic!("moved") };
    assert_eq!((to, why), (free_again, "inconvenient_time"));
    let lead = due_to(&host, &number, CallType::OutboundLead, None, None).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &lead).await else { panic!("a lead call is placed") };
    assert_eq!(fake.posts().len(), 1);

    // What the patient says during a call is kept with the number too.
    let started = Utc::now() - chrono::Duration::minutes(2);
    let mut message =
        json!({"endedReason": "customer-ended-call", "startedAt": time::format(&started), "endedAt": time::format(&(started + chrono::Duration::seconds(60)))});
    message["analysis"] = json!({"structuredData": {"outcome": "INFORMATION", "inconvenientTimes": [{"days": ["sat", "Sunday"], "start": "09:00", "end": "11:00"}, {"start": "nope", "end": "10:00"}]}});
    report_end(&host, &lead, &vapi_call_id, message).await;
    let (_, now_kept) = host.get(&path, Some(DEMO_TOKEN)).await;
    assert_eq!(now_kept["times"].as_array().unwrap().len(), 2, "{now_kept}");
    assert_eq!(now_kept["times"][1], json!({"days": ["sat", "sun"], "start": "09:00", "end": "11:00"}), "the readable one, added");
}
