//! Several replicas acting as one, through Redis (`[cluster]`).
//!
//! Behind each replica's in-process cache sits a shared tier: a token's
//! answer, sealed, under a keyed digest of the token (`keys`, `seal`); one
//! replica asks the provider while the others wait for its answer on the
//! cluster channel (`tier`, `waiters`, `scripts`); evictions reach every
//! replica, and one that lost its subscription catches up before it shares
//! again (`keeper`, `link`). Redis is never needed to answer: when it is
//! down or slow, the replica serves alone.

mod keeper;
mod keys;
mod link;
mod scripts;
mod seal;
mod spend;
mod tier;
mod waiters;

pub use keys::Digest;
pub use seal::Shared;
pub use tier::{Claim, Eviction, Lock, Sink, Tier, remaining};
pub use waiters::Waiter;
