//! Authentication: classify the credential, validate it, map it to a user, check
//! the route's requirements. Only `layer.rs` and `error.rs` know about HTTP.

pub mod api_key;
pub mod cache;
pub mod credential;
pub mod directory;
pub mod error;
pub mod identity;
pub mod layer;
pub mod route;

pub use error::GatewayError;
pub use layer::{AuthLayer, AuthService, Handoff};
