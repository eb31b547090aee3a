//! The command line, read against each command's list of options: unknown options and missing
//! values are usage errors (exit code 2) with the command's help.

use std::collections::BTreeMap;

/// What a command accepts.
#[derive(Debug)]
pub(crate) struct Spec {
    /// Options that take a value (`--app NAME`), with their short forms.
    pub(crate) values: &'static [(&'static str, Option<&'static str>)],
    /// Options that are on or off (`--no-follow`).
    pub(crate) flags: &'static [&'static str],
    /// Most positional arguments.
    pub(crate) max_positional: usize,
}

/// One command's arguments.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub(crate) positional: Vec<String>,
    values: BTreeMap<&'static str, String>,
    flags: Vec<&'static str>,
}

impl Args {
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    pub(crate) fn positional(&self, i: usize) -> Option<&str> {
        self.positional.get(i).map(String::as_str)
    }
}

/// Reads `args` (after the command's name) by `spec`. `--name=value` and `--name value` both work.
pub(crate) fn parse(spec: &Spec, args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            out.positional.extend(it.by_ref().cloned());
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            let (key, inline) = match a.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (a.as_str(), None),
            };
            if let Some(&(name, _)) = spec.values.iter().find(|(n, s)| *n == key || *s == Some(key)) {
                let v = match inline {
                    Some(v) => v,
                    None => it.next().cloned().ok_or_else(|| format!("{name} needs a value"))?,
                };
                if v.is_empty() {
                    return Err(format!("{name} needs a value"));
                }
                out.values.insert(name, v);
            } else if let Some(&name) = spec.flags.iter().find(|n| **n == key) {
                if inline.is_some() {
                    return Err(format!("{name} takes no value"));
                }
                out.flags.push(name);
            } else {
                let known: Vec<&str> =
                    spec.values.iter().map(|(n, _)| *n).chain(spec.flags.iter().copied()).collect();
                let hint = crate::names::closest(key, &known)
                    .map(|k| format!(" (did you mean {k}?)"))
                    .unwrap_or_default();
                return Err(format!("unknown option '{key}'{hint}"));
            }
        } else {
            out.positional.push(a.clone());
        }
    }
    if out.positional.len() > spec.max_positional {
        return Err(format!("unexpected argument '{}'", out.positional[spec.max_positional]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        values: &[("--app", None), ("--lines", Some("-n"))],
        flags: &["--no-follow"],
        max_positional: 2,
    };

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_flags_and_positionals() {
        let a = parse(&SPEC, &v(&["web", "--app", "shop", "-n", "5", "--no-follow"])).unwrap();
        assert_eq!(a.positional(0), Some("web"));
        assert_eq!(a.value("--app"), Some("shop"));
        assert_eq!(a.value("--lines"), Some("5"));
        assert!(a.flag("--no-follow"));
        let a = parse(&SPEC, &v(&["--app=shop"])).unwrap();
        assert_eq!(a.value("--app"), Some("shop"));
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert_eq!(parse(&SPEC, &v(&["--app"])).unwrap_err(), "--app needs a value");
        assert_eq!(
            parse(&SPEC, &v(&["--ap", "x"])).unwrap_err(),
            "unknown option '--ap' (did you mean --app?)"
        );
        assert_eq!(parse(&SPEC, &v(&["a", "b", "c"])).unwrap_err(), "unexpected argument 'c'");
        assert_eq!(parse(&SPEC, &v(&["--no-follow=1"])).unwrap_err(), "--no-follow takes no value");
    }
}
