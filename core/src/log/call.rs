//! The call a record is written in: a handler's records name its service and method without being
//! told. An async (Rust) handler's call follows its task; a blocking one's (C's) its thread. Node
//! and Python pass theirs, known on their side.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A hosted method's names, made once when its service is built.
#[derive(Debug)]
pub struct CallName {
    pub(crate) service: Box<str>,
    pub(crate) method: Box<str>,
}

impl CallName {
    /// The names of `service`'s `method`.
    pub fn new(service: &str, method: &str) -> Arc<CallName> {
        Arc::new(CallName { service: service.into(), method: method.into() })
    }
}

tokio::task_local! {
    static CALL: Arc<CallName>;
}

/// Runs a handler's future with `call` as the call its records name.
pub(crate) fn in_call<F: Future + Send + 'static>(
    call: Arc<CallName>,
    f: F,
) -> Pin<Box<dyn Future<Output = F::Output> + Send>> {
    Box::pin(CALL.scope(call, f))
}

thread_local! {
    static THREAD: std::cell::RefCell<Option<Arc<CallName>>> = const { std::cell::RefCell::new(None) };
}

/// Runs a blocking handler with `call` as the call its thread's records name.
pub fn with_call<R>(call: &Arc<CallName>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<CallName>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            THREAD.with(|t| *t.borrow_mut() = prev);
        }
    }
    let _restore = Restore(THREAD.with(|t| t.borrow_mut().replace(call.clone())));
    f()
}

/// The call being served by this task, else by this thread, if any.
pub(super) fn current() -> Option<Arc<CallName>> {
    CALL.try_with(Arc::clone).ok().or_else(|| THREAD.with(|t| t.borrow().clone()))
}
