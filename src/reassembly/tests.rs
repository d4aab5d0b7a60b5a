use super::*;
use crate::net::{self, Sliced};
use crate::testkit::synth::{self, Encap, Script, Seg};
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Default, Debug)]
struct Rec {
    opened: Vec<ConnInfo>,
    data: HashMap<(ConnId, Dir), Vec<u8>>,
    gaps: Vec<(ConnId, Dir, u64, u64, GapReason)>,
    closes: Vec<(ConnId, CloseKind)>,
    half: Vec<(ConnId, Dir)>,
    anomalies: Vec<TcpAnomaly>,
}

impl StreamSink for Rec {
    fn accept(&mut self, _src: SocketAddr, dst: SocketAddr, _syn: bool, _affinity: std::net::IpAddr) -> Accept {
        Accept::Track { server: (dst.port() == 1863).then_some(dst) }
    }
    fn open(&mut self, info: &ConnInfo) {
        self.opened.push(info.clone());
    }
    fn data(&mut self, id: ConnId, dir: Dir, _ts: i64, bytes: &[u8]) {
        self.data.entry((id, dir)).or_default().extend_from_slice(bytes);
    }
    fn gap(&mut self, id: ConnId, dir: Dir, _ts: i64, offset: u64, len: u64, reason: GapReason) {
        self.gaps.push((id, dir, offset, len, reason));
    }
    fn half_close(&mut self, id: ConnId, dir: Dir, _ts: i64) {
        self.half.push((id, dir));
    }
    fn anomaly(&mut self, _id: ConnId, _dir: Dir, _ts: i64, anomaly: TcpAnomaly) {
        self.anomalies.push(anomaly);
    }
    fn close(&mut self, id: ConnId, _ts: i64, how: CloseKind) {
        self.closes.push((id, how));
    }
}

fn run_bytes(pcap: &[u8], limits: Limits) -> (Rec, Stats) {
    let mut rec = Rec::default();
    let mut r = Reassembler::new(limits);
    let mut reader = crate::capture::CaptureReader::new(pcap).expect("capture");
    let mut last = 0;
    let mut defrag = net::defrag::Defrag::default();
    while let Ok(Some(p)) = reader.next_packet() {
        last = p.ts_ns;
        match net::slice(p.link, p.data) {
            Sliced::Tcp(seg) => r.segment(&seg, p.ts_ns, &mut rec),
            Sliced::Fragment(f) => {
                if let Some(d) = defrag.push(&f, p.ts_ns) {
                    if let Sliced::Tcp(seg) = d.tcp() {
                        r.segment(&seg, p.ts_ns, &mut rec);
                    }
                }
            }
            _ => {}
        }
    }
    r.finish(last, &mut rec);
    (rec, r.stats())
}

fn run(segs: &[Seg]) -> (Rec, Stats) {
    run_bytes(&synth::pcap(segs, Encap::Ethernet, None), Limits::default())
}

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:1863";

fn conversation(isn: Option<(u32, u32)>) -> (Script, Vec<u8>, Vec<u8>) {
    let mut s = Script::new(1_000_000_000_000, 7);
    let c = s.connect_with_isn(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), isn);
    let mut up = Vec::new();
    let mut down = Vec::new();
    for i in 0..20 {
        let a = format!("CHG {i} NLN\r\n");
        let b = format!("CHG {i} NLN\r\nILN {i} NLN bob@hotmail.com Bob\r\n");
        s.send_split(c, true, a.as_bytes(), &[3]);
        s.send_split(c, false, b.as_bytes(), &[5, 20]);
        up.extend_from_slice(a.as_bytes());
        down.extend_from_slice(b.as_bytes());
    }
    s.close(c, true);
    (s, up, down)
}

fn data_segs(segs: &[Seg]) -> Vec<usize> {
    segs.iter().enumerate().filter(|(_, s)| !s.payload.is_empty()).map(|(i, _)| i).collect()
}

#[test]
fn clean_stream_reassembles_exactly() {
    let (s, up, down) = conversation(None);
    let (rec, stats) = run(&s.segs);
    assert_eq!(rec.data[&(1, Dir::C2S)], up);
    assert_eq!(rec.data[&(1, Dir::S2C)], down);
    assert_eq!(rec.closes, vec![(1, CloseKind::Fin)]);
    assert_eq!(rec.half.len(), 2);
    assert!(rec.gaps.is_empty() && rec.anomalies.is_empty());
    assert_eq!((stats.retransmissions, stats.out_of_order), (0, 0));
    assert!(rec.opened[0].syn_seen);
    assert_eq!(rec.opened[0].client, CLIENT.parse::<SocketAddr>().unwrap());
}

#[test]
fn sequence_numbers_wrap_around() {
    let (s, up, down) = conversation(Some((u32::MAX - 30, u32::MAX - 100)));
    let (rec, _) = run(&s.segs);
    assert_eq!(rec.data[&(1, Dir::C2S)], up);
    assert_eq!(rec.data[&(1, Dir::S2C)], down);
    assert!(rec.gaps.is_empty());
}

#[test]
fn reordered_segments_are_released_in_order() {
    let (mut s, up, down) = conversation(None);
    let d = data_segs(&s.segs);
    // Pieces of one send (no ACK between them) arrive in another order.
    s.segs.swap(d[0], d[1]);
    s.segs.swap(d[2], d[4]);
    s.segs.swap(d[10], d[11]);
    let (rec, stats) = run(&s.segs);
    assert_eq!(rec.data[&(1, Dir::C2S)], up);
    assert_eq!(rec.data[&(1, Dir::S2C)], down);
    assert!(stats.out_of_order > 0);
    assert!(rec.gaps.is_empty());
}

#[test]
fn retransmissions_exact_and_partial_are_merged() {
    let (mut s, up, down) = conversation(None);
    let d = data_segs(&s.segs);
    let dup = s.segs[d[4]].clone();
    s.segs.insert(d[7], dup);
    // A partial retransmission: the second half of one segment plus the next one's bytes.
    let a = s.segs[d[1]].clone();
    let b = s.segs[d[1] + 1].clone();
    if b.src == a.src && !b.payload.is_empty() {
        let mut merged = a.clone();
        merged.seq = a.seq.wrapping_add(1);
        merged.payload = [&a.payload[1..], &b.payload[..]].concat();
        s.segs.insert(d[9], merged);
    }
    let (rec, stats) = run(&s.segs);
    assert_eq!(rec.data[&(1, Dir::C2S)], up);
    assert_eq!(rec.data[&(1, Dir::S2C)], down);
    assert!(stats.retransmissions >= 1);
    assert!(rec.anomalies.is_empty());
}

#[test]
fn conflicting_retransmission_is_reported_and_first_data_wins() {
    let (mut s, up, _) = conversation(None);
    let d = data_segs(&s.segs);
    let mut evil = s.segs[d[0]].clone();
    evil.payload = evil.payload.iter().map(|b| b.to_ascii_lowercase()).collect();
    s.segs.insert(d[3], evil);
    let (rec, _) = run(&s.segs);
    assert_eq!(rec.data[&(1, Dir::C2S)], up);
    assert!(matches!(rec.anomalies[..], [TcpAnomaly::ConflictingRetransmission { offset: 0, .. }]));
}

#[test]
fn lost_segment_becomes_a_gap_when_acknowledged() {
    let (mut s, up, _) = conversation(None);
    let client: SocketAddr = CLIENT.parse().unwrap();
    let at = data_segs(&s.segs).into_iter().filter(|i| s.segs[*i].src == client).nth(3).unwrap();
    let lost = s.segs.remove(at);
    let (rec, _) = run(&s.segs);
    let got = &rec.data[&(1, Dir::C2S)];
    assert_eq!(got.len() + lost.payload.len(), up.len());
    match rec.gaps[..] {
        [(1, Dir::C2S, off, len, GapReason::Acked)] => {
            assert_eq!(len as usize, lost.payload.len());
            assert_eq!(&up[..off as usize], &got[..off as usize]);
            assert_eq!(&up[(off + len) as usize..], &got[off as usize..]);
        }
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn mid_stream_pickup_and_port_order_decide_the_sides() {
    let (s, up, down) = conversation(None);
    // Drop the handshake and the first exchange.
    let rest: Vec<Seg> = s.segs[5..].to_vec();
    let (rec, _) = run(&rest);
    assert!(!rec.opened[0].syn_seen);
    assert_eq!(rec.opened[0].server, SERVER.parse::<SocketAddr>().unwrap());
    assert!(up.ends_with(&rec.data[&(1, Dir::C2S)]));
    assert!(down.ends_with(&rec.data[&(1, Dir::S2C)]));
}

#[test]
fn reset_and_port_reuse() {
    let mut s = Script::new(1_000_000_000_000, 9);
    let (cl, sv) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
    let c = s.connect(cl, sv);
    s.send(c, true, b"VER 1 MSNP2\r\n");
    s.rst(c, false);
    let c2 = s.connect(cl, sv);
    s.send(c2, true, b"VER 2 MSNP2\r\n");
    s.close(c2, false);
    let (rec, _) = run(&s.segs);
    assert_eq!(rec.closes, vec![(1, CloseKind::Rst), (2, CloseKind::Fin)]);
    assert_eq!(rec.data[&(2, Dir::C2S)], b"VER 2 MSNP2\r\n");
}

#[test]
fn new_syn_on_a_live_tuple_starts_a_new_connection() {
    let mut s = Script::new(1_000_000_000_000, 9);
    let (cl, sv) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
    let c = s.connect(cl, sv);
    s.send(c, true, b"VER 1 MSNP2\r\n");
    let c2 = s.connect(cl, sv);
    s.send(c2, true, b"VER 2 MSNP2\r\n");
    let (rec, _) = run(&s.segs);
    assert_eq!(rec.closes, vec![(1, CloseKind::Reused), (2, CloseKind::Open)]);
}

#[test]
fn half_close_keeps_the_other_direction_open() {
    let mut s = Script::new(1_000_000_000_000, 9);
    let c = s.connect(CLIENT.parse().unwrap(), SERVER.parse().unwrap());
    s.send(c, true, b"OUT\r\n");
    s.fin(c, true);
    s.send(c, false, b"OUT\r\n");
    s.fin(c, false);
    s.ack(c, true);
    let (rec, _) = run(&s.segs);
    assert_eq!(rec.half, vec![(1, Dir::C2S), (1, Dir::S2C)]);
    assert_eq!(rec.data[&(1, Dir::S2C)], b"OUT\r\n");
    assert_eq!(rec.closes, vec![(1, CloseKind::Fin)]);
}

#[test]
fn snap_length_truncation_is_a_gap() {
    let (s, up, _) = conversation(None);
    // Ethernet 14 + IPv4 20 + TCP 20 + 4 payload bytes.
    let pcap = synth::pcap(&s.segs, Encap::Ethernet, Some(58));
    let (rec, _) = run_bytes(&pcap, Limits::default());
    let got = &rec.data[&(1, Dir::C2S)];
    let missing: u64 = rec.gaps.iter().filter(|g| g.1 == Dir::C2S).map(|g| g.3).sum();
    assert_eq!(got.len() as u64 + missing, up.len() as u64);
    assert!(rec.gaps.iter().all(|g| g.4 == GapReason::Snaplen));
}

#[test]
fn every_link_type_and_ipv6_carry_the_same_streams() {
    let (s, up, down) = conversation(None);
    for encap in [Encap::Ethernet, Encap::Vlan(42), Encap::Sll, Encap::Sll2, Encap::Null, Encap::Raw] {
        for v6 in [false, true] {
            let mut segs = s.segs.clone();
            if v6 {
                for g in &mut segs {
                    let map = |a: SocketAddr| match a.ip() {
                        std::net::IpAddr::V4(ip) => SocketAddr::new(ip.to_ipv6_mapped().into(), a.port()),
                        _ => a,
                    };
                    g.src = map(g.src);
                    g.dst = map(g.dst);
                }
            }
            let (rec, _) = run_bytes(&synth::pcap(&segs, encap, None), Limits::default());
            assert_eq!(rec.data[&(1, Dir::C2S)], up, "{encap:?} v6={v6}");
            assert_eq!(rec.data[&(1, Dir::S2C)], down, "{encap:?} v6={v6}");
            if let Encap::Vlan(id) = encap {
                assert_eq!(rec.opened[0].vlan, Some(id));
            }
            let ng = synth::pcapng(&segs, encap);
            let (rec, _) = run_bytes(&ng, Limits::default());
            assert_eq!(rec.data[&(1, Dir::C2S)], up, "pcapng {encap:?} v6={v6}");
        }
    }
}

#[test]
fn buffer_limit_declares_the_hole() {
    let (mut s, up, _) = conversation(None);
    let d = data_segs(&s.segs);
    let lost = s.segs.remove(d[0]);
    // Keep only segments from the client so no ACK reveals the hole.
    s.segs.retain(|g| g.src == lost.src);
    let limits = Limits { max_ooo_bytes: 16, ..Limits::default() };
    let (rec, _) = run_bytes(&synth::pcap(&s.segs, Encap::Ethernet, None), limits);
    assert_eq!(rec.gaps[0].4, GapReason::BufferLimit);
    assert_eq!(rec.data[&(1, Dir::C2S)], &up[lost.payload.len()..]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_segmentation_reorder_and_duplication_reassembles(
        cuts in proptest::collection::vec(1usize..400, 0..30),
        swaps in proptest::collection::vec((0usize..60, 1usize..4), 0..12),
        dups in proptest::collection::vec(0usize..60, 0..8),
    ) {
        let text: Vec<u8> = (0..40).flat_map(|i| format!("MSG {i} U 5\r\nhello").into_bytes()).collect();
        let mut s = Script::new(1_000_000_000_000, 3);
        let c = s.connect(CLIENT.parse().unwrap(), SERVER.parse().unwrap());
        let mut cuts: Vec<usize> = cuts.into_iter().map(|x| x % text.len()).collect();
        cuts.sort_unstable();
        // No ACKs in between: the client streams, the server acknowledges at the end.
        let mut segs = s.segs.clone();
        let base = segs[2].seq;
        let mut last = 0;
        cuts.push(text.len());
        for c in cuts {
            if c > last {
                segs.push(Seg { ts_ns: 0, src: CLIENT.parse().unwrap(), dst: SERVER.parse().unwrap(), seq: base.wrapping_add(last as u32), ack: segs[1].seq.wrapping_add(1), flags: crate::net::TcpFlags::ACK, payload: text[last..c].to_vec() });
                last = c;
            }
        }
        let n = segs.len();
        for (i, k) in swaps {
            let a = 3 + i % (n - 3).max(1);
            let b = (a + k).min(n - 1);
            segs.swap(a, b);
        }
        for i in dups {
            let a = 3 + i % (n - 3).max(1);
            let g = segs[a].clone();
            segs.push(g);
        }
        for (i, g) in segs.iter_mut().enumerate() {
            g.ts_ns = 1_000_000_000_000 + i as i64;
        }
        let (rec, _) = run(&segs);
        prop_assert_eq!(rec.data.get(&(1, Dir::C2S)).cloned().unwrap_or_default(), text);
        prop_assert!(rec.gaps.is_empty());
        prop_assert!(rec.anomalies.is_empty());
        let _ = c;
    }
}

#[test]
fn ip_fragments_are_reassembled_v4_and_v6() {
    let mut s = Script::new(1_000_000_000_000, 3);
    let c = s.connect(CLIENT.parse().unwrap(), SERVER.parse().unwrap());
    let big: Vec<u8> = (0..3000).map(|i| b"ABCDEFGHIJ"[i % 10]).collect();
    s.send(c, false, &big);
    s.send(c, true, b"OUT\r\n");
    s.close(c, true);
    for v6 in [false, true] {
        for lose in [false, true] {
            let mut frames = Vec::new();
            for (i, g) in s.segs.iter().enumerate() {
                let mut g = g.clone();
                if v6 {
                    let map = |a: SocketAddr| match a.ip() {
                        std::net::IpAddr::V4(ip) => SocketAddr::new(ip.to_ipv6_mapped().into(), a.port()),
                        _ => a,
                    };
                    g.src = map(g.src);
                    g.dst = map(g.dst);
                }
                if g.payload.len() > 1000 {
                    let mut parts = synth::fragment_frames(&g, Encap::Ethernet, 1200, 77 + i as u32);
                    // Out of order, and maybe one lost.
                    parts.reverse();
                    if lose {
                        parts.remove(1);
                    }
                    frames.extend(parts.into_iter().map(|f| (g.ts_ns, f)));
                } else {
                    frames.push((g.ts_ns, synth::frame(&g, Encap::Ethernet)));
                }
            }
            let (rec, _) = run_bytes(&synth::pcap_frames(&frames, Encap::Ethernet), Limits::default());
            if lose {
                assert!(!rec.data.contains_key(&(1, Dir::S2C)), "v6={v6}");
                assert_eq!(rec.gaps, vec![(1, Dir::S2C, 0, 3000, GapReason::Acked)], "v6={v6}");
            } else {
                assert_eq!(rec.data[&(1, Dir::S2C)], big, "v6={v6}");
                assert!(rec.gaps.is_empty());
            }
            assert_eq!(rec.data[&(1, Dir::C2S)], b"OUT\r\n");
        }
    }
}

proptest::proptest! {
    /// The ring of recent bytes answers like a plain list of the last 4,096 bytes.
    #[test]
    fn recent_ring_matches_a_plain_tail(chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..3000), 0..12), probe in 0usize..5000, len in 0usize..600) {
        let mut ring = super::Recent::default();
        let mut plain: Vec<u8> = Vec::new();
        for c in &chunks {
            ring.push(c);
            plain.extend_from_slice(c);
            let keep = plain.len().saturating_sub(super::RECENT);
            plain.drain(..keep);
            proptest::prop_assert_eq!(ring.len(), plain.len());
        }
        if probe + len <= plain.len() {
            let same = plain[probe..probe + len].to_vec();
            proptest::prop_assert!(ring.equals_at(probe, &same));
            if len > 0 {
                let mut other = same.clone();
                other[len / 2] ^= 1;
                proptest::prop_assert!(!ring.equals_at(probe, &other));
            }
        } else {
            proptest::prop_assert!(!ring.equals_at(probe, &vec![0; len]) || len == 0 && probe <= plain.len());
        }
    }
}

proptest! {
    /// A flow's key is the same whichever side sends, for either family and mixed ones; and
    /// two flows that differ in an address, a port or the VLAN have different keys.
    #[test]
    fn flow_keys_are_the_same_both_ways(
        ips in proptest::collection::vec(prop_oneof![
            any::<[u8; 4]>().prop_map(std::net::IpAddr::from),
            any::<[u16; 8]>().prop_map(std::net::IpAddr::from),
            Just(std::net::IpAddr::from([10, 0, 0, 1])),
        ], 2),
        ports in (any::<u16>(), prop_oneof![any::<u16>(), Just(1863)]),
        vlan in proptest::option::of(0u16..4096),
    ) {
        let a = SocketAddr::new(ips[0], ports.0);
        let b = SocketAddr::new(ips[1], ports.1);
        prop_assert_eq!(FlowKey::new(a, b, vlan), FlowKey::new(b, a, vlan));
        let other = SocketAddr::new(ips[1], ports.1.wrapping_add(1));
        prop_assert_ne!(FlowKey::new(a, b, vlan), FlowKey::new(a, other, vlan));
        prop_assert_ne!(FlowKey::new(a, b, vlan), FlowKey::new(a, b, vlan.map_or(Some(1), |_| None)));
    }
}

proptest! {
    /// Two flows have one key exactly when they join the same two endpoints on the same VLAN
    /// (addresses drawn from a few, so that many pairs meet; IPv4 and its IPv6 forms differ).
    #[test]
    fn flow_keys_are_equal_exactly_when_the_endpoints_are(
        ends in proptest::collection::vec((0usize..5, prop_oneof![Just(1863u16), Just(5000), Just(0)]), 4),
        vlans in (proptest::option::of(0u16..2), proptest::option::of(0u16..2)),
    ) {
        let ips: [std::net::IpAddr; 5] = [
            [10, 0, 0, 1].into(),
            [10, 0, 0, 2].into(),
            std::net::Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().into(),
            std::net::Ipv4Addr::new(10, 0, 0, 1).to_ipv6_compatible().into(),
            "2001:db8::1".parse::<std::net::IpAddr>().unwrap(),
        ];
        let at = |k: usize| SocketAddr::new(ips[ends[k].0], ends[k].1);
        let pair = |a: SocketAddr, b: SocketAddr| if a <= b { (a, b) } else { (b, a) };
        let (a, b, c, d) = (at(0), at(1), at(2), at(3));
        let same = pair(a, b) == pair(c, d) && vlans.0 == vlans.1;
        prop_assert_eq!(FlowKey::new(a, b, vlans.0) == FlowKey::new(c, d, vlans.1), same);
    }
}
