//! How long a cached answer lives (README "[cache]"), as pure functions of
//! the time a [`Clock`](super::Clock) read:
//!
//! - a positive answer answers for `min(ttl, exp − now)`;
//! - a refusal answers for `negative_ttl`;
//! - a positive answer may stand in while the providers fail for
//!   `stale_if_error` past its life, never past the token's `exp`;
//! - a provider failure is no answer and has no life: the fill never stores
//!   one (moka's `or_try_insert_with` keeps only `Ok`).
//!
//! An entry carries the instant it stops answering, and a hit compares it
//! with one read of the clock. Under the system clock moka's own timer drops
//! the entry at that same instant; that only frees its memory, whether it
//! answers is decided here.

use std::time::{Duration, Instant};

use moka::Expiry;

use super::clock::Now;
use super::key::Key;
use crate::config::Cache as CacheConfig;
use crate::core::principal::Verdict;

/// The longest life an entry is given: longer than any process runs, and
/// short enough that adding it to an `Instant` cannot overflow.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// One cached verdict and until when it answers.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) verdict: Verdict,
    /// The instant, on the cache's clock, at which it stops answering.
    pub(super) until: Instant,
    /// The token's own expiry (Unix seconds): the principal is shared between
    /// the tokens of one identity, so the expiry lives here.
    pub(super) exp: Option<u64>,
}

/// Until when a fresh answer answers: `min(ttl, exp − now)` for a positive
/// one, `negative_ttl` for a refusal.
pub(super) fn fresh_until(config: &CacheConfig, verdict: &Verdict, now: Now) -> Instant {
    let life = match verdict {
        Verdict::Active(p) => match p.exp {
            Some(exp) => config.ttl.min(until_exp(exp, now)),
            None => config.ttl,
        },
        Verdict::Refused(_) => config.negative_ttl,
    };
    after(now.at, life)
}

/// Until when a positive answer may stand in for failing providers: its life
/// plus `stale_if_error`, never past the token's `exp`.
pub(super) fn stale_until(config: &CacheConfig, fresh: &Entry, now: Now) -> Instant {
    let window_end = after(fresh.until, config.stale_if_error);
    match fresh.exp {
        Some(exp) => window_end.min(after(now.at, until_exp(exp, now))),
        None => window_end,
    }
}

/// Whether an entry that answers until `until` answers at `now`.
#[inline]
pub(super) fn answers(until: Instant, now: Instant) -> bool {
    now < until
}

/// Whether a kept positive may stand in at `now`: inside its window, and
/// before the token's `exp` by the wall clock too, whatever the monotonic
/// one did.
pub(super) fn may_stand_in(kept: &Entry, now: Now) -> bool {
    answers(kept.until, now.at) && kept.exp.is_none_or(|exp| exp > now.unix)
}

/// Time left before `exp`, in the whole seconds `exp` is written in.
fn until_exp(exp: u64, now: Now) -> Duration {
    Duration::from_secs(exp.saturating_sub(now.unix))
}

fn after(at: Instant, life: Duration) -> Instant {
    at + life.min(FOREVER)
}

/// Moka's per-entry timer, which only frees memory. Under the system clock it
/// drops an entry when the entry stops answering; under a manual clock, never:
/// there the test says when time passes, and a hit finds the entry ended.
pub(super) struct MokaTimer {
    pub(super) system_clock: bool,
}

impl MokaTimer {
    fn life(&self, entry: &Entry, now: Instant) -> Option<Duration> {
        self.system_clock
            .then(|| entry.until.saturating_duration_since(now))
    }
}

impl Expiry<Key, Entry> for MokaTimer {
    fn expire_after_create(&self, _key: &Key, value: &Entry, now: Instant) -> Option<Duration> {
        self.life(value, now)
    }

    fn expire_after_update(
        &self,
        _key: &Key,
        value: &Entry,
        now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        self.life(value, now)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::core::principal::{Principal, Refusal};

    const MIN: Duration = Duration::from_secs(60);

    fn config(ttl: u64, negative_ttl: u64, stale_if_error: u64) -> CacheConfig {
        CacheConfig {
            max_entries: 10,
            ttl: Duration::from_secs(ttl),
            negative_ttl: Duration::from_secs(negative_ttl),
            stale_if_error: Duration::from_secs(stale_if_error),
        }
    }

    fn active(exp: Option<u64>) -> Verdict {
        Verdict::Active(Arc::new(Principal {
            user: "alice".into(),
            email: None,
            provider: Arc::from("idp"),
            client_id: None,
            client_credentials: false,
            scopes: Vec::new(),
            audiences: Vec::new(),
            exp,
        }))
    }

    fn now() -> Now {
        Now {
            at: Instant::now(),
            unix: 1_700_000_000,
        }
    }

    /// The life a fresh entry gets, in seconds.
    fn life(config: &CacheConfig, verdict: &Verdict, now: Now) -> u64 {
        (fresh_until(config, verdict, now) - now.at).as_secs()
    }

    #[test]
    fn a_positive_answer_lives_the_ttl_or_until_its_exp_whichever_is_sooner() {
        let (c, n) = (config(300, 30, 0), now());
        for (exp, want) in [
            (None, 300),
            (Some(n.unix + 3600), 300),
            (Some(n.unix + 2), 2),
            (Some(n.unix), 0),
            (Some(n.unix - 5), 0),
        ] {
            assert_eq!(life(&c, &active(exp), n), want, "exp {exp:?}");
        }
    }

    #[test]
    fn a_refusal_lives_the_negative_ttl_whatever_the_ttl() {
        let refused = Verdict::Refused(Refusal::Inactive);
        assert_eq!(life(&config(300, 30, 0), &refused, now()), 30);
        assert_eq!(life(&config(1, 3600, 0), &refused, now()), 3600);
    }

    #[test]
    fn an_entry_answers_up_to_but_not_at_its_end() {
        let start = Instant::now();
        let until = start + MIN;
        assert!(answers(until, start));
        assert!(answers(until, until - Duration::from_nanos(1)));
        assert!(!answers(until, until));
        assert!(!answers(start, start), "a life of zero never answers");
    }

    #[test]
    fn a_stale_copy_stands_in_for_its_window_past_its_life_never_past_exp() {
        let (c, n) = (config(60, 30, 3600), now());
        let entry = |exp| Entry {
            verdict: active(exp),
            until: n.at + MIN,
            exp,
        };
        let window = |exp| stale_until(&c, &entry(exp), n) - n.at;
        assert_eq!(window(None), MIN + Duration::from_secs(3600));
        assert_eq!(window(Some(n.unix + 600)), Duration::from_secs(600));
        assert_eq!(window(Some(n.unix - 1)), Duration::ZERO);
    }

    #[test]
    fn a_stale_copy_never_stands_in_past_exp_even_if_the_wall_clock_jumped() {
        let n = now();
        let kept = Entry {
            verdict: active(Some(n.unix + 10)),
            until: n.at + MIN,
            exp: Some(n.unix + 10),
        };
        assert!(may_stand_in(&kept, n));
        let jumped = Now {
            unix: n.unix + 10,
            ..n
        };
        assert!(
            !may_stand_in(&kept, jumped),
            "monotonic time says yes, exp no"
        );
        let later = Now {
            at: n.at + MIN,
            ..n
        };
        assert!(!may_stand_in(&kept, later), "its window is over");
    }

    #[test]
    fn moka_frees_an_entry_when_it_ends_under_the_system_clock_only() {
        let start = Instant::now();
        let entry = Entry {
            verdict: active(None),
            until: start + MIN,
            exp: None,
        };
        let system = MokaTimer { system_clock: true };
        assert_eq!(system.life(&entry, start), Some(MIN));
        assert_eq!(system.life(&entry, start + 2 * MIN), Some(Duration::ZERO));
        let manual = MokaTimer {
            system_clock: false,
        };
        assert_eq!(manual.life(&entry, start), None);
        assert!(after(start, Duration::MAX) > start, "no overflow");
    }
}
