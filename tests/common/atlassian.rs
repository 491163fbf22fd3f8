//! Mocks of Jira, Confluence and Bitbucket Data Center (atlassian.md §8.2):
//! context paths, `X-AUSERNAME` on every response, a real 2LOi verifier
//! (consumer lookup, RSA-SHA1 over the configured public base URL, timestamp
//! window, nonce replay refusal, impersonation switch, unknown user →
//! anonymous), session-cookie precedence, native PAT / `BBDC-` / Basic, the
//! whoami and user search endpoints with the documented shapes.
//!
//! The verifier builds the signature base string with its own code, not
//! restgate's, so a signing mistake cannot hide behind the same mistake.

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
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::{Value, json};
use tokio::net::TcpListener;

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

/// RFC 5849 §3.6 encoding, written independently of restgate's.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The 2LOi check, as the products' `AuthenticatorImpl` does it.
fn verify_oauth(
    s: &MockState,
    method: &Method,
    uri: &Uri,
    h: &HeaderMap,
    body: &Bytes,
    header: &str,
) -> OAuthOutcome {
    let mut oauth: Vec<(String, String)> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return OAuthOutcome::Problem("parameter_rejected");
        };
        oauth.push((pct_decode(k), pct_decode(v.trim_matches('"'))));
    }
    let get = |k: &str| oauth.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let required = [
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature_method",
        "oauth_signature",
        "oauth_timestamp",
        "oauth_nonce",
    ];
    if required.iter().any(|k| get(k).is_none()) || get("oauth_token") != Some("") {
        return OAuthOutcome::Problem("parameter_absent");
    }
    if get("oauth_consumer_key") != Some(s.cfg.consumer_key.as_str()) {
        return OAuthOutcome::Problem("consumer_key_unknown");
    }
    if get("oauth_signature_method") != Some("RSA-SHA1") {
        return OAuthOutcome::Problem("signature_method_rejected");
    }
    // Parameters: OAuth ones (but the signature and realm), the query, a form body.
    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .cloned()
        .collect();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    params.extend(query.iter().cloned());
    let is_form = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if is_form {
        form_urlencoded::parse(body).into_owned().collect()
    } else {
        Vec::new()
    };
    params.extend(form.iter().cloned());
    let mut enc: Vec<(String, String)> = params.iter().map(|(k, v)| (pct(k), pct(v))).collect();
    enc.sort();
    let normalised = enc
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    // Tomcat rebuilds the URL from proxyName / proxyPort / scheme, not from the socket.
    let url = format!("{}{}", s.cfg.public_base, uri.path());
    let base = format!("{}&{}&{}", method.as_str(), pct(&url), pct(&normalised));
    let key = rsa::RsaPublicKey::from_public_key_pem(&s.cfg.public_key_pem).unwrap();
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key);
    let sig_bytes = STANDARD
        .decode(get("oauth_signature").unwrap_or_default())
        .unwrap_or_default();
    let valid = rsa::pkcs1v15::Signature::try_from(sig_bytes.as_slice())
        .is_ok_and(|sig| verifier.verify(base.as_bytes(), &sig).is_ok());
    if !valid {
        return OAuthOutcome::Problem("signature_invalid");
    }
    let ts: i64 = get("oauth_timestamp")
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts).abs() > 300 {
        return OAuthOutcome::Problem("timestamp_refused");
    }
    if !s
        .nonces
        .lock()
        .unwrap()
        .insert(get("oauth_nonce").unwrap_or_default().to_owned())
    {
        return OAuthOutcome::Problem("nonce_used");
    }
    // getParameter: the query or a form body, never the Authorization header.
    let requestor = query
        .iter()
        .chain(form.iter())
        .find(|(k, _)| k == "xoauth_requestor_id")
        .or_else(|| {
            query
                .iter()
                .chain(form.iter())
                .find(|(k, _)| k == "user_id")
        })
        .map(|(_, v)| v.clone());
    match requestor {
        Some(_) if !s.cfg.impersonation => OAuthOutcome::Problem("permission_denied"),
        // UserManager.resolve: an unknown name resolves to null, and the request
        // runs as anonymous (the pitfall restgate guards against).
        Some(u) => match s.users.iter().find(|x| x.name == u) {
            Some(x) => OAuthOutcome::User(x.name.clone()),
            None => OAuthOutcome::Anonymous,
        },
        None => OAuthOutcome::Anonymous,
    }
}

fn unauthenticated(product: Product) -> Response {
    match product {
        Product::Jira => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}})),
        )
            .into_response(),
        Product::Confluence => (StatusCode::UNAUTHORIZED, axum::Json(json!({"statusCode": 401, "message": "Not authenticated"}))).into_response(),
        Product::Bitbucket => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errors": [{"context": null, "message": "Authentication failed. Please check your credentials and try again.",
                "exceptionName": "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException"}]})),
        )
            .into_response(),
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn jira_user(u: &User, base: &str) -> Value {
    json!({"self": format!("{base}/rest/api/2/user?username={}", u.name), "key": format!("JIRAUSER1{}", u.name.len()),
        "name": u.name, "emailAddress": u.email, "avatarUrls": {"48x48": "", "24x24": "", "16x16": "", "32x32": ""},
        "displayName": u.display, "active": true, "deleted": false, "timeZone": "Europe/Berlin", "locale": "en_US",
        "groups": {"size": 1, "items": []}, "applicationRoles": {"size": 1, "items": []}, "expand": "groups,applicationRoles"})
}

fn confluence_user(u: &User, base: &str) -> Value {
    json!({"type": "known", "username": u.name, "userKey": format!("4028808{}", u.name.len()),
        "profilePicture": {"path": "/images/icons/profilepics/default.svg", "width": 48, "height": 48, "isDefault": true},
        "displayName": u.display, "_links": {"base": base, "context": "", "self": format!("{base}/rest/api/user?username={}", u.name)},
        "_expandable": {"status": ""}})
}

fn bitbucket_user(u: &User, base: &str) -> Value {
    json!({"name": u.name, "emailAddress": u.email, "active": true, "displayName": u.display, "id": u.name.len() * 7,
        "slug": u.name, "type": "NORMAL", "links": {"self": [{"href": format!("{base}/users/{}", u.name)}]}})
}

fn route(s: &MockState, rel: &str, uri: &Uri, user: Option<&str>) -> Response {
    let base = format!("{}{}", s.cfg.public_base, s.cfg.context);
    let find = |name: &str| s.users.iter().find(|u| u.name == name);
    let user_api = rel.starts_with("/rest/api/2/user")
        || rel.starts_with("/rest/api/user") && rel != "/rest/api/user/current"
        || rel.starts_with("/rest/api/1.0/users");
    if user_api {
        s.user_api_calls.fetch_add(1, Ordering::SeqCst);
        if *s.user_api_down.lock().unwrap() {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response();
        }
        if user.is_none() {
            return unauthenticated(s.cfg.product);
        }
    }
    match (s.cfg.product, rel) {
        (Product::Jira, "/rest/api/2/myself") => match user.and_then(find) {
            Some(u) => axum::Json(jira_user(u, &base)).into_response(),
            None => unauthenticated(Product::Jira),
        },
        (Product::Jira, "/rest/api/2/user") => match query_param(uri, "username").as_deref().and_then(find) {
            Some(u) => axum::Json(jira_user(u, &base)).into_response(),
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"errorMessages": ["The user named 'x' does not exist"], "errors": {}}))).into_response(),
        },
        (Product::Jira, "/rest/api/2/user/search") => {
            // Prefix match on username, name or email address.
            let q = query_param(uri, "username").unwrap_or_default().to_lowercase();
            let found: Vec<Value> = s.users.iter().filter(|u| u.name.starts_with(&q) || u.email.starts_with(&q)).map(|u| jira_user(u, &base)).collect();
            axum::Json(Value::Array(found)).into_response()
        }
        (Product::Confluence, "/rest/api/user/current") => match user.and_then(find) {
            Some(u) => axum::Json(confluence_user(u, &base)).into_response(),
            None => axum::Json(json!({"type": "anonymous", "profilePicture": {"path": "/images/icons/profilepics/anonymous.svg",
                "width": 48, "height": 48, "isDefault": true}, "displayName": "Anonymous", "_links": {"self": format!("{base}/rest/api/user/anonymous")}}))
            .into_response(),
        },
        (Product::Confluence, "/rest/api/user") => match query_param(uri, "username").as_deref().and_then(find) {
            Some(u) => axum::Json(confluence_user(u, &base)).into_response(),
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"statusCode": 404, "message": "No user found"}))).into_response(),
        },
        (Product::Bitbucket, "/plugins/servlet/applinks/whoami") => {
            ([("content-type", "text/plain")], user.unwrap_or_default().to_owned()).into_response()
        }
        (Product::Bitbucket, "/rest/api/1.0/users") => {
            let q = query_param(uri, "filter").unwrap_or_default().to_lowercase();
            let values: Vec<Value> = s.users.iter().filter(|u| u.name.contains(&q) || u.email.contains(&q)).map(|u| bitbucket_user(u, &base)).collect();
            axum::Json(json!({"size": values.len(), "limit": 25, "isLastPage": true, "start": 0, "values": values})).into_response()
        }
        (Product::Bitbucket, r) if r.starts_with("/rest/api/1.0/users/") => match find(&r["/rest/api/1.0/users/".len()..]) {
            Some(u) => axum::Json(bitbucket_user(u, &base)).into_response(),
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"errors": [{"message": "User does not exist"}]}))).into_response(),
        },
        _ => (StatusCode::NOT_FOUND, "Not found").into_response(),
    }
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
) -> (super::FakeIdp, ProductMock, super::TestGateway) {
    let idp = super::FakeIdp::start().await;
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
        super::CLIENT_ID,
    );
    let gw = super::TestGateway::start(&toml).await;
    for u in ["alice", "bob", "carol", "zed"] {
        idp.add_user(&format!("tok-{u}"), u);
    }
    (idp, mock, gw)
}
