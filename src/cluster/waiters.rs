//! Requests of this replica waiting for another replica's provider call.
//! The answer arrives on the cluster channel; each waiter is woken by it, so
//! waiting costs Redis nothing, and is bounded by the provider's timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::keys::Digest;

/// What a waiter receives: the sealed answer, or `None` when the asking
/// replica's provider call failed (the waiter then asks itself).
pub type Answer = Option<Vec<u8>>;

type Table = HashMap<Digest, Vec<oneshot::Sender<Answer>>>;

/// The waiters of this replica, by token digest.
#[derive(Default, Clone)]
pub struct Waiters(Arc<Mutex<Table>>);

/// One registered wait; dropping it unregisters it.
pub struct Waiter {
    pub(super) token: Digest,
    pub(super) rx: oneshot::Receiver<Answer>,
    table: Waiters,
}

impl Waiters {
    /// Registers a wait for `token`'s answer. Done before asking Redis, so
    /// an answer published in between is not missed.
    pub fn register(&self, token: Digest) -> Waiter {
        let (tx, rx) = oneshot::channel();
        self.lock().entry(token).or_default().push(tx);
        Waiter {
            token,
            rx,
            table: self.clone(),
        }
    }

    /// Wakes every waiter of `token` with `answer`.
    pub fn wake(&self, token: &Digest, answer: &Answer) {
        let woken = self.lock().remove(token);
        for tx in woken.into_iter().flatten() {
            let _ = tx.send(answer.clone());
        }
    }

    /// Registered waits (for tests and status).
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding this lock cannot leave the table half
        // changed: every change is one map operation.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.rx.close();
        let mut table = self.table.lock();
        if let Some(list) = table.get_mut(&self.token) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                table.remove(&self.token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_reaches_every_waiter_of_its_token_only() {
        let w = Waiters::default();
        let (mut a, mut b, other) = (
            w.register([1; 32]),
            w.register([1; 32]),
            w.register([2; 32]),
        );
        w.wake(&[1; 32], &Some(vec![7]));
        assert_eq!((&mut a.rx).await.unwrap(), Some(vec![7]));
        assert_eq!((&mut b.rx).await.unwrap(), Some(vec![7]));
        assert_eq!(w.len(), 1);
        drop(other);
        assert_eq!(w.len(), 0, "a dropped wait leaves nothing behind");
    }
}
