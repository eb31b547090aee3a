//! Lock-free `f64` cells: the storage of every metric value.

use std::sync::atomic::{AtomicU64, Ordering};

/// An `f64` in an `AtomicU64` (its bits).
#[derive(Debug, Default)]
#[repr(transparent)]
pub(crate) struct AtomicF64(AtomicU64);

impl AtomicF64 {
    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn add(&self, v: f64) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + v).to_bits();
            match self.0.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }
}

/// A block of cells with a stable address, shareable with a binding that writes into it from its
/// own thread (see [`super::Shard`]).
#[derive(Debug)]
pub(crate) struct Cells(Box<[AtomicF64]>);

impl Cells {
    pub(crate) fn new(n: usize) -> Self {
        Cells((0..n).map(|_| AtomicF64::default()).collect())
    }

    pub(crate) fn get(&self, i: usize) -> f64 {
        self.0[i].get()
    }

    pub(crate) fn cell(&self, i: usize) -> &AtomicF64 {
        &self.0[i]
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn as_mut_ptr(&self) -> *mut f64 {
        // AtomicF64 is a transparent AtomicU64, which has the size and alignment of f64.
        self.0.as_ptr() as *mut f64
    }
}
