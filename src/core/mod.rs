//! The types every layer shares, importing nothing of restgate's: the bearer
//! token, the principal a credential acts as (or why it is refused), the
//! clock, canonical paths, and why restgate answers a request itself.

pub mod budget;
pub mod clock;
pub mod error;
pub mod headers;
pub mod path;
pub mod principal;
pub mod token;
