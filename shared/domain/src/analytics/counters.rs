//! The rollups' counter names, and which counter each fact of a call adds
//! to: attribute names in every rollup item, short because a read costs by
//! the bytes it returns; this list is their key.

use serde::{Deserialize, Serialize};

use crate::call::{
    CallOutcome, CallType,
    measures::{CostComponent, LatencyPart, Usage},
};

// Counter names. They are attribute names in every rollup item, and a read
// costs by the bytes it returns, so they are short; this list is their key.
/// Calls that started.
pub const CALLS: &str = "n";
/// Calls with outcome BOOKED.
pub const BOOKED: &str = "bk";
/// Sum of durations (seconds), and how many calls had one.
pub const DURATION_SECONDS: &str = "ds";
pub const CALLS_WITH_DURATION: &str = "dn";
pub const INSURANCE_VERIFIED: &str = "iv";
/// Calls with a payment plan discussed, and the sum of their amounts (cents).
pub const PAYMENT_PLANS: &str = "pp";
pub const PAYMENT_PLAN_CENTS: &str = "pc";
/// Collection attempts, successful ones, and the sum collected (cents).
pub const COLLECTION_ATTEMPTS: &str = "ca";
pub const COLLECTION_SUCCESSES: &str = "cs";
/// The amount of successful attempts only (`collectedOnSuccessCents`).
pub const COLLECTED_CENTS: &str = "cc";
/// The amount of every collection attempt, as the migration document sums
/// it (`totalCollectedCents`).
pub const COLLECTION_AMOUNT_CENTS: &str = "cac";
/// Sum of costs (cents), and how many calls had one.
pub const COST_CENTS: &str = "k";
pub const CALLS_WITH_COST: &str = "kn";

/// Calls whose success evaluation reads as a success or not ([`success_of`]), and those that succeeded.
pub const SUCCESS_EVALUATED: &str = "se";
pub const SUCCESSES: &str = "ss";
/// Calls with a cost breakdown.
pub const CALLS_WITH_BREAKDOWN: &str = "kb";

/// Calls that connected ([`crate::analytics::missed::connected`]).
pub const ANSWERED: &str = "an";
/// Missed calls (inbound calls that found no one), and those of them not yet returned.
pub const MISSED: &str = "mi";
pub const MISSED_NOT_RETURNED: &str = "mr";
/// The sum of calls' quality (1 to 5), and how many calls had one.
pub const QUALITY_SUM: &str = "qs";
pub const QUALITY_RATED: &str = "qn";
/// The sum of the AI's confidence in millionths (0 to 1,000,000 a call), and how many calls had one.
pub const CONFIDENCE_MILLIONTHS: &str = "cf";
pub const CONFIDENCE_RATED: &str = "cfn";
/// Outbound calls whose opening was checked for who was calling
/// ([`crate::ending::disclosure`]), and those that missed it.
pub const DISCLOSURES_CHECKED: &str = "dk";
pub const DISCLOSURES_MISSED: &str = "dx";
/// A confidence of 1, in the millionths [`CONFIDENCE_MILLIONTHS`] sums.
pub const CONFIDENCE_SCALE: f64 = 1_000_000.0;

/// How the customer felt, as the assistant's analysis says: `positive`,
/// `neutral` or `negative` (in any case); any other word is `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
    Other,
}

impl Sentiment {
    pub const ALL: [Sentiment; 4] = [Sentiment::Positive, Sentiment::Neutral, Sentiment::Negative, Sentiment::Other];

    pub fn of(text: &str) -> Sentiment {
        match text.trim().to_ascii_lowercase().as_str() {
            "positive" => Sentiment::Positive,
            "neutral" => Sentiment::Neutral,
            "negative" => Sentiment::Negative,
            _ => Sentiment::Other,
        }
    }
}

/// `s<code>`: calls whose customer sentiment is this one.
pub fn sentiment_counter(sentiment: Sentiment) -> &'static str {
    match sentiment {
        Sentiment::Positive => "sP",
        Sentiment::Neutral => "sU",
        Sentiment::Negative => "sN",
        Sentiment::Other => "sO",
    }
}

/// A confidence (0 to 1) in millionths, as [`CONFIDENCE_MILLIONTHS`] sums it.
pub fn confidence_millionths(confidence: f64) -> Option<i64> {
    (confidence.is_finite() && (0.0..=1.0).contains(&confidence)).then(|| (confidence * CONFIDENCE_SCALE).round() as i64)
}

/// `k<code>`: the sum of one part of the cost (cents) over calls with a breakdown.
pub fn cost_counter(component: CostComponent) -> &'static str {
    match component {
        CostComponent::Transport => "kT",
        CostComponent::Stt => "kS",
        CostComponent::Llm => "kL",
        CostComponent::Tts => "kV",
        CostComponent::Vapi => "kP",
        CostComponent::Analysis => "kA",
    }
}

/// `u<code>`: the sum of one kind of usage (tokens, characters).
pub fn usage_counter(usage: Usage) -> &'static str {
    match usage {
        Usage::LlmPromptTokens => "uP",
        Usage::LlmCompletionTokens => "uC",
        Usage::TtsCharacters => "uT",
    }
}

/// `l<code>` and `l<code>n`: the sum of calls' average latency for one part (ms), and how many calls measured it.
pub fn latency_counters(part: LatencyPart) -> (&'static str, &'static str) {
    match part {
        LatencyPart::Turn => ("lT", "lTn"),
        LatencyPart::Model => ("lM", "lMn"),
        LatencyPart::Voice => ("lV", "lVn"),
        LatencyPart::Transcriber => ("lR", "lRn"),
        LatencyPart::Endpointing => ("lE", "lEn"),
    }
}

/// `o<code>`: calls with that outcome (`o_`: no outcome).
pub fn outcome_counter(outcome: Option<CallOutcome>) -> String {
    let code = match outcome {
        None => "_",
        Some(CallOutcome::Booked) => "BK",
        Some(CallOutcome::Transferred) => "TR",
        Some(CallOutcome::InsuranceInquiry) => "II",
        Some(CallOutcome::PaymentPlan) => "PP",
        Some(CallOutcome::Information) => "IF",
        Some(CallOutcome::Voicemail) => "VM",
        Some(CallOutcome::NoAnswer) => "NA",
        Some(CallOutcome::Busy) => "BY",
        Some(CallOutcome::Failed) => "FL",
        Some(CallOutcome::Other) => "OT",
    };
    format!("o{code}")
}

/// `t<code><what>`: per call type, `what` being [`CALLS`], [`COST_CENTS`] or [`CALLS_WITH_COST`].
pub fn type_counter(call_type: CallType, what: &str) -> String {
    let code = match call_type {
        CallType::Inbound => "IB",
        CallType::OutboundLead => "LD",
        CallType::OutboundDebt => "DB",
        CallType::OutboundFollowup => "FU",
        CallType::OutboundCampaign => "CP",
        CallType::OutboundOther => "OT",
    };
    format!("t{code}{what}")
}
