//! Detects a container calling into itself in a way that would wait for itself: a factory or hook
//! resolving what is being built, a hook calling `initialize()` or `dispose()` of its own container.
//! Those calls get an error instead of a deadlock or a stack overflow.
//!
//! Marks live on the current thread while the operation runs; async operations are wrapped in
//! [`Marked`], which sets the mark while the operation is being polled, so anything it calls (hooks,
//! nested resolves) sees it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::spec::ProviderId;

/// What is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Build(ProviderId),
    Initialize,
    Dispose,
}

thread_local! {
    static ACTIVE: RefCell<Vec<(usize, Op)>> = const { RefCell::new(Vec::new()) };
}

/// Whether `op` of `owner` is in progress on this thread.
pub(crate) fn is_active(owner: usize, op: Op) -> bool {
    ACTIVE.with(|a| a.borrow().contains(&(owner, op)))
}

/// The providers of `owner` being built on this thread, outermost first.
pub(crate) fn builds(owner: usize) -> Vec<ProviderId> {
    ACTIVE.with(|a| {
        a.borrow()
            .iter()
            .filter_map(|(o, op)| match op {
                Op::Build(id) if *o == owner => Some(*id),
                _ => None,
            })
            .collect()
    })
}

/// Marks `op` in progress until dropped.
pub(crate) struct Mark;

impl Mark {
    pub(crate) fn new(owner: usize, op: Op) -> Mark {
        ACTIVE.with(|a| a.borrow_mut().push((owner, op)));
        Mark
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        ACTIVE.with(|a| {
            a.borrow_mut().pop();
        });
    }
}

/// A future that holds a mark while it is polled.
pub(crate) struct Marked<'a, T> {
    fut: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
    owner: usize,
    op: Op,
}

impl<'a, T> Marked<'a, T> {
    pub(crate) fn new(owner: usize, op: Op, fut: impl Future<Output = T> + Send + 'a) -> Self {
        Marked { fut: Box::pin(fut), owner, op }
    }
}

impl<T> Future for Marked<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let _mark = Mark::new(self.owner, self.op);
        self.fut.as_mut().poll(cx)
    }
}
