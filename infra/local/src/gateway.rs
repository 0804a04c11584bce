//! What API Gateway does in front of the Lambdas, done locally: match the
//! route, check the bearer token the way the JWT authorizer would, and turn
//! the HTTP request into the payload-2.0 event API Gateway sends, which
//! lambda_http then reads exactly as it does in AWS.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// Which Lambda serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Analytics,
    Outbound,
    Webhook,
    Dashboard,
}

impl Function {
    /// The SAM logical id of the function, as in infra/template.yaml.
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::Analytics => "AnalyticsFunction",
            Function::Outbound => "OutboundFunction",
            Function::Webhook => "WebhookFunction",
            Function::Dashboard => "DashboardFunction",
        }
    }
}

/// One API route: `METHOD /path/{param}`, the function behind it, and whether
/// the JWT authorizer guards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub key: &'static str,
    pub function: Function,
    pub authorized: bool,
}

impl Route {
    fn method(&self) -> &str {
        self.key.split_once(' ').map(|(m, _)| m).unwrap_or_default()
    }

    fn path(&self) -> &str {
        self.key.split_once(' ').map(|(_, p)| p).unwrap_or_default()
    }

    /// The path parameters when `path` matches this route's template.
    fn matches(&self, path: &str) -> Option<HashMap<String, String>> {
        let template: Vec<&str> = self.path().trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        if template.len() != actual.len() {
            return None;
        }
        let mut params = HashMap::new();
        for (want, got) in template.iter().zip(&actual) {
            if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                if got.is_empty() {
                    return None;
                }
                params.insert(name.to_string(), percent_encoding::percent_decode_str(got).decode_utf8_lossy().into_owned());
            } else if want != got {
                return None;
            }
        }
        Some(params)
    }
}

/// Every route of every function, as the SAM template declares them.
pub fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    let groups: [(&[&'static str], Function, bool); 4] = [
        (callops_analytics::ROUTES, Function::Analytics, true),
        (callops_outbound::ROUTES, Function::Outbound, true),
        (callops_webhook::ROUTES, Function::Webhook, false),
        (callops_dashboard::ROUTES, Function::Dashboard, false),
    ];
    for (keys, function, authorized) in groups {
        routes.extend(keys.iter().map(|key| Route { key, function, authorized }));
    }
    routes
}

/// Finds the route for a method and path, with its path parameters. As in
/// API Gateway, the most specific route wins: `GET /api/calls/export` over
/// `GET /api/calls/{id}` (the fewest path parameters).
pub fn find_route<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<(&'a Route, HashMap<String, String>)> {
    routes
        .iter()
        .filter(|route| route.method() == method)
        .filter_map(|route| route.matches(path).map(|params| (route, params)))
        .min_by_key(|(_, params)| params.len())
}

/// The parts of an incoming request the gateway needs.
pub struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a lambda_http::http::HeaderMap,
    pub body: &'a [u8],
    pub source_ip: String,
}

/// Builds the API Gateway HTTP API (payload 2.0) event for a request, with
/// the authorizer's claims where API Gateway puts them.
pub fn event(incoming: &Incoming<'_>, route: &Route, params: &HashMap<String, String>, claims: Option<&Value>) -> Value {
    let mut headers = serde_json::Map::new();
    for name in incoming.headers.keys() {
        // Every value reaches the function, as API Gateway passes it on:
        // one that is not visible ASCII is for the function to refuse.
        let joined = incoming.headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect::<Vec<_>>().join(",");
        headers.insert(name.as_str().to_string(), Value::String(joined));
    }
    // API Gateway says which scheme the client used; the local host is plain HTTP.
    headers.insert("x-forwarded-proto".into(), Value::String("http".into()));
    let (body, is_base64) = match std::str::from_utf8(incoming.body) {
        _ if incoming.body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (Value::String(STANDARD.encode(incoming.body)), true),
    };
    let now = Utc::now();
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": headers.get("host").cloned().unwrap_or(Value::String("localhost".into())),
        "domainPrefix": "local",
        "http": {
            "method": incoming.method,
            "path": incoming.path,
            "protocol": "HTTP/1.1",
            "sourceIp": incoming.source_ip,
            "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route.key,
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    json!({
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": incoming.path,
        "rawQueryString": incoming.query,
        "headers": headers,
        "pathParameters": params,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// Reads the event the way the Lambda runtime does.
pub fn lambda_request(event: &Value) -> Result<Request, serde_json::Error> {
    lambda_http::request::from_str(&event.to_string())
}

/// The response body's bytes and the parts to send back.
/// Lambda's limit on what a function answers (6 MB), its JSON envelope included.
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// What `response` weighs as the JSON a Lambda answers API Gateway with: its
/// body as a JSON string (text escaped, binary in base64), its headers and
/// the envelope around them.
pub fn lambda_weight(response: &Response<Body>) -> usize {
    let body = match response.body() {
        Body::Text(text) => callops_domain::records::export::json_escaped_len(text),
        Body::Binary(bytes) => bytes.len().div_ceil(3) * 4,
        _ => 0,
    };
    let headers: usize = response.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 6).sum();
    body + headers + 100
}

pub fn into_parts(response: Response<Body>) -> (lambda_http::http::response::Parts, Vec<u8>) {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    (parts, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_parameters_and_nothing_else() {
        let routes = routes();
        let (route, params) = find_route(&routes, "GET", "/api/calls/abc%20d").unwrap();
        assert_eq!(route.key, "GET /api/calls/{id}");
        assert_eq!(params["id"], "abc d");
        let (export, none) = find_route(&routes, "GET", "/api/calls/export").unwrap();
        assert_eq!((export.key, none.len()), ("GET /api/calls/export", 0), "the static route is the more specific");
        assert_eq!(find_route(&routes, "POST", "/api/outbound/schedule").unwrap().0.function, Function::Outbound);
        assert_eq!(find_route(&routes, "GET", "/api/outbound/scheduled").unwrap().0.key, "GET /api/outbound/scheduled");
        assert!(find_route(&routes, "GET", "/api/calls/").is_none());
        assert!(find_route(&routes, "PUT", "/api/calls/x").is_none());
        assert!(!find_route(&routes, "POST", "/webhooks/vapi").unwrap().0.authorized);
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use serde_yaml_ng::Value;
    use std::collections::BTreeSet;

    /// The routes the SAM template gives each function, read from its HttpApi events.
    fn template_routes() -> BTreeSet<(String, String, bool)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        let template: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut routes = BTreeSet::new();
        for (id, resource) in template["Resources"].as_mapping().unwrap() {
            let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
            for event in events.values().filter(|e| e["Type"].as_str() == Some("HttpApi")) {
                let props = &event["Properties"];
                let key = format!("{} {}", props["Method"].as_str().unwrap(), props["Path"].as_str().unwrap());
                let authorized = props["Auth"]["Authorizer"].as_str() != Some("NONE");
                routes.insert((id.as_str().unwrap().to_string(), key, authorized));
            }
        }
        routes
    }

    #[test]
    fn the_openapi_document_has_exactly_the_routes_the_host_serves_and_their_auth() {
        let document = crate::openapi();
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                // A public route says so with its own `security`; the rest take the bearer token.
                let public = operation.get("security").is_some_and(|s| s.as_array().unwrap().iter().all(|r| r.get("bearer").is_none()));
                documented.insert((format!("{} {path}", method.to_uppercase()), !public));
            }
        }
        let served: BTreeSet<_> = routes().into_iter().map(|r| (r.key.to_string(), r.authorized)).collect();
        assert_eq!(documented, served);
        assert_eq!(document["openapi"], "3.1.0");
    }

    #[test]
    fn the_template_keeps_patient_data_as_a_practice_must() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        let template: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let resources = template["Resources"].as_mapping().unwrap();
        let table = &template["Resources"]["CallOpsTable"]["Properties"];
        // The table: encrypted, with the practice's own key when one is given, and a time to live for the audit log.
        assert_eq!(table["SSESpecification"]["SSEEnabled"], Value::Bool(true));
        let key = serde_yaml_ng::to_string(&table["SSESpecification"]["KMSMasterKeyId"]).unwrap();
        assert!(key.contains("HasTableKmsKey") && key.contains("TableKmsKeyArn"), "the table takes the practice's key when given: {key}");
        assert_eq!(template["Parameters"]["TableKmsKeyArn"]["Default"].as_str(), Some(""));
        assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(callops_aws::table::TTL_ATTRIBUTE));
        assert_eq!(table["TimeToLiveSpecification"]["Enabled"], Value::Bool(true));
        assert_eq!(template["Parameters"]["AuditRetentionDays"]["MinValue"].as_u64(), Some(u64::from(callops_domain::records::audit::MIN_RETENTION_DAYS)));
        // Every function logs to a group of its own that expires.
        let groups: BTreeSet<String> = resources
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Logs::LogGroup"))
            .inspect(|(id, r)| assert!(!r["Properties"]["RetentionInDays"].is_null(), "{id:?} keeps its logs for ever"))
            .map(|(id, _)| id.as_str().unwrap().to_string())
            .collect();
        let functions: Vec<_> = resources.iter().filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function")).collect();
        assert_eq!(functions.len(), 5);
        for (id, function) in functions {
            let group = &function["Properties"]["LoggingConfig"]["LogGroup"];
            let named = serde_yaml_ng::to_string(group).unwrap();
            assert!(groups.iter().any(|g| named.contains(g.as_str())), "{id:?} logs to {named}, not a group with a retention");
            // A function that writes the table may not change or delete an audit entry.
            let policies = serde_yaml_ng::to_string(&function["Properties"]["Policies"]).unwrap();
            if policies.contains("DynamoDBCrudPolicy") {
                assert!(policies.contains("Deny") && policies.contains("ORG#*#AUDIT"), "{id:?}: {policies}");
            }
        }
    }

    #[test]
    fn the_host_serves_exactly_the_templates_routes() {
        let ours: BTreeSet<_> = routes().into_iter().map(|r| (r.function.logical_id().to_string(), r.key.to_string(), r.authorized)).collect();
        assert_eq!(ours, template_routes());
    }
}
