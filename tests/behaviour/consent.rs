//! Consent through the local host: every outbound path refuses a call no
//! consent covers (`no_consent`), by the basis its call type needs; the
//! dialer refuses again at the claim; a placed call names the consent it
//! relied on; revocations are writes that stay on record; the CSV import
//! answers by row; and a tenant's consents are its own.

use callops_aws::store::{AgentStore, CallStore, CampaignStore, ConsentStore, DoNotCallStore};
use callops_dialer::{DialRequest, Dialed};
use callops_domain::{CallStatus, CallType};
use callops_tests::{DEMO_TOKEN, OTHER_TOKEN, TestHost, assert_error, callable, fake_vapi::FakeVapi, read};
use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn start() -> (TestHost, FakeVapi) {
    callops_tests::host_with_fake_vapi().await
}

fn in_minutes(minutes: i64) -> String {
    callops_domain::time::format(&(Utc::now() + chrono::Duration::minutes(minutes)))
}

fn call(number: &str, call_type: &str, minutes: i64) -> Value {
    json!({"phoneNumber": number, "callType": call_type, "scheduledAt": in_minutes(minutes), "voiceAgentId": "front-desk"})
}

async fn record(host: &TestHost, body: Value) -> (StatusCode, Value) {
    host.send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&body)).await
}

/// A call to `number` due now, stored as the scheduler would leave it.
async fn due(host: &TestHost, number: &str, call_type: CallType) -> DialRequest {
    let mut call = callops_tests::due_call("front-desk", number);
    call.call_type = call_type;
    host.host.store().create_call(&call).await.unwrap();
    DialRequest { org_id: "demo".into(), call_id: call.id, attempt: 1 }
}

/// Vapi's end-of-call report for a placed call, with `extra` fields (analysis, transcript).
async fn end_call(host: &TestHost, request: &DialRequest, vapi_call_id: &str, extra: Value) {
    let started = Utc::now() - chrono::Duration::minutes(2);
    let mut message = json!({"endedReason": "customer-ended-call",
        "startedAt": callops_domain::time::format(&started), "endedAt": callops_domain::time::format(&(started + chrono::Duration::seconds(60)))});
    for (key, value) in extra.as_object().into_iter().flatten() {
        message[key] = value.clone();
    }
    callops_tests::report_end(host, &request.call_id, vapi_call_id, message).await
}

#[tokio::test]
async fn a_patients_own_words_in_the_transcript_are_an_opt_out_even_when_the_assistant_missed_it() {
    let (host, _fake) = start().await;
    let (asks, does_not) = (callable(730), callable(731));
    host.consent("demo", &[&asks, &does_not]).await;
    let (_, waiting) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&asks, "OUTBOUND_FOLLOWUP", 240))).await;
    for (number, transcript) in [
        (&asks, "AI: Hi, this is Riley from Riverside Dental.\nUser: Please take me off your list, I don't want these calls."),
        (&does_not, "AI: If you'd like us to stop calling, just say so.\nUser: Don't stop calling, I need the reminders!"),
    ] {
        let request = due(&host, number, CallType::OutboundFollowup).await;
        let Dialed::Placed { vapi_call_id } = host.host.dialer().dial(request.clone()).await.unwrap() else { panic!("placed") };
        let extra = json!({"transcript": transcript, "analysis": {"structuredData": {"outcome": "OTHER", "doNotCallRequested": false}}});
        end_call(&host, &request, &vapi_call_id, extra).await;
    }
    assert!(host.host.store().is_on_do_not_call("demo", &asks).await.unwrap(), "their own words");
    assert!(!host.host.store().is_on_do_not_call("demo", &does_not).await.unwrap(), "words that only sound like it");
    let waiting = host.host.store().get_call("demo", waiting["id"].as_str().unwrap()).await.unwrap().unwrap().call;
    assert_eq!(waiting.status, CallStatus::Cancelled, "the call waiting for them is cancelled");
    // The audit log says so, with CallOps' webhook as the author of each change.
    let (_, log) = host.get(&format!("/api/audit?entityType=number&entityId={}", asks.replace('+', "%2B")), Some(DEMO_TOKEN)).await;
    let listed = &log["entries"][0];
    assert_eq!((listed["action"].as_str(), listed["actor"]["sub"].as_str()), (Some("dnc.added"), Some("system:webhook")), "{log}");
    let (_, log) = host.get(&format!("/api/audit?entityType=call&entityId={}", waiting.id), Some(DEMO_TOKEN)).await;
    assert_eq!((log["entries"][0]["action"].as_str(), log["entries"][0]["actor"]["sub"].as_str()), (Some("call.cancelled"), Some("system:webhook")));
}

#[tokio::test]
async fn every_outbound_path_rests_on_a_consent_its_call_type_accepts_and_a_revocation_stops_them_all() {
    let (host, fake) = start().await;
    let (express, written) = (callable(700), callable(701));

    // Prior express consent from the intake form; written consent from the web booking form.
    let (status, intake) = record(
        &host,
        json!({"phoneNumber": express, "basis": "prior_express", "source": "new-patient intake", "evidence": {"type": "form", "reference": "intake-12"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{intake}");
    assert_eq!(
        (intake["basis"].clone(), intake["capturedBy"]["sub"].clone(), intake["revoked"].clone()),
        (json!("prior_express"), json!(callops_tests::subject_of(DEMO_TOKEN)), Value::Null)
    );
    let (status, booking) = record(&host, json!({"phoneNumber": written, "basis": "prior_express_written", "source": "web booking form"})).await;
    assert_eq!(status, StatusCode::CREATED, "{booking}");

    // Scheduling: a lead call (marketing) needs written consent; a follow-up takes prior express consent.
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&express, "OUTBOUND_LEAD", 60))).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );
    let (status, follow_up) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&express, "OUTBOUND_FOLLOWUP", 60))).await;
    assert_eq!(status, StatusCode::CREATED, "{follow_up}");
    assert_eq!(host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&written, "OUTBOUND_LEAD", 60))).await.0, StatusCode::CREATED);
    let unknown = callable(702);
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&unknown, "OUTBOUND_FOLLOWUP", 60))).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );

    // A campaign refuses, by row, the contacts whose consent its calls cannot rest on.
    let campaign = json!({"name": "Recall", "voiceAgentId": "front-desk", "startAt": in_minutes(90), "contacts": [{"number": express}, {"number": written}, {"number": unknown}]});
    let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&campaign)).await;
    assert_eq!((status, created["accepted"].clone()), (StatusCode::CREATED, json!(1)), "{created}");
    let rows: Vec<(u64, &str)> = created["rejected"].as_array().unwrap().iter().map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap())).collect();
    assert_eq!(rows, vec![(1, "no_consent"), (3, "no_consent")]);

    // A placed call names the consent it relied on.
    let placed = due(&host, &written, CallType::OutboundLead).await;
    assert!(matches!(host.host.dialer().dial(placed.clone()).await.unwrap(), Dialed::Placed { .. }));
    let stored = host.host.store().get_call("demo", &placed.call_id).await.unwrap().unwrap().call;
    let relied = stored.compliance.and_then(|c| c.consent).expect("the consent relied on");
    assert_eq!((relied.id.as_str(), relied.basis.as_str()), (booking["id"].as_str().unwrap(), "prior_express_written"));

    // Another tenant sees none of this tenant's consents and cannot revoke them.
    let encoded = express.replace('+', "%2B");
    let (_, theirs) = host.get(&format!("/api/consents?phoneNumber={encoded}"), Some(OTHER_TOKEN)).await;
    assert_eq!(theirs["consents"], json!([]));
    let intake_id = intake["id"].as_str().unwrap();
    let revoke = json!({"channel": "sms", "reason": "replied STOP"});
    assert_error(
        &host.send(Method::POST, &format!("/api/consents/{intake_id}/revoke"), Some(OTHER_TOKEN), Some(&revoke)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Revoked: a write that stays on record, once.
    let (status, revoked) = host.send(Method::POST, &format!("/api/consents/{intake_id}/revoke"), Some(DEMO_TOKEN), Some(&revoke)).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!((revoked["revoked"]["channel"].clone(), revoked["revoked"]["reason"].clone()), (json!("sms"), json!("replied STOP")));
    assert_error(
        &host.send(Method::POST, &format!("/api/consents/{intake_id}/revoke"), Some(DEMO_TOKEN), Some(&revoke)).await,
        StatusCode::CONFLICT,
        "already_revoked",
    );
    let (_, listed) = host.get(&format!("/api/consents?phoneNumber={encoded}"), Some(DEMO_TOKEN)).await;
    assert_eq!(listed["consents"].as_array().unwrap().len(), 1, "kept: {listed}");
    assert_eq!(listed["consents"][0]["revoked"]["by"]["sub"], json!(callops_tests::subject_of(DEMO_TOKEN)));

    // After the revocation nothing more is scheduled or moved, and the dialer refuses at the claim.
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&express, "OUTBOUND_FOLLOWUP", 60))).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );
    let follow_up_id = follow_up["id"].as_str().unwrap();
    let mv = json!({"scheduledAt": in_minutes(120)});
    assert_error(
        &host.send(Method::PATCH, &format!("/api/outbound/scheduled/{follow_up_id}"), Some(DEMO_TOKEN), Some(&mv)).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );
    let refused = due(&host, &express, CallType::OutboundFollowup).await;
    let posts = fake.posts().len();
    assert_eq!(host.host.dialer().dial(refused.clone()).await.unwrap(), Dialed::NotDialed("no-consent"));
    let ended = host.host.store().get_call("demo", &refused.call_id).await.unwrap().unwrap().call;
    assert_eq!((ended.status, ended.ended_reason.as_deref()), (CallStatus::Cancelled, Some("no-consent")));
    assert_eq!(fake.posts().len(), posts, "nothing reached Vapi");

    // The compliance check says the same, with the rule that failed.
    let (_, check) =
        host.get(&format!("/api/compliance/check?phoneNumber={encoded}&callType=OUTBOUND_FOLLOWUP&voiceAgentId=front-desk"), Some(DEMO_TOKEN)).await;
    assert_eq!((check["allowed"].clone(), check["code"].clone()), (json!(false), json!("no_consent")), "{check}");
    assert!(check["rules"].as_array().unwrap().iter().any(|r| r["rule"] == "consent" && r["ok"] == json!(false)), "{check}");
}

#[tokio::test]
async fn a_tenant_may_ask_more_consent_never_none_and_bad_consents_change_nothing() {
    let (host, _fake) = start().await;
    let number = callable(710);
    assert_eq!(record(&host, json!({"phoneNumber": number, "basis": "prior_express", "source": "front desk"})).await.0, StatusCode::CREATED);
    assert_eq!(host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&number, "OUTBOUND_FOLLOWUP", 60))).await.0, StatusCode::CREATED);
    // Follow-ups now need written consent.
    let stricter = json!({"consentPolicy": {"OUTBOUND_FOLLOWUP": ["prior_express_written"]}});
    let (status, settings) = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&stricter)).await;
    assert_eq!((status, settings["consentPolicy"]["OUTBOUND_FOLLOWUP"].clone()), (StatusCode::OK, json!(["prior_express_written"])), "{settings}");
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&number, "OUTBOUND_FOLLOWUP", 60))).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );
    for bad in [
        json!({"consentPolicy": {"OUTBOUND_FOLLOWUP": []}}),
        json!({"consentPolicy": {"INBOUND": ["prior_express"]}}),
        json!({"consentPolicy": {"OUTBOUND_LEAD": ["verbal"]}}),
    ] {
        assert_error(&host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&bad)).await, StatusCode::BAD_REQUEST, "invalid_consent_policy");
    }
    assert_eq!(host.get("/api/settings", Some(DEMO_TOKEN)).await.1, settings, "refused policies changed nothing");

    // Bad consents: each refused with its code, nothing stored.
    let before = host.host.store().consents("demo", &number).await.unwrap();
    for (body, code) in [
        (json!({"phoneNumber": "call me", "basis": "prior_express", "source": "x"}), "invalid_phone_number"),
        (json!({"phoneNumber": number, "basis": "verbal", "source": "x"}), "invalid_basis"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": ""}), "invalid_source"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": "x".repeat(201)}), "invalid_source"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": "x", "scope": ["INBOUND"]}), "invalid_scope"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": "x", "capturedAt": in_minutes(60)}), "invalid_captured_at"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": "x", "capturedAt": "9999-01-01T00:00:00Z"}), "invalid_captured_at"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": "x", "expiresAt": in_minutes(-60)}), "invalid_expires_at"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": "x", "evidence": {"type": "rumour", "reference": "r"}}), "invalid_evidence"),
        (json!({"phoneNumber": number, "basis": "prior_express", "source": "x", "surprise": true}), "invalid_body"),
    ] {
        assert_error(&record(&host, body).await, StatusCode::BAD_REQUEST, code);
    }
    let revoke = |id: &str, body: Value| {
        let host = &host;
        let path = format!("/api/consents/{id}/revoke");
        async move { host.send(Method::POST, &path, Some(DEMO_TOKEN), Some(&body)).await }
    };
    let id = before[0].id.clone();
    assert_error(&revoke(&id, json!({"channel": "pigeon"})).await, StatusCode::BAD_REQUEST, "invalid_channel");
    assert_error(&revoke(&id, json!({"channel": "sms", "reason": "x".repeat(501)})).await, StatusCode::BAD_REQUEST, "invalid_reason");
    for unknown in ["no-such-consent", "no%23such"] {
        assert_error(&revoke(unknown, json!({"channel": "sms"})).await, StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(host.host.store().consents("demo", &number).await.unwrap(), before, "nothing changed");

    // The CSV import answers by row; the good rows are recorded.
    let file = format!(
        "phoneNumber,basis,source,scope,expiresAt\n{number},prior_express_written,paper form,OUTBOUND_FOLLOWUP,\n\
         {number},verbal,paper form,,\nnot a number,prior_express,paper form,,\n{number},prior_express,,,\n\
         {number},prior_express,paper form,OUTBOUND_SOMETHING,\n{number},prior_express,paper form,,2000-01-01T00:00:00Z\n"
    );
    let import =
        |body: String, content_type: &str| host.request(Method::POST, "/api/consents/import", Some(DEMO_TOKEN)).header("content-type", content_type).body(body);
    let (status, imported, _) = read(import(file.clone(), "text/csv")).await;
    assert_eq!((status, imported["accepted"].clone()), (StatusCode::OK, json!(1)), "{imported}");
    let rows: Vec<(u64, &str)> = imported["rejected"].as_array().unwrap().iter().map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap())).collect();
    assert_eq!(rows, vec![(2, "invalid_basis"), (3, "invalid_phone_number"), (4, "invalid_source"), (5, "invalid_scope"), (6, "invalid_expires_at")]);
    assert_eq!(host.host.store().consents("demo", &number).await.unwrap().len(), before.len() + 1);
    assert_error(
        &{
            let (status, body, _) = read(import(file, "application/json")).await;
            (status, body)
        },
        StatusCode::BAD_REQUEST,
        "unsupported_media_type",
    );
    let (status, body, _) = read(import("number,source\n+12125550142,x\n".into(), "text/csv")).await;
    assert_error(&(status, body), StatusCode::BAD_REQUEST, "invalid_csv");
    // With written consent for follow-ups on record, the stricter policy lets the call through again.
    let mut again = call(&number, "OUTBOUND_FOLLOWUP", 60);
    again["allowDuplicate"] = json!(true);
    assert_eq!(host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&again)).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn an_opt_out_from_any_channel_cancels_every_waiting_call_and_revokes_every_consent_before_it_answers() {
    let (host, fake) = start().await;
    let (patient, neighbour) = (callable(720), callable(721));
    host.consent("demo", &[&patient, &neighbour]).await;
    // Five calls to one number in a day are within this practice's cap.
    assert_eq!(host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"maxAttemptsPerNumberPerDay": 10}))).await.0, StatusCode::OK);
    // The patient waits in three campaigns and for a follow-up; the neighbour in the same campaigns.
    let mut campaigns = Vec::new();
    for i in 0..3 {
        let body = json!({"name": format!("Recall {i}"), "voiceAgentId": "front-desk", "startAt": in_minutes(60 + i * 30), "contacts": [{"number": patient}, {"number": neighbour}]});
        let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&body)).await;
        assert_eq!((status, created["accepted"].clone()), (StatusCode::CREATED, json!(2)), "{created}");
        campaigns.push(created["campaign"]["id"].as_str().unwrap().to_string());
    }
    let (status, follow_up) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&patient, "OUTBOUND_FOLLOWUP", 200))).await;
    assert_eq!(status, StatusCode::CREATED, "{follow_up}");
    let pending_before = host.host.scheduler().pending().len();

    // Bad opt-outs are refused with their code and change nothing.
    for (body, code) in [
        (json!({"phoneNumber": patient, "channel": "pigeon"}), "invalid_channel"),
        (json!({"phoneNumber": patient, "source": "x".repeat(201)}), "invalid_source"),
        (json!({"phoneNumber": patient, "reason": "x".repeat(501)}), "invalid_reason"),
        (json!({"phoneNumber": "call me"}), "invalid_phone_number"),
    ] {
        assert_error(&host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&body)).await, StatusCode::BAD_REQUEST, code);
    }
    assert!(!host.host.store().is_on_do_not_call("demo", &patient).await.unwrap());
    assert_eq!(host.host.scheduler().pending().len(), pending_before, "nothing cancelled");
    assert_error(&host.get("/api/analytics/calls/recent?phoneNumber=call%20me", Some(DEMO_TOKEN)).await, StatusCode::BAD_REQUEST, "invalid_phone_number");
    // A letter: every waiting call to the patient cancelled and every consent revoked before the answer.
    let letter = json!({"phoneNumber": patient, "channel": "letter", "source": "letter of 3 May", "reason": "asked not to be called"});
    let (status, opted_out) = host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&letter)).await;
    assert_eq!(status, StatusCode::CREATED, "{opted_out}");
    assert_eq!((opted_out["cancelledCalls"].clone(), opted_out["revokedConsents"].clone()), (json!(4), json!(1)));
    for campaign in &campaigns {
        let ids: Vec<String> = host.host.store().campaign_calls("demo", campaign, None).await.unwrap().into_iter().map(|c| c.call_id).collect();
        let calls = host.host.store().calls_by_id("demo", &ids).await.unwrap();
        let status_of = |number: &str| calls.values().find(|c| c.call.phone_number == number).map(|c| c.call.status).unwrap();
        assert_eq!((status_of(&patient), status_of(&neighbour)), (CallStatus::Cancelled, CallStatus::Scheduled), "campaign {campaign}");
    }
    let follow_up = host.host.store().get_call("demo", follow_up["id"].as_str().unwrap()).await.unwrap().unwrap().call;
    assert_eq!((follow_up.status, follow_up.ended_reason.as_deref()), (CallStatus::Cancelled, Some("on-do-not-call-list")));
    assert_eq!(host.host.scheduler().pending().len(), pending_before - 4, "their schedules are gone");
    let consents = host.host.store().consents("demo", &patient).await.unwrap();
    let revocation = consents[0].revoked.as_ref().expect("revoked");
    assert_eq!((revocation.channel.as_str(), revocation.by.sub.as_str()), ("letter", callops_tests::subject_of(DEMO_TOKEN).as_str()));
    assert!(host.host.store().consents("demo", &neighbour).await.unwrap()[0].revoked.is_none(), "the neighbour's stands");

    // The list keeps its history: who added, how and why; a removal needs its reason and is kept too.
    let path = format!("/api/dnc/{}", patient.replace('+', "%2B"));
    assert_eq!(
        host.send(Method::DELETE, &format!("{path}?reason=patient%20asked%20again%20in%20person"), Some(DEMO_TOKEN), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, history) = host.get(&format!("{path}/history"), Some(DEMO_TOKEN)).await;
    let entries: Vec<(&str, Option<&str>, Option<&str>, &str)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["action"].as_str().unwrap(), h["channel"].as_str(), h["reason"].as_str(), h["by"]["sub"].as_str().unwrap()))
        .collect();
    let admin = callops_tests::subject_of(DEMO_TOKEN);
    assert_eq!(
        entries,
        vec![
            ("added", Some("letter"), Some("asked not to be called"), admin.as_str()),
            ("removed", None, Some("patient asked again in person"), admin.as_str()),
        ]
    );
    // Off the list, the revoked consent still stands revoked: no call until a new consent is recorded.
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&patient, "OUTBOUND_FOLLOWUP", 60))).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );

    // During a call: the patient asks not to be called again; the calls waiting for them are cancelled too.
    let talking = due(&host, &neighbour, CallType::OutboundFollowup).await;
    let Dialed::Placed { vapi_call_id } = host.host.dialer().dial(talking.clone()).await.unwrap() else { panic!("placed") };
    end_call(&host, &talking, &vapi_call_id, json!({"analysis": {"structuredData": {"outcome": "OTHER", "doNotCallRequested": true}}})).await;
    assert!(host.host.store().is_on_do_not_call("demo", &neighbour).await.unwrap());
    for campaign in &campaigns {
        let calls = host.host.store().campaign_calls("demo", campaign, Some(CallStatus::Scheduled)).await.unwrap();
        assert!(calls.is_empty(), "nothing waits in campaign {campaign}");
    }
    assert!(host.host.store().consents("demo", &neighbour).await.unwrap().iter().all(|c| c.revoked.is_some()), "revoked by the call");
    let (_, history) = host.get(&format!("/api/dnc/{}/history", neighbour.replace('+', "%2B")), Some(DEMO_TOKEN)).await;
    assert_eq!((history["history"][0]["channel"].clone(), history["history"][0]["by"]["sub"].clone()), (json!("call"), json!("system:webhook")));
    assert_eq!(fake.posts().len(), 1, "only the call that was placed before the opt-out");
}

#[tokio::test]
async fn a_recording_is_kept_only_with_the_consent_the_callees_state_needs() {
    let (host, fake) = start().await;
    let numbers: Vec<String> = (740..743).map(callable).collect();
    host.consent("demo", &numbers.iter().map(String::as_str).collect::<Vec<_>>()).await;
    // A contact whose record says California: everyone's consent is needed to record.
    let in_california = |number: &str| {
        let mut call = callops_tests::due_call("front-desk", number);
        call.call_type = CallType::OutboundFollowup;
        // The record gives its zone too (the number's own, in its morning now), so the call's hours are the number's.
        (call.callee_state, call.callee_time_zone) = (Some("CA".parse().unwrap()), callops_domain::placement::callee::zones_of_number(number).first().copied());
        call
    };
    let recording = |url: &str, consent: Value| {
        json!({"artifact": {"recording": {"mono": {"combinedUrl": url}}}, "compliance": {"recordingConsent": consent},
            "analysis": {"structuredData": {"outcome": "INFORMATION"}}})
    };
    let mut outcomes = Vec::new();
    for (number, consent) in [(&numbers[0], json!({"type": "stay-on-line"})), (&numbers[1], json!({"type": "stay-on-line", "grantedAt": in_minutes(-1)}))] {
        let call = in_california(number);
        host.host.store().create_call(&call).await.unwrap();
        let request = DialRequest { org_id: "demo".into(), call_id: call.id.clone(), attempt: 1 };
        let Dialed::Placed { vapi_call_id } = host.host.dialer().dial(request.clone()).await.unwrap() else { panic!("placed") };
        // The dialer discloses the recording and asks, as Vapi's recording-consent plan does.
        let body = fake.posts().last().unwrap().body.clone();
        let plan = &body["assistantOverrides"]["compliancePlan"]["recordingConsentPlan"];
        assert_eq!((plan["type"].clone(), plan["message"].as_str().is_some_and(|m| m.contains("recorded"))), (json!("stay-on-line"), true), "{body}");
        assert!(body["assistantOverrides"].get("artifactPlan").is_none());
        end_call(&host, &request, &vapi_call_id, recording("https://storage.vapi.ai/recordings/r.wav", consent)).await;
        let stored = host.host.store().get_call("demo", &call.id).await.unwrap().unwrap().call;
        let asked = stored.compliance.as_ref().and_then(|c| c.recording.clone()).expect("the decision is kept");
        assert_eq!((asked.all_party, asked.asked), (true, callops_domain::placement::recording::RecordingAsk::Disclose));
        outcomes.push((stored.recording_url, stored.recording_withheld));
    }
    // Declined (no grantedAt): the link is dropped and the call says why; granted: kept.
    assert_eq!(outcomes[0].0, None);
    assert!(outcomes[0].1.as_deref().is_some_and(|why| why.contains("consent")), "{:?}", outcomes[0]);
    assert_eq!(outcomes[1], (Some("https://storage.vapi.ai/recordings/r.wav".to_string()), None));

    // A practice that does not record those calls switches recording off, and drops a recording sent anyway.
    let (status, settings) = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"recordingPolicy": "do_not_record"}))).await;
    assert_eq!((status, settings["recordingPolicy"].clone()), (StatusCode::OK, json!("do_not_record")), "{settings}");
    assert_error(
        &host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"recordingPolicy": "sometimes"}))).await,
        StatusCode::BAD_REQUEST,
        "invalid_recording_policy",
    );
    let call = in_california(&numbers[2]);
    host.host.store().create_call(&call).await.unwrap();
    let request = DialRequest { org_id: "demo".into(), call_id: call.id.clone(), attempt: 1 };
    let Dialed::Placed { vapi_call_id } = host.host.dialer().dial(request.clone()).await.unwrap() else { panic!("placed") };
    let body = fake.posts().last().unwrap().body.clone();
    assert_eq!(body["assistantOverrides"]["artifactPlan"], json!({"recordingEnabled": false}), "{body}");
    assert!(body["assistantOverrides"].get("compliancePlan").is_none());
    end_call(&host, &request, &vapi_call_id, recording("https://storage.vapi.ai/recordings/s.wav", json!(null))).await;
    let stored = host.host.store().get_call("demo", &call.id).await.unwrap().unwrap().call;
    assert_eq!(stored.recording_url, None);
    assert!(stored.recording_withheld.as_deref().is_some_and(|why| why.contains("switched off")), "{:?}", stored.recording_withheld);
}

#[tokio::test]
async fn an_opt_out_landing_between_a_claim_and_the_call_withdraws_the_claimed_attempt() {
    use callops_tests::faults::{Faults, Hold, ProxiedHost};
    // The Reassigned Numbers Database is not asked here: its own write would be the transaction held.
    let ProxiedHost { host, proxy, fake, engine } = ProxiedHost::start(false, |options| options.rnd = callops::RndBackend::Off).await;
    let direct = callops_aws::DynamoStore::new(engine.client(), callops::TABLE);
    let number = callable(750);
    callops_tests::consent(&direct, "demo", &[&number]).await;
    let call = callops_tests::due_call("front-desk", &number);
    direct.create_call(&call).await.unwrap();
    // The claim is written; every request after it waits until the opt-out has landed.
    let hold = std::sync::Arc::new(Hold::default());
    proxy.set(Faults::HoldAfterTransaction(hold.clone()));
    let dialing = {
        let host = host.host.clone();
        let request = DialRequest { org_id: "demo".into(), call_id: call.id.clone(), attempt: 1 };
        tokio::spawn(async move { host.dialer().dial(request).await })
    };
    hold.reached.notified().await;
    let claimed = direct.get_call("demo", &call.id).await.unwrap().unwrap().call;
    assert_eq!(claimed.status, CallStatus::Dialing, "claimed, not yet placed");
    let change = callops_aws::store::DoNotCallChange {
        at: Utc::now(),
        action: "added".into(),
        channel: Some(callops_domain::consent::Channel::Sms),
        source: Some("replied STOP".into()),
        reason: None,
        by: callops_domain::caller::Actor { sub: "sms-gateway".into(), name: None },
    };
    direct
        .add_do_not_call("demo", &number, &change, &callops_tests::system_audit("demo", callops_domain::records::audit::Action::DoNotCallAdded, &number))
        .await
        .unwrap();
    hold.release();
    assert_eq!(dialing.await.unwrap().unwrap(), Dialed::NotDialed("on-do-not-call-list"), "withdrawn before Vapi was asked");
    let withdrawn = direct.get_call("demo", &call.id).await.unwrap().unwrap().call;
    assert_eq!((withdrawn.status, withdrawn.ended_reason.as_deref()), (CallStatus::Cancelled, Some("on-do-not-call-list")));
    assert!(fake.posts().is_empty(), "no call placed");
    assert_eq!(direct.slots_in_use("demo", "front-desk").await.unwrap(), 0, "its slot given back");
}
