//! Properties of what reads Vapi's payloads: for any message, no panic,
//! every value within its bounds, and a call the store can keep after it.

use callops_domain::{
    CallLog, CallStatus, CallType, NewCall,
    ending::apply::{apply_end_of_call_report, apply_status_update},
    limits, time,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{
    message::{lenient_time, parse_server_message},
    structured_data::read_structured_data,
};

/// The values Vapi's fields take, and the worst ones.
fn field() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![Just(1e300), Just(1.722115418016999e12), Just(1722115418.017), Just(-1.0), Just(9.3e18), Just(1e16)].prop_map(Value::from),
        "[+-]?[0-9]{1,20}(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?".prop_map(Value::from),
        "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})".prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        (1usize..12_000).prop_map(|n| Value::from("é".repeat(n))),
        Just(json!({"nested": [1, 2, {"deeper": null}]})),
    ]
}

/// A server message with any of its fields set to any of those values.
fn message_json() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("timestamp"),
        Just("startedAt"),
        Just("endedAt"),
        Just("cost"),
        Just("durationSeconds"),
        Just("durationMs"),
        Just("endedReason"),
        Just("status"),
        Just("summary"),
        Just("transcript"),
        Just("recordingUrl"),
        Just("customer"),
        Just("call"),
        Just("artifact"),
        Just("analysis"),
        Just("phoneNumber"),
        Just("assistant"),
    ];
    (
        prop_oneof![Just("end-of-call-report"), Just("status-update"), Just("speech-update")],
        prop::collection::vec((names, field()), 0..14),
        prop::collection::vec((prop_oneof![Just("outcome"), Just("paymentPlanAmountDollars"), Just("collectionAmountCents"), Just("followUpDate"), Just("aiConfidence"), Just("callQuality"), Just("insuranceProvider"), Just("notes")], field()), 0..8),
        field(),
        field(),
    )
        .prop_map(|(kind, fields, data, call_id, metadata_id)| {
            let mut message = json!({"type": kind});
            for (name, value) in fields {
                message[name] = value;
            }
            message["call"] = json!({"id": call_id, "assistantOverrides": {"metadata": {"orgId": "o", "callId": metadata_id, "attempt": 1}}});
            message["analysis"] = json!({"summary": message["summary"].clone(), "structuredData": data.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<serde_json::Map<_, _>>()});
            json!({"message": message})
        })
}

/// JSON of any shape, a few levels deep, with hostile numbers and strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![Just(1e300), Just(-1e300), Just(1e-300), Just(f64::MAX), Just(9.9e15)].prop_map(Value::from),
        "\\PC{0,30}".prop_map(Value::from),
        "[-+$,0-9.eE]{0,20}".prop_map(Value::from),
        "[0-9]{4,6}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 40, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("outcome".to_string()),
                    Just("paymentPlanAmountDollars".to_string()),
                    Just("collectionAmountCents".to_string()),
                    Just("followUpDate".to_string()),
                    Just("callQuality".to_string()),
                    Just("aiConfidence".to_string()),
                    Just("insuranceProvider".to_string()),
                    Just("doNotCallRequested".to_string()),
                    "[a-zA-Z_]{1,20}",
                ],
                inner,
                0..8
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_vapi_time_is_a_supported_time_or_none(value in field()) {
        match lenient_time(&value) {
            Ok(Some(at)) => prop_assert!(time::is_supported(&at) && time::to_millis(at) == at),
            Ok(None) => {}
            Err(at) => prop_assert!(!time::is_supported(&at)),
        }
    }

    #[test]
    fn any_message_parses_within_bounds_and_leaves_a_call_the_store_can_keep(body in message_json(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert!(parse_server_message(&raw).is_ok() || parse_server_message(&raw).is_err(), "bytes never panic");
        let message = parse_server_message(body.to_string().as_bytes()).unwrap();
        // A message of another kind reports nothing: only its parse is in question.
        let Some(report) = message.report.clone() else { return Ok(()) };
        prop_assert!(report.cost_cents.is_none_or(|c| (0..=limits::MAX_COST_CENTS).contains(&c)));
        prop_assert!(report.duration_seconds.is_none_or(|d| d <= limits::MAX_DURATION_SECONDS));
        prop_assert!(report.vapi_call_id.as_deref().is_none_or(limits::is_key_safe));
        let new = NewCall { org_id: "o".into(), voice_agent_id: "a".into(), phone_number: "+12125550142".into(), call_type: CallType::OutboundLead, status: CallStatus::Dialing, attempt: 1 };
        let call = CallLog::new(new, "c".into(), time::parse("2024-07-27T21:00:00Z").unwrap());
        let now = time::parse("2024-07-28T00:00:00Z").unwrap();
        let mut current = call.clone();
        // A report, then the same message again as a late one, then a status update.
        for _ in 0..2 {
            if let Some(next) = apply_end_of_call_report(&current, &report, now) {
                prop_assert!(next.check_storable().is_ok(), "{:?}", next.check_storable());
                current = next;
            }
        }
        if let Some(next) = apply_status_update(&call, &report, now) {
            prop_assert!(next.check_storable().is_ok(), "{:?}", next.check_storable());
        }
    }

    #[test]
    fn structured_data_of_any_shape_reads_within_bounds(data in json_value()) {
        let analysis = read_structured_data(&data);
        for amount in [analysis.payment_plan_amount_cents, analysis.collection_amount_cents].into_iter().flatten() {
            prop_assert!((0..=limits::MAX_AMOUNT_CENTS).contains(&amount));
        }
        prop_assert!(analysis.call_quality.is_none_or(|q| (1..=5).contains(&q)));
        prop_assert!(analysis.ai_confidence.is_none_or(|c| (0.0..=1.0).contains(&c)));
        prop_assert!(analysis.follow_up_date.is_none_or(|d| time::is_supported(&d)));
    }
}
