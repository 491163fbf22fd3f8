//! restgate: a REST API authentication gateway for Atlassian Jira, Confluence and
//! Bitbucket Data Center.
//!
//! A request's path through the crate: [`server`] accepts it, [`stack`] runs it
//! through the layers (strip spoofable headers, error boundary, [`auth`]), and
//! [`proxy`] forwards it with the identity hand-off. [`providers`] answer
//! "who is this token?"; [`config`] is the validated TOML file.

pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod core;
pub mod diagnose;
pub mod http1;
pub mod layers;
pub mod providers;
pub mod proxy;
pub mod server;
pub mod stack;
pub mod telemetry;
#[doc(hidden)]
pub mod test_support;
