//! The OpenAPI 3.1 document of an app, built once from its routes' declarations and served as a
//! built-in route (`/openapi.json` by default).
//!
//! Each [`RouteSpec`] becomes an operation: its path in `{param}` syntax, an `operationId` (the
//! spec's, or `<method><Path>` such as `getUsersById`, made unique), tags, summary, description,
//! deprecated; path parameters from the pattern (typed by the params schema), query parameters
//! from the query schema's properties, a request body from the body schema (`multipart/form-data`
//! for an upload route), the success answer (with the response schema) and the problem answers
//! the route can give. `$defs` (and draft-07 `definitions`) inside a DTO schema are moved into
//! `components.schemas` and the `$ref`s that point at them rewritten, so schemas made by pydantic
//! or schemars embed as they are.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use hyper::Method;
use serde_json::{Map, Value as Json, json};

use super::app::{AppOptions, OpenApiOptions};
use super::spec::RouteSpec;
use super::validate;

/// The document for `specs` (the built-in routes and the document's own path left out).
pub(crate) fn document(app: &AppOptions, openapi: &OpenApiOptions, specs: &[Arc<RouteSpec>]) -> Json {
    let mut doc = Doc::default();
    let own_path = segments(&openapi.path).join("/");
    let mut paths = Map::new();
    for spec in specs {
        let segs = segments(&spec.path);
        if segs.first().is_some_and(|s| *s == "health" || *s == "metrics") || segs.join("/") == own_path {
            continue;
        }
        let Some(method) = method_key(&spec.method) else { continue };
        let path = template(&segs);
        let op = doc.operation(app, spec, &segs);
        let item = paths.entry(path).or_insert_with(|| Json::Object(Map::new()));
        if let Some(item) = item.as_object_mut() {
            item.insert(method.into(), op);
        }
    }
    let mut info = Map::new();
    info.insert("title".into(), Json::from(openapi.title.as_str()));
    info.insert("version".into(), Json::from(openapi.version.as_str()));
    if let Some(d) = &openapi.description {
        info.insert("description".into(), Json::from(d.as_str()));
    }
    let mut components = Map::new();
    let mut schemas = std::mem::take(&mut doc.schemas);
    schemas.insert("ProblemDetails".into(), problem_schema());
    components.insert("schemas".into(), Json::Object(schemas));
    let responses: Map<String, Json> = doc
        .responses
        .iter()
        .map(|status| {
            let (name, description) = problem_response(*status);
            let mut r = json!({
                "description": description,
                "content": { "application/problem+json": {
                    "schema": { "$ref": "#/components/schemas/ProblemDetails" },
                } },
            });
            if *status == 429 {
                r["headers"] = json!({ "Retry-After": {
                    "description": "Seconds until a request may be made again",
                    "schema": { "type": "integer", "minimum": 0 },
                }});
            }
            (name.to_string(), r)
        })
        .collect();
    components.insert("responses".into(), Json::Object(responses));
    if doc.bearer {
        components.insert(
            "securitySchemes".into(),
            json!({ "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } }),
        );
    }
    let mut out = Map::new();
    out.insert("openapi".into(), Json::from("3.1.0"));
    out.insert("info".into(), Json::Object(info));
    if !doc.tags.is_empty() {
        let tags = doc.tags.iter().map(|t| json!({ "name": t })).collect();
        out.insert("tags".into(), Json::Array(tags));
    }
    out.insert("paths".into(), Json::Object(paths));
    out.insert("components".into(), Json::Object(components));
    Json::Object(out)
}

/// What the operations share while the document is built.
#[derive(Default)]
struct Doc {
    schemas: Map<String, Json>,
    operation_ids: HashSet<String>,
    /// The problem answers used (by status), each a shared `components.responses` entry.
    responses: BTreeSet<u16>,
    tags: BTreeSet<String>,
    bearer: bool,
}

/// Where a DTO schema's own definitions went in `components.schemas`.
#[derive(Default)]
struct Refs {
    /// (`$defs` or `definitions`, the name as written in the `$ref`) to the component's name.
    defs: HashMap<(&'static str, String), String>,
    /// The component holding the schema itself, when something in it points at its root.
    root: Option<String>,
}

impl Doc {
    fn operation(&mut self, app: &AppOptions, spec: &RouteSpec, segs: &[&str]) -> Json {
        let mut op = Map::new();
        if !spec.tags.is_empty() {
            op.insert("tags".into(), json!(spec.tags));
            self.tags.extend(spec.tags.iter().cloned());
        }
        if let Some(s) = &spec.summary {
            op.insert("summary".into(), Json::from(s.as_str()));
        }
        if let Some(d) = &spec.description {
            op.insert("description".into(), Json::from(d.as_str()));
        }
        let id = spec.operation_id.clone().unwrap_or_else(|| default_operation_id(&spec.method, segs));
        let id = self.unique_operation_id(id);
        op.insert("operationId".into(), Json::from(id.as_str()));
        let parameters = self.parameters(spec, segs, &id);
        if !parameters.is_empty() {
            op.insert("parameters".into(), Json::Array(parameters));
        }
        if let Some(body) = self.request_body(spec, &id) {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), self.responses(app, spec, &id));
        if spec.deprecated {
            op.insert("deprecated".into(), Json::Bool(true));
        }
        if requires_auth(spec) {
            self.bearer = true;
            op.insert("security".into(), json!([{ "bearerAuth": [] }]));
        }
        Json::Object(op)
    }

    fn unique_operation_id(&mut self, id: String) -> String {
        let mut candidate = id.clone();
        let mut n = 2;
        while self.operation_ids.contains(&candidate) {
            candidate = format!("{id}_{n}");
            n += 1;
        }
        self.operation_ids.insert(candidate.clone());
        candidate
    }

    /// Path parameters from the pattern, then query parameters from the query schema.
    fn parameters(&mut self, spec: &RouteSpec, segs: &[&str], id: &str) -> Vec<Json> {
        let mut out = Vec::new();
        let params = spec.params_schema.as_ref().map(|s| (s, self.hoist(s, &format!("{id}Params"))));
        for seg in segs {
            let Some(name) = param_name(seg) else { continue };
            let prop = params.as_ref().and_then(|(s, refs)| {
                let root = validate::resolve_root(s);
                root.get("properties").and_then(|p| p.get(name)).map(|p| (p.clone(), rewrite(p, refs)))
            });
            let mut p = Map::new();
            p.insert("name".into(), Json::from(name));
            p.insert("in".into(), Json::from("path"));
            p.insert("required".into(), Json::Bool(true));
            match prop {
                Some((original, schema)) => {
                    if let Some(d) = original.get("description") {
                        p.insert("description".into(), d.clone());
                    }
                    p.insert("schema".into(), schema);
                }
                None => {
                    p.insert("schema".into(), json!({ "type": "string" }));
                }
            }
            out.push(Json::Object(p));
        }
        let mut query_names = HashSet::new();
        if let Some(q) = &spec.query_schema {
            let refs = self.hoist(q, &format!("{id}Query"));
            let root = validate::resolve_root(q);
            let required: HashSet<&str> = root
                .get("required")
                .and_then(Json::as_array)
                .map(|r| r.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = root.get("properties").and_then(Json::as_object) {
                for (name, prop) in props {
                    query_names.insert(name.clone());
                    let schema = rewrite(prop, &refs);
                    let mut p = Map::new();
                    p.insert("name".into(), Json::from(name.as_str()));
                    p.insert("in".into(), Json::from("query"));
                    p.insert("required".into(), Json::Bool(required.contains(name.as_str())));
                    if let Some(d) = prop.get("description") {
                        p.insert("description".into(), d.clone());
                    }
                    // An object travels as JSON text (the coercion reads it so).
                    if validate::is_json_text(prop, q) {
                        p.insert("content".into(), json!({ "application/json": { "schema": schema } }));
                    } else {
                        p.insert("schema".into(), schema);
                    }
                    out.push(Json::Object(p));
                }
            }
        }
        if let Some(page) = &spec.paginated {
            for (name, schema) in [
                ("page", json!({ "type": "integer", "minimum": 1, "default": 1 })),
                (
                    "limit",
                    json!({ "type": "integer", "minimum": 1, "maximum": page.max_limit,
                            "default": page.default_limit }),
                ),
            ] {
                if !query_names.contains(name) {
                    out.push(json!({ "name": name, "in": "query", "required": false, "schema": schema }));
                }
            }
        }
        out
    }

    fn request_body(&mut self, spec: &RouteSpec, id: &str) -> Option<Json> {
        if let Some(upload) = &spec.upload {
            // The form's fields: the body schema's properties, and the file.
            let mut schema = match &spec.body_schema {
                Some(b) => {
                    let refs = self.hoist(b, &format!("{id}Form"));
                    rewrite(validate::resolve_root(b), &refs)
                }
                None => json!({ "type": "object" }),
            };
            if !schema.get("type").is_some_and(|t| t == "object") {
                schema = json!({ "type": "object" });
            }
            let file = json!({ "type": "string", "format": "binary", "contentMediaType": "application/octet-stream" });
            schema["properties"][upload.field.as_str()] = file;
            let mut required: Vec<Json> =
                schema.get("required").and_then(Json::as_array).cloned().unwrap_or_default();
            if !required.iter().any(|r| r == upload.field.as_str()) {
                required.push(Json::from(upload.field.as_str()));
            }
            schema["required"] = Json::Array(required);
            let mut media = json!({ "schema": schema });
            if !upload.mime_types.is_empty() {
                let mut encoding = Map::new();
                encoding.insert(upload.field.clone(), json!({ "contentType": upload.mime_types.join(", ") }));
                media["encoding"] = Json::Object(encoding);
            }
            return Some(json!({ "required": true, "content": { "multipart/form-data": media } }));
        }
        let body = spec.body_schema.as_ref()?;
        let schema = self.embed(body, &format!("{id}Body"));
        Some(json!({
            "required": !validate::allows_null(body),
            "content": { "application/json": { "schema": schema } },
        }))
    }

    fn responses(&mut self, app: &AppOptions, spec: &RouteSpec, id: &str) -> Json {
        let mut out = Map::new();
        let success = spec.success_status();
        if matches!(success, 204 | 205 | 304) {
            out.insert(success.to_string(), json!({ "description": reason(success) }));
        } else {
            let schema = match &spec.response_schema {
                Some(s) => self.embed(s, &format!("{id}Response")),
                None => json!({}),
            };
            out.insert(
                success.to_string(),
                json!({ "description": reason(success), "content": { "application/json": { "schema": schema } } }),
            );
            // A handler that answers nothing gets 204 when the route did not set its status.
            if spec.status.is_none() && spec.response_schema.is_none() {
                out.insert("204".into(), json!({ "description": reason(204) }));
            }
        }
        let mut problems = vec![404];
        let has_body = spec.body_schema.is_some() || spec.upload.is_some();
        if spec.params_schema.is_some() || spec.query_schema.is_some() || has_body || spec.paginated.is_some()
        {
            problems.push(400);
        }
        if requires_auth(spec) {
            problems.push(401);
        }
        if !spec.roles.is_empty() || !spec.permissions.is_empty() {
            problems.push(403);
        }
        if has_body {
            problems.extend([413, 415]);
        }
        if spec.rate_limit.is_some() || app.rate_limit.is_some() {
            problems.push(429);
        }
        problems.sort_unstable();
        for status in problems {
            self.responses.insert(status);
            let (name, _) = problem_response(status);
            out.insert(status.to_string(), json!({ "$ref": format!("#/components/responses/{name}") }));
        }
        Json::Object(out)
    }

    /// `schema` as it goes in the document: its definitions hoisted, its `$ref`s rewritten.
    fn embed(&mut self, schema: &Json, owner: &str) -> Json {
        let refs = self.hoist(schema, owner);
        match &refs.root {
            Some(name) => json!({ "$ref": format!("#/components/schemas/{name}") }),
            None => rewrite(schema, &refs),
        }
    }

    /// Moves `schema`'s `$defs` and `definitions` into `components.schemas` (a name already taken
    /// by another schema gets a number), and the schema itself when something points at its root.
    fn hoist(&mut self, schema: &Json, owner: &str) -> Refs {
        let mut refs = Refs::default();
        let mut found = Vec::new();
        for kind in ["$defs", "definitions"] {
            if let Some(defs) = schema.get(kind).and_then(Json::as_object) {
                for (name, def) in defs {
                    found.push((kind, name.clone(), def.clone()));
                }
            }
        }
        // First try each definition under its own name; one that clashes with a different
        // schema already there is renamed, and all are rewritten with the final names.
        for (kind, name, _) in &found {
            refs.defs.insert((*kind, escape(name)), component_name(name));
        }
        if points_at_root(schema) {
            let base =
                schema.get("title").and_then(Json::as_str).map_or_else(|| owner.to_string(), component_name);
            refs.root = Some(base);
        }
        let mut chosen: HashSet<String> = HashSet::new();
        for (kind, name, def) in &found {
            let key = (*kind, escape(name));
            let base = refs.defs[&key].clone();
            let mut candidate = base.clone();
            let mut n = 2;
            loop {
                let clash_here = chosen.contains(&candidate);
                let same = self.schemas.get(&candidate).is_none_or(|have| *have == rewrite_def(def, &refs));
                if !clash_here && same {
                    break;
                }
                candidate = format!("{base}{n}");
                n += 1;
                refs.defs.insert(key.clone(), candidate.clone());
            }
            chosen.insert(candidate);
        }
        if let Some(base) = refs.root.clone() {
            // The same schema embedded twice is one component.
            let mut n = 2;
            loop {
                let candidate = refs.root.clone().unwrap_or_default();
                let same =
                    self.schemas.get(&candidate).is_none_or(|have| *have == rewrite_def(schema, &refs));
                if !chosen.contains(&candidate) && same {
                    break;
                }
                refs.root = Some(format!("{base}{n}"));
                n += 1;
            }
        }
        for (kind, name, def) in &found {
            let target = refs.defs[&(*kind, escape(name))].clone();
            let value = rewrite_def(def, &refs);
            self.schemas.insert(target, value);
        }
        if let Some(root) = &refs.root {
            let value = rewrite_def(schema, &refs);
            self.schemas.insert(root.clone(), value);
        }
        refs
    }
}

/// A definition as it goes in `components.schemas`: refs rewritten, its own `$id`, `$schema`,
/// `$defs` and `definitions` dropped (the ids would change what the rewritten refs resolve
/// against).
fn rewrite_def(def: &Json, refs: &Refs) -> Json {
    let mut v = rewrite(def, refs);
    if let Json::Object(m) = &mut v {
        for k in ["$id", "$schema", "$defs", "definitions"] {
            m.remove(k);
        }
    }
    v
}

/// `schema` with its local `$ref`s pointing into `components.schemas`, without its root's
/// definitions, `$id` or `$schema`.
fn rewrite(schema: &Json, refs: &Refs) -> Json {
    fn walk(v: &Json, refs: &Refs) -> Json {
        match v {
            Json::Object(m) => {
                let mut out = Map::with_capacity(m.len());
                for (k, val) in m {
                    let new = match (k.as_str(), val) {
                        ("$ref", Json::String(r)) => Json::from(rewrite_ref(r, refs)),
                        _ => walk(val, refs),
                    };
                    out.insert(k.clone(), new);
                }
                Json::Object(out)
            }
            Json::Array(a) => Json::Array(a.iter().map(|x| walk(x, refs)).collect()),
            other => other.clone(),
        }
    }
    let mut v = walk(schema, refs);
    if let Json::Object(m) = &mut v {
        for k in ["$id", "$schema", "$defs", "definitions"] {
            m.remove(k);
        }
    }
    v
}

fn rewrite_ref(r: &str, refs: &Refs) -> String {
    let Some(pointer) = r.strip_prefix('#') else { return r.to_string() };
    for kind in ["$defs", "definitions"] {
        if let Some(rest) = pointer.strip_prefix(&format!("/{kind}/")) {
            let (name, tail) = rest.split_once('/').map_or((rest, ""), |(n, t)| (n, t));
            if let Some(target) = refs.defs.get(&(kind, name.to_string())) {
                let tail = if tail.is_empty() { String::new() } else { format!("/{tail}") };
                return format!("#/components/schemas/{target}{tail}");
            }
        }
    }
    match &refs.root {
        Some(root) => format!("#/components/schemas/{root}{pointer}"),
        None => r.to_string(),
    }
}

/// Whether a `$ref` in `schema` points at its root or into it (not into its definitions).
fn points_at_root(schema: &Json) -> bool {
    match schema {
        Json::Object(m) => m.iter().any(|(k, v)| match (k.as_str(), v) {
            ("$ref", Json::String(r)) => {
                r.starts_with('#') && !r.starts_with("#/$defs/") && !r.starts_with("#/definitions/")
            }
            _ => points_at_root(v),
        }),
        Json::Array(a) => a.iter().any(points_at_root),
        _ => false,
    }
}

/// Roles or permissions imply auth, however the spec was made (as the pipeline reads it).
fn requires_auth(spec: &RouteSpec) -> bool {
    spec.auth || !spec.roles.is_empty() || !spec.permissions.is_empty()
}

/// A name as a JSON Pointer segment writes it.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// A component name (`^[a-zA-Z0-9._-]+$`) from a definition's name.
fn component_name(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if s.is_empty() { "Schema".into() } else { s }
}

/// A path's non-empty segments.
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// A segment's parameter name (`:id`, `{id}`, `*rest`).
fn param_name(seg: &str) -> Option<&str> {
    seg.strip_prefix(':')
        .or_else(|| seg.strip_prefix('*'))
        .or_else(|| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// The OpenAPI path: `/users/{id}`.
fn template(segs: &[&str]) -> String {
    if segs.is_empty() {
        return "/".into();
    }
    segs.iter().map(|s| param_name(s).map_or_else(|| format!("/{s}"), |n| format!("/{{{n}}}"))).collect()
}

/// The key of a method in a path item (none for a method OpenAPI 3.1 has no field for).
fn method_key(m: &Method) -> Option<&'static str> {
    Some(match *m {
        Method::GET => "get",
        Method::PUT => "put",
        Method::POST => "post",
        Method::DELETE => "delete",
        Method::OPTIONS => "options",
        Method::HEAD => "head",
        Method::PATCH => "patch",
        Method::TRACE => "trace",
        _ => return None,
    })
}

/// `getUsersById` for GET `/users/:id`.
fn default_operation_id(method: &Method, segs: &[&str]) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    if segs.is_empty() {
        id.push_str("Root");
    }
    for seg in segs {
        match param_name(seg) {
            Some(name) => {
                id.push_str("By");
                id.push_str(&camel(name));
            }
            None => id.push_str(&camel(seg)),
        }
    }
    id
}

/// `user_posts-all` as `UserPostsAll`.
fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            up = false;
        } else {
            up = true;
        }
    }
    out
}

fn reason(status: u16) -> &'static str {
    hyper::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Answer")
}

/// The shared response for a problem status: its component name and description.
fn problem_response(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => (
            "BadRequest",
            "The request is not valid: malformed JSON (H001), or fields that fail their schema (H009, listed in errors)",
        ),
        401 => ("Unauthorized", "No valid bearer token (H010)"),
        403 => ("Forbidden", "The token lacks a role or permission the route requires (H011)"),
        404 => ("NotFound", "No such route (H002), or the handler found nothing"),
        413 => ("PayloadTooLarge", "The body is larger than the server's limit (H004)"),
        415 => ("UnsupportedMediaType", "The body's media type is not one the route takes (H013)"),
        429 => ("TooManyRequests", "Rate limited (H012); Retry-After says when to come back"),
        _ => ("Problem", "A problem"),
    }
}

/// RFC 9457 problem details, with the engine's members.
fn problem_schema() -> Json {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details, with the engine's stable code and the request's id",
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "instance": { "type": "string" },
            "code": { "type": "string", "description": "the engine's stable error code (H009, ...)" },
            "requestId": { "type": "string" },
            "errors": {
                "type": "array",
                "description": "every failing field (H009)",
                "items": {
                    "type": "object",
                    "properties": {
                        "in": { "type": "string", "enum": ["params", "query", "body"] },
                        "path": { "type": "string", "description": "JSON Pointer of the failing value" },
                        "message": { "type": "string" },
                        "keyword": { "type": "string" },
                    },
                    "required": ["in", "path", "message", "keyword"],
                },
            },
        },
        "required": ["type", "title", "status"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_operation_ids_are_camel_case() {
        assert_eq!(default_operation_id(&Method::GET, &["users", ":id"]), "getUsersById");
        assert_eq!(default_operation_id(&Method::POST, &["order-items"]), "postOrderItems");
        assert_eq!(default_operation_id(&Method::GET, &[]), "getRoot");
        assert_eq!(template(&["files", "*rest"]), "/files/{rest}");
        assert_eq!(template(&[]), "/");
    }

    #[test]
    fn defs_are_hoisted_and_refs_rewritten() {
        let mut doc = Doc::default();
        let order = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": { "Item": { "type": "object", "properties": { "sku": { "$ref": "#/$defs/Sku" } } },
                       "Sku": { "type": "string" } },
            "type": "object",
            "properties": { "items": { "type": "array", "items": { "$ref": "#/$defs/Item" } } },
        });
        let embedded = doc.embed(&order, "postOrdersBody");
        assert_eq!(embedded["properties"]["items"]["items"]["$ref"], "#/components/schemas/Item");
        assert!(embedded.get("$defs").is_none() && embedded.get("$schema").is_none());
        assert_eq!(doc.schemas["Item"]["properties"]["sku"]["$ref"], "#/components/schemas/Sku");
        // Another DTO with an `Item` of its own shape: renamed, and its refs follow.
        let other = json!({
            "$defs": { "Item": { "type": "integer" } },
            "type": "array", "items": { "$ref": "#/$defs/Item" },
        });
        let embedded = doc.embed(&other, "x");
        assert_eq!(embedded["items"]["$ref"], "#/components/schemas/Item2");
        assert_eq!(doc.schemas["Item2"], json!({ "type": "integer" }));
        // The same `Item` again is shared, not copied.
        doc.embed(&order, "again");
        assert!(!doc.schemas.contains_key("Item3"));
        // A schema that points at its own root becomes a component.
        let tree = json!({ "title": "Node", "type": "object",
                           "properties": { "children": { "type": "array", "items": { "$ref": "#" } } } });
        let embedded = doc.embed(&tree, "t");
        assert_eq!(embedded, json!({ "$ref": "#/components/schemas/Node" }));
        assert_eq!(
            doc.schemas["Node"]["properties"]["children"]["items"]["$ref"],
            "#/components/schemas/Node"
        );
    }
}
