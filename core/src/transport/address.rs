//! Where a server listens: `unix:/path` (or an absolute path) for a local socket, `tcp://host:port`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, ErrorCode, Result};

/// A transport address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A Unix domain socket at this path.
    Local(PathBuf),
    /// TCP, `host:port`.
    Tcp(String),
}

impl Address {
    /// A fresh local socket path in a private directory of this user (`$XDG_RUNTIME_DIR/omnitron` or
    /// `/tmp/omnitron-<uid>`, created with mode 0700), named after `name` and this process.
    pub fn private_local(name: &str) -> Result<Address> {
        let dir = super::local::private_dir()?;
        let unique = format!(
            "{}-{}-{}.sock",
            name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>(),
            std::process::id(),
            fastrand::u32(..)
        );
        Ok(Address::Local(dir.join(unique)))
    }

    /// Whether it is TCP (which requires an auth token).
    pub fn is_tcp(&self) -> bool {
        matches!(self, Address::Tcp(_))
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Address> {
        let bad = |why: &str| {
            Err(Error::new(
                ErrorCode::InvalidService,
                format!("invalid address '{s}': {why} (expected unix:/path/to.sock or tcp://host:port)"),
            ))
        };
        if let Some(rest) = s.strip_prefix("tcp://").or_else(|| s.strip_prefix("tcp:")) {
            match rest.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(Address::Tcp(rest.to_string()))
                }
                _ => bad("a TCP address needs host:port"),
            }
        } else if let Some(rest) = s.strip_prefix("unix://").or_else(|| s.strip_prefix("unix:")) {
            if rest.is_empty() { bad("empty path") } else { Ok(Address::Local(PathBuf::from(rest))) }
        } else if s.starts_with('/') {
            Ok(Address::Local(PathBuf::from(s)))
        } else {
            bad("unknown scheme")
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Local(p) => write!(f, "unix:{}", p.display()),
            Address::Tcp(h) => write!(f, "tcp://{h}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!("unix:/a/b.sock".parse::<Address>().unwrap(), Address::Local("/a/b.sock".into()));
        assert_eq!("/a/b.sock".parse::<Address>().unwrap(), Address::Local("/a/b.sock".into()));
        assert_eq!("tcp://127.0.0.1:80".parse::<Address>().unwrap(), Address::Tcp("127.0.0.1:80".into()));
        assert_eq!(Address::Tcp("h:1".into()).to_string(), "tcp://h:1");
        for bad in ["tcp://nohost", "http://x", "relative.sock", "unix:", "tcp://h:99999"] {
            assert_eq!(bad.parse::<Address>().unwrap_err().code(), ErrorCode::InvalidService, "{bad}");
        }
    }
}
