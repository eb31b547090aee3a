//! RPC: peers that listen or connect, services with C callback handlers, calls (blocking or with a
//! completion callback), and events. Values cross as MessagePack bytes, or as JSON text with the
//! `_json` variants (and `OMNITRON_FORMAT_JSON` handlers).
//!
//! Threads: handlers, completion callbacks and event callbacks run on engine threads, never on the
//! thread that made the call (except that blocking calls return on it). Handlers of one service may
//! run on several threads at once.
//!
//! This file holds the peer handle (listen, connect, free) and the conversions its siblings share;
//! [`serve`] the services a peer exposes and their C handlers, [`call`] the calls it makes, and
//! [`events`] publishing and subscribing.

// cbindgen writes a module's functions before its submodules', and submodules in the order they
// are declared: this order keeps include/omnitron.h's. Keep the declarations apart so rustfmt does
// not sort them.
pub mod serve;

pub mod call;

pub mod events;

use std::ffi::c_char;

use bytes::Bytes;
use omnitron::rpc::{Peer, PeerOptions, Value};
use omnitron::transport::Address;
use omnitron::{Error, runtime};

use crate::boundary::{Table, check_out, guard_out, guard_void, str_arg};
use crate::error::OmnitronStatus;

/// A peer: this process's end of the RPC network. Thread-safe: calls, publishes and exposes may run
/// from several threads at once. Do not free it from inside one of its own handlers or event
/// callbacks (omnitron_peer_free waits for them).
#[derive(Debug)]
pub struct OmnitronPeer {
    _private: [u8; 0],
}

pub(crate) static PEERS: Table<Peer> = Table::new("peer");

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

pub(crate) fn json_to_msgpack(text: &[u8], what: &str) -> Result<Bytes, Error> {
    let j: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| Error::invalid_argument(format!("{what} is not valid JSON: {e}")))?;
    Ok(Value::from_json(&j).to_bytes())
}

pub(crate) fn msgpack_to_json(b: &[u8]) -> Result<String, Error> {
    Ok(Value::decode(b)?.to_json().to_string())
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
