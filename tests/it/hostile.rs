//! Hostile input: broken captures and hostile streams. Nothing may panic or hang, memory stays
//! within the documented limits, and each case is reported with a rule or an error.

use super::common::*;
use msntap::app::analyze_to_json;
use msntap::capture::write::PcapWriter;
use msntap::capture::LinkType;
use msntap::flow::{CloseKind, Dir};
use msntap::reassembly::Limits;
use msntap::session::{Connection, Options};
use msntap::testkit::synth::{self, Encap, Script};

fn small_capture() -> Vec<u8> {
    one_connection(&[
        "> VER 1 MSNP2",
        "< VER 1 MSNP2",
        "> INF 2",
        "< INF 2 MD5",
        "> USR 3 MD5 I alice@hotmail.com",
        "< USR 3 MD5 S 1.2",
    ])
}

fn command_lines(doc: &serde_json::Value) -> Vec<String> {
    doc["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| commands(c).into_iter().map(|e| e["line"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn a_capture_cut_at_every_byte_offset() {
    let full = small_capture();
    let whole = command_lines(&analyze(&full, Options::default()));
    assert_eq!(whole.len(), 6);
    for cut in 0..full.len() {
        let prefix = &full[..cut];
        match analyze_to_json(prefix, Options::default(), &[], Limits::default()) {
            Ok(doc) => {
                let got = command_lines(&doc);
                assert!(whole.starts_with(&got), "cut {cut}: {got:?}");
            }
            Err(e) => assert!(e.to_string().contains("offset"), "cut {cut}: {e}"),
        }
    }
}

#[test]
fn random_bit_flips_never_panic() {
    let sample = msntap::testkit::sample::pcap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..300 {
        let mut b = sample.clone();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % b.len();
            b[i] ^= 1u8 << (x >> 61);
        }
        let _ = analyze_to_json(&b, Options::default(), &[], Limits::default());
    }
}

fn pcap_with(link: LinkType, snap: u32, records: &[(i64, Vec<u8>, u32)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), link, false, snap).unwrap();
    for (ts, d, orig) in records {
        w.packet(*ts, d, *orig).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn zero_length_over_long_and_unknown_records() {
    let sample = small_capture();
    // A zero-length record between the others.
    let mut b = sample[..24].to_vec();
    b.extend_from_slice(&[0; 16]);
    b.extend_from_slice(&sample[24..]);
    let doc = analyze(&b, Options::default());
    assert_eq!(command_lines(&doc).len(), 6);
    // An over-long record: a clear error at its offset, after what came before.
    let mut b = sample.clone();
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f]);
    let e = analyze_to_json(&b, Options::default(), &[], Limits::default()).unwrap_err();
    assert!(e.to_string().contains(&format!("offset {}", sample.len())), "{e}");
    // An unknown link type: nothing decoded, nothing broken.
    let doc = analyze(&pcap_with(LinkType(147), 65535, &[(1, vec![1, 2, 3], 3)]), Options::default());
    assert_eq!(doc["summary"]["non_tcp"], 1);
}

#[test]
fn timestamps_going_backwards() {
    let mut s = Script::new(2_000_000_000_000, 3);
    let c = s.connect("10.0.0.1:4000".parse().unwrap(), "10.0.0.2:1863".parse().unwrap());
    s.send(c, true, b"VER 1 MSNP2\r\n");
    s.send(c, false, b"VER 1 MSNP2\r\n");
    s.close(c, true);
    let n = s.segs.len() as i64;
    for (i, g) in s.segs.iter_mut().enumerate() {
        g.ts_ns = 1_000_000_000_000_000_000 - (i as i64) * 1_000_000_000 * 1000 + n;
    }
    let doc = analyze(&synth::pcap(&s.segs, Encap::Ethernet, None), Options::default());
    assert_eq!(command_lines(&doc), ["VER 1 MSNP2", "VER 1 MSNP2"]);
    let t = &doc["connections"][0]["transactions"][0];
    assert!(t["latency_ms"].as_f64().is_some(), "{t}");
}

#[test]
fn snap_lengths_of_65535_and_16() {
    let mut s = Script::new(2_000_000_000_000, 3);
    let c = s.connect("10.0.0.1:4000".parse().unwrap(), "10.0.0.2:1863".parse().unwrap());
    let big = vec![b'x'; 70_000];
    s.send(c, true, b"VER 1 MSNP2\r\n");
    s.send(c, false, b"VER 1 MSNP2\r\n");
    s.send(c, true, &big[..60_000]);
    s.close(c, true);
    let doc = analyze(&synth::pcap(&s.segs, Encap::Ethernet, Some(65535)), Options::default());
    assert_eq!(command_lines(&doc)[..2], ["VER 1 MSNP2", "VER 1 MSNP2"]);
    let doc = analyze(&synth::pcap(&s.segs, Encap::Ethernet, Some(16)), Options::default());
    assert_eq!(doc["connections"].as_array().unwrap().len(), 0);
    assert!(doc["summary"]["malformed_packets"].as_u64().unwrap() > 0);
}

fn connection(opts: &Options) -> Connection {
    Connection::new(1, "10.0.0.1:4000".parse().unwrap(), "10.0.0.2:1863".parse().unwrap(), None, true, 0, opts)
}

/// Drops the events a streaming report would have taken (the tests drive a connection alone).
fn drop_events(c: &mut Connection) {
    c.events.clear();
    c.base = c.emitted.max(c.base);
}

fn rules_of(c: &Connection) -> Vec<&'static str> {
    c.events.iter().flat_map(|e| e.violations.iter().map(|v| v.rule)).collect()
}

#[test]
fn a_hundred_megabyte_line_without_crlf() {
    let opts = Options::default();
    let mut c = connection(&opts);
    let chunk = vec![b'A'; 1 << 16];
    for _ in 0..1600 {
        c.data(Dir::C2S, 1, &chunk, &opts);
    }
    c.data(Dir::C2S, 2, b"\r\nOUT\r\n", &opts);
    c.close(3, CloseKind::Fin, &opts);
    // (OUT as the first command of a connection whose start was seen is also reported.)
    assert_eq!(rules_of(&c), ["MSNP-F009", "MSNP-P005"]);
    assert_eq!(c.events[0].length, Some(1600 * 65536 + 2));
    assert!(c.events[0].line.as_ref().unwrap().len() <= 256, "only a preview is kept");
    assert_eq!(c.events[1].command.as_deref(), Some("OUT"));
}

#[test]
fn msg_lengths_that_lie_are_flagged() {
    for len in ["4294967295", "-1", "abc"] {
        let opts = Options::default();
        let mut c = connection(&opts);
        c.data(Dir::C2S, 1, format!("MSG 1 U {len}\r\nOUT\r\n").as_bytes(), &opts);
        c.close(2, CloseKind::Fin, &opts);
        // (A client MSG makes this a switchboard, whose first command must be USR or ANS.)
        assert_eq!(rules_of(&c), ["MSNP-F005", "MSNP-P006"], "{len}");
        assert_eq!(c.events[1].command.as_deref(), Some("OUT"), "{len}: the stream stays in step");
    }
}

#[test]
fn nul_bytes_and_invalid_utf8_in_every_field() {
    let opts = Options::default();
    let mut c = connection(&opts);
    let lines: Vec<Vec<u8>> = vec![
        b"VER 1 MSNP2\r\n".to_vec(),
        b"VER 1 MS\0NP2\r\n".to_vec(),
        b"US\xffR 2 MD5 I a@hotmail.com\r\n".to_vec(),
        b"USR 3 MD5 I a\0@hotmail.com\r\n".to_vec(),
        b"CHG 4\xfe NLN\r\n".to_vec(),
        b"ADD 5 FL b@hotmail.com B\xc3\x28\r\n".to_vec(),
        b"\0\0\0\r\n".to_vec(),
        b"MSG 6 N 3\r\n\xff\0\xfe".to_vec(),
    ];
    for l in &lines {
        c.data(Dir::C2S, 1, l, &opts);
    }
    c.data(Dir::S2C, 2, b"VER 1 \xff\r\nLST 5 FL \0 1 1 x y\r\n", &opts);
    c.close(3, CloseKind::Fin, &opts);
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains('\0'), "NUL is escaped in JSON");
    let rules = rules_of(&c);
    for want in ["MSNP-F001", "MSNP-T001"] {
        assert!(rules.contains(&want), "{want} missing from {rules:?}");
    }
}

#[test]
fn a_million_outstanding_trids_stay_bounded() {
    let opts = Options::default();
    let mut c = connection(&opts);
    let mut batch = Vec::with_capacity(1 << 20);
    for i in 1..=1_000_000u32 {
        batch.extend_from_slice(format!("PNG\r\nCHG {i} NLN\r\n").as_bytes());
        if batch.len() > 1 << 20 {
            c.data(Dir::C2S, 1, &batch, &opts);
            batch.clear();
        }
    }
    c.data(Dir::C2S, 1, &batch, &opts);
    c.data(Dir::S2C, 2, b"CHG 1000000 NLN\r\n", &opts);
    assert_eq!(c.transactions.len(), 2_000_000);
    c.close(3, CloseKind::Fin, &opts);
    let unanswered = c.transactions.iter().filter(|t| t.outcome == msntap::session::Outcome::Unanswered).count();
    assert_eq!(unanswered, 1_999_999);
}

/// Counts finished connections, keeping nothing.
struct CountConns(u64);

impl msntap::Report for CountConns {
    fn connection(&mut self, _: &Connection, _: msntap::analysis::Links<'_>) {
        self.0 += 1;
    }
    fn finish(&mut self, _: &msntap::Summary, _: msntap::analysis::Links<'_>) {}
}

#[test]
fn a_million_connections_keep_the_tables_small() {
    use msntap::net::{Segment, TcpFlags};
    use msntap::reassembly::Reassembler;
    use std::net::{Ipv4Addr, SocketAddr};
    let mut count = CountConns(0);
    let opts = Options { stream_events: true, terse: true, ..Options::default() };
    let mut analyzer = msntap::Analyzer::new(opts, &[], &mut count);
    let mut reasm = Reassembler::new(Limits::default());
    let server = SocketAddr::from(([198, 51, 100, 5], 1863));
    let (ver_c, ver_s) = (b"VER 1 MSNP2 CVR0\r\n".as_slice(), b"VER 1 MSNP2\r\n".as_slice());
    let (mut most_open, mut most_tracked) = (0, 0);
    for i in 0..1_000_000u32 {
        let client = SocketAddr::new(Ipv4Addr::from(0x0A00_0000 + (i >> 14)).into(), 1024 + (i & 0x3fff) as u16);
        let ts = 1_000_000_000_000 + i as i64 * 1000;
        let seg = |src, dst, seq: u32, ack: u32, flags: u8, payload| Segment {
            src,
            dst,
            vlan: None,
            seq,
            ack,
            flags: TcpFlags(flags),
            payload,
            missing: 0,
        };
        let (c0, s0) = (i.wrapping_mul(7), i.wrapping_mul(13));
        reasm.segment(&seg(client, server, c0, 0, TcpFlags::SYN, &[]), ts, &mut analyzer);
        reasm.segment(&seg(server, client, s0, c0 + 1, TcpFlags::SYN | TcpFlags::ACK, &[]), ts, &mut analyzer);
        reasm.segment(
            &seg(client, server, c0 + 1, s0 + 1, TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN, ver_c),
            ts,
            &mut analyzer,
        );
        reasm.segment(
            &seg(
                server,
                client,
                s0 + 1,
                c0 + 2 + ver_c.len() as u32,
                TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
                ver_s,
            ),
            ts,
            &mut analyzer,
        );
        most_open = most_open.max(reasm.open_connections());
        most_tracked = most_tracked.max(reasm.tracked_flows());
    }
    reasm.finish(2_000_000_000_000, &mut analyzer);
    let summary = analyzer.finish();
    assert_eq!(summary.connections, 1_000_000);
    assert_eq!(summary.commands, 2_000_000);
    assert!(most_open <= 1, "connections are forgotten when they close ({most_open} open at most)");
    assert!(
        most_tracked <= msntap::reassembly::MAX_TIME_WAIT + 1,
        "closed flows are remembered within the bound ({most_tracked})"
    );
    assert_eq!(count.0, 1_000_000);
}

#[test]
fn a_million_outstanding_trids_in_streaming_mode_keep_memory_bounded() {
    let opts = Options { stream_events: true, terse: true, ..Options::default() };
    let mut c = connection(&opts);
    let (mut settled, mut settled_unanswered, mut most) = (0u64, 0u64, 0usize);
    let mut drain = |c: &mut Connection| {
        for t in c.settled.drain(..) {
            settled += 1;
            settled_unanswered += u64::from(t.outcome == msntap::session::Outcome::Unanswered);
        }
        drop_events(c);
    };
    let mut batch = Vec::with_capacity(1 << 20);
    for i in 1..=1_000_000u32 {
        batch.extend_from_slice(format!("PNG\r\nCHG {i} NLN\r\n").as_bytes());
        if batch.len() > 1 << 16 {
            c.data(Dir::C2S, 1, &batch, &opts);
            batch.clear();
            drain(&mut c);
            most = most.max(c.transactions.len());
        }
    }
    c.data(Dir::C2S, 1, &batch, &opts);
    c.data(Dir::S2C, 2, b"CHG 1000000 NLN\r\n", &opts);
    c.close(3, CloseKind::Fin, &opts);
    drain(&mut c);
    let remaining_unanswered =
        c.transactions.iter().filter(|t| t.outcome == msntap::session::Outcome::Unanswered).count() as u64;
    assert_eq!(settled + c.transactions.len() as u64, 2_000_000, "every transaction is accounted for");
    assert_eq!(settled_unanswered + remaining_unanswered, 1_999_999);
    // Referenced at most: 65,536 open TrIDs and 65,536 outstanding PNGs; a settle pass runs when
    // the list has doubled since the last one.
    let bound = 2 * (msntap::session::MAX_OPEN_TRIDS + msntap::session::MAX_PINGS) + msntap::session::SETTLE_AT;
    assert!(most <= bound, "{most} transactions held at once (bound {bound})");
}

#[test]
fn responses_listed_by_a_connection_stay_within_its_bound() {
    use msntap::session::{MAX_LISTED_RESPONSES, MAX_RESPONSES};
    let opts = Options { stream_events: true, ..Options::default() };
    let mut c = connection(&opts);
    let feed = |c: &mut Connection, dir: Dir, text: &mut Vec<u8>| {
        c.data(dir, 1, text, &opts);
        text.clear();
        drop_events(c);
    };
    let mut text = Vec::new();
    // 257 requests answered 4,096 times each: 4,096 answers more than a connection lists.
    let trids = (MAX_LISTED_RESPONSES / MAX_RESPONSES + 1) as u32;
    for t in 1..=trids {
        text.extend_from_slice(format!("CHG {t} NLN\r\n").as_bytes());
    }
    feed(&mut c, Dir::C2S, &mut text);
    for t in 1..=trids {
        for i in 0..MAX_RESPONSES {
            text.extend_from_slice(format!("ILN {t} NLN u{i}@hotmail.com U\r\n").as_bytes());
        }
        feed(&mut c, Dir::S2C, &mut text);
    }
    let chg: Vec<_> = c.transactions.iter().filter(|t| t.command.as_str() == "CHG").collect();
    assert_eq!(chg.len(), trids as usize);
    assert!(chg.iter().all(|t| t.responses.len() as u64 + t.responses_omitted == MAX_RESPONSES as u64));
    // Past the bound a transaction still lists its first answer: it is answered, not flagged.
    assert!(chg.iter().all(|t| !t.responses.is_empty()), "every request lists its first answer");
    let listed = chg.iter().map(|t| t.responses.len()).sum::<usize>();
    assert_eq!(listed, MAX_LISTED_RESPONSES + 1, "listed up to the bound, and the last request's first");
    assert_eq!(chg.iter().map(|t| t.responses_omitted).sum::<u64>(), MAX_RESPONSES as u64 - 1, "the rest counted");
    // The same TrIDs asked again, then enough new requests for a settle pass: the first
    // transactions leave, and what they listed is free again.
    for t in (1..=trids).chain(10_000..10_000 + msntap::session::SETTLE_AT as u32) {
        text.extend_from_slice(format!("CHG {t} NLN\r\n").as_bytes());
    }
    feed(&mut c, Dir::C2S, &mut text);
    let settled: Vec<_> = c.settled.drain(..).collect();
    assert_eq!(settled.iter().filter(|t| t.responses_omitted > 0).count(), 1, "the settled keep their counts");
    assert!(settled.iter().all(|t| t.outcome == msntap::session::Outcome::Ok), "answered, past the bound too");
    text.extend_from_slice(b"ILN 1 NLN again@hotmail.com U\r\n");
    feed(&mut c, Dir::S2C, &mut text);
    let again = c.transactions.iter().find(|t| t.trid == Some(1)).expect("CHG 1 asked again");
    assert_eq!((again.responses.len(), again.responses_omitted), (1, 0), "listed once the settled made room");
    text.extend_from_slice(b"ILN 1 NLN twice@hotmail.com U\r\n");
    feed(&mut c, Dir::S2C, &mut text);
    let again = c.transactions.iter().find(|t| t.trid == Some(1)).expect("CHG 1 asked again");
    assert_eq!((again.responses.len(), again.responses_omitted), (2, 0), "a second answer listed too");
    c.close(3, CloseKind::Fin, &opts);
    use msntap::session::Outcome;
    let unanswered = c.transactions.iter().filter(|t| t.outcome == Outcome::Unanswered).count();
    let want = msntap::session::SETTLE_AT + trids as usize - 1;
    assert_eq!(unanswered, want, "the requests asked again but CHG 1, and the new ones: no more");
}

#[test]
fn responses_past_the_bound_are_counted_in_the_json() {
    use msntap::session::MAX_RESPONSES;
    let mut sends = vec![
        (true, b"VER 1 MSNP2 CVR0\r\n".to_vec()),
        (false, b"VER 1 MSNP2\r\n".to_vec()),
        (true, b"CHG 5 NLN\r\n".to_vec()),
        (false, b"CHG 5 NLN\r\n".to_vec()),
    ];
    // One send of 120 KB: the script cuts it into segments an IP packet can hold.
    let lines: String = (0..MAX_RESPONSES + 3).map(|i| format!("ILN 5 NLN u{i}@hotmail.com U\r\n")).collect();
    sends.push((false, lines.into_bytes()));
    sends.extend([(true, b"CHG 6 BSY\r\n".to_vec()), (false, b"CHG 6 BSY\r\n".to_vec())]);
    let doc = analyze(&raw_connection(&sends), Options::default());
    let txns = doc["connections"][0]["transactions"].as_array().expect("transactions");
    let chg5 = txns.iter().find(|t| t["trid"] == 5).expect("CHG 5");
    assert_eq!(chg5["responses"].as_array().map(Vec::len), Some(MAX_RESPONSES));
    assert_eq!(chg5["responses_omitted"], 4, "one CHG and 4,099 ILNs answered it");
    let chg6 = txns.iter().find(|t| t["trid"] == 6).expect("CHG 6");
    assert!(chg6.get("responses_omitted").is_none(), "only where responses were left out: {chg6}");
}

#[test]
fn an_old_request_never_answered_does_not_hold_every_later_transaction() {
    use msntap::session::{Outcome, MAX_HELD};
    let opts = Options { stream_events: true, terse: true, ..Options::default() };
    let mut c = connection(&opts);
    c.data(Dir::C2S, 1, b"CHG 5 NLN\r\n", &opts);
    let (mut settled, mut most) = (Vec::new(), 0);
    // 300,000 more requests, each answered, on TrIDs 10 to 1,009 over and over: CHG 5 stays
    // open, and nothing would ever take the transactions after it.
    let rounds = (MAX_HELD + 40_000) / 1_000;
    let lines: String = (10..1_010).map(|t| format!("CHG {t} NLN\r\n")).collect();
    for _ in 0..rounds {
        c.data(Dir::C2S, 2, lines.as_bytes(), &opts);
        c.data(Dir::S2C, 3, lines.as_bytes(), &opts);
        settled.append(&mut c.settled);
        drop_events(&mut c);
        most = most.max(c.transactions.len());
    }
    assert!(most <= MAX_HELD, "{most} transactions held at once (bound {MAX_HELD})");
    assert_eq!(settled.len() + c.transactions.len(), 1 + rounds * 1_000, "every transaction is accounted for");
    let chg5 = settled.iter().find(|t| t.trid == Some(5)).expect("CHG 5 was let go");
    assert_eq!(chg5.outcome, Outcome::Unanswered);
    let answered_settled = settled.iter().filter(|t| t.outcome == Outcome::Ok).count();
    assert_eq!(answered_settled, settled.len() - 1, "only CHG 5 went unanswered");
}

#[test]
fn answered_login_trids_do_not_hold_a_long_session_back() {
    use msntap::session::SETTLE_AT;
    let opts = Options { stream_events: true, ..Options::default() };
    let mut c = connection(&opts);
    c.data(Dir::C2S, 1, b"VER 1 MSNP2 CVR0\r\nCHG 2 NLN\r\n", &opts);
    c.data(Dir::S2C, 1, b"VER 1 MSNP2\r\nCHG 2 NLN\r\n", &opts);
    let (mut settled, mut most) = (0, 0);
    let lines: String = (10..1_010).map(|t| format!("ADD {t} FL u{t}@hotmail.com U\r\n")).collect();
    let answers: String = (10..1_010).map(|t| format!("ADD {t} FL {t} u{t}@hotmail.com U\r\n")).collect();
    for _ in 0..20 {
        c.data(Dir::C2S, 2, lines.as_bytes(), &opts);
        c.data(Dir::S2C, 3, answers.as_bytes(), &opts);
        settled += c.settled.drain(..).count();
        drop_events(&mut c);
        most = most.max(c.transactions.len());
    }
    // TrIDs 1 and 2 stay open (answered) for the rest of the session: they hold nothing back.
    assert!(most <= 3 * SETTLE_AT, "{most} transactions held at once");
    assert_eq!(settled + c.transactions.len(), 2 + 20_000, "every transaction is accounted for");
    // A late answer on the settled CHG 2 pairs with nothing, and is no violation.
    c.data(Dir::S2C, 4, b"ILN 2 NLN late@hotmail.com Late\r\n", &opts);
    let last = c.events.last().expect("the ILN is an event");
    assert_eq!(last.transaction, None);
    assert!(last.violations.is_empty(), "{:?}", last.violations);
}
