//! The Vapi webhook function: Vapi's server messages about each call,
//! authenticated by Vapi's server credential rather than the JWT.

use callops_aws::DynamoStore;
use callops_http::{ApiError, respond, route_key};
use lambda_http::{Body, Request, Response};

/// The routes this function serves, as API Gateway names them.
pub const ROUTES: &[&str] = &["POST /webhooks/vapi"];

#[derive(Clone)]
pub struct Webhook {
    #[allow(dead_code)]
    store: DynamoStore,
}

impl Webhook {
    pub fn new(store: DynamoStore) -> Self {
        Webhook { store }
    }

    /// Handles one API Gateway request; every error is already a response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let route = route_key(&req);
        respond(if ROUTES.contains(&route.as_str()) {
            Err(ApiError::NotImplemented(route))
        } else {
            Err(ApiError::NoRoute(route))
        })
    }
}
