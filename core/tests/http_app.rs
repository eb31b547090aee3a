//! An HTTP app: declared routes through the pipeline, in-process and over a real socket.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use omnitron::http::{AppOptions, DoorAnswer, HttpApp, InjectRequest, Method, Request, RouteSpec};
use serde_json::{Value, json};

fn app() -> HttpApp {
    HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/users/{id}"), |req: Request| async move {
            let input = req.input().expect("the pipeline read the input").clone();
            Ok(DoorAnswer::json(
                serde_json::to_vec(&json!({ "params": input.params, "query": input.query })).unwrap(),
            )
            .into_response(None))
        })
        .route(
            RouteSpec::new(Method::POST, "/users").body_schema(json!({"type": "object"})),
            |req: Request| async move {
                let body = req.input().unwrap().body.clone();
                Ok(DoorAnswer::json(serde_json::to_vec(&body).unwrap())
                    .into_response(Some(&RouteSpec::new(Method::POST, "/"))))
            },
        )
        .route(RouteSpec::new(Method::DELETE, "/users/:id"), |_req: Request| async move {
            Ok(DoorAnswer::default().into_response(None))
        })
}

#[tokio::test]
async fn declared_routes_answer_in_process() {
    let svc = app().build().unwrap();
    let r = svc.inject(InjectRequest::new(Method::GET, "/users/7?verbose=1")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"].len(), 32);
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v, json!({"params": {"id": "7"}, "query": {"verbose": "1"}}));
    let r = svc.inject(InjectRequest::new(Method::POST, "/users").json(&json!({"name": "a"}))).await.unwrap();
    assert_eq!(r.status(), 201);
    let r = svc.inject(InjectRequest::new(Method::POST, "/users").body("{nope")).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = svc.inject(InjectRequest::new(Method::DELETE, "/users/1")).await.unwrap();
    assert_eq!(r.status(), 204);
    let r = svc.inject(InjectRequest::new(Method::GET, "/nope")).await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn declared_routes_answer_over_a_socket() {
    let svc = app().build().unwrap();
    assert!(!svc.is_ready());
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    assert!(svc.is_ready());
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let uri = format!("http://{}/users/42", server.local_addr());
    let res = tokio::time::timeout(Duration::from_secs(30), client.get(uri.parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["params"]["id"], "42");
    server.shutdown().await;
}

#[test]
fn clashing_routes_are_refused_at_build() {
    let e = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/a/:id"), |_r: Request| async {
            Ok(DoorAnswer::default().into_response(None))
        })
        .route(RouteSpec::new(Method::GET, "/a/:name"), |_r: Request| async {
            Ok(DoorAnswer::default().into_response(None))
        })
        .build()
        .unwrap_err();
    assert_eq!(e.code(), omnitron::ErrorCode::InvalidRoute);
}
