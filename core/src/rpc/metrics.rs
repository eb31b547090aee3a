//! What RPC counts in the metrics registry, on the side that serves: calls, errors by code, latency,
//! stream items; and events published and delivered.

use std::collections::HashMap;
use std::sync::Arc;

use crate::metrics::{Counter, CounterVec, Histogram, MetricOptions, Registry};

/// The series of one method, looked up once when the service is exposed.
#[derive(Debug)]
pub(crate) struct MethodMetrics {
    pub(crate) calls: Counter,
    pub(crate) duration: Histogram,
    pub(crate) items: Counter,
}

/// A service's series.
#[derive(Debug)]
pub(crate) struct ServiceMetrics {
    pub(crate) methods: HashMap<String, Arc<MethodMetrics>>,
    errors: Option<CounterVec>,
    service: String,
}

impl ServiceMetrics {
    pub(crate) fn new(registry: &Registry, service: &str, methods: &[String]) -> ServiceMetrics {
        let calls = registry
            .counter_vec(
                MetricOptions::new("omnitron_rpc_requests_total", "RPC calls served")
                    .labels(["service", "method"]),
            )
            .ok();
        let duration = registry
            .histogram_vec(
                MetricOptions::new("omnitron_rpc_request_duration_seconds", "Time to serve RPC calls")
                    .labels(["service", "method"]),
            )
            .ok();
        let items = registry
            .counter_vec(
                MetricOptions::new("omnitron_rpc_stream_items_total", "Stream items served")
                    .labels(["service", "method"]),
            )
            .ok();
        let errors = registry
            .counter_vec(
                MetricOptions::new("omnitron_rpc_errors_total", "RPC calls that failed, by error code")
                    .labels(["service", "method", "code"]),
            )
            .ok();
        let mut out = HashMap::new();
        if let (Some(c), Some(d), Some(i)) = (calls, duration, items) {
            for m in methods {
                let labels = [service, m.as_str()];
                if let (Ok(calls), Ok(duration), Ok(items)) =
                    (c.with_labels(&labels), d.with_labels(&labels), i.with_labels(&labels))
                {
                    out.insert(m.clone(), Arc::new(MethodMetrics { calls, duration, items }));
                }
            }
        }
        ServiceMetrics { methods: out, errors, service: service.to_string() }
    }

    pub(crate) fn error(&self, method: &str, code: &str) {
        if let Some(e) = &self.errors
            && let Ok(c) = e.with_labels(&[self.service.as_str(), method, code])
        {
            c.inc();
        }
    }
}

/// Event counters of a peer.
#[derive(Debug, Clone)]
pub(crate) struct EventMetrics {
    pub(crate) published: Option<Counter>,
    pub(crate) delivered: Option<Counter>,
}

impl EventMetrics {
    pub(crate) fn new(registry: &Registry) -> EventMetrics {
        let published = registry
            .counter(MetricOptions::new(
                "omnitron_events_published_total",
                "Events published by this process",
            ))
            .ok();
        let delivered = registry
            .counter(MetricOptions::new(
                "omnitron_events_delivered_total",
                "Events delivered to this process's subscribers",
            ))
            .ok();
        EventMetrics { published, delivered }
    }
}
