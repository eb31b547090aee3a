//! What pools and supervisors count in the metrics registry.

use crate::metrics::{Counter, Gauge, Histogram, MetricOptions, Registry};

const OUTCOMES: [&str; 6] = ["ok", "error", "timeout", "rejected", "lost", "cancelled"];

/// A pool's series.
#[derive(Debug)]
pub(crate) struct PoolMetrics {
    ready: Option<Gauge>,
    starting: Option<Gauge>,
    pub(crate) queue_depth: Gauge,
    pub(crate) task_duration: Histogram,
    pub(crate) restarts: Counter,
    pub(crate) recycled: Counter,
    pub(crate) spawn_to_ready: Histogram,
    outcomes: Vec<(&'static str, Counter)>,
}

fn or_detached<T>(r: crate::Result<T>, fallback: impl FnOnce() -> T) -> T {
    r.unwrap_or_else(|e| {
        tracing::warn!("pool metrics not registered: {e}");
        fallback()
    })
}

impl PoolMetrics {
    pub(crate) fn new(registry: &Registry, pool: &str) -> PoolMetrics {
        let detached = Registry::new();
        let workers = registry
            .gauge_vec(
                MetricOptions::new("omnitron_pool_workers", "Pool workers by state")
                    .labels(["pool", "state"]),
            )
            .ok();
        let l = |name: &str, help: &str| MetricOptions::new(name, help).labels(["pool"]);
        let gauge = |o: MetricOptions| {
            or_detached(registry.gauge_vec(o.clone()).and_then(|g| g.with_labels(&[pool])), || {
                detached
                    .gauge_vec(o)
                    .and_then(|g| g.with_labels(&[pool]))
                    .expect("a fresh registry takes any metric")
            })
        };
        let counter = |o: MetricOptions| {
            or_detached(registry.counter_vec(o.clone()).and_then(|g| g.with_labels(&[pool])), || {
                detached
                    .counter_vec(o)
                    .and_then(|g| g.with_labels(&[pool]))
                    .expect("a fresh registry takes any metric")
            })
        };
        let histogram = |o: MetricOptions| {
            or_detached(registry.histogram_vec(o.clone()).and_then(|g| g.with_labels(&[pool])), || {
                detached
                    .histogram_vec(o)
                    .and_then(|g| g.with_labels(&[pool]))
                    .expect("a fresh registry takes any metric")
            })
        };
        PoolMetrics {
            ready: workers.as_ref().and_then(|g| g.with_labels(&[pool, "ready"]).ok()),
            starting: workers.as_ref().and_then(|g| g.with_labels(&[pool, "starting"]).ok()),
            queue_depth: gauge(l("omnitron_pool_queue_depth", "Tasks waiting for a pool worker")),
            task_duration: histogram(l(
                "omnitron_pool_task_duration_seconds",
                "Time from exec to result, waiting included",
            )),
            restarts: counter(l("omnitron_pool_restarts_total", "Pool workers replaced after a crash")),
            recycled: counter(l(
                "omnitron_pool_recycled_total",
                "Pool workers replaced after their task limit or lifetime",
            )),
            spawn_to_ready: histogram(l(
                "omnitron_pool_spawn_seconds",
                "Time from spawning a worker to its ready report",
            )),
            outcomes: registry
                .counter_vec(
                    MetricOptions::new(
                        "omnitron_pool_tasks_total",
                        "Pool tasks by outcome (ok, error, timeout, rejected, lost, cancelled)",
                    )
                    .labels(["pool", "outcome"]),
                )
                .map(|c| {
                    OUTCOMES.iter().filter_map(|o| c.with_labels(&[pool, o]).ok().map(|s| (*o, s))).collect()
                })
                .unwrap_or_default(),
        }
    }

    pub(crate) fn set_workers(&self, ready: usize, starting: usize) {
        if let Some(g) = &self.ready {
            g.set(ready as f64);
        }
        if let Some(g) = &self.starting {
            g.set(starting as f64);
        }
    }

    pub(crate) fn outcome(&self, what: &str) {
        if let Some((_, c)) = self.outcomes.iter().find(|(o, _)| *o == what) {
            c.inc();
        }
    }
}
