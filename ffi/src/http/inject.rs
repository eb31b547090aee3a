//! Requests answered in-process, through the same pipeline as a socket's (for tests: no port, no
//! client), and the answers they get.

use std::ffi::{CString, c_char};

use bytes::Bytes;
use omnitron::http::{InjectRequest, Method};
use omnitron::{Error, runtime};

use super::{APPS, OmnitronHttpApp};
use crate::boundary::{Table, check_out, guard_out, guard_value, guard_void, str_arg, write_out};
use crate::error::OmnitronStatus;
use crate::options::json_object;

/// The answer to an injected request: status, headers and body. Free it with
/// omnitron_http_answer_free. Thread-safe (read-only).
#[derive(Debug)]
pub struct OmnitronHttpAnswer {
    _private: [u8; 0],
}

struct Answer {
    status: u16,
    /// Lower-case names; repeated headers joined with ", ".
    headers: Vec<(String, CString)>,
    /// The body followed by a NUL byte.
    body: Vec<u8>,
}

static ANSWERS: Table<Answer> = Table::new("http answer");

fn headers_arg(headers_json: *const c_char) -> Result<Vec<(String, String)>, Error> {
    if headers_json.is_null() {
        return Ok(Vec::new());
    }
    json_object(str_arg(headers_json, "headers_json")?, "headers_json")?
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            _ => Err(Error::invalid_argument(format!("headers_json: the value of '{k}' must be a string"))),
        })
        .collect()
}

/// Answers a request in-process, through the app's whole pipeline (no socket): `method` ("GET"),
/// `uri` (the path with its query, "/users/7?verbose=1"), `headers_json` (NULL, or a JSON object
/// of strings: `{"content-type": "application/json"}`), and `body_len` bytes at `body` (NULL with
/// 0: none). Blocks until the answer; `*out` gets it (free with omnitron_http_answer_free). The
/// first inject (or listen) builds the app: a bad or clashing route is then
/// OMNITRON_STATUS_INVALID_ROUTE. Do not call it from one of the same app's handlers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_app_inject(
    app: *mut OmnitronHttpApp,
    method: *const c_char,
    uri: *const c_char,
    headers_json: *const c_char,
    body: *const u8,
    body_len: usize,
    out: *mut *mut OmnitronHttpAnswer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let a = APPS.get(app)?;
        let m = str_arg(method, "method")?;
        let method = omnitron::http::spec::parse_method(m)
            .or_else(|| Method::from_bytes(m.as_bytes()).ok())
            .ok_or_else(|| Error::invalid_argument(format!("'{m}' is not an HTTP method")))?;
        let uri = str_arg(uri, "uri")?;
        if !uri.starts_with('/') {
            return Err(Error::invalid_argument(format!("uri must start with '/', got '{uri}'")));
        }
        if body.is_null() && body_len > 0 {
            return Err(Error::invalid_argument(format!("body is NULL but body_len is {body_len}")));
        }
        let mut req = InjectRequest::new(method, uri);
        req.headers = headers_arg(headers_json)?;
        if body_len > 0 {
            // SAFETY: `body_len` readable bytes at `body` by contract.
            req.body = Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(body, body_len) });
        }
        let service = a.service()?;
        let r = runtime::block_on(async move { service.inject(req).await })?;
        let mut headers: Vec<(String, CString)> = Vec::new();
        for (name, value) in r.headers() {
            let v = String::from_utf8_lossy(value.as_bytes()).replace('\0', " ");
            match headers.iter_mut().find(|(n, _)| n == name.as_str()) {
                Some((_, have)) => {
                    let joined = format!("{}, {v}", have.to_string_lossy());
                    *have = CString::new(joined).unwrap_or_default();
                }
                None => headers.push((name.as_str().to_string(), CString::new(v).unwrap_or_default())),
            }
        }
        let mut body = r.body().to_vec();
        body.push(0);
        ANSWERS.insert_out(out, Answer { status: r.status(), headers, body })
    })
}

/// The answer's status (0 for a bad handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_answer_status(answer: *const OmnitronHttpAnswer) -> u16 {
    guard_value(|| Ok(ANSWERS.get(answer)?.status))
}

/// The answer's header `name` (any case; repeated ones joined with ", "), or NULL when absent.
/// Valid until the answer is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_answer_header(
    answer: *const OmnitronHttpAnswer,
    name: *const c_char,
) -> *const c_char {
    guard_value(|| {
        let a = ANSWERS.get(answer)?;
        let name = str_arg(name, "name")?.to_ascii_lowercase();
        // The table keeps the answer alive until it is freed, so the pointer stays valid.
        Ok(a.headers.iter().find(|(n, _)| *n == name).map_or(std::ptr::null(), |(_, v)| v.as_ptr()))
    })
}

/// The answer's body: `*data` (followed by a NUL byte not counted in `*len`, so text reads as a C
/// string) and `*len`. Valid until the answer is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_answer_body(
    answer: *const OmnitronHttpAnswer,
    data: *mut *const u8,
    len: *mut usize,
) -> OmnitronStatus {
    guard_out((data, len), || {
        check_out(data, "data")?;
        check_out(len, "len")?;
        let a = ANSWERS.get(answer)?;
        write_out(data, a.body.as_ptr(), "data")?;
        write_out(len, a.body.len() - 1, "len")
    })
}

/// Frees an answer. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_answer_free(answer: *mut OmnitronHttpAnswer) {
    guard_void(|| {
        ANSWERS.remove(answer);
        Ok(())
    })
}
