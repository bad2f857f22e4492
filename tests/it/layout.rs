//! The house rules, checked on the source tree: layers use only the layers below them
//! (`protocol/README.md`, "Layout"), no `use` circle between the files of a layer, one
//! runtime seam, small files and functions, and nothing read from outside the repository.
//!
//! The checks read `src/` as text: `use` trees and `crate::`/`super::` paths in code, with
//! comments and string literals left out. Re-exports in a module's root file (`pub use` in
//! `mod.rs` or a file with a folder of children) are followed to the file that defines the
//! name, so a path through a re-export counts as a use of the defining file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// No file in `src/` longer than this (lines): past it, a file holds more than one job.
const MAX_FILE_LINES: usize = 700;
/// No function longer than this (lines, signature to closing brace).
const MAX_FN_LINES: usize = 120;

/// Who may use whom: a layer (the first path segment under `crate::`) and the layers it
/// may name besides itself. `cli` is the binary's and may use everything, so it is absent.
const LAYERS: &[(&str, &[&str])] = &[
    ("proto", &[]),
    ("core", &["proto"]),
    ("topology", &[]), // std and rand only
    ("library", &["proto", "core"]),
    ("sim", &["core", "proto", "topology"]),
    ("rt", &[]),
    (
        "net",
        &["core", "proto", "rt", "library", "topology", "http"],
    ),
    ("http", &["rt", "library"]),
    ("download", &["rt", "http", "library"]),
    (
        "ui",
        &[
            "net", "download", "sim", "rt", "http", "library", "core", "proto",
            // The compare endpoint parses and bounds a topology before the simulator runs
            // on it, as `servent compare` does.
            "topology",
        ],
    ),
];

/// Layers whose files must not `use` each other in a circle.
const ACYCLIC: &[&str] = &[
    "net", "http", "core", "download", "sim", "topology", "proto",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            if e.is_dir() {
                stack.push(e);
            } else if e.extension().is_some_and(|x| x == "rs") {
                out.push(e);
            }
        }
    }
    out.sort();
    out
}

/// The source with comments and the contents of string and char literals blanked out
/// (newlines kept, so line numbers stay).
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'"') | Some(b'#')) && !ident(b, i) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == b'"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&b'#')) {
                    j += 1 + hashes;
                    break;
                }
                if b[j] == b'\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let close = if b.get(i + 1) == Some(&b'\\') {
                (i + 2..b.len().min(i + 12)).find(|&k| b[k] == b'\'')
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(k) => {
                    out.push_str("' '");
                    i = k + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

/// The (stripped) source without its `#[cfg(test)] mod ... { }` blocks: unit tests may use
/// whatever they test with, so they are not part of a file's dependencies.
fn without_test_modules(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find("#[cfg(test)]") {
        let after = &rest[k + "#[cfg(test)]".len()..];
        let t = after.trim_start();
        let is_mod = t.starts_with("mod ") || t.starts_with("pub mod ");
        let open = after.find('{');
        let semi = after.find(';');
        let (true, Some(open)) = (is_mod, open) else {
            out.push_str(&rest[..k + 1]);
            rest = &rest[k + 1..];
            continue;
        };
        if semi.is_some_and(|s| s < open) {
            // `#[cfg(test)] mod tests;`: its file is a test file of its own.
            out.push_str(&rest[..k + 1]);
            rest = &rest[k + 1..];
            continue;
        }
        out.push_str(&rest[..k]);
        let mut depth = 0;
        let mut end = after.len();
        for (i, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        // Keep the line count.
        out.extend(after[..end].chars().filter(|&c| c == '\n'));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Whether the byte before `i` continues an identifier (so `r` at `i` is not a raw prefix).
fn ident(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// A source file's module path (`["net", "link"]` for `src/net/link.rs`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The file that defines module `path`, if there is one.
fn module_file(src: &Path, path: &[String]) -> Option<PathBuf> {
    if path.is_empty() {
        return Some(src.join("lib.rs"));
    }
    let base: PathBuf = path.iter().collect();
    let flat = src.join(&base).with_extension("rs");
    let nested = src.join(&base).join("mod.rs");
    [flat, nested].into_iter().find(|p| p.exists())
}

/// Whether a file is a module root: it has a folder of child modules or is `mod.rs`/`lib.rs`.
fn is_module_root(file: &Path) -> bool {
    let name = file.file_name().unwrap().to_string_lossy();
    name == "mod.rs" || name == "lib.rs" || file.with_extension("").is_dir()
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into full paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn go(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if s.is_empty() {
            return;
        }
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            let inner = &s[open + 1..s.rfind('}').unwrap_or(s.len())];
            let mut p = prefix.to_vec();
            p.extend(head);
            let mut depth = 0;
            let mut start = 0;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&p, &inner[start..k], out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            go(&p, &inner[start..], out);
        } else {
            let s = s.split(" as ").next().unwrap_or(s);
            let mut p = prefix.to_vec();
            p.extend(s.split("::").map(|x| x.trim().to_owned()));
            out.push(p);
        }
    }
    let mut out = Vec::new();
    go(&[], tree, &mut out);
    out
}

/// One parsed source file.
struct SourceFile {
    module: Vec<String>,
    /// Paths it names, each with whether it came from a re-exporting `pub use` in a root file.
    paths: Vec<(Vec<String>, bool)>,
    /// Names a root file re-exports: name -> the path it re-exports.
    reexports: BTreeMap<String, Vec<String>>,
}

fn parse(src: &Path, file: &Path) -> SourceFile {
    let rel = file.strip_prefix(src).unwrap();
    let module = module_of(rel);
    let text = without_test_modules(&strip(&fs::read_to_string(file).unwrap()));
    let root_file = is_module_root(file);
    let mut paths = Vec::new();
    let mut reexports = BTreeMap::new();
    // `use` statements (possibly over several lines).
    let mut rest = text.as_str();
    while let Some(k) = find_use(rest) {
        let after = &rest[k..];
        let public = after.starts_with("pub");
        let body_start = after.find("use ").unwrap() + 4;
        let end = after[body_start..]
            .find(';')
            .map_or(after.len(), |e| body_start + e);
        for p in expand_use(&after[body_start..end]) {
            let full = absolute(&module, root_file, &p);
            if let Some(full) = full {
                if public && root_file {
                    let name = p.last().unwrap().clone();
                    reexports.insert(name, full.clone());
                }
                paths.push((full, public && root_file));
            }
        }
        rest = &after[end.min(after.len())..];
    }
    // Paths written in code: crate::a::b, super::a::b.
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(k) = text[from..].find(start) {
            let at = from + k;
            from = at + start.len();
            if at > 0 {
                let prev = text.as_bytes()[at - 1];
                if prev.is_ascii_alphanumeric() || prev == b'_' || prev == b':' {
                    continue;
                }
            }
            let tail: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segs: Vec<String> = tail
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(full) = absolute(&module, root_file, &segs) {
                paths.push((full, false));
            }
        }
    }
    SourceFile {
        module,
        paths,
        reexports,
    }
}

/// The offset of the next `use` statement at the start of a line (after `pub`/`pub(crate)`).
fn find_use(text: &str) -> Option<usize> {
    let mut off = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let lead = line.len() - t.len();
        let t2 = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub(super) "))
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        if t2.starts_with("use ") {
            return Some(off + lead);
        }
        off += line.len();
    }
    None
}

/// Resolves `crate::`, `super::` and `self::` in a path to a path from the crate root;
/// `None` for paths into other crates.
fn absolute(module: &[String], root_file: bool, p: &[String]) -> Option<Vec<String>> {
    let first = p.first()?.as_str();
    // A file's own module; `super` of a non-root file is its folder's module.
    let here: Vec<String> = module.to_vec();
    match first {
        "crate" => Some(p[1..].to_vec()),
        "self" => {
            let mut v = here;
            v.extend_from_slice(&p[1..]);
            Some(v)
        }
        "super" => {
            let mut v = here;
            let mut k = 0;
            while p.get(k).is_some_and(|s| s == "super") {
                v.pop()?;
                k += 1;
            }
            v.extend_from_slice(&p[k..]);
            Some(v)
        }
        // A path relative to the current module (`use link::Foo` in a root file).
        _ if root_file && p.len() > 1 => {
            let mut v = here;
            v.extend_from_slice(p);
            Some(v)
        }
        _ => None,
    }
}

/// The file that defines what `path` names, following root files' re-exports.
fn defining_file(
    src: &Path,
    files: &BTreeMap<PathBuf, SourceFile>,
    path: &[String],
) -> Option<PathBuf> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        // The longest prefix that is a module file.
        let (len, file) = (0..=path.len())
            .rev()
            .find_map(|n| module_file(src, &path[..n]).map(|f| (n, f)))?;
        let Some(name) = path.get(len) else {
            return Some(file);
        };
        match files.get(&file).and_then(|f| f.reexports.get(name)) {
            Some(target) if target.as_slice() != path.as_slice() => {
                let mut next = target.clone();
                next.extend_from_slice(&path[len + 1..]);
                path = next;
            }
            _ => return Some(file),
        }
    }
    None
}

fn all_sources() -> (PathBuf, BTreeMap<PathBuf, SourceFile>) {
    let src = root().join("src");
    let files = rust_files(&src)
        .into_iter()
        .map(|f| {
            let parsed = parse(&src, &f);
            (f, parsed)
        })
        .collect();
    (src, files)
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn layers_use_only_the_layers_below_them() {
    let (_, files) = all_sources();
    let mut bad = Vec::new();
    for (file, f) in &files {
        let Some(layer) = f.module.first() else {
            continue;
        };
        let Some((_, allowed)) = LAYERS.iter().find(|(l, _)| l == layer) else {
            continue;
        };
        for (p, _) in &f.paths {
            let Some(target) = p.first() else { continue };
            let known = LAYERS.iter().any(|(l, _)| l == target) || target == "cli";
            if known && target != layer && !allowed.contains(&target.as_str()) {
                bad.push(format!("{} uses crate::{}", rel(file), p.join("::")));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "layer rule broken:\n{}", bad.join("\n"));
}

/// The `use` graph between the files of one layer.
fn file_graph(layer: &str) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let (src, files) = all_sources();
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (file, f) in &files {
        if f.module.first().map(String::as_str) != Some(layer) {
            continue;
        }
        let edges = graph.entry(file.clone()).or_default();
        for (p, reexport) in &f.paths {
            if *reexport || p.first().map(String::as_str) != Some(layer) {
                continue;
            }
            if let Some(target) = defining_file(&src, &files, p) {
                if &target != file {
                    edges.insert(target);
                }
            }
        }
    }
    graph
}

/// A circle in `graph`, if any (as the list of files around it).
fn find_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        mark: &mut BTreeMap<PathBuf, Mark>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        mark.insert(n.clone(), Mark::Open);
        stack.push(n.clone());
        for m in graph.get(n).into_iter().flatten() {
            match mark.get(m).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(m, graph, mark, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark.insert(n.clone(), Mark::Done);
        None
    }
    let mut mark = BTreeMap::new();
    for n in graph.keys() {
        if mark.get(n).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(n, graph, &mut mark, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_import_circle_within_a_layer() {
    let mut bad = Vec::new();
    for layer in ACYCLIC {
        if let Some(cycle) = find_cycle(&file_graph(layer)) {
            let names: Vec<String> = cycle.iter().map(|p| rel(p)).collect();
            bad.push(format!("{layer}: {}", names.join(" -> ")));
        }
    }
    assert!(bad.is_empty(), "import circles:\n{}", bad.join("\n"));
}

#[test]
fn the_cycle_check_finds_a_circle() {
    let a = PathBuf::from("a.rs");
    let b = PathBuf::from("b.rs");
    let c = PathBuf::from("c.rs");
    let mut g = BTreeMap::new();
    g.insert(a.clone(), BTreeSet::from([b.clone()]));
    g.insert(b.clone(), BTreeSet::from([c.clone()]));
    g.insert(c.clone(), BTreeSet::new());
    assert_eq!(find_cycle(&g), None);
    g.get_mut(&c).unwrap().insert(a.clone());
    assert_eq!(find_cycle(&g), Some(vec![a.clone(), b, c, a]));
}

#[test]
fn use_trees_expand_and_strings_are_not_code() {
    let got = expand_use("super::{a::{B, C}, d as e, self}");
    let want: Vec<Vec<String>> = [
        vec!["super", "a", "B"],
        vec!["super", "a", "C"],
        vec!["super", "d"],
        vec!["super", "self"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(got, want);
    let s = strip("let x = \"crate::net\"; // crate::http\nlet c = '\"'; crate::core::X");
    assert!(!s.contains("crate::net") && !s.contains("crate::http"));
    assert!(s.contains("crate::core::X"));
    let t = without_test_modules("use a;\n#[cfg(test)]\nmod tests {\n use crate::b;\n}\nuse c;");
    assert_eq!(t, "use a;\n\n\n\n\nuse c;");
}

#[test]
fn only_the_runtime_seam_names_the_runtime() {
    let mut bad = Vec::new();
    for dir in ["src", "tests", "benches"] {
        for f in rust_files(&root().join(dir)) {
            if f == root().join("src/rt.rs") || f == root().join("tests/it/layout.rs") {
                continue;
            }
            let text = strip(&fs::read_to_string(&f).unwrap());
            if text.contains("async_std") {
                bad.push(rel(&f));
            }
        }
    }
    assert!(bad.is_empty(), "async_std named outside src/rt.rs: {bad:?}");
}

#[test]
fn files_and_functions_stay_small() {
    let mut bad = Vec::new();
    for f in rust_files(&root().join("src")) {
        let text = fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > MAX_FILE_LINES {
            bad.push(format!("{}: {} lines", rel(&f), lines.len()));
        }
        if !text.starts_with("//!") {
            bad.push(format!("{}: no //! line saying its job", rel(&f)));
        }
        for (name, n) in long_functions(&strip(&text)) {
            bad.push(format!("{}: fn {name} is {n} lines", rel(&f)));
        }
    }
    assert!(bad.is_empty(), "too big:\n{}", bad.join("\n"));
}

/// Functions longer than [`MAX_FN_LINES`]: from the `fn` line to its body's closing brace.
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let Some(at) = t.find("fn ") else { continue };
        let head = &t[..at];
        let qualifiers_only = head.split_whitespace().all(|w| {
            matches!(w, "pub" | "async" | "const" | "unsafe" | "extern") || w.starts_with("pub(")
        });
        if !qualifiers_only {
            continue;
        }
        let name: String = t[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // Count braces from the signature until the body closes (a `;` first: no body).
        let mut depth = 0i32;
        let mut opened = false;
        let mut end = None;
        'scan: for (j, l) in lines.iter().enumerate().skip(i) {
            for ch in l.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => {
                        depth -= 1;
                        if opened && depth == 0 {
                            end = Some(j);
                            break 'scan;
                        }
                    }
                    ';' if !opened => break 'scan,
                    _ => {}
                }
            }
        }
        if let Some(j) = end {
            let n = j - i + 1;
            if n > MAX_FN_LINES {
                out.push((name, n));
            }
        }
    }
    out
}

#[test]
fn nothing_reads_outside_the_repository() {
    // The folder beside the repository that the project once read its data from (written
    // in two parts so this file does not name it).
    let outside = ["shared", ""].join("/");
    let mut bad = Vec::new();
    let mut files = rust_files(&root().join("src"));
    files.extend(rust_files(&root().join("tests")));
    files.push(root().join("README.md"));
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains(&outside) {
                bad.push(format!("{}:{}: {}", rel(&f), n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "paths outside the repository:\n{}",
        bad.join("\n")
    );
}

#[test]
fn only_the_binary_prints_for_a_person() {
    // Library layers log (`log::info!`) or return values; the binary's `cli` formats output.
    let mut bad = Vec::new();
    for f in rust_files(&root().join("src")) {
        let r = rel(&f);
        if r.starts_with("src/cli/") || r == "src/main.rs" {
            continue;
        }
        let text = without_test_modules(&strip(&fs::read_to_string(&f).unwrap()));
        for (n, line) in text.lines().enumerate() {
            if [
                "println!",
                "print!",
                "eprintln!",
                "eprint!",
                "indicatif",
                "stdout()",
            ]
            .iter()
            .any(|m| line.contains(m))
            {
                bad.push(format!("{r}:{}", n + 1));
            }
        }
    }
    assert!(bad.is_empty(), "printing outside the binary: {bad:?}");
}

#[test]
fn the_docs_name_only_paths_that_exist() {
    // Generated folders (fuzz corpora, build output) are named but not committed.
    let ignored: Vec<String> = fs::read_to_string(root().join(".gitignore"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut bad = Vec::new();
    for doc in [
        "README.md",
        "CONTRIBUTING.md",
        "protocol/README.md",
        "data/README.md",
    ] {
        let text = fs::read_to_string(root().join(doc)).unwrap();
        for word in text.split(|c: char| c.is_whitespace() || "`|()[],;:'\"<>".contains(c)) {
            let top = [
                "src/",
                "tests/",
                "benches/",
                "scripts/",
                "fuzz/",
                "data/",
                "protocol/",
            ];
            if !top.iter().any(|t| word.starts_with(t)) || word.contains('*') {
                continue;
            }
            let path = word.trim_end_matches(['.', '/']);
            let generated = ignored.iter().any(|g| path.starts_with(g.as_str()));
            if !generated && !root().join(path).exists() && !word.ends_with("-") {
                bad.push(format!("{doc}: {path}"));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(
        bad.is_empty(),
        "docs name missing paths:\n{}",
        bad.join("\n")
    );
}
