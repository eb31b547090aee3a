//! What a child is: a program, its arguments, environment and working directory, and how long it
//! gets to become ready and to stop.

use std::path::PathBuf;
use std::time::Duration;

/// Environment variable holding the parent's address (`unix:/path`), set for every child.
pub const ENV_PARENT: &str = "OMNITRON_PARENT";
/// Environment variable holding the auth token the child presents to its parent.
pub const ENV_TOKEN: &str = "OMNITRON_TOKEN";
/// Environment variable holding the child's id; the child connects under this name.
pub const ENV_CHILD_ID: &str = "OMNITRON_CHILD_ID";
/// Environment variable holding the child's configured name (`workers`).
pub const ENV_CHILD_NAME: &str = "OMNITRON_CHILD_NAME";
/// Environment variable holding the child's instance index (0-based).
pub const ENV_CHILD_INDEX: &str = "OMNITRON_CHILD_INDEX";

/// The service every parent hosts for its children (the child reports readiness through it).
pub const HOST_SERVICE: &str = "omnitron.host@1.0.0";

/// How the parent checks that a child still answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheck {
    /// Time between pings.
    pub interval: Duration,
    /// How long a ping may take before it counts as missed.
    pub timeout: Duration,
    /// Consecutive missed pings after which the child is treated as crashed (killed and restarted).
    pub max_missed: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck { interval: Duration::from_secs(5), timeout: Duration::from_secs(2), max_missed: 3 }
    }
}

/// A child program: any language, any command.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// A name for logs, metrics and the supervisor (`workers`).
    pub name: String,
    /// The program to run (looked up in `PATH` unless it has a slash).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables (the parent's environment is inherited).
    pub env: Vec<(String, String)>,
    /// Working directory (default: the parent's).
    pub cwd: Option<PathBuf>,
    /// How long it has to connect back and report ready (default 10 s).
    pub ready_timeout: Duration,
    /// How long a stop waits, after SIGTERM, before SIGKILL (default 5 s).
    pub shutdown_timeout: Duration,
    /// Health pings (default: none).
    pub health: Option<HealthCheck>,
}

impl ChildSpec {
    /// A child named `name` running `program`.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        ChildSpec {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            ready_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            health: None,
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Adds arguments.
    pub fn args<S: Into<String>>(mut self, a: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the readiness timeout.
    pub fn ready_timeout(mut self, t: Duration) -> Self {
        self.ready_timeout = t;
        self
    }

    /// Sets the shutdown timeout.
    pub fn shutdown_timeout(mut self, t: Duration) -> Self {
        self.shutdown_timeout = t;
        self
    }

    /// Turns on health pings.
    pub fn health(mut self, h: HealthCheck) -> Self {
        self.health = Some(h);
        self
    }
}

/// Splits a command line as a POSIX shell would for words: whitespace separates, '...' and "..."
/// quote, a backslash escapes the next character (outside single quotes). No expansion.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = cur.take() {
                    out.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed ' in command: {s}")),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => w.push(c),
                            None => return Err(format!("command ends with a backslash: {s}")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed \" in command: {s}")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => cur.get_or_insert_with(String::new).push(c),
                None => return Err(format!("command ends with a backslash: {s}")),
            },
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = cur {
        out.push(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_words(r#"python3 -c "import time; time.sleep(1)" 'a b' c\ d"#).unwrap(),
            vec!["python3", "-c", "import time; time.sleep(1)", "a b", "c d"]
        );
        assert!(split_words("echo 'open").is_err());
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
    }
}
