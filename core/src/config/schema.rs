//! The shape of `omnitron.yaml`: the spec's sections (3.1, 5.1). Unknown keys and wrong types are
//! refused; sections the engine does not act on yet (`modules`, `features`, ...) are kept as given.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::process::split_words;

/// A whole `omnitron.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppConfig {
    /// The application's name (names its control socket).
    #[serde(default)]
    pub name: Option<String>,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// The processes to run, by name, started in the order written.
    #[serde(default, deserialize_with = "ordered_processes")]
    pub processes: Vec<(String, ProcessConfig)>,
    /// How the top-level supervisor restarts them.
    #[serde(default)]
    pub supervisor: SupervisorConfig,
    /// Per-environment overrides (kept as given).
    #[serde(default)]
    pub environments: Option<serde_norway::Value>,
    /// Module configuration (kept as given).
    #[serde(default)]
    pub modules: Option<serde_norway::Value>,
    /// Feature flags (kept as given).
    #[serde(default)]
    pub features: Option<serde_norway::Value>,
    /// Rate limiting settings (kept as given).
    #[serde(default)]
    pub rate_limiting: Option<serde_norway::Value>,
    /// Monitoring settings (kept as given).
    #[serde(default)]
    pub monitoring: Option<serde_norway::Value>,
    /// Server settings (kept as given).
    #[serde(default)]
    pub server: Option<serde_norway::Value>,
    /// Where the application's job queues live (`docs/QUEUES.md`): `sqlite:<file>` (relative to
    /// this file; default `sqlite:.omnitron/queues.db`) or `redis://host:port/db?prefix=<p>`.
    /// Every process gets it as `OMNITRON_QUEUE_STORE`.
    #[serde(default)]
    pub queue_store: Option<String>,
    /// Tracing for every process (`docs/OBSERVABILITY.md`): each gets it as the standard
    /// `OTEL_*` variables, named after its process unless its own `env:` says otherwise.
    #[serde(default)]
    pub tracing: Option<TracingConfig>,
    /// Logs of every process (`docs/OBSERVABILITY.md`): each gets them as `OMNITRON_LOG` and
    /// `OMNITRON_LOG_FORMAT` unless its own `env:` says otherwise.
    #[serde(default)]
    pub logging: Option<LoggingConfig>,
    /// What the engine adds to every process's calls by itself (`docs/OBSERVABILITY.md`).
    #[serde(default)]
    pub instrumentation: Option<InstrumentationConfig>,
    /// The status page `omnitron start` serves (`docs/OBSERVABILITY.md`). On by default, on a free
    /// loopback port.
    #[serde(default)]
    pub status: StatusConfig,
}

/// `status:`: the status page `omnitron start` and `omnitron dev` serve.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatusConfig {
    /// Whether the page is served (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `host:port` it listens on (default `127.0.0.1:0`: a free loopback port, printed at start
    /// and by `omnitron ps`). The page has no login: keep it on loopback or behind a proxy that has.
    #[serde(default = "loopback_any")]
    pub listen: String,
    /// How many of its latest spans each process keeps for the page's traces, when `tracing:` is
    /// on (`OMNITRON_TRACE_RECENT`; default 1024, at most 10000).
    #[serde(default = "recent_spans")]
    pub traces: usize,
}

fn yes() -> bool {
    true
}
fn loopback_any() -> String {
    "127.0.0.1:0".into()
}
fn recent_spans() -> usize {
    1024
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig { enabled: true, listen: loopback_any(), traces: recent_spans() }
    }
}

impl StatusConfig {
    /// Refuses a listen address without a port, or too many spans.
    pub fn check(&self) -> Result<(), String> {
        let port = self.listen.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>()));
        match port {
            Some((h, Ok(_))) if !h.is_empty() => {}
            _ => {
                return Err(format!(
                    "status.listen: '{}' is not host:port (127.0.0.1:9090, or port 0 for a free one)",
                    self.listen
                ));
            }
        }
        if self.traces > 10_000 {
            return Err(format!("status.traces: {} is more than 10000 spans", self.traces));
        }
        Ok(())
    }
}

/// `instrumentation:`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InstrumentationConfig {
    /// Each served call publishes `<service>.<method>.started`, then `.completed` or `.failed`, on
    /// the event bus (`OMNITRON_CALL_EVENTS`). Off by default.
    #[serde(default)]
    pub call_events: bool,
}

/// `logging:`: which records are written, and how.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoggingConfig {
    /// The default level (`info`), or a whole filter (`info,orders=debug`).
    #[serde(default)]
    pub level: Option<String>,
    /// Levels per module (`rpc: debug`, `orders.payment: off`), over `level`.
    #[serde(default)]
    pub modules: BTreeMap<String, String>,
    /// `json`, `pretty` or `auto` (pretty on a terminal; the default).
    #[serde(default)]
    pub format: Option<String>,
}

impl LoggingConfig {
    /// The filter this section stands for (`OMNITRON_LOG`).
    pub fn filter(&self) -> String {
        let mut f = self.level.clone().unwrap_or_else(|| "info".into());
        for (m, l) in &self.modules {
            f.push_str(&format!(",{m}={l}"));
        }
        f
    }

    /// The variables this section stands for.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![("OMNITRON_LOG", self.filter())];
        if let Some(f) = &self.format {
            v.push(("OMNITRON_LOG_FORMAT", f.clone()));
        }
        v
    }

    /// Each key checked as the logger reads it, named on failure.
    pub(crate) fn check(&self) -> crate::Result<()> {
        let bad = |key: String, why: String| {
            Err(crate::Error::new(crate::ErrorCode::InvalidConfig, format!("{key}: {why}")))
        };
        let why = |e: crate::Error| {
            e.message().rsplit_once("': ").map_or(e.message().to_string(), |(_, w)| w.to_string())
        };
        if let Some(l) = &self.level
            && let Err(e) = crate::log::Filter::parse(l)
        {
            return bad("logging.level".into(), why(e));
        }
        for (m, l) in &self.modules {
            if let Err(e) = crate::log::Filter::parse(&format!("{m}={l}")) {
                return bad(format!("logging.modules.{m}"), why(e));
            }
        }
        if let Some(f) = &self.format
            && crate::log::Format::parse(f, false).is_none()
        {
            return bad("logging.format".into(), format!("'{f}' is not json, pretty or auto"));
        }
        Ok(())
    }
}

/// `tracing:`: where spans go and which traces are kept.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TracingConfig {
    /// `otlp` (the default) or `none` (trace context made and passed on, logs correlated,
    /// nothing exported).
    #[serde(default)]
    pub exporter: Option<String>,
    /// The collector's OTLP/HTTP base URL (`http://localhost:4318`; `/v1/traces` is added).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The share of traces sampled where they start, 0 to 1 (default 1); a call follows its
    /// caller's decision.
    #[serde(default)]
    pub sampling: Option<f64>,
    /// Headers sent with each export (an API key, say).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl TracingConfig {
    /// The `OTEL_*` variables this section stands for (the service name aside).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![("OTEL_TRACES_EXPORTER", self.exporter.clone().unwrap_or_else(|| "otlp".into()))];
        if let Some(e) = &self.endpoint {
            v.push(("OTEL_EXPORTER_OTLP_ENDPOINT", e.clone()));
        }
        if let Some(r) = self.sampling {
            v.push(("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()));
            v.push(("OTEL_TRACES_SAMPLER_ARG", r.to_string()));
        }
        if !self.headers.is_empty() {
            let h: Vec<String> =
                self.headers.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
            v.push(("OTEL_EXPORTER_OTLP_HEADERS", h.join(",")));
        }
        v
    }

    /// Checked as the engine reads the variables it becomes: the key named on failure.
    pub(crate) fn check(&self) -> crate::Result<()> {
        let vars = self.env();
        let got = crate::telemetry::TraceConfig::from_vars("check", |k| {
            vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        });
        got.map(|_| ()).map_err(|e| {
            let m = e.message();
            let m = m
                .replace("OTEL_TRACES_EXPORTER", "tracing.exporter")
                .replace("OTEL_EXPORTER_OTLP_ENDPOINT", "tracing.endpoint")
                .replace("OTEL_TRACES_SAMPLER_ARG", "tracing.sampling")
                .replace("OTEL_EXPORTER_OTLP_HEADERS", "tracing.headers");
            crate::Error::new(crate::ErrorCode::InvalidConfig, m)
        })
    }
}

/// Percent-encodes what would break `key=value,key=value`.
fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The top-level supervisor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SupervisorConfig {
    /// `one-for-one`, `one-for-all`, `rest-for-one`.
    #[serde(default = "default_strategy")]
    pub strategy: String,
    /// Default restart budget per process.
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    /// The budget's window.
    #[serde(default = "default_window", deserialize_with = "window")]
    pub window: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            strategy: default_strategy(),
            max_restarts: default_max_restarts(),
            window: default_window(),
        }
    }
}

fn default_strategy() -> String {
    "one-for-one".into()
}
fn default_max_restarts() -> u32 {
    3
}
fn default_window() -> Duration {
    Duration::from_secs(60)
}

/// The spec's process types (informational: every type runs as a supervised process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProcessType {
    /// Coordination, API gateway.
    Main,
    /// Computation.
    Worker,
    /// Business services.
    #[default]
    Service,
    /// Scheduled jobs.
    Scheduler,
    /// Message processing.
    Queue,
    /// API gateway.
    Gateway,
    /// Caching.
    Cache,
}

/// Isolation: every child is its own OS process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Its own process (the only isolation this engine offers).
    #[default]
    Process,
}

/// `instances`: a number or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Instances {
    /// This many.
    Count(usize),
    /// As many as CPUs.
    #[default]
    Auto,
}

impl Instances {
    /// The count it stands for.
    pub fn resolve(self) -> usize {
        match self {
            Instances::Count(n) => n,
            Instances::Auto => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Instances::Count(n as usize)),
            Raw::S(s) if s == "auto" => Ok(Instances::Auto),
            Raw::S(s) => match s.parse::<usize>() {
                Ok(n) => Ok(Instances::Count(n)),
                Err(_) => {
                    Err(serde::de::Error::custom(format!("instances: must be a number or 'auto', not '{s}'")))
                }
            },
        }
    }
}

/// A command: a string (split on whitespace) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(pub Vec<String>);

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            L(Vec<String>),
        }
        let v = match Raw::deserialize(d)? {
            Raw::S(s) => split_words(&s).map_err(serde::de::Error::custom)?,
            Raw::L(l) => l,
        };
        if v.is_empty() {
            return Err(serde::de::Error::custom("command is empty"));
        }
        Ok(Command(v))
    }
}

/// One entry of `processes:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProcessConfig {
    /// The spec's process type.
    #[serde(default, rename = "type")]
    pub kind: ProcessType,
    /// What to run: `"python3 -m omnitron.worker inventory:Inventory"` or a list.
    pub command: Command,
    /// More arguments, after the command's.
    #[serde(default)]
    pub args: Vec<String>,
    /// How many (default 1).
    #[serde(default = "one")]
    pub instances: Instances,
    /// Always `process`.
    #[serde(default)]
    pub isolation: Isolation,
    /// `always`, `on-failure` or `never`.
    #[serde(default)]
    pub restart: Option<String>,
    /// Restart budget within the supervisor's window.
    #[serde(default)]
    pub max_restarts: Option<u32>,
    /// First restart delay (ms, or `1s`, `500ms`).
    #[serde(default, deserialize_with = "restart_delay")]
    pub restart_delay: Option<Duration>,
    /// Its own budget window.
    #[serde(default, deserialize_with = "window_opt")]
    pub window: Option<Duration>,
    /// An exhausted budget stops the application.
    #[serde(default)]
    pub critical: bool,
    /// Extra environment.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// Working directory (relative to the file).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Health pings.
    #[serde(default)]
    pub health_check: Option<HealthCheckConfig>,
    /// How long to wait for ready.
    #[serde(default, deserialize_with = "ready_timeout")]
    pub ready_timeout: Option<Duration>,
    /// How long a stop waits before SIGKILL.
    #[serde(default, deserialize_with = "shutdown_timeout")]
    pub shutdown_timeout: Option<Duration>,
    /// Load-balancing strategy among the instances (informational for services: the RPC host
    /// spreads calls over instances in turn).
    #[serde(default)]
    pub strategy: Option<String>,
    /// Memory limit (informational; shown by `omnitron ps`, not enforced).
    #[serde(default)]
    pub memory: Option<String>,
    /// CPU share (informational; not enforced).
    #[serde(default)]
    pub cpu: Option<f64>,
    /// What `omnitron dev` watches for this process: paths relative to its `cwd` (default: its
    /// `cwd`); a change under one restarts it.
    #[serde(default)]
    pub watch: Vec<String>,
    /// A command `omnitron dev` runs in its `cwd` before starting it and before each restart
    /// (`node_modules/.bin/tsc -p .`); when it fails, the running instance is kept and the error
    /// shown. `omnitron start` does not run it.
    #[serde(default)]
    pub build: Option<Command>,
    /// A `queue` process's worker concurrency (spec 3.1).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// A `queue` process's queues (spec 3.1), checked as `Queue.open` checks its options.
    #[serde(default)]
    pub queues: Vec<crate::queue::QueueEntry>,
    /// A `scheduler` process's cron jobs (spec 3.1), checked as schedules are.
    #[serde(default)]
    pub cron_jobs: Vec<crate::scheduler::ScheduleSpec>,
}

fn one() -> Instances {
    Instances::Count(1)
}

/// An environment value: YAML scalars of any type become strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvValue(pub String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_norway::Value::deserialize(d)? {
            serde_norway::Value::String(s) => Ok(EnvValue(s)),
            serde_norway::Value::Number(n) => Ok(EnvValue(n.to_string())),
            serde_norway::Value::Bool(b) => Ok(EnvValue(b.to_string())),
            serde_norway::Value::Null => Ok(EnvValue(String::new())),
            _ => Err(serde::de::Error::custom("an environment value must be a string, number or boolean")),
        }
    }
}

/// `healthCheck:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthCheckConfig {
    /// Between pings (ms or with a unit; default 5 s).
    #[serde(default, deserialize_with = "interval")]
    pub interval: Option<Duration>,
    /// Ping timeout (default 2 s).
    #[serde(default, deserialize_with = "timeout")]
    pub timeout: Option<Duration>,
    /// Missed pings before a restart (default 3).
    #[serde(default)]
    pub max_missed: Option<u32>,
    /// An HTTP path (spec 3.1); the engine pings over RPC, the path is informational.
    #[serde(default)]
    pub path: Option<String>,
}

/// Parses `1000` (ms), `"1000"`, `"500ms"`, `"5s"`, `"2m"`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((s, "ms"), |i| s.split_at(i));
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn named_duration<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }
    match Raw::deserialize(d) {
        Ok(Raw::N(n)) => Ok(Duration::from_millis(n)),
        Ok(Raw::S(s)) => parse_duration(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{key}: '{s}' is not a duration (ms as a number, or 500ms, 5s, 2m)"
            ))
        }),
        Err(_) => Err(serde::de::Error::custom(format!(
            "{key}: expected a duration (ms as a number, or 500ms, 5s, 2m)"
        ))),
    }
}

macro_rules! duration_fields {
    ($($f:ident => $key:literal),* $(,)?) => {
        $(
            fn $f<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
                named_duration(d, $key).map(Some)
            }
        )*
    };
}

duration_fields! {
    restart_delay => "restartDelay",
    window_opt => "window",
    ready_timeout => "readyTimeout",
    shutdown_timeout => "shutdownTimeout",
    interval => "interval",
    timeout => "timeout",
}

fn window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    named_duration(d, "window")
}

fn ordered_processes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, ProcessConfig)>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<(String, ProcessConfig)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of process names to process settings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, ProcessConfig)> = Vec::new();
            while let Some((k, v)) = m.next_entry::<String, ProcessConfig>()? {
                if out.iter().any(|(n, _)| *n == k) {
                    return Err(serde::de::Error::custom(format!("process '{k}' is defined twice")));
                }
                out.push((k, v));
            }
            Ok(out)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("soon"), None);
    }
}
