//! Analytics exactness: on a generated practice (5,000+ calls over 60 days,
//! several agents, every optional field sometimes missing, every outcome,
//! some calls that never started), every figure of the analytics routes
//! equals a plain computation over the raw calls, for windows aligned and
//! not aligned to hours and days, in UTC and across a daylight-saving change
//! in New York, for one agent and for all; after corrections too; and the
//! rollups verify clean.

use callops_aws::store::{AgentStore, CallStore, RollupCheckStore};
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, time};
use callops_tests::{DEMO_TOKEN, TestHost, assert_error};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use reqwest::StatusCode;
use serde_json::{Value, json};

const AGENTS: [&str; 3] = ["front-desk", "billing", "after-hours"];

fn at(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

/// 5,200 calls from 2024-02-01 to 2024-04-01 (New York's clocks change on March 10).
fn generate(rng: &mut StdRng) -> Vec<CallLog> {
    let first = at("2024-02-01T00:00:00Z");
    (0..5_200)
        .map(|i| {
            let agent = AGENTS[i % AGENTS.len()];
            let mut call = CallLog::new(
                NewCall {
                    org_id: "demo".into(),
                    voice_agent_id: agent.into(),
                    phone_number: format!("+1202555{:04}", i % 10_000),
                    call_type: *CallType::ALL.choose(rng).unwrap(),
                    status: CallStatus::Completed,
                    attempt: 1,
                },
                format!("call-{i:05}").into(),
                first,
            );
            let started = first + Duration::milliseconds(rng.random_range(0..60 * 24 * 3600 * 1000));
            call.call_started_at = (!rng.random_bool(0.04)).then_some(started);
            call.outcome =
                if i < CallOutcome::ALL.len() { Some(CallOutcome::ALL[i]) } else { CallOutcome::ALL.choose(rng).copied() }.filter(|_| rng.random_bool(0.93));
            randomise_analytics(rng, &mut call);
            call
        })
        .collect()
}

fn randomise_analytics(rng: &mut StdRng, call: &mut CallLog) {
    call.duration = rng.random_bool(0.9).then(|| rng.random_range(0..1_800));
    call.insurance_verified = rng.random_bool(0.3);
    call.payment_plan_discussed = rng.random_bool(0.15);
    call.payment_plan_amount = rng.random_bool(0.7).then(|| rng.random_range(1_000..500_000));
    call.collection_attempt = rng.random_bool(0.25);
    call.collection_success = rng.random_bool(0.5);
    call.collection_amount = rng.random_bool(0.7).then(|| rng.random_range(100..200_000));
    call.cost_cents = rng.random_bool(0.85).then(|| rng.random_range(0..400));
    // What the call said of who was calling: not checked, said, or missed (no name, or a telemarketing call with no number).
    let disclosure = match rng.random_range(0..4) {
        0 => None,
        1 => Some(json!({"practiceNamed": true})),
        2 => Some(json!({"practiceNamed": false})),
        _ => Some(json!({"practiceNamed": true, "callbackStated": rng.random_bool(0.5)})),
    };
    call.compliance = disclosure
        .map(|d| serde_json::from_value(json!({"decidedAt": "2024-01-01T00:00:00.000Z", "zones": [], "states": [], "rules": [], "disclosure": d})).unwrap());
}

/// The figures of `GET /api/analytics/calls`, computed plainly from the calls,
/// as the migration document's SQL does.
fn expected_stats(calls: &[&CallLog]) -> Value {
    let total = calls.len() as i64;
    let count = |f: &dyn Fn(&CallLog) -> bool| calls.iter().filter(|c| f(c)).count() as i64;
    let sum = |f: &dyn Fn(&CallLog) -> Option<i64>| calls.iter().filter_map(|c| f(c)).sum::<i64>();
    let rate = |part: i64, whole: i64| if whole == 0 { Value::Null } else { json!(part as f64 * 100.0 / whole as f64) };
    let avg = |s: i64, n: i64| if n == 0 { Value::Null } else { json!(s as f64 / n as f64) };
    let booked = count(&|c| c.outcome == Some(CallOutcome::Booked));
    let durations = count(&|c| c.duration.is_some());
    let attempts = count(&|c| c.collection_attempt);
    let successes = count(&|c| c.collection_attempt && c.collection_success);
    let cost_calls = count(&|c| c.cost_cents.is_some());
    let cost = sum(&|c| c.cost_cents);
    json!({
        "totalCalls": total,
        "bookingRate": rate(booked, total),
        "avgCallTimeSeconds": avg(sum(&|c| c.duration.map(i64::from)), durations),
        "insuranceVerified": count(&|c| c.insurance_verified),
        "paymentPlans": {
            "count": count(&|c| c.payment_plan_discussed),
            "totalAmountCents": sum(&|c| c.payment_plan_amount.filter(|_| c.payment_plan_discussed)),
        },
        "collections": {
            "attempts": attempts,
            "successes": successes,
            "totalCollectedCents": sum(&|c| c.collection_amount.filter(|_| c.collection_attempt)),
            "collectedOnSuccessCents": sum(&|c| c.collection_amount.filter(|_| c.collection_attempt && c.collection_success)),
            "collectionRate": rate(successes, attempts),
        },
        "cost": { "totalCents": cost, "avgPerCallCents": avg(cost, cost_calls) },
        "disclosures": {
            "checked": count(&|c| c.compliance.as_ref().is_some_and(|r| r.disclosure.is_some())),
            "missed": count(&|c| {
                c.compliance.as_ref().and_then(|r| r.disclosure.as_ref()).is_some_and(|d| !d.practice_named || d.callback_stated == Some(false))
            }),
        },
    })
}

fn expected_outcomes(calls: &[&CallLog]) -> Value {
    let total = calls.len() as i64;
    let mut shares: Vec<(Option<CallOutcome>, i64)> = CallOutcome::ALL
        .iter()
        .map(|o| Some(*o))
        .chain([None])
        .map(|o| (o, calls.iter().filter(|c| c.outcome == o).count() as i64))
        .filter(|(_, n)| *n > 0)
        .collect();
    shares.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.map_or("", |o| o.as_str()).cmp(b.0.map_or("", |o| o.as_str()))));
    json!(shares.into_iter().map(|(o, n)| json!({ "outcome": o, "count": n, "percentage": n as f64 * 100.0 / total as f64 })).collect::<Vec<_>>())
}

fn in_window<'a>(calls: &'a [CallLog], start: DateTime<Utc>, end: DateTime<Utc>, agent: Option<&str>) -> Vec<&'a CallLog> {
    calls.iter().filter(|c| c.call_started_at.is_some_and(|t| start <= t && t < end)).filter(|c| agent.is_none_or(|a| c.voice_agent_id == a)).collect()
}

fn pick(value: &Value, fields: &[&str]) -> Value {
    json!(fields.iter().map(|f| (f.to_string(), value[*f].clone())).collect::<serde_json::Map<_, _>>())
}

async fn check_all_windows(host: &TestHost, calls: &[CallLog]) {
    // A call's exact start, to prove the edges hold to the millisecond.
    let edge = calls.iter().filter_map(|c| c.call_started_at).nth(100).unwrap();
    let query = |s: &str| s.replace('+', "%2B");
    let windows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = vec![
        ("startDate=2024-02-10&endDate=2024-02-16".into(), at("2024-02-10T00:00:00Z"), at("2024-02-17T00:00:00Z")),
        ("startDate=2024-02-03T07:13:22.123Z&endDate=2024-03-21T19:47:01.999Z".into(), at("2024-02-03T07:13:22.123Z"), at("2024-03-21T19:47:01.999Z")),
        ("startDate=2024-02-05T06:00:00Z&endDate=2024-02-09T17:00:00Z".into(), at("2024-02-05T06:00:00Z"), at("2024-02-09T17:00:00Z")),
        ("startDate=2024-03-05&endDate=2024-03-15&tz=America/New_York".into(), at("2024-03-05T05:00:00Z"), at("2024-03-16T04:00:00Z")),
        ("startDate=2024-03-10T01:30:00-05:00&endDate=2024-03-10T04:30:00-04:00".into(), at("2024-03-10T06:30:00Z"), at("2024-03-10T08:30:00Z")),
        ("startDate=2024-02-20T10:05:00Z&endDate=2024-02-20T10:55:00Z".into(), at("2024-02-20T10:05:00Z"), at("2024-02-20T10:55:00Z")),
        (format!("startDate={}&endDate={}", time::format(&edge), time::format(&(edge + Duration::hours(30)))), edge, edge + Duration::hours(30)),
        ("startDate=2023-06-01&endDate=2023-06-30".into(), at("2023-06-01T00:00:00Z"), at("2023-07-01T00:00:00Z")),
        ("startDate=2024-01-25&endDate=2024-04-05".into(), at("2024-01-25T00:00:00Z"), at("2024-04-06T00:00:00Z")),
    ];
    let stat_fields = ["totalCalls", "bookingRate", "avgCallTimeSeconds", "insuranceVerified", "paymentPlans", "collections", "cost", "disclosures"];
    for (params, start, end) in &windows {
        for agent in [None, Some("billing")] {
            let agent_param = agent.map(|a| format!("&agentId={a}")).unwrap_or_default();
            let selected = in_window(calls, *start, *end, agent);
            let (status, stats) = host.get(&format!("/api/analytics/calls?{}{agent_param}", query(params)), Some(DEMO_TOKEN)).await;
            assert_eq!(status, StatusCode::OK, "{params}: {stats}");
            assert_eq!(stats["startDate"], time::format(start), "{params}");
            assert_eq!(stats["endDate"], time::format(end), "{params}");
            assert_eq!(pick(&stats, &stat_fields), expected_stats(&selected), "{params} agent {agent:?}");

            let (status, outcomes) = host.get(&format!("/api/analytics/calls/outcomes?{}{agent_param}", query(params)), Some(DEMO_TOKEN)).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(outcomes["totalCalls"], json!(selected.len()));
            assert_eq!(outcomes["outcomes"], expected_outcomes(&selected), "{params} agent {agent:?}");
        }
    }
}

async fn verify_clean(host: &TestHost) {
    let report = host.host.store().verify_rollups().await.unwrap();
    assert!(report.drift.is_empty(), "rollups drifted: {:?}", &report.drift[..report.drift.len().min(3)]);
}

#[tokio::test]
async fn every_figure_equals_a_plain_computation_over_the_calls() {
    let host = TestHost::start(false).await;
    let store = host.host.store().clone();
    let mut agents = callops::demo::demo_agents("demo", Utc::now());
    let mut third = agents[0].clone();
    third.id = AGENTS[2].into();
    agents.push(third);
    for agent in &agents {
        store
            .put_agent(agent, true, &callops_tests::system_audit(&agent.org_id, callops_domain::records::audit::Action::AgentCreated, &agent.id))
            .await
            .unwrap();
    }

    let mut rng = StdRng::seed_from_u64(5_000);
    let mut calls = generate(&mut rng);
    for chunk in calls.chunks(64) {
        let mut writes = tokio::task::JoinSet::new();
        for call in chunk {
            let (store, call) = (store.clone(), call.clone());
            writes.spawn(async move { store.create_call(&call).await.map(|_| ()) });
        }
        while let Some(result) = writes.join_next().await {
            result.unwrap().unwrap();
        }
    }
    check_all_windows(&host, &calls).await;
    verify_clean(&host).await;

    // Later changes to calls: outcomes corrected, costs arriving late, starts moved.
    for i in (0..calls.len()).step_by(17) {
        let stored = store.get_call("demo", &calls[i].id).await.unwrap().unwrap();
        let mut next = stored.call.clone();
        next.outcome = CallOutcome::ALL.choose(&mut rng).copied();
        randomise_analytics(&mut rng, &mut next);
        if i % 3 == 0 {
            next.call_started_at = next.call_started_at.map(|t| t + Duration::hours(rng.random_range(-30..30)));
        }
        store.update_call(&stored, &next).await.unwrap();
        calls[i] = next;
    }
    check_all_windows(&host, &calls).await;
    verify_clean(&host).await;
}

#[tokio::test]
async fn costs_come_by_local_day_and_by_call_type() {
    let host = TestHost::start(false).await;
    let store = host.host.store().clone();
    let mut rng = StdRng::seed_from_u64(7);
    let calls: Vec<CallLog> = generate(&mut rng).into_iter().take(600).collect();
    for call in &calls {
        store.create_call(call).await.unwrap();
    }
    let (status, body) = host.get("/api/analytics/costs?startDate=2024-02-01&endDate=2024-02-07&tz=America/Chicago", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let days = body["byDay"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let (start, end) = (at("2024-02-01T06:00:00Z"), at("2024-02-08T06:00:00Z"));
    for (i, day) in days.iter().enumerate() {
        let from = start + Duration::days(i as i64);
        let selected = in_window(&calls, from, from + Duration::days(1), None);
        assert_eq!(day["date"], format!("2024-02-{:02}", i + 1));
        assert_eq!(day["calls"], json!(selected.len()));
        assert_eq!(day["totalCents"], json!(selected.iter().filter_map(|c| c.cost_cents).sum::<i64>()));
    }
    let selected = in_window(&calls, start, end, None);
    assert_eq!(body["totalCents"], json!(selected.iter().filter_map(|c| c.cost_cents).sum::<i64>()));
    for entry in body["byCallType"].as_array().unwrap() {
        let call_type: CallType = entry["callType"].as_str().unwrap().parse().unwrap();
        let of_type: Vec<_> = selected.iter().filter(|c| c.call_type == call_type).collect();
        assert_eq!(entry["calls"], json!(of_type.len()));
        assert_eq!(entry["totalCents"], json!(of_type.iter().filter_map(|c| c.cost_cents).sum::<i64>()));
    }

    // Calls and their outcomes per local day (the dashboard's chart).
    let (status, body) = host.get("/api/analytics/calls/daily?startDate=2024-02-01&endDate=2024-02-07&tz=America/Chicago", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    for (i, day) in days.iter().enumerate() {
        let from = start + Duration::days(i as i64);
        let selected = in_window(&calls, from, from + Duration::days(1), None);
        assert_eq!(day["date"], format!("2024-02-{:02}", i + 1));
        assert_eq!(day["totalCalls"], json!(selected.len()));
        assert_eq!(day["outcomes"], expected_outcomes(&selected), "{}", day["date"]);
    }

    // Recent calls within a window (the dashboard's table), newest first.
    let (status, body) = host.get("/api/analytics/calls/recent?startDate=2024-02-03&endDate=2024-02-03&tz=America/Chicago&limit=100", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut want = in_window(&calls, start + Duration::days(2), start + Duration::days(3), None);
    want.sort_by_key(|c| std::cmp::Reverse(c.call_started_at));
    let got: Vec<&str> = body["calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(!want.is_empty());
    assert_eq!(got, want.iter().map(|c| c.id.as_str()).collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_analytics_parameters_get_400_with_a_code() {
    let host = TestHost::start(true).await;
    for (query, code) in [
        ("startDate=last-week", "invalid_start_date"),
        ("endDate=2024-02-30", "invalid_end_date"),
        ("startDate=2024-03-01&endDate=2024-02-01", "invalid_window"),
        ("startDate=2022-01-01&endDate=2024-01-01", "window_too_long"),
        ("tz=Mars/Olympus_Mons", "invalid_tz"),
    ] {
        for route in ["/api/analytics/calls", "/api/analytics/calls/outcomes", "/api/analytics/costs"] {
            assert_error(&host.get(&format!("{route}?{query}"), Some(DEMO_TOKEN)).await, StatusCode::BAD_REQUEST, code);
        }
    }
    assert_error(&host.get("/api/analytics/calls?agentId=ghost", Some(DEMO_TOKEN)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_demo_practice_verifies_clean_and_its_figures_add_up() {
    let host = TestHost::start(true).await;
    verify_clean(&host).await;
    let calls = host.host.store().all_calls().await.unwrap();
    let (status, stats) = host.get("/api/analytics/calls?startDate=2000-01-01T00:00:00Z&endDate=2001-01-01T00:00:00Z", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["totalCalls"], 0);
    let (status, stats) = host.get("/api/analytics/calls", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let (start, end) = (time::parse(stats["startDate"].as_str().unwrap()).unwrap(), time::parse(stats["endDate"].as_str().unwrap()).unwrap());
    assert_eq!(end - start, Duration::days(7), "the default window is the last 7 days");
    assert_eq!(stats["totalCalls"], json!(in_window(&calls, start, end, None).len()));
}
