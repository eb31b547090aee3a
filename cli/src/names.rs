//! Names given on the command line: checked once, then spelled the way each language wants them
//! (`order-service` is `order_service` in Python, `OrderService` as a class).

/// A checked name and its spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    /// As typed.
    pub(crate) raw: String,
    words: Vec<String>,
}

/// Names no project or generated code can take in any language: they are the package, the
/// directories or the test folders the templates use.
const RESERVED: &[&str] = &[
    "omnitron",
    "test",
    "tests",
    "src",
    "lib",
    "main",
    "std",
    "core",
    "node_modules",
    "target",
    "build",
    "dist",
];

/// Python: keywords, the templates' own modules, and the standard library's top-level modules (a
/// project package of that name, first on `sys.path`, would hide the real one).
const PYTHON: &[&str] = &[
    "false",
    "none",
    "true",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "match",
    "case",
    "type",
    "abc",
    "argparse",
    "array",
    "ast",
    "asyncio",
    "base64",
    "binascii",
    "bisect",
    "builtins",
    "calendar",
    "cmd",
    "code",
    "codecs",
    "collections",
    "concurrent",
    "contextlib",
    "copy",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "dis",
    "email",
    "enum",
    "errno",
    "fractions",
    "functools",
    "gc",
    "getpass",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "locale",
    "logging",
    "math",
    "mimetypes",
    "multiprocessing",
    "numbers",
    "operator",
    "os",
    "pathlib",
    "pickle",
    "platform",
    "pprint",
    "profile",
    "queue",
    "random",
    "re",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "site",
    "socket",
    "sqlite3",
    "ssl",
    "stat",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sys",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "token",
    "tokenize",
    "trace",
    "traceback",
    "types",
    "typing",
    "unittest",
    "urllib",
    "uuid",
    "warnings",
    "weakref",
    "xml",
    "zipfile",
    "zlib",
    "pytest",
];

/// Rust (edition 2024): keywords, reserved words and the standard crates.
const RUST: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "async",
    "await",
    "dyn",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "alloc",
    "proc_macro",
];

/// C: keywords and the standard types the names become prefixes of; CMake's reserved targets.
const C: &[&str] = &[
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while", "bool", "true", "false", "all", "clean", "help", "install", "package",
];

/// TypeScript and JavaScript reserved words (the camelCase form of a name is an identifier).
const TS: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "enum",
    "await",
    "implements",
    "package",
    "protected",
    "interface",
    "private",
    "public",
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

    /// Checks the name against what `lang` (`ts`, `python`, `rust`, `c`) reserves: a keyword, a
    /// standard module it would hide, a name the template already uses.
    pub(crate) fn check_for(&self, lang: &str, what: &str) -> Result<(), String> {
        let (list, why) = match lang {
            "python" => (PYTHON, "a Python keyword, a module of the standard library or of the template"),
            "rust" => (RUST, "a Rust keyword or reserved word, or a module of the template"),
            "c" => (C, "a C keyword, a CMake target or a file of the template"),
            "ts" => (TS, "a JavaScript reserved word or a file of the template"),
            _ => return Ok(()),
        };
        let snake = self.snake();
        if list.contains(&snake.as_str()) {
            return Err(format!("'{}' is not a valid {what} name for {lang}: '{snake}' is {why}", self.raw));
        }
        Ok(())
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
            ("Omnitron", "reserved"),
            ("tests", "reserved"),
        ] {
            let e = Name::parse(raw, "project").unwrap_err();
            assert!(e.contains(why), "{raw}: {e}");
        }
        assert!(Name::parse(&"a".repeat(65), "project").unwrap_err().contains("64"));
    }

    #[test]
    fn each_language_refuses_what_would_not_build_or_would_hide_something() {
        let refused = [
            ("python", "lambda"),
            ("python", "with"),
            ("python", "json"),
            ("python", "typing"),
            ("python", "asyncio"),
            ("rust", "loop"),
            ("rust", "gen"),
            ("rust", "match"),
            ("c", "all"),
            ("c", "install"),
            ("c", "int"),
            ("ts", "function"),
            ("ts", "new"),
        ];
        for (lang, raw) in refused {
            let e = Name::parse(raw, "project").unwrap().check_for(lang, "project").unwrap_err();
            assert!(e.contains(&format!("not a valid project name for {lang}")), "{e}");
        }
        for lang in ["python", "rust", "c", "ts"] {
            Name::parse("order-service", "project").unwrap().check_for(lang, "project").unwrap();
            Name::parse("json-api", "project").unwrap().check_for(lang, "project").unwrap();
        }
    }

    #[test]
    fn typos_are_matched() {
        assert_eq!(closest("pyhton", &["ts", "python", "rust"]), Some("python"));
        assert_eq!(closest("go", &["ts", "python", "rust"]), None);
    }
}
