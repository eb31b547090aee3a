//! `@Paginated`: the page in, the page out.

use omnitron::http::{AppOptions, HttpApp, Method, PaginationSpec, Request, Response, RouteSpec};
use serde_json::json;

use crate::get;

#[tokio::test]
async fn answers_are_wrapped_as_pages_and_bad_pages_are_400() {
    let svc = HttpApp::new(AppOptions::default())
        .route(
            RouteSpec::new(Method::GET, "/list").paginated(PaginationSpec::default()),
            |req: Request| async move {
                let p = req.input().unwrap().page.unwrap();
                let items: Vec<u64> = (p.offset..p.offset + p.limit).collect();
                Ok(Response::json(200, &items))
            },
        )
        .route(
            RouteSpec::new(Method::GET, "/people")
                .paginated(PaginationSpec { default_limit: 10, max_limit: 10 }),
            |req: Request| async move {
                let p = req.input().unwrap().page.unwrap();
                let items: Vec<u64> = (p.offset..(p.offset + p.limit).min(45)).collect();
                Ok(Response::json(200, &json!({ "items": items, "total": 45 })))
            },
        )
        .build()
        .unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();

    let r = get(a, "/list").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["meta"], json!({"page": 1, "limit": 20}));
    assert_eq!(v["data"].as_array().unwrap().len(), 20);
    assert!(r.headers.get("link").is_none());
    let v = get(a, "/list?page=3&limit=2").await.json();
    assert_eq!(v, json!({"data": [4, 5], "meta": {"page": 3, "limit": 2}}));

    let r = get(a, "/people?page=2&q=ann+b").await;
    let v = r.json();
    assert_eq!(v["meta"], json!({"page": 2, "limit": 10, "total": 45, "pages": 5}));
    assert_eq!(v["data"][0], 10);
    assert_eq!(
        r.header("link"),
        "</people?q=ann%20b&limit=10&page=1>; rel=\"first\", </people?q=ann%20b&limit=10&page=1>; rel=\"prev\", \
         </people?q=ann%20b&limit=10&page=3>; rel=\"next\", </people?q=ann%20b&limit=10&page=5>; rel=\"last\""
    );
    let r = get(a, "/people?page=5").await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 5);
    assert!(!r.header("link").contains("rel=\"next\""));

    for bad in [
        "/list?limit=0",
        "/list?limit=101",
        "/list?page=0",
        "/list?page=abc",
        "/list?limit=1.5",
        "/people?limit=11",
    ] {
        let r = get(a, bad).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["code"], "H009", "{bad}");
        let name = bad.split(['?', '=']).nth(1).unwrap();
        assert_eq!(r.json()["errors"][0]["path"], format!("/{name}"), "{bad}");
        assert_eq!(r.json()["errors"][0]["in"], "query", "{bad}");
    }
    server.shutdown().await;
}
