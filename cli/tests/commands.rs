//! The `omnitron` command as a user runs it: help, and bad input refused with a clear message and
//! a non-zero exit code (2 for a wrong command line, 1 for a command that could not do its work),
//! with nothing written.

use std::path::Path;
use std::process::{Command, Output};

fn omnitron(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omnitron"))
        .args(args)
        .current_dir(cwd)
        .env("OMNITRON_HOME", cwd.join(".home"))
        .output()
        .expect("run omnitron")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn help_for_every_command_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let o = omnitron(dir.path(), &["--help"]);
    assert!(o.status.success());
    for c in ["init", "generate", "dev", "start", "ps", "logs", "restart", "stop", "check"] {
        for args in [vec![c, "--help"], vec!["help", c]] {
            let o = omnitron(dir.path(), &args);
            assert!(o.status.success(), "{args:?}");
            let t = text(&o);
            assert!(t.contains(&format!("usage: omnitron {c}")) && t.contains("examples:"), "{t}");
        }
    }
    let o = omnitron(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "no command is a usage error");
    assert!(text(&o).contains("usage: omnitron"));
}

#[test]
fn init_refuses_bad_input_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["init", "app", "--template", "java"], 1, "unknown template 'java'"),
        (&["init", "app", "-t", "pyhton"], 1, "did you mean python?"),
        (&["init", "9lives"], 1, "not a valid project name"),
        (&["init", "my app"], 1, "' ' is not allowed"),
        (&["init", "../escape"], 1, "must start with a letter"),
        (&["init", "lambda", "-t", "python"], 1, "'lambda' is a Python keyword"),
        (&["init", "json", "-t", "polyglot"], 1, "a module of the standard library"),
        (&["init", "gen", "-t", "rust"], 1, "a Rust keyword"),
        (&["init", "install", "-t", "c"], 1, "a CMake target"),
        (&["init"], 2, "init needs a project name"),
        (&["init", "app", "--templat", "ts"], 2, "unknown option '--templat' (did you mean --template?)"),
        (&["init", "app", "--template"], 2, "--template needs a value"),
        (&["frobnicate"], 2, "unknown command 'frobnicate'"),
        (&["int", "app"], 2, "did you mean init?"),
    ];
    for (args, code, msg) in cases {
        let o = omnitron(dir.path(), args);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(msg), "{args:?}: {}", text(&o));
    }
    assert!(!dir.path().join("app").exists() && !dir.path().join("escape").exists());
    let o = omnitron(dir.path(), &["init", "app", "--template", "python"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("app/omnitron.yaml").is_file());
    let o = omnitron(dir.path(), &["init", "app"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("already exists"), "{}", text(&o));
}

#[test]
fn generate_refuses_to_overwrite_and_needs_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let o = omnitron(dir.path(), &["generate", "service", "billing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no omnitron.yaml"), "{}", text(&o));
    assert!(omnitron(dir.path(), &["init", "shop", "--template", "ts"]).status.success());
    let shop = dir.path().join("shop");
    let o = omnitron(&shop, &["generate", "service", "billing"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(shop.join("src/billing.service.ts").is_file());
    let o = omnitron(&shop.join("src"), &["generate", "service", "billing"]);
    assert_eq!(o.status.code(), Some(1), "found the project from a subdirectory, refused to overwrite");
    assert!(text(&o).contains("refusing to overwrite"), "{}", text(&o));
    let o = omnitron(&shop, &["generate", "controller", "users"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        shop.join("src/users.controller.ts").is_file()
            && shop.join("test/users.controller.test.ts").is_file()
    );
    let o = omnitron(&shop, &["generate", "gateway", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("unknown kind 'gateway'"), "{}", text(&o));
    let o = omnitron(&shop, &["generate", "service"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn commands_that_read_omnitron_yaml_say_when_it_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["start"][..], &["dev"], &["check"], &["ps"], &["stop"], &["logs"], &["restart", "web"]] {
        let o = omnitron(dir.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("no omnitron.yaml here"), "{args:?}: {}", text(&o));
    }
    std::fs::write(dir.path().join("omnitron.yaml"), "processes:\n  web:\n    comand: x\n").unwrap();
    let o = omnitron(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("comand"), "{}", text(&o));
    let o = omnitron(dir.path(), &["dev", "--debounce", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("'soon' is not a duration"), "{}", text(&o));
    let o = omnitron(dir.path(), &["logs", "--app", "nothing-here", "--no-follow"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no logs for 'nothing-here'"), "{}", text(&o));
}
