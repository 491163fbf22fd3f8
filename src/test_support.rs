//! Helpers for tests, the crate's own and the integration tests' (not part
//! of the API).

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
