//! Demo data for the local host: a practice (`demo`) with two voice agents and
//! a few hundred varied calls over the last 30 days (missed ones among them,
//! some returned and some waiting, with their patients' consent to be called
//! back), so a newcomer sees a living dashboard at once. Generated from a fixed seed: the same mix every
//! time, relative to now.

use callops_aws::DynamoStore;
use callops_aws::store::{AgentStore, CallStore, CampaignStore, ConsentStore};
use callops_domain::campaign::{Campaign, CampaignStatus};
use callops_domain::consent::Consent;
use callops_domain::records::audit::{Action, AuditEntry};
use callops_domain::{CallLog, CallingHours, DomainError, RetryPolicy, VoiceAgent, agent::DEFAULT_MAX_CONCURRENT_CALLS, time};
use chrono::{DateTime, Duration, Utc};
use rand::{SeedableRng, rngs::StdRng};

mod history;
mod upcoming;

use history::demo_call;

pub use upcoming::{number_in_its_morning, schedule_upcoming, us_number_in_hours};

pub const DEMO_ORG: &str = "demo";
/// The demo tenant's Twilio auth token, signing texts to its number locally.
pub const DEMO_TWILIO_TOKEN: &str = "dev-twilio-token";
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

/// The demo practice's business hours, every day: its lines are answered
/// (and its calls placed, on the callee's clock) from 08:00 to 20:00, so
/// calls before and after fall outside them, as a practice's do.
pub const DEMO_HOURS: (u16, u16) = (8 * 60, 20 * 60);

/// The demo practice's two agents, open [`DEMO_HOURS`].
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
        calling_hours: CallingHours::new(DEMO_HOURS.0, DEMO_HOURS.1).expect("hours that open"),
        hours_by_day: Default::default(),
        closed_days: Vec::new(),
        max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
        retry_policy: RetryPolicy::default(),
        follow_up_calls: true,
        structured_output_name: None,
        voicemail_message: None,
        imported_from: None,
        created_at: now,
        updated_at: now,
    };
    vec![
        agent("front-desk", "Front Desk (Riverside Dental)", "asst-front-desk-demo", "pn-front-desk-demo", "America/New_York"),
        agent("billing", "Billing & Collections", "asst-billing-demo", "pn-billing-demo", "America/Chicago"),
    ]
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
    // Each patient called out to signed the practice's intake form first, and each placed call keeps the rules it was placed under.
    let settings = callops_domain::settings::TenantSettings::defaults(org_id);
    for call in calls.iter_mut().filter(|call| call.call_type.is_outbound()) {
        let consent = consent_on_intake(store, &demo, &call.phone_number, now).await?;
        let (Some(started), Some(agent)) = (call.call_started_at, agents.iter().find(|a| a.id == call.voice_agent_id)) else { continue };
        call.compliance = Some(compliance_of(call, agent, &[consent], &settings, started));
    }
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
        call_type: callops_domain::CallType::OutboundCampaign,
        status: CampaignStatus::Active,
        calls_per_minute: 5,
        starts_at,
        end_at: None,
        voicemail_message: None,
        calls: campaign_calls.len() as u32,
        rejected: 0,
        refusals: Vec::new(),
        created_at: starts_at,
        updated_at: starts_at,
    };
    let audit = AuditEntry::of_change(&demo, Action::CampaignCreated, &campaign.id, None::<&Campaign>, &campaign, now);
    store.create_campaign(&campaign, None, &audit).await?;
    Ok(DEMO_CALLS)
}

/// The written consent a demo patient gave on the practice's intake form,
/// 90 days ago (every outbound call rests on one), recorded once per number.
async fn consent_on_intake(store: &DynamoStore, caller: &callops_domain::caller::Caller, number: &str, now: DateTime<Utc>) -> Result<Consent, DomainError> {
    let number = callops_domain::phone::normalize(number)?;
    if let Some(given) = store.consents(&caller.org_id, &number).await?.into_iter().find(|c| c.revoked.is_none()) {
        return Ok(given);
    }
    let input = callops_domain::consent::ConsentInput {
        phone_number: number.to_string(),
        basis: "prior_express_written".into(),
        source: "new-patient intake form, signed (demo)".into(),
        evidence: Some(callops_domain::consent::EvidenceInput { kind: "form".into(), reference: "intake-demo".into() }),
        captured_at: Some(time::format(&(now - Duration::days(90)))),
        ..Default::default()
    };
    let consent = input.check(callops_domain::call::new_call_id().into_string(), &caller.org_id, caller.actor.clone(), now)?;
    let audit = AuditEntry::of_change(caller, Action::ConsentRecorded, &consent.id, None::<&Consent>, &consent, now);
    store.record_consents(std::slice::from_ref(&consent), &[audit]).await?.remove(0)?;
    Ok(consent)
}

/// What a demo call placed at `at` keeps of the rules it was placed under,
/// as the dialer writes it: every rule weighed, the consent relied on, the recording decided.
fn compliance_of(
    call: &CallLog,
    agent: &VoiceAgent,
    consents: &[Consent],
    settings: &callops_domain::settings::TenantSettings,
    at: DateTime<Utc>,
) -> callops_domain::call::compliance::ComplianceRecord {
    use callops_domain::placement::{PlacementFacts, callee::Callee, planning, record, recording};
    let callee = Callee::of(&call.phone_number, &Default::default());
    let consent = callops_domain::consent::Consenting {
        call_type: call.call_type,
        consents,
        accepted: settings.consent_policy.accepts(call.call_type),
        opted_out_at: None,
    };
    let facts = PlacementFacts {
        debt_id: call.debt_id.as_deref(),
        practice_identified: settings.practice_identified(),
        consent: Some(consent),
        ..planning(call.call_type, agent, &callee, &settings.holidays)
    };
    record::evaluate(&facts, at).with_recording(recording::decide(&callee, settings.recording_policy))
}
