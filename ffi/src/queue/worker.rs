//! Workers whose handler is a C callback. Each job becomes a call of `queue::door` (as in every
//! door): the callback gets an `OmnitronJob` and finishes it with omnitron_job_complete or _fail,
//! then or later, from any thread; the engine keeps the lease meanwhile, and drops an answer that
//! comes after it gave up on the attempt (timeout, lease lost, worker closed).
//!
//! Threads: the callback runs on the engine's blocking pool, never on the thread that started the
//! worker; up to the worker's concurrency at once, on several threads. A callback that blocks holds
//! one of those threads (and the job's slot of the concurrency), not the engine.
//!
//! Once omnitron_queue_worker_close returns, no callback runs and none will: close waits for the
//! callbacks running, and a callback not started yet is skipped (its job was handed back already).

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use omnitron::queue::{Deployed, Worker, door};
use omnitron::{Error, ErrorCode, runtime};
use parking_lot::{Condvar, Mutex};

use super::job::{OmnitronJob, discard, fail_if_live, hand_out};
use super::{OmnitronQueue, QUEUES};
use crate::boundary::{OmnitronFreeFn, Table, UserData, check_out, guard, guard_out, guard_void};
use crate::error::{CallbackStatus, OmnitronStatus, callback_error, clear_callback_message};
use crate::options::raw_options;

/// A worker running a queue's jobs with a C callback. Thread-safe. Close it with
/// omnitron_queue_worker_close (running jobs get a grace to finish) and free it with
/// omnitron_queue_worker_free. Closing it from inside its own callback works (close does not wait
/// for the callback it is called from) but that callback's job, unfinished, waits out the grace:
/// close it from another thread.
#[derive(Debug)]
pub struct OmnitronQueueWorker {
    _private: [u8; 0],
}

/// Runs one job. `job` is the caller's until it is finished: call omnitron_job_complete or
/// omnitron_job_fail exactly once, now or later, from any thread (for example after handing the job
/// to a thread of your own), and return OMNITRON_STATUS_OK. Returning another status means the
/// callback did not take the job: the library fails the attempt with that status's code and the
/// message given to omnitron_callback_error, and frees the job (do not use it afterwards; if it was
/// finished already, that answer stands). Runs on an engine thread of the blocking pool, up to the
/// worker's `concurrency` at once; a job left unfinished holds its slot of the concurrency until
/// it is finished or the engine gives up on it (its `timeout_ms`, a lost lease, the worker closing).
/// No callback runs once omnitron_queue_worker_close (or _free) has returned.
pub type OmnitronJobFn =
    Option<unsafe extern "C" fn(job: *mut OmnitronJob, user_data: *mut c_void) -> CallbackStatus>;

type RawJobFn = unsafe extern "C" fn(*mut OmnitronJob, *mut c_void) -> CallbackStatus;

/// A worker until it is closed, and its callbacks.
struct CWorker {
    worker: Mutex<Option<Worker>>,
    callbacks: Arc<Callbacks>,
}

/// The callbacks of one worker: how many run now, and whether more may start (not once the
/// worker is closed).
#[derive(Default)]
struct Callbacks {
    state: Mutex<Calls>,
    changed: Condvar,
}

#[derive(Default)]
struct Calls {
    running: usize,
    shut: bool,
}

thread_local! {
    /// The worker whose callback this thread runs (its `Callbacks`' address), 0 for none.
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

impl Callbacks {
    /// Counts a callback in; false once the worker is closed.
    fn enter(&self) -> bool {
        let mut s = self.state.lock();
        if s.shut {
            return false;
        }
        s.running += 1;
        true
    }

    fn leave(&self) {
        self.state.lock().running -= 1;
        self.changed.notify_all();
    }

    /// No callback starts from now on.
    fn shut(&self) {
        self.state.lock().shut = true;
        self.changed.notify_all();
    }

    /// Waits until the worker is shut and no callback runs, but the one this thread is in (closing
    /// from inside a callback does not wait for itself).
    fn wait_idle(&self) {
        let own = usize::from(IN_CALLBACK.with(Cell::get) == self as *const Callbacks as usize);
        let mut s = self.state.lock();
        while !(s.shut && s.running <= own) {
            self.changed.wait(&mut s);
        }
    }

    /// Runs `f` as one of this worker's callbacks, unless the worker is closed.
    fn run(&self, f: impl FnOnce()) -> bool {
        if !self.enter() {
            return false;
        }
        /// Counts the callback out however `f` ends.
        struct Inside<'a>(&'a Callbacks, usize);
        impl Drop for Inside<'_> {
            fn drop(&mut self) {
                IN_CALLBACK.with(|c| c.set(self.1));
                self.0.leave();
            }
        }
        let _inside = Inside(self, IN_CALLBACK.with(|c| c.replace(self as *const Callbacks as usize)));
        f();
        true
    }
}

impl CWorker {
    /// Closes the worker (once: a second caller waits for the first), then waits for its
    /// callbacks to return.
    fn close(&self, grace: Duration) {
        let running = self.worker.lock().take();
        if let Some(running) = running {
            runtime::block_on(running.close(grace));
            self.callbacks.shut();
        }
        self.callbacks.wait_idle();
    }
}

static WORKERS: Table<CWorker> = Table::new("queue worker");

/// Calls the callback with the job handle `job` (an address: handles are numbers, so it crosses
/// threads as one); a status other than OK fails the attempt unless the callback finished it.
fn run(callback: RawJobFn, ud: &UserData, job: usize) {
    let job = job as *mut OmnitronJob;
    clear_callback_message();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the callback's contract (header); the handle stays valid until it is finished.
        unsafe { callback(job, ud.get()) }
    }));
    let status = caught.unwrap_or(OmnitronStatus::Internal as u32);
    if status != 0 {
        let code = ErrorCode::from_u32(status).unwrap_or(ErrorCode::JobFailed);
        fail_if_live(job, callback_error(code, "the job callback".to_string(), status));
    }
}

/// Starts a worker on `queue` that runs each job with `callback` (see OmnitronJobFn: it runs on an
/// engine thread). `options_json` (NULL: the defaults): `{"concurrency": 4, "lease_ms": 30000,
/// "poll_interval_ms": 100, "max_stalls": 1, "name": "mailer-1", "prefetch": 8}`: jobs run at once
/// (default 1), the lease held on each (renewed every third of it; a worker that dies loses its
/// jobs to others after this long; at least 100), how often an idle worker looks for jobs added by
/// other processes (jobs added in this process wake it at once), how often a job's worker may be
/// lost before it is dead, the worker's name in the store, and how many jobs it holds leased
/// beyond the running ones, to start without a round trip to the store (default the concurrency,
/// at least 8; 0 on a queue with limits; a held job no free slot starts within 250 ms goes back).
/// `free_user_data(user_data)` (NULL: nothing) runs once the worker is closed or freed and its
/// last callback has returned, on the thread that lets go last; or before this function returns
/// if it fails. Free the worker with
/// omnitron_queue_worker_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_worker_start(
    queue: *mut OmnitronQueue,
    options_json: *const c_char,
    callback: OmnitronJobFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
    out: *mut *mut OmnitronQueueWorker,
) -> OmnitronStatus {
    guard_out(out, || {
        let ud = UserData::new(user_data, free_user_data);
        check_out(out, "out")?;
        let q = QUEUES.get(queue)?;
        let callback = callback.ok_or_else(|| Error::invalid_argument("callback is NULL"))?;
        let what = format!("worker of queue '{}'", q.name());
        // The process's `concurrency` from `omnitron.yaml` when the options set none.
        let opts = Deployed::current()?.worker_options(&raw_options(
            options_json,
            what,
            ErrorCode::InvalidQueue,
        )?)?;
        let callbacks = Arc::new(Callbacks::default());
        let gate = callbacks.clone();
        let invoke: door::Invoke = Arc::new(move |call, job| {
            let handle = hand_out(call, job) as usize;
            let (ud, gate, trace) = (ud.clone(), gate.clone(), job.trace().cloned());
            runtime::handle().spawn_blocking(move || {
                // Not started before the worker closed: the engine has handed the job back. The
                // attempt's span is the thread's current trace while the callback runs.
                let ran =
                    omnitron::telemetry::with_context(trace, || gate.run(|| run(callback, &ud, handle)));
                if !ran {
                    discard(handle as *mut OmnitronJob);
                }
            });
            true
        });
        let _runtime = runtime::handle().enter();
        let worker = Worker::start_raw(&q, opts, door::handler(invoke, None))?;
        WORKERS.insert_out(out, CWorker { worker: Mutex::new(Some(worker)), callbacks })
    })
}

/// Closes the worker, blocking the calling thread: it takes no new job; running jobs get up to
/// `grace_ms` to be finished; jobs still unfinished then are handed back to the front of the queue,
/// their attempt not counted (their late answers are dropped). Returns once every outcome is in the
/// store and every callback has returned: from then on no callback runs. Closing again (from
/// another thread too) waits for the first close. The handle stays valid until
/// omnitron_queue_worker_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_worker_close(
    worker: *mut OmnitronQueueWorker,
    grace_ms: u64,
) -> OmnitronStatus {
    guard(|| {
        WORKERS.get(worker)?.close(Duration::from_millis(grace_ms));
        Ok(())
    })
}

/// Frees the worker; one still running is closed first with no grace (its running jobs are handed
/// back at once, their late answers dropped). Blocks as omnitron_queue_worker_close does. NULL and
/// freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_worker_free(worker: *mut OmnitronQueueWorker) {
    guard_void(|| {
        if let Some(w) = WORKERS.remove(worker) {
            w.close(Duration::ZERO);
        }
        Ok(())
    })
}
