//! The templates `omnitron init` and `omnitron generate` copy, embedded at build time from
//! `cli/templates/` (see build.rs): `<template>/project/**` starts a project,
//! `<language>/<module|service|workflow|controller>/**` adds to one. `{{name}}`, `{{kebab}}`, `{{snake}}`,
//! `{{pascal}}`, `{{camel}}`, `{{version}}` and `{{project_snake}}` are replaced in paths and
//! contents; nothing else is.

use std::path::{Path, PathBuf};

use crate::names::Name;

include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// The values a template's placeholders take.
#[derive(Debug)]
pub(crate) struct Vars(Vec<(&'static str, String)>);

impl Vars {
    /// For `name`, inside the project `project` (the same name for `init`).
    pub(crate) fn new(name: &Name, project: &Name) -> Vars {
        Vars(vec![
            ("name", name.raw.clone()),
            ("kebab", name.kebab()),
            ("snake", name.snake()),
            ("pascal", name.pascal()),
            ("camel", name.camel()),
            ("version", omnitron::VERSION.to_string()),
            ("project_snake", project.snake()),
        ])
    }

    /// `text` with every known `{{placeholder}}` replaced; unknown ones are left as written.
    pub(crate) fn render(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            match after
                .find("}}")
                .and_then(|j| self.0.iter().find(|(k, _)| *k == &after[..j]).map(|(_, v)| (j, v)))
            {
                Some((j, v)) => {
                    out.push_str(v);
                    rest = &after[j + 2..];
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Whether the templates hold anything under `prefix` (`ts/project`, `python/service`).
pub(crate) fn exists(prefix: &str) -> bool {
    FILES.iter().any(|(p, _)| p.starts_with(&format!("{prefix}/")))
}

/// The files under `prefix`, rendered, with the paths they take under `dest`.
pub(crate) fn plan(prefix: &str, dest: &Path, vars: &Vars) -> Vec<(PathBuf, Vec<u8>)> {
    let lead = format!("{prefix}/");
    FILES
        .iter()
        .filter_map(|(p, bytes)| p.strip_prefix(&lead).map(|rel| (rel, bytes)))
        .map(|(rel, bytes)| {
            // `Cargo.toml.tmpl`: a template named `Cargo.toml` would make cargo leave its
            // directory out of this crate's package.
            let rel = rel.strip_suffix(".tmpl").unwrap_or(rel);
            let path = dest.join(vars.render(rel));
            let body = match std::str::from_utf8(bytes) {
                Ok(text) => vars.render(text).into_bytes(),
                Err(_) => bytes.to_vec(),
            };
            (path, body)
        })
        .collect()
}

/// Lines `prefix` appends to the project's existing files (`rust/_append/service/src/lib.rs` adds
/// `pub mod billing_service;` to `src/lib.rs`): only to files that exist and lack them.
pub(crate) fn appends(prefix: &str, dest: &Path, vars: &Vars) -> Vec<(PathBuf, String)> {
    plan(prefix, dest, vars)
        .into_iter()
        .filter(|(p, _)| p.is_file())
        .map(|(p, body)| (p, String::from_utf8_lossy(&body).into_owned()))
        .filter(|(p, text)| std::fs::read_to_string(p).is_ok_and(|cur| !cur.contains(text.trim_end())))
        .collect()
}

/// Appends what [`appends`] found.
pub(crate) fn append(adds: &[(PathBuf, String)]) -> Result<(), String> {
    for (path, text) in adds {
        let mut cur =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !cur.is_empty() && !cur.ends_with('\n') {
            cur.push('\n');
        }
        cur.push_str(text);
        std::fs::write(path, cur).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Writes every planned file, or none: an existing file refuses the whole plan.
pub(crate) fn write(plan: &[(PathBuf, Vec<u8>)]) -> Result<(), String> {
    let existing: Vec<String> =
        plan.iter().filter(|(p, _)| p.exists()).map(|(p, _)| p.display().to_string()).collect();
    if !existing.is_empty() {
        return Err(format!("refusing to overwrite {} (nothing was written)", existing.join(", ")));
    }
    // A new Python package `x/` beside a module `x.py` would hide one of them.
    for (p, _) in plan {
        if let Some(dir) = p.parent().filter(|_| p.file_name().is_some_and(|n| n == "__init__.py"))
            && dir.with_extension("py").is_file()
        {
            return Err(format!(
                "{} exists: a package {} beside it would hide one of them; choose another name (nothing was written)",
                dir.with_extension("py").display(),
                dir.display()
            ));
        }
    }
    for (path, body) in plan {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if body.starts_with(b"#!") {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_known_and_unknown() {
        let n = Name::parse("order-service", "service").unwrap();
        let p = Name::parse("shop", "project").unwrap();
        let v = Vars::new(&n, &p);
        assert_eq!(
            v.render("{{pascal}}/{{snake}}.py in {{project_snake}}"),
            "OrderService/order_service.py in shop"
        );
        assert_eq!(v.render("{{ other }} {{x}} {{ {{camel}}"), "{{ other }} {{x}} {{ orderService");
        assert_eq!(v.render("a {{"), "a {{");
    }

    #[test]
    fn every_template_renders_to_valid_paths() {
        let n = Name::parse("my-app", "project").unwrap();
        let v = Vars::new(&n, &n);
        for t in ["ts", "python", "rust", "c", "polyglot"] {
            let files = plan(&format!("{t}/project"), Path::new("/x"), &v);
            assert!(!files.is_empty(), "template {t} has no project files");
            assert!(
                files.iter().any(|(p, _)| p.ends_with("omnitron.yaml")),
                "template {t} has no omnitron.yaml"
            );
            for (p, body) in files {
                assert!(!p.to_string_lossy().contains("{{"), "{}", p.display());
                if let Ok(s) = std::str::from_utf8(&body) {
                    for k in ["{{name}}", "{{kebab}}", "{{snake}}", "{{pascal}}", "{{version}}"] {
                        assert!(!s.contains(k), "{} keeps {k}", p.display());
                    }
                }
            }
        }
    }
}
