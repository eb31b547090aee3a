//! One log record and the two ways it is written: a JSON line shaped as pino writes one (`level`
//! as pino's number, `time` in epoch milliseconds, `pid`, `hostname`, `msg`), so pino's tools and
//! any JSON log pipeline read it, or a readable line for a terminal.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::level::Level;
use crate::telemetry::TraceContext;

/// A record to write. The standard fields come first, then `fields`, then `msg`.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Its severity.
    pub level: Level,
    /// The module it comes from (`orders.payment`): what the filter matches.
    pub module: &'a str,
    /// The message.
    pub msg: &'a str,
    /// More fields, as the text of one JSON object (`{"orderId":42}`); its keys follow the
    /// standard ones.
    pub fields: Option<&'a str>,
    /// The service whose call is being served, when there is one.
    pub service: Option<&'a str>,
    /// The method being served.
    pub method: Option<&'a str>,
    /// The trace the record belongs to: its `trace_id`, `span_id` and `trace_flags` are written
    /// (OpenTelemetry's names for them in logs). Unset: the current context's.
    pub trace: Option<&'a TraceContext>,
}

impl<'a> Record<'a> {
    /// A record with no more fields, no call and the current trace.
    pub fn new(level: Level, module: &'a str, msg: &'a str) -> Record<'a> {
        Record { level, module, msg, fields: None, service: None, method: None, trace: None }
    }
}

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// A line for people: time, level, process, module, message, fields, trace.
    Pretty,
}

impl Format {
    /// `json`, `pretty`, or `auto` (pretty on a terminal, JSON otherwise: what a supervisor or a
    /// log collector reads is JSON).
    pub fn parse(s: &str, terminal: bool) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "pretty" | "text" => Some(Format::Pretty),
            "auto" | "" => Some(if terminal { Format::Pretty } else { Format::Json }),
            _ => None,
        }
    }
}

/// Who writes: fixed for the process.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) pid: u32,
    pub(crate) hostname: String,
    pub(crate) name: String,
}

/// Appends `r` as one JSON line (with its newline) to `out`.
pub(crate) fn json(
    out: &mut String,
    r: &Record<'_>,
    trace: Option<&TraceContext>,
    o: &Origin,
    now: SystemTime,
) {
    let ms = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let _ = write!(out, "{{\"level\":{},\"time\":{ms},\"pid\":{},\"hostname\":", r.level.number(), o.pid);
    string(out, &o.hostname);
    if !o.name.is_empty() {
        out.push_str(",\"name\":");
        string(out, &o.name);
    }
    if !r.module.is_empty() {
        out.push_str(",\"module\":");
        string(out, r.module);
    }
    if let Some(s) = r.service {
        out.push_str(",\"service\":");
        string(out, s);
    }
    if let Some(m) = r.method {
        out.push_str(",\"method\":");
        string(out, m);
    }
    if let Some(t) = trace {
        let _ = write!(
            out,
            ",\"trace_id\":\"{:032x}\",\"span_id\":\"{:016x}\",\"trace_flags\":\"{:02x}\"",
            t.trace_id,
            t.span_id,
            u8::from(t.sampled)
        );
    }
    if let Some(f) = r.fields {
        let f = f.trim();
        let inner = f.strip_prefix('{').and_then(|f| f.strip_suffix('}')).unwrap_or("").trim();
        if !inner.is_empty() {
            out.push(',');
            out.push_str(inner);
        }
    }
    out.push_str(",\"msg\":");
    string(out, r.msg);
    out.push_str("}\n");
}

/// Appends `r` as a readable line: `2026-12-07T10:23:45.123Z INFO  orders rpc: message {"id":1} service/method trace=4bf92f35…`.
pub(crate) fn pretty(
    out: &mut String,
    r: &Record<'_>,
    trace: Option<&TraceContext>,
    o: &Origin,
    now: SystemTime,
    color: bool,
) {
    let (on, off) = match (color, r.level) {
        (false, _) => ("", ""),
        (true, Level::Trace | Level::Debug) => ("\x1b[2m", "\x1b[0m"),
        (true, Level::Info) => ("\x1b[32m", "\x1b[0m"),
        (true, Level::Warn) => ("\x1b[33m", "\x1b[0m"),
        (true, Level::Error | Level::Fatal) => ("\x1b[31m", "\x1b[0m"),
    };
    let _ = write!(out, "{} {on}{:<5}{off}", crate::time::rfc3339(now), r.level.name().to_ascii_uppercase());
    if !o.name.is_empty() {
        let _ = write!(out, " {}", o.name);
    }
    if !r.module.is_empty() {
        let _ = write!(out, " {}:", r.module);
    }
    let _ = write!(out, " {}", r.msg.replace('\n', "\n    "));
    if let Some(f) = r.fields.map(str::trim).filter(|f| *f != "{}" && !f.is_empty()) {
        let _ = write!(out, " {f}");
    }
    match (r.service, r.method) {
        (Some(s), Some(m)) => {
            let _ = write!(out, " [{s}/{m}]");
        }
        (None, Some(m)) => {
            let _ = write!(out, " [{m}]");
        }
        _ => {}
    }
    if let Some(t) = trace {
        let _ = write!(out, " trace={:032x} span={:016x}", t.trace_id, t.span_id);
    }
    out.push('\n');
}

/// Appends `s` as a JSON string.
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin { pid: 7, hostname: "h".into(), name: "inventory".into() }
    }

    #[test]
    fn a_json_line_is_pino_shaped_and_parses() {
        let t = TraceContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
        let mut r = Record::new(Level::Warn, "orders.payment", "low \"stock\"\n\u{1}");
        r.fields = Some(r#" {"sku":"a-1","n":{"m":{}}} "#);
        r.service = Some("inventory");
        r.method = Some("reserve");
        let mut out = String::new();
        json(
            &mut out,
            &r,
            Some(&t),
            &origin(),
            SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1234),
        );
        assert!(out.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["level"], 40);
        assert_eq!(v["time"], 1234);
        assert_eq!(v["name"], "inventory");
        assert_eq!(v["module"], "orders.payment");
        assert_eq!(v["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(v["span_id"], "00f067aa0ba902b7");
        assert_eq!(v["trace_flags"], "01");
        assert_eq!(v["sku"], "a-1");
        assert_eq!(v["msg"], "low \"stock\"\n\u{1}");
        assert!(out.find("\"sku\"").unwrap() < out.find("\"msg\"").unwrap());
    }

    #[test]
    fn a_line_another_process_wrote_is_known_as_a_record() {
        let mut out = String::new();
        json(&mut out, &Record::new(Level::Info, "m", "x"), None, &origin(), SystemTime::UNIX_EPOCH);
        assert!(super::super::is_record(out.trim_end()));
        assert!(!super::super::is_record("{\"msg\":1}"));
        assert!(!super::super::is_record("plain text"));
    }

    #[test]
    fn a_pretty_line_reads() {
        let mut r = Record::new(Level::Info, "rpc", "served");
        r.fields = Some("{}");
        let mut out = String::new();
        pretty(&mut out, &r, None, &origin(), SystemTime::UNIX_EPOCH, false);
        assert_eq!(out, "1970-01-01T00:00:00.000Z INFO  inventory rpc: served\n");
    }
}
