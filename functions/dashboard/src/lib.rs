//! The dashboard page: HTML, script, styles and the charting library, built
//! into the binary (no web server, no build step), and the page's settings.
//!
//! The page reads everything through the `/api` routes with a bearer token.
//! Deployed, it signs in with the identity provider behind the JWT
//! authorizer (OpenID Connect, authorization code with PKCE) and keeps the
//! token in memory only: not in cookies or web storage, where a script of
//! another origin or a later visitor could find it. Locally it is handed the
//! demo tenant's token so that it works at once.

use callops_http::{ApiError, path_param, respond, route_key};
use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use serde::Serialize;

pub const ROUTES: &[&str] = &["GET /", "GET /docs", "GET /config.json", "GET /assets/{file}"];

/// The API's reference as a page.
const API_PAGE: &str = include_str!("../assets/api.html");

/// The page's files: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    // The script: native ES modules, `main.js` first, each importing the others by a relative path.
    ("main.js", "text/javascript; charset=utf-8", include_str!("../assets/main.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../assets/api.js")),
    ("signin.js", "text/javascript; charset=utf-8", include_str!("../assets/signin.js")),
    ("labels.js", "text/javascript; charset=utf-8", include_str!("../assets/labels.js")),
    ("format.js", "text/javascript; charset=utf-8", include_str!("../assets/format.js")),
    ("state.js", "text/javascript; charset=utf-8", include_str!("../assets/state.js")),
    ("panel.js", "text/javascript; charset=utf-8", include_str!("../assets/panel.js")),
    ("kpis.js", "text/javascript; charset=utf-8", include_str!("../assets/kpis.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_str!("../assets/charts.js")),
    ("agents.js", "text/javascript; charset=utf-8", include_str!("../assets/agents.js")),
    ("hourly.js", "text/javascript; charset=utf-8", include_str!("../assets/hourly.js")),
    ("quality.js", "text/javascript; charset=utf-8", include_str!("../assets/quality.js")),
    ("missed.js", "text/javascript; charset=utf-8", include_str!("../assets/missed.js")),
    ("calls.js", "text/javascript; charset=utf-8", include_str!("../assets/calls.js")),
    ("detail.js", "text/javascript; charset=utf-8", include_str!("../assets/detail.js")),
    ("dnc.js", "text/javascript; charset=utf-8", include_str!("../assets/dnc.js")),
    ("number.js", "text/javascript; charset=utf-8", include_str!("../assets/number.js")),
    ("campaigns.js", "text/javascript; charset=utf-8", include_str!("../assets/campaigns.js")),
    ("campaign_form.js", "text/javascript; charset=utf-8", include_str!("../assets/campaign_form.js")),
    ("setup.js", "text/javascript; charset=utf-8", include_str!("../assets/setup.js")),
    ("audit.js", "text/javascript; charset=utf-8", include_str!("../assets/audit.js")),
    ("schedule.js", "text/javascript; charset=utf-8", include_str!("../assets/schedule.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../assets/app.css")),
    // Chart.js 4 (MIT, assets/vendor/chart.js-LICENSE.md), as published on npm.
    ("chart.umd.min.js", "text/javascript; charset=utf-8", include_str!("../assets/vendor/chart.umd.min.js")),
];
const INDEX: &str = include_str!("../assets/index.html");

/// How the page gets its bearer token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "camelCase")]
pub enum SignIn {
    /// Sign in at an OpenID Connect provider (the JWT authorizer's issuer).
    #[serde(rename_all = "camelCase")]
    Oidc { issuer: String, client_id: String, scope: String },
    /// Use this token (the local host's demo tenant).
    Token { token: String },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageConfig<'a> {
    sign_in: &'a SignIn,
    /// How often the page refreshes its figures.
    refresh_seconds: u32,
    labels: Labels,
}

/// The API's closed values as a practice reads them, each list in the
/// API's own order, from the Rust enums themselves: the page cannot name a
/// value the API does not have, nor miss one it has.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Labels {
    outcomes: Vec<(&'static str, &'static str)>,
    call_types: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    bases: Vec<(&'static str, &'static str)>,
    /// Each outbound call type with the consent bases the law lets it rest
    /// on: a practice's policy may ask for fewer of them, never another.
    legal_bases: Vec<(&'static str, Vec<&'static str>)>,
    recording_asks: Vec<(String, &'static str)>,
}

impl Labels {
    fn of_the_api() -> Labels {
        use callops_domain::{
            CallOutcome, CallStatus, CallType,
            call::compliance::{Basis, RecordingAsk},
        };
        let code = |ask: RecordingAsk| serde_json::to_value(ask).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        Labels {
            outcomes: CallOutcome::ALL.iter().map(|v| (v.as_str(), v.label())).collect(),
            call_types: CallType::ALL.iter().map(|v| (v.as_str(), v.label())).collect(),
            statuses: CallStatus::ALL.iter().map(|v| (v.as_str(), v.label())).collect(),
            bases: Basis::ALL.iter().map(|v| (v.as_str(), v.label())).collect(),
            legal_bases: CallType::ALL
                .iter()
                .filter(|t| t.is_outbound())
                .map(|t| (t.as_str(), callops_domain::consent::legal_bases(*t).iter().map(|b| b.as_str()).collect()))
                .collect(),
            recording_asks: RecordingAsk::ALL.iter().map(|&v| (code(v), v.label())).collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    config: String,
    policy: String,
}

impl Dashboard {
    /// `refresh_seconds`: how often the open page reloads its figures.
    pub fn new(sign_in: SignIn, refresh_seconds: u32) -> Result<Self, String> {
        let provider = match &sign_in {
            SignIn::Oidc { issuer, .. } => Some(origin_of(issuer).ok_or_else(|| format!("the dashboard's OpenID issuer is not an https URL: {issuer}"))?),
            SignIn::Token { .. } => None,
        };
        let config = serde_json::to_string(&PageConfig { sign_in: &sign_in, refresh_seconds, labels: Labels::of_the_api() }).map_err(|e| e.to_string())?;
        // The page talks to this API and, to sign in, to the identity provider; nothing else. A call's
        // recording plays inline from its https address (media runs no script).
        let connect = provider.map(|origin| format!("'self' {origin}")).unwrap_or_else(|| "'self'".into());
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src https:; connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        Ok(Dashboard { config, policy })
    }

    pub fn handle(&self, req: Request) -> Response<Body> {
        respond(self.route(&req))
    }

    fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let route = route_key(req);
        match route.as_str() {
            "GET /" => Ok(self.file("text/html; charset=utf-8", INDEX, "no-cache")),
            // The API's reference, rendered from infra/openapi.yaml (infra/local/src/api_page.rs keeps it so).
            "GET /docs" => Ok(self.file("text/html; charset=utf-8", API_PAGE, "no-cache")),
            "GET /config.json" => Ok(self.file("application/json", &self.config, "no-store")),
            "GET /assets/{file}" => {
                let name = path_param(req, "file").unwrap_or_default();
                match ASSETS.iter().find(|(file, _, _)| *file == name) {
                    Some((_, content_type, body)) => Ok(self.file(content_type, body, "no-cache")),
                    None => Err(ApiError::NoRoute(format!("GET /assets/{name}"))),
                }
            }
            _ => Err(ApiError::NoRoute(route)),
        }
    }

    fn file(&self, content_type: &str, body: &str, cache: &str) -> Response<Body> {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CACHE_CONTROL, cache)
            .header(header::CONTENT_SECURITY_POLICY, &self.policy)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::REFERRER_POLICY, "no-referrer")
            .body(Body::Text(body.to_string()))
            .expect("status and headers are valid")
    }
}

/// The origin (`scheme://host[:port]`) of an https URL, or of an http one on
/// this machine (a local identity provider, the tests' fake one).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|host| !host.is_empty())?;
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let loopback = matches!(name, "localhost" | "127.0.0.1" | "[::1]");
    (scheme == "https" || (scheme == "http" && loopback)).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_page_reach_only_the_api_and_its_identity_provider() {
        let oidc = SignIn::Oidc { issuer: "https://idp.example.com/tenant/v2".into(), client_id: "abc".into(), scope: "openid".into() };
        let dashboard = Dashboard::new(oidc, 30).unwrap();
        assert!(dashboard.policy.contains("connect-src 'self' https://idp.example.com;"), "{}", dashboard.policy);
        assert!(dashboard.config.contains(r#""mode":"oidc""#) && !dashboard.config.contains("token"), "{}", dashboard.config);
        let plain = SignIn::Oidc { issuer: "http://idp.example.com".into(), client_id: "abc".into(), scope: "openid".into() };
        assert!(Dashboard::new(plain, 30).is_err(), "an issuer must be https");
        let local = SignIn::Oidc { issuer: "http://127.0.0.1:9000/realm".into(), client_id: "abc".into(), scope: "openid".into() };
        assert!(Dashboard::new(local, 30).unwrap().policy.contains("connect-src 'self' http://127.0.0.1:9000;"), "plain http on this machine only");
    }

    #[test]
    fn every_script_the_page_loads_or_a_module_imports_is_served() {
        let served = |name: &str| ASSETS.iter().any(|(file, _, _)| *file == name);
        let named_after = |text: &str, marker: &str| -> Vec<String> {
            text.split(marker).skip(1).filter_map(|rest| rest.split(['\'', '"']).next()).map(str::to_string).collect()
        };
        for script in named_after(INDEX, "src=\"assets/") {
            assert!(served(&script), "index.html loads {script}, which is not served");
        }
        for (file, content_type, body) in ASSETS {
            if !content_type.starts_with("text/javascript") || file.ends_with(".min.js") {
                continue;
            }
            assert!(body.starts_with("// "), "{file} starts with a comment saying what it does");
            assert!(body.lines().count() <= 400, "{file} stays small");
            for import in named_after(body, " from './") {
                assert!(served(&import), "{file} imports {import}, which is not served");
            }
        }
    }

    #[test]
    fn the_page_reads_every_closed_value_of_the_api_with_its_label() {
        let config: serde_json::Value = serde_json::from_str(&Dashboard::new(SignIn::Token { token: "t".into() }, 30).unwrap().config).unwrap();
        let labels = &config["labels"];
        let codes = |list: &str| labels[list].as_array().unwrap().iter().map(|pair| pair[0].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(codes("callTypes"), callops_domain::CallType::ALL.iter().map(|t| t.as_str().to_string()).collect::<Vec<_>>());
        assert_eq!(codes("outcomes").len(), callops_domain::CallOutcome::ALL.len());
        assert_eq!(codes("statuses").len(), callops_domain::CallStatus::ALL.len());
        assert_eq!(codes("recordingAsks"), ["record", "disclose", "off", "disclosed_inbound", "not_disclosed"]);
        assert_eq!(labels["callTypes"][1], serde_json::json!(["OUTBOUND_LEAD", "Lead follow-up"]));
        assert_eq!(labels["bases"][1], serde_json::json!(["prior_express_written", "prior express written"]));
        assert_eq!(labels["legalBases"][0], serde_json::json!(["OUTBOUND_LEAD", ["prior_express_written"]]), "a lead call rests on written consent only");
    }
}
