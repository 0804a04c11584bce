//! Placing an attempt, below HTTP: the dialer with a clock set to the hour
//! each case needs, so every rule is checked at a time the test chooses.

use callops_aws::store::{AgentStore, CallStore, LedgerStore, SettingsStore};
use callops_domain::{
    CallLog, CallStatus, CallType, NewCall,
    agent::{AgentInput, HoursInput, secret::SecretNamespace},
    call::new_call_id,
    ending::report::{CallEnd, CallReport, ReportKind},
    placement::schedule::{DialRequest, ScheduledDial},
    settings::TenantSettings,
    time,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::{America::New_York, Tz};

use super::{FixedClock, NUMBER, ORG, World, audit, consent, subject, world};
use crate::Dialed;

/// 10:00 in New York on a Wednesday at least two days ahead, clear of the
/// public holidays that can fall midweek.
fn weekday_morning() -> DateTime<Utc> {
    let near_a_holiday = |day: NaiveDate| matches!((day.month(), day.day()), (12, 20..=31) | (1, 1..=2) | (6, 19) | (7, 4) | (11, 11));
    let mut day = (Utc::now() + Duration::days(2)).with_timezone(&New_York).date_naive();
    while day.weekday() != Weekday::Wed || near_a_holiday(day) {
        day = day.succ_opt().unwrap();
    }
    at_local(New_York, day, 10)
}

fn at_local(zone: Tz, day: NaiveDate, hour: u32) -> DateTime<Utc> {
    time::local_to_utc(zone, day.and_hms_opt(hour, 0, 0).unwrap())
}

/// An agent of the tenant's, in `zone`, open `hours` (local to the callee).
async fn agent(world: &World, id: &str, zone: &str, hours: (&str, &str)) {
    let input = AgentInput {
        id: Some(id.into()),
        name: Some(id.into()),
        vapi_assistant_id: Some(format!("asst-{id}")),
        vapi_phone_number_id: Some(format!("pn-{id}")),
        time_zone: Some(zone.into()),
        calling_hours: Some(HoursInput { start: hours.0.into(), end: hours.1.into() }),
        ..Default::default()
    };
    let agent = input.create(ORG, Utc::now(), &SecretNamespace::local()).unwrap();
    world.store.put_agent(&agent, true, &audit(id)).await.unwrap();
}

/// A call of `call_type` to `number` by `agent`, made ten minutes before
/// `at` and due a minute before it, stored directly (only the test fires it);
/// `edit` sets what else its record says.
async fn due(world: &World, agent: &str, number: &str, call_type: CallType, at: DateTime<Utc>, edit: impl FnOnce(&mut CallLog)) -> DialRequest {
    consent(&world.store, number).await;
    let new = NewCall { org_id: ORG.into(), voice_agent_id: agent.into(), phone_number: number.into(), call_type, status: CallStatus::Scheduled, attempt: 1 };
    let mut call = CallLog::new(new, new_call_id(), time::to_millis(at - Duration::minutes(10)));
    call.scheduled_at = Some(time::to_millis(at - Duration::minutes(1)));
    edit(&mut call);
    world.store.create_call(&call).await.unwrap();
    DialRequest::for_call(&call)
}

async fn stored(world: &World, request: &DialRequest) -> CallLog {
    world.store.get_call(ORG, &request.call_id).await.unwrap().unwrap().call
}

async fn set_cap(world: &World, per_day: u32) {
    let settings = TenantSettings { max_attempts_per_number_per_day: per_day, ..world.store.settings(ORG).await.unwrap() };
    world.store.put_settings(&settings, &audit("settings")).await.unwrap();
}

#[tokio::test]
async fn a_due_attempt_is_claimed_and_placed_once_with_what_vapi_needs_and_keeps_why() {
    let world = world().await;
    let at = weekday_morning();
    let dialer = world.dialer(FixedClock::at(at));
    let request = due(&world, "front-desk", NUMBER, CallType::OutboundLead, at, |call| call.customer_name = Some("Ada Lovelace".into())).await;

    assert_eq!(dialer.dial(request.clone()).await.unwrap(), Dialed::Placed { vapi_call_id: "vapi-1".into() });
    let posted = world.vapi.posted();
    assert_eq!(posted.len(), 1);
    let body = serde_json::to_value(&posted[0]).unwrap();
    assert_eq!((body["assistantId"].as_str(), body["phoneNumberId"].as_str()), (Some("asst"), Some("pn")));
    assert_eq!(body["customer"], serde_json::json!({"number": NUMBER, "name": "Ada Lovelace"}));
    assert_eq!(body["assistantOverrides"]["metadata"], serde_json::json!({"orgId": ORG, "callId": request.call_id, "attempt": 1}));

    let call = stored(&world, &request).await;
    assert_eq!((call.status, call.vapi_call_id.as_deref(), call.call_started_at), (CallStatus::InProgress, Some("vapi-1"), Some(at)));
    let record = call.compliance.expect("the placed call keeps the rules it was placed under");
    assert_eq!(record.zones, vec!["America/New_York".to_string()]);
    assert!(record.rules.iter().all(|r| r.ok), "{:?}", record.rules);
    assert!(record.rules.iter().any(|r| r.rule == "tcpa_hours") && record.rules.iter().any(|r| r.rule == "tenant_cap"), "{:?}", record.rules);
    assert_eq!(world.store.slots_in_use(ORG, "front-desk").await.unwrap(), 1, "the call holds a slot");
    assert_eq!(world.store.ledger(ORG, NUMBER).await.unwrap().attempts.len(), 1, "the attempt is counted");

    // Delivery is at least once: the same trigger again, and two racing, place nothing more.
    assert_eq!(dialer.dial(request.clone()).await.unwrap(), Dialed::AlreadyHandled);
    let (a, b) = tokio::join!(dialer.dial(request.clone()), dialer.dial(request.clone()));
    assert_eq!((a.unwrap(), b.unwrap()), (Dialed::AlreadyHandled, Dialed::AlreadyHandled));
    assert_eq!(world.vapi.posted().len(), 1, "never dialed twice");
}

#[tokio::test]
async fn a_full_vapi_account_moves_the_attempt_by_the_busy_delay_and_gives_its_slot_back() {
    let world = world().await;
    let at = weekday_morning();
    world.vapi.full.store(true, std::sync::atomic::Ordering::SeqCst);
    let request = due(&world, "front-desk", NUMBER, CallType::OutboundLead, at, |_| ()).await;

    let dialed = world.dialer(FixedClock::at(at)).dial(request.clone()).await.unwrap();
    let to = at + Duration::seconds(20);
    assert_eq!(dialed, Dialed::Moved { to, why: "Vapi concurrency limit" });
    let call = stored(&world, &request).await;
    assert_eq!((call.status, call.scheduled_at), (CallStatus::Scheduled, Some(to)));
    assert_eq!(world.store.slots_in_use(ORG, "front-desk").await.unwrap(), 0, "the slot came back");
    assert!(world.scheduler.scheduled.lock().unwrap().contains(&ScheduledDial { request, at: to }), "its schedule moved too");
}

#[tokio::test]
async fn outside_calling_hours_the_attempt_moves_to_the_next_opening_on_the_callees_clock() {
    let world = world().await;
    let at = weekday_morning();
    // The agent keeps a zone far from the callee's: its hours are read on the callee's clock.
    agent(&world, "later", "Pacific/Kiritimati", ("11:00", "12:00")).await;
    let request = due(&world, "later", NUMBER, CallType::OutboundLead, at, |_| ()).await;

    let dialed = world.dialer(FixedClock::at(at)).dial(request.clone()).await.unwrap();
    let opening = at + Duration::hours(1);
    assert_eq!(dialed, Dialed::Moved { to: opening, why: "outside_calling_hours" });
    assert_eq!(opening.with_timezone(&New_York).format("%H:%M").to_string(), "11:00");
    let call = stored(&world, &request).await;
    assert_eq!((call.status, call.scheduled_at), (CallStatus::Scheduled, Some(opening)));
    assert!(world.scheduler.scheduled.lock().unwrap().contains(&ScheduledDial { request, at: opening }), "its schedule moved too");
    assert!(world.vapi.posted().is_empty());
    assert_eq!(world.store.slots_in_use(ORG, "later").await.unwrap(), 0);
}

#[tokio::test]
async fn an_attempt_no_time_will_allow_is_cancelled_at_dial_time_with_its_reason() {
    let world = world().await;
    let at = weekday_morning();
    agent(&world, "mornings", "America/New_York", ("09:00", "12:00")).await;
    // A New York number whose contact's record says Tokyo: mornings in both never meet.
    let request = due(&world, "mornings", NUMBER, CallType::OutboundLead, at, |call| call.callee_time_zone = Some(chrono_tz::Asia::Tokyo)).await;

    assert_eq!(world.dialer(FixedClock::at(at)).dial(request.clone()).await.unwrap(), Dialed::NotDialed("no-calling-hours-ahead"));
    let ended = stored(&world, &request).await;
    assert_eq!((ended.status, ended.ended_reason.as_deref()), (CallStatus::Cancelled, Some("no-calling-hours-ahead")));
    assert!(world.vapi.posted().is_empty(), "nothing reached Vapi");
    assert_eq!(world.store.ledger(ORG, NUMBER).await.unwrap().attempts.len(), 0, "no attempt counted");
}

#[tokio::test]
async fn two_triggers_racing_for_the_last_attempt_a_cap_allows_place_one_call() {
    let world = world().await;
    let at = weekday_morning();
    set_cap(&world, 1).await;
    let dialer = world.dialer(FixedClock::at(at));
    let first = due(&world, "front-desk", NUMBER, CallType::OutboundLead, at, |_| ()).await;
    let second = due(&world, "front-desk", NUMBER, CallType::OutboundFollowup, at, |_| ()).await;

    let (a, b) = tokio::join!(dialer.dial(first), dialer.dial(second));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!([&a, &b].iter().filter(|d| matches!(d, Dialed::Placed { .. })).count(), 1, "one call placed: {a:?} {b:?}");
    assert_eq!(world.vapi.posted().len(), 1, "one reached Vapi");
    let (to, why) = [a, b]
        .into_iter()
        .find_map(|d| match d {
            Dialed::Moved { to, why } => Some((to, why)),
            _ => None,
        })
        .expect("the other moved");
    assert_eq!(why, "frequency_limit");
    assert!(to >= at + Duration::hours(23), "a day after the placed attempt: {to}");
    assert_eq!(world.store.ledger(ORG, NUMBER).await.unwrap().attempts.len(), 1, "the ledger holds the one attempt");
}

#[tokio::test]
async fn state_limits_and_regulation_f_stop_the_call_one_too_many() {
    let world = world().await;
    let mut at = weekday_morning();
    set_cap(&world, 20).await;
    let clock = FixedClock::at(at);
    let dialer = world.dialer(clock.clone());
    let in_florida = |call: &mut CallLog| {
        call.callee_state = Some("FL".parse().unwrap());
        call.callee_time_zone = Some(New_York);
    };

    // The contact's record says Florida: three calls in 24 hours, whatever the number's area code says.
    let number = "+12125550150";
    for _ in 0..3 {
        let request = due(&world, "front-desk", number, CallType::OutboundLead, at, in_florida).await;
        assert!(matches!(dialer.dial(request).await.unwrap(), Dialed::Placed { .. }));
    }
    let fourth = due(&world, "front-desk", number, CallType::OutboundCampaign, at, in_florida).await;
    assert!(matches!(dialer.dial(fourth).await.unwrap(), Dialed::Moved { why: "frequency_limit", .. }), "the fourth call in Florida is moved");
    // The number's history keeps Florida: a call whose own record is silent on the state is held all the same.
    let silent = due(&world, "front-desk", number, CallType::OutboundFollowup, at, |_| ()).await;
    assert!(matches!(dialer.dial(silent).await.unwrap(), Dialed::Moved { why: "frequency_limit", .. }), "held by the number's history");
    let elsewhere = due(&world, "front-desk", "+12125550151", CallType::OutboundLead, at, |_| ()).await;
    assert!(matches!(dialer.dial(elsewhere).await.unwrap(), Dialed::Placed { .. }), "another number is not counted");

    // Regulation F: after a conversation about a debt, no call about it for seven days; other debts are counted apart.
    let debtor = "+12125550160";
    let about = |debt: &'static str| move |call: &mut CallLog| call.debt_id = Some(debt.into());
    let talk = due(&world, "front-desk", debtor, CallType::OutboundDebt, at, about("inv-7")).await;
    let Dialed::Placed { vapi_call_id } = dialer.dial(talk.clone()).await.unwrap() else { panic!("placed") };
    let mut report = CallReport::new(ReportKind::Ended);
    report.vapi_call_id = Some(vapi_call_id);
    report.end = Some(CallEnd::Normal);
    report.ended_reason = Some("customer-ended-call".into());
    (report.started_at, report.ended_at) = (Some(at), Some(at + Duration::seconds(90)));
    let placed = stored(&world, &talk).await;
    world.calls.record_report(ORG, &subject(&placed), &report, "webhook", at + Duration::minutes(2)).await.unwrap();
    assert_eq!(stored(&world, &talk).await.status, CallStatus::Completed);

    at += Duration::minutes(5);
    clock.set(at);
    let again = due(&world, "front-desk", debtor, CallType::OutboundDebt, at, about("inv-7")).await;
    let Dialed::Moved { to, why } = dialer.dial(again).await.unwrap() else { panic!("moved") };
    assert_eq!(why, "regf_after_conversation");
    assert!(to > at + Duration::days(6), "day 8 at the earliest: {to}");
    let other_debt = due(&world, "front-desk", debtor, CallType::OutboundDebt, at, about("inv-8")).await;
    assert!(matches!(dialer.dial(other_debt).await.unwrap(), Dialed::Placed { .. }), "another debt");
    assert_eq!(world.vapi.posted().len(), 6);
}
