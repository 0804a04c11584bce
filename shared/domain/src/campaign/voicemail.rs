//! The message a campaign call leaves on voicemail, and what the law lets
//! it say (`../shared/COMPLIANCE.md`, "What the call says"):
//!
//! - **Every message** names the practice and gives a number to call it
//!   back on (47 CFR 64.1200(b)(1), (b)(2)).
//! - **Collection calls** (`OUTBOUND_DEBT`) leave only Regulation F's
//!   limited-content message (12 CFR 1006.2(j)): a business name that does
//!   not say debt collection, a request to reply, the name of a natural
//!   person to contact, a callback number; optionally a salutation, the
//!   date and time, suggested reply times and that any representative can
//!   help. Nothing else: no debt, amount or account ([`DEBT_WORDS`]). A
//!   message that says more is a communication about the debt, with every
//!   disclosure that brings (1006.34, 1006.42) — refused here as
//!   `voicemail_not_limited_content`.
//! - **Care calls** keep to the minimum necessary (45 CFR 164.502(b)): HHS
//!   advises leaving only the practice's name and number and what is needed
//!   to confirm an appointment, or a request to call back (HHS FAQ 198). No
//!   clinical or billing words ([`CLINICAL_WORDS`], [`DEBT_WORDS`]): refused
//!   as `voicemail_discloses_phi`.
//! - **Telemarketing** (`OUTBOUND_LEAD`, `OUTBOUND_CAMPAIGN`) left on an
//!   answering machine also gives a toll-free number that reaches the
//!   automated opt-out (47 CFR 64.1200(b)(3)): `voicemail_no_opt_out_number`.
//!
//! A message is checked as the practice wrote it and again for each
//! contact with its variables filled in (`{{name}}`), since a value can
//! carry what the words may not; it is sent to Vapi filled in, so what is
//! checked is what is said.

use std::collections::BTreeMap;

use crate::{call::CallType, call::compliance::Identity, error::DomainError};

pub use crate::limits::MAX_VOICEMAIL_CHARS;

/// Words that say a message is about money owed: never in a limited-content
/// message (1006.2(j)), and billing information a care voicemail must not
/// disclose. Matched as whole words, case aside, or as the start of one
/// where it ends in `*`.
pub const DEBT_WORDS: &[&str] = &[
    "debt*",
    "collect*",
    "owe",
    "owed",
    "owes",
    "owing",
    "balance*",
    "bill",
    "bills",
    "billing",
    "invoice*",
    "payment*",
    "pay",
    "paid",
    "overdue",
    "past due",
    "delinquen*",
    "account*",
    "amount*",
    "dollar*",
    "credit*",
    "charge*",
    "statement*",
    "financ*",
];

/// Clinical words a care voicemail must not say (the minimum necessary,
/// 45 CFR 164.502(b); HHS FAQ 198): diagnoses, conditions, procedures,
/// results and medicines, as a dental or medical practice's messages would
/// name them. Matched as [`DEBT_WORDS`] are.
pub const CLINICAL_WORDS: &[&str] = &[
    "diagnos*",
    "treatment*",
    "procedure*",
    "surger*",
    "surgical",
    "extraction*",
    "root canal*",
    "crown*",
    "filling*",
    "cavit*",
    "implant*",
    "denture*",
    "braces",
    "orthodont*",
    "periodont*",
    "gum disease",
    "gingivitis",
    "infection*",
    "infected",
    "abscess*",
    "biops*",
    "cancer*",
    "tumor*",
    "x-ray*",
    "xray*",
    "lab",
    "labs",
    "result*",
    "test*",
    "prescription*",
    "prescribed",
    "medication*",
    "medicine*",
    "antibiotic*",
    "pain",
    "bleeding",
    "anesthe*",
    "sedation",
    "pregnan*",
    "hiv",
    "diabet*",
    "condition*",
    "symptom*",
    "therapy",
    "referral*",
    "specialist*",
];

/// Words that ask the callee to reply (a limited-content message must).
const REPLY_WORDS: &[&str] = &["call", "return", "reach", "contact", "reply", "ring"];

/// Words that introduce the natural person to contact.
const PERSON_CUES: &[&[&str]] = &[&["this", "is"], &["my", "name", "is"], &["ask", "for"], &["speak", "with"], &["speak", "to"], &["contact"]];

/// What a voicemail message is checked against for one call.
#[derive(Debug, Clone, Copy)]
pub struct VoicemailRules<'a> {
    pub call_type: CallType,
    pub identity: &'a Identity,
}

/// Lower-case words of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric() && c != '-').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// The first word of `list` that `text` says, if any.
fn says<'l>(said: &[String], list: &[&'l str]) -> Option<&'l str> {
    list.iter().copied().find(|entry| {
        let (stem, prefix) = match entry.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (*entry, false),
        };
        let parts: Vec<&str> = stem.split(' ').collect();
        said.windows(parts.len()).any(|window| {
            window.iter().zip(&parts).enumerate().all(|(i, (word, part))| {
                if prefix && i == parts.len() - 1 {
                    word.starts_with(part)
                } else {
                    word == part || (part.contains('-') && word.replace('-', "") == part.replace('-', ""))
                }
            })
        })
    })
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The ten digits of a North American number (`+1` dropped), or all its digits.
fn national(number: &str) -> String {
    let all = digits(number);
    all.strip_prefix('1').filter(|d| d.len() == 10).map(str::to_string).unwrap_or(all)
}

/// Fills `{{name}}` placeholders from `values`; a placeholder none gives is `invalid_voicemail_message`.
pub fn fill(template: &str, values: &BTreeMap<String, String>) -> Result<String, DomainError> {
    fill_by(template, |name| {
        values.get(name).map(String::as_str).ok_or_else(|| {
            DomainError::invalid(
                "invalid_voicemail_message",
                format!("voicemailMessage uses {{{{{name}}}}}, which this contact's variables do not give (nor customerName, practiceName, callbackNumber)"),
            )
        })
    })
}

/// Fills each `{{name}}` with what `value` gives for it.
fn fill_by<'v>(template: &str, value: impl Fn(&str) -> Result<&'v str, DomainError>) -> Result<String, DomainError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close =
            after.find("}}").ok_or_else(|| DomainError::invalid("invalid_voicemail_message", "voicemailMessage opens a {{placeholder}} it never closes"))?;
        out.push_str(value(after[..close].trim())?);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The values a message's placeholders take for one contact: its variables,
/// then its name and the practice's name and number (never over a variable).
pub fn values(variables: &BTreeMap<String, String>, customer_name: Option<&str>, identity: &Identity) -> BTreeMap<String, String> {
    let mut values = variables.clone();
    let known =
        [("customerName", customer_name), ("practiceName", Some(identity.practice_name.as_str())), ("callbackNumber", identity.callback_number.as_deref())];
    for (name, value) in known {
        if let Some(value) = value {
            values.entry(name.to_string()).or_insert_with(|| value.to_string());
        }
    }
    values
}

/// Whether `message` (filled in) is one a call of these rules may leave; the refusal says what to change.
pub fn check(message: &str, rules: VoicemailRules) -> Result<(), DomainError> {
    let chars = message.chars().count();
    if message.trim().is_empty() || chars > MAX_VOICEMAIL_CHARS {
        return Err(DomainError::invalid(
            "invalid_voicemail_message",
            format!("voicemailMessage must be 1 to {MAX_VOICEMAIL_CHARS} characters ({chars} here)"),
        ));
    }
    let said = words(message);
    let name = words(&rules.identity.practice_name);
    let named = !name.is_empty() && said.windows(name.len()).any(|w| w == name.as_slice());
    let callback = rules.identity.callback_number.as_deref().map(national).unwrap_or_default();
    let numbered = !callback.is_empty() && digits(message).contains(&callback);
    let debt = rules.call_type == CallType::OutboundDebt;
    let code = if debt { "voicemail_not_limited_content" } else { "voicemail_discloses_phi" };
    let refuse = |why: String| Err(DomainError::invalid(code, why));
    if !named || !numbered {
        return refuse(format!(
            "a voicemail names the practice ({:?}) and gives its callback number ({}) (47 CFR 64.1200(b))",
            rules.identity.practice_name,
            rules.identity.callback_number.as_deref().unwrap_or("none set")
        ));
    }
    if message.contains('$') || message.contains('%') {
        return refuse("a voicemail states no amounts".into());
    }
    if let Some(word) = says(&said, DEBT_WORDS) {
        return refuse(match debt {
            true => format!("a collection voicemail is Regulation F's limited-content message (12 CFR 1006.2(j)): nothing about the debt (it says {word:?})"),
            false => format!("a voicemail keeps to the minimum necessary (45 CFR 164.502(b)): no billing details (it says {word:?})"),
        });
    }
    if let Some(word) = says(&said, CLINICAL_WORDS) {
        return refuse(format!("a voicemail keeps to the minimum necessary (45 CFR 164.502(b), HHS FAQ 198): no clinical details (it says {word:?})"));
    }
    if debt {
        if says(&said, REPLY_WORDS).is_none() {
            return refuse("a limited-content message asks the person to reply (12 CFR 1006.2(j)(1)(ii)): say \"please call us back\"".into());
        }
        if !names_a_person(message, &name) {
            return refuse(
                "a limited-content message names a natural person to contact (12 CFR 1006.2(j)(1)(iii)): say \"please ask for Maria\" or \"this is Maria\""
                    .into(),
            );
        }
    }
    if crate::placement::call_rules::TELEMARKETING.contains(&rules.call_type) && !gives_toll_free(message) {
        return Err(DomainError::invalid(
            "voicemail_no_opt_out_number",
            "a marketing voicemail gives a toll-free number (800, 833, 844, 855, 866, 877 or 888) that reaches the automated opt-out (47 CFR 64.1200(b)(3))",
        ));
    }
    Ok(())
}

pub use crate::limits::check_voicemail_syntax as check_syntax;

/// What a call of `call_type` records of its message: the rule it keeps, and the code of the one it broke (`refused`).
pub fn plan(call_type: CallType, refused: Option<&str>) -> crate::call::compliance::VoicemailPlan {
    let rule = match call_type {
        CallType::OutboundDebt => "limited_content",
        t if crate::placement::call_rules::TELEMARKETING.contains(&t) => "minimum_necessary_with_opt_out",
        _ => "minimum_necessary",
    };
    crate::call::compliance::VoicemailPlan { rule: rule.into(), refused: refused.map(str::to_string) }
}

/// Checks a message as the practice wrote it: the practice's placeholders
/// filled, a contact's left empty. What fails here fails for every contact.
pub fn check_template(template: &str, rules: VoicemailRules) -> Result<(), DomainError> {
    let values = values(&BTreeMap::new(), None, rules.identity);
    check(&fill_by(template, |name| Ok(values.get(name).map_or("", String::as_str)))?, rules)
}

/// The message `call` leaves on voicemail: `template` filled with its
/// variables, name and the practice's identity, and checked for its type.
pub fn for_call(template: &str, call: &crate::call::CallLog, identity: &Identity) -> Result<String, DomainError> {
    let message = fill(template, &values(&call.variable_values, call.customer_name.as_deref(), identity))?;
    check(&message, VoicemailRules { call_type: call.call_type, identity })?;
    Ok(message)
}

impl super::plan::ContactCheck {
    /// Refuses, by row, each accepted contact whose filled-in message breaks its rules (a value can carry what the words may not).
    pub fn with_voicemail(mut self, template: &str, rules: VoicemailRules) -> Self {
        let mut refused = Vec::new();
        self.accepted.retain(|(index, contact)| {
            let message = fill(template, &values(&contact.variables, contact.name.as_deref(), rules.identity));
            match message.and_then(|m| check(&m, rules)) {
                Ok(()) => true,
                Err(err) => {
                    refused.push(super::plan::RejectedContact::new(index + 1, &contact.number, err));
                    false
                }
            }
        });
        self.refused.extend(refused);
        self.refused.sort_by_key(|r| r.row);
        self
    }
}

/// Whether a person's name follows one of [`PERSON_CUES`]: a capitalised word that is not the practice's.
fn names_a_person(message: &str, practice: &[String]) -> bool {
    let tokens: Vec<&str> = message.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let lower: Vec<String> = tokens.iter().map(|t| t.to_lowercase()).collect();
    PERSON_CUES.iter().any(|cue| {
        lower.windows(cue.len()).enumerate().any(|(at, window)| {
            window.iter().zip(cue.iter()).all(|(w, c)| w == c)
                && tokens.get(at + cue.len()).is_some_and(|next| {
                    next.chars().next().is_some_and(char::is_uppercase) && !practice.contains(&next.to_lowercase()) && next.chars().all(char::is_alphabetic)
                })
        })
    })
}

/// Whether the message gives a North American toll-free number.
fn gives_toll_free(message: &str) -> bool {
    const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];
    let mut runs = Vec::new();
    let mut run = String::new();
    for c in message.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else if !matches!(c, ' ' | '-' | '(' | ')' | '.' | '+') && !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    runs.push(run);
    runs.iter().any(|r| {
        let n = r.strip_prefix('1').filter(|d| d.len() == 10).unwrap_or(r);
        n.len() == 10 && TOLL_FREE.contains(&&n[..3])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity { practice_name: "Riverside Dental".into(), callback_number: Some("+15035550100".into()) }
    }

    fn code(message: &str, call_type: CallType) -> Option<&'static str> {
        check(message, VoicemailRules { call_type, identity: &identity() }).err().and_then(|e| e.code())
    }

    #[test]
    fn a_collection_voicemail_is_the_limited_content_message_and_nothing_else() {
        let limited = "Hi, this is Maria from Riverside Dental. Please call us back at 503-555-0100, any representative can help. Thank you.";
        assert_eq!(code(limited, CallType::OutboundDebt), None);
        for (said, why) in [
            ("Hi, this is Maria from Riverside Dental about your past due balance. Please call 503-555-0100.", "names the debt"),
            ("Hi, this is Maria from Riverside Dental. You owe $120. Please call 503-555-0100.", "an amount"),
            ("Hello from Riverside Dental. Please call us back at 503-555-0100.", "no person to ask for"),
            ("Hi, this is Maria from Riverside Dental. 503-555-0100.", "no request to reply"),
            ("Hi, this is Maria from Riverside Collections. Please call 503-555-0100.", "not the practice's name"),
            ("Hi, this is Maria from Riverside Dental about your account. Please call 503-555-0100.", "an account"),
        ] {
            assert_eq!(code(said, CallType::OutboundDebt), Some("voicemail_not_limited_content"), "{why}: {said}");
        }
    }

    #[test]
    fn a_care_voicemail_keeps_to_the_minimum_necessary() {
        let confirm = "Hello, this is Riverside Dental calling to confirm your appointment on Tuesday at 3 PM. Please call us at (503) 555-0100.";
        assert_eq!(code(confirm, CallType::OutboundFollowup), None);
        for said in [
            "Riverside Dental here: your root canal is on Tuesday. Call (503) 555-0100.",
            "Riverside Dental: your X-ray results are ready. Call (503) 555-0100.",
            "Riverside Dental: your lab is back. Call (503) 555-0100.",
            "Riverside Dental: about your bill. Call (503) 555-0100.",
            "Hello, please call us back.",
        ] {
            assert_eq!(code(said, CallType::OutboundFollowup), Some("voicemail_discloses_phi"), "{said}");
        }
    }

    #[test]
    fn a_marketing_voicemail_gives_a_toll_free_opt_out_number() {
        let offer = "Hello from Riverside Dental! Call us at 503-555-0100 to book a cleaning.";
        assert_eq!(code(offer, CallType::OutboundCampaign), Some("voicemail_no_opt_out_number"));
        let with_opt_out = format!("{offer} To stop these calls, call 1-888-555-0199.");
        assert_eq!(code(&with_opt_out, CallType::OutboundCampaign), None);
        assert_eq!(code(&"a".repeat(1_001), CallType::OutboundCampaign), Some("invalid_voicemail_message"));
    }

    #[test]
    fn placeholders_are_filled_from_the_contact_and_a_value_is_checked_too() {
        let values = values(&BTreeMap::from([("balance".to_string(), "$120".to_string())]), Some("Ada"), &identity());
        let message = "Hi {{customerName}}, this is Maria from {{practiceName}}. Please call {{ callbackNumber }}.";
        let filled = fill(message, &values).unwrap();
        assert_eq!(filled, "Hi Ada, this is Maria from Riverside Dental. Please call +15035550100.");
        assert_eq!(code(&filled, CallType::OutboundDebt), None);
        let leaky = fill("Hi, this is Maria from {{practiceName}}: {{balance}}. Please call {{callbackNumber}}.", &values).unwrap();
        assert_eq!(code(&leaky, CallType::OutboundDebt), Some("voicemail_not_limited_content"), "a variable's value is checked: {leaky}");
        assert!(matches!(fill("Hi {{nobody}}", &values), Err(DomainError::Invalid { code: "invalid_voicemail_message", .. })));
        assert!(matches!(fill("Hi {{open", &values), Err(DomainError::Invalid { code: "invalid_voicemail_message", .. })));
    }
}
