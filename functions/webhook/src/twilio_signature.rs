//! Twilio's request signature, `X-Twilio-Signature`, as Twilio documents it
//! and its helper libraries check it (`../shared/twilio.md`): the full URL
//! Twilio requested, then every POST parameter sorted by name (each distinct
//! value of a repeated name, sorted), each as name then value with nothing
//! between; HMAC-SHA1 of that with the account's Auth Token, in base64.
//! Compared in constant time. Like the libraries, the URL is also tried
//! without its default port, or with it (`:443`, `:80`), since a proxy or
//! API Gateway may report either.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

/// The string Twilio signs for a form `POST` to `url` with `params`.
pub fn signed_string(url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut text = String::from(url);
    for (name, value) in pairs {
        text.push_str(name);
        text.push_str(value);
    }
    text
}

/// The signature Twilio sends for that request, signed with `auth_token`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(signed_string(url, params).as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `url` as given, without its scheme's default port, and with it.
fn url_forms(url: &str) -> Vec<String> {
    let mut forms = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else { return forms };
    let default = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return forms,
    };
    let (authority, path) = rest.find(['/', '?']).map_or((rest, ""), |at| rest.split_at(at));
    match authority.rsplit_once(':') {
        Some((host, port)) if port == default => forms.push(format!("{scheme}://{host}{path}")),
        Some(_) => {}
        None => forms.push(format!("{scheme}://{authority}:{default}{path}")),
    }
    forms
}

/// Whether `given` is Twilio's signature of this request under `auth_token`.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    let given = given.trim().as_bytes();
    url_forms(url).iter().any(|form| bool::from(signature(auth_token, form, params).as_bytes().ct_eq(given)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Twilio's published vectors (token `12345`; twilio-python `tests/unit/test_request_validator.py`,
    /// twilio-node `spec/validation.spec.js`), as `../shared/twilio.md` lists them.
    #[test]
    fn twilios_published_examples_verify_and_anything_else_does_not() {
        let token = "12345";
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let call =
            params(&[("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"), ("From", "+14158675309"), ("To", "+18005551212")]);
        assert_eq!(
            signed_string(url, &call),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
        );
        assert_eq!(signature(token, url, &call), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        for (url, expected) in [
            ("https://mycompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
            ("https://mycompany.com:443/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="),
            ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
            ("http://mycompany.com:80/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),
        ] {
            assert_eq!(signature(token, url, &call), expected, "{url}");
            assert!(verify(token, url, &call, expected), "{url}");
        }
        // Signed with the default port, received without it (and the other way round): both libraries accept it.
        assert!(verify(token, "https://mycompany.com/myapp.php?foo=1&bar=2", &call, "kvajT1Ptam85bY51eRf/AJRuM3w="));
        assert!(verify(token, "https://mycompany.com:443/myapp.php?foo=1&bar=2", &call, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        // A repeated name: each distinct value, sorted.
        let repeated = params(&[("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]);
        assert_eq!(signature(token, url, &repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        // Another token, another parameter value, another URL, or nothing at all: refused.
        assert!(!verify("54321", url, &call, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        let mut changed = call.clone();
        changed[2].1 = "9".into();
        assert!(!verify(token, url, &changed, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!verify(token, "https://mycompany.com/other.php?foo=1&bar=2", &call, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!verify(token, url, &call, ""));
    }
}
