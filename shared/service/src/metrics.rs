//! Call cost as a CloudWatch metric, in Embedded Metric Format: one JSON line
//! on standard output per call whose cost a report set, which CloudWatch Logs
//! turns into the metric `CallOps/CallCostCents`, per tenant and call type
//! and in total (the template's daily cost alarm watches the total).

use callops_domain::CallLog;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub const NAMESPACE: &str = "CallOps";
pub const COST_METRIC: &str = "CallCostCents";

/// The EMF record for a call's cost, or `None` when it has no cost.
pub fn cost_record(call: &CallLog, at: DateTime<Utc>) -> Option<Value> {
    let cents = call.cost_cents?;
    Some(json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["OrgId", "CallType"], []],
                "Metrics": [{ "Name": COST_METRIC, "Unit": "Count" }],
            }],
        },
        "OrgId": call.org_id,
        "CallType": call.call_type.as_str(),
        COST_METRIC: cents,
        "callId": call.id,
    }))
}

/// Claims that found the practice's outbound room full (its Vapi concurrency less the inbound reserve) and waited.
pub const RESERVED_METRIC: &str = "ConcurrencyReserved";

/// The EMF record of one claim that waited for the inbound reserve.
pub fn concurrency_reserved_record(org_id: &str, at: DateTime<Utc>) -> Value {
    json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [["OrgId"], []], "Metrics": [{ "Name": RESERVED_METRIC, "Unit": "Count" }] }],
        },
        "OrgId": org_id,
        RESERVED_METRIC: 1,
    })
}

/// Counts a claim that waited so patients calling in find a free line.
pub fn emit_concurrency_reserved(org_id: &str, at: DateTime<Utc>) {
    println!("{}", concurrency_reserved_record(org_id, at));
}

/// Writes the record where the Lambda runtime sends it to CloudWatch Logs.
pub fn emit_cost(call: &CallLog, at: DateTime<Utc>) {
    if let Some(record) = cost_record(call, at) {
        println!("{record}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callops_domain::{CallStatus, CallType, NewCall};

    #[test]
    fn a_cost_becomes_an_emf_record_with_tenant_and_type() {
        let now = Utc::now();
        let mut call = CallLog::new(
            NewCall {
                org_id: "demo".into(),
                voice_agent_id: "a".into(),
                phone_number: "+15550100".into(),
                call_type: CallType::OutboundDebt,
                status: CallStatus::Completed,
                attempt: 1,
            },
            "c1".into(),
            now,
        );
        assert!(cost_record(&call, now).is_none());
        call.cost_cents = Some(42);
        let record = cost_record(&call, now).unwrap();
        assert_eq!(record["CallCostCents"], 42);
        assert_eq!(record["OrgId"], "demo");
        assert_eq!(record["CallType"], "OUTBOUND_DEBT");
        let metric = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Namespace"], "CallOps");
        assert_eq!(metric["Metrics"][0]["Name"], "CallCostCents");
        assert_eq!(metric["Dimensions"][0], json!(["OrgId", "CallType"]));
        // Every dimension named must be a member of the record.
        for name in metric["Dimensions"][0].as_array().unwrap() {
            assert!(record.get(name.as_str().unwrap()).is_some());
        }
    }
}
