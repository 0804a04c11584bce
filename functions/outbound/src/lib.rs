//! The outbound function: voice agents, scheduling calls, campaigns and the
//! do-not-call list.

use callops_aws::DynamoStore;
use callops_http::{ApiError, caller, respond, route_key};
use lambda_http::{Body, Request, Response};

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
    "GET /api/dnc",
    "POST /api/dnc",
    "DELETE /api/dnc/{phoneNumber}",
];

#[derive(Clone)]
pub struct Outbound {
    #[allow(dead_code)]
    store: DynamoStore,
}

impl Outbound {
    pub fn new(store: DynamoStore) -> Self {
        Outbound { store }
    }

    /// Handles one API Gateway request; every error is already a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(self.route(req).await)
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let _caller = caller(&req)?;
        let route = route_key(&req);
        if ROUTES.contains(&route.as_str()) {
            Err(ApiError::NotImplemented(route))
        } else {
            Err(ApiError::NoRoute(route))
        }
    }
}
