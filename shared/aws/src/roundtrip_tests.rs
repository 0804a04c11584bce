//! Properties of the store against the embedded engine: whatever a writer
//! accepts (calls, agents, campaigns, do-not-call entries, the rollups the
//! calls move) is read back exactly as it was written; whatever it refuses
//! is refused with a code and leaves nothing behind. The values are drawn
//! wide: times across chrono's whole range, numbers beyond every bound,
//! text at and past its limit, ids too long for a key, odd characters.

use std::collections::BTreeMap;

use callops_domain::{
    CallLog, CallOutcome, CallStatus, CallType, DomainError, NewCall, VoiceAgent,
    agent::AgentInput,
    agent::secret::SecretNamespace,
    analytics::Tally,
    call::CallText,
    campaign::{Campaign, CampaignStatus},
    limits, phone, time,
};
use chrono::{DateTime, Utc};
use proptest::{prelude::*, test_runner::TestRunner};

use crate::store::{AgentStore, CallStore, CampaignStore, DoNotCallStore, RollupCheckStore, RollupStore};
use crate::{DynamoStore, embedded::fresh_store};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() })
}

/// A time of any instant chrono holds, mostly a supported one to the millisecond.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        40 => time::SUPPORTED_MILLIS.prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default()),
        1 => any::<i64>().prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)),
        1 => (time::SUPPORTED_MILLIS, 1u32..999_999).prop_map(|(ms, ns)| DateTime::from_timestamp_millis(ms).unwrap_or_default() + chrono::Duration::nanoseconds(i64::from(ns))),
    ]
}

/// Text near a bound: short and odd, just under, at, or just over `max` bytes.
fn text(max: usize) -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        30 => "\\PC{0,40}",
        2 => Just("é".repeat(max / 2)),
        1 => Just("x".repeat(max + 1)),
        2 => Just("\u{0}\u{1}\u{7f}\u{2028}\u{fffd}".to_string()),
    ])
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![40 => "[a-zA-Z0-9-]{1,40}", 2 => "\\PC{0,30}", 1 => Just("i".repeat(limits::MAX_ID_BYTES + 1)), 1 => Just("a#b".into())]
}

fn money(max: i64) -> impl Strategy<Value = Option<i64>> {
    prop::option::of(prop_oneof![40 => 0..=max, 1 => any::<i64>(), 1 => Just(max + 1), 1 => Just(-1i64)])
}

fn call_strategy() -> impl Strategy<Value = CallLog> {
    let times = (instant(), instant(), prop::option::of(instant()), prop::option::of(instant()), prop::option::of(instant()), prop::option::of(instant()));
    let texts = (
        text(limits::MAX_TRANSCRIPT_BYTES),
        text(limits::MAX_SUMMARY_BYTES),
        text(limits::MAX_NOTES_BYTES),
        text(limits::MAX_ENDED_REASON_BYTES),
        text(limits::MAX_SHORT_TEXT_BYTES),
        text(limits::MAX_SHORT_TEXT_BYTES),
    );
    let numbers = (
        prop::option::of(prop_oneof![40 => 0..=limits::MAX_DURATION_SECONDS, 1 => any::<u32>()]),
        money(limits::MAX_COST_CENTS),
        money(limits::MAX_AMOUNT_CENTS),
        money(limits::MAX_AMOUNT_CENTS),
        prop::option::of(prop_oneof![40 => 1u8..=5, 1 => any::<u8>()]),
        prop::option::of(prop_oneof![40 => 0.0f64..=1.0, 1 => any::<f64>(), 1 => Just(1e-200)]),
    );
    let rest = (
        (id(), prop_oneof![40 => Just("front".to_string()), 1 => "\\PC{0,70}"], prop_oneof![40 => Just("+12125550142".to_string()), 1 => "\\PC{0,70}"]),
        (prop::option::of(id()), prop::option::of(id()), prop::option::of(prop_oneof![40 => "https://rec\\.example/[a-z0-9]{1,20}", 1 => "\\PC{0,30}"])),
        (
            prop::sample::select(CallStatus::ALL.to_vec()),
            prop::sample::select(CallType::ALL.to_vec()),
            prop::option::of(prop::sample::select(CallOutcome::ALL.to_vec())),
            any::<u32>(),
            any::<[bool; 6]>(),
            prop::collection::btree_map(prop_oneof![40 => "[a-z_]{1,10}", 1 => "\\PC{0,10}"], "\\PC{0,30}", 0..4),
        ),
    );
    let usage = || prop::option::of(prop_oneof![40 => 0..=callops_domain::call::measures::MAX_USAGE, 1 => any::<i64>()]);
    let part = || prop::option::of(prop_oneof![40 => 0..=limits::MAX_COST_CENTS, 1 => any::<i64>()]);
    let ms = || prop::option::of(prop_oneof![40 => 0..=callops_domain::call::measures::MAX_LATENCY_MS, 1 => any::<u32>()]);
    let measures = (
        prop::option::of((part(), part(), part(), part(), part(), part(), usage(), usage(), usage())),
        prop::option::of((ms(), ms(), ms(), ms(), ms(), prop::option::of(any::<u32>()))),
        prop::option::of((prop_oneof![40 => "[a-z]{1,40}", 1 => "\\PC{0,60}"], any::<u32>(), instant())),
        text(limits::MAX_SHORT_TEXT_BYTES),
    );
    (times, texts, numbers, rest, measures).prop_map(|(times, texts, numbers, rest, measures)| {
        let (created, updated, started, ended, scheduled, follow_up) = times;
        let (transcript, summary, notes, reason, provider, name) = texts;
        let (duration, cost, plan, collected, quality, confidence) = numbers;
        let ((id, agent, number), (vapi, campaign, recording), (status, call_type, outcome, attempt, flags, variables)) = rest;
        let new = NewCall { org_id: "acme".into(), voice_agent_id: agent.into(), phone_number: number, call_type, status, attempt };
        let mut call = CallLog::new(new, id.into(), Utc::now());
        (call.created_at, call.updated_at) = (created, updated);
        (call.call_started_at, call.call_ended_at, call.scheduled_at, call.follow_up_date) = (started, ended, scheduled, follow_up);
        for (field, value) in [
            (CallText::Transcript, transcript),
            (CallText::Summary, summary),
            (CallText::Notes, notes),
            (CallText::EndedReason, reason),
            (CallText::InsuranceProvider, provider),
            (CallText::CustomerName, name),
        ] {
            // Half through the writer's own cut, half as sent: the store must hold both to its bounds.
            match value {
                Some(value) if flags[0] => call.set_text(field, &value),
                other => *call.text_mut(field) = other,
            }
        }
        (call.duration, call.cost_cents, call.payment_plan_amount, call.collection_amount) = (duration, cost, plan, collected);
        (call.call_quality, call.ai_confidence, call.outcome) = (quality, confidence, outcome);
        (call.vapi_call_id, call.campaign_id, call.recording_url) = (vapi, campaign, recording);
        (call.insurance_verified, call.payment_plan_discussed, call.collection_attempt, call.collection_success, call.imported) =
            (flags[1], flags[2], flags[3], flags[4], flags[5]);
        call.variable_values = variables;
        let (breakdown, latency, awaited, evaluation) = measures;
        call.cost_breakdown =
            breakdown.map(|(transport, stt, llm, tts, vapi, analysis, prompt, completion, characters)| callops_domain::call::measures::CostBreakdown {
                transport_cents: transport,
                stt_cents: stt,
                llm_cents: llm,
                tts_cents: tts,
                vapi_cents: vapi,
                analysis_cents: analysis,
                llm_prompt_tokens: prompt,
                llm_completion_tokens: completion,
                tts_characters: characters,
            });
        call.latency = latency.map(|(turn_ms, model_ms, voice_ms, transcriber_ms, endpointing_ms, turns)| callops_domain::call::measures::CallLatency {
            turn_ms,
            model_ms,
            voice_ms,
            transcriber_ms,
            endpointing_ms,
            turns,
        });
        call.awaiting_output = awaited.map(|(name, tries, next_read_at)| callops_domain::call::measures::AwaitedOutput { name, tries, next_read_at });
        call.success_evaluation = evaluation;
        call
    })
}

fn refused(err: &DomainError) -> bool {
    matches!(err, DomainError::Invalid { .. })
}

/// Runs `property` `cases` times on one engine.
fn check<S: Strategy>(cases: u32, strategy: S, property: impl Fn(&tokio::runtime::Runtime, &DynamoStore, S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_engine, store) = rt.block_on(fresh_store());
    runner(cases).run(&strategy, |value| property(&rt, &store, value)).unwrap();
}

/// Counts the cases a writer took and the ones it refused, and checks that
/// both happened often enough for the property to say something.
#[derive(Default)]
struct Cases {
    taken: std::sync::atomic::AtomicUsize,
    refused: std::sync::atomic::AtomicUsize,
}

impl Cases {
    fn count(&self, taken: bool) {
        let counter = if taken { &self.taken } else { &self.refused };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    #[track_caller]
    fn assert_both(&self, at_least: usize) {
        let (taken, refused) = (self.taken.load(std::sync::atomic::Ordering::Relaxed), self.refused.load(std::sync::atomic::Ordering::Relaxed));
        assert!(taken >= at_least && refused >= at_least, "taken {taken}, refused {refused}: the cases must show both");
    }
}

#[test]
fn a_call_the_store_takes_reads_back_as_it_was_and_one_it_refuses_leaves_nothing() {
    let seen = Cases::default();
    let case = std::sync::atomic::AtomicUsize::new(0);
    check(200, call_strategy(), |rt, store, mut call| {
        // Each case its own id and Vapi call id (shrinking repeats values; a Vapi id another case
        // took is a conflict, not a refusal), bad ids staying bad.
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        call.id = format!("{n}{}", call.id).into();
        call.vapi_call_id = call.vapi_call_id.take().map(|id| format!("{n}{id}"));
        let written = rt.block_on(store.create_call(&call));
        let read = rt.block_on(store.get_call("acme", &call.id));
        seen.count(written.is_ok());
        match written {
            Ok(_) => {
                prop_assert!(call.check_storable().is_ok());
                let read = read.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(read.map(|stored| stored.call), Some(call.clone()));
            }
            Err(err) => {
                prop_assert!(refused(&err), "{:?}", err);
                if limits::is_key_safe(&call.id) {
                    prop_assert!(matches!(read, Ok(None)), "nothing stored for a refused call");
                }
            }
        }
        Ok(())
    });
    seen.assert_both(30);
}

#[test]
fn an_agent_the_store_takes_reads_back_as_it_was() {
    let input = (
        prop_oneof![20 => "[a-z0-9_-]{1,20}", 1 => "\\PC{0,70}"],
        prop_oneof![20 => "[A-Za-z][A-Za-z .'-]{0,40}".prop_map(Some), 1 => text(300)],
        prop_oneof![10 => Just("America/New_York".to_string()), 10 => Just("Pacific/Apia".to_string()), 1 => "\\PC{0,20}"],
        prop::option::of(prop_oneof![20 => Just(("08:00".to_string(), "21:00".to_string())), 1 => ("[0-2][0-9]:[0-5][0-9]", "[0-2][0-9]:[0-5][0-9]")]),
        prop::option::of(prop_oneof![20 => 1u32..=100, 1 => any::<u32>()]),
        prop::option::of(
            prop_oneof![20 => (1u32..=10, prop::collection::vec(1u32..=10_080, 1..4)), 1 => (0u32..12, prop::collection::vec(0u32..20_000, 0..12))],
        ),
        prop_oneof![10 => Just(None), 10 => Just(Some("env:CALLOPS_SECRET_acme_T".to_string())), 1 => prop::option::of("\\PC{0,40}")],
        (
            prop::option::of(prop_oneof![10 => "[a-z-]{1,40}", 1 => "\\PC{0,60}"]),
            prop::option::of(prop::collection::vec(prop_oneof![10 => prop::sample::select(vec!["mon", "sat", "sun", "Tuesday"]), 1 => Just("someday")], 0..8)),
            prop::option::of(prop_oneof![10 => Just(("sat", "09:00", "13:00")), 1 => Just(("sun", "13:00", "09:00"))]),
        ),
    );
    let seen = Cases::default();
    check(96, input, |rt, store, (id, name, zone, hours, max, retry, secret, (output, closed, by_day))| {
        let mut json = serde_json::json!({"id": id, "name": name, "vapiAssistantId": "asst", "timeZone": zone});
        if let Some((start, end)) = hours {
            json["callingHours"] = serde_json::json!({"start": start, "end": end});
        }
        if let Some(max) = max {
            json["maxConcurrentCalls"] = max.into();
        }
        if let Some((attempts, delays)) = retry {
            json["retryPolicy"] = serde_json::json!({"maxAttempts": attempts, "delaysMinutes": delays});
        }
        if let Some(output) = output {
            json["structuredOutputName"] = output.into();
        }
        if let Some(closed) = closed {
            json["closedDays"] = closed.into();
        }
        if let Some((day, start, end)) = by_day {
            json["hoursByDay"] = serde_json::json!({day: {"start": start, "end": end}});
        }
        match secret {
            Some(secret) => json["twilioNumber"] = serde_json::json!({"number": "+12125550100", "accountSid": "AC1", "authTokenSecret": secret}),
            None => json["vapiPhoneNumberId"] = "pn".into(),
        }
        let Ok(input) = serde_json::from_value::<AgentInput>(json) else {
            seen.count(false);
            return Ok(());
        };
        let agent: VoiceAgent = match input.create("acme", Utc::now(), &SecretNamespace::local()) {
            Ok(agent) => agent,
            Err(err) => {
                seen.count(false);
                prop_assert!(refused(&err), "{:?}", err);
                return Ok(());
            }
        };
        seen.count(true);
        match rt.block_on(store.put_agent(&agent, true, &crate::store::audit::test_entry("acme"))) {
            Ok(()) => prop_assert_eq!(rt.block_on(store.get_agent("acme", &agent.id)).ok().flatten(), Some(agent)),
            Err(DomainError::Conflict { .. }) => {}
            Err(err) => prop_assert!(false, "an agent the input made was not stored: {err:?}"),
        }
        Ok(())
    });
    seen.assert_both(10);
}

#[test]
fn a_campaign_the_store_takes_reads_back_as_it_was() {
    let campaign = (id(), text(250), text(600), any::<u32>(), instant(), instant(), any::<bool>());
    let seen = Cases::default();
    check(96, campaign, |rt, store, (id, name, purpose, per_minute, starts, created, cancelled)| {
        let campaign = Campaign {
            id,
            org_id: "acme".into(),
            name: name.unwrap_or_default(),
            voice_agent_id: "front".into(),
            call_purpose: purpose.clone(),
            call_type: callops_domain::CallType::ALL[per_minute as usize % callops_domain::CallType::ALL.len()],
            status: if cancelled { CampaignStatus::Cancelled } else { CampaignStatus::Active },
            calls_per_minute: per_minute % 700,
            starts_at: starts,
            end_at: cancelled.then_some(created),
            voicemail_message: purpose.clone(),
            calls: per_minute,
            rejected: 0,
            refusals: Vec::new(),
            created_at: created,
            updated_at: created,
        };
        let written = rt.block_on(store.create_campaign(&campaign, Some("print"), &crate::store::audit::test_entry("acme")));
        seen.count(written.is_ok());
        match written {
            Ok(()) => {
                let read = rt.block_on(store.get_campaign("acme", &campaign.id)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(read, Some((campaign, Some("print".to_string()))));
            }
            Err(DomainError::Conflict { .. }) => {}
            Err(err) => prop_assert!(refused(&err), "{:?}", err),
        }
        Ok(())
    });
    seen.assert_both(10);
}

#[test]
fn a_do_not_call_number_from_anywhere_is_listed_found_and_removed_in_one_form() {
    let entry = (prop_oneof!["[+]?[0-9 ().-]{0,24}", "\\PC{0,30}", "[0-9]{1,40}"], text(600));
    check(128, entry, |rt, store, (sent, reason)| {
        let Some(key) = phone::do_not_call_key(&sent) else { return Ok(()) };
        let change = |action: &str, reason: Option<String>| crate::store::DoNotCallChange {
            at: callops_domain::time::to_millis(Utc::now()),
            action: action.into(),
            channel: None,
            source: None,
            reason,
            by: callops_domain::caller::Actor { sub: "test".into(), name: None },
        };
        match rt.block_on(store.add_do_not_call("acme", &key, &change("added", reason.clone()), &crate::store::audit::test_entry("acme"))) {
            Ok((entry, _)) => {
                prop_assert_eq!(&entry.phone_number, &key);
                prop_assert!(rt.block_on(store.is_on_do_not_call("acme", &key)).unwrap_or(false));
                let listed = rt.block_on(store.list_do_not_call("acme", 500, None)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(listed.items.iter().any(|e| e.phone_number == key));
                // Removed by the number as it was sent, in whatever form.
                prop_assert_eq!(phone::do_not_call_key(&sent), Some(key.clone()));
                prop_assert!(rt.block_on(store.remove_do_not_call("acme", &key, &change("removed", None), &crate::store::audit::test_entry("acme"))).is_ok());
                prop_assert!(!rt.block_on(store.is_on_do_not_call("acme", &key)).unwrap_or(true));
            }
            Err(err) => prop_assert!(refused(&err) && reason.is_some_and(|r| r.len() > 500), "{:?}", err),
        }
        Ok(())
    });
}

#[test]
fn the_rollups_are_the_sum_of_the_calls_that_moved_them() {
    let started = (1_700_000_000_000i64..1_700_000_000_000 + 3 * 86_400_000).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default());
    let one = (started, call_strategy());
    let seen = Cases::default();
    check(24, prop::collection::vec(one, 1..12), |rt, store, calls| {
        let mut kept = BTreeMap::new();
        for (started, mut call) in calls {
            call.call_started_at = Some(started);
            call.org_id = "sums".into();
            call.id = callops_domain::call::new_call_id();
            let written = rt.block_on(store.create_call(&call)).is_ok();
            seen.count(written);
            if written {
                kept.insert(call.id.clone(), call);
            }
        }
        let report = rt.block_on(store.verify_rollups()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(report.is_clean(), "{:?}", report);
        let range =
            (DateTime::from_timestamp_millis(1_699_920_000_000).unwrap_or_default(), DateTime::from_timestamp_millis(1_700_352_000_000).unwrap_or_default());
        let read = rt.block_on(store.day_rollups("sums", crate::rollup::ALL_AGENTS, range.into())).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = Tally::sum(&rt.block_on(store.all_calls()).unwrap_or_default().iter().filter(|c| c.org_id == "sums").map(Tally::of).collect::<Vec<_>>())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read, expected);
        prop_assert!(kept.values().all(|call| call.check_storable().is_ok()));
        Ok(())
    });
    seen.assert_both(10);
}
