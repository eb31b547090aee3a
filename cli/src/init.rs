//! `omnitron init NAME --template T`: a new project from one of the embedded templates.

use std::path::Path;

use crate::names::{Name, closest};
use crate::templates::{self, Vars};

/// The templates, as `--template` names them.
pub(crate) const TEMPLATES: &[&str] = &["ts", "python", "rust", "c", "polyglot"];

/// Writes the project `name` from `template` into `parent/name`; what to run next.
pub(crate) fn init(parent: &Path, name: &str, template: &str) -> Result<String, String> {
    if !TEMPLATES.contains(&template) {
        let hint = closest(template, TEMPLATES).map(|t| format!(" (did you mean {t}?)")).unwrap_or_default();
        return Err(format!("unknown template '{template}'{hint}; templates: {}", TEMPLATES.join(", ")));
    }
    let name = Name::parse(name, "project")?;
    let langs: &[&str] = if template == "polyglot" { &["ts", "python"] } else { &[template] };
    for lang in langs {
        name.check_for(lang, "project")?;
    }
    let dest = parent.join(&name.raw);
    if dest.exists() {
        return Err(format!("'{}' already exists: choose another name, or remove it first", dest.display()));
    }
    let vars = Vars::new(&name, &name);
    let plan = templates::plan(&format!("{template}/project"), &dest, &vars);
    templates::write(&plan)?;
    let next = templates::plan(template, Path::new(""), &vars)
        .into_iter()
        .find(|(p, _)| p == Path::new("_next.txt"))
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(format!(
        "created {} ({} files, template {template})\n\nnext:\n  cd {}\n{}",
        dest.display(),
        plan.len(),
        name.raw,
        next.lines().map(|l| format!("  {l}\n")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_writes_a_project_and_refuses_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        for t in TEMPLATES {
            let name = format!("app-{t}");
            let msg = init(dir.path(), &name, t).unwrap();
            assert!(msg.contains(&format!("cd {name}")), "{msg}");
            assert!(dir.path().join(&name).join("omnitron.yaml").is_file(), "{t}");
            let again = init(dir.path(), &name, t).unwrap_err();
            assert!(again.contains("already exists"), "{again}");
        }
    }

    #[test]
    fn bad_input_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = init(dir.path(), "app", "pyhton").unwrap_err();
        assert!(e.contains("unknown template 'pyhton' (did you mean python?)"), "{e}");
        let e = init(dir.path(), "9lives", "ts").unwrap_err();
        assert!(e.contains("not a valid project name"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
