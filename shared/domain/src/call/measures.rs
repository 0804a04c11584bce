//! What a call measured besides its outcome: what each part of it cost
//! ([`CostBreakdown`]), how quickly the assistant answered
//! ([`CallLatency`]), how the provider's success evaluation reads
//! ([`success_of`]), and a structured output still to come
//! ([`AwaitedOutput`]). Each is stored on the call and counted in the
//! rollups ([`crate::analytics::Tally`]).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{limits::MAX_COST_CENTS, time};

/// The most tokens or characters one call's breakdown may count.
pub const MAX_USAGE: i64 = 100_000_000;
/// The longest latency kept: ten minutes, in milliseconds.
pub const MAX_LATENCY_MS: u32 = 600_000;
/// The most turns one call may count.
pub const MAX_TURNS: u32 = 100_000;

/// What one call cost, by part, in cents (each part rounded on its own, so
/// the parts may differ from the call's `costCents` by a cent or two), and
/// what it used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CostBreakdown {
    /// The telephony provider (Twilio).
    pub transport_cents: Option<i64>,
    /// Speech to text.
    pub stt_cents: Option<i64>,
    /// The language model.
    pub llm_cents: Option<i64>,
    /// Text to speech.
    pub tts_cents: Option<i64>,
    /// Vapi's own fee.
    pub vapi_cents: Option<i64>,
    /// Post-call analysis (summary, structured data and outputs, success evaluation).
    pub analysis_cents: Option<i64>,
    pub llm_prompt_tokens: Option<i64>,
    pub llm_completion_tokens: Option<i64>,
    pub tts_characters: Option<i64>,
}

/// A part of a call's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CostComponent {
    Transport,
    Stt,
    Llm,
    Tts,
    Vapi,
    Analysis,
}

/// What a call used, counted beside its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Usage {
    LlmPromptTokens,
    LlmCompletionTokens,
    TtsCharacters,
}

impl CostComponent {
    pub const ALL: [CostComponent; 6] =
        [CostComponent::Transport, CostComponent::Stt, CostComponent::Llm, CostComponent::Tts, CostComponent::Vapi, CostComponent::Analysis];
}

impl Usage {
    pub const ALL: [Usage; 3] = [Usage::LlmPromptTokens, Usage::LlmCompletionTokens, Usage::TtsCharacters];
}

impl CostBreakdown {
    pub fn cents(&self, component: CostComponent) -> Option<i64> {
        match component {
            CostComponent::Transport => self.transport_cents,
            CostComponent::Stt => self.stt_cents,
            CostComponent::Llm => self.llm_cents,
            CostComponent::Tts => self.tts_cents,
            CostComponent::Vapi => self.vapi_cents,
            CostComponent::Analysis => self.analysis_cents,
        }
    }

    pub fn cents_mut(&mut self, component: CostComponent) -> &mut Option<i64> {
        match component {
            CostComponent::Transport => &mut self.transport_cents,
            CostComponent::Stt => &mut self.stt_cents,
            CostComponent::Llm => &mut self.llm_cents,
            CostComponent::Tts => &mut self.tts_cents,
            CostComponent::Vapi => &mut self.vapi_cents,
            CostComponent::Analysis => &mut self.analysis_cents,
        }
    }

    pub fn usage(&self, usage: Usage) -> Option<i64> {
        match usage {
            Usage::LlmPromptTokens => self.llm_prompt_tokens,
            Usage::LlmCompletionTokens => self.llm_completion_tokens,
            Usage::TtsCharacters => self.tts_characters,
        }
    }

    pub fn usage_mut(&mut self, usage: Usage) -> &mut Option<i64> {
        match usage {
            Usage::LlmPromptTokens => &mut self.llm_prompt_tokens,
            Usage::LlmCompletionTokens => &mut self.llm_completion_tokens,
            Usage::TtsCharacters => &mut self.tts_characters,
        }
    }

    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self == &CostBreakdown::default()
    }

    /// Why it cannot be stored, if it cannot: a part outside 0 to
    /// [`MAX_COST_CENTS`], a usage outside 0 to [`MAX_USAGE`].
    pub fn problem(&self) -> Option<String> {
        if CostComponent::ALL.iter().any(|c| self.cents(*c).is_some_and(|v| !(0..=MAX_COST_CENTS).contains(&v))) {
            return Some(format!("costBreakdown parts must be 0 to {MAX_COST_CENTS} cents"));
        }
        if Usage::ALL.iter().any(|u| self.usage(*u).is_some_and(|v| !(0..=MAX_USAGE).contains(&v))) {
            return Some(format!("costBreakdown usage must be 0 to {MAX_USAGE}"));
        }
        None
    }
}

/// How quickly the assistant answered, on average over the call's turns,
/// in milliseconds, by part, as the provider measured it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallLatency {
    /// From the patient's last word to the assistant's first sound.
    pub turn_ms: Option<u32>,
    /// The language model's first token.
    pub model_ms: Option<u32>,
    /// Text to speech.
    pub voice_ms: Option<u32>,
    pub transcriber_ms: Option<u32>,
    pub endpointing_ms: Option<u32>,
    /// How many turns the averages are over.
    pub turns: Option<u32>,
}

/// A part of a turn's latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LatencyPart {
    Turn,
    Model,
    Voice,
    Transcriber,
    Endpointing,
}

impl LatencyPart {
    pub const ALL: [LatencyPart; 5] = [LatencyPart::Turn, LatencyPart::Model, LatencyPart::Voice, LatencyPart::Transcriber, LatencyPart::Endpointing];
}

impl CallLatency {
    pub fn ms(&self, part: LatencyPart) -> Option<u32> {
        match part {
            LatencyPart::Turn => self.turn_ms,
            LatencyPart::Model => self.model_ms,
            LatencyPart::Voice => self.voice_ms,
            LatencyPart::Transcriber => self.transcriber_ms,
            LatencyPart::Endpointing => self.endpointing_ms,
        }
    }

    pub fn ms_mut(&mut self, part: LatencyPart) -> &mut Option<u32> {
        match part {
            LatencyPart::Turn => &mut self.turn_ms,
            LatencyPart::Model => &mut self.model_ms,
            LatencyPart::Voice => &mut self.voice_ms,
            LatencyPart::Transcriber => &mut self.transcriber_ms,
            LatencyPart::Endpointing => &mut self.endpointing_ms,
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &CallLatency::default()
    }

    pub fn problem(&self) -> Option<String> {
        if LatencyPart::ALL.iter().any(|p| self.ms(*p).is_some_and(|ms| ms > MAX_LATENCY_MS)) {
            return Some(format!("latency must be at most {MAX_LATENCY_MS} ms"));
        }
        self.turns.is_some_and(|t| t > MAX_TURNS).then(|| format!("latency.turns must be at most {MAX_TURNS}"))
    }
}

/// Whether a success evaluation says the call succeeded, by the rubric it
/// looks like; `None` for one that says neither (a checklist, a matrix, or
/// free text), which is kept but not counted:
///
/// - pass/fail: `true`, `pass`, `passed`, `yes`, `success`, `successful`
///   succeed; `false`, `fail`, `failed`, `no`, `unsuccessful` do not;
/// - a number from 1 to 10 (numeric scale) succeeds from 7; a percentage
///   (`%`, or a number above 10 up to 100) from 70;
/// - descriptive: `excellent`, `good` succeed; `fair`, `poor` do not;
/// - Likert: `strongly agree`, `agree` succeed; `neutral`, `disagree`,
///   `strongly disagree` do not.
pub fn success_of(evaluation: &str) -> Option<bool> {
    let text = evaluation.trim().trim_matches(|c: char| c == '"' || c == '.').trim().to_ascii_lowercase();
    match text.as_str() {
        "true" | "pass" | "passed" | "yes" | "success" | "successful" | "excellent" | "good" | "strongly agree" | "agree" => return Some(true),
        "false" | "fail" | "failed" | "no" | "unsuccessful" | "fair" | "poor" | "neutral" | "disagree" | "strongly disagree" => return Some(false),
        _ => {}
    }
    let (number, percent) = match text.strip_suffix('%') {
        Some(number) => (number.trim(), true),
        None => (text.as_str(), false),
    };
    let value: f64 = number.parse().ok().filter(|n: &f64| n.is_finite())?;
    match (percent, value) {
        (false, v) if (1.0..=10.0).contains(&v) => Some(v >= 7.0),
        (_, v) if (0.0..=100.0).contains(&v) && (percent || v > 10.0) => Some(v >= 70.0),
        _ => None,
    }
}

/// The structured output a call's agent expects and its report did not
/// carry: the call is read again from the provider until it comes or
/// [`AwaitedOutput::TRIES`] reads have found nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitedOutput {
    /// The output's name.
    pub name: String,
    /// Reads made so far.
    pub tries: u32,
    #[serde(with = "time::ms")]
    pub next_read_at: DateTime<Utc>,
}

impl AwaitedOutput {
    /// How many times the call is read again.
    pub const TRIES: u32 = 3;

    /// How long after the report (and after each read that found nothing) the next read comes.
    pub fn wait(tries: u32) -> Duration {
        Duration::minutes(match tries {
            0 => 2,
            1 => 5,
            _ => 10,
        })
    }

    /// Awaiting `name` from a report recorded at `now`.
    pub fn new(name: &str, now: DateTime<Utc>) -> AwaitedOutput {
        AwaitedOutput { name: name.to_string(), tries: 0, next_read_at: time::to_millis(now + AwaitedOutput::wait(0)) }
    }

    /// After a read at `now` that found nothing: the next read, or `None` when that was the last.
    pub fn after_miss(&self, now: DateTime<Utc>) -> Option<AwaitedOutput> {
        let tries = self.tries + 1;
        (tries < AwaitedOutput::TRIES).then(|| AwaitedOutput {
            name: self.name.clone(),
            tries,
            next_read_at: time::to_millis(now + AwaitedOutput::wait(tries)),
        })
    }
}

/// A structured output's name as Vapi takes it: 1 to 40 characters, without control characters.
pub fn valid_output_name(name: &str) -> bool {
    let length = name.chars().count();
    (1..=40).contains(&length) && !name.chars().any(char::is_control) && name.trim() == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_evaluations_read_by_their_rubric() {
        for yes in ["true", "PASS", "\"true\"", "8", "7", "10", "85%", "70", "Excellent", "good.", "Strongly Agree"] {
            assert_eq!(success_of(yes), Some(true), "{yes}");
        }
        for no in ["false", "Fail", "6", "1", "69%", "45", "fair", "Poor", "neutral", "disagree"] {
            assert_eq!(success_of(no), Some(false), "{no}");
        }
        for neither in ["", "maybe", "0", "11%x", "150", "-3", "NaN", "inf", "{\"a\": true}"] {
            assert_eq!(success_of(neither), None, "{neither}");
        }
    }

    #[test]
    fn an_awaited_output_is_read_again_a_bounded_number_of_times() {
        let now = time::parse("2024-07-27T21:00:00Z").unwrap();
        let first = AwaitedOutput::new("callops", now);
        assert_eq!(first.next_read_at, now + Duration::minutes(2));
        let second = first.after_miss(now).unwrap();
        let third = second.after_miss(now).unwrap();
        assert_eq!((second.tries, third.tries, third.next_read_at), (1, 2, now + Duration::minutes(10)));
        assert_eq!(third.after_miss(now), None, "three reads, then no more");
    }

    #[test]
    fn out_of_bounds_measures_are_named() {
        let mut cost = CostBreakdown { llm_cents: Some(3), ..CostBreakdown::default() };
        assert_eq!(cost.problem(), None);
        cost.tts_characters = Some(MAX_USAGE + 1);
        assert!(cost.problem().is_some());
        let latency = CallLatency { turn_ms: Some(MAX_LATENCY_MS + 1), ..CallLatency::default() };
        assert!(latency.problem().is_some());
    }
}
