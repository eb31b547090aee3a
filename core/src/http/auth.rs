//! Bearer tokens (JWT, RFC 7519) on the routes that require auth (`@RequireAuth()`, or roles or
//! permissions): stage 2 of a route's pipeline.
//!
//! - No `Authorization: Bearer <token>`: **401** (`H010`) with `WWW-Authenticate: Bearer`.
//! - A token that is malformed, signed with another key or algorithm (`alg: none` never
//!   verifies), expired beyond the leeway, not yet valid (`nbf`), without `exp`, or whose `iss`
//!   or `aud` is not the configured one: **401** (`H010`) with `WWW-Authenticate: Bearer
//!   error="invalid_token"` (RFC 6750).
//! - A valid token lacking one of the route's roles or permissions: **403** (`H011`) with
//!   `WWW-Authenticate: Bearer error="insufficient_scope"`.
//!
//! The verified claims are the handler's user (`Input.user`, `@CurrentUser()`). Roles and
//! permissions are read from their claims (`roles`, `permissions` by default) as a list of
//! strings or one space-separated string (as OAuth's `scope`); a claim name is looked up as it
//! is first (`https://app.example/roles`), then as a dotted path (`realm_access.roles`).

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value as Json};

use super::app::JwtOptions;
use super::problem::HttpError;
use crate::error::{Error, ErrorCode, Result};

/// How tokens are checked: one key (and its validation) per algorithm family.
pub(crate) struct Verifier {
    keys: Vec<(DecodingKey, Validation)>,
    roles_claim: String,
    permissions_claim: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algs: Vec<_> = self.keys.iter().flat_map(|(_, v)| v.algorithms.iter()).collect();
        f.debug_struct("Verifier").field("algorithms", &algs).finish_non_exhaustive()
    }
}

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidArgument, format!("jwt: {why}"))
}

/// The public key in `pem` (RSA, EC P-256 or P-384, Ed25519) and the algorithms it verifies by
/// default (RS256, ES256 or ES384, EdDSA); or why not.
pub(crate) fn public_key(pem: &str) -> std::result::Result<(DecodingKey, Vec<Algorithm>), &'static str> {
    if pem.contains("PRIVATE KEY") {
        return Err("is a private key; give its public key (openssl pkey -in key.pem -pubout)");
    }
    let b = pem.as_bytes();
    if let Ok(k) = DecodingKey::from_rsa_pem(b) {
        return Ok((k, vec![Algorithm::RS256]));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(b) {
        // An uncompressed P-384 point is 97 bytes, a P-256 one 65.
        let alg = if k.try_get_as_bytes().map(<[u8]>::len).unwrap_or(0) > 65 {
            Algorithm::ES384
        } else {
            Algorithm::ES256
        };
        return Ok((k, vec![alg]));
    }
    if let Ok(k) = DecodingKey::from_ed_pem(b) {
        return Ok((k, vec![Algorithm::EdDSA]));
    }
    Err("is not a PEM public key (RSA, EC P-256 or P-384, or Ed25519)")
}

/// The algorithm names taken (`none` never is).
pub(crate) const ALGORITHMS: &str =
    "HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA";

/// Whether `name` is an algorithm taken here.
pub(crate) fn known_algorithm(name: &str) -> bool {
    name.trim().parse::<Algorithm>().is_ok()
}

impl Verifier {
    /// The verifier for `o`; a key that does not parse, an unknown algorithm, `none`, or an
    /// algorithm without a key for it is refused (`E001`).
    pub(crate) fn new(o: &JwtOptions) -> Result<Verifier> {
        let mut keys: Vec<(DecodingKey, Vec<Algorithm>)> = Vec::new();
        if let Some(s) = &o.secret {
            if s.len() < 32 {
                tracing::warn!("jwt: an HMAC secret shorter than 32 bytes is weak (RFC 7518 3.2)");
            }
            let k = DecodingKey::from_secret(s.as_bytes()).map_err(|_| invalid("the secret is empty"))?;
            keys.push((k, Vec::new()));
        }
        let mut defaults = Vec::new();
        if let Some(pem) = &o.public_key {
            let (k, d) = public_key(pem).map_err(|why| invalid(format!("public_key {why}")))?;
            defaults = d;
            keys.push((k, Vec::new()));
        }
        if keys.is_empty() {
            return Err(invalid("needs a secret (HS256) or a public_key (PEM)"));
        }
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for name in &o.algorithms {
            let a: Algorithm = name.trim().parse().map_err(|_| {
                invalid(format!("'{name}' is not an algorithm taken here ({ALGORITHMS}; never none)"))
            })?;
            algorithms.push(a);
        }
        if algorithms.is_empty() {
            if o.secret.is_some() {
                algorithms.push(Algorithm::HS256);
            }
            algorithms.extend(defaults);
        }
        for a in &algorithms {
            let Some((_, taken)) = keys.iter_mut().find(|(k, _)| k.family() == a.family()) else {
                return Err(invalid(format!(
                    "algorithm {a:?} has no key: {} it",
                    if a.family() == jsonwebtoken::AlgorithmFamily::Hmac {
                        "a secret verifies"
                    } else {
                        "a public_key of its kind verifies"
                    }
                )));
            };
            if !taken.contains(a) {
                taken.push(*a);
            }
        }
        let keys = keys
            .into_iter()
            .filter(|(_, algs)| !algs.is_empty())
            .map(|(k, algs)| {
                let mut v = Validation::new(algs[0]);
                v.algorithms = algs;
                v.leeway = o.leeway.as_secs() + u64::from(o.leeway.subsec_nanos() > 0);
                v.validate_nbf = true;
                let mut required = vec!["exp"];
                if let Some(iss) = &o.issuer {
                    // Only checked when present unless required.
                    v.set_issuer(&[iss]);
                    required.push("iss");
                }
                if !o.audience.is_empty() {
                    v.set_audience(&o.audience);
                    required.push("aud");
                }
                v.set_required_spec_claims(&required);
                (k, v)
            })
            .collect();
        Ok(Verifier {
            keys,
            roles_claim: o.roles_claim.clone(),
            permissions_claim: o.permissions_claim.clone(),
        })
    }

    /// The claims of a token that verifies, or why it does not (for the 401's detail).
    pub(crate) fn verify(&self, token: &str) -> std::result::Result<Map<String, Json>, &'static str> {
        // The header says which key; `decode` checks the algorithm against that key's list.
        let header = jsonwebtoken::decode_header(token).map_err(|e| reason(e.kind()))?;
        let (key, validation) = self
            .keys
            .iter()
            .find(|(k, _)| k.family() == header.alg.family())
            .ok_or("the token's algorithm is not accepted")?;
        let data = jsonwebtoken::decode::<Json>(token, key, validation).map_err(|e| reason(e.kind()))?;
        match data.claims {
            Json::Object(m) => Ok(m),
            _ => Err("the token's claims are not a JSON object"),
        }
    }
}

/// Why a token was refused, in a few words (no key material, nothing from the token).
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
        ErrorKind::InvalidAudience => "the token's audience is not accepted",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            "the token's algorithm is not accepted"
        }
        ErrorKind::MissingRequiredClaim(c) => match c.as_str() {
            "exp" => "the token has no exp claim",
            "iss" => "the token has no iss claim",
            "aud" => "the token has no aud claim",
            _ => "the token lacks a required claim",
        },
        ErrorKind::InvalidClaimFormat(_) => "a claim of the token has the wrong type",
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidEddsaKey | ErrorKind::InvalidRsaKey(_) => {
            "the token's algorithm does not fit the key"
        }
        _ => "the token is malformed, or its algorithm is unknown",
    }
}

/// What one route requires.
#[derive(Debug)]
pub(crate) struct RouteAuth {
    pub(crate) verifier: std::sync::Arc<Verifier>,
    pub(crate) roles: Vec<String>,
    pub(crate) permissions: Vec<String>,
}

impl RouteAuth {
    /// The verified claims of the request's bearer token (the 401 otherwise).
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> std::result::Result<Map<String, Json>, HttpError> {
        let Some(token) = bearer(headers) else {
            return Err(unauthorized("no bearer token (Authorization: Bearer <token>)", false));
        };
        self.verifier.verify(token).map_err(|why| unauthorized(why, true))
    }

    /// Whether `claims` hold every role and permission the route requires (the 403 otherwise).
    pub(crate) fn authorize(&self, claims: &Map<String, Json>) -> std::result::Result<(), HttpError> {
        let missing_role = self.roles.iter().find(|r| !has(claims, &self.verifier.roles_claim, r));
        let missing_permission =
            self.permissions.iter().find(|p| !has(claims, &self.verifier.permissions_claim, p));
        let what = match (missing_role, missing_permission) {
            (Some(r), _) => format!("the role '{r}' is required"),
            (None, Some(p)) => format!("the permission '{p}' is required"),
            (None, None) => return Ok(()),
        };
        Err(HttpError::new(403)
            .with_detail(what)
            .with_code(ErrorCode::Forbidden)
            .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"insufficient_scope\"")))
    }
}

fn unauthorized(why: &str, token_given: bool) -> HttpError {
    let challenge = if token_given {
        HeaderValue::from_static("Bearer error=\"invalid_token\"")
    } else {
        HeaderValue::from_static("Bearer")
    };
    HttpError::new(401)
        .with_detail(why)
        .with_code(ErrorCode::Unauthorized)
        .with_header(WWW_AUTHENTICATE, challenge)
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The claim `name`: a key as it is, else a dotted path.
fn claim<'a>(claims: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

/// Whether the claim `name` (a list of strings, or a space-separated string) holds `wanted`.
fn has(claims: &Map<String, Json>, name: &str, wanted: &str) -> bool {
    match claim(claims, name) {
        Some(Json::Array(items)) => items.iter().any(|i| i.as_str() == Some(wanted)),
        Some(Json::String(s)) => s.split_ascii_whitespace().any(|i| i == wanted),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bearer_tokens_are_found_in_any_case() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn roles_are_lists_or_space_separated_and_claims_may_be_paths() {
        let c = json!({
            "roles": ["admin", "ops"], "scope": "read:users write:users",
            "realm_access": {"roles": ["auditor"]}, "https://app.example/roles": ["owner"],
        });
        let c = c.as_object().unwrap();
        assert!(has(c, "roles", "ops"));
        assert!(!has(c, "roles", "op"));
        assert!(has(c, "scope", "write:users"));
        assert!(!has(c, "scope", "write"));
        assert!(has(c, "realm_access.roles", "auditor"));
        assert!(has(c, "https://app.example/roles", "owner"));
        assert!(!has(c, "missing", "x"));
    }

    #[test]
    fn options_without_a_usable_key_are_refused() {
        let base = JwtOptions::with_secret("a-secret-long-enough-for-hs256-0123456789");
        assert!(Verifier::new(&base).is_ok());
        let o = JwtOptions { algorithms: vec!["RS256".into()], ..base.clone() };
        assert!(Verifier::new(&o).unwrap_err().message().contains("RS256"));
        let o = JwtOptions { algorithms: vec!["none".into()], ..base.clone() };
        assert!(Verifier::new(&o).is_err());
        let o = JwtOptions { secret: Some(String::new()), ..base.clone() };
        assert!(Verifier::new(&o).is_err());
        let o = JwtOptions::with_public_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        assert!(Verifier::new(&o).unwrap_err().message().contains("private key"));
        let o = JwtOptions::with_public_key("not a key");
        assert!(Verifier::new(&o).is_err());
    }

    #[test]
    fn a_door_s_jwt_options_take_the_public_key_s_algorithm() {
        use crate::dialect::Dialect;
        use crate::http::app::{AppOptions, app_options};
        use crate::options::Value;
        let jwt = |entries: Vec<(&str, Value)>| {
            let raw = app_options(Dialect::TypeScript)
                .with("jwt", Value::Map(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
            AppOptions::from_raw(&raw).map(|o| o.jwt.unwrap())
        };
        let pem = |s: &str| Value::Text(s.to_string());
        let ed = include_str!("../../tests/fixtures/jwt/ed.pub.pem");
        let ec = include_str!("../../tests/fixtures/jwt/ec.pub.pem");
        let rsa = include_str!("../../tests/fixtures/jwt/rsa.pub.pem");
        assert_eq!(jwt(vec![("publicKey", pem(ed))]).unwrap().algorithms, ["EdDSA"]);
        assert_eq!(jwt(vec![("publicKey", pem(ec))]).unwrap().algorithms, ["ES256"]);
        assert_eq!(jwt(vec![("publicKey", pem(rsa))]).unwrap().algorithms, ["RS256"]);
        let e = jwt(vec![("publicKey", pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"))]);
        assert!(e.unwrap_err().message().contains("publicKey is not a PEM public key"));
        let e = jwt(vec![("secret", pem("s")), ("algorithms", Value::List(vec![pem("HS257")]))]);
        assert!(e.unwrap_err().message().contains("HS257"));
    }
}
