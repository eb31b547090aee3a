//! Per-route metrics in the registry, and `/metrics` on the app's server.

use bytes::Bytes;
use omnitron::http::{AppOptions, HttpApp, Method, Request, Response, RouteSpec};
use omnitron::metrics::Registry;

use crate::{get, send};

#[tokio::test]
async fn requests_are_counted_by_route_pattern_method_and_status() {
    let registry = Registry::new();
    let mut options = AppOptions::default();
    options.metrics = true;
    let svc = HttpApp::new(options)
        .metrics_registry(registry.clone())
        .route(RouteSpec::new(Method::GET, "/users/:id"), |req: Request| async move {
            Ok(Response::text(200, req.param("id").unwrap_or_default().to_string()))
        })
        .build()
        .unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();
    assert_eq!(get(a, "/users/7").await.status, 200);
    assert_eq!(get(a, "/users/8").await.status, 200);
    assert_eq!(send(a, Method::HEAD, "/users/9", &[], Bytes::new()).await.status, 200);
    assert_eq!(send(a, Method::POST, "/users/7", &[], Bytes::new()).await.status, 405);
    assert_eq!(get(a, "/nope/1").await.status, 404);

    let m = get(a, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(m.body.to_vec()).unwrap();
    for line in [
        r#"omnitron_http_requests_total{route="/users/:id",method="GET",status="200"} 2"#,
        r#"omnitron_http_requests_total{route="/users/:id",method="HEAD",status="200"} 1"#,
        r#"omnitron_http_requests_total{route="<unmatched>",method="POST",status="405"} 1"#,
        r#"omnitron_http_requests_total{route="<unmatched>",method="GET",status="404"} 1"#,
        r#"omnitron_http_request_duration_seconds_count{route="/users/:id",method="GET"} 2"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    assert!(!text.contains("/users/7"), "raw paths are never labels");
    // The scrape itself is counted once it is answered.
    let again = String::from_utf8(get(a, "/metrics").await.body.to_vec()).unwrap();
    assert!(again.contains(r#"omnitron_http_requests_total{route="/metrics",method="GET",status="200"} 1"#));
    // OpenMetrics when asked.
    let om =
        send(a, Method::GET, "/metrics", &[("accept", "application/openmetrics-text")], Bytes::new()).await;
    assert!(om.header("content-type").starts_with("application/openmetrics-text"));
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_is_off_by_default() {
    let svc = HttpApp::new(AppOptions::default()).metrics_registry(Registry::new()).build().unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    assert_eq!(get(server.local_addr(), "/metrics").await.status, 404);
    server.shutdown().await;
}
