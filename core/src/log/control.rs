//! Changing the filter from outside the process: the file `OMNITRON_LOG_CONTROL` names holds a
//! filter (`info,rpc=debug`); it is read at start and whenever it changes, checked four times a
//! second by a thread of its own (a stat, nothing more). `omnitron log-level` writes it; so can
//! anything else. A filter it cannot read is reported once per change and the old one kept.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::{Level, Record};

const EVERY: Duration = Duration::from_millis(250);

pub(super) fn watch(path: PathBuf) {
    // Applied before the first record is written, not a tick later.
    let mut seen = stamp(&path);
    if seen.is_some() {
        apply(&path);
    }
    let spawned = std::thread::Builder::new().name("omnitron-log-control".into()).spawn(move || {
        loop {
            std::thread::sleep(EVERY);
            let now = stamp(&path);
            if now != seen {
                seen = now;
                if now.is_some() {
                    apply(&path);
                }
            }
        }
    });
    drop(spawned);
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn apply(path: &PathBuf) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    let spec = text.trim();
    if spec.is_empty() {
        return;
    }
    if let Err(e) = super::set_filter(spec) {
        let msg = format!("{}: {} (the filter in force is kept)", path.display(), e.message());
        super::write(&Record::new(Level::Error, "omnitron.log", &msg));
    }
}
