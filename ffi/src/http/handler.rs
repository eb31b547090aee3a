//! A route's C callback: the request it reads (method, path, params, query, headers, body, the
//! JSON envelope) and the response it fills (status, headers, body), run on the blocking pool.
//!
//! The request and response handed to a callback are valid during that call, on its thread: each
//! accessor checks that the pointer is the one of the callback running on the calling thread, so
//! a pointer kept after the call (or passed to another thread) is refused with
//! OMNITRON_STATUS_INVALID_HANDLE rather than read.

use std::cell::{Cell, OnceCell, RefCell};
use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use bytes::Bytes;
use omnitron::http::router::HandlerFuture;
use omnitron::http::{DoorAnswer, HttpError, Request, Response, RouteSpec};
use omnitron::{Error, ErrorCode};

use crate::boundary::{UserData, guard, guard_out, guard_value, str_arg};
use crate::error::{CallbackStatus, OmnitronStatus, callback_error, clear_callback_message};

/// A route's handler. Read the request with the omnitron_http_request_* functions and fill the
/// response with the omnitron_http_response_* setters (the library copies what they are given);
/// both pointers are valid only during this call, on its thread. Return OMNITRON_STATUS_OK to send
/// the response: its status if set, else the route's (`status` in its spec, 201 for a POST, 200
/// otherwise; 204 when no body was set). Any other status answers a 500 problem document (code
/// H005) whose detail is the message given to omnitron_callback_error, and the server goes on
/// serving. Runs on an engine thread of the blocking pool; calls run concurrently on several
/// threads, so `user_data` must be safe to use from several threads at once.
pub type OmnitronHttpHandlerFn = Option<
    unsafe extern "C" fn(
        req: *const OmnitronHttpRequest,
        res: *mut OmnitronHttpResponse,
        user_data: *mut c_void,
    ) -> CallbackStatus,
>;

type RawHandler = unsafe extern "C" fn(
    *const OmnitronHttpRequest,
    *mut OmnitronHttpResponse,
    *mut c_void,
) -> CallbackStatus;

/// The request a route's callback reads. Valid only during the callback, on its thread.
#[derive(Debug)]
pub struct OmnitronHttpRequest {
    req: Request,
    method: CString,
    path: CString,
    envelope: OnceCell<CString>,
    /// The body followed by a NUL byte, made on first use.
    body: OnceCell<Vec<u8>>,
    /// Strings handed out during the call (they live as long as the request).
    strings: RefCell<Vec<CString>>,
    /// The uploaded files as C reads them, made on first use (see [`super::input`]).
    pub(super) files: OnceCell<Vec<super::input::FileCopy>>,
}

/// The response a route's callback fills. Valid only during the callback, on its thread.
#[derive(Debug)]
pub struct OmnitronHttpResponse {
    answer: DoorAnswer,
}

thread_local! {
    /// The request and response of the callback running on this thread (0 when none).
    static CURRENT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

pub(super) fn request<'a>(req: *const OmnitronHttpRequest) -> Result<&'a OmnitronHttpRequest, Error> {
    if req.is_null() {
        return Err(Error::new(ErrorCode::InvalidHandle, "the request is NULL"));
    }
    if CURRENT.with(Cell::get).0 != req as usize {
        return Err(Error::new(
            ErrorCode::InvalidHandle,
            "not the request of the callback running on this thread (a request is valid only during \
             its callback, on its thread)",
        ));
    }
    // SAFETY: the pointer is the running callback's request, alive until the callback returns.
    Ok(unsafe { &*req })
}

fn response<'a>(res: *mut OmnitronHttpResponse) -> Result<&'a mut OmnitronHttpResponse, Error> {
    if res.is_null() {
        return Err(Error::new(ErrorCode::InvalidHandle, "the response is NULL"));
    }
    if CURRENT.with(Cell::get).1 != res as usize {
        return Err(Error::new(
            ErrorCode::InvalidHandle,
            "not the response of the callback running on this thread (a response is valid only \
             during its callback, on its thread)",
        ));
    }
    // SAFETY: the pointer is the running callback's response, alive until the callback returns,
    // and only its own thread reaches it.
    Ok(unsafe { &mut *res })
}

impl OmnitronHttpRequest {
    /// The request as core gave it.
    pub(super) fn req(&self) -> &Request {
        &self.req
    }

    /// Keeps `text` as a C string for the rest of the call.
    pub(super) fn keep(&self, text: &str, what: &str) -> Result<*const c_char, Error> {
        let c = CString::new(text).map_err(|_| {
            Error::invalid_argument(format!(
                "{what} contains a NUL byte: read it from omnitron_http_request_json"
            ))
        })?;
        let p = c.as_ptr();
        // The CString's bytes do not move when the vector grows.
        self.strings.borrow_mut().push(c);
        Ok(p)
    }

    /// A param or query value: the pipeline's (text as is, anything else as JSON) when it has one.
    pub(super) fn value(
        &self,
        input: Option<&serde_json::Value>,
        raw: Option<&str>,
        what: &str,
    ) -> Result<*const c_char, Error> {
        match (input, raw) {
            (Some(serde_json::Value::String(s)), _) => self.keep(s, what),
            (Some(serde_json::Value::Null), _) => Ok(std::ptr::null()),
            (Some(v), _) => self.keep(&v.to_string(), what),
            (None, Some(s)) => self.keep(s, what),
            (None, None) => Ok(std::ptr::null()),
        }
    }
}

/// The request's method ("GET", ...). Valid during the callback. NULL (with the last error set)
/// when `req` is not the running callback's request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_method(req: *const OmnitronHttpRequest) -> *const c_char {
    guard_value(|| Ok(request(req)?.method.as_ptr()))
}

/// The request's path as sent, without the query string. Valid during the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_path(req: *const OmnitronHttpRequest) -> *const c_char {
    guard_value(|| Ok(request(req)?.path.as_ptr()))
}

/// The path parameter `name` (`id` for `/users/:id`), percent-decoded; after the route's `params`
/// schema coerced it, its JSON text (`42`). NULL when the route has no such parameter (or on a
/// bad argument: the last error says which). Valid during the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_param(
    req: *const OmnitronHttpRequest,
    name: *const c_char,
) -> *const c_char {
    guard_value(|| {
        let r = request(req)?;
        let name = str_arg(name, "name")?;
        let input = r.req.input().and_then(|i| i.params.get(name));
        r.value(input, r.req.param(name), "the parameter")
    })
}

/// The query parameter `name`, decoded (`+` is a space; the first of repeated keys); after the
/// route's `query` schema coerced it, its JSON text. NULL when absent. Valid during the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_query(
    req: *const OmnitronHttpRequest,
    name: *const c_char,
) -> *const c_char {
    guard_value(|| {
        let r = request(req)?;
        let name = str_arg(name, "name")?;
        let input = r.req.input().and_then(|i| i.query.get(name));
        r.value(input, r.req.query(name), "the query parameter")
    })
}

/// The header `name` (any case); repeated headers joined with ", ". NULL when absent. Valid during
/// the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_header(
    req: *const OmnitronHttpRequest,
    name: *const c_char,
) -> *const c_char {
    guard_value(|| {
        let r = request(req)?;
        let name = str_arg(name, "name")?;
        let values: Vec<String> = r
            .req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if values.is_empty() { Ok(std::ptr::null()) } else { r.keep(&values.join(", "), "the header") }
    })
}

/// The body as received: `*data` (followed by a NUL byte not counted in `*len`, so text can be
/// read as a C string) and `*len`. Valid during the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_body(
    req: *const OmnitronHttpRequest,
    data: *mut *const u8,
    len: *mut usize,
) -> OmnitronStatus {
    guard_out((data, len), || {
        crate::boundary::check_out(data, "data")?;
        crate::boundary::check_out(len, "len")?;
        let r = request(req)?;
        // Bytes from the server are not NUL-terminated: keep a copy that is.
        let body = r.body.get_or_init(|| {
            let mut copy = Vec::with_capacity(r.req.body().len() + 1);
            copy.extend_from_slice(r.req.body());
            copy.push(0);
            copy
        });
        crate::boundary::write_out(data, body.as_ptr(), "data")?;
        crate::boundary::write_out(len, body.len() - 1, "len")
    })
}

/// The request as one JSON document, NUL-terminated: `method`, `path`, `requestId`, `params`,
/// `query`, `body` (the pipeline's: coerced and checked against the route's schemas; JSON when
/// the body is JSON, a string when it is text, else null), `user` (the verified token's claims, or
/// null), `headers` (lower-case names), and `files` / `page` on the routes that have them. Valid
/// during the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_json(req: *const OmnitronHttpRequest) -> *const c_char {
    guard_value(|| {
        let r = request(req)?;
        if r.envelope.get().is_none() {
            let text = CString::new(r.req.door_json())
                .map_err(|_| Error::new(ErrorCode::Internal, "the request's JSON contains a NUL byte"))?;
            let _ = r.envelope.set(text);
        }
        Ok(r.envelope.get().map_or(std::ptr::null(), |c| c.as_ptr()))
    })
}

/// Sets the response's status (100 to 599; otherwise OMNITRON_STATUS_INVALID_ARGUMENT).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_response_status(
    res: *mut OmnitronHttpResponse,
    status: u16,
) -> OmnitronStatus {
    guard(|| {
        let r = response(res)?;
        if !(100..=599).contains(&status) {
            return Err(Error::invalid_argument(format!("status must be from 100 to 599, got {status}")));
        }
        r.answer.status = Some(status);
        Ok(())
    })
}

/// Adds a response header (copied; a repeated name adds another). A name or value HTTP does not
/// allow is OMNITRON_STATUS_INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_response_header(
    res: *mut OmnitronHttpResponse,
    name: *const c_char,
    value: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let r = response(res)?;
        let (name, value) = (str_arg(name, "name")?, str_arg(value, "value")?);
        // Checked now, so the callback learns of a bad header (the answer would drop it).
        Response::empty(200).with_header(name, value)?;
        if name.eq_ignore_ascii_case("content-type") {
            r.answer.content_type = Some(value.to_string());
        } else {
            r.answer.headers.push((name.to_string(), value.to_string()));
        }
        Ok(())
    })
}

/// Sets the body: `len` bytes at `data` (copied; NULL with 0 is an empty body) with
/// `content_type` (NULL: application/octet-stream). Calling it again replaces the body.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_response_body(
    res: *mut OmnitronHttpResponse,
    data: *const u8,
    len: usize,
    content_type: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let r = response(res)?;
        if data.is_null() && len > 0 {
            return Err(Error::invalid_argument(format!("data is NULL but len is {len}")));
        }
        let content_type = if content_type.is_null() {
            "application/octet-stream".to_string()
        } else {
            let t = str_arg(content_type, "content_type")?;
            Response::empty(200).with_header("content-type", t)?;
            t.to_string()
        };
        let body = if len == 0 {
            Bytes::new()
        } else {
            // SAFETY: `len` readable bytes at `data` by contract.
            Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(data, len) })
        };
        r.answer.body = Some(body);
        r.answer.content_type = Some(content_type);
        Ok(())
    })
}

/// Sets a JSON body (`application/json`) from NUL-terminated `json` (copied). Text that is not
/// JSON is OMNITRON_STATUS_INVALID_ARGUMENT. Calling it again replaces the body.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_response_json(
    res: *mut OmnitronHttpResponse,
    json: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let r = response(res)?;
        let text = str_arg(json, "json")?;
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return Err(Error::invalid_argument(format!("json is not valid JSON: {e}")));
        }
        r.answer.body = Some(Bytes::copy_from_slice(text.as_bytes()));
        r.answer.content_type = Some("application/json".into());
        Ok(())
    })
}

/// The route's handler for core: each request runs the callback on the blocking pool.
pub(crate) fn boxed(
    handler: RawHandler,
    spec: Arc<RouteSpec>,
    ud: Arc<UserData>,
) -> Arc<dyn Fn(Request) -> HandlerFuture + Send + Sync> {
    Arc::new(move |req: Request| -> HandlerFuture {
        let (spec, ud) = (spec.clone(), ud.clone());
        Box::pin(async move {
            // The callback's thread runs in the request's trace: the calls it makes carry it.
            let trace = req.trace_context().cloned();
            let answer = tokio::task::spawn_blocking(move || {
                omnitron::telemetry::with_context(trace, || run(handler, req, &ud))
            })
            .await
            .map_err(|e| HttpError::internal(format!("the handler failed: {e}")))?;
            match answer {
                Ok(a) => Ok(a.into_response(Some(&spec))),
                // The server logs it (a 500) with the request's id.
                Err(e) => Err(HttpError::internal(e.message().to_string())),
            }
        })
    })
}

/// Runs the callback for one request on this thread.
fn run(handler: RawHandler, req: Request, ud: &UserData) -> Result<DoorAnswer, Error> {
    let text = |s: &str| CString::new(s).unwrap_or_default();
    let r = OmnitronHttpRequest {
        method: text(req.method().as_str()),
        path: text(req.path()),
        req,
        envelope: OnceCell::new(),
        body: OnceCell::new(),
        strings: RefCell::new(Vec::new()),
        files: OnceCell::new(),
    };
    let mut res = OmnitronHttpResponse { answer: DoorAnswer::default() };
    let (rp, sp) = (&r as *const OmnitronHttpRequest, &mut res as *mut OmnitronHttpResponse);
    clear_callback_message();
    let before = CURRENT.with(|c| c.replace((rp as usize, sp as usize)));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the handler's contract (header); both pointers live for the call.
        unsafe { handler(rp, sp, ud.get()) }
    }));
    CURRENT.with(|c| c.set(before));
    match caught {
        Ok(0) => Ok(res.answer),
        Ok(status) => Err(callback_error(ErrorCode::HttpHandlerFailed, "the handler".into(), status)),
        Err(_) => Err(Error::new(ErrorCode::Internal, "the handler panicked")),
    }
}
