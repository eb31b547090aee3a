//! Typed handlers (extractors and answers) through an app, in-process and over a real socket.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use omnitron::http::{
    AppOptions, CurrentUser, Headers, HttpApp, HttpError, InjectRequest, Json, Method, Path, Query, Request,
    Response, RouteSpec,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Paging {
    limit: Option<u32>,
    #[serde(default)]
    verbose: bool,
}

#[derive(Debug, Deserialize, Serialize)]
struct NewUser {
    name: String,
    age: u8,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
}

async fn get_user(Path(id): Path<u64>, Query(p): Query<Paging>) -> Result<Json<Value>, HttpError> {
    if id == 0 {
        return Err(HttpError::not_found("no user 0"));
    }
    Ok(Json(json!({ "id": id, "limit": p.limit, "verbose": p.verbose })))
}

async fn create_user(Json(user): Json<NewUser>, headers: Headers) -> Result<Json<Value>, HttpError> {
    Ok(Json(json!({ "name": user.name, "age": user.age, "agent": headers.get("x-agent") })))
}

async fn pair(Path((org, n)): Path<(String, i32)>) -> Result<String, HttpError> {
    Ok(format!("{org}:{n}"))
}

async fn remove(Path(_id): Path<u64>) -> Result<(), HttpError> {
    Ok(())
}

async fn accepted(Json(v): Json<Value>) -> Result<(u16, Json<Value>), HttpError> {
    Ok((202, Json(v)))
}

async fn whoami(user: Option<CurrentUser<Claims>>) -> Result<Json<Value>, HttpError> {
    Ok(Json(json!({ "sub": user.map(|u| u.0.sub) })))
}

async fn me(CurrentUser(c): CurrentUser<Claims>) -> Result<String, HttpError> {
    Ok(c.sub)
}

async fn raw(req: Request) -> Result<Response, HttpError> {
    Ok(Response::text(200, format!("{} {}", req.method(), req.path())))
}

async fn panics(Path(_id): Path<u64>) -> Result<(), HttpError> {
    panic!("typed handlers can panic too")
}

fn app() -> HttpApp {
    HttpApp::new(AppOptions::default())
        .get("/users/:id", get_user)
        .post("/users", create_user)
        .get("/orgs/{org}/n/{n}", pair)
        .delete("/users/:id", remove)
        .post(RouteSpec::new(Method::GET, "/jobs").summary("start a job"), accepted)
        .put(RouteSpec::new(Method::GET, "/status").status(202), |_r: Request| async { Ok(()) })
        .get("/whoami", whoami)
        .get("/me", me)
        .route_typed(RouteSpec::new(Method::PATCH, "/raw"), raw)
        .get("/panics/:id", panics)
        .get("/closure/:x", |Path(x): Path<String>, m: Method| async move { Ok(format!("{m} {x}")) })
        // The untyped registration still works beside the typed ones.
        .route(RouteSpec::new(Method::GET, "/untyped"), |_r: Request| async { Ok(Response::text(200, "u")) })
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(r.body()).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", r.body()))
}

#[tokio::test]
async fn extractors_and_answers_in_process() {
    let svc = app().build().unwrap();
    let r = svc.inject(InjectRequest::new(Method::GET, "/users/7?limit=5&verbose=true")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(&r), json!({"id": 7, "limit": 5, "verbose": true}));

    let r = svc
        .inject(
            InjectRequest::new(Method::POST, "/users")
                .json(&json!({"name": "ada", "age": 36}))
                .header("x-agent", "t"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(json_of(&r), json!({"name": "ada", "age": 36, "agent": "t"}));

    let r = svc.inject(InjectRequest::new(Method::GET, "/orgs/acme/n/-4")).await.unwrap();
    assert_eq!((r.status(), r.body().as_ref()), (200, &b"acme:-4"[..]));
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");

    let r = svc.inject(InjectRequest::new(Method::DELETE, "/users/1")).await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.body().is_empty());

    let r = svc.inject(InjectRequest::new(Method::POST, "/jobs").json(&json!([1, 2]))).await.unwrap();
    assert_eq!((r.status(), json_of(&r)), (202, json!([1, 2])));

    let r = svc.inject(InjectRequest::new(Method::PUT, "/status")).await.unwrap();
    assert_eq!(r.status(), 202, "() answers the route's declared status");

    let r = svc.inject(InjectRequest::new(Method::GET, "/whoami")).await.unwrap();
    assert_eq!(json_of(&r), json!({"sub": null}));

    let r = svc.inject(InjectRequest::new(Method::PATCH, "/raw")).await.unwrap();
    assert_eq!(r.body().as_ref(), b"PATCH /raw");

    let r = svc.inject(InjectRequest::new(Method::GET, "/closure/hi")).await.unwrap();
    assert_eq!(r.body().as_ref(), b"GET hi");

    let r = svc.inject(InjectRequest::new(Method::GET, "/untyped")).await.unwrap();
    assert_eq!(r.body().as_ref(), b"u");

    let r = svc.inject(InjectRequest::new(Method::GET, "/users/0")).await.unwrap();
    assert_eq!(r.status(), 404, "the handler's own error");
}

fn problem(r: &Response, status: u16, code: &str) -> String {
    assert_eq!(r.status(), status, "{:?}", r.body());
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p = json_of(r);
    assert_eq!(p["code"], code, "{p}");
    p["detail"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn extraction_failures_are_400_problems_naming_the_field() {
    let svc = app().build().unwrap();
    let r = svc.inject(InjectRequest::new(Method::GET, "/users/abc")).await.unwrap();
    let d = problem(&r, 400, "H009");
    assert!(d.contains("'abc' is not a valid u64"), "{d}");

    let r = svc.inject(InjectRequest::new(Method::GET, "/users/1?limit=lots")).await.unwrap();
    let d = problem(&r, 400, "H009");
    assert!(d.contains("limit: 'lots' is not a valid u32"), "{d}");

    let r = svc
        .inject(InjectRequest::new(Method::POST, "/users").json(&json!({"name": "a", "age": 300})))
        .await
        .unwrap();
    let d = problem(&r, 400, "H001");
    assert!(d.contains("age: invalid value: integer `300`"), "{d}");

    let r = svc.inject(InjectRequest::new(Method::POST, "/users").json(&json!({"age": 3}))).await.unwrap();
    let d = problem(&r, 400, "H001");
    assert!(d.contains("missing field `name`"), "{d}");

    let r = svc.inject(InjectRequest::new(Method::POST, "/users").body("{\"name\": ")).await.unwrap();
    problem(&r, 400, "H001");
    let r = svc.inject(InjectRequest::new(Method::POST, "/users")).await.unwrap();
    let d = problem(&r, 400, "H001");
    assert!(d.contains("the body is empty"), "{d}");

    let r = svc.inject(InjectRequest::new(Method::GET, "/me")).await.unwrap();
    problem(&r, 401, "H010");

    // A panicking typed handler is a 500 problem, and the next request is served.
    let r = svc.inject(InjectRequest::new(Method::GET, "/panics/1")).await.unwrap();
    problem(&r, 500, "H005");
    let r = svc.inject(InjectRequest::new(Method::GET, "/users/3")).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn typed_routes_over_a_socket() {
    let svc = app().build().unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let send = |req: hyper::Request<Full<bytes::Bytes>>| {
        let client = client.clone();
        async move {
            let res =
                tokio::time::timeout(Duration::from_secs(30), client.request(req)).await.unwrap().unwrap();
            let status = res.status().as_u16();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }
    };

    let (s, body) =
        send(hyper::Request::get(format!("{base}/users/42?limit=2")).body(Full::default()).unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"id": 42, "limit": 2, "verbose": false})
    );

    let req = hyper::Request::post(format!("{base}/users"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from_static(br#"{"name":"bo","age":7}"#)))
        .unwrap();
    let (s, body) = send(req).await;
    assert_eq!(s, 201);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["name"], "bo");

    let (s, body) = send(hyper::Request::get(format!("{base}/users/x")).body(Full::default()).unwrap()).await;
    assert_eq!(s, 400);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["code"], "H009");

    let (s, _) = send(hyper::Request::delete(format!("{base}/users/9")).body(Full::default()).unwrap()).await;
    assert_eq!(s, 204);
    server.shutdown().await;
}

#[tokio::test]
async fn current_user_reads_the_verified_token() {
    use jsonwebtoken::{EncodingKey, Header};
    let mut o = AppOptions::default();
    o.jwt = Some(omnitron::http::app::JwtOptions::with_secret("typed-secret"));
    let svc = HttpApp::new(o)
        .get(RouteSpec::new(Method::GET, "/me").require_auth(), me)
        .get("/whoami", whoami)
        .build()
        .unwrap();
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let key = EncodingKey::from_secret(b"typed-secret").unwrap();
    let token = jsonwebtoken::encode(&Header::default(), &json!({"sub": "ada", "exp": exp}), &key).unwrap();

    let r = svc
        .inject(InjectRequest::new(Method::GET, "/me").header("authorization", format!("Bearer {token}")))
        .await
        .unwrap();
    assert_eq!((r.status(), r.body().as_ref()), (200, &b"ada"[..]));
    let r = svc.inject(InjectRequest::new(Method::GET, "/me")).await.unwrap();
    problem(&r, 401, "H010");
    // Claims that are not what the handler asks for are a 401 too.
    let odd = jsonwebtoken::encode(&Header::default(), &json!({"sub": 5, "exp": exp}), &key).unwrap();
    let r = svc
        .inject(InjectRequest::new(Method::GET, "/me").header("authorization", format!("Bearer {odd}")))
        .await
        .unwrap();
    let d = problem(&r, 401, "H010");
    assert!(d.contains("sub: invalid type"), "{d}");
    // An optional user on a route without auth.
    let r = svc.inject(InjectRequest::new(Method::GET, "/whoami")).await.unwrap();
    assert_eq!(json_of(&r), json!({"sub": null}));
}
