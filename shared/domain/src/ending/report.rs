//! What the voice provider says of a call, as one type: the webhook's
//! messages and the reconciler's reads of a call both become a
//! [`CallReport`]. What a report does to the call is [`crate::ending::apply`].

use chrono::{DateTime, Utc};

use crate::call::{
    CallOutcome, CallStatus,
    measures::{CallLatency, CostBreakdown},
};

/// Which kind of report: news of the call's progress, or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A status change (queued, ringing, in progress, ended).
    Progress,
    /// The end-of-call report: times, cost, transcript, analysis.
    Ended,
    /// A transfer of the call to a person has begun (Vapi's `transfer-update`).
    Transfer,
}

/// What a report says of transfers to staff: what happened, as the
/// provider saw it, not what the assistant's analysis guessed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TransferSeen {
    /// The report carries no record of transfers (older payloads).
    #[default]
    NotReported,
    /// Transfers are recorded and none reached anyone.
    NoneConnected,
    /// The call was transferred, to this number, SIP address or name when given.
    To(Option<String>),
}

/// One of the provider's structured outputs, read as CallOps's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedOutput {
    pub name: String,
    pub analysis: CallAnalysis,
}

/// How a call ended, as far as CallOps is concerned. The provider's own
/// reasons (hundreds, and growing) are classified into these by its adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd {
    NoAnswer,
    Busy,
    Voicemail,
    Transferred,
    /// The conversation ended normally; the outcome comes from the analysis.
    Normal,
    /// The provider's account had no free concurrent-call slot: nothing happened.
    ProviderBusy,
    Failed,
    Cancelled,
    /// A reason the adapter does not know yet.
    Unknown,
}

impl CallEnd {
    /// The final status and the outcome this end alone implies. A normal
    /// end (and an unknown one) leaves the outcome to the analysis.
    pub fn status_and_outcome(self) -> (CallStatus, Option<CallOutcome>) {
        match self {
            CallEnd::NoAnswer => (CallStatus::Missed, Some(CallOutcome::NoAnswer)),
            CallEnd::Busy => (CallStatus::Missed, Some(CallOutcome::Busy)),
            CallEnd::Voicemail => (CallStatus::Voicemail, Some(CallOutcome::Voicemail)),
            CallEnd::Transferred => (CallStatus::Completed, Some(CallOutcome::Transferred)),
            CallEnd::Normal | CallEnd::Unknown => (CallStatus::Completed, None),
            CallEnd::ProviderBusy | CallEnd::Failed => (CallStatus::Failed, Some(CallOutcome::Failed)),
            CallEnd::Cancelled => (CallStatus::Cancelled, None),
        }
    }
}

/// The analytics fields the assistant's structured data gives; `None` where
/// it says nothing (or nothing readable).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallAnalysis {
    pub outcome: Option<CallOutcome>,
    pub appointment_booked: Option<bool>,
    pub insurance_verified: Option<bool>,
    pub insurance_provider: Option<String>,
    pub payment_plan_discussed: Option<bool>,
    pub payment_plan_amount_cents: Option<i64>,
    pub collection_attempted: Option<bool>,
    pub collection_amount_cents: Option<i64>,
    pub collection_successful: Option<bool>,
    pub transferred_to: Option<String>,
    pub customer_sentiment: Option<String>,
    pub call_quality: Option<u8>,
    pub ai_confidence: Option<f64>,
    pub follow_up_required: Option<bool>,
    pub follow_up_date: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub do_not_call_requested: Option<bool>,
    /// Times the callee said are inconvenient for calls.
    pub inconvenient_times: Option<Vec<crate::placement::clock::InconvenientTime>>,
    /// Fields whose values were there but out of bounds (an amount over
    /// [`crate::limits::MAX_AMOUNT_CENTS`], a date outside the supported
    /// range), by name: ignored, and logged.
    pub ignored: Vec<&'static str>,
}

impl CallAnalysis {
    /// This analysis, with what it leaves empty taken from `fallback`.
    pub fn or(self, fallback: CallAnalysis) -> CallAnalysis {
        let mut ignored = self.ignored;
        ignored.extend(fallback.ignored);
        CallAnalysis {
            outcome: self.outcome.or(fallback.outcome),
            appointment_booked: self.appointment_booked.or(fallback.appointment_booked),
            insurance_verified: self.insurance_verified.or(fallback.insurance_verified),
            insurance_provider: self.insurance_provider.or(fallback.insurance_provider),
            payment_plan_discussed: self.payment_plan_discussed.or(fallback.payment_plan_discussed),
            payment_plan_amount_cents: self.payment_plan_amount_cents.or(fallback.payment_plan_amount_cents),
            collection_attempted: self.collection_attempted.or(fallback.collection_attempted),
            collection_amount_cents: self.collection_amount_cents.or(fallback.collection_amount_cents),
            collection_successful: self.collection_successful.or(fallback.collection_successful),
            transferred_to: self.transferred_to.or(fallback.transferred_to),
            customer_sentiment: self.customer_sentiment.or(fallback.customer_sentiment),
            call_quality: self.call_quality.or(fallback.call_quality),
            ai_confidence: self.ai_confidence.or(fallback.ai_confidence),
            follow_up_required: self.follow_up_required.or(fallback.follow_up_required),
            follow_up_date: self.follow_up_date.or(fallback.follow_up_date),
            notes: self.notes.or(fallback.notes),
            do_not_call_requested: self.do_not_call_requested.or(fallback.do_not_call_requested),
            inconvenient_times: self.inconvenient_times.or(fallback.inconvenient_times),
            ignored,
        }
    }
}

/// One report about one call, every value already within its bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub kind: ReportKind,
    /// When the provider said it.
    pub at: Option<DateTime<Utc>>,
    /// The provider's id for the call.
    pub vapi_call_id: Option<String>,
    /// The status the provider's status means, when it means one.
    pub status: Option<CallStatus>,
    /// How the call ended, classified from `ended_reason`.
    pub end: Option<CallEnd>,
    /// The provider's reason, as it gave it (kept as text on the call).
    pub ended_reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Whole seconds, at most [`MAX_DURATION_SECONDS`].
    pub duration_seconds: Option<u32>,
    /// Cents, at most [`crate::limits::MAX_COST_CENTS`].
    pub cost_cents: Option<i64>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    /// Only an `https:` URL.
    pub recording_url: Option<String>,
    /// Vapi's recording-consent result, when the call asked for one.
    pub recording_consent: Option<crate::placement::recording::RecordingConsent>,
    pub customer_name: Option<String>,
    /// What the call's analysis says: the structured output read
    /// ([`CallReport::reading_output`]) field by field over the structured data.
    pub analysis: CallAnalysis,
    /// `analysis.structuredData`, as read.
    pub structured_data: CallAnalysis,
    /// Every structured output the report carries, read as CallOps's schema.
    pub outputs: Vec<NamedOutput>,
    /// The output [`CallReport::analysis`] was read from was there.
    pub output_found: bool,
    /// The name of the output the call's agent expects on every conversation, if it expects one.
    pub expected_output: Option<String>,
    /// The provider's success evaluation, as written.
    pub success_evaluation: Option<String>,
    pub cost_breakdown: Option<CostBreakdown>,
    pub latency: Option<CallLatency>,
    pub transfer: TransferSeen,
    /// A tool that books an appointment was called during the call.
    pub booked_by_tool: bool,
}

/// Which call a report is about: the ids CallOps sent with the call when
/// it placed it, the provider's, and for a call CallOps did not place,
/// where it came in and from whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSubject {
    /// The tenant CallOps sent; only believed when it is the credential's.
    pub org_id: Option<String>,
    pub call_id: Option<String>,
    pub attempt: Option<u32>,
    /// The provider's number and assistant the call used.
    pub phone_number_id: Option<String>,
    pub assistant_id: Option<String>,
    /// The provider says the call was outbound.
    pub outbound: bool,
    /// The other party's number: E.164 when it normalises, else as sent.
    pub customer_number: Option<String>,
}

impl CallReport {
    /// An empty report of a kind: what each field says is filled in by the adapter.
    pub fn new(kind: ReportKind) -> Self {
        CallReport {
            kind,
            at: None,
            vapi_call_id: None,
            status: None,
            end: None,
            ended_reason: None,
            started_at: None,
            ended_at: None,
            duration_seconds: None,
            cost_cents: None,
            transcript: None,
            summary: None,
            recording_url: None,
            recording_consent: None,
            customer_name: None,
            analysis: CallAnalysis::default(),
            structured_data: CallAnalysis::default(),
            outputs: Vec::new(),
            output_found: false,
            expected_output: None,
            success_evaluation: None,
            cost_breakdown: None,
            latency: None,
            transfer: TransferSeen::NotReported,
            booked_by_tool: false,
        }
    }

    /// This report with its analysis read from the structured output named
    /// `name` (names compared without case), field by field over the
    /// structured data: the output wins where both say something.
    /// `expected`: the agent expects it on every conversation.
    pub fn reading_output(mut self, name: &str, expected: bool) -> CallReport {
        self.expected_output = expected.then(|| name.to_string());
        let output = self.outputs.iter().find(|o| o.name.trim().eq_ignore_ascii_case(name.trim()));
        self.output_found = output.is_some();
        self.analysis = output.map(|o| o.analysis.clone()).unwrap_or_default().or(self.structured_data.clone());
        self
    }

    /// The final status and the outcome the end alone implies.
    pub(crate) fn end_status(&self) -> (CallStatus, Option<CallOutcome>) {
        self.end.unwrap_or(CallEnd::Unknown).status_and_outcome()
    }

    /// Whether the callee asked not to be called again: the assistant's
    /// judgement (`doNotCallRequested`) or their own words in the transcript
    /// ([`crate::consent::stop_request::asks_to_stop`]).
    pub fn asks_not_to_call(&self) -> bool {
        use crate::consent::stop_request::{asks_to_stop, pressed_to_stop};
        self.analysis.do_not_call_requested == Some(true) || self.transcript.as_deref().is_some_and(|t| asks_to_stop(t).is_some() || pressed_to_stop(t))
    }
}
