//! The control socket of a running `omnitron start`: `omnitron ps`, `stop` and `restart` reach the
//! running supervisor through it. It lives in the user's private socket directory, named after the
//! application, with a token file beside it (mode 0600) that only the same user can read.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Notify;

use super::supervisor::{ChildInfo, Supervisor};
use crate::error::{Error, ErrorCode, Result};
use crate::rpc::{Peer, PeerOptions, Service};
use crate::transport::Address;

/// The control service's id.
pub const CONTROL_SERVICE: &str = "omnitron.control@1.0.0";

/// What `ps` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// The application's name.
    pub app: String,
    /// The supervisor's process id.
    pub pid: u32,
    /// Its children.
    pub children: Vec<ChildStatus>,
    /// The status page's address, when it serves one.
    #[serde(default)]
    pub status_page: Option<String>,
}

/// One child in a [`Status`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChildStatus {
    /// Name.
    pub name: String,
    /// Instance index.
    pub index: usize,
    /// Process id, while running.
    pub pid: Option<u32>,
    /// `running`, `restarting`, ...
    pub state: String,
    /// Restarts so far.
    pub restarts: u32,
    /// How it last ended.
    pub last_exit: Option<String>,
}

impl From<ChildInfo> for ChildStatus {
    fn from(c: ChildInfo) -> Self {
        let state =
            serde_json::to_value(c.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        ChildStatus {
            name: c.name,
            index: c.index,
            pid: c.pid,
            state,
            restarts: c.restarts,
            last_exit: c.last_exit,
        }
    }
}

fn paths(app: &str) -> Result<(PathBuf, PathBuf)> {
    let safe: String = app
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let dir = crate::transport::private_dir()?;
    Ok((dir.join(format!("ctl-{safe}.sock")), dir.join(format!("ctl-{safe}.token"))))
}

/// A running control endpoint; dropping it does not stop it, [`ControlServer::close`] does.
#[derive(Debug)]
pub struct ControlServer {
    peer: Peer,
    stop: Arc<Notify>,
    token_file: PathBuf,
    page: Arc<parking_lot::Mutex<Option<String>>>,
}

impl ControlServer {
    /// Serves `sup`'s control socket for `app`. Refuses if another `omnitron start` of the same
    /// application is answering there.
    pub async fn start(app: &str, sup: Supervisor) -> Result<ControlServer> {
        let (sock, token_file) = paths(app)?;
        if control_client(app).await.is_ok() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "application '{app}' is already running (its control socket {} answers)",
                    sock.display()
                ),
            ));
        }
        let token = super::host::random_token();
        write_private(&token_file, &token)?;
        let address = Address::Local(sock);
        let peer = Peer::listen(&address, PeerOptions::new(format!("omnitron-{app}")).token(token)).await?;
        let stop = Arc::new(Notify::new());
        let (name, version) = CONTROL_SERVICE.split_once('@').unwrap_or((CONTROL_SERVICE, "1.0.0"));
        let (s1, s2, app1) = (sup.clone(), sup, app.to_string());
        let st = stop.clone();
        let page = Arc::new(parking_lot::Mutex::new(None::<String>));
        let page1 = page.clone();
        let svc = Service::builder(name, version)?
            .method("ps", move |()| {
                let (s, app, status_page) = (s1.clone(), app1.clone(), page1.lock().clone());
                async move {
                    let children = s.children().await.into_iter().map(ChildStatus::from).collect();
                    Ok(Status { app, pid: std::process::id(), children, status_page })
                }
            })
            .method("stop", move |()| {
                let st = st.clone();
                async move {
                    st.notify_one();
                    Ok(true)
                }
            })
            .method("restart", move |(child,): (String,)| {
                let s = s2.clone();
                async move { s.restart_child(&child).await.map(|()| true) }
            })
            .build()?;
        peer.expose(svc).await?;
        Ok(ControlServer { peer, stop, token_file, page })
    }

    /// Says where the status page is, for `omnitron ps`.
    pub fn set_status_page(&self, url: Option<String>) {
        *self.page.lock() = url;
    }

    /// Resolves when a client asks this application to stop.
    pub async fn stop_requested(&self) {
        self.stop.notified().await;
    }

    /// Stops serving and removes the token file.
    pub async fn close(self) {
        self.peer.shutdown().await;
        let _ = std::fs::remove_file(&self.token_file);
    }
}

fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot write {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot write {}: {e}", path.display())))
}

/// Connects to the control socket of running application `app`.
pub async fn control_client(app: &str) -> Result<Peer> {
    let (sock, token_file) = paths(app)?;
    let token = std::fs::read_to_string(&token_file).map_err(|_| {
        Error::new(
            ErrorCode::NotConnected,
            format!("application '{app}' is not running (no {})", token_file.display()),
        )
    })?;
    let mut opts = PeerOptions::new("omnitron-cli").token(token.trim().to_string());
    opts.default_deadline = std::time::Duration::from_secs(30);
    Peer::connect(&Address::Local(sock), opts).await.map_err(|e| {
        Error::new(
            ErrorCode::NotConnected,
            format!("application '{app}' is not running or does not answer: {}", e.message()),
        )
    })
}
