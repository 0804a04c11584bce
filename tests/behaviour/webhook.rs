//! The Vapi webhook through the local host: authentication before anything
//! is stored, messages replayed from fixtures built to Vapi's shapes (with its
//! quirks), duplicates and reordering, and rollups that count each call once.

use callops_aws::store::{CallStore, DoNotCallStore, RollupCheckStore};
use callops_domain::{CallLog, CallStatus, CallType, time};
use callops_tests::{DEMO_TOKEN, DEMO_VAPI_SECRET, OTHER_VAPI_SECRET, TestHost, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn fixture(name: &str, call_id: &str, vapi_id: &str) -> String {
    callops_tests::vapi_fixture(name, call_id, vapi_id)
}

async fn deliver(host: &TestHost, body: &str, headers: &[(&str, String)]) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut request = client.post(format!("{}/webhooks/vapi", host.base)).header("content-type", "application/json").body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn deliver_as_demo(host: &TestHost, body: &str) -> (StatusCode, Value) {
    deliver(host, body, &[("x-vapi-secret", DEMO_VAPI_SECRET.to_string())]).await
}

/// A call CallOps scheduled and dialed, waiting for Vapi's reports.
async fn dialed_call(host: &TestHost, id: &str) -> CallLog {
    let call = callops_tests::dialed_call(id);
    host.host.store().create_call(&call).await.unwrap();
    call
}

async fn stored(host: &TestHost, id: &str) -> CallLog {
    host.host.store().get_call("demo", id).await.unwrap().expect("the call exists").call
}

async fn call_count(host: &TestHost) -> usize {
    host.host.store().all_calls().await.unwrap().len()
}

#[tokio::test]
async fn forged_stale_and_unsigned_messages_store_nothing() {
    let host = TestHost::start(false).await;
    host.keep_content_ten_years().await;
    let body = fixture("end-of-call-report-inbound", "", "vapi-forged");
    let before = call_count(&host).await;
    let stamp = chrono::Utc::now().timestamp_millis().to_string();
    let form = callops_webhook::auth::HmacForm::default();
    let old_stamp = (chrono::Utc::now() - chrono::Duration::minutes(6)).timestamp_millis().to_string();
    for headers in [
        vec![],
        vec![("x-vapi-secret", "wrong-secret".to_string())],
        vec![("authorization", "Bearer wrong-secret".to_string())],
        vec![("x-signature", callops_webhook::auth::sign(&form, "guess", &stamp, body.as_bytes())), ("x-timestamp", stamp.clone())],
        vec![("x-signature", callops_webhook::auth::sign(&form, DEMO_VAPI_SECRET, &old_stamp, body.as_bytes())), ("x-timestamp", old_stamp.clone())],
        vec![("x-signature", callops_webhook::auth::sign(&form, DEMO_VAPI_SECRET, &stamp, b"another body")), ("x-timestamp", stamp.clone())],
    ] {
        assert_error(&deliver(&host, &body, &headers).await, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let huge = format!("{{\"message\":{{\"type\":\"speech-update\",\"pad\":\"{}\"}}}}", "x".repeat(1024 * 1024));
    assert_error(&deliver_as_demo(&host, &huge).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(call_count(&host).await, before, "nothing was stored");

    // The same message, signed properly, is taken.
    let good = callops_webhook::auth::sign(&form, DEMO_VAPI_SECRET, &stamp, body.as_bytes());
    let (status, _) = deliver(&host, &body, &[("x-signature", good), ("x-timestamp", stamp)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(call_count(&host).await, before + 1);
}

#[tokio::test]
async fn an_outbound_call_is_recorded_field_by_field() {
    let host = TestHost::start(true).await;
    host.keep_content_ten_years().await;
    let id = "call-webhook-1";
    dialed_call(&host, id).await;

    let (status, body) = deliver_as_demo(&host, &fixture("status-update-in-progress", id, "vapi-1")).await;
    assert_eq!((status, body["handled"].clone()), (StatusCode::OK, json!(true)));
    let call = stored(&host, id).await;
    assert_eq!(call.status, CallStatus::InProgress);
    assert_eq!(call.vapi_call_id.as_deref(), Some("vapi-1"));
    assert_eq!(call.call_started_at, time::parse("2024-07-27T21:23:38.017Z"), "the float epoch timestamp");

    deliver_as_demo(&host, &fixture("end-of-call-report-booked", id, "vapi-1")).await;
    let call = stored(&host, id).await;
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.outcome, Some(callops_domain::CallOutcome::Booked), "the booking tool call wins over the analysis");
    assert!(call.appointment_set);
    assert_eq!(call.call_started_at, time::parse("2024-07-27T21:23:38.017Z"));
    assert_eq!(call.call_ended_at, time::parse("2024-07-27T21:26:02.517Z"));
    assert_eq!(call.duration, Some(145), "computed from endedAt - startedAt (144.5 s)");
    assert_eq!(call.cost_cents, Some(12));
    assert_eq!(call.ended_reason.as_deref(), Some("customer-ended-call"));
    assert!(call.transcript.as_deref().unwrap().starts_with("AI: Hi Maria"), "the artifact transcript, not the old copy");
    assert_eq!(call.summary.as_deref(), Some("Maria booked a cleaning for Tuesday at 10."));
    assert_eq!(call.recording_url.as_deref(), Some("https://storage.vapi.ai/recordings/vapi-1-mono.wav"));
    assert!(call.insurance_verified);
    assert_eq!(call.insurance_provider.as_deref(), Some("Delta Dental"));
    assert_eq!(call.customer_sentiment.as_deref(), Some("positive"));
    assert_eq!(call.call_quality, Some(5));
    assert_eq!(call.ai_confidence, Some(0.91));
    assert_eq!(call.call_notes.as_deref(), Some("Prefers mornings."));
    assert!(!call.transferred_to_staff && !call.payment_plan_discussed);
    assert_eq!(call.call_type, CallType::OutboundLead, "what CallOps scheduled stays");

    // Duplicates and late messages change nothing.
    for late in ["end-of-call-report-booked", "status-update-in-progress", "status-update-ended"] {
        deliver_as_demo(&host, &fixture(late, id, "vapi-1")).await;
        assert_eq!(stored(&host, id).await, call, "{late} changed the call");
    }
    assert!(host.host.store().verify_rollups().await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn order_does_not_change_the_final_call() {
    let host = TestHost::start(false).await;
    host.keep_content_ten_years().await;
    let orders: [&[&str]; 3] = [
        &["status-update-in-progress", "status-update-ended", "end-of-call-report-booked"],
        &["end-of-call-report-booked", "status-update-in-progress", "status-update-ended"],
        &["status-update-ended", "end-of-call-report-booked", "end-of-call-report-booked", "status-update-in-progress"],
    ];
    let mut finals = Vec::new();
    for (i, order) in orders.iter().enumerate() {
        let id = format!("call-order-{i}");
        dialed_call(&host, &id).await;
        for name in *order {
            let (status, _) = deliver_as_demo(&host, &fixture(name, &id, &format!("vapi-order-{i}"))).await;
            assert_eq!(status, StatusCode::OK);
        }
        let mut call = stored(&host, &id).await;
        call.id = String::new().into();
        call.vapi_call_id = None;
        call.updated_at = call.created_at;
        call.reported_at = call.reported_at.map(|_| call.created_at);
        call.recording_url = None;
        finals.push(call);
    }
    assert_eq!(finals[0], finals[1]);
    assert_eq!(finals[0], finals[2]);
    assert_eq!(finals[0].status, CallStatus::Completed);

    // The analytics count each call once.
    let (_, stats) = host.get("/api/analytics/calls?startDate=2024-07-27&endDate=2024-07-27", Some(DEMO_TOKEN)).await;
    assert_eq!(stats["totalCalls"], 3);
    assert_eq!(stats["bookingRate"], 100.0);
    assert!(host.host.store().verify_rollups().await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn an_inbound_call_becomes_a_new_call_under_its_agent() {
    let host = TestHost::start(true).await;
    host.keep_content_ten_years().await;
    let body = fixture("end-of-call-report-inbound", "", "vapi-inbound-1");
    assert_eq!(deliver_as_demo(&host, &body).await.0, StatusCode::OK);
    assert_eq!(deliver_as_demo(&host, &body).await.0, StatusCode::OK, "a duplicate is fine");
    let stored = host.host.store().find_call_by_vapi_id("demo", "vapi-inbound-1").await.unwrap().expect("created");
    let call = stored.call;
    assert_eq!(stored.revision, 1, "the duplicate changed nothing");
    assert_eq!(call.call_type, CallType::Inbound);
    assert_eq!(call.voice_agent_id, "billing", "found by its Vapi phone number id");
    assert_eq!(call.phone_number, "+13125550199");
    assert_eq!(call.customer_name.as_deref(), Some("Tom Becker"));
    assert_eq!(call.status, CallStatus::Completed, "an unknown endedReason is a normal end");
    assert_eq!(call.outcome, Some(callops_domain::CallOutcome::PaymentPlan));
    assert_eq!(call.duration, Some(310), "durationSeconds as a float");
    assert_eq!(call.cost_cents, Some(41), "cost as a string");
    assert!(call.payment_plan_discussed);
    assert_eq!(call.payment_plan_amount, Some(120_000), "dollars in the field name");
    assert!(call.collection_attempt && call.collection_success);
    assert_eq!(call.collection_amount, Some(20_000));
    assert!(call.follow_up_required);
    assert_eq!(call.follow_up_date, time::parse("2024-08-28T00:00:00Z"));

    // A call on a number no agent owns is kept, unassigned.
    let unowned = body.replace("pn-billing-demo", "pn-nobody").replace("vapi-inbound-1", "vapi-inbound-2");
    deliver_as_demo(&host, &unowned).await;
    let call = host.host.store().find_call_by_vapi_id("demo", "vapi-inbound-2").await.unwrap().unwrap().call;
    assert_eq!(call.voice_agent_id, callops_webhook::UNASSIGNED_AGENT);
}

#[tokio::test]
async fn other_messages_are_acknowledged_and_ignored() {
    let host = TestHost::start(false).await;
    host.keep_content_ten_years().await;
    let before = call_count(&host).await;
    let (status, body) = deliver_as_demo(&host, &fixture("speech-update", "", "vapi-x")).await;
    assert_eq!((status, body["handled"].clone()), (StatusCode::OK, json!(false)));
    assert_error(&deliver_as_demo(&host, "{\"not\": \"a message\"}").await, StatusCode::BAD_REQUEST, "invalid_message");
    assert_eq!(call_count(&host).await, before);
}

#[tokio::test]
async fn one_tenants_credential_cannot_write_into_another() {
    let host = TestHost::start(false).await;
    host.keep_content_ten_years().await;
    let id = "call-isolated";
    dialed_call(&host, id).await;
    let before = stored(&host, id).await;
    let body = fixture("end-of-call-report-booked", id, "vapi-iso");
    let (status, _) = deliver(&host, &body, &[("x-vapi-secret", OTHER_VAPI_SECRET.to_string())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(&host, id).await, before, "demo's call is untouched");
    let theirs = host.host.store().find_call_by_vapi_id("globex", "vapi-iso").await.unwrap();
    assert!(theirs.is_some(), "the report is kept under the tenant whose credential sent it");
}

#[tokio::test]
async fn a_do_not_call_request_puts_the_number_on_the_list() {
    let host = TestHost::start(true).await;
    host.keep_content_ten_years().await;
    let id = "call-stop";
    dialed_call(&host, id).await;
    let body = fixture("end-of-call-report-booked", id, "vapi-stop").replace("\"notes\": \"Prefers mornings.\"", "\"doNotCallRequested\": \"yes\"");
    assert!(!host.host.store().is_on_do_not_call("demo", "+12025550142").await.unwrap());
    assert_eq!(deliver_as_demo(&host, &body).await.0, StatusCode::OK);
    assert!(host.host.store().is_on_do_not_call("demo", "+12025550142").await.unwrap());
    assert!(!host.host.store().is_on_do_not_call("globex", "+12025550142").await.unwrap(), "the tenant's own list");
}

#[tokio::test]
async fn a_report_with_only_structured_outputs_fills_every_analytics_field() {
    let host = TestHost::start(true).await;
    host.keep_content_ten_years().await;
    let id = "call-webhook-outputs";
    dialed_call(&host, id).await;
    let (status, body) = deliver_as_demo(&host, &fixture("end-of-call-report-structured-outputs", id, "vapi-outputs")).await;
    assert_eq!((status, body["handled"].clone()), (StatusCode::OK, json!(true)));
    let call = stored(&host, id).await;
    assert_eq!((call.status, call.outcome), (CallStatus::Completed, Some(callops_domain::CallOutcome::PaymentPlan)));
    assert!(call.insurance_verified && call.payment_plan_discussed && call.collection_attempt && call.collection_success);
    assert_eq!(call.insurance_provider.as_deref(), Some("Delta Dental"));
    assert_eq!((call.payment_plan_amount, call.collection_amount), (Some(120_000), Some(4_500)));
    assert_eq!((call.customer_sentiment.as_deref(), call.call_quality, call.ai_confidence), (Some("positive"), Some(4), Some(0.88)));
    assert_eq!(call.call_notes.as_deref(), Some("Wants the plan in writing."));
    assert_eq!(call.recording_url.as_deref(), Some("https://storage.vapi.ai/recordings/vapi-outputs-mono.wav"), "artifact.recording, mono combined");

    // The dashboard's figures count it.
    let (status, stats) = host.get("/api/analytics/calls?startDate=2024-07-27&endDate=2024-07-27", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["insuranceVerified"], json!(1), "{stats}");
    assert_eq!(stats["paymentPlans"], json!({"count": 1, "totalAmountCents": 120_000}), "{stats}");
    assert_eq!((stats["collections"]["successes"].clone(), stats["collections"]["totalCollectedCents"].clone()), (json!(1), json!(4_500)), "{stats}");
    assert!(host.host.store().verify_rollups().await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn a_current_report_keeps_cost_parts_latency_transfers_and_success_and_the_analytics_count_them() {
    let host = TestHost::start(true).await;
    host.keep_content_ten_years().await;
    let id = "call-webhook-current";
    dialed_call(&host, id).await;
    // During the call, Vapi says it is transferring the patient.
    assert_eq!(deliver_as_demo(&host, &fixture("transfer-update", id, "vapi-current")).await.0, StatusCode::OK);
    let during = stored(&host, id).await;
    assert_eq!((during.transferred_to_staff, during.transferred_to.as_deref()), (true, Some("+12025550199")));

    let report = fixture("end-of-call-report-current", id, "vapi-current");
    assert_eq!(deliver_as_demo(&host, &report).await.0, StatusCode::OK);
    let call = stored(&host, id).await;
    assert_eq!((call.status, call.outcome, call.cost_cents), (CallStatus::Completed, Some(callops_domain::CallOutcome::Transferred), Some(28)));
    assert_eq!((call.transferred_to_staff, call.transferred_to.as_deref()), (true, Some("+12025550199")), "the transfer that connected, not the model's guess");
    let parts = call.cost_breakdown.clone().expect("the cost by part");
    assert_eq!(
        (parts.transport_cents, parts.stt_cents, parts.llm_cents, parts.tts_cents, parts.vapi_cents, parts.analysis_cents),
        (Some(2), Some(2), Some(6), Some(7), Some(12), Some(0))
    );
    assert_eq!((parts.llm_prompt_tokens, parts.llm_completion_tokens, parts.tts_characters), (Some(18_234), Some(412), Some(1_532)));
    let latency = call.latency.clone().expect("the latencies");
    assert_eq!((latency.turn_ms, latency.model_ms, latency.voice_ms, latency.turns), (Some(1000), Some(400), Some(210), Some(2)));
    assert_eq!(call.success_evaluation.as_deref(), Some("8"));
    assert_eq!(call.recording_url.as_deref(), Some("https://storage.vapi.ai/recordings/vapi-current-mono.wav"), "the stable URL, never a presigned one");

    // The same report again, with presigned URLs signed anew: no change at all.
    let stored_before = host.host.store().get_call("demo", id).await.unwrap().unwrap();
    assert_eq!(deliver_as_demo(&host, &report.replace("0f1e2d3c", "9a8b7c6d")).await.0, StatusCode::OK);
    let stored_after = host.host.store().get_call("demo", id).await.unwrap().unwrap();
    assert_eq!((stored_after.revision, stored_after.call), (stored_before.revision, stored_before.call), "a redelivery writes nothing");

    let window = "startDate=2024-07-27&endDate=2024-07-27";
    let (status, costs) = host.get(&format!("/api/analytics/costs?{window}"), Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{costs}");
    let by_component: Vec<(String, i64)> =
        costs["byComponent"].as_array().unwrap().iter().map(|c| (c["component"].as_str().unwrap().to_string(), c["totalCents"].as_i64().unwrap())).collect();
    let expected: Vec<(String, i64)> =
        [("transport", 2), ("stt", 2), ("llm", 6), ("tts", 7), ("vapi", 12), ("analysis", 0)].map(|(c, n)| (c.to_string(), n)).to_vec();
    assert_eq!(by_component, expected, "{costs}");
    assert_eq!(costs["usage"], json!({"callsWithBreakdown": 1, "llmPromptTokens": 18_234, "llmCompletionTokens": 412, "ttsCharacters": 1_532}));
    let (status, quality) = host.get(&format!("/api/analytics/quality?{window}&agentId=front-desk"), Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{quality}");
    assert_eq!(quality["successEvaluation"], json!({"evaluated": 1, "successes": 1, "successRate": 100.0}), "{quality}");
    assert_eq!((quality["latency"]["callsMeasured"].clone(), quality["latency"]["avgTurnMs"].clone()), (json!(1), json!(1000.0)), "{quality}");
    let (_, other_agent) = host.get(&format!("/api/analytics/quality?{window}&agentId=billing"), Some(DEMO_TOKEN)).await;
    assert_eq!(
        (other_agent["latency"]["callsMeasured"].clone(), other_agent["successEvaluation"]["successRate"].clone()),
        (json!(0), Value::Null),
        "per agent"
    );
    let (_, stats) = host.get(&format!("/api/analytics/calls?{window}"), Some(DEMO_TOKEN)).await;
    assert_eq!(stats["successEvaluation"]["successes"], json!(1), "{stats}");
    let verified = host.host.store().verify_rollups().await.unwrap();
    assert!(verified.drift.is_empty(), "{:?}", verified.drift);
}

/// The Vapi type each part of a message follows (field names from
/// `tests/fixtures/vapi/vapi-types.json`, read from Vapi's own types).
fn check_fields(types: &Value, type_names: &[&str], value: &Value, path: &str, allowed: &[&str], unknown: &mut Vec<String>) {
    let Some(object) = value.as_object() else { return };
    let known = |key: &str| {
        allowed.contains(&key) || type_names.iter().any(|t| types[*t].as_array().unwrap_or_else(|| panic!("{t} is not listed")).iter().any(|f| f == key))
    };
    for (key, child) in object {
        if !known(key) {
            unknown.push(format!("{path}.{key}"));
        }
        let nested: &[&str] = match (type_names[0], key.as_str()) {
            (t, "artifact") if t.starts_with("ServerMessage") || t == "Call" => &["Artifact"],
            (t, "analysis") if t.starts_with("ServerMessage") || t == "Call" => &["Analysis"],
            (t, "call") if t.starts_with("ServerMessage") => &["Call"],
            (t, "customer") if t.starts_with("ServerMessage") || t == "Call" => &["CreateCustomerDto"],
            (t, "compliance") if t.starts_with("ServerMessage") => &["Compliance"],
            (t, "costBreakdown") if t.starts_with("ServerMessage") || t == "Call" => &["CostBreakdown"],
            ("ServerMessageTransferUpdate", "destination") => &["TransferDestinationNumber", "TransferDestinationSip", "TransferDestinationAssistant"],
            ("Call", "assistantOverrides") => &["AssistantOverrides"],
            ("Artifact", "recording") => &["Recording"],
            ("Recording", "mono") => &["Mono"],
            ("Artifact", "performanceMetrics") => &["PerformanceMetrics"],
            ("Compliance", "recordingConsent") => &["RecordingConsent"],
            ("CostBreakdown", "analysisCostBreakdown") => &["AnalysisCostBreakdown"],
            ("TransferArtifact", "destination") => &["TransferDestinationNumber", "TransferDestinationSip"],
            _ => &[],
        };
        let items: &[&str] = match (type_names[0], key.as_str()) {
            ("Artifact", "transfers") => &["TransferArtifact"],
            ("PerformanceMetrics", "turnLatencies") => &["TurnLatency"],
            _ => &[],
        };
        let at = format!("{path}.{key}");
        if !nested.is_empty() {
            check_fields(types, nested, child, &at, &["type"], unknown);
        }
        for (i, item) in child.as_array().filter(|_| !items.is_empty()).into_iter().flatten().enumerate() {
            check_fields(types, items, item, &format!("{at}[{i}]"), &[], unknown);
        }
        if key == "costs" {
            for (i, item) in child.as_array().into_iter().flatten().enumerate() {
                let cost_type = match item["type"].as_str() {
                    Some("transport") => "TransportCost",
                    Some("transcriber") => "TranscriberCost",
                    Some("model") => "ModelCost",
                    Some("voice") => "VoiceCost",
                    Some("vapi") => "VapiCost",
                    Some("analysis") => "AnalysisCost",
                    Some("voicemail-detection") => "VoicemailDetectionCost",
                    Some("knowledge-base") => "KnowledgeBaseCost",
                    other => panic!("{at}[{i}]: no cost type {other:?}"),
                };
                check_fields(types, &[cost_type], item, &format!("{at}[{i}]"), &["type"], unknown);
            }
        }
    }
}

#[tokio::test]
async fn every_fixture_follows_vapis_own_types_and_replays_through_the_host() {
    let types: Value = serde_json::from_str(include_str!("../fixtures/vapi/vapi-types.json")).unwrap();
    let types = &types["types"];
    // The older copies real reports still carry at their top level (../shared/vapi.md).
    let legacy = ["durationSeconds", "durationMs", "summary", "transcript", "recordingUrl", "costBreakdown"];
    let host = TestHost::start(true).await;
    host.keep_content_ten_years().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vapi");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_string))
        .filter(|name| name != "vapi-types")
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for (i, name) in names.iter().enumerate() {
        let id = format!("call-fixture-{i}");
        dialed_call(&host, &id).await;
        let body = fixture(name, &id, &format!("vapi-fixture-{i}"));
        let message: Value = serde_json::from_str(&body).unwrap();
        let kind = message["message"]["type"].as_str().unwrap();
        let type_name = match kind {
            "end-of-call-report" => "ServerMessageEndOfCallReport",
            "status-update" => "ServerMessageStatusUpdate",
            "transfer-update" => "ServerMessageTransferUpdate",
            "speech-update" => "ServerMessageSpeechUpdate",
            other => panic!("{name}: no type for {other}"),
        };
        let mut unknown = Vec::new();
        check_fields(types, &[type_name], &message["message"], "message", &legacy, &mut unknown);
        assert_eq!(unknown, Vec::<String>::new(), "{name}: fields Vapi's types do not have");
        let (status, answer) = deliver_as_demo(&host, &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        let handled = matches!(kind, "end-of-call-report" | "status-update" | "transfer-update");
        assert_eq!(answer["handled"], json!(handled), "{name}: {answer}");
    }
}
