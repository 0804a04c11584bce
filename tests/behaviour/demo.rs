//! The demo keeps the product's own rules: US patients, each outbound call
//! inside its callee's calling hours on every clock the number may be on
//! (the zones from libphonenumber's data), on a recorded consent and with
//! its compliance record; agents with business hours; the calls to watch
//! scheduled once, however often the host starts.

use callops_domain::{CallLog, CallStatus, placement::callee::zones_of_number, time};
use callops_tests::{DEMO_TOKEN, TestHost};
use chrono::{Duration, Timelike, Utc};

#[tokio::test]
async fn the_demos_outbound_calls_keep_every_rule_the_product_keeps() {
    let host = TestHost::start(true).await;
    let now = Utc::now();
    let (start, end) = (time::format(&(now - Duration::days(40))), time::format(&(now + Duration::days(2))));
    let path = format!("/api/calls/export?format=jsonl&startDate={}&endDate={}", start.replace('+', "%2B"), end.replace('+', "%2B"));
    let export = host.request(reqwest::Method::GET, &path, Some(DEMO_TOKEN)).send().await.unwrap().text().await.unwrap();
    let calls: Vec<CallLog> = export.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(calls.len() > callops::demo::DEMO_CALLS * 9 / 10, "the demo's calls of the window (a few dials never started): {}", calls.len());

    let (open, close) = callops::demo::DEMO_HOURS;
    let mut placed = 0;
    for call in calls.iter().filter(|c| c.call_type.is_outbound()) {
        let Some(at) = call.call_started_at.or(call.scheduled_at) else { continue };
        let zones = zones_of_number(&call.phone_number);
        assert!(call.phone_number.starts_with("+1") && !zones.is_empty(), "a US patient: {}", call.phone_number);
        for zone in &zones {
            assert!(zone.name().starts_with("America/") || zone.name().starts_with("Pacific/"), "{}: {zone}", call.phone_number);
            let local = at.with_timezone(zone);
            let minute = (local.hour() * 60 + local.minute()) as u16;
            // The practice's hours lie inside the law's (08:00 to 21:00, 20:00 in the strictest states).
            assert!((open..close).contains(&minute), "{} to {} at {} on the callee's clock ({zone})", call.call_type, call.phone_number, local);
        }
        if call.call_started_at.is_some() {
            placed += 1;
            let record = call.compliance.as_ref().unwrap_or_else(|| panic!("a placed demo call keeps why it was placed: {}", call.id));
            assert!(record.rules.iter().all(|r| r.ok), "{}: {:?}", call.id, record.rules);
            assert!(record.consent.is_some(), "it rested on a consent: {}", call.id);
            if let Some(transcript) = &call.transcript {
                assert!(transcript.starts_with("AI: Hi "), "an outbound call greets as a caller, not as the practice answering: {transcript}");
            }
        }
    }
    assert!(placed > 50, "the demo has outbound history: {placed}");

    // Business hours, so the split means something: some patients call in after them.
    let window = format!("startDate={}&endDate={}", start.replace('+', "%2B"), time::format(&now).replace('+', "%2B"));
    let (_, hourly) = host.get(&format!("/api/analytics/calls/hourly?{window}"), Some(DEMO_TOKEN)).await;
    assert!(hourly["afterHours"]["calls"].as_u64().unwrap() > 0, "{}", hourly["afterHours"]);
    assert!(hourly["inHours"]["calls"].as_u64().unwrap() > hourly["afterHours"]["calls"].as_u64().unwrap());

    // The calls to watch: scheduled once, inside their callees' hours; a second start schedules nothing more.
    let first = callops::demo::schedule_upcoming(&host.host.calls(), now).await.unwrap();
    assert!(!first.is_empty() && first.iter().all(|(_, new)| *new), "{first:?}");
    for (call, _) in &first {
        assert_eq!(call.status, CallStatus::Scheduled);
        let at = call.scheduled_at.unwrap();
        for zone in zones_of_number(&call.phone_number) {
            let local = at.with_timezone(&zone);
            assert!((open..close).contains(&((local.hour() * 60 + local.minute()) as u16)), "{} at {local}", call.phone_number);
        }
    }
    let again = callops::demo::schedule_upcoming(&host.host.calls(), now + Duration::minutes(5)).await.unwrap();
    assert!(again.iter().all(|(_, new)| !new), "{again:?}");
    let ids = |calls: &[(CallLog, bool)]| calls.iter().map(|(c, _)| c.id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
}
