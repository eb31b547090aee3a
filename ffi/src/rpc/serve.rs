//! The serving side of RPC: services a peer exposes (all at once with omnitron_peer_expose, or built
//! method by method with omnitron_service_new), the C handlers that answer their calls and streams,
//! and the reply and stream sink those handlers write to. Handlers block, so they run on the
//! blocking pool.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use bytes::Bytes;
use omnitron::rpc::{Service, Value, WireError};
use omnitron::{Error, ErrorCode, runtime};

use super::{OmnitronPeer, PEERS, bytes_arg, json_to_msgpack, msgpack_to_json};
use crate::boundary::{OmnitronFreeFn, Table, UserData, check_out, guard, guard_out, guard_void, str_arg};
use crate::error::{
    CallbackStatus, OmnitronStatus, clear_callback_message, passed_on, status_text, take_callback_message,
};

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

static SERVICES: Table<parking_lot::Mutex<Option<omnitron::rpc::ServiceBuilder>>> = Table::new("service");

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
            let call = omnitron::log::CallName::new(b.name(), &m);
            b = b.raw(&m, unary_handler(handler, cname, call, format, ud.clone()));
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
    call: Arc<omnitron::log::CallName>,
    format: u32,
    ud: Arc<UserData>,
) -> impl Fn(Bytes, omnitron::rpc::CallContext) -> omnitron::rpc::BoxFuture<Result<Bytes, WireError>>
+ Send
+ Sync
+ 'static {
    move |args, ctx| {
        let (cname, ud, call) = (cname.clone(), ud.clone(), call.clone());
        // The handler's thread runs in its call's trace context (the calls it makes carry it),
        // and its records name its call.
        let trace = ctx.trace.as_ref().and_then(omnitron::telemetry::from_wire);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                omnitron::log::with_call(&call, || {
                    omnitron::telemetry::with_context(trace, || {
                        run_handler(handler, &cname, args, format, &ud)
                    })
                })
            })
            .await
            .unwrap_or_else(|e| Err(WireError::from_error(&Error::new(ErrorCode::Internal, e.to_string()))))
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
        with_builder(service, move |b| {
            let call = omnitron::log::CallName::new(b.name(), &m);
            Ok(b.raw(&m, unary_handler(handler, cname, call, format, ud)))
        })
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
            let call = omnitron::log::CallName::new(b.name(), &m);
            Ok(b.raw_stream(&m, move |args, ctx, sink| {
                let (cname, ud, call) = (cname.clone(), ud.clone(), call.clone());
                let trace = ctx.trace.as_ref().and_then(omnitron::telemetry::from_wire);
                Box::pin(async move {
                    tokio::task::spawn_blocking(move || {
                        omnitron::log::with_call(&call, || {
                            omnitron::telemetry::with_context(trace, || {
                                run_stream_handler(handler, &cname, args, format, sink, &ud)
                            })
                        })
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

fn check_format(format: u32) -> Result<(), Error> {
    if format > OMNITRON_FORMAT_JSON {
        return Err(Error::invalid_argument(format!("unknown format {format}")));
    }
    Ok(())
}
