//! Answers that stay inside Lambda's limits at the worst content there is:
//! every list, record and export of a hundred calls at the transcript's
//! bound comes in parts, each under 5 MB as Lambda's JSON. (Its own file,
//! so the suite starts this long test early.)

use callops_aws::store::CallStore;
use callops_tests::{DEMO_STAFF_TOKEN, DEMO_TOKEN, TestHost};
use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::records::ended_call;

/// Follows `first`'s `nextCursor` (or its `X-Next-Cursor` header) to the
/// end: every answer on the way is read through [`callops_tests::read`],
/// which fails on one over 5 MB as Lambda's JSON. The ids of the calls
/// of every part, and how many parts.
async fn every_part(host: &TestHost, token: &str, path: &str, calls_of: impl Fn(&Value) -> Vec<String>) -> (Vec<String>, usize) {
    let (mut ids, mut parts, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = cursor.as_ref().map_or(path.to_string(), |c| format!("{path}{sep}cursor={c}"));
        let (status, body, headers) = callops_tests::read(host.request(Method::GET, &url, Some(token))).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        parts += 1;
        ids.extend(calls_of(&body));
        cursor = body["nextCursor"].as_str().map(str::to_string).or_else(|| headers.get("x-next-cursor").map(|v| v.to_str().unwrap().to_string()));
        if cursor.is_none() {
            return (ids, parts);
        }
        assert!(parts < 200, "the cursor goes on");
    }
}

#[tokio::test]
async fn no_answer_outgrows_lambda_with_a_hundred_calls_at_the_transcript_bound() {
    let host = TestHost::start(true).await;
    let store = host.host.store();
    let number = "+12125550999";
    // The worst text there is: every byte a control character, which JSON escapes to six bytes and Lambda's envelope to seven.
    let transcript = "\u{1}".repeat(callops_domain::call::MAX_TRANSCRIPT_BYTES);
    let mut ours = Vec::new();
    for i in 0..100 {
        let id = format!("heavy-{i:03}");
        let mut call = ended_call(&id, number, Utc::now() - Duration::minutes(200 - i), &transcript);
        call.summary = Some("\"".repeat(callops_domain::limits::MAX_SUMMARY_BYTES));
        store.create_call(&call).await.unwrap();
        ours.push(id);
    }
    let ids_in = |list: &'static str| {
        move |body: &Value| -> Vec<String> {
            body[list].as_array().map(|calls| calls.iter().filter_map(|c| c["id"].as_str().map(str::to_string)).collect()).unwrap_or_default()
        }
    };
    let mine = |ids: Vec<String>| {
        let mut ids: Vec<String> = ids.into_iter().filter(|id| id.starts_with("heavy-")).collect();
        ids.sort();
        ids
    };

    let (recent, parts) = every_part(&host, DEMO_STAFF_TOKEN, "/api/analytics/calls/recent?limit=100", ids_in("calls")).await;
    assert_eq!(mine(recent), ours, "recent calls: every one, across {parts} pages");
    assert!(parts >= 25, "a page closes by size before it passes 5 MB: {parts} pages");

    let patient = "/api/patients/%2B12125550999";
    let (records, parts) = every_part(&host, DEMO_TOKEN, &format!("{patient}?limit=100"), ids_in("calls")).await;
    assert_eq!(mine(records), ours, "a patient's records, across {parts} pages");
    let (export, parts) = every_part(&host, DEMO_TOKEN, &format!("{patient}/export?format=json"), ids_in("calls")).await;
    assert_eq!(mine(export), ours, "a patient's export, in {parts} parts");
    let window = format!("startDate={}&endDate={}", (Utc::now() - Duration::days(1)).format("%Y-%m-%d"), (Utc::now() + Duration::days(1)).format("%Y-%m-%d"));
    let lines = |body: &Value| -> Vec<String> {
        let text = body.as_str().map(str::to_string).unwrap_or_else(|| body.to_string());
        text.lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).filter_map(|call| call["id"].as_str().map(str::to_string)).collect()
    };
    let (exported, parts) = every_part(&host, DEMO_STAFF_TOKEN, &format!("/api/calls/export?{window}&format=jsonl"), lines).await;
    assert_eq!(mine(exported), ours, "the calls export, in {parts} parts");
    let (status, one) = host.get("/api/calls/heavy-050", Some(DEMO_STAFF_TOKEN)).await;
    assert_eq!((status, one["transcript"].as_str().map(str::len)), (StatusCode::OK, Some(callops_domain::call::MAX_TRANSCRIPT_BYTES)));
}
