//! The architecture, held: which module may use which (the table in the README's Layout
//! section). Production code only: test modules (after `#[cfg(test)]`, and `tests.rs` files)
//! may use anything.

use std::collections::BTreeSet;
use std::path::Path;

/// The top-level module a source file belongs to (`src/bin` counts as `bin`).
fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap_or(path);
    let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().to_string()).unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The `crate::X` modules a file's production code names (comments, which may link anywhere,
/// aside).
fn uses(text: &str) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && p.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_use_only_what_lies_below_them() {
    const LOW: &[&str] = &["msnp", "session", "rules", "analysis", "output", "proxy", "app", "testkit"];
    // (module, what it must not use)
    let forbidden: &[(&str, &[&str])] = &[
        (
            "flow",
            &[
                "capture",
                "net",
                "reassembly",
                "msnp",
                "session",
                "rules",
                "analysis",
                "output",
                "proxy",
                "app",
                "testkit",
            ],
        ),
        ("capture", LOW),
        ("net", LOW),
        ("reassembly", LOW),
        (
            "msnp",
            &["capture", "net", "reassembly", "session", "rules", "analysis", "output", "proxy", "app", "testkit"],
        ),
        ("rules", &["capture", "net", "reassembly", "session", "analysis", "output", "proxy", "app", "testkit"]),
        ("session", &["capture", "proxy", "analysis", "output", "app", "testkit"]),
        ("analysis", &["output", "proxy", "app", "testkit"]),
        ("output", &["capture", "proxy", "app", "testkit"]),
        ("proxy", &["output", "check", "app", "testkit"]),
        ("check", &["output", "app", "testkit"]),
        ("app", &["testkit"]),
    ];
    let src = super::common::root().join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut broken = Vec::new();
    for f in &all {
        let module = module_of(f, &src);
        let text = std::fs::read_to_string(f).unwrap();
        let used = uses(&text);
        if let Some((_, banned)) = forbidden.iter().find(|(m, _)| *m == module) {
            for b in banned.iter().filter(|b| used.contains(**b)) {
                broken.push(format!("{} uses crate::{b}", f.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
    assert!(all.len() > 40, "found only {} source files", all.len());
}

#[test]
fn the_library_never_names_clap() {
    let src = super::common::root().join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    for f in all.iter().filter(|f| !f.starts_with(src.join("bin"))) {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains("clap::") && !text.contains("use clap"), "{} names clap", f.display());
    }
}
