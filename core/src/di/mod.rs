//! Dependency injection.
//!
//! The engine is split in two so every language can use it at native speed:
//!
//! - [`Graph`] holds descriptions of providers and modules ([`ProviderSpec`], [`ModuleSpec`]) and
//!   compiles them into a [`Plan`]: which provider each dependency comes from, what cannot be built
//!   and why, what must be awaited, what needs a scope, and the order to initialise and dispose in.
//!   All checks and all error messages live here.
//! - A runner follows the plan. [`Container`] is the Rust runner (also used by the C ABI); the Node
//!   and Python bindings run the same plan in their own language so that a resolve never crosses into
//!   native code on the hot path.
//!
//! Semantics (scopes, modules, lifecycle, errors) are documented in `docs/DI.md`.

mod container;
mod dialect;
mod explain;
mod export;
mod graph;
mod module;
mod plan;
mod provider;
mod reentry;
mod scope;
mod spec;
mod token;
mod wire;

pub use crate::dialect::Dialect;
pub use container::{
    Container, RawHook, RawMake, RawModule, RawProvider, ScopeHandle, destroy_failed, initialize_reentered,
    lifecycle_aggregate, token_ref,
};
pub use explain::{Failed, is_di_error};
pub use export::{DependencyGraph, GraphEdge, GraphNode};
pub use graph::{Graph, ModuleId};
pub use module::{Module, ModuleBuilder};
pub use plan::{Binding, MAX_DEPTH, Plan, PlanKind, ProviderPlan};
pub use provider::{
    All, BoxFuture, DepItem, Deps, Injectable, Instance, Optional, Provider, Resolved, all, optional,
};
pub use scope::Scope;
pub use spec::{
    Dependency, ExportItem, Exports, InitHook, Instances, Isolation, ModuleKey, ModuleProcess, ModuleSpec,
    ProcessType, ProviderId, ProviderKind, ProviderSpec, TokenRef,
};
pub use token::{Token, TokenKey};
pub use wire::{
    FlatPlan, WireDependency, WireExport, WireModule, WireProcess, WireProvider, codes as plan_codes,
};
