//! What the layers below the access log tell it about a request (a response
//! extension), and the request id header.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use crate::core::principal::Principal;

/// The request id header: kept when a client or load balancer sends a sane one,
/// else generated; forwarded upstream and returned to the client.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the layers below tell the access log (a response extension).
#[derive(Debug, Clone, Default)]
pub struct RequestNote {
    /// `authenticated`, `passed`, `refused` or `error`.
    pub outcome: &'static str,
    /// A reason code for refusals and errors.
    pub reason: &'static str,
    /// Who the request was handed off as (user, and the provider or
    /// `api_key` that vouched), if anyone.
    pub principal: Option<Arc<Principal>>,
    /// `hit`, `miss`, `coalesced` or `stale`.
    pub cache: Option<&'static str>,
    /// Time from the request sent upstream to its response head.
    pub upstream: Option<Duration>,
}
