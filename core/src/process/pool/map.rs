//! `Pool::map`: a method run once per item, the results in the items' order.
//!
//! To workers that take batches (their service registers `$batch`: the Python and Node workers)
//! the items go in chunks, one request per chunk (`process/batch.rs` has the wire form), so a map
//! of many small items costs a few messages instead of one per item. The chunk size is
//! multiprocessing's (`len / (workers * 4)`, rounded up) unless the caller gives one. Each chunk is
//! one pool task: it queues, times out and is retried on another worker when its worker dies, as a
//! task does; each item still gets its own result or error. Workers that do not take batches (C,
//! Rust, any other program) get one call per item. Either way at most `max * concurrency` calls
//! are in flight (chunks: two per worker), each answer sending the next.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Pool;
use crate::error::{Error, ErrorCode, Result};
use crate::process::batch::{self, BATCH_METHOD};
use crate::rpc::{WireError, check_args, decode, encode};

type ItemResult = std::result::Result<Bytes, WireError>;
type MapDone = Box<dyn FnOnce(Vec<ItemResult>) + Send>;

/// How a map sends its items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapOptions {
    /// Items per request to a worker that takes batches (default: multiprocessing's choice, the
    /// items spread over four chunks per worker; 1 sends one call per item).
    pub chunksize: Option<usize>,
}

impl Pool {
    /// [`Pool::map_raw`] reporting to `done` instead of being awaited. `done` gets the results in
    /// the items' order; it runs exactly once, on an engine thread or the caller's.
    pub fn map_raw_with(
        &self,
        method: &str,
        items: Vec<Bytes>,
        done: impl FnOnce(Vec<ItemResult>) + Send + 'static,
    ) {
        match check(&items, MapOptions::default()) {
            Ok(()) => self.start_map(method, items, MapOptions::default(), Box::new(done)),
            Err(e) => {
                // Refused before anything was sent: every item gets the reason.
                let err = WireError::from_error(&e);
                done(items.iter().map(|_| Err(err.clone())).collect())
            }
        }
    }

    /// Runs `method` once per item (each item is its arguments array), in chunks where the
    /// workers take them (see the module's documentation); `done` gets each item's own result,
    /// errors included, in the items' order. Refused (E001, and `done` is not called) when
    /// `chunksize` is 0 or an item is not an array.
    pub fn map_raw_with_options(
        &self,
        method: &str,
        items: Vec<Bytes>,
        opts: MapOptions,
        done: impl FnOnce(Vec<ItemResult>) + Send + 'static,
    ) -> Result<()> {
        check(&items, opts)?;
        self.start_map(method, items, opts, Box::new(done));
        Ok(())
    }

    fn start_map(&self, method: &str, items: Vec<Bytes>, opts: MapOptions, done: MapDone) {
        let n = items.len();
        if n == 0 {
            return done(Vec::new());
        }
        let (batches, workers) = {
            let s = self.inner.state.lock();
            (s.workers.is_empty() || s.workers.iter().any(|w| w.batch), s.target.max(1))
        };
        let chunksize =
            if batches { opts.chunksize.unwrap_or_else(|| batch::auto_chunksize(n, workers)) } else { 1 };
        let (units, window): (VecDeque<Range<usize>>, usize) = if chunksize > 1 {
            // Two chunks per worker: one running, the next already there when it ends.
            (batch::chunks(&items, chunksize).into(), self.inner.max.max(1) * 2)
        } else {
            ((0..n).map(|i| i..i + 1).collect(), self.inner.max.max(1) * self.inner.opts.concurrency)
        };
        let window = window.min(units.len());
        let st = Arc::new(MapState {
            pool: self.clone(),
            method: method.to_string(),
            items,
            units: Mutex::new(units),
            results: Mutex::new((0..n).map(|_| None).collect()),
            remaining: AtomicUsize::new(n),
            done: Mutex::new(Some(done)),
        });
        for _ in 0..window {
            MapState::feed(&st);
        }
    }

    /// Runs `method` once per item (each item is its arguments array), spread over the workers;
    /// each item's own result, errors included, in the items' order.
    pub async fn map_raw(&self, method: &str, items: Vec<Bytes>) -> Vec<ItemResult> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.map_raw_with(method, items, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or_default()
    }

    /// [`Pool::map_raw`] typed: each item is passed as the single argument; the first error (in
    /// the items' order) fails it.
    pub async fn map<A: Serialize, R: DeserializeOwned>(&self, method: &str, items: &[A]) -> Result<Vec<R>> {
        self.map_with(method, items, MapOptions::default()).await
    }

    /// [`Pool::map`] with options (the chunk size).
    pub async fn map_with<A: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        items: &[A],
        opts: MapOptions,
    ) -> Result<Vec<R>> {
        let args = items.iter().map(|a| encode(&(a,))).collect::<Result<Vec<_>>>()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.map_raw_with_options(method, args, opts, move |r| {
            let _ = tx.send(r);
        })?;
        rx.await
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.map_err(|e| e.to_error()).and_then(|b| decode(&b)))
            .collect()
    }
}

fn check(items: &[Bytes], opts: MapOptions) -> Result<()> {
    if opts.chunksize == Some(0) {
        return Err(Error::invalid_argument("map: chunksize must be at least 1"));
    }
    match items.iter().position(|a| check_args(a).is_err()) {
        Some(i) => Err(Error::invalid_argument(format!(
            "map: the arguments of item {i} are not an array (each item is a call's arguments)"
        ))),
        None => Ok(()),
    }
}

/// A map in progress: what is left to send (ranges of items: a chunk, or one item), the results so
/// far.
struct MapState {
    pool: Pool,
    method: String,
    items: Vec<Bytes>,
    units: Mutex<VecDeque<Range<usize>>>,
    results: Mutex<Vec<Option<ItemResult>>>,
    remaining: AtomicUsize,
    done: Mutex<Option<MapDone>>,
}

thread_local! {
    /// How deep answers that arrived at once (inline) have nested `feed` on this thread.
    static FEED_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl MapState {
    /// Sends the next chunk or item, if any; its answer records the results and sends the next.
    fn feed(st: &Arc<MapState>) {
        let Some(unit) = st.units.lock().pop_front() else { return };
        let next = st.clone();
        if unit.len() == 1 {
            let i = unit.start;
            st.pool.exec_raw_with(&st.method, st.items[i].clone(), move |r| next.finished(unit, vec![r]));
            return;
        }
        let args = batch::request(&st.method, &st.items[unit.clone()]);
        st.pool.exec_raw_with(BATCH_METHOD, args, move |r| match r {
            Ok(answer) => {
                let results = batch::split(&answer, unit.len()).unwrap_or_else(|e| {
                    let e = WireError::from_error(&e);
                    unit.clone().map(|_| Err(e.clone())).collect()
                });
                next.finished(unit, results);
            }
            // The worker has no `$batch` after all (its program changed since the map began,
            // or no worker was ready to tell): its items go one by one.
            Err(e) if e.code == ErrorCode::MethodNotFound.as_str() => {
                next.units.lock().extend(unit.map(|i| i..i + 1));
                next.continue_feeding();
            }
            Err(e) => {
                let results = unit.clone().map(|_| Err(e.clone())).collect();
                next.finished(unit, results);
            }
        });
    }

    /// The items of `unit` are answered: record them, and finish the map or send what is next.
    fn finished(self: Arc<Self>, unit: Range<usize>, results: Vec<ItemResult>) {
        let n = unit.len();
        {
            let mut all = self.results.lock();
            for (i, r) in unit.zip(results) {
                all[i] = Some(r);
            }
        }
        if self.remaining.fetch_sub(n, Ordering::AcqRel) == n {
            let results = std::mem::take(&mut *self.results.lock());
            let out = results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        Err(WireError::from_error(&Error::new(ErrorCode::Internal, "task lost")))
                    })
                })
                .collect();
            if let Some(done) = self.done.lock().take() {
                done(out);
            }
            return;
        }
        self.continue_feeding();
    }

    fn continue_feeding(self: Arc<Self>) {
        // An answer given at once (an error before sending) would recurse once per item: past a
        // few levels, continue on the runtime instead.
        let depth = FEED_DEPTH.with(|d| d.get());
        if depth > 16 {
            crate::runtime::handle().spawn(async move { MapState::feed(&self) });
        } else {
            FEED_DEPTH.with(|d| d.set(depth + 1));
            MapState::feed(&self);
            FEED_DEPTH.with(|d| d.set(depth));
        }
    }
}
