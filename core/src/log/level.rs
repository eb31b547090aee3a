//! Levels and the filter that says, per module, which are written: `info,rpc=debug,orders.payment=off`.

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorCode, Result};

/// A record's severity, numbered as pino numbers them (so pino's tools read the JSON lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Step-by-step detail.
    Trace = 10,
    /// What a developer needs to follow a request (the per-call line is here).
    Debug = 20,
    /// Normal operation.
    Info = 30,
    /// Something unexpected the process recovered from.
    Warn = 40,
    /// An operation failed.
    Error = 50,
    /// The process cannot go on.
    Fatal = 60,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 6] =
        [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal];

    /// pino's number for it.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The level pino's number `n` stands for (10, 20, ... 60), or an error saying which they are:
    /// what every binding checks a level it is handed with.
    pub fn from_number(n: u32) -> Result<Level> {
        Level::ALL.iter().copied().find(|l| u32::from(l.number()) == n).ok_or_else(|| {
            Error::invalid_argument(format!(
                "{n} is not a log level (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal)"
            ))
        })
    }

    /// Its name in lower case, as pino and the filter spell it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const LEVELS: &str = "trace, debug, info, warn, error, fatal or off";

/// A threshold: the least severe level written, or none (`off`).
pub(crate) type Threshold = Option<Level>;

/// Parses a threshold: a level's name in any case (Python's `WARNING` and `CRITICAL` too), or
/// `off` / `silent` (nothing written).
pub(crate) fn parse_threshold(s: &str) -> std::result::Result<Threshold, String> {
    let t = s.trim().to_ascii_lowercase();
    Ok(Some(match t.as_str() {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "info" => Level::Info,
        "warn" | "warning" => Level::Warn,
        "error" => Level::Error,
        "fatal" | "critical" => Level::Fatal,
        "off" | "silent" | "none" => return Ok(None),
        _ => return Err(format!("'{}' is not a level ({LEVELS})", s.trim())),
    }))
}

impl FromStr for Level {
    type Err = Error;

    fn from_str(s: &str) -> Result<Level> {
        match parse_threshold(s) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("'{s}' is a threshold, not a record's level"),
            )),
            Err(e) => Err(Error::new(ErrorCode::InvalidArgument, e)),
        }
    }
}

/// Which records are written: a default threshold and per-module ones. A module is a dotted path
/// (`orders.payment`; Rust's `a::b` is read as `a.b`); a directive applies to its module and every
/// module under it, and the longest that matches wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    default: Threshold,
    /// Longest module first.
    modules: Vec<(String, Threshold)>,
}

impl Default for Filter {
    /// `info`.
    fn default() -> Filter {
        Filter { default: Some(Level::Info), modules: Vec::new() }
    }
}

impl Filter {
    /// Parses `level` or `module=level` items separated by commas (`info,rpc=debug`), as
    /// `OMNITRON_LOG` and `omnitron.yaml`'s `logging.level` write it. A bad item fails with it named.
    pub fn parse(spec: &str) -> Result<Filter> {
        let mut f = Filter::default();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad =
                |why: String| Error::new(ErrorCode::InvalidArgument, format!("log filter '{spec}': {why}"));
            match item.split_once('=') {
                None => f.default = parse_threshold(item).map_err(bad)?,
                Some((m, l)) => {
                    let m = normalize(m.trim());
                    if m.is_empty() || m.split('.').any(str::is_empty) {
                        return Err(bad(format!("'{item}' names no module (module=level)")));
                    }
                    let t = parse_threshold(l).map_err(bad)?;
                    f.set(&m, t);
                }
            }
        }
        Ok(f)
    }

    /// Sets `module`'s threshold (the default's for an empty module).
    pub(crate) fn set(&mut self, module: &str, t: Threshold) {
        let module = normalize(module);
        if module.is_empty() {
            self.default = t;
            return;
        }
        self.modules.retain(|(m, _)| *m != module);
        self.modules.push((module, t));
        self.modules.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    }

    /// The threshold that applies to `module`. The engine's own modules (`omnitron.*`, and the
    /// crates it is built on, whose `tracing` events reach the logger through the bridge) write
    /// warnings and errors only, unless a directive names them: a program's `info` is its own.
    pub fn threshold(&self, module: &str) -> Threshold {
        for (m, t) in &self.modules {
            if covers(m, module) {
                return *t;
            }
        }
        if covers("omnitron", module) || ENGINE_CRATES.iter().any(|c| covers(c, module)) {
            return self.default.map(|d| d.max(Level::Warn));
        }
        self.default
    }

    /// Whether a record of `level` from `module` is written.
    pub fn enabled(&self, level: Level, module: &str) -> bool {
        self.threshold(module).is_some_and(|t| level >= t)
    }

    /// The least severe level any module writes (what a quick check compares with).
    pub(crate) fn most_verbose(&self) -> Threshold {
        self.modules.iter().map(|(_, t)| *t).chain([self.default]).flatten().min()
    }
}

impl fmt::Display for Filter {
    /// The filter as `parse` reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |t: Threshold| t.map_or("off", Level::name);
        f.write_str(name(self.default))?;
        let mut ms: Vec<_> = self.modules.iter().collect();
        ms.sort_by(|a, b| a.0.cmp(&b.0));
        for (m, t) in ms {
            write!(f, ",{m}={}", name(*t))?;
        }
        Ok(())
    }
}

/// The crates under the engine that write `tracing` events of their own.
const ENGINE_CRATES: [&str; 10] =
    ["h2", "hyper", "hyper_util", "rustls", "tokio", "tokio_util", "mio", "redis", "rusqlite", "jsonschema"];

/// A module's path with `::` and `/` read as `.`.
pub(crate) fn normalize(m: &str) -> String {
    if m.contains("::") || m.contains('/') { m.replace("::", ".").replace('/', ".") } else { m.to_string() }
}

/// Whether the directive for `dir` applies to `module` (itself, or a module under it; `a::b` and
/// `a/b` in `module` read as `a.b`).
fn covers(dir: &str, module: &str) -> bool {
    let mut rest = module;
    for seg in dir.split('.') {
        let Some(after) = rest.strip_prefix(seg) else { return false };
        rest = if after.is_empty() {
            after
        } else if let Some(a) = after.strip_prefix("::") {
            a
        } else if let Some(a) = after.strip_prefix(['.', '/']) {
            a
        } else {
            return false;
        };
        if rest.is_empty() && !after.is_empty() {
            return false; // `a.` is no module
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_module_wins_and_covers_submodules_only() {
        let f = Filter::parse("warn, rpc=debug, rpc.peer=off, orders.payment=trace").unwrap();
        assert!(f.enabled(Level::Debug, "rpc"));
        assert!(f.enabled(Level::Debug, "rpc.serve"));
        assert!(f.enabled(Level::Debug, "rpc::serve"));
        assert!(!f.enabled(Level::Fatal, "rpc.peer.x"));
        assert!(!f.enabled(Level::Info, "rpcx"));
        assert!(f.enabled(Level::Trace, "orders/payment"));
        // The engine's modules stay at warn unless named.
        let g = Filter::parse("debug,omnitron.rpc=debug").unwrap();
        assert!(g.enabled(Level::Debug, "omnitron.rpc"));
        assert!(!g.enabled(Level::Info, "omnitron.process.child"));
        assert!(g.enabled(Level::Warn, "omnitron::process::child"));
        assert!(g.enabled(Level::Debug, "omnitronic"));
        assert!(!g.enabled(Level::Info, "h2::proto::streams"), "the engine's crates too");
        assert!(Filter::parse("info,h2=trace").unwrap().enabled(Level::Trace, "h2.codec"));
        assert!(!f.enabled(Level::Info, "orders"));
        assert_eq!(f.most_verbose(), Some(Level::Trace));
        assert_eq!(f.to_string(), "warn,orders.payment=trace,rpc=debug,rpc.peer=off");
        assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
    }

    #[test]
    fn bad_items_are_named() {
        let e = Filter::parse("info,rpc=loud").unwrap_err();
        assert!(e.message().contains("'loud' is not a level"), "{e}");
        let e = Filter::parse("=debug").unwrap_err();
        assert!(e.message().contains("names no module"), "{e}");
        assert!(Filter::parse("verbose").is_err());
        assert_eq!(Filter::parse("").unwrap(), Filter::default());
        assert_eq!(Filter::parse("WARNING").unwrap().threshold("x"), Some(Level::Warn));
        assert_eq!(Filter::parse("silent").unwrap().most_verbose(), None);
    }

    #[test]
    fn a_level_is_one_of_pinos_numbers() {
        assert_eq!(Level::from_number(30).unwrap(), Level::Info);
        assert_eq!(Level::from_number(60).unwrap(), Level::Fatal);
        for n in [0, 5, 35, 99] {
            assert!(Level::from_number(n).unwrap_err().message().contains("is not a log level"), "{n}");
        }
    }
}
