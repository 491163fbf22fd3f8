//! The request stack's middleware, one file each, outermost first as
//! `stack::build` assembles them: the access log, the strip of spoofable
//! headers, the error boundary, and authentication.

pub mod access;
pub mod auth;
pub mod boundary;
pub mod strip;
