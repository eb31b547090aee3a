//! `Pool::map`: a method run once per item, the results in the items' order.
//!
//! To workers that take batches (their service registers `$batch`: the Python and Node workers)
//! the items go in chunks, one request per chunk (`process/batch.rs` has the wire form), so a map
//! of many small items costs a few messages instead of one per item. The chunk size is
//! multiprocessing's (`len / (workers * 4)`, rounded up) unless the caller gives one. Each chunk is
//! one pool task: it queues, times out and is retried on another worker when its worker dies, as a
//! task does; each item still gets its own result or error. Workers that do not take batches (C,
//! Rust, any other program) get one call per item. Either way at most `max * concurrency` calls
//! are in flight (chunks: four per worker), each answer sending the next.
//!
//! The results come back as [`MapResults`]: each chunk's values as the worker encoded them, one
//! after the other, so a binding decodes a chunk in one pass (no buffer per item).

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
use crate::rpc::{NIL, Reader, WireError, check_args, decode, encode};

type ItemResult = std::result::Result<Bytes, WireError>;
type MapDone = Box<dyn FnOnce(MapResults) + Send>;
type OnPart = Box<dyn Fn(&MapPart) + Send + Sync>;

/// How a map sends its items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapOptions {
    /// Items per request to a worker that takes batches (default: multiprocessing's choice, the
    /// items spread over four chunks per worker; 1 sends one call per item).
    pub chunksize: Option<usize>,
}

/// A map's items: what each call gets as its arguments.
#[derive(Debug, Clone)]
pub enum MapItems {
    /// Each item's arguments, a MessagePack array.
    Args(Vec<Bytes>),
    /// Each item is one argument: their encodings one after the other in `values`, item `i`'s
    /// ending at `ends[i]` (what a binding writes into one buffer, with no buffer per item).
    Values {
        /// The encodings.
        values: Bytes,
        /// Where each one ends.
        ends: Vec<usize>,
    },
}

impl From<Vec<Bytes>> for MapItems {
    fn from(args: Vec<Bytes>) -> MapItems {
        MapItems::Args(args)
    }
}

impl MapItems {
    /// How many.
    pub fn len(&self) -> usize {
        match self {
            MapItems::Args(a) => a.len(),
            MapItems::Values { ends, .. } => ends.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bounds(ends: &[usize], i: usize) -> Range<usize> {
        (if i == 0 { 0 } else { ends[i - 1] })..ends[i]
    }

    /// The encoded size of item `i`'s arguments.
    pub(crate) fn size(&self, i: usize) -> usize {
        match self {
            MapItems::Args(a) => a[i].len(),
            MapItems::Values { ends, .. } => Self::bounds(ends, i).len() + 1,
        }
    }

    /// Item `i`'s arguments array (a call of its own).
    fn args(&self, i: usize) -> Bytes {
        match self {
            MapItems::Args(a) => a[i].clone(),
            MapItems::Values { values, ends } => {
                let v = &values[Self::bounds(ends, i)];
                let mut out = Vec::with_capacity(v.len() + 1);
                out.push(0x91);
                out.extend_from_slice(v);
                Bytes::from(out)
            }
        }
    }

    fn check(&self) -> Result<()> {
        match self {
            MapItems::Args(a) => match a.iter().position(|a| check_args(a).is_err()) {
                Some(i) => Err(Error::invalid_argument(format!(
                    "map: the arguments of item {i} are not an array (each item is a call's arguments)"
                ))),
                None => Ok(()),
            },
            MapItems::Values { values, ends } => {
                let mut at = 0;
                for (i, end) in ends.iter().enumerate() {
                    if *end <= at || *end > values.len() {
                        return Err(Error::invalid_argument(format!(
                            "map: item {i} ends at {end}, not after {at} and within the {} bytes",
                            values.len()
                        )));
                    }
                    at = *end;
                }
                if at != values.len() {
                    return Err(Error::invalid_argument("map: bytes after the last item"));
                }
                Ok(())
            }
        }
    }
}

/// The answers to consecutive items of a map: a chunk's, or one item's.
#[derive(Debug, Clone)]
pub struct MapPart {
    /// The index of its first item.
    pub first: usize,
    /// How many items.
    pub len: usize,
    /// Their values' MessagePack encodings one after the other (no array header), nil for an item
    /// that failed.
    pub values: Bytes,
    /// The items that failed: index within the map, error; in the items' order.
    pub errors: Vec<(usize, WireError)>,
}

/// Every item's answer, in the items' order, as parts (see [`MapPart`]).
#[derive(Debug, Clone, Default)]
pub struct MapResults {
    len: usize,
    parts: Vec<MapPart>,
}

impl MapResults {
    /// The number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there were no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The parts, in the items' order, covering every item once.
    pub fn parts(&self) -> &[MapPart] {
        &self.parts
    }

    /// The first item (in the items' order) that failed, and its error.
    pub fn first_error(&self) -> Option<(usize, &WireError)> {
        self.parts.iter().find_map(|p| p.errors.first().map(|(i, e)| (*i, e)))
    }

    /// Each item's value (a slice of its part) or error, in order.
    pub fn iter(&self) -> impl Iterator<Item = std::result::Result<Bytes, &WireError>> + '_ {
        self.parts.iter().flat_map(|p| {
            let mut r = Reader::new(p.values.clone());
            let mut errors = p.errors.iter().peekable();
            (p.first..p.first + p.len).map(move |i| {
                let v = r.raw().unwrap_or_else(|_| Bytes::from_static(NIL));
                match errors.next_if(|(at, _)| *at == i) {
                    Some((_, e)) => Err(e),
                    None => Ok(v),
                }
            })
        })
    }

    /// Each item's own result, in order.
    pub fn into_vec(self) -> Vec<ItemResult> {
        self.iter().map(|r| r.map_err(Clone::clone)).collect()
    }
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
        let items = MapItems::Args(items);
        match check(&items, MapOptions::default()) {
            Ok(()) => self.start_map(
                method,
                items,
                MapOptions::default(),
                None,
                Box::new(move |r| done(r.into_vec())),
            ),
            Err(e) => {
                // Refused before anything was sent: every item gets the reason.
                let err = WireError::from_error(&e);
                done((0..items.len()).map(|_| Err(err.clone())).collect())
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
        items: impl Into<MapItems>,
        opts: MapOptions,
        done: impl FnOnce(MapResults) + Send + 'static,
    ) -> Result<()> {
        let items = items.into();
        check(&items, opts)?;
        self.start_map(method, items, opts, None, Box::new(done));
        Ok(())
    }

    /// [`Pool::map_raw_with_options`] that also hands each part to `on_part` as it is answered
    /// (on the thread that read it), before `done` gets them all: a binding can decode the parts
    /// while the workers are still busy with the others.
    pub fn map_raw_with_parts(
        &self,
        method: &str,
        items: impl Into<MapItems>,
        opts: MapOptions,
        on_part: impl Fn(&MapPart) + Send + Sync + 'static,
        done: impl FnOnce(MapResults) + Send + 'static,
    ) -> Result<()> {
        let items = items.into();
        check(&items, opts)?;
        self.start_map(method, items, opts, Some(Box::new(on_part)), Box::new(done));
        Ok(())
    }

    fn start_map(
        &self,
        method: &str,
        items: MapItems,
        opts: MapOptions,
        on_part: Option<OnPart>,
        done: MapDone,
    ) {
        let n = items.len();
        if n == 0 {
            return done(MapResults::default());
        }
        let (batches, workers) = {
            let s = self.inner.state.lock();
            (s.workers.is_empty() || s.workers.iter().any(|w| w.batch), s.target.max(1))
        };
        let chunksize =
            if batches { opts.chunksize.unwrap_or_else(|| batch::auto_chunksize(n, workers)) } else { 1 };
        let (units, window): (VecDeque<Range<usize>>, usize) = if chunksize > 1 {
            // Up to four chunks per worker (as many as the default chunk size makes): a worker has
            // the next ones already when it ends one. No more than its concurrency, so that
            // chunks do not wait in the pool's queue (and count against `queue_limit`).
            (
                batch::chunks(&items, chunksize).into(),
                self.inner.max.max(1) * self.inner.opts.concurrency.clamp(1, 4),
            )
        } else {
            ((0..n).map(|i| i..i + 1).collect(), self.inner.max.max(1) * self.inner.opts.concurrency)
        };
        let window = window.min(units.len());
        let st = Arc::new(MapState {
            pool: self.clone(),
            method: method.to_string(),
            items,
            units: Mutex::new(units),
            parts: Mutex::new(Vec::new()),
            remaining: AtomicUsize::new(n),
            on_part,
            done: Mutex::new(Some(done)),
            trace: crate::telemetry::current_wire_if_any(),
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
        let results = rx.await.unwrap_or_default();
        results.iter().map(|r| r.map_err(|e| e.to_error()).and_then(|b| decode(&b))).collect()
    }
}

fn check(items: &MapItems, opts: MapOptions) -> Result<()> {
    if opts.chunksize == Some(0) {
        return Err(Error::invalid_argument("map: chunksize must be at least 1"));
    }
    items.check()
}

/// A map in progress: what is left to send (ranges of items: a chunk, or one item), the parts
/// answered so far.
struct MapState {
    pool: Pool,
    method: String,
    items: MapItems,
    units: Mutex<VecDeque<Range<usize>>>,
    parts: Mutex<Vec<MapPart>>,
    remaining: AtomicUsize,
    on_part: Option<OnPart>,
    done: Mutex<Option<MapDone>>,
    /// The trace context current where the map started: every chunk carries it.
    trace: Option<Bytes>,
}

thread_local! {
    /// How deep answers that arrived at once (inline) have nested `feed` on this thread.
    static FEED_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Every item of `unit` failed with `e`.
fn failed(unit: Range<usize>, e: &WireError) -> MapPart {
    MapPart {
        first: unit.start,
        len: unit.len(),
        values: Bytes::from(vec![NIL[0]; unit.len()]),
        errors: unit.map(|i| (i, e.clone())).collect(),
    }
}

impl MapState {
    /// Sends the next chunk or item, if any; its answer records the results and sends the next.
    fn feed(st: &Arc<MapState>) {
        let Some(unit) = st.units.lock().pop_front() else { return };
        let next = st.clone();
        if unit.len() == 1 {
            let i = unit.start;
            st.pool.exec_raw_traced(&st.method, st.items.args(i), st.trace.clone(), move |r| {
                let part = match r {
                    Ok(values) => MapPart { first: i, len: 1, values, errors: Vec::new() },
                    Err(e) => failed(unit, &e),
                };
                next.finished(part);
            });
            return;
        }
        let args = batch::request(&st.method, &st.items, unit.clone());
        // A chunk has the time its items would have had one by one.
        let timeout = st.pool.inner.opts.task_timeout.saturating_mul(unit.len() as u32);
        st.pool.exec_raw_for(BATCH_METHOD, args, timeout, st.trace.clone(), move |r| match r {
            Ok(answer) => {
                let part = match batch::split(&answer, unit.len()) {
                    Ok((values, mut errors)) => {
                        errors.sort_unstable_by_key(|(i, _)| *i);
                        MapPart {
                            first: unit.start,
                            len: unit.len(),
                            values,
                            errors: errors.into_iter().map(|(i, e)| (unit.start + i, e)).collect(),
                        }
                    }
                    Err(e) => failed(unit, &WireError::from_error(&e)),
                };
                next.finished(part);
            }
            // The worker has no `$batch` after all (no worker was ready to tell when the map
            // began): its items go one by one.
            Err(e) if e.code == ErrorCode::MethodNotFound.as_str() => {
                next.units.lock().extend(unit.map(|i| i..i + 1));
                next.continue_feeding();
            }
            Err(e) => next.finished(failed(unit, &e)),
        });
    }

    /// A part is answered: record it, and finish the map or send what is next.
    fn finished(self: Arc<Self>, part: MapPart) {
        let n = part.len;
        if let Some(f) = &self.on_part {
            f(&part);
        }
        self.parts.lock().push(part);
        if self.remaining.fetch_sub(n, Ordering::AcqRel) == n {
            let mut parts = std::mem::take(&mut *self.parts.lock());
            parts.sort_unstable_by_key(|p| p.first);
            let results = MapResults { len: self.items.len(), parts };
            if let Some(done) = self.done.lock().take() {
                done(results);
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
