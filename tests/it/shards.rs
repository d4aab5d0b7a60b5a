//! Sharded analysis (`read -j N` on one file) gives what one thread gives, byte for byte, in
//! every output (the summary, the transcript, JSON, NDJSON, the ladder, the HTML report): on
//! every capture at hand, and on random multi-user captures with loss, reordering, idle
//! flushes and truncation.

use crate::common::root;
use msntap::app::{every_output, summary_text, summary_text_handed, summary_text_keeping_events};
use msntap::output::filter::Filter;
use msntap::reassembly::Limits;
use msntap::session::Options;
use msntap::testkit::gen::{generate, GenConfig};
use proptest::prelude::*;

/// The summary on `workers` threads as `read` makes it of a file (two threads each read the
/// capture themselves).
fn summary(bytes: &[u8], limits: Limits, workers: usize) -> String {
    let out = summary_text(bytes, Options::default(), limits, workers).expect("capture opens");
    String::from_utf8(out).expect("UTF-8 summary")
}

/// The summary on `workers` threads, the calling thread handing segments to the others (as
/// for a pipe).
fn summary_handed(bytes: &[u8], limits: Limits, workers: usize) -> String {
    let out = summary_text_handed(bytes, Options::default(), limits, workers).expect("capture opens");
    String::from_utf8(out).expect("UTF-8 summary")
}

const OUTPUTS: [&str; 5] = ["transcript", "JSON", "NDJSON", "ladder", "HTML report"];

/// Every output on `workers` threads.
fn outputs(bytes: &[u8], limits: Limits, workers: usize, filter: &Filter) -> [Vec<u8>; 5] {
    every_output(bytes, Options::default(), limits, workers, filter.clone()).expect("capture opens")
}

/// Asserts that every output of one thread and of `workers` threads is the same.
fn assert_outputs_alike(name: &str, one: &[Vec<u8>; 5], many: &[Vec<u8>; 5], workers: usize) {
    for ((what, a), b) in OUTPUTS.iter().zip(one).zip(many) {
        if a != b {
            let at = a.iter().zip(b.iter()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            let from = at.saturating_sub(300);
            panic!(
                "{name}, {workers} workers: the {what} differs at byte {at} of {} / {}:\none thread:\n{}\n---\n{workers} workers:\n{}",
                a.len(),
                b.len(),
                String::from_utf8_lossy(&a[from..(at + 300).min(a.len())]),
                String::from_utf8_lossy(&b[from..(at + 300).min(b.len())]),
            );
        }
    }
}

fn generated(cfg: GenConfig) -> Vec<u8> {
    let mut out = Vec::new();
    generate(cfg, &mut out).expect("generated");
    out
}

/// Every capture of `captures/` and `../shared/captures`, and generated ones.
fn corpus(generated_packets: u64) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for dir in [root().join("captures"), root().join("../shared/captures")] {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        files.sort();
        for f in files {
            all.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    for (seed, reorder, retransmit) in [(1, 0.01, 0.01), (2, 0.2, 0.2), (3, 0.0, 0.0)] {
        let cfg = GenConfig { packets: generated_packets, seed, reorder, retransmit, concurrency: 64 };
        all.push((format!("generated seed {seed}"), generated(cfg)));
    }
    all
}

#[test]
fn every_capture_summarises_alike_on_one_and_several_workers() {
    let corpus = corpus(30_000);
    assert!(corpus.len() >= 10, "{} captures", corpus.len());
    let short = Limits { idle_timeout_ns: 2_000_000_000, ..Limits::default() };
    for (name, bytes) in &corpus {
        for limits in [Limits::default(), short] {
            let one = summary(bytes, limits, 1);
            assert!(one.contains(" connections, "), "{name}: {one}");
            for workers in [2, 3, 5] {
                let many = summary(bytes, limits, workers);
                // Two threads read the capture each; more are handed the segments, as two are
                // when the input cannot be read twice.
                let handed = (workers == 2).then(|| summary_handed(bytes, limits, workers));
                for (how, many) in [("read by each", Some(many)), ("handed", handed)] {
                    let Some(many) = many else { continue };
                    assert!(
                        one == many,
                        "{name}, {workers} workers, {how}, idle {} ns:\n{one}\n---\n{many}",
                        limits.idle_timeout_ns
                    );
                }
            }
        }
    }
}

/// Counting events as they come (late violations included) gives the counts that keeping
/// them until they are handed on gives, on every capture.
#[test]
fn every_capture_summarises_alike_whether_events_are_kept_or_counted_at_once() {
    let short = Limits { idle_timeout_ns: 2_000_000_000, ..Limits::default() };
    for (name, bytes) in &corpus(30_000) {
        for limits in [Limits::default(), short] {
            let kept = summary_text_keeping_events(bytes, Options::default(), limits).expect("capture opens");
            let kept = String::from_utf8(kept).expect("UTF-8 summary");
            let counted = summary(bytes, limits, 1);
            assert!(kept.contains(" commands, "), "{name}: {kept}");
            assert!(kept == counted, "{name}, idle {} ns:\n{kept}\n---\n{counted}", limits.idle_timeout_ns);
        }
    }
}

#[test]
fn every_capture_gives_every_output_alike_on_one_and_several_workers() {
    // Every output costs several times the summary: smaller generated captures.
    let corpus = corpus(10_000);
    let short = Limits { idle_timeout_ns: 2_000_000_000, ..Limits::default() };
    // A filter that judges violations keeps left-out requests and lets them in later; one by
    // role and command leaves out whole connections and most events.
    let violations = Filter { only_violations: true, ..Filter::default() };
    let some = Filter {
        roles: vec![msntap::msnp::Role::NS, msntap::msnp::Role::SB],
        commands: vec!["MSG".into(), "XFR".into(), "RNG".into(), "USR".into()],
        ..Filter::default()
    };
    // Ids are the ones one thread gives, whichever worker analysed the connection.
    let by_id = Filter { conns: vec![1, 3, 4], ..Filter::default() };
    for (name, bytes) in &corpus {
        // The generated captures are large: one run of them (the proptest below adds random
        // ones with random idle timeouts).
        let generated = name.starts_with("generated");
        let runs = [
            (Limits::default(), &Filter::default(), if generated { &[3][..] } else { &[2, 3, 5][..] }),
            (short, &Filter::default(), &[2][..]),
            (Limits::default(), &violations, &[3][..]),
            (short, &some, &[2][..]),
            (Limits::default(), &by_id, &[2][..]),
        ];
        for (limits, filter, workers) in runs.into_iter().take(if generated { 1 } else { 5 }) {
            let one = outputs(bytes, limits, 1, filter);
            assert!(one.iter().all(|o| !o.is_empty()), "{name}: an output is empty");
            for &w in workers {
                assert_outputs_alike(name, &one, &outputs(bytes, limits, w, filter), w);
            }
        }
    }
}

#[test]
fn the_cli_shards_one_file_and_prints_the_same() {
    let file = root().join("../shared/captures/escargot-msnp8-two-users.pcapng");
    let run = |j: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"))
            .args(["read", "--summary", "--color", "never", "-j", j])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let one = run("1");
    assert!(String::from_utf8_lossy(&one).contains("2 users"), "{}", String::from_utf8_lossy(&one));
    assert_eq!(one, run("2"));
    assert_eq!(one, run("4"));
    // The transcript and NDJSON, through the CLI's own wiring of the outputs.
    for args in [&["read", "--color", "never"][..], &["read", "--ndjson", "-"][..]] {
        let run = |j: &str| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"))
                .args(args)
                .args(["-j", j])
                .arg(&file)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        let one = run("1");
        assert!(one.len() > 10_000, "{args:?}: {} bytes", one.len());
        assert_eq!(one, run("3"), "{args:?}");
    }
}

/// A random generated capture (random seed, size up to `max_packets`, reordering,
/// retransmission, concurrency, truncation point), an idle timeout, a number of workers, and
/// the seed (to name the case).
fn random_case(max_packets: u64) -> impl Strategy<Value = (Vec<u8>, Limits, usize, u64)> {
    (1u64..1_000_000, 100u64..max_packets, 0.0f64..0.3, 0.0f64..0.3, 1usize..48, 1i64..40, 0.5f64..1.0, 2usize..6)
        .prop_map(|(seed, packets, reorder, retransmit, concurrency, idle_s, cut, workers)| {
            let mut bytes = generated(GenConfig { packets, seed, reorder, retransmit, concurrency });
            let keep = ((bytes.len() as f64) * cut) as usize;
            bytes.truncate(keep.max(24));
            (bytes, Limits { idle_timeout_ns: idle_s * 1_000_000_000, ..Limits::default() }, workers, seed)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_captures_summarise_alike((bytes, limits, workers, _seed) in random_case(6_000)) {
        let one = summary(&bytes, limits, 1);
        prop_assert_eq!(&one, &summary(&bytes, limits, workers));
        // Two threads the other way too: handed the segments, or each reading.
        let two = if workers == 2 { summary_handed(&bytes, limits, 2) } else { summary(&bytes, limits, 2) };
        prop_assert_eq!(&one, &two);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_captures_give_every_output_alike((bytes, limits, workers, seed) in random_case(4_000)) {
        let one = outputs(&bytes, limits, 1, &Filter::default());
        let many = outputs(&bytes, limits, workers, &Filter::default());
        assert_outputs_alike(&format!("seed {seed}"), &one, &many, workers);
    }
}

/// IP fragments are reassembled on the reading thread; a datagram still incomplete at the end
/// counts as dropped in both (the sharded path once forgot to finish the defragmenter).
#[test]
fn fragmented_captures_summarise_alike_with_an_incomplete_last_datagram() {
    use msntap::testkit::synth::{fragment_frames, pcap_frames, Encap, Script};
    let mut s = Script::new(1_000_000_000, 7);
    for (i, client) in ["10.1.0.1:40000", "10.1.0.2:40001", "10.1.0.3:40002"].iter().enumerate() {
        let c = s.connect(client.parse().unwrap(), "10.1.0.9:1863".parse().unwrap());
        s.send(c, true, format!("VER {i} MSNP8 CVR0\r\n").as_bytes());
        s.send(c, false, format!("VER {i} MSNP8\r\n").as_bytes());
        s.send(
            c,
            true,
            format!("CVR {} 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS user{i}@example.com\r\n", i + 1).as_bytes(),
        );
    }
    let mut frames = Vec::new();
    let mut last_fragment = None;
    for (n, seg) in s.segs.iter().enumerate() {
        if seg.payload.is_empty() {
            frames.push((seg.ts_ns, msntap::testkit::synth::frame(seg, Encap::Ethernet)));
        } else {
            let parts = fragment_frames(seg, Encap::Ethernet, 16, n as u32);
            frames.extend(parts.into_iter().map(|f| (seg.ts_ns, f)));
            last_fragment = Some(frames.len() - 1);
        }
    }
    // The last datagram loses its last fragment.
    frames.remove(last_fragment.unwrap());
    let bytes = pcap_frames(&frames, Encap::Ethernet);
    let one = summary(&bytes, Limits::default(), 1);
    assert!(one.contains("1 dropped"), "{one}");
    assert!(one.contains("3 connections"), "{one}");
    for workers in [2, 3] {
        assert_eq!(one, summary(&bytes, Limits::default(), workers), "{workers} workers");
        assert_eq!(one, summary_handed(&bytes, Limits::default(), workers), "{workers} workers, handed");
    }
}
