//! What every HTTP Lambda of CallOps shares: who is calling (from the API
//! Gateway JWT authorizer's claims), reading the request, and the one place
//! where errors become HTTP responses.

use callops_domain::DomainError;
use lambda_http::{
    Body, Request, RequestExt, Response,
    http::{
        HeaderValue, StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE},
    },
    request::RequestContext,
};
use serde::Serialize;
use thiserror::Error;

pub mod config;
pub mod window;

/// The claim naming the caller's tenant.
pub const ORG_CLAIM: &str = "org_id";
/// The optional claim narrowing the caller to some voice agents.
pub const AGENTS_CLAIM: &str = "agent_ids";
/// The claim naming the caller's role (`viewer`, `staff`, `admin`).
pub const ROLE_CLAIM: &str = "role";
/// Where a deployment maps its identity provider's groups to roles:
/// `group=role,group=role` (the highest role of the caller's groups wins).
pub const ROLE_GROUPS_VAR: &str = "CALLOPS_ROLE_GROUPS";
/// The claim carrying the caller's groups (`cognito:groups` unless set).
pub const GROUPS_CLAIM_VAR: &str = "CALLOPS_GROUPS_CLAIM";
pub const DEFAULT_GROUPS_CLAIM: &str = "cognito:groups";

/// How a deployment reads roles from its identity provider's groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRoles {
    pub claim: String,
    pub groups: Vec<(String, Role)>,
}

impl GroupRoles {
    /// The mapping in the environment ([`ROLE_GROUPS_VAR`], [`GROUPS_CLAIM_VAR`]); none when unset.
    pub fn from_env() -> Result<GroupRoles, String> {
        let claim = std::env::var(GROUPS_CLAIM_VAR).ok().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.into());
        match std::env::var(ROLE_GROUPS_VAR) {
            Ok(text) if !text.trim().is_empty() => GroupRoles::parse(claim.trim(), &text),
            _ => Ok(GroupRoles { claim, groups: Vec::new() }),
        }
    }

    /// Reads `group=role,group=role`.
    pub fn parse(claim: &str, text: &str) -> Result<GroupRoles, String> {
        let mut groups = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (group, role) = pair.split_once('=').ok_or_else(|| format!("configuration: {ROLE_GROUPS_VAR} takes group=role pairs, not {pair:?}"))?;
            let role = Role::parse(role).ok_or_else(|| format!("configuration: {role:?} in {ROLE_GROUPS_VAR} is not viewer, staff or admin"))?;
            groups.push((group.trim().to_string(), role));
        }
        Ok(GroupRoles { claim: claim.to_string(), groups })
    }

    /// The deployment's mapping, read once.
    pub fn configured() -> &'static GroupRoles {
        static ROLES: std::sync::OnceLock<GroupRoles> = std::sync::OnceLock::new();
        ROLES.get_or_init(|| {
            GroupRoles::from_env().unwrap_or_else(|err| {
                // A mapping that does not read maps nothing: every caller without a role claim is staff.
                tracing::error!(error = %err, "the role mapping is ignored");
                GroupRoles::default()
            })
        })
    }
}

/// The caller's role: the `role` claim, else the highest role its groups
/// map to, else `staff` (the contract's default). A `role` claim that names
/// no role is refused.
pub fn role_of(claims: &std::collections::HashMap<String, String>, mapping: &GroupRoles) -> Result<Role, ApiError> {
    if let Some(text) = claims.get(ROLE_CLAIM).map(|r| r.trim()).filter(|r| !r.is_empty()) {
        return Role::parse(text).ok_or_else(|| ApiError::Forbidden("the token's role is not viewer, staff or admin".into()));
    }
    if !mapping.groups.is_empty()
        && let Some(raw) = claims.get(&mapping.claim)
    {
        let groups = parse_list_claim(raw);
        if let Some(role) = mapping.groups.iter().filter(|(group, _)| groups.contains(group)).map(|(_, role)| *role).max() {
            return Ok(role);
        }
    }
    Ok(Role::Staff)
}

/// Refuses a caller whose role is below `needed`.
pub fn require(caller: &Caller, needed: Role) -> Result<(), ApiError> {
    if caller.role < needed {
        return Err(ApiError::Forbidden(format!("this needs the {} role; the caller is {}", needed.as_str(), caller.role.as_str())));
    }
    Ok(())
}

/// Everything that can stop a request, mapped to a status in [`error_response`].
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("a caller identity is required")]
    Unauthorized,
    /// No identity, with what to do about it where the host knows (the local host's tokens).
    #[error("{0}")]
    SignInFirst(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} is not available yet")]
    NotImplemented(String),
    #[error("no route for {0}")]
    NoRoute(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<lambda_http::Error> for ApiError {
    fn from(err: lambda_http::Error) -> Self {
        ApiError::Domain(DomainError::Unavailable(err.to_string()))
    }
}

pub use callops_domain::caller::{Caller, Origin, Role};

pub use callops_domain::ids::valid_org_id;

/// Reads the caller from the JWT authorizer's claims, where API Gateway (and
/// the local host) put them. No claims, or no valid `org_id`: `Unauthorized`.
pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let context = req.request_context_ref().ok_or(ApiError::Unauthorized)?;
    let (claims, http) = match context {
        RequestContext::ApiGatewayV2(ctx) => {
            (ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims).ok_or(ApiError::Unauthorized)?, &ctx.http)
        }
        _ => return Err(ApiError::Unauthorized),
    };
    let org_id = claims.get(ORG_CLAIM).map(|s| s.trim()).filter(|s| valid_org_id(s)).ok_or(ApiError::Unauthorized)?;
    let agent_ids = claims.get(AGENTS_CLAIM).map(|raw| agents_claim(raw)).transpose()?.filter(|ids| !ids.is_empty());
    let actor = callops_domain::caller::Actor::from_claims(claims.get("sub").map(String::as_str), claims.get("name").map(String::as_str));
    let role = role_of(claims, GroupRoles::configured())?;
    let origin = Origin::new(http.source_ip.as_deref(), http.user_agent.as_deref());
    Ok(Caller { org_id: org_id.into(), agent_ids, actor, role, origin })
}

/// The most agents an `agent_ids` claim may name (the store's filter takes
/// no more: see `callops_aws::store::MAX_FILTER_AGENTS`).
pub const MAX_CLAIM_AGENTS: usize = 500;

/// The agents an `agent_ids` claim narrows its caller to, each once, in
/// order. `Forbidden` for more than [`MAX_CLAIM_AGENTS`], or for an id no
/// agent can have (which could name something else in a key, such as the
/// tenant-wide rollups).
pub fn agents_claim(raw: &str) -> Result<Vec<String>, ApiError> {
    let mut ids = parse_list_claim(raw);
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_CLAIM_AGENTS {
        return Err(ApiError::Forbidden(format!("a token may narrow its caller to at most {MAX_CLAIM_AGENTS} agents")));
    }
    match ids.iter().find(|id| !callops_domain::ids::valid_agent_id(id) && id.as_str() != callops_domain::ids::UNASSIGNED_AGENT) {
        Some(id) => Err(ApiError::Forbidden(format!("the token's agent_ids names {id:?}, which no agent can be"))),
        None => Ok(ids),
    }
}

/// API Gateway flattens an array claim to `[a b c]`; identity providers may
/// also send a JSON array or a comma-separated string. All three are read.
pub fn parse_list_claim(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if let Ok(values) = serde_json::from_str::<Vec<String>>(raw) {
        return values;
    }
    raw.trim_start_matches('[').trim_end_matches(']').split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The route API Gateway matched, e.g. `GET /api/calls/{id}`.
pub fn route_key(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone().unwrap_or_default(),
        _ => format!("{} {}", req.method(), req.uri().path()),
    }
}

/// A path parameter of the matched route.
pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_string)
}

/// An id from the path that can name something stored (it fits in a key:
/// [`callops_domain::limits::is_key_safe`]); any other is `404`, as nothing
/// by that id can exist.
pub fn id_param(req: &Request, name: &str, what: &'static str) -> Result<String, DomainError> {
    path_param(req, name).filter(|id| callops_domain::limits::is_key_safe(id)).ok_or(DomainError::NotFound { what })
}

/// What a list request asks for, but its paging: every query parameter but
/// `cursor`, `limit` and `offset`, sorted. A cursor continues only the
/// request that made it (see `callops_aws::cursor`).
pub fn paging_binding(req: &Request) -> String {
    let mut pairs: Vec<String> = req
        .query_string_parameters_ref()
        .map(|query| {
            query.iter().filter(|(name, _)| !matches!(*name, "cursor" | "limit" | "offset")).map(|(name, value)| format!("{name}={}", value.trim())).collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs.join("&")
}

/// A query-string parameter; empty values count as absent.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Parses an optional integer parameter within `range`, or a 400 naming it.
pub fn integer_param(req: &Request, name: &str, code: &'static str, range: std::ops::RangeInclusive<usize>) -> Result<Option<usize>, DomainError> {
    let Some(text) = query_param(req, name) else { return Ok(None) };
    match text.parse::<usize>() {
        Ok(value) if range.contains(&value) => Ok(Some(value)),
        _ => Err(DomainError::invalid(code, format!("{name} must be a whole number from {} to {}", range.start(), range.end()))),
    }
}

/// A request header as text; absent, empty or not text counts as absent.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// The request body as JSON of type `T`, or `400 invalid_body` saying what is wrong.
pub fn json_body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, DomainError> {
    let bytes: &[u8] = req.body().as_ref();
    serde_json::from_slice(bytes).map_err(|err| DomainError::invalid("invalid_body", format!("the body is not what this route takes: {err}")))
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut response = Response::new(Body::Text(text));
            *response.status_mut() = status;
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            no_store(response)
        }
        Err(err) => error_response(&ApiError::Domain(DomainError::Unavailable(format!("response does not serialise: {err}")))),
    }
}

/// Marks a response as one no cache may keep: every API answer carries
/// patients' data or the state of their calls.
pub fn no_store(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    /// For `outside_calling_hours`: when the agent may call next.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_allowed_at: Option<String>,
    /// What an explained refusal adds (`acceptedBases`, `consents` for `no_consent`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// The one mapping from errors to responses: `{"error": {"code", "message"}}`.
/// A 5xx says nothing of its cause; the cause goes to the log.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let (status, code, message) = match err {
        ApiError::Unauthorized | ApiError::SignInFirst(_) => (StatusCode::UNAUTHORIZED, "unauthorized", err.to_string()),
        ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", err.to_string()),
        ApiError::NotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, "not_implemented", err.to_string()),
        ApiError::NoRoute(_) => (StatusCode::NOT_FOUND, "no_route", err.to_string()),
        ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", err.to_string()),
        ApiError::Domain(DomainError::Invalid { code, message }) => (StatusCode::BAD_REQUEST, *code, message.clone()),
        ApiError::Domain(DomainError::NotFound { .. }) => (StatusCode::NOT_FOUND, "not_found", err.to_string()),
        ApiError::Domain(DomainError::Conflict { kind, message }) => (StatusCode::CONFLICT, kind.code(), message.clone()),
        ApiError::Domain(DomainError::NotAllowedYet { code, .. }) => (StatusCode::BAD_REQUEST, *code, err.to_string()),
        ApiError::Domain(DomainError::Explained { code, message, .. }) => (StatusCode::BAD_REQUEST, *code, message.clone()),
        ApiError::Domain(DomainError::ConflictExplained { kind, message, .. }) => (StatusCode::CONFLICT, kind.code(), message.clone()),
        ApiError::Domain(DomainError::Unavailable(detail)) => {
            tracing::error!(error = %detail, "request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "something went wrong on our side; try again".to_string())
        }
    };
    let next_allowed_at = match err {
        ApiError::Domain(DomainError::NotAllowedYet { next_allowed_at, .. }) => Some(callops_domain::time::format(next_allowed_at)),
        _ => None,
    };
    let details = match err {
        ApiError::Domain(DomainError::Explained { details, .. } | DomainError::ConflictExplained { details, .. }) => Some(details),
        _ => None,
    };
    let body = ErrorBody { error: ErrorDetail { code, message, next_allowed_at, details } };
    // A struct of strings always serialises.
    let mut response = Response::new(Body::Text(serde_json::to_string(&body).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    no_store(response)
}

/// Turns a handler's result into the response, errors included; no answer
/// may be cached.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    no_store(result.unwrap_or_else(|err| error_response(&err)))
}

/// Logs as JSON lines (what CloudWatch wants), filtered by `RUST_LOG`.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_claims_are_read_in_every_form() {
        assert_eq!(parse_list_claim("[a1 a2]"), vec!["a1", "a2"]);
        assert_eq!(parse_list_claim(r#"["a1","a2"]"#), vec!["a1", "a2"]);
        assert_eq!(parse_list_claim("a1, a2"), vec!["a1", "a2"]);
        assert!(parse_list_claim("[]").is_empty());
        assert_eq!(agents_claim("[b a b unassigned]").unwrap(), vec!["a", "b", "unassigned"], "each once");
        for forged in ["[a *]", r#"["a#b"]"#, &format!("[{}]", "x".repeat(65))] {
            assert!(matches!(agents_claim(forged), Err(ApiError::Forbidden(_))), "{forged}");
        }
        let many: Vec<String> = (0..=MAX_CLAIM_AGENTS).map(|i| format!("a{i}")).collect();
        assert!(matches!(agents_claim(&format!("[{}]", many.join(" "))), Err(ApiError::Forbidden(_))));
    }

    #[test]
    fn roles_come_from_the_role_claim_or_the_groups_and_default_to_staff() {
        let claims = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::HashMap<_, _>>();
        let mapping = GroupRoles::parse("cognito:groups", "front-desk=staff, owners=admin,billing=viewer").unwrap();
        assert_eq!(role_of(&claims(&[]), &mapping).unwrap(), Role::Staff);
        assert_eq!(role_of(&claims(&[("role", "Viewer")]), &mapping).unwrap(), Role::Viewer);
        assert_eq!(role_of(&claims(&[("role", "admin"), ("cognito:groups", "[billing]")]), &mapping).unwrap(), Role::Admin, "the role claim wins");
        assert_eq!(role_of(&claims(&[("cognito:groups", "[billing owners]")]), &mapping).unwrap(), Role::Admin, "the highest group wins");
        assert_eq!(role_of(&claims(&[("cognito:groups", "[billing]")]), &mapping).unwrap(), Role::Viewer);
        assert_eq!(role_of(&claims(&[("cognito:groups", "[strangers]")]), &mapping).unwrap(), Role::Staff);
        assert!(matches!(role_of(&claims(&[("role", "root")]), &mapping), Err(ApiError::Forbidden(_))));
        assert!(GroupRoles::parse("g", "owners=god").is_err() && GroupRoles::parse("g", "owners").is_err());
        let origin = Origin::new(Some("203.0.113.9"), Some("Mozilla/5.0\u{7}"));
        assert_eq!(origin.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(origin.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(Origin::new(Some("not an address"), Some(&"x".repeat(1000))).source_ip, None);
        assert_eq!(Origin::new(None, Some(&"x".repeat(1000))).user_agent.unwrap().len(), Origin::MAX_USER_AGENT);
    }

    #[test]
    fn tenant_ids_cannot_smuggle_key_separators() {
        assert!(valid_org_id("demo"));
        assert!(valid_org_id("acme-dental_2"));
        assert!(!valid_org_id(""));
        assert!(!valid_org_id("demo#CALL#x"));
        assert!(!valid_org_id("a b"));
    }

    #[test]
    fn errors_map_to_stable_codes_and_5xx_hide_their_cause() {
        let response = error_response(&ApiError::Domain(DomainError::Unavailable("secret table name".into())));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let Body::Text(text) = response.body() else { panic!("text body") };
        assert!(!text.contains("secret"));
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["error"]["code"], "internal_error");

        let response = error_response(&ApiError::Domain(DomainError::invalid("invalid_limit", "limit must be 1..100")));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let Body::Text(text) = response.body() else { panic!("text body") };
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["error"]["code"], "invalid_limit");
        assert_eq!(error_response(&ApiError::Unauthorized).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_response(&ApiError::Unauthorized).headers()[CACHE_CONTROL], "no-store");
        assert_eq!(json(StatusCode::OK, &serde_json::json!({})).headers()[CACHE_CONTROL], "no-store");
        assert_eq!(error_response(&ApiError::Domain(DomainError::NotFound { what: "call" })).status(), StatusCode::NOT_FOUND);
    }
}
