//! What `omnitron --help` and `omnitron COMMAND --help` print.

pub(crate) fn overview() -> String {
    format!(
        "omnitron {} — start, develop and run Omnitron applications

usage: omnitron <command> [arguments] [options]

Start a project:
  init NAME --template T        a new project (templates: ts, python, rust, c, polyglot)
  generate KIND NAME            add a module, service, workflow or controller to this project

Develop and run:
  dev [FILE]                    run the application, restarting processes as their files change
  start [FILE]                  run the application in the foreground, under one supervisor
  check [FILE]                  check FILE against the schema

Talk to a running application:
  ps [FILE]                     its processes
  logs [PROCESS] [FILE]         show and follow its processes' output
  log-level FILTER [PROCESS]    change which log records its processes write, while they run
  restart NAME [FILE]           restart one process
  stop [FILE]                   stop it gracefully

FILE defaults to ./omnitron.yaml; --app NAME addresses a running application by name instead.
`omnitron help COMMAND` or `omnitron COMMAND --help` shows a command's options and examples.
Exit codes: 0 done, 1 the command failed, 2 the command line is wrong.",
        omnitron::VERSION
    )
}

pub(crate) fn command(name: &str) -> Option<String> {
    let text = match name {
        "init" => {
            "usage: omnitron init NAME [--template ts|python|rust|c|polyglot]

Creates the directory NAME with a project that builds and whose tests pass: a service, its tests,
an omnitron.yaml that runs it, a README and a .gitignore. NAME is letters, digits, '-' and '_',
starting with a letter; the directory must not exist.

  --template, -t T   ts (the default): TypeScript with the spec's decorators (@omnitron-dev/native)
                     python: a Python package (pip install omnitron)
                     rust: a Cargo crate (omnitron on crates.io)
                     c: a CMake project linking libomnitron (C and C++)
                     polyglot: a TypeScript orders service and a Python inventory service, one
                               omnitron.yaml: a small order saga across two languages

examples:
  omnitron init shop
  omnitron init billing --template python
  omnitron init orders -t polyglot && cd orders && omnitron dev"
        }
        "generate" => {
            "usage: omnitron generate module|service|workflow|controller NAME [--lang ts|python|rust|c] [--dir DIR]

Adds code and its test to the project around the current directory (the nearest omnitron.yaml),
in the project's language, found by its build file (package.json, pyproject.toml or
requirements.txt, Cargo.toml, CMakeLists.txt) there or in services/*. Never overwrites a file:
if any would be overwritten, nothing is written.

  module     a module: a provider and a service wired by dependency injection
  service    a service with @Public methods, callable over RPC from any language
  workflow   a saga: stages and a compensation, on the durable workflow engine
  controller HTTP routes (GET, POST, DELETE) on the native server, tested in-process
  --lang L   the language, when the project has several (a polyglot project)
  --dir DIR  the directory of the code to add to (default: found as above)

examples:
  omnitron generate service billing
  omnitron generate workflow refund --lang python
  omnitron generate controller users
  omnitron generate module catalog --dir services/orders"
        }
        "dev" => {
            "usage: omnitron dev [FILE] [--debounce DURATION]

Runs FILE's processes (default ./omnitron.yaml) like `omnitron start`, and watches their files:
when files change, every process whose watched paths hold one is restarted, the others keep
running. A process's watched paths are its `watch:` list (relative to its cwd), else its cwd;
node_modules, dist, build, target, caches and .git below them are ignored. A process with a
`build:` command (e.g. `node_modules/.bin/tsc -p .`) is built first; a failed build shows the error
and keeps the running instance. A process that cannot start (a syntax error) shows its error
and waits for the next change; a change to omnitron.yaml restarts everything. Output is printed
and kept for `omnitron logs`.

  --debounce D   wait until files have been quiet this long (default 300ms; 500, 1s, ...)

examples:
  omnitron dev
  omnitron dev services/omnitron.yaml --debounce 1s"
        }
        "start" => {
            "usage: omnitron start [FILE]

Runs FILE's processes (default ./omnitron.yaml) under one supervisor, in the foreground, with a
live status; Ctrl-C or `omnitron stop` stops them gracefully. Each process's output is printed
and kept for `omnitron logs`.

examples:
  omnitron start
  omnitron start deploy/omnitron.yaml"
        }
        "check" => {
            "usage: omnitron check [FILE]

Reads FILE (default ./omnitron.yaml) and reports what is wrong with it, or `ok`.

examples:
  omnitron check
  omnitron check deploy/omnitron.yaml"
        }
        "ps" => {
            "usage: omnitron ps [FILE] [--app NAME]

Shows the processes of the running application FILE describes (or the one named NAME): pid,
state, restarts and how each last ended.

examples:
  omnitron ps
  omnitron ps --app shop"
        }
        "logs" => {
            "usage: omnitron logs [PROCESS] [FILE] [--app NAME] [--lines N] [--no-follow]

Shows the last lines each process of the application wrote (or PROCESS's alone), then follows
what they write until Ctrl-C. Lines are `time process pid out|err| text`. The files are in
$OMNITRON_HOME/logs/APP (default ~/.local/state/omnitron/logs/APP), one per process; 10 MiB each
at most, plus one older file (.log.1).

  --lines, -n N   how many lines of each to show first (default 20)
  --no-follow     show them and exit
  --app NAME      the application by name (without its omnitron.yaml)

examples:
  omnitron logs
  omnitron logs inventory -n 100
  omnitron logs --app shop --no-follow"
        }
        "log-level" => {
            "usage: omnitron log-level FILTER [PROCESS] [FILE] [--app NAME]

Changes which log records the running application's processes write (PROCESS's alone, or every
process), without a restart; it holds for their restarts until the application stops, and the
next `omnitron start` begins again from omnitron.yaml's `logging:`. FILTER is a level (trace,
debug, info, warn, error, fatal, off) or a level then module=level items: `info,orders=debug`
(a module covers the modules under it: `orders` covers `orders.payment`). The processes read it
within a quarter of a second (docs/OBSERVABILITY.md, \"Logs\").

  --app NAME      the application by name (without its omnitron.yaml)

examples:
  omnitron log-level debug inventory
  omnitron log-level info,omnitron.rpc=debug
  omnitron log-level warn --app shop"
        }
        "restart" => {
            "usage: omnitron restart NAME [FILE] [--app NAME]

Restarts every instance of the process NAME in the running application; it counts against the
process's restart budget.

examples:
  omnitron restart inventory
  omnitron restart payment --app shop"
        }
        "stop" => {
            "usage: omnitron stop [FILE] [--app NAME]

Asks the running application to stop its processes gracefully and exit.

examples:
  omnitron stop
  omnitron stop --app shop"
        }
        _ => return None,
    };
    Some(text.to_string())
}
