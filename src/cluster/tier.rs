//! The shared tier as the cache sees it: claim a token (its shared answer,
//! or the right to ask the provider, or a wait for the replica that does),
//! fill it, evict. Every Redis call is bounded by `cluster.timeout`; a call
//! that fails or runs past it marks Redis down, and the request carries on
//! as without a cluster.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fred::prelude::*;

use super::keys::{Digest, Keys};
use super::link::Link;
use super::scripts::{CLAIM, FILL, HEARTBEAT, INDEX};
use super::seal::{self, Shared};
use super::waiters::{Waiter, Waiters};
use crate::config::Cluster as ClusterConfig;
use crate::core::principal::Verdict;
use crate::telemetry::cluster::ClusterSeries;

/// What a replica evicts, told by another or by its own catch-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// One token's entry, by digest.
    Token(Digest),
    /// Every entry of a user, by the user's digest.
    User(Digest),
    /// Everything: this replica may have missed evictions.
    All,
}

/// Where evictions go: the in-process cache.
pub trait Sink: Send + Sync {
    /// Applies one eviction; done when the entries stopped answering.
    fn evict(&self, eviction: Eviction) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// What a claim found.
pub enum Claim {
    /// Another replica's answer, still alive.
    Found(Shared),
    /// This replica asks the provider; with the lock when it holds one.
    Ours(Lock),
    /// Another replica is asking: wait for its answer.
    Theirs(Waiter),
    /// Redis is down or failed: carry on as without a cluster.
    Skip,
}

/// The lock a replica holds while it asks the provider (its owner string),
/// or none.
pub struct Lock(Option<String>);

impl Lock {
    /// No lock: this replica asks after a wait that brought no answer.
    pub fn none() -> Lock {
        Lock(None)
    }
}

/// The shared tier.
pub struct Tier {
    pub(super) keys: Keys,
    pub(super) link: Link,
    pub(super) waiters: Waiters,
    pub(super) series: ClusterSeries,
    config: Arc<ClusterConfig>,
    wait_bound_ms: AtomicU64,
    replica: String,
    sink: Mutex<Option<Weak<dyn Sink>>>,
    pub(super) kick: tokio::sync::Notify,
}

const LOCK_MARGIN: Duration = Duration::from_millis(500);

/// Calls past the timeout in a row that mark Redis down.
const SLOW_IN_A_ROW: u64 = 3;

impl Drop for Tier {
    /// A tier replaced by a reload closes its connections (fred's own tasks
    /// would otherwise go on reconnecting).
    fn drop(&mut self) {
        let (commands, subscriber) = (self.link.commands.clone(), self.link.subscriber.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = commands.quit().await;
                let _ = subscriber.quit().await;
            });
        }
    }
}

impl Tier {
    /// Connects to Redis in the background and returns at once: the
    /// replica serves whether or not Redis answers.
    pub fn start(config: Arc<ClusterConfig>, series: ClusterSeries) -> Result<Arc<Tier>, String> {
        let link = Link::new(&config)?;
        let tier = Arc::new(Tier {
            keys: Keys::derive(&config.key.0, &config.prefix),
            link,
            waiters: Waiters::default(),
            series,
            config,
            wait_bound_ms: AtomicU64::new(5_000),
            replica: format!("{:016x}", rand::random::<u64>()),
            sink: Mutex::new(None),
            kick: tokio::sync::Notify::new(),
        });
        tier.series.up.set(0);
        super::keeper::spawn(&tier);
        Ok(tier)
    }

    /// The bound on one Redis call.
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// The config it runs with (a reload with another one starts anew).
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Where evictions go; the cache sets itself.
    pub fn set_sink(&self, sink: Weak<dyn Sink>) {
        *self.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    pub(super) fn sink(&self) -> Option<Arc<dyn Sink>> {
        self.sink
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()?
            .upgrade()
    }

    /// How long a replica waits for another's provider call: the longest
    /// provider `timeout`.
    pub fn set_wait_bound(&self, bound: Duration) {
        let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX).max(1);
        self.wait_bound_ms.store(ms, Ordering::Relaxed);
    }

    fn wait_bound(&self) -> Duration {
        Duration::from_millis(self.wait_bound_ms.load(Ordering::Relaxed))
    }

    /// The key tokens are digested under (the in-process cache uses it too).
    pub fn token_key(&self) -> &[u8; 32] {
        self.keys.token_key()
    }

    /// A user's digest.
    pub fn user_digest(&self, user: &str) -> Digest {
        self.keys.user(user)
    }

    /// Whether this replica shares now.
    pub fn is_up(&self) -> bool {
        self.link.is_up()
    }

    /// The shared answer for `token`, or who asks the provider. One round
    /// trip.
    pub async fn claim(&self, token: &Digest) -> Claim {
        if !self.is_up() {
            self.series.lookup("skipped");
            return Claim::Skip;
        }
        let waiter = self.waiters.register(*token);
        let entry = self.keys.entry(token);
        let owner = format!("{}-{:016x}", self.replica, rand::random::<u64>());
        let lock_ms = (self.wait_bound() + LOCK_MARGIN).as_millis().to_string();
        let keys = vec![entry.clone(), self.keys.lock(token)];
        let args = vec![Value::from(owner.as_str()), Value::from(lock_ms)];
        let Some(answer) = self
            .call(CLAIM.evalsha_with_reload::<Value, _, _>(&self.link.commands, keys, args))
            .await
        else {
            self.series.lookup("error");
            return Claim::Skip;
        };
        match answer {
            Value::Integer(1) => {
                self.series.lookup("miss");
                Claim::Ours(Lock(Some(owner)))
            }
            Value::Integer(0) => {
                self.series.lookup("miss");
                Claim::Theirs(waiter)
            }
            other => match other.as_bytes().and_then(|b| self.open(&entry, b)) {
                Some(shared) => {
                    self.series.lookup("hit");
                    Claim::Found(shared)
                }
                // Unopenable or ended: ask the provider and overwrite it.
                None => {
                    self.series.lookup("miss");
                    Claim::Ours(Lock(None))
                }
            },
        }
    }

    /// Waits for the answer of the replica asking the provider, at most the
    /// provider's timeout. `None`: its call failed, or no answer came; this
    /// replica then asks itself.
    pub async fn wait(&self, mut waiter: Waiter) -> Option<Shared> {
        let entry = self.keys.entry(&waiter.token);
        match tokio::time::timeout(self.wait_bound(), &mut waiter.rx).await {
            Ok(Ok(Some(sealed))) => match self.open(&entry, &sealed) {
                Some(shared) => {
                    self.series.wait("answered");
                    Some(shared)
                }
                None => {
                    self.series.wait("failed");
                    None
                }
            },
            Ok(_) => {
                self.series.wait("failed");
                None
            }
            Err(_) => {
                self.series.wait("timeout");
                None
            }
        }
    }

    /// Shares a provider's answer that lives `life` (none when the call
    /// failed: errors are never shared, but the waiters are told), releases
    /// the lock, and wakes the waiters on every replica.
    pub async fn fill(&self, token: &Digest, lock: Lock, answer: Option<(&Verdict, Duration)>) {
        // Down, with no lock to give back: nobody waits on this replica.
        if !self.is_up() && lock.0.is_none() {
            return;
        }
        let entry = self.keys.entry(token);
        let (sealed, life_ms) = match answer {
            Some((verdict, life)) if !life.is_zero() => {
                let shared = Shared {
                    verdict: verdict.clone(),
                    until_ms: unix_ms().saturating_add(life.as_millis() as u64),
                };
                (
                    seal::seal(&self.keys, &entry, &shared),
                    life.as_millis().max(1),
                )
            }
            _ => (Vec::new(), 1),
        };
        let mut message = Vec::with_capacity(33 + sealed.len());
        message.push(b'F');
        message.extend_from_slice(token);
        message.extend_from_slice(&sealed);
        let keys = vec![entry, self.keys.lock(token)];
        let args = vec![
            Value::Bytes(Bytes::from(sealed.clone())),
            Value::from(life_ms.to_string()),
            Value::from(lock.0.unwrap_or_default()),
            Value::from(self.keys.channel()),
            Value::Bytes(Bytes::from(message)),
        ];
        // The index first: an entry in Redis that the index does not name
        // would escape its user's eviction.
        let index = async {
            if let (Some((Verdict::Active(p), _)), false) = (answer, sealed.is_empty()) {
                let index = self.keys.user_index(&self.keys.user(&p.user));
                let args = vec![
                    Value::Bytes(Bytes::copy_from_slice(token)),
                    Value::from(life_ms.to_string()),
                ];
                self.call(INDEX.evalsha_with_reload::<Value, _, _>(
                    &self.link.commands,
                    vec![index],
                    args,
                ))
                .await;
            }
        };
        index.await;
        self.call(FILL.evalsha_with_reload::<Value, _, _>(&self.link.commands, keys, args))
            .await;
    }

    /// Removes a token's shared entry and tells every replica; done once the
    /// eviction is in Redis.
    pub async fn evict_token(&self, token: &Digest) -> Result<(), String> {
        self.require_up()?;
        self.call(self.link.commands.del::<i64, _>(self.keys.entry(token)))
            .await
            .ok_or_else(|| self.why())?;
        self.publish(b'T', token).await?;
        self.series.eviction("sent", "token");
        Ok(())
    }

    /// Removes a user's shared entries and tells every replica.
    pub async fn evict_user(&self, user: &str) -> Result<(), String> {
        self.require_up()?;
        let digest = self.keys.user(user);
        let index = self.keys.user_index(&digest);
        let members = self
            .call(self.link.commands.smembers::<Vec<Bytes>, _>(index.as_str()))
            .await
            .ok_or_else(|| self.why())?;
        let dels = members
            .iter()
            .filter_map(|m| <Digest>::try_from(m.as_ref()).ok())
            .map(|d| self.call(self.link.commands.del::<i64, _>(self.keys.entry(&d))));
        for done in futures_util::future::join_all(dels).await {
            done.ok_or_else(|| self.why())?;
        }
        // Only what was read: an entry added since stays named.
        if !members.is_empty() {
            self.call(self.link.commands.srem::<i64, _, _>(index, members))
                .await
                .ok_or_else(|| self.why())?;
        }
        self.publish(b'U', &digest).await?;
        self.series.eviction("sent", "user");
        Ok(())
    }

    async fn publish(&self, kind: u8, digest: &Digest) -> Result<(), String> {
        let mut message = Vec::with_capacity(33);
        message.push(kind);
        message.extend_from_slice(digest);
        self.call(
            self.link
                .commands
                .publish::<i64, _, _>(self.keys.channel(), Value::Bytes(Bytes::from(message))),
        )
        .await
        .map(drop)
        .ok_or_else(|| self.why())
    }

    /// Marks this replica seen and counts the replicas sharing with it.
    pub(super) async fn heartbeat(&self) -> bool {
        let args = vec![
            Value::from(unix_ms().to_string()),
            Value::from(self.replica.as_str()),
        ];
        let keys = vec![self.keys.replicas().to_owned()];
        match self
            .call(HEARTBEAT.evalsha_with_reload::<Value, _, _>(&self.link.commands, keys, args))
            .await
        {
            Some(v) => {
                if let Some(n) = v.as_i64() {
                    self.link.set_replicas(n.max(0) as u64);
                    self.series.replicas.set(n);
                }
                true
            }
            None => false,
        }
    }

    /// This replica's random id (in the replicas' set and its echo).
    pub(super) fn replica_id(&self) -> &str {
        &self.replica
    }

    /// The channel this tier listens on.
    pub(super) fn channel(&self) -> &str {
        self.keys.channel()
    }

    /// The cluster's state for `GET /status`: where Redis is, whether this
    /// replica shares now, since when, the last error, replicas seen.
    pub fn status(&self) -> serde_json::Value {
        let (up, last_error, since, replicas) = self.link.snapshot();
        serde_json::json!({
            "configured": true,
            "redis": self.link.shown,
            "prefix": self.config.prefix,
            "connected": up,
            "state_for_s": since,
            "replicas_seen": replicas,
            "last_error": last_error,
            "waiting": self.waiters.len(),
        })
    }

    fn open(&self, name: &str, value: &[u8]) -> Option<Shared> {
        let Some(shared) = seal::open(&self.keys, name, value) else {
            self.series.unopenable.inc();
            tracing::warn!(
                "A shared cache value did not open (altered, moved or sealed under another key); ignored"
            );
            return None;
        };
        (shared.until_ms > unix_ms()).then_some(shared)
    }

    fn require_up(&self) -> Result<(), String> {
        if self.is_up() {
            Ok(())
        } else {
            Err(self.why())
        }
    }

    fn why(&self) -> String {
        let (_, last, _, _) = self.link.snapshot();
        format!(
            "Redis is unreachable ({})",
            last.unwrap_or_else(|| "not connected yet".into())
        )
    }

    /// One Redis call, bounded by `cluster.timeout`. A failure marks Redis
    /// down (logged once per outage) and wakes the keeper to bring it back.
    ///
    /// A call past the timeout is counted; three in a row mark Redis down
    /// (one slow moment, a fork or an fsync, does not).
    pub(super) async fn call<T>(&self, call: impl Future<Output = Result<T, Error>>) -> Option<T> {
        // fred's own timeout (the same) fires first and drops the command
        // if it was not written yet; this one is the backstop.
        let backstop = self.config.timeout + Duration::from_millis(25);
        let (why, slow) = match tokio::time::timeout(backstop, call).await {
            Ok(Ok(v)) => {
                self.link.slow.store(0, Ordering::Relaxed);
                return Some(v);
            }
            Ok(Err(e)) => (e.to_string(), *e.kind() == ErrorKind::Timeout),
            Err(_) => (format!("no answer within {:?}", self.config.timeout), true),
        };
        if slow && self.link.slow.fetch_add(1, Ordering::Relaxed) + 1 < SLOW_IN_A_ROW {
            self.series.errors.inc();
            return None;
        }
        self.down(&why);
        None
    }

    pub(super) fn down(&self, why: &str) {
        self.series.errors.inc();
        if self.link.mark_down(why) {
            self.series.up.set(0);
            self.series.outages.inc();
            tracing::warn!(
                error = why,
                "Redis unreachable: this replica serves alone until it is back"
            );
            // The keeper starts trying to come back now, not at its next
            // heartbeat; while down it tries on its own schedule.
            self.kick.notify_one();
        }
    }
}

/// Milliseconds since the Unix epoch: the clock every replica shares.
pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How long a shared answer still answers, capped by `cap` so that a replica
/// whose clock is behind never keeps an entry longer than it would itself.
pub fn remaining(shared: &Shared, cap: Duration) -> Duration {
    Duration::from_millis(shared.until_ms.saturating_sub(unix_ms())).min(cap)
}
