//! Event topic patterns: dot-separated words where `*` matches exactly one word and `#` matches zero
//! or more (AMQP's topic rules): `order.*` matches `order.created`; `order.#` matches `order`,
//! `order.created` and `order.item.added`.

use crate::error::{Error, ErrorCode, Result};

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    words: Vec<Word>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Exact(String),
    One,
    Any,
}

fn check_topic_words(s: &str, what: &str) -> Result<()> {
    if s.is_empty() || s.split('.').any(str::is_empty) {
        return Err(Error::invalid_argument(format!(
            "invalid {what} '{s}': dot-separated words, none empty (for example 'order.created')"
        )));
    }
    Ok(())
}

/// Checks an event topic (words, no wildcards).
pub fn check_topic(topic: &str) -> Result<()> {
    check_topic_words(topic, "event topic")?;
    if topic.split('.').any(|w| w == "*" || w == "#") {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("invalid event topic '{topic}': '*' and '#' are for subscription patterns, not topics"),
        ));
    }
    Ok(())
}

impl Pattern {
    /// Compiles a pattern.
    pub fn new(source: &str) -> Result<Pattern> {
        check_topic_words(source, "event pattern")?;
        let words = source
            .split('.')
            .map(|w| match w {
                "*" => Word::One,
                "#" => Word::Any,
                w => Word::Exact(w.to_string()),
            })
            .collect();
        Ok(Pattern { source: source.to_string(), words })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `topic` matches.
    pub fn matches(&self, topic: &str) -> bool {
        let topic: Vec<&str> = topic.split('.').collect();
        matches_from(&self.words, &topic)
    }
}

fn matches_from(p: &[Word], t: &[&str]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((Word::Any, rest)) => (0..=t.len()).any(|skip| matches_from(rest, &t[skip..])),
        Some((Word::One, rest)) => !t.is_empty() && matches_from(rest, &t[1..]),
        Some((Word::Exact(w), rest)) => t.first() == Some(&w.as_str()) && matches_from(rest, &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let m = |p: &str, t: &str| Pattern::new(p).unwrap().matches(t);
        assert!(m("order.created", "order.created"));
        assert!(!m("order.created", "order.updated"));
        assert!(m("order.*", "order.created"));
        assert!(!m("order.*", "order.item.added"));
        assert!(!m("order.*", "order"));
        assert!(m("order.#", "order"));
        assert!(m("order.#", "order.item.added"));
        assert!(m("#", "anything.at.all"));
        assert!(m("*.created", "user.created"));
        assert!(m("a.#.z", "a.z"));
        assert!(m("a.#.z", "a.b.c.z"));
        assert!(!m("a.#.z", "a.b.c"));
        for bad in ["", "a..b", ".a", "a."] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
        assert!(check_topic("order.*").is_err());
        check_topic("order.created").unwrap();
    }
}
