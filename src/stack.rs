//! The whole request stack, built in one function, outermost layer first.

use std::sync::Arc;

use tower::ServiceBuilder;

use crate::auth::budget::Budgets;
use crate::auth::cache::CacheLayer;
use crate::cluster::Tier;
use crate::config::Config;
use crate::core::budget::ProviderGate;
use crate::core::headers::Spoofable;
use crate::layers::access::{AccessLayer, AccessLog};
use crate::layers::auth::{AuthLayer, AuthService};
use crate::layers::boundary::{ErrorBoundary, ErrorBoundaryLayer};
use crate::layers::strip::{StripLayer, StripSpoofed};
use crate::providers::ProviderSet;
use crate::proxy::Proxy;
use crate::telemetry::metrics::Metrics;

/// The service a connection serves.
pub type GatewayService = AccessLog<StripSpoofed<ErrorBoundary<AuthService<Proxy>>>>;

/// The built stack and the handles an operator needs.
#[derive(Clone)]
pub struct Gateway {
    /// The request service.
    pub service: GatewayService,
    /// The validation cache (for eviction).
    pub cache: CacheLayer,
    /// The budgets of provider calls (`[limits]`), if any.
    pub budgets: Option<Arc<Budgets>>,
    /// The provider clients (for prefetching metadata).
    pub providers: ProviderSet,
    /// Every metric series.
    pub metrics: Arc<Metrics>,
    /// The config it was built from.
    pub config: Arc<Config>,
    /// When that config was loaded (at start or by a reload).
    pub built_at: std::time::SystemTime,
}

/// The shared tier for `[cluster]`: the running one when its settings did
/// not change (its connections and state survive a reload), else a new one.
/// A replica waits for another's provider call as long as the slowest
/// provider may take.
fn shared_tier(
    config: &Config,
    previous: Option<&Gateway>,
    metrics: &Metrics,
) -> Option<Arc<Tier>> {
    let wanted = config.cluster.as_ref()?;
    let running = previous
        .and_then(|g| g.cache.tier())
        .filter(|t| t.config() == &**wanted);
    let tier = match running {
        Some(t) => t.clone(),
        None => match Tier::start(wanted.clone(), metrics.cluster.clone()) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "Cannot use [cluster]; this replica serves alone");
                return None;
            }
        },
    };
    let slowest = config.providers.values().map(|p| p.timeout).max();
    tier.set_wait_bound(slowest.unwrap_or(std::time::Duration::from_secs(5)));
    Some(tier)
}

/// Builds the gateway for a config.
pub fn build(config: Arc<Config>) -> Gateway {
    rebuild(config, None)
}

/// Builds the gateway for a reloaded config, keeping what did not change: the
/// metrics always; the provider clients (key caches, discovery documents) when
/// no provider changed; the validation cache when its settings did not
/// change, less the entries a changed provider or provider order may judge
/// differently now.
pub fn rebuild(config: Arc<Config>, previous: Option<&Gateway>) -> Gateway {
    let metrics = previous
        .map(|g| g.metrics.clone())
        .unwrap_or_else(Metrics::new);
    let old = previous.map(|g| &*g.config);
    let same_order = old.is_some_and(|o| o.auth.providers == config.auth.providers);
    let changed: Vec<String> = match old {
        None => Vec::new(),
        Some(o) => o
            .providers
            .keys()
            .chain(config.providers.keys())
            .filter(|n| o.providers.get(*n) != config.providers.get(*n))
            .cloned()
            .collect(),
    };
    let providers = match previous {
        Some(g) if changed.is_empty() && same_order => g.providers.clone(),
        _ => ProviderSet::with_metrics(&config, metrics.clone()),
    };
    let tier = shared_tier(&config, previous, &metrics);
    let same_tier = |g: &Gateway| match (g.cache.tier(), &tier) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (a, b) => a.is_none() && b.is_none(),
    };
    let cache = match (previous, old) {
        (Some(g), Some(o)) if o.cache == config.cache && same_tier(g) => {
            g.cache
                .evict_for_reload(&changed, !(changed.is_empty() && same_order));
            g.cache.clone()
        }
        _ => match &tier {
            Some(t) => CacheLayer::with_tier(&config.cache, metrics.clone(), t.clone()),
            None => CacheLayer::with_metrics(&config.cache, metrics.clone()),
        },
    };
    // The budgets: the running ones while `[limits]` and the shared tier
    // stay the same (their counts survive a reload), else new ones.
    let budgets = match previous.and_then(|g| g.budgets.clone()) {
        Some(b) if *b.limits() == config.limits && same_tier(previous.expect("had budgets")) => {
            Some(b)
        }
        _ => Budgets::new(&config.limits, tier.clone(), metrics.clone()),
    };
    let providers = providers.with_gate(budgets.clone().map(|b| b as Arc<dyn ProviderGate>));
    let mut spoofable = vec![&config.upstream.identity_header];
    spoofable.extend(config.upstream.email_header.as_ref());
    spoofable.extend(config.upstream.shared_secret.as_ref().map(|(h, _)| h));
    let service = ServiceBuilder::new()
        // 0. Outermost, so every answer (refusals included) gets a request id,
        //    an access line and a count.
        .layer(AccessLayer {
            metrics: metrics.clone(),
        })
        // 1. Before anything else, on every route and every outcome: no client
        //    may bring its own identity (SPEC §1 step 1).
        .layer(StripLayer {
            spoofable: Arc::new(Spoofable::new(spoofable)),
        })
        // 2. The one place errors become responses, so every refusal below has
        //    the SPEC §2 shape and passed through the strip above.
        .layer(ErrorBoundaryLayer {
            realm: Arc::from(config.auth.realm.as_str()),
        })
        // 3. Canonicalise, route, classify, validate (cached), map, check
        //    requirements; the decision travels as a request extension.
        .layer(AuthLayer::new(
            &config,
            providers.clone(),
            cache.clone(),
            metrics.clone(),
            budgets.clone(),
        ))
        // 4. Forward with the hand-off the decision asks for.
        .service(Proxy::new(&config, metrics.clone()));
    Gateway {
        service,
        cache,
        budgets,
        providers,
        metrics,
        config,
        built_at: std::time::SystemTime::now(),
    }
}
