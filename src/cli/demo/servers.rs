//! The demo's example identity provider and mock Jira: small hyper services on
//! 127.0.0.1, enough to show every path through restgate.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{CI_SECRET, GATEWAY_SECRET, JIRA_SECRET};
use crate::core::clock::unix_now;

/// alice's access token at the example provider.
pub const ALICE_TOKEN: &str = "demo-alice-token";

type Tokens = Arc<Mutex<HashMap<String, Value>>>;

/// The example provider.
pub struct Provider {
    /// Where it listens.
    pub addr: SocketAddr,
    tokens: Tokens,
}

impl Provider {
    /// Issues a client-credentials token for `client`, as the token endpoint would.
    pub fn mint_client_token(&self, client: &str) -> String {
        mint(&self.tokens, client)
    }
}

fn mint(tokens: &Tokens, client: &str) -> String {
    let id: [u8; 16] = rand::random();
    let token = format!(
        "demo-cc-{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let claims = json!({"client_id": client, "sub": client, "scope": "read", "token_type": "Bearer", "exp": unix_now() + 3600});
    tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token.clone(), claims);
    token
}

/// Starts the example provider: introspection, userinfo, token endpoint.
pub async fn start_provider() -> std::io::Result<Provider> {
    let tokens: Tokens = Arc::default();
    tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(
        ALICE_TOKEN.into(),
        json!({"username": "alice", "email": "alice@example.com", "email_verified": true, "scope": "read write",
               "client_id": "demo-cli", "sub": "0c1f-alice", "token_type": "Bearer", "exp": unix_now() + 86_400}),
    );
    let t = tokens.clone();
    let addr = serve(move |req| provider(t.clone(), req)).await?;
    Ok(Provider { addr, tokens })
}

/// Starts the mock Jira.
pub async fn start_jira() -> std::io::Result<SocketAddr> {
    serve(|req| async move { Ok(jira(&req)) }).await
}

/// Serves HTTP/1.1 on 127.0.0.1 with a handler.
async fn serve<F, Fut>(handler: F) -> std::io::Result<SocketAddr>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = service_fn(handler);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    res
}

/// The Basic credentials of a request.
fn basic(req: &Request<Incoming>) -> Option<(String, String)> {
    let v = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(v).ok()?).ok()?;
    decoded
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
}

async fn provider(
    tokens: Tokens,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let creds = basic(&req);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let route = (req.method().clone(), req.uri().path().to_owned());
    let form: HashMap<String, String> =
        match Limited::new(req.into_body(), 64 * 1024).collect().await {
            Ok(b) => form_urlencoded::parse(&b.to_bytes()).into_owned().collect(),
            Err(_) => HashMap::new(),
        };
    let lookup = |t: &str| {
        tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(t)
            .cloned()
    };
    Ok(match (route.0, route.1.as_str()) {
        (Method::POST, "/introspect") => {
            if creds != Some(("demo-gateway".into(), GATEWAY_SECRET.into())) {
                return Ok(reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "invalid_client"}),
                ));
            }
            match form.get("token").and_then(|t| lookup(t)) {
                Some(mut claims) => {
                    claims["active"] = json!(true);
                    reply(StatusCode::OK, claims)
                }
                None => reply(StatusCode::OK, json!({"active": false})),
            }
        }
        (Method::GET, "/userinfo") => match bearer.as_deref().and_then(lookup) {
            Some(claims) => reply(StatusCode::OK, claims),
            None => reply(StatusCode::UNAUTHORIZED, json!({"error": "invalid_token"})),
        },
        (Method::POST, "/token") => {
            if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
                return Ok(reply(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "unsupported_grant_type"}),
                ));
            }
            let client = creds.or_else(|| {
                Some((
                    form.get("client_id")?.clone(),
                    form.get("client_secret")?.clone(),
                ))
            });
            match client {
                // Two clients may use the grant: the CI job, and restgate's
                // own client (what `restgate fetch-token` sends).
                Some((id, secret))
                    if (id == "demo-ci" && secret == CI_SECRET)
                        || (id == "demo-gateway" && secret == GATEWAY_SECRET) =>
                {
                    let token = mint(&tokens, &id);
                    reply(
                        StatusCode::OK,
                        json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "read"}),
                    )
                }
                _ => reply(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"})),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    })
}

/// A Jira that trusts `X-Forwarded-User` only with the shared secret, the way a
/// header authenticator behind restgate is set up.
fn jira(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let h = req.headers();
    let secret_ok = h.get("x-restgate-secret").and_then(|v| v.to_str().ok()) == Some(JIRA_SECRET);
    let user = h
        .get("x-forwarded-user")
        .and_then(|v| v.to_str().ok())
        .filter(|_| secret_ok)
        .map(str::to_owned);
    let mut res = match (req.uri().path(), &user) {
        ("/rest/api/2/myself", Some(u)) => {
            let email = h
                .get("x-forwarded-email")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            reply(
                StatusCode::OK,
                json!({"name": u, "displayName": u, "emailAddress": email, "active": true}),
            )
        }
        ("/rest/api/2/myself", None) => reply(
            StatusCode::UNAUTHORIZED,
            json!({"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}}),
        ),
        (path, _) => reply(StatusCode::OK, json!({"mock": "Jira", "path": path})),
    };
    let who = user.as_deref().unwrap_or("anonymous");
    if let Ok(v) = header::HeaderValue::from_str(who) {
        res.headers_mut().insert("x-ausername", v);
    }
    res
}
