//! `@Upload({ maxSize, mimeTypes, field })`: a `multipart/form-data` body (RFC 7578) read in
//! memory, its files checked against the route's declaration.
//!
//! - A body that is not `multipart/form-data` is a 415 (`H013`); one that does not parse as
//!   multipart (no boundary, no closing delimiter, a part without `Content-Disposition:
//!   form-data; name=...`) is a 400 (`H001`).
//! - A part with a `filename` is a file; it must be in the route's field (400 `H009` otherwise),
//!   its media type (the part's `Content-Type`, `text/plain` when it has none, as RFC 7578 says)
//!   must match one of `mime_types` (`image/*` matches any image; empty takes any), else 415
//!   (`H013`), and it must not be larger than `max_size` bytes, else 413 (`H004`). A part with
//!   an empty filename and no bytes is what a browser sends for "no file chosen": it is skipped.
//! - No file in the route's field: 400 (`H009`).
//! - A 400 `H009` names the field in its `errors` member (`{"in": "body", "path": "/avatar",
//!   ...}`), as the schemas' failures do.
//! - The other parts are text fields: `Input.body` is an object of them (a name sent twice gives
//!   an array), the bytes read as UTF-8 (invalid sequences replaced).
//!
//! The whole body is already in memory: an upload route's body limit is its `max_size` plus the
//! server's `body_limit` (room for the other fields and the multipart framing).

use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use serde_json::{Map, Value as Json};

use super::problem::HttpError;
use super::request::{Input, Request, UploadedFile, decode};
use super::spec::UploadSpec;
use super::validate::{self, FieldError};
use crate::error::ErrorCode;

/// The most parts a body may have (a guard against a body of millions of empty parts).
const MAX_PARTS: usize = 1000;
/// The most bytes of headers one part may have.
const MAX_PART_HEADERS: usize = 16 * 1024;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Bytes,
}

/// Reads `req`'s multipart body into `input`: the files, and the text fields as its body.
pub(crate) fn read(spec: &UploadSpec, req: &Request, input: &mut Input) -> Result<(), HttpError> {
    let ctype = req.header(CONTENT_TYPE.as_str()).unwrap_or("");
    let essence = ctype.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        let got = if ctype.is_empty() { "no content type".to_string() } else { format!("'{essence}'") };
        return Err(HttpError::new(415)
            .with_detail(format!("this route takes multipart/form-data uploads, not {got}"))
            .with_code(ErrorCode::UnsupportedMediaType));
    }
    let malformed = |why: String| {
        HttpError::bad_request(format!("the multipart body is malformed: {why}"))
            .with_code(ErrorCode::InvalidBody)
    };
    let boundary = boundary(ctype).ok_or_else(|| malformed("the content type has no boundary".into()))?;
    let parts = parse(req.body(), &boundary).map_err(malformed)?;
    let mut fields = Map::new();
    let mut files = Vec::new();
    for p in parts {
        let Some(filename) = p.filename else {
            let v = Json::from(String::from_utf8_lossy(&p.data).into_owned());
            match fields.get_mut(&p.name) {
                Some(Json::Array(a)) => a.push(v),
                Some(first) => *first = Json::Array(vec![first.take(), v]),
                None => {
                    fields.insert(p.name, v);
                }
            }
            continue;
        };
        if filename.is_empty() && p.data.is_empty() {
            continue;
        }
        if p.name != spec.field {
            let why = format!(
                "unexpected file '{filename}' in field '{}' (this route takes files in '{}')",
                p.name, spec.field
            );
            return Err(validate::problem(vec![FieldError::new(
                "body",
                &p.name,
                why,
                "additionalProperties",
            )]));
        }
        let content_type = p.content_type.unwrap_or_else(|| "text/plain".into());
        if !mime_allowed(&spec.mime_types, &content_type) {
            return Err(HttpError::new(415)
                .with_detail(format!(
                    "file '{filename}' is {content_type}; this route takes {}",
                    spec.mime_types.join(", ")
                ))
                .with_code(ErrorCode::UnsupportedMediaType));
        }
        if p.data.len() as u64 > spec.max_size {
            return Err(HttpError::new(413)
                .with_detail(format!(
                    "file '{filename}' is {} bytes; the largest this route takes is {} bytes",
                    p.data.len(),
                    spec.max_size
                ))
                .with_code(ErrorCode::BodyTooLarge));
        }
        files.push(UploadedFile { field: p.name, filename: Some(filename), content_type, data: p.data });
    }
    if files.is_empty() {
        let why = format!("no file in field '{}'", spec.field);
        return Err(validate::problem(vec![FieldError::new("body", &spec.field, why, "required")]));
    }
    input.body = Json::Object(fields);
    input.files = files;
    Ok(())
}

/// Whether `content_type` (its essence, parameters dropped) matches one of `allowed`: exact,
/// `type/*`, or `*/*`; an empty list takes any.
pub(crate) fn mime_allowed(allowed: &[String], content_type: &str) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (ty, _) = essence.split_once('/').unwrap_or((&essence, ""));
    allowed.iter().any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == "*" || a == "*/*" || a == essence || a.strip_suffix("/*").is_some_and(|t| t == ty)
    })
}

/// The `boundary` parameter of a multipart content type (quoted or not; 1 to 70 characters).
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let (_, params) = content_type.split_once(';')?;
    let b = params_of(params).into_iter().find(|(k, _)| k.eq_ignore_ascii_case("boundary"))?.1;
    (!b.is_empty() && b.len() <= 70).then_some(b)
}

/// Splits a multipart body on `boundary` (RFC 2046 5.1.1): a preamble, parts each opened by
/// `--boundary` at the start of a line, closed by `--boundary--`, an epilogue.
pub(crate) fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    // The first delimiter: at the very start, or after a CRLF ending the preamble.
    let mut pos = if body.starts_with(delim) {
        delim.len()
    } else {
        let mut line = Vec::with_capacity(delim.len() + 2);
        line.extend_from_slice(b"\r\n");
        line.extend_from_slice(delim);
        find(body, &line, 0).ok_or("no boundary delimiter")? + line.len()
    };
    let mut next_delim = Vec::with_capacity(delim.len() + 2);
    next_delim.extend_from_slice(b"\r\n");
    next_delim.extend_from_slice(delim);
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding, then the line break that ends the delimiter line.
        let pad = rest.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
        if !rest[pad..].starts_with(b"\r\n") {
            return Err("a boundary delimiter is not followed by a line break".into());
        }
        pos += pad + 2;
        if parts.len() == MAX_PARTS {
            return Err(format!("more than {MAX_PARTS} parts"));
        }
        let end = find(body, &next_delim, pos).ok_or("no closing boundary delimiter")?;
        parts.push(part(body.slice(pos..end))?);
        pos = end + next_delim.len();
    }
}

/// One part: its headers, a blank line, its bytes.
fn part(raw: Bytes) -> Result<Part, String> {
    let (head, data) = if raw.starts_with(b"\r\n") {
        (&raw[..0], raw.slice(2..))
    } else {
        let end = find(&raw, b"\r\n\r\n", 0).ok_or("a part's headers do not end with a blank line")?;
        (&raw[..end], raw.slice(end + 4..))
    };
    if head.len() > MAX_PART_HEADERS {
        return Err(format!("a part has more than {MAX_PART_HEADERS} bytes of headers"));
    }
    let head = String::from_utf8_lossy(head);
    let mut disposition = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let (name, value) =
            line.split_once(':').ok_or_else(|| format!("a part header is malformed: '{line}'"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_string());
        }
    }
    let disposition = disposition.ok_or("a part has no Content-Disposition")?;
    let (kind, params) = disposition.split_once(';').unwrap_or((&disposition, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(format!("a part's disposition is '{}', not form-data", kind.trim()));
    }
    let params = params_of(params);
    let get = |n: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    let name = get("name").ok_or("a part has no name")?;
    // `filename*=UTF-8''...` (RFC 5987) wins over `filename` when both are sent.
    let filename = get("filename*").and_then(|v| ext_value(&v)).or_else(|| get("filename"));
    Ok(Part { name, filename, content_type, data })
}

/// `; a=b; c="d \" e"` as pairs (quoted strings unescaped; a malformed pair ends the list).
fn params_of(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start_matches([';', ' ', '\t']);
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let Some(end) = end else { break };
            (v, &q[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((key, value));
        rest = tail.trim_start_matches([';', ' ', '\t']);
    }
    out
}

/// An RFC 5987 extended value (`UTF-8''%e2%82%ac.txt`); other charsets are not read.
fn ext_value(v: &str) -> Option<String> {
    let mut it = v.splitn(3, '\'');
    let (charset, _lang, value) = (it.next()?, it.next()?, it.next()?);
    charset.eq_ignore_ascii_case("utf-8").then(|| decode(value, false))
}

/// The first `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let at = hay[i..=hay.len() - needle.len()].iter().position(|&b| b == first)? + i;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> Bytes {
        Bytes::from(s.replace('\n', "\r\n"))
    }

    #[test]
    fn parts_fields_and_quoted_filenames() {
        let b = body(
            "preamble\n--XyZ\nContent-Disposition: form-data; name=\"title\"\n\nHello\n--XyZ\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\"; c.png\"\n\
             Content-Type: image/png\n\n\u{1}PNG\n\nbytes\n--XyZ--\nepilogue",
        );
        let parts = parse(&b, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "title");
        assert_eq!(&parts[0].data[..], b"Hello");
        assert_eq!(parts[1].filename.as_deref(), Some("a \"b\"; c.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(&parts[1].data[..], b"\x01PNG\r\n\r\nbytes");
    }

    #[test]
    fn boundaries_and_extended_filenames() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
        assert_eq!(boundary("multipart/form-data; charset=x; BOUNDARY=\"a b\"").as_deref(), Some("a b"));
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))), None);
        let b = body(
            "--b\nContent-Disposition: form-data; name=f; filename=x; filename*=UTF-8''%e2%82%ac.txt\n\n1\n--b--",
        );
        assert_eq!(parse(&b, "b").unwrap()[0].filename.as_deref(), Some("€.txt"));
        // A part with no headers at all has no name.
        assert!(parse(&body("--b\n\ndata\n--b--"), "b").is_err());
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for b in [
            "",
            "--b",
            "--b\n",
            "--b\nContent-Disposition: form-data; name=a\n\nno end",
            "--b\nContent-Disposition: form-data; name=a\nno blank line\n--b--",
            "--b\nContent-Disposition: attachment; name=a\n\nx\n--b--",
            "--b\nContent-Disposition: form-data\n\nx\n--b--",
            "--b\nno colon\n\nx\n--b--",
            "--bX\n",
            "nothing at all",
            "--b\nContent-Disposition: form-data; name=\"unterminated\n\nx\n--b--",
        ] {
            let r = parse(&body(b), "b");
            assert!(r.is_err() || r.as_ref().unwrap().iter().all(|p| !p.name.is_empty()), "{b:?}: {r:?}");
        }
        // An empty multipart (only the close delimiter) has no parts.
        assert_eq!(parse(&body("--b--"), "b").unwrap(), vec![]);
        let many = format!("{}--b--", "--b\nContent-Disposition: form-data; name=a\n\n\n".repeat(1001));
        assert!(parse(&body(&many), "b").unwrap_err().contains("parts"));
    }

    #[test]
    fn media_types_match_with_wildcards() {
        let allowed = vec!["image/*".to_string(), "application/pdf".to_string()];
        assert!(mime_allowed(&allowed, "image/png"));
        assert!(mime_allowed(&allowed, "IMAGE/JPEG; q=1"));
        assert!(mime_allowed(&allowed, "application/pdf"));
        assert!(!mime_allowed(&allowed, "application/pdfx"));
        assert!(!mime_allowed(&allowed, "text/plain"));
        assert!(!mime_allowed(&allowed, "imagex/png"));
        assert!(mime_allowed(&[], "anything/at-all"));
        assert!(mime_allowed(&["*/*".into()], "text/plain"));
    }

    #[test]
    fn find_finds() {
        assert_eq!(find(b"abcabd", b"abd", 0), Some(3));
        assert_eq!(find(b"ab", b"abc", 0), None);
        assert_eq!(find(b"aaa", b"a", 3), None);
        assert_eq!(find(b"xaxa", b"a", 2), Some(3));
    }
}
