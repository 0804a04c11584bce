//! Properties of what reads outside data: for any input, no panic, and
//! either a value within its bounds or a refusal with a code. Phone
//! numbers, legacy rows, calling hours.

use chrono::NaiveDateTime;
use proptest::prelude::*;

use crate::{
    DomainError,
    legacy::{LegacyRow, map_row},
    phone,
};

/// Text that looks like a phone number often, and like anything else sometimes.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof!["[+]?[0-9 ().-]{0,40}", "[+]?1?[2-9][0-9]{2}[2-9][0-9]{6}", "\\PC{0,60}", "[0-9]{10,400}",]
}

fn naive_time() -> impl Strategy<Value = NaiveDateTime> {
    prop_oneof![
        (946_684_800i64..4_102_444_800i64).prop_map(|s| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default().naive_utc()),
        any::<i64>().prop_map(|ms| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().naive_utc()),
        Just(NaiveDateTime::MAX),
        Just(NaiveDateTime::MIN),
    ]
}

fn legacy_row() -> impl Strategy<Value = LegacyRow> {
    let text = || prop::option::of(prop_oneof!["\\PC{0,40}", (1usize..30_000).prop_map(|n| "é".repeat(n))]);
    let number = || prop::option::of(prop_oneof![any::<i32>(), 0i32..1000]);
    (
        ("\\PC{0,250}", "[a-z_-]{1,70}|\\PC{0,10}", number_text(), prop::option::of("\\PC{0,12}"), prop::option::of("[a-z_-]{0,12}|\\PC{0,12}")),
        (
            number(),
            prop::option::of(naive_time()),
            prop::option::of(naive_time()),
            text(),
            text(),
            prop::option::of("\\PC{0,80}|https://[a-z]{1,10}\\.example/[a-z]{0,10}"),
        ),
        (naive_time(), naive_time(), number(), number(), number(), prop::option::of(any::<f64>()), prop::option::of(0.0f64..1.0), prop::option::of(-3i32..10)),
        (
            prop::option::of("\\PC{0,250}"),
            prop::option::of("\\PC{0,250}"),
            prop::option::of("[A-Z_]{0,20}|\\PC{0,10}"),
            prop::option::of("[A-Z_]{0,20}|\\PC{0,10}"),
        ),
    )
        .prop_map(|(ids, content, numbers, rest)| {
            let (id, voice_agent_id, phone_number, direction, status) = ids;
            let (duration, call_started_at, call_ended_at, transcript, summary, recording_url) = content;
            let (created_at, updated_at, payment_plan_amount, collection_amount, cost_cents, ai_confidence, good_confidence, call_quality) = numbers;
            let (vapi_call_id, campaign_id, outcome, call_type) = rest;
            LegacyRow {
                id,
                voice_agent_id,
                phone_number,
                direction,
                status,
                duration,
                call_started_at,
                call_ended_at,
                transcript,
                summary,
                recording_url,
                created_at,
                updated_at,
                payment_plan_amount,
                collection_amount,
                cost_cents,
                ai_confidence: ai_confidence.or(good_confidence),
                call_quality,
                vapi_call_id,
                campaign_id,
                outcome,
                call_type,
                ..LegacyRow::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_number_text_normalises_to_e164_or_is_refused_with_a_code(text in number_text()) {
        match phone::normalize(&text) {
            Ok(number) => {
                prop_assert!(number.starts_with('+') && (3..=16).contains(&number.len()), "{number}");
                prop_assert!(number[1..].bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(phone::normalize(&number).ok(), Some(number.clone()), "normalising is idempotent");
                prop_assert_eq!(phone::do_not_call_key(&text), Some(number.into_string()));
            }
            Err(err) => {
                let refused = matches!(err, DomainError::Invalid { code: "invalid_phone_number", .. });
                prop_assert!(refused, "{:?}", err);
            }
        }
        if let Some(key) = phone::do_not_call_key(&text) {
            prop_assert!(key.starts_with('+') && (2..=16).contains(&key.len()) && key[1..].bytes().all(|b| b.is_ascii_digit()), "{key}");
            prop_assert_eq!(phone::do_not_call_key(&key), Some(key.clone()), "a key is its own key");
        }
        let masked = phone::mask_numbers_in(&text);
        prop_assert!(masked.chars().count() <= text.chars().count() + 8);
    }

    #[test]
    fn a_legacy_row_maps_to_a_call_the_store_can_keep_or_is_refused_with_a_reason(row in legacy_row()) {
        match map_row(&row, "acme") {
            Ok(mapped) => prop_assert!(mapped.call.check_storable().is_ok(), "{:?}", mapped.call.check_storable()),
            Err(refusal) => prop_assert!(!refusal.reason.is_empty() && refusal.id == row.id),
        }
    }

    #[test]
    fn calling_hours_from_any_text_parse_or_are_refused(start in "\\PC{0,6}|[0-9]{2}:[0-9]{2}", end in "\\PC{0,6}|[0-9]{2}:[0-9]{2}", at in any::<i64>()) {
        let json = serde_json::json!({"start": start, "end": end});
        if let Ok(hours) = serde_json::from_value::<crate::CallingHours>(json) {
            prop_assert!(hours.start < hours.end && hours.end <= 24 * 60);
            let at = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
            let zone: chrono_tz::Tz = "Pacific/Apia".parse().unwrap();
            if let Some(next) = hours.next_allowed(at, zone) {
                prop_assert!(next >= at && hours.allows(next, zone));
            }
        }
    }

    #[test]
    fn a_call_read_back_from_json_is_the_call(call in any::<u32>().prop_map(|n| {
        let new = crate::NewCall { org_id: "o".into(), voice_agent_id: "a".into(), phone_number: format!("+1212555{:04}", n % 10_000), call_type: crate::CallType::Inbound, status: crate::CallStatus::Completed, attempt: n % 4 };
        crate::CallLog::new(new, (format!("c{n}")).into(), chrono::Utc::now())
    })) {
        let back: crate::CallLog = serde_json::from_value(serde_json::to_value(&call).unwrap()).unwrap();
        prop_assert_eq!(back, call);
    }
}
