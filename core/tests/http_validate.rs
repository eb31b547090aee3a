//! Validation of declared routes (params, query and body coerced and checked against their JSON
//! Schemas, every failing field listed) and the OpenAPI document, in-process and over a socket.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use omnitron::ErrorCode;
use omnitron::http::app::JwtOptions;
use omnitron::http::{
    AppOptions, DoorAnswer, HttpApp, HttpService, InjectRequest, Method, PaginationSpec, Request, Response,
    RouteSpec, UploadSpec,
};
use serde_json::{Value, json};

/// Answers what the pipeline read: params, query and body, as the handler got them.
async fn echo(req: Request) -> Result<Response, omnitron::http::HttpError> {
    let i = req.input().expect("the pipeline read the input").clone();
    let doc = json!({ "params": i.params, "query": i.query, "body": i.body });
    Ok(DoorAnswer::json(serde_json::to_vec(&doc).unwrap()).into_response(None))
}

fn order_schema() -> Value {
    // As pydantic's `model_json_schema()` writes a model with a nested one.
    json!({
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {
                    "sku": { "type": "string", "minLength": 1 },
                    "quantity": { "type": "integer", "minimum": 1 },
                },
                "required": ["sku", "quantity"],
            },
        },
        "title": "NewOrder",
        "type": "object",
        "properties": {
            "email": { "type": "string", "format": "email" },
            "items": { "type": "array", "items": { "$ref": "#/$defs/Item" }, "minItems": 1 },
            "note": { "anyOf": [{ "type": "string" }, { "type": "null" }], "default": null },
        },
        "required": ["email", "items"],
        "additionalProperties": false,
    })
}

fn app() -> HttpApp {
    routes(HttpApp::new(AppOptions::default()))
}

fn routes(app: HttpApp) -> HttpApp {
    app.route(
        RouteSpec::new(Method::GET, "/items/:id")
            .params_schema(json!({
                "type": "object",
                "properties": { "id": { "type": "integer", "minimum": 1 } },
            }))
            .query_schema(json!({
                "type": "object",
                "properties": {
                    "limit": { "type": "integer", "maximum": 100, "default": 20 },
                    "ratio": { "type": "number" },
                    "active": { "type": "boolean" },
                    "tags": { "type": "array", "items": { "type": "string" } },
                    "ids": { "type": "array", "items": { "type": "integer" } },
                    "after": { "anyOf": [{ "type": "integer" }, { "type": "null" }] },
                    "filter": { "type": "object", "properties": { "a": { "type": "integer" } } },
                    "q": { "type": "string" },
                },
                "required": ["q"],
            })),
        echo,
    )
    .route(
        RouteSpec::new(Method::POST, "/orders")
            .query_schema(json!({
                "type": "object",
                "properties": { "dry": { "type": "boolean" } },
            }))
            .body_schema(order_schema())
            .response_schema(json!({ "type": "object" }))
            .tag("orders")
            .summary("Place an order"),
        echo,
    )
    .route(RouteSpec::new(Method::POST, "/free"), echo)
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(r.body()).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", r.body()))
}

async fn get(svc: &HttpService, uri: &str) -> Response {
    svc.inject(InjectRequest::new(Method::GET, uri)).await.unwrap()
}

async fn post(svc: &HttpService, uri: &str, v: &Value) -> Response {
    svc.inject(InjectRequest::new(Method::POST, uri).json(v)).await.unwrap()
}

/// The `(in, path, keyword)` of every listed failure, sorted.
fn failures(doc: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = doc["errors"]
        .as_array()
        .expect("an errors list")
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            (
                e["in"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["keyword"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn f(part: &str, path: &str, keyword: &str) -> (String, String, String) {
    (part.into(), path.into(), keyword.into())
}

#[tokio::test]
async fn params_and_query_are_coerced_to_their_types() {
    let svc = app().build().unwrap();
    let r = get(
        &svc,
        "/items/42?q=hi&ratio=0.5&active=true&tags=a&tags=b&ids=1&ids=2&after=&filter=%7B%22a%22%3A1%7D&extra=x",
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let v = body(&r);
    assert_eq!(v["params"], json!({ "id": 42 }));
    assert_eq!(
        v["query"],
        json!({
            "q": "hi", "ratio": 0.5, "active": true, "tags": ["a", "b"], "ids": [1, 2],
            "after": null, "filter": { "a": 1 }, "extra": "x",
            "limit": 20, // the schema's default
        })
    );
    // One value of an array property is a list of one; `0` is false; a string stays a string.
    let v = body(&get(&svc, "/items/1?q=7&tags=only&active=0&after=5").await);
    assert_eq!(v["query"]["tags"], json!(["only"]));
    assert_eq!(v["query"]["active"], json!(false));
    assert_eq!(v["query"]["after"], json!(5));
    assert_eq!(v["query"]["q"], json!("7"));
}

#[tokio::test]
async fn a_bad_query_lists_every_failing_field() {
    let svc = app().build().unwrap();
    let r = get(&svc, "/items/0?limit=1000&ratio=abc&ids=1&ids=x&active=maybe").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let doc = body(&r);
    assert_eq!(doc["code"], "H009");
    assert_eq!(doc["status"], 400);
    assert_eq!(doc["instance"], "/items/0");
    assert_eq!(
        failures(&doc),
        vec![
            f("params", "/id", "minimum"),
            f("query", "/active", "type"),
            f("query", "/ids/1", "type"),
            f("query", "/limit", "maximum"),
            f("query", "/q", "required"),
            f("query", "/ratio", "type"),
        ]
    );
    assert!(doc["detail"].as_str().unwrap().contains("and 5 more"), "{doc}");
}

#[tokio::test]
async fn a_bad_body_lists_every_failing_field_by_its_pointer() {
    let svc = app().build().unwrap();
    let order = json!({
        "email": "not-an-email",
        "items": [
            { "sku": "", "quantity": 0 },
            { "quantity": "three" },
            { "sku": "b", "quantity": 2 },
        ],
        "gift": true,
    });
    let r = post(&svc, "/orders?dry=maybe", &order).await;
    assert_eq!(r.status(), 400);
    let doc = body(&r);
    assert_eq!(doc["code"], "H009");
    assert_eq!(
        failures(&doc),
        vec![
            f("body", "/email", "format"),
            f("body", "/gift", "additionalProperties"),
            f("body", "/items/0/quantity", "minimum"),
            f("body", "/items/0/sku", "minLength"),
            f("body", "/items/1/quantity", "type"),
            f("body", "/items/1/sku", "required"),
            f("query", "/dry", "type"),
        ]
    );
    // An empty list, then no body at all.
    let doc = body(&post(&svc, "/orders", &json!({ "email": "a@b.example", "items": [] })).await);
    assert_eq!(failures(&doc), vec![f("body", "/items", "minItems")]);
    let r = svc.inject(InjectRequest::new(Method::POST, "/orders")).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(failures(&body(&r)), vec![f("body", "", "type")]);
}

#[tokio::test]
async fn a_valid_request_reaches_the_handler_with_typed_values() {
    let svc = app().build().unwrap();
    let order = json!({ "email": "a@b.example", "items": [{ "sku": "x", "quantity": 3 }] });
    let r = post(&svc, "/orders?dry=1", &order).await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let v = body(&r);
    assert_eq!(v["body"], order);
    assert_eq!(v["query"], json!({ "dry": true }));
}

#[tokio::test]
async fn bodies_that_are_not_json_are_refused() {
    let svc = app().build().unwrap();
    // Malformed JSON: 400, H001.
    let r = svc
        .inject(
            InjectRequest::new(Method::POST, "/orders")
                .header("content-type", "application/json")
                .body("{nope"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(body(&r)["code"], "H001");
    // Another media type: 415, H013.
    let r = svc
        .inject(
            InjectRequest::new(Method::POST, "/orders").header("content-type", "text/plain").body("hello"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(body(&r)["code"], "H013");
    // No content-type: read as JSON; `+json` types are JSON.
    let order = r#"{"email":"a@b.example","items":[{"sku":"x","quantity":1}]}"#;
    let r = svc.inject(InjectRequest::new(Method::POST, "/orders").body(order)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = svc
        .inject(
            InjectRequest::new(Method::POST, "/orders")
                .header("content-type", "application/vnd.api+json; charset=utf-8")
                .body(order),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A route without a body schema takes any body, as before.
    let r = svc
        .inject(InjectRequest::new(Method::POST, "/free").header("content-type", "text/plain").body("hi"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body(&r)["body"], "hi");
}

#[test]
fn an_invalid_schema_is_refused_at_build() {
    let e = HttpApp::new(AppOptions::default())
        .route(RouteSpec::new(Method::GET, "/a").query_schema(json!({ "type": 5 })), echo)
        .build()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRoute);
    assert!(e.message().contains("GET /a") && e.message().contains("query"), "{}", e.message());
}

async fn fetch(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> (u16, Value) {
    let res = tokio::time::timeout(Duration::from_secs(30), client.request(req)).await.unwrap().unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn validation_and_the_document_over_a_socket() {
    let svc = app().build().unwrap();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let get = |uri: String| hyper::Request::get(uri).body(Full::new(Bytes::new())).unwrap();
    let (status, v) = fetch(&client, get(format!("{base}/items/7?q=x&ids=3&ids=4"))).await;
    assert_eq!(status, 200);
    assert_eq!(v["params"]["id"], 7);
    assert_eq!(v["query"]["ids"], json!([3, 4]));
    let bad = hyper::Request::post(format!("{base}/orders"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(r#"{"email":"a@b.example","items":[{"sku":"x","quantity":-1}]}"#)))
        .unwrap();
    let (status, v) = fetch(&client, bad).await;
    assert_eq!(status, 400);
    assert_eq!(failures(&v), vec![f("body", "/items/0/quantity", "minimum")]);
    let (status, doc) = fetch(&client, get(format!("{base}/openapi.json"))).await;
    assert_eq!(status, 200);
    assert_eq!(Some(&doc), svc.openapi());
    server.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes() {
    let mut options = AppOptions::default();
    options.jwt = Some(JwtOptions::with_secret("a secret for the test, 32 bytes or more"));
    let svc = routes(HttpApp::new(options))
        .route(RouteSpec::new(Method::DELETE, "/items/{id}").require_roles(["admin"]), echo)
        .route(
            RouteSpec::new(Method::POST, "/files").upload(UploadSpec {
                max_size: 1024,
                mime_types: vec!["image/png".into()],
                field: "file".into(),
            }),
            echo,
        )
        .route(RouteSpec::new(Method::GET, "/health/deep"), echo)
        .route(
            RouteSpec::new(Method::GET, "/pages")
                .paginated(PaginationSpec::default())
                .description("d")
                .deprecated(),
            echo,
        )
        .route(RouteSpec::new(Method::GET, "/a").operation_id("same"), echo)
        .route(
            RouteSpec::new(Method::GET, "/b").operation_id("same").rate_limit(5, Duration::from_secs(1)),
            echo,
        )
        .build()
        .unwrap();
    let doc = body(&get(&svc, "/openapi.json").await);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"], json!({ "title": "Omnitron API", "version": "1.0.0" }));
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["/a", "/b", "/files", "/free", "/items/{id}", "/orders", "/pages"]);

    let get_item = &doc["paths"]["/items/{id}"]["get"];
    assert_eq!(get_item["operationId"], "getItemsById");
    let params = get_item["parameters"].as_array().unwrap();
    assert_eq!(
        params[0],
        json!({ "name": "id", "in": "path", "required": true,
                                  "schema": { "type": "integer", "minimum": 1 } })
    );
    let q = params.iter().find(|p| p["name"] == "q").unwrap();
    assert_eq!((q["in"].as_str(), q["required"].as_bool()), (Some("query"), Some(true)));
    let filter = params.iter().find(|p| p["name"] == "filter").unwrap();
    assert!(filter["content"]["application/json"]["schema"].is_object(), "{filter}");
    let responses = get_item["responses"].as_object().unwrap();
    let mut codes: Vec<&str> = responses.keys().map(String::as_str).collect();
    codes.sort();
    assert_eq!(codes, ["200", "204", "400", "404"]);
    assert_eq!(responses["400"], json!({ "$ref": "#/components/responses/BadRequest" }));

    // The DTO's $defs went to components.schemas; its refs follow.
    let order = &doc["paths"]["/orders"]["post"];
    assert_eq!(order["operationId"], "postOrders");
    assert_eq!(order["tags"], json!(["orders"]));
    assert_eq!(order["summary"], "Place an order");
    let schema = &order["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(order["requestBody"]["required"], true);
    assert_eq!(schema["properties"]["items"]["items"]["$ref"], "#/components/schemas/Item");
    assert!(schema.get("$defs").is_none());
    assert_eq!(doc["components"]["schemas"]["Item"]["required"], json!(["sku", "quantity"]));
    let codes: Vec<&String> = order["responses"].as_object().unwrap().keys().collect();
    assert_eq!(codes, ["201", "400", "404", "413", "415"]);
    assert_eq!(
        order["responses"]["201"]["content"]["application/json"]["schema"],
        json!({ "type": "object" })
    );

    // Auth: a 401 and a 403, the bearer scheme.
    let delete = &doc["paths"]["/items/{id}"]["delete"];
    assert_eq!(delete["security"], json!([{ "bearerAuth": [] }]));
    assert!(delete["responses"]["401"].is_object() && delete["responses"]["403"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    assert_eq!(delete["parameters"][0]["schema"], json!({ "type": "string" }));

    // An upload: a multipart form with a binary file field.
    let form = &doc["paths"]["/files"]["post"]["requestBody"]["content"]["multipart/form-data"];
    assert_eq!(form["schema"]["properties"]["file"]["format"], "binary");
    assert_eq!(form["encoding"]["file"]["contentType"], "image/png");

    // A paginated route takes page and limit; description and deprecated are carried.
    let pages = &doc["paths"]["/pages"]["get"];
    let names: Vec<&str> =
        pages["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["page", "limit"]);
    assert_eq!(pages["parameters"][1]["schema"]["maximum"], 100);
    assert!(pages["responses"]["400"].is_object());
    assert_eq!((pages["description"].as_str(), pages["deprecated"].as_bool()), (Some("d"), Some(true)));

    // operationIds are unique; a rate-limited route may answer 429.
    assert_eq!(doc["paths"]["/a"]["get"]["operationId"], "same");
    assert_eq!(doc["paths"]["/b"]["get"]["operationId"], "same_2");
    assert!(doc["paths"]["/b"]["get"]["responses"]["429"].is_object());
    let problem = &doc["components"]["responses"]["NotFound"]["content"]["application/problem+json"];
    assert_eq!(problem["schema"]["$ref"], "#/components/schemas/ProblemDetails");
    assert!(doc["components"]["schemas"]["ProblemDetails"]["properties"]["errors"].is_object());
}

#[tokio::test]
async fn the_document_can_move_or_be_turned_off() {
    let mut options = AppOptions::default();
    options.openapi.as_mut().unwrap().path = "/docs/api.json".into();
    options.openapi.as_mut().unwrap().title = "Shop".into();
    let svc = HttpApp::new(options).route(RouteSpec::new(Method::GET, "/x"), echo).build().unwrap();
    assert_eq!(get(&svc, "/openapi.json").await.status(), 404);
    let doc = body(&get(&svc, "/docs/api.json").await);
    assert_eq!(doc["info"]["title"], "Shop");
    let mut options = AppOptions::default();
    options.openapi = None;
    let svc = HttpApp::new(options).route(RouteSpec::new(Method::GET, "/x"), echo).build().unwrap();
    assert_eq!(get(&svc, "/openapi.json").await.status(), 404);
    assert!(svc.openapi().is_none());
}
