//! Whether a call may be recorded, by where its callee is: in an all-party
//! consent state everyone on the call must agree to be recorded (Cal.
//! Penal Code 632 / 632.7: at least $5,000 a violation, cellular calls
//! included). There the tenant's policy decides: disclose the recording
//! and ask (Vapi's recording-consent plan: the callee hears it and stays on
//! the line to agree), or do not record at all. The dialer tells Vapi what
//! it asks and keeps it on the call ([`RecordingDecision`] in its
//! `compliance`); the webhook keeps a recording only with the consent the
//! decision needs ([`keep`]), else drops the link and says why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::call::compliance::{RecordingAsk, RecordingDecision};
use crate::placement::callee::Callee;

/// All-party consent states, with the mixed ones (CT, MI, OR) among them:
/// the stricter rule is followed. COMPLIANCE.md "Recording".
pub const ALL_PARTY_STATES: &[&str] = &["CA", "CT", "DE", "FL", "IL", "MA", "MD", "MI", "MT", "NH", "NV", "OR", "PA", "WA"];

/// The tenant's choice for callees whose law needs everyone's consent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicy {
    /// Disclose the recording at the start and record only with consent.
    #[default]
    Disclose,
    /// Switch recording off for those calls.
    DoNotRecord,
}

/// What the callee must hear before a disclosed recording starts.
pub const DISCLOSURE: &str = "This call may be recorded for quality and for your records. Please stay on the line if that is all right, or hang up if not.";

/// The decision for a call to `callee` under `policy`. A callee with no US
/// state (another country, or a number whose state is unknown) is treated as
/// needing everyone's consent, the stricter rule.
pub fn decide(callee: &Callee, policy: RecordingPolicy) -> RecordingDecision {
    let all_party = needs_everyone(callee);
    let asked = match (all_party, policy) {
        (false, _) => RecordingAsk::Record,
        (true, RecordingPolicy::Disclose) => RecordingAsk::Disclose,
        (true, RecordingPolicy::DoNotRecord) => RecordingAsk::Off,
    };
    RecordingDecision { all_party, asked }
}

/// Whether everyone on a call with `callee` must consent to its recording:
/// any state they may be in needs it (their number's, their record's and
/// every state that keeps their record's zone's clock), or no US state is
/// known (another country, an unknown code): the stricter rule.
fn needs_everyone(callee: &Callee) -> bool {
    callee.recording_states.is_empty() || callee.recording_states.iter().any(|s| ALL_PARTY_STATES.contains(&s.as_str()))
}

/// The decision for an inbound call from `caller`: kept where one party's
/// consent is enough, or where the tenant records that its inbound assistant
/// discloses the recording (`inboundRecordingDisclosed`); otherwise not kept.
pub fn decide_inbound(caller: &Callee, disclosed: bool) -> RecordingDecision {
    let all_party = needs_everyone(caller);
    let asked = match (all_party, disclosed) {
        (false, _) => RecordingAsk::Record,
        (true, true) => RecordingAsk::DisclosedInbound,
        (true, false) => RecordingAsk::NotDisclosed,
    };
    RecordingDecision { all_party, asked }
}

/// Vapi's recording-consent result for a call (`compliance.recordingConsent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingConsent {
    pub kind: String,
    /// When consent was granted; `None`: declined.
    pub granted_at: Option<DateTime<Utc>>,
}

/// Whether a call that made `decision` may keep a recording, given Vapi's
/// `consent` result: `Err` with why not. A call placed before decisions
/// were kept (no decision) keeps its recording.
pub fn keep(decision: Option<&RecordingDecision>, consent: Option<&RecordingConsent>) -> Result<(), &'static str> {
    match decision.map(|d| d.asked) {
        None | Some(RecordingAsk::Record | RecordingAsk::DisclosedInbound) => Ok(()),
        Some(RecordingAsk::NotDisclosed) => Err(
            "the caller may be in a state that needs everyone's consent to record, and the practice has not recorded that its inbound assistant discloses recording (inboundRecordingDisclosed)",
        ),
        Some(RecordingAsk::Off) => Err("recording was switched off for this call: the callee's state needs everyone's consent"),
        Some(RecordingAsk::Disclose) => match consent.and_then(|c| c.granted_at) {
            Some(_) => Ok(()),
            None => Err("the callee's state needs everyone's consent to record, and Vapi reported none granted"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    fn callee(number: &str, state: Option<&str>) -> Callee {
        Callee::of(number, &crate::placement::callee::Places::of_contact(None, state.map(|s| s.parse().unwrap())))
    }

    #[test]
    fn everyones_consent_is_asked_where_the_callees_state_needs_it() {
        let (ny, la, miami) = (callee("+12125550142", None), callee("+13105550142", None), callee("+13055550142", None));
        assert_eq!(decide(&ny, RecordingPolicy::Disclose), RecordingDecision { all_party: false, asked: RecordingAsk::Record });
        assert_eq!(decide(&la, RecordingPolicy::Disclose), RecordingDecision { all_party: true, asked: RecordingAsk::Disclose });
        assert_eq!(decide(&miami, RecordingPolicy::DoNotRecord).asked, RecordingAsk::Off);
        // A contact's record saying Pennsylvania adds its rule to a New York number.
        assert_eq!(decide(&callee("+12125550142", Some("PA")), RecordingPolicy::Disclose).asked, RecordingAsk::Disclose);
        // Abroad, or a state unknown: the stricter rule.
        assert!(decide(&callee("+442079460000", None), RecordingPolicy::Disclose).all_party);
        for state in ALL_PARTY_STATES {
            assert!(decide(&callee("+12125550142", Some(state)), RecordingPolicy::Disclose).all_party, "{state}");
        }
    }

    #[test]
    fn a_recording_is_kept_only_with_the_consent_its_decision_needs() {
        let granted = RecordingConsent { kind: "stay-on-line".into(), granted_at: Some(time::parse("2024-01-16T15:00:05Z").unwrap()) };
        let declined = RecordingConsent { kind: "stay-on-line".into(), granted_at: None };
        let disclosed = RecordingDecision { all_party: true, asked: RecordingAsk::Disclose };
        assert_eq!(keep(Some(&disclosed), Some(&granted)), Ok(()));
        assert!(keep(Some(&disclosed), Some(&declined)).is_err());
        assert!(keep(Some(&disclosed), None).is_err(), "no result: no consent");
        assert!(keep(Some(&RecordingDecision { all_party: true, asked: RecordingAsk::Off }), Some(&granted)).is_err(), "off means off");
        assert_eq!(keep(Some(&RecordingDecision { all_party: false, asked: RecordingAsk::Record }), None), Ok(()));
        assert_eq!(keep(None, None), Ok(()), "a call from before decisions were kept");
    }
}
