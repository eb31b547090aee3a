//! The status page of a supervisor's application, served from Node (core's `StatusServer`).

use napi_derive::napi;
use omnitron::status::{StatusOptions, StatusServer};
use parking_lot::Mutex;

use crate::error::ToJs;
use crate::process::NativeSupervisor;

/// A running status page.
#[napi]
pub struct NativeStatusPage {
    url: String,
    server: Mutex<Option<StatusServer>>,
}

#[napi]
impl NativeStatusPage {
    /// Serves the page of `sup`'s children on `listen` (`host:port`; port 0 picks a free one).
    #[napi(factory)]
    pub fn serve(
        sup: &NativeSupervisor,
        app: String,
        listen: String,
    ) -> napi::Result<NativeStatusPage, String> {
        let _guard = omnitron::runtime::handle().enter();
        let server = StatusServer::start(sup.sup.clone(), StatusOptions::new(app).listen(listen)).js()?;
        Ok(NativeStatusPage { url: server.url(), server: Mutex::new(Some(server)) })
    }

    /// `http://host:port/`.
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops serving (again: nothing).
    #[napi]
    pub fn close(&self) {
        // Dropping it stops it: the listener ends, requests in flight finish.
        drop(self.server.lock().take());
    }
}
