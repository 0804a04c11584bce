//! Phone numbers: what a person types in, checked and written the one way
//! Vapi and Twilio take it (E.164), with libphonenumber's rules through the
//! `phonenumber` crate. Practices are in the US, so a number without a
//! country code is read as a US number.

use std::{fmt, ops::Deref};

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A number CallOps can dial: E.164, made only by [`normalize`] (also when
/// read from JSON), so holding one means the number was checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl Deref for PhoneNumber {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = DomainError;

    fn try_from(text: String) -> Result<Self, DomainError> {
        normalize(&text)
    }
}

impl From<PhoneNumber> for String {
    fn from(number: PhoneNumber) -> String {
        number.0
    }
}

impl PartialEq<str> for PhoneNumber {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PhoneNumber {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for PhoneNumber {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// `text` as an E.164 number (`+15551234567`), or `invalid_phone_number`.
pub fn normalize(text: &str) -> Result<PhoneNumber, DomainError> {
    let trimmed = text.trim();
    let refuse = |why: &str| DomainError::invalid("invalid_phone_number", format!("{trimmed:?} is not a phone number we can dial: {why}"));
    if trimmed.is_empty() || trimmed.len() > 32 {
        return Err(refuse("expected a number such as +15551234567"));
    }
    let number = phonenumber::parse(Some(phonenumber::country::Id::US), trimmed).map_err(|e| refuse(&e.to_string()))?;
    // A voice agent dials a number, not an extension behind it: refused, never cut off.
    if number.extension().is_some() {
        return Err(refuse("it has an extension, which a call cannot dial: give the number alone, and the extension in the call's notes"));
    }
    if !phonenumber::is_valid(&number) {
        return Err(refuse("no such number is in use in its country's numbering plan"));
    }
    Ok(PhoneNumber(number.format().mode(phonenumber::Mode::E164).to_string()))
}

/// Whether libphonenumber reads `text` as a number at all (a US number
/// without a country code), valid or not: what migrated history keeps.
pub fn parses(text: &str) -> bool {
    phonenumber::parse(Some(phonenumber::country::Id::US), text).is_ok()
}

/// The longest E.164 number: 15 digits after the `+`.
const MAX_E164_DIGITS: usize = 15;

/// The form the do-not-call list keeps a number in, for a number that may
/// not normalise (a webhook's caller id, a number libphonenumber does not
/// know yet): E.164 when it normalises; else libphonenumber's E.164 writing
/// of what it parsed (the form the number will have once it does
/// normalise); else `+` and its digits. `None` when there are no digits
/// to keep (`anonymous`, `unknown`): nothing CallOps could dial.
pub fn do_not_call_key(text: &str) -> Option<String> {
    if let Ok(number) = normalize(text) {
        return Some(number.into_string());
    }
    let trimmed = text.trim();
    // Already in the list's form (`+` and digits): kept as it is, so a key is its own key.
    if is_list_key(trimmed) {
        return Some(trimmed.to_string());
    }
    if trimmed.len() <= 32
        && let Ok(number) = phonenumber::parse(Some(phonenumber::country::Id::US), trimmed)
    {
        let written = number.format().mode(phonenumber::Mode::E164).to_string();
        if (2..=MAX_E164_DIGITS + 1).contains(&written.len()) && written[1..].bytes().all(|b| b.is_ascii_digit()) {
            // libphonenumber may write a form that itself normalises to another
            // (`+60142000000` to `+6042000000`): the key is that one, so a key is its own key.
            return Some(normalize(&written).map_or(written, PhoneNumber::into_string));
        }
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    // `+` and the digits may normalise to another form: the key is that one.
    (1..=MAX_E164_DIGITS).contains(&digits.len()).then(|| format!("+{digits}")).map(|key| normalize(&key).map_or(key, PhoneNumber::into_string))
}

/// Whether `text` is in the form the do-not-call list keeps: `+` and 1 to 15 digits.
pub fn is_list_key(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| (1..=MAX_E164_DIGITS).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// A number for logs: the country code and the last two digits only.
pub fn mask(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return "***".into();
    }
    let tail: String = digits[digits.len() - 2..].iter().collect();
    let head = if number.starts_with("+1") { "+1" } else { "+" };
    format!("{head}***{tail}")
}

/// `text` (a message from elsewhere, for a log) with every phone number in
/// it masked: a run of 7 or more digits, maybe with a leading `+` and
/// spaces, dashes, dots or brackets between them, standing on its own (not
/// inside an id or a timestamp).
pub fn mask_numbers_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_part = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = (chars[i] == '+' || chars[i] == '(' || chars[i].is_ascii_digit()) && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts {
            let mut end = i + 1;
            while end < chars.len() && is_part(chars[end]) {
                end += 1;
            }
            // Trailing separators are not part of the number.
            while end > i + 1 && !chars[end - 1].is_ascii_digit() {
                end -= 1;
            }
            let run: String = chars[i..end].iter().collect();
            let digits = run.chars().filter(char::is_ascii_digit).count();
            let stands_alone = end == chars.len() || !chars[end].is_alphanumeric();
            if digits >= 7 && stands_alone {
                out.push_str(&mask(&run));
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_number_is_made_only_by_normalising_also_from_json() {
        let number: PhoneNumber = serde_json::from_str("\"(212) 555-0142\"").unwrap();
        assert_eq!(number.as_str(), "+12125550142");
        assert_eq!(serde_json::to_string(&number).unwrap(), "\"+12125550142\"");
        assert!(serde_json::from_str::<PhoneNumber>("\"call me\"").is_err());
    }

    #[test]
    fn a_do_not_call_key_is_its_own_key_even_where_libphonenumber_rewrites_its_writing() {
        let text = "60 1-( 4 (- ( 2-000 ( 0 (--0((((0";
        let key = do_not_call_key(text).unwrap();
        assert_eq!(do_not_call_key(&key).as_deref(), Some(key.as_str()), "{text} gave {key}");
    }

    #[test]
    fn numbers_inside_messages_are_masked_and_ids_are_not() {
        assert_eq!(mask_numbers_in("customer.number +12125550142 is invalid; also (212) 555-0143."), "customer.number +1***42 is invalid; also +***43.");
        let untouched = "call 01a20b9a-f548-7498-a5f5-e66cd6bf2e38 at 2024-07-28T14:05:11Z, code 4031";
        assert_eq!(mask_numbers_in(untouched), untouched);
    }

    #[test]
    fn numbers_are_written_in_e164() {
        assert_eq!(normalize("+1 (212) 555-0142").unwrap(), "+12125550142");
        assert_eq!(normalize("212.555.0142").unwrap(), "+12125550142", "a US number may leave out +1");
        assert_eq!(normalize("+44 20 7946 0958").unwrap(), "+442079460958");
        assert_eq!(normalize(" +12125550142 ").unwrap(), "+12125550142");
    }

    #[test]
    fn what_cannot_be_dialled_is_refused() {
        for bad in
            ["", "hello", "123", "+1 000 000 0000", "+999 1234 5678", "+1212555014212345678901234567890123", "+1 212 555 0142 ext. 7", "212-555-0142 x12"]
        {
            let err = normalize(bad).unwrap_err();
            assert!(matches!(err, DomainError::Invalid { code: "invalid_phone_number", .. }), "{bad}: {err:?}");
        }
    }

    #[test]
    fn do_not_call_numbers_keep_the_form_the_list_and_the_api_use() {
        assert_eq!(do_not_call_key("+1 (212) 555-0142").as_deref(), Some("+12125550142"), "normalised as the API does");
        assert_eq!(do_not_call_key("(212) 555-0142").as_deref(), Some("+12125550142"));
        // Not a number in use today, but one libphonenumber can write: the form it will have.
        assert_eq!(do_not_call_key("+1 000 000 0000").as_deref(), Some("+10000000000"));
        assert_eq!(do_not_call_key("call me on 555 0100").as_deref(), Some("+15550100"));
        for nothing in ["", "anonymous", "unknown", "+", "1234567890123456789012345"] {
            assert_eq!(do_not_call_key(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn masked_numbers_keep_only_the_country_and_two_digits() {
        assert_eq!(mask("+12125550142"), "+1***42");
        assert_eq!(mask("+442079460958"), "+***58");
        assert_eq!(mask("12"), "***");
    }
}
