//! The vocabulary of each door, so the engine's messages name what the reader actually wrote:
//! the option as their door spells it (`failureRate` or `failure_rate`), durations in their unit
//! (milliseconds in TypeScript and C, seconds in Python), and, for dependency injection, the calls
//! they have (`di/dialect.rs`).

use std::borrow::Cow;
use std::time::Duration;

/// Which API the reader of a message uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Dialect {
    /// The Rust crate.
    #[default]
    Rust,
    /// The C ABI.
    C,
    /// The Node / TypeScript package.
    TypeScript,
    /// The Python package.
    Python,
}

impl Dialect {
    /// An option's name (given as the engine writes it, `failure_rate`) as this door spells it.
    pub fn field(self, name: &str) -> Cow<'_, str> {
        match self {
            Dialect::TypeScript if name.contains('_') => Cow::Owned(camel_case(name)),
            _ => Cow::Borrowed(name),
        }
    }

    /// A duration option's name as this door spells it: C's end in `_ms` (`ready_timeout_ms`).
    pub fn duration_field(self, name: &str) -> String {
        match self {
            Dialect::C => format!("{name}_ms"),
            _ => self.field(name).into_owned(),
        }
    }

    /// An option's name as this door spells it (`failureRate`, C's `ready_timeout_ms`) in the
    /// engine's own spelling (`failure_rate`, `ready_timeout`).
    pub fn canonical(self, key: &str) -> Cow<'_, str> {
        match self {
            Dialect::TypeScript if key.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Owned(snake_case(key)),
            Dialect::C if key.ends_with("_ms") => Cow::Borrowed(&key[..key.len() - 3]),
            _ => Cow::Borrowed(key),
        }
    }

    /// The unit this door gives durations in: "milliseconds" or "seconds".
    pub fn duration_unit(self) -> &'static str {
        match self {
            Dialect::Python => "seconds",
            Dialect::Rust | Dialect::C | Dialect::TypeScript => "milliseconds",
        }
    }

    /// A number given in this door's duration unit, as a duration; None when it is not a finite
    /// number of at least 0 that a duration can hold.
    pub fn duration(self, v: f64) -> Option<Duration> {
        let secs = if self == Dialect::Python { v } else { v / 1000.0 };
        // Longer than any real wait (317 years), short enough for every clock to add.
        if !(v.is_finite() && v >= 0.0 && secs <= 1e10) {
            return None;
        }
        Duration::try_from_secs_f64(secs).ok()
    }

    /// A duration in this door's unit, for messages: "1500 ms" or "1.5 s".
    pub fn show_duration(self, d: Duration) -> String {
        match self {
            Dialect::Python => format!("{} s", d.as_secs_f64()),
            Dialect::Rust | Dialect::C | Dialect::TypeScript => format!("{} ms", d.as_secs_f64() * 1000.0),
        }
    }

    /// A boolean as this door writes it.
    pub fn show_bool(self, b: bool) -> &'static str {
        match (self, b) {
            (Dialect::Python, true) => "True",
            (Dialect::Python, false) => "False",
            (_, true) => "true",
            (_, false) => "false",
        }
    }

    /// "no value" as this door writes it.
    pub fn show_null(self) -> &'static str {
        match self {
            Dialect::Python => "None",
            Dialect::TypeScript => "null",
            Dialect::C => "NULL",
            Dialect::Rust => "None",
        }
    }
}

fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_spelled_as_each_door_writes_them() {
        assert_eq!(Dialect::TypeScript.field("half_open_max_calls"), "halfOpenMaxCalls");
        assert_eq!(Dialect::Python.field("half_open_max_calls"), "half_open_max_calls");
        assert_eq!(Dialect::TypeScript.canonical("halfOpenMaxCalls"), "half_open_max_calls");
        assert_eq!(Dialect::Python.canonical("halfOpenMaxCalls"), "halfOpenMaxCalls");
        assert_eq!(Dialect::TypeScript.field("window"), "window");
    }

    #[test]
    fn durations_are_in_each_door_s_unit() {
        assert_eq!(Dialect::Python.duration(1.5), Some(Duration::from_millis(1500)));
        assert_eq!(Dialect::TypeScript.duration(1.5), Some(Duration::from_micros(1500)));
        assert_eq!(Dialect::C.duration(-1.0), None);
        assert_eq!(Dialect::TypeScript.duration(f64::NAN), None);
        assert_eq!(Dialect::Python.duration(1e300), None);
        assert_eq!(Dialect::Python.show_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(Dialect::TypeScript.show_duration(Duration::from_millis(1500)), "1500 ms");
    }
}
