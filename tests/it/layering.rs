//! The dependency rule of ARCHITECTURE.md, enforced: a top-level module of `src/` may name
//! (`crate::<module>`) only modules of a lower layer.

use std::collections::BTreeMap;
use std::path::Path;

/// Layers, lowest first; a module may depend on modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["text", "pricing", "logging", "machine"],
    &["store"],
    &["identity", "embed"],
    &["index"],
    &["tenant"],
    &["error"],
    &["ingest", "search"],
    &["app"],
    &["ops"],
    &["service"],
    &["config", "http"],
    &["web"],
    &["cli"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/it/layering.rs"))
}

fn edges(dir: &Path, top: Option<&str>, out: &mut BTreeMap<(String, String), String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            edges(&path, Some(top.unwrap_or(&name)), out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let from = top.unwrap_or(&name).to_string();
        if matches!(from.as_str(), "lib" | "main") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let to: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                out.entry((from.clone(), to))
                    .or_insert_with(|| path.display().to_string());
            }
        }
    }
}

#[test]
fn modules_depend_only_on_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    edges(&src, None, &mut found);
    let mut wrong = Vec::new();
    for ((from, to), file) in &found {
        if layer_of(to) >= layer_of(from) {
            wrong.push(format!("{from} -> {to} (first in {file})"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

/// Every `.rs` file under `src/<dir>`, with its text.
fn sources(dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    out
}

/// HTTP parses, calls a service and shows the result: it runs no SQL, opens no
/// transaction and reaches no database.
#[test]
fn http_reaches_no_database() {
    let banned = [
        "write_tx",
        "with_primary",
        "read_primary",
        "context::run",
        "context::read",
        "with_conn",
        ".execute(",
        "query_row",
        ".prepare",
        ".transaction(",
        "Transaction",
        "rusqlite",
        ".primary.get(",
    ];
    // The web console is HTTP too: its pages call services.
    for (file, text) in sources("http").into_iter().chain(sources("web")) {
        for word in banned {
            assert!(!text.contains(word), "{file} uses {word}");
        }
    }
}

/// Statuses are chosen in one place: the error type below HTTP says what failed, and
/// `http::error` alone maps it; nothing is named after the API below `http`.
#[test]
fn statuses_are_chosen_only_in_http_error() {
    for (file, text) in sources("") {
        assert!(!text.contains("ApiError"), "{file} names ApiError");
        if !file.contains("/src/http/") {
            assert!(
                !text.contains("StatusCode"),
                "{file} chooses an HTTP status"
            );
        }
    }
}

/// The chunks table is read and written by the store only.
#[test]
fn chunk_sql_lives_in_the_store() {
    for (file, text) in sources("") {
        if file.contains("/src/store/") {
            continue;
        }
        for verb in ["FROM", "INTO", "UPDATE", "JOIN"] {
            for table in ["document_chunks", "document_chunks_fts"] {
                let sql = format!("{verb} {table}");
                assert!(!text.contains(&sql), "{file} runs SQL on {table}");
            }
        }
    }
}
