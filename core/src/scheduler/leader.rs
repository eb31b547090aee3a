//! [`Scheduler`]: one per application instance. The instances share a leader lease in the queue
//! store; the leader fires every schedule's due slots as jobs, through [`Store::fire`], which adds
//! a slot's job only if the slot is later than the schedule's watermark and moves the watermark.
//! The lease saves work (one instance fires, the others only renew their claim); the watermark is
//! the fence (two instances that both believe they lead, during a handover or with their clocks
//! apart, still fire each slot once).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::schedule::{MAX_CATCH_UP, Missed, Schedule};
use crate::error::{Error, ErrorCode, Result};
use crate::queue::Store;
use crate::time::now_ms;

/// How a [`Scheduler`] runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Instances with the same name share one leader (the lease `scheduler:<name>` in the store).
    /// By default the name is made from the schedules' names: instances of one application share a
    /// leader, and an application whose schedules differ (another process, another language) has
    /// its own, rather than waiting forever for a leader that never fires its schedules.
    pub name: Option<String>,
    /// This instance in the lease (default `<pid>-<random>`).
    pub holder: Option<String>,
    /// How long leadership lasts without renewal (default 10 s, renewed every third of it). A
    /// leader that dies is replaced after at most this long plus a third.
    pub lease: Duration,
    /// A slot more than this far in the past when the leader gets to it is a missed run, dealt
    /// with by the schedule's [`Missed`] policy (default 1 s); a later one simply fires.
    pub grace: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            name: None,
            holder: None,
            lease: Duration::from_secs(10),
            grace: Duration::from_secs(1),
        }
    }
}

/// What a scheduler has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Jobs it added: the firings it made.
    pub fired: u64,
    /// Times it became the leader.
    pub terms: u64,
    /// Catch-ups of [`Missed::All`] that reached the cap of [`MAX_CATCH_UP`] runs.
    pub capped: u64,
}

#[derive(Default)]
struct Counters {
    fired: AtomicU64,
    terms: AtomicU64,
    capped: AtomicU64,
}

/// A running scheduler. [`Scheduler::close`] stops it and hands leadership over at once;
/// dropping it stops it too (another instance takes over when the lease runs out).
pub struct Scheduler {
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    counters: Arc<Counters>,
    leader: watch::Receiver<Option<u64>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").field("leader", &*self.leader.borrow()).finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Starts firing `schedules` (on the current tokio runtime). Refuses two schedules of one
    /// name, a schedule's invalid queue name (`Q001`) and invalid options (`Q011`).
    pub fn start(
        store: Arc<dyn Store>,
        schedules: impl IntoIterator<Item = Schedule>,
        options: SchedulerOptions,
    ) -> Result<Scheduler> {
        let schedules: Vec<Schedule> = schedules.into_iter().collect();
        check(&schedules, &options)?;
        let holder = options
            .holder
            .clone()
            .unwrap_or_else(|| format!("{}-{:08x}", std::process::id(), fastrand::u32(..)));
        let counters = Arc::new(Counters::default());
        let (leader_tx, leader) = watch::channel(None);
        let cancel = CancellationToken::new();
        let run = Run {
            store,
            lease_name: format!("scheduler:{}", leader_name(&schedules, &options)),
            holder,
            options,
            entries: schedules.into_iter().map(|schedule| Entry { schedule, last: None }).collect(),
            counters: counters.clone(),
            leader: leader_tx,
        };
        let task = tokio::spawn(run.run(cancel.clone()));
        Ok(Scheduler { cancel, task: Some(task), counters, leader })
    }

    /// The lease's fencing token while this instance leads.
    pub fn leader(&self) -> Option<u64> {
        *self.leader.borrow()
    }

    /// What it has done so far.
    pub fn stats(&self) -> SchedulerStats {
        SchedulerStats {
            fired: self.counters.fired.load(Ordering::Relaxed),
            terms: self.counters.terms.load(Ordering::Relaxed),
            capped: self.counters.capped.load(Ordering::Relaxed),
        }
    }

    /// Stops firing and gives up the lease, so another instance leads at its next try (within a
    /// third of the lease); answers what it did in all. Firings already made are jobs in their
    /// queues, unaffected.
    pub async fn close(mut self) -> SchedulerStats {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.stats()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The leader's name: the one given, or `set-<hash>` of the schedules' names, sorted (FNV-1a:
/// the same in every build and language, where std's hasher is not promised to be).
fn leader_name(schedules: &[Schedule], options: &SchedulerOptions) -> String {
    if let Some(name) = &options.name {
        return name.clone();
    }
    let mut names: Vec<&str> = schedules.iter().map(Schedule::name).collect();
    names.sort_unstable();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in names.join("\n").bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("set-{h:016x}")
}

fn check(schedules: &[Schedule], options: &SchedulerOptions) -> Result<()> {
    let bad = |m: String| Err(Error::new(ErrorCode::InvalidSchedule, m));
    if options.lease < Duration::from_millis(300) {
        return bad(format!(
            "lease: {:?} is too short; a scheduler's lease is at least 300ms",
            options.lease
        ));
    }
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 128
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
    };
    if let Some(name) = options.name.as_deref()
        && !name_ok(name)
    {
        return bad(format!(
            "name: '{name}' is not a scheduler name; use 1 to 128 letters, digits, '-', '_', '.', ':' or '/'"
        ));
    }
    for (i, s) in schedules.iter().enumerate() {
        s.check_queue()?;
        if schedules[..i].iter().any(|t| t.name() == s.name()) {
            return bad(format!(
                "schedules: two are named '{}'; a schedule's name is unique in its store (it keys the schedule's watermark)",
                s.name()
            ));
        }
    }
    Ok(())
}

/// A schedule and the latest slot fired or passed over, as this leader knows it (`None`: to be
/// read from the store, as at the start of each term).
struct Entry {
    schedule: Schedule,
    last: Option<u64>,
}

struct Run {
    store: Arc<dyn Store>,
    lease_name: String,
    holder: String,
    options: SchedulerOptions,
    entries: Vec<Entry>,
    counters: Arc<Counters>,
    leader: watch::Sender<Option<u64>>,
}

/// Leadership as this instance knows it: the token, and until when it may act on it (its clock,
/// from before it asked, so never later than the store's).
#[derive(Clone, Copy)]
struct Term {
    token: u64,
    until: Instant,
}

impl Run {
    async fn run(mut self, cancel: CancellationToken) {
        let renew = self.options.lease / 3;
        let mut term: Option<Term> = None;
        let mut next_lease = Instant::now();
        loop {
            if Instant::now() >= next_lease {
                let asked = Instant::now();
                next_lease = asked + renew;
                match self.store.lease(&self.lease_name, &self.holder, self.options.lease).await {
                    Ok(Some(token)) => {
                        if term.is_none_or(|t| t.token != token) {
                            self.begin_term(token);
                        }
                        term = Some(Term { token, until: asked + self.options.lease });
                    }
                    Ok(None) => {
                        if term.take().is_some() {
                            tracing::info!(lease = %self.lease_name, "scheduler: another instance leads now");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(lease = %self.lease_name, error = %e, "scheduler: cannot renew the lease");
                        next_lease = Instant::now() + renew.min(Duration::from_secs(1));
                    }
                }
            }
            // Leadership this instance cannot confirm in time lapses.
            if term.is_some_and(|t| Instant::now() >= t.until) {
                tracing::warn!(lease = %self.lease_name, "scheduler: the lease ran out before it was renewed");
                term = None;
            }
            self.leader.send_if_modified(|l| {
                let now = term.map(|t| t.token);
                std::mem::replace(l, now) != now
            });
            let mut wake = next_lease;
            if term.is_some() {
                let mut failing = false;
                for i in 0..self.entries.len() {
                    if let Err(e) = self.fire_due(i).await {
                        tracing::warn!(schedule = self.entries[i].schedule.name(), error = %e, "scheduler: cannot fire");
                        failing = true;
                    }
                }
                // A failing store is tried again in a second; otherwise sleep to the next slot.
                let until = if failing {
                    Some(Duration::from_secs(1))
                } else {
                    self.next_slot().map(|next| Duration::from_millis(next.saturating_sub(now_ms())))
                };
                if let Some(until) = until {
                    wake = wake.min(Instant::now() + until);
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        if term.is_some() {
            let _ = self.store.release_lease(&self.lease_name, &self.holder).await;
        }
        self.leader.send_replace(None);
    }

    fn begin_term(&mut self, token: u64) {
        self.counters.terms.fetch_add(1, Ordering::Relaxed);
        tracing::info!(lease = %self.lease_name, holder = %self.holder, token, "scheduler: leading");
        // Another instance may have fired meanwhile: read every watermark again.
        for e in &mut self.entries {
            e.last = None;
        }
    }

    /// The earliest next slot of any schedule whose watermark is known.
    fn next_slot(&self) -> Option<u64> {
        self.entries.iter().filter_map(|e| e.schedule.next_after(e.last?)).min()
    }

    /// Fires schedule `i`'s missed runs (by its policy) and its due slots.
    async fn fire_due(&mut self, i: usize) -> Result<()> {
        let now = now_ms();
        let last = match self.entries[i].last {
            Some(last) => last,
            None => self.load(i, now).await?,
        };
        let entry = &self.entries[i];
        let horizon = now.saturating_sub(self.options.grace.as_millis() as u64);
        let policy = entry.schedule.missed_policy();
        let cap = if policy == Missed::All { MAX_CATCH_UP } else { 1 };
        let (missed, more) = entry.schedule.timing().latest_between(last, horizon, cap);
        if let Some(&latest) = missed.last() {
            let name = entry.schedule.name().to_string();
            match policy {
                Missed::Skip => {
                    tracing::info!(schedule = %name, "scheduler: passing over missed runs (missed: skip)");
                    self.advance(i, latest, false).await?;
                }
                Missed::Once => {
                    tracing::info!(schedule = %name, slot_ms = latest, "scheduler: running missed runs once (missed: once)");
                    self.advance(i, latest, true).await?;
                }
                Missed::All => {
                    if more {
                        self.counters.capped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            schedule = %name,
                            "scheduler: more than {MAX_CATCH_UP} missed runs; running the latest {MAX_CATCH_UP}, passing over the older ones (missed: all)"
                        );
                        self.advance(i, missed[0] - 1, false).await?;
                    }
                    for slot in missed {
                        self.advance(i, slot, true).await?;
                    }
                }
            }
        }
        loop {
            let entry = &self.entries[i];
            let last = entry.last.unwrap_or(horizon);
            match entry.schedule.next_after(last).filter(|s| *s <= now) {
                Some(slot) => self.advance(i, slot, true).await?,
                None => return Ok(()),
            }
        }
    }

    /// Reads schedule `i`'s watermark; a schedule that has none starts now, nothing before
    /// counting as missed.
    async fn load(&mut self, i: usize, now: u64) -> Result<u64> {
        let name = self.entries[i].schedule.name().to_string();
        let mut mark = self.store.watermark(&name).await?;
        if mark.is_none() {
            let start = now.saturating_sub(self.options.grace.as_millis() as u64);
            let queue = self.entries[i].schedule.queue_name().to_string();
            self.store.fire(&name, start, &queue, None).await?;
            // Another instance may have started it first: its mark stands.
            mark = self.store.watermark(&name).await?;
        }
        let last = mark.unwrap_or(now);
        self.entries[i].last = Some(last);
        Ok(last)
    }

    /// Moves schedule `i` past `slot`, adding the slot's job when `run`. When the store's watermark
    /// is already there (another instance fired it), takes the store's.
    async fn advance(&mut self, i: usize, slot: u64, run: bool) -> Result<()> {
        let schedule = &self.entries[i].schedule;
        let job = run.then(|| schedule.job(slot));
        let moved = self.store.fire(schedule.name(), slot, schedule.queue_name(), job).await?;
        let last = if moved {
            if run {
                self.counters.fired.fetch_add(1, Ordering::Relaxed);
            }
            slot
        } else {
            self.store.watermark(schedule.name()).await?.unwrap_or(slot).max(slot)
        };
        self.entries[i].last = Some(last);
        Ok(())
    }
}
