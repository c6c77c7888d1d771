//! The layering of `src/`, checked from the `use crate::` paths of every
//! file (ARCHITECTURE.md, "Layers"): leaves import only leaves, the store
//! only leaves, and the infrastructure below the services only what lies
//! beneath it, and the HTTP state never the HTTP modules. No two top-level
//! modules import each other.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Modules that import nothing of ours but other leaves.
const LEAVES: &[&str] = &[
    "activity",
    "clock",
    "config",
    "domains",
    "html",
    "keys",
    "limits",
    "media",
    "organisations",
    "secrets",
    "statements",
    "urls",
    "vocabulary",
];

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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
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
    for leaf in LEAVES {
        let imported = deps.get(*leaf).cloned().unwrap_or_default();
        let wrong: Vec<&String> = imported
            .iter()
            .filter(|m| !LEAVES.contains(&m.as_str()))
            .collect();
        assert!(wrong.is_empty(), "leaf `{leaf}` imports {wrong:?}");
    }
}

#[test]
fn lower_layers_import_only_what_lies_beneath() {
    let deps = dependencies();
    for (module, allowed) in ALLOWED {
        let imported = deps.get(*module).cloned().unwrap_or_default();
        let wrong: Vec<&String> = imported
            .iter()
            .filter(|m| !LEAVES.contains(&m.as_str()) && !allowed.contains(&m.as_str()))
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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for module in HTTP {
        let mut stack = vec![src.join(module)];
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
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
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
