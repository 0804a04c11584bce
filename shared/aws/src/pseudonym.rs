//! Pseudonyms for phone numbers: what the audit log (and anything else
//! that must point at a patient without naming them) keeps instead of a
//! number. A pseudonym is the number's HMAC-SHA256 under a key of the
//! deployment's and the tenant's id, so the same number of the same tenant
//! always gets the same pseudonym (an admin can still find a number's
//! entries by the number), and nothing leads from a pseudonym back to the
//! number without the key. The key comes from `CALLOPS_PSEUDONYM_KEY` (64
//! hex digits: the template generates it in Secrets Manager); without it, a
//! key drawn once per process (the tests), or kept in a data dir's
//! `pseudonym.key` (the local host).

use std::sync::OnceLock;

use hmac::{KeyInit, Mac};

/// The environment variable holding the deployment's key (64 hex digits).
pub const PSEUDONYM_KEY_VAR: &str = "CALLOPS_PSEUDONYM_KEY";
/// A pseudonym's prefix: it says what it stands for.
pub const PREFIX: &str = "n-";

/// The key pseudonyms are made with.
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    /// A key from 64 hex digits.
    pub fn from_hex(text: &str) -> Option<PseudonymKey> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(PseudonymKey(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A new random key.
    pub fn random() -> PseudonymKey {
        PseudonymKey(rand::random())
    }

    /// The deployment's key (`CALLOPS_PSEUDONYM_KEY`), else one drawn once for this process.
    pub fn of_process() -> PseudonymKey {
        static KEY: OnceLock<PseudonymKey> = OnceLock::new();
        KEY.get_or_init(|| std::env::var(PSEUDONYM_KEY_VAR).ok().and_then(|text| PseudonymKey::from_hex(&text)).unwrap_or_else(PseudonymKey::random)).clone()
    }

    /// The pseudonym of `number` in `org_id`'s records.
    pub fn of(&self, org_id: &str, number: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(org_id.as_bytes());
        mac.update(&[0]);
        mac.update(number.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{PREFIX}{}", &hex::encode(digest)[..32])
    }
}

/// Refuses to start a deployed function without the deployment's key: a
/// key of its own would make pseudonyms no other process can match (an
/// erased number's do-not-call listing among them).
pub fn require_env_key() -> Result<(), String> {
    match std::env::var(PSEUDONYM_KEY_VAR) {
        Ok(text) if PseudonymKey::from_hex(&text).is_some() => Ok(()),
        Ok(_) => Err(format!("configuration: {PSEUDONYM_KEY_VAR} must be 64 hex digits")),
        Err(_) => Err(format!("configuration: {PSEUDONYM_KEY_VAR} is not set")),
    }
}

/// Whether `text` is a number as CallOps keeps one (`+` and digits), which the log never keeps.
pub fn is_number(text: &str) -> bool {
    callops_domain::phone::is_list_key(text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_stable_per_tenant_and_keyed() {
        let key = PseudonymKey::from_hex(&"ab".repeat(32)).unwrap();
        let one = key.of("o", "+12125550142");
        assert_eq!(one, key.of("o", "+12125550142"));
        assert!(one.starts_with(PREFIX) && one.len() == 34 && !one.contains("2125550142"));
        assert_ne!(one, key.of("other", "+12125550142"), "another tenant's pseudonym differs");
        assert_ne!(one, PseudonymKey::from_hex(&"cd".repeat(32)).unwrap().of("o", "+12125550142"), "another key's differs");
        assert_eq!(PseudonymKey::from_hex(&key.to_hex()), Some(key));
        assert!(PseudonymKey::from_hex("abc").is_none());
        assert!(is_number("+12125550142") && !is_number("erased-1f") && !is_number("n-00"));
    }
}
