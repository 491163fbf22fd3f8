//! The fast HTTP/1.1 path: a server loop and an upstream client that read
//! and write HTTP/1.1 with httparse and the `http` types instead of hyper's
//! connection machinery, for the requests API clients send most (bodyless
//! HTTP/1.1 requests, bodyless upstream exchanges).
//!
//! It is one isolated module: it imports nothing of restgate's, runs no
//! request policy (every request still goes through the one stack), and
//! hands anything it does not answer exactly as hyper would to hyper.
//! `server.fast_http1 = false` (or `RESTGATE_FAST_HTTP1=0`) leaves every
//! connection and every upstream exchange to hyper; a differential fuzzer
//! holds both paths to the same bytes.
//!
//! - [`head`]: heads as bytes (spans, header maps sharing the head, lines).
//! - [`framing`]: RFC 9112 §6.3, one rule for both sides.
//! - [`server`]: the loop; [`write`] its response writer; [`prefixed`] the
//!   hand-over to hyper.
//! - [`client`]: one exchange on a kept-alive connection; [`body`] the
//!   response body and the return to the caller's pool.

pub mod body;
pub mod client;
pub mod framing;
pub mod head;
pub mod prefixed;
pub mod server;
mod write;
