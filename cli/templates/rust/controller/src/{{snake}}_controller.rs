//! `/{{kebab}}`: an HTTP controller of typed handlers. [`{{pascal}}Store`] holds the items (test it
//! directly, share it with other code); [`routes`] adds the routes to an app:
//!
//! ```ignore
//! let app = {{snake}}_controller::routes(HttpApp::new(AppOptions::default()), Default::default());
//! let server = app.build()?.listen("127.0.0.1:8080").await?;
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;

use omnitron::http::{HttpApp, HttpError, Json, Method, Path, Query, RouteSpec};
use serde::{Deserialize, Serialize};

/// One item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct {{pascal}} {
    /// Its id, given by the store.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// What a client sends to create one (`POST /{{kebab}}`).
#[derive(Debug, Deserialize)]
pub struct New{{pascal}} {
    /// The name (1 to 100 characters: the route's body schema says so).
    pub name: String,
}

/// The list's query (`GET /{{kebab}}?limit=10`).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// At most this many items (all when absent).
    pub limit: Option<usize>,
}

/// The items, in memory.
#[derive(Debug, Default)]
pub struct {{pascal}}Store {
    items: Mutex<BTreeMap<u64, {{pascal}}>>,
}

impl {{pascal}}Store {
    /// Adds an item; the item with its new id.
    pub fn create(&self, name: String) -> {{pascal}} {
        let mut items = self.items.lock().expect("not poisoned");
        let id = items.keys().next_back().map_or(1, |k| k + 1);
        let item = {{pascal}} { id, name };
        items.insert(id, item.clone());
        item
    }

    /// The item `id`, if there is one.
    pub fn get(&self, id: u64) -> Option<{{pascal}}> {
        self.items.lock().expect("not poisoned").get(&id).cloned()
    }

    /// Up to `limit` items, by id.
    pub fn list(&self, limit: Option<usize>) -> Vec<{{pascal}}> {
        let items = self.items.lock().expect("not poisoned");
        items
            .values()
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Removes the item `id`; whether it was there.
    pub fn remove(&self, id: u64) -> bool {
        self.items
            .lock()
            .expect("not poisoned")
            .remove(&id)
            .is_some()
    }
}

fn not_found(id: u64) -> HttpError {
    HttpError::not_found(format!("no {{kebab}} {id}"))
}

/// `GET /{{kebab}}`, `GET /{{kebab}}/:id`, `POST /{{kebab}}` (201) and `DELETE /{{kebab}}/:id`
/// (204). A path or query that does not parse is a 400 (`H009`), a body that does not fit a 400
/// (`H001`), both naming the field.
pub fn routes(app: HttpApp, store: Arc<{{pascal}}Store>) -> HttpApp {
    let (s1, s2, s3, s4) = (store.clone(), store.clone(), store.clone(), store);
    let create = RouteSpec::new(Method::POST, "/{{kebab}}")
        .summary("create a {{kebab}}")
        .body_schema(serde_json::json!({
            "type": "object",
            "required": ["name"],
            "properties": { "name": { "type": "string", "minLength": 1, "maxLength": 100 } }
        }));
    app.get("/{{kebab}}", move |Query(q): Query<ListQuery>| {
        let s = s1.clone();
        async move { Ok(Json(s.list(q.limit))) }
    })
    .get("/{{kebab}}/:id", move |Path(id): Path<u64>| {
        let s = s2.clone();
        async move { s.get(id).map(Json).ok_or_else(|| not_found(id)) }
    })
    .post(create, move |Json(new): Json<New{{pascal}}>| {
        let s = s3.clone();
        async move { Ok(Json(s.create(new.name))) }
    })
    .delete("/{{kebab}}/:id", move |Path(id): Path<u64>| {
        let s = s4.clone();
        async move {
            if s.remove(id) {
                Ok(())
            } else {
                Err(not_found(id))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnitron::http::{AppOptions, InjectRequest, Response};
    use serde_json::{Value, json};

    fn body(r: &Response) -> Value {
        serde_json::from_slice(r.body()).unwrap()
    }

    #[test]
    fn the_store_keeps_items() {
        let s = {{pascal}}Store::default();
        assert_eq!(s.create("a".into()).id, 1);
        assert_eq!(s.create("b".into()).id, 2);
        assert_eq!(s.list(Some(1)).len(), 1);
        assert!(s.remove(1));
        assert_eq!(s.get(1), None);
    }

    // In-process requests through the app's whole pipeline (no port); `listen` serves the same.
    #[tokio::test]
    async fn its_routes_answer() {
        let app = routes(HttpApp::new(AppOptions::default()), Arc::default())
            .build()
            .unwrap();
        let r = app
            .inject(InjectRequest::new(Method::POST, "/{{kebab}}").json(&json!({ "name": "first" })))
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(body(&r), json!({ "id": 1, "name": "first" }));

        let r = app
            .inject(InjectRequest::new(Method::GET, "/{{kebab}}/1"))
            .await
            .unwrap();
        assert_eq!(
            (r.status(), body(&r)["name"].clone()),
            (200, json!("first"))
        );
        let r = app
            .inject(InjectRequest::new(Method::GET, "/{{kebab}}?limit=5"))
            .await
            .unwrap();
        assert_eq!(body(&r).as_array().unwrap().len(), 1);

        // Bad input is a 400 problem document naming the field.
        let r = app
            .inject(InjectRequest::new(Method::GET, "/{{kebab}}/abc"))
            .await
            .unwrap();
        assert_eq!((r.status(), body(&r)["code"].clone()), (400, json!("H009")));
        let r = app
            .inject(InjectRequest::new(Method::POST, "/{{kebab}}").json(&json!({ "title": "x" })))
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        let r = app
            .inject(InjectRequest::new(Method::DELETE, "/{{kebab}}/1"))
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = app
            .inject(InjectRequest::new(Method::GET, "/{{kebab}}/1"))
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
}
