//! A process's CPU time and resident memory, read from Linux's `/proc` (nothing on other systems:
//! the page then shows a dash).

use std::collections::HashMap;
use std::time::Instant;

/// CPU seconds used so far and resident bytes, or None when `/proc` does not have the process.
pub(super) fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((ticks / clock_ticks(), pages * page_size()))
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: as above.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// CPU use between two looks at each process, in percent of one core.
#[derive(Default)]
pub(super) struct CpuMeter {
    last: HashMap<u32, (Instant, f64)>,
}

impl CpuMeter {
    /// This look at `pid`: its CPU percent since the last look (None the first time), and its
    /// resident bytes.
    pub(super) fn sample(&mut self, pid: u32) -> (Option<f64>, Option<u64>) {
        let Some((cpu, rss)) = usage(pid) else { return (None, None) };
        let now = Instant::now();
        let pct = self.last.get(&pid).and_then(|(at, before)| {
            let secs = now.duration_since(*at).as_secs_f64();
            (secs > 0.05).then(|| ((cpu - before) / secs * 100.0).max(0.0))
        });
        // Keep the older look when this one comes too soon after it to measure anything.
        if pct.is_some() || !self.last.contains_key(&pid) {
            self.last.insert(pid, (now, cpu));
        }
        (pct, Some(rss))
    }

    /// Forgets processes that are gone.
    pub(super) fn retain(&mut self, pids: &[u32]) {
        self.last.retain(|p, _| pids.contains(p));
    }
}
