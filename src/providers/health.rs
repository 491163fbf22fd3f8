//! A provider's health, kept per provider: one provider's failures are its
//! own state and nobody else's (SPEC §3 "Several providers"). Every function
//! takes the time it is asked at, so the rules are pure functions of an
//! injected clock.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::answer::ProviderError;

/// How long after its last failure (with no success since) a provider counts
/// as down. Past it the provider is `unknown` again, so that a replica whose
/// providers all failed does not stay unready with no traffic to learn from.
pub const DOWN_FOR: u64 = 30;

/// The rolling window of `calls_last_minute` (seconds, one bucket each).
const WINDOW: usize = 60;

/// What a provider's calls have shown.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_success: Option<u64>,
    last_error: Option<LastError>,
    /// The latest outcome was a failure.
    failing: bool,
    /// One bucket per second of the last minute: (the second, calls, errors).
    window: Vec<(u64, u32, u32)>,
}

/// The latest failure, without any token or URL: its reason code and the
/// error's own text (provider errors carry neither).
#[derive(Debug, Clone)]
struct LastError {
    at: u64,
    reason: &'static str,
    message: String,
}

/// A provider's state as `/status` and `/readyz` read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Its last call was answered.
    Up,
    /// Its last call, less than [`DOWN_FOR`] ago, failed.
    Down,
    /// Not asked yet, or not lately.
    Unknown,
}

impl Condition {
    /// The word `/status` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Up => "up",
            Condition::Down => "down",
            Condition::Unknown => "unknown",
        }
    }
}

// === impl Health ===

impl Health {
    /// Records one call (or metadata fetch) at `now` (Unix seconds).
    pub fn record(&self, now: u64, outcome: Result<(), &ProviderError>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let failed = outcome.is_err();
        s.failing = failed;
        match outcome {
            Ok(()) => s.last_success = Some(now),
            Err(e) => {
                s.last_error = Some(LastError {
                    at: now,
                    reason: e.status_label(),
                    message: e.kind.to_string(),
                })
            }
        }
        s.window
            .retain(|(t, _, _)| now.saturating_sub(*t) < WINDOW as u64);
        match s.window.iter_mut().find(|(t, _, _)| *t == now) {
            Some(b) => {
                b.1 += 1;
                b.2 += u32::from(failed);
            }
            None => s.window.push((now, 1, u32::from(failed))),
        }
    }

    /// Up, down or unknown at `now`.
    pub fn state(&self, now: u64) -> Condition {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match (&s.last_error, s.last_success) {
            (Some(e), _) if s.failing && now.saturating_sub(e.at) < DOWN_FOR => Condition::Down,
            (_, Some(_)) if !s.failing => Condition::Up,
            _ => Condition::Unknown,
        }
    }

    /// The JSON fields `/status` shows for this provider at `now`.
    pub fn report(&self, now: u64) -> Value {
        let state = self.state(now);
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let recent = s
            .window
            .iter()
            .filter(|(t, _, _)| now.saturating_sub(*t) < WINDOW as u64);
        let (calls, errors) = recent.fold((0u64, 0u64), |(c, e), (_, bc, be)| {
            (c + u64::from(*bc), e + u64::from(*be))
        });
        json!({
            "state": state.as_str(),
            "last_success_at": s.last_success,
            "last_error": s.last_error.as_ref().map(|e| json!({
                "at": e.at,
                "reason": e.reason,
                "message": e.message,
            })),
            "calls_last_minute": calls,
            "errors_last_minute": errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::providers::ProviderErrorKind;

    fn failure() -> ProviderError {
        ProviderError::new(&Arc::from("p"), ProviderErrorKind::Timeout)
    }

    #[test]
    fn a_failure_is_down_until_a_success_or_until_it_ages() {
        let h = Health::default();
        assert_eq!(h.state(1000), Condition::Unknown, "never asked");
        h.record(1000, Ok(()));
        assert_eq!(h.state(1000), Condition::Up);
        h.record(1001, Err(&failure()));
        assert_eq!(h.state(1001), Condition::Down);
        assert_eq!(h.state(1001 + DOWN_FOR - 1), Condition::Down);
        assert_eq!(h.state(1001 + DOWN_FOR), Condition::Unknown, "aged");
        h.record(1001, Ok(()));
        assert_eq!(h.state(1001), Condition::Up, "a success ends it");
    }

    #[test]
    fn the_window_counts_the_last_minute_only() {
        let h = Health::default();
        h.record(100, Ok(()));
        h.record(100, Err(&failure()));
        h.record(130, Ok(()));
        let r = h.report(130);
        assert_eq!(
            (
                r["calls_last_minute"].as_u64(),
                r["errors_last_minute"].as_u64()
            ),
            (Some(3), Some(1))
        );
        let r = h.report(160);
        assert_eq!(
            r["calls_last_minute"], 1,
            "the calls at 100 left the window"
        );
        assert_eq!(r["last_error"]["reason"], "timeout");
        assert_eq!(r["last_error"]["at"], 100);
        assert_eq!(r["last_success_at"], 130);
    }
}
