//! Token validation by the providers: "who is this?", separate from HTTP serving.
//!
//! A provider takes a token and returns its raw answer, or a typed error. The
//! [`ProviderSet`] routes a token to the provider(s) that may have issued it
//! ([`route`]) and maps the answer to a [`Verdict`]; it is the tower service
//! the cache layer wraps.

mod answer;
mod client;
pub mod health;
mod http;
mod introspection;
pub mod jwt;
pub mod mapping;
pub mod oidc;
pub mod route;
mod set;
mod userinfo;
mod vendor;

pub use answer::{Answer, ProviderError, ProviderErrorKind};
pub use client::ProviderClient;
pub use http::{client_builder, http_client, http_client_trusting};
pub use set::{ProviderSet, Seen, ask};
