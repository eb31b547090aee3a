//! The status page of a supervisor's application (docs/OBSERVABILITY.md) through the C ABI.

use std::ffi::c_char;

use omnitron::status::{StatusOptions, StatusServer};

use crate::boundary::{Table, check_out, give_string, guard_out, guard_void, str_arg, write_out};
use crate::error::OmnitronStatus;
use crate::process::{OmnitronSupervisor, SUPERVISORS};

/// A running status page.
#[derive(Debug)]
pub struct OmnitronStatusPage {
    _private: [u8; 0],
}

static PAGES: Table<StatusServer> = Table::new("status page");

/// Serves the status page of `sup`'s children in the browser on `listen` (`host:port`; port 0
/// picks a free one; NULL is `127.0.0.1:0`): state, restarts, CPU and memory, services, breakers,
/// pools, workflow runs, recent traces and metrics, refreshed live. Keep it on loopback: the page
/// has no login. `*out` is the page: its address from omnitron_status_page_url, stopped and freed
/// with omnitron_status_page_free. The supervisor may be freed first (the page then shows nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_status_page_serve(
    sup: *mut OmnitronSupervisor,
    listen: *const c_char,
    out: *mut *mut OmnitronStatusPage,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let s = SUPERVISORS.get(sup)?;
        let listen = if listen.is_null() { "127.0.0.1:0" } else { str_arg(listen, "listen")? };
        let app = s.name().to_string();
        let page = StatusServer::start((*s).clone(), StatusOptions::new(app).listen(listen))?;
        PAGES.insert_out(out, page)
    })
}

/// The page's address (`http://host:port/`) in `*out`: free it with omnitron_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_status_page_url(
    page: *mut OmnitronStatusPage,
    out: *mut *mut c_char,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let p = PAGES.get(page)?;
        write_out(out, give_string(&p.url())?, "out")
    })
}

/// Stops serving and frees the page. NULL or a freed page is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_status_page_free(page: *mut OmnitronStatusPage) {
    guard_void(|| {
        // Dropping the server stops it.
        drop(PAGES.remove(page));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_foreign_handles_are_refused() {
        let mut out = std::ptr::null_mut();
        // SAFETY: the functions check their arguments.
        unsafe {
            assert_eq!(
                omnitron_status_page_serve(std::ptr::null_mut(), std::ptr::null(), &mut out),
                OmnitronStatus::InvalidHandle
            );
            assert!(out.is_null());
            let mut url = std::ptr::null_mut();
            assert_eq!(
                omnitron_status_page_url(std::ptr::null_mut(), &mut url),
                OmnitronStatus::InvalidHandle
            );
            omnitron_status_page_free(std::ptr::null_mut());
        }
    }
}
