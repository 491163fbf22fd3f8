//! What a cache lookup answers: the verdict, and where it came from.

use crate::core::principal::Verdict;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A live cache entry.
    Hit,
    /// This request asked the provider.
    Miss,
    /// Another replica's answer, from the shared tier.
    Shared,
    /// Another request was asking the provider; this one waited for it.
    Coalesced,
    /// The providers failed; a recently expired positive entry answered.
    Stale,
}

impl Source {
    /// A label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Hit => "hit",
            Source::Miss => "miss",
            Source::Shared => "shared",
            Source::Coalesced => "coalesced",
            Source::Stale => "stale",
        }
    }
}

/// A verdict and where it came from.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The verdict.
    pub verdict: Verdict,
    /// Hit, miss, coalesced or stale.
    pub source: Source,
}
