//! The do-not-call registries and the Reassigned Numbers Database through
//! the local host: a registry file imported (by the API and by `callops
//! import-dnc`), a telemarketing call to a listed number refused without
//! written consent whatever the relationship's age, a copy older than 31
//! days refusing telemarketing, and a consent whose number the database
//! says was disconnected since refusing every call, with the answer a
//! placed call rested on in its compliance record.

use callops_aws::store::{CallStore, ConsentStore, RegistryStore, SettingsStore};
use callops_dialer::{DialRequest, Dialed};
use callops_domain::{CallType, consent::reassigned::RndResult};
use callops_tests::{DEMO_TOKEN, DEMO_VIEWER_TOKEN, TestHost, assert_error, read};
use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn in_minutes(minutes: i64) -> String {
    callops_domain::time::format(&(Utc::now() + Duration::minutes(minutes)))
}

/// A call to schedule, moved to the callee's next opening when it asks for a closed time: these tests run at any hour.
fn call(number: &str, call_type: &str, minutes: i64) -> Value {
    json!({"phoneNumber": number, "callType": call_type, "scheduledAt": in_minutes(minutes), "voiceAgentId": "front-desk", "moveToCallingHours": true})
}

/// The time the dialer's clock is set to: a Wednesday at 19:00 UTC, at least two days ahead (midday in Oregon and
/// Texas, inside every window their callees keep), so a dial does not depend on when the test runs.
fn midday() -> chrono::DateTime<Utc> {
    use chrono::Datelike;
    let mut day = Utc::now().date_naive() + Duration::days(2);
    while day.weekday() != chrono::Weekday::Wed {
        day += Duration::days(1);
    }
    day.and_hms_opt(19, 0, 0).unwrap().and_utc()
}

/// A host whose dialer's clock reads [`midday`].
async fn start() -> (TestHost, callops_tests::fake_vapi::FakeVapi) {
    callops_tests::host_with_fake_vapi_dialing_at(Some(midday())).await
}

async fn consent(host: &TestHost, number: &str, basis: &str) {
    let body = json!({"phoneNumber": number, "basis": basis, "source": "intake"});
    let (status, answer) = host.send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// Posts a registry file through the API.
async fn import(host: &TestHost, registry: &str, as_of: &str, file: &str, token: &str) -> (StatusCode, Value) {
    let request = host
        .request(Method::POST, &format!("/api/registries/{registry}/import?asOf={as_of}"), Some(token))
        .header("content-type", "text/plain")
        .body(file.to_string());
    let (status, body, _) = read(request).await;
    (status, body)
}

/// The 10 digits of a US number, as the FTC's files list it.
fn digits(number: &str) -> &str {
    number.trim_start_matches("+1")
}

/// A call to `number` due now, stored as the scheduler would leave it.
async fn due(host: &TestHost, number: &str, call_type: CallType) -> DialRequest {
    let mut call = callops_tests::due_call("front-desk", number);
    call.call_type = call_type;
    host.host.store().create_call(&call).await.unwrap();
    DialRequest { org_id: "demo".into(), call_id: call.id, attempt: 1 }
}

#[tokio::test]
async fn telemarketing_to_a_listed_number_needs_written_consent_and_a_copy_at_most_31_days_old() {
    let (host, _fake) = start().await;
    // Portland, Oregon, and Dallas, Texas: US numbers, held by the national registry and their states' lists.
    let (listed, unlisted, state_listed) = ("+15035550901".to_string(), "+15035550902".to_string(), "+12145550903".to_string());
    let today = Utc::now().date_naive();
    for number in [&listed, &unlisted, &state_listed] {
        consent(&host, number, "prior_express").await;
    }

    // The FTC's full list, one number a line in both documented forms, a header and a bad line among them.
    let file = format!("phone\n{}\n{},{}\nnot a number\n", digits(&listed), "503", "5550904");
    assert_error(&import(&host, "national", &today.to_string(), &file, DEMO_VIEWER_TOKEN).await, StatusCode::FORBIDDEN, "forbidden");
    let (status, imported) = import(&host, "national", &today.to_string(), &file, DEMO_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert_eq!((imported["added"].clone(), imported["rejectedCount"].clone(), imported["rejected"][0]["line"].clone()), (json!(2), json!(1), json!(4)));
    assert_eq!(imported["registry"]["asOf"], json!(today.to_string()));
    // The callee's state's own list, as CSV.
    let state = callops_domain::placement::callee::states_of_number(&state_listed)[0].to_string();
    let (status, imported) = import(&host, &state, &today.to_string(), &format!("phoneNumber,name\n{state_listed},A\n"), DEMO_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{imported}");

    // Telemarketing without written consent: the registry says why; a care call is not held by it.
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&listed, "OUTBOUND_LEAD", 60))).await,
        StatusCode::BAD_REQUEST,
        "on_national_dnc",
    );
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&state_listed, "OUTBOUND_LEAD", 60))).await,
        StatusCode::BAD_REQUEST,
        "on_state_dnc",
    );
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&unlisted, "OUTBOUND_LEAD", 60))).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );
    assert_eq!(host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&listed, "OUTBOUND_FOLLOWUP", 60))).await.0, StatusCode::CREATED);

    // The dialer refuses a waiting telemarketing call to the listed number too, and says why.
    let waiting = due(&host, &listed, CallType::OutboundCampaign).await;
    assert_eq!(host.host.dialer().dial(waiting.clone()).await.unwrap(), Dialed::NotDialed("on-national-dnc"));

    // A current relationship lifts the registry; the call still needs the written consent an artificial voice's telemarketing needs.
    let recent = callops_domain::time::format(&(Utc::now() - Duration::days(30)));
    let path = format!("/api/numbers/{}/relationship", listed.replace('+', "%2B"));
    let (status, set) = host.send(Method::PUT, &path, Some(DEMO_TOKEN), Some(&json!({"lastInquiryAt": recent}))).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&listed, "OUTBOUND_LEAD", 60))).await,
        StatusCode::BAD_REQUEST,
        "no_consent",
    );
    // Bad input changes nothing: a time past the supported range, one in the future, neither time, an unknown field.
    for bad in [
        json!({"lastInquiryAt": "1899-01-01T00:00:00Z"}),
        json!({"lastTransactionAt": "9999-12-31T00:00:00Z"}),
        json!({}),
        json!({"lastInquiryAt": recent, "note": "x"}),
    ] {
        let answer = host.send(Method::PUT, &path, Some(DEMO_TOKEN), Some(&bad)).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{bad}: {}", answer.1);
    }
    let kept = host.host.store().registry_marks("demo", &listed).await.unwrap().relationship.unwrap();
    assert_eq!(kept.last_inquiry_at.map(|t| callops_domain::time::format(&t)), Some(recent.clone()), "the relationship on record stays as set");
    // An inquiry more than 3 months old is no relationship: the registry refuses again.
    let old = callops_domain::time::format(&(Utc::now() - Duration::days(100)));
    host.send(Method::PUT, &path, Some(DEMO_TOKEN), Some(&json!({"lastInquiryAt": old}))).await;
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&listed, "OUTBOUND_LEAD", 60))).await,
        StatusCode::BAD_REQUEST,
        "on_national_dnc",
    );

    // Written consent: the call goes, and the placed call shows what the registries said.
    consent(&host, &listed, "prior_express_written").await;
    let placed = due(&host, &listed, CallType::OutboundLead).await;
    assert!(matches!(host.host.dialer().dial(placed.clone()).await.unwrap(), Dialed::Placed { .. }));
    let record = host.host.store().get_call("demo", &placed.call_id).await.unwrap().unwrap().call.compliance.unwrap();
    let national = record.registries.iter().find(|r| r.name == "national").expect("the national registry's result");
    assert!(national.listed && national.as_of == Some(today), "{:?}", record.registries);
    let check = format!("/api/compliance/check?phoneNumber={}&callType=OUTBOUND_LEAD&voiceAgentId=front-desk", listed.replace('+', "%2B"));
    let (_, answer) = host.get(&check, Some(DEMO_TOKEN)).await;
    assert_eq!(answer["registries"][0], json!({"name": "national", "listed": true, "asOf": today.to_string()}), "{answer}");

    // A change list deletes the number from the copy.
    let (status, changed) = import(&host, "national", &today.to_string(), &format!("{},D\n", digits(&listed)), DEMO_TOKEN).await;
    assert_eq!((status, changed["deleted"].clone()), (StatusCode::OK, json!(1)), "{changed}");
    let (_, answer) = host.get(&check, Some(DEMO_TOKEN)).await;
    assert_eq!(answer["registries"][0]["listed"], json!(false), "{answer}");

    // A copy older than 31 days refuses every telemarketing call, written consent or not; care calls go on.
    let mut settings = host.host.store().settings("demo").await.unwrap();
    for copy in &mut settings.registries {
        copy.as_of = today - Duration::days(32);
    }
    let audit = callops_tests::system_audit("demo", callops_domain::records::audit::Action::SettingsUpdated, "settings");
    host.host.store().put_settings(&settings, &audit).await.unwrap();
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&listed, "OUTBOUND_LEAD", 120))).await,
        StatusCode::BAD_REQUEST,
        "registry_stale",
    );
    assert_eq!(
        host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&unlisted, "OUTBOUND_FOLLOWUP", 60))).await.0,
        StatusCode::CREATED
    );

    // Bad input changes nothing: an unknown registry, a date in the future, a file with no number.
    let before = host.host.store().settings("demo").await.unwrap().registries;
    let tomorrow = (today + Duration::days(1)).to_string();
    assert_error(&import(&host, "XX", &today.to_string(), &file, DEMO_TOKEN).await, StatusCode::BAD_REQUEST, "invalid_registry");
    assert_error(&import(&host, "national", &tomorrow, &file, DEMO_TOKEN).await, StatusCode::BAD_REQUEST, "invalid_as_of");
    assert_error(&import(&host, "national", &today.to_string(), "nothing here\n", DEMO_TOKEN).await, StatusCode::BAD_REQUEST, "invalid_registry_file");
    assert_eq!(host.host.store().settings("demo").await.unwrap().registries, before);

    // Erasing the patient removes the relationship on record; the registry's listing of the number stays (it is the
    // registry's, and without it telemarketing could reach the number).
    let encoded = state_listed.replace('+', "%2B");
    host.send(Method::PUT, &format!("/api/numbers/{encoded}/relationship"), Some(DEMO_TOKEN), Some(&json!({"lastTransactionAt": recent}))).await;
    assert!(host.host.store().registry_marks("demo", &state_listed).await.unwrap().relationship.is_some());
    let (status, erased) = host.send(Method::DELETE, &format!("/api/patients/{encoded}"), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    let marks = host.host.store().registry_marks("demo", &state_listed).await.unwrap();
    assert!(marks.relationship.is_none(), "the relationship is erased");
    assert!(marks.listed.contains_key(&state), "the state's listing stays");
}

#[tokio::test]
async fn a_consent_whose_number_was_disconnected_since_is_no_consent_and_each_call_names_the_answer_it_rested_on() {
    let (host, _fake) = start().await;
    let rnd = host.host.rnd().expect("the host runs the database fake");
    let (kept, reassigned, care) = ("+15035550911".to_string(), "+15035550912".to_string(), "+15035550913".to_string());
    for number in [&kept, &reassigned, &care] {
        consent(&host, number, "prior_express_written").await;
    }
    rnd.disconnect(&reassigned, Utc::now().date_naive());

    // The number still with the patient: asked once, `no`, and the placed call keeps that answer as its safe harbour.
    let placed = due(&host, &kept, CallType::OutboundLead).await;
    assert!(matches!(host.host.dialer().dial(placed.clone()).await.unwrap(), Dialed::Placed { .. }));
    let record = host.host.store().get_call("demo", &placed.call_id).await.unwrap().unwrap().call.compliance.unwrap();
    let rested = record.rnd.expect("the answer the call rested on");
    assert_eq!(rested.result, RndResult::No);
    let asked = rnd.asked();
    let again = due(&host, &kept, CallType::OutboundFollowup).await;
    host.host.dialer().dial(again).await.unwrap();
    assert_eq!(rnd.asked(), asked, "a consent checked since the database's latest update is not asked again");

    // Disconnected since the consent: every call on it is refused, whatever its type, and the consent says why.
    let refused = due(&host, &reassigned, CallType::OutboundFollowup).await;
    assert_eq!(host.host.dialer().dial(refused).await.unwrap(), Dialed::NotDialed("number-reassigned"));
    let consents = host.host.store().consents("demo", &reassigned).await.unwrap();
    assert_eq!(consents[0].rnd.map(|c| c.result), Some(RndResult::Yes));
    assert_error(
        &host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&reassigned, "OUTBOUND_FOLLOWUP", 60))).await,
        StatusCode::BAD_REQUEST,
        "number_reassigned",
    );
    let check = format!("/api/compliance/check?phoneNumber={}&callType=OUTBOUND_FOLLOWUP&voiceAgentId=front-desk", reassigned.replace('+', "%2B"));
    let (_, answer) = host.get(&check, Some(DEMO_TOKEN)).await;
    assert_eq!((answer["code"].clone(), answer["rnd"]["result"].clone()), (json!("number_reassigned"), json!("yes")), "{answer}");
    // A consent recorded from whoever has the number now covers calls again.
    consent(&host, &reassigned, "prior_express_written").await;
    assert_eq!(
        host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&call(&reassigned, "OUTBOUND_FOLLOWUP", 60))).await.0,
        StatusCode::CREATED
    );

    // The database down: telemarketing waits (the default setting), a care call proceeds on its consent.
    rnd.set_down(true);
    let lead = due(&host, &care, CallType::OutboundLead).await;
    assert!(matches!(host.host.dialer().dial(lead).await.unwrap(), Dialed::Moved { why: "rnd_unavailable", .. }));
    let follow_up = due(&host, &care, CallType::OutboundFollowup).await;
    assert!(matches!(host.host.dialer().dial(follow_up.clone()).await.unwrap(), Dialed::Placed { .. }));
    let record = host.host.store().get_call("demo", &follow_up.call_id).await.unwrap().unwrap().call.compliance.unwrap();
    assert!(record.rnd.is_none(), "the record says the database was not asked");
}

#[tokio::test]
async fn a_campaign_asks_the_database_about_all_its_contacts_at_once_and_refuses_by_row() {
    let (host, _fake) = start().await;
    let rnd = host.host.rnd().expect("the host runs the database fake");
    let (kept, reassigned, also_kept) = ("+15035550921".to_string(), "+15035550922".to_string(), "+15035550923".to_string());
    for number in [&kept, &reassigned, &also_kept] {
        consent(&host, number, "prior_express_written").await;
    }
    rnd.disconnect(&reassigned, Utc::now().date_naive());
    let asked = rnd.asked();
    let campaign = json!({"name": "Whitening offer", "voiceAgentId": "front-desk", "startAt": in_minutes(90),
        "contacts": [{"number": kept}, {"number": reassigned}, {"number": also_kept}]});
    let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&campaign)).await;
    assert_eq!((status, created["accepted"].clone()), (StatusCode::CREATED, json!(2)), "{created}");
    let rows: Vec<(u64, &str)> = created["rejected"].as_array().unwrap().iter().map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap())).collect();
    assert_eq!(rows, vec![(2, "number_reassigned")]);
    assert_eq!(rnd.asked() - asked, 3, "the three contacts in one batch");
    // Each answer is kept on its consent: the dialer does not ask again before the campaign's calls.
    let consents = host.host.store().consents("demo", &kept).await.unwrap();
    assert_eq!(consents[0].rnd.map(|c| c.result), Some(RndResult::No));

    // A registry copy past 31 days refuses every row of a campaign (telemarketing), written consent or not.
    let stale = (Utc::now().date_naive() - Duration::days(40)).to_string();
    let (status, imported) = import(&host, "national", &stale, &format!("{}\n", digits(&kept)), DEMO_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    let again =
        json!({"name": "Whitening offer 2", "voiceAgentId": "front-desk", "startAt": in_minutes(120), "contacts": [{"number": kept}, {"number": also_kept}]});
    let (status, refused) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&again)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("registry_stale"), "{refused}");
}

#[tokio::test]
async fn a_campaign_keeps_the_databases_answer_on_every_consent_of_a_large_list() {
    let (host, _fake) = start().await;
    // More contacts than one transaction keeps answers for: every answer is kept, with its audit entry.
    let numbers: Vec<String> = (0..120).map(|i| format!("+1503555{:04}", 1_000 + i)).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    host.consent("demo", &refs).await;
    let contacts: Vec<Value> = numbers.iter().map(|n| json!({"number": n})).collect();
    let campaign = json!({"name": "Whitening offer", "voiceAgentId": "front-desk", "startAt": in_minutes(90), "contacts": contacts});
    let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&campaign)).await;
    assert_eq!((status, created["accepted"].as_u64()), (StatusCode::CREATED, Some(120)), "{created}");
    for number in &numbers {
        let consents = host.host.store().consents("demo", number).await.unwrap();
        assert_eq!(consents[0].rnd.map(|c| c.result), Some(RndResult::No), "{number}");
    }
    let mut checked = 0;
    let mut cursor = String::new();
    loop {
        let (status, log) = host.get(&format!("/api/audit?entityType=consent&limit=200{cursor}"), Some(DEMO_TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        checked += log["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "consent.rnd_checked").count();
        match log["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(checked, 120, "one audit entry a consent checked");
}
