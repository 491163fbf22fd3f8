//! A fake of the vendor APIs (Google, GitHub, GitLab, Slack, Facebook), each
//! answering in its documented shape, with its own way to say "invalid".

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The fake, and what it was asked.
#[derive(Clone)]
pub struct FakeVendors {
    pub addr: SocketAddr,
    state: Arc<VendorState>,
}

#[derive(Default)]
struct VendorState {
    /// (route, token) → (status, body)
    answers: Mutex<HashMap<(String, String), (u16, Value)>>,
    /// Every call: route and the credential restgate authenticated with.
    calls: Mutex<Vec<(String, String)>>,
}

impl FakeVendors {
    pub async fn start() -> FakeVendors {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Arc<VendorState> = Arc::default();
        let app = Router::new()
            .route("/tokeninfo", post(google_tokeninfo))
            .route("/applications/{client_id}/token", post(github_check))
            .route("/user/emails", get(github_emails))
            .route("/oauth/token/info", get(gitlab_token_info))
            .route("/oauth/userinfo", get(gitlab_userinfo))
            .route("/auth.test", post(slack_auth_test))
            .route("/openid.connect.userInfo", post(slack_userinfo))
            .route("/debug_token", get(facebook_debug_token))
            .route("/me", get(facebook_me))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeVendors { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `route` for `token` with `status` and `body`.
    pub fn answer(&self, route: &str, token: &str, status: u16, body: Value) {
        self.state
            .answers
            .lock()
            .unwrap()
            .insert((route.into(), token.into()), (status, body));
    }

    /// The calls made, as (route, credential) pairs.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.state.calls.lock().unwrap().clone()
    }
}

fn lookup(
    state: &VendorState,
    route: &str,
    token: &str,
    credential: &str,
    otherwise: (u16, Value),
) -> Response {
    state
        .calls
        .lock()
        .unwrap()
        .push((route.into(), credential.into()));
    let (status, body) = state
        .answers
        .lock()
        .unwrap()
        .get(&(route.to_owned(), token.to_owned()))
        .cloned()
        .unwrap_or(otherwise);
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn bearer(h: &HeaderMap) -> String {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn google_tokeninfo(
    State(s): State<Arc<VendorState>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let token = f.get("access_token").cloned().unwrap_or_default();
    lookup(
        &s,
        "/tokeninfo",
        &token,
        "",
        (
            400,
            json!({"error": "invalid_token", "error_description": "Invalid Value"}),
        ),
    )
}

async fn github_check(
    State(s): State<Arc<VendorState>>,
    Path(client_id): Path<String>,
    h: HeaderMap,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let token = b["access_token"].as_str().unwrap_or_default().to_owned();
    let cred = format!("{client_id} {}", header(&h, "authorization"));
    lookup(
        &s,
        "/applications/token",
        &token,
        &cred,
        (
            404,
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
        ),
    )
}

async fn github_emails(State(s): State<Arc<VendorState>>, h: HeaderMap) -> Response {
    lookup(
        &s,
        "/user/emails",
        &bearer(&h),
        "",
        (
            403,
            json!({"message": "Resource not accessible by integration"}),
        ),
    )
}

async fn gitlab_token_info(State(s): State<Arc<VendorState>>, h: HeaderMap) -> Response {
    lookup(
        &s,
        "/oauth/token/info",
        &bearer(&h),
        "",
        (
            401,
            json!({"error": "invalid_token", "error_description": "The access token is invalid"}),
        ),
    )
}

async fn gitlab_userinfo(State(s): State<Arc<VendorState>>, h: HeaderMap) -> Response {
    lookup(
        &s,
        "/oauth/userinfo",
        &bearer(&h),
        "",
        (403, json!({"error": "insufficient_scope"})),
    )
}

async fn slack_auth_test(State(s): State<Arc<VendorState>>, h: HeaderMap) -> Response {
    // Slack always answers 200; failure is `ok: false`.
    lookup(
        &s,
        "/auth.test",
        &bearer(&h),
        "",
        (200, json!({"ok": false, "error": "invalid_auth"})),
    )
}

async fn slack_userinfo(State(s): State<Arc<VendorState>>, h: HeaderMap) -> Response {
    lookup(
        &s,
        "/openid.connect.userInfo",
        &bearer(&h),
        "",
        (200, json!({"ok": false, "error": "invalid_auth"})),
    )
}

async fn facebook_debug_token(
    State(s): State<Arc<VendorState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = q.get("input_token").cloned().unwrap_or_default();
    let app_token = q.get("access_token").cloned().unwrap_or_default();
    lookup(
        &s,
        "/debug_token",
        &token,
        &app_token,
        (
            200,
            json!({"data": {"is_valid": false, "error": {"code": 190, "message": "Invalid OAuth access token."}, "scopes": []}}),
        ),
    )
}

async fn facebook_me(State(s): State<Arc<VendorState>>, h: HeaderMap) -> Response {
    lookup(
        &s,
        "/me",
        &bearer(&h),
        "",
        (
            400,
            json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}),
        ),
    )
}
