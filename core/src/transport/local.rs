//! Local sockets: Unix domain sockets through `interprocess`, kept in a directory only their owner
//! can enter.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::tokio::{Listener as IpListener, Stream};
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::io_error;
use crate::error::{Error, ErrorCode, Result};

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// `$XDG_RUNTIME_DIR/omnitron` or `/tmp/omnitron-<uid>`, created 0700 and checked.
pub(crate) fn private_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("omnitron"),
        _ => std::env::temp_dir().join(format!("omnitron-{}", uid())),
    };
    ensure_private(&dir)?;
    Ok(dir)
}

/// Creates `dir` with mode 0700 if missing; refuses one that other users can enter or that is not
/// ours.
fn ensure_private(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error(&format!("cannot create the socket directory {}", dir.display()), e))?;
    }
    let meta = std::fs::metadata(dir)
        .map_err(|e| io_error(&format!("cannot read the socket directory {}", dir.display()), e))?;
    let insecure = |why: String| {
        Err(Error::new(
            ErrorCode::InvalidService,
            format!(
                "the socket directory {} {why}: Omnitron keeps its sockets in a directory only their owner can enter (mode 0700); use another path, or a directory that does not exist yet (it is created private)",
                dir.display()
            ),
        ))
    };
    if !meta.is_dir() {
        return insecure("is not a directory".into());
    }
    if meta.uid() != uid() {
        return insecure(format!("belongs to another user (uid {})", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return insecure(format!("is open to other users (mode {:o})", meta.mode() & 0o777));
    }
    Ok(())
}

#[derive(Debug)]
pub(super) struct LocalListener {
    listener: IpListener,
    path: PathBuf,
    /// The socket file's inode, so that dropping removes only our own file (not a successor's).
    ino: u64,
}

impl LocalListener {
    pub(super) fn bind(path: &Path) -> Result<LocalListener> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).ok_or_else(|| {
            Error::new(ErrorCode::InvalidService, format!("socket path {} has no directory", path.display()))
        })?;
        ensure_private(dir)?;
        let name = path
            .to_fs_name::<GenericFilePath>()
            .map_err(|e| io_error(&format!("invalid socket path {}", path.display()), e))?;
        let listener = ListenerOptions::new()
            .name(name)
            .try_overwrite(true)
            .create_tokio()
            .map_err(|e| io_error(&format!("cannot listen on {}", path.display()), e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error(&format!("cannot restrict {}", path.display()), e))?;
        let ino = std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0);
        Ok(LocalListener { listener, path: path.to_path_buf(), ino })
    }

    pub(super) async fn accept(&self) -> Result<super::Stream> {
        let s = self.listener.accept().await.map_err(|e| io_error("accept", e))?;
        Ok(split(s))
    }
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `&Stream` reads and writes, so both halves share one stream (closed when both are dropped).
fn split(s: Stream) -> super::Stream {
    let fd = match &s {
        Stream::UdSocket(u) => u.as_fd().as_raw_fd(),
    };
    let s = Arc::new(s);
    super::Stream { read: Box::pin(Half(s.clone())), write: Box::pin(Half(s)), fd }
}

struct Half(Arc<Stream>);

impl AsyncRead for Half {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut s: &Stream = &self.0;
        Pin::new(&mut s).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let mut s: &Stream = &self.0;
        Pin::new(&mut s).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut s: &Stream = &self.0;
        Pin::new(&mut s).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut s: &Stream = &self.0;
        Pin::new(&mut s).poll_shutdown(cx)
    }
}

pub(super) async fn connect(path: &Path) -> Result<super::Stream> {
    let name = path
        .to_fs_name::<GenericFilePath>()
        .map_err(|e| io_error(&format!("invalid socket path {}", path.display()), e))?;
    let s = Stream::connect(name)
        .await
        .map_err(|e| io_error(&format!("cannot connect to unix:{}", path.display()), e))?;
    Ok(split(s))
}
