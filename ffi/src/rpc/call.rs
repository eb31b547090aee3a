//! The calling side of RPC: calls to other peers' services, blocking (MessagePack or JSON), with a
//! completion callback, or streaming. A blocking call refuses to run inside an event callback
//! ([`super::events`] says why).

use std::ffi::{CString, c_char, c_void};
use std::time::Duration;

use bytes::Bytes;
use omnitron::rpc::{CallOptions, Value, WireError};
use omnitron::{Error, ErrorCode, runtime};

use super::events::not_in_event_callback;
use super::{OmnitronPeer, PEERS, bytes_arg, json_to_msgpack, msgpack_to_json};
use crate::boundary::{OmnitronFreeFn, UserData, check_out, guard, guard_out, str_arg};
use crate::error::{CallbackStatus, OmnitronStatus, clear_callback_message, take_callback_message};
use crate::memory::{OmnitronBuffer, give};

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

/// Called for each item of a stream, on the thread that called omnitron_peer_call_stream; the next
/// item is not requested before it returns (that is the backpressure). Returning a non-OK status
/// stops the stream.
pub type OmnitronItemFn =
    Option<unsafe extern "C" fn(item: *const u8, len: usize, user_data: *mut c_void) -> CallbackStatus>;

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
        let opts =
            CallOptions { deadline: deadline(deadline_ms), trace: omnitron::telemetry::current_wire() };
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
        let opts =
            CallOptions { deadline: deadline(deadline_ms), trace: omnitron::telemetry::current_wire() };
        let r = runtime::block_on(async move { p.call_raw(&target, &method, args, opts).await })
            .map_err(remote)?;
        give(out, &r)
    })
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
        let opts =
            CallOptions { deadline: deadline(deadline_ms), trace: omnitron::telemetry::current_wire() };
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
        let opts =
            CallOptions { deadline: deadline(deadline_ms), trace: omnitron::telemetry::current_wire() };
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
