//! The analytics function: the dashboard's read side. Call statistics and the
//! outcome distribution over a window, recent calls, and single calls.

use callops_aws::store::{AgentStore, AuditStore, CallQueryStore, CallStore};
use callops_aws::{CallQuery, DynamoStore, PageRequest};
use callops_domain::ids::valid_agent_id;
use callops_domain::records::audit;
use callops_domain::{
    CallLog, DomainError,
    analytics::{self, CallStats, ComponentCost, LatencyFigures, OutcomeShare, Ratings, SentimentShare, SuccessFigures, Tally, TypeCost, UsageTotals},
    phone,
    time::{self, Span},
};
use callops_http::{
    ApiError, Caller, Role, caller, id_param, integer_param, json, paging_binding, query_param, require, respond, route_key,
    window::{Zoned, parse_window},
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::Serialize;

/// The routes this function serves, as API Gateway names them.
pub const ROUTES: &[&str] = &[
    "GET /api/analytics/calls",
    "GET /api/analytics/calls/outcomes",
    "GET /api/analytics/calls/daily",
    "GET /api/analytics/calls/recent",
    "GET /api/analytics/costs",
    "GET /api/analytics/quality",
    "GET /api/analytics/agents",
    "GET /api/analytics/calls/hourly",
    "GET /api/analytics/missed",
    "GET /api/calls/{id}",
    "GET /api/calls/export",
    "GET /api/audit",
    "GET /api/audit/verify",
    "GET /api/patients/{phoneNumber}",
    "GET /api/patients/{phoneNumber}/export",
    "DELETE /api/patients/{phoneNumber}",
];

/// The least role each route needs: analytics and calls' facts are for
/// every role, a patient's records and the audit log for admins.
pub fn required_role(route: &str) -> Role {
    match route {
        "GET /api/analytics/calls"
        | "GET /api/analytics/calls/outcomes"
        | "GET /api/analytics/calls/daily"
        | "GET /api/analytics/calls/recent"
        | "GET /api/analytics/costs"
        | "GET /api/analytics/quality"
        | "GET /api/analytics/agents"
        | "GET /api/analytics/calls/hourly"
        | "GET /api/analytics/missed"
        | "GET /api/calls/export"
        | "GET /api/calls/{id}" => Role::Viewer,
        _ => Role::Admin,
    }
}

mod export;
mod figures;
pub mod records;
mod views;

use figures::{Kind, Scope};

/// How many local days of a window are read at once (each is a few reads).
const DAYS_AT_ONCE: usize = 4;

/// `content=false` leaves the calls' content out of the answer (and out of the audit log).
fn with_content(req: &Request) -> Result<bool, DomainError> {
    match query_param(req, "content").as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(DomainError::invalid("invalid_content", "content is true or false")),
    }
}

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// `offset` reads and skips that many calls; past this, use the cursor.
pub const MAX_OFFSET: usize = 10_000;

#[derive(Clone)]
pub struct Analytics {
    store: DynamoStore,
    /// The table's point-in-time recovery window, which the erase answer states.
    backup_days: u32,
}

/// The window and agent a figure is for, echoed in every response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Echo {
    #[serde(with = "time::ms")]
    start_date: DateTime<Utc>,
    #[serde(with = "time::ms")]
    end_date: DateTime<Utc>,
    agent_id: Option<String>,
    call_type: Option<callops_domain::CallType>,
    direction: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatsResponse {
    #[serde(flatten)]
    echo: Echo,
    #[serde(flatten)]
    stats: CallStats,
    /// The same figures for the window of equal length just before.
    previous: PreviousStats,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PreviousStats {
    #[serde(with = "time::ms")]
    start_date: DateTime<Utc>,
    #[serde(with = "time::ms")]
    end_date: DateTime<Utc>,
    #[serde(flatten)]
    stats: CallStats,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutcomesResponse {
    #[serde(flatten)]
    echo: Echo,
    total_calls: i64,
    outcomes: Vec<OutcomeShare>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DayCost {
    /// The local date in the window's `tz`.
    date: String,
    calls: i64,
    total_cents: i64,
    avg_per_call_cents: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CostsResponse {
    #[serde(flatten)]
    echo: Echo,
    tz: String,
    total_cents: i64,
    avg_per_call_cents: Option<f64>,
    by_day: Vec<DayCost>,
    by_call_type: Vec<TypeCost>,
    /// Each part of the cost, over the calls whose report broke it down.
    by_component: Vec<ComponentCost>,
    usage: UsageTotals,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QualityResponse {
    #[serde(flatten)]
    echo: Echo,
    total_calls: i64,
    success_evaluation: SuccessFigures,
    latency: LatencyFigures,
    sentiment: Vec<SentimentShare>,
    #[serde(flatten)]
    ratings: Ratings,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DayCalls {
    /// The local date in the window's `tz`.
    date: String,
    total_calls: i64,
    outcomes: Vec<OutcomeShare>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DailyResponse {
    #[serde(flatten)]
    echo: Echo,
    tz: String,
    days: Vec<DayCalls>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecentCalls {
    calls: Vec<CallLog>,
    next_cursor: Option<String>,
}

impl Analytics {
    /// The analytics over `store`, whose backups keep
    /// [`callops_service::records::backup_recovery_days`] days.
    pub fn new(store: DynamoStore) -> Self {
        Analytics { store, backup_days: callops_service::records::backup_recovery_days() }
    }

    /// The analytics over a store whose point-in-time backups keep `days` days (0: none).
    pub fn with_backup_days(mut self, days: u32) -> Self {
        self.backup_days = days.min(callops_service::records::MAX_BACKUP_RECOVERY_DAYS);
        self
    }

    /// Handles one API Gateway request; every error is already a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(self.route(req).await)
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let caller = caller(&req)?;
        let route = route_key(&req);
        require(&caller, required_role(&route))?;
        match route.as_str() {
            "GET /api/analytics/calls" => self.call_stats(&caller, &req).await,
            "GET /api/analytics/calls/outcomes" => self.outcomes(&caller, &req).await,
            "GET /api/analytics/calls/daily" => self.daily(&caller, &req).await,
            "GET /api/analytics/costs" => self.costs(&caller, &req).await,
            "GET /api/analytics/quality" => self.quality(&caller, &req).await,
            "GET /api/analytics/agents" => self.agents(&caller, &req).await,
            "GET /api/analytics/calls/hourly" => self.hourly(&caller, &req).await,
            "GET /api/analytics/missed" => self.missed(&caller, &req).await,
            "GET /api/calls/export" => self.export(&caller, &req).await,
            "GET /api/analytics/calls/recent" => self.recent_calls(&caller, &req).await,
            "GET /api/calls/{id}" => self.get_call(&caller, &req).await,
            "GET /api/audit" => self.audit_log(&caller, &req).await,
            "GET /api/audit/verify" => self.verify_audit(&caller).await,
            "GET /api/patients/{phoneNumber}" => self.patient(&caller, &req).await,
            "GET /api/patients/{phoneNumber}/export" => self.patient_export(&caller, &req).await,
            "DELETE /api/patients/{phoneNumber}" => self.erase_patient(&caller, &req).await,
            known if ROUTES.contains(&known) => Err(ApiError::NotImplemented(route)),
            _ => Err(ApiError::NoRoute(route)),
        }
    }

    /// The agent filter: `agentId` when given (it must be the caller's own),
    /// else the agents the caller is narrowed to, if any.
    async fn agent_scope(&self, caller: &Caller, req: &Request) -> Result<Option<String>, DomainError> {
        let Some(agent_id) = query_param(req, "agentId") else { return Ok(None) };
        // An id that cannot be an agent's names none: 404 before any read.
        if !valid_agent_id(&agent_id) || !caller.may_see_agent(&agent_id) || self.store.get_agent(&caller.org_id, &agent_id).await?.is_none() {
            return Err(DomainError::NotFound { what: "voice agent" });
        }
        Ok(Some(agent_id))
    }

    /// Reads `startDate`, `endDate`, `tz`, `agentId`, `callType` and `direction`.
    async fn window_and_scope(&self, caller: &Caller, req: &Request) -> Result<(Zoned, Scope, Kind, Echo), DomainError> {
        let window =
            parse_window(query_param(req, "startDate").as_deref(), query_param(req, "endDate").as_deref(), query_param(req, "tz").as_deref(), Utc::now())?;
        let kind = Kind::from_request(req)?;
        let agent_id = self.agent_scope(caller, req).await?;
        let scope = match (&agent_id, &caller.agent_ids) {
            (Some(agent), _) => Scope::Agent(agent.clone()),
            (None, Some(agents)) => Scope::Agents(agents.clone()),
            (None, None) => Scope::All,
        };
        let direction = kind.direction.map(|d| match d {
            figures::Direction::Inbound => "inbound",
            figures::Direction::Outbound => "outbound",
        });
        let echo = Echo { start_date: window.span.start, end_date: window.span.end, agent_id, call_type: kind.call_type, direction };
        Ok((window, scope, kind, echo))
    }

    /// The counters of every call of `scope` and `kind` that started in `[start, end)`.
    async fn tally(&self, org_id: &str, scope: &Scope, kind: Kind, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Tally, DomainError> {
        figures::tally(&self.store, org_id, scope, kind, Span::new(start, end)).await
    }

    async fn call_stats(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        let (start, end) = (window.span.start - (window.span.end - window.span.start), window.span.start);
        let (tally, before) = futures::try_join!(
            self.tally(&caller.org_id, &scope, kind, window.span.start, window.span.end),
            self.tally(&caller.org_id, &scope, kind, start, end)
        )?;
        let previous = PreviousStats { start_date: start, end_date: end, stats: CallStats::from_tally(&before) };
        Ok(json(StatusCode::OK, &StatsResponse { echo, stats: CallStats::from_tally(&tally), previous }))
    }

    async fn outcomes(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        let tally = self.tally(&caller.org_id, &scope, kind, window.span.start, window.span.end).await?;
        let body = OutcomesResponse { echo, total_calls: tally.get(analytics::CALLS), outcomes: analytics::outcome_distribution(&tally) };
        Ok(json(StatusCode::OK, &body))
    }

    /// The tally of each local day (in the window's `tz`) the window touches,
    /// cut to the window at its two ends.
    async fn by_local_day(&self, org_id: &str, scope: &Scope, kind: Kind, window: &Zoned) -> Result<Vec<(chrono::NaiveDate, Tally)>, DomainError> {
        let mut days = Vec::new();
        let mut day = window.span.start.with_timezone(&window.tz).date_naive();
        let midnight = chrono::NaiveTime::MIN;
        loop {
            let day_start = time::local_to_utc(window.tz, day.and_time(midnight));
            if day_start >= window.span.end {
                break;
            }
            // The window is inside the supported range, far from the end of chrono's dates.
            let Some(next) = day.succ_opt() else { break };
            let day_end = time::local_to_utc(window.tz, next.and_time(midnight));
            let (from, to) = (day_start.max(window.span.start), day_end.min(window.span.end));
            if from < to {
                days.push((day, from, to));
            }
            day = next;
        }
        let reads: Vec<futures::future::BoxFuture<'_, _>> =
            days.iter().map(|(_, from, to)| Box::pin(self.tally(org_id, scope, kind, *from, *to)) as _).collect();
        let tallies = futures::stream::iter(reads).buffered(DAYS_AT_ONCE).try_collect::<Vec<_>>().await?;
        Ok(days.into_iter().map(|(day, _, _)| day).zip(tallies).collect())
    }

    /// Calls and their outcomes per local day of the window (in `tz`).
    async fn daily(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        let days = self
            .by_local_day(&caller.org_id, &scope, kind, &window)
            .await?
            .into_iter()
            .map(|(day, tally)| DayCalls {
                date: day.format("%Y-%m-%d").to_string(),
                total_calls: tally.get(analytics::CALLS),
                outcomes: analytics::outcome_distribution(&tally),
            })
            .collect();
        Ok(json(StatusCode::OK, &DailyResponse { echo, tz: window.tz.name().to_string(), days }))
    }

    /// Cost per local day of the window (in `tz`) and per call type.
    async fn costs(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        let mut total = Tally::default();
        let mut by_day = Vec::new();
        for (day, tally) in self.by_local_day(&caller.org_id, &scope, kind, &window).await? {
            let stats = CallStats::from_tally(&tally);
            by_day.push(DayCost {
                date: day.format("%Y-%m-%d").to_string(),
                calls: stats.total_calls,
                total_cents: stats.cost.total_cents,
                avg_per_call_cents: stats.cost.avg_per_call_cents,
            });
            total.add(&tally).map_err(DomainError::from)?;
        }
        let stats = CallStats::from_tally(&total);
        let body = CostsResponse {
            echo,
            tz: window.tz.name().to_string(),
            total_cents: stats.cost.total_cents,
            avg_per_call_cents: stats.cost.avg_per_call_cents,
            by_day,
            by_call_type: analytics::cost_by_type(&total),
            by_component: analytics::cost_by_component(&total),
            usage: analytics::usage_totals(&total),
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// How the calls went by the provider's measures: the success
    /// evaluation's rate and the assistant's response times.
    async fn quality(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        let tally = self.tally(&caller.org_id, &scope, kind, window.span.start, window.span.end).await?;
        let body = QualityResponse {
            echo,
            total_calls: tally.get(analytics::CALLS),
            success_evaluation: SuccessFigures::from_tally(&tally),
            latency: LatencyFigures::from_tally(&tally),
            sentiment: analytics::sentiment_distribution(&tally),
            ratings: Ratings::from_tally(&tally),
        };
        Ok(json(StatusCode::OK, &body))
    }

    async fn recent_calls(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let offset = integer_param(req, "offset", "invalid_offset", 0..=MAX_OFFSET)?.unwrap_or(0);
        let cursor = query_param(req, "cursor");
        if cursor.is_some() && offset > 0 {
            return Err(DomainError::invalid("invalid_paging", "use either cursor or offset, not both").into());
        }
        let agent = self.agent_scope(caller, req).await?;
        let types = Kind::from_request(req)?.types();
        let number = match query_param(req, "phoneNumber") {
            Some(text) => Some(phone::normalize(&text)?.into_string()),
            None => None,
        };
        let one_agent: Vec<String> = agent.iter().cloned().collect();
        let (query, only_agents) = match (number, agent) {
            // A patient's calls, narrowed to the agent asked for, or to the caller's.
            (Some(number), Some(_)) => (CallQuery::ByNumber(number), Some(one_agent.as_slice())),
            (Some(number), None) => (CallQuery::ByNumber(number), caller.agent_ids.as_deref()),
            (None, Some(agent_id)) => (CallQuery::ByAgent(agent_id), None),
            (None, None) => (CallQuery::ByOrg, caller.agent_ids.as_deref()),
        };
        // A window only when one is asked for: without, every call.
        let (start, end) = (query_param(req, "startDate"), query_param(req, "endDate"));
        // A zone is checked whether or not a date reads it.
        callops_http::window::parse_tz(query_param(req, "tz").as_deref())?;
        let window = match (&start, &end) {
            (None, None) => Span::ALL,
            _ => {
                let window = parse_window(start.as_deref(), end.as_deref(), query_param(req, "tz").as_deref(), Utc::now())?;
                window.span.into()
            }
        };
        let binding = paging_binding(req);
        let page = self
            .store
            .query_calls(
                &caller.org_id,
                &PageRequest {
                    newest_first: true,
                    cursor: cursor.as_deref(),
                    only_agents,
                    only_types: types.as_deref(),
                    window,
                    binding: &binding,
                    max_bytes: Some(callops_domain::records::export::MAX_PAGE_BYTES),
                    ..PageRequest::new(&query, offset + limit)
                },
            )
            .await?;
        let calls: Vec<CallLog> = page.items.into_iter().skip(offset).collect();
        // A list may ask for the calls without their content (what a dashboard's list shows).
        let calls = if with_content(req)? { calls } else { calls.into_iter().map(CallLog::facts_only).collect() };
        let (calls, reads) = audit::answer_calls(caller, calls, Utc::now());
        self.store.record_audit(&reads).await?;
        Ok(json(StatusCode::OK, &RecentCalls { calls, next_cursor: page.next_cursor }))
    }

    async fn get_call(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let id = id_param(req, "id", "call")?;
        let call = self
            .store
            .get_call(&caller.org_id, &id)
            .await?
            .map(|stored| stored.call)
            .filter(|call| caller.may_see_agent(&call.voice_agent_id))
            .ok_or(DomainError::NotFound { what: "call" })?;
        let call = if with_content(req)? { call } else { call.facts_only() };
        let (mut calls, reads) = audit::answer_calls(caller, vec![call], Utc::now());
        self.store.record_audit(&reads).await?;
        Ok(json(StatusCode::OK, &calls.remove(0)))
    }
}
