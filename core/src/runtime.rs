//! The process's one tokio runtime, created on first use.
//!
//! Every door (C, Node, Python) spawns onto this runtime rather than starting its own. A forked child
//! must not use the parent's runtime (tokio does not survive `fork()`): the process module execs
//! children instead of forking and continuing.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared runtime, built on first call with as many worker threads as CPUs (at least 2).
pub fn get() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2);
        Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("omnitron-worker")
            .enable_all()
            .build()
            .expect("omnitron: cannot start the tokio runtime")
    })
}

/// A handle to the shared runtime.
pub fn handle() -> Handle {
    get().handle().clone()
}

/// Runs a future to completion from synchronous code (C, or a binding's blocking call).
///
/// When the caller is already on a runtime thread this moves the work to a helper thread rather than
/// panicking, so a blocking C call made from inside an engine callback cannot abort the process.
pub fn block_on<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(|| get().block_on(fut)).join().expect("omnitron: blocking task panicked"))
    } else {
        get().block_on(fut)
    }
}
