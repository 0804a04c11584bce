//! What a report measured, read from Vapi's shapes: the cost by part
//! (`costBreakdown`, else the `costs[]` items), the turn latencies
//! (`artifact.performanceMetrics`), and transfers (`artifact.transfers`
//! and the `transfer-update` message's `destination`). Values out of
//! bounds are left out and named, as everywhere in a message.

use callops_domain::{
    call::measures::{CallLatency, CostBreakdown, CostComponent, LatencyPart, MAX_LATENCY_MS, MAX_TURNS, MAX_USAGE, Usage},
    ending::report::TransferSeen,
    limits::{self, MAX_COST_CENTS},
};
use serde_json::Value;

use crate::{
    structured_data::lenient_number,
    wire::{RawCostBreakdown, RawCostItem, RawDestination, RawPerformanceMetrics, RawTransfer},
};

fn number(value: Option<&Value>) -> Option<f64> {
    lenient_number(value?).filter(|n| *n >= 0.0)
}

/// Dollars as cents, when within a call's bound; `Err` past it.
fn cents(usd: f64) -> Result<i64, ()> {
    let cents = (usd * 100.0).round();
    if (0.0..=MAX_COST_CENTS as f64).contains(&cents) { Ok(cents as i64) } else { Err(()) }
}

/// A count of tokens or characters, when within its bound; `Err` past it.
fn usage(count: f64) -> Result<i64, ()> {
    let count = count.round();
    if (0.0..=MAX_USAGE as f64).contains(&count) { Ok(count as i64) } else { Err(()) }
}

/// The cost by part: `costBreakdown` when the report has one, else the sum
/// of the `costs[]` items of each type. `None` when neither says anything.
pub(crate) fn cost_breakdown(raw: Option<RawCostBreakdown>, costs: Option<Vec<RawCostItem>>, ignored: &mut Vec<String>) -> Option<CostBreakdown> {
    // Dollars by part, summed before they are rounded to cents.
    let mut dollars: Vec<(CostComponent, f64)> = Vec::new();
    let mut add = |component: CostComponent, usd: Option<f64>| dollars.extend(usd.map(|usd| (component, usd)));
    let mut breakdown = CostBreakdown::default();
    let mut usages: Vec<(Usage, f64)> = Vec::new();
    if let Some(raw) = raw {
        for (component, value) in [
            (CostComponent::Transport, &raw.transport),
            (CostComponent::Stt, &raw.stt),
            (CostComponent::Llm, &raw.llm),
            (CostComponent::Tts, &raw.tts),
            (CostComponent::Vapi, &raw.vapi),
        ] {
            add(component, number(value.as_ref()));
        }
        if let Some(analysis) = raw.analysis_cost_breakdown {
            let parts = [&analysis.summary, &analysis.structured_data, &analysis.success_evaluation, &analysis.structured_output];
            let known: Vec<f64> = parts.iter().filter_map(|v| number(v.as_ref())).collect();
            add(CostComponent::Analysis, (!known.is_empty()).then(|| known.iter().sum()));
        }
        for (kind, value) in [
            (Usage::LlmPromptTokens, &raw.llm_prompt_tokens),
            (Usage::LlmCompletionTokens, &raw.llm_completion_tokens),
            (Usage::TtsCharacters, &raw.tts_characters),
        ] {
            usages.extend(number(value.as_ref()).map(|n| (kind, n)));
        }
    } else {
        for item in costs.unwrap_or_default() {
            let kind = item.kind.as_ref().and_then(Value::as_str).unwrap_or_default();
            let component = match kind {
                "transport" => CostComponent::Transport,
                "transcriber" => CostComponent::Stt,
                "model" => CostComponent::Llm,
                "voice" => CostComponent::Tts,
                "vapi" => CostComponent::Vapi,
                "analysis" => CostComponent::Analysis,
                _ => continue,
            };
            add(component, number(item.cost.as_ref()));
            if kind == "model" {
                usages.extend(number(item.prompt_tokens.as_ref()).map(|n| (Usage::LlmPromptTokens, n)));
                usages.extend(number(item.completion_tokens.as_ref()).map(|n| (Usage::LlmCompletionTokens, n)));
            }
            if kind == "voice" {
                usages.extend(number(item.characters.as_ref()).map(|n| (Usage::TtsCharacters, n)));
            }
        }
    }
    for component in CostComponent::ALL {
        let parts: Vec<f64> = dollars.iter().filter(|(c, _)| *c == component).map(|(_, usd)| *usd).collect();
        if parts.is_empty() {
            continue;
        }
        match cents(parts.iter().sum()) {
            Ok(c) => *breakdown.cents_mut(component) = Some(c),
            Err(()) => ignored.push(format!("costBreakdown.{component:?}: over {MAX_COST_CENTS} cents")),
        }
    }
    for (kind, count) in usages {
        match usage(count) {
            Ok(count) => *breakdown.usage_mut(kind) = Some(breakdown.usage(kind).unwrap_or(0).saturating_add(count).min(MAX_USAGE)),
            Err(()) => ignored.push(format!("costBreakdown.{kind:?}: over {MAX_USAGE}")),
        }
    }
    (!breakdown.is_empty()).then_some(breakdown)
}

/// The call's average latencies by part (ms) and its number of turns.
pub(crate) fn latency(raw: Option<RawPerformanceMetrics>, ignored: &mut Vec<String>) -> Option<CallLatency> {
    let raw = raw?;
    let mut latency = CallLatency::default();
    for (part, value) in [
        (LatencyPart::Turn, &raw.turn_latency_average),
        (LatencyPart::Model, &raw.model_latency_average),
        (LatencyPart::Voice, &raw.voice_latency_average),
        (LatencyPart::Transcriber, &raw.transcriber_latency_average),
        (LatencyPart::Endpointing, &raw.endpointing_latency_average),
    ] {
        let Some(ms) = number(value.as_ref()).map(f64::round) else { continue };
        if ms <= f64::from(MAX_LATENCY_MS) {
            *latency.ms_mut(part) = Some(ms as u32);
        } else {
            ignored.push(format!("artifact.performanceMetrics.{part:?}: over {MAX_LATENCY_MS} ms"));
        }
    }
    latency.turns = raw.turn_latencies.map(|turns| turns.len().min(MAX_TURNS as usize) as u32);
    (!latency.is_empty()).then_some(latency)
}

/// Where a destination leads, for `transferredTo`: a number, else a SIP
/// address, else its name; `None` for another assistant (not staff).
fn staff_destination(destination: &RawDestination) -> Option<Option<String>> {
    fn text(v: &Option<Value>) -> Option<&str> {
        v.as_ref().and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty() && !t.chars().any(char::is_control))
    }
    match text(&destination.kind) {
        Some("assistant") => None,
        _ => Some(
            text(&destination.number)
                .or_else(|| text(&destination.sip_uri))
                .or_else(|| text(&destination.name))
                .map(|to| limits::cut(to, limits::MAX_SHORT_TEXT_BYTES).0),
        ),
    }
}

/// What the transfers record says: the last transfer to staff that reached
/// someone (status `connected` or `completed`, or no status), or that none
/// did; not reported when the report has no record.
pub(crate) fn transfers(record: Option<Vec<RawTransfer>>) -> TransferSeen {
    let Some(record) = record else { return TransferSeen::NotReported };
    let reached = |t: &RawTransfer| match t.status.as_ref() {
        None | Some(Value::Null) => true,
        Some(status) => matches!(status.as_str(), Some("connected" | "completed")),
    };
    record
        .iter()
        .rev()
        .filter(|t| reached(t))
        .find_map(|t| t.destination.as_ref().map_or(Some(None), staff_destination))
        .map_or(TransferSeen::NoneConnected, TransferSeen::To)
}

/// What a `transfer-update` says: a transfer to staff has begun, to there.
pub(crate) fn transfer_update(destination: Option<&RawDestination>) -> TransferSeen {
    match destination.map_or(Some(None), staff_destination) {
        Some(to) => TransferSeen::To(to),
        None => TransferSeen::NotReported,
    }
}
