//! The dashboard Lambda: the page's sign-in settings, then the runtime.

use callops_dashboard::{Dashboard, SignIn};
use callops_http::config;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let sign_in = SignIn::Oidc {
        issuer: config::required("DASHBOARD_OIDC_ISSUER")?,
        client_id: config::required("DASHBOARD_OIDC_CLIENT_ID")?,
        scope: std::env::var("DASHBOARD_OIDC_SCOPE").unwrap_or_else(|_| "openid".into()),
    };
    let dashboard = Dashboard::new(sign_in, 30)?;
    let dashboard = &dashboard;
    run(service_fn(move |req| async move { Ok::<_, Error>(dashboard.handle(req)) })).await
}
