//! The parent's side: a private RPC endpoint its children connect back to, and the bookkeeping that
//! turns "a process was started" into "a child is ready" (connected, its services registered, and
//! its ready report received).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::child::ChildProcess;
use super::os::{self, OutputSink};
use super::spec::{
    ChildSpec, ENV_CHILD_ID, ENV_CHILD_INDEX, ENV_CHILD_NAME, ENV_PARENT, ENV_TOKEN, HOST_SERVICE,
};
use crate::error::{Error, ErrorCode, Result};
use crate::rpc::{ConnectionEvent, Peer, PeerOptions, Service};
use crate::transport::Address;

/// What a child reported when it became ready.
#[derive(Debug, Clone)]
pub(crate) struct Ready {
    pub(crate) conn: u64,
    pub(crate) services: Vec<String>,
    /// The public methods of each of `services`, in the same order.
    pub(crate) methods: Vec<Vec<String>>,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<u64>,
    services: Vec<String>,
    methods: Vec<Vec<String>>,
    ready: Option<oneshot::Sender<Ready>>,
    lost: CancellationToken,
}

struct HostInner {
    peer: Peer,
    token: String,
    slots: Mutex<HashMap<String, Slot>>,
    by_conn: Mutex<HashMap<u64, String>>,
    sink: RwLock<Option<OutputSink>>,
    seq: AtomicU64,
}

/// The endpoint children connect back to. Cheap to clone. Pools and supervisors started without one
/// share a process-wide host ([`ProcessHost::shared`]).
#[derive(Clone)]
pub struct ProcessHost {
    inner: Arc<HostInner>,
}

impl std::fmt::Debug for ProcessHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessHost").field("address", &self.inner.peer.address()).finish()
    }
}

/// A random token from the OS's generator, as hex.
pub(crate) fn random_token() -> String {
    let mut b = [0u8; 24];
    let mut filled = 0;
    while filled < b.len() {
        // SAFETY: getrandom writes at most `len` bytes into the buffer it is given.
        let n = unsafe { libc::getrandom(b[filled..].as_mut_ptr().cast(), b.len() - filled, 0) };
        if n <= 0 {
            // No getrandom: fall back to a seeded generator rather than fail to start.
            for x in &mut b[filled..] {
                *x = fastrand::u8(..);
            }
            break;
        }
        filled += n as usize;
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl ProcessHost {
    /// A host listening on a fresh socket in this user's private directory, with a random token.
    pub async fn start() -> Result<ProcessHost> {
        Self::start_with(PeerOptions::new("omnitron-supervisor")).await
    }

    /// A host on a peer with these options (its token is replaced by a random one unless set).
    pub async fn start_with(mut opts: PeerOptions) -> Result<ProcessHost> {
        let token = opts.token.clone().filter(|t| !t.is_empty()).unwrap_or_else(random_token);
        opts.token = Some(token.clone());
        let address = Address::private_local("host")?;
        let peer = Peer::listen(&address, opts).await?;
        let host = ProcessHost {
            inner: Arc::new(HostInner {
                peer: peer.clone(),
                token,
                slots: Mutex::new(HashMap::new()),
                by_conn: Mutex::new(HashMap::new()),
                sink: RwLock::new(None),
                seq: AtomicU64::new(1),
            }),
        };
        let weak = Arc::downgrade(&host.inner);
        peer.watch_connections(move |ev| {
            if let Some(inner) = weak.upgrade() {
                on_connection_event(&inner, ev);
            }
        });
        let weak = Arc::downgrade(&host.inner);
        let (name, version) = HOST_SERVICE.split_once('@').unwrap_or((HOST_SERVICE, "1.0.0"));
        let svc = Service::builder(name, version)?
            .method_ctx("ready", move |(id,): (String,), ctx| {
                let weak = weak.clone();
                async move {
                    let inner = weak
                        .upgrade()
                        .ok_or_else(|| Error::new(ErrorCode::NotRunning, "the host is gone"))?;
                    // The child says who it is; it must also be the peer that connected under that id.
                    if ctx.peer.name != id {
                        return Err(Error::new(
                            ErrorCode::InvalidArgument,
                            format!("'{}' reported ready for another child, '{id}'", ctx.peer.name),
                        ));
                    }
                    report_ready(&inner, &id)
                }
            })
            .build()?;
        peer.expose(svc).await?;
        Ok(host)
    }

    /// The process-wide host, started on first use.
    pub async fn shared() -> Result<ProcessHost> {
        static SHARED: tokio::sync::OnceCell<ProcessHost> = tokio::sync::OnceCell::const_new();
        let h = SHARED
            .get_or_try_init(|| async {
                // Started on the engine's runtime so it outlives whichever runtime asked first.
                crate::runtime::handle()
                    .spawn(ProcessHost::start())
                    .await
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?
            })
            .await?;
        Ok(h.clone())
    }

    /// The RPC peer children connect to: call their services through it, or expose services the
    /// children can call.
    pub fn peer(&self) -> &Peer {
        &self.inner.peer
    }

    /// The address children are given.
    pub fn address(&self) -> Option<Address> {
        self.inner.peer.address()
    }

    /// Sends every line children write to `sink` too (they always go to the logs).
    pub fn set_output_sink(&self, sink: Option<OutputSink>) {
        *self.inner.sink.write() = sink;
    }

    /// Starts `spec` as instance `index` and waits until it is ready (connected, registered and
    /// reported ready), at most its `ready_timeout`. A child that exits or times out first is killed
    /// and the error says why, with its last lines of stderr.
    pub async fn spawn(&self, spec: &ChildSpec, index: usize) -> Result<Arc<ChildProcess>> {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}:{index}:{seq}", spec.name);
        let (ready_tx, ready_rx) = oneshot::channel();
        let lost = CancellationToken::new();
        self.inner
            .slots
            .lock()
            .insert(id.clone(), Slot { ready: Some(ready_tx), lost: lost.clone(), ..Slot::default() });
        let address = self.address().map(|a| a.to_string()).unwrap_or_default();
        let mut env = spec.env.clone();
        env.push((ENV_PARENT.into(), address));
        env.push((ENV_TOKEN.into(), self.inner.token.clone()));
        env.push((ENV_CHILD_ID.into(), id.clone()));
        env.push((ENV_CHILD_NAME.into(), spec.name.clone()));
        env.push((ENV_CHILD_INDEX.into(), index.to_string()));
        let sink = self.inner.sink.read().clone();
        let started = tokio::time::Instant::now();
        let proc =
            match os::start(&spec.name, &spec.program, &spec.args, &env, spec.cwd.as_deref(), sink).await {
                Ok(p) => p,
                Err(e) => {
                    self.inner.slots.lock().remove(&id);
                    return Err(e);
                }
            };
        let pid = proc.pid;
        let not_ready = |why: String| {
            Error::new(ErrorCode::ChildNotReady, format!("child '{}' (pid {pid}) {why}", spec.name))
        };
        let outcome = tokio::select! {
            r = ready_rx => r.map_err(|_| not_ready("was dropped before it was ready".into())),
            exit = proc.wait() => Err(not_ready(format!("{exit} before it was ready{}", proc.stderr_tail_after_exit().await))),
            _ = tokio::time::sleep(spec.ready_timeout) => Err(not_ready(format!(
                "did not report ready within {} ms (does it connect to {ENV_PARENT} and report ready?){}",
                spec.ready_timeout.as_millis(),
                proc.stderr_tail()
            ))),
        };
        match outcome {
            Ok(ready) => {
                tracing::debug!(child = %id, pid, ms = started.elapsed().as_millis() as u64, "child ready");
                Ok(ChildProcess::new(self.clone(), spec, index, id, proc, ready, lost, started))
            }
            Err(e) => {
                proc.signal_group(libc::SIGKILL);
                let _ = proc.wait().await;
                self.forget(&id);
                Err(e)
            }
        }
    }

    pub(crate) fn forget(&self, id: &str) {
        if let Some(slot) = self.inner.slots.lock().remove(id)
            && let Some(c) = slot.conn
        {
            self.inner.by_conn.lock().remove(&c);
        }
    }

    /// Calls `method` on the child's connection.
    pub(crate) async fn call_on(
        &self,
        conn: u64,
        target: &str,
        method: &str,
        args: bytes::Bytes,
        opts: crate::rpc::CallOptions,
    ) -> std::result::Result<bytes::Bytes, crate::rpc::WireError> {
        self.inner.peer.call_raw_on(conn, target, method, args, opts).await
    }
}

fn on_connection_event(inner: &HostInner, ev: &ConnectionEvent) {
    match ev {
        ConnectionEvent::Connected { conn, peer } => {
            let mut slots = inner.slots.lock();
            if let Some(slot) = slots.get_mut(&peer.name) {
                slot.conn = Some(*conn);
                inner.by_conn.lock().insert(*conn, peer.name.clone());
            }
        }
        ConnectionEvent::Registered { conn, service, methods } => {
            let id = inner.by_conn.lock().get(conn).cloned();
            if let Some(id) = id
                && let Some(slot) = inner.slots.lock().get_mut(&id)
            {
                slot.services.push(service.clone());
                slot.methods.push(methods.clone());
            }
        }
        ConnectionEvent::Disconnected { conn, .. } => {
            let id = inner.by_conn.lock().remove(conn);
            if let Some(id) = id
                && let Some(slot) = inner.slots.lock().get_mut(&id)
            {
                slot.conn = None;
                slot.lost.cancel();
            }
        }
    }
}

fn report_ready(inner: &HostInner, id: &str) -> Result<bool> {
    let mut slots = inner.slots.lock();
    let Some(slot) = slots.get_mut(id) else {
        return Err(Error::new(ErrorCode::ChildNotFound, format!("no child '{id}' is starting here")));
    };
    let Some(conn) = slot.conn else {
        return Err(Error::new(ErrorCode::ChildNotFound, format!("child '{id}' is not connected")));
    };
    if let Some(tx) = slot.ready.take() {
        let _ = tx.send(Ready { conn, services: slot.services.clone(), methods: slot.methods.clone() });
    }
    Ok(true)
}
