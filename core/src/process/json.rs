//! Pool, child and supervisor options as JSON objects: what the C door (and any binding that would
//! rather pass one string) hands the engine. Keys are snake_case, durations are milliseconds
//! (`*_ms`); the values are read by the same functions as every door's (`options.rs`), and an
//! unknown key is refused naming the nearest known one.

use serde_json::Value as Json;

use super::pool::PoolOptions;
use super::spec::ChildSpec;
use super::supervisor::{ChildOptions, SupervisorOptions};
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::options::{RawOptions, Value};

/// A JSON value as an option's raw value.
fn value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n.as_f64().map_or(Value::Other("a number out of range".into()), Value::Number),
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(value).collect()),
        Json::Object(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), value(v))).collect()),
    }
}

/// The options in `text` (a JSON object) for `what`.
fn parse(text: &str, what: &str) -> Result<RawOptions> {
    let v: Json = serde_json::from_str(text)
        .map_err(|e| Error::new(ErrorCode::InvalidArgument, format!("{what} are not valid JSON: {e}")))?;
    let Json::Object(map) = v else {
        return Err(Error::new(ErrorCode::InvalidArgument, format!("{what} must be a JSON object")));
    };
    let mut raw = RawOptions::new(Dialect::C, what, ErrorCode::InvalidArgument);
    for (k, v) in &map {
        raw.set(k, value(v));
    }
    Ok(raw)
}

/// Pool options: the child's keys (`name`, `command`, `env`, `cwd`, `ready_timeout_ms`,
/// `shutdown_timeout_ms`, `health`) plus `size` (number or `"auto"`), `min`, `max`, `strategy`,
/// `warmup`, `concurrency`, `queue_limit`, `task_timeout_ms`, `task_retries`, `recycle_after`,
/// `max_lifetime_ms`, `idle_timeout_ms`, `service`.
pub fn pool_options(text: &str) -> Result<PoolOptions> {
    let raw = parse(text, "pool options")?;
    let p = PoolOptions::from_raw(ChildSpec::from_raw(&raw)?, &raw)?;
    raw.check_unknown()?;
    Ok(p)
}

/// A supervised child: the child's keys plus `instances`, `critical`, `restart` (`always`,
/// `on-failure`, `never`), `max_restarts`, `window_ms`, `restart_delay_ms`.
pub fn child_options(text: &str) -> Result<ChildOptions> {
    let raw = parse(text, "child options")?;
    let c = ChildOptions::from_raw(ChildSpec::from_raw(&raw)?, &raw)?;
    raw.check_unknown()?;
    Ok(c)
}

/// Supervisor options: `name`, `strategy`, `max_restarts`, `window_ms`, `backoff_initial_ms`,
/// `backoff_max_ms`, `backoff_factor`.
pub fn supervisor_options(text: &str) -> Result<SupervisorOptions> {
    let raw = parse(text, "supervisor options")?;
    let s = SupervisorOptions::from_raw(&raw)?;
    raw.check_unknown()?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::process::PoolSize;

    #[test]
    fn options_parse_and_unknown_keys_are_named() {
        let p = pool_options(r#"{"name":"w","command":"./worker --fast","size":"auto","strategy":"least-loaded","task_timeout_ms":1500,"health":{"interval_ms":100}}"#).unwrap();
        assert_eq!(p.spec.args, vec!["--fast"]);
        assert_eq!(p.size, PoolSize::Auto);
        assert_eq!(p.task_timeout, Duration::from_millis(1500));
        assert_eq!(p.spec.health.unwrap().interval, Duration::from_millis(100));
        let e = pool_options(r#"{"name":"w","command":["x"],"sise":2}"#).unwrap_err();
        assert!(e.message().contains("'sise'") && e.message().contains("did you mean 'size'"), "{e}");
        let e = pool_options(r#"{"name":"w","command":["x"],"task_timeout_ms":-1}"#).unwrap_err();
        assert!(e.message().contains("task_timeout_ms must be a number of milliseconds"), "{e}");
        let e = pool_options(r#"{"name":"w","command":["x"],"health":{"intervl_ms":1}}"#).unwrap_err();
        assert!(e.message().contains("did you mean 'interval_ms'"), "{e}");
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
