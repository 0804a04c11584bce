//! Texts to the practice's Twilio number through the local host, signed as
//! Twilio signs them: an opt-out by text cancels the number's waiting calls
//! before Twilio gets its answer; a request not signed with the practice's
//! token changes nothing; a redelivered message is handled once; help names
//! the practice; an opt-in to texts brings no voice consent back.

use callops_aws::store::{CallStore, ConsentStore, DoNotCallStore};
use callops_domain::{CallStatus, consent::Channel};
use callops_tests::{DEMO_TOKEN, DEMO_TWILIO_TOKEN, TestHost, callable};
use callops_webhook::twilio_signature::signature;
use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Twilio's form for a text from `from` saying `body`, with `extra` parameters.
fn message(sid: &str, from: &str, body: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", from),
        ("To", "+15035550100"),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.sort();
    params
}

/// Posts the form to the tenant's text webhook, signed with `token`: the status, content type and TwiML.
/// Form-encoded, as Twilio posts it.
fn form(params: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

fn post(url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().post(url).header("content-type", "application/x-www-form-urlencoded")
}

async fn text(host: &TestHost, org: &str, params: &[(String, String)], token: &str) -> (StatusCode, String, String) {
    let url = format!("{}/webhooks/twilio/{org}/sms", host.base);
    let response = post(&url).header("x-twilio-signature", signature(token, &url, params)).body(form(params)).send().await.unwrap();
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

async fn schedule(host: &TestHost, number: &str, hours: i64) -> String {
    let at = callops_domain::time::format(&(Utc::now() + chrono::Duration::hours(hours)));
    // Moved to the callee's next opening when the time asked is closed: the test runs at any hour.
    let body = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": at, "voiceAgentId": "front-desk", "moveToCallingHours": true});
    let (status, call) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    call["id"].as_str().unwrap().to_string()
}

async fn status_of(host: &TestHost, id: &str) -> CallStatus {
    host.host.store().get_call("demo", id).await.unwrap().unwrap().call.status
}

const EMPTY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

#[tokio::test]
async fn a_signed_stop_cancels_every_waiting_call_before_twilio_is_answered_and_a_forged_one_changes_nothing() {
    let host = TestHost::start(true).await;
    let number = callable(811);
    host.consent("demo", &[&number]).await;
    let (first, second) = (schedule(&host, &number, 3).await, schedule(&host, &number, 30).await);
    let stop = message("SM11111111111111111111111111111111", &number, "STOP", &[]);

    // Forged: another token, a changed body under a genuine signature, no signature, another tenant's path.
    let (status, _, _) = text(&host, "demo", &stop, "not-the-practice-token").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let url = format!("{}/webhooks/twilio/demo/sms", host.base);
    let genuine = signature(DEMO_TWILIO_TOKEN, &url, &message("SM2", &number, "Thanks, see you then", &[]));
    let tampered = post(&url).header("x-twilio-signature", genuine).body(form(&stop)).send().await.unwrap();
    assert_eq!(tampered.status(), StatusCode::FORBIDDEN);
    let unsigned = post(&url).body(form(&stop)).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    let (status, _, _) = text(&host, "globex", &stop, DEMO_TWILIO_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a tenant without a token takes no texts");
    assert_eq!(status_of(&host, &first).await, CallStatus::Scheduled);
    assert!(!host.host.store().is_on_do_not_call("demo", &number).await.unwrap(), "a forged text changed nothing");
    assert!(host.host.store().consents("demo", &number).await.unwrap().iter().all(|c| c.revoked.is_none()));

    // Genuine: Twilio confirms its own keyword, so the answer is an empty Response; everything is done by then.
    let (status, kind, twiml) = text(&host, "demo", &stop, DEMO_TWILIO_TOKEN).await;
    assert_eq!((status, kind.as_str(), twiml.as_str()), (StatusCode::OK, "application/xml", EMPTY));
    for id in [&first, &second] {
        assert_eq!(status_of(&host, id).await, CallStatus::Cancelled, "{id}");
    }
    let consents = host.host.store().consents("demo", &number).await.unwrap();
    assert!(!consents.is_empty() && consents.iter().all(|c| c.revoked.as_ref().is_some_and(|r| r.channel == Channel::Sms)), "{consents:?}");
    let history = host.host.store().do_not_call_history("demo", &number).await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].channel, Some(Channel::Sms));
    assert!(!history[0].reason.as_deref().unwrap_or_default().contains("STOP"), "the patient's words are not kept");

    // Twilio redelivers the same message: answered the same, nothing done twice.
    let about_number = format!("/api/audit?entityType=number&entityId={}&limit=100", number.replace('+', "%2B"));
    let (_, log) = host.get(&about_number, Some(DEMO_TOKEN)).await;
    let audit_before = log["entries"].as_array().unwrap().len();
    assert_eq!((log["entries"][0]["action"].as_str(), log["entries"][0]["actor"]["sub"].as_str()), (Some("dnc.added"), Some("system:twilio-sms")), "{log}");
    let (status, _, again) = text(&host, "demo", &stop, DEMO_TWILIO_TOKEN).await;
    assert_eq!((status, again.as_str()), (StatusCode::OK, EMPTY));
    assert_eq!(host.host.store().do_not_call_history("demo", &number).await.unwrap().len(), 1);
    assert_eq!(host.get(&about_number, Some(DEMO_TOKEN)).await.1["entries"].as_array().unwrap().len(), audit_before);

    // The compliance check says how the opt-out came in.
    let check = format!("/api/compliance/check?phoneNumber={}&callType=OUTBOUND_FOLLOWUP&voiceAgentId=front-desk", number.replace('+', "%2B"));
    let (_, answer) = host.get(&check, Some(DEMO_TOKEN)).await;
    assert_eq!((answer["code"].clone(), answer["optOut"]["channel"].clone()), (json!("on_do_not_call_list"), json!("sms")), "{answer}");

    // Scheduling to the number is refused from now on.
    let at = callops_domain::time::format(&(Utc::now() + chrono::Duration::hours(5)));
    let body = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": at, "voiceAgentId": "front-desk"});
    let (status, _) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn plain_words_are_confirmed_once_help_names_the_practice_and_start_restores_no_call() {
    let host = TestHost::start(true).await;
    let settings = json!({"practiceName": "Riverside Dental & Implants", "callbackNumber": "+15035550100"});
    let (status, body) = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&settings)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let number = callable(812);
    host.consent("demo", &[&number]).await;
    let waiting = schedule(&host, &number, 4).await;

    // Help: who is texting, and how to stop.
    let (_, _, help) = text(&host, "demo", &message("SM31", &number, "help", &[]), DEMO_TWILIO_TOKEN).await;
    assert!(help.contains("<Message>Riverside Dental &amp; Implants. Questions? Call us at +15035550100."), "{help}");
    assert_eq!(status_of(&host, &waiting).await, CallStatus::Scheduled, "help changes nothing");

    // Words Twilio does not act on, which the law counts: honoured, and confirmed by CallOps once.
    let (status, _, confirmed) = text(&host, "demo", &message("SM32", &number, "Please stop calling me, I moved.", &[]), DEMO_TWILIO_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirmed.contains("<Message>Riverside Dental &amp; Implants: your request is recorded."), "{confirmed}");
    assert_eq!(status_of(&host, &waiting).await, CallStatus::Cancelled);

    // START: texts may resume; the number stays off the call list and its consents stay revoked.
    let (_, _, started) = text(&host, "demo", &message("SM33", &number, "START", &[]), DEMO_TWILIO_TOKEN).await;
    assert_eq!(started, EMPTY);
    assert!(host.host.store().is_on_do_not_call("demo", &number).await.unwrap());
    assert!(host.host.store().consents("demo", &number).await.unwrap().iter().all(|c| c.revoked.is_some()));
    let (_, log) = host.get(&format!("/api/audit?entityType=number&entityId={}", number.replace('+', "%2B")), Some(DEMO_TOKEN)).await;
    assert_eq!(log["entries"][0]["action"].as_str(), Some("number.texts_resumed"), "the opt-in is on the record: {log}");

    // Advanced Opt-Out's verdict counts whatever the words (a keyword the practice added, another language).
    let other = callable(813);
    host.consent("demo", &[&other]).await;
    let waiting = schedule(&host, &other, 4).await;
    let (_, _, arret) = text(&host, "demo", &message("SM34", &other, "ARRET", &[("OptOutType", "STOP")]), DEMO_TWILIO_TOKEN).await;
    assert_eq!(arret, EMPTY);
    assert_eq!(status_of(&host, &waiting).await, CallStatus::Cancelled);

    // A text that asks for nothing changes nothing and keeps none of its words.
    let third = callable(814);
    host.consent("demo", &[&third]).await;
    let waiting = schedule(&host, &third, 4).await;
    let (_, _, chat) = text(&host, "demo", &message("SM35", &third, "Can I stop by Tuesday at 3?", &[]), DEMO_TWILIO_TOKEN).await;
    assert_eq!(chat, EMPTY);
    assert_eq!(status_of(&host, &waiting).await, CallStatus::Scheduled);
}

#[tokio::test]
async fn a_telemarketing_call_announces_a_key_press_opt_out_and_the_key_pressed_is_an_opt_out() {
    use callops_dialer::{DialRequest, Dialed};
    use chrono::Datelike;
    // The dialer's clock reads a Wednesday at 19:00 UTC (midday in Oregon, the front desk open): the test runs at any hour.
    let mut day = Utc::now().date_naive() + chrono::Duration::days(2);
    while day.weekday() != chrono::Weekday::Wed {
        day += chrono::Duration::days(1);
    }
    let (host, fake) = callops_tests::host_with_fake_vapi_dialing_at(Some(day.and_hms_opt(19, 0, 0).unwrap().and_utc())).await;
    host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"practiceName": "Riverside Dental"}))).await;
    let number = "+15035550815".to_string();
    host.consent("demo", &[&number]).await;
    let waiting = schedule(&host, &number, 5).await;
    let mut call = callops_tests::due_call("front-desk", &number);
    call.call_type = callops_domain::CallType::OutboundLead;
    host.host.store().create_call(&call).await.unwrap();
    let request = DialRequest { org_id: "demo".into(), call_id: call.id.clone(), attempt: 1 };
    let Dialed::Placed { vapi_call_id } = host.host.dialer().dial(request).await.unwrap() else { panic!("placed") };

    // Vapi is asked to take key presses, and the call opens with the practice's name and the instruction.
    let overrides = fake.posts().last().unwrap().body["assistantOverrides"].clone();
    assert_eq!(overrides["keypadInputPlan"], json!({"enabled": true, "timeoutSeconds": 2, "delimiters": "#"}));
    assert_eq!(overrides["firstMessage"], json!("Hello, this is Riverside Dental calling. To stop these calls, press 9 at any time."));
    let record = host.host.store().get_call("demo", &call.id).await.unwrap().unwrap().call.compliance.unwrap();
    assert_eq!(record.keypad.map(|k| k.digit), Some("9".to_string()));

    // The front desk's disclosure figures over the days around the call, before its report.
    let started = Utc::now() - chrono::Duration::minutes(2);
    let window = format!(
        "/api/analytics/agents?startDate={}&endDate={}&tz=UTC&agentId=front-desk",
        started.date_naive() - chrono::Duration::days(1),
        started.date_naive() + chrono::Duration::days(1)
    );
    let disclosures = |agents: &serde_json::Value| {
        let row = agents["agents"].as_array().unwrap().iter().find(|a| a["agentId"] == "front-desk").cloned().expect("the front desk's row");
        (row["disclosures"]["checked"].as_i64().unwrap(), row["disclosures"]["missed"].as_i64().unwrap())
    };
    let (status, before) = host.get(&window, Some(DEMO_TOKEN)).await;
    assert_eq!(status, 200, "{before}");
    let before = disclosures(&before);

    // The callee presses 9: Vapi reports the key in the transcript; the number's calls stop, and the list says how.
    let message = json!({"endedReason": "customer-ended-call", "startedAt": callops_domain::time::format(&started),
        "endedAt": callops_domain::time::format(&(started + chrono::Duration::seconds(40))),
        "transcript": "AI: Hello, this is Riverside Dental calling. To stop these calls, press 9 at any time.\nUser: User's Keypad Entry: 9",
        "analysis": {"structuredData": {"outcome": "OTHER", "doNotCallRequested": false}}});
    callops_tests::report_end(&host, &call.id, &vapi_call_id, message).await;
    assert_eq!(status_of(&host, &waiting).await, CallStatus::Cancelled, "the waiting call to the number is cancelled");
    let history = host.host.store().do_not_call_history("demo", &number).await.unwrap();
    assert_eq!((history[0].channel, history[0].source.as_deref()), (Some(Channel::Call), Some("keypress")));
    // What the call said of who was calling is checked on its transcript: the practice was named at the start, but
    // a marketing call also owes a callback number, and the practice has none set to say.
    let record = host.host.store().get_call("demo", &call.id).await.unwrap().unwrap().call.compliance.unwrap();
    let disclosure = record.disclosure.expect("the disclosure checked");
    assert!(disclosure.practice_named && disclosure.callback_stated == Some(false), "{disclosure:?}");
    assert!(record.rules.iter().any(|r| r.rule == "disclosure" && !r.ok), "{:?}", record.rules);
    // The miss is counted for the agent that placed the call, read through the analytics indexes and rollups.
    let (_, after) = host.get(&window, Some(DEMO_TOKEN)).await;
    assert_eq!(disclosures(&after), (before.0 + 1, before.1 + 1), "{after}");

    // A care call announces none: it takes no key presses.
    let other = "+15035550816".to_string();
    host.consent("demo", &[&other]).await;
    let mut care = callops_tests::due_call("front-desk", &other);
    care.call_type = callops_domain::CallType::OutboundFollowup;
    host.host.store().create_call(&care).await.unwrap();
    host.host.dialer().dial(DialRequest { org_id: "demo".into(), call_id: care.id.clone(), attempt: 1 }).await.unwrap();
    assert!(fake.posts().last().unwrap().body["assistantOverrides"].get("keypadInputPlan").is_none());
}
