//! Job queues for Node: core's `queue::Queue` and `Worker`, with handlers that are JavaScript
//! functions (`lib/queue/`). Options arrive as the user wrote them and are checked by core
//! (`QueueOptions::from_raw`, `AddOptions::from_raw`, `WorkerOptions::from_raw`).
//!
//! Everything crosses as HTTP's does (`batch`): jobs to run, events and finished operations are
//! queued, the first one after a drain wakes JavaScript, which takes them all into one buffer it
//! owns. Payloads are MessagePack, encoded and decoded on the JavaScript side (`lib/rpc/codec.ts`).
//!
//! Items (`lib/queue/host.ts` reads them):
//! - 0 a job to run: id = the call, aux = the worker, bytes = `{id, name, attempt, token, data}`;
//! - 1 an event: aux = the queue, bytes = `{event, id, name, ...}`;
//! - 2 a call abandoned (timeout, lease lost, closing): id = the call;
//! - 3 an operation done: id = the operation, aux = a number, bytes = a MessagePack value;
//! - 4 an operation failed: id = the operation, strings = code, message.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Uint8ArraySlice, Uint32Array};
use napi_derive::napi;
use omnitron::dialect::Dialect;
use omnitron::options::RawOptions;
use omnitron::queue::{AddOptions, Added, Deployed, Queue, Worker, door};
use omnitron::scheduler::{ScheduleSpec, Scheduler, SchedulerOptions};
use omnitron::telemetry::in_traceparent;
use omnitron::{Error, ErrorCode, runtime};
use parking_lot::Mutex;

use crate::batch::{Parts, Queue as Batch, WakeFn};
use crate::error::ToJs;
use crate::options::{JsRawOption, entries};

enum Item {
    /// A job to run: `head` is its attempt (u32) and token (u64), little-endian, then its data
    /// (MessagePack); its id and name go as the item's strings.
    Job {
        call: u32,
        worker: u32,
        head: Vec<u8>,
        id: String,
        name: String,
    },
    Event {
        queue: u32,
        envelope: Vec<u8>,
    },
    Abandoned {
        call: u32,
    },
    Done {
        op: u32,
        aux: u32,
        bytes: Vec<u8>,
    },
    Failed {
        op: u32,
        code: &'static str,
        message: String,
    },
}

fn parts(item: &Item) -> Parts<'_> {
    let plain = |kind, id, aux, bytes| Parts { kind, id, aux, bytes, strings: [None, None] };
    match item {
        Item::Job { call, worker, head, id, name } => {
            Parts { kind: 0, id: *call, aux: *worker, bytes: head, strings: [Some(id), Some(name)] }
        }
        Item::Event { queue, envelope } => plain(1, 0, *queue, envelope),
        Item::Abandoned { call } => plain(2, *call, 0, &[]),
        Item::Done { op, aux, bytes } => plain(3, *op, *aux, bytes),
        Item::Failed { op, code, message } => {
            Parts { kind: 4, id: *op, aux: 0, bytes: &[], strings: [Some(code), Some(message)] }
        }
    }
}

fn raw(what: String, options: Vec<JsRawOption>) -> RawOptions {
    let mut raw = RawOptions::new(Dialect::TypeScript, what, ErrorCode::InvalidQueue);
    for (k, v) in entries(options) {
        raw.set(&k, v);
    }
    raw
}

/// The queues and workers of one JavaScript thread.
#[napi]
pub struct NativeQueueHost {
    batch: Arc<Batch<Item>>,
    queues: Arc<Mutex<Vec<Queue>>>,
    workers: Mutex<Vec<Option<Worker>>>,
    schedulers: Arc<Mutex<Vec<Option<Scheduler>>>>,
    /// The queues whose events are forwarded.
    watched: Mutex<Vec<u32>>,
}

#[napi]
impl NativeQueueHost {
    /// `wake` is called when items wait for `drain`.
    #[napi(constructor)]
    pub fn new(#[napi(ts_arg_type = "() => void")] wake: WakeFn) -> Self {
        NativeQueueHost {
            batch: Batch::new(wake, None),
            queues: Arc::default(),
            workers: Mutex::new(Vec::new()),
            schedulers: Arc::default(),
            watched: Mutex::new(Vec::new()),
        }
    }

    /// Writes waiting items into `buffer` (see the module's documentation).
    #[napi]
    pub fn drain(&self, mut buffer: Uint8ArraySlice) -> i64 {
        // SAFETY: JavaScript is blocked in this call; nothing else touches the buffer meanwhile.
        self.batch.drain_into(unsafe { buffer.as_mut() }, parts)
    }

    /// Opens queue `name` in the store `store` names (`sqlite:<file>`); `op` reports its number.
    #[napi]
    pub fn open(&self, op: u32, store: String, name: String, options: Vec<JsRawOption>) {
        // `omnitron.yaml`'s `queues:` entry for this queue, if any, wins over the code's options.
        let opts = match Deployed::current()
            .and_then(|d| d.queue_options(&name, &raw(format!("queue '{name}'"), options)))
        {
            Ok(o) => o,
            Err(e) => return self.fail(op, &e),
        };
        let queues = self.queues.clone();
        self.run(op, async move {
            let store = omnitron::queue::connect(&store).await?;
            let q = Queue::open(store, &name, opts).await?;
            let mut all = queues.lock();
            all.push(q);
            Ok((all.len() as u32 - 1, Vec::new()))
        });
    }

    /// Adds a job (`data` MessagePack); `op` reports its id (MessagePack string) and aux 1 when it
    /// was added, 0 for a duplicate.
    /// `traceparent`: the caller's trace, which the job carries to its handler.
    #[napi]
    pub fn add(
        &self,
        op: u32,
        queue: u32,
        name: String,
        data: Buffer,
        options: Vec<JsRawOption>,
        traceparent: Option<String>,
    ) {
        let Some(q) = self.queue(op, queue) else { return };
        let opts = match AddOptions::from_raw(&raw(format!("queue '{}': add('{name}')", q.name()), options)) {
            Ok(o) => o,
            Err(e) => return self.fail(op, &e),
        };
        let data = Bytes::copy_from_slice(&data);
        self.run(
            op,
            in_traceparent(traceparent.as_deref(), async move {
                let (id, added) = q.add_raw(&name, data, &opts).await?;
                Ok((u32::from(added == Added::New), pack_str(&id)))
            }),
        );
    }

    /// Adds jobs in one write; `op` reports how many were new (aux) and their ids (one MessagePack
    /// string, NUL between ids; an array when an id holds a NUL). Job `i` is named `names[name_of[i]]`, its data (MessagePack) ends at `ends[i]` in
    /// `data`, and the jobs listed in `optioned` have `options`, in that order.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn add_many(
        &self,
        op: u32,
        queue: u32,
        names: Vec<String>,
        name_of: Uint32Array,
        data: Uint8ArraySlice,
        ends: Uint32Array,
        optioned: Vec<u32>,
        options: Vec<Vec<JsRawOption>>,
        traceparent: Option<String>,
    ) {
        let Some(q) = self.queue(op, queue) else { return };
        let data = Bytes::copy_from_slice(&data);
        let mut opts: Vec<Option<AddOptions>> = vec![None; ends.len()];
        for (i, o) in optioned.into_iter().zip(options) {
            let Some(name) = name_of.get(i as usize).and_then(|n| names.get(*n as usize)) else {
                return self.fail(op, &bad_batch());
            };
            match AddOptions::from_raw(&raw(format!("queue '{}': addBulk('{name}')", q.name()), o)) {
                Ok(o) => opts[i as usize] = Some(o),
                Err(e) => return self.fail(op, &e),
            }
        }
        let mut jobs = Vec::with_capacity(ends.len());
        let mut start = 0;
        for (i, (end, o)) in ends.iter().zip(opts).enumerate() {
            let (end, name) = (*end as usize, name_of.get(i).and_then(|n| names.get(*n as usize)));
            let (Some(name), true) = (name, start <= end && end <= data.len()) else {
                return self.fail(op, &bad_batch());
            };
            jobs.push((name.clone(), data.slice(start..end), o.unwrap_or_default()));
            start = end;
        }
        self.run(
            op,
            in_traceparent(traceparent.as_deref(), async move {
                let added = q.add_many_raw(jobs).await?;
                let new = added.iter().filter(|(_, a)| *a == Added::New).count() as u32;
                // The ids as one string split on NUL in JavaScript: a string per id decoded there cost
                // as much as the rest of a bulk add. An array when an id holds a NUL, or none is added.
                if !added.is_empty() && added.iter().all(|(id, _)| !id.contains('\0')) {
                    let ids: Vec<&str> = added.iter().map(|(id, _)| id.as_str()).collect();
                    return Ok((new, pack_str(&ids.join("\0"))));
                }
                let mut out = Vec::new();
                array_header(&mut out, added.len());
                for (id, _) in &added {
                    out.extend_from_slice(&pack_str(id));
                }
                Ok((new, out))
            }),
        );
    }

    /// One job: `op` reports it (aux 1) or nothing (aux 0).
    #[napi]
    pub fn get(&self, op: u32, queue: u32, id: String) {
        let Some(q) = self.queue(op, queue) else { return };
        self.run(op, async move {
            Ok(match q.get(&id).await? {
                Some(j) => (1, door::info_envelope(&j)),
                None => (0, Vec::new()),
            })
        });
    }

    /// How many jobs are in each state.
    #[napi]
    pub fn counts(&self, op: u32, queue: u32) {
        let Some(q) = self.queue(op, queue) else { return };
        self.run(op, async move { Ok((0, door::counts_envelope(&q.counts().await?))) });
    }

    /// Resolves once the queue's listeners hear other processes' events too.
    #[napi]
    pub fn listening(&self, op: u32, queue: u32) {
        let Some(q) = self.queue(op, queue) else { return };
        self.run(op, async move {
            q.listening().await?;
            Ok((0, Vec::new()))
        });
    }

    /// Pauses or resumes the queue, for every worker.
    #[napi]
    pub fn set_paused(&self, op: u32, queue: u32, paused: bool) {
        let Some(q) = self.queue(op, queue) else { return };
        self.run(op, async move {
            if paused {
                q.pause().await?
            } else {
                q.resume().await?
            }
            Ok((0, Vec::new()))
        });
    }

    /// Removes a job that is not running: aux 1 when there was one.
    #[napi]
    pub fn remove(&self, op: u32, queue: u32, id: String) {
        let Some(q) = self.queue(op, queue) else { return };
        self.run(op, async move { Ok((u32::from(q.remove(&id).await?), Vec::new())) });
    }

    /// The dead-letter queue, oldest first.
    #[napi]
    pub fn dead(&self, op: u32, queue: u32, offset: u32, limit: u32) {
        let Some(q) = self.queue(op, queue) else { return };
        self.run(op, async move {
            Ok((0, door::infos_envelope(&q.dead(u64::from(offset), u64::from(limit)).await?)))
        });
    }

    /// Puts dead jobs back (all of them without `ids`); aux reports how many.
    #[napi]
    pub fn retry_dead(&self, op: u32, queue: u32, ids: Option<Vec<String>>) {
        let Some(q) = self.queue(op, queue) else { return };
        self.run(op, async move { Ok((q.retry_dead(ids.as_deref()).await? as u32, Vec::new())) });
    }

    /// Forwards the queue's events (from the workers of every process sharing the store) to JavaScript.
    #[napi]
    pub fn watch(&self, queue: u32) -> napi::Result<(), String> {
        let q = self.queues.lock().get(queue as usize).cloned().ok_or_else(|| no_queue(queue)).js()?;
        let mut watched = self.watched.lock();
        if watched.contains(&queue) {
            return Ok(());
        }
        watched.push(queue);
        let mut rx = q.events();
        let batch = self.batch.clone();
        runtime::handle().spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => batch.push(Item::Event { queue, envelope: door::event_envelope(&e) }),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(queue = q.name(), missed = n, "queue events: JavaScript fell behind")
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(())
    }

    /// Starts a worker on `queue`; its jobs arrive as items of kind 0 with the worker's number.
    #[napi]
    pub fn start_worker(&self, queue: u32, options: Vec<JsRawOption>) -> napi::Result<u32, String> {
        let q = self.queues.lock().get(queue as usize).cloned().ok_or_else(|| no_queue(queue)).js()?;
        let raw = raw(format!("worker of queue '{}'", q.name()), options);
        let opts = Deployed::current().and_then(|d| d.worker_options(&raw)).js()?;
        let mut workers = self.workers.lock();
        let index = workers.len() as u32;
        let (jobs, abandoned) = (self.batch.clone(), self.batch.clone());
        let invoke: door::Invoke = Arc::new(move |call, job| {
            // attempt (u32), token (u64), the trace's length (u8, 0: none) and traceparent, data.
            let trace = job.traceparent();
            let trace = trace.as_deref().unwrap_or("").as_bytes();
            let mut head = Vec::with_capacity(13 + trace.len() + job.raw().len());
            head.extend_from_slice(&job.attempt().to_le_bytes());
            head.extend_from_slice(&job.token().to_le_bytes());
            head.push(trace.len() as u8);
            head.extend_from_slice(trace);
            head.extend_from_slice(job.raw());
            jobs.push(Item::Job {
                call,
                worker: index,
                head,
                id: job.id().to_string(),
                name: job.name().to_string(),
            });
            true
        });
        let abandon: door::Abandon = Arc::new(move |call| abandoned.push(Item::Abandoned { call }));
        let _guard = runtime::handle().enter();
        let w = Worker::start_raw(&q, opts, door::handler(invoke, Some(abandon))).js()?;
        workers.push(Some(w));
        Ok(index)
    }

    /// Answers a job: `code` null for success (`result` MessagePack, null for none), else the
    /// error's code and message. False if the call is gone (abandoned).
    #[napi]
    pub fn answer(
        &self,
        call: u32,
        code: Option<String>,
        message: Option<String>,
        result: Option<Buffer>,
    ) -> bool {
        let r = match code {
            None => Ok(result.map_or_else(|| Bytes::from_static(&[0xc0]), |b| Bytes::copy_from_slice(&b))),
            Some(c) => Err(door::failure(Some(&c), &message.unwrap_or_default())),
        };
        door::answer(call, r)
    }

    /// Reports a running job's progress (MessagePack); aux 1 when recorded, 0 when the job's lease
    /// was lost or the call is over.
    #[napi]
    pub fn progress(&self, op: u32, call: u32, data: Buffer) {
        let Some(job) = door::job(call) else {
            return self.batch.push(Item::Done { op, aux: 0, bytes: Vec::new() });
        };
        let data = Bytes::copy_from_slice(&data);
        self.run(op, async move { Ok((u32::from(job.progress_raw(data).await?), Vec::new())) });
    }

    /// Closes a worker: no new job, running ones get `grace` ms to finish, the rest are handed
    /// back; `op` reports when every outcome is recorded.
    #[napi]
    pub fn close_worker(&self, op: u32, worker: u32, grace: f64) {
        let w = self.workers.lock().get_mut(worker as usize).and_then(Option::take);
        let Some(w) = w else {
            return self.batch.push(Item::Done { op, aux: 0, bytes: Vec::new() });
        };
        let grace = Duration::from_secs_f64((grace.max(0.0) / 1000.0).min(1e9));
        self.run(op, async move {
            w.close(grace).await;
            Ok((0, Vec::new()))
        });
    }

    /// Starts the scheduler for `schedules` (JSON `ScheduleSpec`s, `wheres` naming each in errors)
    /// over the store `store` names; `op` reports its number. Each firing is a job on the
    /// schedule's queue, run by whichever worker takes it.
    #[napi]
    pub fn start_scheduler(&self, op: u32, store: String, schedules: String, wheres: Vec<String>) {
        // The decorated schedules, and this process's `cronJobs:` from `omnitron.yaml`.
        let schedules = match ScheduleSpec::schedules_from_json(&schedules, &wheres)
            .and_then(|s| Ok([s, Deployed::current()?.schedules()?].concat()))
        {
            Ok(s) => s,
            Err(e) => return self.fail(op, &e),
        };
        let all = self.schedulers.clone();
        self.run(op, async move {
            let store = omnitron::queue::connect(&store).await?;
            let s = Scheduler::start(store, schedules, SchedulerOptions::default())?;
            let mut all = all.lock();
            all.push(Some(s));
            Ok((all.len() as u32 - 1, Vec::new()))
        });
    }

    /// How many `cronJobs:` `omnitron.yaml` gives this process (`OMNITRON_QUEUES`): `Omnitron.create`
    /// starts a scheduler for them even without a decorated schedule.
    #[napi]
    pub fn deployed_schedules(&self) -> napi::Result<u32, String> {
        Deployed::current().map(|d| d.cron_jobs.len() as u32).js()
    }

    /// Stops a scheduler (no new firing); `op` reports when it has let go of its lease.
    #[napi]
    pub fn close_scheduler(&self, op: u32, scheduler: u32) {
        let s = self.schedulers.lock().get_mut(scheduler as usize).and_then(Option::take);
        self.run(op, async move {
            if let Some(s) = s {
                s.close().await;
            }
            Ok((0, Vec::new()))
        });
    }

    fn queue(&self, op: u32, queue: u32) -> Option<Queue> {
        let q = self.queues.lock().get(queue as usize).cloned();
        if q.is_none() {
            self.fail(op, &no_queue(queue));
        }
        q
    }

    fn run(&self, op: u32, fut: impl Future<Output = omnitron::Result<(u32, Vec<u8>)>> + Send + 'static) {
        let batch = self.batch.clone();
        runtime::handle().spawn(async move {
            match fut.await {
                Ok((aux, bytes)) => batch.push(Item::Done { op, aux, bytes }),
                Err(e) => {
                    batch.push(Item::Failed { op, code: e.code().as_str(), message: e.message().to_string() })
                }
            }
        });
    }

    fn fail(&self, op: u32, e: &Error) {
        self.batch.push(Item::Failed { op, code: e.code().as_str(), message: e.message().to_string() });
    }
}

/// A batch whose parts do not line up: only a caller other than the package's `addBulk` makes one.
fn bad_batch() -> Error {
    Error::invalid_argument("addBulk: the batch's names, data and ends do not line up")
}

fn no_queue(n: u32) -> Error {
    Error::new(ErrorCode::QueueClosed, format!("queue #{n} is not open"))
}

fn array_header(out: &mut Vec<u8>, n: usize) {
    out.push(0xdd);
    out.extend_from_slice(&(n as u32).to_be_bytes());
}

fn pack_str(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 5);
    out.push(0xdb);
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    out
}
