//! Whether an outbound call said what every artificial-voice call must
//! (47 CFR 64.1200(b); `../shared/COMPLIANCE.md`, "What the call says"):
//! at the beginning, the business's name; during or after the message, a
//! number to call it back on (for telemarketing, a number that takes
//! do-not-call requests). Checked on the transcript Vapi reports: the
//! assistant's opening turn (its lines before the callee first speaks) for
//! the practice's name, and every assistant line for the callback number.

use crate::call::{
    CallType,
    compliance::{Disclosure, Identity},
};

/// Lower-case words of letters and digits, one space apart.
fn words(text: &str) -> String {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

fn speaker(line: &str) -> Option<(String, &str)> {
    let (who, said) = line.trim().split_once(':')?;
    Some((who.trim().to_ascii_lowercase(), said))
}

const ASSISTANT: &[&str] = &["ai", "assistant", "bot", "agent"];
const CALLEE: &[&str] = &["user", "customer", "caller", "patient"];

/// Checks `transcript` of a call of `call_type` against what it had to say (`identity`). `None`: the
/// assistant said nothing (no call to judge).
pub fn check(transcript: &str, call_type: CallType, identity: &Identity) -> Option<Disclosure> {
    let lines: Vec<(String, &str)> = transcript.lines().filter_map(speaker).collect();
    let assistant: Vec<&str> = lines.iter().filter(|(who, _)| ASSISTANT.contains(&who.as_str())).map(|(_, said)| *said).collect();
    if assistant.is_empty() {
        return None;
    }
    let opening: Vec<&str> = lines
        .iter()
        .take_while(|(who, _)| !CALLEE.contains(&who.as_str()))
        .filter(|(who, _)| ASSISTANT.contains(&who.as_str()))
        .map(|(_, said)| *said)
        .collect();
    let name = words(&identity.practice_name);
    let practice_named = !name.is_empty() && format!(" {} ", words(&opening.join(" "))).contains(&format!(" {name} "));
    let callback_stated = crate::placement::call_rules::TELEMARKETING.contains(&call_type).then(|| {
        let wanted: String = identity.callback_number.as_deref().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
        let national = wanted.strip_prefix('1').filter(|d| d.len() == 10).unwrap_or(&wanted).to_string();
        !national.is_empty() && assistant.iter().any(|said| said.chars().filter(char::is_ascii_digit).collect::<String>().contains(&national))
    });
    Some(Disclosure { practice_named, callback_stated })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity { practice_name: "Riverside Dental".into(), callback_number: Some("+15035550100".into()) }
    }

    #[test]
    fn the_opening_turn_names_the_practice_and_telemarketing_states_its_number() {
        let said = "AI: Hello, this is Riverside Dental calling about your cleaning.\nUser: Oh hi.\nAI: You can reach us at (503) 555-0100.";
        assert_eq!(check(said, CallType::OutboundLead, &identity()), Some(Disclosure { practice_named: true, callback_stated: Some(true) }));
        assert_eq!(check(said, CallType::OutboundFollowup, &identity()), Some(Disclosure { practice_named: true, callback_stated: None }));
        // Named only after the callee spoke: not at the beginning.
        let late = "AI: Hi there!\nUser: Who is this?\nAI: This is Riverside Dental.";
        let missed = check(late, CallType::OutboundFollowup, &identity()).unwrap();
        assert!(!missed.ok() && !missed.rule().ok);
        // A word that only contains the name is not the name; no number for telemarketing is a miss.
        let partial = "AI: Hello from Riversidedental!\nUser: hm";
        assert!(!check(partial, CallType::OutboundFollowup, &identity()).unwrap().practice_named);
        let no_number = "AI: Hello, this is Riverside Dental with an offer.\nUser: ok";
        assert_eq!(check(no_number, CallType::OutboundCampaign, &identity()).unwrap().callback_stated, Some(false));
        assert_eq!(check("User: hello?", CallType::OutboundLead, &identity()), None, "the assistant never spoke");
    }
}
