//! Checks every door applies to the options a user hands it: an unknown key is refused with
//! `E001`, naming the key, the nearest valid one and the whole list, in the door's own spelling
//! (the door passes its keys as its users write them: `maxRestarts` from TypeScript,
//! `max_restarts` from Python).
//!
//! The doors look for an unknown key themselves (a set lookup per key, on paths that run often);
//! only when they find one do they ask for the error, so the message is written once, here.
//!
//! The values are checked here too ([`RawOptions`]): a door hands over what its user wrote and
//! each capability reads it with the rules below, in the reader's words.

mod raw;

pub use raw::{RawOptions, Value};

use crate::error::{Error, ErrorCode, Result};

/// What a duration option must be, in the reader's unit: "must be a number of seconds above 0".
pub fn duration_rule(dialect: crate::dialect::Dialect, zero: bool) -> String {
    let unit = dialect.duration_unit();
    if zero {
        format!("must be a number of {unit}, 0 or more")
    } else {
        format!("must be a number of {unit} above 0")
    }
}

/// The error for `key`, unknown among `allowed`, in the options of `context` (`@Supervisor()`,
/// `Pool.start()`, ...).
pub fn unknown_option(context: &str, key: &str, allowed: &[&str]) -> Error {
    let hint = match closest(key, allowed.iter().copied()) {
        Some(k) => format!(": did you mean '{k}'?"),
        None => String::new(),
    };
    let valid = if allowed.is_empty() {
        "it takes no options".to_string()
    } else {
        format!("valid options: {}", allowed.join(", "))
    };
    Error::new(ErrorCode::InvalidArgument, format!("unknown option '{key}' in {context}{hint} ({valid})"))
}

/// `Ok` when every key is one of `allowed`; else the [`unknown_option`] error for the first that
/// is not.
pub fn check_keys<'a>(
    context: &str,
    keys: impl IntoIterator<Item = &'a str>,
    allowed: &[&str],
) -> Result<()> {
    match keys.into_iter().find(|k| !allowed.contains(k)) {
        Some(k) => Err(unknown_option(context, k, allowed)),
        None => Ok(()),
    }
}

/// The candidate nearest to `name`, if one is near enough to be what was meant: the same words in
/// another case or separator (`max_restarts` for `maxRestarts`), or a few letters off (at most one
/// edit per three letters, and at least two).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let folded = fold(name);
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (if fold(c) == folded { 0 } else { strsim::levenshtein(&folded, &fold(c)) }, c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Lower case without `_` and `-`: `maxRestarts`, `max_restarts` and `max-restarts` fold alike.
fn fold(s: &str) -> String {
    s.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUPERVISOR: &[&str] = &["strategy", "maxRestarts", "maxTime", "backoff", "shutdownTimeoutMs"];

    #[test]
    fn an_unknown_key_names_the_nearest_and_the_list() {
        let e = check_keys("@Supervisor()", ["strategy", "shutdownTimeout"], SUPERVISOR).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert!(e.message().contains("unknown option 'shutdownTimeout' in @Supervisor()"), "{}", e.message());
        assert!(e.message().contains("did you mean 'shutdownTimeoutMs'?"), "{}", e.message());
        assert!(e.message().contains("valid options: strategy, maxRestarts"), "{}", e.message());
    }

    #[test]
    fn known_keys_pass() {
        assert!(check_keys("x", ["strategy", "maxTime"], SUPERVISOR).is_ok());
        assert!(check_keys("x", [], &[]).is_ok());
    }

    #[test]
    fn another_spelling_of_the_same_words_is_the_suggestion() {
        assert_eq!(closest("max_restarts", SUPERVISOR.iter().copied()), Some("maxRestarts"));
        assert_eq!(closest("MAXTIME", SUPERVISOR.iter().copied()), Some("maxTime"));
        assert_eq!(closest("stratgy", SUPERVISOR.iter().copied()), Some("strategy"));
    }

    #[test]
    fn nothing_near_suggests_nothing() {
        assert_eq!(closest("colour", SUPERVISOR.iter().copied()), None);
        let e = unknown_option("@Injectable()", "colour", &[]);
        assert!(e.message().ends_with("(it takes no options)"), "{}", e.message());
        assert!(!e.message().contains("did you mean"));
    }
}
