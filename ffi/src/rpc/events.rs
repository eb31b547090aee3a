//! Events: publishing to every matching subscriber in every connected process, and subscriptions
//! whose C callback runs on a connection's reader. Also the peer's listening address, here only so
//! that include/omnitron.h keeps its order (see the module declarations in `rpc/mod.rs`).

use std::ffi::{CString, c_char, c_void};

use bytes::Bytes;
use omnitron::rpc::Value;
use omnitron::{Error, runtime};

use super::{OmnitronPeer, PEERS, bytes_arg, json_to_msgpack};
use crate::boundary::{
    OmnitronFreeFn, UserData, check_out, give_string, guard, guard_out, str_arg, write_out,
};
use crate::error::OmnitronStatus;

/// Called for each matching event, on an engine thread; must not block. `payload` is MessagePack,
/// valid during the call only.
pub type OmnitronEventFn = Option<
    unsafe extern "C" fn(topic: *const c_char, payload: *const u8, len: usize, user_data: *mut c_void),
>;

thread_local! {
    /// Set while this thread runs an event callback (omnitron_peer_subscribe's): it runs on a
    /// connection's reader, which must go on reading for any answer to arrive.
    static IN_EVENT_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Refuses to wait for an answer from inside an event callback: it would stall the reader the
/// answer needs (for the peer's deadline, then fail).
pub(super) fn not_in_event_callback(what: &str) -> Result<(), Error> {
    if IN_EVENT_CALLBACK.with(std::cell::Cell::get) {
        return Err(Error::invalid_argument(format!(
            "{what} cannot wait inside an event callback (it runs on the connection's reader, which \
             the answer needs): use omnitron_peer_call_async, or do it outside the callback"
        )));
    }
    Ok(())
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
