//! What a route's pipeline read for its C callback, beyond the request as sent: the verified
//! token's claims, the members of the body (an upload's text fields), the uploaded files and the
//! page asked for.
//!
//! The same rules as the other request accessors ([`super::handler`]): everything handed out
//! belongs to the library and is valid during the callback only, on its thread; a request pointer
//! that is not the running callback's is refused with OMNITRON_STATUS_INVALID_HANDLE.

use std::ffi::{CString, c_char};

use omnitron::Error;
use omnitron::http::UploadedFile;

use super::handler::{OmnitronHttpRequest, request};
use crate::boundary::{Cleared, check_out, guard_out, guard_value, str_arg, write_out};
use crate::error::OmnitronStatus;

/// One file of an `upload` route's `multipart/form-data` body, as omnitron_http_request_file
/// gives it. Every pointer belongs to the library and is valid during the callback only, on its
/// thread (copy what you keep). The layout is part of the ABI (OMNITRON_ABI_VERSION changes if it
/// does).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OmnitronHttpFile {
    /// The form field it came in (the route's `upload.field`, `file` by default).
    pub field: *const c_char,
    /// The file name the client gave (NULL when it gave none).
    pub filename: *const c_char,
    /// Its media type as the client declared it (`image/png`; `text/plain` when the part had
    /// none); core already checked it against the route's `upload.mime_types`.
    pub content_type: *const c_char,
    /// Its bytes, followed by a NUL byte not counted in `len` (so text reads as a C string).
    pub data: *const u8,
    /// How many bytes (at most the route's `upload.max_size`).
    pub len: usize,
}

impl Cleared for OmnitronHttpFile {
    fn cleared() -> Self {
        OmnitronHttpFile {
            field: std::ptr::null(),
            filename: std::ptr::null(),
            content_type: std::ptr::null(),
            data: std::ptr::null(),
            len: 0,
        }
    }
}

/// The page a `paginated` route's request asks for, as omnitron_http_request_page gives it. The
/// layout is part of the ABI (OMNITRON_ABI_VERSION changes if it does).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct OmnitronHttpPage {
    /// The page, from 1 (the query's `page`; 1 when absent).
    pub page: u64,
    /// Items per page (the query's `limit`; the route's `default_limit` when absent).
    pub limit: u64,
    /// Items before this page: (page - 1) * limit.
    pub offset: u64,
}

impl Cleared for OmnitronHttpPage {
    fn cleared() -> Self {
        OmnitronHttpPage::default()
    }
}

/// An uploaded file copied once for C: NUL-terminated names and bytes.
#[derive(Debug)]
pub(super) struct FileCopy {
    field: CString,
    filename: Option<CString>,
    content_type: CString,
    /// The bytes followed by a NUL byte.
    data: Vec<u8>,
}

/// `text` as a C string (a NUL byte in it, which a part's headers should never hold, read as a
/// space).
fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

impl FileCopy {
    fn new(f: &UploadedFile) -> FileCopy {
        let mut data = Vec::with_capacity(f.data.len() + 1);
        data.extend_from_slice(&f.data);
        data.push(0);
        FileCopy {
            field: c_text(&f.field),
            filename: f.filename.as_deref().map(c_text),
            content_type: c_text(&f.content_type),
            data,
        }
    }

    fn view(&self) -> OmnitronHttpFile {
        OmnitronHttpFile {
            field: self.field.as_ptr(),
            filename: self.filename.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            content_type: self.content_type.as_ptr(),
            data: self.data.as_ptr(),
            len: self.data.len() - 1,
        }
    }
}

/// The request's files, copied on first use (they live as long as the request).
fn files(r: &OmnitronHttpRequest) -> &[FileCopy] {
    r.files.get_or_init(|| {
        r.req().input().map_or_else(Vec::new, |i| i.files.iter().map(FileCopy::new).collect())
    })
}

/// How many files the request's `multipart/form-data` body carried in the route's `upload.field`
/// (core has checked each one's size and media type against the route's `upload`; an upload
/// without a file was answered 400 before the callback). 0 on a route without `upload`, and, with
/// the last error set, when `req` is not the running callback's request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_file_count(req: *const OmnitronHttpRequest) -> usize {
    guard_value(|| Ok(request(req)?.req().input().map_or(0, |i| i.files.len())))
}

/// The uploaded file at `index` (from 0, below omnitron_http_request_file_count) into `*out`
/// (see OmnitronHttpFile: its pointers belong to the library and are valid during the callback,
/// on its thread). An index out of range is OMNITRON_STATUS_INVALID_ARGUMENT. The files' bytes are
/// copied once per request, on the first call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_file(
    req: *const OmnitronHttpRequest,
    index: usize,
    out: *mut OmnitronHttpFile,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let r = request(req)?;
        let all = files(r);
        let f = all.get(index).ok_or_else(|| {
            Error::invalid_argument(format!(
                "index {index} is out of range: the request has {} file{}",
                all.len(),
                if all.len() == 1 { "" } else { "s" }
            ))
        })?;
        write_out(out, f.view(), "out")
    })
}

/// The page a `paginated` route's request asks for, into `*out` (core has already answered 400 to
/// a `page` or `limit` that is not a whole number in range). On a route without `paginated`:
/// OMNITRON_STATUS_INVALID_ARGUMENT. The answer is then wrapped by the library: a JSON array body
/// becomes `{"data": [...], "meta": {"page", "limit"}}`, and an object `{"items": [...], "total":
/// n}` becomes `{"data": [...], "meta": {"page", "limit", "total", "pages"}}` with a `Link` header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_page(
    req: *const OmnitronHttpRequest,
    out: *mut OmnitronHttpPage,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let r = request(req)?;
        let p = r.req().input().and_then(|i| i.page).ok_or_else(|| {
            Error::invalid_argument("the route is not paginated (declare \"paginated\" in its spec)")
        })?;
        write_out(out, OmnitronHttpPage { page: p.page, limit: p.limit, offset: p.offset }, "out")
    })
}

/// The verified bearer token's claim `name` (`sub`, `roles`, ...) on a route that requires auth
/// (`auth`, `roles` or `permissions`): a string as it is, anything else as its JSON text
/// (`["admin","ops"]`). NULL when the token has no such claim, on a route that does not require
/// auth, or on a bad argument (the last error says which). Valid during the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_claim(
    req: *const OmnitronHttpRequest,
    name: *const c_char,
) -> *const c_char {
    guard_value(|| {
        let r = request(req)?;
        let name = str_arg(name, "name")?;
        r.value(r.req().user().and_then(|u| u.get(name)), None, "the claim")
    })
}

/// The member `name` of the body as the pipeline read it: on an `upload` route a text field of the
/// multipart form (a name sent twice: a JSON array of its values), otherwise a member of a JSON
/// object body (after the route's `body` schema checked it). A string as it is, anything else as
/// its JSON text. NULL when absent, when the body is not a JSON object, or on a bad argument.
/// Valid during the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_request_field(
    req: *const OmnitronHttpRequest,
    name: *const c_char,
) -> *const c_char {
    guard_value(|| {
        let r = request(req)?;
        let name = str_arg(name, "name")?;
        r.value(r.req().input().and_then(|i| i.body.get(name)), None, "the field")
    })
}
