//! Names given on the command line: checked once, then spelled the way each language wants them
//! (`order-service` is `order_service` in Python, `OrderService` as a class).

/// A checked name and its spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    /// As typed.
    pub(crate) raw: String,
    words: Vec<String>,
}

/// Words no template can use as a name: they would shadow a language keyword or a package the
/// generated code imports.
const RESERVED: &[&str] = &[
    "omnitron",
    "test",
    "tests",
    "src",
    "lib",
    "main",
    "std",
    "core",
    "self",
    "super",
    "crate",
    "class",
    "def",
    "import",
    "from",
    "async",
    "await",
    "return",
    "type",
    "mod",
    "fn",
    "struct",
    "enum",
    "impl",
    "new",
    "delete",
    "default",
    "node_modules",
    "target",
    "build",
    "dist",
];

impl Name {
    /// Checks `raw`: a letter, then letters, digits, `-` or `_`; at most 64 characters; words
    /// separated by one `-` or `_`; not a reserved word.
    pub(crate) fn parse(raw: &str, what: &str) -> Result<Name, String> {
        let bad = |why: &str| {
            Err(format!(
                "'{raw}' is not a valid {what} name: {why} (use letters, digits, '-' and '_', starting with a letter, e.g. order-service)"
            ))
        };
        if raw.is_empty() {
            return bad("it is empty");
        }
        if raw.len() > 64 {
            return bad("it is longer than 64 characters");
        }
        if !raw.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return bad("it must start with a letter");
        }
        if let Some(c) = raw.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return bad(&format!("'{c}' is not allowed"));
        }
        if raw.ends_with(['-', '_'])
            || raw.contains("--")
            || raw.contains("__")
            || raw.contains("-_")
            || raw.contains("_-")
        {
            return bad("words are separated by a single '-' or '_'");
        }
        let words = split_words(raw);
        let snake = words.join("_");
        if RESERVED.contains(&snake.as_str()) {
            return bad(&format!("'{snake}' is reserved"));
        }
        Ok(Name { raw: raw.to_string(), words })
    }

    /// `order-service`.
    pub(crate) fn kebab(&self) -> String {
        self.words.join("-")
    }

    /// `order_service`.
    pub(crate) fn snake(&self) -> String {
        self.words.join("_")
    }

    /// `OrderService`.
    pub(crate) fn pascal(&self) -> String {
        self.words.iter().map(|w| capitalize(w)).collect()
    }

    /// `orderService`.
    pub(crate) fn camel(&self) -> String {
        let p = self.pascal();
        let mut c = p.chars();
        c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
    }
}

/// `orderService`, `OrderService`, `order_service` and `order-service` are the same two words.
fn split_words(raw: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = raw.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == '_' {
            words.push(std::mem::take(&mut cur));
            continue;
        }
        let boundary = c.is_ascii_uppercase()
            && !cur.is_empty()
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()));
        if boundary {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c.to_ascii_lowercase());
    }
    words.push(cur);
    words.retain(|w| !w.is_empty());
    words
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// The candidate closest to `given`, when it is close enough to be a typo.
pub(crate) fn closest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        for raw in ["order-service", "order_service", "OrderService", "orderService"] {
            let n = Name::parse(raw, "service").unwrap();
            assert_eq!(
                (n.kebab(), n.snake(), n.pascal(), n.camel()),
                (
                    "order-service".into(),
                    "order_service".into(),
                    "OrderService".into(),
                    "orderService".into()
                ),
                "{raw}"
            );
        }
        let n = Name::parse("HTTPGateway2", "service").unwrap();
        assert_eq!(n.snake(), "http_gateway2");
        assert_eq!(Name::parse("app", "project").unwrap().pascal(), "App");
    }

    #[test]
    fn invalid_names_say_why() {
        for (raw, why) in [
            ("", "it is empty"),
            ("1app", "must start with a letter"),
            ("my app", "' ' is not allowed"),
            ("../x", "must start with a letter"),
            ("a/b", "'/' is not allowed"),
            ("a--b", "single"),
            ("app-", "single"),
            ("class", "reserved"),
            ("Omnitron", "reserved"),
        ] {
            let e = Name::parse(raw, "project").unwrap_err();
            assert!(e.contains(why), "{raw}: {e}");
        }
        assert!(Name::parse(&"a".repeat(65), "project").unwrap_err().contains("64"));
    }

    #[test]
    fn typos_are_matched() {
        assert_eq!(closest("pyhton", &["ts", "python", "rust"]), Some("python"));
        assert_eq!(closest("go", &["ts", "python", "rust"]), None);
    }
}
