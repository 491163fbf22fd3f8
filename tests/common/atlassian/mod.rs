//! Mocks of Jira, Confluence and Bitbucket Data Center (atlassian.md §8.2):
//! context paths, `X-AUSERNAME` on every response, a real 2LOi verifier
//! (consumer lookup, RSA-SHA1 over the configured public base URL, timestamp
//! window, nonce replay refusal, impersonation switch, unknown user →
//! anonymous), session-cookie precedence, native PAT / `BBDC-` / Basic, the
//! whoami and user search endpoints with the documented shapes.
//!
//! The verifier builds the signature base string with its own code, not
//! restgate's, so a signing mistake cannot hide behind the same mistake.

mod oauth;
mod rest;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use tokio::net::TcpListener;

use self::oauth::verify_oauth;
use self::rest::{route, unauthenticated};
use super::client::CLIENT_ID;
use super::gateway::TestGateway;
use super::idp::FakeIdp;

/// Which product the mock is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    Jira,
    Confluence,
    Bitbucket,
}

/// A user of the mock.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub email: String,
    pub display: String,
}

/// How the mock is set up.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub product: Product,
    /// `""`, `"/jira"`, `"/confluence"`, …
    pub context: String,
    /// What Tomcat rebuilds (proxyName / proxyPort / scheme), e.g. `https://jira.example.com`.
    pub public_base: String,
    pub consumer_key: String,
    /// PEM of the consumer's public key (the incoming link's "Public Key").
    pub public_key_pem: String,
    /// "Allow user impersonation through 2-Legged OAuth".
    pub impersonation: bool,
    /// A header authenticator: `X-Forwarded-User` is trusted only with this
    /// value in `X-Restgate-Secret`.
    pub header_secret: Option<String>,
}

/// What the verifier decided about an `Authorization: OAuth` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthOutcome {
    User(String),
    Anonymous,
    Problem(&'static str),
}

/// A running mock.
#[derive(Clone)]
pub struct ProductMock {
    pub addr: SocketAddr,
    state: Arc<MockState>,
}

struct MockState {
    cfg: MockConfig,
    users: Vec<User>,
    /// Native personal access tokens (and `BBDC-` tokens) → user.
    pats: HashMap<String, String>,
    /// Session cookie value → user.
    sessions: HashMap<String, String>,
    nonces: Mutex<HashSet<String>>,
    oauth: Mutex<Vec<OAuthOutcome>>,
    /// Calls to the user lookup APIs (for directory caching tests).
    user_api_calls: AtomicUsize,
    /// Every request that reached the mock.
    requests: AtomicUsize,
    user_api_down: Mutex<bool>,
}

#[allow(dead_code, reason = "each test binary uses part of this fake")]
impl ProductMock {
    pub async fn start(cfg: MockConfig) -> ProductMock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let users = ["alice", "bob", "carol", "svc-rest", "admin"]
            .iter()
            .map(|n| User {
                name: n.to_string(),
                email: format!("{n}@corp.example"),
                display: format!("{} Example", n.to_uppercase()),
            })
            .collect();
        let pats = HashMap::from([
            (native_pat("000000000042"), "bob".to_owned()),
            (
                "BBDC-NzY1NDMyMTA5ODc2OnJhbmRvbXJhbmRvbXJhbmRvbQ".to_owned(),
                "bob".to_owned(),
            ),
            (admin_pat(), "admin".to_owned()),
        ]);
        let sessions = HashMap::from([("mallory-session".to_owned(), "carol".to_owned())]);
        let state = Arc::new(MockState {
            cfg,
            users,
            pats,
            sessions,
            nonces: Mutex::default(),
            oauth: Mutex::default(),
            user_api_calls: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            user_api_down: Mutex::new(false),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ProductMock { addr, state }
    }

    /// What the verifier decided, request by request.
    pub fn oauth_outcomes(&self) -> Vec<OAuthOutcome> {
        self.state.oauth.lock().unwrap().clone()
    }

    pub fn user_api_calls(&self) -> usize {
        self.state.user_api_calls.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Makes the user lookup APIs answer 500.
    pub fn set_user_api_down(&self, down: bool) {
        *self.state.user_api_down.lock().unwrap() = down;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A Jira/Confluence PAT: base64 of 12 digits, `:`, 20 bytes.
pub fn native_pat(id: &str) -> String {
    let mut raw = format!("{id}:").into_bytes();
    raw.extend((0u8..20).map(|i| i.wrapping_mul(31).wrapping_add(7)));
    STANDARD.encode(raw)
}

/// The admin's PAT, for directory lookups.
pub fn admin_pat() -> String {
    native_pat("000000000001")
}

fn problem(product: Product, status: StatusCode, oauth_problem: &str) -> Response {
    let mut res = unauthenticated(product);
    *res.status_mut() = status;
    res.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_str(&format!(
            "OAuth realm=\"mock\", oauth_problem=\"{oauth_problem}\""
        ))
        .unwrap(),
    );
    res
}

async fn handle(State(s): State<Arc<MockState>>, req: Request) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Some(rel) = parts
        .uri
        .path()
        .strip_prefix(s.cfg.context.as_str())
        .map(str::to_owned)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let user = match identify(&s, &parts.method, &parts.uri, &parts.headers, &body) {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let mut res = route(&s, &rel, &parts.uri, user.as_deref());
    let h = res.headers_mut();
    h.insert(
        "x-ausername",
        HeaderValue::from_str(user.as_deref().unwrap_or("anonymous")).unwrap(),
    );
    if s.cfg.product == Product::Bitbucket {
        let id = user
            .as_deref()
            .map(|u| (u.len() * 7).to_string())
            .unwrap_or_default();
        h.insert("x-auserid", HeaderValue::from_str(&id).unwrap());
    }
    h.insert(
        "set-cookie",
        HeaderValue::from_static("JSESSIONID=minted-by-the-product; Path=/; HttpOnly"),
    );
    res
}

/// Who the request runs as: a session wins, then the Authorization header.
fn identify(
    s: &MockState,
    method: &Method,
    uri: &Uri,
    h: &HeaderMap,
    body: &Bytes,
) -> Result<Option<String>, Box<Response>> {
    let cookies = h
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for pair in cookies.split(';') {
        if let Some((name, value)) = pair.trim().split_once('=') {
            if matches!(name, "JSESSIONID" | "BITBUCKETSESSIONID") {
                if let Some(u) = s.sessions.get(value) {
                    return Ok(Some(u.clone()));
                }
            }
        }
    }
    let authz = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(params) = authz.strip_prefix("OAuth ") {
        let outcome = verify_oauth(s, method, uri, h, body, params);
        s.oauth.lock().unwrap().push(outcome.clone());
        return match outcome {
            OAuthOutcome::User(u) => Ok(Some(u)),
            OAuthOutcome::Anonymous => Ok(None),
            OAuthOutcome::Problem(p) => Err(Box::new(problem(
                s.cfg.product,
                StatusCode::UNAUTHORIZED,
                p,
            ))),
        };
    }
    // A header authenticator trusts the header only with the shared secret.
    if let (Some(secret), Some(user)) = (
        &s.cfg.header_secret,
        h.get("x-forwarded-user").and_then(|v| v.to_str().ok()),
    ) {
        if h.get("x-restgate-secret").and_then(|v| v.to_str().ok()) == Some(secret.as_str())
            && s.users.iter().any(|u| u.name == user)
        {
            return Ok(Some(user.to_owned()));
        }
    }
    if let Some(token) = authz.strip_prefix("Bearer ") {
        // The PAT filter continues silently when a token does not authenticate.
        return Ok(s.pats.get(token).cloned());
    }
    if let Some(b64) = authz.strip_prefix("Basic ") {
        let decoded =
            String::from_utf8(STANDARD.decode(b64).unwrap_or_default()).unwrap_or_default();
        return match decoded.split_once(':') {
            Some((u, p)) if p == format!("pw-{u}") && s.users.iter().any(|x| x.name == u) => {
                Ok(Some(u.to_owned()))
            }
            _ => Err(Box::new(unauthenticated(s.cfg.product))),
        };
    }
    Ok(None)
}

// === restgate in front of a mock ===

pub const PUBLIC: &str = "https://jira.example.com";

pub fn keys() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys")
}

pub fn mock_config(product: Product, context: &str) -> MockConfig {
    MockConfig {
        product,
        context: context.into(),
        public_base: PUBLIC.into(),
        consumer_key: "restgate".into(),
        public_key_pem: std::fs::read_to_string(keys().join("rsa1.pub.pem")).unwrap(),
        impersonation: true,
        header_secret: None,
    }
}

/// A fake IdP, a product mock, and restgate in oauth1 mode in front of it.
pub async fn oauth1_gateway(
    product: Product,
    context: &str,
    extra: &str,
) -> (FakeIdp, ProductMock, TestGateway) {
    let idp = FakeIdp::start().await;
    let mock = ProductMock::start(mock_config(product, context)).await;
    let toml = format!(
        r#"
[upstream]
url = "{}"
identity = "oauth1"
[upstream.oauth1]
consumer_key = "restgate"
private_key_file = "{}"
signed_base_url = "{PUBLIC}"
[auth]
protected_paths = ["{context}/rest/", "{context}/plugins/"]
providers = ["idp"]
[providers.idp]
kind = "custom"
validation = "introspection"
introspection_endpoint = "{}"
client_id = "{}"
client_secret_file = "{{secret_file}}"
username_attribute = "username"
{extra}
"#,
        mock.url(),
        keys().join("rsa1.pem").display(),
        idp.url("/introspect"),
        CLIENT_ID,
    );
    let gw = TestGateway::start(&toml).await;
    for u in ["alice", "bob", "carol", "zed"] {
        idp.add_user(&format!("tok-{u}"), u);
    }
    (idp, mock, gw)
}
