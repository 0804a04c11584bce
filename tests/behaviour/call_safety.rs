//! Call safety by class, through the local host: every place the callee
//! may be (an overlay's parent's zones, a state's every zone, every zone of
//! the states for a number that gives none, a contact zone's states for
//! recording, the number's history), Regulation F per debt on any number, a
//! consent floor no setting goes below, the healthcare exemption only with
//! its conditions, opt-outs no earlier consent revives and that end a live
//! call, follow-ups that respect the list, their day and each other, the
//! states' and Canada's telemarketing days, inbound recordings, and live
//! listening off unless asked for and then locked.
//!
//! The compliance check answers for a chosen time, so most cases here name
//! their instant (a weekday some weeks ahead) and hold whatever the hour the
//! tests run at; those that dial use numbers in their morning now.

use callops_aws::store::{CallStore, DoNotCallStore, LedgerStore};
use callops_dialer::{DialRequest, Dialed};
use callops_domain::{CallStatus, CallType, placement::call_rules::FEDERAL_HOLIDAYS, time};
use callops_tests::{DEMO_TOKEN, DEMO_VAPI_SECRET, TestHost, assert_error, callable, fake_vapi::FakeVapi};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn start() -> (TestHost, FakeVapi) {
    let (host, fake) = callops_tests::host_with_fake_vapi().await;
    // Room for the cases' own attempts: the practice's cap is not what they test.
    settings(&host, json!({"maxAttemptsPerNumberPerDay": 20})).await;
    (host, fake)
}

async fn settings(host: &TestHost, body: Value) -> Value {
    let (status, answer) = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// The first `weekday` at least three weeks ahead that is no federal holiday, at `hh:mm` in `zone`.
fn ahead(weekday: Weekday, zone: &str, hh: u32, mm: u32) -> DateTime<Utc> {
    let zone: Tz = zone.parse().unwrap();
    let mut day: NaiveDate = (Utc::now() + chrono::Duration::days(21)).date_naive();
    while day.weekday() != weekday || FEDERAL_HOLIDAYS.iter().any(|h| h.falls_on(day)) {
        day = day.succ_opt().unwrap();
    }
    zone.from_local_datetime(&day.and_hms_opt(hh, mm, 0).unwrap()).single().unwrap().with_timezone(&Utc)
}

async fn consent(host: &TestHost, number: &str, basis: &str, captured_at: Option<DateTime<Utc>>) -> Value {
    let mut body = json!({"phoneNumber": number, "basis": basis, "source": "intake form"});
    if let Some(at) = captured_at {
        body["capturedAt"] = json!(time::format(&at));
    }
    let (status, answer) = host.send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer
}

async fn check(host: &TestHost, number: &str, call_type: &str, at: DateTime<Utc>, extra: &str) -> Value {
    let path = format!(
        "/api/compliance/check?phoneNumber={}&callType={call_type}&voiceAgentId=front-desk&at={}{extra}",
        number.replace('+', "%2B"),
        time::format(&at).replace('+', "%2B")
    );
    let (status, answer) = host.get(&path, Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn rule<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["rules"].as_array().unwrap().iter().find(|r| r["rule"] == name).unwrap_or_else(|| panic!("no {name} in {answer}"))
}

fn zones(answer: &Value) -> Vec<&str> {
    answer["zones"].as_array().unwrap().iter().map(|z| z.as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_zone_the_callee_may_be_in_is_kept_whatever_says_where() {
    let (host, _fake) = start().await;
    // 689 overlays Orlando's 407: Eastern time (libphonenumber says Central alone). 20:30 Eastern is past Florida's 20:00.
    let orlando = "+16895550142";
    consent(&host, orlando, "prior_express", None).await;
    let late = check(&host, orlando, "OUTBOUND_FOLLOWUP", ahead(Weekday::Wed, "America/New_York", 20, 30), "").await;
    assert_eq!((late["allowed"].clone(), late["code"].clone()), (json!(false), json!("outside_calling_hours")), "{late}");
    assert!(zones(&late).contains(&"America/New_York") && late["states"] == json!(["FL"]), "{late}");
    assert_eq!(rule(&late, "fl_hours")["ok"], false);
    assert_eq!(check(&host, orlando, "OUTBOUND_FOLLOWUP", ahead(Weekday::Wed, "America/New_York", 11, 0), "").await["allowed"], true);

    // A contact's state without a zone adds every zone of the state: Florida's panhandle keeps Central time.
    let new_yorker = "+12125550143";
    consent(&host, new_yorker, "prior_express", None).await;
    let early = ahead(Weekday::Wed, "America/New_York", 8, 30);
    assert_eq!(check(&host, new_yorker, "OUTBOUND_FOLLOWUP", early, "").await["allowed"], true, "08:30 in New York");
    let moved = check(&host, new_yorker, "OUTBOUND_FOLLOWUP", early, "&state=FL").await;
    assert_eq!((moved["allowed"].clone(), moved["code"].clone()), (json!(false), json!("outside_calling_hours")), "07:30 in Pensacola: {moved}");
    assert!(zones(&moved).contains(&"America/Chicago"), "{moved}");

    // A number that gives no place fits every zone of the fifty states and DC: noon in New York is 07:00 in Honolulu.
    let toll_free = "+18005550100";
    consent(&host, toll_free, "prior_express", None).await;
    let noon = check(&host, toll_free, "OUTBOUND_FOLLOWUP", ahead(Weekday::Wed, "America/New_York", 12, 0), "").await;
    assert_eq!((noon["allowed"].clone(), noon["placeUnknown"].clone()), (json!(false), json!(true)), "{noon}");
    assert!(zones(&noon).contains(&"Pacific/Honolulu") && noon["states"].as_array().unwrap().len() == 51, "{noon}");
    assert_eq!(rule(&noon, "callee_location")["ok"], true);
    let afternoon = check(&host, toll_free, "OUTBOUND_FOLLOWUP", ahead(Weekday::Wed, "America/New_York", 16, 30), "").await;
    assert_eq!(afternoon["allowed"], true, "16:30 Eastern is 11:30 in Honolulu: {afternoon}");
    // A contact zone places it.
    let placed = check(&host, toll_free, "OUTBOUND_FOLLOWUP", ahead(Weekday::Wed, "America/New_York", 12, 0), "&timeZone=America/New_York").await;
    assert_eq!((placed["allowed"].clone(), placed["placeUnknown"].clone()), (json!(true), json!(false)), "{placed}");
    // A practice may refuse such calls instead; scheduling one then says why and stores nothing.
    settings(&host, json!({"unknownCalleeLocation": "refuse"})).await;
    let refused = check(&host, toll_free, "OUTBOUND_FOLLOWUP", ahead(Weekday::Wed, "America/New_York", 16, 30), "").await;
    assert_eq!((refused["allowed"].clone(), refused["code"].clone()), (json!(false), json!("unknown_callee_location")), "{refused}");
    let body = json!({"phoneNumber": toll_free, "callType": "OUTBOUND_FOLLOWUP", "voiceAgentId": "front-desk",
        "scheduledAt": time::format(&ahead(Weekday::Wed, "America/New_York", 16, 30))});
    assert_error(&host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await, StatusCode::BAD_REQUEST, "unknown_callee_location");
    assert_error(
        &host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"unknownCalleeLocation": "guess"}))).await,
        StatusCode::BAD_REQUEST,
        "invalid_unknown_callee_location",
    );

    // A contact zone implies the states that keep its clock, for recording: a New York number (one party's consent) whose
    // contact keeps Eastern time may be in Florida or Pennsylvania, where everyone's consent is needed.
    let at = ahead(Weekday::Wed, "America/New_York", 11, 0);
    assert_eq!(check(&host, new_yorker, "OUTBOUND_FOLLOWUP", at, "").await["recording"]["allParty"], false);
    let eastern = check(&host, new_yorker, "OUTBOUND_FOLLOWUP", at, "&timeZone=America/Detroit").await;
    assert_eq!((eastern["recording"]["allParty"].clone(), eastern["recording"]["asked"].clone()), (json!(true), json!("disclose")), "{eastern}");
    assert_eq!(eastern["states"], json!(["NY"]), "the zone adds no state's hours");
}

#[tokio::test]
async fn a_numbers_history_binds_every_later_call_to_it() {
    let (host, _fake) = start().await;
    let number = "+12125550150";
    consent(&host, number, "prior_express", None).await;
    // Three calls planned for one morning, each whose contact's record says Florida (in New York's zone).
    let first = ahead(Weekday::Thu, "America/New_York", 9, 0);
    for hour in 0..3 {
        let body = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "voiceAgentId": "front-desk", "state": "FL",
            "timeZone": "America/New_York", "scheduledAt": time::format(&(first + chrono::Duration::hours(hour)))});
        let (status, answer) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    // A fourth within 24 hours, its record silent on the state: Florida's three in 24 hours still holds it.
    let fourth = check(&host, number, "OUTBOUND_FOLLOWUP", first + chrono::Duration::hours(5), "").await;
    assert_eq!((fourth["allowed"].clone(), fourth["code"].clone()), (json!(false), json!("frequency_limit")), "{fourth}");
    assert_eq!(rule(&fourth, "fl_3_in_24h")["ok"], false, "{fourth}");
    assert_eq!(fourth["states"], json!(["NY", "FL"]), "{fourth}");
    let body = json!({"phoneNumber": number, "callType": "OUTBOUND_OTHER", "voiceAgentId": "front-desk",
        "scheduledAt": time::format(&(first + chrono::Duration::hours(5)))});
    assert_error(&host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await, StatusCode::BAD_REQUEST, "frequency_limit");
}

#[tokio::test]
async fn regulation_f_counts_calls_about_a_debt_on_every_number_of_the_person() {
    let (host, fake) = start().await;
    // A collection call names its debt.
    let body = json!({"phoneNumber": callable(400), "callType": "OUTBOUND_DEBT", "voiceAgentId": "front-desk",
        "scheduledAt": time::format(&ahead(Weekday::Wed, "America/New_York", 11, 0))});
    host.consent("demo", &[&callable(400)]).await;
    assert_error(&host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await, StatusCode::BAD_REQUEST, "debt_id_required");

    // Seven calls about one debt, spread over the person's two numbers: the eighth waits, on either number.
    let (home, mobile) = (callable(401), callable(402));
    host.consent("demo", &[&home, &mobile]).await;
    for i in 0..7 {
        let request = due(&host, if i % 2 == 0 { &home } else { &mobile }, CallType::OutboundDebt, Some("inv-900")).await;
        assert!(matches!(dial(&host, &request).await, Dialed::Placed { .. }), "call {i}");
    }
    let eighth = due(&host, &mobile, CallType::OutboundDebt, Some("inv-900")).await;
    let Dialed::Moved { why, .. } = dial(&host, &eighth).await else { panic!("the eighth call about the debt waits") };
    assert_eq!(why, "regf_7_in_7");
    assert_eq!(host.host.store().debt_ledger("demo", "inv-900").await.unwrap().attempts.len(), 7, "the debt's own ledger counts both numbers");

    // A conversation on one number, though the call ended in a pipeline error after 90 seconds of talk, holds the other.
    let (first, second) = (callable(403), callable(404));
    host.consent("demo", &[&first, &second]).await;
    let talk = due(&host, &first, CallType::OutboundDebt, Some("inv-901")).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &talk).await else { panic!("placed") };
    let started = Utc::now() - chrono::Duration::minutes(3);
    let ended = json!({"endedReason": "pipeline-error-openai-llm-failed", "startedAt": time::format(&started),
        "endedAt": time::format(&(started + chrono::Duration::seconds(90))),
        "artifact": {"transcript": "AI: I'm calling about your balance.\nUser: I can pay half of it on Friday. Never call me at dinner time."},
        "analysis": {"structuredData": {"outcome": "INFORMATION", "inconvenientTimes": [{"start": "18:00", "end": "20:00"}]}}});
    callops_tests::report_end(&host, &talk.call_id, &vapi_call_id, ended).await;
    let recorded = host.host.store().get_call("demo", &talk.call_id).await.unwrap().unwrap().call;
    assert_eq!(recorded.status, CallStatus::Failed, "{:?}", recorded.ended_reason);
    let other = due(&host, &second, CallType::OutboundDebt, Some("inv-901")).await;
    let Dialed::Moved { why, to } = dial(&host, &other).await else { panic!("held by the conversation on the other number") };
    assert_eq!(why, "regf_after_conversation");
    assert!(to > Utc::now() + chrono::Duration::days(6), "{to}");
    let posts = fake.posts().len();
    assert_eq!(posts, 8, "seven calls about one debt and one conversation about another reached Vapi");
    // The time the person said is inconvenient, on the first number, holds a call about the debt to the second one.
    let zone = callops_domain::placement::callee::zones_of_number(&second)[0].name().to_string();
    let dinner = check(&host, &second, "OUTBOUND_DEBT", ahead(Weekday::Wed, &zone, 18, 30), "&debtId=inv-901").await;
    assert_eq!(rule(&dinner, "regf_inconvenient_time")["ok"], false, "{dinner}");
    let other_debt = check(&host, &second, "OUTBOUND_DEBT", ahead(Weekday::Wed, &zone, 18, 30), "&debtId=inv-902").await;
    assert!(other_debt["rules"].as_array().unwrap().iter().all(|r| r["rule"] != "regf_inconvenient_time"), "{other_debt}");
}

#[tokio::test]
async fn no_setting_goes_below_the_legal_floor() {
    let (host, _fake) = start().await;
    let (_, before) = host.get("/api/settings", Some(DEMO_TOKEN)).await;
    for policy in [
        json!({"OUTBOUND_LEAD": ["prior_express"]}),
        json!({"OUTBOUND_CAMPAIGN": ["prior_express_written", "healthcare_relationship"]}),
        json!({"OUTBOUND_DEBT": ["healthcare_relationship"]}),
    ] {
        let answer = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"consentPolicy": policy}))).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "consent_policy_below_floor");
    }
    let (_, after) = host.get("/api/settings", Some(DEMO_TOKEN)).await;
    assert_eq!(before, after, "nothing stored");
    // Tightening is the practice's choice.
    let tightened = settings(&host, json!({"consentPolicy": {"OUTBOUND_FOLLOWUP": ["prior_express_written"]}})).await;
    assert_eq!(tightened["consentPolicy"]["OUTBOUND_FOLLOWUP"], json!(["prior_express_written"]));
    // A lead call on a consent that is not written is refused, and the refusal says which bases it needs.
    let number = "+12125550160";
    consent(&host, number, "prior_express", None).await;
    let body = json!({"phoneNumber": number, "callType": "OUTBOUND_LEAD", "voiceAgentId": "front-desk",
        "scheduledAt": time::format(&ahead(Weekday::Wed, "America/New_York", 11, 0))});
    let refused = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "no_consent");
    assert_eq!(refused.1["error"]["acceptedBases"], json!(["prior_express_written"]));
    assert_eq!(refused.1["error"]["consents"][0]["why"], "wrong_basis", "{}", refused.1);
}

#[tokio::test]
async fn the_healthcare_exemption_carries_a_call_only_with_its_conditions() {
    let (host, fake) = start().await;
    let number = callable(500);
    consent(&host, &number, "healthcare_relationship", None).await;
    let now = Utc::now() + chrono::Duration::seconds(5);
    // Without the practice's name and callback number, no call can state them.
    let bare = check(&host, &number, "OUTBOUND_FOLLOWUP", now, "").await;
    assert_eq!(bare["code"], "healthcare_exemption_conditions", "{bare}");
    settings(&host, json!({"practiceName": "Riverside Dental", "callbackNumber": "+12125550100"})).await;
    // Collections never rest on it.
    let debt = check(&host, &number, "OUTBOUND_DEBT", now, "&debtId=inv-1").await;
    assert_eq!(debt["code"], "no_consent", "{debt}");
    let ready = check(&host, &number, "OUTBOUND_FOLLOWUP", now, "").await;
    assert_eq!(ready["allowed"], true, "{ready}");
    assert_eq!((ready["exemption"]["name"].clone(), ready["exemption"]["maxDurationSeconds"].clone()), (json!("healthcare_relationship"), json!(60)));

    // Placed: one minute at most, the practice named first, and the record names the exemption.
    let request = due(&host, &number, CallType::OutboundFollowup, None).await;
    let Dialed::Placed { .. } = dial(&host, &request).await else { panic!("placed") };
    let body = fake.posts().last().unwrap().body.clone();
    assert_eq!(body["assistantOverrides"]["maxDurationSeconds"], 60, "{body}");
    let first = body["assistantOverrides"]["firstMessage"].as_str().unwrap();
    assert!(first.contains("Riverside Dental") && first.contains("+12125550100"), "{first}");
    let placed = host.host.store().get_call("demo", &request.call_id).await.unwrap().unwrap().call;
    let exemption = placed.compliance.unwrap().exemption.expect("the exemption is kept");
    assert!(exemption.conditions.iter().any(|c| c.contains("one call a day")), "{exemption:?}");

    // One a day: the next waits a day.
    let again = check(&host, &number, "OUTBOUND_FOLLOWUP", Utc::now() + chrono::Duration::hours(2), "").await;
    assert_eq!(again["code"], "healthcare_exemption_limit", "{again}");
    assert!(again["nextAllowedAt"].as_str().is_some_and(|t| time::parse(t).unwrap() > Utc::now() + chrono::Duration::hours(23)), "{again}");
}

#[tokio::test]
async fn an_opt_out_stays_won_and_ends_a_call_already_live() {
    let (host, fake) = start().await;
    let number = callable(600);
    let old = Utc::now() - chrono::Duration::days(30);
    consent(&host, &number, "prior_express_written", Some(old)).await;
    // A call in progress when the patient opts out is ended through Vapi, and the answer says so.
    let request = due(&host, &number, CallType::OutboundFollowup, None).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &request).await else { panic!("placed") };
    let (status, opted) = host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": number, "channel": "sms"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{opted}");
    assert_eq!(opted["endedCalls"], json!([request.call_id.to_string()]), "{opted}");
    assert_eq!(fake.ended(), vec![vapi_call_id], "ended through its control URL");
    let control = fake.controls().pop().unwrap();
    assert_eq!(
        control.authorization.as_deref(),
        Some(format!("Bearer {}", callops_tests::fake_vapi::FAKE_VAPI_PUBLIC_KEY).as_str()),
        "the locked control URL takes the public key"
    );

    // Off the list again, the old consent (and a re-import of it, backdated) does not make the number callable.
    let (status, _) = host.send(Method::DELETE, &format!("/api/dnc/{}?reason=asked%20again", number.replace('+', "%2B")), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    consent(&host, &number, "prior_express_written", Some(old)).await;
    let soon = Utc::now() + chrono::Duration::seconds(5);
    let refused = check(&host, &number, "OUTBOUND_FOLLOWUP", soon, "").await;
    assert_eq!(refused["code"], "no_consent", "{refused}");
    let body = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "voiceAgentId": "front-desk", "scheduledAt": time::format(&soon)});
    let answer = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "no_consent");
    let whys: Vec<&str> = answer.1["error"]["consents"].as_array().unwrap().iter().map(|c| c["why"].as_str().unwrap()).collect();
    assert!(whys.contains(&"before_opt_out") && whys.contains(&"revoked"), "{whys:?}");
    // A consent given after the opt-out does.
    consent(&host, &number, "prior_express_written", None).await;
    assert_eq!(check(&host, &number, "OUTBOUND_FOLLOWUP", soon, "").await["allowed"], true);
}

#[tokio::test]
async fn follow_ups_keep_to_the_list_their_day_and_each_other() {
    let (host, _fake) = start().await;
    let number = callable(700);
    host.consent("demo", &[&number]).await;
    let later = (Utc::now() + chrono::Duration::days(2)).date_naive().to_string();
    // Two calls to the number each agree a follow-up on the same day: one follow-up call is planned.
    for _ in 0..2 {
        let request = due(&host, &number, CallType::OutboundFollowup, None).await;
        let Dialed::Placed { vapi_call_id } = dial(&host, &request).await else { panic!("placed") };
        end_with_follow_up(&host, &request, &vapi_call_id, &later).await;
    }
    assert_eq!(follow_ups(&host, &number).await, 1, "one follow-up a number and day");

    // A follow-up day already past rings nobody.
    let other = callable(701);
    host.consent("demo", &[&other]).await;
    let request = due(&host, &other, CallType::OutboundFollowup, None).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &request).await else { panic!("placed") };
    end_with_follow_up(&host, &request, &vapi_call_id, &(Utc::now() - chrono::Duration::days(3)).date_naive().to_string()).await;
    assert_eq!(follow_ups(&host, &other).await, 0, "a day past is no call");

    // A number on the list gets no follow-up and no retry.
    let listed = callable(702);
    host.consent("demo", &[&listed]).await;
    let request = due(&host, &listed, CallType::OutboundFollowup, None).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &request).await else { panic!("placed") };
    host.host
        .store()
        .add_do_not_call(
            "demo",
            &listed,
            &callops_aws::store::DoNotCallChange {
                at: Utc::now(),
                action: "added".into(),
                channel: None,
                source: None,
                reason: Some("test".into()),
                by: callops_domain::caller::Actor { sub: "test".into(), name: None },
            },
            &callops_tests::system_audit("demo", callops_domain::records::audit::Action::DoNotCallAdded, &listed),
        )
        .await
        .unwrap();
    end_with_follow_up(&host, &request, &vapi_call_id, &later).await;
    assert_eq!(follow_ups(&host, &listed).await, 0, "no follow-up to a listed number");
}

#[tokio::test]
async fn the_states_and_canadas_telemarketing_days_hold_marketing_calls_only() {
    let (host, _fake) = start().await;
    // Texas: telemarketing from noon on Sundays; a follow-up is no telemarketing.
    let houston = "+17135550142";
    consent(&host, houston, "prior_express_written", None).await;
    let sunday_morning = ahead(Weekday::Sun, "America/Chicago", 10, 30);
    let lead = check(&host, houston, "OUTBOUND_LEAD", sunday_morning, "").await;
    assert_eq!((lead["allowed"].clone(), lead["code"].clone()), (json!(false), json!("outside_calling_hours")), "{lead}");
    assert_eq!(rule(&lead, "tx_telemarketing_hours")["ok"], false);
    assert_eq!(check(&host, houston, "OUTBOUND_FOLLOWUP", sunday_morning, "").await["allowed"], true);
    assert_eq!(check(&host, houston, "OUTBOUND_LEAD", ahead(Weekday::Sun, "America/Chicago", 12, 30), "").await["allowed"], true);
    // Canada: weekends 10:00 to 18:00 for telemarketing, the callee's time.
    let toronto = "+14165550142";
    consent(&host, toronto, "prior_express_written", None).await;
    let saturday = check(&host, toronto, "OUTBOUND_CAMPAIGN", ahead(Weekday::Sat, "America/Toronto", 9, 30), "").await;
    assert_eq!(saturday["allowed"], false, "{saturday}");
    assert_eq!(rule(&saturday, "crtc_telemarketing_hours")["ok"], false);
    assert_eq!(check(&host, toronto, "OUTBOUND_CAMPAIGN", ahead(Weekday::Sat, "America/Toronto", 10, 30), "").await["allowed"], true);
    assert_eq!(check(&host, toronto, "OUTBOUND_LEAD", ahead(Weekday::Tue, "America/Toronto", 9, 15), "").await["allowed"], true, "weekdays from 09:00");
}

#[tokio::test]
async fn an_inbound_recording_from_an_all_party_state_is_kept_only_when_the_assistant_discloses() {
    let (host, _fake) = start().await;
    let inbound = |vapi_id: &str, number: &str| {
        let started = Utc::now() - chrono::Duration::minutes(4);
        json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
            "startedAt": time::format(&started), "endedAt": time::format(&(started + chrono::Duration::seconds(120))),
            "customer": {"number": number},
            "call": {"id": vapi_id, "type": "inboundPhoneCall", "phoneNumberId": "pn-front-desk-demo", "customer": {"number": number}},
            "artifact": {"recording": {"mono": {"combinedUrl": "https://storage.vapi.ai/recordings/in.wav"}}}}})
    };
    let deliver = |body: Value| {
        let host = &host;
        async move {
            let response = host.request(Method::POST, "/webhooks/vapi", None).header("x-vapi-secret", DEMO_VAPI_SECRET).json(&body).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    let find = |vapi_id: &'static str| {
        let host = &host;
        async move { host.host.store().find_call_by_vapi_id("demo", vapi_id).await.unwrap().unwrap().call }
    };
    // A caller from Los Angeles (California needs everyone's consent): withheld, with the reason.
    deliver(inbound("vapi-in-1", "+13105550142")).await;
    let call = find("vapi-in-1").await;
    assert_eq!(call.recording_url, None);
    assert!(call.recording_withheld.as_deref().is_some_and(|why| why.contains("inboundRecordingDisclosed")), "{:?}", call.recording_withheld);
    // A caller from New York (one party is enough): kept.
    deliver(inbound("vapi-in-2", "+12125550142")).await;
    assert!(find("vapi-in-2").await.recording_url.is_some());
    // Once the practice records that its inbound assistant discloses the recording: kept.
    settings(&host, json!({"inboundRecordingDisclosed": true})).await;
    deliver(inbound("vapi-in-3", "+13105550143")).await;
    assert!(find("vapi-in-3").await.recording_url.is_some());
}

/// A call for `demo` due now, stored as the scheduler would leave it.
#[tokio::test]
async fn live_listening_is_off_unless_asked_for_and_then_locked_and_shown_to_staff_only() {
    let (host, fake) = start().await;
    let plan =
        |listen: bool| json!({"listenEnabled": listen, "listenAuthenticationEnabled": true, "controlEnabled": true, "controlAuthenticationEnabled": true});
    // By default: no listening; control on (CallOps holds the public key, to end a call whose number opts out) and locked.
    let number = callable(900);
    host.consent("demo", &[&number]).await;
    let quiet = due(&host, &number, CallType::OutboundFollowup, None).await;
    let Dialed::Placed { .. } = dial(&host, &quiet).await else { panic!("placed") };
    assert_eq!(fake.posts().last().unwrap().body["assistantOverrides"]["monitorPlan"], plan(false));
    let stored = host.host.store().get_call("demo", &quiet.call_id).await.unwrap().unwrap().call;
    assert_eq!(stored.listen_url, None);
    assert_eq!(stored.compliance.unwrap().monitor, Some(callops_domain::call::compliance::Monitor { listen: false, control: true }));

    // Asked for: listening on, behind the public key too, and the link kept while the call is live.
    settings(&host, json!({"liveListening": true})).await;
    let heard = due(&host, &callable(901), CallType::OutboundFollowup, None).await;
    host.consent("demo", &[&callable(901)]).await;
    let Dialed::Placed { vapi_call_id } = dial(&host, &heard).await else { panic!("placed") };
    assert_eq!(fake.posts().last().unwrap().body["assistantOverrides"]["monitorPlan"], plan(true));
    let path = format!("/api/calls/{}", heard.call_id);
    let (status, staff) = host.get(&path, Some(callops_tests::DEMO_STAFF_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{staff}");
    let link = staff["listenUrl"].as_str().expect("staff see the listen link").to_string();
    assert!(link.ends_with(&format!("/listen/{vapi_call_id}")), "{link}");
    let (_, viewer) = host.get(&path, Some(callops_tests::DEMO_VIEWER_TOKEN)).await;
    assert!(viewer["listenUrl"].is_null(), "viewers do not: {viewer}");
    let (_, log) = host.get(&format!("/api/audit?entityId={}&limit=20", heard.call_id), Some(DEMO_TOKEN)).await;
    let read = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "call.content_read" && e["actor"]["sub"] == callops_tests::subject_of(callops_tests::DEMO_STAFF_TOKEN))
        .unwrap_or_else(|| panic!("the staff read is on the record: {log}"));
    assert_eq!(read["changes"]["listenUrl"], true, "{read}");
    assert!(!log.to_string().contains(&link), "the log names the field, never the link");

    // The call ends: the link goes with it.
    let message = json!({"endedReason": "customer-ended-call", "startedAt": time::format(&(Utc::now() - chrono::Duration::seconds(40))),
        "endedAt": time::format(&Utc::now()), "analysis": {"structuredData": {"outcome": "INFORMATION"}}});
    callops_tests::report_end(&host, &heard.call_id, &vapi_call_id, message).await;
    let ended = host.host.store().get_call("demo", &heard.call_id).await.unwrap().unwrap().call;
    assert!(ended.status.is_terminal() && ended.listen_url.is_none(), "{:?} {:?}", ended.status, ended.listen_url);
}

async fn due(host: &TestHost, number: &str, call_type: CallType, debt: Option<&str>) -> DialRequest {
    let mut call = callops_tests::due_call("front-desk", number);
    call.call_type = call_type;
    call.debt_id = debt.map(str::to_string);
    host.host.store().create_call(&call).await.unwrap();
    DialRequest { org_id: "demo".into(), call_id: call.id, attempt: 1 }
}

async fn dial(host: &TestHost, request: &DialRequest) -> Dialed {
    host.host.dialer().dial(request.clone()).await.expect("the trigger is handled")
}

async fn end_with_follow_up(host: &TestHost, request: &DialRequest, vapi_call_id: &str, date: &str) {
    let started = Utc::now() - chrono::Duration::minutes(2);
    let message = json!({"endedReason": "customer-ended-call", "startedAt": time::format(&started),
        "endedAt": time::format(&(started + chrono::Duration::seconds(60))),
        "analysis": {"structuredData": {"outcome": "INFORMATION", "followUpRequired": true, "followUpDate": date}}});
    callops_tests::report_end(host, &request.call_id, vapi_call_id, message).await;
}

/// The follow-up calls waiting for `number`.
async fn follow_ups(host: &TestHost, number: &str) -> usize {
    let state = host.host.store().number_state("demo", number).await.unwrap();
    state.ledger.planned.iter().filter(|p| p.call_type == CallType::OutboundFollowup).count()
}
