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
        let workers = std::env::var("OMNITRON_ENGINE_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2));
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
        std::thread::scope(|s| {
            s.spawn(|| get().block_on(fut)).join().expect("omnitron: blocking task panicked")
        })
    } else {
        get().block_on(fut)
    }
}

/// Drives a future to completion on the calling thread without the shared runtime.
///
/// For engine work that never waits on I/O or timers (dependency injection, whose only awaits are
/// user hooks and the engine's own locks), this keeps a C caller's callbacks on the caller's thread
/// and starts no worker threads.
pub fn block_on_here<F: std::future::Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
