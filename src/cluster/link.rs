//! The connections to Redis and this replica's state toward it.
//!
//! Two fred clients: one for commands, one subscribed to the cluster
//! channel. Both reconnect by themselves. The replica shares only while it
//! is *up*: connected, subscribed, and caught up on the evictions it may
//! have missed. When the subscription was lost, evictions published
//! meanwhile never reached this replica, so before it is up again it drops
//! its in-process entries (the shared tier still holds what the cluster
//! knows, so this costs Redis reads, not provider calls). While not up,
//! requests skip Redis entirely: they are answered as without a cluster,
//! and no request waits on a Redis that is known to be down.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fred::prelude::*;
use fred::types::config::UnresponsiveConfig;

use crate::config::Cluster as ClusterConfig;

/// The fred clients and the state.
pub struct Link {
    pub(super) commands: Client,
    pub(super) subscriber: fred::clients::SubscriberClient,
    up: AtomicBool,
    /// Times the subscription was (or may have been) lost.
    pub(super) losses: AtomicU64,
    /// `losses` as of the last catch-up: behind it, evictions may have
    /// been missed.
    pub(super) caught_up: AtomicU64,
    /// When this replica last heard its own echo on the channel: proof,
    /// end to end, that the subscription delivers.
    pub(super) echo: Mutex<Instant>,
    /// Consecutive calls that ran past the timeout.
    pub(super) slow: AtomicU64,
    state: Mutex<State>,
    /// What the status shows of where Redis is.
    pub(super) shown: String,
}

#[derive(Default)]
struct State {
    last_error: Option<String>,
    since: Option<Instant>,
    replicas: Option<u64>,
}

impl Link {
    /// Builds both clients; nothing is connected yet.
    pub fn new(config: &ClusterConfig) -> Result<Link, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let first = config.redis_urls.first().ok_or("no Redis URL")?;
        let mut redis = Config::from_url(first).map_err(|e| format!("redis_url: {e}"))?;
        if config.redis_urls.len() > 1 {
            let mut hosts = Vec::new();
            for url in &config.redis_urls {
                let u = reqwest::Url::parse(url).map_err(|e| format!("redis_url: {e}"))?;
                let host = u.host_str().ok_or("redis_url names no host")?.to_owned();
                hosts.push((host, u.port().unwrap_or(6379)));
            }
            redis.server = ServerConfig::new_clustered(hosts);
        }
        if let Some(user) = &config.username {
            redis.username = Some(user.clone());
        }
        if let Some(pw) = &config.password {
            redis.password = Some(pw.expose().to_owned());
        }
        // The first connection follows the reconnect policy too (with
        // `fail_fast`, a Redis down at start would never be tried again).
        redis.fail_fast = false;
        let timeout = config.timeout;
        let mut builder = Builder::from_config(redis);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 1;
                c.unresponsive = UnresponsiveConfig {
                    max_timeout: Some(Duration::from_secs(2)),
                    interval: Duration::from_millis(500),
                };
            })
            .with_performance_config(|p| {
                p.default_command_timeout = timeout;
            })
            // Forever, from 50 ms to 1 s apart.
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 1000, 2));
        let commands = builder.build().map_err(|e| format!("Redis client: {e}"))?;
        // Every replica's answers arrive on the subscriber: room for bursts,
        // so that none is dropped (a drop means a catch-up). Each of its
        // event channels gets this capacity; at 1024 the idle RSS grew by
        // 8 MB, at 256 by nothing measurable.
        builder.with_performance_config(|p| p.broadcast_channel_capacity = 256);
        let subscriber = builder
            .build_subscriber_client()
            .map_err(|e| format!("Redis client: {e}"))?;
        Ok(Link {
            commands,
            subscriber,
            up: AtomicBool::new(false),
            losses: AtomicU64::new(1),
            caught_up: AtomicU64::new(0),
            echo: Mutex::new(Instant::now()),
            slow: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            shown: config.redis_urls.join(", "),
        })
    }

    /// Whether requests share through Redis now.
    #[inline]
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Up: connected, subscribed and caught up.
    pub(super) fn mark_up(&self) -> bool {
        let was = self.up.swap(true, Ordering::AcqRel);
        if !was {
            let mut s = self.state();
            s.since = Some(Instant::now());
        }
        !was
    }

    /// Down, for `why`; true when it was up (the outage starts now: the
    /// caller logs it once).
    pub(super) fn mark_down(&self, why: &str) -> bool {
        let was = self.up.swap(false, Ordering::AcqRel);
        let mut s = self.state();
        s.last_error = Some(why.to_owned());
        if was {
            s.since = Some(Instant::now());
        }
        was
    }

    pub(super) fn set_replicas(&self, n: u64) {
        self.state().replicas = Some(n);
    }

    /// `(up, last error, seconds in this state, replicas seen)`.
    pub(super) fn snapshot(&self) -> (bool, Option<String>, Option<u64>, Option<u64>) {
        let s = self.state();
        (
            self.is_up(),
            s.last_error.clone(),
            s.since.map(|t| t.elapsed().as_secs()),
            s.replicas,
        )
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
