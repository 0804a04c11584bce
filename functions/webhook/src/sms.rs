//! Texts to a practice's Twilio number: `POST /webhooks/twilio/{orgId}/sms`.
//!
//! Order of work: size check, the tenant's Auth Token, the signature over
//! the URL Twilio requested and every form parameter
//! ([`crate::twilio_signature`]), then the message
//! ([`callops_service::texts`]), then the TwiML answer. A request that is
//! not Twilio's, signed with the tenant's token, is `403` and changes nothing.
//!
//! The URL is rebuilt as Twilio called it: the deployment's public base URL
//! when it has one (`CALLOPS_PUBLIC_BASE_URL`, for a custom domain), else
//! the scheme API Gateway saw (`X-Forwarded-Proto`) and the `Host` header,
//! then the path and query string as they came.

use std::collections::HashMap;

use callops_aws::secrets::SecretResolver;
use callops_http::{ApiError, path_param};
use callops_service::texts::InboundText;
use lambda_http::{Body, Request, Response, http::StatusCode};

use crate::twilio_signature;

/// The route, as API Gateway names it.
pub const ROUTE: &str = "POST /webhooks/twilio/{orgId}/sms";
/// Twilio's message webhook is small (a body of up to 1,600 characters and a few dozen parameters).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The variable naming the deployment's public base URL, when it is not the `Host` Twilio called.
pub const PUBLIC_BASE_URL_VAR: &str = "CALLOPS_PUBLIC_BASE_URL";

/// Where a tenant's Twilio Auth Token comes from.
pub enum TwilioTokens {
    /// Given to the process (the local host: `--twilio-auth-token TOKEN:ORG`).
    Fixed(HashMap<String, String>),
    /// Secrets Manager, by the tenant's name for it: `callops/<orgId>/twilio-auth-token`.
    SecretsManager(SecretResolver),
}

impl TwilioTokens {
    /// The Secrets Manager name of a tenant's token.
    pub fn secret_name(org_id: &str) -> String {
        format!("callops/{org_id}/twilio-auth-token")
    }

    async fn token(&self, org_id: &str) -> Option<String> {
        match self {
            TwilioTokens::Fixed(tokens) => tokens.get(org_id).cloned(),
            TwilioTokens::SecretsManager(resolver) => match resolver.named(&Self::secret_name(org_id)).await {
                Ok(token) => Some(token),
                Err(err) => {
                    tracing::warn!(org_id, error = %err, "no Twilio auth token for the tenant");
                    None
                }
            },
        }
    }
}

/// Reads `TOKEN:ORG` (the local host's flag).
pub fn parse_token(text: &str) -> Result<(String, String), String> {
    match text.rsplit_once(':') {
        Some((token, org)) if !token.is_empty() && callops_http::valid_org_id(org) => Ok((org.to_string(), token.to_string())),
        _ => Err("expected TOKEN:ORG (a Twilio auth token, then the tenant's id)".into()),
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// The URL Twilio requested ([`self`](crate::sms)).
fn requested_url(req: &Request, public_base: Option<&str>) -> Option<String> {
    let path = req.uri().path();
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    if let Some(base) = public_base {
        return Some(format!("{}{path}{query}", base.trim_end_matches('/')));
    }
    let scheme = header(req, "x-forwarded-proto").and_then(|p| p.split(',').next()).map(str::trim).unwrap_or("https");
    let host = header(req, "host")?;
    Some(format!("{scheme}://{host}{path}{query}"))
}

/// TwiML: the reply as one message, or nothing.
pub fn twiml(reply: Option<&str>) -> String {
    match reply {
        Some(text) => {
            let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;");
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escaped}</Message></Response>"#)
        }
        None => r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.to_string(),
    }
}

fn forbidden() -> ApiError {
    ApiError::Forbidden("the request is not signed by Twilio with this practice's auth token".into())
}

/// The message, once it is known to be Twilio's for `org_id`.
pub async fn authenticate(req: &Request, tokens: &TwilioTokens, public_base: Option<&str>) -> Result<(String, InboundText), ApiError> {
    let raw: &[u8] = req.body().as_ref();
    if raw.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let org_id = path_param(req, "orgId").filter(|org| callops_http::valid_org_id(org)).ok_or_else(forbidden)?;
    let given = header(req, "x-twilio-signature").ok_or_else(forbidden)?;
    let token = tokens.token(&org_id).await.ok_or_else(forbidden)?;
    let url = requested_url(req, public_base).ok_or_else(forbidden)?;
    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
    if !twilio_signature::verify(&token, &url, &params, given) {
        tracing::warn!(org_id, url, "refused a text webhook whose signature does not match");
        return Err(forbidden());
    }
    let field = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let text = InboundText {
        message_sid: field("MessageSid").or_else(|| field("SmsSid")).unwrap_or_default(),
        from: field("From").unwrap_or_default(),
        body: field("Body").unwrap_or_default(),
        opt_out_type: field("OptOutType"),
    };
    Ok((org_id, text))
}

/// The TwiML response Twilio reads.
pub fn answer(reply: Option<&str>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/xml")
        .body(Body::Text(twiml(reply)))
        .expect("a static status and header make a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_escaped_and_no_reply_is_an_empty_response() {
        assert_eq!(twiml(None), r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#);
        assert!(twiml(Some("Smith & Jones <Dental>")).contains("<Message>Smith &amp; Jones &lt;Dental&gt;</Message>"));
    }

    #[test]
    fn the_local_flag_names_token_then_tenant() {
        assert_eq!(parse_token("abc:def:demo").unwrap(), ("demo".to_string(), "abc:def".to_string()));
        assert!(parse_token("token-only").is_err());
        assert!(parse_token(":demo").is_err());
    }
}
