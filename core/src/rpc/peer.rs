//! A peer: this process's end of the RPC network. It hosts services, calls services (its own, those of
//! peers connected to it, or through the peer it connected to), and publishes and receives events.
//!
//! A peer that **listens** accepts connections (the supervisor, a server); a peer that **connects**
//! has one upstream connection, reconnects with backoff when it drops, and re-registers its services
//! and subscriptions after each reconnect. Both speak the same protocol both ways: a connected peer's
//! services are registered with its server, which routes calls to them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::codec::wire;
use super::codec::{Message, PROTOCOL_VERSION, PeerInfo, Request, WireError};
use super::conn::{Conn, RemoteStream, StreamEvent};
use super::events::{Subscriptions, deliver, remote_subscribe};
use super::host_reader::HostLoop;
use super::hosted::LocalService;
use super::metrics::{EventMetrics, ServiceMetrics};
use super::serve::Served;
use super::service::{CallContext, Handler, Service, StreamSink, decode, encode};
use super::table::{Provider, Resolved, Table};
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::Registry;
use crate::runtime;
use crate::transport::{
    Address, DEFAULT_MAX_FRAME, FrameReader, Listener, Outbox, Stream, WriteHalf, run_writer,
};

/// The default deadline of a call: 5 s.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const OUTBOX_LIMIT: usize = 4 * 1024 * 1024;

/// How a peer is set up.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// A name for logs and errors.
    pub name: String,
    /// The language this peer speaks for (`rust`, `c`, `node`, `python`).
    pub lang: String,
    /// The auth token: required of connecting peers when listening (always on TCP), presented when
    /// connecting.
    pub token: Option<String>,
    /// Largest frame accepted (default 16 MiB).
    pub max_frame: usize,
    /// Deadline of calls that do not set one (default 5 s).
    pub default_deadline: Duration,
    /// Where RPC metrics go (default: the global registry).
    pub registry: Registry,
    /// The host's event loop, for a binding whose own thread should read the connections (see
    /// [`HostLoop`]); `None` (the default) reads them on the engine's threads.
    pub host_loop: Option<HostLoop>,
}

impl PeerOptions {
    /// Defaults for a peer named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        PeerOptions {
            name: name.into(),
            lang: "rust".into(),
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            default_deadline: DEFAULT_DEADLINE,
            registry: Registry::global().clone(),
            host_loop: None,
        }
    }

    /// With an auth token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

/// Per-call settings.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// How long to wait (default: the peer's default deadline; for streams, no limit).
    pub deadline: Option<Duration>,
    /// Trace context to pass on (a raw MessagePack map).
    pub trace: Option<Bytes>,
}

impl CallOptions {
    /// The deadline, or `default`; at most [`FOREVER`] (a longer one, `Duration::MAX` say, would
    /// overflow the clock).
    pub(crate) fn deadline_or(&self, default: Duration) -> Duration {
        self.deadline.unwrap_or(default).min(FOREVER)
    }

    /// The deadline if one was given, at most [`FOREVER`] (a stream without one has none).
    fn capped_deadline(&self) -> Option<Duration> {
        self.deadline.map(|d| d.min(FOREVER))
    }
}

/// A service as `services` / `describe` report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Public methods.
    pub methods: Vec<String>,
    /// Those of them that answer with a stream.
    #[serde(default)]
    pub streams: Vec<String>,
}

type ConnWatcher = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// What happens to the connections of a listening peer, as [`Peer::watch_connections`] reports it.
#[derive(Debug, Clone)]
pub enum ConnectionEvent {
    /// A peer connected and passed the handshake.
    Connected {
        /// The connection's id (for [`Peer::call_raw_on`] and [`Peer::ping_on`]).
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

pub(super) struct Inner {
    info: PeerInfo,
    pub(super) opts: PeerOptions,
    pub(super) table: RwLock<Table>,
    pub(super) conns: Mutex<HashMap<u64, Arc<Conn>>>,
    pub(super) upstream: watch::Sender<Option<Arc<Conn>>>,
    pub(super) upstream_address: Option<Address>,
    pub(super) subs: Subscriptions,
    next_watcher: AtomicU64,
    stop: CancellationToken,
    pub(super) events: EventMetrics,
    /// The runtime the peer was made on: its tasks, including those started from a host loop's thread.
    pub(super) runtime: tokio::runtime::Handle,
    address: Mutex<Option<Address>>,
    watchers: RwLock<Vec<(u64, ConnWatcher)>>,
}

impl Inner {
    fn notify(&self, ev: &ConnectionEvent) {
        let watchers: Vec<ConnWatcher> = self.watchers.read().iter().map(|(_, w)| w.clone()).collect();
        for w in watchers {
            w(ev);
        }
    }
}

/// A call made with [`Peer::call_raw_with`], to cancel it: the callee is sent CANCEL and the
/// callback is not called (unless it already was).
#[derive(Debug)]
pub struct CallHandle(CallHandleInner);

#[derive(Debug)]
enum CallHandleInner {
    Conn(Arc<Conn>, u64),
    Task(tokio::task::AbortHandle),
    Finished,
}

impl CallHandle {
    /// Stops waiting for the answer.
    pub fn cancel(&self) {
        self.cancel_pending();
    }

    /// [`CallHandle::cancel`]; true if the callback was still pending and will not be called (a
    /// call made from a task: true if the task was still there to abort).
    pub(crate) fn cancel_pending(&self) -> bool {
        match &self.0 {
            CallHandleInner::Conn(conn, id) => conn.forget_callback(*id),
            // Dropping the call's future sends CANCEL.
            CallHandleInner::Task(task) => {
                let running = !task.is_finished();
                task.abort();
                running
            }
            CallHandleInner::Finished => false,
        }
    }
}

/// This process's end of the RPC network. Cheap to clone; every clone is the same peer.
#[derive(Clone)]
pub struct Peer {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("name", &self.inner.info.name).field("address", &self.address()).finish()
    }
}

fn tokens_match(expected: &str, got: &str) -> bool {
    // Constant time in the token's content: compare every byte whatever the first difference.
    let (a, b) = (expected.as_bytes(), got.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

impl Peer {
    fn new(opts: PeerOptions, upstream_address: Option<Address>) -> Peer {
        let info = PeerInfo::this_process(opts.name.clone(), opts.lang.clone());
        let events = EventMetrics::new(&opts.registry);
        Peer {
            inner: Arc::new(Inner {
                info,
                opts,
                table: RwLock::new(Table::default()),
                conns: Mutex::new(HashMap::new()),
                upstream: watch::channel(None).0,
                upstream_address,
                subs: Subscriptions::default(),
                next_watcher: AtomicU64::new(1),
                stop: CancellationToken::new(),
                events,
                runtime: home_runtime(),
                address: Mutex::new(None),
                watchers: RwLock::new(Vec::new()),
            }),
        }
    }

    /// A peer that listens on `address` for other peers. On TCP a token is required.
    pub async fn listen(address: &Address, opts: PeerOptions) -> Result<Peer> {
        if address.is_tcp() && opts.token.as_deref().is_none_or(str::is_empty) {
            return Err(Error::new(
                ErrorCode::AuthFailed,
                format!("listening on {address} needs an auth token: TCP is reachable from other machines"),
            ));
        }
        let peer = Peer::new(opts, None);
        // Bound, and served, on the runtime it is created on (the caller's, or the engine's for
        // callers without one): everything of a connection stays on one runtime, so waking a task
        // never crosses into another runtime's threads.
        let home = home_runtime();
        let addr = address.clone();
        let listener = home
            .spawn(async move { Listener::bind(&addr).await })
            .await
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))??;
        *peer.inner.address.lock() = Some(listener.address().clone());
        let inner = peer.inner.clone();
        home.spawn(accept_loop(inner, listener));
        Ok(peer)
    }

    /// A peer connected to the one listening at `address`. The first connection must succeed; later
    /// drops are repaired in the background (backoff from 50 ms to 5 s), and calls made meanwhile
    /// wait for the reconnection up to their deadline.
    pub async fn connect(address: &Address, opts: PeerOptions) -> Result<Peer> {
        let peer = Peer::new(opts, Some(address.clone()));
        let inner = peer.inner.clone();
        let home = home_runtime();
        let conn = home
            .spawn(async move { handshake_connect(&inner).await })
            .await
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))??;
        peer.inner.upstream.send_replace(Some(conn));
        home.spawn(reconnect_loop(peer.inner.clone()));
        Ok(peer)
    }

    /// The address it listens on, if it listens.
    pub fn address(&self) -> Option<Address> {
        self.inner.address.lock().clone()
    }

    /// Who this peer is.
    pub fn info(&self) -> &PeerInfo {
        &self.inner.info
    }

    /// Whether the upstream connection is up (always true for a peer that only listens).
    pub fn is_connected(&self) -> bool {
        self.inner.upstream_address.is_none() || self.inner.upstream.borrow().is_some()
    }

    /// Hosts a service here. Exposing a name and version twice is an error. A connected peer also
    /// registers it with its server, so other peers can call it.
    pub async fn expose(&self, service: Service) -> Result<()> {
        let id = service.id();
        let metrics = ServiceMetrics::new(&self.inner.opts.registry, &id, &service.methods());
        let register = Message::Register {
            name: service.name.clone(),
            version: service.version.to_string(),
            methods: service.methods(),
            streams: service.streams(),
        };
        let version = service.version.clone();
        let name = service.name.clone();
        self.inner.table.write().insert(
            &name,
            version,
            Provider::Local(Arc::new(LocalService { service, metrics })),
        )?;
        let up = self.inner.upstream.borrow().clone();
        if let Some(conn) = up {
            let _ = conn.outbox.send(&register).await;
        }
        tracing::debug!(service = %id, "service exposed");
        Ok(())
    }

    /// Stops hosting `name@version`. False if it was not hosted here.
    pub async fn unexpose(&self, name: &str, version: &str) -> Result<bool> {
        let v = super::service::parse_version(version)?;
        let removed = {
            let mut t = self.inner.table.write();
            match t.resolve(&format!("{name}@{v}")) {
                Ok(Resolved { provider: Provider::Local(_), .. }) => t.remove(name, &v).is_some(),
                _ => false,
            }
        };
        if removed {
            let up = self.inner.upstream.borrow().clone();
            if let Some(conn) = up {
                let _ = conn
                    .outbox
                    .send(&Message::Unregister { name: name.to_string(), version: v.to_string() })
                    .await;
            }
        }
        Ok(removed)
    }

    /// Calls `method` of `target` (`name`, `name@1.0.0`, `name@^1`) with raw MessagePack arguments
    /// (an array); the raw MessagePack result.
    pub async fn call_raw(
        &self,
        target: &str,
        method: &str,
        args: Bytes,
        opts: CallOptions,
    ) -> std::result::Result<Bytes, WireError> {
        // The common case of a connected peer: a service it does not host goes straight upstream,
        // with no context to build (the connection owns the deadline and the cancel-on-drop).
        if self.inner.upstream_address.is_some()
            && !target.starts_with('$')
            && !self.inner.table.read().has_name(target)
        {
            let deadline = opts.deadline_or(self.inner.opts.default_deadline);
            let up = self.inner.upstream.borrow().clone().filter(|c| !c.is_closed());
            if let Some(conn) = up {
                return conn.call(target, method, args, deadline, opts.trace).await;
            }
            // Waiting for the connection takes a runtime's timer. (Boxed, like the general path
            // below: the common path's future stays small, and it is moved on every call.)
            if tokio::runtime::Handle::try_current().is_ok() {
                let conn = Box::pin(upstream_conn(&self.inner, deadline)).await?;
                return conn.call(target, method, args, deadline, opts.trace).await;
            }
        }
        let inner = self.inner.clone();
        let target = target.to_string();
        let method = method.to_string();
        Box::pin(on_runtime(async move {
            let deadline = opts.deadline_or(inner.opts.default_deadline);
            let received = Instant::now();
            let ctx = CallContext {
                cancel: CancellationToken::new(),
                deadline: received + deadline,
                peer: Arc::new(inner.info.clone()),
                trace: opts.trace,
                direct: None,
                received,
            };
            let _cancel_on_drop = ctx.cancel.clone().drop_guard();
            route_unary(&inner, &target, &method, args, ctx, true).await
        }))
        .await
    }

    /// [`Peer::call_raw`] for bindings: returns at once and calls `done` with the answer on an engine
    /// thread. A call a connected peer sends upstream goes out from the calling thread and its
    /// answer is handed over by the connection's reader: no task is woken on the way.
    pub fn call_raw_with(
        &self,
        target: &str,
        method: &str,
        args: Bytes,
        opts: CallOptions,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> CallHandle {
        let mut done: super::conn::Callback = Box::new(done);
        if self.inner.upstream_address.is_some()
            && !target.starts_with('$')
            && !self.inner.table.read().has_name(target)
        {
            let up = self.inner.upstream.borrow().clone();
            if let Some(conn) = up.filter(|c| !c.is_closed()) {
                let deadline = opts.deadline_or(self.inner.opts.default_deadline);
                let home = home_runtime();
                match conn.call_callback(target, method, &args, deadline, opts.trace.as_ref(), done, &home) {
                    Ok(Some(id)) => return CallHandle(CallHandleInner::Conn(conn, id)),
                    Ok(None) => return CallHandle(CallHandleInner::Finished),
                    Err(cb) => done = cb,
                }
            }
        }
        let peer = self.clone();
        let (target, method) = (target.to_string(), method.to_string());
        let task =
            runtime::handle().spawn(async move { done(peer.call_raw(&target, &method, args, opts).await) });
        CallHandle(CallHandleInner::Task(task.abort_handle()))
    }

    /// Calls `method` of `target` on one connection (`conn` from [`ConnectionEvent`]): the peer on
    /// the other end answers it itself. For a pool or supervisor that must reach one instance.
    pub async fn call_raw_on(
        &self,
        conn: u64,
        target: &str,
        method: &str,
        args: Bytes,
        opts: CallOptions,
    ) -> std::result::Result<Bytes, WireError> {
        let c = self.inner.conns.lock().get(&conn).cloned();
        let Some(c) = c else {
            return Err(wire(ErrorCode::PeerDisconnected, format!("connection {conn} is gone")));
        };
        let deadline = opts.deadline_or(self.inner.opts.default_deadline);
        let (target, method) = (target.to_string(), method.to_string());
        on_runtime(async move { c.call(&target, &method, args, deadline, opts.trace).await }).await
    }

    /// [`Peer::call_raw_on`] without a task: the request is written from the calling thread and
    /// `done` runs where the answer is read (or at once if the connection is gone). When the
    /// connection's outbox is full, `done` is handed back for the caller to retry by awaiting.
    #[allow(clippy::type_complexity)]
    pub fn call_raw_on_with(
        &self,
        conn: u64,
        target: &str,
        method: &str,
        args: &[u8],
        opts: CallOptions,
        done: Box<dyn FnOnce(std::result::Result<Bytes, WireError>) + Send>,
    ) -> std::result::Result<CallHandle, Box<dyn FnOnce(std::result::Result<Bytes, WireError>) + Send>> {
        let c = self.inner.conns.lock().get(&conn).cloned();
        let Some(c) = c else {
            done(Err(wire(ErrorCode::PeerDisconnected, format!("connection {conn} is gone"))));
            return Ok(CallHandle(CallHandleInner::Finished));
        };
        let deadline = opts.deadline_or(self.inner.opts.default_deadline);
        match c.call_callback(target, method, args, deadline, opts.trace.as_ref(), done, &home_runtime())? {
            Some(id) => Ok(CallHandle(CallHandleInner::Conn(c, id))),
            None => Ok(CallHandle(CallHandleInner::Finished)),
        }
    }

    /// Sends PING on one connection and waits for its PONG: the round trip, or an error if none
    /// came back within `timeout` (a wedged or stopped peer) or the connection is gone.
    pub async fn ping_on(&self, conn: u64, timeout: Duration) -> Result<Duration> {
        let c = self.inner.conns.lock().get(&conn).cloned();
        let Some(c) = c else {
            return Err(Error::new(ErrorCode::PeerDisconnected, format!("connection {conn} is gone")));
        };
        let started = Instant::now();
        let rx = c.ping()?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(_)) => {
                Err(Error::new(ErrorCode::PeerDisconnected, "the peer disconnected before answering"))
            }
            Err(_) => Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "'{}' (pid {}) did not answer a ping within {} ms",
                    c.peer.name,
                    c.peer.pid,
                    timeout.as_millis()
                ),
            )),
        }
    }

    /// The peers connected to this one: (connection id, who).
    pub fn connections(&self) -> Vec<(u64, PeerInfo)> {
        let mut v: Vec<(u64, PeerInfo)> =
            self.inner.conns.lock().values().map(|c| (c.id, (*c.peer).clone())).collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// Calls `f` for every connection event from now on (on an engine thread; keep it short). The
    /// returned id stops it with [`Peer::unwatch_connections`].
    pub fn watch_connections(&self, f: impl Fn(&ConnectionEvent) + Send + Sync + 'static) -> u64 {
        let id = self.inner.next_watcher.fetch_add(1, Ordering::Relaxed);
        self.inner.watchers.write().push((id, Arc::new(f)));
        id
    }

    /// Stops a watcher.
    pub fn unwatch_connections(&self, id: u64) -> bool {
        let mut w = self.inner.watchers.write();
        let before = w.len();
        w.retain(|(i, _)| *i != id);
        w.len() != before
    }

    /// Calls `method` of `target` with typed arguments (a tuple: `(amount,)`) and a typed result.
    pub async fn call<A: Serialize, R: DeserializeOwned>(
        &self,
        target: &str,
        method: &str,
        args: &A,
    ) -> Result<R> {
        self.call_with(target, method, args, CallOptions::default()).await
    }

    /// [`Peer::call`] with options.
    pub async fn call_with<A: Serialize, R: DeserializeOwned>(
        &self,
        target: &str,
        method: &str,
        args: &A,
        opts: CallOptions,
    ) -> Result<R> {
        let args = super::service::encode_args(args)?;
        let v = self.call_raw(target, method, args, opts).await.map_err(|e| e.to_error())?;
        decode(&v)
    }

    /// Starts a streaming call: items arrive as the callee sends them, with backpressure.
    pub async fn call_stream_raw(
        &self,
        target: &str,
        method: &str,
        args: Bytes,
        opts: CallOptions,
    ) -> std::result::Result<RpcStream, WireError> {
        let inner = self.inner.clone();
        let target = target.to_string();
        let method = method.to_string();
        on_runtime(async move { route_stream(&inner, &target, &method, args, opts).await }).await
    }

    /// Typed [`Peer::call_stream_raw`].
    pub async fn call_stream<A: Serialize>(&self, target: &str, method: &str, args: &A) -> Result<RpcStream> {
        let mut args = encode(args)?;
        if args[..] == *super::msgpack::NIL {
            args = Bytes::from_static(super::msgpack::EMPTY_ARRAY);
        }
        self.call_stream_raw(target, method, args, CallOptions::default()).await.map_err(|e| e.to_error())
    }

    /// The services this peer can route to: hosted here and registered by connected peers.
    pub fn services(&self) -> Vec<ServiceInfo> {
        registry_list(&self.inner)
    }

    /// The interface of the service a target resolves to (its public methods), here or upstream.
    pub async fn describe(&self, target: &str) -> Result<ServiceInfo> {
        let local = self.inner.table.read().resolve(target);
        match local {
            Ok(r) => Ok(info_of(&r)),
            Err(e) if self.inner.upstream_address.is_none() || e.code() == ErrorCode::InvalidService => {
                Err(e)
            }
            Err(_) => self.call("$registry", "describe", &(target,)).await,
        }
    }

    /// Stops listening, closes every connection (calls in flight fail with `RPC004`), stops
    /// reconnecting.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        let conns: Vec<Arc<Conn>> = self.inner.conns.lock().drain().map(|(_, c)| c).collect();
        for c in conns {
            c.shutdown();
        }
        let up = self.inner.upstream.send_replace(None);
        if let Some(c) = up {
            c.shutdown();
        }
    }
}

/// The stream of a streaming call.
pub struct RpcStream {
    inner: StreamInner,
}

enum StreamInner {
    Remote(RemoteStream),
    Local(mpsc::Receiver<StreamEvent>),
}

impl std::fmt::Debug for RpcStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcStream")
    }
}

impl RpcStream {
    /// The next raw item; `None` at the end.
    pub async fn next_raw(&mut self) -> Option<std::result::Result<Bytes, WireError>> {
        match &mut self.inner {
            StreamInner::Remote(r) => r.next().await,
            StreamInner::Local(rx) => match rx.recv().await {
                Some(StreamEvent::Item(b)) => Some(Ok(b)),
                Some(StreamEvent::End) | None => None,
                Some(StreamEvent::Error(e)) => Some(Err(e)),
            },
        }
    }

    /// The next item, decoded; `None` at the end.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Option<Result<T>> {
        match self.next_raw().await? {
            Ok(b) => Some(decode(&b)),
            Err(e) => Some(Err(e.to_error())),
        }
    }
}

// ---- routing ----------------------------------------------------------------------------------

/// The runtime a peer's connections live on: the caller's tokio runtime if it has one (a Rust
/// application), else the engine's (the C, Node and Python doors).
fn home_runtime() -> tokio::runtime::Handle {
    tokio::runtime::Handle::try_current().unwrap_or_else(|_| runtime::handle())
}

/// Runs `f` on the caller's tokio runtime if there is one (no hop), else on the engine's; dropping
/// the returned future drops `f` either way (so a dropped call is cancelled).
async fn on_runtime<T: Send + 'static>(
    f: impl std::future::Future<Output = std::result::Result<T, WireError>> + Send + 'static,
) -> std::result::Result<T, WireError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return f.await;
    }
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(runtime::handle().spawn(f));
    (&mut task.0).await.unwrap_or_else(|e| Err(wire(ErrorCode::Internal, e.to_string())))
}

fn registry_list(inner: &Inner) -> Vec<ServiceInfo> {
    inner
        .table
        .read()
        .list()
        .into_iter()
        .map(|(name, v, methods, streams)| ServiceInfo {
            name,
            version: v.to_string(),
            methods: public(methods),
            streams,
        })
        .collect()
}

fn info_of(r: &Resolved) -> ServiceInfo {
    ServiceInfo {
        name: r.name.clone(),
        version: r.version.to_string(),
        methods: public(r.provider.methods()),
        streams: r.provider.streams(),
    }
}

/// A service's interface leaves out the reserved methods (`$batch`, docs/PROTOCOL.md).
fn public(mut methods: Vec<String>) -> Vec<String> {
    methods.retain(|m| !m.starts_with('$'));
    methods
}

/// The built-in `$registry` service.
fn builtin_registry(inner: &Inner, method: &str, args: &Bytes) -> std::result::Result<Bytes, WireError> {
    let w = |e: Error| WireError::from_error(&e);
    match method {
        "list" => encode(&registry_list(inner)).map_err(w),
        "describe" => {
            let (target,): (String,) = decode(args).map_err(w)?;
            let r = inner.table.read().resolve(&target).map_err(w)?;
            encode(&info_of(&r)).map_err(w)
        }
        other => Err(wire(
            ErrorCode::MethodNotFound,
            format!("'$registry' has no method '{other}' (methods: describe, list)"),
        )),
    }
}

fn no_method(r: &Resolved, method: &str) -> WireError {
    let methods = public(r.provider.methods());
    let listed = if methods.is_empty() {
        "it has none".to_string()
    } else {
        format!("methods: {}", methods.join(", "))
    };
    wire(
        ErrorCode::MethodNotFound,
        format!("service '{}' has no public method '{method}' ({listed})", r.id()),
    )
}

pub(super) async fn upstream_conn(
    inner: &Inner,
    deadline: impl Into<Deadline>,
) -> std::result::Result<Arc<Conn>, WireError> {
    if let Some(c) = inner.upstream.borrow().as_ref()
        && !c.is_closed()
    {
        return Ok(c.clone());
    }
    let mut rx = inner.upstream.subscribe();
    let addr = inner.upstream_address.as_ref().map_or(String::new(), ToString::to_string);
    let wait = async {
        loop {
            let current = rx.borrow_and_update().clone();
            if let Some(c) = current {
                if !c.is_closed() {
                    return Some(c);
                }
                // Gone, and the reconnect loop has not noticed yet: wait for it.
                tokio::select! {
                    _ = rx.changed() => continue,
                    _ = tokio::time::sleep(Duration::from_millis(5)) => continue,
                }
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    };
    let deadline = match deadline.into() {
        Deadline::At(at) => at,
        Deadline::In(d) => Instant::now() + d,
    };
    match tokio::time::timeout_at(deadline, wait).await {
        Ok(Some(c)) => Ok(c),
        _ => Err(wire(ErrorCode::NotConnected, format!("not connected to {addr} (reconnecting)"))),
    }
}

/// How long to wait for the upstream connection: until an instant, or for a while from now (read
/// from the clock only if the connection is not there).
pub(super) enum Deadline {
    At(Instant),
    In(Duration),
}

impl From<Instant> for Deadline {
    fn from(at: Instant) -> Deadline {
        Deadline::At(at)
    }
}

impl From<Duration> for Deadline {
    fn from(d: Duration) -> Deadline {
        Deadline::In(d)
    }
}

/// Routes a unary call: built-in, hosted here, hosted by a connected peer, or (for a connected
/// peer) sent upstream.
pub(super) async fn route_unary(
    inner: &Arc<Inner>,
    target: &str,
    method: &str,
    args: Bytes,
    ctx: CallContext,
    may_go_up: bool,
) -> std::result::Result<Bytes, WireError> {
    if target == "$registry" || target.starts_with("$registry@") {
        if may_go_up && inner.upstream_address.is_some() {
            let conn = upstream_conn(inner, ctx.deadline).await?;
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            return conn.call(target, method, args, left, ctx.trace.clone()).await;
        }
        return builtin_registry(inner, method, &args);
    }
    let resolved = {
        let t = inner.table.read();
        match t.lookup(target) {
            Some(r) => Ok(r),
            // Not a name we host or route: a connected peer sends it upstream without building an
            // error; otherwise say what is missing.
            None if may_go_up && inner.upstream_address.is_some() && !t.has_name(target) => {
                Err(Error::new(ErrorCode::ServiceNotFound, String::new()))
            }
            None => t.resolve(target).map(Arc::new),
        }
    };
    match resolved {
        Ok(r) => match &r.provider {
            Provider::Local(svc) => serve_local_unary(svc, &r, method, args, ctx).await,
            Provider::Remote { conn, methods, .. } => {
                if !methods.iter().any(|m| m == method) {
                    return Err(no_method(&r, method));
                }
                let left = ctx.deadline.saturating_duration_since(Instant::now());
                let id = r.id();
                let call = conn.call(&id, method, args, left, ctx.trace.clone());
                tokio::select! {
                    res = call => res,
                    _ = ctx.cancel.cancelled() => Err(wire(ErrorCode::Cancelled, "the call was cancelled")),
                }
            }
        },
        Err(e) if may_go_up && inner.upstream_address.is_some() && e.code() == ErrorCode::ServiceNotFound => {
            let conn = upstream_conn(inner, ctx.deadline).await?;
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            conn.call(target, method, args, left, ctx.trace.clone()).await
        }
        Err(e) => Err(WireError::from_error(&e)),
    }
}

async fn serve_local_unary(
    svc: &Arc<LocalService>,
    r: &Resolved,
    method: &str,
    args: Bytes,
    ctx: CallContext,
) -> std::result::Result<Bytes, WireError> {
    let handler = match svc.service.methods.get(method) {
        Some(h @ (Handler::Unary(_) | Handler::Deferred(_))) => h.clone(),
        Some(Handler::Stream(_)) => {
            return Err(wire(
                ErrorCode::InvalidArgument,
                format!("'{}' {method}() returns a stream: call it as a stream", r.id()),
            ));
        }
        None => return Err(no_method(r, method)),
    };
    super::hosted::count_call(svc, method);
    let started = ctx.received;
    let deadline = super::hosted::timer_deadline(svc, &ctx);
    let cancel = ctx.cancel.clone();
    let fut = match handler {
        Handler::Deferred(h) => Box::pin(super::deferred::start_local(&h, args)),
        Handler::Unary(h) => h(args, ctx),
        Handler::Stream(_) => unreachable!("refused above"),
    };
    let result = super::serve::wait_unary(fut, &cancel, deadline, r, method, started).await;
    super::hosted::count_result(svc, method, started, result)
}

/// Where a served stream's items go.
enum StreamOut {
    Remote { conn: Arc<Conn>, id: u64, credit: Arc<tokio::sync::Semaphore> },
    Local(mpsc::Sender<StreamEvent>),
}

impl StreamOut {
    async fn item(&self, b: Bytes, cancel: &CancellationToken) -> bool {
        match self {
            StreamOut::Remote { conn, id, credit } => {
                let permit = tokio::select! {
                    p = credit.acquire() => p,
                    _ = cancel.cancelled() => return false,
                };
                match permit {
                    Ok(p) => p.forget(),
                    Err(_) => return false,
                }
                conn.outbox.send(&Message::StreamItem { id: *id, value: b }).await.is_ok()
            }
            StreamOut::Local(tx) => tx.send(StreamEvent::Item(b)).await.is_ok(),
        }
    }

    async fn finish(&self, r: std::result::Result<(), WireError>) {
        match self {
            StreamOut::Remote { conn, id, .. } => {
                let m = match r {
                    Ok(()) => Message::StreamEnd { id: *id },
                    Err(error) => Message::Error { id: *id, error },
                };
                let _ = conn.outbox.send(&m).await;
            }
            StreamOut::Local(tx) => {
                let _ = tx
                    .send(match r {
                        Ok(()) => StreamEvent::End,
                        Err(e) => StreamEvent::Error(e),
                    })
                    .await;
            }
        }
    }
}

/// Runs a streaming handler hosted here, feeding `out` (with credit for remote callers).
async fn serve_local_stream(
    svc: Arc<LocalService>,
    r: Resolved,
    method: String,
    args: Bytes,
    ctx: CallContext,
    out: StreamOut,
) {
    let handler = match svc.service.methods.get(&method) {
        Some(Handler::Stream(h)) => h.clone(),
        Some(Handler::Unary(_) | Handler::Deferred(_)) => {
            let e = wire(
                ErrorCode::InvalidArgument,
                format!("'{}' {method}() is not a stream: call it normally", r.id()),
            );
            return out.finish(Err(e)).await;
        }
        None => return out.finish(Err(no_method(&r, &method))).await,
    };
    let m = svc.metrics.methods.get(&method);
    if let Some(m) = m {
        m.calls.inc();
    }
    let started = ctx.received;
    let cancel = ctx.cancel.clone();
    let deadline = ctx.deadline;
    let (tx, mut rx) = mpsc::channel::<Bytes>(super::conn::STREAM_WINDOW as usize);
    let fut = handler(args, ctx, StreamSink { tx });
    tokio::pin!(fut);
    let mut done: Option<std::result::Result<(), WireError>> = None;
    let result = loop {
        tokio::select! {
            r = &mut fut, if done.is_none() => {
                done = Some(r);
                // Whatever it sent before returning is already queued: drain it, then finish.
                while let Ok(b) = rx.try_recv() {
                    if let Some(m) = m { m.items.inc(); }
                    if !out.item(b, &cancel).await {
                        break;
                    }
                }
                break done.take().unwrap_or(Ok(()));
            }
            item = rx.recv() => {
                if let Some(b) = item {
                    if let Some(m) = m { m.items.inc(); }
                    if !out.item(b, &cancel).await {
                        break Err(wire(ErrorCode::Cancelled, "the caller stopped the stream"));
                    }
                }
            }
            _ = cancel.cancelled() => break Err(wire(ErrorCode::Cancelled, "the stream was cancelled")),
            _ = tokio::time::sleep_until(deadline) => {
                cancel.cancel();
                break Err(wire(ErrorCode::Timeout, format!("'{}' {method}() passed its deadline", r.id())));
            }
        }
    };
    if let Some(m) = m {
        m.duration.observe(started.elapsed().as_secs_f64());
    }
    if let Err(e) = &result {
        svc.metrics.error(&method, &e.code);
    }
    out.finish(result).await;
}

pub(super) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

async fn route_stream(
    inner: &Arc<Inner>,
    target: &str,
    method: &str,
    args: Bytes,
    opts: CallOptions,
) -> std::result::Result<RpcStream, WireError> {
    let resolved = inner.table.read().resolve(target);
    match resolved {
        Ok(r) => match r.provider.clone() {
            Provider::Local(svc) => {
                let (tx, rx) = mpsc::channel(super::conn::STREAM_WINDOW as usize);
                let received = Instant::now();
                let ctx = CallContext {
                    cancel: CancellationToken::new(),
                    deadline: received + opts.deadline_or(FOREVER),
                    peer: Arc::new(inner.info.clone()),
                    trace: opts.trace,
                    direct: None,
                    received,
                };
                let method = method.to_string();
                tokio::spawn(async move {
                    let guard = ctx.cancel.clone();
                    let out = StreamOut::Local(tx);
                    let closed = match &out {
                        StreamOut::Local(tx) => tx.clone(),
                        StreamOut::Remote { .. } => unreachable!(),
                    };
                    // The consumer dropping its stream cancels the handler.
                    tokio::select! {
                        _ = serve_local_stream(svc, r, method, args, ctx, out) => {}
                        _ = closed.closed() => guard.cancel(),
                    }
                });
                Ok(RpcStream { inner: StreamInner::Local(rx) })
            }
            Provider::Remote { conn, methods, .. } => {
                if !methods.iter().any(|m| m == method) {
                    return Err(no_method(&r, method));
                }
                let s = conn.call_stream(&r.id(), method, args, opts.capped_deadline(), opts.trace).await?;
                Ok(RpcStream { inner: StreamInner::Remote(s) })
            }
        },
        Err(e) if inner.upstream_address.is_some() && e.code() == ErrorCode::ServiceNotFound => {
            let deadline = Instant::now() + opts.deadline_or(inner.opts.default_deadline);
            let conn = upstream_conn(inner, deadline).await?;
            let s = conn.call_stream(target, method, args, opts.capped_deadline(), opts.trace).await?;
            Ok(RpcStream { inner: StreamInner::Remote(s) })
        }
        Err(e) => Err(WireError::from_error(&e)),
    }
}

pub(super) async fn serve_stream_request(
    inner: &Arc<Inner>,
    conn: &Arc<Conn>,
    req: Request,
    ctx: CallContext,
    serving: super::conn::Serving,
) {
    let credit = serving.credit.clone().unwrap_or_else(|| Arc::new(tokio::sync::Semaphore::new(0)));
    let out = StreamOut::Remote { conn: conn.clone(), id: req.id, credit };
    let resolved = inner.table.read().resolve(&req.target);
    match resolved {
        Ok(r) => match r.provider.clone() {
            Provider::Local(svc) => serve_local_stream(svc, r, req.method, req.args, ctx, out).await,
            Provider::Remote { conn: other, methods, .. } => {
                if !methods.contains(&req.method) {
                    return out.finish(Err(no_method(&r, &req.method))).await;
                }
                let left = ctx.deadline.saturating_duration_since(Instant::now());
                let mut s =
                    match other.call_stream(&r.id(), &req.method, req.args, Some(left), req.trace).await {
                        Ok(s) => s,
                        Err(e) => return out.finish(Err(e)).await,
                    };
                let result = loop {
                    let next = tokio::select! {
                        n = s.next() => n,
                        _ = ctx.cancel.cancelled() => break Err(wire(ErrorCode::Cancelled, "the stream was cancelled")),
                    };
                    match next {
                        Some(Ok(b)) => {
                            if !out.item(b, &ctx.cancel).await {
                                break Err(wire(ErrorCode::Cancelled, "the caller stopped the stream"));
                            }
                        }
                        Some(Err(e)) => break Err(e),
                        None => break Ok(()),
                    }
                };
                out.finish(result).await;
            }
        },
        Err(e) => out.finish(Err(WireError::from_error(&e))).await,
    }
}

// ---- connections ------------------------------------------------------------------------------

/// Starts the writer task of a connection; the token is cancelled when it stops.
fn start_writer(write: WriteHalf) -> (Arc<Outbox>, CancellationToken) {
    let outbox = Outbox::new(OUTBOX_LIMIT);
    let done = CancellationToken::new();
    let (o, d) = (outbox.clone(), done.clone());
    tokio::spawn(async move {
        if let Err(e) = run_writer(o, write).await {
            tracing::debug!("writer stopped: {e}");
        }
        d.cancel();
    });
    (outbox, done)
}

fn start_conn(peer: PeerInfo, outbox: Arc<Outbox>, writer_done: CancellationToken) -> Arc<Conn> {
    let conn = Conn::new(peer, outbox);
    let c = conn.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = writer_done.cancelled() => c.shutdown(),
            _ = c.closed.cancelled() => {}
        }
    });
    conn
}

async fn accept_loop(inner: Arc<Inner>, listener: Listener) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = inner.stop.cancelled() => break,
        };
        match accepted {
            Ok(stream) => {
                tokio::spawn(handshake_accept(inner.clone(), stream));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn refuse(write: WriteHalf, e: &Error) {
    let outbox = Outbox::new(64 * 1024);
    let _ = outbox.send_now(&Message::Error { id: 0, error: WireError::from_error(e) });
    outbox.close();
    let _ = run_writer(outbox, write).await;
}

async fn handshake_accept(inner: Arc<Inner>, stream: Stream) {
    let Stream { read, write, fd } = stream;
    let mut reader = FrameReader::new(read, inner.opts.max_frame.min(64 * 1024));
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.next()).await;
    let hello = match first {
        Ok(Ok(Some(frame))) => Message::decode(frame),
        Ok(Ok(None)) => return,
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::new(ErrorCode::ProtocolError, "no HELLO within 5 s")),
    };
    let (peer, token) = match hello {
        Ok(Message::Hello { version, peer, token }) if version == PROTOCOL_VERSION => (peer, token),
        Ok(Message::Hello { version, .. }) => {
            let e = Error::new(
                ErrorCode::ProtocolError,
                format!("protocol version {version} is not supported (this peer speaks {PROTOCOL_VERSION})"),
            );
            return refuse(write, &e).await;
        }
        Ok(_) => {
            let e = Error::new(ErrorCode::ProtocolError, "the first message must be HELLO");
            return refuse(write, &e).await;
        }
        Err(e) => {
            tracing::warn!(code = %e.code(), "refused a connection: {e}");
            return refuse(write, &e).await;
        }
    };
    if let Some(expected) = inner.opts.token.as_deref().filter(|t| !t.is_empty())
        && !tokens_match(expected, token.as_deref().unwrap_or(""))
    {
        let what = if token.is_some() { "a wrong auth token" } else { "no auth token" };
        tracing::warn!(peer = %peer.name, pid = peer.pid, "refused a connection with {what}");
        let e = Error::new(ErrorCode::AuthFailed, format!("authentication failed: {what}"));
        return refuse(write, &e).await;
    }
    reader.set_max(inner.opts.max_frame);
    let (outbox, done) = start_writer(write);
    let conn = start_conn(peer, outbox, done);
    let _ = conn.outbox.send_now(&Message::Welcome { version: PROTOCOL_VERSION, peer: inner.info.clone() });
    inner.conns.lock().insert(conn.id, conn.clone());
    tracing::debug!(peer = %conn.peer.name, lang = %conn.peer.lang, pid = conn.peer.pid, "peer connected");
    inner.notify(&ConnectionEvent::Connected { conn: conn.id, peer: (*conn.peer).clone() });
    read_on(&inner, conn, reader, fd, false).await;
}

/// Reads `conn` from here on: in a task of this runtime, or from the host's event loop when the
/// peer was given one ([`PeerOptions::host_loop`]).
async fn read_on(
    inner: &Arc<Inner>,
    conn: Arc<Conn>,
    reader: FrameReader,
    fd: std::os::fd::RawFd,
    upstream: bool,
) {
    let Some(host) = &inner.opts.host_loop else {
        inner.runtime.spawn(read_loop(inner.clone(), conn, reader, upstream));
        return;
    };
    // Frames that came in with the handshake are handled here: the host would only look once more
    // arrives, which may be never.
    let (read, mut buf) = reader.into_parts();
    loop {
        let handled = match crate::transport::take_frame(&mut buf, inner.opts.max_frame) {
            Ok(Some(frame)) => handle_frame(inner, &conn, frame, upstream, None),
            Ok(None) => break,
            Err(e) => Err(e),
        };
        match handled {
            Ok(None) => {}
            Ok(Some(more)) => more.await,
            Err(e) => return end_conn(inner, &conn, Err(e), upstream),
        }
    }
    conn.outbox.flush_now();
    let (keep, fd) = leave_reactor(&conn, read, fd).await;
    (host.0)(super::host_reader::HostReader::new(inner.clone(), conn, keep, fd, buf, upstream));
}

/// Takes a host-read connection's socket out of the engine's reactor (see `transport::FdWriter`):
/// the writer gets a writing half on a duplicate of the descriptor, and the stream the reactor
/// watched is dropped. What keeps the descriptor open, and the descriptor to watch. If the
/// descriptor cannot be duplicated, the connection stays as it was.
async fn leave_reactor(
    conn: &Arc<Conn>,
    read: crate::transport::ReadHalf,
    fd: std::os::fd::RawFd,
) -> (Box<dyn Send>, std::os::fd::RawFd) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: `fd` is the open socket that `read` keeps open; F_DUPFD_CLOEXEC makes a new one.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return (Box::new(read), fd);
    }
    // SAFETY: `dup` was just made and is owned by nothing else.
    let owned = Arc::new(unsafe { OwnedFd::from_raw_fd(dup) });
    let writer = crate::transport::FdWriter::new(owned.clone(), tokio::runtime::Handle::current());
    if !conn.outbox.replace_writer(Box::pin(writer)).await {
        return (Box::new(read), fd);
    }
    // The old writing half is gone; this drops the reading half, and with it the reactor's watch.
    drop(read);
    let fd = owned.as_raw_fd();
    (Box::new(owned), fd)
}

async fn handshake_connect(inner: &Arc<Inner>) -> Result<Arc<Conn>> {
    let Some(address) = inner.upstream_address.clone() else {
        return Err(Error::new(ErrorCode::Internal, "no upstream address"));
    };
    let Stream { read, write, fd } = crate::transport::connect(&address).await?;
    let mut reader = FrameReader::new(read, inner.opts.max_frame);
    let (outbox, done) = start_writer(write);
    outbox.send_now(&Message::Hello {
        version: PROTOCOL_VERSION,
        peer: inner.info.clone(),
        token: inner.opts.token.clone(),
    })?;
    let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.next()).await;
    let fail = |e: Error| {
        outbox.close();
        Err(e)
    };
    let peer = match answer {
        Ok(Ok(Some(frame))) => match Message::decode(frame) {
            Ok(Message::Welcome { peer, .. }) => peer,
            Ok(Message::Error { error, .. }) => {
                return fail(error.to_error().context(format!("{address} refused the connection")));
            }
            Ok(_) => return fail(Error::new(ErrorCode::ProtocolError, "expected WELCOME")),
            Err(e) => return fail(e),
        },
        Ok(Ok(None)) => {
            return fail(Error::new(ErrorCode::NotConnected, format!("{address} closed the connection")));
        }
        Ok(Err(e)) => return fail(e),
        Err(_) => {
            return fail(Error::new(ErrorCode::NotConnected, format!("{address} did not answer within 5 s")));
        }
    };
    let conn = start_conn(peer, outbox.clone(), done);
    // Services and subscriptions made before (or during a reconnect) are announced again.
    let (services, subs) = {
        let t = inner.table.read();
        let services: Vec<Message> = t
            .list()
            .into_iter()
            .filter(|(n, v, _, _)| {
                matches!(t.resolve(&format!("{n}@{v}")), Ok(Resolved { provider: Provider::Local(_), .. }))
            })
            .map(|(name, v, methods, streams)| Message::Register {
                name,
                version: v.to_string(),
                methods,
                streams,
            })
            .collect();
        (services, inner.subs.announce())
    };
    for m in services.iter().chain(subs.iter()) {
        conn.outbox.send_now(m)?;
    }
    read_on(inner, conn.clone(), reader, fd, true).await;
    Ok(conn)
}

async fn reconnect_loop(inner: Arc<Inner>) {
    loop {
        let current = inner.upstream.borrow().clone();
        if let Some(c) = current {
            tokio::select! {
                _ = c.closed.cancelled() => {}
                _ = inner.stop.cancelled() => return,
            }
        }
        if inner.stop.is_cancelled() {
            return;
        }
        inner.upstream.send_replace(None);
        let mut delay = Duration::from_millis(50);
        loop {
            match handshake_connect(&inner).await {
                Ok(conn) => {
                    tracing::info!(peer = %conn.peer.name, "reconnected");
                    inner.upstream.send_replace(Some(conn));
                    break;
                }
                Err(e) => {
                    tracing::debug!("reconnect failed ({e}); next try in {} ms", delay.as_millis());
                    let jittered = delay / 2 + delay.mul_f64(fastrand::f64() / 2.0);
                    tokio::select! {
                        _ = tokio::time::sleep(jittered) => {}
                        _ = inner.stop.cancelled() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Polls a future once with a waker that does nothing. Safe to hand the future to a task afterwards:
/// the task polls it again, registering its own waker, before anything could be missed.
pub(super) fn poll_once<F: std::future::Future + ?Sized>(
    fut: std::pin::Pin<&mut F>,
) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    fut.poll(&mut cx)
}

async fn read_loop(inner: Arc<Inner>, conn: Arc<Conn>, mut reader: FrameReader, upstream: bool) {
    let result: Result<()> = loop {
        // A frame already read needs no waiting (nor a waiter registered on `closed` per frame).
        let frame = if reader.has_buffered_frame() {
            if conn.is_closed() {
                break Ok(());
            }
            reader.next().await
        } else {
            tokio::select! {
                f = reader.next() => f,
                _ = conn.closed.cancelled() => break Ok(()),
            }
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match handle_frame(&inner, &conn, frame, upstream, None) {
            Ok(None) => {}
            // Waits here: a slow subscriber or a full upstream slows this connection's reading.
            Ok(Some(more)) => more.await,
            Err(e) => break Err(e),
        }
        // Everything that arrived together has been handled: send the answers now, from here.
        if !reader.has_buffered_frame() {
            conn.outbox.flush_now();
        }
    };
    end_conn(&inner, &conn, result, upstream);
}

/// Work a frame leaves to finish asynchronously (delivering or forwarding an event).
pub(super) type Leftover = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Handles one frame read from `conn`: everything that can be done at once is done here (answers
/// completed, requests started, subscriptions recorded); what must wait comes back. `Err` closes
/// the connection.
pub(super) fn handle_frame(
    inner: &Arc<Inner>,
    conn: &Arc<Conn>,
    frame: Bytes,
    upstream: bool,
    defer: Option<&mut Vec<Leftover>>,
) -> Result<Option<Leftover>> {
    match Message::decode(frame)? {
        // Served here if it finishes at once; otherwise as its own task, or (`defer`) handed back to
        // look at once more before spawning one.
        Message::Request(req) => match super::serve::serve_request_now(inner, conn, req) {
            Served::Done => {}
            Served::Later(fut) => match defer {
                Some(d) => d.push(fut),
                None => {
                    inner.runtime.spawn(fut);
                }
            },
            Served::Blocked(wait) => return Ok(Some(wait)),
        },
        Message::Result { id, value } => conn.complete(id, Ok(value)),
        Message::Error { id: 0, error } => {
            tracing::warn!(peer = %conn.peer.name, code = %error.code, "peer reported: {}", error.message);
        }
        Message::Error { id, error } => conn.complete(id, Err(error)),
        Message::Cancel { id } => conn.cancel_serving(id),
        Message::StreamItem { id, value } => conn.stream_event(id, StreamEvent::Item(value)),
        Message::StreamEnd { id } => conn.stream_event(id, StreamEvent::End),
        Message::StreamCredit { id, n } => conn.add_credit(id, n),
        Message::Subscribe { sub, pattern } => remote_subscribe(conn, sub, &pattern),
        Message::Unsubscribe { sub } => conn.subs.lock().retain(|(id, _)| *id != sub),
        Message::Publish { topic, payload } => {
            let inner = inner.clone();
            return Ok(Some(Box::pin(async move {
                if upstream {
                    // From our server: here, and on to anyone connected to us.
                    deliver(&inner, &topic, &payload).await;
                } else {
                    let up = inner.upstream.borrow().clone();
                    match up {
                        Some(u) => {
                            let _ = u.outbox.send(&Message::Publish { topic, payload }).await;
                        }
                        None => deliver(&inner, &topic, &payload).await,
                    }
                }
            })));
        }
        Message::Ping(n) => {
            let _ = conn.outbox.send_now(&Message::Pong(n));
        }
        Message::Pong(n) => conn.pong(n),
        Message::Register { name, version, methods, streams } => {
            let methods = Arc::new(methods);
            let r = super::service::parse_version(&version).and_then(|v| {
                inner.table.write().insert(
                    &name,
                    v,
                    Provider::Remote {
                        conn: conn.clone(),
                        methods: methods.clone(),
                        streams: Arc::new(streams),
                    },
                )
            });
            match r {
                Ok(()) => {
                    let service = format!("{name}@{version}");
                    tracing::debug!(peer = %conn.peer.name, service = %service, "service registered");
                    if !upstream {
                        let methods = methods.to_vec();
                        inner.notify(&ConnectionEvent::Registered { conn: conn.id, service, methods });
                    }
                }
                Err(e) => {
                    let _ = conn.outbox.send_now(&Message::Error { id: 0, error: WireError::from_error(&e) });
                }
            }
        }
        Message::Unregister { name, version } => {
            if let Ok(v) = super::service::parse_version(&version) {
                inner.table.write().remove_remote(&name, &v, conn.id);
            }
        }
        Message::Hello { .. } | Message::Welcome { .. } => {
            return Err(Error::new(ErrorCode::ProtocolError, "a second handshake on an open connection"));
        }
    }
    Ok(None)
}

/// The reading side of `conn` is done (the peer left, a bad frame, or this side closed it): every
/// call in flight on it fails, and a connection accepted here takes its services with it.
pub(super) fn end_conn(inner: &Arc<Inner>, conn: &Arc<Conn>, result: Result<()>, upstream: bool) {
    if let Err(e) = &result {
        tracing::warn!(peer = %conn.peer.name, pid = conn.peer.pid, code = %e.code(), "closing the connection: {e}");
        let _ = conn.outbox.send_now(&Message::Error { id: 0, error: WireError::from_error(e) });
    }
    conn.shutdown();
    if upstream {
        return;
    }
    inner.conns.lock().remove(&conn.id);
    let gone = inner.table.write().remove_conn(conn.id);
    if !gone.is_empty() {
        tracing::info!(peer = %conn.peer.name, services = ?gone, "peer disconnected; its services are gone");
    }
    inner.notify(&ConnectionEvent::Disconnected { conn: conn.id, peer: (*conn.peer).clone() });
}
