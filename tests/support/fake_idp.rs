//! A fake OpenID Connect provider for the dashboard's sign-in test: discovery,
//! an authorization endpoint that signs the user straight in (redirecting
//! back with a code), and a token endpoint that gives a bearer token only for
//! a code whose PKCE verifier matches its S256 challenge, as a real provider
//! does. Browsers reach it from the page's origin, so it answers with CORS.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "callops-dashboard";

#[derive(Default)]
struct Inner {
    /// code -> (PKCE challenge, redirect URI)
    codes: HashMap<String, (String, String)>,
    /// Tokens given for a verified code.
    issued: usize,
}

#[derive(Clone)]
struct Idp {
    base: String,
    token: String,
    inner: Arc<Mutex<Inner>>,
}

pub struct FakeIdp {
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn cors(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().unwrap());
    response
}

async fn discovery(State(idp): State<Idp>) -> Response {
    cors(Json(json!({
        "issuer": idp.base,
        "authorization_endpoint": format!("{}/authorize", idp.base),
        "token_endpoint": format!("{}/token", idp.base),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    })))
}

async fn authorize(State(idp): State<Idp>, Query(q): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| q.get(name).cloned().unwrap_or_default();
    if field("response_type") != "code" || field("client_id") != CLIENT_ID || field("code_challenge_method") != "S256" || field("code_challenge").is_empty() {
        return (StatusCode::BAD_REQUEST, "unsupported authorization request").into_response();
    }
    let code = format!("code-{}", uuid::Uuid::new_v4());
    idp.inner.lock().unwrap().codes.insert(code.clone(), (field("code_challenge"), field("redirect_uri")));
    let back = format!("{}?code={code}&state={}", field("redirect_uri"), field("state"));
    Redirect::to(&back).into_response()
}

async fn exchange(State(idp): State<Idp>, _headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let Some((challenge, redirect)) = idp.inner.lock().unwrap().codes.remove(&field("code")) else {
        return cors((StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))));
    };
    let verified = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes())) == challenge;
    if !verified || field("grant_type") != "authorization_code" || field("client_id") != CLIENT_ID || field("redirect_uri") != redirect {
        return cors((StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))));
    }
    idp.inner.lock().unwrap().issued += 1;
    cors(Json(json!({"access_token": idp.token, "token_type": "Bearer", "expires_in": 3600})))
}

impl FakeIdp {
    /// A provider whose tokens are `token` (one the host accepts).
    pub async fn start(token: &str) -> FakeIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner::default()));
        let idp = Idp { base: issuer.clone(), token: token.to_string(), inner: inner.clone() };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(exchange))
            .with_state(idp);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeIdp { issuer, inner, task }
    }

    /// How many tokens it gave for a code with a matching PKCE verifier.
    pub fn tokens_issued(&self) -> usize {
        self.inner.lock().unwrap().issued
    }
}
