//! Call analytics as arithmetic: what one call adds to the dashboard's
//! counters ([`Tally`]), how counters become the figures of
//! `GET /api/analytics/calls` ([`CallStats`]), and how a window splits into
//! whole days, whole hours and the partial hours at its ends
//! ([`WindowPlan`]), so that reads cost the same however many calls there are.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    call::CallLog,
    call::CallOutcome,
    call::CallStatus,
    call::CallType,
    call::measures::{CallLatency, CostBreakdown, CostComponent, LatencyPart, MAX_LATENCY_MS, MAX_USAGE, Usage, success_of},
    time,
};

/// The part of a call the analytics count: what the analytics indexes
/// project, so that reading calls for a figure never reads transcripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallFacts {
    pub id: String,
    pub voice_agent_id: String,
    pub call_type: CallType,
    #[serde(with = "time::ms::option", default)]
    pub call_started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub outcome: Option<CallOutcome>,
    #[serde(default)]
    pub duration: Option<u32>,
    pub insurance_verified: bool,
    pub payment_plan_discussed: bool,
    #[serde(default)]
    pub payment_plan_amount: Option<i64>,
    pub collection_attempt: bool,
    pub collection_success: bool,
    #[serde(default)]
    pub collection_amount: Option<i64>,
    #[serde(default)]
    pub cost_cents: Option<i64>,
    #[serde(default)]
    pub cost_breakdown: Option<CostBreakdown>,
    #[serde(default)]
    pub success_evaluation: Option<String>,
    #[serde(default)]
    pub latency: Option<CallLatency>,
    pub status: CallStatus,
    #[serde(with = "time::ms::option", default)]
    pub returned_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub customer_sentiment: Option<String>,
    #[serde(default)]
    pub call_quality: Option<u8>,
    #[serde(default)]
    pub ai_confidence: Option<f64>,
    /// Whether the call missed what it had to say of who was calling
    /// (`compliance.disclosure`, [`crate::ending::disclosure`]); `None`: not
    /// checked. Stored on the call item beside its compliance record, so
    /// the analytics indexes carry it.
    #[serde(default)]
    pub disclosure_missed: Option<bool>,
}

impl CallFacts {
    /// The call's [`CallFacts::disclosure_missed`]: what its compliance record says of its disclosure.
    pub fn disclosure_missed_of(call: &CallLog) -> Option<bool> {
        call.compliance.as_ref()?.disclosure.as_ref().map(|d| !d.ok())
    }
}

impl From<&CallLog> for CallFacts {
    fn from(call: &CallLog) -> Self {
        CallFacts {
            id: call.id.clone().into(),
            voice_agent_id: call.voice_agent_id.clone().into(),
            call_type: call.call_type,
            call_started_at: call.call_started_at,
            outcome: call.outcome,
            duration: call.duration,
            insurance_verified: call.insurance_verified,
            payment_plan_discussed: call.payment_plan_discussed,
            payment_plan_amount: call.payment_plan_amount,
            collection_attempt: call.collection_attempt,
            collection_success: call.collection_success,
            collection_amount: call.collection_amount,
            cost_cents: call.cost_cents,
            cost_breakdown: call.cost_breakdown.clone(),
            success_evaluation: call.success_evaluation.clone(),
            latency: call.latency.clone(),
            status: call.status,
            returned_at: call.returned_at,
            customer_sentiment: call.customer_sentiment.clone(),
            call_quality: call.call_quality,
            ai_confidence: call.ai_confidence,
            disclosure_missed: CallFacts::disclosure_missed_of(call),
        }
    }
}

/// Named counters. A call's tally is what it adds to every rollup it falls
/// in; rollups are sums of tallies. Zero counters are not kept. Sums are
/// checked: one that would leave `i64` is a [`TallyOverflow`], never a
/// wrapped total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally(BTreeMap<String, i64>);

/// A sum of counters that does not fit in an `i64`: the rollups hold values
/// no bounded calls can add up to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the analytics counter {counter:?} overflowed")]
pub struct TallyOverflow {
    pub counter: String,
}

impl From<TallyOverflow> for crate::error::DomainError {
    fn from(err: TallyOverflow) -> Self {
        crate::error::DomainError::Unavailable(err.to_string())
    }
}

impl Tally {
    /// What `call` contributes.
    pub fn of(call: &CallLog) -> Tally {
        Tally::of_facts(&CallFacts::from(call))
    }

    /// What a call contributes: nothing unless it has a start time, since
    /// every window is on `callStartedAt`. Each counter is set once.
    pub fn of_facts(call: &CallFacts) -> Tally {
        let mut tally = Tally::default();
        if call.call_started_at.is_none() {
            return tally;
        }
        tally.put(CALLS, 1);
        tally.put(BOOKED, i64::from(call.outcome == Some(CallOutcome::Booked)));
        if let Some(duration) = call.duration {
            tally.put(DURATION_SECONDS, i64::from(duration));
            tally.put(CALLS_WITH_DURATION, 1);
        }
        tally.put(INSURANCE_VERIFIED, i64::from(call.insurance_verified));
        if call.payment_plan_discussed {
            tally.put(PAYMENT_PLANS, 1);
            tally.put(PAYMENT_PLAN_CENTS, call.payment_plan_amount.unwrap_or(0));
        }
        if call.collection_attempt {
            tally.put(COLLECTION_ATTEMPTS, 1);
            tally.put(COLLECTION_AMOUNT_CENTS, call.collection_amount.unwrap_or(0));
            if call.collection_success {
                tally.put(COLLECTION_SUCCESSES, 1);
                tally.put(COLLECTED_CENTS, call.collection_amount.unwrap_or(0));
            }
        }
        if let Some(cost) = call.cost_cents {
            tally.put(COST_CENTS, cost);
            tally.put(CALLS_WITH_COST, 1);
            tally.put(&type_counter(call.call_type, COST_CENTS), cost);
            tally.put(&type_counter(call.call_type, CALLS_WITH_COST), 1);
        }
        if let Some(success) = call.success_evaluation.as_deref().and_then(success_of) {
            tally.put(SUCCESS_EVALUATED, 1);
            tally.put(SUCCESSES, i64::from(success));
        }
        if let Some(breakdown) = call.cost_breakdown.as_ref().filter(|b| !b.is_empty()) {
            tally.put(CALLS_WITH_BREAKDOWN, 1);
            for component in CostComponent::ALL {
                tally.put(cost_counter(component), breakdown.cents(component).unwrap_or(0));
            }
            for usage in Usage::ALL {
                tally.put(usage_counter(usage), breakdown.usage(usage).unwrap_or(0));
            }
        }
        if let Some(latency) = &call.latency {
            for part in LatencyPart::ALL {
                if let Some(ms) = latency.ms(part) {
                    let (sum, count) = latency_counters(part);
                    tally.put(sum, i64::from(ms));
                    tally.put(count, 1);
                }
            }
        }
        tally.put(&outcome_counter(call.outcome), 1);
        tally.put(&type_counter(call.call_type, CALLS), 1);
        tally.put(ANSWERED, i64::from(crate::analytics::missed::connected(call)));
        if crate::analytics::missed::is_missed(call) {
            tally.put(MISSED, 1);
            tally.put(MISSED_NOT_RETURNED, i64::from(call.returned_at.is_none()));
        }
        if let Some(sentiment) = call.customer_sentiment.as_deref() {
            tally.put(sentiment_counter(Sentiment::of(sentiment)), 1);
        }
        if let Some(quality) = call.call_quality.filter(|q| (1..=5).contains(q)) {
            tally.put(QUALITY_SUM, i64::from(quality));
            tally.put(QUALITY_RATED, 1);
        }
        if let Some(millionths) = call.ai_confidence.and_then(confidence_millionths) {
            tally.put(CONFIDENCE_MILLIONTHS, millionths);
            tally.put(CONFIDENCE_RATED, 1);
        }
        if let Some(missed) = call.disclosure_missed {
            tally.put(DISCLOSURES_CHECKED, 1);
            tally.put(DISCLOSURES_MISSED, i64::from(missed));
        }
        tally
    }

    /// What a call adds to its hour's profile: calls, answered and booked
    /// in the quarter hour of the hour it started in (`q<0-3><n|a|b>`).
    pub fn hour_profile_of(call: &CallFacts) -> Tally {
        Tally::profile_of(call, |started| format!("q{}", started.minute() / 15))
    }

    /// What a call adds to its UTC day's profile: calls, answered and
    /// booked in the quarter hour of the day it started in (`<00-95><n|a|b>`).
    pub fn day_profile_of(call: &CallFacts) -> Tally {
        Tally::profile_of(call, |started| format!("{:02}", started.hour() * 4 + started.minute() / 15))
    }

    fn profile_of(call: &CallFacts, quarter: impl Fn(&DateTime<Utc>) -> String) -> Tally {
        let mut tally = Tally::default();
        let Some(started) = &call.call_started_at else { return tally };
        let quarter = quarter(started);
        tally.put(&format!("{quarter}{}", profile::CALLS), 1);
        tally.put(&format!("{quarter}{}", profile::ANSWERED), i64::from(crate::analytics::missed::connected(call)));
        tally.put(&format!("{quarter}{}", profile::BOOKED), i64::from(call.outcome == Some(CallOutcome::Booked)));
        tally
    }

    /// Counters by name, each name once (a rollup item's attributes).
    pub fn from_counters(counters: impl IntoIterator<Item = (String, i64)>) -> Tally {
        let mut tally = Tally::default();
        for (name, value) in counters {
            tally.put(&name, value);
        }
        tally
    }

    fn put(&mut self, name: &str, value: i64) {
        if value == 0 {
            self.0.remove(name);
        } else {
            self.0.insert(name.to_string(), value);
        }
    }

    fn bump(&mut self, name: &str, by: i64) -> Result<(), TallyOverflow> {
        let overflow = || TallyOverflow { counter: name.to_string() };
        // A counter already held is changed in place: sums add up most counters many times.
        if let Some(value) = self.0.get_mut(name) {
            *value = value.checked_add(by).ok_or_else(overflow)?;
            if *value == 0 {
                self.0.remove(name);
            }
            return Ok(());
        }
        self.put(name, by);
        Ok(())
    }

    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    pub fn add(&mut self, other: &Tally) -> Result<(), TallyOverflow> {
        for (name, value) in &other.0 {
            self.bump(name, *value)?;
        }
        Ok(())
    }

    /// `self - other`: what must be added to a rollup to turn `other`'s
    /// contribution into `self`'s.
    pub fn minus(&self, other: &Tally) -> Result<Tally, TallyOverflow> {
        let mut delta = self.clone();
        for (name, value) in &other.0 {
            let negated = value.checked_neg().ok_or_else(|| TallyOverflow { counter: name.clone() })?;
            delta.bump(name, negated)?;
        }
        Ok(delta)
    }

    /// The sum of `tallies`.
    pub fn sum<'a>(tallies: impl IntoIterator<Item = &'a Tally>) -> Result<Tally, TallyOverflow> {
        let mut total = Tally::default();
        for tally in tallies {
            total.add(tally)?;
        }
        Ok(total)
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    pub fn counters(&self) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().map(|(name, value)| (name.as_str(), *value))
    }

    /// Why these counters cannot be a sum of calls' tallies, if they cannot:
    /// a negative counter, a part larger than its whole (more bookings than
    /// calls, more successes than attempts), outcomes or call types that do
    /// not add up to the calls, or an amount beyond what its calls may hold
    /// ([`crate::limits`]). Empty when they can.
    pub fn impossibilities(&self) -> Vec<String> {
        use crate::limits::{MAX_AMOUNT_CENTS, MAX_COST_CENTS, MAX_DURATION_SECONDS};
        let mut found: Vec<String> = self.counters().filter(|(_, v)| *v < 0).map(|(name, v)| format!("{name} is negative ({v})")).collect();
        let at_most = |found: &mut Vec<String>, part: &str, whole_name: &str, whole: Option<i64>| {
            let value = self.get(part);
            match whole {
                Some(whole) if value <= whole => {}
                Some(whole) => found.push(format!("{part} ({value}) exceeds what {whole_name} allows ({whole})")),
                None => found.push(format!("{part} ({value}) cannot be checked against {whole_name}: too large")),
            }
        };
        let calls = self.get(CALLS);
        let latency_counts = LatencyPart::ALL.map(|p| latency_counters(p).1);
        for part in [
            BOOKED,
            CALLS_WITH_DURATION,
            INSURANCE_VERIFIED,
            PAYMENT_PLANS,
            COLLECTION_ATTEMPTS,
            CALLS_WITH_COST,
            SUCCESS_EVALUATED,
            CALLS_WITH_BREAKDOWN,
            ANSWERED,
            MISSED,
            QUALITY_RATED,
            CONFIDENCE_RATED,
            DISCLOSURES_CHECKED,
        ]
        .into_iter()
        .chain(latency_counts)
        {
            at_most(&mut found, part, CALLS, Some(calls));
        }
        at_most(&mut found, MISSED_NOT_RETURNED, MISSED, Some(self.get(MISSED)));
        at_most(&mut found, DISCLOSURES_MISSED, DISCLOSURES_CHECKED, Some(self.get(DISCLOSURES_CHECKED)));
        let sentiments = Sentiment::ALL.iter().try_fold(0i64, |total, s| total.checked_add(self.get(sentiment_counter(*s))));
        if sentiments.is_none_or(|total| total > calls) {
            found.push(format!("the sentiment counters add up to more than the {calls} calls"));
        }
        if self.get(QUALITY_SUM) < self.get(QUALITY_RATED) {
            found.push(format!("{QUALITY_SUM} ({}) is below one a rated call ({})", self.get(QUALITY_SUM), self.get(QUALITY_RATED)));
        }
        at_most(&mut found, COLLECTION_SUCCESSES, COLLECTION_ATTEMPTS, Some(self.get(COLLECTION_ATTEMPTS)));
        at_most(&mut found, SUCCESSES, SUCCESS_EVALUATED, Some(self.get(SUCCESS_EVALUATED)));
        let mut bounded = vec![
            (DURATION_SECONDS, CALLS_WITH_DURATION, i64::from(MAX_DURATION_SECONDS)),
            (COST_CENTS, CALLS_WITH_COST, MAX_COST_CENTS),
            (PAYMENT_PLAN_CENTS, PAYMENT_PLANS, MAX_AMOUNT_CENTS),
            (COLLECTED_CENTS, COLLECTION_SUCCESSES, MAX_AMOUNT_CENTS),
            (COLLECTION_AMOUNT_CENTS, COLLECTION_ATTEMPTS, MAX_AMOUNT_CENTS),
        ];
        bounded.extend(CostComponent::ALL.map(|c| (cost_counter(c), CALLS_WITH_BREAKDOWN, MAX_COST_CENTS)));
        bounded.extend(Usage::ALL.map(|u| (usage_counter(u), CALLS_WITH_BREAKDOWN, MAX_USAGE)));
        bounded.extend(LatencyPart::ALL.map(|p| (latency_counters(p).0, latency_counters(p).1, i64::from(MAX_LATENCY_MS))));
        bounded.push((QUALITY_SUM, QUALITY_RATED, 5));
        bounded.push((CONFIDENCE_MILLIONTHS, CONFIDENCE_RATED, CONFIDENCE_SCALE as i64));
        for (sum, count, bound) in bounded {
            at_most(&mut found, sum, &format!("{count} x {bound}"), self.get(count).checked_mul(bound));
        }
        let outcomes = CallOutcome::ALL.iter().map(|o| Some(*o)).chain([None]).try_fold(0i64, |total, o| total.checked_add(self.get(&outcome_counter(o))));
        let types = CallType::ALL.iter().try_fold(0i64, |total, t| total.checked_add(self.get(&type_counter(*t, CALLS))));
        for (what, total) in [("the outcome counters", outcomes), ("the call type counters", types)] {
            if total != Some(calls) {
                found.push(format!("{what} add up to {} calls, not {calls}", total.map_or("too many".to_string(), |t| t.to_string())));
            }
        }
        found
    }
}

mod counters;
mod figures;
pub mod missed;
pub mod profile;
mod window_plan;

pub use counters::*;
pub use figures::*;
pub use window_plan::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{call::CallStatus, call::NewCall, time};

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn call(started: Option<&str>) -> CallLog {
        let mut call = CallLog::new(
            NewCall {
                org_id: "o".into(),
                voice_agent_id: "a".into(),
                phone_number: "+15550100".into(),
                call_type: CallType::OutboundDebt,
                status: CallStatus::Completed,
                attempt: 1,
            },
            "c1".into(),
            at("2024-01-01T00:00:00Z"),
        );
        call.call_started_at = started.map(at);
        call
    }

    #[test]
    fn counter_names_are_distinct() {
        let mut names: Vec<String> = [
            CALLS,
            BOOKED,
            DURATION_SECONDS,
            CALLS_WITH_DURATION,
            INSURANCE_VERIFIED,
            PAYMENT_PLANS,
            PAYMENT_PLAN_CENTS,
            COLLECTION_ATTEMPTS,
            COLLECTION_SUCCESSES,
            COLLECTED_CENTS,
            COLLECTION_AMOUNT_CENTS,
            COST_CENTS,
            CALLS_WITH_COST,
            SUCCESS_EVALUATED,
            SUCCESSES,
            CALLS_WITH_BREAKDOWN,
            ANSWERED,
            MISSED,
            MISSED_NOT_RETURNED,
            QUALITY_SUM,
            QUALITY_RATED,
            CONFIDENCE_MILLIONTHS,
            CONFIDENCE_RATED,
            DISCLOSURES_CHECKED,
            DISCLOSURES_MISSED,
        ]
        .iter()
        .map(|n| n.to_string())
        .collect();
        names.extend(CostComponent::ALL.map(|c| cost_counter(c).to_string()));
        names.extend(Usage::ALL.map(|u| usage_counter(u).to_string()));
        names.extend(LatencyPart::ALL.into_iter().flat_map(|p| [latency_counters(p).0.to_string(), latency_counters(p).1.to_string()]));
        names.extend(CallOutcome::ALL.iter().map(|o| outcome_counter(Some(*o))).chain([outcome_counter(None)]));
        names.extend(Sentiment::ALL.map(|s| sentiment_counter(s).to_string()));
        for t in CallType::ALL {
            names.extend([CALLS, COST_CENTS, CALLS_WITH_COST].iter().map(|w| type_counter(*t, w)));
        }
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
        assert!(!names.iter().any(|n| n == "PK" || n == "SK" || n == "kind" || n == "rev"));
    }

    #[test]
    fn a_checked_disclosure_counts_and_a_miss_counts_as_missed() {
        use crate::call::compliance::Disclosure;
        let mut c = call(Some("2024-02-07T09:30:00Z"));
        assert_eq!(CallStats::from_tally(&Tally::of(&c)).disclosures, Disclosures { checked: 0, missed: 0 }, "not checked: not counted");
        let record = serde_json::json!({"decidedAt": "2024-02-07T09:29:00.000Z", "zones": [], "states": [], "rules": [],
            "disclosure": {"practiceNamed": true, "callbackStated": false}});
        c.compliance = Some(serde_json::from_value(record).unwrap());
        let missed = Tally::of(&c);
        assert_eq!(CallStats::from_tally(&missed).disclosures, Disclosures { checked: 1, missed: 1 });
        c.compliance.as_mut().unwrap().disclosure = Some(Disclosure { practice_named: true, callback_stated: None });
        let given = Tally::of(&c);
        assert_eq!(CallStats::from_tally(&given).disclosures, Disclosures { checked: 1, missed: 0 });
        // A report that corrects the transcript moves the rollup from one to the other.
        assert_eq!(given.minus(&missed).unwrap().get(DISCLOSURES_MISSED), -1);
        // More misses than checks cannot be a sum of calls.
        let forged = Tally::from_counters([(CALLS.to_string(), 1), (DISCLOSURES_CHECKED.to_string(), 1), (DISCLOSURES_MISSED.to_string(), 2)]);
        assert!(forged.impossibilities().iter().any(|f| f.starts_with(DISCLOSURES_MISSED)), "{:?}", forged.impossibilities());
    }

    #[test]
    fn a_call_without_a_start_counts_nowhere() {
        assert!(Tally::of(&call(None)).is_zero());
    }

    #[test]
    fn a_tally_counts_what_the_dashboard_shows() {
        let mut c = call(Some("2024-02-07T09:30:00Z"));
        c.outcome = Some(CallOutcome::Booked);
        c.duration = Some(90);
        c.payment_plan_discussed = true;
        c.payment_plan_amount = Some(12_000);
        c.collection_attempt = true;
        c.collection_success = true;
        c.collection_amount = Some(5_000);
        c.cost_cents = Some(42);
        let t = Tally::of(&c);
        let stats = CallStats::from_tally(&t);
        assert_eq!(stats.total_calls, 1);
        assert_eq!(stats.booking_rate, Some(100.0));
        assert_eq!(stats.avg_call_time_seconds, Some(90.0));
        assert_eq!(stats.payment_plans, PaymentPlans { count: 1, total_amount_cents: 12_000 });
        assert_eq!(stats.collections.total_collected_cents, 5_000);
        assert_eq!(stats.collections.collected_on_success_cents, 5_000);
        assert_eq!(stats.collections.collection_rate, Some(100.0));
        // An attempt that failed but names an amount counts in the total, as the migration document sums it, not in the successful sum.
        let mut failed = c.clone();
        failed.collection_success = false;
        let both = CallStats::from_tally(&{
            let mut two = t.clone();
            two.add(&Tally::of(&failed)).unwrap();
            two
        });
        assert_eq!((both.collections.attempts, both.collections.successes), (2, 1));
        assert_eq!((both.collections.total_collected_cents, both.collections.collected_on_success_cents), (10_000, 5_000));
        assert_eq!(stats.cost, Cost { total_cents: 42, avg_per_call_cents: Some(42.0) });
        assert_eq!(cost_by_type(&t)[0].call_type, CallType::OutboundDebt);

        // A correction is a delta: the old contribution out, the new one in.
        let mut corrected = c.clone();
        corrected.outcome = Some(CallOutcome::PaymentPlan);
        corrected.cost_cents = Some(50);
        let delta = Tally::of(&corrected).minus(&t).unwrap();
        assert_eq!(delta.get(BOOKED), -1);
        assert_eq!(delta.get(&outcome_counter(Some(CallOutcome::PaymentPlan))), 1);
        assert_eq!(delta.get(COST_CENTS), 8);
        assert_eq!(delta.get(CALLS), 0);
        let mut rollup = t.clone();
        rollup.add(&delta).unwrap();
        assert_eq!(rollup, Tally::of(&corrected));
        assert!(Tally::of(&c).minus(&t).unwrap().is_zero());
        assert!(rollup.impossibilities().is_empty(), "{:?}", rollup.impossibilities());
    }

    #[test]
    fn cost_parts_success_and_latency_count_where_the_call_has_them() {
        let mut c = call(Some("2024-02-07T09:30:00Z"));
        c.cost_breakdown = Some(CostBreakdown { llm_cents: Some(6), tts_cents: Some(7), llm_prompt_tokens: Some(150), ..CostBreakdown::default() });
        c.success_evaluation = Some("8".into());
        c.latency = Some(CallLatency { turn_ms: Some(1000), model_ms: Some(400), ..CallLatency::default() });
        let mut other = call(Some("2024-02-07T10:30:00Z"));
        other.id = "c2".into();
        other.success_evaluation = Some("false".into());
        other.latency = Some(CallLatency { turn_ms: Some(800), ..CallLatency::default() });
        let mut unreadable = call(Some("2024-02-07T11:30:00Z"));
        unreadable.id = "c3".into();
        unreadable.success_evaluation = Some("a checklist".into());
        let t = Tally::sum([&Tally::of(&c), &Tally::of(&other), &Tally::of(&unreadable)]).unwrap();
        assert_eq!(SuccessFigures::from_tally(&t), SuccessFigures { evaluated: 2, successes: 1, success_rate: Some(50.0) });
        let parts = cost_by_component(&t);
        assert_eq!(
            (parts[2].component, parts[2].total_cents, parts[2].avg_per_call_cents),
            (CostComponent::Llm, 6, Some(6.0)),
            "over the calls with a breakdown"
        );
        assert_eq!(usage_totals(&t).llm_prompt_tokens, 150);
        let latency = LatencyFigures::from_tally(&t);
        assert_eq!((latency.calls_measured, latency.avg_turn_ms, latency.avg_model_ms, latency.avg_voice_ms), (2, Some(900.0), Some(400.0), None));
        assert!(t.impossibilities().is_empty(), "{:?}", t.impossibilities());
        let mut bad = t.clone();
        bad.put(SUCCESSES, 3);
        assert!(bad.impossibilities().iter().any(|f| f.starts_with("ss (3) exceeds")), "{:?}", bad.impossibilities());
    }

    #[test]
    fn sums_are_checked_and_impossible_totals_are_named() {
        let mut huge = Tally::from_counters([(COST_CENTS.to_string(), i64::MAX)]);
        let one = Tally::from_counters([(COST_CENTS.to_string(), 1)]);
        assert_eq!(huge.add(&one), Err(TallyOverflow { counter: COST_CENTS.into() }), "never a wrapped, negative total");
        assert!(Tally::default().minus(&Tally::from_counters([(CALLS.to_string(), i64::MIN)])).is_err());
        assert!(Tally::sum([&huge, &one]).is_err());

        let mut c = call(Some("2024-02-07T09:30:00Z"));
        c.cost_cents = Some(42);
        let real = Tally::of(&c);
        assert!(real.impossibilities().is_empty());
        let mut bad = real.clone();
        bad.put(COST_CENTS, crate::limits::MAX_COST_CENTS + 1);
        bad.put(BOOKED, 2);
        bad.put(COLLECTION_SUCCESSES, -1);
        let found = bad.impossibilities().join("; ");
        for expected in ["k (1000001) exceeds", "bk (2) exceeds", "cs is negative"] {
            assert!(found.contains(expected), "{found}");
        }
        let mut lost = real.clone();
        lost.put(CALLS, 3);
        assert!(lost.impossibilities().iter().any(|f| f.contains("outcome counters add up to 1 calls, not 3")), "{:?}", lost.impossibilities());
    }
}
