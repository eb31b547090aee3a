//! `omnitron`: start a project, add code to it, run it while developing, run it for real, and
//! talk to it while it runs. `omnitron help COMMAND` (or `omnitron COMMAND --help`) shows each
//! command with examples.
//!
//! Exit codes: 0 done, 1 the command failed (the message says why), 2 the command line is wrong.

mod app;
mod args;
mod dev;
mod generate;
mod help;
mod init;
mod logs;
mod names;
mod templates;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use args::{Args, Spec};

/// A command's name, the options it reads, and its help (in help.rs).
struct Command {
    name: &'static str,
    spec: Spec,
}

const FILE_AND_APP: Spec = Spec { values: &[("--app", None)], flags: &[], max_positional: 1 };

const COMMANDS: &[Command] = &[
    Command {
        name: "init",
        spec: Spec { values: &[("--template", Some("-t"))], flags: &[], max_positional: 1 },
    },
    Command {
        name: "generate",
        spec: Spec { values: &[("--lang", None), ("--dir", None)], flags: &[], max_positional: 2 },
    },
    Command { name: "dev", spec: Spec { values: &[("--debounce", None)], flags: &[], max_positional: 1 } },
    Command { name: "start", spec: Spec { values: &[], flags: &[], max_positional: 1 } },
    Command { name: "ps", spec: FILE_AND_APP },
    Command {
        name: "logs",
        spec: Spec {
            values: &[("--app", None), ("--lines", Some("-n"))],
            flags: &["--no-follow"],
            max_positional: 2,
        },
    },
    Command { name: "log-level", spec: Spec { values: &[("--app", None)], flags: &[], max_positional: 3 } },
    Command { name: "restart", spec: Spec { values: &[("--app", None)], flags: &[], max_positional: 2 } },
    Command { name: "stop", spec: FILE_AND_APP },
    Command { name: "check", spec: Spec { values: &[], flags: &[], max_positional: 1 } },
];

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(first) = argv.first() else {
        eprintln!("{}", help::overview());
        return ExitCode::from(2);
    };
    match first.as_str() {
        "-h" | "--help" => {
            println!("{}", help::overview());
            return ExitCode::SUCCESS;
        }
        "help" => {
            return match argv.get(1) {
                None => {
                    println!("{}", help::overview());
                    ExitCode::SUCCESS
                }
                Some(c) => match help::command(c) {
                    Some(h) => {
                        println!("{h}");
                        ExitCode::SUCCESS
                    }
                    None => usage_error(&unknown_command(c)),
                },
            };
        }
        "-V" | "--version" | "version" => {
            println!("omnitron {}", omnitron::VERSION);
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let Some(cmd) = COMMANDS.iter().find(|c| c.name == first) else {
        return usage_error(&unknown_command(first));
    };
    let rest = &argv[1..];
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", help::command(cmd.name).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let args = match args::parse(&cmd.spec, rest) {
        Ok(a) => a,
        Err(e) => return usage_error(&format!("{e}\n\n{}", help::command(cmd.name).unwrap_or_default())),
    };
    match run(cmd.name, &args) {
        Ok(code) => code,
        Err(Failure::Usage(e)) => {
            usage_error(&format!("{e}\n\n{}", help::command(cmd.name).unwrap_or_default()))
        }
        Err(Failure::Failed(e)) => {
            eprintln!("omnitron {}: {e}", cmd.name);
            ExitCode::FAILURE
        }
    }
}

fn unknown_command(c: &str) -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    let hint = names::closest(c, &names).map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
    format!("unknown command '{c}'{hint}\n\n{}", help::overview())
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("omnitron: {msg}");
    ExitCode::from(2)
}

/// Why a command did not do its work.
enum Failure {
    /// The command line is wrong: exit code 2, with the command's help.
    Usage(String),
    /// The work failed: exit code 1.
    Failed(String),
}

impl From<omnitron::Error> for Failure {
    fn from(e: omnitron::Error) -> Self {
        Failure::Failed(e.to_string())
    }
}

fn file_arg(a: &Args, i: usize) -> PathBuf {
    PathBuf::from(a.positional(i).unwrap_or("omnitron.yaml"))
}

/// The file a command reads must exist; said plainly rather than as an I/O error.
fn existing(file: &Path) -> Result<&Path, Failure> {
    if file.is_file() {
        Ok(file)
    } else {
        Err(Failure::Failed(format!(
            "no {} here: run this in a project's directory (omnitron init NAME makes one), or give the file's path",
            file.display()
        )))
    }
}

fn run(command: &str, a: &Args) -> Result<ExitCode, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Failed(format!("cannot read the current directory: {e}")))?;
    match command {
        "init" => {
            let name = a.positional(0).ok_or_else(|| Failure::Usage("init needs a project name".into()))?;
            let template = a.value("--template").unwrap_or("ts");
            let out = init::init(&cwd, name, template).map_err(Failure::Failed)?;
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        "generate" => {
            let (Some(kind), Some(name)) = (a.positional(0), a.positional(1)) else {
                return Err(Failure::Usage(
                    "generate needs a kind (module, service, workflow or controller) and a name".into(),
                ));
            };
            let out =
                generate::generate(&cwd, kind, name, a.value("--lang"), a.value("--dir").map(Path::new))
                    .map_err(Failure::Failed)?;
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        "logs" => {
            let (process, file) = match (a.positional(0), a.positional(1)) {
                (Some(p), f) if !p.ends_with(".yaml") && !p.ends_with(".yml") => (Some(p), f),
                (Some(f), None) => (None, Some(f)),
                (Some(_), Some(_)) => {
                    return Err(Failure::Usage("logs takes a process name, then a file".into()));
                }
                (None, _) => (None, None),
            };
            let file = PathBuf::from(file.unwrap_or("omnitron.yaml"));
            let lines = match a.value("--lines") {
                None => 20,
                Some(n) => n
                    .parse::<usize>()
                    .map_err(|_| Failure::Usage(format!("--lines: '{n}' is not a number")))?,
            };
            let (app, known) = match a.value("--app") {
                Some(app) => (app.to_string(), Vec::new()),
                None => {
                    let cfg = omnitron::config::load(existing(&file)?)?;
                    (cfg.app_name(), cfg.config.processes.iter().map(|(n, _)| n.clone()).collect())
                }
            };
            logs::show(&app, process, &known, lines, !a.flag("--no-follow")).map_err(Failure::Failed)?;
            Ok(ExitCode::SUCCESS)
        }
        "log-level" => {
            let filter = a.positional(0).ok_or_else(|| {
                Failure::Usage("log-level needs a filter (a level, or info,module=debug,...)".into())
            })?;
            omnitron::log::Filter::parse(filter).map_err(|e| Failure::Usage(e.message().to_string()))?;
            let (process, file) = match (a.positional(1), a.positional(2)) {
                (Some(p), f) if !p.ends_with(".yaml") && !p.ends_with(".yml") => (Some(p), f),
                (Some(f), None) => (None, Some(f)),
                (Some(_), Some(_)) => {
                    return Err(Failure::Usage(
                        "log-level takes a filter, a process name, then a file".into(),
                    ));
                }
                (None, _) => (None, None),
            };
            let file = PathBuf::from(file.unwrap_or("omnitron.yaml"));
            let (app, known) = match a.value("--app") {
                Some(app) => (app.to_string(), None),
                None => {
                    let cfg = omnitron::config::load(existing(&file)?)?;
                    (
                        cfg.app_name(),
                        Some(cfg.config.processes.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()),
                    )
                }
            };
            let dir = logs::dir(&app).map_err(Failure::Failed)?;
            let processes = match (process, known) {
                (Some(p), Some(k)) if !k.iter().any(|n| n == p) => {
                    return Err(Failure::Failed(format!(
                        "no process '{p}' in '{app}' (it has {})",
                        k.join(", ")
                    )));
                }
                (Some(p), _) => vec![p.to_string()],
                (None, Some(k)) => k,
                (None, None) => logs::processes_in(&dir),
            };
            if processes.is_empty() {
                return Err(Failure::Failed(format!(
                    "'{app}' has no processes that ran here ({})",
                    dir.display()
                )));
            }
            print!("{}", logs::set_level(&dir, &processes, filter).map_err(Failure::Failed)?);
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Failure::Failed(format!("cannot start: {e}")))?;
            rt.block_on(run_async(command, a))
        }
    }
}

async fn run_async(command: &str, a: &Args) -> Result<ExitCode, Failure> {
    match command {
        "dev" => {
            let debounce = match a.value("--debounce") {
                None => Duration::from_millis(300),
                Some(d) => omnitron::config::parse_duration(d).ok_or_else(|| {
                    Failure::Usage(format!("--debounce: '{d}' is not a duration (300, 300ms, 1s)"))
                })?,
            };
            dev::dev(existing(&file_arg(a, 0))?, debounce).await.map_err(Failure::Failed)
        }
        "start" => Ok(app::start(existing(&file_arg(a, 0))?).await?),
        "check" => Ok(app::check(existing(&file_arg(a, 0))?).await?),
        "ps" | "stop" => {
            let file = file_arg(a, 0);
            let app = match a.value("--app") {
                Some(n) => n.to_string(),
                None => app::app_name(None, existing(&file)?)?,
            };
            Ok(if command == "ps" { app::ps(&app).await? } else { app::stop(&app).await? })
        }
        "restart" => {
            let name =
                a.positional(0).ok_or_else(|| Failure::Usage("restart needs a process name".into()))?;
            let file = file_arg(a, 1);
            let app = match a.value("--app") {
                Some(n) => n.to_string(),
                None => app::app_name(None, existing(&file)?)?,
            };
            Ok(app::restart(&app, name).await?)
        }
        other => Err(Failure::Usage(format!("unknown command '{other}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_help_with_examples_and_the_overview_names_it() {
        for c in COMMANDS {
            let h = help::command(c.name).unwrap_or_else(|| panic!("no help for {}", c.name));
            assert!(h.starts_with(&format!("usage: omnitron {}", c.name)), "{h}");
            assert!(h.contains("examples:"), "{}", c.name);
            assert!(help::overview().contains(&format!("  {} ", c.name)), "{}", c.name);
        }
    }
}
