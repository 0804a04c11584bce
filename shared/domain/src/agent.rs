//! Voice agents: a Vapi assistant on a phone number, working for one practice,
//! with the rules its outbound calls must keep (calling hours in its own time
//! zone, how many calls at once, how often to retry).

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

use crate::{AgentId, DomainError, OrgId, secret::SecretNamespace, time};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceAgent {
    pub id: AgentId,
    pub org_id: OrgId,
    pub name: String,
    pub vapi_assistant_id: String,
    /// A number imported into Vapi; `None` when the agent dials from a transient Twilio number.
    pub vapi_phone_number_id: Option<String>,
    #[serde(default)]
    pub twilio_number: Option<TwilioNumber>,
    /// IANA name, e.g. `America/New_York`. Calling hours are read in this zone.
    pub time_zone: Tz,
    pub calling_hours: CallingHours,
    pub max_concurrent_calls: u32,
    pub retry_policy: RetryPolicy,
    /// Place an OUTBOUND_FOLLOWUP call when a patient agrees a follow-up date.
    #[serde(default)]
    pub follow_up_calls: bool,
    #[serde(with = "time::ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::ms")]
    pub updated_at: DateTime<Utc>,
}

/// The agent's default concurrency: Vapi's default account limit.
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 10;

/// The local window in which outbound calls may be placed, every day.
/// `start` is inclusive, `end` exclusive; `00:00`-`24:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ClockHours")]
pub struct CallingHours {
    #[serde(with = "clock")]
    pub start: u16,
    #[serde(with = "clock")]
    pub end: u16,
}

/// Calling hours as they are written, checked by [`CallingHours::new`] on the
/// way in, so that no stored or sent value can hold hours that never open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ClockHours {
    #[serde(with = "clock")]
    pub start: u16,
    #[serde(with = "clock")]
    pub end: u16,
}

impl TryFrom<ClockHours> for CallingHours {
    type Error = DomainError;

    fn try_from(hours: ClockHours) -> Result<Self, DomainError> {
        CallingHours::new(hours.start, hours.end)
    }
}

impl Default for CallingHours {
    /// 08:00 to 21:00 local time, as US telemarketing rules require.
    fn default() -> Self {
        CallingHours { start: 8 * 60, end: 21 * 60 }
    }
}

impl CallingHours {
    pub const WHOLE_DAY: CallingHours = CallingHours { start: 0, end: 24 * 60 };

    pub fn new(start_minute: u16, end_minute: u16) -> Result<Self, DomainError> {
        if start_minute >= end_minute || end_minute > 24 * 60 {
            return Err(DomainError::invalid("invalid_calling_hours", "calling hours must start before they end, within one day (00:00 to 24:00)"));
        }
        Ok(CallingHours { start: start_minute, end: end_minute })
    }

    fn contains_minute(&self, minute_of_day: u16) -> bool {
        (self.start..self.end).contains(&minute_of_day)
    }

    /// Whether `at` falls inside the hours, read in `zone`.
    pub fn allows(&self, at: DateTime<Utc>, zone: Tz) -> bool {
        let local = at.with_timezone(&zone);
        self.contains_minute((local.hour() * 60 + local.minute()) as u16)
    }

    /// `at` itself when allowed, else the next moment the hours open, in UTC.
    /// Days whose opening time does not exist locally (a spring-forward gap)
    /// open at the first valid minute after it. `None` only at the very end
    /// of chrono's range, which no supported time comes near.
    pub fn next_allowed(&self, at: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        if self.allows(at, zone) {
            return Some(at);
        }
        let opening = NaiveTime::from_num_seconds_from_midnight_opt(u32::from(self.start) * 60, 0)?;
        let mut day = at.with_timezone(&zone).date_naive();
        // Three days: one may be skipped whole (Samoa, 2011-12-30), one may open before `at`.
        for _ in 0..4 {
            let candidate = time::local_to_utc(zone, day.and_time(opening));
            if candidate > at && self.allows(candidate, zone) {
                return Some(candidate);
            }
            day = day.succ_opt()?;
        }
        None
    }
}

mod clock {
    use super::*;

    pub fn serialize<S: Serializer>(minute: &u16, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02}:{:02}", minute / 60, minute % 60))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        let text = String::deserialize(d)?;
        parse_clock(&text).ok_or_else(|| D::Error::custom(format!("{text:?} is not a time of day (HH:MM, 00:00 to 24:00)")))
    }
}

/// Parses `HH:MM` (00:00 to 24:00) into minutes since midnight.
pub fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
    let minute = h * 60 + m;
    (m < 60 && minute <= 24 * 60).then_some(minute)
}

/// How a call that found nobody (no answer, busy, voicemail) is tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Minutes to wait before attempt 2, 3, ...; the last delay repeats.
    pub delays_minutes: Vec<u32>,
}

impl Default for RetryPolicy {
    /// Three attempts, 30 then 120 minutes apart.
    fn default() -> Self {
        RetryPolicy { max_attempts: 3, delays_minutes: vec![30, 120] }
    }
}

impl RetryPolicy {
    /// When attempt `attempt + 1` is due after attempt `attempt` ended at
    /// `ended`, or `None` when the attempts are used up.
    pub fn next_attempt_after(&self, attempt: u32, ended: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempt >= self.max_attempts {
            return None;
        }
        let index = (attempt.max(1) - 1) as usize;
        let delay = self.delays_minutes.get(index).or(self.delays_minutes.last()).copied().unwrap_or(0);
        Some(ended + Duration::minutes(i64::from(delay)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    #[test]
    fn default_hours_are_eight_to_nine_local() {
        let hours = CallingHours::default();
        let ny: Tz = "America/New_York".parse().unwrap();
        // 12:59 UTC is 07:59 in New York in winter (UTC-5).
        assert!(!hours.allows(utc("2024-01-15T12:59:00Z"), ny));
        assert!(hours.allows(utc("2024-01-15T13:00:00Z"), ny));
        assert!(hours.allows(utc("2024-01-16T01:59:00Z"), ny));
        assert!(!hours.allows(utc("2024-01-16T02:00:00Z"), ny), "21:00 local is closed");
        assert_eq!(hours.next_allowed(utc("2024-01-16T02:00:00Z"), ny), Some(utc("2024-01-16T13:00:00Z")));
        // In summer New York is UTC-4, so the same hours open an hour earlier in UTC.
        assert_eq!(hours.next_allowed(utc("2024-07-01T03:00:00Z"), ny), Some(utc("2024-07-01T12:00:00Z")));
        let inside = utc("2024-07-01T15:00:00Z");
        assert_eq!(hours.next_allowed(inside, ny), Some(inside));
    }

    #[test]
    fn an_opening_inside_a_daylight_saving_gap_moves_to_the_first_real_minute() {
        // On 2024-03-10 New York clocks jump from 02:00 to 03:00.
        let hours = CallingHours::new(2 * 60 + 30, 22 * 60).unwrap();
        let ny: Tz = "America/New_York".parse().unwrap();
        let next = hours.next_allowed(utc("2024-03-10T05:00:00Z"), ny); // 00:00 EST
        assert_eq!(next, Some(utc("2024-03-10T07:00:00Z"))); // 03:00 EDT
    }

    #[test]
    fn a_day_a_zone_skips_is_skipped_and_the_end_of_time_is_no_panic() {
        let apia: Tz = "Pacific/Apia".parse().unwrap();
        // 2011-12-29 21:00 local (UTC-10) is closed; 2011-12-30 never happened there.
        let next = CallingHours::default().next_allowed(utc("2011-12-30T07:00:00Z"), apia);
        assert_eq!(next, Some(utc("2011-12-30T18:00:00Z")), "08:00 on 2011-12-31, UTC+14");
        assert_eq!(CallingHours::new(60, 120).unwrap().next_allowed(DateTime::<Utc>::MAX_UTC, Tz::UTC), None);
    }

    #[test]
    fn hours_parse_and_print_as_clock_times() {
        let hours: CallingHours = serde_json::from_str(r#"{"start":"00:00","end":"24:00"}"#).unwrap();
        assert_eq!(hours, CallingHours::WHOLE_DAY);
        assert_eq!(serde_json::to_string(&CallingHours::default()).unwrap(), r#"{"start":"08:00","end":"21:00"}"#);
        assert!(serde_json::from_str::<CallingHours>(r#"{"start":"8am","end":"24:00"}"#).is_err());
        assert!(serde_json::from_str::<CallingHours>(r#"{"start":"24:00","end":"24:00"}"#).is_err(), "hours that never open are refused on the way in");
        assert!(parse_clock("24:01").is_none());
        assert!(parse_clock("12:60").is_none());
        assert!(CallingHours::new(600, 600).is_err());
    }

    #[test]
    fn retries_follow_the_policy_then_stop() {
        let policy = RetryPolicy::default();
        let ended = utc("2024-01-15T15:00:00Z");
        assert_eq!(policy.next_attempt_after(1, ended), Some(utc("2024-01-15T15:30:00Z")));
        assert_eq!(policy.next_attempt_after(2, ended), Some(utc("2024-01-15T17:00:00Z")));
        assert_eq!(policy.next_attempt_after(3, ended), None);
    }
}

/// A Twilio number Vapi dials from without importing it. Its auth token is
/// never stored: `auth_token_secret` names where it lives
/// (`arn:aws:secretsmanager:...`, or `env:NAME` locally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwilioNumber {
    pub number: String,
    pub account_sid: String,
    pub auth_token_secret: String,
}

/// What a client sends to create or change a voice agent; absent fields keep
/// their value (or default, on create).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub vapi_assistant_id: Option<String>,
    pub vapi_phone_number_id: Option<String>,
    pub twilio_number: Option<TwilioNumber>,
    pub time_zone: Option<String>,
    /// Checked when applied, so a bad value is `invalid_calling_hours`.
    pub calling_hours: Option<ClockHours>,
    pub max_concurrent_calls: Option<u32>,
    pub retry_policy: Option<RetryPolicy>,
    pub follow_up_calls: Option<bool>,
}

fn invalid(code: &'static str, message: &str) -> DomainError {
    DomainError::invalid(code, message.to_string())
}

fn non_empty(value: Option<String>, code: &'static str, what: &str) -> Result<Option<String>, DomainError> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) => {
            Err(invalid(code, &format!("{what} must be 1 to 200 bytes without control characters")))
        }
        other => Ok(other),
    }
}

/// A tenant id is a short run of letters, digits, `-` and `_`: it is part of
/// every key, so nothing else may appear in it.
pub fn valid_org_id(org_id: &str) -> bool {
    !org_id.is_empty() && org_id.len() <= 64 && org_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The agent an inbound call is recorded under when no agent of the tenant
/// owns the number or assistant it came in on.
pub const UNASSIGNED_AGENT: &str = "unassigned";

/// An agent id is part of keys and URLs: letters, digits, `-` and `_`.
pub fn valid_agent_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') && id != UNASSIGNED_AGENT
}

impl AgentInput {
    /// A new agent for `org_id` from this input, with the defaults
    /// (08:00-21:00, 10 concurrent calls, 3 attempts 30 then 120 minutes apart).
    pub fn create(self, org_id: &str, now: DateTime<Utc>, secrets: &SecretNamespace) -> Result<VoiceAgent, DomainError> {
        let now = time::to_millis(now);
        let id = match self.id.clone() {
            Some(id) if valid_agent_id(&id) => id,
            Some(_) => return Err(invalid("invalid_agent_id", "id must be 1 to 64 letters, digits, - or _ (and not \"unassigned\")")),
            None => uuid::Uuid::now_v7().to_string(),
        };
        let required =
            |value: &Option<String>, code: &'static str, what: &str| value.is_none().then(|| invalid(code, &format!("{what} is required"))).map_or(Ok(()), Err);
        required(&self.name, "invalid_name", "name")?;
        required(&self.vapi_assistant_id, "invalid_vapi_assistant_id", "vapiAssistantId")?;
        required(&self.time_zone, "invalid_time_zone", "timeZone")?;
        let blank = VoiceAgent {
            id: id.into(),
            org_id: org_id.to_string().into(),
            name: String::new(),
            vapi_assistant_id: String::new(),
            vapi_phone_number_id: None,
            twilio_number: None,
            time_zone: Tz::UTC,
            calling_hours: CallingHours::default(),
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            retry_policy: RetryPolicy::default(),
            follow_up_calls: false,
            created_at: now,
            updated_at: now,
        };
        AgentInput { id: None, ..self }.apply_to(&blank, now, secrets)
    }

    /// `agent` changed by this input, checked as a whole; a Twilio number's
    /// secret must be the tenant's own in `secrets`.
    pub fn apply_to(self, agent: &VoiceAgent, now: DateTime<Utc>, secrets: &SecretNamespace) -> Result<VoiceAgent, DomainError> {
        if self.id.as_ref().is_some_and(|id| id != &agent.id) {
            return Err(invalid("invalid_agent_id", "an agent's id cannot change"));
        }
        let mut next = agent.clone();
        if let Some(name) = non_empty(self.name, "invalid_name", "name")? {
            next.name = name;
        }
        if let Some(assistant) = non_empty(self.vapi_assistant_id, "invalid_vapi_assistant_id", "vapiAssistantId")? {
            next.vapi_assistant_id = assistant;
        }
        if let Some(number_id) = non_empty(self.vapi_phone_number_id, "invalid_vapi_phone_number_id", "vapiPhoneNumberId")? {
            next.vapi_phone_number_id = Some(number_id);
            next.twilio_number = None;
        }
        if let Some(mut twilio) = self.twilio_number {
            twilio.number = crate::phone::normalize(&twilio.number)
                .map(crate::phone::PhoneNumber::into_string)
                .map_err(|_| invalid("invalid_twilio_number", "twilioNumber.number must be a phone number Twilio can dial from (E.164)"))?;
            twilio.account_sid = twilio.account_sid.trim().to_string();
            if twilio.account_sid.is_empty() || twilio.account_sid.len() > 64 || !twilio.account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid("invalid_twilio_number", "twilioNumber.accountSid must be a Twilio account SID (up to 64 letters and digits)"));
            }
            twilio.auth_token_secret = twilio.auth_token_secret.trim().to_string();
            secrets.check(&agent.org_id, &twilio.auth_token_secret)?;
            next.twilio_number = Some(twilio);
            next.vapi_phone_number_id = None;
        }
        if let Some(zone) = self.time_zone {
            next.time_zone = zone.parse().map_err(|_| invalid("invalid_time_zone", "timeZone must be an IANA time zone name, e.g. America/New_York"))?;
        }
        if let Some(hours) = self.calling_hours {
            next.calling_hours = CallingHours::new(hours.start, hours.end)?;
        }
        if let Some(max) = self.max_concurrent_calls {
            if !(1..=100).contains(&max) {
                return Err(invalid("invalid_max_concurrent_calls", "maxConcurrentCalls must be 1 to 100"));
            }
            next.max_concurrent_calls = max;
        }
        if let Some(policy) = self.retry_policy {
            let delays_ok = policy.delays_minutes.len() <= 10 && policy.delays_minutes.iter().all(|d| (1..=7 * 24 * 60).contains(d));
            if !(1..=10).contains(&policy.max_attempts) || !delays_ok || (policy.max_attempts > 1 && policy.delays_minutes.is_empty()) {
                return Err(invalid(
                    "invalid_retry_policy",
                    "retryPolicy needs maxAttempts 1 to 10 and, when it retries, up to 10 delaysMinutes of 1 to 10080 minutes each",
                ));
            }
            next.retry_policy = policy;
        }
        if let Some(follow_ups) = self.follow_up_calls {
            next.follow_up_calls = follow_ups;
        }
        if next.vapi_phone_number_id.is_none() && next.twilio_number.is_none() {
            return Err(invalid("invalid_phone_number", "an agent needs vapiPhoneNumberId or twilioNumber to call from"));
        }
        next.updated_at = time::to_millis(now).max(agent.updated_at);
        next.check_storable()?;
        Ok(next)
    }
}

impl VoiceAgent {
    /// Whether the store can keep this agent and read it back as it is (what
    /// [`AgentInput`] makes always is; the store checks every write).
    pub fn check_storable(&self) -> Result<(), DomainError> {
        let refuse = |why: &str| Err(invalid("unstorable_agent", &format!("agent {:?} cannot be stored: {why}", self.id.chars().take(80).collect::<String>())));
        let text_ok = |text: &str| !text.is_empty() && text.len() <= 200 && !text.chars().any(char::is_control);
        if !valid_agent_id(&self.id) || !valid_org_id(&self.org_id) {
            return refuse("its id or tenant id is not one");
        }
        if !text_ok(&self.name) || !text_ok(&self.vapi_assistant_id) || self.vapi_phone_number_id.as_deref().is_some_and(|id| !text_ok(id)) {
            return refuse("name, vapiAssistantId and vapiPhoneNumberId must be 1 to 200 characters");
        }
        if let Some(twilio) = &self.twilio_number
            && (twilio.number.len() > 32 || twilio.account_sid.len() > 64 || twilio.auth_token_secret.len() > 700)
        {
            return refuse("its Twilio number is longer than its bounds");
        }
        if self.vapi_phone_number_id.is_none() && self.twilio_number.is_none() {
            return refuse("it has no number to call from");
        }
        if CallingHours::new(self.calling_hours.start, self.calling_hours.end).is_err() || !(1..=100).contains(&self.max_concurrent_calls) {
            return refuse("its calling hours or concurrent calls are out of bounds");
        }
        let policy = &self.retry_policy;
        if !(1..=10).contains(&policy.max_attempts) || policy.delays_minutes.len() > 10 || !policy.delays_minutes.iter().all(|d| (1..=7 * 24 * 60).contains(d))
        {
            return refuse("its retry policy is out of bounds");
        }
        for at in [self.created_at, self.updated_at] {
            if !time::is_storable(&at) {
                return refuse("its times must be in the supported range, to the millisecond");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod input_tests {
    use super::*;

    fn input(json: &str) -> AgentInput {
        serde_json::from_str(json).unwrap()
    }

    fn code(err: DomainError) -> &'static str {
        match err {
            DomainError::Invalid { code, .. } => code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_agent_gets_the_defaults() {
        let now = Utc::now();
        let agent = input(r#"{"id":"front","name":"Front desk","vapiAssistantId":"asst","vapiPhoneNumberId":"pn","timeZone":"America/Denver"}"#)
            .create("acme", now, &SecretNamespace::local())
            .unwrap();
        assert_eq!(agent.calling_hours, CallingHours::default());
        assert_eq!(agent.max_concurrent_calls, 10);
        assert_eq!(agent.retry_policy, RetryPolicy::default());
        assert_eq!(agent.time_zone, chrono_tz::America::Denver);
        assert_eq!(agent.org_id, "acme");
    }

    #[test]
    fn bad_agents_are_refused_with_a_code() {
        let now = Utc::now();
        let base = r#""name":"A","vapiAssistantId":"asst","timeZone":"UTC""#;
        for (json, expected) in [
            (r#"{"name":"A","vapiAssistantId":"asst","vapiPhoneNumberId":"pn"}"#.to_string(), "invalid_time_zone"),
            (r#"{"name":"A","vapiAssistantId":"asst","vapiPhoneNumberId":"pn","timeZone":"Mars/Base"}"#.to_string(), "invalid_time_zone"),
            (format!(r#"{{{base}}}"#), "invalid_phone_number"),
            (format!(r#"{{{base},"vapiPhoneNumberId":"pn","id":"no spaces"}}"#), "invalid_agent_id"),
            (format!(r#"{{{base},"vapiPhoneNumberId":"pn","maxConcurrentCalls":0}}"#), "invalid_max_concurrent_calls"),
            (format!(r#"{{{base},"vapiPhoneNumberId":"pn","callingHours":{{"start":"21:00","end":"08:00"}}}}"#), "invalid_calling_hours"),
            (format!(r#"{{{base},"vapiPhoneNumberId":"pn","retryPolicy":{{"maxAttempts":3,"delaysMinutes":[]}}}}"#), "invalid_retry_policy"),
            (format!(r#"{{{base},"twilioNumber":{{"number":"+12025550100","accountSid":"AC1","authTokenSecret":"raw-token"}}}}"#), "invalid_twilio_number"),
        ] {
            let parsed: AgentInput = serde_json::from_str(&json).unwrap();
            assert_eq!(code(parsed.create("acme", now, &SecretNamespace::local()).unwrap_err()), expected, "{json}");
        }
        let twilio = |secret: &str| {
            input(&format!(r#"{{"name":"A","vapiAssistantId":"asst","timeZone":"UTC","twilioNumber":{{"number":"+12025550100","accountSid":"AC1","authTokenSecret":"{secret}"}}}}"#))
                .create("acme", now, &SecretNamespace::local())
        };
        assert!(twilio("arn:aws:secretsmanager:us-east-1:000000000000:secret:callops/acme/twilio").unwrap().twilio_number.is_some());
        assert!(twilio("env:CALLOPS_SECRET_acme_TWILIO").is_ok());
        for foreign in ["env:VAPI_API_KEY", "env:CALLOPS_SECRET_globex_TWILIO", "arn:aws:secretsmanager:us-east-1:1:secret:t"] {
            assert_eq!(code(twilio(foreign).unwrap_err()), "invalid_twilio_number", "{foreign}");
        }
    }
}
