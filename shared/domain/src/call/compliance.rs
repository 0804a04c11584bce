//! Why a call may be placed, written down: every rule the policy weighed
//! for an attempt at a time (the do-not-call list, the consent it rests
//! on, each rule of the clock, each frequency limit), where the callee is,
//! and whether it held. The
//! dialer keeps it on every call it places (`compliance`), and
//! `GET /api/compliance/check` answers with it, placing nothing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{error::DomainError, time};

/// The most rules one record holds: every window and limit of every state, and the rest.
pub const MAX_RULES: usize = 64;
/// The most zones (or states) one record holds: the fifty states and DC, and a few more.
pub const MAX_ZONES: usize = 64;

/// The rules weighed for one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceRecord {
    #[serde(with = "time::ms")]
    pub decided_at: DateTime<Utc>,
    /// The callee's zones (IANA names) and US states.
    pub zones: Vec<String>,
    pub states: Vec<String>,
    pub rules: Vec<Check>,
    /// The consent the attempt rests on, when one covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentRelied>,
    /// What the dialer asked Vapi about recording the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingDecision>,
    /// The exemption the attempt rests on, with the conditions it keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemption: Option<Exemption>,
    /// Nothing said where the callee is: `zones` and `states` are every one of the fifty states and DC.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub place_unknown: bool,
    /// Whether the live call can be listened to and controlled, as asked of Vapi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Monitor>,
    /// What each do-not-call registry said of the number (telemarketing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<RegistryResult>,
    /// The Reassigned Numbers Database's answer the consent rested on: the safe harbour's proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rnd: Option<RndCheck>,
    /// The key-press opt-out the call announces (telemarketing and collection calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypad: Option<KeypadOptOut>,
    /// Who the call must say is calling (the practice's settings when it was placed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// What the call said of it, from its transcript (`crate::ending::disclosure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<Disclosure>,
    /// The message the call was to leave on voicemail, as checked for its type (`crate::campaign::voicemail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail: Option<VoicemailPlan>,
    /// The most outbound calls of the practice that could be under way with
    /// this one (its Vapi concurrency less the inbound reserve): the claim
    /// took one of them, and the write that ends the call gives it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_room: Option<u32>,
}

/// What a placed call was to leave on voicemail: a message its campaign
/// gave, checked at the dial against the rule its type keeps (`rule`:
/// `limited_content` for collections, `minimum_necessary` otherwise, with
/// the toll-free opt-out for telemarketing), or none, with the code of
/// what the message broke (`refused`): then Vapi hangs up on voicemail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoicemailPlan {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl VoicemailPlan {
    /// The rule as the call's compliance record lists it.
    pub fn check(&self) -> Check {
        let detail = match &self.refused {
            None => format!("the campaign's voicemail message keeps to {} and is left on voicemail", self.rule.replace('_', " ")),
            Some(code) => format!("the campaign's voicemail message broke its rule ({code}): none is left, the call hangs up on voicemail"),
        };
        Check { rule: "voicemail".into(), ok: self.refused.is_none(), detail }
    }
}

/// The practice's name and callback number, as a placed call must state them (47 CFR 64.1200(b)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub practice_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_number: Option<String>,
}

/// A key-press opt-out, as the dialer asked Vapi for it: key presses taken
/// (`keypadInputPlan`), the instruction, and the first message that says it
/// with the practice's name when the practice set one (47 CFR 64.1200(b)(1), (b)(3)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeypadOptOut {
    pub digit: String,
    pub instruction: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
}

impl KeypadOptOut {
    /// The call types that announce it: telemarketing and collection calls.
    pub const CALL_TYPES: [crate::call::CallType; 3] =
        [crate::call::CallType::OutboundLead, crate::call::CallType::OutboundCampaign, crate::call::CallType::OutboundDebt];

    /// The opt-out a call of `call_type` announces, with the practice's name when it has one.
    pub fn for_call(call_type: crate::call::CallType, practice_name: Option<&str>) -> Option<KeypadOptOut> {
        Self::CALL_TYPES.contains(&call_type).then(|| KeypadOptOut {
            digit: OPT_OUT_DIGIT.into(),
            instruction: KEYPAD_INSTRUCTION.into(),
            first_message: practice_name.map(|name| format!("Hello, this is {name} calling. {KEYPAD_INSTRUCTION}")),
        })
    }
}

/// The live call's monitor, as the dialer asked Vapi for it: listening only
/// when the tenant turned `liveListening` on; control only when CallOps holds
/// the public key that unlocks it (to end a call whose number opted out);
/// each, when on, locked behind that key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitor {
    pub listen: bool,
    pub control: bool,
}

/// An exemption an attempt rests on, and the conditions the call keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exemption {
    /// `healthcare_relationship`.
    pub name: String,
    pub source: String,
    /// The longest the call may last (the dialer asks Vapi for it).
    pub max_duration_seconds: u32,
    /// Each condition, as kept.
    pub conditions: Vec<String>,
    /// What the call says first (the practice's name and callback number), as sent to Vapi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
}

/// One rule, and whether it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub rule: String,
    pub ok: bool,
    pub detail: String,
}

impl ComplianceRecord {
    /// The record with the recording decision made for the call, and its rule.
    pub fn with_recording(mut self, decision: RecordingDecision) -> ComplianceRecord {
        let detail = match (decision.all_party, decision.asked) {
            (false, _) => "one party's consent is enough everywhere the callee may be: recorded".to_string(),
            (true, RecordingAsk::Disclose) => {
                "the callee may be where everyone's consent is needed (Cal. Penal Code 632): the recording is disclosed, and kept only with the callee's consent".into()
            }
            (true, _) => "the callee may be where everyone's consent is needed (Cal. Penal Code 632): not recorded (the practice's recordingPolicy)".into(),
        };
        self.rules.push(Check { rule: "recording_consent".into(), ok: true, detail });
        self.recording = Some(decision);
        self
    }
}

/// The legal basis of a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Prior express consent: the patient gave the number for calls like these.
    PriorExpress,
    /// Prior express written consent, signed: what telemarketing needs.
    PriorExpressWritten,
    /// The practice's healthcare relationship with the patient (FCC 15-72's healthcare messages).
    HealthcareRelationship,
}

impl Basis {
    pub const ALL: [Basis; 3] = [Basis::PriorExpress, Basis::PriorExpressWritten, Basis::HealthcareRelationship];

    pub fn as_str(self) -> &'static str {
        match self {
            Basis::PriorExpress => "prior_express",
            Basis::PriorExpressWritten => "prior_express_written",
            Basis::HealthcareRelationship => "healthcare_relationship",
        }
    }

    /// The basis as a practice reads it.
    pub fn label(self) -> &'static str {
        match self {
            Basis::PriorExpress => "prior express",
            Basis::PriorExpressWritten => "prior express written",
            Basis::HealthcareRelationship => "healthcare relationship",
        }
    }

    pub fn parse(text: &str) -> Result<Basis, DomainError> {
        Basis::ALL
            .into_iter()
            .find(|b| b.as_str() == text.trim())
            .ok_or_else(|| DomainError::invalid("invalid_basis", "basis must be one of prior_express, prior_express_written, healthcare_relationship"))
    }
}

/// The consent a placed call relied on, as the call keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRelied {
    pub id: String,
    pub basis: Basis,
    pub source: String,
    #[serde(with = "time::ms")]
    pub captured_at: DateTime<Utc>,
}

/// What the dialer asked Vapi for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingAsk {
    /// Record as the assistant does: one-party consent where the callee is.
    Record,
    /// Disclose and ask (Vapi's `stay-on-line` recording-consent plan).
    Disclose,
    /// Recording switched off (`artifactPlan.recordingEnabled: false`).
    Off,
    /// An inbound call whose assistant discloses the recording, as the tenant records it does.
    DisclosedInbound,
    /// An inbound call from a caller who may be where everyone's consent is
    /// needed, and the tenant has not recorded that its assistant discloses:
    /// the recording is not kept.
    NotDisclosed,
}

impl RecordingAsk {
    pub const ALL: [RecordingAsk; 5] =
        [RecordingAsk::Record, RecordingAsk::Disclose, RecordingAsk::Off, RecordingAsk::DisclosedInbound, RecordingAsk::NotDisclosed];

    /// The decision as a practice reads it.
    pub fn label(self) -> &'static str {
        match self {
            RecordingAsk::Record => "recorded (one-party consent where the callee is)",
            RecordingAsk::Disclose => "disclosed and asked (everyone\u{2019}s consent needed)",
            RecordingAsk::Off => "switched off (everyone\u{2019}s consent needed)",
            RecordingAsk::DisclosedInbound => "recorded (the practice\u{2019}s inbound assistant discloses it)",
            RecordingAsk::NotDisclosed => "not kept (everyone\u{2019}s consent needed, and no disclosure on record)",
        }
    }
}

/// The recording decision a placed call keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingDecision {
    /// Whether everyone's consent is needed where the callee is.
    pub all_party: bool,
    pub asked: RecordingAsk,
}

/// The key a telemarketing or collection call tells the callee to press to stop its calls (47 CFR 64.1200(b)(3): an
/// automated key-press opt-out, announced at the start of the call).
pub const OPT_OUT_DIGIT: &str = "9";

/// The spoken instruction that announces it.
pub const KEYPAD_INSTRUCTION: &str = "To stop these calls, press 9 at any time.";

/// The database's answer for a number and a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RndResult {
    /// Disconnected on or after the date: the consent is for someone else's number now.
    Yes,
    No,
    /// The database cannot say (the number is not in it, or the date is before its data): no safe harbour.
    NoData,
}

impl RndResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RndResult::Yes => "yes",
            RndResult::No => "no",
            RndResult::NoData => "no_data",
        }
    }
}

/// A consent's latest check against the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RndCheck {
    pub result: RndResult,
    /// The database version the answer came from (its latest monthly update then).
    pub rnd_as_of: NaiveDate,
    #[serde(with = "time::ms")]
    pub checked_at: DateTime<Utc>,
}

/// What one registry says of a number, as a call rests on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryResult {
    /// `national` or the state's code.
    pub name: String,
    /// The copy lists the number.
    pub listed: bool,
    /// The date of the copy checked; `None`: no copy was ever imported (nothing to heed, nothing to rest on).
    pub as_of: Option<NaiveDate>,
}

/// What the call said of who was calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disclosure {
    /// The opening turn named the practice.
    pub practice_named: bool,
    /// A telemarketing call stated the callback number (`None`: not a telemarketing call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_stated: Option<bool>,
}

impl Disclosure {
    pub fn ok(&self) -> bool {
        self.practice_named && self.callback_stated != Some(false)
    }

    /// The rule as the call's compliance record lists it.
    pub fn rule(&self) -> Check {
        let detail = match (self.practice_named, self.callback_stated) {
            (true, Some(false)) => "named the practice, but stated no callback number for do-not-call requests (47 CFR 64.1200(b)(2))".to_string(),
            (true, _) => "named the practice at the start (47 CFR 64.1200(b)(1))".to_string(),
            (false, _) => "did not name the practice in its opening turn (47 CFR 64.1200(b)(1)): check the assistant's first message".to_string(),
        };
        Check { rule: "disclosure".into(), ok: self.ok(), detail }
    }
}
