//! Python's side of `omnitron::rpc::BusyPoll`: the asyncio loop's selector, wrapped by
//! `omnitron/_poll.py`, calls `before_wait` (the core's `plan` and `poll_for`) before it blocks and `after_wait` once it returns.

use std::time::{Duration, Instant};

use omnitron::rpc::BusyPoll;
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeBusyPoll>()
}

/// One event loop's polling budget (its maximum first from `OMNITRON_BUSY_POLL_US`).
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeBusyPoll {
    poll: Mutex<BusyPoll>,
}

#[pymethods]
impl NativeBusyPoll {
    #[new]
    fn new() -> Self {
        Self { poll: Mutex::new(BusyPoll::from_env()) }
    }

    /// The loop is about to wait on `fd` (its selector) for `timeout` seconds (None: until
    /// something happens): polls `fd` for up to the budget, without the GIL (and without this
    /// poller's lock), and returns the timeout left for the selector's own wait.
    fn before_wait(&self, py: Python<'_>, fd: i32, timeout: Option<f64>) -> Option<f64> {
        let limit = timeout.map(|t| {
            if t.is_nan() || t <= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(t.min(1e9)) }
        });
        let budget = self.poll.lock().plan(limit);
        if budget.is_zero() {
            return timeout;
        }
        let started = Instant::now();
        py.detach(|| BusyPoll::poll_for(fd, budget));
        let spent = started.elapsed().as_secs_f64();
        timeout.map(|t| (t - spent).max(0.0))
    }

    /// The loop's wait returned: adapts the budget.
    fn after_wait(&self) {
        self.poll.lock().after_wait();
    }

    /// What the next wait polls for at most, in microseconds (it grows in a fast exchange and
    /// falls to 0 when messages stop).
    #[getter]
    fn budget_micros(&self) -> u64 {
        u64::try_from(self.poll.lock().budget().as_micros()).unwrap_or(u64::MAX)
    }

    /// The most polled before one wait, in microseconds (0: never).
    #[getter]
    fn max_micros(&self) -> u64 {
        u64::try_from(self.poll.lock().max().as_micros()).unwrap_or(u64::MAX)
    }

    #[setter]
    fn set_max_micros(&self, us: i64) -> PyResult<()> {
        let limit = BusyPoll::MAX_LIMIT.as_micros();
        match u64::try_from(us) {
            Ok(us) if u128::from(us) <= limit => {
                self.poll.lock().set_max(Duration::from_micros(us));
                Ok(())
            }
            _ => {
                Err(PyValueError::new_err(format!("busy polling takes 0 to {limit} microseconds, got {us}")))
            }
        }
    }
}
