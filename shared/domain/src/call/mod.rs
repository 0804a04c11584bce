//! The call: one phone conversation (or one attempt at one), its type, its
//! lifecycle and what came of it. Field names and enum values are those of the
//! migration document, so the JSON a client sees matches the legacy model.

pub mod compliance;
pub mod content;
pub mod kinds;
pub mod lifecycle;
pub mod measures;
pub mod text;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::call::{
    content::{CALL_FIELDS, ContentRemoval, ERASED_NUMBER_PREFIX, FieldClass, RemovalReason, content_field_names, is_content_field},
    kinds::{CallOutcome, CallStatus, CallType},
    text::{CallText, MAX_TRANSCRIPT_BYTES, MAX_VARIABLES, check_variables, cut_transcript},
};
use crate::{
    call::measures::{AwaitedOutput, CallLatency, CostBreakdown},
    error::DomainError,
    ids::AgentId,
    ids::CallId,
    ids::OrgId,
    time,
};

/// One call, with every field of the migration document's `CallLog` model plus
/// the tenant and the dial attempt. Money is integer cents, times are UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLog {
    pub id: CallId,
    /// The practice this call belongs to.
    pub org_id: OrgId,
    pub voice_agent_id: AgentId,
    /// E.164 where CallOps wrote it; migrated rows keep what they had.
    pub phone_number: String,
    pub status: CallStatus,
    /// Seconds.
    pub duration: Option<u32>,
    #[serde(with = "time::ms::option", default)]
    pub call_started_at: Option<DateTime<Utc>>,
    #[serde(with = "time::ms::option", default)]
    pub call_ended_at: Option<DateTime<Utc>>,
    pub transcript: Option<String>,
    /// Set when the transcript was cut to keep the item inside DynamoDB's limit.
    #[serde(default)]
    pub transcript_truncated: bool,
    /// Every text field that was cut to its bound ([`crate::limits`]), by
    /// its JSON name, in order: `transcript`, `summary`, `endedReason`...
    #[serde(default)]
    pub truncated_fields: Vec<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
    /// The live call's listen link (Vapi's `monitor.listenUrl`): kept only
    /// while the call is live and only when the tenant turned live listening
    /// on; shown to staff and admins, each read on the record.
    #[serde(default)]
    pub listen_url: Option<String>,
    pub appointment_set: bool,
    #[serde(with = "time::ms")]
    pub created_at: DateTime<Utc>,

    // Analytics.
    pub outcome: Option<CallOutcome>,
    pub insurance_verified: bool,
    pub insurance_provider: Option<String>,
    pub payment_plan_discussed: bool,
    /// Cents.
    pub payment_plan_amount: Option<i64>,
    pub collection_attempt: bool,
    /// Cents.
    pub collection_amount: Option<i64>,
    pub collection_success: bool,
    pub transferred_to_staff: bool,
    pub transferred_to: Option<String>,

    // Outbound.
    pub vapi_call_id: Option<String>,
    pub call_type: CallType,
    pub campaign_id: Option<String>,
    #[serde(with = "time::ms::option", default)]
    pub scheduled_at: Option<DateTime<Utc>>,
    pub call_purpose: Option<String>,
    pub call_notes: Option<String>,
    pub customer_name: Option<String>,
    /// Where the contact's own record puts them: the call fits this zone
    /// and this state's rules as well as the number's ([`crate::placement::callee`]).
    #[serde(default)]
    pub callee_time_zone: Option<chrono_tz::Tz>,
    #[serde(default)]
    pub callee_state: Option<crate::us_state::UsState>,
    /// The debt an `OUTBOUND_DEBT` call is about (Regulation F counts per debt).
    #[serde(default)]
    pub debt_id: Option<String>,
    /// Why the call was allowed when it was placed: the callee's zones and
    /// states and every rule weighed ([`crate::call::compliance`]).
    #[serde(default)]
    pub compliance: Option<crate::call::compliance::ComplianceRecord>,
    /// Why the call keeps no recording link although Vapi sent one (the
    /// consent its callee's state needs was not given, or recording was off).
    #[serde(default)]
    pub recording_withheld: Option<String>,
    /// Values for the placeholders in the assistant's prompts (Vapi's
    /// `variableValues`), e.g. a campaign contact's CSV columns.
    #[serde(default)]
    pub variable_values: std::collections::BTreeMap<String, String>,
    /// Which dial attempt this call is (1 for the first); 0 for a call CallOps
    /// did not schedule (inbound, or imported history), which it never dials.
    pub attempt: u32,
    /// History brought in from the legacy table by `callops migrate`, not a
    /// call CallOps handled. Written once, by one importer, it needs no
    /// spreading of its rollup writes: it counts in one rollup shard.
    #[serde(default)]
    pub imported: bool,
    pub ended_reason: Option<String>,
    /// When Vapi's end-of-call report was recorded. From then on a later,
    /// different report only fills in what is still empty.
    #[serde(with = "time::ms::option", default)]
    pub reported_at: Option<DateTime<Utc>>,
    /// For a missed call ([`crate::analytics::missed`]): when a later call with the
    /// same number connected, which takes it off the worklist of calls to return.
    #[serde(with = "time::ms::option", default)]
    pub returned_at: Option<DateTime<Utc>>,
    /// The call reached voicemail and left its campaign's message there
    /// (a message checked at the dial: `compliance.voicemail`).
    #[serde(default)]
    pub voicemail_left: bool,

    // Quality.
    pub follow_up_required: bool,
    #[serde(with = "time::ms::option", default)]
    pub follow_up_date: Option<DateTime<Utc>>,
    /// 1 to 5.
    pub call_quality: Option<u8>,
    /// `positive`, `neutral` or `negative`.
    pub customer_sentiment: Option<String>,
    /// 0 to 1.
    pub ai_confidence: Option<f64>,
    /// The provider's success evaluation, as it wrote it (a rubric's value:
    /// `true`, `8`, `Good`...); [`crate::call::measures::success_of`] reads it.
    #[serde(default)]
    pub success_evaluation: Option<String>,
    /// The assistant's average response times over the call.
    #[serde(default)]
    pub latency: Option<CallLatency>,
    /// The structured output the agent expects and the report did not
    /// carry: the reconciler reads the call again until it comes.
    #[serde(default)]
    pub awaiting_output: Option<AwaitedOutput>,

    // Cost.
    pub cost_cents: Option<i64>,
    /// What each part of the call cost, and what it used.
    #[serde(default)]
    pub cost_breakdown: Option<CostBreakdown>,

    /// When and why the call's content (transcript, summary, recording
    /// link, notes) was removed: its retention ran out, or the patient's
    /// records were erased. Content that arrives later is not kept.
    #[serde(default)]
    pub content_removed: Option<ContentRemoval>,

    #[serde(with = "time::ms")]
    pub updated_at: DateTime<Utc>,
}

impl CallLog {
    /// Whether the call keeps any content ([`FieldClass::Content`]).
    pub fn has_content(&self) -> bool {
        !self.content_fields().is_empty()
    }

    /// The content fields the call holds, by their JSON names.
    pub fn content_fields(&self) -> Vec<&'static str> {
        [
            ("transcript", self.transcript.is_some()),
            ("summary", self.summary.is_some()),
            ("recordingUrl", self.recording_url.is_some()),
            ("listenUrl", self.listen_url.is_some()),
            ("insuranceProvider", self.insurance_provider.is_some()),
            ("callPurpose", self.call_purpose.is_some()),
            ("callNotes", self.call_notes.is_some()),
            ("customerName", self.customer_name.is_some()),
            ("debtId", self.debt_id.is_some()),
            ("variableValues", !self.variable_values.is_empty()),
        ]
        .into_iter()
        .filter_map(|(name, held)| held.then_some(name))
        .collect()
    }

    /// The call as someone who may not see content sees it: its facts and number only.
    pub fn facts_only(mut self) -> CallLog {
        self.strip_content();
        self
    }

    /// Empties every field of the content set.
    fn strip_content(&mut self) {
        self.transcript = None;
        self.summary = None;
        self.recording_url = None;
        self.listen_url = None;
        self.insurance_provider = None;
        self.call_purpose = None;
        self.call_notes = None;
        self.customer_name = None;
        self.debt_id = None;
        self.variable_values.clear();
        self.transcript_truncated = false;
        self.truncated_fields.retain(|f| !is_content_field(f));
    }

    /// The content set of `other` over this call's: what a change that may not touch content keeps.
    pub fn keep_content_of(&mut self, other: &CallLog) {
        self.transcript = other.transcript.clone();
        self.summary = other.summary.clone();
        self.recording_url = other.recording_url.clone();
        self.listen_url = other.listen_url.clone();
        self.insurance_provider = other.insurance_provider.clone();
        self.call_purpose = other.call_purpose.clone();
        self.call_notes = other.call_notes.clone();
        self.customer_name = other.customer_name.clone();
        self.debt_id = other.debt_id.clone();
        self.variable_values = other.variable_values.clone();
        self.transcript_truncated = other.transcript_truncated;
        self.truncated_fields.retain(|f| !is_content_field(f));
        self.truncated_fields.extend(other.truncated_fields.iter().filter(|f| is_content_field(f)).cloned());
        self.truncated_fields.sort();
        self.truncated_fields.dedup();
    }

    /// This call (a new version of `stored`, from elsewhere: a migration's
    /// legacy row) as removed as `stored` is: when its content was removed,
    /// none comes back, nor the number an erasure replaced.
    pub fn stay_removed_as(&mut self, stored: &CallLog) {
        if let Some(removal) = stored.content_removed {
            self.keep_content_of(stored);
            if removal.reason == RemovalReason::Erasure {
                self.phone_number = stored.phone_number.clone();
            }
            self.content_removed = Some(removal);
        }
    }

    /// The call with its content removed for `reason` at `at`; every fact
    /// analytics count stays. An erasure also replaces the number by `token`.
    pub fn remove_content(&self, reason: RemovalReason, at: DateTime<Utc>, token: Option<&str>) -> CallLog {
        let mut next = self.clone();
        next.strip_content();
        if let Some(token) = token {
            next.phone_number = token.to_string();
        }
        next.content_removed = Some(ContentRemoval { at: time::to_millis(at), reason });
        next.updated_at = time::to_millis(at.max(self.updated_at));
        next
    }

    /// Whether the call's content was removed (so none is kept from now on).
    pub fn content_is_removed(&self) -> bool {
        self.content_removed.is_some()
    }

    /// Whether the call holds one of its agent's concurrent-call slots: an
    /// attempt CallOps dials, from the dialer's claim (DIALING) until it ends
    /// or goes back to the queue. Calls CallOps did not place (attempt 0)
    /// never hold one.
    pub fn holds_dialer_slot(&self) -> bool {
        self.attempt >= 1 && self.call_type.is_outbound() && matches!(self.status, CallStatus::Dialing | CallStatus::InProgress)
    }
}

/// What is needed to bring a call into existence; everything else starts empty.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub org_id: OrgId,
    pub voice_agent_id: AgentId,
    pub phone_number: String,
    pub call_type: CallType,
    pub status: CallStatus,
    pub attempt: u32,
}

impl CallLog {
    pub fn new(new: NewCall, id: CallId, now: DateTime<Utc>) -> Self {
        let now = time::to_millis(now);
        CallLog {
            id,
            org_id: new.org_id,
            voice_agent_id: new.voice_agent_id,
            phone_number: new.phone_number,
            status: new.status,
            duration: None,
            call_started_at: None,
            call_ended_at: None,
            transcript: None,
            transcript_truncated: false,
            truncated_fields: Vec::new(),
            summary: None,
            recording_url: None,
            listen_url: None,
            appointment_set: false,
            created_at: now,
            outcome: None,
            insurance_verified: false,
            insurance_provider: None,
            payment_plan_discussed: false,
            payment_plan_amount: None,
            collection_attempt: false,
            collection_amount: None,
            collection_success: false,
            transferred_to_staff: false,
            transferred_to: None,
            vapi_call_id: None,
            call_type: new.call_type,
            campaign_id: None,
            scheduled_at: None,
            call_purpose: None,
            call_notes: None,
            customer_name: None,
            callee_time_zone: None,
            callee_state: None,
            debt_id: None,
            compliance: None,
            recording_withheld: None,
            variable_values: Default::default(),
            attempt: new.attempt,
            imported: false,
            ended_reason: None,
            reported_at: None,
            returned_at: None,
            voicemail_left: false,
            follow_up_required: false,
            follow_up_date: None,
            call_quality: None,
            customer_sentiment: None,
            ai_confidence: None,
            success_evaluation: None,
            latency: None,
            awaiting_output: None,
            cost_cents: None,
            cost_breakdown: None,
            content_removed: None,
            updated_at: now,
        }
    }
}

impl CallLog {
    /// Whether no phone call was ever placed for this call: it still waits
    /// (SCHEDULED), or it was cancelled before it was dialed. What Vapi says
    /// of such a call changes nothing.
    pub fn was_never_placed(&self) -> bool {
        self.status == CallStatus::Scheduled || (self.status == CallStatus::Cancelled && self.vapi_call_id.is_none() && self.call_started_at.is_none())
    }

    /// Whether CallOps can store this call and read it back as it is: ids
    /// that fit in keys, times in the supported range kept to the
    /// millisecond, every text and number within its bound
    /// ([`crate::limits`]). Every store write checks it, so no writer can
    /// leave an item no reader can parse.
    pub fn check_storable(&self) -> Result<(), DomainError> {
        use crate::limits::*;
        let refuse = |why: String| {
            Err(DomainError::invalid("unstorable_call", format!("call {:?} cannot be stored: {why}", self.id.chars().take(80).collect::<String>())))
        };
        if !is_key_safe(&self.id) {
            return refuse("its id must be 1 to 200 bytes without '#' or control characters".into());
        }
        if !crate::ids::valid_org_id(&self.org_id) {
            return refuse("its tenant id is not one".into());
        }
        if !(crate::ids::valid_agent_id(&self.voice_agent_id) || self.voice_agent_id == crate::ids::UNASSIGNED_AGENT) {
            return refuse("its voice agent id is not one".into());
        }
        if self.phone_number.is_empty() || self.phone_number.len() > MAX_PHONE_TEXT_BYTES || self.phone_number.chars().any(char::is_control) {
            return refuse(format!("phoneNumber must be 1 to {MAX_PHONE_TEXT_BYTES} bytes without control characters"));
        }
        let times = [
            ("createdAt", Some(self.created_at)),
            ("updatedAt", Some(self.updated_at)),
            ("callStartedAt", self.call_started_at),
            ("callEndedAt", self.call_ended_at),
            ("scheduledAt", self.scheduled_at),
            ("followUpDate", self.follow_up_date),
            ("reportedAt", self.reported_at),
            ("returnedAt", self.returned_at),
            ("awaitingOutput.nextReadAt", self.awaiting_output.as_ref().map(|a| a.next_read_at)),
        ];
        for (name, at) in times {
            if let Some(at) = at
                && !time::is_storable(&at)
            {
                return refuse(format!("{name} must be {} to the millisecond", time::SUPPORTED_TEXT));
            }
        }
        for field in CallText::ALL {
            if self.text(field).is_some_and(|t| t.len() > field.max_bytes()) {
                return refuse(format!("{} is longer than {} bytes", field.name(), field.max_bytes()));
            }
        }
        if self.truncated_fields.iter().any(|f| CallText::ALL.iter().all(|t| t.name() != f)) || !self.truncated_fields.is_sorted() {
            return refuse("truncatedFields must name text fields, in order".into());
        }
        if let Some(url) = &self.recording_url
            && !is_https_url(url)
        {
            return refuse("recordingUrl must be an https: URL".into());
        }
        if let Some(url) = &self.listen_url
            && !crate::limits::is_live_url(url)
        {
            return refuse("listenUrl must be a wss: or https: URL".into());
        }
        for (name, id) in [("vapiCallId", &self.vapi_call_id), ("campaignId", &self.campaign_id), ("debtId", &self.debt_id)] {
            if id.as_ref().is_some_and(|id| !is_key_safe(id)) {
                return refuse(format!("{name} must be 1 to {MAX_ID_BYTES} bytes without '#' or control characters"));
            }
        }
        if self.duration.is_some_and(|d| d > MAX_DURATION_SECONDS) {
            return refuse(format!("duration is over {MAX_DURATION_SECONDS} seconds"));
        }
        if self.cost_cents.is_some_and(|c| !(0..=MAX_COST_CENTS).contains(&c)) {
            return refuse(format!("costCents must be 0 to {MAX_COST_CENTS}"));
        }
        for (name, amount) in [("paymentPlanAmount", self.payment_plan_amount), ("collectionAmount", self.collection_amount)] {
            if amount.is_some_and(|a| !(0..=MAX_AMOUNT_CENTS).contains(&a)) {
                return refuse(format!("{name} must be 0 to {MAX_AMOUNT_CENTS} cents"));
            }
        }
        if let Some(why) = self.cost_breakdown.as_ref().and_then(CostBreakdown::problem).or_else(|| self.latency.as_ref().and_then(CallLatency::problem)) {
            return refuse(why);
        }
        if let Some(record) = &self.compliance
            && (record.rules.len() > crate::call::compliance::MAX_RULES
                || record.zones.len() > crate::call::compliance::MAX_ZONES
                || record.states.len() > crate::call::compliance::MAX_ZONES
                || record.rules.iter().any(|r| r.rule.len() > 64 || r.detail.len() > 600))
        {
            return refuse("compliance holds more than its bounds".into());
        }
        if self.awaiting_output.as_ref().is_some_and(|a| !crate::call::measures::valid_output_name(&a.name)) {
            return refuse("awaitingOutput.name must be 1 to 40 characters without control characters".into());
        }
        if self.call_quality.is_some_and(|q| !(1..=5).contains(&q)) {
            return refuse("callQuality must be 1 to 5".into());
        }
        if self.ai_confidence.is_some_and(|c| !(0.0..=1.0).contains(&c) || !is_storable_number(c)) {
            return refuse("aiConfidence must be a number from 0 to 1 DynamoDB can store".into());
        }
        check_variables(&self.variable_values).or_else(|err| refuse(err.to_string()))
    }
}

/// A new call id: time-ordered (UUIDv7), so ids created later sort later.
pub fn new_call_id() -> CallId {
    uuid::Uuid::now_v7().to_string().into()
}

pub use crate::idempotency::derived_id;

#[cfg(test)]
mod tests {
    use super::*;
    use CallStatus::*;

    #[test]
    fn every_stored_field_of_a_call_is_classified() {
        let call = crate::fixtures::call(Completed);
        let stored = serde_json::to_value(&call).unwrap();
        let mut held: Vec<&str> = stored.as_object().unwrap().keys().map(String::as_str).collect();
        let mut classified: Vec<&str> = CALL_FIELDS.iter().map(|(name, _)| *name).collect();
        held.sort();
        classified.sort();
        assert_eq!(held, classified, "a field a call stores is not classified in CALL_FIELDS (or one classified is gone)");
        let set: Vec<&str> = content_field_names().collect();
        for field in
            ["transcript", "summary", "recordingUrl", "listenUrl", "callNotes", "callPurpose", "customerName", "variableValues", "debtId", "insuranceProvider"]
        {
            assert!(set.contains(&field), "{field}");
        }
    }

    #[test]
    fn the_content_set_is_what_viewers_lose_and_removal_takes() {
        let mut call = crate::fixtures::call(Completed);
        call.transcript = Some("AI: Hi\nUser: my crown hurts".into());
        call.summary = Some("crown".into());
        call.recording_url = Some("https://r".into());
        call.listen_url = Some("wss://l".into());
        call.call_notes = Some("n".into());
        call.call_purpose = Some("p".into());
        call.customer_name = Some("Ada".into());
        call.debt_id = Some("inv-1".into());
        call.insurance_provider = Some("Delta".into());
        call.variable_values.insert("balance".into(), "$120".into());
        call.truncated_fields = vec!["summary".into(), "endedReason".into()];
        assert_eq!(call.content_fields().len(), 10);
        let seen = call.clone().facts_only();
        assert!(!seen.has_content() && seen.phone_number == call.phone_number && seen.truncated_fields == vec!["endedReason".to_string()]);
        let at = crate::time::parse("2024-02-01T00:00:00Z").unwrap();
        let erased = call.remove_content(RemovalReason::Erasure, at, Some("erased-x"));
        assert!(!erased.has_content() && erased.phone_number == "erased-x");
        // A later change keeps the removed set removed.
        let mut later = call.clone();
        later.keep_content_of(&erased);
        assert!(!later.has_content());
    }

    #[test]
    fn enums_serialise_as_their_upper_case_names() {
        assert_eq!(serde_json::to_string(&CallOutcome::InsuranceInquiry).unwrap(), "\"INSURANCE_INQUIRY\"");
        assert_eq!(serde_json::to_string(&CallType::OutboundFollowup).unwrap(), "\"OUTBOUND_FOLLOWUP\"");
        assert_eq!(serde_json::to_string(&InProgress).unwrap(), "\"IN_PROGRESS\"");
        for outcome in CallOutcome::ALL {
            let text = serde_json::to_string(outcome).unwrap();
            assert_eq!(text.trim_matches('"'), outcome.as_str());
            assert_eq!(serde_json::from_str::<CallOutcome>(&text).unwrap(), *outcome);
        }
        assert_eq!("booked".parse::<CallOutcome>().unwrap(), CallOutcome::Booked);
        assert_eq!(" outbound_debt ".parse::<CallType>().unwrap(), CallType::OutboundDebt);
        let err = "LOST".parse::<CallStatus>().unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "invalid_CallStatus", .. }));
    }

    #[test]
    fn the_migration_documents_values_are_all_there() {
        let names = |values: &[&str]| values.join(",");
        assert_eq!(
            names(&CallOutcome::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>()),
            "BOOKED,TRANSFERRED,INSURANCE_INQUIRY,PAYMENT_PLAN,INFORMATION,VOICEMAIL,NO_ANSWER,BUSY,FAILED,OTHER"
        );
        assert_eq!(
            names(&CallType::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>()),
            "INBOUND,OUTBOUND_LEAD,OUTBOUND_DEBT,OUTBOUND_FOLLOWUP,OUTBOUND_CAMPAIGN,OUTBOUND_OTHER"
        );
    }

    #[test]
    fn long_transcripts_are_cut_on_a_character_boundary() {
        let text = "é".repeat(MAX_TRANSCRIPT_BYTES);
        let (kept, cut) = cut_transcript(&text);
        assert!(cut);
        assert!(kept.len() <= MAX_TRANSCRIPT_BYTES && kept.len() >= MAX_TRANSCRIPT_BYTES - 1);
        assert_eq!(cut_transcript("short"), ("short".to_string(), false));
    }

    #[test]
    fn every_field_is_in_the_json_even_when_empty() {
        let call = CallLog::new(
            NewCall {
                org_id: "demo".into(),
                voice_agent_id: "agent-1".into(),
                phone_number: "+15551234567".into(),
                call_type: CallType::Inbound,
                status: Completed,
                attempt: 0,
            },
            new_call_id(),
            Utc::now(),
        );
        let json = serde_json::to_value(&call).unwrap();
        for field in [
            "id",
            "orgId",
            "voiceAgentId",
            "phoneNumber",
            "status",
            "duration",
            "callStartedAt",
            "callEndedAt",
            "transcript",
            "summary",
            "recordingUrl",
            "appointmentSet",
            "createdAt",
            "outcome",
            "insuranceVerified",
            "insuranceProvider",
            "paymentPlanDiscussed",
            "paymentPlanAmount",
            "collectionAttempt",
            "collectionAmount",
            "collectionSuccess",
            "transferredToStaff",
            "transferredTo",
            "vapiCallId",
            "callType",
            "campaignId",
            "scheduledAt",
            "callPurpose",
            "callNotes",
            "followUpRequired",
            "followUpDate",
            "callQuality",
            "customerSentiment",
            "aiConfidence",
            "costCents",
            "updatedAt",
            "attempt",
            "variableValues",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        let back: CallLog = serde_json::from_value(json).unwrap();
        assert_eq!(back, call);
    }
}
