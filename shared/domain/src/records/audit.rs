//! The audit log: who did what to which record, when, and from where. An
//! entry is written in the transaction of the change it records (a change
//! never lands without it), and for every read of a call's content before
//! the content is answered. Entries are never changed; they expire after
//! the deployment's audit retention: six years unless it keeps them longer
//! (45 CFR 164.316(b)(2)(i)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    caller::{Actor, Caller, Origin, bounded},
    error::DomainError,
    ids::OrgId,
    time,
};

/// What an entry records, by a stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "call.scheduled")]
    CallScheduled,
    #[serde(rename = "call.moved")]
    CallMoved,
    #[serde(rename = "call.cancelled")]
    CallCancelled,
    /// The dialer claimed an attempt to place it.
    #[serde(rename = "call.dialed")]
    CallDialed,
    /// Vapi took the call.
    #[serde(rename = "call.placed")]
    CallPlaced,
    /// The provider's report of a call was recorded (status, outcome, content).
    #[serde(rename = "call.reported")]
    CallReported,
    /// The attempt failed for good.
    #[serde(rename = "call.failed")]
    CallFailed,
    /// A call's facts (and, for a role that may, its content) were answered to someone.
    #[serde(rename = "call.read")]
    CallRead,
    /// Calls brought in from the legacy table by a migration.
    #[serde(rename = "calls.imported")]
    CallsImported,
    /// A call's transcript, summary, recording link or notes were answered to someone.
    #[serde(rename = "call.content_read")]
    CallContentRead,
    #[serde(rename = "campaign.created")]
    CampaignCreated,
    #[serde(rename = "campaign.cancelled")]
    CampaignCancelled,
    #[serde(rename = "campaign.paused")]
    CampaignPaused,
    #[serde(rename = "campaign.resumed")]
    CampaignResumed,
    /// Its `endAt` passed: the contacts not reached were closed.
    #[serde(rename = "campaign.ended")]
    CampaignEnded,
    /// Its `endAt` was set or cleared.
    #[serde(rename = "campaign.updated")]
    CampaignUpdated,
    #[serde(rename = "agent.created")]
    AgentCreated,
    #[serde(rename = "agent.updated")]
    AgentUpdated,
    #[serde(rename = "settings.updated")]
    SettingsUpdated,
    #[serde(rename = "consent.recorded")]
    ConsentRecorded,
    #[serde(rename = "consent.revoked")]
    ConsentRevoked,
    /// The consent's number was checked against the Reassigned Numbers Database (a `yes` ends the consent).
    #[serde(rename = "consent.rnd_checked")]
    ConsentRndChecked,
    #[serde(rename = "dnc.added")]
    DoNotCallAdded,
    #[serde(rename = "dnc.removed")]
    DoNotCallRemoved,
    /// The patient texted that texts may resume (START, YES, UNSTOP): no voice consent comes back with it.
    #[serde(rename = "number.texts_resumed")]
    TextsResumed,
    /// An established business relationship was recorded for a number.
    #[serde(rename = "number.relationship_set")]
    RelationshipSet,
    /// A do-not-call registry file was imported.
    #[serde(rename = "registry.imported")]
    RegistryImported,
    #[serde(rename = "number.inconvenient_times_set")]
    InconvenientTimesSet,
    /// What is on record for a number (its consents, list entry and history, inconvenient times) was answered.
    #[serde(rename = "number.read")]
    NumberRead,
    #[serde(rename = "patient.read")]
    PatientRead,
    #[serde(rename = "patient.exported")]
    PatientExported,
    #[serde(rename = "patient.erased")]
    PatientErased,
    /// One call of an erased patient's: content removed, number replaced.
    #[serde(rename = "call.erased")]
    CallErased,
    /// A call's content removed because it outlived the tenant's retention.
    #[serde(rename = "call.content_expired")]
    ContentExpired,
    #[serde(rename = "audit.read")]
    AuditRead,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CallScheduled => "call.scheduled",
            Action::CallMoved => "call.moved",
            Action::CallCancelled => "call.cancelled",
            Action::CallDialed => "call.dialed",
            Action::CallPlaced => "call.placed",
            Action::CallReported => "call.reported",
            Action::CallFailed => "call.failed",
            Action::CallRead => "call.read",
            Action::CallsImported => "calls.imported",
            Action::CallContentRead => "call.content_read",
            Action::CampaignCreated => "campaign.created",
            Action::CampaignCancelled => "campaign.cancelled",
            Action::CampaignPaused => "campaign.paused",
            Action::CampaignResumed => "campaign.resumed",
            Action::CampaignEnded => "campaign.ended",
            Action::CampaignUpdated => "campaign.updated",
            Action::AgentCreated => "agent.created",
            Action::AgentUpdated => "agent.updated",
            Action::SettingsUpdated => "settings.updated",
            Action::ConsentRecorded => "consent.recorded",
            Action::ConsentRevoked => "consent.revoked",
            Action::ConsentRndChecked => "consent.rnd_checked",
            Action::DoNotCallAdded => "dnc.added",
            Action::DoNotCallRemoved => "dnc.removed",
            Action::InconvenientTimesSet => "number.inconvenient_times_set",
            Action::NumberRead => "number.read",
            Action::PatientRead => "patient.read",
            Action::PatientExported => "patient.exported",
            Action::PatientErased => "patient.erased",
            Action::CallErased => "call.erased",
            Action::ContentExpired => "call.content_expired",
            Action::AuditRead => "audit.read",
            Action::TextsResumed => "number.texts_resumed",
            Action::RelationshipSet => "number.relationship_set",
            Action::RegistryImported => "registry.imported",
        }
    }

    /// The kind of record the action is about.
    pub fn entity_type(self) -> EntityType {
        match self {
            Action::CallScheduled
            | Action::CallMoved
            | Action::CallCancelled
            | Action::CallDialed
            | Action::CallPlaced
            | Action::CallReported
            | Action::CallFailed
            | Action::CallRead
            | Action::CallContentRead
            | Action::ContentExpired
            | Action::CallErased => EntityType::Call,
            Action::CallsImported => EntityType::Tenant,
            Action::CampaignCreated
            | Action::CampaignCancelled
            | Action::CampaignPaused
            | Action::CampaignResumed
            | Action::CampaignEnded
            | Action::CampaignUpdated => EntityType::Campaign,
            Action::AgentCreated | Action::AgentUpdated => EntityType::Agent,
            Action::SettingsUpdated | Action::AuditRead | Action::RegistryImported => EntityType::Tenant,
            Action::ConsentRecorded | Action::ConsentRevoked | Action::ConsentRndChecked => EntityType::Consent,
            Action::DoNotCallAdded
            | Action::DoNotCallRemoved
            | Action::InconvenientTimesSet
            | Action::NumberRead
            | Action::TextsResumed
            | Action::RelationshipSet => EntityType::Number,
            Action::PatientRead | Action::PatientExported | Action::PatientErased => EntityType::Patient,
        }
    }
}

/// The kinds of record entries are about, as `entityType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    Call,
    Campaign,
    Agent,
    /// The practice itself: its settings, its audit log.
    Tenant,
    Consent,
    /// A phone number's do-not-call state and ledger.
    Number,
    /// A patient's records, by their phone number.
    Patient,
}

impl EntityType {
    pub const ALL: [EntityType; 7] =
        [EntityType::Call, EntityType::Campaign, EntityType::Agent, EntityType::Tenant, EntityType::Consent, EntityType::Number, EntityType::Patient];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Call => "call",
            EntityType::Campaign => "campaign",
            EntityType::Agent => "agent",
            EntityType::Tenant => "tenant",
            EntityType::Consent => "consent",
            EntityType::Number => "number",
            EntityType::Patient => "patient",
        }
    }

    pub fn parse(text: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|t| t.as_str() == text.trim())
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Unique within the tenant; entries sort by `at`, then by id.
    pub id: String,
    pub org_id: OrgId,
    #[serde(with = "time::ms")]
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: Action,
    pub entity_type: EntityType,
    pub entity_id: String,
    /// Each field changed: `{"field": {"from": .., "to": ..}}`; for a read,
    /// the fields read: `{"field": true}`. Content is named, never copied.
    #[serde(default)]
    pub changes: Map<String, Value>,
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The entry's place in its tenant's log (1 for the first), set as it is written.
    #[serde(default)]
    pub seq: u64,
    /// The hash of the entry before it (`seq - 1`), and when that one was written.
    #[serde(default)]
    pub prev: String,
    #[serde(with = "time::ms::option", default)]
    pub prev_at: Option<DateTime<Utc>>,
    /// SHA-256 of this entry with `prev` in it and this field empty: change
    /// or remove an entry and the chain no longer holds.
    #[serde(default)]
    pub hash: String,
}

/// Fields every write moves, which say nothing of what changed.
const NOISE: &[&str] = &["updatedAt", "revision", "orgId"];
/// The most fields an entry names, and the most bytes of one value it keeps.
pub const MAX_FIELDS: usize = 60;
pub const MAX_VALUE_BYTES: usize = 300;
/// The audit log is kept six years (45 CFR 164.316(b)(2)(i)) unless a
/// deployment keeps it longer, at most ten.
pub const MIN_RETENTION_DAYS: u32 = 2192;
pub const MAX_RETENTION_DAYS: u32 = 3653;

/// How much of one entity id an entry keeps.
pub const MAX_ENTITY_ID: usize = 200;

impl AuditEntry {
    /// An entry of `action` on `entity_id`, by `caller`, at `at`.
    pub fn new(caller: &Caller, action: Action, entity_id: &str, changes: Map<String, Value>, at: DateTime<Utc>) -> AuditEntry {
        AuditEntry::by(&caller.org_id, &caller.actor, &caller.origin, action, entity_id, changes, at)
    }

    pub fn by(org_id: &str, actor: &Actor, origin: &Origin, action: Action, entity_id: &str, changes: Map<String, Value>, at: DateTime<Utc>) -> AuditEntry {
        AuditEntry {
            id: uuid::Uuid::now_v7().simple().to_string(),
            org_id: org_id.into(),
            at: time::to_millis(at),
            actor: actor.clone(),
            action,
            entity_type: action.entity_type(),
            entity_id: bounded(entity_id, MAX_ENTITY_ID),
            changes: bounded_changes(changes),
            source_ip: origin.source_ip.clone(),
            user_agent: origin.user_agent.clone(),
            seq: 0,
            prev: String::new(),
            prev_at: None,
            hash: String::new(),
        }
    }

    /// The entry of a change CallOps made itself (`what`: `dialer`, `webhook`, `reconciler`...) to a call.
    pub fn of_system_change(what: &str, action: Action, before: Option<&crate::call::CallLog>, after: &crate::call::CallLog, at: DateTime<Utc>) -> AuditEntry {
        AuditEntry::by(&after.org_id, &Actor::system(what), &Origin::default(), action, &after.id, changes(before, after), at)
    }

    /// An entry of CallOps' own (`what`: the demo, a test, an operator's command).
    pub fn system(org_id: &str, what: &str, action: Action, entity_id: &str, at: DateTime<Utc>) -> AuditEntry {
        AuditEntry::by(org_id, &Actor::system(what), &Origin::default(), action, entity_id, Map::new(), at)
    }

    /// The entry of a change to a record, naming the fields it moved.
    pub fn of_change<T: Serialize, U: Serialize>(
        caller: &Caller,
        action: Action,
        entity_id: &str,
        before: Option<&T>,
        after: &U,
        at: DateTime<Utc>,
    ) -> AuditEntry {
        AuditEntry::new(caller, action, entity_id, changes(before, after), at)
    }

    /// When the entry may go: `at` plus the audit retention, as epoch seconds.
    pub fn expires_at(&self, retention_days: u32) -> i64 {
        (self.at + chrono::Duration::days(i64::from(retention_days))).timestamp()
    }
}

/// The fields whose values an entry may keep: facts that identify no one
/// (states, types, times of the schedule, the practice's settings). Every
/// other field is named with whether it held a value before and after,
/// never what the value was: no number, name, variable, purpose or content
/// reaches the log.
pub const VALUE_FIELDS: &[&str] = &[
    "status",
    "callType",
    "attempt",
    "outcome",
    "scheduledAt",
    "voiceAgentId",
    "campaignId",
    "basis",
    "scope",
    "channel",
    "capturedAt",
    "expiresAt",
    "action",
    "holidays",
    "maxAttemptsPerNumberPerDay",
    "consentPolicy",
    "recordingPolicy",
    "unknownCalleeLocation",
    "inboundRecordingDisclosed",
    "liveListening",
    "retention",
    "timeZone",
    "callingHours",
    "hoursByDay",
    "closedDays",
    "maxConcurrentCalls",
    "retryPolicy",
    "followUpCalls",
    "contentRemoved",
    "format",
    "calls",
];

/// The fields that differ between two records (as their JSON objects),
/// each `{"from", "to"}`: the values of [`VALUE_FIELDS`], cut short;
/// whether any other field held a value. `before` is `None` for a record created.
pub fn changes<T: Serialize, U: Serialize>(before: Option<&T>, after: &U) -> Map<String, Value> {
    let object = |value: Value| match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let before = before.and_then(|b| serde_json::to_value(b).ok()).map(object).unwrap_or_default();
    let after = serde_json::to_value(after).ok().map(object).unwrap_or_default();
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let mut changes = Map::new();
    for name in names {
        if NOISE.contains(&name.as_str()) {
            continue;
        }
        let (from, to) = (before.get(name).cloned().unwrap_or(Value::Null), after.get(name).cloned().unwrap_or(Value::Null));
        if from == to {
            continue;
        }
        let (from, to) = if VALUE_FIELDS.contains(&name.as_str()) { (from, to) } else { (present(&from), present(&to)) };
        changes.insert(name.clone(), serde_json::json!({"from": from, "to": to}));
    }
    changes
}

/// A value as the log keeps it when it may not keep the value: whether there was one.
fn present(value: &Value) -> Value {
    Value::Bool(!value.is_null())
}

/// Fields read, as a read's entry names them.
pub fn fields_read(fields: &[&str]) -> Map<String, Value> {
    fields.iter().map(|f| (f.to_string(), Value::Bool(true))).collect()
}

/// What `caller` may be answered of `calls`, and the audit entries the
/// answer needs first: a viewer gets each call's facts only, anyone else
/// the content too; every call answered is an entry of its own
/// (`call.read` for its facts, `call.content_read` naming the content
/// fields answered with them).
pub fn answer_calls(caller: &Caller, calls: Vec<crate::call::CallLog>, at: DateTime<Utc>) -> (Vec<crate::call::CallLog>, Vec<AuditEntry>) {
    let calls: Vec<crate::call::CallLog> = if caller.role.sees_content() { calls } else { calls.into_iter().map(crate::call::CallLog::facts_only).collect() };
    let reads = calls
        .iter()
        .map(|call| {
            let mut read = call.content_fields();
            let action = if read.is_empty() { Action::CallRead } else { Action::CallContentRead };
            read.push("facts");
            AuditEntry::new(caller, action, &call.id, fields_read(&read), at)
        })
        .collect();
    (calls, reads)
}

/// `changes` within bounds: at most [`MAX_FIELDS`] fields, each value's text at most [`MAX_VALUE_BYTES`].
fn bounded_changes(changes: Map<String, Value>) -> Map<String, Value> {
    changes
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(name, value)| {
            let text = value.to_string();
            let value = if text.len() > MAX_VALUE_BYTES { Value::String(format!("{}…", bounded(&text, MAX_VALUE_BYTES))) } else { value };
            (bounded(&name, 100), value)
        })
        .collect()
}

/// What `GET /api/audit` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub entity_type: Option<EntityType>,
    pub entity_id: Option<String>,
}

impl AuditFilter {
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.actor.as_ref().is_none_or(|a| *a == entry.actor.sub)
            && self.entity_type.is_none_or(|t| t == entry.entity_type)
            && self.entity_id.as_ref().is_none_or(|id| *id == entry.entity_id)
    }
}

/// Checks an entry before it is stored: nothing written may be unreadable.
pub fn check_storable(entry: &AuditEntry) -> Result<(), DomainError> {
    if entry.id.is_empty() || !crate::limits::is_key_safe(&entry.id) || entry.entity_id.len() > MAX_ENTITY_ID || !time::is_supported(&entry.at) {
        return Err(DomainError::invalid("unstorable_audit_entry", "an audit entry needs an id, a bounded entity id and a time in range"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_name_each_field_moved_and_never_copy_content() {
        let before = json!({"id": "c1", "scheduledAt": "2024-01-01T10:00:00.000Z", "transcript": "I have a toothache", "updatedAt": "a", "notes": null});
        let after = json!({"id": "c1", "scheduledAt": "2024-01-02T10:00:00.000Z", "transcript": null, "updatedAt": "b", "callNotes": "call back"});
        let changes = changes(Some(&before), &after);
        assert_eq!(changes["scheduledAt"], json!({"from": "2024-01-01T10:00:00.000Z", "to": "2024-01-02T10:00:00.000Z"}));
        assert_eq!(changes["transcript"], json!({"from": true, "to": false}));
        assert_eq!(changes["callNotes"], json!({"from": false, "to": true}));
        assert!(!changes.contains_key("updatedAt") && !changes.contains_key("id") && !changes.contains_key("notes"));
        assert!(!serde_json::to_string(&changes).unwrap().contains("toothache"));
        let created = super::changes(None::<&Value>, &json!({"attempt": 1}));
        assert_eq!(created["attempt"], json!({"from": null, "to": 1}));
        // Numbers, names, variables, purposes and anything else unlisted: named, with whether they held a value, never the value.
        let scheduled = json!({"phoneNumber": "+12125550142", "customerName": "Ada Lovelace", "variableValues": {"balance": "$120"},
            "callPurpose": "Crown follow-up", "debtId": "inv-7", "consent": {"source": "Ada's intake form"}, "status": "SCHEDULED"});
        let entry = super::changes(None::<&Value>, &scheduled);
        let text = serde_json::to_string(&entry).unwrap();
        for secret in ["2125550142", "Ada", "120", "Crown", "inv-7", "intake"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(entry["phoneNumber"], json!({"from": false, "to": true}));
        assert_eq!(entry["status"], json!({"from": null, "to": "SCHEDULED"}));
    }

    #[test]
    fn entries_are_bounded_and_filtered() {
        let caller = Caller::system("o", "test");
        let long = "x".repeat(5000);
        let mut many = Map::new();
        for i in 0..100 {
            many.insert(format!("f{i:03}"), json!(long));
        }
        let entry = AuditEntry::new(&caller, Action::CallMoved, &long, many, time::parse("2024-01-01T00:00:00Z").unwrap());
        assert_eq!(entry.entity_type, EntityType::Call);
        assert!(entry.entity_id.len() <= MAX_ENTITY_ID);
        assert_eq!(entry.changes.len(), MAX_FIELDS);
        assert!(entry.changes.values().all(|v| v.to_string().len() <= MAX_VALUE_BYTES + 10));
        check_storable(&entry).unwrap();
        assert_eq!(entry.expires_at(1), time::parse("2024-01-02T00:00:00Z").unwrap().timestamp());
        let text = serde_json::to_value(&entry).unwrap();
        assert_eq!(text["action"], "call.moved");
        assert_eq!(text["entityType"], "call");
        assert_eq!(serde_json::from_value::<AuditEntry>(text).unwrap(), entry);
        assert!(AuditFilter { entity_type: Some(EntityType::Call), ..Default::default() }.matches(&entry));
        assert!(!AuditFilter { actor: Some("someone".into()), ..Default::default() }.matches(&entry));
        for action in [Action::PatientErased, Action::AuditRead, Action::ConsentRevoked] {
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
    }
}
