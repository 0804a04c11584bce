//! The bounds every value from outside is held to, in one place
//! (`docs/api.md`, "Bounds", lists them). A value beyond its bound is refused when
//! a client sends it (`400`), and ignored with a log line when Vapi sends
//! it; long free text from Vapi or the legacy table is cut on a character
//! boundary and the call says which fields were cut. Held to these, a call
//! item stays far under DynamoDB's 400 KB, every key under DynamoDB's key
//! limits, and no sum the rollups keep can overflow.

/// The longest call: a day. (Vapi's own limit is 12 hours.)
pub const MAX_DURATION_SECONDS: u32 = 86_400;
/// The most one call may cost: $10,000.
pub const MAX_COST_CENTS: i64 = 1_000_000;
/// The largest payment plan or collection amount on one call: $1,000,000.
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000;

/// Stored text, in bytes of UTF-8.
pub const MAX_TRANSCRIPT_BYTES: usize = 200_000;
pub const MAX_SUMMARY_BYTES: usize = 10_000;
/// `callNotes` (a client may send at most 2,000; the assistant's notes are cut here).
pub const MAX_NOTES_BYTES: usize = 10_000;
/// `callPurpose` (a client may send at most 500).
pub const MAX_PURPOSE_BYTES: usize = 1_000;
pub const MAX_ENDED_REASON_BYTES: usize = 500;
/// Names, the insurance provider, whom a call was transferred to, the sentiment.
pub const MAX_SHORT_TEXT_BYTES: usize = 200;
/// The recording's address (Vapi's presigned URLs run to about 1,500 bytes).
pub const MAX_URL_BYTES: usize = 2_048;
/// A phone number as it arrives (a webhook's caller id is kept as sent when it does not normalise).
pub const MAX_PHONE_TEXT_BYTES: usize = 64;

/// Call, campaign and legacy ids, and Vapi's call ids. Keys built from them
/// stay far under DynamoDB's 2,048 bytes (partition) and 1,024 (sort).
pub const MAX_ID_BYTES: usize = 200;

/// Whether `id` can be part of a key: 1 to [`MAX_ID_BYTES`] bytes, without
/// `#` (the key separator) or control characters.
pub fn is_key_safe(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.contains('#') && !id.chars().any(char::is_control)
}

/// `text` cut to at most `max` bytes on a character boundary, and whether anything was cut.
pub fn cut(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_string(), true)
}

/// Whether DynamoDB can store `value` as a number exactly as it is: finite,
/// and zero or of a magnitude from 1e-130 to below 1e126 (its range).
pub fn is_storable_number(value: f64) -> bool {
    value.is_finite() && (value == 0.0 || (1e-130..1e126).contains(&value.abs()))
}

/// Whether `url` is one the dashboard may link: an `https:` URL with a
/// host, within [`MAX_URL_BYTES`].
pub fn is_https_url(url: &str) -> bool {
    url.len() <= MAX_URL_BYTES && url::Url::parse(url).is_ok_and(|parsed| parsed.scheme() == "https" && parsed.host_str().is_some_and(|h| !h.is_empty()))
}

/// A live call's link: `wss:` or `https:`, bounded; `ws:` and `http:` only
/// to this machine (a local simulator's).
pub fn is_live_url(url: &str) -> bool {
    url.len() <= MAX_URL_BYTES
        && url::Url::parse(url).is_ok_and(|parsed| match parsed.scheme() {
            "wss" | "https" => parsed.host_str().is_some_and(|h| !h.is_empty()),
            "ws" | "http" => matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
            _ => false,
        })
}

/// Optional text from a request, trimmed (empty is absent), refused with
/// `code` beyond `max` bytes.
pub fn optional_text(value: Option<String>, max: usize, code: &'static str, what: &str) -> Result<Option<String>, crate::error::DomainError> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > max => Err(crate::error::DomainError::invalid(code, format!("{what} must be at most {max} bytes"))),
        other => Ok(other),
    }
}

/// Vapi's limit on `voicemailMessage` (characters).
pub const MAX_VOICEMAIL_CHARS: usize = 1_000;

/// A message as the practice writes it: 1 to [`MAX_VOICEMAIL_CHARS`]
/// characters, every `{{placeholder}}` closed (what it may say is checked
/// for each call's type, since one message serves every type of an agent's calls).
pub fn check_voicemail_syntax(template: &str) -> Result<(), crate::error::DomainError> {
    let chars = template.chars().count();
    if template.trim().is_empty() || chars > MAX_VOICEMAIL_CHARS {
        return Err(crate::error::DomainError::invalid(
            "invalid_voicemail_message",
            format!("voicemailMessage must be 1 to {MAX_VOICEMAIL_CHARS} characters ({chars} here)"),
        ));
    }
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| crate::error::DomainError::invalid("invalid_voicemail_message", "voicemailMessage opens a {{placeholder}} it never closes"))?;
        rest = &after[close + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let (kept, cut_) = cut(&"é".repeat(10), 5);
        assert_eq!((kept.as_str(), cut_), ("éé", true));
        assert_eq!(cut("short", 5), ("short".to_string(), false));
    }

    #[test]
    fn key_safe_ids_and_storable_numbers() {
        assert!(is_key_safe("01a20b9a-f548-7498-a5f5-e66cd6bf2e38"));
        assert!(is_key_safe("legacy id é"), "legacy ids keep what they had");
        for bad in ["", "a#b", "tab\t", "nul\0", &"x".repeat(MAX_ID_BYTES + 1)] {
            assert!(!is_key_safe(bad), "{bad:?}");
        }
        assert!(is_storable_number(0.0) && is_storable_number(0.91) && is_storable_number(1e-100));
        assert!(!is_storable_number(1e-200) && !is_storable_number(f64::NAN) && !is_storable_number(f64::INFINITY));
    }

    #[test]
    fn only_https_links_are_kept() {
        assert!(is_https_url("https://storage.vapi.ai/recordings/a.wav"));
        for bad in ["http://storage.vapi.ai/a.wav", "javascript:alert(1)", "data:text/html,hi", "https://", "/relative", "ftp://x/y"] {
            assert!(!is_https_url(bad), "{bad}");
        }
        assert!(!is_https_url(&format!("https://a.example/{}", "x".repeat(MAX_URL_BYTES))));
    }
}
