//! The figures the dashboard shows, computed from a [`Tally`]: totals,
//! rates, averages, the outcome distribution and the cost by call type.

use serde::Serialize;

use super::*;
use crate::{
    call::CallOutcome,
    call::CallType,
    call::measures::{CostComponent, LatencyPart, Usage},
};

/// A percentage of `part` in `whole`; `None` when `whole` is zero.
fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole != 0).then(|| part as f64 * 100.0 / whole as f64)
}

fn mean(sum: i64, count: i64) -> Option<f64> {
    (count != 0).then(|| sum as f64 / count as f64)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPlans {
    pub count: i64,
    pub total_amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collections {
    pub attempts: i64,
    pub successes: i64,
    /// `collectionAmount` summed over every collection attempt, as the
    /// migration document's query sums it.
    pub total_collected_cents: i64,
    /// The same over the successful attempts only.
    pub collected_on_success_cents: i64,
    pub collection_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub total_cents: i64,
    pub avg_per_call_cents: Option<f64>,
}

/// Missed calls (inbound calls that found no one, [`crate::analytics::missed`]) and
/// how many of them no later connected call with the number has returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissedCalls {
    pub missed: i64,
    pub not_returned: i64,
}

/// The figures of `GET /api/analytics/calls`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStats {
    pub total_calls: i64,
    /// Calls that connected ([`crate::analytics::missed::connected`]).
    pub answered: i64,
    pub missed_calls: MissedCalls,
    pub booking_rate: Option<f64>,
    pub avg_call_time_seconds: Option<f64>,
    pub insurance_verified: i64,
    pub payment_plans: PaymentPlans,
    pub collections: Collections,
    pub cost: Cost,
    pub success_evaluation: SuccessFigures,
    pub disclosures: Disclosures,
}

/// Outbound calls whose transcript was checked for what every
/// artificial-voice call must say of who is calling (47 CFR 64.1200(b):
/// the practice's name at the start; for telemarketing, a callback number),
/// and those that missed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disclosures {
    pub checked: i64,
    pub missed: i64,
}

/// How many calls the provider's success evaluation says succeeded, of
/// those it evaluated in a way that reads as yes or no.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessFigures {
    pub evaluated: i64,
    pub successes: i64,
    /// % of `evaluated`; null when none.
    pub success_rate: Option<f64>,
}

impl SuccessFigures {
    pub fn from_tally(t: &Tally) -> SuccessFigures {
        SuccessFigures { evaluated: t.get(SUCCESS_EVALUATED), successes: t.get(SUCCESSES), success_rate: percent(t.get(SUCCESSES), t.get(SUCCESS_EVALUATED)) }
    }
}

/// The total of one part of the cost over the calls with a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentCost {
    pub component: CostComponent,
    pub total_cents: i64,
    /// Over the calls with a breakdown.
    pub avg_per_call_cents: Option<f64>,
}

/// Every part of the cost, in [`CostComponent::ALL`]'s order.
pub fn cost_by_component(t: &Tally) -> Vec<ComponentCost> {
    CostComponent::ALL
        .iter()
        .map(|component| ComponentCost {
            component: *component,
            total_cents: t.get(cost_counter(*component)),
            avg_per_call_cents: mean(t.get(cost_counter(*component)), t.get(CALLS_WITH_BREAKDOWN)),
        })
        .collect()
}

/// What the calls with a breakdown used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    pub calls_with_breakdown: i64,
    pub llm_prompt_tokens: i64,
    pub llm_completion_tokens: i64,
    pub tts_characters: i64,
}

pub fn usage_totals(t: &Tally) -> UsageTotals {
    UsageTotals {
        calls_with_breakdown: t.get(CALLS_WITH_BREAKDOWN),
        llm_prompt_tokens: t.get(usage_counter(Usage::LlmPromptTokens)),
        llm_completion_tokens: t.get(usage_counter(Usage::LlmCompletionTokens)),
        tts_characters: t.get(usage_counter(Usage::TtsCharacters)),
    }
}

/// The assistant's response times: for each part, the mean over the calls
/// that measured it of each call's average (ms).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyFigures {
    /// Calls with a turn latency.
    pub calls_measured: i64,
    pub avg_turn_ms: Option<f64>,
    pub avg_model_ms: Option<f64>,
    pub avg_voice_ms: Option<f64>,
    pub avg_transcriber_ms: Option<f64>,
    pub avg_endpointing_ms: Option<f64>,
}

impl LatencyFigures {
    pub fn from_tally(t: &Tally) -> LatencyFigures {
        let avg = |part| {
            let (sum, count) = latency_counters(part);
            mean(t.get(sum), t.get(count))
        };
        LatencyFigures {
            calls_measured: t.get(latency_counters(LatencyPart::Turn).1),
            avg_turn_ms: avg(LatencyPart::Turn),
            avg_model_ms: avg(LatencyPart::Model),
            avg_voice_ms: avg(LatencyPart::Voice),
            avg_transcriber_ms: avg(LatencyPart::Transcriber),
            avg_endpointing_ms: avg(LatencyPart::Endpointing),
        }
    }
}

impl CallStats {
    pub fn from_tally(t: &Tally) -> CallStats {
        CallStats {
            total_calls: t.get(CALLS),
            answered: t.get(ANSWERED),
            missed_calls: MissedCalls { missed: t.get(MISSED), not_returned: t.get(MISSED_NOT_RETURNED) },
            booking_rate: percent(t.get(BOOKED), t.get(CALLS)),
            avg_call_time_seconds: mean(t.get(DURATION_SECONDS), t.get(CALLS_WITH_DURATION)),
            insurance_verified: t.get(INSURANCE_VERIFIED),
            payment_plans: PaymentPlans { count: t.get(PAYMENT_PLANS), total_amount_cents: t.get(PAYMENT_PLAN_CENTS) },
            collections: Collections {
                attempts: t.get(COLLECTION_ATTEMPTS),
                successes: t.get(COLLECTION_SUCCESSES),
                total_collected_cents: t.get(COLLECTION_AMOUNT_CENTS),
                collected_on_success_cents: t.get(COLLECTED_CENTS),
                collection_rate: percent(t.get(COLLECTION_SUCCESSES), t.get(COLLECTION_ATTEMPTS)),
            },
            cost: Cost { total_cents: t.get(COST_CENTS), avg_per_call_cents: mean(t.get(COST_CENTS), t.get(CALLS_WITH_COST)) },
            success_evaluation: SuccessFigures::from_tally(t),
            disclosures: Disclosures { checked: t.get(DISCLOSURES_CHECKED), missed: t.get(DISCLOSURES_MISSED) },
        }
    }
}

/// One entry of the sentiment distribution; `null` for calls with none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentimentShare {
    pub sentiment: Option<Sentiment>,
    pub count: i64,
    /// % of all calls.
    pub percentage: f64,
}

/// The customers' sentiment over the calls: each sentiment in
/// [`Sentiment::ALL`]'s order, then the calls with none, zeros included.
pub fn sentiment_distribution(t: &Tally) -> Vec<SentimentShare> {
    let total = t.get(CALLS);
    let counted: i64 = Sentiment::ALL.iter().map(|s| t.get(sentiment_counter(*s))).sum();
    Sentiment::ALL
        .iter()
        .map(|s| (Some(*s), t.get(sentiment_counter(*s))))
        .chain([(None, total.saturating_sub(counted).max(0))])
        .map(|(sentiment, count)| SentimentShare { sentiment, count, percentage: percent(count, total).unwrap_or(0.0) })
        .collect()
}

/// The call quality (1 to 5) and the AI's confidence (0 to 1) the
/// assistant's analysis gave, each the mean over the calls that have one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ratings {
    pub avg_call_quality: Option<f64>,
    pub calls_with_quality: i64,
    pub avg_ai_confidence: Option<f64>,
    pub calls_with_confidence: i64,
}

impl Ratings {
    pub fn from_tally(t: &Tally) -> Ratings {
        Ratings {
            avg_call_quality: mean(t.get(QUALITY_SUM), t.get(QUALITY_RATED)),
            calls_with_quality: t.get(QUALITY_RATED),
            avg_ai_confidence: mean(t.get(CONFIDENCE_MILLIONTHS), t.get(CONFIDENCE_RATED)).map(|m| m / CONFIDENCE_SCALE),
            calls_with_confidence: t.get(CONFIDENCE_RATED),
        }
    }
}

/// One entry of the outcome distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeShare {
    pub outcome: Option<CallOutcome>,
    pub count: i64,
    pub percentage: f64,
}

/// The outcome distribution: by count descending, then outcome name, calls
/// with no outcome as one `null` entry; percentages of all calls.
pub fn outcome_distribution(t: &Tally) -> Vec<OutcomeShare> {
    let total = t.get(CALLS);
    let mut shares: Vec<OutcomeShare> = CallOutcome::ALL
        .iter()
        .map(|o| Some(*o))
        .chain([None])
        .filter_map(|outcome| {
            let count = t.get(&outcome_counter(outcome));
            (count > 0).then(|| OutcomeShare { outcome, count, percentage: percent(count, total).unwrap_or(0.0) })
        })
        .collect();
    let name = |o: &Option<CallOutcome>| o.map_or("", CallOutcome::as_str);
    shares.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| name(&a.outcome).cmp(name(&b.outcome))));
    shares
}

/// Cost per call type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeCost {
    pub call_type: CallType,
    pub calls: i64,
    pub total_cents: i64,
    pub avg_per_call_cents: Option<f64>,
}

pub fn cost_by_type(t: &Tally) -> Vec<TypeCost> {
    CallType::ALL
        .iter()
        .map(|call_type| TypeCost {
            call_type: *call_type,
            calls: t.get(&type_counter(*call_type, CALLS)),
            total_cents: t.get(&type_counter(*call_type, COST_CENTS)),
            avg_per_call_cents: mean(t.get(&type_counter(*call_type, COST_CENTS)), t.get(&type_counter(*call_type, CALLS_WITH_COST))),
        })
        .filter(|cost| cost.calls > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stats_are_null_where_the_api_says() {
        let stats = CallStats::from_tally(&Tally::default());
        assert_eq!(stats.total_calls, 0);
        assert_eq!(stats.booking_rate, None);
        assert_eq!(stats.avg_call_time_seconds, None);
        assert_eq!(stats.collections.collection_rate, None);
        assert_eq!(stats.cost.avg_per_call_cents, None);
        assert!(outcome_distribution(&Tally::default()).is_empty());
    }

    #[test]
    fn outcomes_sort_by_count_then_name_with_null_as_one_entry() {
        let mut t = Tally::default();
        for (outcome, n) in [(Some(CallOutcome::Voicemail), 2), (Some(CallOutcome::Booked), 2), (None, 3), (Some(CallOutcome::Busy), 1)] {
            t.bump(&outcome_counter(outcome), n).unwrap();
            t.bump(CALLS, n).unwrap();
        }
        let shares = outcome_distribution(&t);
        let order: Vec<_> = shares.iter().map(|s| s.outcome).collect();
        assert_eq!(order, vec![None, Some(CallOutcome::Booked), Some(CallOutcome::Voicemail), Some(CallOutcome::Busy)]);
        assert_eq!(shares[0].percentage, 37.5);
    }
}
