//! The `restgate_cluster_*` series: whether this replica shares through
//! Redis now, and what the shared tier did. Labels are fixed words only.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `restgate_cluster_shared_lookups_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SharedLabels {
    /// `hit`, `miss`, `error`, `skipped` (Redis was down).
    pub result: &'static str,
}

/// `restgate_cluster_waits_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WaitLabels {
    /// `answered` (another replica's provider call answered), `failed`
    /// (its call failed), `timeout` (no answer within the provider's timeout).
    pub outcome: &'static str,
}

/// `restgate_cluster_evictions_total`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EvictionLabels {
    /// `sent` (asked here) or `received` (from another replica or a catch-up).
    pub origin: &'static str,
    /// `token`, `user`, `all` (the catch-up after a reconnect).
    pub kind: &'static str,
}

/// The cluster series.
#[derive(Clone, Default)]
pub struct ClusterSeries {
    /// 1 once connected and caught up on evictions, else 0.
    pub up: Gauge,
    /// Shared-tier lookups by result.
    pub lookups: Family<SharedLabels, Counter>,
    /// Values that did not open: forged, moved, altered, or sealed under
    /// another key.
    pub unopenable: Counter,
    /// Waits for another replica's provider call, by outcome.
    pub waits: Family<WaitLabels, Counter>,
    /// Evictions by origin and kind.
    pub evictions: Family<EvictionLabels, Counter>,
    /// Redis calls that failed or ran past `cluster.timeout`.
    pub errors: Counter,
    /// Times Redis went from reachable to unreachable.
    pub outages: Counter,
    /// Replicas sharing this Redis and key, as last counted.
    pub replicas: Gauge,
}

impl ClusterSeries {
    /// Registers every series under `restgate_cluster_`.
    pub(super) fn register(registry: &mut Registry) -> ClusterSeries {
        let s = ClusterSeries::default();
        let r = registry.sub_registry_with_prefix("cluster");
        r.register(
            "up",
            "1 when this replica shares through Redis (connected and caught up on evictions)",
            s.up.clone(),
        );
        r.register(
            "shared_lookups",
            "Shared-cache lookups after an in-process miss, by result",
            s.lookups.clone(),
        );
        r.register(
            "unopenable_values",
            "Shared values ignored because they did not open (forged, moved or altered)",
            s.unopenable.clone(),
        );
        r.register(
            "waits",
            "Waits for another replica's provider call, by outcome",
            s.waits.clone(),
        );
        r.register(
            "evictions",
            "Evictions sent to or received from the cluster",
            s.evictions.clone(),
        );
        r.register(
            "errors",
            "Redis calls that failed or ran past cluster.timeout",
            s.errors.clone(),
        );
        r.register(
            "outages",
            "Times Redis became unreachable",
            s.outages.clone(),
        );
        r.register(
            "replicas",
            "Replicas sharing this Redis and cluster key, as last counted",
            s.replicas.clone(),
        );
        s
    }

    /// Counts a shared lookup.
    pub fn lookup(&self, result: &'static str) {
        self.lookups.get_or_create(&SharedLabels { result }).inc();
    }

    /// Counts a wait's outcome.
    pub fn wait(&self, outcome: &'static str) {
        self.waits.get_or_create(&WaitLabels { outcome }).inc();
    }

    /// Counts an eviction.
    pub fn eviction(&self, origin: &'static str, kind: &'static str) {
        self.evictions
            .get_or_create(&EvictionLabels { origin, kind })
            .inc();
    }
}
