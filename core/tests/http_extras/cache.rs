//! `@Cached`: kept answers, ETags, 304, and answers never shared between users.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use bytes::Bytes;
use omnitron::dialect::Dialect;
use omnitron::http::{
    AppOptions, HttpApp, HttpError, InjectRequest, Method, Request, Response, RouteSpec, app_options,
};
use omnitron::options::Value;
use serde_json::json;

use crate::{get, send};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_kept_answer_is_served_without_the_handler_and_304_when_its_tag_matches() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let svc = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/items/:id").cached(MINUTE), move |req: Request| {
            let n = c.fetch_add(1, SeqCst) + 1;
            async move { Ok(Response::json(200, &json!({ "id": req.param("id"), "n": n }))) }
        })
        .build()
        .unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();

    let first = get(a, "/items/1").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json(), json!({"id": "1", "n": 1}));
    let etag = first.header("etag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong tag: {etag}");
    assert_eq!(first.header("cache-control"), "public, max-age=60");

    let second = get(a, "/items/1").await;
    assert_eq!((second.status, &second.body), (200, &first.body));
    assert_eq!(second.header("etag"), etag);
    assert!(second.header("cache-control").starts_with("public, max-age="));
    assert_eq!(calls.load(SeqCst), 1, "the second answer came from the cache");

    for inm in [etag.clone(), format!("W/{etag}"), format!("\"nope\", W/\"x\",{etag}"), "*".to_string()] {
        let r = send(a, Method::GET, "/items/1", &[("if-none-match", &inm)], Bytes::new()).await;
        assert_eq!(r.status, 304, "If-None-Match: {inm}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), etag);
        assert!(r.headers.get("content-type").is_none());
    }
    let r = send(a, Method::GET, "/items/1", &[("if-none-match", "\"nope\"")], Bytes::new()).await;
    assert_eq!((r.status, &r.body), (200, &first.body));
    assert_eq!(calls.load(SeqCst), 1);

    // Another query or path is another answer; a HEAD is served from what a GET kept.
    assert_eq!(get(a, "/items/1?x=1").await.json()["n"], 2);
    assert_eq!(get(a, "/items/1?x=1").await.json()["n"], 2);
    assert_eq!(get(a, "/items/2").await.json()["n"], 3);
    let head = send(a, Method::HEAD, "/items/1", &[], Bytes::new()).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), etag);
    assert_eq!(calls.load(SeqCst), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn fresh_answers_get_their_tag_and_what_must_not_be_kept_is_not() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (c1, c2, c3, c4) = (calls.clone(), calls.clone(), calls.clone(), calls.clone());
    let svc = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/fresh").cached(MINUTE), move |_r: Request| {
            c1.fetch_add(1, SeqCst);
            async { Ok(Response::json(200, &json!({"fresh": true}))) }
        })
        .route(RouteSpec::new(Method::GET, "/cookie").cached(MINUTE), move |_r: Request| {
            c2.fetch_add(1, SeqCst);
            async { Ok(Response::json(200, &json!(1)).with_header("set-cookie", "s=1").unwrap()) }
        })
        .route(RouteSpec::new(Method::GET, "/no-store").cached(MINUTE), move |_r: Request| {
            c3.fetch_add(1, SeqCst);
            async { Ok(Response::json(200, &json!(1)).with_header("cache-control", "no-store").unwrap()) }
        })
        .route(RouteSpec::new(Method::GET, "/missing").cached(MINUTE), move |_r: Request| {
            c4.fetch_add(1, SeqCst);
            async { Err::<Response, _>(HttpError::not_found("no such thing")) }
        })
        .build()
        .unwrap();
    let inject = |path: &str, inm: Option<&str>| {
        let mut r = InjectRequest::new(Method::GET, path);
        if let Some(v) = inm {
            r = r.header("if-none-match", v);
        }
        let svc = svc.clone();
        async move { svc.inject(r).await.unwrap() }
    };
    // A first request that already holds a matching tag gets a 304 from the fresh answer.
    let r = inject("/fresh", Some("*")).await;
    assert_eq!(r.status(), 304);
    assert!(r.body().is_empty());
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = inject("/fresh", None).await;
    assert_eq!((r.status(), r.headers()["etag"].to_str().unwrap()), (200, etag.as_str()));
    assert_eq!(calls.load(SeqCst), 1, "the 304's fresh answer was kept");

    for path in ["/cookie", "/no-store", "/missing"] {
        let before = calls.load(SeqCst);
        let a = inject(path, None).await;
        let b = inject(path, None).await;
        assert_eq!(a.status(), b.status());
        assert_eq!(calls.load(SeqCst), before + 2, "{path} is not kept");
    }
    let r = inject("/no-store", None).await;
    assert_eq!(r.headers()["cache-control"], "no-store", "the handler's own Cache-Control stays");
    assert!(r.headers().get("etag").is_some());
    let r = inject("/missing", None).await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("etag").is_none());
}

/// HS256 tokens for `alice` and `bob` (secret `extras-test-secret`, expiring in 2100).
const ALICE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.nWgnl0lEWbsDvGEMmFm_dkCuJW13B2-NxPCO3Xe63nI";
const BOB: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IiLCJleHAiOjQxMDI0NDQ4MDB9.E2QPHH9ihO7AC13QEMnZBpqu7rTGVP3VDiORCDgrGP8";

#[tokio::test]
async fn answers_of_routes_that_require_auth_are_kept_per_user() {
    let raw = app_options(Dialect::Rust)
        .with("jwt", Value::Map(vec![("secret".into(), Value::Text("extras-test-secret".into()))]));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let svc = HttpApp::new(AppOptions::from_raw(&raw).unwrap())
        .route(RouteSpec::new(Method::GET, "/me").require_auth().cached(MINUTE), move |req: Request| {
            c.fetch_add(1, SeqCst);
            let token = req.header("authorization").unwrap_or_default().to_string();
            async move { Ok(Response::json(200, &json!({ "token": token }))) }
        })
        .build()
        .unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();
    let me = |token: &'static str, inm: Option<String>| async move {
        let auth = format!("Bearer {token}");
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(v) = &inm {
            h.push(("if-none-match", v.as_str()));
        }
        send(a, Method::GET, "/me", &h, Bytes::new()).await
    };
    let alice = me(ALICE, None).await;
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json()["token"], format!("Bearer {ALICE}"));
    assert_eq!(alice.header("cache-control"), "private, max-age=60");
    assert!(alice.header("vary").contains("Authorization"));
    let bob = me(BOB, None).await;
    assert_eq!(bob.json()["token"], format!("Bearer {BOB}"), "bob never gets alice's answer");
    assert_eq!(calls.load(SeqCst), 2);
    // Each one's answer is kept for that one.
    assert_eq!(me(ALICE, None).await.body, alice.body);
    assert_eq!(me(BOB, None).await.body, bob.body);
    assert_eq!(calls.load(SeqCst), 2);
    // No token: refused before the cache is looked at.
    assert_eq!(send(a, Method::GET, "/me", &[], Bytes::new()).await.status, 401);
    assert_eq!(calls.load(SeqCst), 2);
    // Bob holding alice's tag gets his own answer, not a 304.
    let r = me(BOB, Some(alice.header("etag").to_string())).await;
    assert_eq!((r.status, &r.body), (200, &bob.body));
    server.shutdown().await;
}

#[tokio::test]
async fn only_get_routes_can_be_cached() {
    let e = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::POST, "/items").cached(MINUTE), |_req: Request| async {
            Ok::<_, HttpError>(Response::empty(201))
        })
        .build()
        .expect_err("a cached POST is refused");
    assert!(e.message().contains("route POST /items is cached, but only GET"), "{e}");
}
