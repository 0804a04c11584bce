//! Opaque paging cursors. A cursor names the last item a page returned (its
//! index sort key) and the partition it was read from; the partition itself is
//! always rebuilt from the caller's tenant, so a forged cursor can at most move
//! within the caller's own data, and a malformed one is refused.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use callops_domain::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The index the page was read from.
    #[serde(rename = "i")]
    pub index: String,
    /// The partition value within the tenant (agent id, status, ...; empty for tenant-wide).
    #[serde(rename = "p")]
    pub partition: String,
    /// The last returned item's index sort key.
    #[serde(rename = "k")]
    pub sort_key: String,
}

fn invalid() -> DomainError {
    DomainError::invalid("invalid_cursor", "the cursor is not one this API returned")
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor serialises"))
    }

    /// A cursor over an index of calls: its sort key must be `<time>#<id>`.
    pub fn decode(text: &str) -> Result<Cursor, DomainError> {
        let cursor = Self::decode_raw(text)?;
        if crate::keys::split_index_sk(&cursor.sort_key).is_none() {
            return Err(invalid());
        }
        Ok(cursor)
    }

    /// Any cursor this API returned; the caller checks its sort key.
    pub fn decode_raw(text: &str) -> Result<Cursor, DomainError> {
        if text.len() > 1024 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor { index: "byOrg".into(), partition: String::new(), sort_key: "2024-02-07T09:30:00.000Z#abc".into() };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for forged in ["", "not-base64!", "eyJ4IjoxfQ", &URL_SAFE_NO_PAD.encode(br#"{"i":"byOrg","p":"","k":"nope"}"#)] {
            let err = Cursor::decode(forged).unwrap_err();
            assert!(matches!(err, DomainError::Invalid { code: "invalid_cursor", .. }), "{forged}");
        }
    }
}
