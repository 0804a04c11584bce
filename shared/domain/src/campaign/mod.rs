//! Campaigns: one outbound call per contact, spread over the agent's calling
//! hours, followed as a whole (how many are waiting, dialing, done, and with
//! what outcome) and cancelled as a whole.

pub mod plan;
pub mod voicemail;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    call::{CallStatus, CallType},
    error::DomainError,
    placement::Refusal,
    time,
};

/// A campaign's call type when the request names none (and a campaign stored before campaigns had one).
pub fn campaign_call_type() -> CallType {
    CallType::OutboundCampaign
}

/// The most contacts one campaign request may carry.
pub const MAX_CONTACTS: usize = 10_000;
/// Where a campaign stands. Stored campaigns made before `paused` and
/// `ended` existed read back from their upper-case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    /// Its calls are dialed at their times.
    #[serde(alias = "ACTIVE")]
    Active,
    /// Nothing new of it is placed (calls in flight finish); its waiting calls are held ([`crate::CallLog::hold`]).
    #[serde(alias = "PAUSED")]
    Paused,
    /// Its `endAt` passed: the contacts not reached were closed with `campaign-ended`.
    #[serde(alias = "ENDED")]
    Ended,
    /// Cancelled: every waiting call was cancelled.
    #[serde(alias = "CANCELLED")]
    Cancelled,
}

impl CampaignStatus {
    /// The name this status is stored under, and the one campaigns made before the lower-case names kept.
    pub fn stored_names(self) -> [&'static str; 2] {
        match self {
            CampaignStatus::Active => ["active", "ACTIVE"],
            CampaignStatus::Paused => ["paused", "PAUSED"],
            CampaignStatus::Ended => ["ended", "ENDED"],
            CampaignStatus::Cancelled => ["cancelled", "CANCELLED"],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: String,
    pub org_id: crate::ids::OrgId,
    pub name: String,
    pub voice_agent_id: crate::ids::AgentId,
    pub call_purpose: Option<String>,
    /// The type of every call of the campaign, with that type's rules (consent, frequency, what the call says).
    #[serde(default = "campaign_call_type")]
    pub call_type: CallType,
    pub status: CampaignStatus,
    /// How many calls are started a minute at most.
    pub calls_per_minute: u32,
    #[serde(with = "time::ms")]
    pub starts_at: DateTime<Utc>,
    /// When the campaign ends: contacts not reached by then are closed with `campaign-ended`.
    #[serde(with = "time::ms::option", default)]
    pub end_at: Option<DateTime<Utc>>,
    /// What a call of it leaves on voicemail, as the practice wrote it
    /// (`{{placeholders}}` filled per contact), checked against what its
    /// call type may say ([`voicemail`]); none: Vapi hangs up on voicemail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_message: Option<String>,
    /// Calls created, one per accepted contact.
    pub calls: u32,
    /// Contacts refused when the campaign was created.
    pub rejected: u32,
    /// Which rows those were, and why (the first [`MAX_REFUSALS_KEPT`]): the
    /// row and the code, never the number, which is the patient's and stays
    /// with the calls that erasure reaches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<RefusedRow>,
    #[serde(with = "time::ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::ms")]
    pub updated_at: DateTime<Utc>,
}

/// A row of a campaign's list that was not made into a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRow {
    /// 1-based, as the practice's file counts its data rows.
    pub row: u32,
    pub code: String,
}

/// How many refused rows a campaign keeps (a few bytes each, well inside an item's 400 KB).
pub const MAX_REFUSALS_KEPT: usize = 1_000;

/// The most calls a campaign may start a minute.
pub const MAX_CALLS_PER_MINUTE: u32 = 600;

/// What a campaign says of placing one of its calls ([`Campaign::gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignGate {
    Open,
    /// Paused: the call waits, held, until the campaign resumes.
    Held,
    Refused(Refusal),
}

impl Campaign {
    /// The campaign cancelled at `now`: nothing more of it is dialed.
    pub fn cancelled(mut self, now: DateTime<Utc>) -> Campaign {
        self.status = CampaignStatus::Cancelled;
        self.updated_at = time::to_millis(now);
        self
    }

    /// Whether nothing of it may be placed at `at`: it ended, or its `endAt` passed.
    pub fn is_ended_at(&self, at: DateTime<Utc>) -> bool {
        self.status == CampaignStatus::Ended || self.end_at.is_some_and(|end| at >= end)
    }

    /// What the campaign says of placing one of its calls at `at`: it is
    /// cancelled or ended (its `endAt` passed) and refuses it, it is paused
    /// and holds it, or it is open.
    pub fn gate(&self, at: DateTime<Utc>) -> CampaignGate {
        match self.status {
            CampaignStatus::Cancelled => CampaignGate::Refused(Refusal::CampaignCancelled),
            _ if self.is_ended_at(at) => CampaignGate::Refused(Refusal::CampaignEnded),
            CampaignStatus::Paused => CampaignGate::Held,
            CampaignStatus::Active | CampaignStatus::Ended => CampaignGate::Open,
        }
    }

    /// The refusal of a change to a campaign that is over (cancelled, or ended by status).
    fn closed(&self) -> Option<DomainError> {
        match self.status {
            CampaignStatus::Cancelled => Some(Refusal::CampaignCancelled.error()),
            CampaignStatus::Ended => Some(Refusal::CampaignEnded.error()),
            CampaignStatus::Active | CampaignStatus::Paused => None,
        }
    }

    /// The campaign moved to `status` at `now` (`Active` or `Paused`); the
    /// same campaign when it is there already (pausing twice is pausing
    /// once); `campaign_cancelled` or `campaign_ended` once it is over.
    pub fn with_status(&self, status: CampaignStatus, now: DateTime<Utc>) -> Result<Campaign, DomainError> {
        if let Some(closed) = self.closed() {
            return Err(closed);
        }
        let mut next = self.clone();
        if next.status != status {
            next.status = status;
            next.updated_at = time::to_millis(now).max(self.updated_at);
        }
        Ok(next)
    }

    /// The campaign with `endAt` set (or cleared) at `now`: it must be in
    /// the supported range and not in the past; only an open campaign changes.
    pub fn with_end(&self, end_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<Campaign, DomainError> {
        if let Some(closed) = self.closed() {
            return Err(closed);
        }
        if let Some(end) = end_at
            && (end < now - time::CLOCK_SKEW || !time::is_supported(&end))
        {
            return Err(DomainError::invalid("invalid_end_at", format!("endAt must be a time from now on, {}", time::SUPPORTED_TEXT)));
        }
        let mut next = self.clone();
        next.end_at = end_at.map(time::to_millis);
        next.updated_at = time::to_millis(now).max(self.updated_at);
        Ok(next)
    }

    /// The campaign ended at `now`, its `endAt` having passed.
    pub fn ended(&self, now: DateTime<Utc>) -> Campaign {
        let mut next = self.clone();
        next.status = CampaignStatus::Ended;
        next.updated_at = time::to_millis(now).max(self.updated_at);
        next
    }

    /// Whether the store can keep this campaign and read it back as it is.
    pub fn check_storable(&self) -> Result<(), DomainError> {
        let refuse = |why: &str| Err(DomainError::invalid("unstorable_campaign", format!("campaign cannot be stored: {why}")));
        let text_ok = |text: &str, max: usize| !text.is_empty() && text.len() <= max;
        if !crate::limits::is_key_safe(&self.id) || !crate::ids::valid_org_id(&self.org_id) || !crate::ids::valid_agent_id(&self.voice_agent_id) {
            return refuse("its id, tenant or agent is not one");
        }
        if !text_ok(&self.name, 200) || self.call_purpose.as_deref().is_some_and(|p| !text_ok(p, 500)) {
            return refuse("its name (200 bytes) or purpose (500) is out of bounds");
        }
        if !(1..=MAX_CALLS_PER_MINUTE).contains(&self.calls_per_minute) {
            return refuse("callsPerMinute is out of bounds");
        }
        if !self.call_type.is_outbound() {
            return refuse("its call type is not an outbound one");
        }
        if self.voicemail_message.as_deref().is_some_and(|m| m.trim().is_empty() || m.chars().count() > voicemail::MAX_VOICEMAIL_CHARS) {
            return refuse("its voicemail message is out of bounds (1 to 1,000 characters)");
        }
        for at in [self.starts_at, self.created_at, self.updated_at].into_iter().chain(self.end_at) {
            if !time::is_storable(&at) {
                return refuse("its times must be in the supported range, to the millisecond");
            }
        }
        Ok(())
    }
}

/// One person to call: the number (as given, until checked), a name, and
/// the values the assistant's prompt placeholders take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contact {
    #[serde(alias = "phoneNumber")]
    pub number: String,
    #[serde(default, alias = "customerName")]
    pub name: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Where the contact's own record puts them (IANA zone, US state): the
    /// call fits these as well as the number's.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// The debt a collection call is about.
    #[serde(default)]
    pub debt_id: Option<String>,
}

/// Where a campaign's calls are: how many in each status, and with which outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignCounts {
    pub total: u64,
    pub scheduled: u64,
    pub dialing: u64,
    pub in_progress: u64,
    pub completed: u64,
    pub missed: u64,
    pub voicemail: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Calls by outcome name; calls without one are left out.
    pub outcomes: BTreeMap<String, u64>,
}

impl CampaignCounts {
    pub fn add(&mut self, status: CallStatus, outcome: Option<&str>) {
        self.total += 1;
        let slot = match status {
            CallStatus::Scheduled => &mut self.scheduled,
            CallStatus::Dialing => &mut self.dialing,
            CallStatus::InProgress => &mut self.in_progress,
            CallStatus::Completed => &mut self.completed,
            CallStatus::Missed => &mut self.missed,
            CallStatus::Voicemail => &mut self.voicemail,
            CallStatus::Failed => &mut self.failed,
            CallStatus::Cancelled => &mut self.cancelled,
        };
        *slot += 1;
        if let Some(outcome) = outcome {
            *self.outcomes.entry(outcome.to_string()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::check_variables;

    #[test]
    fn counts_add_up_by_status_and_outcome() {
        let mut counts = CampaignCounts::default();
        counts.add(CallStatus::Scheduled, None);
        counts.add(CallStatus::Completed, Some("BOOKED"));
        counts.add(CallStatus::Completed, Some("BOOKED"));
        counts.add(CallStatus::Missed, Some("NO_ANSWER"));
        assert_eq!((counts.total, counts.scheduled, counts.completed, counts.missed), (4, 1, 2, 1));
        assert_eq!(counts.outcomes.get("BOOKED"), Some(&2));
        let json = serde_json::to_value(&counts).unwrap();
        assert_eq!(json["inProgress"], 0);
        assert_eq!(json["outcomes"]["NO_ANSWER"], 1);
    }

    fn campaign(status: CampaignStatus) -> Campaign {
        let at = time::parse("2024-01-15T17:00:00Z").unwrap();
        Campaign {
            id: "c".into(),
            org_id: "o".into(),
            name: "Recall".into(),
            voice_agent_id: "a".into(),
            call_purpose: None,
            call_type: CallType::OutboundCampaign,
            status,
            calls_per_minute: 1,
            starts_at: at,
            end_at: None,
            voicemail_message: None,
            calls: 1,
            rejected: 0,
            refusals: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_campaign_pauses_and_resumes_while_open_and_never_once_over() {
        let now = time::parse("2024-01-16T09:00:00Z").unwrap();
        let active = campaign(CampaignStatus::Active);
        let paused = active.with_status(CampaignStatus::Paused, now).unwrap();
        assert_eq!((paused.status, paused.updated_at), (CampaignStatus::Paused, now));
        assert_eq!(paused.with_status(CampaignStatus::Paused, now + chrono::Duration::hours(1)).unwrap(), paused, "pausing twice is pausing once");
        assert_eq!(paused.with_status(CampaignStatus::Active, now).unwrap().status, CampaignStatus::Active);
        let code = |r: Result<Campaign, DomainError>| r.unwrap_err().code().unwrap();
        assert_eq!(code(campaign(CampaignStatus::Cancelled).with_status(CampaignStatus::Active, now)), "campaign_cancelled");
        assert_eq!(code(campaign(CampaignStatus::Ended).with_status(CampaignStatus::Paused, now)), "campaign_ended");
        // Its end: from now on, in the supported range; past it, nothing of it is placed.
        assert_eq!(code(active.with_end(Some(now - chrono::Duration::days(1)), now)), "invalid_end_at");
        let ending = active.with_end(Some(now + chrono::Duration::days(1)), now).unwrap();
        assert!(!ending.is_ended_at(now) && ending.is_ended_at(now + chrono::Duration::days(1)));
        assert_eq!(ending.with_end(None, now).unwrap().end_at, None);
        assert!(ending.ended(now).is_ended_at(now));
    }

    #[test]
    fn statuses_are_written_in_lower_case_and_read_in_either() {
        assert_eq!(serde_json::to_value(CampaignStatus::Paused).unwrap(), "paused");
        for (text, status) in [("ACTIVE", CampaignStatus::Active), ("CANCELLED", CampaignStatus::Cancelled), ("ended", CampaignStatus::Ended)] {
            assert_eq!(serde_json::from_value::<CampaignStatus>(serde_json::json!(text)).unwrap(), status);
            assert!(status.stored_names().contains(&text));
        }
    }

    #[test]
    fn variables_have_sane_names_and_sizes() {
        let ok = BTreeMap::from([("appointment_date".to_string(), "May 3".to_string())]);
        assert!(check_variables(&ok).is_ok());
        let bad_name = BTreeMap::from([("has space".to_string(), "x".to_string())]);
        assert!(matches!(check_variables(&bad_name), Err(DomainError::Invalid { code: "invalid_variables", .. })));
        let long = BTreeMap::from([("a".to_string(), "x".repeat(1_001))]);
        assert!(check_variables(&long).is_err());
    }
}
