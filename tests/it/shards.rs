//! Sharded analysis (`read --summary -j N` on one file) gives what one thread gives, byte for
//! byte: on every capture at hand, and on random multi-user captures with loss, reordering,
//! idle flushes and truncation.

use crate::common::root;
use msntap::app::summary_text;
use msntap::reassembly::Limits;
use msntap::session::Options;
use msntap::testkit::gen::{generate, GenConfig};
use proptest::prelude::*;

fn summary(bytes: &[u8], limits: Limits, workers: usize) -> String {
    let out = summary_text(bytes, Options::default(), limits, workers).expect("capture opens");
    String::from_utf8(out).expect("UTF-8 summary")
}

fn generated(cfg: GenConfig) -> Vec<u8> {
    let mut out = Vec::new();
    generate(cfg, &mut out).expect("generated");
    out
}

/// Every capture of `captures/` and `../shared/captures`, and generated ones.
fn corpus() -> Vec<(String, Vec<u8>)> {
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
        let cfg = GenConfig { packets: 30_000, seed, reorder, retransmit, concurrency: 64 };
        all.push((format!("generated seed {seed}"), generated(cfg)));
    }
    all
}

#[test]
fn every_capture_summarises_alike_on_one_and_several_workers() {
    let corpus = corpus();
    assert!(corpus.len() >= 10, "{} captures", corpus.len());
    let short = Limits { idle_timeout_ns: 2_000_000_000, ..Limits::default() };
    for (name, bytes) in &corpus {
        for limits in [Limits::default(), short] {
            let one = summary(bytes, limits, 1);
            assert!(one.contains(" connections, "), "{name}: {one}");
            for workers in [2, 3, 5] {
                let many = summary(bytes, limits, workers);
                assert!(
                    one == many,
                    "{name}, {workers} workers, idle {} ns:\n{one}\n---\n{many}",
                    limits.idle_timeout_ns
                );
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
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_captures_summarise_alike(
        seed in 1u64..1_000_000,
        packets in 100u64..6_000,
        reorder in 0.0f64..0.3,
        retransmit in 0.0f64..0.3,
        concurrency in 1usize..48,
        idle_s in 1i64..40,
        cut in 0.5f64..1.0,
        workers in 2usize..6,
    ) {
        let mut bytes = generated(GenConfig { packets, seed, reorder, retransmit, concurrency });
        let keep = ((bytes.len() as f64) * cut) as usize;
        bytes.truncate(keep.max(24));
        let limits = Limits { idle_timeout_ns: idle_s * 1_000_000_000, ..Limits::default() };
        let one = summary(&bytes, limits, 1);
        let many = summary(&bytes, limits, workers);
        prop_assert_eq!(one, many);
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
    }
}
