//! A users API on Omnitron's HTTP server: declared routes with JSON Schemas for their params,
//! queries and bodies (checked before the handlers run, coerced to their types), answers
//! described by response schemas, and the OpenAPI document at `/openapi.json`.
//!
//! `http-example [PORT]` (0, the default, picks a free port) prints
//! `listening on http://127.0.0.1:PORT` and serves until SIGINT or SIGTERM. `GET /me` requires a
//! bearer token (HS256) signed with `$HTTP_EXAMPLE_JWT_SECRET` (a development secret when unset).

use std::collections::BTreeMap;
use std::sync::Arc;

use omnitron::http::app::JwtOptions;
use omnitron::http::{AppOptions, HttpApp, HttpError, Method, Request, Response, RouteSpec};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// The users kept; the oldest goes when there are more (a fuzzer creates many).
const MAX_USERS: usize = 10_000;

#[derive(Default)]
struct Users {
    next: u64,
    by_id: BTreeMap<u64, Value>,
}

type Store = Arc<Mutex<Users>>;

fn role() -> Value {
    json!({ "type": "string", "enum": ["admin", "member", "guest"] })
}

/// What a client sends to create or replace a user (as pydantic writes a model: `$defs`).
fn new_user_schema() -> Value {
    json!({
        "$defs": { "Role": role() },
        "title": "NewUser",
        "type": "object",
        "properties": {
            "name": { "type": "string", "minLength": 1, "maxLength": 50 },
            "email": { "type": "string", "format": "email", "maxLength": 254 },
            "age": { "anyOf": [{ "type": "integer", "minimum": 0, "maximum": 150 }, { "type": "null" }] },
            "roles": { "type": "array", "items": { "$ref": "#/$defs/Role" }, "uniqueItems": true, "maxItems": 3 },
        },
        "required": ["name", "email"],
        "additionalProperties": false,
    })
}

fn user_properties() -> Value {
    json!({
        "id": { "type": "integer", "minimum": 1 },
        "name": { "type": "string" },
        "email": { "type": "string" },
        "age": { "anyOf": [{ "type": "integer" }, { "type": "null" }] },
        "roles": { "type": "array", "items": { "$ref": "#/$defs/Role" } },
    })
}

fn user_schema() -> Value {
    json!({
        "$defs": { "Role": role() },
        "title": "User",
        "type": "object",
        "properties": user_properties(),
        "required": ["id", "name", "email", "age", "roles"],
    })
}

fn id_schema() -> Value {
    json!({
        "type": "object",
        "properties": { "id": { "type": "integer", "minimum": 1, "maximum": 9_007_199_254_740_991_u64 } },
        "required": ["id"],
    })
}

/// The input the pipeline checked (every route here declares schemas).
fn input(req: &Request) -> Result<&omnitron::http::Input, HttpError> {
    req.input().ok_or_else(|| HttpError::internal("the route was not read by the app's pipeline"))
}

fn id_of(req: &Request) -> Result<u64, HttpError> {
    input(req)?.params["id"].as_u64().ok_or_else(|| HttpError::internal("id was not checked"))
}

fn not_found(id: u64) -> HttpError {
    HttpError::not_found(format!("no user {id}"))
}

/// A user record from a checked body.
fn user(id: u64, body: &Value) -> Value {
    json!({
        "id": id,
        "name": body["name"],
        "email": body["email"],
        "age": body.get("age").cloned().unwrap_or(Value::Null),
        "roles": body.get("roles").cloned().unwrap_or_else(|| json!([])),
    })
}

fn app(store: Store) -> HttpApp {
    let (list, create, read, replace, remove, stats) =
        (store.clone(), store.clone(), store.clone(), store.clone(), store.clone(), store);
    let list_spec = RouteSpec::new(Method::GET, "/users")
        .query_schema(json!({
            "$defs": { "Role": role() },
            "type": "object",
            "properties": {
                "limit": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 },
                "offset": { "type": "integer", "minimum": 0, "default": 0 },
                "role": { "$ref": "#/$defs/Role" },
                "name": { "type": "string", "maxLength": 50, "description": "a part of the name" },
            },
        }))
        .response_schema(json!({
            "$defs": { "Role": role(), "User": user_schema() },
            "type": "object",
            "properties": {
                "items": { "type": "array", "items": { "$ref": "#/$defs/User" } },
                "total": { "type": "integer", "minimum": 0 },
            },
            "required": ["items", "total"],
        }))
        .tag("users")
        .summary("List users, a page at a time")
        .description("Filtered by role and by a part of the name.");
    let mut options = AppOptions::default();
    let secret = std::env::var("HTTP_EXAMPLE_JWT_SECRET")
        .unwrap_or_else(|_| "a development secret, not for production use".into());
    options.jwt = Some(JwtOptions::with_secret(secret));
    HttpApp::new(options)
        .route(list_spec, move |req: Request| {
            let store = list.clone();
            async move {
                let q = &input(&req)?.query;
                let limit = q["limit"].as_u64().unwrap_or(20) as usize;
                let offset = q["offset"].as_u64().unwrap_or(0) as usize;
                let users = store.lock();
                let matching: Vec<&Value> = users
                    .by_id
                    .values()
                    .filter(|u| {
                        q.get("role").is_none_or(|r| u["roles"].as_array().is_some_and(|rs| rs.contains(r)))
                    })
                    .filter(|u| {
                        q.get("name")
                            .and_then(Value::as_str)
                            .is_none_or(|n| u["name"].as_str().unwrap_or("").contains(n))
                    })
                    .collect();
                let items: Vec<&Value> = matching.iter().skip(offset).take(limit).copied().collect();
                Ok(Response::json(200, &json!({ "items": items, "total": matching.len() })))
            }
        })
        .route(
            RouteSpec::new(Method::POST, "/users")
                .body_schema(new_user_schema())
                .response_schema(user_schema())
                .tag("users")
                .summary("Create a user"),
            move |req: Request| {
                let store = create.clone();
                async move {
                    let body = &input(&req)?.body;
                    let mut users = store.lock();
                    users.next += 1;
                    let id = users.next;
                    let u = user(id, body);
                    users.by_id.insert(id, u.clone());
                    if users.by_id.len() > MAX_USERS {
                        users.by_id.pop_first();
                    }
                    Ok(Response::json(201, &u))
                }
            },
        )
        .route(
            RouteSpec::new(Method::GET, "/users/{id}")
                .params_schema(id_schema())
                .response_schema(user_schema())
                .tag("users")
                .summary("One user")
                .operation_id("getUser"),
            move |req: Request| {
                let store = read.clone();
                async move {
                    let id = id_of(&req)?;
                    match store.lock().by_id.get(&id) {
                        Some(u) => Ok(Response::json(200, u)),
                        None => Err(not_found(id)),
                    }
                }
            },
        )
        .route(
            RouteSpec::new(Method::PUT, "/users/:id")
                .params_schema(id_schema())
                .body_schema(new_user_schema())
                .response_schema(user_schema())
                .tag("users")
                .summary("Replace a user"),
            move |req: Request| {
                let store = replace.clone();
                async move {
                    let id = id_of(&req)?;
                    let mut users = store.lock();
                    let Some(slot) = users.by_id.get_mut(&id) else { return Err(not_found(id)) };
                    *slot = user(id, &input(&req)?.body);
                    Ok(Response::json(200, slot))
                }
            },
        )
        .route(
            RouteSpec::new(Method::DELETE, "/users/:id")
                .params_schema(id_schema())
                .status(204)
                .tag("users")
                .summary("Delete a user"),
            move |req: Request| {
                let store = remove.clone();
                async move {
                    let id = id_of(&req)?;
                    match store.lock().by_id.remove(&id) {
                        Some(_) => Ok(Response::empty(204)),
                        None => Err(not_found(id)),
                    }
                }
            },
        )
        .route(
            RouteSpec::new(Method::GET, "/me")
                .require_auth()
                .response_schema(json!({
                    "type": "object",
                    "properties": { "sub": { "type": "string" } },
                    "required": ["sub"],
                }))
                .tag("users")
                .summary("The caller, from the token's claims"),
            |req: Request| async move {
                let claims = req.user().cloned().unwrap_or(Value::Null);
                let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("").to_string();
                Ok(Response::json(200, &json!({ "sub": sub })))
            },
        )
        .route(
            RouteSpec::new(Method::GET, "/stats")
                .response_schema(json!({
                    "type": "object",
                    "properties": {
                        "users": { "type": "integer", "minimum": 0 },
                        "created": { "type": "integer", "minimum": 0 },
                    },
                    "required": ["users", "created"],
                    "additionalProperties": false,
                }))
                .tag("stats"),
            move |_req: Request| {
                let store = stats.clone();
                async move {
                    let users = store.lock();
                    Ok(Response::json(200, &json!({ "users": users.by_id.len(), "created": users.next })))
                }
            },
        )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|_| format!("usage: http-example [PORT], not {p:?}"))?,
        None => 0,
    };
    let service = app(Store::default()).build()?;
    let server = service.listen(("127.0.0.1", port)).await?;
    println!("listening on http://{}", server.local_addr());
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    server.shutdown().await;
    Ok(())
}
