//! Helpers for the crate's unit tests.

use std::time::{Duration, Instant};

/// Yields to the runtime until `done` holds; fails the test with `what`
/// after 10 s.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::task::yield_now().await;
    }
}
