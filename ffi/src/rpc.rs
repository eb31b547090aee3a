//! RPC: peers that listen or connect, services with C callback handlers, calls (blocking or with a
//! completion callback), and events. Values cross as MessagePack bytes, or as JSON text with the
//! `_json` variants (and `OMNITRON_FORMAT_JSON` handlers).
//!
//! Threads: handlers, completion callbacks and event callbacks run on engine threads, never on the
//! thread that made the call (except that blocking calls return on it). Handlers of one service may
//! run on several threads at once.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use omnitron::rpc::{CallOptions, Peer, PeerOptions, Service, Value, WireError};
use omnitron::transport::Address;
use omnitron::{Error, ErrorCode, runtime};

use crate::boundary::{
    OmnitronFreeFn, Table, UserData, check_out, give_string, guard, guard_out, guard_void, str_arg, write_out,
};
use crate::error::{
    CallbackStatus, OmnitronStatus, clear_callback_message, passed_on, status_text, take_callback_message,
};
use crate::memory::{OmnitronBuffer, give};

/// A peer: this process's end of the RPC network. Thread-safe: calls, publishes and exposes may run
/// from several threads at once. Do not free it from inside one of its own handlers or event
/// callbacks (omnitron_peer_free waits for them).
#[derive(Debug)]
pub struct OmnitronPeer {
    _private: [u8; 0],
}

/// Handler data format: MessagePack (arguments are an array; the result any value).
pub const OMNITRON_FORMAT_MSGPACK: u32 = 0;
/// Handler data format: JSON text (arguments are a JSON array; the result any JSON value).
pub const OMNITRON_FORMAT_JSON: u32 = 1;

/// A service method. `args` / `args_len` are the arguments (MessagePack array or JSON text, per the
/// format given to omnitron_peer_expose). On success, set the result with omnitron_reply_set (no
/// result is nil / null) and return OMNITRON_STATUS_OK; on failure return a status and say why with
/// omnitron_callback_error. Runs on an engine thread; may run on several at once.
pub type OmnitronHandlerFn = Option<
    unsafe extern "C" fn(
        method: *const c_char,
        args: *const u8,
        args_len: usize,
        reply: *mut OmnitronReply,
        user_data: *mut c_void,
    ) -> CallbackStatus,
>;

/// Called when an asynchronous call finishes, on an engine thread. On success `status` is
/// OMNITRON_STATUS_OK and `value` / `len` the MessagePack result; otherwise `error` describes the
/// failure. The pointers are valid during the call only.
pub type OmnitronCompletionFn = Option<
    unsafe extern "C" fn(
        status: u32,
        value: *const u8,
        len: usize,
        error: *const c_char,
        user_data: *mut c_void,
    ),
>;

/// Called for each matching event, on an engine thread; must not block. `payload` is MessagePack,
/// valid during the call only.
pub type OmnitronEventFn = Option<
    unsafe extern "C" fn(topic: *const c_char, payload: *const u8, len: usize, user_data: *mut c_void),
>;

/// A streaming method: send each item with omnitron_stream_send (it blocks while the caller has not
/// taken the previous ones, and fails with OMNITRON_STATUS_CANCELLED once the caller has gone),
/// then return OMNITRON_STATUS_OK, or a failure status as for OmnitronHandlerFn. Runs on an engine
/// thread that may block.
pub type OmnitronStreamHandlerFn = Option<
    unsafe extern "C" fn(
        method: *const c_char,
        args: *const u8,
        args_len: usize,
        sink: *mut OmnitronStreamSink,
        user_data: *mut c_void,
    ) -> CallbackStatus,
>;

/// Called for each item of a stream, on the thread that called omnitron_peer_call_stream; the next
/// item is not requested before it returns (that is the backpressure). Returning a non-OK status
/// stops the stream.
pub type OmnitronItemFn =
    Option<unsafe extern "C" fn(item: *const u8, len: usize, user_data: *mut c_void) -> CallbackStatus>;

/// Where a streaming handler sends its items. Valid only during the handler call, on its thread.
#[derive(Debug)]
pub struct OmnitronStreamSink {
    sink: omnitron::rpc::StreamSink,
    format: u32,
}

/// A service under construction: add methods and streams, then omnitron_peer_expose_service.
/// Thread-safe (calls are serialized). Freeing it without exposing it frees its handlers' user_data.
#[derive(Debug)]
pub struct OmnitronService {
    _private: [u8; 0],
}

/// Where a handler puts its result. Valid only during the handler call, on its thread.
#[derive(Debug)]
pub struct OmnitronReply {
    value: Option<Vec<u8>>,
}

pub(crate) static PEERS: Table<Peer> = Table::new("peer");
static SERVICES: Table<parking_lot::Mutex<Option<omnitron::rpc::ServiceBuilder>>> = Table::new("service");

fn opts(name: *const c_char, token: *const c_char) -> Result<PeerOptions, Error> {
    let name = if name.is_null() { "c" } else { str_arg(name, "name")? };
    let mut o = PeerOptions::new(name);
    o.lang = "c".into();
    if !token.is_null() {
        o.token = Some(str_arg(token, "token")?.to_string());
    }
    Ok(o)
}

/// Makes a peer that listens (`connect` false) or connects, and writes its handle.
fn start_peer(
    address: *const c_char,
    name: *const c_char,
    token: *const c_char,
    out: *mut *mut OmnitronPeer,
    connect: bool,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let addr: Address = str_arg(address, "address")?.parse()?;
        let o = opts(name, token)?;
        let peer = runtime::block_on(async move {
            if connect { Peer::connect(&addr, o).await } else { Peer::listen(&addr, o).await }
        })?;
        PEERS.insert_out(out, peer)
    })
}

/// Listens on `address` (`unix:/path/to.sock` or `tcp://host:port`). `name` (NULL: "c") names this
/// peer in logs; `token` (NULL: none; required on TCP) is what connecting peers must present.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_listen(
    address: *const c_char,
    name: *const c_char,
    token: *const c_char,
    out: *mut *mut OmnitronPeer,
) -> OmnitronStatus {
    start_peer(address, name, token, out, false)
}

/// Connects to the peer listening at `address`, presenting `token`. Reconnects by itself if the
/// connection drops.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_connect(
    address: *const c_char,
    name: *const c_char,
    token: *const c_char,
    out: *mut *mut OmnitronPeer,
) -> OmnitronStatus {
    start_peer(address, name, token, out, true)
}

/// Closes every connection (calls in flight fail with OMNITRON_STATUS_PEER_DISCONNECTED), stops
/// listening, and frees the handle. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_free(peer: *mut OmnitronPeer) {
    guard_void(|| {
        if let Some(p) = PEERS.remove(peer) {
            runtime::block_on(async move { p.shutdown().await });
        }
        Ok(())
    })
}

/// Sets a handler's result: `len` bytes at `data` (MessagePack, or JSON text for JSON handlers),
/// copied. Calling it again replaces the result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_reply_set(
    reply: *mut OmnitronReply,
    data: *const u8,
    len: usize,
) -> OmnitronStatus {
    guard(|| {
        if reply.is_null() {
            return Err(Error::invalid_argument("reply is NULL"));
        }
        if data.is_null() && len > 0 {
            return Err(Error::invalid_argument(format!("data is NULL but len is {len}")));
        }
        // SAFETY: the reply pointer was handed to the handler by the library and is valid during it.
        let r = unsafe { &mut *reply };
        r.value = Some(if len == 0 {
            Vec::new()
        } else {
            // SAFETY: `len` readable bytes at `data` by contract.
            unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
        });
        Ok(())
    })
}

pub(crate) fn json_to_msgpack(text: &[u8], what: &str) -> Result<Bytes, Error> {
    let j: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| Error::invalid_argument(format!("{what} is not valid JSON: {e}")))?;
    Ok(Value::from_json(&j).to_bytes())
}

pub(crate) fn msgpack_to_json(b: &[u8]) -> Result<String, Error> {
    Ok(Value::decode(b)?.to_json().to_string())
}

fn status_code(status: u32) -> String {
    match ErrorCode::from_u32(status) {
        Some(c) => c.as_str().to_string(),
        None => ErrorCode::CallbackFailed.as_str().to_string(),
    }
}

/// Hosts `name@version` (`version` NULL: 1.0.0) with `method_count` method names (0, and `methods`
/// NULL, for a service that only handles events: it is listed, and calls to it answer
/// OMNITRON_STATUS_METHOD_NOT_FOUND); every call runs
/// `handler` with the method's name and the arguments in `format` (OMNITRON_FORMAT_MSGPACK or
/// OMNITRON_FORMAT_JSON). A handler returning a non-OK status fails the call with that status's code
/// (OMNITRON_STATUS_CALLBACK_FAILED, E004, for statuses the library does not define) and the message
/// given to omnitron_callback_error. `free_user_data(user_data)` (NULL: nothing; then `user_data`
/// must outlive the peer) runs once after the peer is freed and its last handler call returned, on
/// the thread that lets go last (the one calling omnitron_peer_free, or an engine thread); or before
/// this function returns if it fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_expose(
    peer: *mut OmnitronPeer,
    name: *const c_char,
    version: *const c_char,
    methods: *const *const c_char,
    method_count: usize,
    format: u32,
    handler: OmnitronHandlerFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let p = PEERS.get(peer)?;
        let name = str_arg(name, "name")?;
        let version = version_arg(version)?;
        let handler = handler.ok_or_else(|| Error::invalid_argument("handler is NULL"))?;
        check_format(format)?;
        if method_count > 0 && methods.is_null() {
            return Err(Error::invalid_argument(format!(
                "methods is NULL but method_count is {method_count}"
            )));
        }
        let mut b = Service::builder(name, version)?;
        for i in 0..method_count {
            // SAFETY: `method_count` readable pointers at `methods` by contract.
            let m = str_arg(unsafe { *methods.add(i) }, &format!("methods[{i}]"))?.to_string();
            let cname = Arc::new(
                CString::new(m.clone()).map_err(|_| Error::invalid_argument("a method name contains NUL"))?,
            );
            b = b.raw(&m, unary_handler(handler, cname, format, ud.clone()));
        }
        let svc = b.build()?;
        runtime::block_on(async move { p.expose(svc).await })
    })
}

type RawHandler =
    unsafe extern "C" fn(*const c_char, *const u8, usize, *mut OmnitronReply, *mut c_void) -> CallbackStatus;

/// A C handler as a service method: it blocks, so it runs on the blocking pool.
fn unary_handler(
    handler: RawHandler,
    cname: Arc<CString>,
    format: u32,
    ud: Arc<UserData>,
) -> impl Fn(Bytes, omnitron::rpc::CallContext) -> omnitron::rpc::BoxFuture<Result<Bytes, WireError>>
+ Send
+ Sync
+ 'static {
    move |args, _ctx| {
        let (cname, ud) = (cname.clone(), ud.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || run_handler(handler, &cname, args, format, &ud))
                .await
                .unwrap_or_else(|e| {
                    Err(WireError::from_error(&Error::new(ErrorCode::Internal, e.to_string())))
                })
        })
    }
}

/// The arguments as the handler gets them: MessagePack, or NUL-terminated JSON text.
fn handler_input(args: &[u8], format: u32) -> Result<Vec<u8>, Error> {
    Ok(if format == OMNITRON_FORMAT_JSON {
        let mut t = msgpack_to_json(args)?.into_bytes();
        t.push(0);
        t
    } else {
        args.to_vec()
    })
}

/// A handler's failure status as the caller's error.
fn handler_failure(status: u32) -> WireError {
    if let Some(e) = passed_on(status) {
        return WireError::from_error(&e);
    }
    let message = take_callback_message()
        .unwrap_or_else(|| format!("the handler returned status {status} ({})", status_text(status)));
    WireError { code: status_code(status), message, data: None }
}

fn run_handler(
    handler: RawHandler,
    method: &CString,
    args: Bytes,
    format: u32,
    ud: &UserData,
) -> Result<Bytes, WireError> {
    let w = |e: Error| WireError::from_error(&e);
    let input = handler_input(&args, format).map_err(w)?;
    let len = if format == OMNITRON_FORMAT_JSON { input.len() - 1 } else { input.len() };
    let mut reply = OmnitronReply { value: None };
    clear_callback_message();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the handler's contract (header); every pointer lives for the call.
        unsafe { handler(method.as_ptr(), input.as_ptr(), len, &mut reply, ud.get()) }
    }));
    let status = caught.map_err(|_| w(Error::new(ErrorCode::Internal, "the handler panicked")))?;
    if status != 0 {
        return Err(handler_failure(status));
    }
    match reply.value {
        None => Ok(Bytes::from_static(omnitron::rpc::NIL)),
        Some(v) if format == OMNITRON_FORMAT_JSON => {
            json_to_msgpack(&v, "the handler's JSON result").map_err(w)
        }
        Some(v) => {
            Value::decode(&v)
                .map_err(|e| w(e.context("the handler's result is not one MessagePack value")))?;
            Ok(Bytes::from(v))
        }
    }
}

/// Starts a service `name@version` (a semver version; NULL: 1.0.0, the version of a service declared
/// without one). Free it with omnitron_service_free (after exposing it, or instead). A service with
/// no methods can be exposed: it is listed and described, and calls to it fail with
/// OMNITRON_STATUS_METHOD_NOT_FOUND.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_service_new(
    name: *const c_char,
    version: *const c_char,
    out: *mut *mut OmnitronService,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let b = Service::builder(str_arg(name, "name")?, version_arg(version)?)?;
        SERVICES.insert_out(out, parking_lot::Mutex::new(Some(b)))
    })
}

/// A service's version: NULL is the default one.
fn version_arg<'a>(version: *const c_char) -> Result<&'a str, Error> {
    if version.is_null() { Ok(omnitron::rpc::DEFAULT_VERSION) } else { str_arg(version, "version") }
}

fn with_builder(
    service: *mut OmnitronService,
    f: impl FnOnce(omnitron::rpc::ServiceBuilder) -> Result<omnitron::rpc::ServiceBuilder, Error>,
) -> Result<(), Error> {
    let s = SERVICES.get(service)?;
    let mut slot = s.lock();
    let b = slot.take().ok_or_else(|| Error::invalid_argument("this service was already exposed"))?;
    *slot = Some(f(b)?);
    Ok(())
}

/// Adds a method answered by `handler` (see OmnitronHandlerFn) with data in `format`.
/// `free_user_data` as for omnitron_peer_expose (the service handle, if freed unexposed, lets go too).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_service_add_method(
    service: *mut OmnitronService,
    method: *const c_char,
    format: u32,
    handler: OmnitronHandlerFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let m = str_arg(method, "method")?.to_string();
        let handler = handler.ok_or_else(|| Error::invalid_argument("handler is NULL"))?;
        check_format(format)?;
        let cname =
            Arc::new(CString::new(m.clone()).map_err(|_| Error::invalid_argument("method contains NUL"))?);
        with_builder(service, move |b| Ok(b.raw(&m, unary_handler(handler, cname, format, ud))))
    })
}

/// Adds a streaming method answered by `handler` (see OmnitronStreamHandlerFn). `free_user_data` as
/// for omnitron_service_add_method.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_service_add_stream(
    service: *mut OmnitronService,
    method: *const c_char,
    format: u32,
    handler: OmnitronStreamHandlerFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let m = str_arg(method, "method")?.to_string();
        let handler = handler.ok_or_else(|| Error::invalid_argument("handler is NULL"))?;
        check_format(format)?;
        let cname =
            Arc::new(CString::new(m.clone()).map_err(|_| Error::invalid_argument("method contains NUL"))?);
        with_builder(service, move |b| {
            Ok(b.raw_stream(&m, move |args, _ctx, sink| {
                let (cname, ud) = (cname.clone(), ud.clone());
                Box::pin(async move {
                    tokio::task::spawn_blocking(move || {
                        run_stream_handler(handler, &cname, args, format, sink, &ud)
                    })
                    .await
                    .unwrap_or_else(|e| {
                        Err(WireError::from_error(&Error::new(ErrorCode::Internal, e.to_string())))
                    })
                })
            }))
        })
    })
}

/// Exposes a service built with omnitron_service_new on `peer`. The service handle may then only be
/// freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_expose_service(
    peer: *mut OmnitronPeer,
    service: *mut OmnitronService,
) -> OmnitronStatus {
    guard(|| {
        let p = PEERS.get(peer)?;
        let s = SERVICES.get(service)?;
        let b = s.lock().take().ok_or_else(|| Error::invalid_argument("this service was already exposed"))?;
        let svc = b.build()?;
        runtime::block_on(async move { p.expose(svc).await })
    })
}

/// Frees a service handle. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_service_free(service: *mut OmnitronService) {
    guard_void(|| {
        SERVICES.remove(service);
        Ok(())
    })
}

/// Sends one item of a stream (MessagePack, or JSON text for JSON handlers), blocking while the
/// caller has not taken the earlier ones. OMNITRON_STATUS_CANCELLED once the caller has gone: stop
/// and return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_stream_send(
    sink: *mut OmnitronStreamSink,
    data: *const u8,
    len: usize,
) -> OmnitronStatus {
    guard(|| {
        if sink.is_null() {
            return Err(Error::invalid_argument("sink is NULL"));
        }
        // SAFETY: the sink was handed to the handler by the library and is valid during it.
        let s = unsafe { &*sink };
        let bytes = bytes_arg(data, len)
            .map(|b| if len == 0 { Bytes::from_static(omnitron::rpc::NIL) } else { b })?;
        let item = if s.format == OMNITRON_FORMAT_JSON {
            json_to_msgpack(&bytes, "the stream item")?
        } else {
            Value::decode(&bytes).map_err(|e| e.context("the stream item is not one MessagePack value"))?;
            bytes
        };
        s.sink.send_blocking(item)
    })
}

fn run_stream_handler(
    handler: RawStreamHandler,
    method: &CString,
    args: Bytes,
    format: u32,
    sink: omnitron::rpc::StreamSink,
    ud: &UserData,
) -> Result<(), WireError> {
    let w = |e: Error| WireError::from_error(&e);
    let input = handler_input(&args, format).map_err(w)?;
    let len = if format == OMNITRON_FORMAT_JSON { input.len() - 1 } else { input.len() };
    let mut s = OmnitronStreamSink { sink, format };
    clear_callback_message();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the handler's contract (header); every pointer lives for the call.
        unsafe { handler(method.as_ptr(), input.as_ptr(), len, &mut s, ud.get()) }
    }));
    let status = caught.map_err(|_| w(Error::new(ErrorCode::Internal, "the handler panicked")))?;
    if status == 0 { Ok(()) } else { Err(handler_failure(status)) }
}

type RawStreamHandler = unsafe extern "C" fn(
    *const c_char,
    *const u8,
    usize,
    *mut OmnitronStreamSink,
    *mut c_void,
) -> CallbackStatus;

/// Calls a streaming method, blocking this thread: `on_item` runs here for each item as it comes,
/// and the next is only requested when it returns. Returns OMNITRON_STATUS_OK at the end of the
/// stream, the stream's failure, or OMNITRON_STATUS_CANCELLED if `on_item` returned non-OK (the
/// callee is then stopped).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_call_stream(
    peer: *mut OmnitronPeer,
    target: *const c_char,
    method: *const c_char,
    args: *const u8,
    args_len: usize,
    deadline_ms: u64,
    on_item: OmnitronItemFn,
    user_data: *mut c_void,
) -> OmnitronStatus {
    guard(|| {
        let p = PEERS.get(peer)?;
        let on_item = on_item.ok_or_else(|| Error::invalid_argument("on_item is NULL"))?;
        let (target, method) =
            (str_arg(target, "target")?.to_string(), str_arg(method, "method")?.to_string());
        let args = bytes_arg(args, args_len)?;
        Value::decode(&args).map_err(|e| e.context("args"))?;
        let opts = CallOptions { deadline: deadline(deadline_ms), trace: None };
        let mut stream =
            runtime::block_on(async move { p.call_stream_raw(&target, &method, args, opts).await })
                .map_err(remote)?;
        loop {
            let next = runtime::block_on(async { stream.next_raw().await.map(|r| r.map(|b| b.to_vec())) });
            match next {
                None => return Ok(()),
                Some(Err(e)) => return Err(remote(e)),
                Some(Ok(item)) => {
                    clear_callback_message();
                    // SAFETY: the callback's contract (header); the item lives for the call.
                    let status = unsafe { on_item(item.as_ptr(), item.len(), user_data) };
                    if status != 0 {
                        // Dropping the stream cancels the callee.
                        drop(stream);
                        let why = take_callback_message()
                            .unwrap_or_else(|| format!("on_item returned status {status}"));
                        return Err(Error::new(
                            ErrorCode::Cancelled,
                            format!("the stream was stopped: {why}"),
                        ));
                    }
                }
            }
        }
    })
}

fn check_format(format: u32) -> Result<(), Error> {
    if format > OMNITRON_FORMAT_JSON {
        return Err(Error::invalid_argument(format!("unknown format {format}")));
    }
    Ok(())
}

fn deadline(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

fn remote(e: WireError) -> Error {
    e.to_error()
}

/// Calls `method` of `target` (`name`, `name@1.0.0`, `name@^1`) with MessagePack `args` (an array),
/// blocking this thread until the answer (at most `deadline_ms`; 0 for the default 5 s). On success
/// `*out` holds the MessagePack result (free its `data` with omnitron_free). Remote failures keep
/// their code: OMNITRON_STATUS_SERVICE_NOT_FOUND, _METHOD_NOT_FOUND, _TIMEOUT, _PEER_DISCONNECTED,
/// or OMNITRON_STATUS_HANDLER_FAILED with the remote code in the message. Not from inside an event
/// callback (OMNITRON_STATUS_INVALID_ARGUMENT: it runs on the reader the answer needs; use
/// omnitron_peer_call_async there).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_call(
    peer: *mut OmnitronPeer,
    target: *const c_char,
    method: *const c_char,
    args: *const u8,
    args_len: usize,
    deadline_ms: u64,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        not_in_event_callback("omnitron_peer_call")?;
        let p = PEERS.get(peer)?;
        let (target, method) =
            (str_arg(target, "target")?.to_string(), str_arg(method, "method")?.to_string());
        let args = bytes_arg(args, args_len)?;
        Value::decode(&args).map_err(|e| e.context("args"))?;
        let opts = CallOptions { deadline: deadline(deadline_ms), trace: None };
        let r = runtime::block_on(async move { p.call_raw(&target, &method, args, opts).await })
            .map_err(remote)?;
        give(out, &r)
    })
}

thread_local! {
    /// Set while this thread runs an event callback (omnitron_peer_subscribe's): it runs on a
    /// connection's reader, which must go on reading for any answer to arrive.
    static IN_EVENT_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Refuses to wait for an answer from inside an event callback: it would stall the reader the
/// answer needs (for the peer's deadline, then fail).
fn not_in_event_callback(what: &str) -> Result<(), Error> {
    if IN_EVENT_CALLBACK.with(std::cell::Cell::get) {
        return Err(Error::invalid_argument(format!(
            "{what} cannot wait inside an event callback (it runs on the connection's reader, which \
             the answer needs): use omnitron_peer_call_async, or do it outside the callback"
        )));
    }
    Ok(())
}

fn bytes_arg(p: *const u8, len: usize) -> Result<Bytes, Error> {
    if len == 0 {
        return Ok(Bytes::from_static(omnitron::rpc::EMPTY_ARRAY));
    }
    if p.is_null() {
        return Err(Error::invalid_argument(format!("args is NULL but args_len is {len}")));
    }
    // SAFETY: `len` readable bytes at `p` by contract.
    Ok(Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(p, len) }))
}

/// omnitron_peer_call with JSON: `args_json` is a JSON array (NULL for none); `*out` a NUL-terminated
/// JSON text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_call_json(
    peer: *mut OmnitronPeer,
    target: *const c_char,
    method: *const c_char,
    args_json: *const c_char,
    deadline_ms: u64,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        not_in_event_callback("omnitron_peer_call_json")?;
        let p = PEERS.get(peer)?;
        let (target, method) =
            (str_arg(target, "target")?.to_string(), str_arg(method, "method")?.to_string());
        let args = if args_json.is_null() {
            Bytes::from_static(omnitron::rpc::EMPTY_ARRAY)
        } else {
            json_to_msgpack(str_arg(args_json, "args_json")?.as_bytes(), "args_json")?
        };
        let opts = CallOptions { deadline: deadline(deadline_ms), trace: None };
        let r = runtime::block_on(async move { p.call_raw(&target, &method, args, opts).await })
            .map_err(remote)?;
        give(out, msgpack_to_json(&r)?.as_bytes())
    })
}

/// Starts a call and returns at once; `done` runs on an engine thread when it finishes (always
/// exactly once, also on failure), then `free_user_data(user_data)` (NULL: nothing) on the same
/// thread. If this function fails, `done` never runs and `free_user_data` runs before it returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_call_async(
    peer: *mut OmnitronPeer,
    target: *const c_char,
    method: *const c_char,
    args: *const u8,
    args_len: usize,
    deadline_ms: u64,
    done: OmnitronCompletionFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let p = PEERS.get(peer)?;
        let done = done.ok_or_else(|| Error::invalid_argument("done is NULL"))?;
        let (target, method) =
            (str_arg(target, "target")?.to_string(), str_arg(method, "method")?.to_string());
        let args = bytes_arg(args, args_len)?;
        Value::decode(&args).map_err(|e| e.context("args"))?;
        let opts = CallOptions { deadline: deadline(deadline_ms), trace: None };
        runtime::handle().spawn(async move {
            let r = p.call_raw(&target, &method, args, opts).await;
            match r {
                // SAFETY: the completion's contract (header); pointers live for the call.
                Ok(v) => unsafe { done(0, v.as_ptr(), v.len(), std::ptr::null(), ud.get()) },
                Err(e) => {
                    let e = e.to_error();
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

/// Publishes an event with a MessagePack payload (`len` 0: nil) to every matching subscriber in
/// every connected process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_publish(
    peer: *mut OmnitronPeer,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
) -> OmnitronStatus {
    guard(|| {
        let p = PEERS.get(peer)?;
        let topic = str_arg(topic, "topic")?.to_string();
        let payload =
            if len == 0 { Bytes::from_static(omnitron::rpc::NIL) } else { bytes_arg(payload, len)? };
        Value::decode(&payload).map_err(|e| e.context("payload"))?;
        runtime::block_on(async move { p.publish_raw(&topic, payload).await })
    })
}

/// omnitron_peer_publish with a JSON payload (NULL: null).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_publish_json(
    peer: *mut OmnitronPeer,
    topic: *const c_char,
    payload_json: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let p = PEERS.get(peer)?;
        let topic = str_arg(topic, "topic")?.to_string();
        let payload = if payload_json.is_null() {
            Bytes::from_static(omnitron::rpc::NIL)
        } else {
            json_to_msgpack(str_arg(payload_json, "payload_json")?.as_bytes(), "payload_json")?
        };
        runtime::block_on(async move { p.publish_raw(&topic, payload).await })
    })
}

/// Calls `callback(topic, payload, len, user_data)` for every event matching `pattern` (`order.*`,
/// `order.#`); writes the subscription's id to `*out`.
///
/// Blocks until the subscription is active, so that an event published by any process after this
/// returns reaches `callback` (which may run before it returns): a listening peer's is active at
/// once, a connected peer's once its server has recorded it (one round trip). While the peer is
/// reconnecting this waits for the connection, up to the peer's default deadline (5 s), then fails
/// with OMNITRON_STATUS_NOT_CONNECTED (OMNITRON_STATUS_TIMEOUT if the server never confirms) and
/// subscribes nothing. Not from inside an event callback (OMNITRON_STATUS_INVALID_ARGUMENT: the
/// callback runs on the connection's reader, which the confirmation needs).
/// `free_user_data(user_data)` (NULL: nothing; then `user_data` must outlive the
/// subscription) runs once after omnitron_peer_unsubscribe or omnitron_peer_free and the last
/// callback call, on the thread that lets go last; or before this function returns if it fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_subscribe(
    peer: *mut OmnitronPeer,
    pattern: *const c_char,
    callback: OmnitronEventFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
    out: *mut u64,
) -> OmnitronStatus {
    guard_out(out, || {
        let ud = UserData::new(user_data, free_user_data);
        check_out(out, "out")?;
        not_in_event_callback("omnitron_peer_subscribe")?;
        let p = PEERS.get(peer)?;
        let pattern = str_arg(pattern, "pattern")?.to_string();
        let cb = callback.ok_or_else(|| Error::invalid_argument("callback is NULL"))?;
        let id = runtime::block_on(async move {
            p.subscribe_raw(&pattern, move |topic, payload| {
                let t = CString::new(topic).unwrap_or_default();
                let outer = IN_EVENT_CALLBACK.with(|f| f.replace(true));
                // SAFETY: the callback's contract (header); pointers live for the call.
                unsafe { cb(t.as_ptr(), payload.as_ptr(), payload.len(), ud.get()) };
                IN_EVENT_CALLBACK.with(|f| f.set(outer));
            })
            .await
        })?;
        write_out(out, id, "out")
    })
}

/// Removes a subscription; `*removed` (if not NULL) says whether it existed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_unsubscribe(
    peer: *mut OmnitronPeer,
    id: u64,
    removed: *mut bool,
) -> OmnitronStatus {
    guard_out(removed, || {
        let p = PEERS.get(peer)?;
        let r = runtime::block_on(async move { p.unsubscribe(id).await });
        if !removed.is_null() {
            write_out(removed, r, "removed")?;
        }
        Ok(())
    })
}

/// The address the peer listens on (`*out`, NUL-terminated; free it with omnitron_free), or
/// OMNITRON_STATUS_INVALID_ARGUMENT if it does not listen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_peer_address(
    peer: *mut OmnitronPeer,
    out: *mut *mut c_char,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let p = PEERS.get(peer)?;
        let a = p.address().ok_or_else(|| Error::invalid_argument("this peer does not listen"))?;
        write_out(out, give_string(&a.to_string())?, "out")
    })
}
