//! Pool, child and supervisor options as a door's user gave them, checked once here: the keys as
//! that door spells them (`readyTimeout`, `ready_timeout`, C's `ready_timeout_ms`), durations in
//! its unit (milliseconds in TypeScript and C, seconds in Python). Every door fills these structs
//! through the functions below (C from a JSON object, `json.rs`).

use super::pool::{PoolOptions, PoolSize};
use super::spec::{ChildSpec, HealthCheck};
use super::supervisor::{ChildOptions, RestartBackoff, SupervisorOptions};
use crate::error::Result;
use crate::options::{RawOptions, Value};

impl ChildSpec {
    /// A child from `name`, `command` (a list: program and arguments; a string is split into
    /// words), `env`, `cwd`, `ready_timeout`, `shutdown_timeout` and `health` (`interval`,
    /// `timeout`, `max_missed`).
    pub fn from_raw(raw: &RawOptions) -> Result<ChildSpec> {
        let name = match raw.text("name")? {
            Some(n) if !n.trim().is_empty() => n.to_string(),
            _ => return Err(raw.wrong("name", "must be given, a non-empty string")),
        };
        let command = match raw.get("command") {
            Some(Value::Text(s)) => {
                super::split_words(s).map_err(|e| raw.wrong("command", &format!("cannot be split: {e}")))?
            }
            _ => raw.strings("command")?.unwrap_or_default(),
        };
        let Some((program, args)) = command.split_first() else {
            return Err(raw.wrong("command", "must be given: the program and its arguments"));
        };
        let mut s = ChildSpec::new(name, program).args(args.iter().cloned());
        for (k, v) in raw.string_map("env")?.unwrap_or_default() {
            s = s.env(k, v);
        }
        if let Some(cwd) = raw.text("cwd")? {
            s = s.cwd(cwd);
        }
        if let Some(t) = raw.duration_or_zero("ready_timeout")? {
            s = s.ready_timeout(t);
        }
        if let Some(t) = raw.duration_or_zero("shutdown_timeout")? {
            s = s.shutdown_timeout(t);
        }
        if let Some(h) = raw.nested("health")? {
            let d = HealthCheck::default();
            s = s.health(HealthCheck {
                interval: h.duration_or_zero("interval")?.unwrap_or(d.interval),
                timeout: h.duration_or_zero("timeout")?.unwrap_or(d.timeout),
                max_missed: h.count("max_missed", 0)?.unwrap_or(d.max_missed),
            });
            h.check_unknown()?;
        }
        Ok(s)
    }
}

impl PoolOptions {
    /// A pool of `spec` from `name` (default: the child's), `size` (a number or `"auto"`), `min`,
    /// `max`, `strategy`, `warmup`, `concurrency`, `queue_limit`, `task_timeout`, `task_retries`,
    /// `recycle_after`, `max_lifetime`, `idle_timeout` and `service`.
    pub fn from_raw(spec: ChildSpec, raw: &RawOptions) -> Result<PoolOptions> {
        let mut p = PoolOptions::new(spec);
        if let Some(n) = raw.text("name")? {
            p.name = n.to_string();
        }
        match raw.get("size") {
            Some(Value::Text(s)) if s == "auto" => p.size = PoolSize::Auto,
            Some(Value::Number(_)) => p.size = PoolSize::Fixed(raw.whole("size", 0)?.unwrap_or(0) as usize),
            Some(_) => return Err(raw.wrong("size", "must be a number or 'auto'")),
            None => {}
        }
        p.min = raw.whole("min", 0)?.map(|n| n as usize);
        p.max = raw.whole("max", 0)?.map(|n| n as usize);
        if let Some(s) = raw.text("strategy")? {
            p.strategy = s.parse()?;
        }
        if let Some(w) = raw.flag("warmup")? {
            p.warmup = w;
        }
        if let Some(c) = raw.whole("concurrency", 1)? {
            p.concurrency = c as usize;
        }
        if let Some(q) = raw.whole("queue_limit", 0)? {
            p.queue_limit = q as usize;
        }
        if let Some(t) = raw.duration_or_zero("task_timeout")? {
            p.task_timeout = t;
        }
        if let Some(r) = raw.count("task_retries", 0)? {
            p.task_retries = r;
        }
        p.recycle_after = raw.whole("recycle_after", 1)?;
        p.max_lifetime = raw.duration_or_zero("max_lifetime")?;
        if let Some(t) = raw.duration_or_zero("idle_timeout")? {
            p.idle_timeout = t;
        }
        p.service = raw.text("service")?.map(String::from);
        Ok(p)
    }
}

impl ChildOptions {
    /// A supervised `spec` from `instances`, `critical`, `restart` (`always`, `on-failure`,
    /// `never`), `max_restarts`, `window` and `restart_delay`.
    pub fn from_raw(spec: ChildSpec, raw: &RawOptions) -> Result<ChildOptions> {
        let mut c = ChildOptions::new(spec);
        if let Some(n) = raw.whole("instances", 0)? {
            c.instances = n as usize;
        }
        if let Some(b) = raw.flag("critical")? {
            c.critical = b;
        }
        if let Some(r) = raw.text("restart")? {
            c.restart = r.parse()?;
        }
        c.max_restarts = raw.count("max_restarts", 0)?;
        c.window = raw.duration_or_zero("window")?;
        c.restart_delay = raw.duration_or_zero("restart_delay")?;
        Ok(c)
    }
}

impl SupervisorOptions {
    /// A supervisor from `name`, `strategy`, `max_restarts`, `window`, `backoff_initial`,
    /// `backoff_max` and `backoff_factor`.
    pub fn from_raw(raw: &RawOptions) -> Result<SupervisorOptions> {
        let name = raw.text("name")?.unwrap_or("supervisor");
        if name.trim().is_empty() {
            return Err(raw.wrong("name", "must be a non-empty string"));
        }
        let mut s = SupervisorOptions::new(name);
        if let Some(st) = raw.text("strategy")? {
            s.strategy = st.parse()?;
        }
        if let Some(n) = raw.count("max_restarts", 0)? {
            s.max_restarts = n;
        }
        if let Some(w) = raw.duration_or_zero("window")? {
            s.window = w;
        }
        let d = RestartBackoff::default();
        s.backoff = RestartBackoff {
            initial: raw.duration_or_zero("backoff_initial")?.unwrap_or(d.initial),
            max: raw.duration_or_zero("backoff_max")?.unwrap_or(d.max),
            factor: raw.at_least("backoff_factor", 1.0)?.unwrap_or(d.factor),
        };
        Ok(s)
    }
}
