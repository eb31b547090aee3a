//! `${VAR}` and `${VAR:-default}` in configuration text, resolved before parsing so that line
//! numbers in errors stay those of the file. `$$` is a literal `$`.

use crate::error::{Error, ErrorCode, Result};

/// Replaces every `${VAR}` / `${VAR:-default}` with `lookup(VAR)` (or the default when unset or
/// empty). An unset variable with no default is an error naming the file, line and variable.
pub fn interpolate(text: &str, file: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut line = 1;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let (before, after) = rest.split_at(i);
        line += before.matches('\n').count();
        out.push_str(before);
        if let Some(tail) = after.strip_prefix("$$") {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix("${") else {
            out.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!("{file}:{line}: '${{' without a closing '}}'"),
            ));
        };
        let expr = &body[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "{file}:{line}: '${{{expr}}}' is not a variable reference (use ${{NAME}} or ${{NAME:-default}})"
                ),
            ));
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!(
                        "{file}:{line}: environment variable '{name}' is not set (set it, or give a default: ${{{name}:-value}})"
                    ),
                ));
            }
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "HOST" => Some("db.local".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_defaults_and_escapes() {
        let t = interpolate("a: ${HOST}\nb: ${PORT:-5432}\nc: ${EMPTY:-x}\nd: $$HOME $x", "f.yaml", &env)
            .unwrap();
        assert_eq!(t, "a: db.local\nb: 5432\nc: x\nd: $HOME $x");
    }

    #[test]
    fn a_missing_variable_names_the_line() {
        let e = interpolate("a: 1\nb: 2\nc: ${NOPE}\n", "app.yaml", &env).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(e.message().starts_with("app.yaml:3:"), "{e}");
        assert!(e.message().contains("NOPE"));
        assert!(interpolate("x: ${OPEN", "f", &env).is_err());
        assert!(interpolate("x: ${a b}", "f", &env).is_err());
    }
}
