//! Pool, child and supervisor options as JSON objects: what the C door (and any binding that would
//! rather pass one string) hands the engine. Keys are snake_case, durations are milliseconds
//! (`*_ms`); unknown keys and wrong types are refused with the key named.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};

use super::pool::{PoolOptions, PoolSize};
use super::spec::{ChildSpec, HealthCheck};
use super::supervisor::{ChildOptions, RestartBackoff, SupervisorOptions};
use crate::error::{Error, ErrorCode, Result};

struct Obj<'a> {
    what: &'static str,
    map: &'a Map<String, Value>,
    used: BTreeSet<&'static str>,
}

fn bad(what: &str, key: &str, expected: &str) -> Error {
    Error::new(ErrorCode::InvalidArgument, format!("{what}: '{key}' must be {expected}"))
}

impl<'a> Obj<'a> {
    fn new(what: &'static str, v: &'a Value) -> Result<Obj<'a>> {
        let map = v
            .as_object()
            .ok_or_else(|| Error::new(ErrorCode::InvalidArgument, format!("{what} must be a JSON object")))?;
        Ok(Obj { what, map, used: BTreeSet::new() })
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.insert(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn str(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(self.what, key, "a string")),
        }
    }

    fn uint(&mut self, key: &'static str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| bad(self.what, key, "a whole number >= 0")),
        }
    }

    fn float(&mut self, key: &'static str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| bad(self.what, key, "a number")),
        }
    }

    fn ms(&mut self, key: &'static str) -> Result<Option<Duration>> {
        Ok(self.uint(key)?.map(Duration::from_millis))
    }

    fn bool(&mut self, key: &'static str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(self.what, key, "true or false")),
        }
    }

    /// Refuses keys nobody asked for.
    fn finish(self) -> Result<()> {
        let unknown: Vec<&String> = self.map.keys().filter(|k| !self.used.contains(k.as_str())).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let known: Vec<&str> = self.used.iter().copied().collect();
        Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "{}: unknown key(s) {} (known: {})",
                self.what,
                unknown.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", "),
                known.join(", ")
            ),
        ))
    }
}

fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| Error::new(ErrorCode::InvalidArgument, format!("options are not valid JSON: {e}")))
}

fn child_spec(o: &mut Obj<'_>) -> Result<ChildSpec> {
    let name = o.str("name")?.ok_or_else(|| bad(o.what, "name", "given (a string)"))?;
    let command: Vec<String> = match o.get("command") {
        Some(Value::String(s)) => crate::config::split_words(s).map_err(|e| bad(o.what, "command", &e))?,
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(o.what, "command", "a string or an array of strings"))?,
        _ => return Err(bad(o.what, "command", "given (a string or an array of strings)")),
    };
    let Some((program, args)) = command.split_first() else {
        return Err(bad(o.what, "command", "non-empty"));
    };
    let mut s = ChildSpec::new(name, program).args(args.iter().cloned());
    if let Some(env) = o.get("env") {
        let env = env.as_object().ok_or_else(|| bad(o.what, "env", "an object of strings"))?;
        for (k, v) in env {
            let v = v.as_str().ok_or_else(|| bad(o.what, "env", "an object of strings"))?;
            s = s.env(k.clone(), v);
        }
    }
    if let Some(cwd) = o.str("cwd")? {
        s = s.cwd(cwd);
    }
    if let Some(t) = o.ms("ready_timeout_ms")? {
        s = s.ready_timeout(t);
    }
    if let Some(t) = o.ms("shutdown_timeout_ms")? {
        s = s.shutdown_timeout(t);
    }
    if let Some(h) = o.get("health") {
        let mut h = Obj::new("health", h)?;
        let d = HealthCheck::default();
        s = s.health(HealthCheck {
            interval: h.ms("interval_ms")?.unwrap_or(d.interval),
            timeout: h.ms("timeout_ms")?.unwrap_or(d.timeout),
            max_missed: h.uint("max_missed")?.map_or(d.max_missed, |n| n.min(u64::from(u32::MAX)) as u32),
        });
        h.finish()?;
    }
    Ok(s)
}

/// Pool options: the child's keys (`name`, `command`, `env`, `cwd`, `ready_timeout_ms`,
/// `shutdown_timeout_ms`, `health`) plus `size` (number or `"auto"`), `min`, `max`, `strategy`,
/// `warmup`, `concurrency`, `queue_limit`, `task_timeout_ms`, `task_retries`, `recycle_after`,
/// `max_lifetime_ms`, `idle_timeout_ms`, `service`.
pub fn pool_options(text: &str) -> Result<PoolOptions> {
    let v = parse(text)?;
    let mut o = Obj::new("pool options", &v)?;
    let mut p = PoolOptions::new(child_spec(&mut o)?);
    match o.get("size") {
        None => {}
        Some(Value::String(s)) if s == "auto" => p.size = PoolSize::Auto,
        Some(v) => {
            p.size = PoolSize::Fixed(
                v.as_u64().ok_or_else(|| bad("pool options", "size", "a number or \"auto\""))? as usize,
            )
        }
    }
    p.min = o.uint("min")?.map(|n| n as usize);
    p.max = o.uint("max")?.map(|n| n as usize);
    if let Some(s) = o.str("strategy")? {
        p.strategy = s.parse()?;
    }
    if let Some(w) = o.bool("warmup")? {
        p.warmup = w;
    }
    if let Some(c) = o.uint("concurrency")? {
        p.concurrency = c as usize;
    }
    if let Some(q) = o.uint("queue_limit")? {
        p.queue_limit = q as usize;
    }
    if let Some(t) = o.ms("task_timeout_ms")? {
        p.task_timeout = t;
    }
    if let Some(r) = o.uint("task_retries")? {
        p.task_retries = r.min(u64::from(u32::MAX)) as u32;
    }
    p.recycle_after = o.uint("recycle_after")?;
    p.max_lifetime = o.ms("max_lifetime_ms")?;
    if let Some(t) = o.ms("idle_timeout_ms")? {
        p.idle_timeout = t;
    }
    p.service = o.str("service")?;
    o.finish()?;
    Ok(p)
}

/// A supervised child: the child's keys plus `instances`, `critical`, `restart` (`always`,
/// `on-failure`, `never`), `max_restarts`, `window_ms`, `restart_delay_ms`.
pub fn child_options(text: &str) -> Result<ChildOptions> {
    let v = parse(text)?;
    let mut o = Obj::new("child options", &v)?;
    let mut c = ChildOptions::new(child_spec(&mut o)?);
    if let Some(n) = o.uint("instances")? {
        c.instances = n as usize;
    }
    if let Some(b) = o.bool("critical")? {
        c.critical = b;
    }
    if let Some(r) = o.str("restart")? {
        c.restart = r.parse()?;
    }
    c.max_restarts = o.uint("max_restarts")?.map(|n| n.min(u64::from(u32::MAX)) as u32);
    c.window = o.ms("window_ms")?;
    c.restart_delay = o.ms("restart_delay_ms")?;
    o.finish()?;
    Ok(c)
}

/// Supervisor options: `name`, `strategy`, `max_restarts`, `window_ms`, `backoff_initial_ms`,
/// `backoff_max_ms`, `backoff_factor`.
pub fn supervisor_options(text: &str) -> Result<SupervisorOptions> {
    let v = parse(text)?;
    let mut o = Obj::new("supervisor options", &v)?;
    let mut s = SupervisorOptions::new(o.str("name")?.unwrap_or_else(|| "supervisor".into()));
    if let Some(st) = o.str("strategy")? {
        s.strategy = st.parse()?;
    }
    if let Some(n) = o.uint("max_restarts")? {
        s.max_restarts = n.min(u64::from(u32::MAX)) as u32;
    }
    if let Some(w) = o.ms("window_ms")? {
        s.window = w;
    }
    let d = RestartBackoff::default();
    s.backoff = RestartBackoff {
        initial: o.ms("backoff_initial_ms")?.unwrap_or(d.initial),
        max: o.ms("backoff_max_ms")?.unwrap_or(d.max),
        factor: o.float("backoff_factor")?.unwrap_or(d.factor),
    };
    o.finish()?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_unknown_keys_are_named() {
        let p = pool_options(r#"{"name":"w","command":"./worker --fast","size":"auto","strategy":"least-loaded","task_timeout_ms":1500,"health":{"interval_ms":100}}"#).unwrap();
        assert_eq!(p.spec.args, vec!["--fast"]);
        assert_eq!(p.size, PoolSize::Auto);
        assert_eq!(p.task_timeout, Duration::from_millis(1500));
        assert_eq!(p.spec.health.unwrap().interval, Duration::from_millis(100));
        let e = pool_options(r#"{"name":"w","command":["x"],"sise":2}"#).unwrap_err();
        assert!(e.message().contains("'sise'"), "{e}");
        assert!(pool_options(r#"{"name":"w","command":[]}"#).is_err());
        assert!(pool_options(r#"{"name":"w","command":["x"],"size":"many"}"#).is_err());
        assert!(pool_options("not json").is_err());
        let c = child_options(
            r#"{"name":"c","command":["x"],"instances":3,"restart":"on-failure","critical":true}"#,
        )
        .unwrap();
        assert_eq!((c.instances, c.critical), (3, true));
        assert!(child_options(r#"{"name":"c","command":["x"],"restart":"sometimes"}"#).is_err());
        let s = supervisor_options(r#"{"name":"s","strategy":"rest-for-one","window_ms":1000}"#).unwrap();
        assert_eq!(s.window, Duration::from_secs(1));
    }
}
