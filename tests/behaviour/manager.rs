//! The practice manager's views, through the local host, each figure equal
//! to a plain computation over generated calls: the agents side by side,
//! when patients call (a week of local hours, across New York's daylight
//! saving change and in India's half-hour zone, split by each agent's own
//! hours and the practice's holidays), the window before, the call type and
//! direction filters, sentiment and ratings, and the missed calls that wait
//! to be returned (written in the order they happened, so each connected
//! call returns its number's earlier missed ones). Then the worklist's
//! "call back" through the outbound rules, and the export's content and
//! escaping.

use std::collections::BTreeMap;

use callops_aws::store::{CallStore, RollupCheckStore};
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, time};
use callops_tests::{DEMO_TOKEN, DEMO_VIEWER_TOKEN, TestHost, assert_error};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn at(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

/// Each agent, its zone, and its hours (open from, open until, closed weekdays: Monday 0).
const AGENTS: [(&str, &str, &str, &str, &[u32]); 3] = [
    ("front-desk", "America/New_York", "08:00", "17:30", &[5, 6]),
    ("billing", "America/Chicago", "09:00", "17:00", &[6]),
    ("india-desk", "Asia/Kolkata", "09:30", "18:00", &[]),
];
const HOLIDAY: &str = "2024-03-01";

fn minute(text: &str) -> u32 {
    let (h, m) = text.split_once(':').unwrap();
    h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap()
}

/// The agents, made through the API as a practice makes them.
async fn create_agents(host: &TestHost) {
    for (id, zone, open, close, closed) in AGENTS {
        let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let closed: Vec<&str> = closed.iter().map(|d| days[*d as usize]).collect();
        let body = json!({"id": id, "name": id, "vapiAssistantId": format!("asst-{id}"), "vapiPhoneNumberId": format!("pn-{id}"), "timeZone": zone,
                          "callingHours": {"start": open, "end": close}, "closedDays": closed});
        let (status, agent) = host.send(Method::POST, "/api/agents", Some(DEMO_TOKEN), Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{agent}");
    }
    let (status, settings) = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"holidays": [HOLIDAY]}))).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
}

/// 2,400 calls from 2024-02-20 to 2024-03-20 (New York's clocks change on
/// March 10), 160 numbers calling again and again, every status and call type.
fn generate(rng: &mut StdRng) -> Vec<CallLog> {
    let first = at("2024-02-20T00:00:00Z");
    let mut calls: Vec<CallLog> = (0..2_400)
        .map(|i| {
            let agent = AGENTS[i % AGENTS.len()].0;
            let status = *[
                CallStatus::Completed,
                CallStatus::Completed,
                CallStatus::Completed,
                CallStatus::Completed,
                CallStatus::Missed,
                CallStatus::Voicemail,
                CallStatus::Failed,
                CallStatus::InProgress,
            ]
            .choose(rng)
            .unwrap();
            let mut call = CallLog::new(
                NewCall {
                    org_id: "demo".into(),
                    voice_agent_id: agent.into(),
                    phone_number: format!("+1202555{:04}", 1_000 + rng.random_range(0..160)),
                    call_type: *CallType::ALL.choose(rng).unwrap(),
                    status,
                    attempt: 0,
                },
                format!("call-{i:05}").into(),
                first,
            );
            call.call_started_at = (!rng.random_bool(0.03)).then(|| first + Duration::milliseconds(rng.random_range(0..29 * 24 * 3600 * 1000)));
            call.outcome = CallOutcome::ALL.choose(rng).copied().filter(|_| rng.random_bool(0.9));
            call.duration = rng.random_bool(0.92).then(|| if rng.random_bool(0.2) { rng.random_range(0..10) } else { rng.random_range(10..900) });
            call.cost_cents = rng.random_bool(0.85).then(|| rng.random_range(0..400));
            call.insurance_verified = rng.random_bool(0.3);
            call.collection_attempt = rng.random_bool(0.2);
            call.collection_success = rng.random_bool(0.5);
            call.collection_amount = rng.random_bool(0.7).then(|| rng.random_range(100..90_000));
            call.customer_sentiment =
                ["positive", "neutral", "negative", "Positive ", "relieved"].choose(rng).map(|s| s.to_string()).filter(|_| rng.random_bool(0.8));
            call.call_quality = rng.random_bool(0.7).then(|| rng.random_range(1..=5));
            call.ai_confidence = rng.random_bool(0.6).then(|| f64::from(rng.random_range(0..=1_000)) / 1_000.0);
            call
        })
        .collect();
    // Written in the order they happened, as they would be live.
    calls.sort_by_key(|call| call.call_started_at.unwrap_or(call.created_at));
    calls
}

// The plain definitions, written out here on their own.
fn connected(c: &CallLog) -> bool {
    c.status == CallStatus::Completed
        && !matches!(c.outcome, Some(CallOutcome::NoAnswer | CallOutcome::Busy | CallOutcome::Voicemail | CallOutcome::Failed))
        && c.duration.is_none_or(|d| d >= 10)
}
fn missed(c: &CallLog) -> bool {
    c.call_type == CallType::Inbound
        && c.call_started_at.is_some()
        && matches!(c.status, CallStatus::Completed | CallStatus::Missed | CallStatus::Voicemail | CallStatus::Failed)
        && !connected(c)
}
fn returned(c: &CallLog, all: &[CallLog]) -> bool {
    all.iter().any(|d| d.id != c.id && d.phone_number == c.phone_number && connected(d) && d.call_started_at > c.call_started_at)
}

/// Which calls a query's filters select.
#[derive(Clone, Copy)]
struct Filter<'a> {
    agent: Option<&'a str>,
    kind: &'a str,
}

impl Filter<'_> {
    fn selects(&self, c: &CallLog) -> bool {
        let kind = match self.kind {
            "" => true,
            "direction=inbound" => c.call_type == CallType::Inbound,
            "direction=outbound" => c.call_type != CallType::Inbound,
            other => other.strip_prefix("callType=").is_some_and(|t| c.call_type.as_str() == t),
        };
        kind && self.agent.is_none_or(|a| c.voice_agent_id == a)
    }

    fn query(&self) -> String {
        let agent = self.agent.map(|a| format!("&agentId={a}")).unwrap_or_default();
        let kind = if self.kind.is_empty() { String::new() } else { format!("&{}", self.kind) };
        format!("{agent}{kind}")
    }
}

fn started_in<'a>(calls: &'a [CallLog], start: DateTime<Utc>, end: DateTime<Utc>, filter: Filter) -> Vec<&'a CallLog> {
    calls.iter().filter(|c| c.call_started_at.is_some_and(|t| start <= t && t < end) && filter.selects(c)).collect()
}

fn close(a: &Value, b: Option<f64>) -> bool {
    match (a.as_f64(), b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (None, None) => a.is_null(),
        _ => false,
    }
}

/// The figures of a window the manager's views add, computed plainly.
fn check_stats(got: &Value, calls: &[&CallLog], all: &[CallLog], what: &str) {
    let total = calls.len() as i64;
    let booked = calls.iter().filter(|c| c.outcome == Some(CallOutcome::Booked)).count() as f64;
    let missed_calls: Vec<&&CallLog> = calls.iter().filter(|c| missed(c)).collect();
    assert_eq!(got["totalCalls"], json!(total), "{what}");
    assert_eq!(got["answered"], json!(calls.iter().filter(|c| connected(c)).count()), "{what}");
    assert_eq!(got["missedCalls"]["missed"], json!(missed_calls.len()), "{what}");
    assert_eq!(got["missedCalls"]["notReturned"], json!(missed_calls.iter().filter(|c| !returned(c, all)).count()), "{what}");
    assert!(close(&got["bookingRate"], (total > 0).then(|| booked * 100.0 / total as f64)), "{what}: {}", got["bookingRate"]);
    assert_eq!(got["cost"]["totalCents"], json!(calls.iter().filter_map(|c| c.cost_cents).sum::<i64>()), "{what}");
    assert_eq!(got["insuranceVerified"], json!(calls.iter().filter(|c| c.insurance_verified).count()), "{what}");
}

fn open_at(agent: &str, start: DateTime<Utc>) -> bool {
    let (_, zone, open, close, closed) = AGENTS.iter().find(|a| a.0 == agent).unwrap();
    let local = start.with_timezone(&zone.parse::<Tz>().unwrap());
    let m = local.hour() * 60 + local.minute();
    local.date_naive() != HOLIDAY.parse::<NaiveDate>().unwrap()
        && !closed.contains(&local.weekday().num_days_from_monday())
        && (minute(open)..minute(close)).contains(&m)
}

fn check_hourly(got: &Value, calls: &[&CallLog], tz: Tz, what: &str) {
    let mut cells: BTreeMap<(u32, u32), [i64; 3]> = BTreeMap::new();
    let (mut inside, mut after) = ([0i64; 3], [0i64; 3]);
    for c in calls {
        let start = c.call_started_at.unwrap();
        let local = start.with_timezone(&tz);
        let counts = [1, i64::from(connected(c)), i64::from(c.outcome == Some(CallOutcome::Booked))];
        let cell = cells.entry((local.weekday().number_from_monday(), local.hour())).or_default();
        let split = if open_at(&c.voice_agent_id, start) { &mut inside } else { &mut after };
        for i in 0..3 {
            cell[i] += counts[i];
            split[i] += counts[i];
        }
    }
    let got_cells = got["cells"].as_array().unwrap();
    assert_eq!(got_cells.len(), 168, "{what}");
    for cell in got_cells {
        let key = (cell["weekday"].as_u64().unwrap() as u32, cell["hour"].as_u64().unwrap() as u32);
        let want = cells.get(&key).copied().unwrap_or_default();
        assert_eq!([cell["calls"].as_i64().unwrap(), cell["answered"].as_i64().unwrap(), cell["booked"].as_i64().unwrap()], want, "{what} cell {key:?}");
    }
    let counts = |v: &Value| [v["calls"].as_i64().unwrap(), v["answered"].as_i64().unwrap(), v["booked"].as_i64().unwrap()];
    assert_eq!((counts(&got["inHours"]), counts(&got["afterHours"])), (inside, after), "{what}: in and after the agents' hours");
}

fn check_quality(got: &Value, calls: &[&CallLog], what: &str) {
    let total = calls.len();
    let word = |c: &CallLog| {
        c.customer_sentiment.as_deref().map(|s| match s.trim().to_ascii_lowercase().as_str() {
            w @ ("positive" | "neutral" | "negative") => w.to_string(),
            _ => "other".to_string(),
        })
    };
    let shares: Vec<Value> = [Some("positive"), Some("neutral"), Some("negative"), Some("other"), None]
        .iter()
        .map(|s| {
            let n = calls.iter().filter(|c| word(c).as_deref() == *s).count();
            json!({"sentiment": s, "count": n, "percentage": if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 }})
        })
        .collect();
    assert_eq!(got["sentiment"], json!(shares), "{what}");
    let mean = |values: Vec<f64>| (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    assert!(close(&got["avgCallQuality"], mean(calls.iter().filter_map(|c| c.call_quality.map(f64::from)).collect())), "{what}");
    assert!(close(&got["avgAiConfidence"], mean(calls.iter().filter_map(|c| c.ai_confidence).collect())), "{what}: {}", got["avgAiConfidence"]);
}

#[tokio::test]
async fn every_view_of_the_manager_equals_a_plain_computation_over_the_calls() {
    // One of the generated numbers, whose calls the recent list filters.
    const NUMBER: &str = "+12025551007";
    let host = TestHost::start(false).await;
    create_agents(&host).await;
    let store = host.host.store().clone();
    let calls = generate(&mut StdRng::seed_from_u64(2_312));
    for call in &calls {
        store.create_call(call).await.unwrap();
    }
    let windows: [(&str, &str, DateTime<Utc>, DateTime<Utc>); 3] = [
        ("startDate=2024-03-04&endDate=2024-03-17&tz=America/New_York", "America/New_York", at("2024-03-04T05:00:00Z"), at("2024-03-18T04:00:00Z")),
        ("startDate=2024-02-25&endDate=2024-03-02&tz=Asia/Kolkata", "Asia/Kolkata", at("2024-02-24T18:30:00Z"), at("2024-03-02T18:30:00Z")),
        ("startDate=2024-03-06T13:17:00Z&endDate=2024-03-12T08:05:30Z", "UTC", at("2024-03-06T13:17:00Z"), at("2024-03-12T08:05:30Z")),
    ];
    // Missed calls waiting and returned, calls in and after hours: the data has every case.
    let mut seen = [0usize; 5];
    for (params, tz, start, end) in windows {
        let tz: Tz = tz.parse().unwrap();
        let previous = (start - (end - start), start);
        for agent in [None, Some("india-desk")] {
            for kind in ["", "direction=inbound", "direction=outbound", "callType=OUTBOUND_DEBT"] {
                let filter = Filter { agent, kind };
                let what = format!("{params}{}", filter.query());
                let selected = started_in(&calls, start, end, filter);

                let (status, stats) = host.get(&format!("/api/analytics/calls?{params}{}", filter.query()), Some(DEMO_TOKEN)).await;
                assert_eq!(status, StatusCode::OK, "{what}: {stats}");
                check_stats(&stats, &selected, &calls, &what);
                assert_eq!(
                    (stats["previous"]["startDate"].as_str(), stats["previous"]["endDate"].as_str()),
                    (Some(time::format(&previous.0).as_str()), Some(time::format(&previous.1).as_str()))
                );
                check_stats(&stats["previous"], &started_in(&calls, previous.0, previous.1, filter), &calls, &format!("{what} (the window before)"));

                let (status, hourly) = host.get(&format!("/api/analytics/calls/hourly?{params}{}", filter.query()), Some(DEMO_TOKEN)).await;
                assert_eq!(status, StatusCode::OK, "{what}: {hourly}");
                check_hourly(&hourly, &selected, tz, &what);

                let (status, quality) = host.get(&format!("/api/analytics/quality?{params}{}", filter.query()), Some(DEMO_TOKEN)).await;
                assert_eq!(status, StatusCode::OK, "{what}: {quality}");
                check_quality(&quality, &selected, &what);

                let (status, agents) = host.get(&format!("/api/analytics/agents?{params}{}", filter.query()), Some(DEMO_TOKEN)).await;
                assert_eq!(status, StatusCode::OK, "{what}: {agents}");
                let rows = agents["agents"].as_array().unwrap();
                let ids: Vec<&str> = rows.iter().map(|r| r["agentId"].as_str().unwrap()).collect();
                let mut want_ids: Vec<&str> = AGENTS.iter().map(|a| a.0).filter(|a| agent.is_none_or(|only| only == *a)).collect();
                want_ids.sort_unstable();
                assert_eq!(ids, want_ids, "{what}: every agent the caller may see, as /api/agents lists them");
                for row in rows {
                    let one = Filter { agent: row["agentId"].as_str(), kind };
                    check_stats(row, &started_in(&calls, start, end, one), &calls, &format!("{what} row {}", row["agentId"]));
                }
                check_stats(&agents["total"], &selected, &calls, &format!("{what} total"));

                // A patient's calls, through the same filters (read from the number's own index).
                let path = format!("/api/analytics/calls/recent?{params}{}&phoneNumber=%2B{}&limit=100&content=false", filter.query(), &NUMBER[1..]);
                let (status, recent) = host.get(&path, Some(DEMO_TOKEN)).await;
                assert_eq!(status, StatusCode::OK, "{what}: {recent}");
                let got: Vec<&str> = recent["calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
                let mut theirs: Vec<&&CallLog> = selected.iter().filter(|c| c.phone_number == NUMBER).collect();
                theirs.sort_by_key(|c| std::cmp::Reverse((c.call_started_at, c.id.to_string())));
                assert_eq!(got, theirs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), "{what}: the number's calls");
                if !kind.is_empty() {
                    seen[4] += theirs.len();
                }

                // The worklist: every missed call not returned, newest first, a page at a time.
                let mut listed = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let page = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
                    let (status, body) = host.get(&format!("/api/analytics/missed?{params}{}&limit=40{page}", filter.query()), Some(DEMO_TOKEN)).await;
                    assert_eq!(status, StatusCode::OK, "{what}: {body}");
                    assert_eq!(body["notReturned"], stats["missedCalls"]["notReturned"], "{what}");
                    listed.extend(body["calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()));
                    match body["nextCursor"].as_str() {
                        Some(next) => cursor = Some(next.to_string()),
                        None => break,
                    }
                }
                let mut want: Vec<&&CallLog> = selected.iter().filter(|c| missed(c) && !returned(c, &calls)).collect();
                want.sort_by_key(|c| std::cmp::Reverse((c.call_started_at, c.id.to_string())));
                assert_eq!(listed, want.iter().map(|c| c.id.to_string()).collect::<Vec<_>>(), "{what}: the worklist");
                if agent.is_none() && kind.is_empty() {
                    seen[0] += want.len();
                    seen[1] += selected.iter().filter(|c| missed(c) && returned(c, &calls)).count();
                    seen[2] += hourly["inHours"]["calls"].as_i64().unwrap() as usize;
                    seen[3] += hourly["afterHours"]["calls"].as_i64().unwrap() as usize;
                }
            }
        }
    }
    assert!(seen.iter().all(|n| *n > 5), "{seen:?}");
    let report = store.verify_rollups().await.unwrap();
    assert!(report.is_clean(), "{:?}", &report.drift[..report.drift.len().min(3)]);
}

#[tokio::test]
async fn a_missed_call_is_called_back_through_every_rule_and_leaves_the_worklist_once_it_connects() {
    let host = TestHost::start(true).await;
    let store = host.host.store().clone();
    let number = callops_tests::callable(4_242);
    let started = Utc::now() - Duration::hours(2);
    let mut call = CallLog::new(
        NewCall {
            org_id: "demo".into(),
            voice_agent_id: "front-desk".into(),
            phone_number: number.clone(),
            call_type: CallType::Inbound,
            status: CallStatus::Missed,
            attempt: 0,
        },
        "missed-1".into(),
        started,
    );
    call.call_started_at = Some(time::to_millis(started));
    call.outcome = Some(CallOutcome::NoAnswer);
    store.create_call(&call).await.unwrap();
    let worklist = || async { host.get("/api/analytics/missed?limit=100", Some(DEMO_TOKEN)).await.1 };
    let listed = worklist().await;
    assert!(listed["calls"].as_array().unwrap().iter().any(|c| c["id"] == "missed-1"), "{listed}");
    let waiting = listed["notReturned"].as_i64().unwrap();
    assert_eq!(listed["calls"][0]["transcript"], Value::Null, "the worklist shows facts");

    // The worklist's "call back" is a scheduled call: without the patient's consent it is refused, with it placed.
    let ask = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (Utc::now() + Duration::minutes(2)).to_rfc3339(),
                     "voiceAgentId": "front-desk", "purpose": "Returning a missed call", "moveToCallingHours": true});
    assert_error(&host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&ask)).await, StatusCode::BAD_REQUEST, "no_consent");
    host.consent("demo", &[number.as_str()]).await;
    let (status, callback) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&ask)).await;
    assert_eq!(status, StatusCode::CREATED, "{callback}");
    assert_eq!(worklist().await["notReturned"].as_i64(), Some(waiting), "scheduling a call back returns nothing yet");

    // The call back connects: its write returns the missed call.
    let id = callback["id"].as_str().unwrap();
    let stored = store.get_call("demo", id).await.unwrap().unwrap();
    let mut connected = stored.call.clone();
    (connected.status, connected.outcome, connected.duration) = (CallStatus::Completed, Some(CallOutcome::Booked), Some(95));
    connected.call_started_at = Some(time::to_millis(Utc::now() - Duration::minutes(1)));
    store.update_call(&stored, &connected).await.unwrap();
    let after = worklist().await;
    assert!(!after["calls"].as_array().unwrap().iter().any(|c| c["id"] == "missed-1"), "{after}");
    assert_eq!(after["notReturned"].as_i64(), Some(waiting - 1));
    let (_, returned) = host.get("/api/calls/missed-1", Some(DEMO_TOKEN)).await;
    assert_eq!(returned["returnedAt"], json!(time::format(&connected.call_started_at.unwrap())));

    // A withheld caller's label is nobody's number: a connected call from one returns no other caller's missed call.
    for (id, status, ago) in [("withheld-missed", CallStatus::Missed, 50), ("withheld-answered", CallStatus::Completed, 40)] {
        let at = time::to_millis(Utc::now() - Duration::minutes(ago));
        let new = NewCall {
            org_id: "demo".into(),
            voice_agent_id: "front-desk".into(),
            phone_number: "anonymous".into(),
            call_type: CallType::Inbound,
            status,
            attempt: 0,
        };
        let mut call = CallLog::new(new, id.into(), at);
        (call.call_started_at, call.duration) = (Some(at), Some(if status == CallStatus::Missed { 0 } else { 120 }));
        store.create_call(&call).await.unwrap();
    }
    let withheld = worklist().await;
    assert!(withheld["calls"].as_array().unwrap().iter().any(|c| c["id"] == "withheld-missed"), "{withheld}");
    assert_eq!(withheld["notReturned"].as_i64(), Some(waiting), "it still waits: nobody knows who called");
    assert!(host.get("/api/calls/withheld-missed", Some(DEMO_TOKEN)).await.1["returnedAt"].is_null());
    assert!(store.verify_rollups().await.unwrap().is_clean());
}

/// Every CSV record of an export, its parts followed by their cursor.
async fn export(host: &TestHost, query: &str, token: &str) -> (Vec<csv::StringRecord>, usize) {
    let (mut text, mut parts, mut cursor) = (String::new(), 0, None::<String>);
    loop {
        let page = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let response = host.request(Method::GET, &format!("/api/calls/export?{query}{page}"), Some(token)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"calls-"));
        let next = response.headers().get("x-next-cursor").map(|v| v.to_str().unwrap().to_string());
        let part = response.text().await.unwrap();
        // What a Lambda answers is this text inside a JSON string, and at most 6 MB with its envelope.
        let weight = serde_json::to_string(&part).unwrap().len();
        assert!(weight <= 5_000_000, "a part of {weight} bytes as JSON");
        text.push_str(&part);
        parts += 1;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let records = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes()).records().map(Result::unwrap).collect();
    (records, parts)
}

#[tokio::test]
async fn an_export_holds_every_call_of_the_window_with_every_field_and_runs_no_formula() {
    let host = TestHost::start(false).await;
    create_agents(&host).await;
    let store = host.host.store().clone();
    let first = at("2024-05-06T09:00:00Z");
    let nasty = ["=HYPERLINK(\"http://x\",\"pay\")", "+1-555-0100", "-2+3", "@SUM(A1)", "\tcmd", "plain, with \"quotes\"\nand a line"];
    let mut calls = Vec::new();
    for i in 0..40 {
        let mut call = CallLog::new(
            NewCall {
                org_id: "demo".into(),
                voice_agent_id: AGENTS[i % 3].0.into(),
                phone_number: format!("+1202555{:04}", 2_000 + i),
                call_type: CallType::ALL[i % 6],
                status: CallStatus::Completed,
                attempt: 0,
            },
            format!("export-{i:02}").into(),
            first,
        );
        call.call_started_at = Some(first + Duration::minutes(17 * i as i64));
        call.summary = Some(nasty[i % nasty.len()].into());
        call.customer_name = Some(nasty[(i + 1) % nasty.len()].into());
        // Long enough that the calls with their content come in several parts.
        call.transcript = Some(format!("{}{}", nasty[i % nasty.len()], "AI: Hello. ".repeat(12_000 + i)));
        call.cost_cents = Some(i as i64);
        store.create_call(&call).await.unwrap();
        calls.push(call);
    }
    let window = "startDate=2024-05-06T10:00:00Z&endDate=2024-05-06T18:00:00Z";
    let want: Vec<&CallLog> =
        calls.iter().filter(|c| c.call_started_at.unwrap() >= at("2024-05-06T10:00:00Z") && c.call_started_at.unwrap() < at("2024-05-06T18:00:00Z")).collect();
    let (records, parts) = export(&host, window, DEMO_TOKEN).await;
    assert!(parts > 1, "the calls with their content come in parts");
    let header: Vec<&str> = records[0].iter().collect();
    assert_eq!(header, callops_domain::records::export::call_columns());
    assert_eq!(records.len() - 1, want.len(), "every call of the window once, and no header again");
    for (record, call) in records[1..].iter().zip(&want) {
        let field = |name: &str| record.get(header.iter().position(|h| *h == name).unwrap()).unwrap().to_string();
        assert_eq!(field("id"), call.id.as_str(), "oldest first");
        assert_eq!(field("costCents"), call.cost_cents.unwrap().to_string());
        assert_eq!(field("callStartedAt"), time::format(&call.call_started_at.unwrap()));
        for (name, value) in [
            ("summary", call.summary.as_deref().unwrap()),
            ("customerName", call.customer_name.as_deref().unwrap()),
            ("transcript", call.transcript.as_deref().unwrap()),
        ] {
            let runs = matches!(value.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
            assert_eq!(field(name), if runs { format!("'{value}") } else { value.to_string() }, "{name} of {}", call.id);
        }
        assert_eq!(field("phoneNumber"), format!("'{}", call.phone_number), "a number starting with + would run as a formula");
        for cell in record.iter() {
            assert!(!matches!(cell.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r')), "{cell:?} would run as a formula");
        }
    }

    // Text that escaping makes heavier (every quote is two in CSV and four in the JSON a Lambda answers in): a
    // page that would take a part past what Lambda answers waits for the next part.
    let heavy_day = at("2024-05-08T09:00:00Z");
    for i in 0..10usize {
        let new = NewCall {
            org_id: "demo".into(),
            voice_agent_id: "front-desk".into(),
            phone_number: format!("+1202555{:04}", 3_000 + i),
            call_type: CallType::Inbound,
            status: CallStatus::Completed,
            attempt: 0,
        };
        let mut call = CallLog::new(new, format!("heavy-{i:02}").into(), heavy_day);
        call.call_started_at = Some(heavy_day + Duration::minutes(i as i64));
        call.transcript = Some(if i == 0 || i >= 5 { "\"".repeat(199_000) } else { "AI: Hello. ".repeat(15_000) });
        store.create_call(&call).await.unwrap();
    }
    let heavy = "startDate=2024-05-08T00:00:00Z&endDate=2024-05-09T00:00:00Z";
    let (records, _) = export(&host, heavy, DEMO_TOKEN).await;
    let ids: Vec<&str> = records[1..].iter().map(|r| r.get(header.iter().position(|h| *h == "id").unwrap()).unwrap()).collect();
    assert_eq!(ids, (0..10).map(|i| format!("heavy-{i:02}")).collect::<Vec<_>>(), "every call once, in order");
    let first_part = host.request(Method::GET, &format!("/api/calls/export?{heavy}"), Some(DEMO_TOKEN)).send().await.unwrap().text().await.unwrap();
    let rows = csv::ReaderBuilder::new().has_headers(false).from_reader(first_part.as_bytes()).records().count();
    assert_eq!(rows, 1 + 5, "the header and the first page: the second page of five waits for the next part");

    // A viewer's export, and a list's: the facts, without content.
    for (token, query) in [(DEMO_VIEWER_TOKEN, window.to_string()), (DEMO_TOKEN, format!("{window}&content=false"))] {
        let (records, parts) = export(&host, &query, token).await;
        assert_eq!((records.len() - 1, parts), (want.len(), 1), "without transcripts it fits one part");
        let transcript = header.iter().position(|h| *h == "transcript").unwrap();
        assert!(records[1..].iter().all(|r| r.get(transcript) == Some("")));
    }

    // JSON Lines: each line the call as the API gives it; the filters apply.
    let response = host
        .request(Method::GET, &format!("/api/calls/export?{window}&format=jsonl&content=false&callType=INBOUND&agentId=front-desk"), Some(DEMO_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = response.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let inbound: Vec<&&CallLog> = want.iter().filter(|c| c.call_type == CallType::Inbound && c.voice_agent_id == "front-desk").collect();
    assert_eq!(lines.iter().map(|l| l["id"].as_str().unwrap()).collect::<Vec<_>>(), inbound.iter().map(|c| c.id.as_str()).collect::<Vec<_>>());

    for (query, code) in [
        ("format=xlsx", "invalid_format"),
        ("cursor=forged", "invalid_cursor"),
        ("direction=sideways", "invalid_direction"),
        ("callType=FAX", "invalid_call_type"),
    ] {
        assert_error(&host.get(&format!("/api/calls/export?{window}&{query}"), Some(DEMO_TOKEN)).await, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test]
async fn bad_filters_are_refused_with_their_codes_on_every_analytics_route() {
    let host = TestHost::start(true).await;
    for route in [
        "/api/analytics/calls",
        "/api/analytics/calls/outcomes",
        "/api/analytics/calls/daily",
        "/api/analytics/costs",
        "/api/analytics/quality",
        "/api/analytics/agents",
        "/api/analytics/calls/hourly",
        "/api/analytics/missed",
        "/api/analytics/calls/recent",
        "/api/calls/export",
    ] {
        for (query, code) in [("direction=sideways", "invalid_direction"), ("callType=FAX", "invalid_call_type"), ("callType=", "")] {
            let response = host.get(&format!("{route}?{query}"), Some(DEMO_TOKEN)).await;
            match code {
                "" => assert_eq!(response.0, StatusCode::OK, "{route}?{query}: an empty value is no filter"),
                code => assert_error(&response, StatusCode::BAD_REQUEST, code),
            }
        }
        assert_error(&host.get(&format!("{route}?agentId=ghost"), Some(DEMO_TOKEN)).await, StatusCode::NOT_FOUND, "not_found");
    }
    // A call type and a direction that exclude each other count nothing.
    let (status, none) = host.get("/api/analytics/calls?direction=inbound&callType=OUTBOUND_DEBT", Some(DEMO_TOKEN)).await;
    assert_eq!((status, none["totalCalls"].as_i64()), (StatusCode::OK, Some(0)));
}
