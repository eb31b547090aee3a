//! A peer's shared state, in one place the other files import from: the [`Inner`] of a `Peer`
//! (options, service table, connections, upstream connection, subscriptions, watchers) and the
//! types only it holds. It does nothing itself; `peer.rs`, `route.rs`, `serve.rs`,
//! `lifecycle.rs` and `events.rs` act on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::codec::{Message, PeerInfo};
use super::conn::Conn;
use super::metrics::EventMetrics;
use super::options::PeerOptions;
use super::pattern::Pattern;
use super::table::Table;
use crate::transport::Address;

type ConnWatcher = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// What happens to the connections of a listening peer, as
/// [`Peer::watch_connections`](crate::rpc::Peer::watch_connections) reports it.
#[derive(Debug, Clone)]
pub enum ConnectionEvent {
    /// A peer connected and passed the handshake.
    Connected {
        /// The connection's id (for
        /// [`Peer::call_raw_on`](crate::rpc::Peer::call_raw_on) and
        /// [`Peer::ping_on`](crate::rpc::Peer::ping_on)).
        conn: u64,
        /// Who it is.
        peer: PeerInfo,
    },
    /// It registered a service (`name@version`).
    Registered {
        /// The connection's id.
        conn: u64,
        /// The service, `name@version`.
        service: String,
        /// Its public methods (a pool learns from them whether a worker takes batches).
        methods: Vec<String>,
    },
    /// It disconnected; its calls in flight have failed and its services are gone.
    Disconnected {
        /// The connection's id.
        conn: u64,
        /// Who it was.
        peer: PeerInfo,
    },
}

/// What every part of a peer reads: the peer itself (a `Peer` is a handle on it), its connections,
/// its service table and its subscriptions.
pub(super) struct Inner {
    pub(super) info: PeerInfo,
    pub(super) opts: PeerOptions,
    pub(super) table: RwLock<Table>,
    pub(super) conns: Mutex<HashMap<u64, Arc<Conn>>>,
    pub(super) upstream: watch::Sender<Option<Arc<Conn>>>,
    pub(super) upstream_address: Option<Address>,
    pub(super) subs: Subscriptions,
    pub(super) next_watcher: AtomicU64,
    pub(super) stop: CancellationToken,
    pub(super) events: EventMetrics,
    /// The runtime the peer was made on: its tasks, including those started from a host loop's thread.
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) address: Mutex<Option<Address>>,
    pub(super) watchers: RwLock<Vec<(u64, ConnWatcher)>>,
    /// The queue call events wait in (made when a service is exposed with them on).
    pub(super) call_events: std::sync::OnceLock<tokio::sync::mpsc::Sender<(String, Bytes, Option<Bytes>)>>,
}

impl Inner {
    pub(super) fn notify(&self, ev: &ConnectionEvent) {
        let watchers: Vec<ConnWatcher> = self.watchers.read().iter().map(|(_, w)| w.clone()).collect();
        for w in watchers {
            w(ev);
        }
    }
}

type EventHandler = Arc<dyn Fn(&str, &Bytes) + Send + Sync>;

struct LocalSub {
    id: u64,
    pattern: Pattern,
    handler: EventHandler,
}

/// This process's subscriptions, by id.
#[derive(Default)]
pub(super) struct Subscriptions {
    list: RwLock<Vec<LocalSub>>,
    next: AtomicU64,
}

impl Subscriptions {
    pub(super) fn add(&self, pattern: Pattern, handler: EventHandler) -> u64 {
        let mut list = self.list.write();
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        list.push(LocalSub { id, pattern, handler });
        id
    }

    pub(super) fn remove(&self, id: u64) -> bool {
        let mut list = self.list.write();
        let before = list.len();
        list.retain(|s| s.id != id);
        list.len() != before
    }

    pub(super) fn contains(&self, id: u64) -> bool {
        self.list.read().iter().any(|s| s.id == id)
    }

    /// SUBSCRIBE for each subscription, to announce them on a new upstream connection.
    pub(super) fn announce(&self) -> Vec<Message> {
        self.list
            .read()
            .iter()
            .map(|s| Message::Subscribe { sub: s.id, pattern: s.pattern.as_str().to_string() })
            .collect()
    }

    pub(super) fn matching(&self, topic: &str) -> Vec<EventHandler> {
        self.list.read().iter().filter(|s| s.pattern.matches(topic)).map(|s| s.handler.clone()).collect()
    }
}
