//! Checks over the crate's own source that the compiler cannot make: every export runs inside one of
//! the boundary kit's guards, every export with output pointers clears them through it, and every
//! export that keeps a caller's user_data takes the function that frees it.

use std::path::Path;

/// Every exported function: (file, name, signature, body).
fn exports() -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let mut dirs = vec![dir.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
        for part in text.split("extern \"C\" fn ").skip(1) {
            let fname: String = part.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !fname.starts_with("omnitron_") {
                continue;
            }
            let Some(open) = part.find('{') else { continue };
            let (sig, rest) = part.split_at(open);
            // The body runs up to the next export (or the end of the file): enough for these checks.
            out.push((name.clone(), fname, sig.to_string(), rest.to_string()));
        }
    }
    out
}

/// The boundary kit's guards (`ffi/src/boundary.rs`); `start_peer` is the shared body of
/// omnitron_peer_listen and _connect, and starts with guard_out itself.
const GUARDS: &[&str] =
    &["guard(", "guard_out(", "guard_void(", "guard_value(", "guard_always(", "start_peer("];

/// The exports that answer in a forked child too, so run in `guard_always` (no fork check): the
/// header's FORK section names them.
const ALWAYS: &[&str] = &[
    "omnitron_version",
    "omnitron_version_number",
    "omnitron_abi_version",
    "omnitron_status_id",
    "omnitron_last_error_message",
    "omnitron_last_error_status",
    "omnitron_clear_last_error",
    "omnitron_callback_error",
];

#[test]
fn every_export_runs_inside_a_guard() {
    let mut bad = Vec::new();
    let mut seen = 0;
    for (file, name, _, body) in exports() {
        seen += 1;
        let head = body.trim_start_matches('{').trim_start();
        let Some(guard) = GUARDS.iter().find(|g| head.starts_with(**g)) else {
            bad.push(format!("{file}: {name} does not start with one of {GUARDS:?}"));
            continue;
        };
        if (*guard == "guard_always(") != ALWAYS.contains(&name.as_str()) {
            bad.push(format!("{file}: {name}: guard_always is for {ALWAYS:?} only, and they use it"));
        }
    }
    assert!(seen > 100, "only {seen} exports found: the source scan is broken");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // start_peer is one of the guards only because it starts with guard_out.
    let rpc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rpc/mod.rs")).unwrap();
    let start = &rpc[rpc.find("fn start_peer(").unwrap()..];
    let body = start[start.find('{').unwrap() + 1..].trim_start();
    assert!(body.starts_with("guard_out("), "start_peer no longer starts with guard_out");
}

/// Handle types: a `*mut` of one of them is an input, not an output.
const HANDLES: &[&str] = &[
    "OmnitronContainer",
    "OmnitronScope",
    "OmnitronProvider",
    "OmnitronModule",
    "OmnitronToken",
    "OmnitronRegistry",
    "OmnitronMetric",
    "OmnitronSeries",
    "OmnitronExporter",
    "OmnitronBreaker",
    "OmnitronRetry",
    "OmnitronRateLimiter",
    "OmnitronBulkhead",
    "OmnitronPeer",
    "OmnitronService",
    "OmnitronReply",
    "OmnitronStreamSink",
    "OmnitronPool",
    "OmnitronSupervisor",
    "OmnitronWorkflow",
    "OmnitronWorkflowEngine",
    "OmnitronStageOutput",
    "OmnitronHttpApp",
    "OmnitronHttpResponse",
    "OmnitronHttpAnswer",
    "OmnitronQueue",
    "OmnitronQueueWorker",
    "OmnitronQueueListener",
    "OmnitronJob",
    "OmnitronSpan",
    "OmnitronStatusPage",
];

/// The parameters of a signature that are output pointers.
fn outputs(sig: &str) -> Vec<String> {
    let params = &sig[sig.find('(').unwrap() + 1..sig.rfind(')').unwrap()];
    params
        .split(',')
        .map(str::trim)
        .filter(|p| p.contains("*mut"))
        .filter(|p| {
            let ty = p.split(':').nth(1).unwrap_or("").trim();
            !HANDLES.iter().any(|h| ty == format!("*mut {h}"))
        })
        .filter(|p| !p.ends_with(": *mut c_void"))
        .map(|p| p.split(':').next().unwrap().trim().to_string())
        .collect()
}

/// Functions whose pointer parameters are not outputs of a result (they free or fill what the caller
/// passes in).
const NOT_OUTPUTS: &[&str] = &["omnitron_free", "omnitron_string_free", "omnitron_buffer_free"];

#[test]
fn every_output_is_cleared_by_the_boundary_kit() {
    let mut bad = Vec::new();
    for (file, name, sig, body) in exports() {
        let outs = outputs(&sig);
        if outs.is_empty() || NOT_OUTPUTS.contains(&name.as_str()) {
            continue;
        }
        let head = body.trim_start_matches('{').trim_start();
        // `start_peer` is the shared body of omnitron_peer_listen and _connect.
        if !(head.starts_with("guard_out(") || head.starts_with("start_peer(")) {
            bad.push(format!("{file}: {name} has outputs {outs:?} but does not start with guard_out"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Functions that use user_data only during the call (they block until their callbacks are done).
const CALL_ONLY: &[&str] =
    &["omnitron_breaker_call", "omnitron_retry_call", "omnitron_bulkhead_call", "omnitron_peer_call_stream"];

#[test]
fn every_kept_user_data_has_a_free_function() {
    let mut bad = Vec::new();
    for (file, name, sig, _) in exports() {
        if !sig.contains("user_data: *mut c_void") || CALL_ONLY.contains(&name.as_str()) {
            continue;
        }
        let after = &sig[sig.find("user_data: *mut c_void").unwrap()..];
        let next = after.split(',').nth(1).unwrap_or("").trim();
        if !next.starts_with("free_user_data: OmnitronFreeFn") {
            bad.push(format!("{file}: {name} keeps user_data without free_user_data right after it"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
