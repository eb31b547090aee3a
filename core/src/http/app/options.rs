//! An app's options, read once in core from what a door gives ([`AppOptions::from_raw`]): the
//! server's limits, security headers, CORS, a server-wide rate limit, JWT verification, OpenAPI,
//! health, metrics and TLS. Unknown keys are refused with the nearest known one.

use std::time::Duration;

use crate::dialect::Dialect;
use crate::error::{ErrorCode, Result};
use crate::http::options::HttpOptions;
use crate::http::spec::RateLimitSpec;
use crate::options::{RawOptions, Value};

/// Everything an [`HttpApp`](super::HttpApp) is configured with.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AppOptions {
    /// Limits and timeouts of the server.
    pub server: HttpOptions,
    /// Security headers as helmet sets them (default on).
    pub security_headers: bool,
    /// CORS, when set.
    pub cors: Option<CorsOptions>,
    /// A rate limit on every route (per client), when set.
    pub rate_limit: Option<RateLimitSpec>,
    /// How bearer tokens are verified, for routes that require auth.
    pub jwt: Option<JwtOptions>,
    /// The OpenAPI document (default on, at `/openapi.json`).
    pub openapi: Option<OpenApiOptions>,
    /// `/health`, `/health/live` and `/health/ready` (default on).
    pub health: bool,
    /// How long one health check may take before it counts as down (default 5 s).
    pub health_timeout: Duration,
    /// `/metrics` (Prometheus text of the engine's registry) on the same server (default off).
    pub metrics: bool,
    /// TLS (h2 and HTTP/1.1 over rustls, ALPN), when set.
    pub tls: Option<TlsOptions>,
}

/// CORS (the Fetch standard's rules, as the `cors` package applies them).
#[derive(Debug, Clone, PartialEq)]
pub struct CorsOptions {
    /// Origins allowed (`*` any; an exact origin such as `https://app.example`).
    pub origins: Vec<String>,
    /// `Access-Control-Allow-Credentials: true` (the origin is then echoed, never `*`).
    pub credentials: bool,
    /// Methods a preflight allows (default GET, HEAD, PUT, PATCH, POST, DELETE).
    pub methods: Vec<String>,
    /// Request headers a preflight allows (default: those the preflight asks for).
    pub allowed_headers: Vec<String>,
    /// Response headers exposed to the page.
    pub exposed_headers: Vec<String>,
    /// How long a browser may cache a preflight.
    pub max_age: Option<Duration>,
}

impl Default for CorsOptions {
    /// Any origin, no credentials, the default methods, the headers a preflight asks for.
    fn default() -> Self {
        CorsOptions {
            origins: vec!["*".into()],
            credentials: false,
            methods: ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]
                .iter()
                .map(|m| m.to_string())
                .collect(),
            allowed_headers: Vec::new(),
            exposed_headers: Vec::new(),
            max_age: None,
        }
    }
}

/// How bearer tokens (JWT) are verified.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtOptions {
    /// The shared secret (HS256, HS384, HS512).
    pub secret: Option<String>,
    /// The public key, PEM (`BEGIN PUBLIC KEY`: RSA, EC P-256 or P-384, Ed25519).
    pub public_key: Option<String>,
    /// Algorithms taken; empty takes the keys' own: HS256 with a secret, and for a public key
    /// RS256 (RSA), ES256 or ES384 (by its curve) or EdDSA (Ed25519). `none` never is.
    pub algorithms: Vec<String>,
    /// The `iss` a token must carry, when set.
    pub issuer: Option<String>,
    /// An `aud` a token must carry (one of these), when set.
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf` (default 60 s).
    pub leeway: Duration,
    /// The claim holding the roles (default `roles`).
    pub roles_claim: String,
    /// The claim holding the permissions (default `permissions`).
    pub permissions_claim: String,
}

impl JwtOptions {
    /// HS256 tokens signed with `secret` (32 bytes or more, RFC 7518), the other defaults.
    pub fn with_secret(secret: impl Into<String>) -> JwtOptions {
        JwtOptions { secret: Some(secret.into()), ..JwtOptions::empty() }
    }

    /// Tokens signed with the private key of `pem` (the algorithm is the key's: RS256, ES256,
    /// ES384, EdDSA), the other defaults.
    pub fn with_public_key(pem: impl Into<String>) -> JwtOptions {
        JwtOptions { public_key: Some(pem.into()), ..JwtOptions::empty() }
    }

    fn empty() -> JwtOptions {
        JwtOptions {
            secret: None,
            public_key: None,
            algorithms: Vec::new(),
            issuer: None,
            audience: Vec::new(),
            leeway: Duration::from_secs(60),
            roles_claim: "roles".into(),
            permissions_claim: "permissions".into(),
        }
    }
}

/// Where the OpenAPI document is served and what it says about the API.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenApiOptions {
    /// The path (default `/openapi.json`).
    pub path: String,
    /// `info.title` (default `Omnitron API`).
    pub title: String,
    /// `info.version` (default `1.0.0`).
    pub version: String,
    /// `info.description`.
    pub description: Option<String>,
}

impl Default for OpenApiOptions {
    fn default() -> Self {
        OpenApiOptions {
            path: "/openapi.json".into(),
            title: "Omnitron API".into(),
            version: "1.0.0".into(),
            description: None,
        }
    }
}

/// A certificate chain and its key, PEM files.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    /// The certificate chain (PEM).
    pub cert: String,
    /// The private key (PEM).
    pub key: String,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            server: HttpOptions::default(),
            security_headers: true,
            cors: None,
            rate_limit: None,
            jwt: None,
            openapi: Some(OpenApiOptions::default()),
            health: true,
            health_timeout: Duration::from_secs(5),
            metrics: false,
            tls: None,
        }
    }
}

/// Empty options for an HTTP app, read by a user of `dialect`; a wrong value is `E001`.
pub fn app_options(dialect: Dialect) -> RawOptions {
    RawOptions::new(dialect, "http app", ErrorCode::InvalidArgument)
}

impl AppOptions {
    /// Options from the server's keys ([`HttpOptions::from_raw`]'s) and `security_headers`,
    /// `cors` ({`origin` (a string or list), `credentials`, `methods`, `allowed_headers`,
    /// `exposed_headers`, `max_age`}), `rate_limit` ({`max`, `window`}), `jwt` ({`secret`,
    /// `public_key`, `algorithms`, `issuer`, `audience`, `leeway`, `roles_claim`,
    /// `permissions_claim`}), `openapi` (`false`, or {`path`, `title`, `version`,
    /// `description`}), `health`, `health_timeout`, `metrics`, `tls` ({`cert`, `key`}).
    pub fn from_raw(raw: &RawOptions) -> Result<AppOptions> {
        let mut o = AppOptions { server: HttpOptions::read(raw)?, ..AppOptions::default() };
        o.security_headers = raw.flag("security_headers")?.unwrap_or(true);
        if let Some(c) = raw.nested("cors")? {
            o.cors = Some(CorsOptions::from_raw(&c)?);
        }
        if let Some(r) = raw.nested("rate_limit")? {
            o.rate_limit = Some(RateLimitSpec::from_raw(&r)?);
        }
        if let Some(j) = raw.nested("jwt")? {
            o.jwt = Some(JwtOptions::from_raw(&j)?);
        }
        o.openapi = match raw.get("openapi") {
            None => Some(OpenApiOptions::default()),
            Some(Value::Bool(b)) => b.then(OpenApiOptions::default),
            Some(_) => match raw.nested("openapi")? {
                Some(n) => Some(OpenApiOptions::from_raw(&n)?),
                None => None,
            },
        };
        o.health = raw.flag("health")?.unwrap_or(true);
        if let Some(d) = raw.duration("health_timeout")? {
            o.health_timeout = d;
        }
        o.metrics = raw.flag("metrics")?.unwrap_or(false);
        if let Some(t) = raw.nested("tls")? {
            let cert = t.text("cert")?.ok_or_else(|| t.invalid("needs cert (a PEM file)"))?.to_string();
            let key = t.text("key")?.ok_or_else(|| t.invalid("needs key (a PEM file)"))?.to_string();
            t.check_unknown()?;
            o.tls = Some(TlsOptions { cert, key });
        }
        raw.check_unknown()?;
        Ok(o)
    }
}

/// A string or a list of strings.
fn one_or_many(raw: &RawOptions, name: &str) -> Result<Option<Vec<String>>> {
    match raw.get(name) {
        Some(Value::Text(s)) => Ok(Some(vec![s.clone()])),
        _ => raw.strings(name),
    }
}

impl CorsOptions {
    /// From `origin`, `credentials`, `methods`, `allowed_headers`, `exposed_headers`, `max_age`.
    pub fn from_raw(raw: &RawOptions) -> Result<CorsOptions> {
        let origins = one_or_many(raw, "origin")?.unwrap_or_else(|| vec!["*".into()]);
        let credentials = raw.flag("credentials")?.unwrap_or(false);
        let methods = one_or_many(raw, "methods")?.unwrap_or_else(|| CorsOptions::default().methods);
        let allowed_headers = one_or_many(raw, "allowed_headers")?.unwrap_or_default();
        let exposed_headers = one_or_many(raw, "exposed_headers")?.unwrap_or_default();
        let max_age = raw.duration("max_age")?;
        raw.check_unknown()?;
        Ok(CorsOptions { origins, credentials, methods, allowed_headers, exposed_headers, max_age })
    }
}

impl JwtOptions {
    /// From `secret` or `public_key`, `algorithms`, `issuer`, `audience` (a string or list),
    /// `leeway`, `roles_claim`, `permissions_claim`.
    pub fn from_raw(raw: &RawOptions) -> Result<JwtOptions> {
        let secret = raw.text("secret")?.map(str::to_string);
        let public_key = raw.text("public_key")?.map(str::to_string);
        if secret.is_none() && public_key.is_none() {
            return Err(raw.invalid(format!(
                "needs a {} (HS256) or a {} (PEM: RS256, ES256, EdDSA)",
                raw.dialect().field("secret"),
                raw.dialect().field("public_key")
            )));
        }
        let mut algorithms = one_or_many(raw, "algorithms")?.unwrap_or_default();
        if algorithms.iter().any(|a| a.eq_ignore_ascii_case("none")) {
            return Err(raw.wrong("algorithms", "must not include 'none'"));
        }
        if let Some(a) = algorithms.iter().find(|a| !crate::http::auth::known_algorithm(a)) {
            let rule = format!("must be among {} ('{a}' is not)", crate::http::auth::ALGORITHMS);
            return Err(raw.wrong("algorithms", &rule));
        }
        if algorithms.is_empty() {
            // The keys' own, so a wrong key is reported here rather than at build.
            if secret.is_some() {
                algorithms.push("HS256".into());
            }
            if let Some(pem) = &public_key {
                let (_, algs) = crate::http::auth::public_key(pem)
                    .map_err(|why| raw.invalid(format!("{} {why}", raw.name("public_key"))))?;
                algorithms.extend(algs.iter().map(|a| format!("{a:?}")));
            }
        }
        let issuer = raw.text("issuer")?.map(str::to_string);
        let audience = one_or_many(raw, "audience")?.unwrap_or_default();
        let leeway = raw.duration_or_zero("leeway")?.unwrap_or(Duration::from_secs(60));
        let roles_claim = raw.text("roles_claim")?.unwrap_or("roles").to_string();
        let permissions_claim = raw.text("permissions_claim")?.unwrap_or("permissions").to_string();
        raw.check_unknown()?;
        Ok(JwtOptions {
            secret,
            public_key,
            algorithms,
            issuer,
            audience,
            leeway,
            roles_claim,
            permissions_claim,
        })
    }
}

impl OpenApiOptions {
    /// From `path`, `title`, `version`, `description`.
    pub fn from_raw(raw: &RawOptions) -> Result<OpenApiOptions> {
        let d = OpenApiOptions::default();
        let path = raw.text("path")?.map(str::to_string).unwrap_or(d.path);
        if !path.starts_with('/') {
            return Err(raw.wrong("path", "must start with '/'"));
        }
        let o = OpenApiOptions {
            path,
            title: raw.text("title")?.map(str::to_string).unwrap_or(d.title),
            version: raw.text("version")?.map(str::to_string).unwrap_or(d.version),
            description: raw.text("description")?.map(str::to_string),
        };
        raw.check_unknown()?;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_options_in_the_door_s_words() {
        let raw = app_options(Dialect::TypeScript)
            .with("bodyLimit", Value::Number(10.0))
            .with("cors", Value::Map(vec![("origin".into(), Value::Text("https://a.example".into()))]))
            .with("jwt", Value::Map(vec![("secret".into(), Value::Text("s".into()))]))
            .with("openapi", Value::Bool(false));
        let o = AppOptions::from_raw(&raw).unwrap();
        assert_eq!(o.server.body_limit, 10);
        assert_eq!(o.cors.unwrap().origins, vec!["https://a.example"]);
        assert_eq!(o.jwt.unwrap().algorithms, vec!["HS256"]);
        assert!(o.openapi.is_none());
        let raw = app_options(Dialect::Python).with("jwt", Value::Map(vec![]));
        assert!(AppOptions::from_raw(&raw).is_err());
        let raw = app_options(Dialect::Python).with(
            "jwt",
            Value::Map(vec![
                ("secret".into(), Value::Text("s".into())),
                ("algorithms".into(), Value::List(vec![Value::Text("none".into())])),
            ]),
        );
        assert!(AppOptions::from_raw(&raw).is_err());
        let raw = app_options(Dialect::Python).with("secruity_headers", Value::Bool(false));
        assert!(AppOptions::from_raw(&raw).unwrap_err().message().contains("security_headers"));
    }
}
