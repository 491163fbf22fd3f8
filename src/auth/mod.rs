//! Authentication: classify the credential, validate it (cached), map the
//! answer to a user, look the user up, and route policy. The layer that runs
//! these per request is `layers::auth`.

pub mod api_key;
pub mod budget;
pub mod cache;
pub mod client_addr;
pub mod credential;
pub mod directory;
pub mod route;
