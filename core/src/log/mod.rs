//! One structured logger for the application (decision 0025): records with a level, a module,
//! the process's name, the call being served and the current trace's ids, written as JSON lines
//! shaped as pino writes them (or a readable line on a terminal), to standard error. Every door's
//! logger writes through it (Node's pino-shaped `Logger`, Python's `logging` handler, C's
//! `omnitron_log`, Rust's [`write()`] and the `tracing` events of the engine itself), so what a
//! supervisor forwards from children in four languages is one format, correlated by trace id.
//!
//! Which records are written is a [`Filter`] (`info,rpc=debug`), read from `OMNITRON_LOG` and
//! changed at run time: from code ([`set_filter`], [`set_level`]) or from outside through the file
//! `OMNITRON_LOG_CONTROL` names, which is watched (`omnitron log-level` writes it).
//!
//! ```
//! use omnitron::log::{self, Level, Record};
//!
//! log::set_filter("warn,orders=debug").unwrap();
//! assert!(log::enabled(Level::Debug, "orders.payment"));
//! assert!(!log::enabled(Level::Info, "rpc"));
//! let mut r = Record::new(Level::Info, "orders", "order placed");
//! r.fields = Some(r#"{"orderId":42}"#);
//! log::write(&r); // {"level":30,"time":...,"module":"orders","orderId":42,"msg":"order placed"}
//! ```

mod bridge;
#[cfg(feature = "rpc")]
mod call;
mod control;
mod level;
mod record;

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::SystemTime;

use once_cell::sync::Lazy;
use parking_lot::{Mutex, RwLock};

pub use bridge::{bridged, install_bridge};
#[cfg(feature = "rpc")]
pub(crate) use call::in_call;
#[cfg(feature = "rpc")]
pub use call::{CallName, with_call};
pub use level::{Filter, Level};
#[cfg(feature = "rpc")]
pub(crate) use record::string as record_string;
pub use record::{Format, Record};

use crate::{Error, ErrorCode, Result};
use record::Origin;

struct Logger {
    filter: RwLock<Filter>,
    format: AtomicU8,
    color: AtomicBool,
    origin: RwLock<Origin>,
    /// Set by [`set_writer`]; standard error otherwise.
    writer: Mutex<Option<Box<dyn Write + Send>>>,
    /// What reading the environment found wrong, for [`init_from_env`] to report.
    env_error: Option<Error>,
}

/// The least severe level any module writes, as pino's number; `OFF` when nothing is written;
/// 0 until the logger has read its environment (the first check then reads it).
static MOST_VERBOSE: AtomicU8 = AtomicU8::new(0);
const OFF: u8 = u8::MAX;
/// Bumped on every change of the filter: a door may cache what it asked until this moves.
static GENERATION: AtomicU64 = AtomicU64::new(0);

static LOGGER: Lazy<Logger> = Lazy::new(|| {
    let terminal = std::io::stderr().is_terminal();
    let mut env_error = None;
    let filter = match std::env::var("OMNITRON_LOG") {
        Ok(v) => Filter::parse(&v).unwrap_or_else(|e| {
            env_error = Some(Error::new(ErrorCode::InvalidConfig, format!("OMNITRON_LOG: {}", e.message())));
            Filter::default()
        }),
        Err(_) => Filter::default(),
    };
    let format = match std::env::var("OMNITRON_LOG_FORMAT") {
        Ok(v) => Format::parse(&v, terminal).unwrap_or_else(|| {
            env_error.get_or_insert_with(|| {
                Error::new(
                    ErrorCode::InvalidConfig,
                    format!("OMNITRON_LOG_FORMAT: '{v}' is not json, pretty or auto"),
                )
            });
            Format::parse("auto", terminal).unwrap_or(Format::Json)
        }),
        Err(_) => Format::parse("auto", terminal).unwrap_or(Format::Json),
    };
    // The control file, when there is one, wins over OMNITRON_LOG from the first record on.
    let mut filter = filter;
    if let Some(path) = std::env::var_os("OMNITRON_LOG_CONTROL").filter(|p| !p.is_empty()) {
        let path = std::path::PathBuf::from(path);
        let (seen, first) = control::initial(&path);
        match first {
            Some(Ok(f)) => filter = f,
            Some(Err(e)) => {
                env_error.get_or_insert_with(|| Error::new(ErrorCode::InvalidConfig, e));
            }
            None => {}
        }
        control::watch(path, seen);
    }
    let name = ["OMNITRON_CHILD_NAME", "OTEL_SERVICE_NAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default();
    MOST_VERBOSE.store(filter.most_verbose().map_or(OFF, Level::number), Ordering::Relaxed);
    Logger {
        filter: RwLock::new(filter),
        format: AtomicU8::new(format as u8),
        color: AtomicBool::new(terminal && std::env::var_os("NO_COLOR").is_none()),
        origin: RwLock::new(Origin { pid: std::process::id(), hostname: hostname(), name }),
        writer: Mutex::new(None),
        env_error,
    }
});

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Reads `OMNITRON_LOG`, `OMNITRON_LOG_FORMAT` and `OMNITRON_LOG_CONTROL` (once; later calls
/// report the same), and names the process `name` unless `OMNITRON_CHILD_NAME` or
/// `OTEL_SERVICE_NAME` already did. A value it cannot use fails with `P007` naming the variable
/// (the logger then keeps its defaults for it).
pub fn init_from_env(name: &str) -> Result<()> {
    let l = &*LOGGER;
    if !name.is_empty() {
        let mut o = l.origin.write();
        if o.name.is_empty() {
            o.name = name.to_string();
        }
    }
    l.env_error.clone().map_or(Ok(()), Err)
}

/// Names the process in its records (`name`).
pub fn set_name(name: &str) {
    LOGGER.origin.write().name = name.to_string();
}

/// Whether a record of `level` from `module` would be written.
#[inline]
pub fn enabled(level: Level, module: &str) -> bool {
    if level.number() < MOST_VERBOSE.load(Ordering::Relaxed) {
        return false;
    }
    LOGGER.filter.read().enabled(level, module)
}

/// The filter in force, as [`set_filter`] reads it.
pub fn filter() -> String {
    LOGGER.filter.read().to_string()
}

/// The threshold that applies to `module` (None: nothing is written).
pub fn threshold(module: &str) -> Option<Level> {
    LOGGER.filter.read().threshold(module)
}

/// The least severe level any module writes (None: nothing is written): what a door whose own
/// logging library filters first (Python's) lets through to the filter here.
pub fn most_verbose() -> Option<Level> {
    LOGGER.filter.read().most_verbose() // reads the environment first, if nothing did yet
}

/// A number that changes whenever the filter does.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Replaces the filter (`info,rpc=debug`); a bad one changes nothing and fails naming the item.
pub fn set_filter(spec: &str) -> Result<()> {
    let f = Filter::parse(spec)?;
    replace(|cur| *cur = f);
    Ok(())
}

/// Sets one module's threshold (the default's for `""`), keeping the rest: what pino's
/// `logger.level = 'debug'` means here (Python's `omnitron.log.set_level`; `logging`'s own
/// `setLevel` stays Python's, and filters first). `level` is a level's name or `off` / `silent`.
pub fn set_level(module: &str, level: &str) -> Result<()> {
    let t = level::parse_threshold(level).map_err(|e| Error::new(ErrorCode::InvalidArgument, e))?;
    let module = module.trim();
    // The names the filter's text can hold: what `filter()` writes, `set_filter` reads back.
    let bad = module.chars().any(|c| c == ',' || c == '=' || c.is_whitespace())
        || level::normalize(module).split('.').any(str::is_empty);
    if bad && !module.is_empty() {
        return Err(Error::invalid_argument(format!("'{module}' is not a module name")));
    }
    replace(|cur| cur.set(module, t));
    Ok(())
}

fn replace(change: impl FnOnce(&mut Filter)) {
    let mut f = LOGGER.filter.write();
    change(&mut f);
    MOST_VERBOSE.store(f.most_verbose().map_or(OFF, Level::number), Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::Release);
}

/// How records are written from now on.
pub fn set_format(format: Format) {
    LOGGER.format.store(format as u8, Ordering::Relaxed);
}

/// Writes records to `w` instead of standard error (a file, a buffer in a test).
pub fn set_writer(w: Box<dyn Write + Send>) {
    *LOGGER.writer.lock() = Some(w);
    LOGGER.color.store(false, Ordering::Relaxed);
}

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(256));
}

/// Writes `r` if the filter lets it through, in one write (lines from several threads and
/// processes sharing a pipe do not interleave). Its trace is the current context's unless it
/// names one. A failed write is dropped: logging never stops the application.
pub fn write(r: &Record<'_>) {
    if !enabled(r.level, r.module) {
        return;
    }
    let current = if r.trace.is_none() { crate::telemetry::current() } else { None };
    let trace = r.trace.or(current.as_ref());
    let l = &*LOGGER;
    #[cfg(feature = "rpc")]
    let call = if r.service.is_none() && r.method.is_none() { call::current() } else { None };
    #[cfg(feature = "rpc")]
    let r = &match &call {
        Some(c) => Record { service: Some(&c.service), method: Some(&c.method), ..*r },
        None => *r,
    };
    LINE.with(|buf| {
        let Ok(mut out) = buf.try_borrow_mut() else { return };
        out.clear();
        let now = SystemTime::now();
        let origin = l.origin.read();
        if l.format.load(Ordering::Relaxed) == Format::Pretty as u8 {
            record::pretty(&mut out, r, trace, &origin, now, l.color.load(Ordering::Relaxed));
        } else {
            record::json(&mut out, r, trace, &origin, now);
        }
        drop(origin);
        let mut w = l.writer.lock();
        let _ = match w.as_mut() {
            Some(w) => w.write_all(out.as_bytes()).and_then(|()| w.flush()),
            None => std::io::stderr().lock().write_all(out.as_bytes()),
        };
    });
}

/// Whether `line` is a record another process's logger wrote (a JSON line in this shape): what a
/// supervisor passes on as it is rather than wrapping it in a record of its own.
pub fn is_record(line: &str) -> bool {
    line.starts_with("{\"level\":") && line.ends_with('}')
}

/// Writes `line` (a record another process wrote, see [`is_record`]) as it is, with its newline.
pub fn write_line(line: &str) {
    let l = &*LOGGER;
    let mut w = l.writer.lock();
    let _ = match w.as_mut() {
        Some(w) => w.write_all(line.as_bytes()).and_then(|()| w.write_all(b"\n")).and_then(|()| w.flush()),
        None => {
            let mut buf = Vec::with_capacity(line.len() + 1);
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            std::io::stderr().lock().write_all(&buf)
        }
    };
}

/// [`write()`] for a door that passes fields it was handed: they must be the text of one JSON
/// object, else nothing is written and the call fails.
pub fn write_checked(r: &Record<'_>) -> Result<()> {
    if let Some(f) = r.fields {
        let f = f.trim();
        let object = f.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(f).is_ok();
        if !object {
            return Err(Error::invalid_argument("a log record's fields must be one JSON object"));
        }
    }
    write(r);
    Ok(())
}
