//! A tenant's own settings: the dates it places no calls (holidays, read
//! as local dates where each callee is) and its own cap on attempts to one
//! number. Every field has a default, so a tenant that never set anything
//! has settings too.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{error::DomainError, ids::OrgId, placement::call_rules::DEFAULT_TENANT_CAP_PER_DAY, time};

/// The most holidays a tenant may keep.
pub const MAX_HOLIDAYS: usize = 400;
/// The highest cap a tenant may set (it narrows the law's limits, never widens them).
pub const MAX_TENANT_CAP_PER_DAY: u32 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSettings {
    pub org_id: OrgId,
    /// Closed dates, sorted, each once.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// At most this many outbound attempts to one number within 24 hours, across every call type.
    #[serde(default = "default_cap")]
    pub max_attempts_per_number_per_day: u32,
    /// Which consent bases each outbound call type needs.
    #[serde(default)]
    pub consent_policy: crate::consent::ConsentPolicy,
    /// Calls to callees whose state needs everyone's consent to record: disclose and ask, or do not record.
    #[serde(default)]
    pub recording_policy: crate::placement::recording::RecordingPolicy,
    /// How long calls' content is kept.
    #[serde(default)]
    pub retention: Retention,
    /// What a call to a callee nothing places (a number that gives no place, no record) does.
    #[serde(default)]
    pub unknown_callee_location: UnknownCalleeLocation,
    /// The practice's name as callees hear it, and the number they can call
    /// it back on: what every artificial-voice call states (47 CFR
    /// 64.1200(b)), and what a call resting on the healthcare exemption
    /// must say at its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_number: Option<String>,
    /// The practice's own time zone: where its staff read times (the
    /// dashboard's times and local days). Calls keep to their callees' clocks whatever it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<chrono_tz::Tz>,
    /// The tenant's inbound assistant tells callers the call is recorded: only
    /// then is an inbound call's recording kept when the caller may be in a
    /// state that needs everyone's consent.
    #[serde(default)]
    pub inbound_recording_disclosed: bool,
    /// Staff may listen to the tenant's live calls: only then is a placed
    /// call's listening on (locked behind Vapi's public key), and its listen
    /// link kept on the call for staff and admins.
    #[serde(default)]
    pub live_listening: bool,
    /// When the Reassigned Numbers Database cannot be asked before a
    /// telemarketing call: the call waits (the default) or proceeds on its
    /// consent alone. Care calls always proceed.
    #[serde(default)]
    pub rnd_outage: crate::consent::reassigned::RndOutage,
    /// The Vapi account's concurrent calls, shared by inbound, outbound and
    /// web calls (Vapi's default: 10), and how many of them are kept for
    /// patients calling in (default 2): outbound calls of every agent
    /// together hold at most the difference ([`TenantSettings::outbound_room`]).
    #[serde(default = "default_vapi_concurrency")]
    pub vapi_concurrency_limit: u32,
    #[serde(default = "default_reserved_inbound")]
    pub reserved_inbound_slots: u32,
    /// The do-not-call registry copies the practice imported, one per registry (`callops import-dnc`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<crate::placement::registries::RegistryCopy>,
    #[serde(with = "time::ms::option", default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// What a call to a callee whose place nothing gives does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCalleeLocation {
    /// It fits every zone and honours every state of the fifty states and DC.
    #[default]
    EveryZone,
    /// It is refused (`unknown_callee_location`).
    Refuse,
}

/// The longest practice name kept.
pub const MAX_PRACTICE_NAME: usize = 100;

/// How long a tenant keeps what it holds, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// Calls' content (transcript, summary, recording link, notes), from
    /// the call's start (or its creation, for a call never started).
    #[serde(default = "default_content_days")]
    pub content_days: u32,
}

/// Content is kept two years unless the practice says otherwise.
pub const DEFAULT_CONTENT_DAYS: u32 = 730;
/// Content may be kept at most ten years (the longest of the states'
/// medical-record periods for adults), at least one day.
pub const MAX_CONTENT_DAYS: u32 = 3653;
pub const MIN_CONTENT_DAYS: u32 = 1;

fn default_content_days() -> u32 {
    DEFAULT_CONTENT_DAYS
}

impl Default for Retention {
    fn default() -> Self {
        Retention { content_days: DEFAULT_CONTENT_DAYS }
    }
}

impl Retention {
    /// Content of calls that started (or were created) before this is past its retention at `now`.
    pub fn content_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::days(i64::from(self.content_days))
    }

    /// Whether `call`'s content is past its retention at `now`.
    pub fn content_expired(&self, call: &crate::call::CallLog, now: DateTime<Utc>) -> bool {
        call.call_started_at.unwrap_or(call.created_at) < self.content_cutoff(now)
    }

    fn check(&self) -> Result<(), DomainError> {
        if !(MIN_CONTENT_DAYS..=MAX_CONTENT_DAYS).contains(&self.content_days) {
            return Err(DomainError::invalid("invalid_retention", format!("retention.contentDays must be 1 to {MAX_CONTENT_DAYS}")));
        }
        Ok(())
    }
}

fn default_cap() -> u32 {
    DEFAULT_TENANT_CAP_PER_DAY
}

impl TenantSettings {
    /// What a tenant that set nothing has.
    pub fn defaults(org_id: &str) -> TenantSettings {
        TenantSettings {
            org_id: org_id.into(),
            holidays: Vec::new(),
            max_attempts_per_number_per_day: DEFAULT_TENANT_CAP_PER_DAY,
            vapi_concurrency_limit: default_vapi_concurrency(),
            reserved_inbound_slots: default_reserved_inbound(),
            consent_policy: Default::default(),
            recording_policy: Default::default(),
            retention: Retention::default(),
            unknown_callee_location: UnknownCalleeLocation::default(),
            practice_name: None,
            callback_number: None,
            time_zone: None,
            inbound_recording_disclosed: false,
            live_listening: false,
            rnd_outage: Default::default(),
            registries: Vec::new(),
            updated_at: None,
        }
    }

    /// Whether a call to a callee nothing places is refused (`unknown_callee_location`).
    pub fn refuses_unknown_location(&self) -> bool {
        self.unknown_callee_location == UnknownCalleeLocation::Refuse
    }

    /// Whether the practice's name and callback number are set (what a call on the healthcare exemption states).
    pub fn practice_identified(&self) -> bool {
        self.practice_name.is_some() && self.callback_number.is_some()
    }

    /// Who the practice's calls say is calling, when it set both its name
    /// and its callback number; otherwise `practice_identity_required`.
    pub fn identity(&self) -> Result<crate::call::compliance::Identity, DomainError> {
        match (&self.practice_name, &self.callback_number) {
            (Some(practice_name), Some(callback_number)) => {
                Ok(crate::call::compliance::Identity { practice_name: practice_name.clone(), callback_number: Some(callback_number.clone()) })
            }
            _ => Err(DomainError::invalid(
                "practice_identity_required",
                "a voicemail names the practice and gives its callback number: set practiceName and callbackNumber in the settings first",
            )),
        }
    }

    pub fn check_storable(&self) -> Result<(), DomainError> {
        let refuse = |why: &str| Err(DomainError::invalid("unstorable_settings", format!("settings cannot be stored: {why}")));
        if self.holidays.len() > MAX_HOLIDAYS || !self.holidays.is_sorted() || self.holidays.windows(2).any(|w| w[0] == w[1]) {
            return refuse("holidays must be sorted, each once, at most 400");
        }
        if !(1..=MAX_TENANT_CAP_PER_DAY).contains(&self.max_attempts_per_number_per_day) {
            return refuse("maxAttemptsPerNumberPerDay must be 1 to 20");
        }
        if self.retention.check().is_err() {
            return refuse("the retention periods are out of range");
        }
        if check_concurrency(self.vapi_concurrency_limit, self.reserved_inbound_slots).is_err() {
            return refuse("the concurrency limit and its inbound reserve are out of range");
        }
        Ok(())
    }
}

/// Vapi's default concurrency for an account.
pub const DEFAULT_VAPI_CONCURRENCY: u32 = 10;
/// The most concurrent calls a setting may name.
pub const MAX_VAPI_CONCURRENCY: u32 = 1_000;

fn default_vapi_concurrency() -> u32 {
    DEFAULT_VAPI_CONCURRENCY
}

fn default_reserved_inbound() -> u32 {
    2
}

/// A limit of 1 to [`MAX_VAPI_CONCURRENCY`] with at least one slot left for outbound calls after the inbound reserve.
fn check_concurrency(limit: u32, reserved: u32) -> Result<(), DomainError> {
    if !(1..=MAX_VAPI_CONCURRENCY).contains(&limit) || reserved >= limit {
        return Err(DomainError::invalid(
            "invalid_concurrency",
            format!("vapiConcurrencyLimit must be 1 to {MAX_VAPI_CONCURRENCY}, and reservedInboundSlots below it (one slot at least stays for outbound calls)"),
        ));
    }
    Ok(())
}

impl TenantSettings {
    /// How many outbound calls of every agent together may be under way: the account's concurrency less the inbound reserve.
    pub fn outbound_room(&self) -> u32 {
        self.vapi_concurrency_limit.saturating_sub(self.reserved_inbound_slots).max(1)
    }
}

/// What a client sends to change the settings; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsInput {
    /// Replaces the holidays (`YYYY-MM-DD` dates).
    pub holidays: Option<Vec<String>>,
    pub max_attempts_per_number_per_day: Option<u32>,
    /// Outbound call types to the bases each accepts; types left out keep their default.
    pub consent_policy: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// `disclose` or `do_not_record`.
    pub recording_policy: Option<String>,
    /// `{contentDays}`: how long calls' content is kept.
    pub retention: Option<RetentionInput>,
    /// `every_zone` or `refuse`.
    pub unknown_callee_location: Option<String>,
    /// The practice's name; an empty one clears it.
    pub practice_name: Option<String>,
    /// The practice's callback number; an empty one clears it.
    pub callback_number: Option<String>,
    /// The practice's IANA time zone; an empty one clears it.
    pub time_zone: Option<String>,
    pub inbound_recording_disclosed: Option<bool>,
    pub live_listening: Option<bool>,
    /// `wait` or `proceed`: a telemarketing call when the Reassigned Numbers Database cannot be asked.
    pub rnd_outage: Option<String>,
    /// The Vapi account's concurrent calls (1 to 1,000).
    pub vapi_concurrency_limit: Option<u32>,
    /// Of those, kept for patients calling in (fewer than the limit).
    pub reserved_inbound_slots: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionInput {
    pub content_days: Option<u32>,
}

impl SettingsInput {
    pub fn apply_to(self, settings: &TenantSettings, now: DateTime<Utc>) -> Result<TenantSettings, DomainError> {
        let mut next = settings.clone();
        if let Some(dates) = self.holidays {
            let mut holidays = dates
                .iter()
                .map(|d| {
                    NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                        .ok()
                        .filter(|d| time::is_supported(&d.and_time(chrono::NaiveTime::MIN).and_utc()))
                        .ok_or_else(|| {
                            DomainError::invalid(
                                "invalid_holidays",
                                format!("{:?} is not a date (YYYY-MM-DD, 2000 to 2099)", d.chars().take(20).collect::<String>()),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            holidays.sort();
            holidays.dedup();
            if holidays.len() > MAX_HOLIDAYS {
                return Err(DomainError::invalid("invalid_holidays", format!("at most {MAX_HOLIDAYS} holidays")));
            }
            next.holidays = holidays;
        }
        next.vapi_concurrency_limit = self.vapi_concurrency_limit.unwrap_or(next.vapi_concurrency_limit);
        next.reserved_inbound_slots = self.reserved_inbound_slots.unwrap_or(next.reserved_inbound_slots);
        check_concurrency(next.vapi_concurrency_limit, next.reserved_inbound_slots)?;
        if let Some(cap) = self.max_attempts_per_number_per_day {
            if !(1..=MAX_TENANT_CAP_PER_DAY).contains(&cap) {
                return Err(DomainError::invalid("invalid_max_attempts", format!("maxAttemptsPerNumberPerDay must be 1 to {MAX_TENANT_CAP_PER_DAY}")));
            }
            next.max_attempts_per_number_per_day = cap;
        }
        if let Some(policy) = &self.consent_policy {
            next.consent_policy = crate::consent::ConsentPolicy::from_input(policy)?;
        }
        if let Some(policy) = &self.recording_policy {
            next.recording_policy = match policy.trim() {
                "disclose" => crate::placement::recording::RecordingPolicy::Disclose,
                "do_not_record" => crate::placement::recording::RecordingPolicy::DoNotRecord,
                _ => return Err(DomainError::invalid("invalid_recording_policy", "recordingPolicy is disclose or do_not_record")),
            };
        }
        if let Some(choice) = &self.unknown_callee_location {
            next.unknown_callee_location = match choice.trim() {
                "every_zone" => UnknownCalleeLocation::EveryZone,
                "refuse" => UnknownCalleeLocation::Refuse,
                _ => return Err(DomainError::invalid("invalid_unknown_callee_location", "unknownCalleeLocation is every_zone or refuse")),
            };
        }
        if let Some(name) = self.practice_name {
            if name.chars().any(char::is_control) {
                return Err(DomainError::invalid("invalid_practice_name", "practiceName is one line of text"));
            }
            next.practice_name = crate::limits::optional_text(Some(name), MAX_PRACTICE_NAME, "invalid_practice_name", "practiceName")?;
        }
        if let Some(number) = self.callback_number {
            next.callback_number = match number.trim() {
                "" => None,
                text => {
                    let number = crate::phone::normalize(text)
                        .map_err(|_| DomainError::invalid("invalid_callback_number", "callbackNumber must be a phone number such as +15551234567"))?;
                    // 47 CFR 64.1200(b)(2): the number stated may not be a 900 number.
                    if number.starts_with("+1900") {
                        return Err(DomainError::invalid("invalid_callback_number", "callbackNumber may not be a 900 number (47 CFR 64.1200(b)(2))"));
                    }
                    Some(number.into_string())
                }
            };
        }
        if let Some(zone) = self.time_zone {
            next.time_zone = match zone.trim() {
                "" => None,
                text => Some(text.parse::<chrono_tz::Tz>().map_err(|_| {
                    DomainError::invalid(
                        "invalid_time_zone",
                        format!("{:?} is not an IANA time zone such as America/New_York", text.chars().take(40).collect::<String>()),
                    )
                })?),
            };
        }
        if let Some(disclosed) = self.inbound_recording_disclosed {
            next.inbound_recording_disclosed = disclosed;
        }
        if let Some(listening) = self.live_listening {
            next.live_listening = listening;
        }
        if let Some(choice) = &self.rnd_outage {
            use crate::consent::reassigned::RndOutage;
            next.rnd_outage = match choice.trim() {
                "wait" => RndOutage::Wait,
                "proceed" => RndOutage::Proceed,
                _ => return Err(DomainError::invalid("invalid_rnd_outage", "rndOutage is wait or proceed")),
            };
        }
        if let Some(retention) = &self.retention {
            let asked = Retention { content_days: retention.content_days.unwrap_or(next.retention.content_days) };
            asked.check()?;
            next.retention = asked;
        }
        next.updated_at = Some(time::to_millis(now));
        next.check_storable()?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_calls_keep_the_inbound_reserve_free_and_a_reserve_leaves_one_line() {
        let now = Utc::now();
        let base = TenantSettings::defaults("o");
        assert_eq!((base.vapi_concurrency_limit, base.reserved_inbound_slots, base.outbound_room()), (10, 2, 8), "Vapi's default, two kept");
        let set = |limit, reserved| {
            SettingsInput { vapi_concurrency_limit: limit, reserved_inbound_slots: reserved, ..SettingsInput::default() }.apply_to(&base, now)
        };
        assert_eq!(set(Some(4), Some(3)).unwrap().outbound_room(), 1);
        assert_eq!(set(Some(30), None).unwrap().outbound_room(), 28, "the reserve stays when only the limit changes");
        for (limit, reserved) in [(Some(4), Some(4)), (Some(0), Some(0)), (Some(1_001), None), (None, Some(10))] {
            assert!(matches!(set(limit, reserved), Err(DomainError::Invalid { code: "invalid_concurrency", .. })), "{limit:?} {reserved:?}");
        }
        // A stored settings item from before these existed reads as the defaults.
        let old: TenantSettings = serde_json::from_value(serde_json::json!({"orgId": "o"})).unwrap();
        assert_eq!(old.outbound_room(), 8);
    }

    #[test]
    fn settings_are_checked_and_kept_tidy() {
        let now = time::parse("2024-01-15T12:00:00Z").unwrap();
        let base = TenantSettings::defaults("o");
        assert_eq!(base.max_attempts_per_number_per_day, 3);
        let input = SettingsInput {
            holidays: Some(vec!["2024-12-25".into(), "2024-01-01".into(), "2024-12-25".into()]),
            max_attempts_per_number_per_day: Some(2),
            ..SettingsInput::default()
        };
        let next = input.apply_to(&base, now).unwrap();
        assert_eq!(next.holidays.iter().map(|d| d.to_string()).collect::<Vec<_>>(), vec!["2024-01-01", "2024-12-25"]);
        assert_eq!(next.max_attempts_per_number_per_day, 2);
        for bad in [
            SettingsInput { holidays: Some(vec!["Christmas".into()]), ..SettingsInput::default() },
            SettingsInput { max_attempts_per_number_per_day: Some(0), ..SettingsInput::default() },
            SettingsInput { retention: Some(RetentionInput { content_days: Some(0) }), ..SettingsInput::default() },
            SettingsInput { retention: Some(RetentionInput { content_days: Some(MAX_CONTENT_DAYS + 1) }), ..SettingsInput::default() },
        ] {
            assert!(matches!(bad.apply_to(&base, now), Err(DomainError::Invalid { .. })));
        }
        let too_many = SettingsInput {
            holidays: Some((0..401).map(|i| (NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(i)).to_string()).collect()),
            ..SettingsInput::default()
        };
        assert!(too_many.apply_to(&base, now).is_err());
        assert_eq!(base.retention, Retention { content_days: 730 });
        let shorter = SettingsInput { retention: Some(RetentionInput { content_days: Some(30) }), ..SettingsInput::default() };
        let next = shorter.apply_to(&base, now).unwrap();
        assert_eq!(next.retention, Retention { content_days: 30 });
        assert_eq!(next.retention.content_cutoff(now), now - chrono::Duration::days(30));
        // The practice's own zone: an IANA name, or empty to clear it.
        let zoned = SettingsInput { time_zone: Some(" America/Chicago ".into()), ..SettingsInput::default() }.apply_to(&base, now).unwrap();
        assert_eq!(zoned.time_zone, Some(chrono_tz::America::Chicago));
        assert_eq!(SettingsInput { time_zone: Some(String::new()), ..SettingsInput::default() }.apply_to(&zoned, now).unwrap().time_zone, None);
        let wrong = SettingsInput { time_zone: Some("Mars/Olympus".into()), ..SettingsInput::default() }.apply_to(&base, now);
        assert!(matches!(wrong, Err(DomainError::Invalid { code: "invalid_time_zone", .. })), "{wrong:?}");
    }

    #[test]
    fn the_practices_identity_and_choices_are_checked_at_the_edge() {
        let now = time::parse("2024-01-15T12:00:00Z").unwrap();
        let base = TenantSettings::defaults("o");
        assert!(!base.practice_identified() && !base.refuses_unknown_location() && !base.inbound_recording_disclosed);
        let input = SettingsInput {
            practice_name: Some(" Riverside Dental ".into()),
            callback_number: Some("(212) 555-0100".into()),
            unknown_callee_location: Some("refuse".into()),
            inbound_recording_disclosed: Some(true),
            ..SettingsInput::default()
        };
        let next = input.apply_to(&base, now).unwrap();
        assert_eq!((next.practice_name.as_deref(), next.callback_number.as_deref()), (Some("Riverside Dental"), Some("+12125550100")));
        assert!(next.practice_identified() && next.refuses_unknown_location() && next.inbound_recording_disclosed);
        let cleared =
            SettingsInput { practice_name: Some(String::new()), callback_number: Some(" ".into()), ..SettingsInput::default() }.apply_to(&next, now).unwrap();
        assert!(!cleared.practice_identified());
        for (bad, code) in [
            (SettingsInput { practice_name: Some("Riverside\nDental".into()), ..SettingsInput::default() }, "invalid_practice_name"),
            (SettingsInput { practice_name: Some("x".repeat(MAX_PRACTICE_NAME + 1)), ..SettingsInput::default() }, "invalid_practice_name"),
            (SettingsInput { callback_number: Some("+1 900 555 0100".into()), ..SettingsInput::default() }, "invalid_callback_number"),
            (SettingsInput { callback_number: Some("call us".into()), ..SettingsInput::default() }, "invalid_callback_number"),
            (SettingsInput { unknown_callee_location: Some("guess".into()), ..SettingsInput::default() }, "invalid_unknown_callee_location"),
        ] {
            assert!(matches!(bad.apply_to(&base, now), Err(DomainError::Invalid { code: c, .. }) if c == code), "{code}");
        }
    }
}
