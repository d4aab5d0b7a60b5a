//! Replays every input the fuzzers ever found crashing or hanging (and a few seeds) through
//! the same harnesses, on stable, in the normal test run. Files live in
//! `tests/regressions/<target>/`; see `docs/fuzzing.md`.

use super::common::root;

fn replay(target: &str, harness: fn(&[u8])) -> usize {
    let dir = root().join("tests/regressions").join(target);
    let mut n = 0;
    let mut entries: Vec<_> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    entries.sort();
    for path in entries {
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let started = std::time::Instant::now();
        let r = std::panic::catch_unwind(|| harness(&data));
        assert!(r.is_ok(), "{} panics", path.display());
        assert!(started.elapsed().as_secs() < 10, "{} takes {:?}", path.display(), started.elapsed());
        n += 1;
    }
    n
}

#[test]
fn fuzz_regressions_replay() {
    let counts: Vec<(&str, usize)> = vec![
        ("wire", replay("wire", msntap::testkit::fuzzing::wire)),
        ("commands", replay("commands", msntap::testkit::fuzzing::commands)),
        ("capture", replay("capture", msntap::testkit::fuzzing::capture)),
        ("pipeline", replay("pipeline", msntap::testkit::fuzzing::pipeline)),
        ("rewrite", replay("rewrite", msntap::testkit::fuzzing::rewrite)),
        ("shards", replay("shards", msntap::testkit::fuzzing::shards)),
    ];
    for (t, n) in counts {
        assert!(n > 0, "no inputs for {t}");
    }
}
