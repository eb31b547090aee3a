//! The `{{pascal}}Module` DI module, a function of its options (as `{{pascal}}Module.forRoot(...)` is
//! in TypeScript): the options as a value, a repository built from them, and only the repository
//! exported. Import it where it is needed:
//! `Module::builder("AppModule").import(&{{snake}}_module::module(options))`.

use omnitron::di::{Module, Provider, Token};

/// What the module is configured with.
#[derive(Debug, Clone)]
pub struct {{pascal}}Options {
    /// Where the data lives.
    pub url: String,
}

/// The module's repository (a singleton: one per container).
#[derive(Debug)]
pub struct {{pascal}}Repository {
    url: String,
}

impl {{pascal}}Repository {
    /// Where it reads and writes.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The module. Resolve the repository with `Token::<{{pascal}}Repository>::of()`.
pub fn module(options: {{pascal}}Options) -> Module {
    let options_token = Token::<{{pascal}}Options>::of();
    let repository = Token::<{{pascal}}Repository>::of();
    Module::builder("{{pascal}}Module")
        .provider(Provider::value(&options_token, options))
        .provider(Provider::factory(
            &repository,
            (&options_token,),
            |(options,)| {
                Ok({{pascal}}Repository {
                    url: options.url.clone(),
                })
            },
        ))
        .export(&repository)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnitron::ErrorCode;
    use omnitron::di::Container;

    fn options() -> {{pascal}}Options {
        {{pascal}}Options {
            url: "memory://{{kebab}}".into(),
        }
    }

    #[test]
    fn the_repository_is_built_from_the_options_once() {
        let container = Container::from_module(&module(options())).unwrap();
        let token = Token::<{{pascal}}Repository>::of();
        let repository = container.resolve(&token).unwrap();
        assert_eq!(repository.url(), "memory://{{kebab}}");
        assert!(std::sync::Arc::ptr_eq(
            &repository,
            &container.resolve(&token).unwrap()
        ));
    }

    #[test]
    fn an_importing_module_sees_the_exports_only() {
        let service = Token::<String>::new("Consumer");
        let app = Module::builder("AppModule")
            .import(&module(options()))
            .provider(Provider::factory(
                &service,
                (&Token::<{{pascal}}Repository>::of(),),
                |(r,)| Ok(format!("using {}", r.url())),
            ))
            .build();
        let container = Container::from_module(&app).unwrap();
        assert_eq!(
            *container.resolve(&service).unwrap(),
            "using memory://{{kebab}}"
        );
        let e = container
            .resolve(&Token::<{{pascal}}Options>::of())
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::NotExported);
    }
}
