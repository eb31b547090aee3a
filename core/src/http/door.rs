//! What a door's handler exchanges with core for one request: the envelope it receives (one JSON
//! document, parsed once on the door's side) and the answer it gives back, turned into a response
//! here with the status rules written once.

use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use serde_json::{Map, Value as Json};

use super::request::Request;
use super::response::Response;
use super::spec::RouteSpec;

impl Request {
    /// The request as one JSON document for a door's handler: `method`, `path`, `requestId`,
    /// `params`, `query`, `body`, `user`, `headers` (lower-case names; repeated headers
    /// joined with `, `), and on the routes that have them `files` (`[{field, filename,
    /// contentType, size, data}]`, data in base64) and `page` (`{page, limit, offset}`).
    ///
    /// `params`, `query` and `body` are what the route's pipeline read (coerced and checked)
    /// when there is one; otherwise params and query as strings, and the body as JSON when it
    /// parses as JSON, as a string when it is UTF-8 text, else null (the door has the bytes).
    pub fn door_json(&self) -> Vec<u8> {
        let mut doc = Map::new();
        doc.insert("method".into(), Json::from(self.method.as_str()));
        doc.insert("path".into(), Json::from(self.path.as_str()));
        doc.insert("requestId".into(), Json::from(self.request_id.as_str()));
        if let Some(c) = &self.trace {
            let (parent, state) = c.headers();
            doc.insert("traceparent".into(), Json::from(parent));
            if let Some(s) = state {
                doc.insert("tracestate".into(), Json::from(s));
            }
        }
        match self.input.as_deref() {
            Some(i) => {
                doc.insert("params".into(), i.params.clone());
                doc.insert("query".into(), i.query.clone());
                doc.insert("body".into(), i.body.clone());
                doc.insert("user".into(), i.user.clone().unwrap_or(Json::Null));
                if !i.files.is_empty() {
                    let files = i
                        .files
                        .iter()
                        .map(|f| {
                            serde_json::json!({
                                "field": f.field, "filename": f.filename, "contentType": f.content_type,
                                "size": f.data.len(), "data": base64(&f.data),
                            })
                        })
                        .collect();
                    doc.insert("files".into(), Json::Array(files));
                }
                if let Some(p) = i.page {
                    doc.insert(
                        "page".into(),
                        serde_json::json!({"page": p.page, "limit": p.limit, "offset": p.offset}),
                    );
                }
            }
            None => {
                let params = self.params.iter().map(|(k, v)| (k.clone(), Json::from(v.as_str()))).collect();
                doc.insert("params".into(), Json::Object(params));
                let query = self.query.iter().map(|(k, v)| (k.clone(), Json::from(v.as_str()))).collect();
                doc.insert("query".into(), Json::Object(query));
                doc.insert("body".into(), body_value(&self.body));
                doc.insert("user".into(), Json::Null);
            }
        }
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let v = String::from_utf8_lossy(value.as_bytes());
            match headers.get_mut(name.as_str()) {
                Some(Json::String(have)) => {
                    have.push_str(", ");
                    have.push_str(&v);
                }
                _ => {
                    headers.insert(name.as_str().to_string(), Json::from(v.into_owned()));
                }
            }
        }
        doc.insert("headers".into(), Json::Object(headers));
        serde_json::to_vec(&Json::Object(doc)).unwrap_or_default()
    }
}

/// Standard base64 with padding (RFC 4648), for file bytes in the envelope.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A body as JSON when it parses, a string when it is text, else null.
pub(crate) fn body_value(body: &[u8]) -> Json {
    if body.is_empty() {
        return Json::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| std::str::from_utf8(body).map(Json::from).unwrap_or(Json::Null))
}

/// What a door's handler answered.
#[derive(Debug, Clone, Default)]
pub struct DoorAnswer {
    /// A status the handler chose (a response object's); none takes the route's.
    pub status: Option<u16>,
    /// Headers the handler set.
    pub headers: Vec<(String, String)>,
    /// The body; none when the handler returned nothing (`undefined`, `None`).
    pub body: Option<Bytes>,
    /// The body's media type; `application/json` when none is given.
    pub content_type: Option<String>,
}

impl DoorAnswer {
    /// A JSON body the door serialized.
    pub fn json(body: impl Into<Bytes>) -> DoorAnswer {
        DoorAnswer { body: Some(body.into()), ..DoorAnswer::default() }
    }

    /// The response for `spec`'s route: the handler's status, else the route's
    /// (`@ResponseStatus`, or 201 for a POST, 200 otherwise); a handler that returned nothing
    /// gets 204 unless the route set a status. A header the handler set that HTTP refuses is
    /// dropped and logged.
    pub fn into_response(self, spec: Option<&RouteSpec>) -> Response {
        let status = match (self.status, &self.body, spec) {
            (Some(s), _, _) => s,
            (None, None, Some(s)) if s.status.is_none() => 204,
            (None, None, None) => 204,
            (None, _, Some(s)) => s.success_status(),
            (None, Some(_), None) => 200,
        };
        let mut r = match self.body {
            Some(b) => Response::bytes(status, self.content_type.as_deref().unwrap_or("application/json"), b),
            None => Response::empty(status),
        };
        for (k, v) in self.headers {
            match r.clone().with_header(&k, &v) {
                Ok(with) => r = with,
                Err(e) => {
                    tracing::warn!(header = k, error = %e, "a handler set a header HTTP refuses; dropped")
                }
            }
        }
        if r.headers.get(CONTENT_TYPE).is_none() && !r.body.is_empty() {
            r.headers.insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    #[test]
    fn statuses_follow_the_route() {
        let post = RouteSpec::new(Method::POST, "/x");
        assert_eq!(DoorAnswer::json("{}").into_response(Some(&post)).status(), 201);
        assert_eq!(DoorAnswer::default().into_response(Some(&post)).status(), 204);
        let set = RouteSpec::new(Method::POST, "/x").status(202);
        assert_eq!(DoorAnswer::default().into_response(Some(&set)).status(), 202);
        let get = RouteSpec::new(Method::GET, "/x");
        let a = DoorAnswer { status: Some(418), ..DoorAnswer::json("1") };
        assert_eq!(a.into_response(Some(&get)).status(), 418);
        let a = DoorAnswer { headers: vec![("bad name".into(), "v".into())], ..DoorAnswer::json("1") };
        assert_eq!(a.into_response(Some(&get)).headers().len(), 1);
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn bodies_become_json_or_text() {
        assert_eq!(body_value(br#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(body_value(b"a=1"), Json::from("a=1"));
        assert_eq!(body_value(&[0xff, 0xfe]), Json::Null);
        assert_eq!(body_value(b""), Json::Null);
    }
}
