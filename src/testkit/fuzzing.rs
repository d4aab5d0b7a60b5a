//! Fuzz harnesses, in the library so that `cargo fuzz` targets (in `fuzz/`) and the regression
//! test that replays every saved input (`tests/it/regressions.rs`) run the same code. Each
//! harness takes arbitrary bytes and panics only when an invariant breaks.

use super::synth::{self, Encap, Script};
use crate::app::analyze_to_json;
use crate::capture::CaptureReader;
use crate::flow::Dir;
use crate::msnp::command;
use crate::msnp::wire::{Decoder, Frame, WireLimits};
use crate::net::{self, Sliced};
use crate::proxy::rewrite::{Referral, Rewriter};
use crate::reassembly::Limits;
use crate::session::{Connection, Options};

fn decode(chunks: &[&[u8]], limits: WireLimits, gap_after_first: Option<u64>) -> Vec<Frame> {
    let mut d = Decoder::new(limits);
    let mut out = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        d.push(c);
        while let Some(f) = d.next_frame() {
            out.push(f);
        }
        if i == 0 {
            if let Some(g) = gap_after_first {
                out.extend(d.gap(g));
            }
        }
    }
    out.extend(d.finish());
    out
}

/// Decodes with the zero-copy fast paths, as the analysis does: lines read where they lie in a
/// chunk while nothing is buffered, then lines lent out of the decoder's buffer while any bytes
/// are buffered.
pub fn decode_fast(chunks: &[&[u8]], limits: WireLimits) -> Vec<Frame> {
    use crate::msnp::wire::{FastLine, Payload, PayloadState};
    fn owned(found: FastLine<'_>) -> Option<Frame> {
        Some(match found {
            FastLine::Line(offset, line, ending) => {
                Frame::Line { offset, line: line.to_vec(), ending, payload: PayloadState::None }
            }
            FastLine::Payload(offset, line, ending, p) => {
                let payload = Payload {
                    declared: p.declared,
                    bytes: p.bytes.to_vec(),
                    missing: p.missing,
                    truncated: p.truncated,
                };
                Frame::Line { offset, line: line.to_vec(), ending, payload: PayloadState::Some(payload) }
            }
            FastLine::Slow => return None,
        })
    }
    let mut d = Decoder::new(limits);
    let mut out = Vec::new();
    for c in chunks {
        let mut rest = *c;
        while let Some(f) = owned(d.fast_line_in(&mut rest)) {
            out.push(f);
        }
        d.push(rest);
        while d.buffered() > 0 {
            match owned(d.fast_line()) {
                Some(f) => out.push(f),
                None => match d.next_frame() {
                    Some(f) => out.push(f),
                    None => break,
                },
            }
        }
    }
    out.extend(d.finish());
    out
}

/// The wire decoder: never panics, any split gives the same frames, and the fast path gives
/// exactly the frames of the slow one.
pub fn wire(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let limits = WireLimits { max_line: 64 + sel as usize, max_payload: 512, keep_payload: 48 };
    let cut = (sel as usize * 7) % (rest.len() + 1);
    let whole = decode(&[rest], limits, None);
    let split = decode(&[&rest[..cut], &rest[cut..]], limits, None);
    assert_eq!(whole, split, "frames depend on the split at {cut}");
    assert_eq!(whole, decode_fast(&[&rest[..cut], &rest[cut..]], limits), "the fast path differs");
    // Three chunks: the middle one may begin with a line cut by the first cut.
    let third = cut + (rest.len() - cut) / 2;
    let chunks = [&rest[..cut], &rest[cut..third], &rest[third..]];
    assert_eq!(whole, decode_fast(&chunks, limits), "the fast path differs in three chunks");
    // A gap anywhere must not panic either.
    let _ = decode(&[&rest[..cut], &rest[cut..]], limits, Some(sel as u64 % 97));
}

/// Command parsing and per-connection analysis of arbitrary lines in both directions.
pub fn commands(data: &[u8]) {
    for line in data.split(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let _ = command::parse(&text, true, crate::msnp::dialect::Dialects::ALL);
        let _ = command::parse(&text, false, crate::msnp::dialect::Dialects::ALL);
    }
    let opts = Options::default();
    for start_seen in [true, false] {
        let mut c = Connection::new(
            1,
            "10.0.0.1:1".parse().unwrap_or(crate::flow::DEFAULT_ADDR),
            "10.0.0.2:1863".parse().unwrap_or(crate::flow::DEFAULT_ADDR),
            None,
            start_seen,
            0,
            &opts,
        );
        // Alternate directions at every line.
        let mut dir = Dir::C2S;
        for (i, chunk) in data.split_inclusive(|b| *b == b'\n').enumerate() {
            c.data(dir, i as i64, chunk, &opts);
            if i % 3 == 2 {
                c.gap(dir, i as i64, 0, 5, crate::flow::GapReason::Acked, &opts);
            }
            dir = dir.flip();
        }
        c.close(1_000, crate::flow::CloseKind::Fin, &opts);
        let _ = serde_json::to_string(&c);
    }
}

/// The capture reader and the slicer: every packet of any file.
pub fn capture(data: &[u8]) {
    let Ok(mut r) = CaptureReader::new(data) else { return };
    let mut defrag = net::defrag::Defrag::default();
    let mut n = 0;
    while let Ok(Some(p)) = r.next_packet() {
        n += 1;
        assert!(n <= data.len(), "more packets than bytes");
        if let Sliced::Fragment(f) = net::slice(p.link, p.data) {
            if let Some(d) = defrag.push(&f, p.ts_ns) {
                let _ = d.tcp();
            }
        }
    }
}

/// The whole `read` pipeline: the bytes as a capture file, and as the payload of a synthesised
/// TCP conversation (split into segments and directions by the data itself).
pub fn pipeline(data: &[u8]) {
    let _ = analyze_to_json(data, Options::default(), &[], Limits::default());
    let mut s = Script::new(1_000_000_000, 1);
    let c = s.connect(
        "10.0.0.1:4000".parse().unwrap_or(crate::flow::DEFAULT_ADDR),
        "10.0.0.2:1863".parse().unwrap_or(crate::flow::DEFAULT_ADDR),
    );
    for (i, chunk) in data.chunks(37).enumerate() {
        s.send(c, chunk.first().is_none_or(|b| b & 1 == 0) ^ (i % 2 == 0), chunk);
    }
    s.close(c, true);
    let mut segs = s.segs;
    // Let the data reorder and drop a segment.
    if let (Some(&a), true) = (data.first(), segs.len() > 6) {
        let i = 3 + a as usize % (segs.len() - 4);
        segs.swap(i, i + 1);
        if a & 0x80 != 0 {
            segs.remove(i);
        }
    }
    let pcap = synth::pcap(&segs, Encap::Ethernet, None);
    let doc = analyze_to_json(&pcap, Options::default(), &[], Limits::default());
    let Ok(doc) = doc else { panic!("a synthesised capture must read back") };
    // Events dropped as they are written, spooled through a tiny budget (so through temporary
    // files), with what is found later spliced in: the same document. The transcript takes the
    // same path and must not panic.
    let doc_bytes = spooled_outputs(&pcap);
    let spooled: serde_json::Value = serde_json::from_slice(&doc_bytes).unwrap_or_default();
    assert_eq!(spooled, doc, "the spooled document differs");
}

/// The JSON document and the coloured transcript of `pcap`, with events dropped as written
/// and spools of a few kilobytes; returns the document.
fn spooled_outputs(pcap: &[u8]) -> Vec<u8> {
    use crate::output::json::{JsonReport, Source};
    use crate::output::text::{TextOptions, TextReport};
    let source = Source { kind: crate::output::json::SourceKind::Capture, path: None, format: None };
    let (mut doc, mut text) = (Vec::new(), Vec::new());
    {
        let mut json = JsonReport::new(&mut doc, source).with_memory_budget(4096);
        let opts = TextOptions { color: true, ..Default::default() };
        let mut transcript = TextReport::new(&mut text, opts, "fuzz").with_memory_budget(4096);
        let mut tee = crate::analysis::Tee(vec![&mut json, &mut transcript]);
        let opts = Options { stream_events: true, ..Default::default() };
        // A capture that stops early still gives a document.
        let _ = crate::analysis::run_on(pcap, opts, &[], Limits::default(), &mut tee);
    }
    doc
}

/// The proxy's rewriter: passing through is byte-exact, and the split changes nothing.
pub fn rewrite(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let cut = (sel as usize * 13) % (rest.len() + 1);
    let run = |chunks: &[&[u8]], rewrite: bool| {
        let mut rw = Rewriter::default();
        let mut out = Vec::new();
        let mut map = |r: &Referral| rewrite.then(|| format!("127.0.0.1:{}", r.address.len()));
        for c in chunks {
            rw.push(c, &mut out, &mut map);
        }
        rw.finish(&mut out);
        out
    };
    assert_eq!(run(&[rest], false), rest, "pass-through changed bytes");
    assert_eq!(run(&[&rest[..cut], &rest[cut..]], false), rest, "pass-through changed bytes");
    assert_eq!(run(&[rest], true), run(&[&rest[..cut], &rest[cut..]], true), "rewriting depends on the split at {cut}");
}

/// Sharded analysis: the input as a capture file, and spread over several clients' dispatch,
/// notification and switchboard connections (with referrals between them, idle gaps that make
/// flows time out and come back mid-stream), summarised on one thread and on two and three
/// workers (two both ways: each reading the capture, and handed the segments), and written in
/// every output on one thread and on two, with the default and a 5-second idle timeout: the
/// same every time.
pub fn shards(data: &[u8]) {
    let same = |capture: &[u8]| {
        let short = Limits { idle_timeout_ns: 5_000_000_000, ..Limits::default() };
        for limits in [Limits::default(), short] {
            let one = crate::app::summary_text(capture, Options::default(), limits, 1).ok();
            let kept = crate::app::summary_text_keeping_events(capture, Options::default(), limits).ok();
            assert!(one == kept, "events counted as they come summarise differently from events kept");
            for workers in [2, 3] {
                let many = crate::app::summary_text(capture, Options::default(), limits, workers).ok();
                assert!(one == many, "{workers} workers summarise differently");
                if workers == 2 {
                    let handed = crate::app::summary_text_handed(capture, Options::default(), limits, 2).ok();
                    assert!(one == handed, "2 workers handed the segments summarise differently");
                }
            }
            let every = |workers| {
                crate::app::every_output(capture, Options::default(), limits, workers, Default::default()).ok()
            };
            assert!(every(1) == every(2), "2 workers write an output differently");
        }
    };
    same(data);
    let addr = |s: &str| s.parse().unwrap_or(crate::flow::DEFAULT_ADDR);
    let mut s = Script::new(1_000_000_000, 3);
    let mut conns = Vec::new();
    for n in 0..4u8 {
        let client = addr(&format!("10.9.0.{}:{}", n + 1, 3000 + u16::from(n)));
        let sb_client = addr(&format!("10.9.0.{}:{}", n + 1, 3100 + u16::from(n)));
        let ns = s.connect(client, addr("10.9.0.100:1863"));
        s.send(ns, true, format!("VER 1 MSNP7 CVR0\r\nUSR 2 MD5 I user{n}@x.test\r\n").as_bytes());
        s.send(
            ns,
            false,
            format!(
                "XFR 3 SB 10.9.0.200:7001 CKI {n}.{n}\r\nRNG 9{n} 10.9.0.200:7001 CKI 7.{n} user{}@x.test\r\n",
                (n + 1) % 4
            )
            .as_bytes(),
        );
        let sb = s.connect(sb_client, addr("10.9.0.200:7001"));
        s.send(sb, true, format!("USR 1 user{n}@x.test {n}.{n}\r\n").as_bytes());
        conns.push(ns);
        conns.push(sb);
    }
    for chunk in data.chunks(29) {
        let sel = chunk.first().copied().unwrap_or(0);
        let pause = chunk.get(1).copied().unwrap_or(0);
        let c = conns[usize::from(sel) % conns.len()];
        s.advance_ms(u64::from(pause) * 50);
        s.send(c, sel & 0x80 == 0, chunk);
    }
    for (i, c) in conns.iter().enumerate() {
        if data.get(i).is_some_and(|b| b & 1 == 1) {
            s.close(*c, i % 2 == 0);
        }
    }
    same(&synth::pcap(&s.segs, Encap::Ethernet, None));
}
