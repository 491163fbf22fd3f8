//! The cache's clock: the system's, or a manual one that a test advances, so
//! every lifetime rule can be checked without waiting for it to pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::core::clock::unix_now;

/// The time as the cache reads it when it fills an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic: entry lives are measured on it, as moka measured them, so a
    /// step of the wall clock neither ends nor extends one.
    pub at: Instant,
    /// Seconds since the Unix epoch: the unit of a token's `exp`.
    pub unix: u64,
}

/// Where the cache reads the time: the system clock unless a test gives it a
/// [`ManualClock`]'s.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None` is the system clock. A cache hit reads the clock once; with
    /// the system's, that read is one branch and `Instant::now()`.
    manual: Option<Arc<Manual>>,
}

// === impl Clock ===

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The monotonic time only: what a cache hit compares an entry with.
    #[inline]
    pub fn instant(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(m) => m.start + m.elapsed(),
        }
    }

    /// Both times, for a fill (which sets a life from a token's `exp`) and
    /// for a stale answer (which is never given past `exp`).
    pub fn now(&self) -> Now {
        match &self.manual {
            None => Now {
                at: Instant::now(),
                unix: unix_now(),
            },
            Some(m) => {
                let elapsed = m.elapsed();
                Now {
                    at: m.start + elapsed,
                    unix: m.unix_start + elapsed.as_secs(),
                }
            }
        }
    }

    /// Whether this is the system clock, the one moka's own timer follows.
    pub(super) fn is_system(&self) -> bool {
        self.manual.is_none()
    }
}

/// A clock that moves only when told, for tests. It starts at the system's
/// time, on a whole second, so a token's `exp` written as "[`unix_now`] + n"
/// means what it says, and then stands still until [`advance`](Self::advance).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Manual>);

#[derive(Debug)]
struct Manual {
    start: Instant,
    unix_start: u64,
    elapsed_nanos: AtomicU64,
}

impl Manual {
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Acquire))
    }
}

// === impl ManualClock ===

impl ManualClock {
    /// A clock standing at the system's time now.
    pub fn new() -> ManualClock {
        ManualClock(Arc::new(Manual {
            start: Instant::now(),
            unix_start: unix_now(),
            elapsed_nanos: AtomicU64::new(0),
        }))
    }

    /// The [`Clock`] to give the cache; it reads this one.
    pub fn clock(&self) -> Clock {
        Clock {
            manual: Some(self.0.clone()),
        }
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).expect("an advance of under 584 years");
        self.0.elapsed_nanos.fetch_add(nanos, Ordering::AcqRel);
    }

    /// Unix seconds by this clock.
    pub fn unix_now(&self) -> u64 {
        self.clock().now().unix
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_both_times_together_and_only_when_told() {
        let time = ManualClock::new();
        let clock = time.clock();
        let before = clock.now();
        assert_eq!(clock.now(), before, "it stands still");
        time.advance(Duration::from_millis(2_500));
        let after = clock.now();
        assert_eq!(after.at - before.at, Duration::from_millis(2_500));
        assert_eq!(after.unix - before.unix, 2, "whole seconds, like exp");
        assert_eq!(clock.instant(), after.at);
        assert!(!clock.is_system() && Clock::system().is_system());
    }
}
