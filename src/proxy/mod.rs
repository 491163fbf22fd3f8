//! Forwarding to the Atlassian instance: hop-by-hop rules, `X-Forwarded-*`,
//! upgrades, and the identity hand-off.

pub mod forward;
pub mod handoff;
pub mod headers;
pub mod oauth1;
pub mod upstream;

pub use forward::{Peer, Proxy};
pub use upstream::{Body, RequestBody, UpstreamBody};
