//! The analytics function: the dashboard's read side. Call statistics and the
//! outcome distribution over a window, recent calls, and single calls.

use callops_aws::{CallQuery, DynamoStore, PageRequest};
use callops_domain::{CallLog, DomainError};
use callops_http::{ApiError, Caller, caller, json, path_param, query_param, respond, route_key};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::Serialize;

/// The routes this function serves, as API Gateway names them.
pub const ROUTES: &[&str] = &[
    "GET /api/analytics/calls",
    "GET /api/analytics/calls/outcomes",
    "GET /api/analytics/calls/recent",
    "GET /api/analytics/costs",
    "GET /api/calls/{id}",
];

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// `offset` reads and skips that many calls; past this, use the cursor.
pub const MAX_OFFSET: usize = 10_000;

#[derive(Clone)]
pub struct Analytics {
    store: DynamoStore,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecentCalls {
    calls: Vec<CallLog>,
    next_cursor: Option<String>,
}

/// Parses an optional integer parameter within `range`, or a 400 naming it.
fn integer_param(req: &Request, name: &str, code: &'static str, range: std::ops::RangeInclusive<usize>) -> Result<Option<usize>, DomainError> {
    let Some(text) = query_param(req, name) else { return Ok(None) };
    match text.parse::<usize>() {
        Ok(value) if range.contains(&value) => Ok(Some(value)),
        _ => Err(DomainError::invalid(
            code,
            format!("{name} must be a whole number from {} to {}", range.start(), range.end()),
        )),
    }
}

impl Analytics {
    pub fn new(store: DynamoStore) -> Self {
        Analytics { store }
    }

    /// Handles one API Gateway request; every error is already a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(self.route(req).await)
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let caller = caller(&req)?;
        let route = route_key(&req);
        match route.as_str() {
            "GET /api/analytics/calls/recent" => self.recent_calls(&caller, &req).await,
            "GET /api/calls/{id}" => self.get_call(&caller, &req).await,
            known if ROUTES.contains(&known) => Err(ApiError::NotImplemented(route)),
            _ => Err(ApiError::NoRoute(route)),
        }
    }

    /// The agent filter: `agentId` when given (it must be the caller's own),
    /// else the agents the caller is narrowed to, if any.
    async fn agent_scope(&self, caller: &Caller, req: &Request) -> Result<Option<String>, DomainError> {
        let Some(agent_id) = query_param(req, "agentId") else { return Ok(None) };
        if !caller.may_see_agent(&agent_id) || self.store.get_agent(&caller.org_id, &agent_id).await?.is_none() {
            return Err(DomainError::NotFound { what: "voice agent" });
        }
        Ok(Some(agent_id))
    }

    async fn recent_calls(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let offset = integer_param(req, "offset", "invalid_offset", 0..=MAX_OFFSET)?.unwrap_or(0);
        let cursor = query_param(req, "cursor");
        if cursor.is_some() && offset > 0 {
            return Err(DomainError::invalid("invalid_paging", "use either cursor or offset, not both").into());
        }
        let query = match self.agent_scope(caller, req).await? {
            Some(agent_id) => CallQuery::ByAgent(agent_id),
            None => CallQuery::ByOrg,
        };
        let only_agents = match query {
            CallQuery::ByOrg => caller.agent_ids.as_deref(),
            _ => None,
        };
        let page = self
            .store
            .query_calls(
                &caller.org_id,
                &PageRequest {
                    newest_first: true,
                    cursor: cursor.as_deref(),
                    only_agents,
                    ..PageRequest::new(&query, offset + limit)
                },
            )
            .await?;
        let calls = page.items.into_iter().skip(offset).collect();
        Ok(json(StatusCode::OK, &RecentCalls { calls, next_cursor: page.next_cursor }))
    }

    async fn get_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let id = path_param(req, "id").unwrap_or_default();
        let call = self
            .store
            .get_call(&caller.org_id, &id)
            .await?
            .map(|stored| stored.call)
            .filter(|call| caller.may_see_agent(&call.voice_agent_id))
            .ok_or(DomainError::NotFound { what: "call" })?;
        Ok(json(StatusCode::OK, &call))
    }
}
