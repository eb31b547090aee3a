//! [`Queue`], the handle on one queue: adds jobs to a queue in a store and reads it back.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

pub use super::events::QueueEvent;

use super::job::{Added, Counts, JobInfo, NewJob, new_job_id};
use super::metrics::QueueMetrics;
use super::options::{AddOptions, QueueOptions};
use super::store::{DeadSelection, QueueLimits, Store};
use crate::error::{Error, ErrorCode, Result};

/// A queue: a name in a store, with its options. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    pub(crate) inner: Arc<QueueInner>,
}

pub(crate) struct QueueInner {
    pub(crate) name: String,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) options: QueueOptions,
    pub(crate) metrics: QueueMetrics,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("name", &self.inner.name).field("store", &self.inner.store).finish()
    }
}

/// Letters, digits, `-`, `_`, `.` and `:`, 1 to 128 of them: a queue's name is part of Redis keys
/// and metric labels.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidQueue,
            format!("queue name '{name}': use 1 to 128 letters, digits, '-', '_', '.' or ':'"),
        ))
    }
}

impl Queue {
    /// Opens queue `name` in `store`. Its limits (concurrency, rate), when set, are written to the
    /// store, where every worker on every machine reads them.
    pub async fn open(store: Arc<dyn Store>, name: &str, options: QueueOptions) -> Result<Queue> {
        check_name(name)?;
        if options.job.attempts == 0 {
            return Err(Error::new(
                ErrorCode::InvalidQueue,
                "attempts: must be at least 1 (the first attempt counts)",
            ));
        }
        if options.concurrency.is_some() || options.rate.is_some() {
            let limits =
                QueueLimits { concurrency: options.concurrency, rate: options.rate.map(|r| (r.max, r.per)) };
            store.set_limits(name, limits).await?;
        }
        let metrics = QueueMetrics::new(crate::metrics::Registry::global(), name)?;
        Ok(Queue { inner: Arc::new(QueueInner { name: name.to_string(), store, options, metrics }) })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Adds a job whose payload is already MessagePack; answers its id (the given one for a
    /// duplicate) and whether it was added.
    pub async fn add_raw(&self, name: &str, data: Bytes, opts: &AddOptions) -> Result<(String, Added)> {
        let mut job = self.new_job(name, data, opts)?;
        let (span, trace) = super::trace::adding(&self.inner.name, 1);
        job.opts.trace = trace;
        let id = job.id.clone();
        let added = self.inner.store.add(&self.inner.name, vec![job]).await;
        end_add(span, &added);
        let added = added?;
        self.count_added(&added);
        Ok((id, added.first().copied().unwrap_or(Added::Duplicate)))
    }

    /// Adds a job; its payload is serialized to MessagePack here, so a payload that does not
    /// serialize is refused now (`Q008`), not at the worker.
    pub async fn add<T: Serialize + ?Sized>(
        &self,
        name: &str,
        data: &T,
        opts: &AddOptions,
    ) -> Result<(String, Added)> {
        self.add_raw(name, encode(data)?, opts).await
    }

    /// Adds many jobs in one write; answers each one's id and fate, in order.
    pub async fn add_many_raw(&self, jobs: Vec<(String, Bytes, AddOptions)>) -> Result<Vec<(String, Added)>> {
        let mut jobs = jobs
            .into_iter()
            .map(|(name, data, opts)| self.new_job(&name, data, &opts))
            .collect::<Result<Vec<_>>>()?;
        // One span for the write; every job of it carries its context.
        let (span, trace) = super::trace::adding(&self.inner.name, jobs.len());
        if trace.is_some() {
            for j in &mut jobs {
                j.opts.trace = trace.clone();
            }
        }
        let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let added = self.inner.store.add(&self.inner.name, jobs).await;
        end_add(span, &added);
        let added = added?;
        self.count_added(&added);
        Ok(ids.into_iter().zip(added).collect())
    }

    fn count_added(&self, added: &[Added]) {
        let new = added.iter().filter(|a| **a == Added::New).count();
        let m = &self.inner.metrics;
        let _ = m.added.inc_by(new as f64);
        let _ = m.duplicate.inc_by((added.len() - new) as f64);
    }

    fn new_job(&self, name: &str, data: Bytes, opts: &AddOptions) -> Result<NewJob> {
        if let Some(id) = &opts.id
            && (id.is_empty() || id.len() > 256)
        {
            return Err(Error::new(ErrorCode::InvalidQueue, "id: a job id is 1 to 256 characters"));
        }
        let run_at_ms = opts.delay.map_or(0, |d| crate::time::now_ms().saturating_add(d.as_millis() as u64));
        Ok(NewJob {
            id: opts.id.clone().unwrap_or_else(new_job_id),
            name: name.to_string(),
            data,
            priority: opts.priority,
            run_at_ms,
            opts: opts.job_options(&self.inner.options.job)?,
        })
    }

    /// One job, in any state.
    pub async fn get(&self, id: &str) -> Result<Option<JobInfo>> {
        self.inner.store.get(&self.inner.name, id).await
    }

    /// Removes a job that is not running; answers whether there was one (`Q010` while it runs).
    pub async fn remove(&self, id: &str) -> Result<bool> {
        self.inner.store.remove(&self.inner.name, id).await
    }

    /// Stops handing jobs out (running ones finish), on every worker of the queue.
    pub async fn pause(&self) -> Result<()> {
        self.inner.store.set_paused(&self.inner.name, true).await
    }

    /// Hands jobs out again.
    pub async fn resume(&self) -> Result<()> {
        self.inner.store.set_paused(&self.inner.name, false).await
    }

    /// How many jobs are in each state.
    pub async fn counts(&self) -> Result<Counts> {
        let c = self.inner.store.counts(&self.inner.name).await?;
        self.inner.metrics.depth(&c);
        Ok(c)
    }

    /// The dead-letter queue, oldest first, each job with every attempt's error.
    pub async fn dead(&self, offset: u64, limit: u64) -> Result<Vec<JobInfo>> {
        self.inner.store.dead(&self.inner.name, offset, limit).await
    }

    /// Puts dead jobs back in the queue with fresh attempts (their past errors kept); answers how many.
    pub async fn retry_dead(&self, ids: Option<&[String]>) -> Result<u64> {
        let which = ids.map_or(DeadSelection::All, DeadSelection::Ids);
        self.inner.store.retry_dead(&self.inner.name, which).await
    }

    /// What happens to the queue's jobs, in the workers of every process sharing the store: this
    /// process's at once, the others' once [`listening`](Queue::listening) resolves (a few
    /// milliseconds after the first call). At most once: a receiver that falls thousands of events
    /// behind loses the oldest.
    pub fn events(&self) -> broadcast::Receiver<QueueEvent> {
        self.inner.store.events(&self.inner.name)
    }

    /// Resolves once the receivers of [`events`](Queue::events) hear the events of other
    /// processes too (`Q002` if the store cannot carry them within a few seconds).
    pub async fn listening(&self) -> Result<()> {
        self.inner.store.listening(&self.inner.name).await
    }

    pub(crate) fn emit(&self, events: Vec<QueueEvent>) {
        self.inner.store.publish(&self.inner.name, events);
    }
}

/// MessagePack with field names (maps), as every door reads it.
pub(crate) fn encode<T: Serialize + ?Sized>(data: &T) -> Result<Bytes> {
    rmp_serde::to_vec_named(data).map(Bytes::from).map_err(|e| {
        Error::new(ErrorCode::InvalidJobData, format!("the job's data cannot be serialized: {e}"))
    })
}

/// Ends an add's span with the store's answer.
fn end_add(span: Option<crate::telemetry::Span>, added: &Result<Vec<Added>>) {
    let Some(mut span) = span else { return };
    if let Err(e) = added {
        span.set_error(e.code().as_str(), e.message());
    }
    span.end();
}
