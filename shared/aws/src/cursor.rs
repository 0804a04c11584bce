//! Opaque paging cursors. A cursor names the last item a page returned (its
//! index sort key), the partition it was read from, the query it belongs to
//! (a digest of the index, the filters, the order and the request's own
//! parameters) and the window its first page was read in. The partition
//! itself is always rebuilt from the caller's tenant, so a forged cursor can
//! at most move within the caller's own data; one used with another query
//! or window, or malformed, is refused.
//!
//! The window travels with the cursor because a request's window may end at
//! "now": the next page continues the window the first page had, so paging
//! stays consistent while time moves, and DynamoDB never gets a start key
//! outside the key condition (it refuses one with a ValidationException).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use callops_domain::{DomainError, time};
use chrono::{DateTime, Utc};
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
    /// The digest of the query the cursor continues.
    #[serde(rename = "q", default)]
    pub query: String,
    /// The window of the first page, `from` inclusive, `to` exclusive.
    #[serde(rename = "f", default, with = "time::ms::option", skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(rename = "t", default, with = "time::ms::option", skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

pub(crate) fn invalid() -> DomainError {
    DomainError::invalid("invalid_cursor", "the cursor is not one this API returned for this query")
}

/// The most text a cursor may be.
const MAX_CURSOR_BYTES: usize = 1024;

impl Cursor {
    pub fn encode(&self) -> String {
        // A struct of strings always serialises.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A cursor over an index of calls: its sort key must be `<time>#<id>`,
    /// inside the window it carries.
    pub fn decode(text: &str) -> Result<Cursor, DomainError> {
        let cursor = Self::decode_raw(text)?;
        let (at, _) = crate::keys::split_index_sk(&cursor.sort_key).ok_or_else(invalid)?;
        let at = time::parse(at).ok_or_else(invalid)?;
        let inside = cursor.from.is_none_or(|from| at >= from) && cursor.to.is_none_or(|to| at < to);
        if !inside || cursor.sort_key.len() > 1024 {
            return Err(invalid());
        }
        Ok(cursor)
    }

    /// Any cursor this API returned; the caller checks its sort key.
    pub fn decode_raw(text: &str) -> Result<Cursor, DomainError> {
        if text.len() > MAX_CURSOR_BYTES {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

/// The digest of a query's description, as a cursor carries it.
pub fn query_digest(parts: &[&str]) -> String {
    callops_domain::call::derived_id(parts).chars().filter(|c| *c != '-').take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            index: "byOrg".into(),
            partition: String::new(),
            sort_key: "2024-02-07T09:30:00.000Z#abc".into(),
            query: query_digest(&["byOrg", ""]),
            from: time::parse("2024-02-01T00:00:00Z"),
            to: time::parse("2024-02-08T00:00:00Z"),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        let outside = Cursor { to: time::parse("2024-02-07T09:30:00Z"), ..cursor.clone() };
        for forged in ["", "not-base64!", "eyJ4IjoxfQ", &URL_SAFE_NO_PAD.encode(br#"{"i":"byOrg","p":"","k":"nope"}"#), &outside.encode()] {
            let err = Cursor::decode(forged).unwrap_err();
            assert!(matches!(err, DomainError::Invalid { code: "invalid_cursor", .. }), "{forged}");
        }
    }
}
