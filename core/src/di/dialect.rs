//! The calls of each door that dependency injection's messages name.

use crate::dialect::Dialect;

impl Dialect {
    pub(crate) fn resolve_async(self, name: &str) -> String {
        match self {
            Dialect::Rust => format!("container.resolve_async(&{name}).await"),
            Dialect::C => "a synchronous factory (C factories cannot be async)".to_string(),
            Dialect::TypeScript => format!("await container.resolveAsync({name})"),
            Dialect::Python => format!("await container.resolve_async({name})"),
        }
    }

    pub(crate) fn initialize(self) -> &'static str {
        match self {
            Dialect::Rust => "container.initialize().await",
            Dialect::C => "omnitron_container_initialize()",
            Dialect::TypeScript | Dialect::Python => "await container.initialize()",
        }
    }

    pub(crate) fn on_init(self) -> &'static str {
        match self {
            Dialect::TypeScript => "onInit",
            Dialect::Rust | Dialect::C | Dialect::Python => "on_init",
        }
    }

    pub(crate) fn create_scope(self) -> &'static str {
        match self {
            Dialect::Rust => "container.create_scope()",
            Dialect::C => "omnitron_container_create_scope()",
            Dialect::TypeScript => "container.createScope()",
            Dialect::Python => "container.create_scope()",
        }
    }

    pub(crate) fn mark_injectable(self, name: &str) -> String {
        match self {
            Dialect::Rust => format!(
                "If '{name}' is a type, register it with Provider::class (it must implement Injectable) or a factory."
            ),
            Dialect::C => format!(
                "Register a provider for '{name}' with omnitron_container_register (or add it to a module)."
            ),
            Dialect::TypeScript => {
                format!(
                    "If '{name}' is a class, check that it is decorated with @Injectable() and listed in providers."
                )
            }
            Dialect::Python => {
                format!(
                    "If '{name}' is a class, check that it is decorated with @injectable and listed in providers."
                )
            }
        }
    }

    pub(crate) fn replace_hint(self) -> &'static str {
        match self {
            Dialect::Rust => {
                "Call .replace() on the provider to replace it, or .multi() to add another provider of a multi token"
            }
            Dialect::C => {
                "Set OMNITRON_PROVIDER_REPLACE to replace it, or OMNITRON_PROVIDER_MULTI to add another provider of a multi token"
            }
            Dialect::TypeScript => {
                "Pass override: true to replace it, or multi: true to add another provider of a multi token"
            }
            Dialect::Python => {
                "Pass override=True to replace it, or multi=True to add another provider of a multi token"
            }
        }
    }
}
