//! The plain-data forms in which the Node and Python bindings hand specs to the engine and take plans
//! back: names as strings, keys as numbers, plans as flat arrays. Parsing and checking them lives
//! here once, so each binding only copies fields from its language's objects.

use super::plan::{Binding, Plan, PlanKind};
use super::scope::Scope;
use super::spec::{
    Dependency, ExportItem, Exports, InitHook, Instances, Isolation, ModuleKey, ModuleProcess, ModuleSpec,
    ProcessType, ProviderKind, ProviderSpec, TokenRef,
};
use super::token::TokenKey;
use crate::error::{Error, ErrorCode, Result};

/// A dependency as a binding describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireDependency {
    /// Token key.
    pub token: u64,
    /// Token name.
    pub name: String,
    /// Missing gives "absent".
    pub optional: bool,
    /// Every provider of a multi token.
    pub all: bool,
}

/// A provider as a binding describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireProvider {
    /// Token key.
    pub token: u64,
    /// Token name.
    pub name: String,
    /// `class`, `value`, `factory` or `alias`.
    pub kind: String,
    /// For aliases: the target's key and name.
    pub target: Option<(u64, String)>,
    /// `singleton`, `transient`, `scoped` or `request`; `None` means singleton.
    pub scope: Option<String>,
    /// Dependencies in call order.
    pub deps: Vec<WireDependency>,
    /// The factory returns a promise / coroutine.
    pub is_async: bool,
    /// `none`, `sync` or `async`.
    pub init: String,
    /// One of several providers of a multi token.
    pub multi: bool,
    /// Replaces an existing provider.
    pub replace: bool,
    /// What made it (a class name).
    pub label: Option<String>,
}

/// One `exports` entry as a binding describes it: a token or a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireExport {
    /// A token's key and name.
    Token(u64, String),
    /// A re-exported module's key.
    Module(u64),
}

/// A module as a binding describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireModule {
    /// Module key.
    pub key: u64,
    /// Name for messages.
    pub name: String,
    /// Imported modules' keys.
    pub imports: Vec<u64>,
    /// Its providers.
    pub providers: Vec<WireProvider>,
    /// `None`: export every provider; `Some`: exactly these.
    pub exports: Option<Vec<WireExport>>,
    /// Visible everywhere.
    pub global: bool,
    /// The spec's `process: { type, instances, isolation }`, checked here.
    pub process: Option<WireProcess>,
}

/// A module's `process` as a binding describes it: each field as the user wrote it (a number of
/// instances as its decimal text). The binding refuses unknown keys and wrong types; the values are
/// checked here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WireProcess {
    /// `type`.
    pub kind: Option<String>,
    /// `instances`: `auto` or a whole number of at least 1.
    pub instances: Option<String>,
    /// `isolation`: `thread` or `process`.
    pub isolation: Option<String>,
}

impl WireProcess {
    /// Checks the values; `module` names the module in the message.
    pub fn into_spec(self, module: &str) -> Result<ModuleProcess> {
        let bad =
            |what: String| Err(Error::new(ErrorCode::InvalidModule, format!("module '{module}': {what}")));
        let kind = match self.kind.as_deref() {
            None => None,
            Some(name) => match ProcessType::from_name(name) {
                Some(k) => Some(k),
                None => {
                    return bad(format!(
                        "process.type '{name}' is not one of {}",
                        ProcessType::NAMES.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
                    ));
                }
            },
        };
        let instances = match self.instances.as_deref() {
            None => None,
            Some("auto") => Some(Instances::Auto),
            Some(n) => match n.parse::<u32>() {
                Ok(k) if k >= 1 => Some(Instances::Fixed(k)),
                _ => {
                    return bad(format!(
                        "process.instances must be 'auto' or a whole number of at least 1, got {n}"
                    ));
                }
            },
        };
        let isolation = match self.isolation.as_deref() {
            None => None,
            Some("thread") => Some(Isolation::Thread),
            Some("process") => Some(Isolation::Process),
            Some(other) => {
                return bad(format!("process.isolation must be 'thread' or 'process', got '{other}'"));
            }
        };
        Ok(ModuleProcess { kind, instances, isolation })
    }
}

fn token_ref(raw: u64, name: &str) -> Result<TokenRef> {
    if raw == 0 {
        return Err(Error::invalid_argument(format!("'{name}' has an invalid token key (0)")));
    }
    Ok(TokenRef::new(TokenKey::from_u64(raw), name))
}

impl WireProvider {
    /// Parses the strings and checks the keys.
    pub fn into_spec(self) -> Result<ProviderSpec> {
        let token = token_ref(self.token, &self.name)?;
        let kind = match self.kind.as_str() {
            "class" => ProviderKind::Class,
            "value" => ProviderKind::Value,
            "factory" => ProviderKind::Factory,
            "alias" => {
                let (key, name) = self.target.ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidProvider,
                        format!("alias '{}' has no target token", self.name),
                    )
                })?;
                ProviderKind::Alias(token_ref(key, &name)?)
            }
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidProvider,
                    format!("unknown provider kind '{other}'"),
                ));
            }
        };
        let mut spec = ProviderSpec::new(token, kind);
        spec.scope = match self.scope.as_deref() {
            None => Scope::Singleton,
            Some(name) => name.parse()?,
        };
        spec.deps = self
            .deps
            .into_iter()
            .map(|d| Ok(Dependency { token: token_ref(d.token, &d.name)?, optional: d.optional, all: d.all }))
            .collect::<Result<_>>()?;
        spec.is_async = self.is_async;
        spec.init = match self.init.as_str() {
            "none" => InitHook::None,
            "sync" => InitHook::Sync,
            "async" => InitHook::Async,
            other => return Err(Error::invalid_argument(format!("unknown init hook kind '{other}'"))),
        };
        spec.multi = self.multi;
        spec.replace = self.replace;
        spec.label = self.label.map(Into::into);
        Ok(spec)
    }
}

impl WireModule {
    /// Parses every provider and export.
    pub fn into_spec(self) -> Result<ModuleSpec> {
        if self.key == 0 {
            return Err(Error::invalid_argument(format!("module '{}' has an invalid key (0)", self.name)));
        }
        let process = match self.process {
            None => None,
            Some(p) => Some(p.into_spec(&self.name)?),
        };
        Ok(ModuleSpec {
            key: ModuleKey::from_u64(self.key),
            name: self.name.into(),
            imports: self.imports.into_iter().map(ModuleKey::from_u64).collect(),
            providers: self.providers.into_iter().map(WireProvider::into_spec).collect::<Result<_>>()?,
            exports: match self.exports {
                None => Exports::All,
                Some(items) => Exports::Only(
                    items
                        .into_iter()
                        .map(|e| match e {
                            WireExport::Module(k) => Ok(ExportItem::Module(ModuleKey::from_u64(k))),
                            WireExport::Token(k, name) => Ok(ExportItem::Token(token_ref(k, &name)?)),
                        })
                        .collect::<Result<_>>()?,
                ),
            },
            global: self.global,
            process,
        })
    }
}

/// The numbers a [`FlatPlan`] uses, named once here for every runner.
pub mod codes {
    /// `deps` code: an optional dependency with no provider.
    pub const DEP_ABSENT: i32 = -1;
    /// `deps` code: a required dependency with no provider (the dependent failed).
    pub const DEP_MISSING: i32 = -2;
    /// `deps` codes at or below this are `DEP_MANY_BASE - k`: the list `many[k]`.
    pub const DEP_MANY_BASE: i32 = -3;
    /// `kinds`: construct a class.
    pub const KIND_CLASS: u8 = 0;
    /// `kinds`: a registered value.
    pub const KIND_VALUE: u8 = 1;
    /// `kinds`: call a factory.
    pub const KIND_FACTORY: u8 = 2;
    /// `kinds`: the instance of `deps[0]`.
    pub const KIND_ALIAS: u8 = 3;
    /// `kinds`: the scope's context.
    pub const KIND_CONTEXT: u8 = 4;
    /// `scopes`: one per container.
    pub const SCOPE_SINGLETON: u8 = 0;
    /// `scopes`: new every time.
    pub const SCOPE_TRANSIENT: u8 = 1;
    /// `scopes`: one per scope.
    pub const SCOPE_SCOPED: u8 = 2;
}

/// A plan as flat arrays indexed by provider id, the form the TypeScript and Python runners read.
///
/// Dependency codes in `deps`: `>= 0` a provider id, `-1` absent (optional), `-2` missing, `-3 - k`
/// the list `many[k]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatPlan {
    /// 0 class, 1 value, 2 factory, 3 alias, 4 context.
    pub kinds: Vec<u8>,
    /// 0 singleton, 1 transient, 2 scoped.
    pub scopes: Vec<u8>,
    /// Building it must be awaited.
    pub is_async: Vec<bool>,
    /// Building it needs a scope.
    pub needs_scope: Vec<bool>,
    /// It cannot be built.
    pub failed: Vec<bool>,
    /// Dependencies-first order.
    pub ranks: Vec<u32>,
    /// Dependency codes.
    pub deps: Vec<Vec<i32>>,
    /// Lists for `all` dependencies.
    pub many: Vec<Vec<u32>>,
    /// Tokens visible from the root and their providers.
    pub root: Vec<(u64, Vec<u32>)>,
    /// Singletons in initialisation order.
    pub init_order: Vec<u32>,
}

impl Plan {
    /// The plan as flat arrays.
    pub fn flatten(&self) -> FlatPlan {
        let mut f = FlatPlan {
            init_order: self.init_order.iter().map(|id| id.index() as u32).collect(),
            ..FlatPlan::default()
        };
        for p in &self.providers {
            f.kinds.push(match p.kind {
                PlanKind::Class => codes::KIND_CLASS,
                PlanKind::Value => codes::KIND_VALUE,
                PlanKind::Factory => codes::KIND_FACTORY,
                PlanKind::Alias => codes::KIND_ALIAS,
                PlanKind::Context => codes::KIND_CONTEXT,
            });
            f.scopes.push(match p.scope {
                Scope::Singleton => codes::SCOPE_SINGLETON,
                Scope::Transient => codes::SCOPE_TRANSIENT,
                Scope::Scoped => codes::SCOPE_SCOPED,
            });
            f.is_async.push(p.is_async);
            f.needs_scope.push(p.needs_scope);
            f.failed.push(p.failed);
            f.ranks.push(p.rank);
            let codes = p
                .deps
                .iter()
                .map(|b| match b {
                    Binding::One(id) => id.index() as i32,
                    Binding::Absent => codes::DEP_ABSENT,
                    Binding::Missing => codes::DEP_MISSING,
                    Binding::Many(ids) => {
                        f.many.push(ids.iter().map(|i| i.index() as u32).collect());
                        codes::DEP_MANY_BASE - (f.many.len() as i32 - 1)
                    }
                })
                .collect();
            f.deps.push(codes);
        }
        f.root = self
            .root_entries()
            .map(|(k, ids)| (k.as_u64(), ids.iter().map(|i| i.index() as u32).collect()))
            .collect();
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::di::Graph;

    fn provider(key: u64, name: &str, kind: &str) -> WireProvider {
        WireProvider {
            token: key,
            name: name.into(),
            kind: kind.into(),
            target: None,
            scope: None,
            deps: Vec::new(),
            is_async: false,
            init: "none".into(),
            multi: false,
            replace: false,
            label: None,
        }
    }

    #[test]
    fn parses_and_refuses() {
        let a = TokenKey::fresh().as_u64();
        assert!(provider(a, "A", "factory").into_spec().is_ok());
        assert_eq!(provider(a, "A", "gadget").into_spec().unwrap_err().code(), ErrorCode::InvalidProvider);
        assert_eq!(provider(0, "A", "value").into_spec().unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(provider(a, "A", "alias").into_spec().unwrap_err().code(), ErrorCode::InvalidProvider);
        let mut p = provider(a, "A", "value");
        p.scope = Some("weekly".into());
        assert_eq!(p.into_spec().unwrap_err().code(), ErrorCode::InvalidScope);
        let mut p = provider(a, "A", "value");
        p.init = "later".into();
        assert_eq!(p.into_spec().unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn module_process_values_are_checked() {
        let p = |kind: &str, instances: &str, isolation: &str| WireProcess {
            kind: Some(kind.into()),
            instances: Some(instances.into()),
            isolation: Some(isolation.into()),
        };
        let ok = p("service", "auto", "thread").into_spec("UsersModule").unwrap();
        assert_eq!(ok.kind, Some(ProcessType::Service));
        assert_eq!(ok.instances, Some(Instances::Auto));
        assert_eq!(ok.isolation, Some(Isolation::Thread));
        assert_eq!(p("worker", "4", "process").into_spec("M").unwrap().instances, Some(Instances::Fixed(4)));
        assert_eq!(WireProcess::default().into_spec("M").unwrap(), ModuleProcess::default());
        for (bad, needle) in [
            (p("daemon", "1", "thread"), "process.type 'daemon'"),
            (p("service", "0", "thread"), "got 0"),
            (p("service", "2.5", "thread"), "got 2.5"),
            (p("service", "-1", "thread"), "got -1"),
            (p("service", "1", "fiber"), "got 'fiber'"),
        ] {
            let e = bad.into_spec("UsersModule").unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidModule);
            assert!(e.message().contains("module 'UsersModule'") && e.message().contains(needle), "{e}");
        }
    }

    #[test]
    fn flattens_dependency_codes() {
        let (a, b, c) = (TokenKey::fresh().as_u64(), TokenKey::fresh().as_u64(), TokenKey::fresh().as_u64());
        let mut g = Graph::new();
        let ida = g.register(provider(a, "A", "value").into_spec().unwrap()).unwrap();
        let mut pb = provider(b, "B", "factory");
        pb.deps = vec![
            WireDependency { token: a, name: "A".into(), optional: false, all: false },
            WireDependency { token: c, name: "C".into(), optional: true, all: false },
            WireDependency { token: a, name: "A".into(), optional: false, all: true },
        ];
        let idb = g.register(pb.into_spec().unwrap()).unwrap();
        let f = g.plan().flatten();
        assert_eq!(f.deps[idb.index()], vec![ida.index() as i32, -1, -3]);
        assert_eq!(f.many, vec![vec![ida.index() as u32]]);
        assert!(f.ranks[ida.index()] < f.ranks[idb.index()]);
        assert_eq!(f.root.len(), 3, "A, B and the built-in CONTEXT");
    }
}
