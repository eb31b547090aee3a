//! The child's side: connect back to the parent named in the environment, host services, report
//! ready, and stop cleanly on SIGTERM. Every language's worker entry point does these same steps
//! (the bindings call into this module).

use std::time::Duration;

use super::spec::{ENV_CHILD_ID, ENV_CHILD_INDEX, ENV_CHILD_NAME, ENV_PARENT, ENV_TOKEN, HOST_SERVICE};
use crate::error::{Error, ErrorCode, Result};
use crate::rpc::{CallOptions, Peer, PeerOptions, Service};
use crate::transport::Address;

/// What a parent told its child through the environment.
#[derive(Debug, Clone)]
pub struct ParentLink {
    /// Where the parent listens.
    pub address: Address,
    /// The token to present.
    pub token: String,
    /// This child's id (it connects under this name).
    pub child_id: String,
    /// This child's configured name.
    pub name: String,
    /// Its instance index.
    pub index: usize,
}

impl ParentLink {
    /// Reads the link from the environment; `None` when this process was not started by an
    /// Omnitron parent.
    pub fn from_env() -> Option<ParentLink> {
        let address = std::env::var(ENV_PARENT).ok()?.parse().ok()?;
        let child_id = std::env::var(ENV_CHILD_ID).ok()?;
        Some(ParentLink {
            address,
            token: std::env::var(ENV_TOKEN).unwrap_or_default(),
            name: std::env::var(ENV_CHILD_NAME).unwrap_or_else(|_| child_id.clone()),
            index: std::env::var(ENV_CHILD_INDEX).ok().and_then(|s| s.parse().ok()).unwrap_or(0),
            child_id,
        })
    }

    /// [`ParentLink::from_env`], or an error that says how a worker is meant to be started.
    pub fn require() -> Result<ParentLink> {
        Self::from_env().ok_or_else(|| {
            Error::new(
                ErrorCode::NoParent,
                format!(
                    "this worker has no parent: {ENV_PARENT} and {ENV_CHILD_ID} are not set (start it from a pool, a supervisor or `omnitron start`)"
                ),
            )
        })
    }

    /// Connects to the parent as a peer speaking for `lang`.
    pub async fn connect(&self, lang: &str) -> Result<Peer> {
        let mut opts = PeerOptions::new(self.child_id.clone()).token(self.token.clone());
        opts.lang = lang.to_string();
        Peer::connect(&self.address, opts).await
    }
}

/// Tells the parent this child is ready: call after exposing every service.
pub async fn report_ready(peer: &Peer) -> Result<()> {
    let id = peer.info().name.clone();
    let opts = CallOptions { deadline: Some(Duration::from_secs(10)), trace: None };
    peer.call_with::<(String,), bool>(HOST_SERVICE, "ready", &(id,), opts).await.map(|_| ())
}

/// Runs this process as a worker: connects to its parent, exposes `services`, reports ready, and
/// serves until SIGTERM or SIGINT (then it stops). The one-line Rust child.
pub async fn serve(services: Vec<Service>) -> Result<()> {
    let link = ParentLink::require()?;
    let peer = link.connect("rust").await?;
    for s in services {
        peer.expose(s).await?;
    }
    report_ready(&peer).await?;
    wait_for_stop_signal().await;
    peer.shutdown().await;
    Ok(())
}

/// Waits for SIGTERM or SIGINT.
pub async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        // No signal handling here: serve until the parent kills us.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
