//! Store behaviour against the embedded engine; every test has a database of its own.

use callops_domain::{
    CallLog, CallOutcome, CallStatus, CallType, CallingHours, DomainError, NewCall, RetryPolicy, VoiceAgent, call::new_call_id, time, time::Span,
};
use chrono::{DateTime, Duration, Utc};

use crate::store::{AgentStore, CallQueryStore, CallStore, ConsentStore, LedgerStore, RollupStore};
use crate::{
    embedded::fresh_store,
    store::{CallQuery, PageRequest, RollupCheckStore},
};

fn at(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

fn call(org: &str, agent: &str, started: Option<DateTime<Utc>>) -> CallLog {
    let mut call = CallLog::new(
        NewCall {
            org_id: org.into(),
            voice_agent_id: agent.into(),
            phone_number: "+15551230000".into(),
            call_type: CallType::Inbound,
            status: CallStatus::Completed,
            attempt: 0,
        },
        new_call_id(),
        started.unwrap_or_else(Utc::now),
    );
    call.call_started_at = started;
    call
}

fn ids(calls: &[CallLog]) -> Vec<String> {
    calls.iter().map(|c| c.id.to_string()).collect()
}

#[tokio::test]
async fn a_call_round_trips_with_every_field() {
    let (_engine, store) = fresh_store().await;
    let mut c = call("acme", "agent-1", Some(at("2024-02-07T09:30:00.250Z")));
    c.duration = Some(125);
    c.call_ended_at = Some(at("2024-02-07T09:32:05.250Z"));
    c.transcript = Some("AI: Hello\nUser: Hi".into());
    c.outcome = Some(CallOutcome::Booked);
    c.payment_plan_amount = Some(45_000);
    c.ai_confidence = Some(0.87);
    c.call_quality = Some(4);
    c.follow_up_date = Some(at("2024-02-10T15:00:00Z"));
    c.vapi_call_id = Some("vapi-123".into());
    store.create_call(&c).await.unwrap();

    let stored = store.get_call("acme", &c.id).await.unwrap().unwrap();
    assert_eq!(stored.call, c);
    assert_eq!(stored.revision, 1);
    assert_eq!(store.find_call_by_vapi_id("acme", "vapi-123").await.unwrap().unwrap().call, c);
    assert!(store.get_call("other", &c.id).await.unwrap().is_none(), "another tenant cannot read it");
    assert!(store.find_call_by_vapi_id("other", "vapi-123").await.unwrap().is_none());
}

#[tokio::test]
async fn conditional_writes_conflict() {
    let (_engine, store) = fresh_store().await;
    let c = call("acme", "agent-1", Some(at("2024-02-07T09:30:00Z")));
    let first = store.create_call(&c).await.unwrap();
    assert!(matches!(store.create_call(&c).await, Err(DomainError::Conflict { kind: callops_domain::error::Conflict::CallExists, .. })));

    // Two writers read revision 1; the second one to write loses.
    let mut a = c.clone();
    a.summary = Some("first".into());
    let mut b = c.clone();
    b.summary = Some("second".into());
    let after_a = store.update_call(&first, &a).await.unwrap();
    assert_eq!(after_a.revision, 2);
    assert!(matches!(store.update_call(&first, &b).await, Err(DomainError::Conflict { kind: callops_domain::error::Conflict::CallChanged, .. })));
    assert_eq!(store.get_call("acme", &c.id).await.unwrap().unwrap().call.summary.as_deref(), Some("first"));

    // A Vapi call id belongs to one call only; the losing write changes nothing.
    let mut other = call("acme", "agent-1", None);
    other.vapi_call_id = Some("vapi-1".into());
    store.create_call(&other).await.unwrap();
    let mut claims_same = after_a.call.clone();
    claims_same.vapi_call_id = Some("vapi-1".into());
    claims_same.summary = Some("must not land".into());
    assert!(matches!(store.update_call(&after_a, &claims_same).await, Err(DomainError::Conflict { .. })));
    let unchanged = store.get_call("acme", &c.id).await.unwrap().unwrap();
    assert_eq!(unchanged, after_a);
}

#[tokio::test]
async fn two_claims_on_one_ledger_revision_cannot_both_land() {
    let (_engine, store) = fresh_store().await;
    let waiting = |id: &str| {
        let new = NewCall {
            org_id: "acme".into(),
            voice_agent_id: "agent-1".into(),
            phone_number: "+12125550142".into(),
            call_type: CallType::OutboundLead,
            status: CallStatus::Scheduled,
            attempt: 1,
        };
        CallLog::new(new, id.into(), at("2024-02-07T09:00:00Z"))
    };
    let now = at("2024-02-07T15:00:00Z");
    let (a, b) = (store.create_call(&waiting("call-a")).await.unwrap(), store.create_call(&waiting("call-b")).await.unwrap());
    // Both claims read the empty ledger.
    let read = store.ledger("acme", "+12125550142").await.unwrap();
    assert_eq!(read, callops_domain::placement::frequency::Ledger::default());
    let claim = |stored: &crate::StoredCall| {
        let also = [crate::AlongWithCall::RecordAttempt(Box::new(read.with_attempt(&stored.call, now)))];
        (stored.call.claim(now).unwrap(), also)
    };
    let (next_a, also_a) = claim(&a);
    store.update_call_with(&a, &next_a, &also_a).await.unwrap();
    let (next_b, also_b) = claim(&b);
    let lost = store.update_call_with(&b, &next_b, &also_b).await;
    assert!(matches!(lost, Err(DomainError::Conflict { kind: callops_domain::error::Conflict::AttemptsChanged, .. })), "{lost:?}");
    assert_eq!(store.get_call("acme", "call-b").await.unwrap().unwrap(), b, "the losing claim changed nothing");
    let ledger = store.ledger("acme", "+12125550142").await.unwrap();
    assert_eq!((ledger.attempts.len(), ledger.attempts[0].call_id.as_str(), ledger.revision), (1, "call-a", Some(1)));
    // Decided again on the fresh ledger, it lands (here no limit stops it), and the ledger holds both.
    let (next_b, _) = claim(&b);
    store.update_call_with(&b, &next_b, &[crate::AlongWithCall::RecordAttempt(Box::new(ledger.with_attempt(&b.call, now)))]).await.unwrap();
    assert_eq!(store.ledger("acme", "+12125550142").await.unwrap().attempts.len(), 2);
}

#[tokio::test]
async fn a_revocation_landing_between_a_claims_read_and_its_write_makes_the_claim_decide_again() {
    let (_engine, store) = fresh_store().await;
    let number = "+12125550142";
    let by = callops_domain::caller::Actor { sub: "staff-1".into(), name: None };
    let input =
        callops_domain::consent::ConsentInput { phone_number: number.into(), basis: "prior_express".into(), source: "intake".into(), ..Default::default() };
    let consent = input.check("consent-1".into(), "acme", by.clone(), at("2024-02-01T00:00:00Z")).unwrap();
    store.record_consents(std::slice::from_ref(&consent), &[crate::store::audit::test_entry("acme")]).await.unwrap().remove(0).unwrap();
    let new = NewCall {
        org_id: "acme".into(),
        voice_agent_id: "agent-1".into(),
        phone_number: number.into(),
        call_type: CallType::OutboundFollowup,
        status: CallStatus::Scheduled,
        attempt: 1,
    };
    let waiting = store.create_call(&CallLog::new(new, "call-a".into(), at("2024-02-07T09:00:00Z"))).await.unwrap();
    // The claim reads the number: the consent holds.
    let read = store.number_state("acme", number).await.unwrap();
    assert_eq!(read.consents, vec![consent.clone()]);
    // The patient revokes before the claim is written.
    let revocation = callops_domain::consent::Revocation { at: at("2024-02-07T14:59:00Z"), channel: callops_domain::consent::Channel::Call, reason: None, by };
    let revoked = store.revoke_consent(&consent, &revocation, &crate::store::audit::test_entry("acme")).await.unwrap();
    assert!(
        matches!(
            store.revoke_consent(&consent, &revocation, &crate::store::audit::test_entry("acme")).await,
            Err(DomainError::Conflict { kind: callops_domain::error::Conflict::AlreadyRevoked, .. })
        ),
        "once"
    );
    let now = at("2024-02-07T15:00:00Z");
    let also = [crate::AlongWithCall::RecordAttempt(Box::new(read.ledger.with_attempt(&waiting.call, now)))];
    let lost = store.update_call_with(&waiting, &waiting.call.claim(now).unwrap(), &also).await;
    assert!(matches!(lost, Err(DomainError::Conflict { kind: callops_domain::error::Conflict::AttemptsChanged, .. })), "{lost:?}");
    assert_eq!(store.get_call("acme", "call-a").await.unwrap().unwrap(), waiting, "the claim changed nothing");
    // Read again, the consent is revoked (and kept): the policy refuses.
    let again = store.number_state("acme", number).await.unwrap();
    assert_eq!(again.consents, vec![revoked.clone()]);
    assert_eq!(store.consent("acme", "consent-1").await.unwrap(), Some(revoked));
    assert_eq!(store.consent("other", "consent-1").await.unwrap(), None, "another tenant's id is not this tenant's");
}

#[tokio::test]
async fn a_waiting_call_is_a_planned_attempt_at_its_number_from_every_write_that_starts_or_ends_the_wait() {
    let (_engine, store) = fresh_store().await;
    let number = "+12125550142";
    let waiting = |id: &str, at_text: &str| {
        let new = NewCall {
            org_id: "acme".into(),
            voice_agent_id: "agent-1".into(),
            phone_number: number.into(),
            call_type: CallType::OutboundDebt,
            status: CallStatus::Scheduled,
            attempt: 1,
        };
        let mut call = CallLog::new(new, id.into(), at("2024-02-07T09:00:00Z"));
        call.scheduled_at = Some(at(at_text));
        call.debt_id = Some("inv-1".into());
        call
    };
    let planned = |ledger: &callops_domain::placement::frequency::Ledger| {
        let mut planned: Vec<(String, DateTime<Utc>)> = ledger.planned.iter().map(|p| (p.call_id.clone(), p.at)).collect();
        planned.sort();
        planned
    };
    let a = store.create_call(&waiting("call-a", "2024-02-08T15:00:00Z")).await.unwrap();
    // A campaign's calls, stored together.
    store.create_new_calls(&[waiting("call-b", "2024-02-08T16:00:00Z"), waiting("call-c", "2024-02-09T15:00:00Z")]).await.unwrap();
    let ledger = store.number_state("acme", number).await.unwrap().ledger;
    assert_eq!(
        planned(&ledger),
        vec![("call-a".into(), at("2024-02-08T15:00:00Z")), ("call-b".into(), at("2024-02-08T16:00:00Z")), ("call-c".into(), at("2024-02-09T15:00:00Z"))]
    );
    assert_eq!((ledger.planned[0].call_type, ledger.planned[0].debt_id.as_deref()), (CallType::OutboundDebt, Some("inv-1")));
    assert!(store.number_state("other", number).await.unwrap().ledger.planned.is_empty(), "another tenant's number is its own");
    assert!(store.ledger("acme", number).await.unwrap().planned.is_empty(), "the claim's read counts only attempts made");

    // Moved: planned at its new time only. Claimed: no longer planned, an attempt made.
    let moved = a.call.requeue(at("2024-02-10T15:00:00Z"), at("2024-02-07T10:00:00Z")).unwrap();
    let a = store.update_call(&a, &moved).await.unwrap();
    assert!(planned(&store.number_state("acme", number).await.unwrap().ledger).contains(&("call-a".into(), at("2024-02-10T15:00:00Z"))));
    let now = at("2024-02-10T15:00:00Z");
    let read = store.ledger("acme", number).await.unwrap();
    store.update_call_with(&a, &a.call.claim(now).unwrap(), &[crate::AlongWithCall::RecordAttempt(Box::new(read.with_attempt(&a.call, now)))]).await.unwrap();
    let ledger = store.number_state("acme", number).await.unwrap().ledger;
    assert_eq!(planned(&ledger).iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), vec!["call-b", "call-c"]);
    assert_eq!(ledger.attempts.iter().map(|a| a.call_id.as_str()).collect::<Vec<_>>(), vec!["call-a"], "one query reads both");

    // Cancelled: no longer planned.
    let b = store.get_call("acme", "call-b").await.unwrap().unwrap();
    let mut cancelled = b.call.clone();
    cancelled.status = CallStatus::Cancelled;
    store.update_call(&b, &cancelled).await.unwrap();
    assert_eq!(planned(&store.number_state("acme", number).await.unwrap().ledger).len(), 1);

    // An import of a waiting call plans it too.
    let imported = waiting("call-d", "2024-02-11T15:00:00Z");
    let refused = store.import_calls(&[crate::import::ImportCall { stored: None, call: imported }], 1).await.unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        planned(&store.number_state("acme", number).await.unwrap().ledger).iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        vec!["call-c", "call-d"]
    );
}

#[tokio::test]
async fn each_index_answers_its_query_for_its_tenant_only() {
    let (_engine, store) = fresh_store().await;
    let t0 = at("2024-02-07T09:00:00Z");

    let mut booked = call("acme", "agent-1", Some(t0));
    booked.outcome = Some(CallOutcome::Booked);
    booked.call_type = CallType::OutboundLead;
    booked.campaign_id = Some("spring".into());
    booked.scheduled_at = Some(t0 - Duration::minutes(5));

    let mut scheduled = call("acme", "agent-2", None);
    scheduled.status = CallStatus::Scheduled;
    scheduled.call_type = CallType::OutboundCampaign;
    scheduled.campaign_id = Some("spring".into());
    scheduled.scheduled_at = Some(t0 + Duration::hours(2));

    let mut missed = call("acme", "agent-2", Some(t0 + Duration::hours(1)));
    missed.status = CallStatus::Missed;
    missed.outcome = Some(CallOutcome::NoAnswer);

    // The same shapes in another tenant must never show up.
    let mut foreign = booked.clone();
    foreign.id = new_call_id();
    foreign.org_id = "globex".into();
    let mut foreign_scheduled = scheduled.clone();
    foreign_scheduled.id = new_call_id();
    foreign_scheduled.org_id = "globex".into();

    for c in [&booked, &scheduled, &missed, &foreign, &foreign_scheduled] {
        store.create_call(c).await.unwrap();
    }

    let all = Span::ALL;
    let q = |query: CallQuery| {
        let store = store.clone();
        async move { store.query_calls("acme", &PageRequest::new(&query, 100)).await.unwrap().items }
    };
    assert_eq!(ids(&q(CallQuery::ByOrg).await), ids(&[booked.clone(), missed.clone()]));
    assert_eq!(ids(&q(CallQuery::ByAgent("agent-2".into())).await), ids(&[missed.clone()]));
    assert_eq!(ids(&q(CallQuery::ByType(CallType::OutboundLead)).await), ids(&[booked.clone()]));
    assert_eq!(ids(&q(CallQuery::ByType(CallType::Inbound)).await), ids(&[missed.clone()]));
    assert_eq!(ids(&q(CallQuery::ByOutcome(CallOutcome::NoAnswer)).await), ids(&[missed.clone()]));
    assert_eq!(ids(&q(CallQuery::ByStatus(CallStatus::Scheduled)).await), ids(&[scheduled.clone()]));
    assert_eq!(ids(&q(CallQuery::ByCampaign("spring".into())).await), ids(&[booked.clone(), scheduled.clone()]));
    assert_eq!(ids(&q(CallQuery::Scheduled).await), ids(&[scheduled.clone()]));
    assert_eq!(store.count_calls("acme", &CallQuery::ByOrg, all).await.unwrap(), 2);
    // A filter on a field the index does not carry would match nothing: refused instead.
    let types = [CallType::OutboundLead];
    let unfiltered = CallQuery::ByType(CallType::OutboundLead);
    let refused = store.query_calls("acme", &PageRequest { only_types: Some(&types), ..PageRequest::new(&unfiltered, 100) }).await;
    assert!(matches!(refused, Err(DomainError::Unavailable(ref why)) if why.contains("callType")), "{refused:?}");
    let by_number = CallQuery::ByNumber(booked.phone_number.clone());
    let typed = store.query_calls("acme", &PageRequest { only_types: Some(&types), ..PageRequest::new(&by_number, 100) }).await.unwrap();
    assert_eq!(ids(&typed.items), ids(&[booked.clone()]), "a number's calls by type");

    // Leaving SCHEDULED takes the call out of the scheduled index.
    let stored = store.get_call("acme", &scheduled.id).await.unwrap().unwrap();
    let mut dialing = stored.call.clone();
    dialing.status = stored.call.status.transition(CallStatus::Dialing).unwrap();
    store.update_call(&stored, &dialing).await.unwrap();
    assert!(q(CallQuery::Scheduled).await.is_empty());
    assert_eq!(ids(&q(CallQuery::ByStatus(CallStatus::Dialing)).await), ids(&[dialing]));
    assert!(q(CallQuery::ByStatus(CallStatus::Scheduled)).await.is_empty());
}

#[tokio::test]
async fn windows_are_start_inclusive_end_exclusive() {
    let (_engine, store) = fresh_store().await;
    let t0 = at("2024-02-07T00:00:00Z");
    let at_start = call("acme", "a", Some(t0));
    let inside = call("acme", "a", Some(t0 + Duration::milliseconds(1)));
    let at_end = call("acme", "a", Some(t0 + Duration::days(1)));
    for c in [&at_start, &inside, &at_end] {
        store.create_call(c).await.unwrap();
    }
    let window = Span::new(Some(t0), Some(t0 + Duration::days(1)));
    let page = store.query_calls("acme", &PageRequest { window, ..PageRequest::new(&CallQuery::ByOrg, 10) }).await.unwrap();
    assert_eq!(ids(&page.items), ids(&[at_start, inside]));
    assert_eq!(store.count_calls("acme", &CallQuery::ByOrg, window).await.unwrap(), 2);
}

#[tokio::test]
async fn queries_page_with_cursors_newest_first() {
    let (_engine, store) = fresh_store().await;
    let t0 = at("2024-02-01T08:00:00Z");
    let mut calls = Vec::new();
    for i in 0..25 {
        let c = call("acme", "agent-1", Some(t0 + Duration::minutes(i)));
        store.create_call(&c).await.unwrap();
        calls.push(c);
    }
    calls.reverse();

    let by_agent = CallQuery::ByAgent("agent-1".into());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.query_calls("acme", &PageRequest { newest_first: true, cursor: cursor.as_deref(), ..PageRequest::new(&by_agent, 10) }).await.unwrap();
        pages += 1;
        seen.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids(&seen), ids(&calls));

    // A cursor from one query is refused by another, and garbage is refused.
    let first = store.query_calls("acme", &PageRequest { newest_first: true, ..PageRequest::new(&by_agent, 10) }).await.unwrap();
    let err = store.query_calls("acme", &PageRequest { cursor: first.next_cursor.as_deref(), ..PageRequest::new(&CallQuery::ByOrg, 10) }).await.unwrap_err();
    assert!(matches!(err, DomainError::Invalid { code: "invalid_cursor", .. }));
    let err = store.query_calls("acme", &PageRequest { cursor: Some("bogus"), ..PageRequest::new(&CallQuery::ByOrg, 10) }).await.unwrap_err();
    assert!(matches!(err, DomainError::Invalid { code: "invalid_cursor", .. }));
}

#[tokio::test]
async fn agents_are_stored_per_tenant() {
    let (_engine, store) = fresh_store().await;
    let now = time::now();
    let agent = VoiceAgent {
        id: "front-desk".into(),
        org_id: "acme".into(),
        name: "Front desk".into(),
        vapi_assistant_id: "asst-1".into(),
        vapi_phone_number_id: Some("pn-1".into()),
        twilio_number: None,
        time_zone: "America/Chicago".parse().unwrap(),
        calling_hours: CallingHours::default(),
        hours_by_day: Default::default(),
        closed_days: Vec::new(),
        max_concurrent_calls: 10,
        retry_policy: RetryPolicy::default(),
        follow_up_calls: false,
        structured_output_name: None,
        voicemail_message: None,
        imported_from: None,
        created_at: now,
        updated_at: now,
    };
    store.put_agent(&agent, true, &crate::store::audit::test_entry("acme")).await.unwrap();
    assert!(matches!(
        store.put_agent(&agent, true, &crate::store::audit::test_entry("acme")).await,
        Err(DomainError::Conflict { kind: callops_domain::error::Conflict::AgentExists, .. })
    ));
    let mut ghost = agent.clone();
    ghost.id = "ghost".into();
    assert!(matches!(store.put_agent(&ghost, false, &crate::store::audit::test_entry("acme")).await, Err(DomainError::NotFound { .. })));

    assert_eq!(store.get_agent("acme", "front-desk").await.unwrap(), Some(agent.clone()));
    assert_eq!(store.get_agent("globex", "front-desk").await.unwrap(), None);
    assert_eq!(store.list_agents("acme").await.unwrap(), vec![agent]);
    assert!(store.list_agents("globex").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_caller_narrowed_to_some_agents_sees_only_their_calls() {
    let (_engine, store) = fresh_store().await;
    let t0 = at("2024-02-01T08:00:00Z");
    let mut mine = Vec::new();
    for i in 0..12 {
        let agent = if i % 3 == 0 { "agent-a" } else { "agent-b" };
        let c = call("acme", agent, Some(t0 + Duration::minutes(i)));
        store.create_call(&c).await.unwrap();
        if agent == "agent-a" {
            mine.push(c);
        }
    }
    let allowed = vec!["agent-a".to_string()];
    let page = store.query_calls("acme", &PageRequest { only_agents: Some(&allowed), ..PageRequest::new(&CallQuery::ByOrg, 3) }).await.unwrap();
    assert_eq!(ids(&page.items), ids(&mine[..3]));
    let rest = store
        .query_calls("acme", &PageRequest { only_agents: Some(&allowed), cursor: page.next_cursor.as_deref(), ..PageRequest::new(&CallQuery::ByOrg, 3) })
        .await
        .unwrap();
    assert_eq!(ids(&rest.items), ids(&mine[3..]));
}

mod rollups {
    use super::*;
    use crate::rollup::{ALL_AGENTS, RollupKey, rollup_contributions, scope};
    use callops_domain::analytics::{self, CallFacts, Tally};

    fn day(text: &str) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = at(text);
        (start, start + Duration::days(1))
    }

    #[tokio::test]
    async fn rollups_move_with_the_call_in_the_same_write() {
        let (_engine, store) = fresh_store().await;
        let mut c = call("acme", "agent-1", Some(at("2024-02-07T09:30:00Z")));
        c.outcome = Some(CallOutcome::Booked);
        c.cost_cents = Some(40);
        let first = store.create_call(&c).await.unwrap();
        assert_eq!(rollup_contributions(&c).len(), 12, "agent and tenant, of every type and of its own, hour, day and day profile");

        let tenant_day = store.day_rollups("acme", ALL_AGENTS, day("2024-02-07T00:00:00Z").into()).await.unwrap();
        assert_eq!(tenant_day, Tally::of(&c));
        let facts = CallFacts::from(&c);
        let hour = (at("2024-02-07T09:00:00Z"), at("2024-02-07T10:00:00Z"));
        let agent_hour = store.hour_rollups("acme", "agent-1", hour.into()).await.unwrap();
        let mut with_quarters = Tally::of(&c);
        with_quarters.add(&Tally::hour_profile_of(&facts)).unwrap();
        assert_eq!(agent_hour, with_quarters, "an hour keeps its calls by quarter hour too");
        assert_eq!(store.hour_tallies("acme", "agent-1", hour.into()).await.unwrap(), vec![(hour.0, with_quarters)]);
        assert!(store.day_rollups("globex", ALL_AGENTS, day("2024-02-07T00:00:00Z").into()).await.unwrap().is_zero());
        // Its call type's own rollups count it; another type's do not.
        let own_type = scope(ALL_AGENTS, Some(c.call_type));
        assert_eq!(store.day_rollups("acme", &own_type, day("2024-02-07T00:00:00Z").into()).await.unwrap(), Tally::of(&c));
        let other_type = scope("agent-1", Some(CallType::OutboundDebt));
        assert_ne!(c.call_type, CallType::OutboundDebt);
        assert!(store.day_rollups("acme", &other_type, day("2024-02-07T00:00:00Z").into()).await.unwrap().is_zero());
        let profiles = store.day_profiles("acme", &scope("agent-1", Some(c.call_type)), day("2024-02-07T00:00:00Z").into()).await.unwrap();
        assert_eq!(profiles, vec![(at("2024-02-07T00:00:00Z").date_naive(), Tally::day_profile_of(&facts))]);

        // A correction (outcome fixed, cost arriving late) swaps the contribution.
        let mut corrected = c.clone();
        corrected.outcome = Some(CallOutcome::Information);
        corrected.cost_cents = Some(55);
        let second = store.update_call(&first, &corrected).await.unwrap();
        let tenant_day = store.day_rollups("acme", ALL_AGENTS, day("2024-02-07T00:00:00Z").into()).await.unwrap();
        assert_eq!(tenant_day, Tally::of(&corrected));
        assert_eq!(tenant_day.get(analytics::BOOKED), 0);
        assert_eq!(tenant_day.get(analytics::COST_CENTS), 55);

        // Replaying the old write fails its condition and counts nothing.
        assert!(store.update_call(&first, &corrected).await.is_err());
        assert!(store.create_call(&c).await.is_err());
        assert_eq!(store.day_rollups("acme", ALL_AGENTS, day("2024-02-07T00:00:00Z").into()).await.unwrap(), Tally::of(&corrected));

        // Moving the start to another day moves the contribution there.
        let mut moved = corrected.clone();
        moved.call_started_at = Some(at("2024-02-08T01:00:00Z"));
        store.update_call(&second, &moved).await.unwrap();
        assert!(store.day_rollups("acme", ALL_AGENTS, day("2024-02-07T00:00:00Z").into()).await.unwrap().is_zero());
        assert_eq!(store.day_rollups("acme", "agent-1", day("2024-02-08T00:00:00Z").into()).await.unwrap(), Tally::of(&moved));
        assert!(store.verify_rollups().await.unwrap().drift.is_empty());
    }

    #[tokio::test]
    async fn concurrent_writes_to_one_hour_all_count() {
        let (_engine, store) = fresh_store().await;
        let t0 = at("2024-02-07T09:00:00Z");
        let writes = (0..60).map(|i| {
            let store = store.clone();
            let c = call("acme", "agent-1", Some(t0 + Duration::seconds(i)));
            tokio::spawn(async move { store.create_call(&c).await })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap().unwrap();
        }
        let hour = store.hour_rollups("acme", ALL_AGENTS, (t0, t0 + Duration::hours(1)).into()).await.unwrap();
        assert_eq!(hour.get(analytics::CALLS), 60);
        assert!(store.verify_rollups().await.unwrap().drift.is_empty());
    }

    #[tokio::test]
    async fn drift_is_found_and_repaired() {
        let (_engine, store) = fresh_store().await;
        let c = call("acme", "agent-1", Some(at("2024-02-07T09:30:00Z")));
        store.create_call(&c).await.unwrap();
        let (key, right) = rollup_contributions(&c).remove(0);
        let mut wrong = right.clone();
        wrong.add(&right).unwrap();
        store.set_rollup(&key, &wrong).await.unwrap();

        let report = store.verify_rollups().await.unwrap();
        assert_eq!(report.calls, 1);
        assert_eq!(report.drift.len(), 1);
        assert_eq!(report.drift[0].key, key);
        let repaired = store.rebuild_rollups().await.unwrap();
        assert_eq!(repaired.drift.len(), 1);
        assert!(store.verify_rollups().await.unwrap().drift.is_empty());
    }

    #[tokio::test]
    async fn a_check_that_holds_few_items_finds_and_repairs_what_one_pass_does() {
        use crate::store::CheckOptions;
        let (_engine, store) = fresh_store().await;
        // Two tenants, two agents, calls over three months: about a hundred rollup items.
        let mut calls = Vec::new();
        for i in 0..40i64 {
            let org = if i % 5 == 0 { "globex" } else { "acme" };
            let agent = if i % 2 == 0 { "agent-1" } else { "agent-2" };
            let c = call(org, agent, Some(at("2024-01-30T09:30:00Z") + Duration::hours(i * 37)));
            store.create_call(&c).await.unwrap();
            calls.push(c);
        }
        let clean = store.check_rollups(&CheckOptions { segments: 1, held_items: 7 }, false, &|_| {}).await.unwrap();
        assert!(clean.is_clean(), "{clean:?}");
        assert!(clean.passes > 5, "a pass for each range of at most 7 items: {}", clean.passes);
        assert_eq!((clean.calls, clean.rollup_items), (40, crate::rollup::expected_rollups(&calls).unwrap().len()));

        // Drift of every kind, in several tenants, scopes and months: a wrong item, a missing one, an extra one, an impossible one.
        let keys: Vec<RollupKey> = [0, 13, 26, 39].iter().map(|i: &usize| rollup_contributions(&calls[*i])[*i % 12].0.clone()).collect();
        let mut wrong = rollup_contributions(&calls[0])[0].1.clone();
        wrong.add(&rollup_contributions(&calls[0])[0].1).unwrap();
        store.set_rollup(&keys[0], &wrong).await.unwrap();
        store.set_rollup(&keys[1], &Tally::default()).await.unwrap();
        let extra = RollupKey { pk: keys[2].pk.clone(), sk: "2024-03-31T23#5".into() };
        store.set_rollup(&extra, &Tally::of(&calls[26])).await.unwrap();
        let impossible = Tally::default().minus(&Tally::of(&calls[39])).unwrap();
        store.set_rollup(&keys[3], &impossible).await.unwrap();

        let whole = store.check_rollups(&CheckOptions { segments: 4, held_items: 100_000 }, false, &|_| {}).await.unwrap();
        assert_eq!(whole.passes, 1);
        let mut narrow = store.check_rollups(&CheckOptions { segments: 2, held_items: 3 }, false, &|_| {}).await.unwrap();
        assert!(narrow.passes > whole.passes);
        assert_eq!(narrow.drifted, 4, "{narrow:?}");
        assert_eq!(narrow.impossible_items, 1);
        assert_eq!(narrow.drift, whole.drift, "the same items, in key order, with the same counters");
        narrow.passes = whole.passes;
        assert_eq!(narrow, whole, "everything else the same");
        let mut found: Vec<RollupKey> = narrow.drift.iter().map(|d| d.key.clone()).collect();
        found.sort();
        let mut planted = vec![keys[0].clone(), keys[1].clone(), extra, keys[3].clone()];
        planted.sort();
        assert_eq!(found, planted);

        let repaired = store.check_rollups(&CheckOptions { segments: 1, held_items: 3 }, true, &|_| {}).await.unwrap();
        assert_eq!(repaired.repaired, 4);
        let after = store.check_rollups(&CheckOptions { segments: 1, held_items: 5 }, false, &|_| {}).await.unwrap();
        assert!(after.is_clean(), "{after:?}");
        assert_eq!(store.all_rollups().await.unwrap().0, crate::rollup::expected_rollups(&calls).unwrap(), "every item as the calls make it, and no other");
    }
}

#[tokio::test]
async fn an_import_keeps_the_rollups_exact_and_refuses_only_what_the_table_will_not_take() {
    use crate::import::ImportCall;
    let (_engine, store) = fresh_store().await;
    let started = at("2024-03-04T08:00:00Z");
    // A live call already holds Vapi call id "vapi-live".
    let mut live = call("acme", "front", Some(started));
    live.vapi_call_id = Some("vapi-live".into());
    store.create_call(&live).await.unwrap();
    // One call the importer read at revision 1, changed by someone else since.
    let mut stale = call("acme", "front", Some(started));
    stale.cost_cents = Some(10);
    store.create_call(&stale).await.unwrap();
    let read = store.get_call("acme", &stale.id).await.unwrap().unwrap();
    let mut moved = stale.clone();
    moved.cost_cents = Some(20);
    store.update_call(&read, &moved).await.unwrap();

    // 300 new calls over a day, two agents, big transcripts on some (so the
    // groups split on size as well as on count), one with the taken Vapi id.
    let mut imports: Vec<ImportCall> = (0..300)
        .map(|i| {
            let mut c = call("acme", if i % 2 == 0 { "front" } else { "billing" }, Some(started + Duration::minutes(5 * i)));
            c.duration = Some(60 + i as u32);
            c.cost_cents = Some(i);
            c.outcome = Some(if i % 3 == 0 { CallOutcome::Booked } else { CallOutcome::Information });
            c.vapi_call_id = Some(format!("vapi-{i}"));
            if i % 50 == 0 {
                c.transcript = Some("x".repeat(150_000));
            }
            ImportCall { stored: None, call: c }
        })
        .collect();
    imports[7].call.vapi_call_id = Some("vapi-live".into());
    let mut corrected = stale.clone();
    corrected.cost_cents = Some(30);
    imports.push(ImportCall { stored: Some(read), call: corrected.clone() });

    let refused = store.import_calls(&imports, 4).await.unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].id, imports[7].call.id);
    assert!(refused[0].reason.contains(live.id.as_str()), "{}", refused[0].reason);
    assert_eq!(store.get_call("acme", &corrected.id).await.unwrap().unwrap().call, corrected, "written over a fresh read");
    let stored = store.all_calls().await.unwrap();
    assert_eq!(stored.len(), 2 + 299);
    assert_eq!(store.find_call_by_vapi_id("acme", "vapi-live").await.unwrap().unwrap().call.id, live.id, "the live call keeps its id");
    assert!(store.verify_rollups().await.unwrap().drift.is_empty());

    // The same import again: every call is there, nothing counts twice.
    let again: Vec<ImportCall> =
        imports.iter().filter(|i| i.call.id != imports[7].call.id).map(|i| ImportCall { stored: None, call: i.call.clone() }).collect();
    let refused = store.import_calls(&again, 4).await.unwrap();
    assert!(refused.is_empty(), "a call already as imported is not a refusal: {refused:?}");
    assert_eq!(store.all_calls().await.unwrap().len(), 2 + 299);
    assert!(store.verify_rollups().await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn imported_history_counts_in_one_shard_and_moves_each_rollup_item_once() {
    use crate::import::ImportCall;
    let (_engine, store) = fresh_store().await;
    let started = at("2024-03-04T08:00:00Z");
    // An hour of one agent's history: 40 calls, 90 seconds apart.
    let imports: Vec<ImportCall> = (0..40)
        .map(|i| {
            let mut c = call("acme", "front", Some(started + Duration::seconds(90 * i)));
            c.imported = true;
            c.cost_cents = Some(i);
            ImportCall { stored: None, call: c }
        })
        .collect();
    assert!(store.import_calls(&imports, 4).await.unwrap().is_empty());
    let rollups = store.all_rollups().await.unwrap().0;
    let mut keys: Vec<&str> = rollups.keys().map(|key| key.sk.as_str()).collect();
    keys.sort();
    assert_eq!(keys, [&["2024-03-04#0"; 8][..], &["2024-03-04T08#0"; 4]].concat(), "agent and tenant, every type and its own, hour, day and profile, shard 0");
    for (key, tally) in &rollups {
        let calls = match key.pk.contains("#W#") {
            // A day's profile counts its calls by quarter hour: `<quarter><n|a|b>`.
            true => tally.counters().filter(|(name, _)| name.len() == 3 && name.ends_with('n')).map(|(_, n)| n).sum(),
            false => tally.get(callops_domain::analytics::CALLS),
        };
        assert_eq!(calls, 40, "{key:?}: {tally:?}");
    }
    assert!(store.verify_rollups().await.unwrap().drift.is_empty());

    // A live call in the same hour spreads as live calls do; both count.
    let live = (0..20).map(|_| call("acme", "front", Some(started))).find(|c| crate::rollup::shard_of(c) != 0).unwrap();
    store.create_call(&live).await.unwrap();
    let hour = store.hour_rollups("acme", "front", (started, started + Duration::hours(1)).into()).await.unwrap();
    assert_eq!(hour.get(callops_domain::analytics::CALLS), 41);
    assert_eq!(store.all_rollups().await.unwrap().0.len(), 24);
    assert!(store.verify_rollups().await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn a_call_with_every_text_at_its_bound_fits_far_inside_an_item_and_is_stored() {
    use callops_domain::{call::CallText, limits};
    let (_engine, store) = fresh_store().await;
    let mut c = call("acme", "agent-1", Some(at("2024-02-07T09:30:00.250Z")));
    for field in CallText::ALL {
        c.set_text(field, &"é".repeat(field.max_bytes() / 2));
    }
    c.recording_url = Some(format!("https://recordings.example/{}", "r".repeat(limits::MAX_URL_BYTES - 40)));
    for i in 0..callops_domain::call::MAX_VARIABLES {
        c.variable_values.insert(format!("{i:0>64}"), "v".repeat(1_000));
    }
    c.vapi_call_id = Some("v".repeat(limits::MAX_ID_BYTES));
    c.campaign_id = Some("c".repeat(limits::MAX_ID_BYTES));
    assert!(c.truncated_fields.is_empty(), "at the bound, nothing is cut");
    let bytes = crate::import::item_bytes(&crate::store::call_item::call_item(&c, 1).unwrap());
    assert!(bytes < 300 * 1024, "{bytes} bytes: far under DynamoDB's 400 KB");
    store.create_call(&c).await.unwrap();
    assert_eq!(store.get_call("acme", &c.id).await.unwrap().unwrap().call, c);
    // One byte more of any text is refused by the store, never written.
    let mut over = c.clone();
    over.id = new_call_id();
    *over.text_mut(CallText::Summary) = Some("x".repeat(limits::MAX_SUMMARY_BYTES + 1));
    assert!(matches!(store.create_call(&over).await, Err(DomainError::Invalid { code: "unstorable_call", .. })));
    assert!(store.get_call("acme", &over.id).await.unwrap().is_none());
}
