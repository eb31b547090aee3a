//! `@Paginated()`: the page a request asks for, and the handler's answer wrapped as a page.
//!
//! **In.** `page` (from 1, default 1) and `limit` (1 to the route's `max_limit`, default
//! `default_limit`) from the query; anything else (not a whole number, out of range) is a 400
//! (`H009`). The handler gets them as `Input.page` (`{page, limit, offset}`, offset =
//! (page - 1) * limit); they stay in the query too.
//!
//! **Out.** A 200 JSON answer is wrapped:
//! - an array `[...]` becomes `{"data": [...], "meta": {"page", "limit"}}`;
//! - an object with an `items` array becomes `{"data": items, "meta": {"page", "limit"}}`, and
//!   when it also has `total` (a whole number) the meta gains `total` and `pages`
//!   (ceil(total / limit)), and the answer a `Link` header (RFC 8288) with `first`, `prev` (from
//!   page 2), `next` (while page < pages) and `last` (page max(pages, 1)): the request's path
//!   with its other query pairs (sorted by key, a repeated key's values in order) and `limit`
//!   and `page`.
//!
//! Any other answer (an error, a 201, a body that is not JSON, another object) is left as it is.

use std::collections::HashMap;
use std::fmt::Write as _;

use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderValue, LINK};
use serde_json::{Value as Json, json};

use super::problem::HttpError;
use super::request::Page;
use super::response::Response;
use super::spec::PaginationSpec;
use super::validate::{self, FieldError};

/// The page `query` asks for. A bad `page` or `limit` is a 400 (`H009`) whose `errors` member
/// names each (`{"in": "query", "path": "/limit", ...}`), as the schemas' failures are named.
pub(crate) fn page(spec: &PaginationSpec, query: &HashMap<String, String>) -> Result<Page, HttpError> {
    let max = u64::from(spec.max_limit);
    let mut errors = Vec::new();
    let page = whole(query, "page", 1, None, &mut errors).unwrap_or(1);
    let limit =
        whole(query, "limit", 1, Some(max), &mut errors).unwrap_or_else(|| u64::from(spec.default_limit));
    if errors.is_empty() {
        match (page - 1).checked_mul(limit) {
            Some(offset) => return Ok(Page { page, limit, offset }),
            None => errors.push(FieldError::new(
                "query",
                "page",
                format!("page {page} of {limit} items is beyond the last item there can be"),
                "maximum",
            )),
        }
    }
    Err(validate::problem(errors))
}

/// Query parameter `name` as a whole number from `min` (to `max`), none when it is absent; a
/// value that is not one is added to `errors`.
fn whole(
    query: &HashMap<String, String>,
    name: &str,
    min: u64,
    max: Option<u64>,
    errors: &mut Vec<FieldError>,
) -> Option<u64> {
    let v = query.get(name)?;
    let range = match max {
        Some(max) => format!("from {min} to {max}"),
        None => format!("from {min}"),
    };
    let t = v.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let keyword = match t.parse::<u64>() {
        Ok(n) if n < min => "minimum",
        Ok(n) if max.is_some_and(|m| n > m) => "maximum",
        Ok(n) => return Some(n),
        // Whole numbers out of u64's range are out of range, not of another type.
        Err(_) if t.strip_prefix('-').is_some_and(digits) => "minimum",
        Err(_) if digits(t) => "maximum",
        Err(_) => "type",
    };
    errors.push(FieldError::new(
        "query",
        name,
        format!("{name} must be a whole number {range}, not '{v}'"),
        keyword,
    ));
    None
}

/// The handler's answer as a page (see the module's documentation).
pub(crate) fn wrap(mut r: Response, page: Page, path: &str, query: &[(String, String)]) -> Response {
    if r.status != StatusCode::OK || r.problem.is_some() || !is_json(&r) {
        return r;
    }
    let Ok(value) = serde_json::from_slice::<Json>(&r.body) else { return r };
    let meta = json!({ "page": page.page, "limit": page.limit });
    let doc = match value {
        Json::Array(items) => json!({ "data": items, "meta": meta }),
        Json::Object(mut o) if o.get("items").is_some_and(Json::is_array) => {
            let items = o.remove("items").unwrap_or_default();
            match o.get("total").and_then(Json::as_u64) {
                Some(total) => {
                    let pages = total.div_ceil(page.limit);
                    if let Ok(v) = HeaderValue::from_str(&links(path, query, page, pages)) {
                        r.headers.insert(LINK, v);
                    }
                    json!({ "data": items, "meta": {
                        "page": page.page, "limit": page.limit, "total": total, "pages": pages,
                    }})
                }
                None => json!({ "data": items, "meta": meta }),
            }
        }
        _ => return r,
    };
    match serde_json::to_vec(&doc) {
        Ok(body) => {
            r.body = body.into();
            r
        }
        Err(_) => r,
    }
}

fn is_json(r: &Response) -> bool {
    r.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json")
    })
}

/// `</items?limit=20&page=1>; rel="first", ...` for `pages` pages.
fn links(path: &str, query: &[(String, String)], page: Page, pages: u64) -> String {
    let mut rest: Vec<&(String, String)> =
        query.iter().filter(|(k, _)| k != "page" && k != "limit").collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    let url = |p: u64| {
        let mut s = String::new();
        for (k, v) in &rest {
            let _ = write!(s, "{}={}&", encode(k), encode(v));
        }
        format!("<{path}?{s}limit={}&page={p}>", page.limit)
    };
    let last = pages.max(1);
    let mut out = vec![format!("{}; rel=\"first\"", url(1))];
    if page.page > 1 {
        out.push(format!("{}; rel=\"prev\"", url(page.page - 1)));
    }
    if page.page < pages {
        out.push(format!("{}; rel=\"next\"", url(page.page + 1)));
    }
    out.push(format!("{}; rel=\"last\"", url(last)));
    out.join(", ")
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn pages_are_read_and_checked() {
        let s = PaginationSpec { default_limit: 10, max_limit: 50 };
        assert_eq!(page(&s, &q(&[])).unwrap(), Page { page: 1, limit: 10, offset: 0 });
        assert_eq!(
            page(&s, &q(&[("page", "3"), ("limit", "50")])).unwrap(),
            Page { page: 3, limit: 50, offset: 100 }
        );
        for (bad, keyword) in [
            (("page", "0"), "minimum"),
            (("page", "-1"), "minimum"),
            (("page", "x"), "type"),
            (("page", ""), "type"),
            (("limit", "51"), "maximum"),
            (("limit", "0"), "minimum"),
            (("limit", "1.5"), "type"),
            (("limit", "99999999999999999999999"), "maximum"),
        ] {
            let e = page(&s, &q(&[bad])).unwrap_err();
            assert_eq!((e.status(), e.code()), (400, Some(ErrorCode::ValidationFailed)), "{bad:?}");
            let p = e.to_problem("/", "r");
            assert_eq!(p["errors"][0]["in"], "query", "{bad:?}");
            assert_eq!(p["errors"][0]["path"], format!("/{}", bad.0), "{bad:?}");
            assert_eq!(p["errors"][0]["keyword"], keyword, "{bad:?}");
            assert!(p["detail"].as_str().unwrap().contains(&format!("query /{}", bad.0)), "{p}");
        }
        // Both wrong: both named.
        let p = page(&s, &q(&[("page", "0"), ("limit", "99")])).unwrap_err().to_problem("/", "r");
        let paths: Vec<&str> =
            p["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["/page", "/limit"]);
        let e = page(&s, &q(&[("page", &u64::MAX.to_string()), ("limit", "2")])).unwrap_err();
        assert_eq!(e.to_problem("/", "r")["errors"][0]["path"], "/page");
    }

    #[test]
    fn answers_are_wrapped_with_links() {
        let p = Page { page: 2, limit: 10, offset: 10 };
        let r = wrap(Response::json(200, &json!([1, 2])), p, "/items", &[]);
        let v: Json = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v, json!({"data": [1, 2], "meta": {"page": 2, "limit": 10}}));
        assert!(r.headers().get(LINK).is_none());

        let body = json!({"items": [1], "total": 25});
        let r = wrap(Response::json(200, &body), p, "/items", &pairs(&[("q", "a b"), ("page", "2")]));
        let v: Json = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v, json!({"data": [1], "meta": {"page": 2, "limit": 10, "total": 25, "pages": 3}}));
        assert_eq!(
            r.headers()[LINK],
            "</items?q=a%20b&limit=10&page=1>; rel=\"first\", </items?q=a%20b&limit=10&page=1>; rel=\"prev\", \
             </items?q=a%20b&limit=10&page=3>; rel=\"next\", </items?q=a%20b&limit=10&page=3>; rel=\"last\""
        );
        let first = Page { page: 1, limit: 10, offset: 0 };
        // A repeated key keeps its values, in order.
        let tags = pairs(&[("tag", "b"), ("a", "1"), ("tag", "a")]);
        let r = wrap(Response::json(200, &json!({"items": [], "total": 0})), first, "/i", &tags);
        assert!(r.headers()[LINK].to_str().unwrap().starts_with("</i?a=1&tag=b&tag=a&limit=10&page=1>"));
        let r = wrap(Response::json(200, &json!({"items": [], "total": 0})), first, "/i", &[]);
        assert_eq!(
            r.headers()[LINK],
            "</i?limit=10&page=1>; rel=\"first\", </i?limit=10&page=1>; rel=\"last\""
        );

        // Left alone: other shapes, errors, other statuses, text.
        for r in [
            Response::json(200, &json!({"rows": []})),
            Response::json(201, &json!([1])),
            Response::text(200, "[1]"),
        ] {
            let before = r.body().clone();
            assert_eq!(wrap(r, p, "/x", &[]).body(), &before);
        }
    }
}
