//! The outbound function: voice agents, scheduling calls, campaigns, the
//! do-not-call list and the consents calls rest on. Attempts are handed to a [`DialScheduler`]: EventBridge
//! Scheduler in AWS, the local host's scheduler on one machine.

pub mod campaigns;
pub mod consents;
pub mod dnc;
pub mod registries;
pub mod scheduling;

use std::sync::Arc;

use callops_aws::DynamoStore;
use callops_aws::store::{AgentStore, SettingsStore};
use callops_domain::records::audit::{Action, AuditEntry};
use callops_domain::{
    DomainError, VoiceAgent, agent::AgentInput, agent::secret::SecretNamespace, ids::valid_agent_id, placement::schedule::DialScheduler,
    settings::SettingsInput,
};
use callops_http::{ApiError, Caller, Role, caller, json, json_body, path_param, require, respond, route_key};
use callops_service::Calls;
use chrono::Utc;
use lambda_http::{Body, Request, Response, http::StatusCode};

/// The routes this function serves, as API Gateway names them.
pub const ROUTES: &[&str] = &[
    "POST /api/outbound/schedule",
    "GET /api/outbound/scheduled",
    "DELETE /api/outbound/scheduled/{id}",
    "PATCH /api/outbound/scheduled/{id}",
    "GET /api/agents",
    "POST /api/agents",
    "GET /api/agents/{id}",
    "PATCH /api/agents/{id}",
    "GET /api/campaigns",
    "POST /api/campaigns",
    "GET /api/campaigns/{id}",
    "DELETE /api/campaigns/{id}",
    "PATCH /api/campaigns/{id}",
    "POST /api/campaigns/{id}/pause",
    "POST /api/campaigns/{id}/resume",
    "GET /api/dnc",
    "POST /api/dnc",
    "DELETE /api/dnc/{phoneNumber}",
    "GET /api/dnc/{phoneNumber}/history",
    "GET /api/settings",
    "PUT /api/settings",
    "GET /api/compliance/check",
    "GET /api/numbers/{phoneNumber}/inconvenient-times",
    "PUT /api/numbers/{phoneNumber}/inconvenient-times",
    "POST /api/consents",
    "GET /api/consents",
    "POST /api/consents/{id}/revoke",
    "POST /api/consents/import",
    "POST /api/registries/{registry}/import",
    "PUT /api/numbers/{phoneNumber}/relationship",
];

/// The least role each route needs; a route not named needs `admin`.
pub fn required_role(route: &str) -> Role {
    match route {
        "GET /api/agents" | "GET /api/agents/{id}" | "GET /api/campaigns" | "GET /api/campaigns/{id}" | "GET /api/outbound/scheduled" | "GET /api/settings" => {
            Role::Viewer
        }
        "POST /api/outbound/schedule"
        | "DELETE /api/outbound/scheduled/{id}"
        | "PATCH /api/outbound/scheduled/{id}"
        | "POST /api/campaigns"
        | "DELETE /api/campaigns/{id}"
        | "PATCH /api/campaigns/{id}"
        | "POST /api/campaigns/{id}/pause"
        | "POST /api/campaigns/{id}/resume"
        | "GET /api/dnc"
        | "POST /api/dnc"
        | "GET /api/dnc/{phoneNumber}/history"
        | "GET /api/compliance/check"
        | "GET /api/numbers/{phoneNumber}/inconvenient-times"
        | "PUT /api/numbers/{phoneNumber}/inconvenient-times"
        | "POST /api/consents"
        | "GET /api/consents"
        | "POST /api/consents/{id}/revoke"
        | "POST /api/consents/import"
        | "PUT /api/numbers/{phoneNumber}/relationship" => Role::Staff,
        _ => Role::Admin,
    }
}

#[derive(Clone)]
pub struct Outbound {
    store: DynamoStore,
    /// The use cases: scheduling, campaigns, cancelling.
    calls: Calls,
    /// Where a tenant's Twilio secrets may live.
    secrets: SecretNamespace,
}

#[derive(serde::Serialize)]
struct Agents {
    agents: Vec<VoiceAgent>,
}

impl Outbound {
    pub fn new(store: DynamoStore, scheduler: Arc<dyn DialScheduler>, vapi: Arc<dyn callops_vapi::VapiApi>, secrets: SecretNamespace) -> Self {
        Outbound { calls: Calls::new(store.clone(), scheduler, vapi), store, secrets }
    }

    /// A campaign's contacts are checked against `rnd` before their calls are planned.
    pub fn with_rnd(self, rnd: Arc<dyn callops_domain::consent::reassigned::ReassignedNumbers>) -> Self {
        Outbound { calls: self.calls.with_rnd(rnd), ..self }
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
            "GET /api/agents" => self.list_agents(&caller).await,
            "POST /api/agents" => self.create_agent(&caller, &req).await,
            "GET /api/agents/{id}" => Ok(json(StatusCode::OK, &self.agent(&caller, &req).await?)),
            "PATCH /api/agents/{id}" => self.update_agent(&caller, &req).await,
            "POST /api/outbound/schedule" => self.schedule_call(&caller, &req).await,
            "GET /api/outbound/scheduled" => self.list_scheduled(&caller, &req).await,
            "DELETE /api/outbound/scheduled/{id}" => self.cancel_scheduled(&caller, &req).await,
            "PATCH /api/outbound/scheduled/{id}" => self.reschedule(&caller, &req).await,
            "GET /api/campaigns" => self.list_campaigns(&caller).await,
            "POST /api/campaigns" => self.create_campaign(&caller, &req).await,
            "GET /api/campaigns/{id}" => self.get_campaign(&caller, &req).await,
            "DELETE /api/campaigns/{id}" => self.cancel_campaign(&caller, &req).await,
            "PATCH /api/campaigns/{id}" => self.update_campaign(&caller, &req).await,
            "POST /api/campaigns/{id}/pause" => self.pause_campaign(&caller, &req).await,
            "POST /api/campaigns/{id}/resume" => self.resume_campaign(&caller, &req).await,
            "GET /api/dnc" => self.list_do_not_call(&caller, &req).await,
            "POST /api/dnc" => self.add_do_not_call(&caller, &req).await,
            "DELETE /api/dnc/{phoneNumber}" => self.remove_do_not_call(&caller, &req).await,
            "GET /api/dnc/{phoneNumber}/history" => self.do_not_call_history(&caller, &req).await,
            "GET /api/settings" => Ok(json(StatusCode::OK, &self.store.settings(&caller.org_id).await?)),
            "PUT /api/settings" => self.put_settings(&caller, &req).await,
            "GET /api/compliance/check" => self.compliance_check(&caller, &req).await,
            "GET /api/numbers/{phoneNumber}/inconvenient-times" => self.inconvenient_times(&caller, &req).await,
            "PUT /api/numbers/{phoneNumber}/inconvenient-times" => self.put_inconvenient_times(&caller, &req).await,
            "POST /api/consents" => self.record_consent(&caller, &req).await,
            "GET /api/consents" => self.list_consents(&caller, &req).await,
            "POST /api/consents/{id}/revoke" => self.revoke_consent(&caller, &req).await,
            "POST /api/consents/import" => self.import_consents(&caller, &req).await,
            "POST /api/registries/{registry}/import" => self.import_registry(&caller, &req).await,
            "PUT /api/numbers/{phoneNumber}/relationship" => self.put_relationship(&caller, &req).await,
            _ => Err(ApiError::NoRoute(route)),
        }
    }

    async fn list_agents(&self, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let agents = self.store.list_agents(&caller.org_id).await?.into_iter().filter(|a| caller.may_see_agent(&a.id)).collect();
        Ok(json(StatusCode::OK, &Agents { agents }))
    }

    /// The agent named in the path, if it is the caller's to see.
    async fn agent(&self, caller: &Caller, req: &Request) -> Result<VoiceAgent, DomainError> {
        let id = path_param(req, "id").filter(|id| valid_agent_id(id)).ok_or(DomainError::NotFound { what: "voice agent" })?;
        self.store.get_agent(&caller.org_id, &id).await?.filter(|agent| caller.may_see_agent(&agent.id)).ok_or(DomainError::NotFound { what: "voice agent" })
    }

    async fn create_agent(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        if caller.agent_ids.is_some() {
            return Err(ApiError::Forbidden("a caller limited to some agents cannot create agents".into()));
        }
        let now = Utc::now();
        let agent = json_body::<AgentInput>(req)?.create(&caller.org_id, now, &self.secrets)?;
        let audit = AuditEntry::of_change(caller, Action::AgentCreated, &agent.id, None::<&VoiceAgent>, &agent, now);
        self.store.put_agent(&agent, true, &audit).await?;
        Ok(json(StatusCode::CREATED, &agent))
    }

    /// Changes the tenant's settings; a caller limited to some agents may not.
    async fn put_settings(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        if caller.agent_ids.is_some() {
            return Err(ApiError::Forbidden("a caller limited to some agents cannot change the practice's settings".into()));
        }
        let current = self.store.settings(&caller.org_id).await?;
        let now = Utc::now();
        let next = json_body::<SettingsInput>(req)?.apply_to(&current, now)?;
        let audit = AuditEntry::of_change(caller, Action::SettingsUpdated, &caller.org_id, Some(&current), &next, now);
        self.store.put_settings(&next, &audit).await?;
        Ok(json(StatusCode::OK, &next))
    }

    async fn update_agent(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let current = self.agent(caller, req).await?;
        if !current.dials() {
            return Err(DomainError::conflict(
                callops_domain::error::Conflict::ImportedAgent,
                "an agent imported with legacy history stays as it was imported",
            )
            .into());
        }
        let now = Utc::now();
        let next = json_body::<AgentInput>(req)?.apply_to(&current, now, &self.secrets)?;
        let audit = AuditEntry::of_change(caller, Action::AgentUpdated, &next.id, Some(&current), &next, now);
        self.store.put_agent(&next, false, &audit).await?;
        Ok(json(StatusCode::OK, &next))
    }
}
