//! `omnitron.yaml`: loading (with `${VAR}` / `${VAR:-default}` interpolation), the schema, and
//! turning its `processes:` section into a supervisor.

mod interpolate;
mod schema;

use std::path::{Path, PathBuf};

/// Splits a command line into words as a shell would (it lives in
/// [`process`](crate::process): a door's `command` string is split the same way).
pub use crate::process::split_words;
pub use interpolate::interpolate;
pub use schema::{
    AppConfig, Command, EnvValue, HealthCheckConfig, Instances, InstrumentationConfig, Isolation,
    LoggingConfig, ProcessConfig, ProcessType, StatusConfig, SupervisorConfig, TracingConfig, parse_duration,
};

use crate::error::{Error, ErrorCode, Result};
use crate::process::{ChildOptions, ChildSpec, HealthCheck, ProcessHost, Supervisor, SupervisorOptions};

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file.
    pub path: PathBuf,
    /// Its contents.
    pub config: AppConfig,
}

/// Reads, interpolates (from the process environment) and checks `path`.
pub fn load(path: &Path) -> Result<LoadedConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(ErrorCode::InvalidConfig, format!("cannot read {}: {e}", path.display())))?;
    let config = parse(&text, &path.display().to_string(), &|k| std::env::var(k).ok())?;
    Ok(LoadedConfig { path: path.to_path_buf(), config })
}

/// Parses configuration text; `file` names it in errors, `env` resolves `${VAR}`.
pub fn parse(text: &str, file: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<AppConfig> {
    let text = interpolate(text, file, env)?;
    let config: AppConfig = serde_norway::from_str(&text).map_err(|e| {
        // serde_norway ends its message with the location again: keep ours in front only.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        let at = e.location().map(|l| {
            let (line, col) = key_line(&text, l.line(), &msg).unwrap_or((l.line(), l.column()));
            format!("{line}:{col}:")
        });
        Error::new(ErrorCode::InvalidConfig, format!("{file}:{} {msg}", at.unwrap_or_default()))
    })?;
    check(&config, file)?;
    Ok(config)
}

/// For a value error that serde reports at the start of its mapping, the line of the key the message
/// names (`restartDelay: ...`), searched from there to the end of that mapping.
fn key_line(text: &str, from: usize, msg: &str) -> Option<(usize, usize)> {
    let last = msg.rsplit(": ").nth(1)?; // "processes.api: restartDelay: 'soon' is ..." -> "restartDelay"
    let key = last.rsplit(' ').next()?.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let start = from.checked_sub(1)?;
    let base = indent(lines.get(start)?);
    for (i, l) in lines.iter().enumerate().skip(start) {
        if i > start && !l.trim().is_empty() && indent(l) < base {
            break;
        }
        if l.trim_start().starts_with(&format!("{key}:")) {
            return Some((i + 1, indent(l) + 1));
        }
    }
    None
}

/// `message` starting with `file: ` once.
fn with_file(file: &str, message: &str) -> String {
    if message.starts_with(file) { message.to_string() } else { format!("{file}: {message}") }
}

fn check(c: &AppConfig, file: &str) -> Result<()> {
    let bad =
        |key: String, why: String| Err(Error::new(ErrorCode::InvalidConfig, format!("{file}: {key}: {why}")));
    if let Err(e) = c.supervisor.strategy.parse::<crate::process::Strategy>() {
        return bad("supervisor.strategy".into(), e.message().to_string());
    }
    if let Some(l) = &c.logging {
        l.check().map_err(|e| Error::new(ErrorCode::InvalidConfig, with_file(file, e.message())))?;
    }
    if let Some(t) = &c.tracing {
        t.check().map_err(|e| Error::new(ErrorCode::InvalidConfig, with_file(file, e.message())))?;
    }
    c.status.check().map_err(|why| Error::new(ErrorCode::InvalidConfig, format!("{file}: {why}")))?;
    for (name, p) in &c.processes {
        if let Some(r) = &p.restart
            && let Err(e) = r.parse::<crate::process::RestartPolicy>()
        {
            return bad(format!("processes.{name}.restart"), e.message().to_string());
        }
        if let Some(s) = &p.strategy
            && let Err(e) = s.parse::<crate::process::PoolStrategy>()
        {
            return bad(format!("processes.{name}.strategy"), e.message().to_string());
        }
        for (i, q) in p.queues.iter().enumerate() {
            q.check(&format!("processes.{name}.queues[{i}]"))
                .map_err(|e| Error::new(ErrorCode::InvalidConfig, with_file(file, e.message())))?;
        }
        for (i, job) in p.cron_jobs.iter().enumerate() {
            job.schedule(&format!("processes.{name}.cronJobs[{i}]"))
                .map_err(|e| Error::new(ErrorCode::InvalidConfig, format!("{file}: {}", e.message())))?;
        }
        if !name.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.')) {
            return bad(
                format!("processes.{name}"),
                "a process name may hold letters, digits, '-', '_' and '.'".into(),
            );
        }
    }
    Ok(())
}

impl LoadedConfig {
    /// The application's name: `name:`, else the file's directory name.
    pub fn app_name(&self) -> String {
        self.config.name.clone().unwrap_or_else(|| {
            self.base_dir()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "omnitron".into())
        })
    }

    /// The directory relative paths are resolved from.
    pub fn base_dir(&self) -> PathBuf {
        let dir = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir }
    }

    /// The child program of one process entry.
    pub fn child_options(&self, name: &str, p: &ProcessConfig) -> Result<ChildOptions> {
        let base = self.base_dir();
        let cwd = self.cwd_of(p);
        let mut program = PathBuf::from(&p.command.0[0]);
        // `./bin/x` is relative to the file; a bare name is looked up on PATH.
        if program.components().count() > 1 && program.is_relative() {
            program = base.join(program);
        }
        let mut spec = ChildSpec::new(name, program)
            .args(p.command.0[1..].iter().cloned())
            .args(p.args.clone())
            .cwd(cwd);
        // The queues: where they live, and this process's share of spec 3.1's keys; the process's
        // own `env:` comes after and wins.
        spec = spec.env("OMNITRON_QUEUE_STORE", self.queue_store());
        if p.concurrency.is_some() || !p.queues.is_empty() || !p.cron_jobs.is_empty() {
            let queues = serde_json::json!({
                "concurrency": p.concurrency,
                "queues": p.queues,
                "cronJobs": p.cron_jobs,
            });
            spec = spec.env("OMNITRON_QUEUES", queues.to_string());
        }
        // Tracing, as the standard variables every door reads; named after the process.
        if let Some(t) = &self.config.tracing {
            spec = spec.env("OTEL_SERVICE_NAME", name);
            for (k, v) in t.env() {
                spec = spec.env(k, v);
            }
            // The status page's traces: each process keeps its latest spans for it.
            if self.config.status.enabled {
                spec = spec.env("OMNITRON_TRACE_RECENT", self.config.status.traces.to_string());
            }
        }
        if let Some(l) = &self.config.logging {
            for (k, v) in l.env() {
                spec = spec.env(k, v);
            }
        }
        if let Some(i) = &self.config.instrumentation {
            spec = spec.env("OMNITRON_CALL_EVENTS", if i.call_events { "1" } else { "0" });
        }
        for (k, v) in &p.env {
            spec = spec.env(k.clone(), v.0.clone());
        }
        if let Some(t) = p.ready_timeout {
            spec = spec.ready_timeout(t);
        }
        if let Some(t) = p.shutdown_timeout {
            spec = spec.shutdown_timeout(t);
        }
        if let Some(h) = &p.health_check {
            let d = HealthCheck::default();
            spec = spec.health(HealthCheck {
                interval: h.interval.unwrap_or(d.interval),
                timeout: h.timeout.unwrap_or(d.timeout),
                max_missed: h.max_missed.unwrap_or(d.max_missed),
            });
        }
        let mut o = ChildOptions::new(spec).instances(p.instances.resolve()).critical(p.critical);
        if let Some(r) = &p.restart {
            o = o.restart(r.parse()?);
        }
        o.max_restarts = p.max_restarts;
        o.window = p.window;
        o.restart_delay = p.restart_delay;
        Ok(o)
    }

    /// The application's queue store (`queueStore:`), a SQLite file's path made absolute from the
    /// file's directory, so that every process opens the same one.
    pub fn queue_store(&self) -> String {
        let url = self.config.queue_store.as_deref().unwrap_or("sqlite:.omnitron/queues.db");
        let Some(path) = url.strip_prefix("sqlite:").filter(|p| *p != ":memory:" && !p.starts_with("//"))
        else {
            return url.to_string();
        };
        let path = Path::new(path);
        if path.is_absolute() {
            return url.to_string();
        }
        format!(
            "sqlite:{}",
            std::path::absolute(self.base_dir().join(path))
                .unwrap_or_else(|_| self.base_dir().join(path))
                .display()
        )
    }

    /// The working directory of a process entry.
    pub fn cwd_of(&self, p: &ProcessConfig) -> PathBuf {
        let base = self.base_dir();
        p.cwd.as_ref().map_or(base.clone(), |d| base.join(d))
    }

    /// What `omnitron dev` watches for a process entry: its `watch:` paths, else its `cwd`.
    pub fn watch_paths(&self, p: &ProcessConfig) -> Vec<PathBuf> {
        let cwd = self.cwd_of(p);
        if p.watch.is_empty() { vec![cwd] } else { p.watch.iter().map(|w| cwd.join(w)).collect() }
    }

    /// A supervisor of one process entry alone (not started), with the file's restart budget:
    /// `omnitron dev` runs each process under its own, so one that cannot start leaves the others
    /// running.
    pub fn supervisor_of(&self, name: &str, host: Option<ProcessHost>) -> Result<Supervisor> {
        let p = self.config.processes.iter().find(|(n, _)| n == name).map(|(_, p)| p).ok_or_else(|| {
            Error::new(ErrorCode::ChildNotFound, format!("{} has no process '{name}'", self.path.display()))
        })?;
        let s = &self.config.supervisor;
        let mut opts = SupervisorOptions::new(name).budget(s.max_restarts, s.window);
        opts.host = host;
        let sup = Supervisor::new(opts);
        sup.add_child(self.child_options(name, p)?)?;
        Ok(sup)
    }

    /// A supervisor for the `processes:` section (not started), its children connecting to `host`
    /// (default: the process-wide host).
    pub fn supervisor(&self, host: Option<ProcessHost>) -> Result<Supervisor> {
        let s = &self.config.supervisor;
        let mut opts = SupervisorOptions::new(self.app_name())
            .strategy(s.strategy.parse()?)
            .budget(s.max_restarts, s.window);
        opts.host = host;
        let sup = Supervisor::new(opts);
        for (name, p) in &self.config.processes {
            sup.add_child(self.child_options(name, p)?)?;
        }
        Ok(sup)
    }
}
