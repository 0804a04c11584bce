//! What a patient's text to the practice's number means for its calls.
//!
//! The law first: consent may be revoked by any reasonable means, and a
//! text reply of stop, quit, end, revoke, opt out, cancel or unsubscribe is
//! reasonable per se (47 CFR 64.1200(a)(10); FCC 24-24, 89 FR 15756). Then
//! Twilio's default keyword handling, which the practice's number already
//! applies to its texts (`../shared/twilio.md`, "Opt-out keywords"): the
//! whole message, in any case, `STOP`, `STOPALL`, `UNSUBSCRIBE`, `CANCEL`,
//! `END`, `QUIT`, `REVOKE` or `OPTOUT` opts out; `START`, `YES` or `UNSTOP`
//! opts back in to texts; `HELP` or `INFO` asks who is texting. With
//! Advanced Opt-Out, Twilio says which in `OptOutType`. A message that is
//! more than a keyword is read as a call's transcript is
//! ([`super::stop_request::asks_to_stop`]): "please stop calling me" revokes too.
//!
//! A keyword is read on the safe side of both: the words of the law and of
//! Twilio together, punctuation and spacing around them ignored ("Stop.",
//! "opt-out", "OPT OUT").

/// What a text means for the number's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMeaning {
    /// Every consent of the number is revoked and every call waiting for it cancelled; `how` says what counted.
    OptOut { how: &'static str },
    /// Texts may resume. No voice consent comes back with it: a call needs a consent recorded after the opt-out.
    OptIn,
    /// The patient asks who is texting: the answer names the practice and its callback number.
    Help,
    /// Anything else: nothing changes.
    Other,
}

/// Opt-out words: the FCC's per se list (64.1200(a)(10)), then Twilio's own.
const OPT_OUT: &[&str] = &["stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe", "stopall", "optout"];
const OPT_IN: &[&str] = &["start", "yes", "unstop"];
const HELP: &[&str] = &["help", "info"];

/// The message as a keyword would be compared: lower case, hyphens as
/// spaces, one space between words, nothing but letters and spaces at the ends.
fn keyword_form(body: &str) -> String {
    let words: Vec<String> = body
        .to_lowercase()
        .replace(['-', '_'], " ")
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ")
}

/// Twilio's own default keywords, which it answers itself (`../shared/twilio.md`): the whole message, trimmed, in any case.
const TWILIO_KEYWORDS: &[&str] = &["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "start", "yes", "unstop", "help", "info"];

/// Whether Twilio itself answers this message (a keyword of its own, or
/// one its Advanced Opt-Out matched), so CallOps must not answer again:
/// the law allows one confirmation text (64.1200(a)(12)).
pub fn twilio_answers(body: &str, opt_out_type: Option<&str>) -> bool {
    opt_out_type.is_some_and(|t| ["STOP", "START", "HELP"].contains(&t.trim().to_ascii_uppercase().as_str()))
        || TWILIO_KEYWORDS.contains(&body.trim().to_lowercase().as_str())
}

/// What `body` means, with Twilio's `OptOutType` when it sent one.
pub fn read_text(body: &str, opt_out_type: Option<&str>) -> TextMeaning {
    match opt_out_type.map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        Some("STOP") => return TextMeaning::OptOut { how: "keyword" },
        Some("START") => return TextMeaning::OptIn,
        Some("HELP") => return TextMeaning::Help,
        _ => {}
    }
    let word = keyword_form(body);
    if OPT_OUT.contains(&word.as_str()) {
        return TextMeaning::OptOut { how: "keyword" };
    }
    if OPT_IN.contains(&word.as_str()) {
        return TextMeaning::OptIn;
    }
    if HELP.contains(&word.as_str()) {
        return TextMeaning::Help;
    }
    // More than a keyword: the patient's own words, read as a call's would be.
    match super::stop_request::asks_to_stop(&format!("User: {body}")) {
        Some(phrase) => TextMeaning::OptOut { how: phrase },
        None => TextMeaning::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_the_law_and_twilio_treat_as_an_opt_out_revokes_in_any_case_and_punctuation() {
        // 64.1200(a)(10): stop, quit, end, revoke, opt out, cancel, unsubscribe; Twilio adds STOPALL and OPTOUT.
        for body in ["STOP", "stop", "Stop.", " quit ", "END", "Revoke!", "opt out", "Opt-Out", "OPTOUT", "cancel", "UNSUBSCRIBE", "StopAll", "\"stop\""] {
            assert_eq!(read_text(body, None), TextMeaning::OptOut { how: "keyword" }, "{body:?}");
        }
        // In plain words, as on a call.
        assert!(matches!(read_text("Please stop calling me, I moved", None), TextMeaning::OptOut { .. }));
        assert!(matches!(read_text("take me off your list", None), TextMeaning::OptOut { .. }));
        // Twilio's Advanced Opt-Out says so itself, whatever the words (a keyword the practice added).
        assert_eq!(read_text("ARRET", Some("STOP")), TextMeaning::OptOut { how: "keyword" });
    }

    #[test]
    fn opting_back_in_asking_for_help_and_everything_else_are_told_apart() {
        for body in ["START", "yes", "Unstop"] {
            assert_eq!(read_text(body, None), TextMeaning::OptIn, "{body:?}");
        }
        assert_eq!(read_text("anything", Some("START")), TextMeaning::OptIn);
        for body in ["HELP", "info?"] {
            assert_eq!(read_text(body, None), TextMeaning::Help, "{body:?}");
        }
        // A keyword inside a longer message is not one (Twilio's whole-message rule), and these words ask for nothing.
        assert!(twilio_answers(" Stop ", None) && twilio_answers("ARRET", Some("stop")));
        // Words the law counts but Twilio's keyword handling does not: CallOps confirms them itself.
        for body in ["Stop.", "opt out", "Please stop calling me"] {
            assert!(!twilio_answers(body, None), "{body:?}");
        }
        for body in ["Can I stop by on Tuesday?", "Yes please book me", "The end of the month works", "See you then", ""] {
            assert_eq!(read_text(body, None), TextMeaning::Other, "{body:?}");
        }
    }
}
