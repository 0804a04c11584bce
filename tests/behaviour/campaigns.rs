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
