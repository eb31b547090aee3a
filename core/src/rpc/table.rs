//! The service table: every service this peer can route to, by name and version, hosted here or by
//! connected peers, and how `name`, `name@1.2.0` and `name@^1` pick one.
//!
//! A name and version hosted here is unique. The same name and version registered by several
//! connected peers is one service with several instances (a pool, `instances: 2` in a config): calls
//! are spread over them in turn.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use semver::{Version, VersionReq};

use super::conn::Conn;
use super::hosted::LocalService;
use crate::error::{Error, ErrorCode, Result};

/// Who answers for a service.
#[derive(Debug, Clone)]
pub(crate) enum Provider {
    Local(Arc<LocalService>),
    Remote { conn: Arc<Conn>, methods: Arc<Vec<String>>, streams: Arc<Vec<String>> },
}

impl Provider {
    pub(crate) fn methods(&self) -> Vec<String> {
        match self {
            Provider::Local(s) => s.service.methods(),
            Provider::Remote { methods, .. } => methods.to_vec(),
        }
    }

    pub(crate) fn streams(&self) -> Vec<String> {
        match self {
            Provider::Local(s) => s.service.streams(),
            Provider::Remote { streams, .. } => streams.to_vec(),
        }
    }
}

/// What a target resolved to.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) name: String,
    pub(crate) version: Version,
    pub(crate) provider: Provider,
}

impl Resolved {
    pub(crate) fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// The instances of one name and version.
#[derive(Debug, Default)]
struct Instances {
    list: Vec<Provider>,
    next: std::sync::atomic::AtomicUsize,
}

impl Instances {
    fn pick(&self) -> &Provider {
        if self.list.len() == 1 {
            return &self.list[0];
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.list[i % self.list.len()]
    }
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    services: HashMap<String, BTreeMap<Version, Instances>>,
    /// Targets already resolved (`payment@^1` -> payment 1.2.0); emptied on every change.
    cache: parking_lot::Mutex<HashMap<String, Arc<Resolved>>>,
}

/// How a caller asked for a version.
enum Want {
    Latest,
    Exact(Version),
    Range(VersionReq),
}

fn parse_target(target: &str) -> Result<(&str, Want)> {
    let (name, want) = match target.split_once('@') {
        None => (target, Want::Latest),
        Some((name, v)) => {
            let want = if let Ok(exact) = Version::parse(v) {
                Want::Exact(exact)
            } else {
                Want::Range(VersionReq::parse(v).map_err(|e| {
                    Error::new(
                        ErrorCode::InvalidService,
                        format!("invalid version or range '{v}' in '{target}': {e} (for example 1.2.0, ^1, ~1.2, >=1, <3)"),
                    )
                })?)
            };
            (name, want)
        }
    };
    if name.is_empty() {
        return Err(Error::new(ErrorCode::InvalidService, format!("'{target}' names no service")));
    }
    Ok((name, want))
}

impl Table {
    pub(crate) fn insert(&mut self, name: &str, version: Version, p: Provider) -> Result<()> {
        self.cache.get_mut().clear();
        let versions = self.services.entry(name.to_string()).or_default();
        let instances = versions.entry(version.clone()).or_default();
        let clash = instances.list.iter().any(|q| match (q, &p) {
            (Provider::Remote { conn: a, .. }, Provider::Remote { conn: b, .. }) => a.id == b.id,
            _ => true,
        });
        if clash {
            return Err(Error::new(
                ErrorCode::DuplicateService,
                format!(
                    "service '{name}@{version}' is already exposed; unexpose it first or use another version"
                ),
            ));
        }
        instances.list.push(p);
        Ok(())
    }

    /// Removes a name and version hosted here.
    pub(crate) fn remove(&mut self, name: &str, version: &Version) -> Option<Provider> {
        self.cache.get_mut().clear();
        let versions = self.services.get_mut(name)?;
        let p = versions.remove(version).and_then(|mut i| i.list.pop());
        if versions.is_empty() {
            self.services.remove(name);
        }
        p
    }

    /// Removes the instance of `name@version` that connection `conn_id` registered.
    pub(crate) fn remove_remote(&mut self, name: &str, version: &Version, conn_id: u64) -> bool {
        self.cache.get_mut().clear();
        let Some(versions) = self.services.get_mut(name) else { return false };
        let Some(instances) = versions.get_mut(version) else { return false };
        let before = instances.list.len();
        instances.list.retain(|p| !matches!(p, Provider::Remote { conn, .. } if conn.id == conn_id));
        let removed = instances.list.len() != before;
        if instances.list.is_empty() {
            versions.remove(version);
        }
        if versions.is_empty() {
            self.services.remove(name);
        }
        removed
    }

    /// Removes everything a connection registered.
    pub(crate) fn remove_conn(&mut self, conn_id: u64) -> Vec<String> {
        self.cache.get_mut().clear();
        let mut gone = Vec::new();
        for (name, versions) in self.services.iter_mut() {
            versions.retain(|v, instances| {
                let before = instances.list.len();
                instances.list.retain(|p| !matches!(p, Provider::Remote { conn, .. } if conn.id == conn_id));
                if instances.list.len() != before {
                    gone.push(format!("{name}@{v}"));
                }
                !instances.list.is_empty()
            });
        }
        self.services.retain(|_, v| !v.is_empty());
        gone
    }

    /// What `target` resolves to, if anything: the fast path (no error built), cached.
    pub(crate) fn lookup(&self, target: &str) -> Option<Arc<Resolved>> {
        if let Some(r) = self.cache.lock().get(target) {
            return Some(r.clone());
        }
        let name = target.split_once('@').map_or(target, |(n, _)| n);
        if !self.services.contains_key(name) {
            return None;
        }
        let (r, single) = self.resolve_with(target).ok()?;
        let r = Arc::new(r);
        let mut cache = self.cache.lock();
        // A service with several instances is picked afresh on every call.
        if single && cache.len() < 4096 {
            cache.insert(target.to_string(), r.clone());
        }
        Some(r)
    }

    /// Whether any version of the service named in `target` is here.
    pub(crate) fn has_name(&self, target: &str) -> bool {
        self.services.contains_key(target.split_once('@').map_or(target, |(n, _)| n))
    }

    pub(crate) fn resolve(&self, target: &str) -> Result<Resolved> {
        self.resolve_with(target).map(|(r, _)| r)
    }

    /// Resolves `target`, and says whether the version found has a single instance.
    fn resolve_with(&self, target: &str) -> Result<(Resolved, bool)> {
        let (name, want) = parse_target(target)?;
        let Some(versions) = self.services.get(name) else {
            let mut known: Vec<&String> = self.services.keys().collect();
            known.sort();
            let list = if known.is_empty() {
                "none is exposed".to_string()
            } else {
                format!("exposed: {}", known.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
            };
            return Err(Error::new(ErrorCode::ServiceNotFound, format!("no service '{name}' ({list})")));
        };
        let found = match &want {
            Want::Latest => versions.iter().next_back(),
            Want::Exact(v) => versions.get_key_value(v),
            Want::Range(r) => versions.iter().rev().find(|(v, _)| r.matches(v)),
        };
        match found {
            Some((v, i)) => Ok((
                Resolved { name: name.to_string(), version: v.clone(), provider: i.pick().clone() },
                i.list.len() == 1,
            )),
            None => {
                let have: Vec<String> = versions.keys().map(Version::to_string).collect();
                let asked = target.split_once('@').map_or("", |(_, v)| v);
                Err(Error::new(
                    ErrorCode::ServiceNotFound,
                    format!("no version of '{name}' matches '{asked}' (available: {})", have.join(", ")),
                ))
            }
        }
    }

    /// Every service: (name, version, methods, streams).
    pub(crate) fn list(&self) -> Vec<(String, Version, Vec<String>, Vec<String>)> {
        let mut out: Vec<_> = self
            .services
            .iter()
            .flat_map(|(n, vs)| {
                vs.iter().map(move |(v, i)| {
                    let p = &i.list[0];
                    (n.clone(), v.clone(), p.methods(), p.streams())
                })
            })
            .collect();
        out.sort();
        out
    }
}
