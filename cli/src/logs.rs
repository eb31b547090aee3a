//! Children's output kept in files, one per process, so `omnitron logs` can show and follow it
//! from another terminal (as `pm2 logs` does): `<state dir>/logs/<app>/<process>.log`, where the
//! state dir is `$OMNITRON_HOME`, else `$XDG_STATE_HOME/omnitron`, else `~/.local/state/omnitron`.
//! A file past 10 MiB is moved to `<process>.log.1` (one generation kept) and started afresh.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use omnitron::process::{OutputLine, Stream};
use std::sync::Mutex;

const ROTATE_AT: u64 = 10 << 20;

/// Where `app`'s logs are.
pub(crate) fn dir(app: &str) -> Result<PathBuf, String> {
    let base = match (
        std::env::var_os("OMNITRON_HOME"),
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
    ) {
        (Some(h), _, _) if !h.is_empty() => PathBuf::from(h),
        (_, Some(s), _) if !s.is_empty() => PathBuf::from(s).join("omnitron"),
        (_, _, Some(h)) if !h.is_empty() => PathBuf::from(h).join(".local/state/omnitron"),
        _ => return Err("cannot place the logs: set OMNITRON_HOME (or HOME)".into()),
    };
    Ok(base.join("logs").join(file_name(app)))
}

/// A name as a file name: anything but letters, digits, `-`, `_` and `.` becomes `_`, and a name
/// of dots alone is spelled out (no `..` or `/` can leave the log directory).
fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') { format!("_{}", safe.len()) } else { safe }
}

/// Where process `name`'s log filter is kept while the application runs: the file its logger
/// watches (`OMNITRON_LOG_CONTROL`) and `omnitron log-level` writes.
pub(crate) fn control_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.level", file_name(name)))
}

/// Points every process's logger at its control file (unless its `env:` names one), and removes
/// what a previous run left there: a run starts from `omnitron.yaml`'s levels.
pub(crate) fn add_log_control(cfg: &mut omnitron::config::LoadedConfig, dir: &Path) {
    for (name, p) in cfg.config.processes.iter_mut() {
        let file = control_file(dir, name);
        let _ = std::fs::remove_file(&file);
        p.env
            .entry("OMNITRON_LOG_CONTROL".into())
            .or_insert_with(|| omnitron::config::EnvValue(file.to_string_lossy().into_owned()));
    }
}

/// The processes whose logs are in `dir` (for an application named without its file).
pub(crate) fn processes_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".log").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Changes the log filter of `processes` while they run (and of their next instances in this
/// run): each process's logger reads its control file within a quarter of a second.
pub(crate) fn set_level(dir: &Path, processes: &[String], filter: &str) -> Result<String, String> {
    let parsed = omnitron::log::Filter::parse(filter).map_err(|e| e.message().to_string())?;
    let mut out = String::new();
    for p in processes {
        let file = control_file(dir, p);
        // Written whole, then renamed: a logger never reads half a filter.
        let tmp = file.with_extension("level.tmp");
        std::fs::write(&tmp, format!("{parsed}\n"))
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        out.push_str(&format!("{p}: {parsed}\n"));
    }
    Ok(out)
}

/// Writes each child's lines to its file, stamped with the time, its pid and the stream.
#[derive(Debug)]
pub(crate) struct LogWriter {
    dir: PathBuf,
    files: Mutex<BTreeMap<String, (File, u64)>>,
}

impl LogWriter {
    pub(crate) fn open(app: &str) -> Result<LogWriter, String> {
        let dir = dir(app)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the log directory {}: {e}", dir.display()))?;
        Ok(LogWriter { dir, files: Mutex::new(BTreeMap::new()) })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one line; a write that fails is dropped (a full disk must not stop the application).
    pub(crate) fn write(&self, l: &OutputLine) {
        let stream = match l.stream {
            Stream::Stdout => "out",
            Stream::Stderr => "err",
        };
        let line = format!("{} {} {} {}| {}\n", timestamp(SystemTime::now()), l.name, l.pid, stream, l.line);
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.dir.join(format!("{}.log", file_name(&l.name)));
        if !files.contains_key(&l.name) {
            let Ok(f) = std::fs::OpenOptions::new().create(true).append(true).open(&path) else { return };
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            files.insert(l.name.clone(), (f, len));
        }
        let Some((f, len)) = files.get_mut(&l.name) else { return };
        if *len + line.len() as u64 > ROTATE_AT {
            let _ = std::fs::rename(&path, self.dir.join(format!("{}.log.1", file_name(&l.name))));
            match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
                Ok(n) => (*f, *len) = (n, 0),
                Err(_) => return,
            }
        }
        if f.write_all(line.as_bytes()).is_ok() {
            *len += line.len() as u64;
        }
    }
}

pub(crate) use omnitron::time::rfc3339 as timestamp;

/// `omnitron logs`: the last `lines` lines of each process's file (or of `only`), then, when
/// `follow`, what they write next, until interrupted.
pub(crate) fn show(
    app: &str,
    only: Option<&str>,
    known: &[String],
    lines: usize,
    follow: bool,
) -> Result<(), String> {
    let dir = dir(app)?;
    let logs = |dir: &Path| -> BTreeMap<String, PathBuf> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let p = e.path();
                        let name = p.file_name()?.to_str()?.strip_suffix(".log")?.to_string();
                        Some((name, p))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let found = logs(&dir);
    if let Some(p) = only
        && !found.contains_key(&file_name(p))
    {
        let mut names: Vec<&str> = known.iter().map(String::as_str).collect();
        names.extend(found.keys().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        if !names.contains(&p) {
            let hint =
                crate::names::closest(p, &names).map(|k| format!(" (did you mean {k}?)")).unwrap_or_default();
            return Err(format!("'{app}' has no process '{p}'{hint}; processes: {}", names.join(", ")));
        }
        if !follow {
            return Err(format!("'{p}' has written nothing yet ({} holds no {p}.log)", dir.display()));
        }
    }
    if found.is_empty() && !follow {
        return Err(format!(
            "no logs for '{app}' in {}: has it been started with omnitron start or omnitron dev?",
            dir.display()
        ));
    }
    let wanted = |name: &str| only.is_none_or(|o| file_name(o) == name);
    let mut out = std::io::stdout().lock();
    let mut tails: BTreeMap<String, Tail> = BTreeMap::new();
    for (name, path) in found.iter().filter(|(n, _)| wanted(n)) {
        let mut t = Tail::open(path);
        for l in t.last_lines(lines) {
            let _ = writeln!(out, "{l}");
        }
        tails.insert(name.clone(), t);
    }
    let _ = out.flush();
    drop(out);
    if !follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(200));
        for (name, path) in logs(&dir) {
            if wanted(&name) && !tails.contains_key(&name) {
                tails.insert(name, Tail::open_at_start(&path));
            }
        }
        let mut out = std::io::stdout().lock();
        for t in tails.values_mut() {
            for l in t.new_lines() {
                if writeln!(out, "{l}").is_err() {
                    return Ok(()); // the reader went away (`| head`)
                }
            }
        }
        let _ = out.flush();
    }
}

/// One file being followed; a file that shrank or was replaced (rotated) is read from its start.
struct Tail {
    path: PathBuf,
    pos: u64,
    ino: u64,
    partial: String,
}

impl Tail {
    fn open(path: &Path) -> Tail {
        Tail { path: path.to_path_buf(), pos: 0, ino: inode(path), partial: String::new() }
    }

    fn open_at_start(path: &Path) -> Tail {
        Tail::open(path)
    }

    /// The file's last `n` complete lines; following goes on from its end.
    fn last_lines(&mut self, n: usize) -> Vec<String> {
        let Ok(mut f) = File::open(&self.path) else { return Vec::new() };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        // Enough of the end for n lines of ordinary length; more is read only if needed.
        let mut from = len.saturating_sub((n as u64 + 1) * 256);
        loop {
            let mut buf = Vec::new();
            if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut buf).is_err() {
                return Vec::new();
            }
            let text = String::from_utf8_lossy(&buf);
            let mut lines: Vec<&str> = text.lines().collect();
            if from > 0 && !lines.is_empty() {
                lines.remove(0); // cut mid-line
            }
            if lines.len() >= n || from == 0 {
                self.pos = from + buf.len() as u64;
                return lines[lines.len().saturating_sub(n)..].iter().map(|s| s.to_string()).collect();
            }
            from = from.saturating_sub((n as u64 + 1) * 4096);
        }
    }

    fn new_lines(&mut self) -> Vec<String> {
        let len = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let ino = inode(&self.path);
        if ino != self.ino {
            // Rotated: what the old file got after the last read is in `.1` now; read it first.
            let old = PathBuf::from(format!("{}.1", self.path.display()));
            if inode(&old) == self.ino
                && let Ok(mut f) = File::open(&old)
            {
                let mut buf = Vec::new();
                if f.seek(SeekFrom::Start(self.pos)).is_ok() && f.read_to_end(&mut buf).is_ok() {
                    self.partial.push_str(&String::from_utf8_lossy(&buf));
                }
            }
            (self.pos, self.ino) = (0, ino);
        } else if len < self.pos {
            (self.pos, self.partial) = (0, String::new()); // truncated
        }
        if len == self.pos {
            return self.complete_lines();
        }
        let Ok(mut f) = File::open(&self.path) else { return Vec::new() };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.pos)).is_err() || f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.pos += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        self.complete_lines()
    }

    fn complete_lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            out.push(self.partial[..i].to_string());
            self.partial.drain(..=i);
        }
        out
    }
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_log_directory() {
        assert_eq!(file_name("web-1.api"), "web-1.api");
        assert_eq!(file_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(file_name(".."), "_2");
        assert_eq!(file_name(""), "_0");
        assert_eq!(file_name("a/b c"), "a_b_c");
    }

    #[test]
    fn tail_reads_the_last_lines_then_what_follows_and_survives_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.log");
        let body: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, body).unwrap();
        let mut t = Tail::open(&p);
        assert_eq!(t.last_lines(3), ["line 997", "line 998", "line 999"]);
        assert!(t.new_lines().is_empty());
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"next\npart").unwrap();
        assert_eq!(t.new_lines(), ["next"]);
        f.write_all(b"ial\n").unwrap();
        assert_eq!(t.new_lines(), ["partial"]);
        f.write_all(b"last words\n").unwrap();
        std::fs::rename(&p, dir.path().join("web.log.1")).unwrap();
        std::fs::write(&p, "fresh\n").unwrap();
        assert_eq!(t.new_lines(), ["last words", "fresh"], "nothing written before the rotation is lost");
    }
}
