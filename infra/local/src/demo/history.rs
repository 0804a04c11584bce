//! The demo practice's history: one call at a time, from a fixed seed,
//! each outbound one placed when the practice's own rules allowed it.

use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, VoiceAgent, call::new_call_id, time};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, rngs::StdRng, seq::IndexedRandom};

use super::{CUSTOMERS, DEMO_CAMPAIGN};

const INSURERS: &[&str] = &["Delta Dental", "MetLife", "Cigna", "Aetna", "Guardian", "UnitedHealthcare"];
const STAFF: &[&str] = &["Dr. Alvarez", "front desk", "billing office", "Nurse Kelly"];

/// One demo call, started `started` (or never, for a few failed dials).
pub(super) fn demo_call(rng: &mut StdRng, org_id: &str, agent: &VoiceAgent, now: DateTime<Utc>) -> CallLog {
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

    // Calls cluster in the practice's day, spread over 30 days; patients call in a little before and after hours too.
    let day = rng.random_range(0..30);
    let local_minute = rng.random_range(7 * 60..21 * 60);
    let local_midnight = (now - Duration::days(day)).with_timezone(&agent.time_zone).date_naive();
    let local = local_midnight.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(local_minute);
    let mut started = local
        .and_local_timezone(agent.time_zone)
        .earliest()
        .map(|t| t.with_timezone(&Utc) + Duration::seconds(rng.random_range(0..60)) + Duration::milliseconds(rng.random_range(0..1000)))
        .unwrap_or(now - Duration::days(day));
    // Every demo call has ended by now (the longest lasts nine minutes): a time still to come today is yesterday's.
    if started > now - Duration::minutes(15) {
        started -= Duration::days(1);
    }
    // An outbound call was placed when the practice's own rules allowed it, on its callee's clock.
    if call_type.is_outbound() {
        started = lawful_start(agent, &phone, call_type, started, now);
    }

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
        if call.call_type == CallType::OutboundDebt {
            call.debt_id = Some(demo_debt(&call.phone_number));
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
    let (summary, transcript) = conversation(outcome, customer, call.insurance_provider.as_deref(), call.call_type.is_outbound());
    call.summary = Some(summary);
    call.transcript = Some(transcript);
    call.call_notes = call.follow_up_required.then(|| "Patient asked to be called back next week.".to_string());
    call
}

/// The debt a demo collection call is about: one per patient.
fn demo_debt(number: &str) -> String {
    format!("inv-{}", &number[number.len().saturating_sub(4)..])
}

/// The first time at or after `candidate` that the placement policy allows
/// a `call_type` call to `number` by `agent` (its hours and the law's, on
/// every clock the callee may be on), at least 15 minutes before `now`:
/// a day earlier each time the opening would come too late.
fn lawful_start(agent: &VoiceAgent, number: &str, call_type: CallType, candidate: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let callee = callops_domain::placement::callee::Callee::of(number, &Default::default());
    let debt = demo_debt(number);
    let facts = callops_domain::placement::PlacementFacts {
        debt_id: (call_type == CallType::OutboundDebt).then_some(debt.as_str()),
        ..callops_domain::placement::planning(call_type, agent, &callee, &[])
    };
    let mut candidate = candidate;
    for _ in 0..60 {
        match callops_domain::placement::earliest_placement(&facts, candidate) {
            Ok(at) if at == candidate => return at,
            // Moved to an opening: some minutes into it, as a queue of calls would be.
            Ok(at) if at + Duration::minutes(30) <= now - Duration::minutes(15) => return at + Duration::seconds(candidate.timestamp().rem_euclid(30 * 60)),
            _ => candidate -= Duration::days(1),
        }
    }
    candidate
}

fn conversation(outcome: CallOutcome, customer: &str, insurer: Option<&str>, outbound: bool) -> (String, String) {
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
            "{}\n{middle}\nAI: Is there anything else?\nUser: No, thanks. Bye.",
            if outbound {
                format!("AI: Hi {first}, this is Riley, the virtual assistant calling from Riverside Dental. Is now a good time?\nUser: Sure.")
            } else {
                format!("AI: Thank you for calling Riverside Dental, this is Riley. How can I help, {first}?")
            }
        ),
    )
}
