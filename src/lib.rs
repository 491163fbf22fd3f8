//! restgate: a REST API authentication gateway for Atlassian Jira, Confluence and
//! Bitbucket Data Center.
//!
//! A request's path through the crate: [`server`] accepts it, [`stack`] runs it
//! through the layers (strip spoofable headers, error boundary, [`auth`]), and
//! [`proxy`] forwards it with the identity hand-off. [`providers`] answer
//! "who is this token?"; [`config`] is the validated TOML file.

pub mod access;
pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod http1;
pub mod metrics;
pub mod providers;
pub mod proxy;
pub mod server;
pub mod stack;
#[doc(hidden)]
pub mod test_support;

use bytes::Bytes;
use http_body_util::{Either, Full};

/// Response bodies: the upstream's, streamed, or one restgate wrote itself.
pub type Body = Either<proxy::UpstreamBody, Full<Bytes>>;

/// Request bodies as forwarded: the client's, streamed, or a form body read
/// to sign its parameters.
pub type RequestBody = Either<hyper::body::Incoming, Full<Bytes>>;
