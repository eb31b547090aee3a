//! The greeter: a DI module that builds it from its configuration, and the RPC service
//! `greeter@1.0.0` that lets other processes (in any language) call it.

use std::sync::Arc;

use omnitron::di::{Module, Provider, Token};
use omnitron::rpc::Service;

/// What the greeter is configured with.
#[derive(Debug, Clone)]
pub struct GreeterConfig {
    /// The word it greets with ("Hello").
    pub greeting: String,
}

/// Greets people.
#[derive(Debug)]
pub struct Greeter {
    greeting: String,
}

impl Greeter {
    /// `"{greeting}, {name}!"`.
    pub fn greet(&self, name: &str) -> String {
        format!("{}, {name}!", self.greeting)
    }
}

/// The `GreeterModule`: the configuration (a value) and the greeter, a singleton built from it.
/// Only the greeter is exported: resolve it with `Token::<Greeter>::of()`.
pub fn module(config: GreeterConfig) -> Module {
    let config_token = Token::<GreeterConfig>::of();
    let greeter = Token::<Greeter>::of();
    Module::builder("GreeterModule")
        .provider(Provider::value(&config_token, config))
        .provider(Provider::factory(&greeter, (&config_token,), |(config,)| {
            Ok(Greeter {
                greeting: config.greeting.clone(),
            })
        }))
        .export(&greeter)
        .build()
}

/// `greeter@1.0.0`, with one method: `greet(name) -> String`.
pub fn service(greeter: Arc<Greeter>) -> omnitron::Result<Service> {
    Service::builder("greeter", "1.0.0")?
        .method("greet", move |(name,): (String,)| {
            let greeter = greeter.clone();
            async move { Ok(greeter.greet(&name)) }
        })
        .build()
}
