//! An app's security, over real sockets (hyper's client) and in-process: security headers, CORS,
//! rate limits, JWT auth (HS256, RS256, ES256, EdDSA; 401 and 403) and audit records.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use omnitron::ErrorCode;
use omnitron::http::app::{CorsOptions, JwtOptions};
use omnitron::http::{
    AppOptions, AuditRecord, DoorAnswer, HttpApp, HttpError, HttpServer, HttpService, InjectRequest, Method,
    Request, Response, RouteSpec, SECURITY_HEADERS,
};
use parking_lot::Mutex;
use serde_json::{Value, json};

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

/// One request over the socket with hyper's client.
async fn call(addr: std::net::SocketAddr, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut b = hyper::Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::new())).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(30), client.request(req)).await.unwrap().unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply { status, headers, body: serde_json::from_slice(&body).unwrap_or(Value::Null) }
}

async fn inject(svc: &HttpService, method: Method, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut r = InjectRequest::new(method, path);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    svc.inject(r).await.unwrap()
}

fn ok_json(v: Value) -> Result<Response, HttpError> {
    Ok(Response::json(200, &v))
}

/// A route answering the verified user's claims.
async fn whoami(req: Request) -> Result<Response, HttpError> {
    ok_json(json!({ "user": req.user().cloned() }))
}

async fn serve(app: HttpApp) -> (HttpService, HttpServer) {
    let svc = app.build().unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    (svc, server)
}

// ---------------------------------------------------------------------------------------------
// Security headers

#[tokio::test]
async fn security_headers_are_on_every_answer_and_a_handler_s_own_win() {
    let app = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/plain"), |_r: Request| async { ok_json(json!({"ok": true})) })
        .route(RouteSpec::new(Method::GET, "/framed"), |_r: Request| async {
            Ok(Response::text(200, "x").with_header("x-frame-options", "DENY").unwrap())
        })
        .route(RouteSpec::new(Method::GET, "/fails"), |_r: Request| async {
            Err(HttpError::bad_request("no"))
        });
    let (_svc, server) = serve(app).await;
    let addr = server.local_addr();
    for (path, method, status) in [
        ("/plain", Method::GET, 200),
        ("/fails", Method::GET, 400),
        ("/nope", Method::GET, 404),
        ("/plain", Method::POST, 405),
        ("/plain", Method::HEAD, 200),
    ] {
        let r = call(addr, method.clone(), path, &[]).await;
        assert_eq!(r.status, status, "{method} {path}");
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(r.headers[*name], *value, "{name} on {method} {path}");
        }
    }
    let r = call(addr, Method::GET, "/plain", &[]).await;
    assert!(
        r.headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'self';base-uri")
    );
    assert_eq!(r.headers["strict-transport-security"], "max-age=31536000; includeSubDomains");
    let r = call(addr, Method::GET, "/framed", &[]).await;
    assert_eq!(r.headers.get_all("x-frame-options").iter().collect::<Vec<_>>(), ["DENY"]);
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    server.shutdown().await;

    let mut o = AppOptions::default();
    o.security_headers = false;
    let svc = HttpApp::new(o).build().unwrap();
    let r = inject(&svc, Method::GET, "/nope", &[]).await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("x-content-type-options").is_none());
}

// ---------------------------------------------------------------------------------------------
// CORS

fn cors_app(cors: CorsOptions) -> HttpApp {
    let mut o = AppOptions::default();
    o.cors = Some(cors);
    HttpApp::new(o).route(RouteSpec::new(Method::GET, "/items"), |_r: Request| async {
        Ok(Response::json(200, &json!([])).with_header("x-total", "0").unwrap())
    })
}

#[tokio::test]
async fn preflights_from_allowed_origins_are_answered_and_others_are_routed() {
    let cors = CorsOptions {
        origins: vec!["https://app.example".into()],
        credentials: true,
        exposed_headers: vec!["x-total".into()],
        max_age: Some(Duration::from_secs(600)),
        ..CorsOptions::default()
    };
    let (_svc, server) = serve(cors_app(cors)).await;
    let addr = server.local_addr();
    let preflight = |origin: &'static str| {
        [
            ("origin", origin),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization, x-trace"),
        ]
    };

    let r = call(addr, Method::OPTIONS, "/items", &preflight("https://app.example")).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.headers["access-control-allow-origin"], "https://app.example");
    assert_eq!(r.headers["access-control-allow-credentials"], "true");
    assert_eq!(r.headers["access-control-allow-methods"], "GET,HEAD,PUT,PATCH,POST,DELETE");
    assert_eq!(r.headers["access-control-allow-headers"], "authorization, x-trace");
    assert_eq!(r.headers["access-control-max-age"], "600");
    let vary: Vec<_> = r.headers.get_all("vary").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert_eq!(vary, ["Origin", "Access-Control-Request-Headers"]);
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // A preflight to a path no route has is still a preflight (the browser asks before it calls).
    assert_eq!(call(addr, Method::OPTIONS, "/anything", &preflight("https://app.example")).await.status, 204);

    // Another origin: not answered as CORS; the route has no OPTIONS, so 405.
    let r = call(addr, Method::OPTIONS, "/items", &preflight("https://evil.example")).await;
    assert_eq!(r.status, 405);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // An OPTIONS without Access-Control-Request-Method is not a preflight.
    let r = call(addr, Method::OPTIONS, "/items", &[("origin", "https://app.example")]).await;
    assert_eq!(r.status, 405);

    // Actual requests: the origin echoed, with credentials and the exposed headers.
    let r = call(addr, Method::GET, "/items", &[("origin", "https://app.example")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["access-control-allow-origin"], "https://app.example");
    assert_eq!(r.headers["access-control-allow-credentials"], "true");
    assert_eq!(r.headers["access-control-expose-headers"], "x-total");
    assert_eq!(r.headers["vary"], "Origin");
    let r = call(addr, Method::GET, "/items", &[("origin", "https://evil.example")]).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    assert!(r.headers.get("access-control-allow-credentials").is_none());
    assert_eq!(r.headers["vary"], "Origin");
    // Errors carry them too.
    let r = call(addr, Method::GET, "/nope", &[("origin", "https://app.example")]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["access-control-allow-origin"], "https://app.example");
    server.shutdown().await;
}

#[tokio::test]
async fn any_origin_is_a_star_without_credentials_and_an_echo_with_them() {
    let svc = cors_app(CorsOptions::default()).build().unwrap();
    let r = inject(&svc, Method::GET, "/items", &[("origin", "https://a.example")]).await;
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r.headers().get("vary").is_none());
    let r = inject(
        &svc,
        Method::OPTIONS,
        "/items",
        &[("origin", "https://a.example"), ("access-control-request-method", "DELETE")],
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");

    let svc = cors_app(CorsOptions { credentials: true, ..CorsOptions::default() }).build().unwrap();
    let r = inject(&svc, Method::GET, "/items", &[("origin", "https://a.example")]).await;
    assert_eq!(r.headers()["access-control-allow-origin"], "https://a.example");
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    assert_eq!(r.headers()["vary"], "Origin");

    let bad = CorsOptions { origins: vec!["app.example".into()], ..CorsOptions::default() };
    assert_eq!(cors_app(bad).build().unwrap_err().code(), ErrorCode::InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[tokio::test]
async fn a_client_over_the_limit_gets_429_then_is_served_again() {
    let app = HttpApp::new(AppOptions::default())
        .route(
            RouteSpec::new(Method::GET, "/limited").rate_limit(3, Duration::from_secs(1)),
            |_r: Request| async { ok_json(json!({"ok": true})) },
        )
        .route(RouteSpec::new(Method::GET, "/free"), |_r: Request| async { ok_json(json!({"ok": true})) });
    let (_svc, server) = serve(app).await;
    let addr = server.local_addr();
    for left in ["2", "1", "0"] {
        let r = call(addr, Method::GET, "/limited", &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["ratelimit-limit"], "3");
        assert_eq!(r.headers["ratelimit-remaining"], left);
        assert_eq!(r.headers["ratelimit-policy"], "3;w=1");
    }
    let r = call(addr, Method::GET, "/limited", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["code"], "H012");
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.headers["ratelimit-remaining"], "0");
    assert_eq!(r.headers["ratelimit-reset"], "1");
    // Another route is not limited.
    assert_eq!(call(addr, Method::GET, "/free", &[]).await.status, 200);
    // The allowance comes back (polled, bounded; no assertion on how long it takes).
    let mut served = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if call(addr, Method::GET, "/limited", &[]).await.status == 200 {
            served = true;
            break;
        }
    }
    assert!(served, "the limit never let the client through again");
    server.shutdown().await;
}

#[tokio::test]
async fn the_app_wide_limit_counts_every_declared_route_together() {
    let mut o = AppOptions::default();
    o.rate_limit =
        Some(omnitron::http::RateLimitSpec { max: 2, window: Duration::from_secs(60), per_client: true });
    let app = HttpApp::new(o)
        .route(RouteSpec::new(Method::GET, "/a"), |_r: Request| async { ok_json(json!(1)) })
        .route(
            RouteSpec::new(Method::GET, "/b").rate_limit(10, Duration::from_secs(60)),
            |_r: Request| async { ok_json(json!(2)) },
        );
    let svc = app.build().unwrap();
    let r = inject(&svc, Method::GET, "/a", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["ratelimit-remaining"], "1");
    // The app's limit (1 left) is tighter than the route's (9 left): its headers are sent.
    let r = inject(&svc, Method::GET, "/b", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["ratelimit-limit"], "2");
    let r = inject(&svc, Method::GET, "/b", &[]).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "30");
    // Not declared routes (404s) are not counted or refused.
    assert_eq!(inject(&svc, Method::GET, "/nope", &[]).await.status(), 404);
}

// ---------------------------------------------------------------------------------------------
// JWT

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn hs(secret: &str, claims: &Value) -> String {
    sign(Algorithm::HS256, &EncodingKey::from_secret(secret.as_bytes()).unwrap(), claims)
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn jwt_app(jwt: JwtOptions) -> HttpApp {
    let mut o = AppOptions::default();
    o.jwt = Some(jwt);
    HttpApp::new(o)
        .route(RouteSpec::new(Method::GET, "/me").require_auth(), whoami)
        .route(RouteSpec::new(Method::GET, "/admin").require_roles(["admin"]), whoami)
        .route(RouteSpec::new(Method::GET, "/reports").require_permissions(["reports:read"]), whoami)
        .route(RouteSpec::new(Method::GET, "/open"), whoami)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn hs256_tokens_are_verified_and_bad_ones_are_401() {
    let mut jwt = JwtOptions::with_secret(SECRET);
    jwt.issuer = Some("https://issuer.example".into());
    jwt.audience = vec!["orders-api".into()];
    let (_svc, server) = serve(jwt_app(jwt)).await;
    let addr = server.local_addr();
    let claims = |extra: Value| {
        let mut c =
            json!({"sub": "u1", "iss": "https://issuer.example", "aud": "orders-api", "exp": now() + 600});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    };
    let get = |path: &'static str, token: Option<String>| async move {
        let auth = token.map(|t| bearer(&t));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        call(addr, Method::GET, path, &headers).await
    };

    let good = hs(SECRET, &claims(json!({})));
    let r = get("/me", Some(good.clone())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["user"]["sub"], "u1");
    // Within the leeway (60 s by default) an expired token still passes.
    assert_eq!(get("/me", Some(hs(SECRET, &claims(json!({"exp": now() - 10}))))).await.status, 200);
    // No token: 401 with a bare challenge; the open route needs none.
    let r = get("/me", None).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("H010")));
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_eq!(get("/open", None).await.status, 200);
    let r = call(addr, Method::GET, "/me", &[("authorization", "Basic dTpw")]).await;
    assert_eq!(r.headers["www-authenticate"], "Bearer");

    let none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims(json!({})).to_string().as_bytes())
    );
    let good_sig = good.rsplit('.').next().unwrap();
    let none_with_sig = format!("{none}{good_sig}");
    let bad = [
        ("wrong key", hs("another-secret-of-at-least-32-bytes!!", &claims(json!({})))),
        ("expired", hs(SECRET, &claims(json!({"exp": now() - 3600})))),
        ("no exp", hs(SECRET, &json!({"sub": "u1", "iss": "https://issuer.example", "aud": "orders-api"}))),
        ("not yet", hs(SECRET, &claims(json!({"nbf": now() + 3600})))),
        ("wrong issuer", hs(SECRET, &claims(json!({"iss": "https://evil.example"})))),
        ("no issuer", hs(SECRET, &json!({"sub": "u1", "aud": "orders-api", "exp": now() + 600}))),
        ("wrong audience", hs(SECRET, &claims(json!({"aud": "billing-api"})))),
        (
            "no audience",
            hs(SECRET, &json!({"sub": "u1", "iss": "https://issuer.example", "exp": now() + 600})),
        ),
        ("alg none", none),
        ("alg none with a signature", none_with_sig),
        ("garbage", "not.a.token".to_string()),
        ("tampered", {
            let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
            parts[1] = b64url(claims(json!({"sub": "admin"})).to_string().as_bytes());
            parts.join(".")
        }),
    ];
    for (what, token) in bad {
        let r = get("/me", Some(token)).await;
        assert_eq!(r.status, 401, "{what}");
        assert_eq!(r.body["code"], "H010", "{what}");
        assert_eq!(r.headers["www-authenticate"], "Bearer error=\"invalid_token\"", "{what}");
        assert!(r.body["detail"].as_str().unwrap().starts_with("the token"), "{what}: {}", r.body);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_valid_token_without_the_role_or_permission_is_403() {
    let svc = jwt_app(JwtOptions::with_secret(SECRET)).build().unwrap();
    let get = |path: &'static str, claims: Value| {
        let token = hs(SECRET, &claims);
        let svc = svc.clone();
        async move { inject(&svc, Method::GET, path, &[("authorization", bearer(&token).as_str())]).await }
    };
    let exp = now() + 600;
    let r = get("/admin", json!({"sub": "u1", "exp": exp, "roles": ["user"]})).await;
    assert_eq!(r.status(), 403);
    let body: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["code"], "H011");
    assert!(body["detail"].as_str().unwrap().contains("admin"));
    assert_eq!(r.headers()["www-authenticate"], "Bearer error=\"insufficient_scope\"");
    assert_eq!(
        get("/admin", json!({"sub": "u1", "exp": exp, "roles": ["user", "admin"]})).await.status(),
        200
    );
    assert_eq!(get("/admin", json!({"sub": "u1", "exp": exp, "roles": "user admin"})).await.status(), 200);
    assert_eq!(get("/reports", json!({"sub": "u1", "exp": exp, "roles": ["admin"]})).await.status(), 403);
    let r =
        get("/reports", json!({"sub": "u1", "exp": exp, "permissions": "reports:read reports:write"})).await;
    assert_eq!(r.status(), 200);

    // Claims elsewhere (Keycloak's realm_access.roles, OAuth's scope).
    let mut jwt = JwtOptions::with_secret(SECRET);
    jwt.roles_claim = "realm_access.roles".into();
    jwt.permissions_claim = "scope".into();
    let svc = jwt_app(jwt).build().unwrap();
    let token =
        hs(SECRET, &json!({"exp": exp, "realm_access": {"roles": ["admin"]}, "scope": "reports:read"}));
    for path in ["/admin", "/reports"] {
        assert_eq!(
            inject(&svc, Method::GET, path, &[("authorization", bearer(&token).as_str())]).await.status(),
            200
        );
    }
}

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_are_verified_with_public_keys() {
    let cases = [
        ("rsa", Algorithm::RS256, EncodingKey::from_rsa_pem(fixture("rsa.pem").as_bytes()).unwrap()),
        ("ec", Algorithm::ES256, EncodingKey::from_ec_pem(fixture("ec.pem").as_bytes()).unwrap()),
        ("ed", Algorithm::EdDSA, EncodingKey::from_ed_pem(fixture("ed.pem").as_bytes()).unwrap()),
    ];
    let other_ec = EncodingKey::from_ec_pem(fixture("ec-other.pem").as_bytes()).unwrap();
    let claims = json!({"sub": "u2", "exp": now() + 600});
    for (name, alg, key) in cases {
        let public = fixture(&format!("{name}.pub.pem"));
        let (_svc, server) = serve(jwt_app(JwtOptions::with_public_key(public.clone()))).await;
        let addr = server.local_addr();
        let token = sign(alg, &key, &claims);
        let r = call(addr, Method::GET, "/me", &[("authorization", bearer(&token).as_str())]).await;
        assert_eq!(r.status, 200, "{alg:?}");
        assert_eq!(r.body["user"]["sub"], "u2");
        // Signed by another key of the same kind.
        let wrong = sign(Algorithm::ES256, &other_ec, &claims);
        assert_eq!(
            call(addr, Method::GET, "/me", &[("authorization", bearer(&wrong).as_str())]).await.status,
            401
        );
        // The classic confusion: HS256 with the public key as the secret.
        let confused = hs(&public, &claims);
        let r = call(addr, Method::GET, "/me", &[("authorization", bearer(&confused).as_str())]).await;
        assert_eq!(r.status, 401, "{alg:?}: HS256 signed with the public key");
        server.shutdown().await;
    }
}

#[test]
fn a_route_requiring_auth_needs_jwt_options() {
    let e = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/me").require_roles(["admin"]), whoami)
        .build()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRoute);
    assert!(e.message().contains("jwt"), "{}", e.message());
    let e = jwt_app(JwtOptions::with_public_key(fixture("rsa.pem"))).build().unwrap_err();
    assert!(e.message().contains("private key"), "{}", e.message());
}

// ---------------------------------------------------------------------------------------------
// Audit

#[tokio::test]
async fn every_attempt_on_an_audited_route_is_recorded() {
    let records: Arc<Mutex<Vec<AuditRecord>>> = Arc::default();
    let started = Arc::new(tokio::sync::Notify::new());
    let mut o = AppOptions::default();
    o.jwt = Some(JwtOptions::with_secret(SECRET));
    let s = started.clone();
    let mut app = HttpApp::new(o)
        .route(
            RouteSpec::new(Method::DELETE, "/users/:id")
                .require_roles(["admin"])
                .body_schema(json!({"type": "object"}))
                .rate_limit(6, Duration::from_secs(600))
                .audit("DELETE_USER"),
            |req: Request| async move {
                match req.input().unwrap().body.get("panic") {
                    Some(_) => panic!("the handler panicked"),
                    None => Ok(DoorAnswer::default().into_response(None)),
                }
            },
        )
        .route(RouteSpec::new(Method::GET, "/slow").audit("SLOW"), move |_req: Request| {
            let s = s.clone();
            async move {
                s.notify_one();
                std::future::pending::<()>().await;
                ok_json(json!(null))
            }
        });
    let sink = records.clone();
    app.on_audit(Arc::new(move |r: &AuditRecord| sink.lock().push(r.clone())));
    let (svc, server) = serve(app).await;
    let addr = server.local_addr();
    let admin = bearer(&hs(SECRET, &json!({"sub": "alice", "exp": now() + 600, "roles": ["admin"]})));
    let user = bearer(&hs(SECRET, &json!({"sub": 42, "exp": now() + 600, "roles": ["user"]})));

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let delete = |auth: Option<&str>, body: &'static str| {
        let mut b = hyper::Request::builder().method(Method::DELETE).uri(format!("http://{addr}/users/7"));
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let req = b.header("content-type", "application/json").body(Full::new(Bytes::from(body))).unwrap();
        let client = client.clone();
        async move { client.request(req).await.unwrap().status().as_u16() }
    };
    assert_eq!(delete(Some(admin.as_str()), "{}").await, 204);
    assert_eq!(delete(None, "{}").await, 401);
    assert_eq!(delete(Some(user.as_str()), "{}").await, 403);
    assert_eq!(delete(Some(admin.as_str()), "{nope").await, 400);
    assert_eq!(delete(Some(admin.as_str()), r#"{"panic": true}"#).await, 500);
    assert_eq!(delete(Some(admin.as_str()), "{}").await, 204);
    assert_eq!(delete(Some(admin.as_str()), "{}").await, 429);
    // The server kept serving after the panic.
    assert_eq!(call(addr, Method::GET, "/nope", &[]).await.status, 404);

    let got: Vec<(u16, &'static str, Option<String>)> =
        records.lock().iter().map(|r| (r.status, r.outcome, r.actor.clone())).collect();
    let alice = Some("alice".to_string());
    assert_eq!(
        got,
        [
            (204, "success", alice.clone()),
            (401, "failure", None),
            (403, "failure", Some("42".to_string())),
            (400, "failure", alice.clone()),
            (500, "failure", alice.clone()),
            (204, "success", alice.clone()),
            (429, "failure", None),
        ]
    );
    let first = records.lock()[0].clone();
    assert_eq!(first.action, "DELETE_USER");
    assert_eq!(first.method, "DELETE");
    assert_eq!((first.path.as_str(), first.route.as_str()), ("/users/7", "/users/:id"));
    assert_eq!(first.params, json!({"id": "7"}));
    assert_eq!(first.remote.unwrap().ip(), addr.ip());
    assert_eq!(first.request_id.len(), 32);
    server.shutdown().await;

    // A request whose client goes away before the answer is recorded too (499).
    records.lock().clear();
    let task = tokio::spawn({
        let svc = svc.clone();
        async move { svc.inject(InjectRequest::new(Method::GET, "/slow")).await }
    });
    started.notified().await;
    task.abort();
    let _ = task.await;
    let got: Vec<(String, u16, &str)> =
        records.lock().iter().map(|r| (r.action.clone(), r.status, r.outcome)).collect();
    assert_eq!(got, [("SLOW".to_string(), 499, "failure")]);
}

/// Sends a POST's head announcing a body of `len` bytes, never the body, and reads the answer.
async fn head_only(addr: std::net::SocketAddr, path: &str, headers: &str, len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{headers}Content-Length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // The server's body timeout is longer than this: an answer here was given without the body.
    let answered = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let n = s.read(&mut buf).await.unwrap_or(0);
            out.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&out);
            if n == 0 || text.contains("\r\n\r\n{") && text.ends_with('}') {
                break;
            }
        }
    })
    .await;
    assert!(answered.is_ok(), "no answer before the body: {}", String::from_utf8_lossy(&out));
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_clients_are_answered_before_their_body_is_read() {
    let mut o = AppOptions::default();
    o.jwt = Some(JwtOptions::with_secret(SECRET));
    o.server.body_read_timeout = Duration::from_secs(120);
    let records: Arc<Mutex<Vec<AuditRecord>>> = Arc::default();
    let r = records.clone();
    let mut app = HttpApp::new(o)
        .route(RouteSpec::new(Method::POST, "/private").require_roles(["admin"]).audit("WRITE"), whoami)
        .route(RouteSpec::new(Method::POST, "/limited").rate_limit(1, Duration::from_secs(3600)), whoami);
    app.on_audit(Arc::new(move |rec: &AuditRecord| r.lock().push(rec.clone())));
    let (_svc, server) = serve(app).await;
    let addr = server.local_addr();

    // No token: 401 at once, though 500,000 bytes were announced and none sent; audited.
    let text = head_only(addr, "/private", "", 500_000).await;
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("H010"), "{text}");
    // A token without the role: 403.
    let token = hs(SECRET, &json!({"sub": "u1", "roles": ["user"], "exp": now() + 600}));
    let text = head_only(addr, "/private", &format!("Authorization: Bearer {token}\r\n"), 500_000).await;
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    let statuses: Vec<(u16, Option<String>)> =
        records.lock().iter().map(|r| (r.status, r.actor.clone())).collect();
    assert_eq!(statuses, vec![(401, None), (403, Some("u1".into()))]);

    // Over the rate limit: 429 before the body, with the limit's headers.
    let ok = call(addr, Method::POST, "/limited", &[]).await;
    assert_ne!(ok.status, 429);
    let text = head_only(addr, "/limited", "", 500_000).await;
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    assert!(text.to_ascii_lowercase().contains("retry-after:"), "{text}");
}
