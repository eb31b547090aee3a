//! Job queues through the C ABI: core's `queue::Queue` over a store named by URL (`sqlite:<file>`,
//! `redis://host:port`), jobs added with MessagePack or JSON payloads, read back as MessagePack or
//! JSON (the envelopes every door reads: `queue::door`), and workers whose handler is a C callback.
//! Options are JSON objects read by core in C's dialect (docs/QUEUES.md, docs/C_API.md).
//!
//! This file holds the queue handle; [`worker`] the workers and their callback, [`job`] the job a
//! callback gets and finishes.
//!
//! Threads: the queue's functions block the calling thread until the store answers. Job callbacks
//! run on the engine's blocking threads ([`worker`]).

// cbindgen writes a module's functions before its submodules', in the order they are declared:
// keep the declarations apart so rustfmt does not sort them.
pub mod worker;

pub mod job;

pub mod events;

use std::ffi::c_char;

use bytes::Bytes;
use omnitron::queue::{AddOptions, Added, Deployed, Queue, door};
use omnitron::rpc::Value;
use omnitron::{Error, ErrorCode, runtime};

use crate::boundary::{Table, check_out, give_string, guard, guard_out, guard_void, str_arg, write_out};
use crate::error::OmnitronStatus;
use crate::memory::{OmnitronBuffer, give};
use crate::options::raw_options;
use crate::rpc::{json_to_msgpack, msgpack_to_json};
use crate::telemetry::in_caller_trace;

/// A queue: a name in a store, with the options its jobs get by default. Thread-safe: jobs may be
/// added and the queue read from several threads at once. Free it with omnitron_queue_free;
/// workers started on it keep running until they are closed.
#[derive(Debug)]
pub struct OmnitronQueue {
    _private: [u8; 0],
}

pub(crate) static QUEUES: Table<Queue> = Table::new("queue");

/// `len` bytes at `data`, one MessagePack value (`len` 0: nil), copied. A payload that is not one
/// is refused here (Q008), not where another door reads it.
pub(crate) fn payload(data: *const u8, len: usize, what: &str) -> Result<Bytes, Error> {
    if len == 0 {
        return Ok(Bytes::from_static(omnitron::rpc::NIL));
    }
    if data.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL but its length is {len}")));
    }
    // SAFETY: `len` readable bytes at `data` by contract.
    let bytes = Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(data, len) });
    Value::decode(&bytes).map_err(|e| {
        Error::new(ErrorCode::InvalidJobData, format!("{what} is not one MessagePack value: {}", e.message()))
    })?;
    Ok(bytes)
}

/// JSON text (NULL: null) as a MessagePack payload.
pub(crate) fn json_payload(text: *const c_char, what: &str) -> Result<Bytes, Error> {
    if text.is_null() {
        return Ok(Bytes::from_static(omnitron::rpc::NIL));
    }
    json_to_msgpack(str_arg(text, what)?.as_bytes(), what)
}

/// Opens queue `name` (1 to 128 letters, digits, `-`, `_`, `.`, `:`) in the store `store_url` names:
/// `sqlite:<file>` (created if missing; every open of one file in a process shares one store),
/// `sqlite::memory:`, or `redis://[user:password@]host[:port][/db][?prefix=<prefix>]`.
/// `options_json` (NULL: the defaults) sets what its jobs get unless added otherwise, and the limits
/// every worker of the queue applies, on every machine: `{"concurrency": 4, "rate_limit":
/// "100/minute", "retries": 5, "backoff": "exponential", "backoff_delay_ms": 1000,
/// "max_delay_ms": 3600000, "timeout_ms": 30000, "keep_completed_ms": 3600000}` (or `attempts`
/// in all instead of `retries`; `backoff` also as `{"type": "fixed", "delay_ms": 500}`). An unknown
/// key is OMNITRON_STATUS_INVALID_ARGUMENT naming the nearest one; a wrong value (a rate that is
/// not `N/unit`, a bad name) OMNITRON_STATUS_INVALID_QUEUE naming the key and the rule; a store
/// that cannot be opened OMNITRON_STATUS_QUEUE_STORE_FAILED or _QUEUE_STORE_VERSION. Free it with
/// omnitron_queue_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_open(
    store_url: *const c_char,
    name: *const c_char,
    options_json: *const c_char,
    out: *mut *mut OmnitronQueue,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let url = str_arg(store_url, "store_url")?;
        let name = str_arg(name, "name")?;
        // `omnitron.yaml`'s `queues:` entry for this queue, if any, wins over the caller's options.
        let code = raw_options(options_json, format!("queue '{name}'"), ErrorCode::InvalidQueue)?;
        let opts = Deployed::current()?.queue_options(name, &code)?;
        let queue = runtime::block_on(async move {
            let store = omnitron::queue::connect(url).await?;
            Queue::open(store, name, opts).await
        })?;
        QUEUES.insert_out(out, queue)
    })
}

/// Frees the queue handle. Its jobs stay in the store; workers started on it keep running until
/// they are closed. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_free(queue: *mut OmnitronQueue) {
    guard_void(|| {
        QUEUES.remove(queue);
        Ok(())
    })
}

/// Adds a job and writes what became of it (both shared by omnitron_queue_add and _add_json).
fn add(
    queue: *mut OmnitronQueue,
    job_name: *const c_char,
    data: impl FnOnce() -> Result<Bytes, Error>,
    options_json: *const c_char,
    id_out: *mut *mut c_char,
    added_out: *mut bool,
) -> Result<(), Error> {
    let q = QUEUES.get(queue)?;
    let name = str_arg(job_name, "job_name")?;
    let data = data()?;
    let what = format!("queue '{}': add('{name}')", q.name());
    let opts = AddOptions::from_raw(&raw_options(options_json, what, ErrorCode::InvalidQueue)?)?;
    let (id, added) = runtime::block_on(in_caller_trace(q.add_raw(name, data, &opts)))?;
    if !added_out.is_null() {
        write_out(added_out, added == Added::New, "added_out")?;
    }
    if !id_out.is_null() {
        write_out(id_out, give_string(&id)?, "id_out")?;
    }
    Ok(())
}

/// Adds a job named `job_name` with `len` bytes of MessagePack at `data` (`len` 0: nil; copied),
/// once it is durable in the store. `options_json` (NULL: the queue's defaults): `{"id": "order-7"}`
/// (or `job_id`; an id the queue already holds, in any state, adds nothing), `delay_ms`,
/// `priority` (lower runs first; 0, the default, is the highest), `retries` or `attempts`,
/// `backoff`, `backoff_delay_ms`, `max_delay_ms`, `timeout_ms`, `keep_completed_ms`. Writes the
/// job's id to `*id_out` (free it with omnitron_free) and whether it was added to `*added_out`
/// (false: a duplicate of an existing id); either may be NULL. Data that is not one MessagePack
/// value is OMNITRON_STATUS_INVALID_JOB_DATA.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_add(
    queue: *mut OmnitronQueue,
    job_name: *const c_char,
    data: *const u8,
    len: usize,
    options_json: *const c_char,
    id_out: *mut *mut c_char,
    added_out: *mut bool,
) -> OmnitronStatus {
    guard_out((id_out, added_out), || {
        add(queue, job_name, || payload(data, len, "data"), options_json, id_out, added_out)
    })
}

/// omnitron_queue_add with the job's data as JSON text (NULL: null), stored as MessagePack so every
/// door reads it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_add_json(
    queue: *mut OmnitronQueue,
    job_name: *const c_char,
    data_json: *const c_char,
    options_json: *const c_char,
    id_out: *mut *mut c_char,
    added_out: *mut bool,
) -> OmnitronStatus {
    guard_out((id_out, added_out), || {
        add(queue, job_name, || json_payload(data_json, "data_json"), options_json, id_out, added_out)
    })
}

/// Adds many jobs in one write, given as a JSON array: `[{"name": "welcome", "data": {"to":
/// "ada@example.com"}, "opts": {"id": "w-1"}}, ...]` (`data` and `opts` optional; `opts` as
/// omnitron_queue_add's `options_json`). Writes to `*out` (free `out->data` with omnitron_free;
/// `out` may be NULL) a JSON array with each job's fate, in order: `[{"id": "w-1", "added":
/// true}, ...]` (`added` false: a duplicate of an existing id). Nothing is added if any job is
/// refused (a bad option names the job's index).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_add_many_json(
    queue: *mut OmnitronQueue,
    jobs_json: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        let q = QUEUES.get(queue)?;
        let text = str_arg(jobs_json, "jobs_json")?;
        let all: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid_argument(format!("jobs_json is not valid JSON: {e}")))?;
        let serde_json::Value::Array(all) = all else {
            return Err(Error::invalid_argument(
                "jobs_json must be a JSON array of {\"name\", \"data\", \"opts\"}",
            ));
        };
        let mut jobs = Vec::with_capacity(all.len());
        for (i, job) in all.iter().enumerate() {
            let what = format!("jobs_json[{i}]");
            let serde_json::Value::Object(job) = job else {
                return Err(Error::invalid_argument(format!("{what} must be an object with \"name\"")));
            };
            if let Some(k) = job.keys().find(|k| !matches!(k.as_str(), "name" | "data" | "opts")) {
                return Err(Error::invalid_argument(format!(
                    "{what}: unknown key '{k}'; the keys are name, data, opts"
                )));
            }
            let Some(serde_json::Value::String(name)) = job.get("name") else {
                return Err(Error::invalid_argument(format!("{what}: \"name\" must be a string")));
            };
            let data = Value::from_json(job.get("data").unwrap_or(&serde_json::Value::Null)).to_bytes();
            let mut raw = omnitron::options::RawOptions::new(
                omnitron::dialect::Dialect::C,
                format!("queue '{}': {what}", q.name()),
                ErrorCode::InvalidQueue,
            );
            match job.get("opts") {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Object(o)) => {
                    for (k, v) in o {
                        raw.set(k, omnitron::options::Value::from_json(v));
                    }
                }
                Some(_) => {
                    return Err(Error::invalid_argument(format!("{what}: \"opts\" must be an object")));
                }
            }
            jobs.push((name.clone(), data, AddOptions::from_raw(&raw)?));
        }
        let added = runtime::block_on(in_caller_trace(q.add_many_raw(jobs)))?;
        if !out.is_null() {
            // Written by hand so the keys keep the documented order.
            let fates: Vec<String> = added
                .iter()
                .map(|(id, a)| {
                    format!(
                        "{{\"id\":{},\"added\":{}}}",
                        serde_json::Value::from(id.as_str()),
                        *a == Added::New
                    )
                })
                .collect();
            give(out, format!("[{}]", fates.join(",")).as_bytes())?;
        }
        Ok(())
    })
}

/// How many of the queue's jobs are in each state, across every worker and process, as JSON:
/// `{"waiting": 3, "delayed": 0, "active": 1, "completed": 10, "dead": 0, "paused": false}`
/// (free `out->data` with omnitron_free).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_counts_json(
    queue: *mut OmnitronQueue,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let q = QUEUES.get(queue)?;
        let counts = runtime::block_on(q.counts())?;
        give(out, msgpack_to_json(&door::counts_envelope(&counts))?.as_bytes())
    })
}

/// Stops handing out the queue's jobs, on every worker of every process (running jobs finish).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_pause(queue: *mut OmnitronQueue) -> OmnitronStatus {
    guard(|| runtime::block_on(QUEUES.get(queue)?.pause()))
}

/// Hands the queue's jobs out again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_resume(queue: *mut OmnitronQueue) -> OmnitronStatus {
    guard(|| runtime::block_on(QUEUES.get(queue)?.resume()))
}

/// One job, in any state, as the MessagePack envelope every door reads, or its JSON text.
fn get(
    queue: *mut OmnitronQueue,
    id: *const c_char,
    out: *mut OmnitronBuffer,
    json: bool,
) -> Result<(), Error> {
    check_out(out, "out")?;
    let q = QUEUES.get(queue)?;
    let id = str_arg(id, "id")?;
    let info = runtime::block_on(q.get(id))?.ok_or_else(|| {
        Error::new(ErrorCode::JobNotFound, format!("queue '{}' has no job '{id}'", q.name()))
    })?;
    let envelope = door::info_envelope(&info);
    if json { give(out, msgpack_to_json(&envelope)?.as_bytes()) } else { give(out, &envelope) }
}

/// The job `id`, in any state, as a MessagePack map: `{id, name, data, state ("waiting",
/// "delayed", "active", "completed", "dead"), attempts, errors (each `{attempt, at, code,
/// message}`), progress, result, priority, createdAt, finishedAt}` (times in ms since the epoch;
/// `finishedAt` 0 until it ends; data, progress and result as they were given). Free `out->data`
/// with omnitron_free. OMNITRON_STATUS_JOB_NOT_FOUND when the queue holds no such job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_get(
    queue: *mut OmnitronQueue,
    id: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || get(queue, id, out, false))
}

/// omnitron_queue_get as JSON text (binary values become arrays of numbers).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_get_json(
    queue: *mut OmnitronQueue,
    id: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || get(queue, id, out, true))
}

fn dead(
    queue: *mut OmnitronQueue,
    offset: u64,
    limit: u64,
    out: *mut OmnitronBuffer,
    json: bool,
) -> Result<(), Error> {
    check_out(out, "out")?;
    let q = QUEUES.get(queue)?;
    let jobs = runtime::block_on(q.dead(offset, limit))?;
    let envelope = door::infos_envelope(&jobs);
    if json { give(out, msgpack_to_json(&envelope)?.as_bytes()) } else { give(out, &envelope) }
}

/// The dead-letter queue, oldest first: at most `limit` jobs after skipping `offset`, as a
/// MessagePack array of the maps omnitron_queue_get gives, each with every attempt's error. Free
/// `out->data` with omnitron_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_dead(
    queue: *mut OmnitronQueue,
    offset: u64,
    limit: u64,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || dead(queue, offset, limit, out, false))
}

/// omnitron_queue_dead as JSON text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_dead_json(
    queue: *mut OmnitronQueue,
    offset: u64,
    limit: u64,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || dead(queue, offset, limit, out, true))
}

/// Puts dead jobs back in the queue with fresh attempts (their past errors kept): the `count` ids at
/// `ids`, or every dead job when `ids` is NULL (then `count` must be 0). Writes how many went back
/// to `*retried_out` (may be NULL); ids that are not dead jobs are skipped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_retry_dead(
    queue: *mut OmnitronQueue,
    ids: *const *const c_char,
    count: usize,
    retried_out: *mut u64,
) -> OmnitronStatus {
    guard_out(retried_out, || {
        let q = QUEUES.get(queue)?;
        let ids = if ids.is_null() {
            if count > 0 {
                return Err(Error::invalid_argument(format!(
                    "ids is NULL but count is {count} (NULL and 0 retry every dead job)"
                )));
            }
            None
        } else {
            // SAFETY: `count` readable pointers at `ids` by contract.
            let ptrs = unsafe { std::slice::from_raw_parts(ids, count) };
            let ids = ptrs
                .iter()
                .enumerate()
                .map(|(i, p)| str_arg(*p, &format!("ids[{i}]")).map(str::to_string))
                .collect::<Result<Vec<_>, Error>>()?;
            Some(ids)
        };
        let retried = runtime::block_on(q.retry_dead(ids.as_deref()))?;
        if !retried_out.is_null() {
            write_out(retried_out, retried, "retried_out")?;
        }
        Ok(())
    })
}

/// Removes job `id` (waiting, delayed, completed or dead) with its errors; writes whether there was
/// one to `*removed_out` (may be NULL). A running job is OMNITRON_STATUS_JOB_ACTIVE: remove it once
/// it finishes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_remove(
    queue: *mut OmnitronQueue,
    id: *const c_char,
    removed_out: *mut bool,
) -> OmnitronStatus {
    guard_out(removed_out, || {
        let q = QUEUES.get(queue)?;
        let id = str_arg(id, "id")?;
        let removed = runtime::block_on(q.remove(id))?;
        if !removed_out.is_null() {
            write_out(removed_out, removed, "removed_out")?;
        }
        Ok(())
    })
}
