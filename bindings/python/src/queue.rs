//! Job queues for Python: core's `queue::Queue` and `Worker`, with handlers that are Python
//! callables (`omnitron.queue`). Keyword options are checked by core in Python's dialect
//! (`rate_limit="100/minute"`, durations in seconds). Engine threads queue jobs, events and
//! finished operations in an inbox (see `rpc/host.rs`) drained by the asyncio loop, so they never
//! wait for the GIL. Payloads are MessagePack, turned into Python values here (`pack`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use omnitron::queue::{AddOptions, Added, Deployed, Queue, Worker, door};
use omnitron::scheduler::{ScheduleSpec, Scheduler, SchedulerOptions};
use omnitron::telemetry::in_traceparent;
use omnitron::{Error, ErrorCode, runtime};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::error::{ToPy, to_py};
use crate::options::raw;
use crate::pack;
use crate::rpc::Inbox;

/// What an operation gives back to Python, made under the GIL.
enum Outcome {
    Nothing,
    Int(u64),
    Ids(Vec<String>),
    Pack(Vec<u8>),
    Added(String, bool),
}

/// The queues and workers of one asyncio loop.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeQueueHost {
    inbox: Arc<Inbox>,
    queues: Arc<Mutex<Vec<Queue>>>,
    workers: Mutex<Vec<Option<Worker>>>,
    schedulers: Arc<Mutex<Vec<Option<Scheduler>>>>,
}

fn encode(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Bytes> {
    let mut out = Vec::new();
    pack::encode_into(obj, &mut out).map_err(|e| {
        let py = obj.py();
        let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
        to_py(
            py,
            &Error::new(ErrorCode::InvalidJobData, format!("{what}: the data cannot be serialized: {msg}")),
        )
    })?;
    Ok(Bytes::from(out))
}

impl NativeQueueHost {
    fn queue(&self, py: Python<'_>, n: usize) -> PyResult<Queue> {
        self.queues
            .lock()
            .get(n)
            .cloned()
            .ok_or_else(|| to_py(py, &Error::new(ErrorCode::QueueClosed, format!("queue #{n} is not open"))))
    }

    /// Runs `fut` on the engine; `done(value, None)` or `done(None, error)` on the loop.
    fn run(&self, done: Py<PyAny>, fut: impl Future<Output = omnitron::Result<Outcome>> + Send + 'static) {
        let inbox = self.inbox.clone();
        runtime::handle().spawn(async move {
            let r = fut.await;
            inbox.run(move |py| {
                let args = match r {
                    Ok(o) => match value_of(py, o) {
                        Ok(v) => (v, py.None()),
                        Err(e) => (py.None(), e.into_value(py).into_any()),
                    },
                    Err(e) => (py.None(), to_py(py, &e).into_value(py).into_any()),
                };
                if let Err(e) = done.call1(py, args) {
                    e.print(py);
                }
            });
        });
    }
}

fn value_of(py: Python<'_>, o: Outcome) -> PyResult<Py<PyAny>> {
    Ok(match o {
        Outcome::Nothing => py.None(),
        Outcome::Int(n) => n.into_pyobject(py)?.into_any().unbind(),
        Outcome::Ids(ids) => ids.into_pyobject(py)?.into_any().unbind(),
        Outcome::Pack(b) => pack::decode(py, &b)?,
        Outcome::Added(id, new) => (id, new).into_pyobject(py)?.into_any().unbind(),
    })
}

#[pymethods]
impl NativeQueueHost {
    #[new]
    fn new() -> PyResult<Self> {
        Ok(NativeQueueHost {
            inbox: Inbox::new()?,
            queues: Arc::default(),
            workers: Mutex::new(Vec::new()),
            schedulers: Arc::default(),
        })
    }

    fn inbox_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inbox.wake_rx.as_raw_fd()
    }

    fn drain(&self, py: Python<'_>) {
        self.inbox.drain(py);
    }

    /// Checks `options` now (raising), then opens the queue; `done` gets its number.
    fn open(
        &self,
        py: Python<'_>,
        store: String,
        name: String,
        options: &Bound<'_, PyDict>,
        done: Py<PyAny>,
    ) -> PyResult<()> {
        // `omnitron.yaml`'s `queues:` entry for this queue, if any, wins over the code's options.
        let code = raw(format!("queue '{name}'"), ErrorCode::InvalidQueue, Some(options))?;
        let opts = Deployed::current().and_then(|d| d.queue_options(&name, &code)).py(py)?;
        let queues = self.queues.clone();
        self.run(done, async move {
            let store = omnitron::queue::connect(&store).await?;
            let q = Queue::open(store, &name, opts).await?;
            let mut all = queues.lock();
            all.push(q);
            Ok(Outcome::Int(all.len() as u64 - 1))
        });
        Ok(())
    }

    /// Adds a job, in the caller's trace `traceparent` (which the job carries to its handler);
    /// `done` gets `(id, added)`.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        py: Python<'_>,
        queue: usize,
        name: String,
        data: &Bound<'_, PyAny>,
        options: &Bound<'_, PyDict>,
        traceparent: Option<String>,
        done: Py<PyAny>,
    ) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        let what = format!("queue '{}': add('{name}')", q.name());
        let data = encode(data, &what)?;
        let opts = AddOptions::from_raw(&raw(what, ErrorCode::InvalidQueue, Some(options))?).py(py)?;
        self.run(
            done,
            in_traceparent(traceparent.as_deref(), async move {
                let (id, added) = q.add_raw(&name, data, &opts).await?;
                Ok(Outcome::Added(id, added == Added::New))
            }),
        );
        Ok(())
    }

    /// Adds `(name, data, options)` jobs in one write; `done` gets their ids.
    fn add_many(
        &self,
        py: Python<'_>,
        queue: usize,
        jobs: &Bound<'_, PyList>,
        traceparent: Option<String>,
        done: Py<PyAny>,
    ) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        let mut all = Vec::with_capacity(jobs.len());
        for item in jobs.iter() {
            let (name, data, options): (String, Bound<'_, PyAny>, Bound<'_, PyDict>) = item.extract()?;
            let what = format!("queue '{}': add_many('{name}')", q.name());
            let data = encode(&data, &what)?;
            let opts = AddOptions::from_raw(&raw(what, ErrorCode::InvalidQueue, Some(&options))?).py(py)?;
            all.push((name, data, opts));
        }
        self.run(
            done,
            in_traceparent(traceparent.as_deref(), async move {
                Ok(Outcome::Ids(q.add_many_raw(all).await?.into_iter().map(|(id, _)| id).collect()))
            }),
        );
        Ok(())
    }

    /// One job as a dict, or None.
    fn get(&self, py: Python<'_>, queue: usize, id: String, done: Py<PyAny>) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        self.run(done, async move {
            Ok(match q.get(&id).await? {
                Some(j) => Outcome::Pack(door::info_envelope(&j)),
                None => Outcome::Nothing,
            })
        });
        Ok(())
    }

    fn counts(&self, py: Python<'_>, queue: usize, done: Py<PyAny>) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        self.run(done, async move { Ok(Outcome::Pack(door::counts_envelope(&q.counts().await?))) });
        Ok(())
    }

    /// Calls `done` once the queue's listeners hear other processes' events too.
    fn listening(&self, py: Python<'_>, queue: usize, done: Py<PyAny>) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        self.run(done, async move {
            q.listening().await?;
            Ok(Outcome::Nothing)
        });
        Ok(())
    }

    fn set_paused(&self, py: Python<'_>, queue: usize, paused: bool, done: Py<PyAny>) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        self.run(done, async move {
            if paused {
                q.pause().await?
            } else {
                q.resume().await?
            }
            Ok(Outcome::Nothing)
        });
        Ok(())
    }

    fn remove(&self, py: Python<'_>, queue: usize, id: String, done: Py<PyAny>) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        self.run(done, async move { Ok(Outcome::Int(u64::from(q.remove(&id).await?))) });
        Ok(())
    }

    fn dead(&self, py: Python<'_>, queue: usize, offset: u64, limit: u64, done: Py<PyAny>) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        self.run(done, async move { Ok(Outcome::Pack(door::infos_envelope(&q.dead(offset, limit).await?))) });
        Ok(())
    }

    #[pyo3(signature = (queue, ids, done))]
    fn retry_dead(
        &self,
        py: Python<'_>,
        queue: usize,
        ids: Option<Vec<String>>,
        done: Py<PyAny>,
    ) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        self.run(done, async move { Ok(Outcome::Int(q.retry_dead(ids.as_deref()).await?)) });
        Ok(())
    }

    /// Calls `listener(event_dict)` on the loop for each of the queue's events, from every process
    /// sharing the store.
    fn watch(&self, py: Python<'_>, queue: usize, listener: Py<PyAny>) -> PyResult<()> {
        let q = self.queue(py, queue)?;
        let mut rx = q.events();
        let inbox = self.inbox.clone();
        let listener = Arc::new(listener);
        runtime::handle().spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        let (bytes, l) = (door::event_envelope(&e), listener.clone());
                        inbox.run(move |py| {
                            let r = pack::decode(py, &bytes).and_then(|v| l.call1(py, (v,)));
                            if let Err(e) = r {
                                e.print(py);
                            }
                        });
                    }
                    // The oldest events went (docs/QUEUES.md: events are at most once); go on.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
        Ok(())
    }

    /// Starts a worker: `dispatch(call, job_dict)` runs on the loop for each job and may return a
    /// callable that stops it (called when the attempt is abandoned); answer with `answer`.
    fn start_worker(
        &self,
        py: Python<'_>,
        queue: usize,
        options: &Bound<'_, PyDict>,
        dispatch: Py<PyAny>,
    ) -> PyResult<usize> {
        let q = self.queue(py, queue)?;
        let code = raw(format!("worker of queue '{}'", q.name()), ErrorCode::InvalidQueue, Some(options))?;
        let opts = Deployed::current().and_then(|d| d.worker_options(&code)).py(py)?;
        let stops: Arc<Mutex<std::collections::HashMap<u32, Py<PyAny>>>> = Arc::default();
        let (inbox, dispatch, s) = (self.inbox.clone(), Arc::new(dispatch), stops.clone());
        let invoke: door::Invoke = Arc::new(move |call, job| {
            // Positional, not a map: a dict per job is a large share of a trivial job's cost.
            let (id, name, data) = (job.id().to_string(), job.name().to_string(), job.raw().clone());
            let (attempt, token, trace) = (job.attempt(), job.token(), job.traceparent());
            let (dispatch, s) = (dispatch.clone(), s.clone());
            inbox.run(move |py| {
                let r = pack::decode(py, &data)
                    .and_then(|data| dispatch.call1(py, (call, id, name, data, attempt, token, trace)));
                match r {
                    Ok(stop) if !stop.is_none(py) => {
                        s.lock().insert(call, stop);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                        door::answer(call, Err(door::failure(None, &message)));
                    }
                }
            });
            true
        });
        let inbox = self.inbox.clone();
        let abandon: door::Abandon = Arc::new(move |call| {
            let stops = stops.clone();
            inbox.run(move |py| {
                if let Some(stop) = stops.lock().remove(&call)
                    && let Err(e) = stop.call0(py)
                {
                    e.print(py);
                }
            });
        });
        let _guard = runtime::handle().enter();
        let w = Worker::start_raw(&q, opts, door::handler(invoke, Some(abandon))).py(py)?;
        let mut workers = self.workers.lock();
        workers.push(Some(w));
        Ok(workers.len() - 1)
    }

    /// Answers a job: its result, or (`code`, `message`) for a failure. False when the call is gone.
    #[pyo3(signature = (call, result, code=None, message=None))]
    fn answer(
        &self,
        call: u32,
        result: &Bound<'_, PyAny>,
        code: Option<&str>,
        message: Option<&str>,
    ) -> bool {
        let r = match code {
            Some(c) => Err(door::failure(Some(c), message.unwrap_or_default())),
            None => match encode(result, "the job's result") {
                Ok(b) => Ok(b),
                Err(e) => {
                    let py = result.py();
                    let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                    Err(Error::new(ErrorCode::InvalidJobData, message))
                }
            },
        };
        door::answer(call, r)
    }

    /// Reports a running job's progress; `done` gets 1 when recorded, 0 when its lease was lost.
    fn progress(&self, call: u32, value: &Bound<'_, PyAny>, done: Py<PyAny>) -> PyResult<()> {
        let data = encode(value, "progress")?;
        let Some(job) = door::job(call) else {
            self.run(done, async { Ok(Outcome::Int(0)) });
            return Ok(());
        };
        self.run(done, async move { Ok(Outcome::Int(u64::from(job.progress_raw(data).await?))) });
        Ok(())
    }

    /// Closes a worker (running jobs get `grace` seconds); `done` when every outcome is recorded.
    fn close_worker(&self, worker: usize, grace: f64, done: Py<PyAny>) {
        let w = self.workers.lock().get_mut(worker).and_then(Option::take);
        let grace = Duration::from_secs_f64(grace.clamp(0.0, 1e9));
        self.run(done, async move {
            if let Some(w) = w {
                w.close(grace).await;
            }
            Ok(Outcome::Nothing)
        });
    }

    /// Checks `schedules` (JSON `ScheduleSpec`s, `wheres` naming each in errors) now, raising,
    /// then starts the scheduler over the store; `done` gets its number.
    fn start_scheduler(
        &self,
        py: Python<'_>,
        store: String,
        schedules: &str,
        wheres: Vec<String>,
        done: Py<PyAny>,
    ) -> PyResult<()> {
        // The decorated schedules, and this process's `cronJobs:` from `omnitron.yaml`.
        let schedules = ScheduleSpec::schedules_from_json(schedules, &wheres)
            .and_then(|s| Ok([s, Deployed::current()?.schedules()?].concat()))
            .py(py)?;
        let all = self.schedulers.clone();
        self.run(done, async move {
            let store = omnitron::queue::connect(&store).await?;
            let s = Scheduler::start(store, schedules, SchedulerOptions::default())?;
            let mut all = all.lock();
            all.push(Some(s));
            Ok(Outcome::Int(all.len() as u64 - 1))
        });
        Ok(())
    }

    /// How many `cronJobs:` `omnitron.yaml` gives this process (`OMNITRON_QUEUES`):
    /// `Omnitron.create` starts a scheduler for them even without a decorated schedule.
    fn deployed_schedules(&self, py: Python<'_>) -> PyResult<usize> {
        Deployed::current().map(|d| d.cron_jobs.len()).py(py)
    }

    /// Stops a scheduler; `done` once it has let go of its lease.
    fn close_scheduler(&self, scheduler: usize, done: Py<PyAny>) {
        let s = self.schedulers.lock().get_mut(scheduler).and_then(Option::take);
        self.run(done, async move {
            if let Some(s) = s {
                s.close().await;
            }
            Ok(Outcome::Nothing)
        });
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeQueueHost>()
}
