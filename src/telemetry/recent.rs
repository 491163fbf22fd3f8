//! What the admin console shows of the recent past, kept in process: the last
//! authentication decisions and, per minute of the last hour, requests by
//! outcome and provider call latency. Never a token, a key or a query string:
//! a decision keeps the path, the request id and who it acted as.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;

use crate::core::principal::Principal;

/// How many decisions are kept.
pub const DECISIONS_KEPT: usize = 500;

/// The longest path a decision keeps (bytes); longer ones are cut.
pub const PATH_KEPT: usize = 512;

/// Minutes of history kept.
pub const MINUTES: usize = 60;

/// The outcomes counted per minute, in chart order.
pub const OUTCOMES: [&str; 4] = ["authenticated", "refused", "passed", "error"];

/// One authentication decision, as the access log saw it.
#[derive(Debug, Clone)]
pub struct Decision {
    /// When it was answered.
    pub at: SystemTime,
    /// The request id (the client's, if sane, else restgate's).
    pub request_id: Box<str>,
    /// The method.
    pub method: Method,
    /// The path, without the query. Copied: a parsed request's parts may
    /// share the bytes of the whole buffer it was read into, which 500 kept
    /// decisions would otherwise keep alive.
    pub path: Box<str>,
    /// The HTTP status answered.
    pub status: u16,
    /// `authenticated`, `refused` or `error`.
    pub outcome: &'static str,
    /// The reason code of a refusal or error.
    pub reason: &'static str,
    /// Who it acted as.
    pub principal: Option<Arc<Principal>>,
    /// The cache result.
    pub cache: Option<&'static str>,
}

/// One minute of history.
#[derive(Debug, Clone, Default)]
pub struct Minute {
    /// Minutes since the Unix epoch.
    pub minute: u64,
    /// Requests per outcome, in [`OUTCOMES`] order (others count as error).
    pub requests: [u32; 4],
    /// Per provider: calls, failed calls and the summed call time.
    pub providers: Vec<ProviderMinute>,
}

/// One provider's calls in one minute.
#[derive(Debug, Clone)]
pub struct ProviderMinute {
    /// The provider's name.
    pub provider: String,
    /// Calls made.
    pub calls: u32,
    /// Calls that failed.
    pub errors: u32,
    /// Their summed duration.
    pub total: Duration,
}

#[derive(Default)]
struct Inner {
    decisions: VecDeque<Decision>,
    minutes: VecDeque<Minute>,
}

/// The recent past (shared by every reload, like the metrics).
#[derive(Default)]
pub struct Recent {
    inner: Mutex<Inner>,
}

fn minute_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 60
}

// === impl Recent ===

impl Recent {
    /// The minute `t` falls in, created (and the oldest dropped) if new.
    fn minute(inner: &mut Inner, t: SystemTime) -> &mut Minute {
        let m = minute_of(t);
        if inner.minutes.back().is_none_or(|b| b.minute < m) {
            inner.minutes.push_back(Minute {
                minute: m,
                ..Minute::default()
            });
            while inner
                .minutes
                .front()
                .is_some_and(|f| f.minute + MINUTES as u64 <= m)
            {
                inner.minutes.pop_front();
            }
        }
        let back = inner.minutes.len() - 1;
        // A clock step back lands in the newest minute.
        let at = inner
            .minutes
            .iter()
            .rposition(|x| x.minute <= m)
            .unwrap_or(back);
        &mut inner.minutes[at]
    }

    /// Counts an answered request with `outcome` in the minute of `at`.
    pub fn count(&self, outcome: &str, at: SystemTime) {
        let slot = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(3);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::minute(&mut inner, at).requests[slot] += 1;
    }

    /// Records an answered request; decisions (anything but a pass-through)
    /// join the list.
    pub fn request(&self, d: Decision) {
        let slot = OUTCOMES.iter().position(|o| *o == d.outcome).unwrap_or(3);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::minute(&mut inner, d.at).requests[slot] += 1;
        if d.outcome != "passed" {
            if inner.decisions.len() == DECISIONS_KEPT {
                inner.decisions.pop_front();
            }
            inner.decisions.push_back(d);
        }
    }

    /// A path as a decision keeps it: at most [`PATH_KEPT`] bytes, so that
    /// 500 decisions stay small whatever clients send.
    pub fn clip(path: &str) -> Box<str> {
        if path.len() <= PATH_KEPT {
            return path.into();
        }
        let mut end = PATH_KEPT;
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &path[..end]).into()
    }

    /// Records one provider call.
    pub fn provider_call(&self, provider: &str, took: Duration, failed: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let minute = Self::minute(&mut inner, SystemTime::now());
        let p = match minute.providers.iter().position(|p| p.provider == provider) {
            Some(i) => &mut minute.providers[i],
            None => {
                minute.providers.push(ProviderMinute {
                    provider: provider.to_owned(),
                    calls: 0,
                    errors: 0,
                    total: Duration::ZERO,
                });
                minute.providers.last_mut().expect("just pushed")
            }
        };
        p.calls += 1;
        p.errors += u32::from(failed);
        p.total += took;
    }

    /// The decisions kept, newest first.
    pub fn decisions(&self) -> Vec<Decision> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.decisions.iter().rev().cloned().collect()
    }

    /// The last hour at `now`, one entry per minute, oldest first; minutes
    /// without traffic are empty entries.
    pub fn history(&self, now: SystemTime) -> Vec<Minute> {
        let last = minute_of(now);
        let first = last + 1 - MINUTES as u64;
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (first..=last)
            .map(|m| {
                inner
                    .minutes
                    .iter()
                    .find(|x| x.minute == m)
                    .cloned()
                    .unwrap_or(Minute {
                        minute: m,
                        ..Minute::default()
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(at: SystemTime, outcome: &'static str) -> Decision {
        Decision {
            at,
            request_id: "r1".into(),
            method: Method::GET,
            path: "/rest/api/2/myself".into(),
            status: 200,
            outcome,
            reason: "",
            principal: None,
            cache: Some("hit"),
        }
    }

    #[test]
    fn keeps_the_last_decisions_newest_first_and_skips_pass_throughs() {
        let r = Recent::default();
        let now = SystemTime::now();
        for _ in 0..DECISIONS_KEPT + 10 {
            r.request(decision(now, "authenticated"));
        }
        r.request(decision(now, "passed"));
        r.request(decision(now, "refused"));
        let d = r.decisions();
        assert_eq!(d.len(), DECISIONS_KEPT);
        assert_eq!(d[0].outcome, "refused");
        let h = r.history(now);
        assert_eq!(h.len(), MINUTES);
        let last = h.last().unwrap();
        assert_eq!(last.requests, [DECISIONS_KEPT as u32 + 10, 1, 1, 0]);
    }

    #[test]
    fn a_long_path_is_kept_short() {
        let long = format!("/rest/{}", "é".repeat(30_000));
        let kept = Recent::clip(&long);
        assert!(kept.len() <= PATH_KEPT + '…'.len_utf8(), "{}", kept.len());
        assert!(kept.ends_with('…') && kept.starts_with("/rest/é"));
        assert_eq!(&*Recent::clip("/rest/api/2/myself"), "/rest/api/2/myself");
    }

    #[test]
    fn history_covers_one_hour_and_forgets_older_minutes() {
        let r = Recent::default();
        let now = SystemTime::now();
        r.request(decision(now - Duration::from_secs(2 * 3600), "refused"));
        r.request(decision(now - Duration::from_secs(120), "refused"));
        r.request(decision(now, "authenticated"));
        let h = r.history(now);
        let total: u32 = h.iter().map(|m| m.requests.iter().sum::<u32>()).sum();
        assert_eq!(total, 2, "the call two hours old is not in the last hour");
        r.provider_call("idp", Duration::from_millis(30), false);
        r.provider_call("idp", Duration::from_millis(10), true);
        let h = r.history(SystemTime::now());
        let p = &h.last().unwrap().providers[0];
        assert_eq!(
            (p.calls, p.errors, p.total),
            (2, 1, Duration::from_millis(40))
        );
    }
}
