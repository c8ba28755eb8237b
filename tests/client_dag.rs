//! The client's modules form a DAG: no module depends, directly or through others, on a
//! module that depends on it. The check reads `src/client` itself: every path that leaves
//! a module (`super::x`, `crate::client::x`, a name the client re-exports at the crate root,
//! and in `mod.rs` its children and its re-exported names) is an edge to the module that
//! defines the name, and the graph must have no cycle. Names it cannot place fail the test,
//! so a new kind of path cannot slip past it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The node of items defined in `client/mod.rs` itself (Client, Config, ...).
const ROOT: &str = "mod";

/// The source with comments and the contents of string and char literals blanked out
/// (newlines kept), so that only code is scanned.
fn code_only(source: &str) -> String {
    let bytes: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i] == '/' && bytes.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if bytes[i] == '*' && bytes.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(bytes[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_char(out.chars().last()) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while bytes.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if bytes.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            j += 1;
            loop {
                if j >= bytes.len() {
                    break;
                }
                if bytes[j] == '"' && (0..hashes).all(|k| bytes.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(bytes[j]));
                j += 1;
            }
            out.push('"');
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                if bytes[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < bytes.len() {
                    out.push(blank(bytes[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let end = (i + 2..bytes.len()).find(|&k| bytes[k] == '\'').unwrap_or(bytes.len() - 1);
                out.push_str("' '");
                i = end + 1;
            } else if bytes.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Reads an identifier starting at `at`.
fn ident_at(code: &[char], at: usize) -> Option<(String, usize)> {
    let mut end = at;
    while end < code.len() && (code[end].is_alphanumeric() || code[end] == '_') {
        end += 1;
    }
    (end > at).then(|| (code[at..end].iter().collect(), end))
}

fn skip_space(code: &[char], mut at: usize) -> usize {
    while at < code.len() && code[at].is_whitespace() {
        at += 1;
    }
    at
}

/// The first segment of each path in a `{a, b::c, d as e}` group starting at `at` (the `{`).
fn group_heads(code: &[char], at: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    let mut i = at;
    while i < code.len() {
        match code[i] {
            '{' => {
                depth += 1;
                expect_head = depth == 1;
                i += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                i += 1;
            }
            ',' if depth == 1 => {
                expect_head = true;
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let (word, end) = ident_at(code, i).expect("an identifier");
                if expect_head && depth == 1 {
                    heads.push(word);
                    expect_head = false;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    heads
}

/// How the client's names are placed: its modules, what `mod.rs` re-exports (name to the
/// module that defines it), what `mod.rs` itself defines, and what the crate root
/// re-exports from the client.
struct Names {
    modules: BTreeSet<String>,
    reexports: BTreeMap<String, String>,
    root_items: BTreeSet<String>,
    crate_reexports: BTreeSet<String>,
}

/// Every `pub use`/`pub(crate) use` statement of `code`, as (start, end) offsets.
fn use_statements(code: &str, prefix: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = code[from..].find(prefix).map(|i| i + from) {
        let end = code[start..].find(';').map_or(code.len(), |i| start + i + 1);
        found.push((start, end));
        from = end;
    }
    found
}

/// The names a `use x::{A, B as C, ...};` statement brings in, with `x`.
fn used_names(statement: &str) -> Option<(String, Vec<String>)> {
    let path = statement.split_once("use ")?.1.trim_end_matches(';').trim();
    let (module, rest) = path.split_once("::")?;
    let rest = rest.trim();
    let items: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
        group
            .trim_end_matches('}')
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        vec![rest.to_owned()]
    };
    let names = items
        .iter()
        .map(|item| {
            item.rsplit(" as ").next().unwrap_or(item).rsplit("::").next().unwrap_or(item).trim().to_owned()
        })
        .collect();
    Some((module.trim().to_owned(), names))
}

fn names(client: &Path, lib: &str) -> Names {
    let mut modules = BTreeSet::new();
    for entry in fs::read_dir(client).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            assert!(path.join("mod.rs").exists(), "{path:?} has no mod.rs");
            modules.insert(stem);
        } else if stem != "mod" {
            modules.insert(stem);
        }
    }
    let root = code_only(&fs::read_to_string(client.join("mod.rs")).unwrap());
    let mut reexports = BTreeMap::new();
    for prefix in ["pub use ", "pub(crate) use "] {
        for (start, end) in use_statements(&root, prefix) {
            let (module, names) = used_names(&root[start..end]).expect("a use statement");
            assert!(modules.contains(&module), "mod.rs re-exports from {module:?}, which is not a module");
            for name in names {
                reexports.insert(name, module.clone());
            }
        }
    }
    let mut root_items = BTreeSet::new();
    for line in root.lines() {
        let words: Vec<&str> = line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '!')).collect();
        for pair in words.windows(2) {
            if ["struct", "enum", "fn", "const", "static", "type", "trait", "macro_rules!"].contains(&pair[0])
            {
                root_items.insert(pair[1].to_owned());
            }
        }
    }
    let lib = code_only(lib);
    let mut crate_reexports = BTreeSet::new();
    for (start, end) in use_statements(&lib, "pub use client::") {
        crate_reexports.extend(used_names(&lib[start..end]).expect("a use statement").1);
    }
    Names { modules, reexports, root_items, crate_reexports }
}

impl Names {
    /// The node a name at the client's root belongs to.
    fn place(&self, name: &str, file: &Path) -> String {
        if self.modules.contains(name) {
            name.to_owned()
        } else if let Some(module) = self.reexports.get(name) {
            module.clone()
        } else if self.root_items.contains(name) {
            ROOT.to_owned()
        } else {
            panic!("{file:?}: cannot place client name {name:?}");
        }
    }
}

/// The files of the client, each with its module path below `client` (empty for mod.rs).
fn files(client: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut found = Vec::new();
    let mut stack = vec![(client.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, path)) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().path();
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            if file.is_dir() {
                stack.push((file, [path.clone(), vec![stem]].concat()));
            } else if stem == "tests" {
                // A module of unit tests: not part of the library's graph.
            } else if stem == "mod" {
                found.push((file, path.clone()));
            } else {
                found.push((file, [path.clone(), vec![stem]].concat()));
            }
        }
    }
    found.sort();
    found
}

/// The edges out of one file: (its node, the node it uses).
fn edges_of(file: &Path, module: &[String], names: &Names) -> BTreeSet<(String, String)> {
    let source = fs::read_to_string(file).unwrap();
    let code: Vec<char> = code_only(&source).chars().collect();
    let node = module.first().cloned().unwrap_or_else(|| ROOT.to_owned());
    let is_client_root = module.is_empty();
    // In mod.rs, `mod` declarations and re-exports are the module's face, not uses.
    let text: String = code.iter().collect();
    let mut facade = Vec::new();
    if is_client_root {
        for prefix in ["pub use ", "pub(crate) use ", "mod "] {
            facade.extend(use_statements(&text, prefix));
        }
    }
    let in_facade = |at: usize| facade.iter().any(|&(start, end)| (start..end).contains(&at));
    let mut edges = BTreeSet::new();
    let mut add = |to: String| {
        if to != node {
            edges.insert((node.clone(), to));
        }
    };
    // Inline modules: (name, brace depth at which it opened); `mod tests { .. }` is skipped.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut skip_until: Option<usize> = None;
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            if skip_until == Some(depth) {
                skip_until = None;
            }
            if inline.last().is_some_and(|&(_, at)| at == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if skip_until.is_some()
            || !(c.is_alphanumeric() || c == '_')
            || ident_char(i.checked_sub(1).map(|p| code[p]))
        {
            i += 1;
            continue;
        }
        let (word, end) = ident_at(&code, i).unwrap();
        let preceded_by_path = i >= 2 && code[i - 1] == ':' && code[i - 2] == ':';
        if word == "mod" {
            let at = skip_space(&code, end);
            if let Some((name, after)) = ident_at(&code, at) {
                let after = skip_space(&code, after);
                if code.get(after) == Some(&'{') {
                    if name == "tests" {
                        skip_until = Some(depth + 1);
                    } else {
                        inline.push((name, depth + 1));
                    }
                }
            }
            i = end;
            continue;
        }
        if preceded_by_path {
            i = end;
            continue;
        }
        // The module path this use resolves from, and the segments that follow.
        let mut here: Vec<String> =
            module.iter().cloned().chain(inline.iter().map(|(name, _)| name.clone())).collect();
        let mut at = end;
        let resolved = match word.as_str() {
            "super" => {
                let mut supers = 1;
                loop {
                    if code.get(at) == Some(&':') && code.get(at + 1) == Some(&':') {
                        if let Some((next, next_end)) = ident_at(&code, at + 2) {
                            if next == "super" {
                                supers += 1;
                                at = next_end;
                                continue;
                            }
                        }
                    }
                    break;
                }
                for _ in 0..supers {
                    assert!(here.pop().is_some(), "{file:?}: super:: beyond the client");
                }
                Some(here)
            }
            "crate" => {
                if code.get(at) == Some(&':') && code.get(at + 1) == Some(&':') {
                    match ident_at(&code, at + 2) {
                        Some((next, next_end)) if next == "client" => {
                            at = next_end;
                            Some(Vec::new())
                        }
                        Some((next, _)) if names.crate_reexports.contains(&next) => {
                            add(names.place(&next, file));
                            None
                        }
                        _ => None,
                    }
                } else {
                    None
                }
            }
            _ if is_client_root && !in_facade(i) => {
                // mod.rs names its children and its own re-exports directly.
                if names.modules.contains(&word)
                    && code.get(end) == Some(&':')
                    && code.get(end + 1) == Some(&':')
                {
                    add(word.clone());
                } else if names.reexports.contains_key(&word) {
                    add(names.place(&word, file));
                }
                None
            }
            _ => None,
        };
        if let Some(target) = resolved {
            if target.is_empty() {
                // At the client's root: the next segment, or each head of a group.
                if code.get(at) == Some(&':') && code.get(at + 1) == Some(&':') {
                    let next = skip_space(&code, at + 2);
                    if code.get(next) == Some(&'{') {
                        for head in group_heads(&code, next) {
                            add(names.place(&head, file));
                        }
                    } else if code.get(next) == Some(&'*') {
                        panic!("{file:?}: a glob import from the client's root hides its edges");
                    } else if let Some((name, _)) = ident_at(&code, next) {
                        add(names.place(&name, file));
                    }
                }
            } else {
                add(target[0].clone());
            }
        }
        i = at.max(end);
    }
    edges
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let start = path.iter().position(|n| n == next).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

fn client_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let client = root.join("src/client");
    let lib = fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let names = names(&client, &lib);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in names.modules.iter().chain([&ROOT.to_owned()]) {
        graph.entry(module.clone()).or_default();
    }
    for (file, module) in files(&client) {
        for (from, to) in edges_of(&file, &module, &names) {
            graph.entry(from).or_default().insert(to);
        }
    }
    graph
}

/// The modules by layer: each uses only modules of lower layers (leaves are layer 0).
fn layers(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut layer: BTreeMap<String, usize> = BTreeMap::new();
    // Bounded: a DAG of n nodes settles in n rounds.
    for _ in 0..=graph.len() {
        for (node, uses) in graph {
            let level = uses.iter().map(|used| layer.get(used).map_or(0, |l| l + 1)).max().unwrap_or(0);
            layer.insert(node.clone(), level);
        }
    }
    let mut by_layer = vec![Vec::new(); layer.values().max().map_or(0, |top| top + 1)];
    for (node, level) in layer {
        by_layer[level].push(node);
    }
    by_layer
}

#[test]
fn the_client_modules_form_a_dag() {
    let graph = client_graph();
    if let Some(cycle) = find_cycle(&graph) {
        let edges: Vec<String> = graph.iter().map(|(from, to)| format!("{from} -> {to:?}")).collect();
        panic!("import cycle among client modules: {}\n{}", cycle.join(" -> "), edges.join("\n"));
    }
    // `COURIER_DAG=1 cargo test --test client_dag -- --nocapture` shows the layers (the
    // map in ARCHITECTURE.md comes from it).
    if std::env::var_os("COURIER_DAG").is_some() {
        for (level, modules) in layers(&graph).iter().enumerate() {
            println!("layer {level}: {}", modules.join(", "));
        }
    }
}

#[test]
fn shared_code_does_not_reach_into_the_client() {
    // The codec, the connection and the TLS settings serve both roles: a path from them
    // into the client would be a ring through the crate (as the TLS pool tag was).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut shared: Vec<PathBuf> = ["io.rs", "tls.rs", "error.rs", "date.rs", "percent.rs", "base64.rs"]
        .iter()
        .map(|file| root.join(file))
        .collect();
    shared.extend(fs::read_dir(root.join("h1")).unwrap().map(|entry| entry.unwrap().path()));
    for file in shared {
        let code = code_only(&fs::read_to_string(&file).unwrap());
        assert!(!code.contains("crate::client"), "{file:?} uses the client");
    }
}

#[test]
fn the_check_sees_the_imports_it_judges() {
    let graph = client_graph();
    let uses = |from: &str, to: &str| graph.get(from).is_some_and(|edges| edges.contains(to));
    // A `use super::x::y`, a grouped `use super::{..}`, a name through mod.rs's
    // re-exports, an item of mod.rs itself, and a child named by mod.rs.
    assert!(uses("run", "driver"), "{graph:?}");
    assert!(uses("driver", "exchange"));
    assert!(uses("run", ROOT), "run uses Config");
    assert!(uses("pool", "events"));
    assert!(uses(ROOT, "pool"), "mod.rs holds the Pool");
    assert!(graph.len() >= 25, "only {} modules found", graph.len());
    // And it finds a ring when there is one.
    let mut ring = graph.clone();
    ring.entry("exchange".into()).or_default().insert("run".into());
    assert!(find_cycle(&ring).is_some());
}

#[test]
fn code_only_blanks_comments_and_literals() {
    let code = code_only(
        "let a = \"super::x\"; // super::y\nlet b = 'c'; /* crate::client::z */ let c = r#\"super::w\"#;",
    );
    assert!(!code.contains("super") && !code.contains("crate"), "{code}");
    assert!(code.contains("let b") && code.contains("let c"));
}
