//! Campaigns as a practice runs them, through the local host: a campaign's
//! call type and the rules that come with it.

use callops_aws::CallQuery;
use callops_aws::store::CallQueryStore;
use callops_domain::{CallLog, CallType, time::Span};
use callops_tests::{DEMO_TOKEN, TestHost, assert_error, callable};
use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn in_minutes(minutes: i64) -> String {
    callops_domain::time::format(&(Utc::now() + Duration::minutes(minutes)))
}

async fn create(host: &TestHost, body: &Value) -> (StatusCode, Value) {
    host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(body)).await
}

async fn campaign_calls(host: &TestHost, id: &str) -> Vec<CallLog> {
    let (_, waiting) = host.get(&format!("/api/outbound/scheduled?campaignId={id}"), Some(DEMO_TOKEN)).await;
    serde_json::from_value(waiting["calls"].clone()).unwrap()
}

#[tokio::test]
async fn a_campaign_has_one_call_type_and_every_call_keeps_that_types_rules() {
    let host = TestHost::start(true).await;
    let spoken = callable(600);
    // Consent given by phone (prior express, not written): enough for care and collection calls, not for marketing.
    let consent = json!({"phoneNumber": spoken, "basis": "prior_express", "source": "front desk"});
    assert_eq!(host.send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&consent)).await.0, StatusCode::CREATED);
    let campaign = |call_type: Option<&str>, contacts: Value| {
        let mut body = json!({"name": "Recall", "voiceAgentId": "billing", "startAt": in_minutes(60), "contacts": contacts});
        if let Some(call_type) = call_type {
            body["callType"] = json!(call_type);
        }
        body
    };
    let waiting_before = host.host.store().count_calls("demo", &CallQuery::Scheduled, Span::ALL).await.unwrap();

    // Not an outbound type: refused before anything is read or stored.
    for call_type in ["INBOUND", "OUTBOUND_SOMETHING", ""] {
        assert_error(&create(&host, &campaign(Some(call_type), json!([{"number": spoken}]))).await, StatusCode::BAD_REQUEST, "invalid_call_type");
    }
    // The default type is marketing: written consent only.
    let refused = create(&host, &campaign(None, json!([{"number": spoken}]))).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "no_valid_contacts");
    assert_eq!(refused.1["error"]["rejected"][0]["code"], "no_consent", "{}", refused.1);
    assert_eq!(host.host.store().count_calls("demo", &CallQuery::Scheduled, Span::ALL).await.unwrap(), waiting_before, "nothing stored");

    // A care campaign rests on the same consent, and its calls are care calls.
    let (status, care) = create(&host, &campaign(Some("OUTBOUND_FOLLOWUP"), json!([{"number": spoken}]))).await;
    assert_eq!(status, StatusCode::CREATED, "{care}");
    assert_eq!(care["campaign"]["callType"], "OUTBOUND_FOLLOWUP");
    let id = care["campaign"]["id"].as_str().unwrap();
    let calls = campaign_calls(&host, id).await;
    assert_eq!(calls.iter().map(|c| c.call_type).collect::<Vec<_>>(), vec![CallType::OutboundFollowup]);
    let (_, view) = host.get(&format!("/api/campaigns/{id}"), Some(DEMO_TOKEN)).await;
    assert_eq!(view["campaign"]["callType"], "OUTBOUND_FOLLOWUP", "{view}");

    // A collection campaign: each row names its debt (Regulation F counts per person and debt), or is refused alone.
    let other = callable(601);
    let consent = json!({"phoneNumber": other, "basis": "prior_express", "source": "front desk"});
    assert_eq!(host.send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&consent)).await.0, StatusCode::CREATED);
    let (status, debt) = create(&host, &campaign(Some("OUTBOUND_DEBT"), json!([{"number": other, "debtId": "INV-7"}, {"number": spoken}]))).await;
    assert_eq!(status, StatusCode::CREATED, "{debt}");
    let rows: Vec<(u64, &str)> = debt["rejected"].as_array().unwrap().iter().map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap())).collect();
    assert_eq!(rows, vec![(2, "debt_id_required")]);
    let calls = campaign_calls(&host, debt["campaign"]["id"].as_str().unwrap()).await;
    assert_eq!(calls.iter().map(|c| (c.call_type, c.debt_id.as_deref())).collect::<Vec<_>>(), vec![(CallType::OutboundDebt, Some("INV-7"))]);
}

/// A dialer's clock stopped at one time.
struct At(chrono::DateTime<Utc>);

impl callops_domain::time::Clock for At {
    fn now(&self) -> chrono::DateTime<Utc> {
        self.0
    }
}

/// A Wednesday at least two days ahead, 19:00 UTC: midday in Oregon, every rule's hours open.
fn wednesday_noon_in_oregon() -> chrono::DateTime<Utc> {
    use chrono::Datelike;
    let mut day = Utc::now().date_naive() + Duration::days(2);
    while day.weekday() != chrono::Weekday::Wed {
        day += Duration::days(1);
    }
    day.and_hms_opt(19, 0, 0).unwrap().and_utc()
}

async fn call_of(host: &TestHost, id: &str) -> CallLog {
    use callops_aws::store::CallStore;
    host.host.store().get_call("demo", id).await.unwrap().unwrap().call
}

#[tokio::test]
async fn a_paused_campaign_places_nothing_new_and_resumes_inside_every_rule() {
    use callops_dialer::{DialRequest, Dialed};
    let noon = wednesday_noon_in_oregon();
    let (host, fake) = callops_tests::host_with_fake_vapi_dialing_at(Some(noon)).await;
    let numbers = ["+15035550861", "+15035550862", "+15035550863"];
    host.consent("demo", &numbers).await;
    let contacts: Vec<Value> = numbers.iter().map(|n| json!({"number": n})).collect();
    let body = json!({"name": "Recall", "voiceAgentId": "front-desk", "callsPerMinute": 60,
        "startAt": callops_domain::time::format(&noon), "contacts": contacts});
    let (status, created) = create(&host, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["campaign"]["id"].as_str().unwrap().to_string();
    let calls = campaign_calls(&host, &id).await;
    let by_number = |n: &str| calls.iter().find(|c| c.phone_number == n).unwrap().id.to_string();
    let (first, second, third) = (by_number(numbers[0]), by_number(numbers[1]), by_number(numbers[2]));
    let dial = |call: &str| DialRequest { org_id: "demo".into(), call_id: call.into(), attempt: 1 };

    // The first call is placed; then the campaign pauses: the others are held, with no time and no schedule.
    assert!(matches!(host.host.dialer().dial(dial(&first)).await.unwrap(), Dialed::Placed { .. }));
    let viewer = host.send(Method::POST, &format!("/api/campaigns/{id}/pause"), Some(callops_tests::DEMO_VIEWER_TOKEN), None).await;
    assert_error(&viewer, StatusCode::FORBIDDEN, "forbidden");
    let (status, paused) = host.send(Method::POST, &format!("/api/campaigns/{id}/pause"), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!((paused["campaign"]["status"].as_str(), paused["calls"].as_u64()), (Some("paused"), Some(2)), "{paused}");
    for held in [&second, &third] {
        let call = call_of(&host, held).await;
        assert!(call.is_held(), "{call:?}");
        assert!(!host.host.scheduler().pending().iter().any(|(_, name)| name == &dial(held).schedule_name()), "no schedule left");
    }
    let waiting = campaign_calls(&host, &id).await;
    assert!(waiting.len() == 2 && waiting.iter().all(|c| c.scheduled_at.is_none()), "the campaign's waiting calls are listed, held with no time: {waiting:?}");
    // Pausing again changes nothing, and leaves one audit entry.
    let (_, again) = host.send(Method::POST, &format!("/api/campaigns/{id}/pause"), Some(DEMO_TOKEN), None).await;
    assert_eq!(again["calls"], 0, "{again}");
    let (_, log) = host.get(&format!("/api/audit?entityType=campaign&entityId={id}"), Some(DEMO_TOKEN)).await;
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "campaign.paused").count(), 1, "{actions:?}");

    // A held call's trigger firing late places nothing.
    let posts = fake.posts().len();
    assert_eq!(host.host.dialer().dial(dial(&second)).await.unwrap(), Dialed::Held);
    assert_eq!(fake.posts().len(), posts, "Vapi is not asked while the campaign is paused");

    // While paused, the third patient asks not to be called: the resume asks every rule again.
    let dnc = json!({"phoneNumber": numbers[2], "reason": "asked by phone"});
    assert_eq!(host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&dnc)).await.0, StatusCode::CREATED);
    let (status, resumed) = host.send(Method::POST, &format!("/api/campaigns/{id}/resume"), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!((resumed["campaign"]["status"].as_str(), resumed["calls"].as_u64()), (Some("active"), Some(1)), "{resumed}");
    assert_eq!(resumed["refused"], json!([{"callId": third, "code": "on_do_not_call_list"}]));
    let closed = call_of(&host, &third).await;
    assert_eq!((closed.status, closed.ended_reason.as_deref()), (callops_domain::CallStatus::Cancelled, Some("on-do-not-call-list")));
    // The second is planned again from now, at a time every rule allows, with its schedule.
    let planned = call_of(&host, &second).await;
    let at = planned.scheduled_at.expect("a time again");
    assert!(at >= Utc::now() - Duration::minutes(1), "from now: {at}");
    let check = format!(
        "/api/compliance/check?phoneNumber={}&callType=OUTBOUND_CAMPAIGN&voiceAgentId=front-desk&at={}",
        numbers[1].replace('+', "%2B"),
        callops_domain::time::format(&at)
    );
    let (_, verdict) = host.get(&check, Some(DEMO_TOKEN)).await;
    assert_eq!(verdict["allowed"], true, "the planned time is one the rules allow: {verdict}");
    // Its time comes (the dialer's clock is later still): it is placed, by its schedule or by the trigger here.
    assert!(at <= noon, "{at} before the dialer's clock {noon}");
    let scheduled = host.host.scheduler().pending().iter().any(|(when, name)| name == &dial(&second).schedule_name() && *when == at);
    if scheduled {
        assert!(matches!(host.host.dialer().dial(dial(&second)).await.unwrap(), Dialed::Placed { .. }));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while call_of(&host, &second).await.status == callops_domain::CallStatus::Scheduled {
        assert!(std::time::Instant::now() < deadline, "the resumed call was neither scheduled nor placed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(fake.posts().len(), posts + 1, "the resumed call, and only it, reached Vapi");

    // Once cancelled, a campaign can be neither paused nor resumed.
    host.send(Method::DELETE, &format!("/api/campaigns/{id}"), Some(DEMO_TOKEN), None).await;
    for action in ["pause", "resume"] {
        assert_error(
            &host.send(Method::POST, &format!("/api/campaigns/{id}/{action}"), Some(DEMO_TOKEN), None).await,
            StatusCode::CONFLICT,
            "campaign_cancelled",
        );
    }
    assert_error(
        &host.send(Method::POST, &format!("/api/campaigns/{id}/pause"), Some(callops_tests::OTHER_TOKEN), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn a_claim_racing_a_pause_places_nothing_once_the_pause_is_written() {
    use callops_aws::store::CallStore;
    let host = TestHost::start(true).await;
    let number = callable(620);
    host.consent("demo", &[&number]).await;
    let body = json!({"name": "Recall", "voiceAgentId": "front-desk", "startAt": in_minutes(60), "contacts": [{"number": number}]});
    let (_, created) = create(&host, &body).await;
    let id = created["campaign"]["id"].as_str().unwrap().to_string();
    let call = campaign_calls(&host, &id).await.remove(0);
    // The dialer read the call (and its campaign, active) before the pause was written...
    let stored = host.host.store().get_call("demo", call.id.as_str()).await.unwrap().unwrap();
    let (status, _) = host.send(Method::PATCH, &format!("/api/campaigns/{id}"), Some(DEMO_TOKEN), Some(&json!({"endAt": null}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(host.send(Method::POST, &format!("/api/campaigns/{id}/pause"), Some(DEMO_TOKEN), None).await.0, StatusCode::OK);
    // ...and its claim, conditional on the campaign being active, fails: nothing is claimed or placed.
    let stored =
        callops_aws::StoredCall { call: stored.call.clone(), revision: host.host.store().get_call("demo", call.id.as_str()).await.unwrap().unwrap().revision };
    let claim = stored.call.claim(Utc::now()).unwrap();
    let campaign_active = callops_aws::AlongWithCall::CampaignActive { campaign_id: id.clone() };
    let err = host.host.store().update_call_with(&stored, &claim, &[campaign_active]).await.unwrap_err();
    assert!(matches!(err, callops_domain::DomainError::Conflict { kind: callops_domain::error::Conflict::CampaignNotActive, .. }), "{err:?}");
    assert!(call_of(&host, call.id.as_str()).await.is_held(), "the call stays held");
}

#[tokio::test]
async fn at_its_end_a_campaign_closes_every_contact_not_reached() {
    let host = TestHost::start(true).await;
    let numbers = [callable(630), callable(631)];
    host.consent("demo", &[&numbers[0], &numbers[1]]).await;
    let start = Utc::now() + Duration::hours(1);
    let body = json!({"name": "Recall", "voiceAgentId": "front-desk", "startAt": callops_domain::time::format(&start),
        "endAt": callops_domain::time::format(&(start - Duration::minutes(5))), "contacts": [{"number": numbers[0]}]});
    assert_error(&create(&host, &body).await, StatusCode::BAD_REQUEST, "invalid_end_at");
    let mut body = body;
    body["endAt"] = json!(callops_domain::time::format(&(start + Duration::days(20))));
    body["contacts"] = json!([{"number": numbers[0]}, {"number": numbers[1]}]);
    let (status, created) = create(&host, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["campaign"]["id"].as_str().unwrap().to_string();
    // The end moves: a time in the past or a field it does not know is refused, and nothing changes.
    let path = format!("/api/campaigns/{id}");
    let patch = |body: Value| {
        let (host, path) = (&host, &path);
        async move { host.send(Method::PATCH, path, Some(DEMO_TOKEN), Some(&body)).await }
    };
    assert_error(&patch(json!({"endAt": "2020-01-01T00:00:00Z"})).await, StatusCode::BAD_REQUEST, "invalid_end_at");
    assert_error(&patch(json!({"endAt": null, "name": "x"})).await, StatusCode::BAD_REQUEST, "invalid_body");
    assert_error(&patch(json!({})).await, StatusCode::BAD_REQUEST, "invalid_body");
    let end = start + Duration::days(2);
    let (status, moved) = patch(json!({"endAt": callops_domain::time::format(&end)})).await;
    assert_eq!((status, moved["campaign"]["endAt"].as_str()), (StatusCode::OK, Some(callops_domain::time::format(&end).as_str())), "{moved}");

    // Past its end, the reconciler ends it and closes what still waits; the dialer places nothing of it.
    let settings = callops_dialer::reconcile::ReconcileSettings::default();
    let done = host.host.dialer().reconcile(&host.host.calls(), &settings, end + Duration::minutes(1)).await.unwrap();
    assert_eq!(done.campaign_calls_ended, 2, "{done:?}");
    let (_, view) = host.get(&format!("/api/campaigns/{id}"), Some(DEMO_TOKEN)).await;
    assert_eq!((view["campaign"]["status"].as_str(), view["counts"]["cancelled"].as_u64()), (Some("ended"), Some(2)), "{view}");
    let (_, all) = host.get(&format!("/api/outbound/scheduled?campaignId={id}"), Some(DEMO_TOKEN)).await;
    assert!(all["calls"].as_array().unwrap().is_empty());
    let calls = host.host.store().query_calls("demo", &callops_aws::store::PageRequest::new(&CallQuery::ByCampaign(id.clone()), 10)).await.unwrap().items;
    assert!(calls.iter().all(|c| c.ended_reason.as_deref() == Some("campaign-ended")), "{calls:?}");
    assert_error(&host.send(Method::POST, &format!("/api/campaigns/{id}/resume"), Some(DEMO_TOKEN), None).await, StatusCode::CONFLICT, "campaign_ended");
}

#[tokio::test]
async fn a_voicemail_says_only_what_its_call_type_allows_and_the_call_records_leaving_it() {
    use callops_dialer::{DialRequest, Dialed};
    let noon = wednesday_noon_in_oregon();
    let (host, fake) = callops_tests::host_with_fake_vapi_dialing_at(Some(noon)).await;
    let numbers = ["+15035550871", "+15035550872"];
    host.consent("demo", &numbers).await;
    let contacts = json!([
        {"number": numbers[0], "debtId": "INV-1", "name": "Ada", "variables": {"note": "your balance of $120"}},
        {"number": numbers[1], "debtId": "INV-2", "name": "Grace", "variables": {"note": "Tuesday"}},
    ]);
    let campaign = |call_type: &str, message: &str| {
        json!({"name": "Balances", "voiceAgentId": "billing", "callType": call_type, "startAt": callops_domain::time::format(&noon),
            "voicemailMessage": message, "contacts": contacts})
    };
    let limited = "Hi {{customerName}}, this is Maria from {{practiceName}}. Please call us back at {{callbackNumber}}, best after {{note}}.";
    let waiting_before = host.host.store().count_calls("demo", &CallQuery::Scheduled, Span::ALL).await.unwrap();
    // Nothing to say who is calling yet: the practice sets its name and number first.
    assert_error(&create(&host, &campaign("OUTBOUND_DEBT", limited)).await, StatusCode::BAD_REQUEST, "practice_identity_required");
    let identity = json!({"practiceName": "Riverside Dental", "callbackNumber": "+15035550100"});
    assert_eq!(host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&identity)).await.0, StatusCode::OK);
    // A collection message that names the debt, and a care message that names a treatment: refused, nothing stored.
    let about_debt = "Hi, this is Maria from {{practiceName}} about your past due account. Please call {{callbackNumber}}.";
    assert_error(&create(&host, &campaign("OUTBOUND_DEBT", about_debt)).await, StatusCode::BAD_REQUEST, "voicemail_not_limited_content");
    let clinical = "Hello from {{practiceName}}: your crown is ready to be fitted. Please call {{callbackNumber}}.";
    assert_error(&create(&host, &campaign("OUTBOUND_FOLLOWUP", clinical)).await, StatusCode::BAD_REQUEST, "voicemail_discloses_phi");
    assert_eq!(host.host.store().count_calls("demo", &CallQuery::Scheduled, Span::ALL).await.unwrap(), waiting_before, "nothing stored");

    // The limited-content message: a contact whose own values would say more is refused by row; the other is called.
    let (status, created) = create(&host, &campaign("OUTBOUND_DEBT", limited)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let rows: Vec<(u64, &str)> = created["rejected"].as_array().unwrap().iter().map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap())).collect();
    assert_eq!(rows, vec![(1, "voicemail_not_limited_content")]);
    let id = created["campaign"]["id"].as_str().unwrap();
    let call = campaign_calls(&host, id).await.remove(0);
    assert_eq!(call.phone_number, numbers[1]);

    // Dialed: Vapi gets the message filled in, with its voicemail detection; the record says which rule it kept.
    let placed = host.host.dialer().dial(DialRequest { org_id: "demo".into(), call_id: call.id.clone(), attempt: 1 }).await.unwrap();
    let Dialed::Placed { vapi_call_id } = placed else { panic!("placed: {placed:?}") };
    let overrides = fake.posts().last().unwrap().body["assistantOverrides"].clone();
    assert_eq!(overrides["voicemailMessage"], json!("Hi Grace, this is Maria from Riverside Dental. Please call us back at +15035550100, best after Tuesday."));
    assert_eq!(overrides["voicemailDetection"], json!({"provider": "vapi", "type": "audio"}));
    let record = call_of(&host, call.id.as_str()).await.compliance.unwrap();
    assert_eq!(record.voicemail.map(|v| (v.rule, v.refused)), Some(("limited_content".to_string(), None)));

    // Vapi reports the call reached voicemail: the message was left, and the call says so.
    let started = Utc::now() - Duration::minutes(2);
    let report = json!({"endedReason": "voicemail", "startedAt": callops_domain::time::format(&started),
        "endedAt": callops_domain::time::format(&(started + Duration::seconds(30)))});
    callops_tests::report_end(&host, call.id.as_str(), &vapi_call_id, report).await;
    let ended = call_of(&host, call.id.as_str()).await;
    assert_eq!((ended.status, ended.voicemail_left), (callops_domain::CallStatus::Voicemail, true));
    let (_, shown) = host.get(&format!("/api/calls/{}", call.id), Some(DEMO_TOKEN)).await;
    assert_eq!(shown["voicemailLeft"], true, "{shown}");

    // The agent's message serves a campaign that gives none, checked the same way for each contact.
    let broken = json!({"voicemailMessage": "Hi {{customerName"});
    assert_error(&host.send(Method::PATCH, "/api/agents/billing", Some(DEMO_TOKEN), Some(&broken)).await, StatusCode::BAD_REQUEST, "invalid_voicemail_message");
    let (status, agent) = host.send(Method::PATCH, "/api/agents/billing", Some(DEMO_TOKEN), Some(&json!({"voicemailMessage": limited}))).await;
    assert_eq!((status, agent["voicemailMessage"].as_str()), (StatusCode::OK, Some(limited)), "{agent}");
    let mut without = campaign("OUTBOUND_DEBT", limited);
    without.as_object_mut().unwrap().remove("voicemailMessage");
    without["name"] = json!("Balances again");
    let (status, again) = create(&host, &without).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["rejected"][0]["code"], "voicemail_not_limited_content", "the agent's message, filled for row 1, says too much: {again}");
    let (status, cleared) = host.send(Method::PATCH, "/api/agents/billing", Some(DEMO_TOKEN), Some(&json!({"voicemailMessage": null}))).await;
    assert_eq!((status, cleared.get("voicemailMessage")), (StatusCode::OK, None), "{cleared}");
}

#[tokio::test]
async fn outbound_calls_of_every_agent_together_leave_the_inbound_reserve_free() {
    use callops_aws::store::{AgentStore, CallStore};
    use callops_dialer::{DialRequest, Dialed};
    let noon = wednesday_noon_in_oregon();
    let (host, fake) = callops_tests::host_with_fake_vapi_dialing_at(Some(noon)).await;
    // An account of four lines, two kept for patients calling in; a reserve that leaves no outbound line is refused.
    let refused = json!({"vapiConcurrencyLimit": 4, "reservedInboundSlots": 4});
    assert_error(&host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&refused)).await, StatusCode::BAD_REQUEST, "invalid_concurrency");
    let (status, settings) =
        host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"vapiConcurrencyLimit": 4, "reservedInboundSlots": 2}))).await;
    assert_eq!((status, settings["reservedInboundSlots"].as_u64()), (StatusCode::OK, Some(2)), "{settings}");
    // Four calls due at once across two agents, each agent with lines of its own to spare.
    let numbers = ["+15035550881", "+15035550882", "+15035550883", "+15035550884"];
    host.consent("demo", &numbers).await;
    let mut calls = Vec::new();
    for (i, number) in numbers.iter().enumerate() {
        let call = callops_tests::due_call(if i % 2 == 0 { "front-desk" } else { "billing" }, number);
        host.host.store().create_call(&call).await.unwrap();
        calls.push(call);
    }
    let dial = |call: &CallLog| DialRequest { org_id: "demo".into(), call_id: call.id.clone(), attempt: 1 };
    let mut placed = Vec::new();
    for call in &calls {
        match host.host.dialer().dial(dial(call)).await.unwrap() {
            Dialed::Placed { vapi_call_id } => placed.push((call.id.to_string(), vapi_call_id)),
            Dialed::Moved { why, .. } => assert_eq!(why, "concurrency_reserved", "the agents had lines; the practice did not"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(placed.len(), 2, "two outbound calls at most: the last two lines wait for patients calling in");
    assert_eq!(fake.posts().len(), 2);
    assert_eq!(host.host.store().outbound_in_use("demo").await.unwrap(), 2);
    let waiting: Vec<&CallLog> = calls.iter().filter(|c| !placed.iter().any(|(id, _)| id == c.id.as_str())).collect();
    let moved = call_of(&host, waiting[0].id.as_str()).await;
    assert!(moved.status == callops_domain::CallStatus::Scheduled && moved.scheduled_at.is_some_and(|t| t > noon), "{moved:?}");
    assert_eq!(moved.compliance, None, "a call that found no room holds nothing");

    // One call ends: its place comes back, and a waiting call takes it.
    let started = Utc::now() - Duration::minutes(2);
    let report = json!({"endedReason": "customer-ended-call", "startedAt": callops_domain::time::format(&started),
        "endedAt": callops_domain::time::format(&(started + Duration::seconds(60))), "analysis": {"structuredData": {"outcome": "INFORMATION"}}});
    callops_tests::report_end(&host, &placed[0].0, &placed[0].1, report).await;
    assert_eq!(host.host.store().outbound_in_use("demo").await.unwrap(), 1);
    let later = DialRequest { attempt: moved.attempt, ..dial(waiting[0]) };
    let at_its_time = host.host.dialer().clone().with_clock(std::sync::Arc::new(At(moved.scheduled_at.unwrap())));
    assert!(matches!(at_its_time.dial(later).await.unwrap(), Dialed::Placed { .. }));
    assert_eq!(host.host.store().outbound_in_use("demo").await.unwrap(), 2);
}
