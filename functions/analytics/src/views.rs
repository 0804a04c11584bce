//! The practice manager's views of a window beyond the totals: the agents
//! side by side, when patients call, and the missed calls to win back.

use callops_aws::store::{AgentStore, AuditStore, CallQueryStore, SettingsStore};
use callops_aws::{CallQuery, PageRequest};
use callops_domain::{
    CallLog, CallType, DomainError,
    analytics::{self, CallStats, MissedCalls, profile::Counts, profile::Heat, profile::HeatCell},
};
use callops_http::{ApiError, Caller, integer_param, json, paging_binding, query_param};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::Serialize;

use crate::{
    Analytics, DEFAULT_LIMIT, Echo, MAX_LIMIT,
    figures::{self, Scope},
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentRow {
    agent_id: String,
    /// The agent's name; null for the calls under no agent (`unassigned`).
    name: Option<String>,
    /// The legacy agent an imported agent stands for.
    imported_from: Option<String>,
    #[serde(flatten)]
    stats: CallStats,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentsResponse {
    #[serde(flatten)]
    echo: Echo,
    agents: Vec<AgentRow>,
    total: CallStats,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HourlyResponse {
    #[serde(flatten)]
    echo: Echo,
    tz: String,
    /// Every hour of the week, Monday 00:00 first.
    cells: Vec<HeatCell>,
    /// Calls that started while their agent's hours were open, and the rest.
    in_hours: Counts,
    after_hours: Counts,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MissedResponse {
    #[serde(flatten)]
    echo: Echo,
    calls: Vec<CallLog>,
    /// Missed calls in the window, and those no later connected call with
    /// the number has returned (the worklist's length).
    missed: i64,
    not_returned: i64,
    next_cursor: Option<String>,
}

impl Analytics {
    /// `GET /api/analytics/agents`: every figure of `/api/analytics/calls`
    /// for each agent the caller may see, and for all of them together.
    pub(crate) async fn agents(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        let agents: Vec<_> = self
            .store
            .list_agents(&caller.org_id)
            .await?
            .into_iter()
            .filter(|agent| match &scope {
                Scope::Agent(id) => agent.id == *id,
                _ => caller.may_see_agent(&agent.id),
            })
            .collect();
        let ids: Vec<String> = agents.iter().map(|agent| agent.id.to_string()).collect();
        let tallies = figures::tally_by_agent(&self.store, &caller.org_id, &scope, &ids, kind, window.span).await?;
        let mut total = analytics::Tally::default();
        let mut rows = Vec::with_capacity(tallies.len());
        for (agent_id, tally) in tallies {
            total.add(&tally).map_err(DomainError::from)?;
            let agent = agents.iter().find(|agent| agent.id == agent_id);
            if agent.is_none() && tally.is_zero() {
                continue;
            }
            rows.push(AgentRow {
                name: agent.map(|a| a.name.clone()),
                imported_from: agent.and_then(|a| a.imported_from.clone()),
                agent_id,
                stats: CallStats::from_tally(&tally),
            });
        }
        Ok(json(StatusCode::OK, &AgentsResponse { echo, agents: rows, total: CallStats::from_tally(&total) }))
    }

    /// `GET /api/analytics/calls/hourly`: calls, answered and booked by
    /// weekday and local hour in `tz`, and in and after the agents' hours.
    pub(crate) async fn hourly(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        let agents = self.store.list_agents(&caller.org_id).await?;
        let holidays = self.store.settings(&caller.org_id).await?.holidays;
        let mut heat = Heat::new(window.tz);
        figures::heat(&self.store, &caller.org_id, &scope, &agents, &holidays, kind, window.span, &mut heat).await?;
        let body = HourlyResponse { echo, tz: window.tz.name().to_string(), cells: heat.cells(), in_hours: heat.in_hours, after_hours: heat.after_hours };
        Ok(json(StatusCode::OK, &body))
    }

    /// `GET /api/analytics/missed`: the missed calls of the window that wait
    /// to be returned, newest first, a page at a time, and how many there are.
    pub(crate) async fn missed(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let cursor = query_param(req, "cursor");
        let (window, scope, kind, echo) = self.window_and_scope(caller, req).await?;
        // Only inbound calls are missed calls: a kind without them lists none.
        let page = async {
            match kind.counts(CallType::Inbound) {
                false => Ok((Vec::new(), None)),
                true => {
                    let one_agent: Vec<String> = match &scope {
                        Scope::Agent(agent) => vec![agent.clone()],
                        _ => Vec::new(),
                    };
                    let only_agents = match &scope {
                        Scope::All => None,
                        Scope::Agent(_) => Some(one_agent.as_slice()),
                        Scope::Agents(agents) => Some(agents.as_slice()),
                    };
                    let binding = paging_binding(req);
                    let request = PageRequest {
                        newest_first: true,
                        cursor: cursor.as_deref(),
                        only_agents,
                        window: window.span.into(),
                        binding: &binding,
                        max_bytes: Some(callops_domain::records::export::MAX_PAGE_BYTES),
                        ..PageRequest::new(&CallQuery::Missed, limit)
                    };
                    let page = self.store.query_calls(&caller.org_id, &request).await?;
                    Ok::<_, DomainError>((page.items, page.next_cursor))
                }
            }
        };
        let (tally, (calls, next_cursor)) = futures::try_join!(self.tally(&caller.org_id, &scope, kind, window.span.start, window.span.end), page)?;
        let MissedCalls { missed, not_returned } = CallStats::from_tally(&tally).missed_calls;
        // A worklist shows the calls' facts, each read on the record.
        let calls: Vec<CallLog> = calls.into_iter().map(CallLog::facts_only).collect();
        let (calls, reads) = callops_domain::records::audit::answer_calls(caller, calls, chrono::Utc::now());
        self.store.record_audit(&reads).await?;
        Ok(json(StatusCode::OK, &MissedResponse { echo, calls, missed, not_returned, next_cursor }))
    }
}
