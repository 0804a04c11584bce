//! Properties of what reads outside data: for any input, no panic, and
//! either a value within its bounds or a refusal with a code. Phone
//! numbers, calling hours.

use proptest::prelude::*;

use crate::{error::DomainError, phone};

/// Text that looks like a phone number often, and like anything else sometimes.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof!["[+]?[0-9 ().-]{0,40}", "[+]?1?[2-9][0-9]{2}[2-9][0-9]{6}", "\\PC{0,60}", "[0-9]{10,400}",]
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
    fn calling_hours_from_any_text_parse_or_are_refused(start in "\\PC{0,6}|[0-9]{2}:[0-9]{2}", end in "\\PC{0,6}|[0-9]{2}:[0-9]{2}", at in any::<i64>()) {
        let json = serde_json::json!({"start": start, "end": end});
        if let Ok(hours) = serde_json::from_value::<crate::agent::CallingHours>(json) {
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
        let new = crate::call::NewCall { org_id: "o".into(), voice_agent_id: "a".into(), phone_number: format!("+1212555{:04}", n % 10_000), call_type: crate::call::CallType::Inbound, status: crate::call::CallStatus::Completed, attempt: n % 4 };
        crate::call::CallLog::new(new, format!("c{n}").into(), chrono::Utc::now())
    })) {
        let back: crate::call::CallLog = serde_json::from_value(serde_json::to_value(&call).unwrap()).unwrap();
        prop_assert_eq!(back, call);
    }
}
