//! How long an instance lives.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorCode};

/// An instance's lifetime.
///
/// `request` is accepted as a name for [`Scope::Scoped`]: a request scope is a scope created with the
/// request as its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// One instance per container, created on first use (or at `initialize()`).
    #[default]
    Singleton,
    /// A new instance every time it is resolved. The container does not keep or dispose it.
    Transient,
    /// One instance per scope (`create_scope`); resolving it outside a scope is an error.
    Scoped,
}

impl Scope {
    /// The lowercase name used by every binding.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Singleton => "singleton",
            Scope::Transient => "transient",
            Scope::Scoped => "scoped",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "singleton" => Ok(Scope::Singleton),
            "transient" => Ok(Scope::Transient),
            "scoped" | "request" => Ok(Scope::Scoped),
            other => Err(Error::new(
                ErrorCode::InvalidScope,
                format!(
                    "unknown scope '{other}': expected one of 'singleton', 'transient', 'scoped', 'request'"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_others() {
        assert_eq!("singleton".parse::<Scope>().unwrap(), Scope::Singleton);
        assert_eq!("request".parse::<Scope>().unwrap(), Scope::Scoped);
        let err = "forever".parse::<Scope>().unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidScope);
        assert!(err.message().contains("forever"));
    }
}
