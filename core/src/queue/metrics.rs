//! What queues count in the metrics registry (the global one unless the queue was given another).
//! Series are looked up once, when the queue is opened; rates are the counters' `rate()`.
//!
//! - `omnitron_queue_jobs_total{queue, outcome}`: added, duplicate, completed, retried, dead,
//!   stalled (handed back) — counted by this process;
//! - `omnitron_queue_jobs{queue, state}`: waiting, delayed, active, completed, dead — the store's
//!   counts, so every machine's jobs, sampled by running workers and by `Queue::counts`;
//! - `omnitron_queue_in_flight{queue}`: jobs this process's workers are running;
//! - `omnitron_queue_job_duration_seconds{queue}`: how long attempts ran;
//! - `omnitron_queue_wait_seconds{queue}`: from a job's creation to its first attempt's start.

use super::job::Counts;
use crate::error::Result;
use crate::metrics::{Counter, Gauge, Histogram, MetricOptions, Registry};

#[derive(Debug)]
pub(crate) struct QueueMetrics {
    pub(crate) added: Counter,
    pub(crate) duplicate: Counter,
    pub(crate) completed: Counter,
    pub(crate) retried: Counter,
    pub(crate) dead: Counter,
    pub(crate) stalled: Counter,
    depth: [Gauge; 5],
    pub(crate) in_flight: Gauge,
    pub(crate) duration: Histogram,
    pub(crate) wait: Histogram,
}

impl QueueMetrics {
    pub(crate) fn new(registry: &Registry, queue: &str) -> Result<QueueMetrics> {
        let jobs = registry.counter_vec(
            MetricOptions::new("omnitron_queue_jobs_total", "Jobs of a queue, by what happened to them")
                .labels(["queue", "outcome"]),
        )?;
        let depth = registry.gauge_vec(
            MetricOptions::new("omnitron_queue_jobs", "Jobs held by a queue's store, by state")
                .labels(["queue", "state"]),
        )?;
        let in_flight = registry.gauge_vec(
            MetricOptions::new("omnitron_queue_in_flight", "Jobs this process's workers are running")
                .labels(["queue"]),
        )?;
        let duration = registry.histogram_vec(
            MetricOptions::new("omnitron_queue_job_duration_seconds", "How long job attempts ran")
                .labels(["queue"]),
        )?;
        let wait = registry.histogram_vec(
            MetricOptions::new(
                "omnitron_queue_wait_seconds",
                "From a job's creation to its first attempt's start",
            )
            .labels(["queue"]),
        )?;
        let outcome = |o: &str| jobs.with_labels(&[queue, o]);
        let state = |s: &str| depth.with_labels(&[queue, s]);
        Ok(QueueMetrics {
            added: outcome("added")?,
            duplicate: outcome("duplicate")?,
            completed: outcome("completed")?,
            retried: outcome("retried")?,
            dead: outcome("dead")?,
            stalled: outcome("stalled")?,
            depth: [
                state("waiting")?,
                state("delayed")?,
                state("active")?,
                state("completed")?,
                state("dead")?,
            ],
            in_flight: in_flight.with_labels(&[queue])?,
            duration: duration.with_labels(&[queue])?,
            wait: wait.with_labels(&[queue])?,
        })
    }

    pub(crate) fn depth(&self, c: &Counts) {
        for (g, n) in self.depth.iter().zip([c.waiting, c.delayed, c.active, c.completed, c.dead]) {
            g.set(n as f64);
        }
    }
}
