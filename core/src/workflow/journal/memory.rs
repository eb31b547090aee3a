//! A journal in memory: nothing survives the process, but two engines sharing one
//! `Arc<MemoryJournal>` see the same runs (what the recovery tests use).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Entry, Event, Journal, matches};
use crate::error::Result;
use crate::workflow::definition::BoxFuture;
use crate::workflow::run::{RunFilter, RunSummary};

#[derive(Debug, Default)]
struct Inner {
    runs: HashMap<Arc<str>, (RunSummary, Vec<Entry>)>,
    order: Vec<Arc<str>>,
}

/// The in-memory journal.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    inner: Mutex<Inner>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        MemoryJournal::default()
    }

    /// How many runs it holds.
    pub fn len(&self) -> usize {
        self.inner.lock().runs.len()
    }

    /// Whether it holds no run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Journal for MemoryJournal {
    fn append(&self, entries: Arc<[Entry]>) -> BoxFuture<'static, Result<()>> {
        let mut g = self.inner.lock();
        for e in entries.iter() {
            if let Event::RunCreated { workflow, .. } = &e.event {
                let summary = RunSummary {
                    run_id: e.run_id.to_string(),
                    workflow: workflow.clone(),
                    state: crate::workflow::RunState::Pending,
                    created_at_ms: e.at_ms,
                    updated_at_ms: e.at_ms,
                };
                if !g.runs.contains_key(&e.run_id) {
                    g.order.push(e.run_id.clone());
                }
                g.runs.insert(e.run_id.clone(), (summary, Vec::new()));
            }
            if let Some((summary, list)) = g.runs.get_mut(&e.run_id) {
                match &e.event {
                    Event::RunState { state, .. } => {
                        summary.state = *state;
                        summary.updated_at_ms = e.at_ms;
                    }
                    Event::RunRetry { .. } => {
                        summary.state = crate::workflow::RunState::Running;
                        summary.updated_at_ms = e.at_ms;
                    }
                    _ => {}
                }
                list.push(e.clone());
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn load_run(&self, run_id: &str) -> BoxFuture<'static, Result<Option<Vec<Entry>>>> {
        let r = self.inner.lock().runs.get(run_id).map(|(_, l)| l.clone());
        Box::pin(std::future::ready(Ok(r)))
    }

    fn unfinished(&self) -> BoxFuture<'static, Result<Vec<Vec<Entry>>>> {
        let g = self.inner.lock();
        let r = g
            .order
            .iter()
            .filter_map(|id| g.runs.get(id))
            .filter(|(s, _)| !s.state.is_final())
            .map(|(_, l)| l.clone())
            .collect();
        Box::pin(std::future::ready(Ok(r)))
    }

    fn list(&self, filter: &RunFilter) -> BoxFuture<'static, Result<Vec<RunSummary>>> {
        let g = self.inner.lock();
        let r = g
            .order
            .iter()
            .filter_map(|id| g.runs.get(id))
            .map(|(s, _)| s)
            .filter(|s| matches(filter, s))
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Box::pin(std::future::ready(Ok(r)))
    }
}
