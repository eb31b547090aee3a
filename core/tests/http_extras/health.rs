//! The health routes: live, ready (before listen, while serving, once shutdown starts) and every
//! check's detail, a slow check timing out.

use std::sync::Arc;
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::http::{
    AppOptions, HealthCheck, HealthCheckFn, HealthReport, HttpApp, InjectRequest, Method, Request, Response,
    RouteSpec,
};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

use crate::get;

fn body(r: &Response) -> Value {
    serde_json::from_slice(r.body()).unwrap()
}

#[tokio::test]
async fn live_ready_and_every_check_s_detail() {
    let slow: HealthCheckFn = Arc::new(|| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HealthReport { up: true, ..HealthReport::default() }
        })
    });
    let with_database = || {
        HttpApp::new(AppOptions::default()).health_check("database", || async {
            HealthReport { up: true, message: Some("connected".into()), details: Some(json!({"pool": 4})) }
        })
    };
    let mut app = with_database();
    app.add_health_check(HealthCheck {
        name: "queue".into(),
        check: slow,
        timeout: Some(Duration::from_millis(50)),
    });
    let svc = app.build().unwrap();

    // Not ready before listen; live all the same.
    let r = svc.inject(InjectRequest::new(Method::GET, "/health/ready")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(body(&r)["code"], ErrorCode::NotReady.as_str());
    let r = svc.inject(InjectRequest::new(Method::GET, "/health/live")).await.unwrap();
    assert_eq!((r.status(), body(&r)), (200, json!({"status": "up"})));

    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();
    let h = get(a, "/health").await;
    assert_eq!(h.status, 503);
    assert_eq!(h.header("cache-control"), "no-store");
    let v = h.json();
    assert_eq!(v["status"], "down");
    assert_eq!(v["checks"]["database"]["status"], "up");
    assert_eq!(v["checks"]["database"]["message"], "connected");
    assert_eq!(v["checks"]["database"]["details"], json!({"pool": 4}));
    assert!(v["checks"]["database"]["durationMs"].is_u64());
    assert_eq!(v["checks"]["queue"]["status"], "down");
    assert!(v["checks"]["queue"]["message"].as_str().unwrap().contains("did not answer within 50ms"));
    // Ready, but a check is down: 503 with the checks.
    let r = get(a, "/health/ready").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], "H014");
    assert_eq!(r.json()["checks"]["queue"]["status"], "down");
    assert_eq!(get(a, "/health/live").await.status, 200);
    server.shutdown().await;

    // All up: 200 everywhere.
    let svc = with_database().build().unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();
    let h = get(a, "/health").await;
    assert_eq!((h.status, &h.json()["status"]), (200, &json!("up")));
    let r = get(a, "/health/ready").await;
    assert_eq!((r.status, &r.json()["checks"]["database"]["status"]), (200, &json!("up")));
    server.shutdown().await;
}

#[tokio::test]
async fn ready_turns_false_as_soon_as_shutdown_starts() {
    let entered = Arc::new(Notify::new());
    let (release, released) = oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let e = entered.clone();
    let svc = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/slow"), move |_r: Request| {
            let (e, released) = (e.clone(), released.clone());
            async move {
                e.notify_one();
                if let Some(rx) = released.lock().await.take() {
                    let _ = rx.await;
                }
                Ok(Response::text(200, "done"))
            }
        })
        .build()
        .unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();
    assert!(svc.is_ready());
    assert_eq!(get(a, "/health/ready").await.status, 200);

    let in_flight = tokio::spawn(async move { get(a, "/slow").await });
    entered.notified().await;
    let stopping = tokio::spawn(server.shutdown());
    // Shutdown marks the app not ready before it waits for the request in flight.
    tokio::time::timeout(Duration::from_secs(30), async {
        while svc.is_ready() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("shutdown marks the app not ready");
    let r = svc.inject(InjectRequest::new(Method::GET, "/health/ready")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(!stopping.is_finished(), "the request in flight holds the shutdown");
    release.send(()).unwrap();
    assert_eq!(in_flight.await.unwrap().status, 200);
    stopping.await.unwrap();
}

#[test]
fn health_can_be_turned_off_and_its_routes_and_names_do_not_clash() {
    let ok = || async { Ok(Response::text(200, "mine")) };
    let e = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/health"), move |_r: Request| ok())
        .build()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRoute);
    assert!(e.message().contains("'health' option"), "{}", e.message());
    let mut off = AppOptions::default();
    off.health = false;
    assert!(
        HttpApp::new(off)
            .route(RouteSpec::new(Method::GET, "/health"), move |_r: Request| ok())
            .build()
            .is_ok()
    );
    let up = || async { HealthReport { up: true, ..HealthReport::default() } };
    let e = HttpApp::new(AppOptions::default())
        .health_check("db", up)
        .health_check("db", up)
        .build()
        .unwrap_err();
    assert!(e.message().contains("'db'"));
}
