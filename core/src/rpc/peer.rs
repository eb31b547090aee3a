//! A peer: this process's end of the RPC network. It hosts services, calls services (its own, those of
//! peers connected to it, or through the peer it connected to), and publishes and receives events.
//!
//! A peer that **listens** accepts connections (the supervisor, a server); a peer that **connects**
//! has one upstream connection, reconnects with backoff when it drops, and re-registers its services
//! and subscriptions after each reconnect. Both speak the same protocol both ways: a connected peer's
//! services are registered with its server, which routes calls to them.
//!
//! This file holds the [`Peer`] handle and what it does: listen, connect, expose services, call
//! them. Its options are in `options.rs`, the handles of its calls in `handles.rs`, its state in
//! `state.rs`; publishing and subscribing are in `events.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::codec::{Message, PeerInfo, WireError, wire};
use super::conn::{Callback, Conn};
use super::handles::{CallHandle, CallHandleInner, RpcStream};
use super::hosted::LocalService;
use super::lifecycle::{accept_loop, handshake_connect, reconnect_loop};
use super::metrics::{EventMetrics, ServiceMetrics};
use super::msgpack::{EMPTY_ARRAY, NIL};
use super::options::{CallOptions, PeerOptions};
use super::registry::{ServiceInfo, info_of, registry_list};
use super::route::{route_stream, route_unary, upstream_conn};
use super::service::{CallContext, Service, decode, encode, encode_args, parse_version};
use super::state::{ConnectionEvent, Inner, Subscriptions};
use super::table::{Provider, Resolved, Table};
use crate::error::{Error, ErrorCode, Result};
use crate::runtime;
use crate::telemetry;
use crate::transport::{Address, Listener};

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
                call_events: std::sync::OnceLock::new(),
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
        telemetry::install_from_env(&opts.name, &opts.lang)?;
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
        telemetry::install_from_env(&opts.name, &opts.lang)?;
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

    /// The queue this peer's call events wait in, and the one task that publishes them in order
    /// (made with the first service exposed while they are on; `call_events.rs`).
    fn call_event_queue(&self) -> tokio::sync::mpsc::Sender<(String, Bytes, Option<Bytes>)> {
        self.inner
            .call_events
            .get_or_init(|| {
                let (tx, mut rx) =
                    tokio::sync::mpsc::channel::<(String, Bytes, Option<Bytes>)>(super::call_events::QUEUE);
                let weak = Arc::downgrade(&self.inner);
                self.inner.runtime.spawn(async move {
                    while let Some((topic, payload, trace)) = rx.recv().await {
                        let Some(inner) = weak.upgrade() else { break };
                        let peer = Peer { inner };
                        // A peer that is reconnecting loses the event, as any publish would.
                        let publish = peer.publish_raw_traced(&topic, payload, trace);
                        let _ = tokio::time::timeout(Duration::from_secs(5), publish).await;
                    }
                });
                tx
            })
            .clone()
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
        let events = super::call_events::enabled()?.then(|| {
            super::call_events::CallEvents::new(self.call_event_queue(), &name, &self.inner.opts.registry)
        });
        self.inner.table.write().insert(
            &name,
            version,
            Provider::Local(Arc::new(LocalService { service, metrics, events })),
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
        let v = parse_version(version)?;
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
        let (span, trace) = telemetry::rpc::client(target, method, opts.trace);
        let opts = CallOptions { trace, ..opts };
        let r = self.call_untraced(target, method, args, opts).await;
        telemetry::rpc::end(span, &r);
        r
    }

    /// [`Peer::call_raw`] once its span is started.
    async fn call_untraced(
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
        let (span, trace) = telemetry::rpc::client(target, method, opts.trace);
        let opts = CallOptions { trace, ..opts };
        let mut done: Callback = match span {
            None => Box::new(done),
            span => Box::new(move |r| {
                telemetry::rpc::end(span, &r);
                done(r)
            }),
        };
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
        let task = runtime::handle()
            .spawn(async move { done(peer.call_untraced(&target, &method, args, opts).await) });
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
        let (span, trace) = telemetry::rpc::client(target, method, opts.trace);
        let (target, method) = (target.to_string(), method.to_string());
        let r = on_runtime(async move { c.call(&target, &method, args, deadline, trace).await }).await;
        telemetry::rpc::end(span, &r);
        r
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
        let (span, trace) = telemetry::rpc::client(target, method, opts.trace);
        let done: Box<dyn FnOnce(std::result::Result<Bytes, WireError>) + Send> = match span {
            None => done,
            span => Box::new(move |r| {
                telemetry::rpc::end(span, &r);
                done(r)
            }),
        };
        match c.call_callback(target, method, args, deadline, trace.as_ref(), done, &home_runtime())? {
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
        let args = encode_args(args)?;
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
        let (span, trace) = telemetry::rpc::client(target, method, opts.trace);
        let opts = CallOptions { trace, ..opts };
        let inner = self.inner.clone();
        let target = target.to_string();
        let method = method.to_string();
        let r = on_runtime(async move { route_stream(&inner, &target, &method, args, opts).await }).await;
        match r {
            Ok(mut s) => {
                s.span = span;
                Ok(s)
            }
            Err(e) => {
                let r = Err(e);
                telemetry::rpc::end(span, &r);
                r
            }
        }
    }

    /// Typed [`Peer::call_stream_raw`].
    pub async fn call_stream<A: Serialize>(&self, target: &str, method: &str, args: &A) -> Result<RpcStream> {
        let mut args = encode(args)?;
        if args[..] == *NIL {
            args = Bytes::from_static(EMPTY_ARRAY);
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
