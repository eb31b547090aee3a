//! The commands that run an application or talk to a running one: `start`, `ps`, `stop`,
//! `restart NAME`, `check`. `start` keeps each child's output in its log file (see logs.rs) as
//! well as printing it.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use omnitron::config::{self, LoadedConfig};
use omnitron::process::control::{CONTROL_SERVICE, ControlServer, Status, control_client};
use omnitron::process::{CrashDecision, OutputLine, ProcessHost, Stream};
use omnitron::status::{StatusOptions, StatusServer};

use crate::logs::LogWriter;

/// `--app NAME`, else the name the file gives.
pub(crate) fn app_name(app: Option<&str>, file: &Path) -> omnitron::Result<String> {
    match app {
        Some(a) => Ok(a.to_string()),
        None => Ok(config::load(file)?.app_name()),
    }
}

pub(crate) async fn check(file: &Path) -> omnitron::Result<ExitCode> {
    let c = config::load(file)?;
    println!("{}: ok ({} processes)", c.path.display(), c.config.processes.len());
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn ps(app: &str) -> omnitron::Result<ExitCode> {
    let peer = control_client(app).await?;
    let status: Status = peer.call(CONTROL_SERVICE, "ps", &()).await?;
    print_status(&status);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn stop(app: &str) -> omnitron::Result<ExitCode> {
    let peer = control_client(app).await?;
    let _: bool = peer.call(CONTROL_SERVICE, "stop", &()).await?;
    println!("omnitron: asked '{app}' to stop");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn restart(app: &str, name: &str) -> omnitron::Result<ExitCode> {
    let peer = control_client(app).await?;
    let _: bool = peer.call(CONTROL_SERVICE, "restart", &(name,)).await?;
    println!("omnitron: restarted '{name}'");
    Ok(ExitCode::SUCCESS)
}

fn print_status(s: &Status) {
    println!("{} (supervisor pid {})", s.app, s.pid);
    if let Some(url) = &s.status_page {
        println!("  status page: {url}");
    }
    println!("  {:<20} {:>5} {:>8} {:<11} {:>8}  last exit", "NAME", "INST", "PID", "STATE", "RESTARTS");
    for c in &s.children {
        let pid = c.pid.map_or("-".to_string(), |p| p.to_string());
        println!(
            "  {:<20} {:>5} {:>8} {:<11} {:>8}  {}",
            c.name,
            c.index,
            pid,
            c.state,
            c.restarts,
            c.last_exit.as_deref().unwrap_or("-")
        );
    }
}

/// Traces the supervisor's own work (its restarts) as `tracing:` says, as the children are traced:
/// exported to the same collector, and kept for the status page.
pub(crate) fn trace_supervisor(cfg: &LoadedConfig) {
    let Some(t) = &cfg.config.tracing else { return };
    let vars = t.env();
    let got = omnitron::telemetry::TraceConfig::from_vars("omnitron-supervisor", |k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    });
    if let Ok(Some(mut c)) = got {
        if cfg.config.status.enabled {
            c.keep_recent = cfg.config.status.traces;
        }
        if let Err(e) = omnitron::telemetry::install(c, "rust") {
            eprintln!("omnitron: the supervisor's own spans are not traced: {e}");
        }
    }
}

/// Serves the status page if `status:` asks for it (the default). A page that cannot listen is
/// reported and the application runs without it.
pub(crate) fn status_page(
    cfg: &LoadedConfig,
    app: &str,
    sups: impl Fn() -> Vec<omnitron::process::Supervisor> + Send + Sync + 'static,
) -> Option<StatusServer> {
    let c = &cfg.config.status;
    if !c.enabled {
        return None;
    }
    match StatusServer::start_with(sups, StatusOptions::new(app).listen(&c.listen)) {
        Ok(p) => {
            eprintln!("omnitron: status page at {}", p.url());
            Some(p)
        }
        Err(e) => {
            eprintln!("omnitron: no status page: {e}");
            None
        }
    }
}

pub(crate) async fn start(file: &Path) -> omnitron::Result<ExitCode> {
    let mut cfg: LoadedConfig = config::load(file)?;
    let app = cfg.app_name();
    trace_supervisor(&cfg);
    let host = ProcessHost::start().await?;
    let logs = LogWriter::open(&app).map_err(|e| omnitron::Error::new(omnitron::ErrorCode::Internal, e))?;
    crate::logs::add_log_control(&mut cfg, logs.dir());
    host.set_output_sink(Some(Arc::new(move |l: &OutputLine| {
        match l.stream {
            Stream::Stdout => println!("[{} {}] {}", l.name, l.pid, l.line),
            Stream::Stderr => eprintln!("[{} {}] {}", l.name, l.pid, l.line),
        }
        logs.write(l);
    })));
    let sup = cfg.supervisor(Some(host))?;
    sup.on_crash(|c, reason| async move {
        eprintln!("omnitron: {}[{}] {reason}", c.name, c.index);
        CrashDecision::Default
    });
    sup.on_restart(|c, attempt| async move {
        eprintln!("omnitron: restarting {}[{}] (attempt {attempt})", c.name, c.index);
    });
    eprintln!(
        "omnitron: starting '{app}' from {} ({} processes)",
        cfg.path.display(),
        cfg.config.processes.len()
    );
    sup.start().await?;
    let control = ControlServer::start(&app, sup.clone()).await?;
    let page = status_page(&cfg, &app, {
        let sup = sup.clone();
        move || vec![sup.clone()]
    });
    control.set_status_page(page.as_ref().map(StatusServer::url));
    let status_page = page.as_ref().map(StatusServer::url);
    let status = |sup: omnitron::process::Supervisor, app: String| {
        let status_page = status_page.clone();
        async move {
            let children = sup.children().await.into_iter().map(Into::into).collect();
            Status { app, pid: std::process::id(), children, status_page }
        }
    };
    print_status(&status(sup.clone(), app.clone()).await);
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| omnitron::Error::new(omnitron::ErrorCode::Internal, e.to_string()))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| omnitron::Error::new(omnitron::ErrorCode::Internal, e.to_string()))?;
    let mut last = String::new();
    let outcome = loop {
        tokio::select! {
            _ = term.recv() => break Ok(()),
            _ = int.recv() => break Ok(()),
            _ = control.stop_requested() => break Ok(()),
            r = sup.wait() => break r,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                // The live status: printed again whenever something changed.
                let s = status(sup.clone(), app.clone()).await;
                let now = format!("{:?}", s.children.iter().map(|c| (c.pid, c.state.clone(), c.restarts)).collect::<Vec<_>>());
                if now != last {
                    if !last.is_empty() {
                        print_status(&s);
                    }
                    last = now;
                }
            }
        }
    };
    eprintln!("omnitron: stopping '{app}'");
    if let Some(p) = page {
        p.stop().await;
    }
    sup.stop().await;
    control.close().await;
    omnitron::telemetry::flush(Duration::from_secs(2));
    match outcome {
        Ok(()) => {
            eprintln!("omnitron: '{app}' stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("omnitron: '{app}' failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
