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
