//! Pools, supervisors and C workers through the C ABI. Options are JSON objects (snake_case keys,
//! durations in milliseconds: see docs/C_API.md); task arguments and results are JSON too.

use std::ffi::{CString, c_char, c_void};

use bytes::Bytes;
use omnitron::process::{CrashDecision, Pool, Supervisor, json, worker};
use omnitron::{Error, runtime};

use crate::boundary::{OmnitronFreeFn, Table, UserData, check_out, guard, guard_out, guard_void, str_arg};
use crate::error::OmnitronStatus;
use crate::memory::{OmnitronBuffer, give};
use crate::rpc::call::OmnitronCompletionFn;
use crate::rpc::{OmnitronPeer, PEERS, json_to_msgpack, msgpack_to_json};

/// A pool of worker processes. Thread-safe: tasks may be submitted from several threads at once. Do
/// not stop or free it from inside one of its completion callbacks.
#[derive(Debug)]
pub struct OmnitronPool {
    _private: [u8; 0],
}

/// A supervisor. Thread-safe. Do not stop, wait for or free it from inside its own hooks (it waits
/// for them).
#[derive(Debug)]
pub struct OmnitronSupervisor {
    _private: [u8; 0],
}

/// Crash hook answer: what the child's restart policy says.
pub const OMNITRON_CRASH_DEFAULT: u32 = 0;
/// Crash hook answer: restart it (by the strategy, within the budget).
pub const OMNITRON_CRASH_RESTART: u32 = 1;
/// Crash hook answer: leave it down.
pub const OMNITRON_CRASH_IGNORE: u32 = 2;
/// Crash hook answer: fail the supervisor (its parent sees a crash).
pub const OMNITRON_CRASH_ESCALATE: u32 = 3;
/// Crash hook answer: stop the supervisor cleanly.
pub const OMNITRON_CRASH_SHUTDOWN: u32 = 4;

/// Called when a supervised child ends unexpectedly, on an engine thread that may block.
/// `info_json` is the child (`{"name","index","pid","state","restarts","last_exit","critical"}`),
/// `reason` says how it ended; both are valid during the call only. Returns an OMNITRON_CRASH_*.
pub type OmnitronCrashHookFn = Option<
    unsafe extern "C" fn(info_json: *const c_char, reason: *const c_char, user_data: *mut c_void) -> u32,
>;

/// Called before each restart, on an engine thread that may block; `attempt` counts restarts within
/// the budget's window. The restart waits for it to return.
pub type OmnitronRestartHookFn =
    Option<unsafe extern "C" fn(info_json: *const c_char, attempt: u32, user_data: *mut c_void)>;

static POOLS: Table<Pool> = Table::new("pool");
pub(crate) static SUPERVISORS: Table<Supervisor> = Table::new("supervisor");

fn args_bytes(args_json: *const c_char) -> Result<Bytes, Error> {
    if args_json.is_null() {
        return Ok(Bytes::from_static(omnitron::rpc::EMPTY_ARRAY));
    }
    let b = json_to_msgpack(str_arg(args_json, "args_json")?.as_bytes(), "args_json")?;
    omnitron::rpc::check_args(&b).map_err(|e| e.context("args_json"))?;
    Ok(b)
}

/// Starts a pool from `options_json` (`{"name": "resize", "command": ["./worker"], "size": 2, ...}`;
/// every key in docs/C_API.md) and waits until its workers are ready (with `"warmup": true`, the
/// default). Free it with omnitron_pool_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_pool_start(
    options_json: *const c_char,
    out: *mut *mut OmnitronPool,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let opts = json::pool_options(str_arg(options_json, "options_json")?)?;
        let pool = runtime::block_on(async move { Pool::start(opts).await })?;
        POOLS.insert_out(out, pool)
    })
}

/// Runs `method` with `args_json` (a JSON array; NULL for none) on a worker, blocking this thread
/// until the result; `*out` gets it as NUL-terminated JSON (free `data` with omnitron_free).
/// OMNITRON_STATUS_QUEUE_FULL when the pool's queue is full, _WORKER_LOST when the worker died and
/// the retries are used up, _TIMEOUT after the task timeout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_pool_exec_json(
    pool: *mut OmnitronPool,
    method: *const c_char,
    args_json: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let p = POOLS.get(pool)?;
        let method = str_arg(method, "method")?.to_string();
        let args = args_bytes(args_json)?;
        let r =
            runtime::block_on(async move { p.exec_raw(&method, args).await }).map_err(|e| e.to_error())?;
        give(out, msgpack_to_json(&r)?.as_bytes())
    })
}

/// Starts a task and returns at once; `done` runs exactly once on an engine thread, with the result
/// as JSON text in `value` / `len` (NUL-terminated) or the failure in `status` / `error`, then
/// `free_user_data(user_data)` (NULL: nothing) on the same thread. If this function fails, `done`
/// never runs and `free_user_data` runs before it returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_pool_exec_async(
    pool: *mut OmnitronPool,
    method: *const c_char,
    args_json: *const c_char,
    done: OmnitronCompletionFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let p = POOLS.get(pool)?;
        let done = done.ok_or_else(|| Error::invalid_argument("done is NULL"))?;
        let method = str_arg(method, "method")?.to_string();
        let args = args_bytes(args_json)?;
        runtime::handle().spawn(async move {
            let r = p.exec_raw(&method, args).await.map_err(|e| e.to_error());
            let r = r.and_then(|b| msgpack_to_json(&b));
            match r {
                Ok(text) => {
                    let c = CString::new(text.replace('\0', " ")).unwrap_or_default();
                    let len = c.as_bytes().len();
                    // SAFETY: the completion's contract (header); pointers live for the call.
                    unsafe { done(0, c.as_ptr().cast(), len, std::ptr::null(), ud.get()) }
                }
                Err(e) => {
                    let status = OmnitronStatus::from_code(e.code()) as u32;
                    let msg = CString::new(e.to_string().replace('\0', " ")).unwrap_or_default();
                    // SAFETY: as above.
                    unsafe { done(status, std::ptr::null(), 0, msg.as_ptr(), ud.get()) }
                }
            }
        });
        Ok(())
    })
}

/// The pool's state as JSON: `{"workers","starting","queued","in_flight","pids"}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_pool_status_json(
    pool: *mut OmnitronPool,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let s = POOLS.get(pool)?.status();
        let j = serde_json::json!({
            "workers": s.workers, "starting": s.starting, "queued": s.queued,
            "in_flight": s.in_flight, "pids": s.pids,
        });
        give(out, j.to_string().as_bytes())
    })
}

/// Stops the pool: queued tasks fail, tasks in flight get the shutdown timeout, then every worker
/// is stopped. The handle stays valid (tasks fail with OMNITRON_STATUS_NOT_RUNNING) until freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_pool_stop(pool: *mut OmnitronPool) -> OmnitronStatus {
    guard(|| {
        let p = POOLS.get(pool)?;
        runtime::block_on(async move { p.stop().await });
        Ok(())
    })
}

/// Stops the pool (if running) and frees the handle. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_pool_free(pool: *mut OmnitronPool) {
    guard_void(|| {
        if let Some(p) = POOLS.remove(pool) {
            runtime::block_on(async move { p.stop().await });
        }
        Ok(())
    })
}

/// A supervisor from `options_json` (`{"name", "strategy", "max_restarts", "window_ms",
/// "backoff_initial_ms", "backoff_max_ms", "backoff_factor"}`, all optional; NULL for defaults).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_new(
    options_json: *const c_char,
    out: *mut *mut OmnitronSupervisor,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let text = if options_json.is_null() { "{}" } else { str_arg(options_json, "options_json")? };
        SUPERVISORS.insert_out(out, Supervisor::new(json::supervisor_options(text)?))
    })
}

/// Adds a child program (`{"name", "command", "instances", "critical", "restart", ...}`) before
/// the supervisor starts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_add_child(
    sup: *mut OmnitronSupervisor,
    child_json: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let s = SUPERVISORS.get(sup)?;
        s.add_child(json::child_options(str_arg(child_json, "child_json")?)?)
    })
}

/// Nests `child` under `sup`; a `critical` child's failure fails `sup` too.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_add_supervisor(
    sup: *mut OmnitronSupervisor,
    child: *mut OmnitronSupervisor,
    critical: bool,
) -> OmnitronStatus {
    guard(|| SUPERVISORS.get(sup)?.add_supervisor((*SUPERVISORS.get(child)?).clone(), critical))
}

fn info_json(c: &omnitron::process::ChildInfo) -> CString {
    let j = serde_json::json!({
        "name": c.name, "index": c.index, "pid": c.pid, "state": c.state.as_str(),
        "restarts": c.restarts, "last_exit": c.last_exit, "critical": c.critical,
    });
    CString::new(j.to_string().replace('\0', " ")).unwrap_or_default()
}

/// Sets the crash hook (see OmnitronCrashHookFn), replacing any earlier one.
/// `free_user_data(user_data)` (NULL: nothing; then `user_data` must outlive the supervisor) runs
/// once when the hook is replaced or the supervisor is freed (and the last hook call returned), on
/// the thread that lets go last; or before this function returns if it fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_on_crash(
    sup: *mut OmnitronSupervisor,
    hook: OmnitronCrashHookFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let s = SUPERVISORS.get(sup)?;
        let hook = hook.ok_or_else(|| Error::invalid_argument("hook is NULL"))?;
        s.on_crash(move |info, reason| {
            let ud = ud.clone();
            async move {
                let (info, reason) = (info_json(&info), CString::new(reason.to_string()).unwrap_or_default());
                let answer = tokio::task::spawn_blocking(move || {
                    // SAFETY: the hook's contract (header): strings live for the call.
                    unsafe { hook(info.as_ptr(), reason.as_ptr(), ud.get()) }
                })
                .await
                .unwrap_or(OMNITRON_CRASH_DEFAULT);
                match answer {
                    OMNITRON_CRASH_RESTART => CrashDecision::Restart,
                    OMNITRON_CRASH_IGNORE => CrashDecision::Ignore,
                    OMNITRON_CRASH_ESCALATE => CrashDecision::Escalate,
                    OMNITRON_CRASH_SHUTDOWN => CrashDecision::Shutdown,
                    _ => CrashDecision::Default,
                }
            }
        });
        Ok(())
    })
}

/// Sets the restart hook (see OmnitronRestartHookFn), replacing any earlier one. `free_user_data`
/// as for omnitron_supervisor_on_crash.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_on_restart(
    sup: *mut OmnitronSupervisor,
    hook: OmnitronRestartHookFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let s = SUPERVISORS.get(sup)?;
        let hook = hook.ok_or_else(|| Error::invalid_argument("hook is NULL"))?;
        s.on_restart(move |info, attempt| {
            let ud = ud.clone();
            async move {
                let info = info_json(&info);
                let _ = tokio::task::spawn_blocking(move || {
                    // SAFETY: the hook's contract (header).
                    unsafe { hook(info.as_ptr(), attempt, ud.get()) }
                })
                .await;
            }
        });
        Ok(())
    })
}

/// Starts every child in order, each ready before the next (idempotent).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_start(sup: *mut OmnitronSupervisor) -> OmnitronStatus {
    guard(|| {
        let s = SUPERVISORS.get(sup)?;
        runtime::block_on(async move { s.start().await })
    })
}

/// Stops every child (in reverse order); crashes during the stop restart nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_stop(sup: *mut OmnitronSupervisor) -> OmnitronStatus {
    guard(|| {
        let s = SUPERVISORS.get(sup)?;
        runtime::block_on(async move { s.stop().await });
        Ok(())
    })
}

/// Blocks until the supervisor stops: OK when stopped, OMNITRON_STATUS_RESTART_LIMIT when it failed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_wait(sup: *mut OmnitronSupervisor) -> OmnitronStatus {
    guard(|| {
        let s = SUPERVISORS.get(sup)?;
        runtime::block_on(async move { s.wait().await })
    })
}

/// Restarts child `name` (every instance); counts against its budget (OMNITRON_STATUS_RESTART_LIMIT
/// when spent).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_restart_child(
    sup: *mut OmnitronSupervisor,
    name: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let s = SUPERVISORS.get(sup)?;
        let name = str_arg(name, "name")?.to_string();
        runtime::block_on(async move { s.restart_child(&name).await })
    })
}

/// Every child as a JSON array of `{"name","index","pid","state","restarts","last_exit","critical"}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_children_json(
    sup: *mut OmnitronSupervisor,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let s = SUPERVISORS.get(sup)?;
        let infos = runtime::block_on(async move { s.children().await });
        let items: Vec<String> = infos.iter().map(|i| info_json(i).to_string_lossy().into_owned()).collect();
        give(out, format!("[{}]", items.join(",")).as_bytes())
    })
}

/// Stops the supervisor (if running) and frees the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_supervisor_free(sup: *mut OmnitronSupervisor) {
    guard_void(|| {
        if let Some(s) = SUPERVISORS.remove(sup) {
            runtime::block_on(async move { s.stop().await });
        }
        Ok(())
    })
}

/// For a C worker: connects to the parent that started this process (its address, token and this
/// child's id come in the environment). Expose services on the peer with omnitron_peer_expose or
/// omnitron_peer_expose_service, then call omnitron_worker_run. OMNITRON_STATUS_NO_PARENT when
/// this process was not started by an Omnitron parent. Free the peer with omnitron_peer_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_worker_connect(out: *mut *mut OmnitronPeer) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let link = worker::ParentLink::require()?;
        let peer = runtime::block_on(async move { link.connect("c").await })?;
        PEERS.insert_out(out, peer)
    })
}

/// Reports this worker ready to its parent, then blocks until SIGTERM or SIGINT (the parent's
/// stop). Handlers keep running on engine threads meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_worker_run(peer: *mut OmnitronPeer) -> OmnitronStatus {
    guard(|| {
        let p = PEERS.get(peer)?;
        runtime::block_on(async move {
            worker::report_ready(&p).await?;
            worker::wait_for_stop_signal().await;
            Ok(())
        })
    })
}
