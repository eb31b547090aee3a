//! The engine's own diagnostics (`tracing` events in core: a child that would not start, a
//! collector that refused spans) written through the logger, as module `omnitron.<path>`. Each
//! binding installs it when it loads; a Rust program calls [`install_bridge`] if it wants them
//! here rather than in its own `tracing` subscriber.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

use super::record::string;
use super::{Level, Record};

struct Bridge;

fn level_of(l: &tracing::Level) -> Level {
    match *l {
        tracing::Level::TRACE => Level::Trace,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Info,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::ERROR => Level::Error,
    }
}

#[derive(Default)]
struct Fields {
    msg: String,
    json: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            self.key(field);
            string(&mut self.json, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.json, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.json, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        let _ = write!(self.json, "{value}");
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            self.key(field);
            string(&mut self.json, &format!("{value:?}"));
        }
    }
}

impl Fields {
    fn key(&mut self, field: &Field) {
        self.json.push(if self.json.is_empty() { '{' } else { ',' });
        string(&mut self.json, field.name());
        self.json.push(':');
    }
}

impl Subscriber for Bridge {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The filter changes at run time: ask each time (`enabled` is one load when off).
        Interest::sometimes()
    }

    fn enabled(&self, m: &Metadata<'_>) -> bool {
        super::enabled(level_of(m.level()), m.target())
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &SpanRecord<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, e: &Event<'_>) {
        let m = e.metadata();
        let mut f = Fields::default();
        e.record(&mut f);
        if !f.json.is_empty() {
            f.json.push('}');
        }
        let module = m.target().replace("::", ".");
        let mut r = Record::new(level_of(m.level()), &module, &f.msg);
        r.fields = (!f.json.is_empty()).then_some(f.json.as_str());
        super::write(&r);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

static BRIDGED: AtomicBool = AtomicBool::new(false);

/// Sends `tracing` events (the engine's, and any the program makes) to the logger, unless the
/// program has set a global subscriber of its own (then this does nothing and returns false).
pub fn install_bridge() -> bool {
    let ok = tracing::subscriber::set_global_default(Bridge).is_ok();
    if ok {
        BRIDGED.store(true, Ordering::Relaxed);
    }
    ok || BRIDGED.load(Ordering::Relaxed)
}

/// Whether the engine's `tracing` events go to this logger (see [`install_bridge`]).
pub fn bridged() -> bool {
    BRIDGED.load(Ordering::Relaxed)
}
