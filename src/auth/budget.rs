//! Budgets of provider calls (`[limits]`): how many cache misses one client
//! address may cause, and how many calls a provider may receive. With a
//! shared tier the counts are the cluster's (one atomic Redis operation per
//! check); without one, or while Redis is down, each replica counts alone.
//! Only a request about to ask a provider is counted: a cache hit never is.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::cluster::Tier;
use crate::config::{Limits, Rate};
use crate::core::budget::{LimitReason, Limited, ProviderGate};
use crate::telemetry::metrics::Metrics;

/// How many client checks between two sweeps of the idle clients' state.
const SWEEP_EVERY: u64 = 4096;

/// The budgets of one config.
pub struct Budgets {
    limits: Limits,
    clients: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    checks: AtomicU64,
    providers: BTreeMap<String, Ceiling>,
    tier: Option<Arc<Tier>>,
    metrics: Arc<Metrics>,
}

/// A provider's ceiling counted here: the instants of the calls in the
/// current window (at most `count` of them), and what is left as last seen.
struct Ceiling {
    rate: Rate,
    calls: Mutex<VecDeque<Instant>>,
    left: AtomicU64,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Budgets {
    /// The budgets of `limits`, shared through `tier` when there is one;
    /// `None` when no limit is set.
    pub fn new(
        limits: &Limits,
        tier: Option<Arc<Tier>>,
        metrics: Arc<Metrics>,
    ) -> Option<Arc<Budgets>> {
        if !limits.any() {
            return None;
        }
        let clients = limits.per_client.map(|r| {
            let period = (r.per / r.count).max(Duration::from_nanos(1));
            let burst = NonZeroU32::new(limits.burst.max(1)).expect("at least 1");
            let quota = Quota::with_period(period)
                .expect("a period above zero")
                .allow_burst(burst);
            DefaultKeyedRateLimiter::keyed(quota)
        });
        let providers = limits
            .providers
            .iter()
            .map(|(name, rate)| {
                metrics
                    .provider_budget_left(name)
                    .set(i64::from(rate.count));
                let ceiling = Ceiling {
                    rate: *rate,
                    calls: Mutex::new(VecDeque::with_capacity(rate.count.min(4096) as usize)),
                    left: AtomicU64::new(u64::from(rate.count)),
                };
                (name.clone(), ceiling)
            })
            .collect();
        Some(Arc::new(Budgets {
            limits: limits.clone(),
            clients,
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            providers,
            tier,
            metrics,
        }))
    }

    /// The limits they count.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Spends one of `client`'s new tokens.
    pub async fn admit_client(&self, client: IpAddr) -> Result<(), Limited> {
        let (Some(local), Some(rate)) = (&self.clients, self.limits.per_client) else {
            return Ok(());
        };
        let key = budget_key(client);
        let shared = match &self.tier {
            Some(t) => {
                t.spend_client(key_bytes(&key).as_slice(), rate, self.limits.burst)
                    .await
            }
            None => None,
        };
        let verdict = match shared {
            Some(v) => v,
            None => {
                if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == 0 {
                    local.retain_recent();
                }
                local
                    .check_key(&key)
                    .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
            }
        };
        verdict.map_err(|retry_after| self.limited(LimitReason::Client, retry_after))
    }

    /// Spends one call of `provider`'s ceiling.
    pub async fn admit_provider(&self, provider: &str) -> Result<(), Limited> {
        let Some(ceiling) = self.providers.get(provider) else {
            return Ok(());
        };
        let shared = match &self.tier {
            Some(t) => t.spend_provider(provider, ceiling.rate).await,
            None => None,
        };
        let verdict = match shared {
            Some(v) => v,
            None => ceiling.spend(Instant::now()),
        };
        match verdict {
            Ok(left) => {
                ceiling.left.store(left, Ordering::Relaxed);
                self.metrics.provider_budget_left(provider).set(left as i64);
                Ok(())
            }
            Err(retry_after) => {
                ceiling.left.store(0, Ordering::Relaxed);
                self.metrics.provider_budget_left(provider).set(0);
                Err(self.limited(LimitReason::Provider, retry_after))
            }
        }
    }

    /// Calls left in `provider`'s window, as last counted; `None` without a
    /// ceiling.
    pub fn left(&self, provider: &str) -> Option<u64> {
        let c = self.providers.get(provider)?;
        if self.tier.as_ref().is_some_and(|t| t.is_up()) {
            return Some(c.left.load(Ordering::Relaxed));
        }
        Some(c.peek(Instant::now()))
    }

    fn limited(&self, reason: LimitReason, retry_after: Duration) -> Limited {
        self.metrics.limited(reason.as_str());
        Limited {
            reason,
            retry_after,
        }
    }
}

impl Ceiling {
    /// Admits a call at `now` if fewer than `count` were made in the window
    /// before it; else says when the oldest leaves it.
    fn spend(&self, now: Instant) -> Result<u64, Duration> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        while calls
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.rate.per)
        {
            calls.pop_front();
        }
        let count = self.rate.count as usize;
        if calls.len() >= count {
            let oldest = *calls.front().expect("count is at least 1");
            return Err((oldest + self.rate.per).saturating_duration_since(now));
        }
        calls.push_back(now);
        Ok((count - calls.len()) as u64)
    }

    fn peek(&self, now: Instant) -> u64 {
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let live = calls
            .iter()
            .filter(|t| now.duration_since(**t) < self.rate.per)
            .count();
        (self.rate.count as usize).saturating_sub(live) as u64
    }
}

impl ProviderGate for Budgets {
    fn admit<'a>(
        &'a self,
        provider: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Limited>> + Send + 'a>> {
        Box::pin(self.admit_provider(provider))
    }
}

/// Whose budget a client address spends: an IPv4 address, or an IPv6
/// address's /64 (one host's share of a network; a client must not get a
/// new budget by taking the next address of its own prefix).
pub fn budget_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::from(o)
        }
        v4 => v4,
    }
}

fn key_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ceiling_holds_over_any_rolling_window() {
        let c = Ceiling {
            rate: Rate {
                count: 3,
                per: Duration::from_secs(60),
            },
            calls: Mutex::new(VecDeque::new()),
            left: AtomicU64::new(3),
        };
        let t0 = Instant::now();
        assert_eq!(c.spend(t0), Ok(2));
        assert_eq!(c.spend(t0 + Duration::from_secs(10)), Ok(1));
        assert_eq!(c.spend(t0 + Duration::from_secs(20)), Ok(0));
        assert_eq!(
            c.spend(t0 + Duration::from_secs(30)),
            Err(Duration::from_secs(30)),
            "room when the first call leaves the window"
        );
        assert_eq!(c.spend(t0 + Duration::from_secs(60)), Ok(0));
        assert!(c.spend(t0 + Duration::from_secs(65)).is_err());
        assert_eq!(c.peek(t0 + Duration::from_secs(200)), 3);
    }

    #[test]
    fn an_ipv6_client_spends_its_prefix_budget() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(budget_key(a), budget_key(b));
        assert_ne!(budget_key(a), budget_key(other));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(budget_key(mapped), "203.0.113.7".parse::<IpAddr>().unwrap());
    }
}
