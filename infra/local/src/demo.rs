//! Demo data for the local host: a practice (`demo`) with two voice agents and
//! a few hundred varied calls over the last 30 days (missed ones among them,
//! some returned and some waiting, with their patients' consent to be called
//! back), so a newcomer sees a living dashboard at once. Generated from a fixed seed: the same mix every
//! time, relative to now.

use callops_aws::DynamoStore;
use callops_aws::store::{AgentStore, CallStore, CampaignStore, ConsentStore};
use callops_domain::campaign::{Campaign, CampaignStatus};
use callops_domain::records::audit::{Action, AuditEntry};
use callops_domain::{
    CallLog, CallOutcome, CallStatus, CallType, CallingHours, DomainError, NewCall, RetryPolicy, VoiceAgent, agent::DEFAULT_MAX_CONCURRENT_CALLS,
    call::new_call_id, time,
};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

pub const DEMO_ORG: &str = "demo";
pub const DEMO_CALLS: usize = 320;
const DEMO_CAMPAIGN: &str = "spring-cleaning";

const CUSTOMERS: &[&str] = &[
    "Maria Gonzalez",
    "James Carter",
    "Aisha Khan",
    "Tom Becker",
    "Linda Nguyen",
    "Robert Smith",
    "Priya Patel",
    "Daniel Kim",
    "Emily Johnson",
    "Carlos Rivera",
    "Grace Lee",
    "Michael Brown",
];
const INSURERS: &[&str] = &["Delta Dental", "MetLife", "Cigna", "Aetna", "Guardian", "UnitedHealthcare"];
const STAFF: &[&str] = &["Dr. Alvarez", "front desk", "billing office", "Nurse Kelly"];

/// The demo practice's two agents. Their calling hours cover the whole day so
/// that calls flow whenever someone tries the system.
pub fn demo_agents(org_id: &str, now: DateTime<Utc>) -> Vec<VoiceAgent> {
    let now = time::to_millis(now);
    let agent = |id: &str, name: &str, assistant: &str, number: &str, zone: &str| VoiceAgent {
        id: id.into(),
        org_id: org_id.into(),
        name: name.into(),
        vapi_assistant_id: assistant.into(),
        vapi_phone_number_id: Some(number.into()),
        twilio_number: None,
        time_zone: zone.parse().expect("a valid IANA zone"),
        calling_hours: CallingHours::WHOLE_DAY,
        hours_by_day: Default::default(),
        closed_days: Vec::new(),
        max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
        retry_policy: RetryPolicy::default(),
        follow_up_calls: true,
        structured_output_name: None,
        imported_from: None,
        created_at: now,
        updated_at: now,
    };
    vec![
        agent("front-desk", "Front Desk (Riverside Dental)", "asst-front-desk-demo", "pn-front-desk-demo", "America/New_York"),
        agent("billing", "Billing & Collections", "asst-billing-demo", "pn-billing-demo", "America/Chicago"),
    ]
}

/// Number prefixes (all but the last four digits) across the world's
/// zones, a few hours apart: at any moment one of them is in its morning.
const AROUND_THE_CLOCK: &[&str] = &[
    "+1212555",  // New York
    "+1312555",  // Chicago
    "+1303555",  // Denver
    "+1310555",  // Los Angeles
    "+1808555",  // Honolulu
    "+1671555",  // Guam
    "+6129876",  // Sydney
    "+8131234",  // Tokyo
    "+656234",   // Singapore
    "+662123",   // Bangkok
    "+91222345", // Mumbai
    "+9714234",  // Dubai
    "+7495123",  // Moscow
    "+30210123", // Athens
    "+2721123",  // Cape Town
    "+49301234", // Berlin
    "+44207946", // London
    "+55212345", // Rio de Janeiro
    "+1787555",  // Puerto Rico
];

/// A number whose callee's local time is now between 09:00 and 13:00 (so a
/// call to it is inside every calling-hours rule now and for some hours
/// more), ending in `last4`. `None` only if no prefix is (which the list is
/// made to rule out).
pub fn number_in_its_morning(last4: u16, now: DateTime<Utc>) -> Option<String> {
    static ZONES: std::sync::OnceLock<Vec<(&'static str, Vec<chrono_tz::Tz>)>> = std::sync::OnceLock::new();
    let zones = ZONES.get_or_init(|| AROUND_THE_CLOCK.iter().map(|p| (*p, callops_domain::placement::callee::zones_of_number(&format!("{p}0000")))).collect());
    zones
        .iter()
        .find(|(_, zones)| !zones.is_empty() && zones.iter().all(|zone| (9..13).contains(&chrono::Timelike::hour(&now.with_timezone(zone)))))
        .map(|(prefix, _)| format!("{prefix}{:04}", last4 % 10_000))
        .filter(|number| callops_domain::phone::normalize(number).is_ok())
}

/// One demo call, started `started` (or never, for a few failed dials).
fn demo_call(rng: &mut StdRng, org_id: &str, agent: &VoiceAgent, now: DateTime<Utc>) -> CallLog {
    let billing = agent.id == "billing";
    let call_type = if billing {
        *[CallType::OutboundDebt, CallType::OutboundDebt, CallType::OutboundDebt, CallType::Inbound, CallType::OutboundFollowup].choose(rng).expect("non-empty")
    } else {
        *[
            CallType::Inbound,
            CallType::Inbound,
            CallType::Inbound,
            CallType::Inbound,
            CallType::OutboundLead,
            CallType::OutboundFollowup,
            CallType::OutboundCampaign,
            CallType::OutboundOther,
        ]
        .choose(rng)
        .expect("non-empty")
    };
    let outcomes: &[(CallOutcome, u32)] = if billing {
        &[
            (CallOutcome::PaymentPlan, 22),
            (CallOutcome::Information, 12),
            (CallOutcome::NoAnswer, 16),
            (CallOutcome::Voicemail, 12),
            (CallOutcome::Busy, 5),
            (CallOutcome::Transferred, 8),
            (CallOutcome::Failed, 3),
            (CallOutcome::Other, 6),
            (CallOutcome::InsuranceInquiry, 6),
            (CallOutcome::Booked, 4),
        ]
    } else {
        &[
            (CallOutcome::Booked, 30),
            (CallOutcome::InsuranceInquiry, 16),
            (CallOutcome::Information, 14),
            (CallOutcome::Transferred, 8),
            (CallOutcome::NoAnswer, 8),
            (CallOutcome::Voicemail, 7),
            (CallOutcome::Busy, 3),
            (CallOutcome::Failed, 3),
            (CallOutcome::PaymentPlan, 4),
            (CallOutcome::Other, 4),
        ]
    };
    let outcome = outcomes.choose_weighted(rng, |(_, w)| *w).expect("weights are positive").0;
    let status = match outcome {
        CallOutcome::NoAnswer | CallOutcome::Busy => CallStatus::Missed,
        CallOutcome::Voicemail => CallStatus::Voicemail,
        CallOutcome::Failed => CallStatus::Failed,
        _ => CallStatus::Completed,
    };
    let customer = *CUSTOMERS.choose(rng).expect("non-empty");
    let phone = format!("+1202555{:04}", rng.random_range(100..200));

    // Calls cluster in office hours of the agent's zone, spread over 30 days.
    let day = rng.random_range(0..30);
    let local_minute = rng.random_range(8 * 60..19 * 60);
    let local_midnight = (now - Duration::days(day)).with_timezone(&agent.time_zone).date_naive();
    let local = local_midnight.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(local_minute);
    let started = local
        .and_local_timezone(agent.time_zone)
        .earliest()
        .map(|t| t.with_timezone(&Utc) + Duration::seconds(rng.random_range(0..60)) + Duration::milliseconds(rng.random_range(0..1000)))
        .unwrap_or(now - Duration::days(day))
        // Every demo call has ended by now (the longest lasts nine minutes).
        .min(now - Duration::minutes(15));

    let mut call = CallLog::new(
        NewCall {
            org_id: org_id.into(),
            voice_agent_id: agent.id.clone(),
            phone_number: phone,
            call_type,
            status,
            attempt: if call_type.is_outbound() { 1 } else { 0 },
        },
        new_call_id(),
        started,
    );
    call.customer_name = Some(customer.into());
    call.outcome = (!rng.random_bool(0.04)).then_some(outcome);

    // A few dials never connected: no start time, nothing said.
    if status == CallStatus::Failed && rng.random_bool(0.5) {
        call.ended_reason = Some("twilio-failed-to-connect-call".into());
        call.vapi_call_id = Some(format!("vapi-{}", call.id));
        return call;
    }

    let connected = status == CallStatus::Completed;
    let seconds: u32 = if connected { rng.random_range(45..540) } else { rng.random_range(5..40) };
    call.call_started_at = Some(time::to_millis(started));
    call.call_ended_at = Some(time::to_millis(started + Duration::seconds(i64::from(seconds))));
    call.duration = (!rng.random_bool(0.03)).then_some(seconds);
    call.vapi_call_id = Some(format!("vapi-{}", call.id));
    call.recording_url = connected.then(|| format!("https://storage.vapi.ai/demo/{}.wav", call.id));
    // Vapi bills about 7 to 15 cents a minute; a few costs never arrived.
    let cents_per_minute = rng.random_range(7..=15) as f64;
    call.cost_cents = (!rng.random_bool(0.05)).then(|| ((f64::from(seconds) / 60.0) * cents_per_minute).round().max(1.0) as i64);
    call.ended_reason = Some(
        match status {
            CallStatus::Missed if outcome == CallOutcome::Busy => "customer-busy",
            CallStatus::Missed => "customer-did-not-answer",
            CallStatus::Voicemail => "voicemail",
            CallStatus::Failed => "pipeline-error-openai-llm-failed",
            _ if outcome == CallOutcome::Transferred => "assistant-forwarded-call",
            _ => *["customer-ended-call", "assistant-ended-call", "assistant-said-end-call-phrase"].choose(rng).expect("non-empty"),
        }
        .to_string(),
    );
    call.updated_at = call.call_ended_at.unwrap_or(call.created_at);
    if call.call_type.is_outbound() {
        call.scheduled_at = Some(time::to_millis(started - Duration::seconds(rng.random_range(1..5))));
        call.created_at = time::to_millis(started - Duration::hours(rng.random_range(1..48)));
        call.call_purpose = Some(
            match call.call_type {
                CallType::OutboundDebt => "Collect the outstanding balance or set up a payment plan",
                CallType::OutboundLead => "Follow up on a web enquiry and offer a first appointment",
                CallType::OutboundFollowup => "Check in after the last visit",
                CallType::OutboundCampaign => "Six-month cleaning reminder",
                _ => "Confirm contact details",
            }
            .to_string(),
        );
        if call.call_type == CallType::OutboundCampaign {
            call.campaign_id = Some(DEMO_CAMPAIGN.into());
        }
    }
    if !connected {
        return call;
    }

    call.appointment_set = outcome == CallOutcome::Booked;
    call.insurance_verified = matches!(outcome, CallOutcome::InsuranceInquiry | CallOutcome::Booked) && rng.random_bool(0.6);
    call.insurance_provider = call.insurance_verified.then(|| INSURERS.choose(rng).expect("non-empty").to_string());
    call.payment_plan_discussed = outcome == CallOutcome::PaymentPlan || (billing && rng.random_bool(0.15));
    call.payment_plan_amount = call.payment_plan_discussed.then(|| rng.random_range(20..600) * 500).filter(|_| rng.random_bool(0.9));
    if call.call_type == CallType::OutboundDebt {
        call.collection_attempt = true;
        call.collection_success = rng.random_bool(0.4);
        call.collection_amount = call.collection_success.then(|| rng.random_range(25..800) * 100);
    }
    call.transferred_to_staff = outcome == CallOutcome::Transferred;
    call.transferred_to = call.transferred_to_staff.then(|| STAFF.choose(rng).expect("non-empty").to_string());
    call.follow_up_required = rng.random_bool(0.2);
    call.follow_up_date = call.follow_up_required.then(|| time::to_millis(started + Duration::days(rng.random_range(2..14))));
    call.call_quality = Some(rng.random_range(3..=5)).filter(|_| rng.random_bool(0.9));
    call.customer_sentiment = Some(["positive", "positive", "neutral", "negative"].choose(rng).expect("non-empty").to_string());
    call.ai_confidence = Some((rng.random_range(70..100) as f64) / 100.0);
    let (summary, transcript) = conversation(outcome, customer, call.insurance_provider.as_deref());
    call.summary = Some(summary);
    call.transcript = Some(transcript);
    call.call_notes = call.follow_up_required.then(|| "Patient asked to be called back next week.".to_string());
    call
}

fn conversation(outcome: CallOutcome, customer: &str, insurer: Option<&str>) -> (String, String) {
    let first = customer.split(' ').next().unwrap_or(customer);
    let (summary, middle) = match outcome {
        CallOutcome::Booked => (
            format!("{customer} booked a cleaning and exam for next Tuesday at 10:00."),
            "User: I'd like to book a cleaning.\nAI: I have Tuesday at 10 AM open. Shall I book it?\nUser: Yes please.",
        ),
        CallOutcome::InsuranceInquiry => (
            format!("{customer} asked whether {} covers a crown; coverage confirmed at 50%.", insurer.unwrap_or("their plan")),
            "User: Does my insurance cover a crown?\nAI: Let me check... your plan covers 50% of major work.",
        ),
        CallOutcome::PaymentPlan => (
            format!("{customer} agreed to a monthly payment plan for the outstanding balance."),
            "AI: We can split the balance into six monthly payments.\nUser: That works for me.",
        ),
        CallOutcome::Transferred => (
            format!("{customer} had a clinical question and was transferred to staff."),
            "User: I have a question about my medication after the extraction.\nAI: Let me connect you with our team.",
        ),
        _ => (
            format!("{customer} asked about opening hours and parking."),
            "User: What time do you open on Saturday?\nAI: We're open 9 to 1 on Saturdays, with free parking behind the building.",
        ),
    };
    (
        summary,
        format!(
            "AI: Thank you for calling Riverside Dental, this is Riley. How can I help, {first}?\n{middle}\nAI: Is there anything else?\nUser: No, thanks. Bye."
        ),
    )
}

/// Seeds the demo practice unless it already has agents (data persisted from
/// an earlier run stays as it is).
pub async fn seed(store: &DynamoStore, org_id: &str, now: DateTime<Utc>) -> Result<usize, DomainError> {
    if !store.list_agents(org_id).await?.is_empty() {
        return Ok(0);
    }
    let agents = demo_agents(org_id, now);
    let demo = callops_domain::caller::Caller::system(org_id, "demo");
    for agent in &agents {
        let audit = AuditEntry::of_change(&demo, Action::AgentCreated, &agent.id, None::<&VoiceAgent>, agent, now);
        store.put_agent(agent, true, &audit).await?;
    }
    let mut rng = StdRng::seed_from_u64(20_240_207);
    let mut calls: Vec<CallLog> = (0..DEMO_CALLS).map(|i| demo_call(&mut rng, org_id, &agents[if i % 3 == 0 { 1 } else { 0 }], now)).collect();
    // In the order they happened, so a missed call is returned by a later
    // connected call with its number as it would have been live.
    calls.sort_by_key(|call| call.call_started_at.unwrap_or(call.created_at));
    let mut campaign_calls = Vec::new();
    for call in &calls {
        if call.campaign_id.is_some() {
            campaign_calls.push(call.created_at);
        }
        store.create_call(call).await?;
    }
    // The patients whose missed calls wait to be returned gave their consent
    // on intake, so the worklist's "call back" goes through every rule and is placed.
    let mut waiting: Vec<&str> = Vec::new();
    for call in &calls {
        let stored = store.get_call(org_id, &call.id).await?.map(|stored| stored.call);
        if stored.as_ref().is_some_and(callops_domain::analytics::missed::awaits_return) && !waiting.contains(&call.phone_number.as_str()) {
            waiting.push(&call.phone_number);
        }
    }
    for number in waiting {
        consent_on_intake(store, &demo, number, now).await?;
    }
    // The campaign the demo's campaign calls belong to.
    let starts_at = campaign_calls.iter().min().copied().unwrap_or(now);
    let campaign = Campaign {
        id: DEMO_CAMPAIGN.into(),
        org_id: org_id.into(),
        name: "Six-month cleaning reminders".into(),
        voice_agent_id: agents[0].id.clone(),
        call_purpose: Some("Six-month cleaning reminder".into()),
        status: CampaignStatus::Active,
        calls_per_minute: 5,
        starts_at,
        calls: campaign_calls.len() as u32,
        rejected: 0,
        created_at: starts_at,
        updated_at: starts_at,
    };
    let audit = AuditEntry::of_change(&demo, Action::CampaignCreated, &campaign.id, None::<&Campaign>, &campaign, now);
    store.create_campaign(&campaign, None, &audit).await?;
    Ok(DEMO_CALLS)
}

/// A few outbound calls for the demo practice's front desk, to numbers in
/// their morning, in the next minutes, each patient's consent on record:
/// scheduled through the same use case as `POST /api/outbound/schedule`,
/// so every rule applies, and a newcomer
/// watches them dialed, played and reported whatever the hour.
pub async fn schedule_upcoming(calls: &callops_service::Calls, now: DateTime<Utc>) -> Result<Vec<CallLog>, DomainError> {
    let caller = callops_domain::caller::Caller::system(DEMO_ORG, "demo");
    let mut scheduled = Vec::new();
    for (i, customer) in CUSTOMERS.iter().take(3).enumerate() {
        let Some(number) = number_in_its_morning(9_100 + i as u16, now) else { continue };
        consent_on_intake(calls.store(), &caller, &number, now).await?;
        let ask = callops_service::schedule::CallToSchedule {
            number: callops_domain::phone::normalize(&number)?,
            call_type: CallType::OutboundFollowup,
            at: time::to_millis(now + Duration::seconds(45 * (i as i64 + 1))),
            purpose: Some("Check in after the visit".into()),
            notes: None,
            customer_name: Some((*customer).into()),
            campaign_id: None,
            agent_id: Some("front-desk".into()),
            variables: Default::default(),
            whereabouts: Default::default(),
            move_to_calling_hours: true,
            allow_duplicate: false,
        };
        scheduled.push(calls.schedule_call(&caller, ask, None, now).await?.call);
    }
    Ok(scheduled)
}

/// The consent a demo patient gave on the practice's intake form (every
/// outbound call rests on one), recorded once per number.
async fn consent_on_intake(store: &DynamoStore, caller: &callops_domain::caller::Caller, number: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
    let number = callops_domain::phone::normalize(number)?;
    if store.consents(&caller.org_id, &number).await?.iter().any(|c| c.revoked.is_none()) {
        return Ok(());
    }
    let input = callops_domain::consent::ConsentInput {
        phone_number: number.to_string(),
        basis: "prior_express".into(),
        source: "new-patient intake form (demo)".into(),
        evidence: Some(callops_domain::consent::EvidenceInput { kind: "form".into(), reference: "intake-demo".into() }),
        ..Default::default()
    };
    let consent = input.check(callops_domain::call::new_call_id().into_string(), &caller.org_id, caller.actor.clone(), now)?;
    let audit = AuditEntry::of_change(caller, Action::ConsentRecorded, &consent.id, None::<&callops_domain::consent::Consent>, &consent, now);
    store.record_consents(&[consent], &[audit]).await?.remove(0)
}

#[cfg(test)]
mod morning_tests {
    use super::*;

    #[test]
    fn some_number_is_in_its_morning_at_every_hour_of_the_year() {
        for prefix in AROUND_THE_CLOCK {
            let number = format!("{prefix}0142");
            assert!(callops_domain::phone::normalize(&number).is_ok(), "{number} is not a valid number");
            assert_eq!(callops_domain::placement::callee::zones_of_number(&number).len(), 1, "{number}: one zone");
        }
        let start = callops_domain::time::parse("2024-01-01T00:00:00Z").unwrap();
        for hour in 0..(366 * 24 / 3) {
            let now = start + Duration::hours(3 * hour) + Duration::minutes(hour % 60);
            assert!(number_in_its_morning(142, now).is_some(), "none at {now}");
        }
    }
}
