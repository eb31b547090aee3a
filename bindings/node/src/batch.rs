//! Handing queued items to JavaScript in one call, written into a buffer JavaScript owns and
//! reuses (`lib/batch.ts` reads it). Creating typed arrays over engine memory costs about 3 us each
//! on the development machine (an external buffer and its finalizer), more than the rest of a
//! call; writing into a buffer JavaScript already has costs nothing of the kind.
//!
//! Item layout, little-endian: kind u8, string count u8, id u32, aux u32, byte count u32, the bytes,
//! then each string as a u32 length and UTF-8.

use std::sync::atomic::{AtomicBool, Ordering};

use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use parking_lot::Mutex;

/// `()`: items are waiting; take them with `drain(buffer)`.
pub(crate) type WakeFn = napi::threadsafe_function::ThreadsafeFunction<(), (), (), napi::Status, false, true>;

const HEADER: usize = 14;

/// One item's parts, as written.
pub(crate) struct Parts<'a> {
    pub(crate) kind: u8,
    pub(crate) id: u32,
    pub(crate) aux: u32,
    pub(crate) bytes: &'a [u8],
    pub(crate) strings: [Option<&'a str>; 2],
}

impl Parts<'_> {
    fn size(&self) -> usize {
        HEADER + self.bytes.len() + self.strings.iter().flatten().map(|s| 4 + s.len()).sum::<usize>()
    }

    fn write(&self, out: &mut [u8]) {
        let n = self.strings.iter().flatten().count() as u8;
        out[0] = self.kind;
        out[1] = n;
        out[2..6].copy_from_slice(&self.id.to_le_bytes());
        out[6..10].copy_from_slice(&self.aux.to_le_bytes());
        out[10..14].copy_from_slice(&(self.bytes.len() as u32).to_le_bytes());
        let mut at = HEADER;
        out[at..at + self.bytes.len()].copy_from_slice(self.bytes);
        at += self.bytes.len();
        for s in self.strings.iter().flatten() {
            out[at..at + 4].copy_from_slice(&(s.len() as u32).to_le_bytes());
            out[at + 4..at + 4 + s.len()].copy_from_slice(s.as_bytes());
            at += 4 + s.len();
        }
    }
}

/// Items waiting for JavaScript, and the one wake-up pending for them.
pub(crate) struct Queue<T> {
    items: Mutex<Vec<T>>,
    scheduled: AtomicBool,
    wake: WakeFn,
}

impl<T> Queue<T> {
    pub(crate) fn new(wake: WakeFn) -> Queue<T> {
        Queue { items: Mutex::new(Vec::new()), scheduled: AtomicBool::new(false), wake }
    }

    /// Queues an item; the first one after a drain wakes JavaScript.
    pub(crate) fn push(&self, item: T) {
        self.items.lock().push(item);
        self.schedule();
    }

    fn schedule(&self) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Writes as many queued items as fit into `out`; returns the bytes written, or, when the first
    /// item alone does not fit, minus the size it needs (nothing is taken then). Items that did not
    /// fit stay queued, with another wake-up scheduled for them.
    pub(crate) fn drain_into(&self, out: &mut [u8], parts: impl Fn(&T) -> Parts<'_>) -> i64 {
        // Cleared first: whatever is pushed from now on schedules another wake-up.
        self.scheduled.store(false, Ordering::Release);
        let items = std::mem::take(&mut *self.items.lock());
        let mut at = 0;
        let mut taken = 0;
        for item in &items {
            let p = parts(item);
            let size = p.size();
            if at + size > out.len() {
                break;
            }
            p.write(&mut out[at..at + size]);
            at += size;
            taken += 1;
        }
        if taken == items.len() {
            return at as i64;
        }
        let need = if taken == 0 { Some(parts(&items[0]).size()) } else { None };
        let mut rest: Vec<T> = items.into_iter().skip(taken).collect();
        {
            let mut q = self.items.lock();
            rest.append(&mut q);
            *q = rest;
        }
        match need {
            // JavaScript grows its buffer and asks again at once.
            Some(n) => -(n as i64),
            None => {
                self.schedule();
                at as i64
            }
        }
    }
}
