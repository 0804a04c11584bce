//! The assistant's `analysis.structuredData`, read into the analytics
//! fields of a [`CallAnalysis`], and the tool calls that book an appointment.
//!
//! Structured data is written by an LLM, so it is read leniently:
//! numbers may come as strings (`"12.50"`, `"$1,200"`), booleans as `"yes"`,
//! enum values in any case, and money carries its unit in the field name
//! (`...Cents` or `...Dollars`). The schema the assistant should produce is
//! `functions/webhook/structured-data.schema.json` (as `analysisPlan`) or
//! `functions/webhook/structured-output.json` (as a structured output).

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use callops_domain::{
    agent::Day,
    ending::report::{CallAnalysis, NamedOutput},
    limits,
    placement::clock::{InconvenientTime, MAX_INCONVENIENT_TIMES},
    time,
};

/// Looks a field up by name, ignoring case, `_` and `-`.
fn field<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let wanted: String = name.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    data.iter()
        .find(|(key, _)| key.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase() == wanted)
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

pub fn lenient_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|n| n != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Some(true),
            "false" | "no" | "n" | "0" | "none" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A number from a number or a string like `"1,200.50"` or `"$12"`.
pub fn lenient_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let cleaned: String = s.trim().chars().filter(|c| !matches!(c, '$' | ',' | ' ' | '_')).collect();
            cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
        }
        _ => None,
    }
}

fn lenient_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Money in cents from `<name>Cents` or `<name>Dollars`, from 0 to
/// [`limits::MAX_AMOUNT_CENTS`]; `Err` for an amount outside that.
fn cents(data: &Map<String, Value>, name: &str) -> Result<Option<i64>, ()> {
    let from_cents = field(data, &format!("{name}Cents")).and_then(lenient_number).map(|c| c.round());
    let from_dollars = || field(data, &format!("{name}Dollars")).and_then(lenient_number).map(|d| (d * 100.0).round());
    match from_cents.or_else(from_dollars) {
        None => Ok(None),
        Some(c) if (0.0..=limits::MAX_AMOUNT_CENTS as f64).contains(&c) => Ok(Some(c as i64)),
        Some(_) => Err(()),
    }
}

/// A date (`YYYY-MM-DD`, the start of that day) or an RFC 3339 time, in the
/// supported range; `Err` for a readable one outside it.
fn lenient_date(value: &Value) -> Result<Option<DateTime<Utc>>, ()> {
    let Some(text) = value.as_str().map(str::trim) else { return Ok(None) };
    let parsed = time::parse(text).or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()));
    match parsed {
        None => Ok(None),
        Some(at) => time::supported(at).map(Some).ok_or(()),
    }
}

/// A value read, or `None` with its field named among the ignored.
fn keep<T>(ignored: &mut Vec<&'static str>, name: &'static str, value: Result<Option<T>, ()>) -> Option<T> {
    value.unwrap_or_else(|()| {
        ignored.push(name);
        None
    })
}

/// The name of the structured output CallOps reads when an agent names
/// none (`POST /structured-output` with
/// `functions/webhook/structured-output.json` creates it): its `result`
/// follows the same schema as the structured data.
pub const CALLOPS_OUTPUT: &str = callops_domain::agent::DEFAULT_OUTPUT_NAME;

/// The most structured outputs of one report that are read.
pub const MAX_OUTPUTS: usize = 32;

/// Every structured output among a report's `structuredOutputs`
/// (`{<id>: {name, result}}`) with a name and a result, the result read as
/// CallOps's schema (a result written as a JSON string is read as the JSON
/// it holds); at most [`MAX_OUTPUTS`] of them.
pub fn named_outputs(outputs: &Value) -> Vec<NamedOutput> {
    let Some(outputs) = outputs.as_object() else { return Vec::new() };
    outputs
        .values()
        .filter_map(|output| {
            let name = output.get("name")?.as_str()?.trim();
            let result = match output.get("result")? {
                Value::String(text) => serde_json::from_str(text).ok()?,
                other => other.clone(),
            };
            (!name.is_empty() && name.len() <= 200).then(|| NamedOutput { name: name.to_string(), analysis: read_structured_data(&result) })
        })
        .take(MAX_OUTPUTS)
        .collect()
}

/// Reads the assistant's structured data.
pub fn read_structured_data(data: &Value) -> CallAnalysis {
    let Some(data) = data.as_object() else { return CallAnalysis::default() };
    let boolean = |name: &str| field(data, name).and_then(lenient_bool);
    let text = |name: &str| field(data, name).and_then(lenient_text);
    let mut ignored = Vec::new();
    let payment_plan_amount_cents = keep(&mut ignored, "paymentPlanAmount", cents(data, "paymentPlanAmount"));
    let collection_amount_cents = keep(&mut ignored, "collectionAmount", cents(data, "collectionAmount"));
    let follow_up_date = keep(&mut ignored, "followUpDate", field(data, "followUpDate").map_or(Ok(None), lenient_date));
    CallAnalysis {
        outcome: text("outcome").and_then(|o| o.replace([' ', '-'], "_").parse().ok()),
        appointment_booked: boolean("appointmentBooked"),
        insurance_verified: boolean("insuranceVerified"),
        insurance_provider: text("insuranceProvider"),
        payment_plan_discussed: boolean("paymentPlanDiscussed"),
        payment_plan_amount_cents,
        collection_attempted: boolean("collectionAttempted").or_else(|| boolean("collectionAttempt")),
        collection_amount_cents,
        collection_successful: boolean("collectionSuccessful").or_else(|| boolean("collectionSuccess")),
        transferred_to: text("transferredTo"),
        customer_sentiment: text("customerSentiment")
            .or_else(|| text("sentiment"))
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| matches!(s.as_str(), "positive" | "neutral" | "negative")),
        call_quality: field(data, "callQuality").and_then(lenient_number).map(f64::round).filter(|q| (1.0..=5.0).contains(q)).map(|q| q as u8),
        ai_confidence: field(data, "aiConfidence").or_else(|| field(data, "confidence")).and_then(lenient_number).filter(|c| (0.0..=1.0).contains(c)),
        follow_up_required: boolean("followUpRequired").or_else(|| boolean("followUpNeeded")),
        follow_up_date,
        notes: text("notes"),
        do_not_call_requested: boolean("doNotCallRequested"),
        inconvenient_times: field(data, "inconvenientTimes").and_then(inconvenient_times),
        ignored,
    }
}

/// `inconvenientTimes`: a list of `{days?, start, end}`; entries that do not
/// read as a window are left out, and at most [`MAX_INCONVENIENT_TIMES`] kept.
fn inconvenient_times(value: &Value) -> Option<Vec<InconvenientTime>> {
    let times: Vec<InconvenientTime> = value
        .as_array()?
        .iter()
        .filter_map(|entry| {
            let clock = |name: &str| entry.get(name).and_then(Value::as_str).and_then(callops_domain::agent::parse_clock);
            let days = match entry.get("days") {
                Some(Value::Array(days)) => days.iter().filter_map(|d| d.as_str().and_then(|d| Day::try_from(d.to_string()).ok())).collect(),
                _ => Vec::new(),
            };
            InconvenientTime::new(days, clock("start")?, clock("end")?).ok()
        })
        .take(MAX_INCONVENIENT_TIMES)
        .collect();
    (!times.is_empty()).then_some(times)
}

/// Whether the call's tool calls show an appointment booked: a tool whose
/// name speaks of booking or scheduling an appointment (not of checking,
/// cancelling or availability), called during the call.
pub fn booked_by_tool_call<'a>(tool_names: impl IntoIterator<Item = &'a str>) -> bool {
    tool_names.into_iter().any(|name| {
        let name = name.to_ascii_lowercase();
        (name.contains("book") || name.contains("schedule") || name.contains("appointment"))
            && !name.contains("cancel")
            && !name.contains("check")
            && !name.contains("availab")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callops_domain::CallOutcome;
    use serde_json::json;

    #[test]
    fn the_shipped_structured_output_is_the_structured_data_schema_under_the_name_callops_reads() {
        let schema: Value = serde_json::from_str(include_str!("../../../functions/webhook/structured-data.schema.json")).unwrap();
        let output: Value = serde_json::from_str(include_str!("../../../functions/webhook/structured-output.json")).unwrap();
        assert_eq!(output["name"], json!(CALLOPS_OUTPUT));
        assert!((1..=40).contains(&CALLOPS_OUTPUT.len()), "Vapi takes names of 1 to 40 characters");
        for key in ["type", "properties"] {
            assert_eq!(output["schema"][key], schema[key], "{key} differs from structured-data.schema.json");
        }
    }

    #[test]
    fn structured_data_is_read_leniently() {
        let analysis = read_structured_data(&json!({
            "outcome": "payment plan",
            "insurance_verified": "yes",
            "insuranceProvider": " Delta Dental ",
            "paymentPlanDiscussed": true,
            "paymentPlanAmountDollars": "$1,200.50",
            "collectionAttempted": 1,
            "collectionAmountCents": "4500",
            "collectionSuccessful": "false",
            "customerSentiment": "Positive",
            "callQuality": "4",
            "aiConfidence": "0.92",
            "followUpRequired": "true",
            "followUpDate": "2024-03-01",
            "notes": "Asked about whitening.",
            "doNotCallRequested": false,
        }));
        assert_eq!(analysis.outcome, Some(CallOutcome::PaymentPlan));
        assert_eq!(analysis.insurance_verified, Some(true));
        assert_eq!(analysis.insurance_provider.as_deref(), Some("Delta Dental"));
        assert_eq!(analysis.payment_plan_amount_cents, Some(120_050));
        assert_eq!(analysis.collection_attempted, Some(true));
        assert_eq!(analysis.collection_amount_cents, Some(4_500));
        assert_eq!(analysis.collection_successful, Some(false));
        assert_eq!(analysis.customer_sentiment.as_deref(), Some("positive"));
        assert_eq!(analysis.call_quality, Some(4));
        assert_eq!(analysis.ai_confidence, Some(0.92));
        assert_eq!(analysis.follow_up_date, time::parse("2024-03-01T00:00:00Z"));
        assert_eq!(analysis.do_not_call_requested, Some(false));
    }

    #[test]
    fn nonsense_is_ignored_rather_than_believed() {
        let analysis = read_structured_data(&json!({
            "outcome": "GREAT_SUCCESS",
            "callQuality": 11,
            "aiConfidence": "very",
            "customerSentiment": "ecstatic",
            "paymentPlanAmountCents": -5,
            "insuranceVerified": "maybe",
        }));
        assert_eq!(analysis, CallAnalysis { ignored: vec!["paymentPlanAmount"], ..CallAnalysis::default() }, "a negative amount is named");
        assert_eq!(read_structured_data(&json!("not an object")), CallAnalysis::default());
    }

    #[test]
    fn amounts_and_dates_out_of_bounds_are_ignored_and_named() {
        let analysis = read_structured_data(&json!({
            "paymentPlanAmountDollars": "1e300",
            "collectionAmountCents": 100_000_001,
            "followUpDate": "9999-12-31",
            "insuranceVerified": true,
        }));
        assert_eq!((analysis.payment_plan_amount_cents, analysis.collection_amount_cents, analysis.follow_up_date), (None, None, None));
        assert_eq!(analysis.ignored, vec!["paymentPlanAmount", "collectionAmount", "followUpDate"]);
        assert_eq!(analysis.insurance_verified, Some(true), "the rest is read");
        let at_bound = read_structured_data(&json!({"collectionAmountDollars": 1_000_000}));
        assert_eq!(at_bound.collection_amount_cents, Some(limits::MAX_AMOUNT_CENTS));
    }

    #[test]
    fn a_booking_tool_call_counts_as_booked() {
        assert!(booked_by_tool_call(["lookupPatient", "bookAppointment"]));
        assert!(booked_by_tool_call(["schedule_visit"]));
        assert!(!booked_by_tool_call(["checkAvailability", "cancelAppointment"]));
        assert!(!booked_by_tool_call([]));
    }
}
