//! A fake provider (a "zoo") that can play any provider kind on its own port:
//! RFC 7662 introspection, userinfo, JWKS, OIDC discovery, the paths Keycloak,
//! Okta and Cognito derive from an issuer, and the vendor checks of Google,
//! GitHub, GitLab, Slack and Facebook, each in its documented shape. It records
//! every call with the token values it carried, so a test can say exactly
//! which providers a token was disclosed to. One zoo per configured provider.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};

use super::client::{CLIENT_ID, CLIENT_SECRET, now};
use super::keys::jwk;

/// What is wrong with a zoo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing listens on its port: every connection is refused.
    Unreachable,
    /// Discovery answers an HTML page, the JWKS answers 500.
    BrokenMetadata,
    /// `401 invalid_client` to restgate's own credentials, on introspection
    /// and on the vendor checks that authenticate restgate (GitHub, Facebook).
    RefuseClient,
}

/// The endpoints a zoo answers, by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Discovery,
    Jwks,
    Introspect,
    Userinfo,
    GoogleTokeninfo,
    GithubCheck,
    GithubEmails,
    GitlabTokenInfo,
    SlackAuthTest,
    SlackUserinfo,
    FacebookDebugToken,
    FacebookMe,
}

/// One request a zoo received.
#[derive(Debug, Clone)]
pub struct Call {
    pub endpoint: Option<Endpoint>,
    /// Every token-like value it carried: the `Bearer` header, and the
    /// `token`, `access_token` and `input_token` fields of the query, the form
    /// or the JSON body (Facebook's app token `id|secret` shows up here too).
    pub tokens: Vec<String>,
}

/// A fake provider on `127.0.0.1`, stopped with the test's runtime.
#[derive(Clone)]
pub struct Zoo {
    pub name: &'static str,
    pub addr: SocketAddr,
    state: Arc<ZooState>,
    /// An unreachable zoo's port, bound but not listening, so no other server
    /// can take it while the test runs.
    _held: Option<Arc<TcpSocket>>,
}

struct ZooState {
    fault: Option<Fault>,
    /// (endpoint, token) → (status, body)
    answers: Mutex<HashMap<(Endpoint, String), (u16, Value)>>,
    discovery: Mutex<Option<Value>>,
    calls: Mutex<Vec<Call>>,
}

// === impl Zoo ===

impl Zoo {
    /// A zoo named after the provider it plays, publishing the `rsa1` key.
    pub async fn start(name: &'static str, fault: Option<Fault>) -> Zoo {
        let state = Arc::new(ZooState {
            fault,
            answers: Mutex::default(),
            discovery: Mutex::default(),
            calls: Mutex::default(),
        });
        if fault == Some(Fault::Unreachable) {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = socket.local_addr().unwrap();
            return Zoo {
                name,
                addr,
                state,
                _held: Some(Arc::new(socket)),
            };
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Zoo {
            name,
            addr,
            state,
            _held: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers `endpoint` for `token` with `status` and `body`.
    pub fn answer(&self, endpoint: Endpoint, token: &str, status: u16, body: Value) {
        self.state
            .answers
            .lock()
            .unwrap()
            .insert((endpoint, token.to_owned()), (status, body));
    }

    /// Serves an OpenID configuration naming `issuer`, every endpoint on this zoo.
    pub fn serve_discovery(&self, issuer: &str) {
        *self.state.discovery.lock().unwrap() = Some(json!({
            "issuer": issuer,
            "jwks_uri": self.url("/jwks"),
            "introspection_endpoint": self.url("/introspect"),
            "userinfo_endpoint": self.url("/userinfo"),
            "token_endpoint": self.url("/token"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Whether any call carried this token.
    pub fn received(&self, token: &str) -> bool {
        self.calls()
            .iter()
            .any(|c| c.tokens.iter().any(|t| t == token))
    }

    pub fn calls_to(&self, endpoint: Endpoint) -> usize {
        let calls = self.calls();
        calls
            .iter()
            .filter(|c| c.endpoint == Some(endpoint))
            .count()
    }

    // --- Tokens in each provider's documented shape ---

    /// RFC 7662: introspection answers `claims` with `active: true`, and
    /// userinfo answers them without.
    pub fn introspects(&self, token: &str, claims: Value) {
        let mut answer = claims.clone();
        answer["active"] = json!(true);
        self.answer(Endpoint::Introspect, token, 200, answer);
        self.answer(Endpoint::Userinfo, token, 200, claims);
    }

    /// Google `tokeninfo`: strings for `exp` and `email_verified`.
    pub fn google_token(&self, token: &str, client: &str, email: &str) {
        let info = json!({"azp": client, "aud": client, "sub": "1100", "scope": "openid email",
            "exp": (now() + 3000).to_string(), "expires_in": "3000", "email": email,
            "email_verified": "true", "access_type": "online"});
        self.answer(Endpoint::GoogleTokeninfo, token, 200, info);
    }

    /// GitHub "check a token": the app it was issued to, and the user.
    pub fn github_token(&self, token: &str, app_client_id: &str, login: &str) {
        let check = json!({"id": 1, "token": token, "scopes": ["read:user"],
            "app": {"client_id": app_client_id, "name": "restgate", "url": "https://example.com"},
            "user": {"login": login, "id": 42, "type": "User"}});
        self.answer(Endpoint::GithubCheck, token, 200, check);
    }

    /// GitLab `/oauth/token/info` (the application) and `/oauth/userinfo`.
    pub fn gitlab_token(&self, token: &str, app_uid: &str, username: &str) {
        let info = json!({"resource_owner_id": 7, "scope": ["openid", "read_user"], "expires_in": 7200,
            "application": {"uid": app_uid}, "created_at": now(), "scopes": ["openid"]});
        self.answer(Endpoint::GitlabTokenInfo, token, 200, info);
        let user = json!({"sub": "7", "preferred_username": username, "nickname": username,
            "email": format!("{username}@corp.example"), "email_verified": true});
        self.answer(Endpoint::Userinfo, token, 200, user);
    }

    /// Slack `auth.test` (HTTP 200 always); a bot token carries `bot_id`.
    pub fn slack_token(&self, token: &str, team_id: &str, user: &str, bot: bool) {
        let mut auth = json!({"ok": true, "url": "https://corp.slack.com/", "team": "Corp",
            "user": user, "team_id": team_id, "user_id": "U0ZOO"});
        if bot {
            auth["bot_id"] = json!("B0ZOO");
        }
        self.answer(Endpoint::SlackAuthTest, token, 200, auth);
    }

    /// Facebook `debug_token` (`type` `USER` or `APP`) and, for a user, `/me`.
    pub fn facebook_token(&self, token: &str, app_id: &str, kind: &str, email: Option<&str>) {
        let data = json!({"app_id": app_id, "type": kind, "application": "restgate",
            "expires_at": now() + 5000, "is_valid": true, "issued_at": now(), "scopes": ["email"]});
        self.answer(
            Endpoint::FacebookDebugToken,
            token,
            200,
            json!({ "data": data }),
        );
        if let Some(e) = email {
            let me = json!({"id": "10158", "name": "Someone", "email": e});
            self.answer(Endpoint::FacebookMe, token, 200, me);
        }
    }
}

// === The server ===

/// Which endpoint a request is for: by suffix, so that the paths presets
/// derive from any issuer (`…/protocol/openid-connect/token/introspect`,
/// `…/v1/introspect`, `…/.well-known/jwks.json`) land on the same handlers.
fn endpoint(method: &Method, path: &str) -> Option<Endpoint> {
    let get = method == Method::GET;
    let post = method == Method::POST;
    let keys = ["/jwks", "/keys", "/certs", "/jwks.json"];
    Some(match path {
        p if get && p.ends_with("/.well-known/openid-configuration") => Endpoint::Discovery,
        p if get && keys.iter().any(|k| p.ends_with(k)) => Endpoint::Jwks,
        p if post && p.ends_with("/introspect") => Endpoint::Introspect,
        "/tokeninfo" if post => Endpoint::GoogleTokeninfo,
        p if post && p.starts_with("/applications/") && p.ends_with("/token") => {
            Endpoint::GithubCheck
        }
        "/user/emails" if get => Endpoint::GithubEmails,
        "/oauth/token/info" if get => Endpoint::GitlabTokenInfo,
        "/auth.test" if post => Endpoint::SlackAuthTest,
        "/openid.connect.userInfo" if post => Endpoint::SlackUserinfo,
        "/debug_token" if get => Endpoint::FacebookDebugToken,
        "/me" if get => Endpoint::FacebookMe,
        p if p.ends_with("/userinfo") => Endpoint::Userinfo,
        _ => return None,
    })
}

async fn handle(State(state): State<Arc<ZooState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let ep = endpoint(&parts.method, &path);
    state.calls.lock().unwrap().push(Call {
        endpoint: ep,
        tokens: tokens_in(&parts.headers, &query, &body),
    });
    let Some(ep) = ep else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let broken = state.fault == Some(Fault::BrokenMetadata);
    match ep {
        Endpoint::Discovery if broken => {
            return (StatusCode::OK, "<html>maintenance</html>").into_response();
        }
        Endpoint::Jwks if broken => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "{}").into_response();
        }
        Endpoint::Discovery => {
            return match state.discovery.lock().unwrap().clone() {
                Some(doc) => axum::Json(doc).into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            };
        }
        Endpoint::Jwks => return axum::Json(json!({"keys": [jwk("rsa1")]})).into_response(),
        Endpoint::Introspect | Endpoint::GithubCheck | Endpoint::FacebookDebugToken
            if state.fault == Some(Fault::RefuseClient)
                || !client_authenticated(ep, &path, &parts.headers, &query, &body) =>
        {
            let body = json!({"error": "invalid_client", "error_description": "Client authentication failed"});
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
        _ => {}
    }
    let subject = subject(ep, &parts.headers, &query, &body).unwrap_or_default();
    let known = state.answers.lock().unwrap().get(&(ep, subject)).cloned();
    let (status, body) = known.unwrap_or_else(|| refusal(ep));
    let mut res = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    if ep == Endpoint::Userinfo && status == 401 {
        let challenge = "Bearer error=\"invalid_token\"".parse().unwrap();
        res.headers_mut().insert("www-authenticate", challenge);
    }
    res
}

/// How each endpoint documents "this token is no good".
fn refusal(ep: Endpoint) -> (u16, Value) {
    match ep {
        Endpoint::Introspect => (200, json!({"active": false})),
        Endpoint::Userinfo => (401, json!({"error": "invalid_token"})),
        Endpoint::GoogleTokeninfo => (
            400,
            json!({"error": "invalid_token", "error_description": "Invalid Value"}),
        ),
        Endpoint::GithubCheck => (404, json!({"message": "Not Found"})),
        Endpoint::GithubEmails => (403, json!({"message": "Resource not accessible"})),
        Endpoint::GitlabTokenInfo => (401, json!({"error": "invalid_token"})),
        Endpoint::SlackAuthTest | Endpoint::SlackUserinfo => {
            (200, json!({"ok": false, "error": "invalid_auth"}))
        }
        Endpoint::FacebookDebugToken => (
            200,
            json!({"data": {"is_valid": false, "error": {"code": 190, "message": "Invalid OAuth access token."}}}),
        ),
        Endpoint::FacebookMe => (
            400,
            json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}),
        ),
        Endpoint::Discovery | Endpoint::Jwks => (404, json!({})),
    }
}

/// The token an endpoint is asked about, from where its vendor documents it.
fn subject(ep: Endpoint, headers: &HeaderMap, query: &str, body: &Bytes) -> Option<String> {
    match ep {
        Endpoint::Introspect => field(body, "token"),
        Endpoint::GoogleTokeninfo => field(body, "access_token"),
        Endpoint::GithubCheck => serde_json::from_slice::<Value>(body).ok()?["access_token"]
            .as_str()
            .map(str::to_owned),
        Endpoint::FacebookDebugToken => field(query.as_bytes(), "input_token"),
        _ => bearer(headers),
    }
}

/// restgate's own client authentication, as each endpoint takes it.
fn client_authenticated(
    ep: Endpoint,
    path: &str,
    headers: &HeaderMap,
    query: &str,
    body: &Bytes,
) -> bool {
    let ours = |id: &str, secret: &str| id == CLIENT_ID && secret == CLIENT_SECRET;
    let basic = basic(headers);
    match ep {
        Endpoint::Introspect => match basic {
            Some((id, secret)) => ours(&id, &secret),
            None => ours(
                &field(body, "client_id").unwrap_or_default(),
                &field(body, "client_secret").unwrap_or_default(),
            ),
        },
        Endpoint::GithubCheck => {
            path == format!("/applications/{CLIENT_ID}/token")
                && basic.is_some_and(|(id, secret)| ours(&id, &secret))
        }
        Endpoint::FacebookDebugToken => {
            field(query.as_bytes(), "access_token") == Some(format!("{CLIENT_ID}|{CLIENT_SECRET}"))
        }
        _ => true,
    }
}

fn tokens_in(headers: &HeaderMap, query: &str, body: &Bytes) -> Vec<String> {
    const FIELDS: [&str; 3] = ["token", "access_token", "input_token"];
    let mut out: Vec<String> = bearer(headers).into_iter().collect();
    let json = serde_json::from_slice::<Value>(body).ok();
    for name in FIELDS {
        out.extend(field(query.as_bytes(), name));
        match &json {
            Some(j) => out.extend(j.get(name).and_then(Value::as_str).map(str::to_owned)),
            None => out.extend(field(body, name)),
        }
    }
    out
}

/// A field of a form or query string.
fn field(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// `client_secret_basic`: both halves form-encoded before base64 (RFC 6749 §2.3.1).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get("authorization")?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Basic ")?)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let decode = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}
