//! Processes for Node: the engine's `Pool` and `Supervisor` (core/src/process). Options arrive as
//! plain objects and are checked by the engine; everything asynchronous runs on the engine's runtime
//! and is reported back through one thread-safe function per object, in batches: the engine queues
//! finished operations and wakes JavaScript once, which takes every finished one with `drain()`.
//! Task arguments and results are MessagePack bytes (the TypeScript layer encodes them), operation
//! results JSON.
//!
//! Supervisor hooks are JavaScript functions called through thread-safe functions; the engine awaits
//! the Promise they return without blocking its threads.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use napi::bindgen_prelude::{FunctionRef, Promise, Uint8ArraySlice, Uint32Array};
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use omnitron::options::{RawOptions, Value as RawValue};
use omnitron::process::{
    ChildOptions, ChildSpec, CrashDecision, MapItems, MapOptions, Pool, PoolOptions, PoolSize, Supervisor,
    SupervisorOptions, SupervisorState,
};
use omnitron::rpc::WireError;
use omnitron::{Error, ErrorCode, runtime};
use parking_lot::Mutex;

use crate::batch::{Direct, Parts, Queue, WakeFn};
use crate::di::JsErrorInfo;
use crate::error::ToJs;
use crate::options::{self, JsRawOption};

/// `(childInfoJson, reason, failure)`: resolves to `'restart' | 'ignore' | 'escalate' | 'shutdown'`,
/// or null for the restart policy's decision.
type CrashFn = ThreadsafeFunction<
    (String, String, bool),
    Promise<Option<String>>,
    (String, String, bool),
    napi::Status,
    false,
    true,
>;
/// `(childInfoJson, attempt)`: awaited before the child is started again.
type RestartFn = ThreadsafeFunction<(String, u32), Promise<()>, (String, u32), napi::Status, false, true>;

type Outcome = Result<Bytes, WireError>;

/// Finished operations waiting for JavaScript (see `batch`): kind 0 a result (MessagePack, or JSON
/// for engine operations), kind 1 an error (code, message, MessagePack data).
struct Done(Arc<Queue<(u32, Outcome)>>);

fn parts((id, r): &(u32, Outcome)) -> Parts<'_> {
    match r {
        Ok(b) => Parts { kind: 0, id: *id, aux: 0, bytes: b, strings: [None, None] },
        Err(e) => Parts {
            kind: 1,
            id: *id,
            aux: 0,
            bytes: e.data.as_deref().unwrap_or(&[]),
            strings: [Some(&e.code), Some(&e.message)],
        },
    }
}

impl Done {
    fn new(env: &napi::Env, wake: WakeFn, wake_now: FunctionRef<(), ()>) -> Arc<Done> {
        Arc::new(Done(Queue::new(wake, Some(Direct::new(env, wake_now)))))
    }

    fn push(&self, id: u32, r: Outcome) {
        self.0.push((id, r));
    }

    /// Runs `fut` on the engine's runtime and reports its JSON result (or error) as `id`.
    fn spawn_op<F, T>(self: &Arc<Self>, id: u32, fut: F)
    where
        F: std::future::Future<Output = omnitron::Result<T>> + Send + 'static,
        T: serde::Serialize,
    {
        let done = self.clone();
        runtime::handle().spawn(async move {
            let r = match fut.await {
                Ok(v) => serde_json::to_vec(&v)
                    .map(Bytes::from)
                    .map_err(|e| WireError::from_error(&Error::new(ErrorCode::Internal, e.to_string()))),
                Err(e) => Err(WireError::from_error(&e)),
            };
            done.push(id, r);
        });
    }

    fn drain(&self, mut buffer: Uint8ArraySlice) -> i64 {
        // SAFETY: JavaScript is blocked in this call; nothing else touches the buffer meanwhile.
        self.0.drain_into(unsafe { buffer.as_mut() }, parts)
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorCode::InvalidArgument, message)
}

/// A child program: what the TypeScript layer resolved (name, program, arguments, environment),
/// and the options it hands over as the user wrote them (`readyTimeout`, `shutdownTimeout`; the
/// health check's `interval`, `timeout`, `maxMissed`), checked by core.
#[napi(object)]
pub struct ChildSpecInput {
    pub name: String,
    pub program: String,
    pub args: Option<Vec<String>>,
    pub env: Option<HashMap<String, String>>,
    pub cwd: Option<String>,
    pub options: Vec<JsRawOption>,
    pub health: Option<Vec<JsRawOption>>,
}

/// Options the TypeScript layer passed, as core reads them (milliseconds; a wrong value is E001).
fn raw(what: String, options: Vec<JsRawOption>) -> RawOptions {
    options::raw(what, ErrorCode::InvalidArgument, options)
}

fn child_spec(s: ChildSpecInput) -> omnitron::Result<ChildSpec> {
    let mut r = raw(format!("child '{}'", s.name), s.options);
    let command = std::iter::once(s.program).chain(s.args.unwrap_or_default());
    let mut env: Vec<(String, String)> = s.env.unwrap_or_default().into_iter().collect();
    env.sort();
    r.set("name", RawValue::Text(s.name))
        .set("command", RawValue::List(command.map(RawValue::Text).collect()))
        .set("env", RawValue::Map(env.into_iter().map(|(k, v)| (k, RawValue::Text(v))).collect()));
    if let Some(c) = s.cwd {
        r.set("cwd", RawValue::Text(c));
    }
    if let Some(h) = s.health {
        r.set("health", RawValue::Map(options::entries(h)));
    }
    ChildSpec::from_raw(&r)
}

// ---- pools ---------------------------------------------------------------------------------------

/// A pool's settings: the child, the service its workers expose (resolved by the TypeScript
/// layer), and the options as the user wrote them (`size` absent: as many as CPUs), checked by core.
#[napi(object)]
pub struct PoolInput {
    pub name: Option<String>,
    pub spec: ChildSpecInput,
    pub service: Option<String>,
    pub options: Vec<JsRawOption>,
}

fn pool_options(o: PoolInput) -> omnitron::Result<PoolOptions> {
    let spec = child_spec(o.spec)?;
    let mut r = raw(format!("pool '{}'", o.name.as_deref().unwrap_or(&spec.name)), o.options);
    if let Some(n) = o.name {
        r.set("name", RawValue::Text(n));
    }
    if let Some(s) = o.service {
        r.set("service", RawValue::Text(s));
    }
    let auto = r.get("size").is_none();
    let mut p = PoolOptions::from_raw(spec, &r)?;
    if auto {
        p.size = PoolSize::Auto;
    }
    Ok(p)
}

/// A pool's state.
#[napi(object)]
pub struct PoolStatusOutput {
    pub workers: u32,
    pub starting: u32,
    pub queued: u32,
    pub in_flight: u32,
    pub pids: Vec<u32>,
}

/// A pool of worker processes.
#[napi]
pub struct NativePool {
    opts: Mutex<Option<PoolOptions>>,
    pool: Arc<OnceLock<Pool>>,
    done: Arc<Done>,
}

fn not_started() -> WireError {
    WireError::from_error(&Error::new(ErrorCode::NotRunning, "the pool has not started"))
}

#[napi]
impl NativePool {
    /// Checks the options; `start` starts it. `wake` is called when operations finished.
    #[napi(constructor)]
    pub fn new(
        opts: PoolInput,
        #[napi(ts_arg_type = "() => void")] wake: WakeFn,
        #[napi(ts_arg_type = "() => void")] wake_now: FunctionRef<(), ()>,
        env: napi::Env,
    ) -> napi::Result<Self, String> {
        let opts = pool_options(opts).js()?;
        Ok(NativePool {
            opts: Mutex::new(Some(opts)),
            pool: Arc::new(OnceLock::new()),
            done: Done::new(&env, wake, wake_now),
        })
    }

    /// Starts the workers (with `warmup`, every one is ready when `id` is reported).
    #[napi]
    pub fn start(&self, id: u32) {
        let opts = self.opts.lock().take();
        let slot = self.pool.clone();
        self.done.spawn_op(id, async move {
            let mut opts =
                opts.ok_or_else(|| Error::new(ErrorCode::InvalidArgument, "the pool was already started"))?;
            if opts.host.is_none() {
                opts.host = node_host().await?;
            }
            let pool = Pool::start(opts).await?;
            let _ = slot.set(pool);
            Ok(())
        });
    }

    /// Runs `method` with MessagePack `args` (an array) on a worker; `id` reports the result.
    #[napi]
    pub fn exec(&self, id: u32, method: String, args: Uint8ArraySlice, traceparent: Option<String>) {
        let Some(pool) = self.pool.get().cloned() else { return self.done.push(id, Err(not_started())) };
        let args = Bytes::copy_from_slice(&args);
        let done = self.done.clone();
        // Written from this thread when a worker is free; reported from where the answer is read.
        // The worker's handler runs in the caller's trace.
        let trace = crate::telemetry::wire_of(traceparent.as_deref(), None);
        pool.exec_raw_traced(&method, args, trace, move |r| done.push(id, r));
    }

    /// Runs `method` once per item, in chunks of `chunksize` (absent: multiprocessing's choice) for
    /// workers that take them: the items are MessagePack values one after the other in `values`,
    /// item `i` ending at `ends[i]`, each the single argument of its call. `id` reports a
    /// MessagePack array of the results in the items' order, or the first failing item's error.
    #[napi]
    pub fn map(
        &self,
        id: u32,
        method: String,
        values: Uint8ArraySlice,
        ends: Uint32Array,
        chunksize: Option<u32>,
        traceparent: Option<String>,
    ) {
        let Some(pool) = self.pool.get().cloned() else { return self.done.push(id, Err(not_started())) };
        let items = MapItems::Values {
            values: Bytes::copy_from_slice(&values),
            ends: ends.iter().map(|e| *e as usize).collect(),
        };
        let opts = MapOptions { chunksize: chunksize.map(|c| c as usize) };
        let done = self.done.clone();
        let report = done.clone();
        // Every chunk carries the caller's trace (the map reads the context current as it starts).
        let ctx = traceparent.as_deref().and_then(omnitron::telemetry::TraceContext::from_traceparent);
        let _ctx = ContextGuard(omnitron::telemetry::set_thread_context(ctx));
        let started = pool.map_raw_with_options(&method, items, opts, move |results| {
            let r = match results.first_error() {
                Some((_, e)) => Err(e.clone()),
                None => {
                    // Each part's values are already one after the other: one copy each.
                    let size: usize = results.parts().iter().map(|p| p.values.len()).sum();
                    let mut out = Vec::with_capacity(size + 5);
                    array_header(&mut out, results.len()).map(|()| {
                        for p in results.parts() {
                            out.extend_from_slice(&p.values);
                        }
                        Bytes::from(out)
                    })
                }
            };
            report.push(id, r);
        });
        if let Err(e) = started {
            done.push(id, Err(WireError::from_error(&e)));
        }
    }

    /// The pool's state now.
    #[napi]
    pub fn status(&self) -> PoolStatusOutput {
        let Some(pool) = self.pool.get() else {
            return PoolStatusOutput { workers: 0, starting: 0, queued: 0, in_flight: 0, pids: Vec::new() };
        };
        let s = pool.status();
        PoolStatusOutput {
            workers: s.workers as u32,
            starting: s.starting as u32,
            queued: s.queued as u32,
            in_flight: s.in_flight as u32,
            pids: s.pids,
        }
    }

    /// Stops the pool (queued tasks fail, tasks in flight get the shutdown timeout, then every worker
    /// is stopped); `id` reports when it is done.
    #[napi]
    pub fn stop(&self, id: u32) {
        self.opts.lock().take();
        let pool = self.pool.get().cloned();
        self.done.spawn_op(id, async move {
            if let Some(p) = pool {
                p.stop().await;
            }
            Ok(())
        });
    }

    /// Every operation finished since the last call.
    #[napi]
    pub fn drain(&self, buffer: Uint8ArraySlice) -> i64 {
        self.done.drain(buffer)
    }
}

/// The host that Node's pools start their workers on: one per process, its connections read on the
/// main thread's event loop (`host_loop`), so a task's answer reaches JavaScript with one wake-up.
/// None before `hostLoopInit` (the engine's shared host is used then).
async fn node_host() -> omnitron::Result<Option<omnitron::process::ProcessHost>> {
    static HOST: tokio::sync::OnceCell<omnitron::process::ProcessHost> = tokio::sync::OnceCell::const_new();
    let Some(lp) = crate::host_loop::process_loop() else { return Ok(None) };
    let host = HOST
        .get_or_try_init(|| async move {
            let mut o = omnitron::rpc::PeerOptions::new("omnitron-supervisor");
            o.lang = "node".into();
            o.host_loop = Some(lp);
            omnitron::process::ProcessHost::start_with(o).await
        })
        .await?;
    Ok(Some(host.clone()))
}

/// A MessagePack array header for `n` items.
fn array_header(out: &mut Vec<u8>, n: usize) -> Result<(), WireError> {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= 0xffff {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0xdd);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        return Err(WireError::from_error(&invalid("too many items".into())));
    }
    Ok(())
}

// ---- supervisors ---------------------------------------------------------------------------------

/// A supervisor's settings: `strategy`, `maxRestarts`, `window`, `backoffInitial`, `backoffMax`,
/// `backoffFactor` as the user wrote them, checked by core.
#[napi(object)]
pub struct SupervisorInput {
    pub name: String,
    pub options: Vec<JsRawOption>,
}

/// A supervised child program: the child, and `instances`, `critical`, `restart`, `maxRestarts`,
/// `window`, `restartDelay` as the user wrote them, checked by core.
#[napi(object)]
pub struct ChildInput {
    pub spec: ChildSpecInput,
    pub options: Vec<JsRawOption>,
}

fn supervisor_options(opts: SupervisorInput) -> omnitron::Result<SupervisorOptions> {
    let mut r = raw(format!("supervisor '{}'", opts.name), opts.options);
    r.set("name", RawValue::Text(opts.name));
    SupervisorOptions::from_raw(&r)
}

/// Checks a supervisor's options where they are written (`@Supervisor()`): the error, or null.
#[napi]
pub fn check_supervisor_options(opts: SupervisorInput) -> Option<JsErrorInfo> {
    supervisor_options(opts)
        .err()
        .map(|e| JsErrorInfo { code: e.code().as_str().to_string(), message: e.message().to_string() })
}

/// A supervisor's state: `idle`, `running`, `stopped` or `failed` (with why).
#[napi(object)]
pub struct SupervisorStateOutput {
    pub state: String,
    pub reason: Option<String>,
}

/// A supervisor of child processes (and nested supervisors).
#[napi]
pub struct NativeSupervisor {
    pub(crate) sup: Supervisor,
    done: Arc<Done>,
}

#[napi]
impl NativeSupervisor {
    #[napi(constructor)]
    pub fn new(
        opts: SupervisorInput,
        #[napi(ts_arg_type = "() => void")] wake: WakeFn,
        #[napi(ts_arg_type = "() => void")] wake_now: FunctionRef<(), ()>,
        env: napi::Env,
    ) -> napi::Result<Self, String> {
        let o = supervisor_options(opts).js()?;
        Ok(NativeSupervisor { sup: Supervisor::new(o), done: Done::new(&env, wake, wake_now) })
    }

    /// Adds a child (started in the order added).
    #[napi]
    pub fn add_child(&self, child: ChildInput) -> napi::Result<(), String> {
        let c = (|| {
            let r = raw(format!("child '{}'", child.spec.name), child.options);
            ChildOptions::from_raw(child_spec(child.spec)?, &r)
        })()
        .js()?;
        self.sup.add_child(c).js()
    }

    /// Adds a nested supervisor as a child; a critical one's failure fails this one.
    #[napi]
    pub fn add_supervisor(&self, child: &NativeSupervisor, critical: bool) -> napi::Result<(), String> {
        self.sup.add_supervisor(child.sup.clone(), critical).js()
    }

    /// Sets the crash hook; its Promise's answer decides (null: the restart policy's decision).
    #[napi]
    pub fn on_crash(
        &self,
        #[napi(
            ts_arg_type = "(crash: [child: string, reason: string, failure: boolean]) => Promise<string | null>"
        )]
        hook: CrashFn,
    ) {
        let hook = Arc::new(hook);
        self.sup.on_crash(move |info, reason| {
            let hook = hook.clone();
            async move {
                let info = serde_json::to_string(&info).unwrap_or_default();
                let args = (info, reason.to_string(), reason.is_failure());
                match hook.call_async(args).await {
                    Ok(p) => match p.await {
                        Ok(Some(d)) => d.parse().unwrap_or_else(|e: omnitron::Error| {
                            tracing::warn!("@OnChildCrash: {e}; the restart policy decides");
                            CrashDecision::Default
                        }),
                        Ok(None) => CrashDecision::Default,
                        Err(e) => {
                            tracing::warn!("@OnChildCrash failed ({e}); the restart policy decides");
                            CrashDecision::Default
                        }
                    },
                    Err(e) => {
                        tracing::warn!("@OnChildCrash could not be called ({e}); the restart policy decides");
                        CrashDecision::Default
                    }
                }
            }
        });
    }

    /// Sets the restart hook (awaited before the child starts again).
    #[napi]
    pub fn on_restart(
        &self,
        #[napi(ts_arg_type = "(restart: [child: string, attempt: number]) => Promise<void>")] hook: RestartFn,
    ) {
        let hook = Arc::new(hook);
        self.sup.on_restart(move |info, attempt| {
            let hook = hook.clone();
            async move {
                let info = serde_json::to_string(&info).unwrap_or_default();
                match hook.call_async((info, attempt)).await {
                    Ok(p) => {
                        if let Err(e) = p.await {
                            tracing::warn!("@OnChildRestart failed: {e}");
                        }
                    }
                    Err(e) => tracing::warn!("@OnChildRestart could not be called: {e}"),
                }
            }
        });
    }

    /// Starts every child in order; `id` reports when all are ready (or why one is not).
    #[napi]
    pub fn start(&self, id: u32) {
        let sup = self.sup.clone();
        self.done.spawn_op(id, async move { sup.start().await });
    }

    /// Stops every child (in reverse order); `id` reports when they are gone.
    #[napi]
    pub fn stop(&self, id: u32) {
        let sup = self.sup.clone();
        self.done.spawn_op(id, async move {
            sup.stop().await;
            Ok(())
        });
    }

    /// `id` reports when it is no longer running (an error if it failed).
    #[napi]
    pub fn wait(&self, id: u32) {
        let sup = self.sup.clone();
        self.done.spawn_op(id, async move { sup.wait().await });
    }

    /// Restarts the child named `name` by hand (it counts against its budget).
    #[napi]
    pub fn restart_child(&self, id: u32, name: String) {
        let sup = self.sup.clone();
        self.done.spawn_op(id, async move { sup.restart_child(&name).await });
    }

    /// Adds an instance of the template (simple-one-for-one) with extra arguments; reports its index.
    #[napi]
    pub fn start_child(&self, id: u32, args: Vec<String>) {
        let sup = self.sup.clone();
        self.done.spawn_op(id, async move { sup.start_child(args).await });
    }

    /// Reports every child as JSON (`[{ name, index, pid, state, restarts, lastExit, critical }]`).
    #[napi]
    pub fn children(&self, id: u32) {
        let sup = self.sup.clone();
        self.done.spawn_op(id, async move { Ok(sup.children().await) });
    }

    /// Where it is.
    #[napi]
    pub fn state(&self) -> SupervisorStateOutput {
        let (state, reason) = match self.sup.state() {
            SupervisorState::Idle => ("idle", None),
            SupervisorState::Running => ("running", None),
            SupervisorState::Stopped => ("stopped", None),
            SupervisorState::Failed(why) => ("failed", Some(why)),
        };
        SupervisorStateOutput { state: state.into(), reason }
    }

    /// Every operation finished since the last call.
    #[napi]
    pub fn drain(&self, buffer: Uint8ArraySlice) -> i64 {
        self.done.drain(buffer)
    }
}

/// Restores this thread's trace context when dropped.
struct ContextGuard(Option<omnitron::telemetry::TraceContext>);

impl Drop for ContextGuard {
    fn drop(&mut self) {
        omnitron::telemetry::set_thread_context(self.0.take());
    }
}
