//! A patient's own words asking not to be called again, read from a call's
//! transcript: consent may be revoked "by any reasonable means" (FCC
//! 24-18), so CallOps does not rely on the assistant's judgement alone
//! (`doNotCallRequested`). Only the callee's lines count (`User:`,
//! `Customer:`, `Caller:`, `Patient:`), never the assistant's ("if you'd
//! like us to stop calling ..."). A phrase counts unless the words just
//! before it turn it around: a negation up to four words before ("please
//! don't stop calling me"), or, before "stop"/"quit", the patient speaking
//! of what they will do ("I'll stop calling your office"). "Stop" alone is not
//! enough on a voice call (a patient interrupting, "stop by", "the bus
//! stop"). A false positive is the safe side of the law, but it costs the
//! practice a patient it may call: the phrases are specific on purpose.

/// The phrases, in the normalised form of [`normalise`] (lower case, `do
/// not` for every "don't", words separated by one space).
const PHRASES: &[&str] = &[
    "stop calling",
    "quit calling",
    "stop contacting me",
    "stop phoning me",
    "do not call me",
    "do not call this number",
    "do not call here",
    "never call me",
    "never call this number",
    "no more calls",
    "take me off your list",
    "take me off your calling list",
    "take me off the list",
    "take me off your call list",
    "take my number off",
    "remove me from your list",
    "remove me from your calling list",
    "remove me from the list",
    "remove my number",
    "delete my number",
    "lose my number",
    "put me on your do not call list",
    "put me on the do not call list",
    "add me to your do not call list",
    "add me to the do not call list",
    "unsubscribe",
    "opt out",
    "opt me out",
    "revoke my consent",
    "withdraw my consent",
];

/// A negation up to four words before a phrase turns it around ("please
/// don't stop calling me", "I do not want you to remove my number").
const NEGATIONS: &[&str] = &["not", "never"];
/// Before "stop ..." or "quit ...", the patient speaking of what they will
/// do ("I'll stop calling your office") is not asking anything.
const SUBJECTS: &[&str] = &["i", "i'll", "we", "we'll", "will", "they", "they'll", "he", "she"];

/// A line of the callee's, lower case, with "don't"/"dont"/"do n't" as
/// "do not", curly apostrophes straightened and punctuation dropped.
fn normalise(line: &str) -> String {
    let straight = line.to_lowercase().replace(['\u{2019}', '\u{2018}', '`'], "'");
    let words: Vec<String> = straight
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "don't" | "dont" => "do not".to_string(),
            "can't" | "cant" => "can not".to_string(),
            "won't" | "wont" => "will not".to_string(),
            other => other.trim_matches('\'').to_string(),
        })
        .collect();
    words.join(" ")
}

/// The lines the callee spoke, without their speaker's label.
fn callee_lines(transcript: &str) -> impl Iterator<Item = &str> {
    transcript.lines().filter_map(|line| {
        let line = line.trim();
        let (speaker, words) = line.split_once(':')?;
        matches!(speaker.trim().to_ascii_lowercase().as_str(), "user" | "customer" | "caller" | "patient").then_some(words)
    })
}

/// Whether the callee said anything at all (a line of theirs with words in it).
pub fn callee_spoke(transcript: &str) -> bool {
    callee_lines(transcript).any(|words| words.chars().any(char::is_alphanumeric))
}

pub use crate::call::compliance::{KEYPAD_INSTRUCTION, OPT_OUT_DIGIT};

/// Whether the callee pressed the opt-out key: Vapi hands key presses to the
/// assistant as a user message `User's Keypad Entry: <digits>`, kept in the
/// transcript (`../shared/vapi.md`, `keypadInputPlan`). An entry of the
/// digit alone (a delimiter after it allowed) counts.
pub fn pressed_to_stop(transcript: &str) -> bool {
    transcript.lines().any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.find("keypad entry:").is_some_and(|at| {
            let entry: String = lower[at + "keypad entry:".len()..].chars().filter(|c| !c.is_whitespace()).collect();
            entry.trim_end_matches(['#', '*', '.']) == OPT_OUT_DIGIT
        })
    })
}

/// The first phrase in which the callee asks not to be called again, if any.
pub fn asks_to_stop(transcript: &str) -> Option<&'static str> {
    for line in callee_lines(transcript) {
        let text = format!(" {} ", normalise(line));
        for phrase in PHRASES {
            let needle = format!(" {phrase} ");
            let mut from = 0;
            while let Some(found) = text[from..].find(&needle).map(|i| i + from) {
                let before: Vec<&str> = text[..found].split_whitespace().rev().take(4).collect();
                let negated = before.iter().any(|w| NEGATIONS.contains(w));
                let of_themselves = (phrase.starts_with("stop") || phrase.starts_with("quit")) && before.iter().take(2).any(|w| SUBJECTS.contains(w));
                let turned = negated || of_themselves;
                if !turned {
                    return Some(phrase);
                }
                from = found + 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opt_out_key_pressed_is_an_opt_out_and_other_keys_are_not() {
        for transcript in ["AI: To stop these calls, press 9.\nUser: User's Keypad Entry: 9", "User: User's Keypad Entry: 9#", "user's keypad entry: 9"] {
            assert!(pressed_to_stop(transcript), "{transcript:?}");
        }
        for transcript in ["User: User's Keypad Entry: 1234", "User: User's Keypad Entry: 19", "User: I have 9 teeth left", "User: User's Keypad Entry:"] {
            assert!(!pressed_to_stop(transcript), "{transcript:?}");
        }
    }

    #[test]
    fn a_patient_asking_not_to_be_called_is_heard_in_their_own_words() {
        let asks = [
            "AI: Hi, this is Riley from Riverside Dental about your cleaning.\nUser: Please stop calling me.",
            "AI: Is now a good time?\nUser: No. Don't call me again, I've told you before.",
            "AI: Hello!\nUser: dont call this number",
            "AI: I'm calling about your balance.\nUser: Take me off your list, please.\nAI: Of course.",
            "User: Can you remove me from your calling list?",
            "User: Put me on your do-not-call list.",
            "User: I want to opt out of these calls.",
            "Customer: I\u{2019}m revoking, I mean, revoke my consent to be called.",
            "AI: Sorry to bother you.\nUser: Lose my number.",
            "User: No more calls. Goodbye.",
            "User: I never want to hear from you. Never call me again.",
            "User: Unsubscribe.",
        ];
        for transcript in asks {
            assert!(asks_to_stop(transcript).is_some(), "missed: {transcript:?}");
        }
    }

    #[test]
    fn words_that_only_sound_like_it_are_not_an_opt_out() {
        let not_asks = [
            // The assistant's words are not the patient's.
            "AI: If you'd like us to stop calling, just say so.\nUser: No, it's fine, I'll book for Tuesday.",
            "AI: You can opt out at any time.\nUser: Okay, thanks.",
            // Turned around.
            "User: Please don't stop calling me, I need the reminders.",
            "User: I'll stop calling your office so much, sorry.",
            "User: We will stop calling the pharmacy then.",
            "User: I do not want you to remove my number, keep it.",
            "User: Tell her not to take me off the list.",
            // "Stop" alone, and other lists.
            "User: Stop, stop, wait, let me get a pen.",
            "User: I'll stop by on Friday.",
            "User: Can you remove me from the waiting list for Dr. Lee and book me with Dr. Patel?",
            "User: Should I call you back, or do you call me?",
            "User: You said not to call me before nine, right?",
            "User: Am I on your do-not-call list? I'd like the reminders.",
        ];
        for transcript in not_asks {
            assert_eq!(asks_to_stop(transcript), None, "false positive: {transcript:?}");
        }
    }
}
