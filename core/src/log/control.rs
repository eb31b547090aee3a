//! Changing the filter from outside the process: the file `OMNITRON_LOG_CONTROL` names holds a
//! filter (`info,rpc=debug`); it is read at start and whenever it changes, checked four times a
//! second by a thread of its own (a stat, nothing more). `omnitron log-level` writes it; so can
//! anything else. A filter it cannot read is reported once per change and the old one kept.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Filter, Level, Record};

const EVERY: Duration = Duration::from_millis(250);

/// What identifies a version of the file: a new file renamed into place (as `omnitron log-level`
/// writes it) is a new inode even when its time and length match the old one's.
type Stamp = (SystemTime, u64, u64);

/// The file's filter as the logger starts (None: no file, or an empty one), and its stamp for the
/// watch. Read by the logger's own initialization, so it applies before the first record.
pub(super) fn initial(path: &Path) -> (Option<Stamp>, Option<Result<Filter, String>>) {
    let seen = stamp(path);
    let filter = read(path).map(|spec| {
        Filter::parse(&spec)
            .map_err(|e| format!("OMNITRON_LOG_CONTROL ({}): {}", path.display(), e.message()))
    });
    (seen, filter)
}

/// Watches the file from `seen` on, on a thread of its own.
pub(super) fn watch(path: PathBuf, mut seen: Option<Stamp>) {
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

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok()?, m.len(), ino))
}

fn read(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let spec = text.trim();
    (!spec.is_empty()).then(|| spec.to_string())
}

fn apply(path: &Path) {
    let Some(spec) = read(path) else { return };
    if let Err(e) = super::set_filter(&spec) {
        let msg = format!("{}: {} (the filter in force is kept)", path.display(), e.message());
        super::write(&Record::new(Level::Error, "omnitron.log", &msg));
    }
}
