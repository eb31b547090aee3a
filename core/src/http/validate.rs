//! Stage 4 of a declared route: the path parameters, the query and the body coerced to the types
//! their JSON Schemas name and checked, before the handler runs.
//!
//! Each route's schemas are compiled once, when the app is built ([`InputCheck::new`]); a schema
//! that is not a valid JSON Schema (or whose `$ref` points outside itself) is refused there
//! (`H006`). Formats (`email`, `uuid`, `date-time`, ...) are checked.
//!
//! **Coercion.** Path parameters and query values arrive as strings. Each one is turned into the
//! type its schema property names, as class-transformer and FastAPI do: `integer` and `number`
//! from their decimal text, `boolean` from `true`/`false`/`1`/`0`, `null` from an empty value or
//! `null`, `object` from JSON text. A property whose types include `string` stays a string. An
//! `array` property takes every value of a repeated query key (`?tag=a&tag=b`; one value is a
//! list of one), or a path parameter split on commas, each item coerced to `items`. A value that
//! does not coerce stays a string, so the check reports it (`"abc" is not of type "integer"`).
//! A query property that is missing and has a `default` gets it.
//!
//! **Failures.** Every failing field of params, query and body is listed in one 400 problem
//! (`H009`) with an `errors` member: `[{ "in", "path", "message", "keyword" }]`, `path` being
//! the JSON Pointer of the failing value (of the missing member, for `required`).

use std::collections::HashMap;

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value as Json};

use super::problem::HttpError;
use super::request::Request;
use super::spec::RouteSpec;
use crate::error::{Error, ErrorCode, Result};

/// At most this many failures are listed in one problem (a huge body cannot make a huge answer).
pub(crate) const MAX_ERRORS: usize = 100;

/// A failure's message is cut to this many bytes (it quotes the failing value, which can be big).
const MAX_MESSAGE: usize = 300;

/// How deep `$ref`s and combinators are followed to find a property's type.
const MAX_DEPTH: usize = 16;

/// A route's compiled input schemas.
pub(crate) struct InputCheck {
    params: Option<Part>,
    query: Option<Part>,
    body: Option<Validator>,
}

/// A params or query schema: its validator and how to coerce each property.
struct Part {
    validator: Validator,
    shapes: HashMap<String, Shape>,
    defaults: Vec<(String, Json)>,
}

/// The JSON types a value may take, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Types(u8);

impl Types {
    const STRING: u8 = 1;
    const INTEGER: u8 = 2;
    const NUMBER: u8 = 4;
    const BOOLEAN: u8 = 8;
    const NULL: u8 = 16;
    const ARRAY: u8 = 32;
    const OBJECT: u8 = 64;
    const ANY: Types = Types(127);

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn of_name(name: &str) -> u8 {
        match name {
            "string" => Self::STRING,
            "integer" => Self::INTEGER,
            "number" => Self::NUMBER,
            "boolean" => Self::BOOLEAN,
            "null" => Self::NULL,
            "array" => Self::ARRAY,
            "object" => Self::OBJECT,
            _ => 0,
        }
    }

    fn of_value(v: &Json) -> u8 {
        match v {
            Json::Null => Self::NULL,
            Json::Bool(_) => Self::BOOLEAN,
            Json::Number(n) if n.is_i64() || n.is_u64() => Self::INTEGER | Self::NUMBER,
            Json::Number(_) => Self::NUMBER,
            Json::String(_) => Self::STRING,
            Json::Array(_) => Self::ARRAY,
            Json::Object(_) => Self::OBJECT,
        }
    }
}

/// How a property's text becomes JSON.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// One value, coerced to one of these types.
    One(Types),
    /// A list (every value of a repeated query key), each item coerced to these types.
    List(Types),
}

impl InputCheck {
    /// Compiles `spec`'s params, query and body schemas; an invalid one is `H006` naming the
    /// route.
    pub(crate) fn new(spec: &RouteSpec) -> Result<InputCheck> {
        let route = format!("route {} {}", spec.method, spec.path);
        let part = |schema: &Option<Json>, what: &str, defaults: bool| -> Result<Option<Part>> {
            let Some(schema) = schema else { return Ok(None) };
            let validator = compile(schema, &route, what)?;
            let mut shapes = HashMap::new();
            let mut defs = Vec::new();
            let root = resolve_root(schema);
            if let Some(props) = root.get("properties").and_then(Json::as_object) {
                for (name, prop) in props {
                    shapes.insert(name.clone(), shape_of(prop, schema));
                    if defaults && let Some(d) = resolve(prop, schema, 0).get("default") {
                        defs.push((name.clone(), d.clone()));
                    }
                }
            }
            Ok(Some(Part { validator, shapes, defaults: defs }))
        };
        Ok(InputCheck {
            params: part(&spec.params_schema, "params", false)?,
            query: part(&spec.query_schema, "query", true)?,
            body: spec.body_schema.as_ref().map(|s| compile(s, &route, "body")).transpose()?,
        })
    }

    /// The params, query and body of `req` as JSON, coerced and checked against `spec`'s schemas.
    /// A body that is not JSON is 400 (`H001`); a body of another media type than JSON is 415
    /// (`H013`); failing fields are one 400 (`H009`) listing them all.
    pub(crate) fn read(
        &self,
        spec: &RouteSpec,
        req: &Request,
    ) -> std::result::Result<(Json, Json, Json), HttpError> {
        let params = match &self.params {
            None => strings(req.params.iter().map(|(k, v)| (k, v))),
            Some(p) => {
                let mut out = Map::new();
                for (k, v) in &req.params {
                    let value = match p.shapes.get(k) {
                        Some(Shape::List(t)) => {
                            Json::Array(v.split(',').map(|item| coerce(item, *t)).collect())
                        }
                        Some(Shape::One(t)) => coerce(v, *t),
                        None => Json::from(v.as_str()),
                    };
                    out.insert(k.clone(), value);
                }
                Json::Object(out)
            }
        };
        let query = match &self.query {
            None => strings(req.query.iter()),
            Some(p) => {
                let mut out = Map::new();
                for (k, v) in &req.query_pairs {
                    match (p.shapes.get(k), out.get_mut(k)) {
                        (Some(Shape::List(t)), Some(Json::Array(items))) => items.push(coerce(v, *t)),
                        (Some(Shape::List(t)), None) => {
                            out.insert(k.clone(), Json::Array(vec![coerce(v, *t)]));
                        }
                        // A scalar's first value wins, as `Request::query` answers.
                        (_, Some(_)) => {}
                        (Some(Shape::One(t)), None) => {
                            out.insert(k.clone(), coerce(v, *t));
                        }
                        (None, None) => {
                            out.insert(k.clone(), Json::from(v.as_str()));
                        }
                    }
                }
                for (k, d) in &p.defaults {
                    out.entry(k.clone()).or_insert_with(|| d.clone());
                }
                Json::Object(out)
            }
        };
        let body = match &self.body {
            Some(_) => json_body(spec, req)?,
            None => super::door::body_value(&req.body),
        };
        let mut errors = Vec::new();
        if let Some(p) = &self.params {
            collect(&p.validator, &params, "params", &mut errors);
        }
        if let Some(p) = &self.query {
            collect(&p.validator, &query, "query", &mut errors);
        }
        if let Some(v) = &self.body
            && !body_left_to_upload(spec, req)
        {
            collect(v, &body, "body", &mut errors);
        }
        if errors.is_empty() {
            return Ok((params, query, body));
        }
        Err(problem(errors))
    }
}

fn strings<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> Json {
    Json::Object(pairs.map(|(k, v)| (k.clone(), Json::from(v.as_str()))).collect())
}

/// Compiles one schema (formats checked; `$ref`s resolved within the schema only).
fn compile(schema: &Json, route: &str, what: &str) -> Result<Validator> {
    jsonschema::options().should_validate_formats(true).build(schema).map_err(|e| {
        Error::new(
            ErrorCode::InvalidRoute,
            format!("{route}: the {what} schema is not a valid JSON Schema: {e}"),
        )
    })
}

/// The media type of `req`'s body, lowercased, without parameters.
fn media_type(req: &Request) -> Option<String> {
    let ct = req.header("content-type")?;
    Some(ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// A multipart body of an upload route is read by the upload stage, not as JSON.
fn body_left_to_upload(spec: &RouteSpec, req: &Request) -> bool {
    spec.upload.is_some() && media_type(req).is_some_and(|m| m == "multipart/form-data")
}

/// The body of a route with a body schema: JSON (no content-type is taken as JSON), null when
/// empty.
fn json_body(spec: &RouteSpec, req: &Request) -> std::result::Result<Json, HttpError> {
    if body_left_to_upload(spec, req) {
        return Ok(Json::Null);
    }
    if let Some(m) = media_type(req)
        && !is_json(&m)
        && !req.body.is_empty()
    {
        return Err(HttpError::new(415)
            .with_detail(format!("this route takes a JSON body (application/json), not {m}"))
            .with_code(ErrorCode::UnsupportedMediaType));
    }
    if req.body.is_empty() {
        return Ok(Json::Null);
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        HttpError::bad_request(format!("the body is not JSON: {e}")).with_code(ErrorCode::InvalidBody)
    })
}

/// One failing field.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct FieldError {
    #[serde(rename = "in")]
    pub(crate) part: &'static str,
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) keyword: String,
}

impl FieldError {
    /// A failure found by a stage other than the schemas (the page, an upload's file): member
    /// `name` of `part` (`query`, `body`), with the JSON Schema `keyword` it would have broken.
    pub(crate) fn new(part: &'static str, name: &str, message: String, keyword: &str) -> FieldError {
        FieldError { part, path: child("", name), message: cut(message), keyword: keyword.to_string() }
    }
}

/// Adds `value`'s failures against `v` to `out` (at most [`MAX_ERRORS`] in all).
fn collect(v: &Validator, value: &Json, part: &'static str, out: &mut Vec<FieldError>) {
    // Most requests are valid: `is_valid` stops early and builds no errors.
    if v.is_valid(value) {
        return;
    }
    for e in v.iter_errors(value) {
        if out.len() >= MAX_ERRORS {
            return;
        }
        let base = e.instance_path().as_str().to_string();
        let keyword = e.kind().keyword().to_string();
        let message = cut(e.to_string());
        match e.kind() {
            // The missing member's own path, so that a client can point at the field.
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().map_or_else(|| property.to_string(), str::to_string);
                out.push(FieldError { part, path: child(&base, &name), message, keyword });
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                for name in unexpected {
                    if out.len() >= MAX_ERRORS {
                        return;
                    }
                    out.push(FieldError {
                        part,
                        path: child(&base, name),
                        message: cut(format!("{name:?} is not allowed here")),
                        keyword: keyword.clone(),
                    });
                }
            }
            _ => out.push(FieldError { part, path: base, message, keyword }),
        }
    }
}

/// `message`, cut to [`MAX_MESSAGE`] bytes (on a character boundary) with an ellipsis.
fn cut(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// `base` + `/name`, the name escaped as RFC 6901 says.
fn child(base: &str, name: &str) -> String {
    format!("{base}/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// The 400 problem (`H009`) listing `errors` (at least one): every stage that finds failing
/// fields answers it, so that a client reads them in one place.
pub(crate) fn problem(errors: Vec<FieldError>) -> HttpError {
    let n = errors.len();
    let first = &errors[0];
    let more = if n >= MAX_ERRORS {
        format!(" (and more; the first {MAX_ERRORS} are listed)")
    } else if n > 1 {
        format!(" (and {} more)", n - 1)
    } else {
        String::new()
    };
    let at = if first.path.is_empty() { String::new() } else { format!(" {}", first.path) };
    HttpError::bad_request(format!("the request is not valid: {}{at}: {}{more}", first.part, first.message))
        .with_code(ErrorCode::ValidationFailed)
        .with_extension("errors", errors)
}

/// Follows a local `$ref` (`#/...`) from `schema`, within `root`.
fn resolve<'a>(schema: &'a Json, root: &'a Json, depth: usize) -> &'a Json {
    match schema.get("$ref").and_then(Json::as_str) {
        Some(r) if depth < MAX_DEPTH && schema.get("type").is_none() => match r.strip_prefix('#') {
            Some(pointer) => match root.pointer(&pointer.replace("%24", "$")) {
                Some(target) => resolve(target, root, depth + 1),
                None => schema,
            },
            None => schema,
        },
        _ => schema,
    }
}

/// The types a schema allows, looking through local `$ref`s, `anyOf`/`oneOf`/`allOf`, `enum` and
/// `const`; every type when it says nothing.
fn types_of(schema: &Json, root: &Json, depth: usize) -> Types {
    if depth > MAX_DEPTH {
        return Types::ANY;
    }
    let s = resolve(schema, root, depth);
    match s.get("type") {
        Some(Json::String(t)) => return Types(Types::of_name(t)),
        Some(Json::Array(ts)) => {
            return Types(ts.iter().filter_map(Json::as_str).fold(0, |acc, t| acc | Types::of_name(t)));
        }
        _ => {}
    }
    if let Some(c) = s.get("const") {
        return Types(Types::of_value(c));
    }
    if let Some(Json::Array(values)) = s.get("enum") {
        return Types(values.iter().fold(0, |acc, v| acc | Types::of_value(v)));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Json::Array(branches)) = s.get(key) {
            return Types(branches.iter().fold(0, |acc, b| acc | types_of(b, root, depth + 1).0));
        }
    }
    if let Some(Json::Array(branches)) = s.get("allOf") {
        let mut t = Types::ANY.0;
        for b in branches {
            t &= types_of(b, root, depth + 1).0;
        }
        return Types(t);
    }
    Types::ANY
}

/// The items' schema of an array schema (through `$ref`s and the array branch of a union).
fn items_of<'a>(schema: &'a Json, root: &'a Json, depth: usize) -> Option<&'a Json> {
    if depth > MAX_DEPTH {
        return None;
    }
    let s = resolve(schema, root, depth);
    if let Some(items) = s.get("items") {
        return Some(items);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Json::Array(branches)) = s.get(key)
            && let Some(i) = branches.iter().find_map(|b| items_of(b, root, depth + 1))
        {
            return Some(i);
        }
    }
    None
}

/// How a property (schema `prop` within `root`) is read from text.
fn shape_of(prop: &Json, root: &Json) -> Shape {
    let t = types_of(prop, root, 0);
    if t != Types::ANY && t.has(Types::ARRAY) {
        let items = items_of(prop, root, 0).map_or(Types::ANY, |i| types_of(i, root, 0));
        return Shape::List(items);
    }
    Shape::One(t)
}

/// `text` as the first of `t`'s types it reads as; itself when it reads as none (or `t` takes
/// strings).
fn coerce(text: &str, t: Types) -> Json {
    if t == Types::ANY || t.has(Types::STRING) {
        return Json::from(text);
    }
    if t.has(Types::INTEGER) || t.has(Types::NUMBER) {
        if let Ok(i) = text.parse::<i64>() {
            return Json::from(i);
        }
        if let Ok(u) = text.parse::<u64>() {
            return Json::from(u);
        }
        // Only decimal text: Rust also reads `inf` and `NaN`, which JSON has not.
        if text.bytes().any(|b| b.is_ascii_digit())
            && text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
            && let Ok(f) = text.parse::<f64>()
            && let Some(n) = serde_json::Number::from_f64(f)
        {
            // A whole number is an integer (`1e3`, `2.0`), kept as one while it fits, so that
            // handlers read it with `as_i64`; beyond 64 bits it can only be a float.
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                return Json::from(f as i64);
            }
            if f.fract() == 0.0 || t.has(Types::NUMBER) {
                return Json::Number(n);
            }
        }
    }
    if t.has(Types::BOOLEAN) {
        match text {
            "true" | "1" => return Json::Bool(true),
            "false" | "0" => return Json::Bool(false),
            _ => {}
        }
    }
    if t.has(Types::NULL) && (text.is_empty() || text == "null") {
        return Json::Null;
    }
    if (t.has(Types::OBJECT) || t.has(Types::ARRAY))
        && let Ok(v) = serde_json::from_str::<Json>(text)
        && (t.0 & Types::of_value(&v)) != 0
    {
        return v;
    }
    Json::from(text)
}

/// The schema a params or query schema describes its properties in (through a root `$ref`).
pub(crate) fn resolve_root(schema: &Json) -> &Json {
    resolve(schema, schema, 0)
}

/// Whether a query property (schema `prop` within `root`) is read as JSON text: an object.
pub(crate) fn is_json_text(prop: &Json, root: &Json) -> bool {
    let t = types_of(prop, root, 0);
    t != Types::ANY && t.has(Types::OBJECT) && !t.has(Types::STRING) && !t.has(Types::ARRAY)
}

/// Whether a body schema takes null, that is no body at all.
pub(crate) fn allows_null(schema: &Json) -> bool {
    types_of(schema, schema, 0).has(Types::NULL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(prop: Json) -> Shape {
        shape_of(&prop, &json!({}))
    }

    #[test]
    fn text_is_coerced_to_the_schema_s_type() {
        let int = Types(Types::INTEGER);
        assert_eq!(coerce("42", int), json!(42));
        assert_eq!(coerce("-7", int), json!(-7));
        assert_eq!(coerce("1.5", int), json!("1.5"));
        assert_eq!(coerce("abc", int), json!("abc"));
        assert_eq!(coerce("1e3", int), json!(1000));
        assert_eq!(
            coerce("18226791368883861000531057049600", int),
            json!("18226791368883861000531057049600".parse::<f64>().unwrap())
        );
        assert_eq!(coerce("2.0", Types(Types::NUMBER)), json!(2));
        let num = Types(Types::NUMBER);
        assert_eq!(coerce("1.5", num), json!(1.5));
        assert_eq!(coerce("3", num), json!(3));
        assert_eq!(coerce("NaN", num), json!("NaN"));
        assert_eq!(coerce("inf", num), json!("inf"));
        let b = Types(Types::BOOLEAN);
        assert_eq!(coerce("true", b), json!(true));
        assert_eq!(coerce("0", b), json!(false));
        assert_eq!(coerce("yes", b), json!("yes"));
        let opt_int = Types(Types::INTEGER | Types::NULL);
        assert_eq!(coerce("", opt_int), json!(null));
        assert_eq!(coerce("null", opt_int), json!(null));
        assert_eq!(coerce("5", Types(Types::INTEGER | Types::STRING)), json!("5"));
        assert_eq!(coerce(r#"{"a":1}"#, Types(Types::OBJECT)), json!({"a": 1}));
        assert_eq!(coerce("[1]", Types(Types::OBJECT)), json!("[1]"));
    }

    #[test]
    fn shapes_look_through_refs_unions_and_enums() {
        assert_eq!(shape(json!({"type": "integer"})), Shape::One(Types(Types::INTEGER)));
        assert_eq!(
            shape(json!({"anyOf": [{"type": "integer"}, {"type": "null"}]})),
            Shape::One(Types(Types::INTEGER | Types::NULL))
        );
        assert_eq!(shape(json!({"enum": [true, false]})), Shape::One(Types(Types::BOOLEAN)));
        assert_eq!(
            shape(json!({"type": "array", "items": {"type": "integer"}})),
            Shape::List(Types(Types::INTEGER))
        );
        assert_eq!(shape(json!({"description": "anything"})), Shape::One(Types::ANY));
        let root = json!({"$defs": {"Size": {"enum": [1, 2, 3]}}});
        assert_eq!(
            shape_of(&json!({"$ref": "#/$defs/Size"}), &root),
            Shape::One(Types(Types::INTEGER | Types::NUMBER))
        );
        let looping = json!({"$defs": {"A": {"$ref": "#/$defs/A"}}});
        assert_eq!(shape_of(&json!({"$ref": "#/$defs/A"}), &looping), Shape::One(Types::ANY));
    }

    #[test]
    fn invalid_schemas_are_refused_naming_the_route() {
        let spec = RouteSpec::new(hyper::Method::POST, "/x").body_schema(json!({"type": "nope"}));
        let e = InputCheck::new(&spec).err().expect("refused");
        assert_eq!(e.code(), ErrorCode::InvalidRoute);
        assert!(e.message().contains("POST /x"), "{}", e.message());
        let spec =
            RouteSpec::new(hyper::Method::POST, "/x").body_schema(json!({"$ref": "https://example.com/s"}));
        assert!(InputCheck::new(&spec).is_err());
    }

    #[test]
    fn pointers_escape_member_names_and_messages_are_cut() {
        assert_eq!(child("/a", "b/c~d"), "/a/b~1c~0d");
        let long = cut("é".repeat(400));
        assert!(long.len() <= MAX_MESSAGE + '…'.len_utf8() && long.ends_with('…'));
        assert_eq!(cut("short".into()), "short");
    }
}
