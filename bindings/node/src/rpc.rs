//! RPC for Node: the engine's `Peer`. Values cross as MessagePack bytes (`Uint8Array`) (the TypeScript layer
//! encodes and decodes them), and everything that happens on engine threads (a call to serve, a call
//! that finished, an event) reaches JavaScript through thread-safe functions, never blocking the
//! engine.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{FunctionRef, Uint8Array, Uint8ArraySlice};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use omnitron::rpc::{CallOptions, Peer, PeerOptions, Reply, Service, WireError, next_call_key};
use omnitron::transport::Address;
use omnitron::{ErrorCode, runtime};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use crate::batch::{Direct, WakeFn};
use crate::error::ToJs;
use crate::host_loop::{AdoptFn, HostLoopState};
use crate::rpc_inbox::{Inbox, Item};

/// `(callId)`: the streaming call being served wants its next item (answer with `rpcStreamAnswer`).
type PullFn = ThreadsafeFunction<u32, (), u32, napi::Status, false, true>;
/// `(callId)`: the call being served was cancelled.
type CancelFn = ThreadsafeFunction<u32, (), u32, napi::Status, false, true>;
/// Where a JavaScript handler's answer goes.
enum Answer {
    /// A unary call: straight to its caller (`omnitron::rpc::Reply`).
    Reply(Reply),
    /// The next item of a stream being served: to the serving task.
    Item(oneshot::Sender<Result<Bytes, WireError>>),
}

impl Answer {
    fn send(self, r: Result<Bytes, WireError>) -> bool {
        match self {
            Answer::Reply(reply) => reply.send(r),
            Answer::Item(tx) => tx.send(r).is_ok(),
        }
    }
}

/// Calls being served by JavaScript handlers, by id (the low 32 bits of their `Reply::key`;
/// streams take theirs from the same counter, `next_call_key`). Keys this process hands out: a
/// cheap integer hash (Fx) instead of SipHash.
static SERVING: LazyLock<Mutex<FxHashMap<u32, Answer>>> = LazyLock::new(|| Mutex::new(FxHashMap::default()));

/// An id JavaScript knows a call being served by.
fn serving_id(key: u64) -> u32 {
    key as u32
}

fn wire(code: ErrorCode, message: impl Into<String>) -> WireError {
    WireError { code: code.as_str().into(), message: message.into(), data: None }
}

/// Answers a call served by JavaScript: `code` null for success (`value` is the result), else the
/// error's code, message and data. False if the call is gone (cancelled, timed out).
#[napi]
pub fn rpc_answer(
    call_id: u32,
    code: Option<String>,
    message: Option<String>,
    value: Option<Uint8ArraySlice>,
) -> bool {
    let Some(a) = SERVING.lock().remove(&call_id) else { return false };
    let value = value.map(|b| Bytes::copy_from_slice(&b));
    a.send(match code {
        None => Ok(value.unwrap_or_else(|| Bytes::from_static(omnitron::rpc::NIL))),
        Some(code) => Err(WireError { code, message: message.unwrap_or_default(), data: value }),
    })
}

/// Answers many calls served by JavaScript at once, with success: `batch[..len]` holds, per call,
/// its id (u32, little-endian), the value's length (u32, little-endian) and the MessagePack value.
/// One crossing for the answers of a whole read (`lib/rpc/answers.ts`). Returns how many were still
/// waiting (the others were cancelled or timed out meanwhile); a malformed tail is ignored.
#[napi]
pub fn rpc_answers(batch: Uint8ArraySlice, len: u32) -> u32 {
    let b = &batch[..(len as usize).min(batch.len())];
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(head) = b.get(at..at + 8) {
        let id = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let n = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let Some(value) = b.get(at + 8..at + 8 + n) else { break };
        records.push((id, value));
        at += 8 + n;
    }
    // One lock for the batch; the answers are written after it is released.
    let answers: Vec<_> = {
        let mut serving = SERVING.lock();
        records.into_iter().filter_map(|(id, value)| Some((serving.remove(&id)?, value))).collect()
    };
    answers.into_iter().map(|(a, value)| u32::from(a.send(Ok(Bytes::copy_from_slice(value))))).sum()
}

/// Answers a pull of a streaming call served by JavaScript: the next item (`value`), the end
/// (`end` true), or an error (`code`). False if the call is gone.
#[napi]
pub fn rpc_stream_answer(
    call_id: u32,
    end: bool,
    code: Option<String>,
    message: Option<String>,
    value: Option<Uint8ArraySlice>,
) -> bool {
    let Some(a) = SERVING.lock().remove(&call_id) else { return false };
    let value = value.map(|b| Bytes::copy_from_slice(&b));
    // A stream's end travels through the same answer channel, as a marker error.
    a.send(match code {
        Some(code) => Err(WireError { code, message: message.unwrap_or_default(), data: value }),
        None if end => Err(end_marker()),
        None => Ok(value.unwrap_or_else(|| Bytes::from_static(omnitron::rpc::NIL))),
    })
}

/// The end of a stream, as it travels through the answer channel.
fn end_marker() -> WireError {
    WireError { code: "$end".into(), message: String::new(), data: None }
}

/// Streams started from JavaScript, by call id.
static STREAMS: LazyLock<Mutex<HashMap<u32, Arc<tokio::sync::Mutex<omnitron::rpc::RpcStream>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A deadline in ms from JavaScript (none, zero or not a number: the default).
fn call_options(deadline_ms: Option<f64>) -> CallOptions {
    CallOptions {
        deadline: deadline_ms
            .filter(|d| d.is_finite() && *d > 0.0)
            // Past what a Duration holds: as long as there is (the engine caps it).
            .map(|d| Duration::try_from_secs_f64(d / 1000.0).unwrap_or(Duration::MAX)),
        trace: None,
    }
}

/// The callbacks a peer reports through.
#[napi(object, object_to_js = false)]
pub struct PeerCallbacks {
    /// Answers, calls to serve and events are waiting: take them with `drain()`.
    #[napi(ts_type = "() => void")]
    pub wake: WakeFn,
    /// The same function, called directly after a read on this thread's loop.
    #[napi(ts_type = "() => void")]
    pub wake_now: FunctionRef<(), ()>,
    #[napi(ts_type = "(callId: number) => void")]
    pub pull: PullFn,
    #[napi(ts_type = "(callId: number) => void")]
    pub cancel: CancelFn,
    /// Connections wait for this thread's event loop: call `hostAdopt()`.
    #[napi(ts_type = "(n: number) => void")]
    pub adopt: AdoptFn,
}

struct Callbacks {
    host: Arc<HostLoopState>,
    inbox: Arc<Inbox>,
    pull: Arc<PullFn>,
    cancel: Arc<CancelFn>,
    adopt: Arc<AdoptFn>,
}

/// This process's end of the RPC network.
#[napi]
pub struct NativePeer {
    peer: Peer,
    cb: Callbacks,
    /// Each exposed method gets a number: requests reach JavaScript by number, not by name.
    next_handler: AtomicU32,
    /// `target` and `method` pairs JavaScript calls by number (`route`, `callBatch`): no strings
    /// converted per call.
    routes: parking_lot::RwLock<Vec<(String, String)>>,
}

/// At most this many routes per peer; past it JavaScript calls by name.
const MAX_ROUTES: usize = 65_536;

fn options(name: String, token: Option<String>, max_frame: Option<u32>, cb: &Callbacks) -> PeerOptions {
    let mut o = PeerOptions::new(name);
    o.host_loop = crate::host_loop::libuv_matches().then(|| cb.host.host_loop(cb.adopt.clone()));
    o.lang = "node".into();
    o.token = token;
    if let Some(m) = max_frame {
        o.max_frame = m as usize;
    }
    o
}

fn callbacks(env: &napi::Env, c: PeerCallbacks) -> Callbacks {
    Callbacks {
        host: Arc::new(HostLoopState::default()),
        inbox: Inbox::new(c.wake, Some(Direct::new(env, c.wake_now))),
        pull: Arc::new(c.pull),
        cancel: Arc::new(c.cancel),
        adopt: Arc::new(c.adopt),
    }
}

#[napi]
impl NativePeer {
    /// Listens on `address` (`unix:/path`, `tcp://host:port`).
    #[napi(factory)]
    pub fn listen(
        env: napi::Env,
        address: String,
        name: String,
        token: Option<String>,
        max_frame: Option<u32>,
        cb: PeerCallbacks,
    ) -> napi::Result<NativePeer, String> {
        let addr: Address = address.parse().js()?;
        let cb = callbacks(&env, cb);
        let o = options(name, token, max_frame, &cb);
        let peer = runtime::block_on(async move { Peer::listen(&addr, o).await }).js()?;
        Ok(NativePeer { peer, cb, next_handler: AtomicU32::new(1), routes: Default::default() })
    }

    /// Connects to the peer listening at `address`.
    #[napi(factory)]
    pub fn connect(
        env: napi::Env,
        address: String,
        name: String,
        token: Option<String>,
        max_frame: Option<u32>,
        cb: PeerCallbacks,
    ) -> napi::Result<NativePeer, String> {
        let addr: Address = address.parse().js()?;
        let cb = callbacks(&env, cb);
        let o = options(name, token, max_frame, &cb);
        let peer = runtime::block_on(async move { Peer::connect(&addr, o).await }).js()?;
        Ok(NativePeer { peer, cb, next_handler: AtomicU32::new(1), routes: Default::default() })
    }

    /// Starts reading, on this thread's event loop, the connections waiting for it (the `adopt`
    /// callback's answer).
    #[napi]
    pub fn host_adopt(&self, env: napi::Env) -> napi::Result<()> {
        self.cb.host.adopt_pending(&env)
    }

    /// Writes what waits for JavaScript into `buffer` (see `lib/batch.ts`): the bytes written, or
    /// minus the size a bigger buffer needs.
    #[napi]
    pub fn drain(&self, mut buffer: napi::bindgen_prelude::Uint8ArraySlice) -> i64 {
        // SAFETY: JavaScript is blocked in this call; nothing else touches the buffer meanwhile.
        self.cb.inbox.drain_into(unsafe { buffer.as_mut() })
    }

    /// The address it listens on, if it listens.
    #[napi]
    pub fn address(&self) -> Option<String> {
        self.peer.address().map(|a| a.to_string())
    }

    /// Whether the connection to the peer it connected to is up (always true for a listening peer).
    #[napi]
    pub fn is_connected(&self) -> bool {
        self.peer.is_connected()
    }

    /// Hosts `name@version` with `methods`; returns the service index `dispatch` reports.
    #[napi]
    pub fn expose(
        &self,
        name: String,
        version: String,
        methods: Vec<String>,
        streams: Vec<String>,
    ) -> napi::Result<u32, String> {
        // Methods are numbered from `first` in order, unary ones first, then streams.
        let count = (methods.len() + streams.len()) as u32;
        let first = self.next_handler.fetch_add(count, Ordering::Relaxed);
        let mut b = Service::builder(&name, &version).js()?;
        for (i, m) in streams.iter().enumerate() {
            let (inbox, pull, cancel) = (self.cb.inbox.clone(), self.cb.pull.clone(), self.cb.cancel.clone());
            let index = first + (methods.len() + i) as u32;
            b = b.raw_stream(m, move |args, ctx, sink| {
                let (inbox, pull, cancel) = (inbox.clone(), pull.clone(), cancel.clone());
                let trace = crate::telemetry::CallTrace::of(ctx.trace.as_ref());
                Box::pin(async move {
                    let id = serving_id(next_call_key());
                    // Start the generator; then pull one item at a time (the sink's credit is the
                    // backpressure).
                    inbox.push(Item::Call(id, index, args, trace));
                    let mut guard = CancelOnDrop { id, cancel, armed: true };
                    loop {
                        let (tx, rx) = oneshot::channel();
                        SERVING.lock().insert(id, Answer::Item(tx));
                        pull.call(id, ThreadsafeFunctionCallMode::NonBlocking);
                        match rx.await {
                            Ok(Ok(item)) => {
                                if sink.send_raw(item).await.is_err() {
                                    return Err(wire(ErrorCode::Cancelled, "the caller stopped the stream"));
                                }
                            }
                            Ok(Err(e)) if e.code == "$end" => {
                                guard.armed = false;
                                return Ok(());
                            }
                            Ok(Err(e)) => {
                                guard.armed = false;
                                return Err(e);
                            }
                            Err(_) => {
                                return Err(wire(
                                    ErrorCode::HandlerFailed,
                                    "the JavaScript generator never answered",
                                ));
                            }
                        }
                    }
                })
            });
        }
        for (i, m) in methods.iter().enumerate() {
            let (inbox, cancel) = (self.cb.inbox.clone(), self.cb.cancel.clone());
            let index = first + i as u32;
            // Answered later by `rpcAnswers` / `rpcAnswer` through the call's Reply: no future,
            // task or timer per call. A call that stops waiting is taken out of SERVING and its
            // handler told (its signal aborts).
            b = b.deferred(
                m,
                move |args, reply| {
                    let id = serving_id(reply.key());
                    let trace = crate::telemetry::CallTrace::of(reply.trace());
                    SERVING.lock().insert(id, Answer::Reply(reply));
                    inbox.push(Item::Call(id, index, args, trace));
                },
                move |key| {
                    let id = serving_id(key);
                    if SERVING.lock().remove(&id).is_some() {
                        cancel.call(id, ThreadsafeFunctionCallMode::NonBlocking);
                    }
                },
            );
        }
        let svc = b.build().js()?;
        let peer = self.peer.clone();
        runtime::block_on(async move { peer.expose(svc).await }).js()?;
        Ok(first)
    }

    /// Stops hosting `name@version`.
    #[napi]
    pub fn unexpose(&self, name: String, version: String) -> napi::Result<bool, String> {
        let peer = self.peer.clone();
        runtime::block_on(async move { peer.unexpose(&name, &version).await }).js()
    }

    /// Calls `method` of `target` with MessagePack `args` (an array); `done(callId, ...)` reports.
    #[napi]
    #[allow(clippy::too_many_arguments)] // The JavaScript signature, one to one.
    pub fn call(
        &self,
        call_id: u32,
        target: String,
        method: String,
        args: Uint8ArraySlice,
        deadline_ms: Option<f64>,
        traceparent: Option<String>,
        tracestate: Option<String>,
    ) {
        let mut opts = call_options(deadline_ms);
        opts.trace = crate::telemetry::wire_of(traceparent.as_deref(), tracestate.as_deref());
        let args = Bytes::copy_from_slice(&args);
        let inbox = self.cb.inbox.clone();
        self.peer.call_raw_with(&target, &method, args, opts, move |r| inbox.push(Item::Done(call_id, r)));
    }

    /// Numbers a `target` and `method` pair for `callBatch`; null when this peer has too many.
    #[napi]
    pub fn route(&self, target: String, method: String) -> Option<u32> {
        let mut routes = self.routes.write();
        if routes.len() >= MAX_ROUTES {
            return None;
        }
        routes.push((target, method));
        Some((routes.len() - 1) as u32)
    }

    /// Calls by numbers from `route`, many in one crossing (`lib/rpc/calls.ts`): `batch[..len]` holds, per call, its
    /// id (u32), route (u32), deadline in ms (f64, 0 for the default) and the arguments' length
    /// (u32), all little-endian, then the MessagePack arguments. Each call reports through `drain`
    /// as `call`'s do; a malformed tail is ignored.
    #[napi]
    pub fn call_batch(&self, batch: Uint8ArraySlice, len: u32) {
        // One copy for the whole batch; each call's arguments are a slice of it.
        let all = Bytes::copy_from_slice(&batch[..(len as usize).min(batch.len())]);
        let routes = self.routes.read();
        let mut at = 0;
        while let Some(head) = all.get(at..at + 20) {
            let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
            let (call_id, route, n) = (word(0), word(4), word(16) as usize);
            let deadline = f64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
            if all.len() < at + 20 + n {
                break;
            }
            let args = all.slice(at + 20..at + 20 + n);
            at += 20 + n;
            let inbox = self.cb.inbox.clone();
            let done = move |r| inbox.push(Item::Done(call_id, r));
            match routes.get(route as usize) {
                Some((target, method)) => {
                    self.peer.call_raw_with(target, method, args, call_options(Some(deadline)), done);
                }
                None => done(Err(wire(ErrorCode::InvalidArgument, format!("no route {route}")))),
            }
        }
    }

    /// Starts a streaming call; `done(callId, ...)` reports that it started (all null) or why it
    /// could not. Pull items with `streamNext`.
    #[napi]
    #[allow(clippy::too_many_arguments)] // The JavaScript signature, one to one.
    pub fn stream_start(
        &self,
        call_id: u32,
        target: String,
        method: String,
        args: Uint8ArraySlice,
        deadline_ms: Option<f64>,
        traceparent: Option<String>,
        tracestate: Option<String>,
    ) {
        let mut opts = call_options(deadline_ms);
        opts.trace = crate::telemetry::wire_of(traceparent.as_deref(), tracestate.as_deref());
        let args = Bytes::copy_from_slice(&args);
        let (peer, inbox) = (self.peer.clone(), self.cb.inbox.clone());
        runtime::handle().spawn(async move {
            match peer.call_stream_raw(&target, &method, args, opts).await {
                Ok(s) => {
                    STREAMS.lock().insert(call_id, Arc::new(tokio::sync::Mutex::new(s)));
                    // Started: an answer with no value.
                    inbox.push(Item::Done(call_id, Ok(Bytes::new())));
                }
                Err(e) => inbox.push(Item::Done(call_id, Err(e))),
            }
        });
    }

    /// Fetches the next item of a stream: `done(callId, null, null, item)`, `done(callId, "$end",
    /// null, null)` at the end, or `done(callId, code, message, data)` on failure.
    #[napi]
    pub fn stream_next(&self, call_id: u32) {
        let inbox = self.cb.inbox.clone();
        let s = STREAMS.lock().get(&call_id).cloned();
        runtime::handle().spawn(async move {
            let item = match s {
                Some(s) => s.lock().await.next_raw().await,
                None => None,
            };
            let r = match item {
                Some(Ok(v)) => Ok(v),
                None => {
                    STREAMS.lock().remove(&call_id);
                    Err(end_marker())
                }
                Some(Err(e)) => {
                    STREAMS.lock().remove(&call_id);
                    Err(e)
                }
            };
            inbox.push(Item::Done(call_id, r));
        });
    }

    /// Stops a stream (the callee is cancelled if it has not finished).
    #[napi]
    pub fn stream_close(&self, call_id: u32) {
        STREAMS.lock().remove(&call_id);
    }

    /// Publishes an event (`payload` is MessagePack) in the trace `traceparent` names, if any:
    /// its subscribers' handlers run in it.
    #[napi]
    pub fn publish(
        &self,
        topic: String,
        payload: Uint8Array,
        traceparent: Option<String>,
        tracestate: Option<String>,
    ) -> napi::Result<(), String> {
        let peer = self.peer.clone();
        let payload = Bytes::copy_from_slice(&payload);
        let trace = crate::telemetry::wire_of(traceparent.as_deref(), tracestate.as_deref());
        runtime::block_on(async move { peer.publish_raw_traced(&topic, payload, trace).await }).js()
    }

    /// Subscribes; matching events are reported through `drain` as events of the returned
    /// subscription id, and `done(callId)` reports when the subscription is active (or why it was
    /// withdrawn): see `omnitron::rpc::Peer::subscribe_raw_with`. Never blocks this thread, whose
    /// loop may be the one that reads the answer.
    #[napi]
    pub fn subscribe(&self, pattern: String, call_id: u32) -> napi::Result<u32, String> {
        let (events, done) = (self.cb.inbox.clone(), self.cb.inbox.clone());
        let slot: Arc<AtomicU32> = Arc::new(AtomicU32::new(0));
        let s = slot.clone();
        let id = self
            .peer
            .subscribe_raw_with(
                &pattern,
                move |topic, payload| {
                    // Delivered with the publisher's trace current: the handler runs in it.
                    let trace = omnitron::telemetry::current().map(|c| c.traceparent());
                    events.push(Item::Event(
                        s.load(Ordering::Acquire),
                        topic.to_string(),
                        payload.clone(),
                        trace,
                    ));
                },
                move |r| {
                    done.push(Item::Done(
                        call_id,
                        r.map(|()| Bytes::new()).map_err(|e| WireError::from_error(&e)),
                    ))
                },
            )
            .js()?;
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        slot.store(id, Ordering::Release);
        Ok(id)
    }

    /// Removes a subscription.
    #[napi]
    pub fn unsubscribe(&self, id: u32) -> bool {
        let peer = self.peer.clone();
        runtime::block_on(async move { peer.unsubscribe(u64::from(id)).await })
    }

    /// `[{ name, version, methods }]` this peer routes to, as JSON.
    #[napi]
    pub fn services_json(&self) -> String {
        serde_json::to_string(&self.peer.services()).unwrap_or_else(|_| "[]".into())
    }

    /// Closes every connection and stops listening / reconnecting.
    #[napi]
    pub fn shutdown(&self) {
        let peer = self.peer.clone();
        runtime::block_on(async move { peer.shutdown().await });
    }
}

struct CancelOnDrop {
    id: u32,
    cancel: Arc<CancelFn>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        SERVING.lock().remove(&self.id);
        if self.armed {
            self.cancel.call(self.id, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// A service's declared id (`payment@1.0.0`, or a bare `notifications`: version 1.0.0) as
/// `[name, version]`, checked (`RPC010` when either is invalid).
#[napi]
pub fn parse_service_id(id: String) -> napi::Result<Vec<String>, String> {
    let (name, version) = omnitron::rpc::parse_id(&id).js()?;
    Ok(vec![name, version.to_string()])
}

/// Opens a turn on this thread: calls made until `endTurn()` are written in slices and then, not
/// by waking an engine thread (`omnitron::transport::begin_turn`). False if one is open.
#[napi]
pub fn begin_turn() -> bool {
    omnitron::transport::begin_turn()
}

/// Ends this thread's turn: its calls still queued are written now.
#[napi]
pub fn end_turn() {
    omnitron::transport::end_turn();
}
