//! Typed configuration: what the rest of restgate reads.
//!
//! `raw` holds the file as written; `validate` turns it into the types of
//! `types` and `provider`, reporting every problem at once with file, line
//! and key. Nothing here imports the layers that read it.

mod attr;
mod locate;
pub mod oauth1;
mod provider;
pub mod raw;
mod secret;
pub mod tls;
mod types;
mod validate;

pub use attr::parse_attr;
pub use provider::*;
pub use secret::{Secret, SecretSource};
pub use types::*;
pub use validate::{
    ConfigError, ConfigErrors, directory_key, is_guid, load, load_without_secrets, parse,
};
