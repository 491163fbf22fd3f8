//! What the admin endpoints and the console share: building an answer, and
//! evicting cached validations (one decision about what an eviction reached,
//! told as JSON by one and as a page by the other).

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

use crate::core::token::Token;
use crate::stack::Gateway;

/// An answer with a body and its content type.
pub fn body(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    res
}

/// What to evict.
pub enum Target<'a> {
    /// Every entry acting as this user.
    User(&'a str),
    /// This token's entry.
    Token(Token),
}

/// How far an eviction reached.
pub enum Reach {
    /// This replica, which shares with no other.
    Alone,
    /// Every replica, told through Redis.
    Every,
    /// This replica only: Redis could not be reached (why).
    ThisOnly(String),
}

/// Evicts `target` from the running gateway's cache (every replica's with a
/// cluster), logs it, and says how far it reached.
pub async fn evict(gw: &Gateway, target: Target<'_>) -> Reach {
    let done = match &target {
        Target::User(user) => {
            tracing::info!(user, "Evicted a user's cache entries");
            gw.cache.evict_user(user).await
        }
        Target::Token(token) => {
            tracing::info!("Evicted a token's cache entry");
            gw.cache.evict_token(token).await
        }
    };
    match (gw.cache.tier().is_some(), done) {
        (false, _) => Reach::Alone,
        (true, Ok(())) => Reach::Every,
        (true, Err(why)) => {
            tracing::warn!(error = %why, "An eviction reached this replica only");
            Reach::ThisOnly(why)
        }
    }
}
