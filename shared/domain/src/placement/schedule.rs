//! Scheduling outbound calls: when an attempt may be placed, how a campaign's
//! calls are spread over the agent's calling hours, and the port through
//! which an attempt is handed to whatever fires it at its time (EventBridge
//! Scheduler in AWS, the local host's own scheduler on one machine).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    error::DomainError,
    ids::CallId,
    ids::OrgId,
    placement::callee::Callee,
    placement::{Placement, PlacementFacts, Refusal, may_place},
    time,
};

/// What fires the dialer: which call, and which attempt of it. EventBridge
/// Scheduler sends exactly this as the dialer's input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DialRequest {
    pub org_id: OrgId,
    pub call_id: CallId,
    pub attempt: u32,
}

impl DialRequest {
    /// The request that fires the call's current attempt.
    pub fn for_call(call: &crate::call::CallLog) -> DialRequest {
        DialRequest { org_id: call.org_id.clone(), call_id: call.id.clone(), attempt: call.attempt }
    }

    /// The one schedule name for this attempt, so asking twice cannot make
    /// two schedules. Call ids are UUIDs, unique across tenants; the name
    /// keeps within EventBridge's 64 characters of `[0-9a-zA-Z-_.]`.
    pub fn schedule_name(&self) -> String {
        format!("call-{}-a{}", self.call_id, self.attempt)
    }
}

/// An attempt and the moment it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledDial {
    pub request: DialRequest,
    pub at: DateTime<Utc>,
}

/// Fires the dialer for an attempt at its time. Implementations keep at most
/// one schedule per attempt: scheduling again moves it.
#[async_trait::async_trait]
pub trait DialScheduler: Send + Sync {
    /// Creates the attempt's schedule, or moves it to `dial.at`.
    async fn schedule(&self, dial: &ScheduledDial) -> Result<(), DomainError>;
    /// Removes the attempt's schedule; one that is gone already is fine.
    async fn unschedule(&self, request: &DialRequest) -> Result<(), DomainError>;
}

/// How far ahead anything may be dialed: a scheduled call, every call of a
/// campaign, a retry, a follow-up call.
pub const MAX_LEAD: Duration = Duration::days(365);

/// The latest time a call may be placed at when it is decided `now`.
pub fn latest_dial(now: DateTime<Utc>) -> DateTime<Utc> {
    now + MAX_LEAD
}

/// What a refusal for now says, by its code.
pub fn not_yet_message(code: &str) -> String {
    match code {
        "closed_day" => "that day is closed where the callee is (a holiday, or a day the agent does not call)".into(),
        "outside_calling_hours" => "that time is outside the calling hours where the callee is".into(),
        "no_free_slot" => "the agent has no free line".into(),
        "concurrency_reserved" => "the practice's other outbound calls fill the lines not kept for patients calling in".into(),
        other => format!("a rule does not allow a call then ({other})"),
    }
}

/// The time an attempt will be placed at, for a requested `at`: never in the
/// past, at most [`MAX_LEAD`] ahead, and where the placement policy
/// ([`crate::placement::may_place`]) allows it. Outside calling hours the
/// request is refused with the next allowed time, unless `move_into_hours`
/// asks to take it; a refusal by the policy is the refusal's own error.
pub fn placement_time(at: DateTime<Utc>, facts: &PlacementFacts, move_into_hours: bool, now: DateTime<Utc>) -> Result<DateTime<Utc>, DomainError> {
    if !time::is_supported(&at) {
        return Err(DomainError::invalid("invalid_scheduled_at", format!("scheduledAt must be {}", time::SUPPORTED_TEXT)));
    }
    if at < now - crate::time::CLOCK_SKEW {
        return Err(DomainError::invalid("scheduled_in_past", format!("scheduledAt {} is in the past (now is {})", time::format(&at), time::format(&now))));
    }
    let too_far = || DomainError::invalid("scheduled_too_far", "scheduledAt must be within a year");
    if at > latest_dial(now) {
        return Err(too_far());
    }
    let at = time::to_millis(at.max(now));
    match may_place(facts, at) {
        Placement::Allowed => Ok(at),
        Placement::Later { at: opening, .. } if opening > latest_dial(now) => Err(too_far()),
        Placement::Later { at: opening, .. } if move_into_hours => Ok(opening),
        Placement::Later { at: opening, why } => Err(DomainError::NotAllowedYet { code: why, message: not_yet_message(why), next_allowed_at: opening }),
        Placement::Refused(Refusal::NoCallingHoursAhead) => Err(too_far()),
        Placement::Refused(Refusal::NoConsent) if let Some(consenting) = facts.consent => Err(consenting.refusal(at)),
        Placement::Refused(refusal) => Err(refusal.error()),
    }
}

/// Free slots of a pace, found in near-constant time: `next[k]` points at a
/// slot at or after `k` that may be free (path halving keeps chains short).
#[derive(Default)]
struct Slots {
    next: std::collections::HashMap<i64, i64>,
}

impl Slots {
    fn first_free(&mut self, mut k: i64) -> i64 {
        while let Some(&n) = self.next.get(&k) {
            if let Some(&nn) = self.next.get(&n) {
                self.next.insert(k, nn);
            }
            k = n;
        }
        k
    }

    fn take(&mut self, k: i64) {
        self.next.insert(k, k + 1);
    }
}

/// The times for calls planned on `contacts` (one's facts each), in
/// order, from `start`, at most `per_minute` a minute: each at the first
/// free slot of that pace that every rule of its own facts allows (its
/// callee's clock, [`crate::placement::clock::Clock`], and its number's limits where
/// it has any), so a contact in another zone, or one called enough today,
/// waits without holding up the others. The policy's refusal for a
/// contact it refuses (hours that never open, no consent);
/// `campaign_too_long` when a call would fall after `latest`.
pub fn spread(
    start: DateTime<Utc>,
    contacts: &[PlacementFacts],
    per_minute: u32,
    latest: DateTime<Utc>,
) -> Result<Vec<Result<DateTime<Utc>, Refusal>>, DomainError> {
    let step = 60_000 / i64::from(per_minute.max(1));
    let start = time::to_millis(start);
    let too_long = |placed: usize| {
        DomainError::invalid(
            "campaign_too_long",
            format!(
                "at {per_minute} calls a minute inside each callee's calling hours, only {placed} of these {} calls fit before {}, a year from now; raise callsPerMinute or split the campaign",
                contacts.len(),
                time::format(&latest)
            ),
        )
    };
    let mut slots = Slots::default();
    // Where each kind of callee's search starts: every slot before it is taken or does not fit that kind.
    // (A contact with limits of its own, or inconvenient times, is a kind of its own.)
    let mut cursors: std::collections::HashMap<&Callee, DateTime<Utc>> = std::collections::HashMap::new();
    let mut times = Vec::with_capacity(contacts.len());
    for (placed, facts) in contacts.iter().enumerate() {
        let kind = (facts.frequency.is_none() && facts.inconvenient.is_empty()).then_some(facts.callee);
        let mut from = kind.and_then(|callee| cursors.get(callee).copied()).unwrap_or(start);
        let at = loop {
            let open = match crate::placement::earliest_placement(facts, from) {
                Ok(open) => open,
                Err(refusal) => break Err(refusal),
            };
            if open > latest {
                return Err(too_long(placed));
            }
            let wanted = (open - start).num_milliseconds().max(0);
            let k = slots.first_free((wanted + step - 1) / step);
            let at = start + Duration::milliseconds(k * step);
            if at > latest {
                return Err(too_long(placed));
            }
            if crate::placement::earliest_placement(facts, at) == Ok(at) {
                slots.take(k);
                break Ok(at);
            }
            from = at;
        };
        if let (Ok(at), Some(callee)) = (at, kind) {
            cursors.insert(callee, at);
        }
        times.push(at);
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{agent::CallingHours, agent::RetryPolicy, agent::VoiceAgent};

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn new_yorker() -> &'static Callee {
        static CALLEE: std::sync::OnceLock<Callee> = std::sync::OnceLock::new();
        CALLEE.get_or_init(|| Callee::of("+12125550142", &crate::placement::callee::Places::default()))
    }

    fn facts(agent: &VoiceAgent) -> PlacementFacts<'_> {
        crate::placement::planning(crate::call::CallType::OutboundFollowup, agent, new_yorker(), &[])
    }

    /// [`spread`] over calls to `callees` that only the clock stops.
    fn spread_to(
        start: DateTime<Utc>,
        callees: &[&Callee],
        per_minute: u32,
        agent: &VoiceAgent,
        holidays: &[chrono::NaiveDate],
        latest: DateTime<Utc>,
    ) -> Result<Vec<Option<DateTime<Utc>>>, DomainError> {
        let contacts: Vec<PlacementFacts> =
            callees.iter().map(|callee| crate::placement::planning(crate::call::CallType::OutboundFollowup, agent, callee, holidays)).collect();
        Ok(spread(start, &contacts, per_minute, latest)?.into_iter().map(Result::ok).collect())
    }

    fn agent(hours: CallingHours) -> VoiceAgent {
        VoiceAgent {
            id: "front-desk".into(),
            org_id: "demo".into(),
            name: "Front desk".into(),
            vapi_assistant_id: "asst".into(),
            vapi_phone_number_id: Some("pn".into()),
            twilio_number: None,
            time_zone: "America/New_York".parse().unwrap(),
            calling_hours: hours,
            hours_by_day: Default::default(),
            closed_days: Vec::new(),
            max_concurrent_calls: 10,
            retry_policy: RetryPolicy::default(),
            follow_up_calls: false,
            structured_output_name: None,
            voicemail_message: None,
            imported_from: None,
            created_at: at("2024-01-01T00:00:00Z"),
            updated_at: at("2024-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn schedule_names_are_one_per_attempt_and_fit_eventbridge() {
        let request = DialRequest { org_id: "demo".into(), call_id: crate::call::new_call_id(), attempt: 12 };
        let name = request.schedule_name();
        assert!(name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{name}");
        assert_eq!(name, request.schedule_name());
        assert_ne!(name, DialRequest { attempt: 13, ..request }.schedule_name());
    }

    #[test]
    fn a_time_outside_calling_hours_is_refused_with_the_next_opening_or_moved_there() {
        let agent = agent(CallingHours::default());
        let now = at("2024-01-15T12:00:00Z");
        // 02:30 UTC is 21:30 in New York: closed; it opens at 08:00 = 13:00 UTC.
        let late = at("2024-01-16T02:30:00Z");
        match placement_time(late, &facts(&agent), false, now) {
            Err(DomainError::NotAllowedYet { code: "outside_calling_hours", next_allowed_at, .. }) => assert_eq!(next_allowed_at, at("2024-01-16T13:00:00Z")),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(placement_time(late, &facts(&agent), true, now).unwrap(), at("2024-01-16T13:00:00Z"));
        let inside = at("2024-01-15T15:00:00.123Z");
        assert_eq!(placement_time(inside, &facts(&agent), false, now).unwrap(), inside);
    }

    #[test]
    fn the_policy_refuses_a_listed_number_and_a_cancelled_campaign_whatever_the_time() {
        let agent = agent(CallingHours::default());
        let now = at("2024-01-15T12:00:00Z");
        let listed = PlacementFacts { on_do_not_call: true, ..facts(&agent) };
        assert!(matches!(placement_time(now, &listed, true, now), Err(DomainError::Conflict { kind: crate::error::Conflict::OnDoNotCallList, .. })));
        let cancelled = PlacementFacts { campaign_cancelled: true, ..facts(&agent) };
        assert!(matches!(placement_time(now, &cancelled, true, now), Err(DomainError::Conflict { kind: crate::error::Conflict::CampaignCancelled, .. })));
    }

    #[test]
    fn past_times_are_refused_beyond_a_little_clock_skew() {
        let agent = agent(CallingHours::WHOLE_DAY);
        // 10:00 in New York: whatever the agent says, the law opens at 08:00 local.
        let now = at("2024-01-15T15:00:00Z");
        assert_eq!(placement_time(at("2024-01-15T14:59:50Z"), &facts(&agent), false, now).unwrap(), now, "skew: placed now");
        let err = placement_time(at("2024-01-15T14:58:00Z"), &facts(&agent), false, now).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "scheduled_in_past", .. }));
        let err = placement_time(at("2026-01-15T11:58:00Z"), &facts(&agent), false, now).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "scheduled_too_far", .. }));
        for outside in ["9999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "1999-12-31T00:00:00Z"] {
            let err = placement_time(at(outside), &facts(&agent), true, now).unwrap_err();
            assert!(matches!(err, DomainError::Invalid { code: "invalid_scheduled_at", .. }), "{outside}: {err:?}");
        }
    }

    #[test]
    fn an_opening_more_than_a_year_ahead_is_too_far() {
        // A year ahead to the minute is 22:00 in New York: the next opening is the morning after.
        let agent = agent(CallingHours::default());
        let now = at("2024-01-15T03:00:00Z");
        let err = placement_time(latest_dial(now), &facts(&agent), true, now).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "scheduled_too_far", .. }), "{err:?}");
    }

    #[test]
    fn a_campaign_is_spread_at_its_pace_and_only_inside_calling_hours() {
        let agent = agent(CallingHours::default());
        // 20:58 New York: two calls fit before 21:00, the rest start at 08:00 the next day.
        let latest = at("2025-01-01T00:00:00Z");
        let ny = [new_yorker(); 5];
        let times = spread_to(at("2024-01-16T01:58:00Z"), &ny, 1, &agent, &[], latest).unwrap();
        let expected = ["2024-01-16T01:58:00Z", "2024-01-16T01:59:00Z", "2024-01-16T13:00:00Z", "2024-01-16T13:01:00Z", "2024-01-16T13:02:00Z"];
        assert_eq!(times, expected.map(|t| Some(at(t))).to_vec());
        let fast = spread_to(at("2024-01-16T15:00:00Z"), &ny[..3], 20, &agent, &[], latest).unwrap();
        assert_eq!(fast[2].unwrap() - fast[0].unwrap(), Duration::seconds(6));
        assert!(times.iter().flatten().all(|t| agent.calling_hours.allows(*t, agent.time_zone)));

        // A Californian waits for 08:00 Pacific; the New Yorkers after them keep their pace.
        let la = Callee::of("+13105550100", &crate::placement::callee::Places::default());
        let mixed = spread_to(at("2024-01-16T14:00:00Z"), &[new_yorker(), &la, new_yorker()], 1, &agent, &[], latest).unwrap();
        assert_eq!(mixed, vec![Some(at("2024-01-16T14:00:00Z")), Some(at("2024-01-16T16:00:00Z")), Some(at("2024-01-16T14:01:00Z"))]);
        // Morning hours in New York and in Tokyo never meet: that contact alone gets no time.
        let mornings = self::agent(CallingHours::new(9 * 60, 12 * 60).unwrap());
        let apart = Callee::in_zones(&["America/New_York", "Asia/Tokyo"], &[]);
        let times = spread_to(at("2024-01-16T14:00:00Z"), &[&apart, new_yorker()], 1, &mornings, &[], latest).unwrap();
        assert_eq!(times, vec![None, Some(at("2024-01-16T14:00:00Z"))]);
    }

    #[test]
    fn a_campaign_that_would_run_past_a_year_is_refused() {
        // One hour a day at one call a minute: 60 calls a day, so 10,000 calls take 167 days.
        let agent = agent(CallingHours::new(9 * 60, 10 * 60).unwrap());
        let start = at("2024-01-16T14:00:00Z");
        let many = vec![new_yorker(); 10_000];
        assert!(spread_to(start, &many, 1, &agent, &[], start + Duration::days(200)).unwrap().iter().all(Option::is_some));
        let err = spread_to(start, &many, 1, &agent, &[], start + Duration::days(100)).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "campaign_too_long", .. }), "{err:?}");
    }
}
