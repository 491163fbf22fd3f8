//! The background tasks of a tier: connect, keep the state (heartbeat,
//! outage, recovery with its catch-up), and apply what arrives on the
//! channel. Each holds the tier weakly and ends when it is dropped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use fred::prelude::*;

use super::tier::{Eviction, Tier};

/// How often an up replica checks Redis (and marks itself seen).
const UP_EVERY: Duration = Duration::from_secs(2);
/// How often a down replica tries to come back.
const DOWN_EVERY: Duration = Duration::from_millis(250);

pub(super) fn spawn(tier: &Arc<Tier>) {
    drop(tier.link.commands.connect());
    drop(tier.link.subscriber.connect());
    tokio::spawn(keep(Arc::downgrade(tier)));
    tokio::spawn(listen(
        Arc::downgrade(tier),
        tier.link.subscriber.message_rx(),
    ));
    tokio::spawn(watch(
        Arc::downgrade(tier),
        tier.link.subscriber.reconnect_rx(),
        tier.link.subscriber.error_rx(),
        tier.link.subscriber.unresponsive_rx(),
    ));
}

/// How long a new replica may take to reach Redis before it says it could not.
const FIRST_CONNECT: Duration = Duration::from_secs(3);

/// Heartbeats while up; while down, tries to come back every 250 ms.
async fn keep(weak: Weak<Tier>) {
    let started = std::time::Instant::now();
    let mut announced = false;
    loop {
        let Some(tier) = weak.upgrade() else { return };
        tier.tick().await;
        if !announced && !tier.is_up() && started.elapsed() > FIRST_CONNECT {
            announced = true;
            let (_, why, _, _) = tier.link.snapshot();
            tracing::warn!(
                redis = %tier.link.shown,
                error = why.as_deref().unwrap_or("no answer"),
                "Redis not reachable since start: this replica serves alone until it is"
            );
        }
        announced |= tier.is_up();
        let every = if tier.is_up() { UP_EVERY } else { DOWN_EVERY };
        let kicked = tier_kick(&tier);
        drop(tier);
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = kicked => {
                // A failure just marked Redis down: give it a moment
                // before trying again, so a flapping Redis is not hammered.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn tier_kick(tier: &Arc<Tier>) -> impl std::future::Future<Output = ()> + use<> {
    let tier = tier.clone();
    async move { tier.kick.notified().await }
}

/// An up replica that has not heard its own echo for this long has lost its
/// subscription, whatever the connection says.
const ECHO_LOST: Duration = Duration::from_secs(7);

impl Tier {
    async fn tick(&self) {
        if self.is_up() {
            let heard = self
                .link
                .echo
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed();
            if heard > ECHO_LOST {
                self.lost_subscription("the subscription stopped delivering");
            } else if self.heartbeat().await {
                self.echo().await;
            }
            return;
        }
        let seen = self.link.losses.load(Ordering::Acquire);
        let behind = seen != self.link.caught_up.load(Ordering::Acquire);
        if behind {
            let subscribed = self
                .call(self.link.subscriber.subscribe(self.channel().to_owned()))
                .await;
            if subscribed.is_none() {
                return;
            }
        }
        if !self.heartbeat().await {
            return;
        }
        if behind {
            // Evictions published while the subscription was down never
            // arrived: drop what this replica holds before it shares again.
            if let Some(sink) = self.sink() {
                sink.evict(Eviction::All).await;
            }
            self.series.eviction("received", "all");
            self.link.caught_up.store(seen, Ordering::Release);
        }
        if self.link.losses.load(Ordering::Acquire) != seen {
            // Lost again while catching up: the next tick starts over.
            return;
        }
        *self.link.echo.lock().unwrap_or_else(|e| e.into_inner()) = std::time::Instant::now();
        self.echo().await;
        if self.link.mark_up() {
            self.series.up.set(1);
            tracing::info!(redis = %self.link.shown, "Sharing through Redis");
        }
    }

    /// Publishes this replica's echo: hearing it back proves the
    /// subscription delivers, end to end, on any topology.
    async fn echo(&self) {
        let mut message = vec![b'H'];
        message.extend_from_slice(self.replica_id().as_bytes());
        self.call(
            self.link
                .commands
                .publish::<i64, _, _>(self.channel(), Value::Bytes(message.into())),
        )
        .await;
    }

    fn receive(&self, message: &[u8]) {
        let Some((&kind, rest)) = message.split_first() else {
            return;
        };
        if kind == b'H' {
            if rest == self.replica_id().as_bytes() {
                *self.link.echo.lock().unwrap_or_else(|e| e.into_inner()) =
                    std::time::Instant::now();
            }
            return;
        }
        let Some(digest) = rest.first_chunk::<32>() else {
            return;
        };
        match kind {
            b'F' => {
                let sealed = &rest[32..];
                self.waiters
                    .wake(digest, &(!sealed.is_empty()).then(|| sealed.to_vec()));
            }
            b'T' | b'U' => {
                let (eviction, label) = if kind == b'T' {
                    (Eviction::Token(*digest), "token")
                } else {
                    (Eviction::User(*digest), "user")
                };
                if let Some(sink) = self.sink() {
                    let series = self.series.clone();
                    tokio::spawn(async move {
                        sink.evict(eviction).await;
                        series.eviction("received", label);
                    });
                }
            }
            _ => {}
        }
    }

    /// The subscription was, or may have been, lost: evictions may have
    /// been missed from now until the next catch-up.
    fn lost_subscription(&self, why: &str) {
        self.link.losses.fetch_add(1, Ordering::AcqRel);
        if self.is_up() {
            self.down(why);
        }
    }
}

/// Applies what arrives on the channel.
async fn listen(weak: Weak<Tier>, mut rx: tokio::sync::broadcast::Receiver<fred::types::Message>) {
    loop {
        let received = rx.recv().await;
        let Some(tier) = weak.upgrade() else { return };
        match received {
            Ok(m) => {
                if let Some(bytes) = m.value.as_bytes() {
                    tier.receive(bytes);
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                tier.lost_subscription("messages were dropped");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

const RECONNECTED: &str = "the subscription reconnected";

/// A subscriber that reconnected, failed or stopped answering may have
/// missed evictions.
async fn watch(
    weak: Weak<Tier>,
    mut reconnects: tokio::sync::broadcast::Receiver<Server>,
    mut errors: tokio::sync::broadcast::Receiver<(Error, Option<Server>)>,
    mut unresponsive: tokio::sync::broadcast::Receiver<Server>,
) {
    loop {
        let why = tokio::select! {
            r = reconnects.recv() => r.map(|_| RECONNECTED.to_owned()),
            e = errors.recv() => e.map(|(e, _)| e.to_string()),
            u = unresponsive.recv() => u.map(|_| "the subscription stopped answering".to_owned()),
        };
        let Some(tier) = weak.upgrade() else { return };
        match why {
            Ok(why) => {
                tier.lost_subscription(&why);
                if why == RECONNECTED {
                    // Back already: nothing held from before may answer
                    // until the catch-up, so drop it now rather than at
                    // the next tick.
                    if let Some(sink) = tier.sink() {
                        sink.evict(Eviction::All).await;
                    }
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                tier.lost_subscription("connection events were dropped");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
