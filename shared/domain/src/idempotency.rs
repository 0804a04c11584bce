//! Idempotency, in one place: the `Idempotency-Key` a client sends, the
//! fingerprint that tells a retry from another request reusing its key,
//! and the ids CallOps derives from what it already knows, so that a
//! retried request or a redelivered message finds what the first one made
//! instead of making it twice. The store keeps a fingerprint beside what a
//! keyed request created (`AlongWithCall::IdempotencyKey`, a campaign's
//! `fingerprint`).

use crate::{error::DomainError, ids::CallId};

/// The namespace of the ids CallOps derives from what it already knows.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5b0e_4c8a_9d1f_4e7a_b3c2_6f1d_0a9e_7c41);

/// The longest key accepted.
pub const MAX_KEY_BYTES: usize = 255;

/// A client's `Idempotency-Key`: 1 to 255 characters of visible ASCII, sent
/// once, with no comma (API Gateway joins a header sent twice with commas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key from the header's values as they came. A key that is there
    /// but not valid is refused, never dropped: dropped, the request would
    /// run as if it had none, and a retry would make a second call.
    pub fn from_header_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Option<IdempotencyKey>, DomainError> {
        let mut values = values.into_iter();
        let Some(value) = values.next() else { return Ok(None) };
        let refuse = || {
            DomainError::invalid(
                "invalid_idempotency_key",
                format!("Idempotency-Key must be sent once, as 1 to {MAX_KEY_BYTES} characters of visible ASCII other than ','"),
            )
        };
        if values.next().is_some() {
            return Err(refuse());
        }
        let key = value.trim_ascii();
        if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.iter().all(|b| b.is_ascii_graphic() && *b != b',') {
            return Err(refuse());
        }
        Ok(Some(IdempotencyKey(String::from_utf8_lossy(key).into_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An id derived from its parts (UUIDv5): the same parts give the same id.
pub fn derived_id(parts: &[&str]) -> String {
    uuid::Uuid::new_v5(&ID_NAMESPACE, parts.join("\n").as_bytes()).to_string()
}

/// A short fingerprint of a request, to tell a retry from another request
/// that reuses its Idempotency-Key.
pub fn fingerprint<T: serde::Serialize>(request: &T) -> String {
    // A parsed request (strings, numbers, string maps) always serialises.
    let body = serde_json::to_vec(request).unwrap_or_default();
    derived_id(&[&String::from_utf8_lossy(&body)]).replace('-', "")
}

/// The call a keyed scheduling request makes.
pub fn scheduled_call_id(org_id: &str, key: &IdempotencyKey) -> CallId {
    derived_id(&["call", org_id, key.as_str()]).into()
}

/// The campaign a keyed campaign request makes.
pub fn campaign_id(org_id: &str, key: &IdempotencyKey) -> String {
    derived_id(&["campaign", org_id, key.as_str()])
}

/// A campaign's call for the contact at `index` (0-based) of its request.
pub fn campaign_call_id(org_id: &str, campaign_id: &str, index: usize) -> CallId {
    derived_id(&["campaign-call", org_id, campaign_id, &index.to_string()]).into()
}

/// The retry `attempt` of an ended call.
pub fn retry_call_id(org_id: &str, ended_call_id: &str, attempt: u32) -> CallId {
    derived_id(&["retry", org_id, ended_call_id, &attempt.to_string()]).into()
}

/// The follow-up call agreed for `number` on `date`: one a number and day,
/// however many calls agree it.
pub fn follow_up_call_id(org_id: &str, number: &str, date: chrono::NaiveDate) -> CallId {
    derived_id(&["follow-up", org_id, number, &date.to_string()]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_one_value_of_visible_ascii() {
        let key = |values: &[&[u8]]| IdempotencyKey::from_header_values(values.iter().copied());
        assert_eq!(key(&[]).unwrap(), None);
        assert_eq!(key(&[b" abc-123 "]).unwrap().unwrap().as_str(), "abc-123");
        for bad in [&[&b""[..]][..], &[b"a,b"], &[b"caf\xc3\xa9"], &[b"a", b"b"], &[&[b'k'; 256][..]]] {
            assert!(matches!(key(bad), Err(DomainError::Invalid { code: "invalid_idempotency_key", .. })), "{bad:?}");
        }
    }

    #[test]
    fn derived_ids_are_stable_and_apart() {
        let key = IdempotencyKey("k".into());
        assert_eq!(scheduled_call_id("o", &key), scheduled_call_id("o", &key));
        assert_ne!(scheduled_call_id("o", &key), scheduled_call_id("p", &key), "per tenant");
        assert_ne!(scheduled_call_id("o", &key).as_str(), campaign_id("o", &key), "per kind");
        assert_ne!(retry_call_id("o", "c", 2), retry_call_id("o", "c", 3));
        assert_eq!(fingerprint(&serde_json::json!({"a": 1})), fingerprint(&serde_json::json!({"a": 1})));
        assert_ne!(fingerprint(&serde_json::json!({"a": 1})), fingerprint(&serde_json::json!({"a": 2})));
    }
}
