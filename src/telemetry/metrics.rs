//! Prometheus metrics (SPEC §6), served on the admin listener.
//!
//! Labels are fixed vocabularies (outcomes, reason codes, cache results),
//! provider names from the config, and HTTP statuses: no label can hold a
//! token, a key, a username or a path.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Latency buckets (seconds): 0.5 ms to ~30 s.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

fn latency() -> Histogram {
    Histogram::new(BUCKETS)
}

/// `restgate_requests_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `authenticated`, `passed`, `refused`, `error`.
    pub outcome: &'static str,
    /// HTTP status sent to the client.
    pub status: u16,
}

/// `restgate_auth_decisions_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// Provider name, `api_key`, or `none`.
    pub provider: String,
    /// `accepted`, `refused`, `error`.
    pub result: &'static str,
    /// A reason code (`inactive`, `expired`, `unknown_user`, …) or `ok`.
    pub reason: &'static str,
}

/// `restgate_cache_lookups_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit`, `shared`, `miss`, `coalesced`, `stale`.
    pub result: &'static str,
    /// `positive` or `negative`.
    pub verdict: &'static str,
}

/// Provider call series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// Provider name.
    pub provider: String,
}

/// `restgate_provider_errors_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderErrorLabels {
    /// Provider name.
    pub provider: String,
    /// `timeout`, `unreachable`, `status`, `client_rejected`, `garbage`.
    pub kind: &'static str,
}

/// `restgate_limited_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitedLabels {
    /// `client` or `provider`: whose budget was spent.
    pub reason: &'static str,
}

/// Counter handles of one family, found per request by a short scan without
/// the family's lock or hashing; a label set seen for the first time is added
/// (copy on write). The label vocabularies are small and fixed, so the list is.
struct Handles<L>(arc_swap::ArcSwap<Vec<(L, Counter)>>);

impl<L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>
    Handles<L>
{
    fn new() -> Self {
        Handles(arc_swap::ArcSwap::from_pointee(Vec::new()))
    }

    /// Increments the counter whose labels `is` picks, made by `make` if new.
    fn inc(&self, family: &Family<L, Counter>, is: impl Fn(&L) -> bool, make: impl FnOnce() -> L) {
        if let Some((_, c)) = self.0.load().iter().find(|(l, _)| is(l)) {
            c.inc();
            return;
        }
        let labels = make();
        let counter = family.get_or_create(&labels).clone();
        counter.inc();
        self.0.rcu(|seen| {
            let mut seen = Vec::clone(seen);
            if !seen.iter().any(|(l, _)| l == &labels) {
                seen.push((labels.clone(), counter.clone()));
            }
            seen
        });
    }
}

/// Every series, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    /// Requests by outcome and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Authentication decisions by provider, result and reason.
    pub decisions: Family<DecisionLabels, Counter>,
    /// Cache lookups by result.
    pub cache_lookups: Family<CacheLabels, Counter>,
    /// Live cache entries.
    pub cache_entries: Gauge,
    /// Provider call latency.
    pub provider_latency: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    /// Provider failures by kind.
    pub provider_errors: Family<ProviderErrorLabels, Counter>,
    /// Upstream latency to the response head.
    pub upstream_latency: Histogram,
    /// The shared tier's series (`restgate_cluster_*`).
    pub cluster: super::cluster::ClusterSeries,
    /// Requests refused over a budget, by whose.
    pub limited: Family<LimitedLabels, Counter>,
    /// Calls left in each provider's window.
    pub budget_left: Family<ProviderLabels, Gauge>,
    hot_requests: Handles<RequestLabels>,
    /// The recent past the admin console shows (decisions, the last hour).
    pub recent: super::recent::Recent,
    hot_decisions: Handles<DecisionLabels>,
    hot_lookups: Handles<CacheLabels>,
}

// === impl Metrics ===

impl Metrics {
    /// A fresh set of series.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("restgate");
        let requests = Family::default();
        registry.register(
            "requests",
            "Requests by outcome and HTTP status",
            requests.clone(),
        );
        let decisions = Family::default();
        registry.register(
            "auth_decisions",
            "Authentication decisions by provider, result and reason",
            decisions.clone(),
        );
        let cache_lookups = Family::default();
        registry.register(
            "cache_lookups",
            "Validation cache lookups (coalesced = waited for another request's provider call)",
            cache_lookups.clone(),
        );
        let cache_entries = Gauge::default();
        registry.register(
            "cache_entries",
            "Validation cache entries",
            cache_entries.clone(),
        );
        let provider_latency = Family::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "provider_call_duration_seconds",
            "Provider call latency",
            provider_latency.clone(),
        );
        let provider_errors = Family::default();
        registry.register(
            "provider_errors",
            "Provider call failures by kind",
            provider_errors.clone(),
        );
        let upstream_latency = latency();
        registry.register(
            "upstream_duration_seconds",
            "Upstream latency to the response head",
            upstream_latency.clone(),
        );
        let cluster = super::cluster::ClusterSeries::register(&mut registry);
        let limited = Family::default();
        registry.register(
            "limited",
            "Requests refused with 429 over a budget of provider calls, by whose budget",
            limited.clone(),
        );
        let budget_left = Family::default();
        registry.register(
            "provider_budget_left",
            "Calls left in the provider's window ([limits.providers])",
            budget_left.clone(),
        );
        Arc::new(Metrics {
            cluster,
            limited,
            budget_left,
            registry,
            requests,
            decisions,
            cache_lookups,
            recent: super::recent::Recent::default(),
            hot_requests: Handles::new(),
            hot_decisions: Handles::new(),
            hot_lookups: Handles::new(),
            cache_entries,
            provider_latency,
            provider_errors,
            upstream_latency,
        })
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Records a provider call.
    pub fn provider_call(&self, provider: &str, took: Duration, error: Option<&'static str>) {
        let labels = ProviderLabels {
            provider: provider.to_owned(),
        };
        self.provider_latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.recent.provider_call(provider, took, error.is_some());
        if let Some(kind) = error {
            self.provider_errors
                .get_or_create(&ProviderErrorLabels {
                    provider: provider.to_owned(),
                    kind,
                })
                .inc();
        }
    }

    /// Records an authentication decision.
    pub fn decision(&self, provider: &str, result: &'static str, reason: &'static str) {
        self.hot_decisions.inc(
            &self.decisions,
            |l| l.provider == provider && l.result == result && l.reason == reason,
            || DecisionLabels {
                provider: provider.to_owned(),
                result,
                reason,
            },
        );
    }

    /// Counts a request answered with `status`.
    pub fn request(&self, outcome: &'static str, status: u16) {
        let labels = RequestLabels { outcome, status };
        self.hot_requests
            .inc(&self.requests, |l| l == &labels, || labels.clone());
    }

    /// The share of cache lookups answered without a provider call (hits,
    /// coalesced waits and stale answers), `None` before the first lookup.
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        let count = |result: &'static str| {
            ["positive", "negative"]
                .into_iter()
                .map(|verdict| {
                    self.cache_lookups
                        .get_or_create(&CacheLabels { result, verdict })
                        .get()
                })
                .sum::<u64>()
        };
        let served = count("hit") + count("shared") + count("coalesced") + count("stale");
        let total = served + count("miss");
        (total > 0).then(|| served as f64 / total as f64)
    }

    /// Counts a request refused over a budget.
    pub fn limited(&self, reason: &'static str) {
        self.limited.get_or_create(&LimitedLabels { reason }).inc();
    }

    /// The gauge of calls left to `provider`.
    pub fn provider_budget_left(&self, provider: &str) -> Gauge {
        self.budget_left
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .clone()
    }

    /// Counts a cache lookup.
    pub fn cache_lookup(&self, result: &'static str, verdict: &'static str) {
        let labels = CacheLabels { result, verdict };
        self.hot_lookups
            .inc(&self.cache_lookups, |l| l == &labels, || labels.clone());
    }
}

#[cfg(test)]
mod hot_tests {
    #[test]
    fn remembered_handles_count_into_the_right_series() {
        let m = super::Metrics::new();
        for _ in 0..3 {
            m.request("authenticated", 200);
        }
        m.request("refused", 401);
        m.request("authenticated", 200);
        m.decision("okta", "accepted", "ok");
        m.decision("okta", "accepted", "ok");
        m.decision("azure", "accepted", "ok");
        m.cache_lookup("hit", "positive");
        let text = m.encode();
        for series in [
            r#"restgate_requests_total{outcome="authenticated",status="200"} 4"#,
            r#"restgate_requests_total{outcome="refused",status="401"} 1"#,
            r#"provider="okta",result="accepted",reason="ok"} 2"#,
            r#"provider="azure",result="accepted",reason="ok"} 1"#,
            r#"{result="hit",verdict="positive"} 1"#,
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
    }
}
