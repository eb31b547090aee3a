//! Turning what the plan knows into errors a person can act on (spec §13.4): the whole path, the
//! likely typo, and the fixes.

use super::graph::ModuleId;
use super::plan::{Failure, Plan};
use super::spec::ProviderId;
use super::token::TokenKey;
use crate::error::{Error, ErrorCode};

/// Which user callback failed (see [`Plan::explain_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// A factory (`useFactory`, `Provider::factory`, a C factory).
    Factory,
    /// A class's constructor (`useClass`, an `@Injectable()` class, [`Injectable::create`](super::Injectable::create)).
    Constructor,
    /// An `onInit` hook, run by `initialize()`.
    OnInit,
}

impl Failed {
    /// From the name a binding passes: `factory`, `constructor` or `onInit`.
    pub fn from_name(name: &str) -> Option<Failed> {
        match name {
            "factory" => Some(Failed::Factory),
            "constructor" => Some(Failed::Constructor),
            "onInit" | "on_init" => Some(Failed::OnInit),
            _ => None,
        }
    }
}

/// Whether an error is one of the container's own (`DI001`..`DI015`). Those pass through a failing
/// factory or hook unchanged: they already name what is wrong and where (a nested resolve of a
/// missing token stays a missing-provider error).
pub fn is_di_error(code: ErrorCode) -> bool {
    (100..200).contains(&code.as_u32())
}

impl Plan {
    /// Why a provider cannot be built (its `failed` flag is set), with the full resolution path.
    pub fn explain(&self, id: ProviderId) -> Error {
        let mut path: Vec<String> = vec![self.name(id).to_string()];
        let mut cur = id;
        // Follow "a dependency failed" links down to the root cause.
        for _ in 0..self.providers.len() + 1 {
            match self.failures.get(cur.index()).cloned().flatten() {
                Some(Failure::Dep { via }) => {
                    path.push(self.name(via).to_string());
                    cur = via;
                }
                Some(Failure::Missing { token, module }) => {
                    path.push(token.name.to_string());
                    return self.missing_error(
                        Some((self.name(id), self.name(cur))),
                        token.key,
                        &token.name,
                        module,
                        &path,
                    );
                }
                Some(Failure::Cycle { path: cycle }) => {
                    path.extend(cycle.iter().skip(1).map(|p| self.name(*p).to_string()));
                    return Error::new(
                        ErrorCode::CircularDependency,
                        format!(
                            "circular dependency detected: {}\n  Providers cannot depend on each other in a loop. Break it by injecting a factory or a lazy lookup instead of the instance, or by moving what both need into a third provider.",
                            path.join(" -> ")
                        ),
                    );
                }
                Some(Failure::Scope { path: chain }) => {
                    path.extend(chain.iter().skip(1).map(|p| self.name(*p).to_string()));
                    let singleton = self.name(cur);
                    let scoped = chain.last().map(|p| self.name(*p)).unwrap_or("?");
                    return Error::new(
                        ErrorCode::ScopeViolation,
                        format!(
                            "cannot resolve '{}': singleton '{singleton}' depends on scoped '{scoped}' ({})\n  A singleton outlives every scope, so it would keep one scope's instance forever.\n  Possible fixes:\n    1. Make '{singleton}' scoped or transient.\n    2. Make '{scoped}' a singleton if it holds no per-scope state.",
                            self.name(id),
                            path.join(" -> ")
                        ),
                    );
                }
                Some(Failure::TooDeep { depth }) => {
                    return Error::new(
                        ErrorCode::DependencyTooDeep,
                        format!(
                            "cannot resolve '{}': the dependency chain below '{}' is {depth} providers deep, more than the limit of {}. Such chains are generated or runaway graphs; flatten them (inject a factory that builds the chain) instead",
                            self.name(id),
                            self.name(cur),
                            super::plan::MAX_DEPTH
                        ),
                    );
                }
                None => break,
            }
        }
        Error::new(
            ErrorCode::Internal,
            format!("'{}' was reported as failed without a reason", self.name(id)),
        )
    }

    /// The error for asking for a provider while it is being built (a factory or hook that resolves
    /// it from the container): `path` lists the providers being built, outermost first, ending with
    /// the one asked for again.
    pub fn explain_runtime_loop(&self, path: &[ProviderId]) -> Error {
        let last = path.last().copied();
        let start = last.and_then(|l| path.iter().position(|p| *p == l)).unwrap_or(0);
        let names: Vec<&str> = path[start..].iter().map(|p| self.name(*p)).collect();
        let name = last.map(|l| self.name(l)).unwrap_or("?");
        Error::new(
            ErrorCode::CircularDependency,
            format!(
                "dependency loop at run time: '{name}' was asked for while it was being built ({}). A factory or hook resolves it from the container; declare it as a dependency instead, so the loop is reported before anything runs",
                names.join(" -> ")
            ),
        )
    }

    /// The error for resolving a token that nothing visible from the container provides.
    pub fn explain_missing(&self, key: TokenKey, name: &str) -> Error {
        self.missing_error(None, key, name, ModuleId::ROOT, &[name.to_string()])
    }

    /// The error for resolving an async provider synchronously.
    pub fn explain_async(&self, id: ProviderId) -> Error {
        let name = self.name(id);
        let mut path = vec![name.to_string()];
        let mut cur = id;
        while let Some(next) = self.async_via.get(cur.index()).copied().flatten() {
            path.push(self.name(next).to_string());
            cur = next;
            if path.len() > self.providers.len() {
                break;
            }
        }
        let culprit = self.name(cur);
        let why = if self.spec_async[cur.index()] { "uses an async factory" } else { "is async" };
        let reason = if cur == id {
            format!("it {why}")
        } else {
            format!("it depends on async provider '{culprit}', which {why} ({})", path.join(" -> "))
        };
        Error::new(
            ErrorCode::AsyncProviderResolvedSync,
            format!(
                "cannot resolve '{name}' synchronously because {reason}. Use '{}' instead, or '{}' first so singletons are ready",
                self.dialect.resolve_async(name),
                self.dialect.initialize()
            ),
        )
    }

    /// The error for a user callback that failed while making or starting provider `id`'s instance:
    /// `building` lists the providers being built when it failed, outermost first (empty for an
    /// `onInit` hook, which runs in `initialize()`), and `cause` is what the callback raised. The
    /// message names the token, the resolution path and the chain of modules from the root to the
    /// module that provides it; the binding keeps the callback's own error as the cause.
    pub fn explain_failure(
        &self,
        id: ProviderId,
        what: Failed,
        building: &[ProviderId],
        cause: &str,
    ) -> Error {
        let name = self.name(id);
        let (code, head) = match what {
            Failed::Factory => (ErrorCode::FactoryFailed, format!("the factory of '{name}' failed")),
            Failed::Constructor => (ErrorCode::FactoryFailed, format!("constructing '{name}' failed")),
            Failed::OnInit => {
                (ErrorCode::LifecycleFailed, format!("{} of '{name}' failed", self.dialect.on_init()))
            }
        };
        let mut msg = format!("{head}: {cause}");
        let mut path: Vec<&str> = building.iter().map(|p| self.name(*p)).collect();
        if path.last() != Some(&name) {
            path.push(name);
        }
        if path.len() > 1 {
            msg.push_str(&format!("\n  Resolution path: {}", path.join(" -> ")));
        }
        let module = self.provider_module[id.index()];
        if module == ModuleId::ROOT {
            msg.push_str("\n  Registered in the container itself (not in a module)");
        } else {
            msg.push_str(&format!("\n  Module path: {}", self.module_path(module).join(" -> ")));
        }
        Error::new(code, msg)
    }

    /// The chain of module names from the root (the container, left out) to `module`, through
    /// imports: the shortest one, earlier imports first.
    pub(crate) fn module_path(&self, module: ModuleId) -> Vec<&str> {
        let n = self.module_imports.len();
        let mut parent: Vec<Option<ModuleId>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::from([ModuleId::ROOT]);
        seen[0] = true;
        while let Some(m) = queue.pop_front() {
            if m == module {
                break;
            }
            for imp in &self.module_imports[m.index()] {
                if !seen[imp.index()] {
                    seen[imp.index()] = true;
                    parent[imp.index()] = Some(m);
                    queue.push_back(*imp);
                }
            }
        }
        let mut chain = vec![module];
        let mut cur = module;
        while let Some(p) = parent[cur.index()] {
            if p == ModuleId::ROOT {
                break;
            }
            chain.push(p);
            cur = p;
        }
        chain.reverse();
        chain.into_iter().map(|m| &*self.module_names[m.index()]).collect()
    }

    /// The error for resolving a provider that needs a scope from the container itself.
    pub fn explain_needs_scope(&self, id: ProviderId) -> Error {
        let name = self.name(id);
        let mut path = vec![name.to_string()];
        let mut cur = id;
        while let Some(next) = self.scope_via.get(cur.index()).copied().flatten() {
            path.push(self.name(next).to_string());
            cur = next;
            if path.len() > self.providers.len() {
                break;
            }
        }
        let what = if cur == id {
            format!("'{name}' is scoped")
        } else {
            format!("'{name}' depends on scoped '{}' ({})", self.name(cur), path.join(" -> "))
        };
        Error::new(
            ErrorCode::ScopeRequired,
            format!(
                "{what}: resolve it from a scope ({}), not from the container itself",
                self.dialect.create_scope()
            ),
        )
    }

    fn module_label(&self, m: ModuleId) -> String {
        if m == ModuleId::ROOT {
            "the container".to_string()
        } else {
            format!("module '{}'", self.module_names[m.index()])
        }
    }

    fn missing_error(
        &self,
        dependent: Option<(&str, &str)>,
        key: TokenKey,
        name: &str,
        module: ModuleId,
        path: &[String],
    ) -> Error {
        let head = match dependent {
            Some((top, needer)) if top == needer => {
                format!("cannot resolve '{top}': no provider for its dependency '{name}'")
            }
            Some((top, needer)) => {
                format!("cannot resolve '{top}': no provider for '{name}' (required by '{needer}')")
            }
            None => format!("no provider for '{name}'"),
        };
        let mut msg = head;
        if path.len() > 1 {
            msg.push_str(&format!("\n  Resolution path: {}", path.join(" -> ")));
        }
        let here = self.module_label(module);

        // Provided somewhere, but not visible from here?
        let owners: Vec<ModuleId> = (1..self.module_own.len())
            .map(|i| ModuleId(i as u32))
            .filter(|m| *m != module && self.module_own[m.index()].contains(&key))
            .collect();
        if let Some(owner) = owners.first() {
            let owner_name = &self.module_names[owner.index()];
            let exported = self.module_exports[owner.index()].contains(&key);
            let imported = self.module_imports[module.index()].contains(owner);
            let mut fixes = Vec::new();
            if !exported {
                fixes.push(format!("Add '{name}' to the exports of module '{owner_name}'."));
            }
            if !imported {
                fixes.push(format!("Import module '{owner_name}' into {here}."));
            }
            msg = format!(
                "{msg}\n  '{name}' is provided by module '{owner_name}' but is not visible from {here} ({}).\n  Possible fixes:\n{}",
                if !exported { "not exported" } else { "not imported" },
                numbered(&fixes)
            );
            return Error::new(ErrorCode::NotExported, msg);
        }

        if self.visible_names[module.index()].iter().any(|n| &**n == name) {
            msg.push_str(&format!(
                "\n  A different token named '{name}' is registered: tokens are identities, not names. Inject the same token object that was registered (a string token and createToken('{name}') are two tokens)."
            ));
        }
        let suggestions = self.similar(module, name);
        if !suggestions.is_empty() {
            msg.push_str(&format!(
                "\n  Did you mean {}?",
                suggestions.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(" or ")
            ));
        }
        let fixes = vec![
            format!("Add '{name}' to the providers of {here}."),
            format!("Import a module that exports '{name}'."),
            self.dialect.mark_injectable(name),
        ];
        msg.push_str(&format!("\n  Possible fixes:\n{}", numbered(&fixes)));
        Error::new(ErrorCode::MissingProvider, msg)
    }

    /// Names visible from a module that look like `name` (a typo, a different case).
    fn similar(&self, module: ModuleId, name: &str) -> Vec<String> {
        let lower = name.to_lowercase();
        let mut scored: Vec<(f64, String)> = self.visible_names[module.index()]
            .iter()
            .filter(|c| &***c != name && &***c != "CONTEXT")
            .filter_map(|c| {
                let score = strsim::jaro_winkler(&lower, &c.to_lowercase());
                let close = strsim::levenshtein(&lower, &c.to_lowercase()) <= (name.len() / 4).max(2);
                (score >= 0.88 || close).then(|| (score, c.to_string()))
            })
            .collect();
        scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
        scored.dedup_by(|a, b| a.1 == b.1);
        scored.into_iter().take(3).map(|(_, n)| n).collect()
    }

    /// The name a token was registered or asked for under, if the plan has seen it.
    pub fn token_name(&self, key: TokenKey) -> Option<&str> {
        self.token_names.get(&key).map(|s| &**s)
    }
}

fn numbered(items: &[String]) -> String {
    items.iter().enumerate().map(|(i, s)| format!("    {}. {s}", i + 1)).collect::<Vec<_>>().join("\n")
}
