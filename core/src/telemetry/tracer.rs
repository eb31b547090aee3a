//! The process's tracer: samples, records finished spans in a bounded queue, and hands them to
//! the exporter thread in batches. Calls never wait for an export: when the queue is full a span
//! is dropped and counted.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::config::{Exporter, Sampler, TraceConfig};
use super::context::TraceContext;
use super::export::{self, Batch};
use super::recent::Ring;
use super::span::{Span, SpanData, SpanKind};
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::{Counter, MetricOptions, Registry};

static TRACER: OnceLock<Tracer> = OnceLock::new();

/// The installed tracer, if any (one atomic load: what every hop checks first).
#[inline]
pub(crate) fn tracer() -> Option<&'static Tracer> {
    TRACER.get()
}

/// Whether tracing is on in this process.
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// Installs tracing for this process. Once: a second install is an error (`P007`), whatever it
/// asks for, since spans already made went where the first one said.
pub fn install(mut config: TraceConfig, language: &str) -> Result<()> {
    if let Sampler::Ratio(r) = config.sampler
        && !(0.0..=1.0).contains(&r)
    {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            format!("sampler: the ratio {r} is not between 0 and 1"),
        ));
    }
    if config.max_queue == 0 || config.batch_size == 0 {
        return Err(Error::new(ErrorCode::InvalidConfig, "max_queue and batch_size must be at least 1"));
    }
    config.batch_size = config.batch_size.min(config.max_queue);
    config.delay = config.delay.max(super::config::MIN_DELAY);
    let mut installed = false;
    TRACER.get_or_init(|| {
        installed = true;
        Tracer::new(config, language)
    });
    if !installed {
        return Err(Error::new(ErrorCode::InvalidConfig, "tracing is already installed in this process"));
    }
    if let Some(t) = TRACER.get() {
        t.start_exporter();
    }
    Ok(())
}

/// Installs tracing from the `OTEL_*` variables if they ask for it and nothing is installed yet.
/// What each door calls when it starts a peer or an application; a value that cannot be used is
/// an error naming the variable (`P007`).
pub fn install_from_env(default_service: &str, language: &str) -> Result<()> {
    if TRACER.get().is_some() {
        return Ok(());
    }
    match TraceConfig::from_env(default_service)? {
        Some(cfg) => match install(cfg, language) {
            // Another thread installed it meanwhile: the same variables, the same tracer.
            Err(_) if TRACER.get().is_some() => Ok(()),
            r => r,
        },
        None => Ok(()),
    }
}

/// Exports every span ended so far, waiting at most `timeout`. True if all were handed to the
/// collector (or dropped as counted) in time. What a process calls before it exits.
pub fn flush(timeout: Duration) -> bool {
    match TRACER.get() {
        Some(t) => t.flush(timeout),
        None => true,
    }
}

/// The counters of what became of spans (in the metrics registry too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpanCounts {
    /// Accepted by the collector.
    pub exported: u64,
    /// Dropped: the queue was full, or the export failed.
    pub dropped: u64,
}

/// What became of this process's spans so far.
pub fn span_counts() -> SpanCounts {
    TRACER.get().map_or_else(SpanCounts::default, |t| SpanCounts {
        exported: t.exported.get() as u64,
        dropped: t.dropped.get() as u64,
    })
}

pub(crate) struct Tracer {
    pub(super) config: TraceConfig,
    pub(super) language: String,
    queue: Mutex<Queue>,
    /// Wakes the exporter: a full batch, or a flush.
    wake: Condvar,
    /// Wakes flushers when the exporter has sent what they wait for.
    flushed: Condvar,
    pub(super) exported: Counter,
    pub(super) dropped: Counter,
    /// The latest finished spans, for the status page.
    pub(super) recent: Mutex<Ring>,
}

#[derive(Default)]
// Spans stay in the box they were recorded in: queueing moves a pointer, not the span.
#[allow(clippy::vec_box)]
struct Queue {
    spans: Vec<Box<SpanData>>,
    /// Spans ever queued, and spans ever taken by the exporter and finished with (sent or
    /// dropped): a flush waits until the second reaches what the first was when it began.
    queued: u64,
    done: u64,
    flush_requested: bool,
}

impl Tracer {
    fn new(config: TraceConfig, language: &str) -> Tracer {
        let r = Registry::global();
        // A name the application declared otherwise keeps its own series: these count apart.
        let counter = |name: &str, help: &str| {
            let opts = MetricOptions::new(name, help);
            r.counter(opts.clone()).or_else(|_| Registry::new().counter(opts)).expect("a valid metric name")
        };
        Tracer {
            queue: Mutex::new(Queue { spans: Vec::with_capacity(config.batch_size), ..Queue::default() }),
            wake: Condvar::new(),
            flushed: Condvar::new(),
            exported: counter("omnitron_trace_spans_exported_total", "Spans the collector accepted"),
            dropped: counter(
                "omnitron_trace_spans_dropped_total",
                "Spans dropped: the export queue was full, or the collector failed or was too slow",
            ),
            recent: Mutex::new(Ring::new(config.keep_recent)),
            config,
            language: sdk_language(language).to_string(),
        }
    }

    /// Whether ended spans go anywhere: to a collector, or to the status page's ring.
    fn keeps_spans(&self) -> bool {
        !matches!(self.config.exporter, Exporter::None) || self.config.keep_recent > 0
    }

    fn start_exporter(&'static self) {
        if !self.keeps_spans() {
            return;
        }
        let spawned =
            std::thread::Builder::new().name("omnitron-trace-export".into()).spawn(move || self.run());
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the trace exporter thread; spans are dropped");
        }
    }

    /// Starts a span, sampled as its parent is, or by the sampler for a root.
    pub(super) fn start(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: Option<&TraceContext>,
    ) -> Span {
        let (context, parent_id, record) = self.decide(parent);
        if record { Span::recorded(context, parent_id, name, kind) } else { Span::unrecorded(context) }
    }

    /// A new span's context, its parent's span id (0 for a root), and whether it is recorded:
    /// decided before anything else of the span is made (an RPC hop builds its name only then).
    pub(super) fn decide(&self, parent: Option<&TraceContext>) -> (TraceContext, u64, bool) {
        let (context, parent_id) = match parent {
            Some(p) => (p.child(), p.span_id),
            None => {
                let mut root = TraceContext::root(false);
                root.sampled = self.config.sampler.samples(root.trace_id);
                (root, 0)
            }
        };
        let record = context.sampled && self.keeps_spans();
        (context, parent_id, record)
    }

    /// Queues an ended span, or drops it (counted) when the queue is full.
    pub(super) fn record(&self, span: Box<SpanData>) {
        let mut q = self.queue.lock();
        if q.spans.len() >= self.config.max_queue {
            drop(q);
            self.dropped.inc();
            return;
        }
        q.spans.push(span);
        q.queued += 1;
        if q.spans.len() == self.config.batch_size {
            self.wake.notify_one();
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        if !self.keeps_spans() {
            return true;
        }
        let until = Instant::now() + timeout;
        let mut q = self.queue.lock();
        let target = q.queued;
        q.flush_requested = true;
        self.wake.notify_one();
        while q.done < target {
            if self.flushed.wait_until(&mut q, until).timed_out() {
                return q.done >= target;
            }
        }
        true
    }

    /// The exporter thread: a batch when one is full, when the delay has passed, or on a flush.
    fn run(&'static self) {
        // No collector: the spans only go to the status page's ring.
        let mut client = match &self.config.exporter {
            Exporter::Otlp { endpoint, headers, timeout } => {
                let Some(c) = export::Client::new(endpoint, headers.clone(), *timeout) else { return };
                Some(c)
            }
            Exporter::None => None,
        };
        let resource = export::resource(self);
        loop {
            let batch: Vec<Box<SpanData>> = {
                let mut q = self.queue.lock();
                if q.spans.len() < self.config.batch_size && !q.flush_requested {
                    let until = Instant::now() + self.config.delay;
                    while q.spans.len() < self.config.batch_size && !q.flush_requested {
                        if self.wake.wait_until(&mut q, until).timed_out() {
                            break;
                        }
                    }
                }
                let n = q.spans.len().min(self.config.batch_size);
                if n == 0 {
                    q.flush_requested = false;
                    self.flushed.notify_all();
                    continue;
                }
                q.spans.drain(..n).collect()
            };
            let n = batch.len() as u64;
            if let Some(client) = client.as_mut() {
                if client.send(&Batch { resource: &resource, spans: &batch }) {
                    let _ = self.exported.inc_by(n as f64);
                } else {
                    let _ = self.dropped.inc_by(n as f64);
                }
            }
            if self.config.keep_recent > 0 {
                let mut recent = self.recent.lock();
                for span in batch {
                    recent.push(span);
                }
            }
            let mut q = self.queue.lock();
            q.done += n;
            if q.spans.is_empty() {
                q.flush_requested = false;
            }
            self.flushed.notify_all();
        }
    }
}

/// `telemetry.sdk.language` as OpenTelemetry spells it, from a door's own name for its language.
fn sdk_language(lang: &str) -> &str {
    match lang {
        "node" | "javascript" | "typescript" => "nodejs",
        "c" | "c++" => "cpp",
        other => other,
    }
}
