//! The files of `core/src/rpc` import one another in one direction only: no circle. A file
//! depends on another when its code names it, `super::conn::Conn`, `use super::{conn, table}` or
//! `crate::rpc::conn`, or names an item `rpc/mod.rs` re-exports from it (`super::Reply` is
//! `deferred.rs`). Comments and string literals do not count (a doc link is not a dependency),
//! nor do the `#[cfg(test)]` modules at the end of a file (their `super::` is the file itself).
//!
//! Run with `--nocapture` to see the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `src` without comments, string and char literals (each replaced by a space).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(hashes) = raw_string_start(rest) {
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            i += body + rest[body..].find(&close).map_or(rest.len() - body, |e| e + close.len());
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if b[i] == b'\'' && (rest.starts_with("'\\") || rest.chars().nth(2) == Some('\'')) {
            // A char literal ('a', '\n', '"'); anything else after a quote is a lifetime.
            i += 1 + rest[1..].find('\'').map_or(0, |e| e + 1);
            if rest.starts_with("'\\'") {
                i += 1;
            }
        } else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        out.push(' ');
    }
    out
}

/// The number of `#` of a raw string starting here (`r"`, `r#"`, `br"`), if one does.
fn raw_string_start(s: &str) -> Option<usize> {
    let s = s.strip_prefix('b').unwrap_or(s).strip_prefix('r')?;
    let hashes = s.len() - s.trim_start_matches('#').len();
    s[hashes..].starts_with('"').then_some(hashes)
}

fn ident_at(s: &str) -> &str {
    let s = s.trim_start();
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The first path segment of every item a path names after `prefix::`: `{a::X, b}` gives a and b.
fn first_segments(after: &str) -> Vec<&str> {
    let after = after.trim_start();
    let Some(group) = after.strip_prefix('{') else {
        return vec![ident_at(after)];
    };
    let mut depth = 0;
    let mut start = 0;
    let mut out = Vec::new();
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(ident_at(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(ident_at(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

/// The rpc files a file's code names (itself left out).
fn deps(code: &str, modules: &BTreeSet<String>, reexports: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for prefix in ["super::", "crate::rpc::"] {
        for (at, _) in code.match_indices(prefix) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `a::super::` or `omnitron::crate...`: not this path.
            }
            for seg in first_segments(&code[at + prefix.len()..]) {
                if modules.contains(seg) {
                    out.insert(seg.to_string());
                } else if let Some(m) = reexports.get(seg) {
                    out.insert(m.clone());
                }
            }
        }
    }
    out
}

/// The items `mod.rs` re-exports (`pub use conn::X;`, `pub(crate) use a::{X, Y};`), by the module
/// they come from.
fn reexports(mod_rs: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let code = code_only(mod_rs);
    for stmt in code.split(';') {
        let stmt = stmt.trim();
        let Some(path) = stmt.strip_prefix("pub use ").or_else(|| stmt.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let Some((module, items)) = path.split_once("::") else { continue };
        let items = items.trim().trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = item.rsplit("::").next().unwrap_or("").trim();
            let name = name.rsplit(" as ").next().unwrap_or(name).trim();
            if !name.is_empty() {
                out.insert(name.to_string(), module.trim().to_string());
            }
        }
    }
    out
}

fn graph(dir: &Path) -> Graph {
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("core/src/rpc") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("a file name").to_string();
            sources.insert(stem, std::fs::read_to_string(&path).expect("readable"));
        }
    }
    let mod_rs = sources.remove("mod").expect("rpc/mod.rs");
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let reexports = reexports(&mod_rs);
    let mut g = Graph::new();
    for (name, src) in &sources {
        let src = src.split("\n#[cfg(test)]\nmod ").next().unwrap_or(src);
        let mut d = deps(&code_only(src), &modules, &reexports);
        d.remove(name);
        g.insert(name.clone(), d);
    }
    g
}

/// A circle in `g`, as the files along it (the first repeated at the end), if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    // 0: not seen, 1: on the current path, 2: done (no circle through it).
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|p| p == m).expect("on the path");
                    let mut cycle = path[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, g, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn rpc_files_import_one_way() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rpc"));
    for (file, deps) in &g {
        println!("{file}.rs -> {}", deps.iter().map(String::as_str).collect::<Vec<_>>().join(", "));
    }
    // The parser sees the imports at all (a broken one would find no circle in an empty graph).
    assert!(g.get("conn").is_some_and(|d| d.contains("codec")), "conn.rs imports codec.rs");
    assert!(g.get("peer").is_some_and(|d| d.contains("state")), "peer.rs imports state.rs");
    if let Some(cycle) = find_cycle(&g) {
        panic!("an import circle among core/src/rpc's files: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_check_finds_circles() {
    let modules: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let reexports: BTreeMap<String, String> = [("Thing".to_string(), "c".to_string())].into();
    let code = |s: &str| deps(&code_only(s), &modules, &reexports);
    assert_eq!(code("use super::{b::X, c};"), ["b", "c"].iter().map(|s| s.to_string()).collect());
    assert_eq!(code("let x = super::Thing::new();"), ["c"].iter().map(|s| s.to_string()).collect());
    assert_eq!(code("let y = crate::rpc::b::f();"), ["b"].iter().map(|s| s.to_string()).collect());
    assert!(code("// use super::b;\nlet s = \"super::b\"; let c = '\"'; /* super::c */").is_empty());
    let mut g = Graph::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&g), None);
    g.insert("c".into(), ["a".to_string()].into());
    assert_eq!(find_cycle(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
