//! The job a worker's callback gets (`OmnitronJob`): what it is (id, name, attempt, token, data),
//! progress while it runs, and the one call that finishes it (complete or fail), from any thread,
//! during the callback or later.
//!
//! A job is a handle in a table, holding the call id `queue::door` answers. Finishing it removes
//! the handle first, so of two calls finishing one job exactly one answers and the other is
//! refused (OMNITRON_STATUS_INVALID_HANDLE), whatever the threads.

use std::ffi::{CString, c_char};
use std::sync::Arc;

use bytes::Bytes;
use omnitron::queue::{Job, door};
use omnitron::{Error, ErrorCode, runtime};

use super::{json_payload, payload};
use crate::boundary::{Table, check_out, guard, guard_out, guard_value, write_out};
use crate::error::OmnitronStatus;
use crate::memory::{OmnitronBuffer, give};
use crate::rpc::msgpack_to_json;

/// A job handed to a worker's callback (OmnitronJobFn). Valid from the callback's start until it is
/// finished by omnitron_job_complete or omnitron_job_fail (exactly once, from any thread, during the
/// callback or later); both free it. The strings and data its accessors return live as long as it.
/// Thread-safe, but do not read it on one thread while another finishes it.
#[derive(Debug)]
pub struct OmnitronJob {
    _private: [u8; 0],
}

/// A job given to C: the call that waits for its answer, and its strings as C reads them.
pub(crate) struct CJob {
    call: u32,
    job: Job,
    id: CString,
    name: CString,
}

static JOBS: Table<CJob> = Table::new("job");

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Makes the handle of call `call`'s job.
pub(crate) fn hand_out(call: u32, job: &Job) -> *mut OmnitronJob {
    JOBS.insert(CJob { call, job: job.clone(), id: cstring(job.id()), name: cstring(job.name()) })
}

/// Takes a job out of the table to finish it: of two calls, one gets it.
fn take(job: *mut OmnitronJob) -> Result<Arc<CJob>, Error> {
    if job.is_null() {
        return Err(Error::new(ErrorCode::InvalidHandle, "the job handle is NULL"));
    }
    JOBS.remove(job).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidHandle,
            "not a live job handle: the job was finished already (omnitron_job_complete and \
             omnitron_job_fail free it), or this is not a job",
        )
    })
}

/// Fails the attempt of `job`, if its handle is still live (the callback returned a failure without
/// finishing it).
pub(crate) fn fail_if_live(job: *mut OmnitronJob, error: Error) {
    if let Some(j) = JOBS.remove(job) {
        door::answer(j.call, Err(error));
    }
}

/// Forgets a job whose callback never ran (the worker closed first): the engine has handed it back.
pub(crate) fn discard(job: *mut OmnitronJob) {
    JOBS.remove(job);
}

impl CJob {
    /// Hands the engine this attempt's outcome. Q007 when the engine had given up on the attempt
    /// (its answer is dropped).
    fn finish(&self, outcome: Result<Bytes, Error>) -> Result<(), Error> {
        if door::answer(self.call, outcome) {
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::LeaseLost,
            format!(
                "job '{}' (attempt {}): the engine had already given up on this attempt (its timeout \
                 passed, its lease was lost, or its worker closed), so this answer was dropped; the \
                 job handle is freed",
                self.job.id(),
                self.job.attempt()
            ),
        ))
    }

    /// Finishes the job with what a call gave: its outcome, or (when the call's arguments were
    /// wrong) a failed attempt that says so; the call's error is returned either way.
    fn finish_with(&self, outcome: Result<Bytes, Error>) -> Result<(), Error> {
        match outcome {
            Ok(v) => self.finish(Ok(v)),
            Err(e) => {
                let _ = self.finish(Err(e.clone()));
                Err(e)
            }
        }
    }
}

/// The job's id (stable across attempts: use it as an idempotency key), or NULL for an invalid
/// handle. Valid until the job is finished.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_id(job: *const OmnitronJob) -> *const c_char {
    guard_value(|| Ok(JOBS.get(job)?.id.as_ptr()))
}

/// The job's name (as added), or NULL for an invalid handle. Valid until the job is finished.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_name(job: *const OmnitronJob) -> *const c_char {
    guard_value(|| Ok(JOBS.get(job)?.name.as_ptr()))
}

/// This attempt's number, from 1 (0 for an invalid handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_attempt(job: *const OmnitronJob) -> u32 {
    guard_value(|| Ok(JOBS.get(job)?.job.attempt()))
}

/// The lease's fencing token: it grows each time the job is handed out (0 for an invalid handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_token(job: *const OmnitronJob) -> u64 {
    guard_value(|| Ok(JOBS.get(job)?.job.token()))
}

/// The job's data as added: `*len` bytes of MessagePack at `*data` (nil, 0xc0, when it was added
/// without data). Owned by the job: valid until it is finished; do not free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_data(
    job: *const OmnitronJob,
    data: *mut *const u8,
    len: *mut usize,
) -> OmnitronStatus {
    guard_out((data, len), || {
        check_out(data, "data")?;
        check_out(len, "len")?;
        let j = JOBS.get(job)?;
        let raw = j.job.raw();
        write_out(data, raw.as_ptr(), "data")?;
        write_out(len, raw.len(), "len")
    })
}

/// The job's data as NUL-terminated JSON text in `*out` (binary values become arrays of numbers;
/// free `out->data` with omnitron_free).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_data_json(
    job: *const OmnitronJob,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let j = JOBS.get(job)?;
        give(out, msgpack_to_json(j.job.raw())?.as_bytes())
    })
}

/// Whether the engine has given up on this attempt: its timeout passed, its lease was lost (another
/// worker may run the job), or its worker closed and the grace ran out. A long job checks it to
/// stop early; it must still be finished, and its answer is then dropped. False for an invalid
/// handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_cancelled(job: *const OmnitronJob) -> bool {
    guard_value(|| {
        let j = JOBS.get(job)?;
        Ok(j.job.cancelled().is_cancelled() || door::job(j.call).is_none())
    })
}

fn progress(
    job: *mut OmnitronJob,
    data: impl FnOnce() -> Result<Bytes, Error>,
    recorded: *mut bool,
) -> Result<(), Error> {
    let j = JOBS.get(job)?;
    let data = data()?;
    // An attempt the engine gave up on records nothing (its lease may be another worker's now).
    let ok = match door::job(j.call) {
        Some(running) => runtime::block_on(running.progress_raw(data))?,
        None => false,
    };
    if !recorded.is_null() {
        write_out(recorded, ok, "recorded")?;
    }
    Ok(())
}

/// Records the running job's progress: `len` bytes of MessagePack at `data` (copied), kept with the
/// job and reported as a `progress` event. Blocks until the store has it. Writes to `*recorded`
/// (may be NULL) whether it was recorded: false once the engine has given up on the attempt.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_progress(
    job: *mut OmnitronJob,
    data: *const u8,
    len: usize,
    recorded: *mut bool,
) -> OmnitronStatus {
    guard_out(recorded, || progress(job, || payload(data, len, "progress"), recorded))
}

/// omnitron_job_progress with JSON text (NULL: null).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_progress_json(
    job: *mut OmnitronJob,
    progress_json: *const c_char,
    recorded: *mut bool,
) -> OmnitronStatus {
    guard_out(recorded, || progress(job, || json_payload(progress_json, "progress_json"), recorded))
}

/// Completes the job with `len` bytes of MessagePack at `result` (`len` 0: nil; copied), kept with
/// the completed job for the queue's `keep_completed_ms`, and frees the job handle. Call it, or
/// omnitron_job_fail, exactly once per job, from any thread. Whatever it returns, the handle is
/// freed (a second finish is OMNITRON_STATUS_INVALID_HANDLE):
/// - OMNITRON_STATUS_OK: the engine has the result (it is recorded shortly after, before the
///   `completed` event);
/// - OMNITRON_STATUS_LEASE_LOST: the engine had given up on the attempt (omnitron_job_cancelled):
///   the result is dropped; the job was failed (timeout), handed to another worker (lease lost) or
///   handed back (worker closed);
/// - a result that is not one MessagePack value (OMNITRON_STATUS_INVALID_JOB_DATA) or a NULL
///   `result` with a length (OMNITRON_STATUS_INVALID_ARGUMENT) fails the attempt with that error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_complete(
    job: *mut OmnitronJob,
    result: *const u8,
    len: usize,
) -> OmnitronStatus {
    guard(|| take(job)?.finish_with(payload(result, len, "result")))
}

/// omnitron_job_complete with the result as JSON text (NULL: null), stored as MessagePack. Text that
/// is not JSON fails the attempt and returns OMNITRON_STATUS_INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_complete_json(
    job: *mut OmnitronJob,
    result_json: *const c_char,
) -> OmnitronStatus {
    guard(|| take(job)?.finish_with(json_payload(result_json, "result_json")))
}

/// Fails the job's attempt and frees the job handle: the job is retried after its backoff, or goes
/// to the dead-letter queue after its last attempt. `code` is the error's code as the job records
/// it: one of the library's ids ("Q006", omnitron_status_id gives them), or NULL (or any other text)
/// for "Q005", the handler failed. `message` says why (copied). As for omnitron_job_complete, call
/// one of them exactly once; the handle is freed whatever this returns (OMNITRON_STATUS_LEASE_LOST:
/// the engine had given up on the attempt). A NULL `message` still fails the attempt, and returns
/// OMNITRON_STATUS_INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_job_fail(
    job: *mut OmnitronJob,
    code: *const c_char,
    message: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let j = take(job)?;
        let text = |p: *const c_char, what: &str| crate::boundary::str_arg(p, what).map(str::to_string);
        let code = if code.is_null() { Ok(None) } else { text(code, "code").map(Some) };
        let error = code.and_then(|c| Ok(door::failure(c.as_deref(), &text(message, "message")?)));
        match error {
            Ok(e) => j.finish(Err(e)),
            Err(e) => j.finish_with(Err(Error::new(e.code(), format!("omnitron_job_fail: {}", e.message())))),
        }
    })
}
