//! The stores the cases run against. Each test gets its own place: a file in a fresh directory
//! for SQLite, a fresh key prefix on the Redis at `OMNITRON_TEST_REDIS_URL` (default
//! 127.0.0.1:6379) for Redis. Both are removed when the test ends, passed or failed.

use std::path::PathBuf;
use std::sync::Arc;

use omnitron::queue::{SqliteStore, Store};

/// Where the child of the kill -9 case finds its parent's store.
pub(crate) const CHILD_KIND: &str = "OMNITRON_QUEUE_TEST_CHILD";
const CHILD_AT: &str = "OMNITRON_QUEUE_TEST_STORE";
#[cfg(feature = "redis")]
const CHILD_PREFIX: &str = "OMNITRON_QUEUE_TEST_PREFIX";

#[cfg(feature = "redis")]
pub(crate) fn redis_url() -> String {
    std::env::var("OMNITRON_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub(crate) enum Place {
    Sqlite(PathBuf),
    #[cfg(feature = "redis")]
    Redis {
        url: String,
        prefix: String,
    },
}

/// One test's store; [`Backend::store`] opens a handle on it (each call a new one: a second
/// writer on the same file, or a second connection to the same keys).
pub(crate) struct Backend {
    place: Place,
    /// Removed on drop (the child of the kill -9 case borrows its parent's and leaves it).
    owned: bool,
}

impl Backend {
    pub(crate) fn sqlite() -> Backend {
        let dir = std::env::temp_dir().join(format!(
            "omnitron-queue-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Backend { place: Place::Sqlite(dir), owned: true }
    }

    #[cfg(feature = "redis")]
    pub(crate) fn redis() -> Backend {
        let prefix = format!("omni-test-{}-{:08x}", std::process::id(), fastrand::u32(..));
        Backend { place: Place::Redis { url: redis_url(), prefix }, owned: true }
    }

    pub(crate) fn is_redis(&self) -> bool {
        !matches!(self.place, Place::Sqlite(_))
    }

    pub(crate) async fn store(&self) -> Arc<dyn Store> {
        match &self.place {
            Place::Sqlite(dir) => Arc::new(SqliteStore::open(dir.join("q.db")).unwrap()),
            #[cfg(feature = "redis")]
            Place::Redis { url, prefix } => {
                let opts = omnitron::queue::RedisStoreOptions::new(url.as_str()).prefix(prefix.as_str());
                match omnitron::queue::RedisStore::connect_with(opts).await {
                    Ok(s) => Arc::new(s),
                    Err(e) => panic!("the Redis tests need a Redis server at {url}: {e}"),
                }
            }
        }
    }

    /// What a child process needs to open this store ([`Backend::from_env`]).
    pub(crate) fn child_env(&self) -> Vec<(&'static str, String)> {
        match &self.place {
            Place::Sqlite(dir) => vec![(CHILD_KIND, "sqlite".into()), (CHILD_AT, dir.display().to_string())],
            #[cfg(feature = "redis")]
            Place::Redis { url, prefix } => {
                vec![(CHILD_KIND, "redis".into()), (CHILD_AT, url.clone()), (CHILD_PREFIX, prefix.clone())]
            }
        }
    }

    /// The parent's store, in a child; `None` outside one.
    pub(crate) fn from_env() -> Option<Backend> {
        let kind = std::env::var(CHILD_KIND).ok()?;
        let at = std::env::var(CHILD_AT).unwrap();
        let place = match kind.as_str() {
            "sqlite" => Place::Sqlite(at.into()),
            #[cfg(feature = "redis")]
            "redis" => Place::Redis { url: at, prefix: std::env::var(CHILD_PREFIX).unwrap() },
            other => panic!("unknown store kind '{other}'"),
        };
        Some(Backend { place, owned: false })
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        match &self.place {
            Place::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            #[cfg(feature = "redis")]
            Place::Redis { url, prefix } => delete_keys(url, prefix),
        }
    }
}

/// SCAN + DEL of every key under the test's prefix.
#[cfg(feature = "redis")]
fn delete_keys(url: &str, prefix: &str) {
    let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else { return };
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)
        else {
            return;
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
