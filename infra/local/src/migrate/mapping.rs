//! The legacy PostgreSQL `call_logs` row and its mapping to a [`CallLog`],
//! exactly as shared/legacy/MAPPING.md gives it: a row keeps every value it
//! has; the rules only fill what is NULL or translate legacy text (compared
//! without case and surrounding white space). What a rule had to default or
//! could not map is noted for the report; a row that cannot become a call
//! (an unparseable phone number, a negative duration, ...) is refused, with
//! its reason, and never dropped silently.

use chrono::{DateTime, NaiveDateTime, Utc};

use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, call::CallText, ids::valid_agent_id};

/// One `call_logs` row, as PostgreSQL holds it (timestamps are UTC without a zone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacyRow {
    pub id: String,
    pub voice_agent_id: String,
    pub phone_number: String,
    pub direction: Option<String>,
    pub status: Option<String>,
    pub duration: Option<i32>,
    pub call_started_at: Option<NaiveDateTime>,
    pub call_ended_at: Option<NaiveDateTime>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
    pub appointment_set: bool,
    pub created_at: NaiveDateTime,
    pub outcome: Option<String>,
    pub insurance_verified: bool,
    pub insurance_provider: Option<String>,
    pub payment_plan_discussed: bool,
    pub payment_plan_amount: Option<i32>,
    pub collection_attempt: bool,
    pub collection_amount: Option<i32>,
    pub collection_success: bool,
    pub transferred_to_staff: bool,
    pub transferred_to: Option<String>,
    pub vapi_call_id: Option<String>,
    pub call_type: Option<String>,
    pub campaign_id: Option<String>,
    pub scheduled_at: Option<NaiveDateTime>,
    pub call_purpose: Option<String>,
    pub call_notes: Option<String>,
    pub follow_up_required: bool,
    pub follow_up_date: Option<NaiveDateTime>,
    pub call_quality: Option<i32>,
    pub customer_sentiment: Option<String>,
    pub ai_confidence: Option<f64>,
    pub cost_cents: Option<i32>,
    pub updated_at: NaiveDateTime,
}

/// What the report counts about a mapped value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoteKind {
    /// A NULL or unknown value the rules filled with their default.
    Defaulted,
    /// Legacy text no rule knows.
    Unmapped,
}

/// One noted value: which column, what it held (`NULL` for none), and how it was treated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Note {
    pub kind: NoteKind,
    pub column: &'static str,
    pub value: String,
}

/// Why a row cannot become a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub call: CallLog,
    pub notes: Vec<Note>,
}

fn normal(text: &Option<String>) -> Option<String> {
    text.as_deref().map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty())
}

fn shown(text: &Option<String>) -> String {
    text.as_deref().map(|t| t.trim().to_string()).unwrap_or_else(|| "NULL".into())
}

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    callops_domain::time::to_millis(at.and_utc())
}

/// `status` by MAPPING.md; `None` when no rule knows the text.
pub fn legacy_status(status: Option<&str>) -> Option<CallStatus> {
    use CallStatus::*;
    Some(match status?.trim().to_ascii_lowercase().as_str() {
        "completed" | "complete" | "ended" | "answered" => Completed,
        "missed" | "no-answer" | "no_answer" | "busy" => Missed,
        "voicemail" => Voicemail,
        "failed" | "error" => Failed,
        "in-progress" | "in_progress" | "ringing" | "queued" | "active" => InProgress,
        "scheduled" => Scheduled,
        "cancelled" | "canceled" => Cancelled,
        _ => return None,
    })
}

/// `outcome` where the row has none: the first rule that matches.
pub fn derived_outcome(row: &LegacyRow) -> Option<CallOutcome> {
    let status = normal(&row.status);
    let status = status.as_deref();
    if row.appointment_set {
        Some(CallOutcome::Booked)
    } else if row.transferred_to_staff {
        Some(CallOutcome::Transferred)
    } else if status == Some("voicemail") {
        Some(CallOutcome::Voicemail)
    } else if matches!(status, Some("no-answer" | "no_answer" | "missed")) {
        Some(CallOutcome::NoAnswer)
    } else if status == Some("busy") {
        Some(CallOutcome::Busy)
    } else if matches!(status, Some("failed" | "error")) {
        Some(CallOutcome::Failed)
    } else if row.payment_plan_discussed {
        Some(CallOutcome::PaymentPlan)
    } else {
        None
    }
}

/// Checks what the new model cannot hold; the first problem refuses the row.
fn refusal(row: &LegacyRow) -> Option<String> {
    use callops_domain::limits::{self, MAX_AMOUNT_CENTS, MAX_COST_CENTS, MAX_DURATION_SECONDS, MAX_ID_BYTES, MAX_PHONE_TEXT_BYTES, is_key_safe};
    if !is_key_safe(&row.id) {
        return Some(format!("the id is empty, longer than {MAX_ID_BYTES} bytes, or holds '#' or control characters"));
    }
    if !valid_agent_id(&row.voice_agent_id) {
        return Some(format!("voice_agent_id {:?} is not an agent id (letters, digits, - and _)", row.voice_agent_id));
    }
    let number = row.phone_number.trim();
    if number.len() > MAX_PHONE_TEXT_BYTES || !callops_domain::phone::parses(number) {
        return Some(format!("phone_number {:?} is not a phone number", row.phone_number.chars().take(80).collect::<String>()));
    }
    for (column, value, max) in [
        ("duration", row.duration.map(i64::from), i64::from(MAX_DURATION_SECONDS)),
        ("payment_plan_amount", row.payment_plan_amount.map(i64::from), MAX_AMOUNT_CENTS),
        ("collection_amount", row.collection_amount.map(i64::from), MAX_AMOUNT_CENTS),
        ("cost_cents", row.cost_cents.map(i64::from), MAX_COST_CENTS),
    ] {
        match value {
            Some(v) if v < 0 => return Some(format!("{column} is negative ({v})")),
            Some(v) if v > max => return Some(format!("{column} is over its bound of {max} ({v})")),
            _ => {}
        }
    }
    let times = [
        ("created_at", Some(row.created_at)),
        ("updated_at", Some(row.updated_at)),
        ("call_started_at", row.call_started_at),
        ("call_ended_at", row.call_ended_at),
        ("scheduled_at", row.scheduled_at),
        ("follow_up_date", row.follow_up_date),
    ];
    for (column, at) in times {
        if let Some(at) = at
            && !callops_domain::time::is_supported(&utc(at))
        {
            return Some(format!("{column} {at} is outside the supported range ({})", callops_domain::time::SUPPORTED_TEXT));
        }
    }
    for (column, id) in [("vapi_call_id", &row.vapi_call_id), ("campaign_id", &row.campaign_id)] {
        if id.as_deref().is_some_and(|id| !is_key_safe(id)) {
            return Some(format!("{column} is empty, longer than {MAX_ID_BYTES} bytes, or holds '#' or control characters"));
        }
    }
    if row.ai_confidence.is_some_and(|c| !limits::is_storable_number(c)) {
        return Some("ai_confidence is a number DynamoDB cannot hold".into());
    }
    if let Some(quality) = row.call_quality.filter(|q| !(1..=5).contains(q)) {
        return Some(format!("call_quality {quality} is outside 1..5"));
    }
    if let Some(confidence) = row.ai_confidence.filter(|c| !(0.0..=1.0).contains(c)) {
        return Some(format!("ai_confidence {confidence} is outside 0..1"));
    }
    if let (Some(started), Some(ended)) = (row.call_started_at, row.call_ended_at)
        && ended < started
    {
        return Some("call_ended_at is before call_started_at".into());
    }
    let parses = |text: &Option<String>, check: fn(&str) -> bool| text.as_deref().is_none_or(check);
    if !parses(&row.outcome, |t| t.parse::<CallOutcome>().is_ok()) {
        return Some(format!("outcome {:?} is not a CallOutcome", row.outcome.as_deref().unwrap_or_default()));
    }
    if !parses(&row.call_type, |t| t.parse::<CallType>().is_ok()) {
        return Some(format!("call_type {:?} is not a CallType", row.call_type.as_deref().unwrap_or_default()));
    }
    None
}

/// The call a row becomes, for tenant `org_id`, and what the report should say of it.
pub fn map_row(row: &LegacyRow, org_id: &str) -> Result<Mapped, Refusal> {
    if let Some(reason) = refusal(row) {
        return Err(Refusal { id: row.id.clone(), reason });
    }
    let mut notes = Vec::new();
    let call_type = match &row.call_type {
        Some(text) => text.parse().map_err(|_| Refusal { id: row.id.clone(), reason: format!("call_type {text:?} is not a CallType") })?,
        None => match normal(&row.direction).as_deref() {
            Some("inbound") => CallType::Inbound,
            Some("outbound") => CallType::OutboundOther,
            _ => {
                notes.push(Note { kind: NoteKind::Defaulted, column: "callType", value: format!("direction={}", shown(&row.direction)) });
                CallType::Inbound
            }
        },
    };
    let status = match legacy_status(row.status.as_deref()) {
        Some(status) => status,
        None => {
            notes.push(Note { kind: NoteKind::Unmapped, column: "status", value: shown(&row.status) });
            if row.call_ended_at.is_some() { CallStatus::Completed } else { CallStatus::Failed }
        }
    };
    let outcome = match &row.outcome {
        Some(text) => Some(text.parse().map_err(|_| Refusal { id: row.id.clone(), reason: format!("outcome {text:?} is not a CallOutcome") })?),
        None => derived_outcome(row),
    };
    if row.outcome.is_none() && outcome.is_none() {
        notes.push(Note { kind: NoteKind::Defaulted, column: "outcome", value: "NULL".into() });
    }

    let mut call = CallLog::new(
        NewCall {
            org_id: org_id.into(),
            voice_agent_id: row.voice_agent_id.clone().into(),
            phone_number: row.phone_number.trim().to_string(),
            call_type,
            status,
            // Not placed by CallOps: no dialer slot, and never dialed by it.
            attempt: 0,
        },
        row.id.clone().into(),
        utc(row.created_at),
    );
    call.imported = true;
    call.duration = row.duration.and_then(|d| u32::try_from(d).ok());
    call.call_started_at = row.call_started_at.map(utc);
    call.call_ended_at = row.call_ended_at.map(utc);
    // Free text is cut as the webhook cuts it, so a call always fits in one item.
    let texts = [
        (CallText::Transcript, "transcript", &row.transcript),
        (CallText::Summary, "summary", &row.summary),
        (CallText::InsuranceProvider, "insurance_provider", &row.insurance_provider),
        (CallText::TransferredTo, "transferred_to", &row.transferred_to),
        (CallText::Purpose, "call_purpose", &row.call_purpose),
        (CallText::Notes, "call_notes", &row.call_notes),
        (CallText::CustomerSentiment, "customer_sentiment", &row.customer_sentiment),
    ];
    for (field, column, text) in texts {
        if let Some(text) = text {
            call.set_text(field, text);
            if call.truncated_fields.iter().any(|f| f == field.name()) {
                notes.push(Note { kind: NoteKind::Defaulted, column, value: format!("over {} bytes: cut", field.max_bytes()) });
            }
        }
    }
    match &row.recording_url {
        Some(url) if callops_domain::limits::is_https_url(url.trim()) => call.recording_url = Some(url.trim().to_string()),
        Some(_) => notes.push(Note { kind: NoteKind::Defaulted, column: "recording_url", value: "not an https: URL: left out".into() }),
        None => {}
    }
    call.appointment_set = row.appointment_set;
    call.outcome = outcome;
    call.insurance_verified = row.insurance_verified;
    call.payment_plan_discussed = row.payment_plan_discussed;
    call.payment_plan_amount = row.payment_plan_amount.map(i64::from);
    call.collection_attempt = row.collection_attempt;
    call.collection_amount = row.collection_amount.map(i64::from);
    call.collection_success = row.collection_success;
    call.transferred_to_staff = row.transferred_to_staff;
    call.vapi_call_id = row.vapi_call_id.clone();
    call.campaign_id = row.campaign_id.clone();
    call.scheduled_at = row.scheduled_at.map(utc);
    call.follow_up_required = row.follow_up_required;
    call.follow_up_date = row.follow_up_date.map(utc);
    call.call_quality = row.call_quality.and_then(|q| u8::try_from(q).ok());
    call.ai_confidence = row.ai_confidence;
    call.cost_cents = row.cost_cents.map(i64::from);
    call.updated_at = utc(row.updated_at);
    Ok(Mapped { call, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> LegacyRow {
        let at = NaiveDateTime::parse_from_str("2024-02-07 09:30:00.250", "%Y-%m-%d %H:%M:%S%.f").unwrap();
        LegacyRow {
            id: "ckx1".into(),
            voice_agent_id: "agent_1".into(),
            phone_number: "(212) 555-0142".into(),
            created_at: at,
            updated_at: at,
            call_started_at: Some(at),
            ..LegacyRow::default()
        }
    }

    #[test]
    fn call_type_comes_from_direction_only_where_it_is_null() {
        let with = |direction: Option<&str>, call_type: Option<&str>| {
            map_row(&LegacyRow { direction: direction.map(Into::into), call_type: call_type.map(Into::into), ..row() }, "o").unwrap()
        };
        assert_eq!(with(Some(" Inbound "), None).call.call_type, CallType::Inbound);
        assert_eq!(with(Some("OUTBOUND"), None).call.call_type, CallType::OutboundOther);
        assert_eq!(with(Some("outbound"), Some("OUTBOUND_DEBT")).call.call_type, CallType::OutboundDebt, "a set value stays");
        let defaulted = with(Some("sideways"), None);
        assert_eq!(defaulted.call.call_type, CallType::Inbound);
        assert_eq!(defaulted.notes[0], Note { kind: NoteKind::Defaulted, column: "callType", value: "direction=sideways".into() });
        assert_eq!(with(None, None).notes[0].value, "direction=NULL");
    }

    #[test]
    fn statuses_translate_and_unknown_ones_are_noted() {
        for (legacy, status) in [
            ("completed", CallStatus::Completed),
            ("Answered", CallStatus::Completed),
            ("no_answer", CallStatus::Missed),
            ("BUSY", CallStatus::Missed),
            ("voicemail", CallStatus::Voicemail),
            ("error", CallStatus::Failed),
            ("ringing", CallStatus::InProgress),
            ("scheduled", CallStatus::Scheduled),
            ("canceled", CallStatus::Cancelled),
            ("IN_PROGRESS", CallStatus::InProgress),
            ("COMPLETED", CallStatus::Completed),
        ] {
            assert_eq!(map_row(&LegacyRow { status: Some(legacy.into()), ..row() }, "o").unwrap().call.status, status, "{legacy}");
        }
        let ended = map_row(&LegacyRow { status: Some("weird".into()), call_ended_at: row().call_started_at, ..row() }, "o").unwrap();
        assert_eq!(ended.call.status, CallStatus::Completed);
        assert!(ended.notes.contains(&Note { kind: NoteKind::Unmapped, column: "status", value: "weird".into() }));
        let open = map_row(&LegacyRow { status: None, ..row() }, "o").unwrap();
        assert_eq!(open.call.status, CallStatus::Failed);
        assert!(open.notes.contains(&Note { kind: NoteKind::Unmapped, column: "status", value: "NULL".into() }));
    }

    #[test]
    fn outcomes_follow_the_first_matching_rule() {
        let outcome = |r: LegacyRow| map_row(&r, "o").unwrap().call.outcome;
        assert_eq!(outcome(LegacyRow { appointment_set: true, transferred_to_staff: true, ..row() }), Some(CallOutcome::Booked));
        assert_eq!(outcome(LegacyRow { transferred_to_staff: true, status: Some("voicemail".into()), ..row() }), Some(CallOutcome::Transferred));
        assert_eq!(outcome(LegacyRow { status: Some("voicemail".into()), payment_plan_discussed: true, ..row() }), Some(CallOutcome::Voicemail));
        assert_eq!(outcome(LegacyRow { status: Some("No-Answer".into()), ..row() }), Some(CallOutcome::NoAnswer));
        assert_eq!(outcome(LegacyRow { status: Some("missed".into()), ..row() }), Some(CallOutcome::NoAnswer));
        assert_eq!(outcome(LegacyRow { status: Some("busy".into()), ..row() }), Some(CallOutcome::Busy));
        assert_eq!(outcome(LegacyRow { status: Some("error".into()), ..row() }), Some(CallOutcome::Failed));
        assert_eq!(outcome(LegacyRow { payment_plan_discussed: true, ..row() }), Some(CallOutcome::PaymentPlan));
        assert_eq!(outcome(LegacyRow { status: Some("completed".into()), ..row() }), None);
        assert_eq!(
            outcome(LegacyRow { outcome: Some("INFORMATION".into()), appointment_set: true, ..row() }),
            Some(CallOutcome::Information),
            "a set value stays"
        );
    }

    #[test]
    fn rows_the_model_cannot_hold_are_refused_with_a_reason() {
        for (bad, why) in [
            (LegacyRow { phone_number: "n/a".into(), ..row() }, "phone_number"),
            (LegacyRow { duration: Some(-5), ..row() }, "duration is negative"),
            (LegacyRow { cost_cents: Some(-1), ..row() }, "cost_cents is negative"),
            (LegacyRow { call_quality: Some(9), ..row() }, "call_quality"),
            (LegacyRow { ai_confidence: Some(1.5), ..row() }, "ai_confidence"),
            (LegacyRow { voice_agent_id: "agent 1".into(), ..row() }, "voice_agent_id"),
            (LegacyRow { id: "a#b".into(), ..row() }, "the id"),
            (LegacyRow { call_ended_at: Some(row().created_at - chrono::Duration::hours(1)), ..row() }, "before call_started_at"),
            (LegacyRow { call_ended_at: Some(NaiveDateTime::default()), ..row() }, "call_ended_at 1970-01-01 00:00:00 is outside the supported range"),
            (LegacyRow { created_at: NaiveDateTime::MAX, ..row() }, "created_at"),
            (LegacyRow { follow_up_date: NaiveDateTime::parse_from_str("2100-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").ok(), ..row() }, "follow_up_date"),
            (LegacyRow { cost_cents: Some(i32::MAX), ..row() }, "cost_cents is over its bound of 1000000"),
            (LegacyRow { payment_plan_amount: Some(100_000_001), ..row() }, "payment_plan_amount is over"),
            (LegacyRow { duration: Some(86_401), ..row() }, "duration is over"),
            (LegacyRow { id: "x".repeat(201), ..row() }, "the id"),
            (LegacyRow { vapi_call_id: Some("v".repeat(201)), ..row() }, "vapi_call_id"),
            (LegacyRow { campaign_id: Some(String::new()), ..row() }, "campaign_id"),
            (LegacyRow { ai_confidence: Some(1e-200), ..row() }, "ai_confidence is a number DynamoDB cannot hold"),
            (LegacyRow { phone_number: "9".repeat(65), ..row() }, "phone_number"),
        ] {
            let refused = map_row(&bad, "o").unwrap_err();
            assert!(refused.reason.contains(why), "{refused:?}");
            assert_eq!(refused.id, bad.id);
        }
    }

    #[test]
    fn long_text_is_cut_and_noted_and_only_https_recordings_are_kept() {
        let long = "é".repeat(callops_domain::limits::MAX_SUMMARY_BYTES);
        let mapped = map_row(&LegacyRow { summary: Some(long), recording_url: Some("javascript:alert(1)".into()), ..row() }, "o").unwrap();
        assert_eq!(mapped.call.summary.as_ref().map(String::len), Some(callops_domain::limits::MAX_SUMMARY_BYTES));
        assert_eq!(mapped.call.truncated_fields, vec!["summary"]);
        assert_eq!(mapped.call.recording_url, None);
        assert!(mapped.notes.iter().any(|n| n.column == "summary" && n.value.contains("cut")), "{:?}", mapped.notes);
        assert!(mapped.notes.iter().any(|n| n.column == "recording_url"), "{:?}", mapped.notes);
        assert!(mapped.call.check_storable().is_ok(), "{:?}", mapped.call.check_storable());
        let kept = map_row(&LegacyRow { recording_url: Some("https://recordings.example/1.wav".into()), ..row() }, "o").unwrap();
        assert_eq!(kept.call.recording_url.as_deref(), Some("https://recordings.example/1.wav"));
    }

    #[test]
    fn everything_else_is_copied_and_the_call_is_never_the_dialers() {
        let mapped = map_row(&LegacyRow { cost_cents: Some(1234), duration: Some(95), status: Some("scheduled".into()), ..row() }, "acme").unwrap();
        let call = mapped.call;
        assert_eq!((call.id.as_str(), call.org_id.as_str(), call.phone_number.as_str()), ("ckx1", "acme", "(212) 555-0142"));
        assert_eq!((call.cost_cents, call.duration), (Some(1234), Some(95)));
        assert_eq!(call.call_started_at.map(|t| callops_domain::time::format(&t)).as_deref(), Some("2024-02-07T09:30:00.250Z"));
        assert_eq!(call.attempt, 0, "not placed by CallOps: never dialed by it");
        assert!(call.imported, "marked as history from the legacy table");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

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
            (
                naive_time(),
                naive_time(),
                number(),
                number(),
                number(),
                prop::option::of(any::<f64>()),
                prop::option::of(0.0f64..1.0),
                prop::option::of(-3i32..10),
            ),
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
        fn a_legacy_row_maps_to_a_call_the_store_can_keep_or_is_refused_with_a_reason(row in legacy_row()) {
            match map_row(&row, "acme") {
                Ok(mapped) => prop_assert!(mapped.call.check_storable().is_ok(), "{:?}", mapped.call.check_storable()),
                Err(refusal) => prop_assert!(!refusal.reason.is_empty() && refusal.id == row.id),
            }
        }
    }
}
