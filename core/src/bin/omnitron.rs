//! `omnitron`: run an application described by `omnitron.yaml` and talk to a running one.
//!
//! ```text
//! omnitron start [FILE]          run FILE's processes in the foreground, with a live status
//! omnitron ps [FILE]             the running application's processes
//! omnitron stop [FILE]           stop it (gracefully)
//! omnitron restart NAME [FILE]   restart one process (counts against its budget)
//! omnitron check [FILE]          check FILE against the schema
//! ```
//! FILE defaults to `./omnitron.yaml`; `--app NAME` names a running application instead.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use omnitron::config::{self, LoadedConfig};
use omnitron::process::control::{CONTROL_SERVICE, ControlServer, Status, control_client};
use omnitron::process::{CrashDecision, OutputLine, ProcessHost, Stream};

const USAGE: &str = "usage: omnitron <start|ps|stop|restart NAME|check> [omnitron.yaml] [--app NAME]

  start [FILE]          run FILE's processes in the foreground, with a live status
  ps [FILE]             show the running application's processes
  stop [FILE]           stop the running application gracefully
  restart NAME [FILE]   restart one process (counts against its restart budget)
  check [FILE]          check FILE against the schema

FILE defaults to ./omnitron.yaml; --app NAME addresses a running application by name.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") || args.is_empty() {
        println!("{USAGE}");
        return if args.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        println!("omnitron {}", omnitron::VERSION);
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("omnitron: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("omnitron: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Cli {
    command: String,
    positional: Vec<String>,
    app: Option<String>,
}

fn parse(args: Vec<String>) -> Result<Cli, String> {
    let mut it = args.into_iter();
    let command = it.next().ok_or("missing command")?;
    let (mut positional, mut app) = (Vec::new(), None);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--app" => app = Some(it.next().ok_or("--app needs a name")?),
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'\n\n{USAGE}")),
            _ => positional.push(a),
        }
    }
    Ok(Cli { command, positional, app })
}

fn load(file: Option<&String>) -> omnitron::Result<LoadedConfig> {
    config::load(&PathBuf::from(file.map_or("omnitron.yaml", String::as_str)))
}

async fn app_name(cli: &Cli, file: Option<&String>) -> omnitron::Result<String> {
    match &cli.app {
        Some(a) => Ok(a.clone()),
        None => Ok(load(file)?.app_name()),
    }
}

async fn run(args: Vec<String>) -> omnitron::Result<ExitCode> {
    let cli = match parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("omnitron: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    match cli.command.as_str() {
        "start" => start(load(cli.positional.first())?).await,
        "check" => {
            let c = load(cli.positional.first())?;
            println!("{}: ok ({} processes)", c.path.display(), c.config.processes.len());
            Ok(ExitCode::SUCCESS)
        }
        "ps" => {
            let app = app_name(&cli, cli.positional.first()).await?;
            let peer = control_client(&app).await?;
            let status: Status = peer.call(CONTROL_SERVICE, "ps", &()).await?;
            print_status(&status);
            Ok(ExitCode::SUCCESS)
        }
        "stop" => {
            let app = app_name(&cli, cli.positional.first()).await?;
            let peer = control_client(&app).await?;
            let _: bool = peer.call(CONTROL_SERVICE, "stop", &()).await?;
            println!("omnitron: asked '{app}' to stop");
            Ok(ExitCode::SUCCESS)
        }
        "restart" => {
            let Some(name) = cli.positional.first() else {
                eprintln!("omnitron: restart needs a process name\n\n{USAGE}");
                return Ok(ExitCode::from(2));
            };
            let app = app_name(&cli, cli.positional.get(1)).await?;
            let peer = control_client(&app).await?;
            let _: bool = peer.call(CONTROL_SERVICE, "restart", &(name,)).await?;
            println!("omnitron: restarted '{name}'");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprintln!("omnitron: unknown command '{other}'\n\n{USAGE}");
            Ok(ExitCode::from(2))
        }
    }
}

fn print_status(s: &Status) {
    println!("{} (supervisor pid {})", s.app, s.pid);
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

async fn start(cfg: LoadedConfig) -> omnitron::Result<ExitCode> {
    let app = cfg.app_name();
    let host = ProcessHost::start().await?;
    host.set_output_sink(Some(Arc::new(|l: &OutputLine| match l.stream {
        Stream::Stdout => println!("[{} {}] {}", l.name, l.pid, l.line),
        Stream::Stderr => eprintln!("[{} {}] {}", l.name, l.pid, l.line),
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
    let status = |sup: omnitron::process::Supervisor, app: String| async move {
        let children = sup.children().await.into_iter().map(Into::into).collect();
        Status { app, pid: std::process::id(), children }
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
    sup.stop().await;
    control.close().await;
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
