//! Options as a door's user gave them, before they are checked: numbers, strings and booleans
//! under the keys the user wrote (`failureRate` from TypeScript, `failure_rate` from Python), read
//! by a capability's `from_raw` with the checks written once here. A wrong value is refused with a
//! message in the door's own words: the key as the user spelled it, durations in the door's unit
//! (milliseconds in TypeScript and C, seconds in Python), values as the door writes them.
//!
//! A binding only turns its host's values into [`Value`]s; it checks nothing itself.

use std::cell::RefCell;
use std::time::Duration;

use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};

/// One option's value, as the host gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` / `None` / unset: the default.
    Null,
    /// A number (JavaScript numbers, Python ints and floats, C's fields).
    Number(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// A list (a command's words).
    List(Vec<Value>),
    /// Nested options or a string map (a health check, an environment), keys as the user wrote them.
    Map(Vec<(String, Value)>),
    /// Anything else, described as the door would (`a function`), for the message.
    Other(String),
}

impl Value {
    /// A JSON value as an option's raw value (C's options, `omnitron.yaml` entries).
    pub fn from_json(v: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n.as_f64().map_or(Value::Other("a number out of range".into()), Value::Number),
            J::String(s) => Value::Text(s.clone()),
            J::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            J::Object(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }
}

/// A capability's options as the user gave them, with who reads them and what a wrong one is.
#[derive(Debug, Clone)]
pub struct RawOptions {
    dialect: Dialect,
    /// What the options are for, as messages start: "circuit breaker 'payments'".
    what: String,
    /// The code a wrong value gets (R005 for a resilience policy, ...).
    code: ErrorCode,
    /// (the engine's name of the option, the value).
    values: Vec<(String, Value)>,
    /// The keys as the user wrote them, by the engine's name (for an unknown key's message).
    written: Vec<(String, String)>,
    /// The options read so far (and whether each is a duration), for [`RawOptions::check_unknown`].
    read: RefCell<Vec<(String, bool)>>,
}

impl RawOptions {
    /// Empty options for `what`, read by a user of `dialect`; a wrong value is a `code` error.
    pub fn new(dialect: Dialect, what: impl Into<String>, code: ErrorCode) -> RawOptions {
        RawOptions {
            dialect,
            what: what.into(),
            code,
            values: Vec::new(),
            written: Vec::new(),
            read: RefCell::new(Vec::new()),
        }
    }

    /// Sets `key` (spelled as the door's user wrote it) to `value`.
    pub fn set(&mut self, key: &str, value: Value) -> &mut Self {
        let name = self.dialect.canonical(key).into_owned();
        self.values.retain(|(n, _)| *n != name);
        self.written.retain(|(n, _)| *n != name);
        self.written.push((name.clone(), key.to_string()));
        self.values.push((name, value));
        self
    }

    /// [`RawOptions::set`], chained.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.set(key, value);
        self
    }

    /// Sets each `(key, number)` that is given (a binding's typed fields; `None` stays unset).
    pub fn numbers(mut self, values: &[(&str, Option<f64>)]) -> Self {
        for (key, v) in values {
            if let Some(v) = v {
                self.set(key, Value::Number(*v));
            }
        }
        self
    }

    /// Who reads the messages.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// What the options are for, as messages start.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The value of `name` (the engine's spelling), if it was given and is not null.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.mark(name, false);
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v).filter(|v| **v != Value::Null)
    }

    /// Counts `name` as read (for a reader that took its value with [`RawOptions::get`] and
    /// checked it itself), so that [`RawOptions::check_unknown`] knows it.
    pub fn mark_read(&self, name: &str) {
        self.mark(name, false);
    }

    fn mark(&self, name: &str, duration: bool) {
        let mut read = self.read.borrow_mut();
        match read.iter_mut().find(|(n, _)| n == name) {
            Some(r) => r.1 |= duration,
            None => read.push((name.to_string(), duration)),
        }
    }

    /// Refuses (E001) an option none of the readers asked for, naming the nearest known one: for
    /// a door that does not check its keys itself (C's JSON).
    pub fn check_unknown(&self) -> Result<()> {
        let read = self.read.borrow();
        let known: Vec<String> = read.iter().map(|(n, d)| self.spelled(n, *d)).collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        for (name, key) in &self.written {
            if !read.iter().any(|(n, _)| n == name) {
                return Err(super::unknown_option(&self.what, key, &known));
            }
        }
        Ok(())
    }

    /// `name` as the reader writes it (C's durations end in `_ms`).
    fn spelled(&self, name: &str, duration: bool) -> String {
        if duration { self.dialect.duration_field(name) } else { self.dialect.field(name).into_owned() }
    }

    /// Whether `name` was given (null counts: the user asked for "none").
    pub fn has(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| n == name)
    }

    /// The error for option `name` with a value out of range (`<what>: <name as spelled> <rule>,
    /// got <value>`), with the options' own code.
    pub fn wrong(&self, name: &str, rule: &str) -> Error {
        self.wrong_with(self.code, name, rule)
    }

    /// [`RawOptions::wrong`] for a value of the wrong type: `E001` (Python's `TypeError`).
    fn wrong_type(&self, name: &str, rule: &str) -> Error {
        self.wrong_with(ErrorCode::InvalidArgument, name, rule)
    }

    fn wrong_with(&self, code: ErrorCode, name: &str, rule: &str) -> Error {
        let got = match self.values.iter().find(|(n, _)| n == name) {
            Some((_, v)) => format!(", got {}", self.show(v)),
            None => String::new(),
        };
        let duration = self.read.borrow().iter().any(|(n, d)| n == name && *d);
        Error::new(code, format!("{}: {} {rule}{got}", self.what, self.spelled(name, duration)))
    }

    /// An error about the options as a whole (a rule between two of them).
    pub fn invalid(&self, message: impl std::fmt::Display) -> Error {
        Error::new(self.code, format!("{}: {message}", self.what))
    }

    /// `name` as the reader spells it, for messages about several options.
    pub fn name(&self, name: &str) -> String {
        self.dialect.field(name).into_owned()
    }

    fn show(&self, v: &Value) -> String {
        match v {
            Value::Null => self.dialect.show_null().to_string(),
            Value::Number(n) => format!("{n}"),
            Value::Text(s) => format!("'{s}'"),
            Value::Bool(b) => self.dialect.show_bool(*b).to_string(),
            Value::List(_) => "a list".to_string(),
            Value::Map(_) => "an object".to_string(),
            Value::Other(what) => what.clone(),
        }
    }

    fn number(&self, name: &str, rule: &str) -> Result<Option<f64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(*n)),
            Some(_) => Err(self.wrong_type(name, rule)),
        }
    }

    /// A whole number of at least `min` (and at most `u32::MAX`).
    pub fn count(&self, name: &str, min: u32) -> Result<Option<u32>> {
        let rule = format!("must be a whole number of at least {min}");
        match self.number(name, &rule)? {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && n >= f64::from(min) && n <= f64::from(u32::MAX) => {
                Ok(Some(n as u32))
            }
            Some(_) => Err(self.wrong(name, &rule)),
        }
    }

    /// A rate: above 0 and at most 1.
    pub fn rate(&self, name: &str) -> Result<Option<f64>> {
        let rule = "must be a number above 0 and at most 1";
        match self.number(name, rule)? {
            None => Ok(None),
            Some(r) if r > 0.0 && r <= 1.0 => Ok(Some(r)),
            Some(_) => Err(self.wrong(name, rule)),
        }
    }

    /// A number of at least `min`.
    pub fn at_least(&self, name: &str, min: f64) -> Result<Option<f64>> {
        let rule = format!("must be a number of at least {min}");
        match self.number(name, &rule)? {
            None => Ok(None),
            Some(n) if n.is_finite() && n >= min => Ok(Some(n)),
            Some(_) => Err(self.wrong(name, &rule)),
        }
    }

    /// A duration in the door's unit, longer than 0.
    pub fn duration(&self, name: &str) -> Result<Option<Duration>> {
        self.duration_from(name, false)
    }

    /// A duration in the door's unit, 0 allowed.
    pub fn duration_or_zero(&self, name: &str) -> Result<Option<Duration>> {
        self.duration_from(name, true)
    }

    /// A duration in seconds whatever the door (an option every door documents in seconds, as
    /// a rate limiter's `duration` after rate-limiter-flexible), longer than 0.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>> {
        let rule = super::duration_rule(Dialect::Python, false);
        match self.number(name, &rule)? {
            None => Ok(None),
            Some(v) => match Dialect::Python.duration(v) {
                Some(d) if !d.is_zero() => Ok(Some(d)),
                _ => Err(self.wrong(name, &rule)),
            },
        }
    }

    fn duration_from(&self, name: &str, zero: bool) -> Result<Option<Duration>> {
        self.mark(name, true);
        let rule = super::duration_rule(self.dialect, zero);
        match self.number(name, &rule)? {
            None => Ok(None),
            Some(v) => match self.dialect.duration(v) {
                Some(d) if zero || !d.is_zero() => Ok(Some(d)),
                _ => Err(self.wrong(name, &rule)),
            },
        }
    }

    /// A string.
    pub fn text(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Text(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(name, "must be a string")),
        }
    }

    /// A whole number of at least `min` (up to 2^53, what every door's numbers hold exactly).
    pub fn whole(&self, name: &str, min: u64) -> Result<Option<u64>> {
        let rule = format!("must be a whole number of at least {min}");
        match self.number(name, &rule)? {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= 9_007_199_254_740_992.0 => {
                Ok(Some(n as u64))
            }
            Some(_) => Err(self.wrong(name, &rule)),
        }
    }

    /// A list of strings.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        let rule = "must be a list of strings";
        match self.get(name) {
            None => Ok(None),
            Some(Value::List(items)) => items
                .iter()
                .map(|i| match i {
                    Value::Text(s) => Ok(s.clone()),
                    _ => Err(self.wrong_type(name, rule)),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.wrong_type(name, rule)),
        }
    }

    /// A map of strings to strings (an environment), in the order given.
    pub fn string_map(&self, name: &str) -> Result<Option<Vec<(String, String)>>> {
        let rule = "must map strings to strings";
        match self.get(name) {
            None => Ok(None),
            Some(Value::Map(items)) => items
                .iter()
                .map(|(k, v)| match v {
                    Value::Text(s) => Ok((k.clone(), s.clone())),
                    _ => Err(self.wrong_type(name, rule)),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.wrong_type(name, rule)),
        }
    }

    /// Nested options (a health check's), read as these are: messages start with `<what> <name>`.
    pub fn nested(&self, name: &str) -> Result<Option<RawOptions>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Map(items)) => {
                let mut raw = RawOptions::new(
                    self.dialect,
                    format!("{} {}", self.what, self.dialect.field(name)),
                    self.code,
                );
                for (k, v) in items {
                    raw.set(k, v.clone());
                }
                Ok(Some(raw))
            }
            Some(_) => Err(self.wrong_type(name, "must be an object of options")),
        }
    }

    /// One of `choices`.
    pub fn choice(&self, name: &str, choices: &[&'static str]) -> Result<Option<&'static str>> {
        let rule = format!(
            "must be one of {}",
            choices.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")
        );
        match self.get(name) {
            None => Ok(None),
            Some(Value::Text(s)) => match choices.iter().find(|c| **c == s.as_str()) {
                Some(c) => Ok(Some(c)),
                None => Err(self.wrong(name, &rule)),
            },
            Some(_) => Err(self.wrong_type(name, &rule)),
        }
    }

    /// A boolean.
    pub fn flag(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong_type(name, "must be a boolean")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(d: Dialect) -> RawOptions {
        RawOptions::new(d, "circuit breaker 'x'", ErrorCode::InvalidPolicy)
    }

    #[test]
    fn a_wrong_value_is_named_as_the_door_spells_it() {
        let ts = opts(Dialect::TypeScript).with("minCalls", Value::Number(0.5));
        let e = ts.count("min_calls", 1).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidPolicy);
        assert_eq!(
            e.message(),
            "circuit breaker 'x': minCalls must be a whole number of at least 1, got 0.5"
        );
        let py = opts(Dialect::Python).with("min_calls", Value::Bool(true));
        let e = py.count("min_calls", 1).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "a wrong type is E001");
        assert_eq!(
            e.message(),
            "circuit breaker 'x': min_calls must be a whole number of at least 1, got True"
        );
    }

    #[test]
    fn durations_are_read_in_the_door_s_unit() {
        let ts = opts(Dialect::TypeScript).with("window", Value::Number(1500.0));
        assert_eq!(ts.duration("window").unwrap(), Some(Duration::from_millis(1500)));
        let py = opts(Dialect::Python).with("window", Value::Number(1.5));
        assert_eq!(py.duration("window").unwrap(), Some(Duration::from_millis(1500)));
        let e = opts(Dialect::Python).with("window", Value::Number(0.0)).duration("window").unwrap_err();
        assert_eq!(e.message(), "circuit breaker 'x': window must be a number of seconds above 0, got 0");
        let e = opts(Dialect::TypeScript)
            .with("window", Value::Text("1s".into()))
            .duration("window")
            .unwrap_err();
        assert_eq!(
            e.message(),
            "circuit breaker 'x': window must be a number of milliseconds above 0, got '1s'"
        );
        assert_eq!(
            opts(Dialect::C).with("w", Value::Number(0.0)).duration_or_zero("w").unwrap(),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn null_and_absent_are_the_default_and_other_types_are_described() {
        let o = opts(Dialect::Python).with("rate", Value::Null).with("name", Value::Other("a list".into()));
        assert_eq!(o.rate("rate").unwrap(), None);
        assert!(o.has("rate") && !o.has("other"));
        assert_eq!(
            o.text("name").unwrap_err().message(),
            "circuit breaker 'x': name must be a string, got a list"
        );
        assert_eq!(opts(Dialect::Python).rate("rate").unwrap(), None);
    }
}
