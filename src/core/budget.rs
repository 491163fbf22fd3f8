//! Budgets of provider calls: why a request was limited, and the gate a
//! provider call passes first. The budgets themselves live in `auth`; the
//! providers only know the gate.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Whose budget was spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitReason {
    /// The client's budget of new tokens.
    Client,
    /// The provider's ceiling of calls.
    Provider,
}

impl LimitReason {
    /// A label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitReason::Client => "client",
            LimitReason::Provider => "provider",
        }
    }
}

/// A request over a budget: no provider call was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("over the {} budget; retry in {retry_after:?}", reason.as_str())]
pub struct Limited {
    /// Whose budget.
    pub reason: LimitReason,
    /// When the budget allows a call again.
    pub retry_after: Duration,
}

/// What a provider call passes first: the provider's ceiling.
pub trait ProviderGate: Send + Sync + std::fmt::Debug {
    /// Admits one call to `provider`, or says when one would be.
    fn admit<'a>(
        &'a self,
        provider: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Limited>> + Send + 'a>>;
}
