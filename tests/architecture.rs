//! The layering of `src/`, checked from the source itself (ARCHITECTURE.md,
//! "Layers"):
//!
//! - the leaves are the modules named on ARCHITECTURE.md's line
//!   `Leaves (checked by tests/architecture.rs): …` — the one list, read
//!   from there — each exists under `src/` and imports only leaves;
//! - the store imports only leaves, the infrastructure below the services
//!   only what lies beneath it, and the HTTP state never the HTTP modules
//!   (from the `use crate::` paths of every file);
//! - no two top-level modules import each other;
//! - the HTTP modules (`federation`, `admin`, `desk`, `web`) change state
//!   only through services: they name no transition, outbox or outgoing
//!   activity, and call no store writer — the writers found in `src/store/`
//!   itself, as every function whose body holds INSERT, UPDATE or DELETE
//!   SQL, borrows the writer connection, or calls such a function.
//! - admin routes are registered only with their OpenAPI operations.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// The line of ARCHITECTURE.md that lists the leaves.
const LEAVES_LINE: &str = "Leaves (checked by tests/architecture.rs):";

/// The leaves, as ARCHITECTURE.md lists them: every name in backticks on
/// the line that starts with [`LEAVES_LINE`].
fn leaves_in(doc: &str) -> Result<Vec<String>, String> {
    let line = doc
        .lines()
        .find(|line| line.trim_start().starts_with(LEAVES_LINE))
        .ok_or_else(|| format!("ARCHITECTURE.md has no line starting `{LEAVES_LINE}`"))?;
    let listed = &line.trim_start()[LEAVES_LINE.len()..];
    let names: Vec<String> = listed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(format!("`{LEAVES_LINE}` names no module"));
    }
    Ok(names)
}

fn leaves() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    leaves_in(&doc).unwrap_or_else(|why| panic!("{why}"))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_leaves_are_listed_once_and_exist() {
    let leaves = leaves();
    for leaf in &leaves {
        assert!(
            src().join(format!("{leaf}.rs")).is_file() || src().join(leaf).join("mod.rs").is_file(),
            "ARCHITECTURE.md lists the leaf `{leaf}`, which is not a module under src/"
        );
    }
    let unique: BTreeSet<&String> = leaves.iter().collect();
    assert_eq!(unique.len(), leaves.len(), "a leaf is listed twice");
}

#[test]
fn the_leaf_line_is_read_as_written() {
    let doc = "# A\n\nLeaves (checked by tests/architecture.rs): `clock`, `urls`.\n";
    assert_eq!(leaves_in(doc).unwrap(), vec!["clock", "urls"]);
    assert!(leaves_in("Leaves: `clock`").is_err());
    assert!(leaves_in("Leaves (checked by tests/architecture.rs): none").is_err());
}

/// What each lower layer may import besides the leaves.
const ALLOWED: &[(&str, &[&str])] = &[
    ("store", &[]),
    ("ops", &["store"]),
    ("transport", &["ops"]),
    ("delivery", &["ops", "store", "transport"]),
    ("documents", &[]),
    ("instance", &["store"]),
    // The services: the store, the outbox and the document cache, never HTTP.
    ("services", &["delivery", "documents", "store"]),
    // What handlers share: services and caches, never the handlers.
    (
        "state",
        &[
            "delivery",
            "documents",
            "instance",
            "services",
            "store",
            "templates",
            "transport",
        ],
    ),
];

/// Top-level module → the top-level modules its files name after `crate::`.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let src = src();
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap();
        let top = first
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        // Comments may name modules without depending on them.
        let text: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let named = deps.entry(top.clone()).or_default();
        for module in crate_paths(&text) {
            if module != top && module != "main" && module != "lib" {
                named.insert(module);
            }
        }
    }
    deps
}

/// The first segment of every `crate::…` path, including each item of a
/// `use crate::{a::…, b, …}` group.
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(ch);
            }
            found.push(first_segment(&item));
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
        .collect()
}

#[test]
fn leaves_import_only_leaves() {
    let deps = dependencies();
    let leaves = leaves();
    for leaf in &leaves {
        let imported = deps.get(leaf).cloned().unwrap_or_default();
        let wrong: Vec<&String> = imported.iter().filter(|m| !leaves.contains(m)).collect();
        assert!(wrong.is_empty(), "leaf `{leaf}` imports {wrong:?}");
    }
}

#[test]
fn lower_layers_import_only_what_lies_beneath() {
    let deps = dependencies();
    let leaves = leaves();
    for (module, allowed) in ALLOWED {
        let imported = deps.get(*module).cloned().unwrap_or_default();
        let wrong: Vec<&String> = imported
            .iter()
            .filter(|m| !leaves.contains(m) && !allowed.contains(&m.as_str()))
            .collect();
        assert!(wrong.is_empty(), "`{module}` imports {wrong:?}");
    }
}

#[test]
fn no_two_top_level_modules_import_each_other() {
    let deps = dependencies();
    let mut cycles = BTreeSet::new();
    for (a, imported) in &deps {
        for b in imported {
            if a < b && deps.get(b).is_some_and(|back| back.contains(a)) {
                cycles.insert((a.clone(), b.clone()));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "modules importing each other: {cycles:?}"
    );
}

/// The modules that answer HTTP: they change nothing themselves.
const HTTP: &[&str] = &["admin", "desk", "federation", "web"];

/// Every change of state and what it sends goes through a service
/// (ARCHITECTURE.md, "a change and what it sends commit together"): no
/// handler queues an activity or names a store transition.
#[test]
fn handlers_change_state_only_through_services() {
    let mut offenders = Vec::new();
    for module in HTTP {
        for path in rust_files(&src().join(module)) {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for word in ["Transition", "send_all", ".outbox.", "Outgoing"] {
                    if line.contains(word) {
                        offenders.push(format!("{}:{}: {word}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// No handler calls a store function that writes: the HTTP modules read
/// the store directly (pages, documents, counts) but every write goes
/// through a service. The writers are found in `src/store/` (all of it,
/// however it is split into files), not listed by hand.
#[test]
fn handlers_call_no_store_writer() {
    let store: Vec<String> = rust_files(&src().join("store"))
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    let writers = public_writers(store.iter().map(String::as_str));
    // The analysis sees what it must, and not everything.
    assert!(writers.contains("record_received_activity"), "{writers:?}");
    assert!(writers.contains("upsert_remote_actor"), "{writers:?}");
    assert!(!writers.contains("organisation"), "{writers:?}");
    assert!(writers.len() > 20, "{writers:?}");

    let mut offenders = Vec::new();
    for module in HTTP {
        for path in rust_files(&src().join(module)) {
            let text = std::fs::read_to_string(&path).unwrap();
            for (line, name) in store_calls(&text, &writers) {
                offenders.push(format!(
                    "{}:{line}: calls the store writer `{name}`",
                    path.display()
                ));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn writers_are_found_through_helpers_and_calls() {
    let store = r##"
        const FORGET: &str = "DELETE FROM seen WHERE id = $1";
        static MIGRATIONS: sqlx::migrate::Migrator = migrate!("./migrations");
        macro_rules! add { () => { "INSERT INTO seen (id) VALUES ($1)" } }
        impl Store {
            pub async fn read(&self) -> R<()> { on_pool!(self, |p| q("SELECT '{' FROM t")) }
            pub async fn direct(&self) -> R<()> { q("UPDATE t \
                SET a = 1") }
            pub(crate) async fn helper(&self) -> R<()> { on_writer!(self, |p| q(x)) }
            pub async fn migrate(&self) { if let Backend::Sqlite { writer, .. } = &self.0 { m(&mut *writer
                .lend().await?) } }
            pub fn pending(&self) -> Vec<i64> { MIGRATIONS.iter().collect() }
            pub async fn open(&self) -> Self { Backend::Sqlite { readers, writer: writer.clone() } }
            pub async fn through_macro(&self) -> R<()> { q(add!()) }
            pub async fn through_const(&self) -> R<()> { q(FORGET) }
            pub async fn calls(&self, c: char) -> R<()> { let _ = '}'; self.inner().await }
            async fn inner(&self) -> R<()> { q(r#"INSERT INTO "t" VALUES (1)"#) }
            pub(super) async fn hidden(&self) -> R<()> { q("DELETE FROM t") }
            pub async fn locks(&self) -> R<()> { q("SELECT 1 FOR UPDATE SKIP LOCKED") }
            // pub async fn commented(&self) { "DELETE FROM t" }
            pub fn also_read(&self) -> &'static str { "INSERT_CHUNK" }
        }
        #[cfg(test)]
        mod tests {
            async fn also_read() { q("DELETE FROM t") }
        }
        pub async fn free(s: &Store) -> R<()> { s.direct().await }
    "##;
    let writers = public_writers([store]);
    let expected: BTreeSet<String> = [
        "calls",
        "direct",
        "free",
        "helper",
        "migrate",
        "through_const",
        "through_macro",
    ]
    .map(String::from)
    .into();
    assert_eq!(writers, expected);

    let handler = "
        // state.store.direct().await
        let a = state.store.read().await?;
        let b = state
            .store
            .calls('x').await?;
        let c = crate::store::free(&state.store).await?;
        let d = services::follows::free(&services).await?;
        let e = helper(1);
        let f = \".direct(\";
    ";
    assert_eq!(
        store_calls(handler, &writers),
        vec![(6, "calls".to_string()), (7, "free".to_string())]
    );
}

/// SQL that changes rows: what makes a function of the store a writer.
fn writes(sql: &str) -> bool {
    let words: Vec<&str> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .any(|pair| matches!(pair, ["INSERT", "INTO"] | ["DELETE", "FROM"]))
        || words.windows(3).any(|w| w[0] == "UPDATE" && w[2] == "SET")
}

/// The macro that lends SQLite's one writer connection: a function that
/// uses it writes.
const WRITER_HELPERS: &[&str] = &["on_writer!"];

/// Whether `code` borrows SQLite's writer connection itself
/// (`Backend::Sqlite { writer, .. }`, then `writer.lend()` or
/// `writer.transaction(…)`): a function that does writes (a migration, a
/// checkpoint), whatever its SQL.
fn borrows_the_writer(code: &[char]) -> bool {
    identifiers(code).into_iter().any(|(_, end, word)| {
        let next: String = code[end..]
            .iter()
            .filter(|c| !c.is_whitespace())
            .take(13)
            .collect();
        word == "writer" && (next.starts_with(".lend(") || next.starts_with(".transaction("))
    })
}

/// The names of the store's public functions (`pub` or `pub(crate)`, of
/// `impl Store` or any other block, or free) that write: whose body holds
/// writing SQL or borrows the writer connection, or that calls a function
/// or macro or names a constant that does, however far down. Unit tests
/// (`#[cfg(test)] mod …`) are left out.
fn public_writers<'a>(files: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let items: Vec<Item> = files.into_iter().flat_map(items).collect();
    let mut writers: BTreeSet<String> = WRITER_HELPERS.iter().map(|s| s.to_string()).collect();
    for item in &items {
        if writes(&item.text) || item.borrows_the_writer {
            writers.insert(item.name.clone());
        }
    }
    loop {
        let before = writers.len();
        for item in &items {
            if !writers.contains(&item.name) && item.uses.iter().any(|u| writers.contains(u)) {
                writers.insert(item.name.clone());
            }
        }
        if writers.len() == before {
            break;
        }
    }
    items
        .into_iter()
        .filter(|item| item.public && item.kind == Kind::Fn && writers.contains(&item.name))
        .map(|item| item.name)
        .collect()
}

/// Calls in `source` of one of `writers`, as a method (`.name(`) or by a
/// path through the store (`store::…::name(`, `Store::name(`): line and
/// name, comments and string literals left out.
fn store_calls(source: &str, writers: &BTreeSet<String>) -> Vec<(usize, String)> {
    let code = code_of(source);
    let mut found = Vec::new();
    for (start, end, name) in identifiers(&code) {
        if !writers.contains(&name) || !called(&code, end) {
            continue;
        }
        let before: String = code[..start].iter().collect();
        let before = before.trim_end();
        let through_store = before.strip_suffix("::").is_some_and(|path| {
            let path = path.trim_end();
            let segments: Vec<&str> = path
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .collect();
            segments.contains(&"store") || segments.contains(&"Store")
        });
        if before.ends_with('.') && !before.ends_with("..") || through_store {
            let line = code[..start].iter().filter(|c| **c == '\n').count() + 1;
            found.push((line, name));
        }
    }
    found
}

/// Whether the identifier ending at `end` is called: `(` or `::<` next.
fn called(code: &[char], end: usize) -> bool {
    let rest: String = code[end..].iter().take(3).collect();
    rest.starts_with('(') || rest.starts_with("::<")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Fn,
    Macro,
    Const,
}

/// A function, `macro_rules!` or constant of a source file.
#[derive(Debug)]
struct Item {
    name: String,
    kind: Kind,
    public: bool,
    /// Its string literals' contents, each followed by a space.
    text: String,
    /// The functions and macros (`name!`) it calls and the constants it
    /// names.
    uses: BTreeSet<String>,
    /// Whether it borrows SQLite's writer connection itself.
    borrows_the_writer: bool,
}

/// What each character of a source file belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Code,
    Literal,
    Comment,
}

/// Each character of `source` with what it belongs to: comments, string
/// literals (plain, raw, byte) and character literals are told from code,
/// so that braces and words inside them count for nothing.
fn parts(source: &str) -> Vec<(char, Part)> {
    let chars: Vec<char> = source.chars().collect();
    let mut out: Vec<(char, Part)> = Vec::with_capacity(chars.len());
    let at = |i: usize| chars.get(i).copied();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let mut end = None;
        let mut part = Part::Literal;
        if c == '/' && at(i + 1) == Some('/') {
            let close = (i..chars.len()).find(|&j| chars[j] == '\n');
            end = Some(close.unwrap_or(chars.len()));
            part = Part::Comment;
        } else if c == '/' && at(i + 1) == Some('*') {
            let (mut j, mut depth) = (i + 2, 1);
            while j < chars.len() && depth > 0 {
                if chars[j] == '/' && at(j + 1) == Some('*') {
                    depth += 1;
                    j += 1;
                } else if chars[j] == '*' && at(j + 1) == Some('/') {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            end = Some(j);
            part = Part::Comment;
        } else if !after_ident && (c == 'r' || (c == 'b' && at(i + 1) == Some('r'))) {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let hashes = (j..chars.len()).take_while(|&k| chars[k] == '#').count();
            j += hashes;
            if at(j) == Some('"') {
                let mut k = j + 1;
                while k < chars.len()
                    && !(chars[k] == '"' && (1..=hashes).all(|h| at(k + h) == Some('#')))
                {
                    k += 1;
                }
                end = Some((k + 1 + hashes).min(chars.len()));
            }
        } else if c == '"' {
            let mut k = i + 1;
            while k < chars.len() && chars[k] != '"' {
                k += if chars[k] == '\\' { 2 } else { 1 };
            }
            end = Some((k + 1).min(chars.len()));
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{7b}'), else a lifetime.
            if at(i + 1) == Some('\\') {
                let close = (i + 3..chars.len()).find(|&k| chars[k] == '\'');
                end = close.map(|k| k + 1);
            } else if at(i + 2) == Some('\'') {
                end = Some(i + 3);
            }
        }
        match end {
            Some(end) => {
                out.extend(chars[i..end].iter().map(|c| (*c, part)));
                i = end;
            }
            None => {
                out.push((c, Part::Code));
                i += 1;
            }
        }
    }
    out
}

/// `source` with comments and literals blanked (newlines kept).
fn code_of(source: &str) -> Vec<char> {
    parts(source)
        .into_iter()
        .map(|(c, part)| {
            if part == Part::Code || c == '\n' {
                c
            } else {
                ' '
            }
        })
        .collect()
}

/// Every identifier of `code`: start, end and the word.
fn identifiers(code: &[char]) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if code[i].is_alphabetic() || code[i] == '_' {
            let start = i;
            while i < code.len() && (code[i].is_alphanumeric() || code[i] == '_') {
                i += 1;
            }
            found.push((start, i, code[start..i].iter().collect()));
        } else {
            i += 1;
        }
    }
    found
}

/// The end (exclusive) of the group opened at `open`, or of what runs to a
/// `;` outside brackets when `open` is no bracket.
fn group_end(code: &[char], open: usize) -> usize {
    let mut depth = 0i32;
    for (i, c) in code.iter().enumerate().skip(open) {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => {
                depth -= 1;
                if depth <= 0 {
                    return i + 1;
                }
            }
            ';' if depth == 0 => return i + 1,
            _ => {}
        }
    }
    code.len()
}

/// The functions, `macro_rules!` and constants of a source file.
fn items(source: &str) -> Vec<Item> {
    let parts = parts(source);
    let code: Vec<char> = parts
        .iter()
        .map(|&(c, part)| {
            if part == Part::Code || c == '\n' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words = identifiers(&code);
    // Unit test modules: their helpers are no part of the store.
    let mut tests = Vec::new();
    for (start, end, word) in &words {
        let attribute: String = code[start.saturating_sub(40)..*start]
            .iter()
            .filter(|c| !c.is_whitespace())
            .collect();
        if word == "mod" && attribute.ends_with("#[cfg(test)]") {
            let open = (*end..code.len()).find(|&i| matches!(code[i], '{' | ';'));
            tests.push(*start..open.map_or(code.len(), |open| group_end(&code, open)));
        }
    }
    let mut items = Vec::new();
    for (n, (start, end, word)) in words.iter().enumerate() {
        if tests.iter().any(|range| range.contains(start)) {
            continue;
        }
        let Some((name_start, name_end, name)) = words.get(n + 1) else {
            continue;
        };
        // The name follows the keyword, spaces apart (`fn(u8)` is a type).
        let between: String = code[*end..*name_start].iter().collect();
        let kind = match (word.as_str(), between.trim()) {
            ("fn", "") => Kind::Fn,
            ("macro_rules", "!") => Kind::Macro,
            ("const" | "static", "") if name.chars().all(|c| !c.is_lowercase()) => Kind::Const,
            _ => continue,
        };
        // The body: a function's from its first `{` outside its signature's
        // brackets (none when a `;` comes first), the others' all of it.
        let body = match kind {
            Kind::Fn => {
                let mut depth = 0i32;
                let mut open = None;
                for (i, c) in code.iter().enumerate().skip(*name_end) {
                    match c {
                        '(' | '[' => depth += 1,
                        ')' | ']' => depth -= 1,
                        '{' if depth == 0 => {
                            open = Some(i);
                            break;
                        }
                        ';' if depth == 0 => break,
                        _ => {}
                    }
                }
                match open {
                    Some(open) => open..group_end(&code, open),
                    None => continue,
                }
            }
            Kind::Macro => {
                let open = (*name_end..code.len())
                    .find(|&i| matches!(code[i], '{' | '(' | '['))
                    .unwrap_or(code.len());
                open..group_end(&code, open)
            }
            Kind::Const => {
                let mut depth = 0i32;
                let end = (*name_end..code.len()).find(|&i| {
                    match code[i] {
                        '{' | '(' | '[' => depth += 1,
                        '}' | ')' | ']' => depth -= 1,
                        _ => {}
                    }
                    code[i] == ';' && depth == 0
                });
                *name_end..end.map_or(code.len(), |end| end + 1)
            }
        };
        // `pub` or `pub(crate)` before the qualifiers of the `fn`.
        let mut first = n;
        while first > 0
            && ["async", "const", "unsafe", "extern"].contains(&words[first - 1].2.as_str())
        {
            first -= 1;
        }
        let lead = &code[words[first].0.saturating_sub(40)..words[first].0];
        let lead: String = lead.iter().filter(|c| !c.is_whitespace()).collect();
        let public = lead.ends_with("pub") || lead.ends_with("pub(crate)");
        let mut text = String::new();
        for (c, part) in &parts[body.clone()] {
            if *part == Part::Literal {
                text.push(*c);
            } else if text.ends_with(|c: char| !c.is_whitespace()) {
                text.push(' ');
            }
        }
        let inside = &code[body.clone()];
        let mut uses = BTreeSet::new();
        for (s, e, used) in identifiers(inside) {
            // The last segment of a path, a function named as a value.
            let path = s >= 2 && inside[s - 2..s] == [':', ':'] && inside.get(e) != Some(&':');
            let constant = used.chars().all(|c| !c.is_lowercase());
            if inside.get(e) == Some(&'!') {
                uses.insert(format!("{used}!"));
            } else if called(inside, e) || path || constant {
                uses.insert(used);
            }
        }
        items.push(Item {
            // Macros have their own namespace: `migrate!` is not `migrate`.
            name: match kind {
                Kind::Macro => format!("{name}!"),
                _ => name.clone(),
            },
            kind,
            public,
            text,
            uses,
            borrows_the_writer: borrows_the_writer(inside),
        });
    }
    items
}

#[test]
fn the_parser_reads_grouped_and_nested_paths() {
    let text = "use crate::{\n    state::AppState,\n    store::{A, B},\n    keys,\n};\nlet x = crate::urls::Urls::new();";
    assert_eq!(crate_paths(text), vec!["state", "store", "keys", "urls"]);
}

/// The admin API's router and its OpenAPI document come from one list
/// (`admin::api`, `routes!` of `#[utoipa::path]` handlers), so a route
/// cannot exist without its operation. This checks that nothing in
/// `src/admin` adds a route any other way, and that nothing outside it
/// routes a path below `/api`. (tests/openapi.rs checks the converse:
/// every operation of the document is answered by its handler.)
#[test]
fn admin_routes_are_registered_only_with_their_operations() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src.clone()];
    let mut registrations = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let admin = path.starts_with(src.join("admin"));
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                // utoipa_axum's router adds operations with its routes (and
                // its extension trait only layers what `routes!` made).
                let line = line
                    .replace("OpenApiRouter", "")
                    .replace("UtoipaMethodRouterExt", "");
                let words: &[&str] = if admin {
                    &[
                        ".route(",
                        ".route_service(",
                        ".nest_service(",
                        ".merge(",
                        "routing::",
                        "Router::new(",
                        "MethodRouter",
                    ]
                } else {
                    &[
                        "route(\"/api",
                        "nest(\"/api",
                        "route_service(\"/api",
                        "nest_service(\"/api",
                    ]
                };
                for word in words {
                    if line.contains(word) {
                        offenders.push(format!("{}:{}: {word}", path.display(), n + 1));
                    }
                }
                if admin {
                    registrations += line.matches("routes!(").count();
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
    assert!(registrations > 20, "the API is registered with routes!");
}
