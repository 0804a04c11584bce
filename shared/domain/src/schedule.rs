//! Scheduling outbound calls: when an attempt may be placed, how a campaign's
//! calls are spread over the agent's calling hours, and the port through
//! which an attempt is handed to whatever fires it at its time (EventBridge
//! Scheduler in AWS, the local host's own scheduler on one machine).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    CallId, DomainError, OrgId, VoiceAgent,
    policy::{Placement, PlacementFacts, Refusal, may_place},
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
    pub fn for_call(call: &crate::CallLog) -> DialRequest {
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

/// How far in the past a requested time may be (clocks differ a little).
pub const CLOCK_SKEW: Duration = Duration::seconds(30);
/// How far ahead anything may be dialed: a scheduled call, every call of a
/// campaign, a retry, a follow-up call.
pub const MAX_LEAD: Duration = Duration::days(365);

/// The latest time a call may be placed at when it is decided `now`.
pub fn latest_dial(now: DateTime<Utc>) -> DateTime<Utc> {
    now + MAX_LEAD
}

/// The time an attempt will be placed at, for a requested `at`: never in the
/// past, at most [`MAX_LEAD`] ahead, and where the placement policy
/// ([`crate::policy::may_place`]) allows it. Outside calling hours the
/// request is refused with the next allowed time, unless `move_into_hours`
/// asks to take it; a refusal by the policy is the refusal's own error.
pub fn placement_time(at: DateTime<Utc>, facts: &PlacementFacts, move_into_hours: bool, now: DateTime<Utc>) -> Result<DateTime<Utc>, DomainError> {
    if !time::is_supported(&at) {
        return Err(DomainError::invalid("invalid_scheduled_at", format!("scheduledAt must be {}", time::SUPPORTED_TEXT)));
    }
    if at < now - CLOCK_SKEW {
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
        Placement::Later { at: opening, .. } => {
            Err(DomainError::OutsideCallingHours { agent_id: facts.agent.map(|a| a.id.to_string()).unwrap_or_default(), next_allowed_at: opening })
        }
        Placement::Refused(Refusal::NoCallingHoursAhead) => Err(too_far()),
        Placement::Refused(refusal) => Err(refusal.error()),
    }
}

/// The times for `count` calls from `start` on, `per_minute` of them a
/// minute, each inside the agent's calling hours: a time that falls outside
/// moves to the next opening and the calls after it follow from there.
/// `campaign_too_long` when the last would fall after `latest`.
pub fn spread(start: DateTime<Utc>, count: usize, per_minute: u32, agent: &VoiceAgent, latest: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, DomainError> {
    let step = Duration::milliseconds(60_000 / i64::from(per_minute.max(1)));
    let mut times = Vec::with_capacity(count);
    let mut next = time::to_millis(start);
    for placed in 0..count {
        let at = crate::policy::earliest_placement(&crate::policy::planning(agent), next).ok().filter(|t| *t <= latest).ok_or_else(|| {
            DomainError::invalid(
                "campaign_too_long",
                format!(
                    "at {per_minute} calls a minute inside the agent's calling hours, only {placed} of these {count} calls fit before {}, a year from now; raise callsPerMinute or split the campaign",
                    time::format(&latest)
                ),
            )
        })?;
        times.push(at);
        next = at + step;
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallingHours, RetryPolicy};

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn facts(agent: &VoiceAgent) -> PlacementFacts<'_> {
        PlacementFacts { agent: Some(agent), campaign_cancelled: false, on_do_not_call: false, slot: crate::policy::Slot::Free }
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
            max_concurrent_calls: 10,
            retry_policy: RetryPolicy::default(),
            follow_up_calls: false,
            structured_output_name: None,
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
            Err(DomainError::OutsideCallingHours { next_allowed_at, .. }) => assert_eq!(next_allowed_at, at("2024-01-16T13:00:00Z")),
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
        assert!(matches!(placement_time(now, &listed, true, now), Err(DomainError::Conflict { code: "on_do_not_call_list", .. })));
        let cancelled = PlacementFacts { campaign_cancelled: true, ..facts(&agent) };
        assert!(matches!(placement_time(now, &cancelled, true, now), Err(DomainError::Conflict { code: "campaign_cancelled", .. })));
    }

    #[test]
    fn past_times_are_refused_beyond_a_little_clock_skew() {
        let agent = agent(CallingHours::WHOLE_DAY);
        let now = at("2024-01-15T12:00:00Z");
        assert_eq!(placement_time(at("2024-01-15T11:59:50Z"), &facts(&agent), false, now).unwrap(), now, "skew: placed now");
        let err = placement_time(at("2024-01-15T11:58:00Z"), &facts(&agent), false, now).unwrap_err();
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
        let times = spread(at("2024-01-16T01:58:00Z"), 5, 1, &agent, latest).unwrap();
        assert_eq!(
            times,
            vec![at("2024-01-16T01:58:00Z"), at("2024-01-16T01:59:00Z"), at("2024-01-16T13:00:00Z"), at("2024-01-16T13:01:00Z"), at("2024-01-16T13:02:00Z"),]
        );
        let fast = spread(at("2024-01-16T15:00:00Z"), 3, 20, &agent, latest).unwrap();
        assert_eq!(fast[2] - fast[0], Duration::seconds(6));
        assert!(times.iter().all(|t| agent.calling_hours.allows(*t, agent.time_zone)));
    }

    #[test]
    fn a_campaign_that_would_run_past_a_year_is_refused() {
        // One hour a day at one call a minute: 60 calls a day, so 10,000 calls take 167 days.
        let agent = agent(CallingHours::new(9 * 60, 10 * 60).unwrap());
        let start = at("2024-01-16T14:00:00Z");
        assert!(spread(start, 10_000, 1, &agent, start + Duration::days(200)).is_ok());
        let err = spread(start, 10_000, 1, &agent, start + Duration::days(100)).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "campaign_too_long", .. }), "{err:?}");
    }
}
