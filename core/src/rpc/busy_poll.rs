//! Polling a host loop's descriptor briefly before the loop goes to sleep.
//!
//! With one call in flight, each message wakes a sleeping process, and on a virtual machine whose
//! idle vCPUs halt at once (no in-guest halt polling, as here) a wake-up is an interrupt sent to
//! another vCPU through the hypervisor: tens of microseconds, several times the work of the call.
//! A loop that polls its descriptor for a short while before blocking is still awake when the
//! answer or the next request arrives, and nobody has to wake it.
//!
//! The budget adapts like Linux's `cpuidle-haltpoll` governor: a wait that ended after the budget
//! but within the maximum grows it (doubling, from [`BusyPoll::GROW_START`]); a wait longer than
//! the maximum halves it, and below the starting step it is zero. So a process whose messages come
//! seconds apart does not spin at all, and one in a fast conversation spins at most `max` per wait.
//! Between polls the thread yields, so a runnable thread on the same CPU goes first.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// The environment variable that sets the maximum, in microseconds (0 turns polling off).
pub const BUSY_POLL_ENV: &str = "OMNITRON_BUSY_POLL_US";

/// A host loop's polling budget. Just before the loop blocks call [`plan`](Self::plan) and
/// [`poll_for`](Self::poll_for) what it returns on the loop's descriptor (its epoll descriptor, or
/// a socket); call [`after_wait`](Self::after_wait) as soon as the wait returns.
#[derive(Debug, Clone)]
pub struct BusyPoll {
    max: Duration,
    budget: Duration,
    wait_started: Option<Instant>,
}

impl BusyPoll {
    /// The default maximum spent polling before one wait.
    pub const DEFAULT_MAX: Duration = Duration::from_micros(100);
    /// The budget a short wait grows a zero budget to.
    pub const GROW_START: Duration = Duration::from_micros(10);
    /// The largest maximum a poller takes (the environment variable and bindings' settings).
    pub const MAX_LIMIT: Duration = Duration::from_secs(1);

    /// Polls for at most `max` per wait (zero: never).
    pub fn new(max: Duration) -> Self {
        Self { max, budget: Duration::ZERO, wait_started: None }
    }

    /// The maximum from [`BUSY_POLL_ENV`], else [`DEFAULT_MAX`](Self::DEFAULT_MAX). A value that is
    /// not a whole number of microseconds is ignored (with a warning).
    pub fn from_env() -> Self {
        let max = match std::env::var(BUSY_POLL_ENV) {
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(us) => Duration::from_micros(us).min(Self::MAX_LIMIT),
                Err(_) => {
                    tracing::warn!(
                        "{BUSY_POLL_ENV}={v:?} is not a number of microseconds; using the default"
                    );
                    Self::DEFAULT_MAX
                }
            },
            Err(_) => Self::DEFAULT_MAX,
        };
        Self::new(max)
    }

    /// The most this poller spends before one wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// Changes the maximum (zero: stop polling; at most [`MAX_LIMIT`](Self::MAX_LIMIT)); the
    /// budget shrinks to fit.
    pub fn set_max(&mut self, max: Duration) {
        let max = max.min(Self::MAX_LIMIT);
        self.max = max;
        self.budget = self.budget.min(max);
    }

    /// What the next wait will poll for at most.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The loop is about to wait for at most `limit` (`None`: until something happens): notes that
    /// a wait starts now and returns how long to poll first ([`poll_for`](Self::poll_for)), the
    /// budget capped by `limit`. A zero `limit` (the loop will not block) polls nothing and does
    /// not count as a wait. The poll is separate so that a caller can poll without holding this
    /// poller (behind a lock, say).
    pub fn plan(&mut self, limit: Option<Duration>) -> Duration {
        if limit == Some(Duration::ZERO) {
            self.wait_started = None;
            return Duration::ZERO;
        }
        self.wait_started = Some(Instant::now());
        limit.map_or(self.budget, |l| l.min(self.budget))
    }

    /// Polls `fd` until it is readable (true) or `budget` is spent (false), yielding the CPU
    /// between polls.
    pub fn poll_for(fd: RawFd, budget: Duration) -> bool {
        if budget.is_zero() {
            return false;
        }
        let started = Instant::now();
        loop {
            if readable(fd) {
                return true;
            }
            if started.elapsed() >= budget {
                return false;
            }
            // SAFETY: no arguments, no memory.
            unsafe { libc::sched_yield() };
        }
    }

    /// The loop's wait returned: adapt the budget to how long it took (polling included). Call it
    /// as soon as the wait returns, before the work it brought; later calls for the same wait do
    /// nothing.
    pub fn after_wait(&mut self) {
        if let Some(started) = self.wait_started.take() {
            self.adapt(started.elapsed());
        }
    }

    fn adapt(&mut self, waited: Duration) {
        if waited > self.budget && waited <= self.max {
            // Polling a little longer would have caught it.
            self.budget = (self.budget * 2).max(Self::GROW_START).min(self.max);
        } else if waited > self.max {
            // Nothing came within the maximum: poll less.
            self.budget /= 2;
            if self.budget < Self::GROW_START {
                self.budget = Duration::ZERO;
            }
        }
    }
}

/// Whether `fd` has something to read, without blocking (an epoll descriptor is readable when one of
/// the descriptors it watches is ready, and polling it takes nothing from the loop's next wait).
fn readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) > 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn short_waits_grow_the_budget_to_the_maximum_and_long_ones_shrink_it_to_zero() {
        let mut p = BusyPoll::new(100 * US);
        p.adapt(50 * US);
        assert_eq!(p.budget(), BusyPoll::GROW_START);
        for _ in 0..10 {
            p.adapt(90 * US);
        }
        assert_eq!(p.budget(), 100 * US);
        // Caught while polling: unchanged.
        p.adapt(30 * US);
        assert_eq!(p.budget(), 100 * US);
        p.adapt(Duration::from_millis(5));
        assert_eq!(p.budget(), 50 * US);
        for _ in 0..4 {
            p.adapt(Duration::from_secs(1));
        }
        assert_eq!(p.budget(), Duration::ZERO);
        p.adapt(50 * US);
        p.adapt(50 * US);
        p.adapt(50 * US);
        assert_eq!(p.budget(), 40 * US);
        p.set_max(25 * US);
        assert_eq!(p.budget(), 25 * US);
        p.set_max(Duration::ZERO);
        assert_eq!(p.budget(), Duration::ZERO);
    }

    #[test]
    fn a_zero_maximum_never_polls() {
        let mut p = BusyPoll::new(Duration::ZERO);
        for _ in 0..5 {
            p.adapt(5 * US);
        }
        assert_eq!(p.budget(), Duration::ZERO);
    }

    #[test]
    fn polling_sees_data_and_gives_up_after_the_budget() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut p = BusyPoll::new(Duration::from_millis(2));
        p.adapt(Duration::from_millis(1)); // budget 10 us
        p.adapt(Duration::from_millis(1)); // 20 us
        let fd = b.as_raw_fd();
        assert_eq!(p.plan(None), 20 * US);
        assert!(!BusyPoll::poll_for(fd, 20 * US), "nothing to read yet");
        p.after_wait();
        a.write_all(b"x").unwrap();
        let budget = p.plan(Some(Duration::from_secs(5)));
        assert!(budget > Duration::ZERO);
        assert!(BusyPoll::poll_for(fd, budget));
        // Capped by the loop's own limit.
        assert_eq!(p.plan(Some(3 * US)), 3 * US);
        // A loop that will not block neither polls nor adapts.
        let before = p.budget();
        assert_eq!(p.plan(Some(Duration::ZERO)), Duration::ZERO);
        p.after_wait();
        assert_eq!(p.budget(), before);
        // No budget, no poll.
        assert!(!BusyPoll::poll_for(fd, Duration::ZERO));
        p.set_max(Duration::from_secs(60));
        assert_eq!(p.max(), BusyPoll::MAX_LIMIT);
    }
}
