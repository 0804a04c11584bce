//! Voice agents: a Vapi assistant on a phone number, working for one practice,
//! with the rules its outbound calls must keep (calling hours in its own time
//! zone, how many calls at once, how often to retry).

pub mod hours;
pub mod secret;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use crate::agent::hours::{CallingHours, ClockHours, Day, RetryPolicy, parse_clock};
use crate::call::measures::valid_output_name;
use crate::ids::{valid_agent_id, valid_org_id};
use crate::{agent::secret::SecretNamespace, error::DomainError, ids::AgentId, ids::OrgId, time};

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
    /// Windows of their own for some days of the week (else `callingHours`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub hours_by_day: std::collections::BTreeMap<Day, CallingHours>,
    /// Days the agent places no calls.
    #[serde(default)]
    pub closed_days: Vec<Day>,
    pub max_concurrent_calls: u32,
    pub retry_policy: RetryPolicy,
    /// Place an OUTBOUND_FOLLOWUP call when a patient agrees a follow-up date.
    #[serde(default)]
    pub follow_up_calls: bool,
    /// The name of the Vapi structured output whose `result` follows
    /// CallOps's schema. Set, the agent expects it on every conversation
    /// and a report without it is read again later; unset, an output named
    /// [`DEFAULT_OUTPUT_NAME`] is read when it comes, and none is awaited.
    #[serde(default)]
    pub structured_output_name: Option<String>,
    /// What the agent's outbound calls leave on voicemail when their
    /// campaign gives no message of its own (`crate::campaign::voicemail`:
    /// checked for each call's type before it is left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_message: Option<String>,
    /// The legacy `voice_agent_id` an agent made by `callops migrate` stands
    /// for: it holds imported history, is listed and filtered like any
    /// agent, and never dials (it has no assistant or number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
    #[serde(with = "time::ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::ms")]
    pub updated_at: DateTime<Utc>,
}

/// The agent's default concurrency: Vapi's default account limit.
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 10;

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
    /// Checked when applied: a time that is not one is `invalid_hours`,
    /// hours that never open `invalid_calling_hours`.
    pub calling_hours: Option<HoursInput>,
    /// Replaces the windows by day (an empty object clears them).
    pub hours_by_day: Option<std::collections::BTreeMap<Day, HoursInput>>,
    /// Replaces the closed days.
    pub closed_days: Option<Vec<Day>>,
    pub max_concurrent_calls: Option<u32>,
    pub retry_policy: Option<RetryPolicy>,
    pub follow_up_calls: Option<bool>,
    /// Absent keeps it; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub structured_output_name: Option<Option<String>>,
    /// Absent keeps it; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub voicemail_message: Option<Option<String>>,
}

/// Calling hours as a client writes them, read when applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursInput {
    pub start: String,
    pub end: String,
}

impl HoursInput {
    /// The hours: each end a time of day (`HH:MM`, 00:00 to 24:00; else
    /// `invalid_hours`), the start before the end (else `invalid_calling_hours`).
    pub fn hours(&self) -> Result<CallingHours, DomainError> {
        let clock = |text: &str| {
            parse_clock(text).ok_or_else(|| {
                DomainError::invalid(
                    "invalid_hours",
                    format!("{:?} is not a time of day: write HH:MM, 00:00 to 24:00", text.chars().take(20).collect::<String>()),
                )
            })
        };
        CallingHours::new(clock(&self.start)?, clock(&self.end)?)
    }
}

/// A field that is present, even as `null` (`Some(None)`), as opposed to absent (`None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// The structured output read when an agent names none.
pub const DEFAULT_OUTPUT_NAME: &str = "callops";

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
        let blank = VoiceAgent::blank(org_id, &id, now);
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
            next.calling_hours = hours.hours()?;
        }
        if let Some(by_day) = self.hours_by_day {
            next.hours_by_day = by_day.into_iter().map(|(day, h)| h.hours().map(|h| (day, h))).collect::<Result<_, _>>()?;
        }
        if let Some(mut closed) = self.closed_days {
            closed.sort();
            closed.dedup();
            if closed.len() >= 7 {
                return Err(invalid("invalid_calling_hours", "closedDays cannot close every day of the week"));
            }
            next.closed_days = closed;
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
        if let Some(name) = self.structured_output_name {
            let name = name.map(|n| n.trim().to_string());
            if name.as_deref().is_some_and(|n| !valid_output_name(n)) {
                return Err(invalid("invalid_structured_output_name", "structuredOutputName must be 1 to 40 characters without control characters"));
            }
            next.structured_output_name = name;
        }
        if let Some(message) = self.voicemail_message {
            let message = message.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
            if let Some(text) = &message {
                crate::limits::check_voicemail_syntax(text)?;
            }
            next.voicemail_message = message;
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
    /// The agent `callops migrate` makes for a legacy `voice_agent_id` no
    /// CallOps agent stands for: named after it, in UTC, never dialing.
    pub fn imported(org_id: &str, id: &str, legacy_id: &str, now: DateTime<Utc>) -> VoiceAgent {
        let legacy: String = legacy_id.chars().filter(|c| !c.is_control()).take(180).collect();
        VoiceAgent {
            name: format!("Imported: {legacy}"),
            max_concurrent_calls: 1,
            imported_from: Some(legacy),
            ..VoiceAgent::blank(org_id, id, time::to_millis(now))
        }
    }

    /// An agent with nothing set yet: no name, assistant or number, the default hours, in UTC.
    fn blank(org_id: &str, id: &str, now: DateTime<Utc>) -> VoiceAgent {
        VoiceAgent {
            id: id.into(),
            org_id: org_id.into(),
            name: String::new(),
            vapi_assistant_id: String::new(),
            vapi_phone_number_id: None,
            twilio_number: None,
            time_zone: Tz::UTC,
            calling_hours: CallingHours::default(),
            hours_by_day: Default::default(),
            closed_days: Vec::new(),
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            retry_policy: RetryPolicy::default(),
            follow_up_calls: false,
            structured_output_name: None,
            voicemail_message: None,
            imported_from: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the agent places calls (an imported one never does).
    pub fn dials(&self) -> bool {
        self.imported_from.is_none()
    }

    /// The agent's window on a day of the week; `None` when it is closed.
    pub fn hours_on(&self, weekday: chrono::Weekday) -> Option<CallingHours> {
        let day = Day::of(weekday);
        if self.closed_days.contains(&day) {
            return None;
        }
        Some(self.hours_by_day.get(&day).copied().unwrap_or(self.calling_hours))
    }

    /// Whether the agent's hours cover `at` on its own clock: the day is not
    /// one of its closed days nor one of the practice's `holidays`, and the
    /// time is within that day's window.
    pub fn open_at(&self, at: DateTime<Utc>, holidays: &[chrono::NaiveDate]) -> bool {
        let local = at.with_timezone(&self.time_zone);
        !holidays.contains(&local.date_naive()) && self.hours_on(chrono::Datelike::weekday(&local)).is_some_and(|hours| hours.allows(at, self.time_zone))
    }

    /// The structured output this agent's reports are read from, and whether it is expected on every conversation.
    pub fn structured_output(&self) -> (&str, bool) {
        match &self.structured_output_name {
            Some(name) => (name, true),
            None => (DEFAULT_OUTPUT_NAME, false),
        }
    }

    /// Whether the store can keep this agent and read it back as it is (what
    /// [`AgentInput`] makes always is; the store checks every write).
    pub fn check_storable(&self) -> Result<(), DomainError> {
        let refuse = |why: &str| Err(invalid("unstorable_agent", &format!("agent {:?} cannot be stored: {why}", self.id.chars().take(80).collect::<String>())));
        let text_ok = |text: &str| !text.is_empty() && text.len() <= 200 && !text.chars().any(char::is_control);
        if !valid_agent_id(&self.id) || !valid_org_id(&self.org_id) {
            return refuse("its id or tenant id is not one");
        }
        if let Some(legacy) = &self.imported_from {
            // An imported agent has no assistant and no number: it never dials.
            let bare = self.vapi_assistant_id.is_empty() && self.vapi_phone_number_id.is_none() && self.twilio_number.is_none();
            if !text_ok(legacy) || !text_ok(&self.name) || !bare {
                return refuse("an imported agent names its legacy id and has no assistant or number");
            }
            return Ok(());
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
        if self.structured_output_name.as_deref().is_some_and(|name| !valid_output_name(name)) {
            return refuse("structuredOutputName must be 1 to 40 characters");
        }
        let hours_ok = std::iter::once(&self.calling_hours).chain(self.hours_by_day.values()).all(|h| CallingHours::new(h.start, h.end).is_ok());
        if !hours_ok || self.closed_days.len() >= 7 || !self.closed_days.is_sorted() || !(1..=100).contains(&self.max_concurrent_calls) {
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
            (format!(r#"{{{base},"vapiPhoneNumberId":"pn","callingHours":{{"start":"25:00","end":"26:00"}}}}"#), "invalid_hours"),
            (format!(r#"{{{base},"vapiPhoneNumberId":"pn","hoursByDay":{{"sat":{{"start":"9am","end":"13:00"}}}}}}"#), "invalid_hours"),
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
