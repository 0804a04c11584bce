//! Who sent a server message: Vapi's server credential, checked against the
//! raw body before anything is parsed. Each tenant has its own credential,
//! and the one that authenticates a message decides its tenant.
//!
//! Two forms, as Vapi sends them:
//! - bearer: `Authorization: Bearer <secret>`, or the secret alone in a
//!   configured header (classically `X-Vapi-Secret`);
//! - HMAC: `x-signature` = encode(HMAC(secret, "<x-timestamp>.<raw body>")),
//!   with the header names, algorithm, prefix and encoding configurable, and
//!   timestamps older than five minutes refused.
//!
//! Every comparison is constant-time, and every credential is tried, so the
//! time taken says nothing about which one (if any) matched.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::http::HeaderMap;
use subtle::ConstantTimeEq;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
    Sha1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// How signed messages are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacForm {
    pub signature_header: String,
    pub timestamp_header: String,
    pub algorithm: Algorithm,
    /// Text before the signature, e.g. `sha256=`; empty for none.
    pub prefix: String,
    pub encoding: Encoding,
    pub max_age: Duration,
}

impl Default for HmacForm {
    fn default() -> Self {
        HmacForm {
            signature_header: "x-signature".into(),
            timestamp_header: "x-timestamp".into(),
            algorithm: Algorithm::Sha256,
            prefix: String::new(),
            encoding: Encoding::Hex,
            max_age: Duration::minutes(5),
        }
    }
}

/// One tenant's credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub secret: String,
    pub org_id: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("secret", &"***").field("org_id", &self.org_id).finish()
    }
}

/// The webhook's authentication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAuth {
    pub credentials: Vec<Credential>,
    /// The header that carries the secret alone (besides `Authorization: Bearer`).
    pub secret_header: String,
    pub hmac: HmacForm,
}

impl WebhookAuth {
    pub fn new(credentials: Vec<Credential>) -> Self {
        WebhookAuth { credentials, secret_header: "x-vapi-secret".into(), hmac: HmacForm::default() }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no Vapi credential on the request")]
    Missing,
    #[error("the Vapi credential does not match")]
    Mismatch,
    #[error("the signature's timestamp is missing, malformed or older than allowed")]
    Stale,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Finds the credential equal to `presented`, trying every one.
fn match_secret<'a>(credentials: &'a [Credential], presented: &[u8]) -> Option<&'a str> {
    let mut found = None;
    for credential in credentials {
        if bool::from(credential.secret.as_bytes().ct_eq(presented)) {
            found = Some(credential.org_id.as_str());
        }
    }
    found
}

fn signature(algorithm: Algorithm, secret: &[u8], signed: &[&[u8]]) -> Vec<u8> {
    macro_rules! mac {
        ($digest:ty) => {{
            let mut mac = <Hmac<$digest> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
            for part in signed {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match algorithm {
        Algorithm::Sha256 => mac!(sha2::Sha256),
        Algorithm::Sha512 => mac!(sha2::Sha512),
        Algorithm::Sha1 => mac!(sha1::Sha1),
    }
}

/// Reads a timestamp header: epoch seconds or milliseconds, or RFC 3339.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(number) = text.parse::<i64>() {
        return if number > 100_000_000_000 { DateTime::from_timestamp_millis(number) } else { DateTime::from_timestamp(number, 0) };
    }
    callops_domain::time::parse(text)
}

impl WebhookAuth {
    /// The tenant whose credential authenticates this message.
    pub fn authenticate(&self, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<String, AuthError> {
        if let Some(presented) = header(headers, &self.hmac.signature_header) {
            return self.authenticate_signed(headers, presented, body, now);
        }
        let bearer = header(headers, "authorization").and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        // Each secret presented is tried: a gateway may add its own Authorization header.
        let presented: Vec<&str> = bearer.into_iter().chain(header(headers, &self.secret_header)).collect();
        if presented.is_empty() {
            return Err(AuthError::Missing);
        }
        presented.iter().find_map(|secret| match_secret(&self.credentials, secret.as_bytes())).map(str::to_string).ok_or(AuthError::Mismatch)
    }

    fn authenticate_signed(&self, headers: &HeaderMap, presented: &str, body: &[u8], now: DateTime<Utc>) -> Result<String, AuthError> {
        let form = &self.hmac;
        let stamp = header(headers, &form.timestamp_header).ok_or(AuthError::Stale)?;
        let sent = parse_timestamp(stamp).ok_or(AuthError::Stale)?;
        // Refuse replays of old messages, and clocks far ahead of ours.
        if now - sent > form.max_age || sent - now > form.max_age {
            return Err(AuthError::Stale);
        }
        let encoded = presented.strip_prefix(form.prefix.as_str()).ok_or(AuthError::Mismatch)?;
        let presented = match form.encoding {
            Encoding::Hex => hex::decode(encoded.to_ascii_lowercase()).map_err(|_| AuthError::Mismatch)?,
            Encoding::Base64 => STANDARD.decode(encoded).map_err(|_| AuthError::Mismatch)?,
        };
        let mut found = None;
        for credential in &self.credentials {
            let expected = signature(form.algorithm, credential.secret.as_bytes(), &[stamp.as_bytes(), b".", body]);
            if bool::from(expected.ct_eq(&presented)) {
                found = Some(credential.org_id.clone());
            }
        }
        found.ok_or(AuthError::Mismatch)
    }
}

/// Signs a body as Vapi does (for the simulator and the tests).
pub fn sign(form: &HmacForm, secret: &str, timestamp: &str, body: &[u8]) -> String {
    let raw = signature(form.algorithm, secret.as_bytes(), &[timestamp.as_bytes(), b".", body]);
    let encoded = match form.encoding {
        Encoding::Hex => hex::encode(raw),
        Encoding::Base64 => STANDARD.encode(raw),
    };
    format!("{}{encoded}", form.prefix)
}

/// Reads `SECRET:ORG` (the last `:` separates them, so secrets may hold colons).
pub fn parse_credential(text: &str) -> Result<Credential, String> {
    let (secret, org) = text.trim().rsplit_once(':').ok_or("expected SECRET:ORG")?;
    if secret.is_empty() || !callops_http::valid_org_id(org) {
        return Err("expected SECRET:ORG with a non-empty secret and an org of letters, digits, - and _".into());
    }
    Ok(Credential { secret: secret.to_string(), org_id: org.to_string() })
}

/// The environment variable with the tenants' credentials: `SECRET:ORG`
/// entries separated by commas (in AWS, resolved from Secrets Manager).
pub const CREDENTIALS_VAR: &str = "CALLOPS_VAPI_CREDENTIALS";

impl WebhookAuth {
    /// Reads the credentials and, optionally, the signed form's settings:
    /// `CALLOPS_VAPI_SECRET_HEADER`, `CALLOPS_VAPI_SIGNATURE_HEADER`,
    /// `CALLOPS_VAPI_TIMESTAMP_HEADER`, `CALLOPS_VAPI_SIGNATURE_ALGORITHM`
    /// (sha256, sha512, sha1), `CALLOPS_VAPI_SIGNATURE_PREFIX`,
    /// `CALLOPS_VAPI_SIGNATURE_ENCODING` (hex, base64).
    pub fn from_env() -> Result<WebhookAuth, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let credentials = callops_http::config::required(CREDENTIALS_VAR)?
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(parse_credential)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("configuration: {CREDENTIALS_VAR}: {e}"))?;
        let mut auth = WebhookAuth::new(credentials);
        if let Some(header) = var("CALLOPS_VAPI_SECRET_HEADER") {
            auth.secret_header = header.to_ascii_lowercase();
        }
        if let Some(header) = var("CALLOPS_VAPI_SIGNATURE_HEADER") {
            auth.hmac.signature_header = header.to_ascii_lowercase();
        }
        if let Some(header) = var("CALLOPS_VAPI_TIMESTAMP_HEADER") {
            auth.hmac.timestamp_header = header.to_ascii_lowercase();
        }
        if let Some(algorithm) = var("CALLOPS_VAPI_SIGNATURE_ALGORITHM") {
            auth.hmac.algorithm = match algorithm.to_ascii_lowercase().as_str() {
                "sha256" => Algorithm::Sha256,
                "sha512" => Algorithm::Sha512,
                "sha1" => Algorithm::Sha1,
                other => return Err(format!("configuration: unknown signature algorithm {other:?}")),
            };
        }
        if let Some(prefix) = var("CALLOPS_VAPI_SIGNATURE_PREFIX") {
            auth.hmac.prefix = prefix;
        }
        if let Some(encoding) = var("CALLOPS_VAPI_SIGNATURE_ENCODING") {
            auth.hmac.encoding = match encoding.to_ascii_lowercase().as_str() {
                "hex" => Encoding::Hex,
                "base64" => Encoding::Base64,
                other => return Err(format!("configuration: unknown signature encoding {other:?}")),
            };
        }
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn auth() -> WebhookAuth {
        WebhookAuth::new(vec![
            Credential { secret: "dev-secret".into(), org_id: "demo".into() },
            Credential { secret: "globex-secret".into(), org_id: "globex".into() },
        ])
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_bearer_forms_name_the_tenant() {
        let now = Utc::now();
        let body = br#"{"message":{"type":"status-update"}}"#;
        assert_eq!(auth().authenticate(&headers(&[("x-vapi-secret", "dev-secret".into())]), body, now), Ok("demo".into()));
        assert_eq!(auth().authenticate(&headers(&[("authorization", "Bearer globex-secret".into())]), body, now), Ok("globex".into()));
        assert_eq!(auth().authenticate(&headers(&[("x-vapi-secret", "dev-secre".into())]), body, now), Err(AuthError::Mismatch));
        assert_eq!(auth().authenticate(&headers(&[("authorization", "Basic dev-secret".into())]), body, now), Err(AuthError::Missing));
        assert_eq!(auth().authenticate(&HeaderMap::new(), body, now), Err(AuthError::Missing));
        // Both presented: either may be the credential.
        let both = |bearer: &str, secret: &str| headers(&[("authorization", format!("Bearer {bearer}")), ("x-vapi-secret", secret.to_string())]);
        assert_eq!(auth().authenticate(&both("a-gateway-token", "dev-secret"), body, now), Ok("demo".into()));
        assert_eq!(auth().authenticate(&both("globex-secret", "wrong"), body, now), Ok("globex".into()));
        assert_eq!(auth().authenticate(&both("wrong", "also-wrong"), body, now), Err(AuthError::Mismatch));
        let mut custom = auth();
        custom.secret_header = "x-callops-secret".into();
        assert_eq!(custom.authenticate(&headers(&[("x-callops-secret", "dev-secret".into())]), body, now), Ok("demo".into()));
    }

    #[test]
    fn signed_messages_are_checked_over_timestamp_and_raw_body() {
        let now = Utc::now();
        let body = br#"{"message":{"type":"end-of-call-report"}}"#;
        let stamp = now.timestamp_millis().to_string();
        let form = HmacForm::default();
        let good = sign(&form, "globex-secret", &stamp, body);
        let signed = |sig: &str, stamp: &str| headers(&[("x-signature", sig.to_string()), ("x-timestamp", stamp.to_string())]);
        assert_eq!(auth().authenticate(&signed(&good, &stamp), body, now), Ok("globex".into()));
        // Another body, another timestamp, or another secret: refused.
        assert_eq!(auth().authenticate(&signed(&good, &stamp), b"{}", now), Err(AuthError::Mismatch));
        let other_stamp = (now.timestamp_millis() - 1).to_string();
        assert_eq!(auth().authenticate(&signed(&good, &other_stamp), body, now), Err(AuthError::Mismatch));
        let forged = sign(&form, "guess", &stamp, body);
        assert_eq!(auth().authenticate(&signed(&forged, &stamp), body, now), Err(AuthError::Mismatch));
        // Older than five minutes: a replay.
        let old = (now - Duration::minutes(6)).timestamp_millis().to_string();
        let replay = sign(&form, "globex-secret", &old, body);
        assert_eq!(auth().authenticate(&signed(&replay, &old), body, now), Err(AuthError::Stale));
        assert_eq!(auth().authenticate(&headers(&[("x-signature", good.clone())]), body, now), Err(AuthError::Stale));
    }

    #[test]
    fn credentials_are_read_as_secret_colon_org() {
        assert_eq!(parse_credential("a:b:c:demo"), Ok(Credential { secret: "a:b:c".into(), org_id: "demo".into() }));
        assert!(parse_credential("no-org").is_err());
        assert!(parse_credential(":demo").is_err());
        assert!(parse_credential("secret:bad#org").is_err());
        assert!(!format!("{:?}", parse_credential("hunter2:demo").unwrap()).contains("hunter2"), "secrets never reach logs");
    }

    #[test]
    fn the_signed_form_is_configurable() {
        let now = Utc::now();
        let body = b"{}";
        let mut configured = auth();
        configured.hmac = HmacForm {
            signature_header: "x-vapi-signature".into(),
            timestamp_header: "x-vapi-timestamp".into(),
            algorithm: Algorithm::Sha512,
            prefix: "sha512=".into(),
            encoding: Encoding::Base64,
            max_age: Duration::minutes(5),
        };
        let stamp = now.timestamp().to_string();
        let sig = sign(&configured.hmac, "dev-secret", &stamp, body);
        assert!(sig.starts_with("sha512="));
        let sent = headers(&[("x-vapi-signature", sig), ("x-vapi-timestamp", stamp)]);
        assert_eq!(configured.authenticate(&sent, body, now), Ok("demo".into()));
        let sha1 = HmacForm { algorithm: Algorithm::Sha1, ..HmacForm::default() };
        assert_eq!(sign(&sha1, "k", "1", b"x").len(), 40);
    }
}
