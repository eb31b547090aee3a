//! `omnitron generate module|service|workflow|controller NAME`: adds code to a project in its own language.
//!
//! The project is the directory holding `omnitron.yaml` (this one or a parent); its languages are
//! found by their build files, there or in `services/*` (where `omnitron init --template polyglot`
//! puts each service): `package.json` is TypeScript, `pyproject.toml` or `requirements.txt` Python,
//! `Cargo.toml` Rust, `CMakeLists.txt` C. With several, `--lang` or `--dir` picks one.

use std::path::{Path, PathBuf};

use crate::names::{Name, closest};
use crate::templates::{self, Vars};

/// What `generate` makes.
pub(crate) const KINDS: &[&str] = &["module", "service", "workflow", "controller"];

/// The languages, as `--lang` names them, and the build file that marks each.
const LANGS: &[(&str, &[&str])] = &[
    ("ts", &["package.json"]),
    ("python", &["pyproject.toml", "requirements.txt"]),
    ("rust", &["Cargo.toml"]),
    ("c", &["CMakeLists.txt"]),
];

/// Adds `kind` named `name` to the project at or above `cwd`; what it wrote and what to do next.
pub(crate) fn generate(
    cwd: &Path,
    kind: &str,
    name: &str,
    lang: Option<&str>,
    dir: Option<&Path>,
) -> Result<String, String> {
    if !KINDS.contains(&kind) {
        let hint = closest(kind, KINDS).map(|k| format!(" (did you mean {k}?)")).unwrap_or_default();
        return Err(format!("unknown kind '{kind}'{hint}; omnitron generate makes: {}", KINDS.join(", ")));
    }
    if let Some(l) = lang
        && !LANGS.iter().any(|(n, _)| *n == l)
    {
        let names: Vec<&str> = LANGS.iter().map(|(n, _)| *n).collect();
        let hint = closest(l, &names).map(|k| format!(" (did you mean {k}?)")).unwrap_or_default();
        return Err(format!("unknown language '{l}'{hint}; languages: {}", names.join(", ")));
    }
    let name = Name::parse(name, kind)?;
    let (lang, root) = target(cwd, lang, dir)?;
    name.check_for(lang, kind)?;
    let project = project_name(&root);
    let vars = Vars::new(&name, &project);
    let prefix = format!("{lang}/{kind}");
    if !templates::exists(&prefix) {
        return Err(format!("there is no {kind} template for {lang}"));
    }
    let plan = templates::plan(&prefix, &root, &vars);
    let adds = templates::appends(&format!("{lang}/_append/{kind}"), &root, &vars);
    templates::write(&plan)?;
    templates::append(&adds)?;
    let mut out = format!("generated {kind} '{}' ({lang}) in {}:\n", name.raw, root.display());
    for (p, _) in &plan {
        out.push_str(&format!("  {}\n", p.strip_prefix(&root).unwrap_or(p).display()));
    }
    for (p, text) in &adds {
        out.push_str(&format!(
            "  {} (added: {})\n",
            p.strip_prefix(&root).unwrap_or(p).display(),
            text.trim_end()
        ));
    }
    let next = templates::plan(&format!("{lang}/_next"), Path::new(""), &vars)
        .into_iter()
        .find(|(p, _)| p == Path::new(&format!("{kind}.txt")))
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned());
    if let Some(next) = next {
        out.push_str("\nnext:\n");
        out.extend(next.lines().map(|l| format!("  {l}\n")));
    }
    Ok(out)
}

/// The language and directory code goes to.
fn target(cwd: &Path, lang: Option<&str>, dir: Option<&Path>) -> Result<(&'static str, PathBuf), String> {
    let candidates = match dir {
        Some(d) => {
            let d = cwd.join(d);
            if !d.is_dir() {
                return Err(format!("--dir {}: no such directory", d.display()));
            }
            languages_in(&d)
        }
        None => {
            let root = project_root(cwd).ok_or_else(|| {
                format!(
                    "no omnitron.yaml in {} or above: run omnitron generate inside a project (omnitron init makes one), or pass --dir",
                    cwd.display()
                )
            })?;
            let mut found = languages_in(&root);
            if let Ok(services) = std::fs::read_dir(root.join("services")) {
                let mut dirs: Vec<PathBuf> =
                    services.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
                dirs.sort();
                for d in dirs {
                    found.extend(languages_in(&d));
                }
            }
            found
        }
    };
    let matching: Vec<_> = candidates.iter().filter(|(l, _)| lang.is_none_or(|w| w == *l)).cloned().collect();
    match matching.as_slice() {
        [one] => Ok(one.clone()),
        [] if candidates.is_empty() => Err(
            "found no package.json, pyproject.toml, requirements.txt, Cargo.toml or CMakeLists.txt in the project (or its services/*): pass --dir".into(),
        ),
        [] => Err(format!("this project has no {} code (it has {})", lang.unwrap_or("?"), describe(&candidates))),
        many => Err(format!("this project has {}: pass --lang or --dir to choose", describe(many))),
    }
}

fn describe(c: &[(&'static str, PathBuf)]) -> String {
    c.iter().map(|(l, d)| format!("{l} in {}", d.display())).collect::<Vec<_>>().join(", ")
}

fn languages_in(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    LANGS
        .iter()
        .filter(|(_, files)| files.iter().any(|f| dir.join(f).is_file()))
        .map(|(l, _)| (*l, dir.to_path_buf()))
        .collect()
}

/// The nearest directory at or above `cwd` holding `omnitron.yaml`.
pub(crate) fn project_root(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors().find(|d| d.join("omnitron.yaml").is_file()).map(Path::to_path_buf)
}

/// The project's name as its build file gives it (`name = "my-app"`, `"name": "my-app"`), else its
/// directory's; it names the package generated Python code goes in.
fn project_name(root: &Path) -> Name {
    let from_files = ["pyproject.toml", "Cargo.toml", "package.json"].iter().find_map(|f| {
        let text = std::fs::read_to_string(root.join(f)).ok()?;
        text.lines().find_map(|l| {
            let l = l.trim().trim_end_matches(',');
            let rest = l.strip_prefix("name").or_else(|| l.strip_prefix("\"name\""))?;
            let v = rest.trim_start().strip_prefix([':', '='])?.trim().trim_matches('"');
            Some(v.rsplit('/').next().unwrap_or(v).to_string())
        })
    });
    let dir = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    from_files
        .into_iter()
        .chain([dir])
        .find_map(|n| Name::parse(&n, "project").ok())
        .unwrap_or_else(|| Name::parse("app", "project").expect("a valid name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::init;

    #[test]
    fn generates_in_the_project_language_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        for t in ["ts", "python", "rust", "c"] {
            let name = format!("app-{t}");
            init(dir.path(), &name, t).unwrap();
            let root = dir.path().join(&name);
            for kind in KINDS {
                let out = generate(&root, kind, "billing", None, None).unwrap();
                assert!(out.contains(&format!("({t})")), "{out}");
                let again = generate(&root, kind, "billing", None, None).unwrap_err();
                assert!(again.contains("refusing to overwrite"), "{again}");
            }
        }
    }

    #[test]
    fn rust_modules_are_declared_once_and_python_packages_never_hide_modules() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), "shop", "rust").unwrap();
        let root = dir.path().join("shop");
        let out = generate(&root, "service", "billing", None, None).unwrap();
        assert!(out.contains("src/lib.rs (added: pub mod billing_service;)"), "{out}");
        let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
        assert_eq!(lib.matches("pub mod billing_service;").count(), 1, "{lib}");
        assert!(root.join("Cargo.toml").is_file() && !root.join("Cargo.toml.tmpl").exists());
        let out = generate(&root, "controller", "users", None, None).unwrap();
        assert!(out.contains("src/users_controller.rs"), "{out}");
        assert!(out.contains("src/lib.rs (added: pub mod users_controller;)"), "{out}");
        assert!(out.contains("shop::users_controller::routes("), "{out}");
        let code = std::fs::read_to_string(root.join("src/users_controller.rs")).unwrap();
        assert!(code.contains(".get(\"/users/:id\"") && code.contains("pub struct UsersStore"), "{code}");

        init(dir.path(), "store", "python").unwrap();
        let root = dir.path().join("store");
        std::fs::write(root.join("store/catalog.py"), "").unwrap();
        let e = generate(&root, "module", "catalog", None, None).unwrap_err();
        assert!(e.contains("would hide one of them"), "{e}");
        assert!(!root.join("store/catalog").exists(), "nothing was written");
    }

    #[test]
    fn a_polyglot_project_needs_a_language() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), "shop", "polyglot").unwrap();
        let root = dir.path().join("shop");
        let e = generate(&root, "service", "billing", None, None).unwrap_err();
        assert!(e.contains("pass --lang or --dir"), "{e}");
        let out = generate(&root, "service", "billing", Some("python"), None).unwrap();
        assert!(out.contains("(python)"), "{out}");
    }

    #[test]
    fn bad_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = generate(dir.path(), "servise", "x", None, None).unwrap_err();
        assert!(e.contains("did you mean service"), "{e}");
        let e = generate(dir.path(), "controler", "x", None, None).unwrap_err();
        assert!(e.contains("did you mean controller"), "{e}");
        let e = generate(dir.path(), "service", "billing", None, None).unwrap_err();
        assert!(e.contains("no omnitron.yaml"), "{e}");
        let e = generate(dir.path(), "service", "bad name", None, None).unwrap_err();
        assert!(e.contains("not a valid service name"), "{e}");
        let e = generate(dir.path(), "service", "billing", Some("go"), None).unwrap_err();
        assert!(e.contains("unknown language 'go'"), "{e}");
    }
}
