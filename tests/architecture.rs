//! ARCHITECTURE.md matches the tree: every folder (and top-level file) of
//! `src/` it names exists and every one that exists is named, and each
//! module imports only the layers its section says it may import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The crate's own files that are not layers: the root, the binary, and the
/// doc-hidden test helpers.
const NOT_LAYERS: &[&str] = &["lib.rs", "main.rs", "test_support.rs"];

/// Each section's module name and what it may import.
fn sections() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("### `src/") {
            let name = h.trim_end_matches('`').trim_end_matches('/');
            let name = name.trim_end_matches(".rs").to_owned();
            current = Some(name.clone());
            out.insert(name, BTreeSet::new());
        } else if let (Some(rest), Some(name)) = (line.strip_prefix("May import: "), &current) {
            let allowed = rest
                .split(',')
                .map(|s| s.trim().trim_end_matches('.').trim_matches('`').to_owned())
                .filter(|s| !s.is_empty() && !s.starts_with("nothing"))
                .collect();
            out.insert(name.clone(), allowed);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_folder_of_src_has_a_section_and_every_section_a_folder() {
    let named: BTreeSet<String> = sections().into_keys().collect();
    let present: BTreeSet<String> = std::fs::read_dir(Path::new(ROOT).join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !NOT_LAYERS.contains(&n.as_str()))
        .map(|n| n.trim_end_matches(".rs").to_owned())
        .collect();
    assert_eq!(named, present, "ARCHITECTURE.md sections against src/");
}

#[test]
fn each_layer_imports_only_what_its_section_allows() {
    let sections = sections();
    let layers: BTreeSet<&str> = sections.keys().map(String::as_str).collect();
    let mut wrong = Vec::new();
    for (layer, allowed) in &sections {
        let src = Path::new(ROOT).join("src");
        let mut files = Vec::new();
        let dir = src.join(layer);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{layer}.rs")));
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                for used in line.split("crate::").skip(1) {
                    let name: String = used
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let ok = name == *layer
                        || name == "test_support"
                        || allowed.contains(&name)
                        || !layers.contains(name.as_str());
                    if !ok {
                        wrong.push(format!(
                            "{}:{}: {layer} imports {name}",
                            file.strip_prefix(ROOT).unwrap().display(),
                            i + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}
