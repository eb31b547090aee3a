//! `omnitron dev`: the application of `omnitron.yaml` in the foreground, restarted process by
//! process as its sources change.
//!
//! Each process runs under its own supervisor (all on one host, so they still call each other):
//! one that cannot start (a syntax error) shows its error and waits for the next change while the
//! others keep running. Changes are gathered until the files have been quiet for the debounce
//! time; then every process whose watched paths (`watch:`, else its `cwd`) hold a changed file is
//! rebuilt (its `build:` command, if any, while the old instance still runs) and restarted. A
//! change to `omnitron.yaml` itself restarts everything from the new file (a file with errors is
//! reported and the running processes kept).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use omnitron::config::{self, LoadedConfig};
use omnitron::process::{OutputLine, ProcessHost, Stream, Supervisor};
use tokio::sync::mpsc;

use crate::logs::{LogWriter, timestamp};

/// Directories whose changes are not sources: dependencies, build output, caches, version control.
/// Checked below each watched path, so `watch: [dist]` still watches `dist`.
const IGNORED_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "dist",
    "build",
    "__pycache__",
    ".venv",
    "venv",
    ".pytest_cache",
    ".mypy_cache",
    ".omnitron",
];

/// Every instance started gets a new number, so the end of one already replaced (even across a
/// reload of the file) is never taken for the end of its successor.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The directories watched: each process's paths and what is below them, but for the ignored
/// directories (a project's `target/` or `node_modules/` would use up inotify's watches), and the
/// file's own directory. Directories created later are added as their creation is seen.
struct Watches {
    watcher: RecommendedWatcher,
    dirs: HashSet<PathBuf>,
}

impl Watches {
    fn add_tree(&mut self, dir: &Path) {
        if !dir.is_dir() || !self.dirs.insert(dir.to_path_buf()) {
            return;
        }
        if let Err(e) = self.watcher.watch(dir, RecursiveMode::NonRecursive) {
            say(&format!("cannot watch {}: {e}", dir.display()));
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            let ignored = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| IGNORED_DIRS.contains(&n));
            if !ignored && e.file_type().is_ok_and(|t| t.is_dir()) {
                self.add_tree(&p);
            }
        }
    }

    fn add_file_dir(&mut self, file: &Path) {
        if let Some(dir) = file.parent()
            && self.dirs.insert(dir.to_path_buf())
            && let Err(e) = self.watcher.watch(dir, RecursiveMode::NonRecursive)
        {
            say(&format!("cannot watch {}: {e}", dir.display()));
        }
    }
}

fn say(what: &str) {
    let now = timestamp(std::time::SystemTime::now());
    println!("[{}] {what}", &now[11..19]);
}

/// One process of the file and what runs it now.
struct Proc {
    name: String,
    roots: Vec<PathBuf>,
    sup: Option<Supervisor>,
    /// Bumped at each start, so that the end of an instance already replaced is not reported.
    generation: u64,
}

enum Event {
    Files(Vec<PathBuf>),
    Ended { name: String, generation: u64, outcome: Result<(), String> },
}

pub(crate) async fn dev(path: &Path, debounce: Duration) -> Result<ExitCode, String> {
    let mut cfg = config::load(path).map_err(|e| e.to_string())?;
    let app = cfg.app_name();
    let yaml = std::fs::canonicalize(&cfg.path).map_err(|e| format!("{}: {e}", cfg.path.display()))?;
    let base = yaml.parent().map(Path::to_path_buf).unwrap_or_default();
    crate::app::trace_supervisor(&cfg);
    let host = ProcessHost::start().await.map_err(|e| e.to_string())?;
    let logs = Arc::new(LogWriter::open(&app)?);
    crate::logs::add_log_control(&mut cfg, logs.dir());
    let sink_logs = logs.clone();
    host.set_output_sink(Some(Arc::new(move |l: &OutputLine| {
        match l.stream {
            Stream::Stdout => println!("[{} {}] {}", l.name, l.pid, l.line),
            Stream::Stderr => eprintln!("[{} {}] {}", l.name, l.pid, l.line),
        }
        sink_logs.write(l);
    })));

    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let files_tx = tx.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && !matches!(ev.kind, EventKind::Access(_) | EventKind::Other)
        {
            let _ = files_tx.send(Event::Files(ev.paths));
        }
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    let mut watches = Watches { watcher, dirs: HashSet::new() };
    watches.add_file_dir(&yaml);

    say(&format!(
        "omnitron dev: '{app}' from {} ({} processes); logs in {}",
        cfg.path.display(),
        cfg.config.processes.len(),
        logs.dir().display()
    ));
    let mut procs = procs_of(&cfg);
    for root in procs.iter().flat_map(|p| &p.roots) {
        watches.add_tree(root);
    }
    for p in &mut procs {
        start(&cfg, &host, p, &tx).await;
    }
    // The status page shows whichever supervisors run now (each change replaces some).
    let running: Arc<std::sync::Mutex<Vec<Supervisor>>> = Arc::default();
    let shown = running.clone();
    let page =
        crate::app::status_page(&cfg, &app, move || shown.lock().map(|v| v.clone()).unwrap_or_default());
    let track = |procs: &[Proc]| {
        if let Ok(mut r) = running.lock() {
            *r = procs.iter().filter_map(|p| p.sup.clone()).collect();
        }
    };
    track(&procs);
    say("watching for changes (Ctrl-C stops)");

    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut changed: BTreeSet<PathBuf> = BTreeSet::new();
    let mut first_change: Option<Instant> = None;
    let mut last_change = Instant::now();
    loop {
        // Quiet for `debounce`, or busy for 10 times that: act on what changed.
        let due = first_change.map(|f| (last_change + debounce).min(f + debounce * 10));
        let sleep = async {
            match due {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            ev = rx.recv() => match ev {
                Some(Event::Files(paths)) => {
                    let relevant: Vec<PathBuf> = paths.into_iter().filter(|p| is_source(p, &yaml, &procs)).collect();
                    for dir in relevant.iter().filter(|p| p.is_dir()) {
                        watches.add_tree(dir);
                    }
                    if !relevant.is_empty() {
                        changed.extend(relevant);
                        last_change = Instant::now();
                        first_change.get_or_insert(last_change);
                    }
                }
                Some(Event::Ended { name, generation, outcome }) => {
                    if let Some(p) = procs.iter_mut().find(|p| p.name == name && p.generation == generation) {
                        p.sup = None;
                        match outcome {
                            Ok(()) => say(&format!("{name} ended; waiting for a change")),
                            Err(e) => say(&format!("✗ {name} stopped: {e}; waiting for a change to restart it")),
                        }
                    }
                }
                None => break,
            },
            _ = sleep => {
                let files = std::mem::take(&mut changed);
                first_change = None;
                if files.contains(&yaml) {
                    match config::load(&cfg.path) {
                        Ok(mut new) => {
                            crate::logs::add_log_control(&mut new, logs.dir());
                            say(&format!("{} changed: restarting every process", cfg.path.display()));
                            for p in procs.iter_mut().rev() {
                                stop(p).await;
                            }
                            cfg = new;
                            procs = procs_of(&cfg);
                            for root in procs.iter().flat_map(|p| &p.roots) {
                                watches.add_tree(root);
                            }
                            for p in &mut procs {
                                start(&cfg, &host, p, &tx).await;
                            }
                        }
                        Err(e) => say(&format!("✗ {} has errors, the processes keep running: {e}", cfg.path.display())),
                    }
                    continue;
                }
                for p in procs.iter_mut() {
                    let hits: Vec<&PathBuf> = files.iter().filter(|f| p.roots.iter().any(|r| f.starts_with(r))).collect();
                    if hits.is_empty() {
                        continue;
                    }
                    let shown: Vec<String> = hits.iter().take(3).map(|f| f.strip_prefix(&base).unwrap_or(f).display().to_string()).collect();
                    let more = if hits.len() > 3 { format!(" and {} more", hits.len() - 3) } else { String::new() };
                    say(&format!("↻ {} changed: restarting {}", shown.join(", ") + &more, p.name));
                    restart(&cfg, &host, p, &tx).await;
                }
            }
        }
        track(&procs);
    }
    say(&format!("stopping '{app}'"));
    if let Some(p) = page {
        p.stop().await;
    }
    omnitron::telemetry::flush(Duration::from_secs(2));
    for p in procs.iter_mut().rev() {
        stop(p).await;
    }
    drop(watches);
    Ok(ExitCode::SUCCESS)
}

fn procs_of(cfg: &LoadedConfig) -> Vec<Proc> {
    cfg.config
        .processes
        .iter()
        .map(|(name, p)| Proc {
            name: name.clone(),
            roots: cfg.watch_paths(p).into_iter().map(|r| std::fs::canonicalize(&r).unwrap_or(r)).collect(),
            sup: None,
            generation: 0,
        })
        .collect()
}

/// A path worth a restart: the file itself, or under some process's watched paths, not in an
/// ignored directory below it, not an editor's scratch file.
fn is_source(p: &Path, yaml: &Path, procs: &[Proc]) -> bool {
    let file = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if file.ends_with('~')
        || file.ends_with(".swp")
        || file.ends_with(".swx")
        || file.starts_with(".#")
        || file == "4913"
    {
        return false;
    }
    if p == yaml {
        return true;
    }
    procs.iter().flat_map(|pr| &pr.roots).any(|root| {
        p.strip_prefix(root).is_ok_and(|rel| {
            !rel.components().any(|c| IGNORED_DIRS.contains(&c.as_os_str().to_str().unwrap_or("")))
        })
    })
}

/// Runs the process's `build:` command; its output when it fails.
async fn build(cfg: &LoadedConfig, name: &str) -> Result<(), String> {
    let Some((_, p)) = cfg.config.processes.iter().find(|(n, _)| n == name) else { return Ok(()) };
    let Some(cmd) = &p.build else { return Ok(()) };
    let cwd = cfg.cwd_of(p);
    say(&format!("building {name}: {}", cmd.0.join(" ")));
    let mut program = PathBuf::from(&cmd.0[0]);
    if program.components().count() > 1 && program.is_relative() {
        program = cwd.join(program);
    }
    let out = tokio::process::Command::new(&program)
        .args(&cmd.0[1..])
        .current_dir(&cwd)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Err(format!("the build failed ({}):\n{}", out.status, text.trim_end()))
}

async fn start(cfg: &LoadedConfig, host: &ProcessHost, p: &mut Proc, tx: &mpsc::UnboundedSender<Event>) {
    if let Err(e) = build(cfg, &p.name).await {
        say(&format!("✗ {}: {e}\n  waiting for a change", p.name));
        return;
    }
    launch(cfg, host, p, tx).await;
}

async fn launch(cfg: &LoadedConfig, host: &ProcessHost, p: &mut Proc, tx: &mpsc::UnboundedSender<Event>) {
    p.generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    let sup = match cfg.supervisor_of(&p.name, Some(host.clone())) {
        Ok(s) => s,
        Err(e) => return say(&format!("✗ {}: {e}", p.name)),
    };
    if let Err(e) = sup.start().await {
        say(&format!("✗ {} did not start: {e}\n  (its output is above); waiting for a change", p.name));
        return;
    }
    let pids: Vec<String> =
        sup.children().await.iter().filter_map(|c| c.pid).map(|p| p.to_string()).collect();
    say(&format!("✓ {} started (pid {})", p.name, pids.join(", ")));
    let (waiter, tx, name, generation) = (sup.clone(), tx.clone(), p.name.clone(), p.generation);
    tokio::spawn(async move {
        let outcome = waiter.wait().await.map_err(|e| e.to_string());
        let _ = tx.send(Event::Ended { name, generation, outcome });
    });
    p.sup = Some(sup);
}

async fn stop(p: &mut Proc) {
    if let Some(s) = p.sup.take() {
        p.generation = 0; // its end is ours, not news
        s.stop().await;
    }
}

/// Builds first (the running instance stays up if the build fails), then replaces it.
async fn restart(cfg: &LoadedConfig, host: &ProcessHost, p: &mut Proc, tx: &mpsc::UnboundedSender<Event>) {
    if let Err(e) = build(cfg, &p.name).await {
        let kept = if p.sup.is_some() { "the running instance is kept" } else { "waiting for a change" };
        say(&format!("✗ {}: {e}\n  {kept}", p.name));
        return;
    }
    stop(p).await;
    launch(cfg, host, p, tx).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_under_a_watched_path_and_outside_ignored_directories() {
        let yaml = Path::new("/app/omnitron.yaml");
        let procs = vec![Proc {
            name: "web".into(),
            roots: vec![PathBuf::from("/app/services/web"), PathBuf::from("/app/dist")],
            sup: None,
            generation: 0,
        }];
        assert!(is_source(Path::new("/app/services/web/src/a.ts"), yaml, &procs));
        assert!(is_source(Path::new("/app/omnitron.yaml"), yaml, &procs));
        assert!(is_source(Path::new("/app/dist/main.js"), yaml, &procs), "a watched dist is watched");
        assert!(!is_source(Path::new("/app/services/web/node_modules/x/index.js"), yaml, &procs));
        assert!(!is_source(Path::new("/app/services/web/dist/a.js"), yaml, &procs));
        assert!(!is_source(Path::new("/app/services/web/src/.a.ts.swp"), yaml, &procs));
        assert!(!is_source(Path::new("/app/services/other/x.py"), yaml, &procs));
    }
}
