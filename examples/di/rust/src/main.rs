//! The DI demo in Rust: a config value, a repository, a scoped request context and a service that
//! depends on all three, built from modules.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use omnitron::di::{Container, Module, Provider, Token};

struct AppConfig {
    database_url: String,
    greeting: String,
}

struct UserRepository {
    id: usize,
    url: String,
}

impl UserRepository {
    fn find_name(&self, user_id: u32) -> &'static str {
        match user_id {
            1 => "Ada",
            2 => "Grace",
            _ => "stranger",
        }
    }
}

/// What each request scope is created with.
struct Request {
    id: &'static str,
    user_id: u32,
}

struct RequestContext {
    request_id: &'static str,
    user_id: u32,
}

struct GreetingService {
    config: Arc<AppConfig>,
    repo: Arc<UserRepository>,
    ctx: Arc<RequestContext>,
}

impl GreetingService {
    fn greet(&self) -> String {
        format!(
            "{}, {}! (request {}, user {} from {}, repository #{})",
            self.config.greeting,
            self.repo.find_name(self.ctx.user_id),
            self.ctx.request_id,
            self.ctx.user_id,
            self.repo.url,
            self.repo.id
        )
    }
}

static REPOSITORIES: AtomicUsize = AtomicUsize::new(0);

fn main() -> Result<(), omnitron::Error> {
    let config = Token::<AppConfig>::new("AppConfig");
    let repo = Token::<UserRepository>::new("UserRepository");
    let ctx = Token::<RequestContext>::new("RequestContext");
    let greeter = Token::<GreetingService>::new("GreetingService");
    let request = Token::<Request>::context();

    let data = Module::builder("DataModule")
        .provider(Provider::value(
            &config,
            AppConfig { database_url: "postgres://demo".into(), greeting: "Hello".into() },
        ))
        .provider(Provider::factory(&repo, (&config,), |(c,)| {
            Ok(UserRepository {
                id: REPOSITORIES.fetch_add(1, Ordering::SeqCst) + 1,
                url: c.database_url.clone(),
            })
        }))
        .export(&config)
        .export(&repo)
        .build();
    let app = Module::builder("AppModule")
        .import(&data)
        .provider(
            Provider::factory(&ctx, (&request,), |(r,)| {
                Ok(RequestContext { request_id: r.id, user_id: r.user_id })
            })
            .scoped(),
        )
        .provider(
            Provider::factory(&greeter, (&config, &repo, &ctx), |(config, repo, ctx)| {
                Ok(GreetingService { config, repo, ctx })
            })
            .scoped(),
        )
        .build();

    let container = Container::from_module(&app)?;
    for (id, user_id) in [("r-1", 1), ("r-2", 2)] {
        let scope = container.create_scope_with(Request { id, user_id })?;
        println!("rust:       {}", scope.resolve(&greeter)?.greet());
    }
    Ok(())
}
