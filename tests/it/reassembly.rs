//! Reassembly through the whole pipeline: content recognition, stream dumps compared with
//! tshark, and segmentation/reordering/duplication that must not change a single event.

use super::common::*;
use msntap::session::Options;
use msntap::testkit::synth::{self, Encap, Script, Seg};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;

fn switchboard_on(port: u16, with_referral: bool) -> Vec<u8> {
    let mut s = Script::new(941_825_442_000_000_000, 21);
    let sb = format!("198.51.100.9:{port}");
    if with_referral {
        let ns = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.5:1863".parse().unwrap());
        s.send(ns, true, b"XFR 5 SB\r\n");
        s.send(ns, false, format!("XFR 5 SB {sb} CKI 1.2.3\r\n").as_bytes());
    }
    // Some other traffic on other ports: HTTP, and binary junk.
    let web = s.connect("203.0.113.5:40100".parse().unwrap(), "198.51.100.80:8080".parse().unwrap());
    s.send(web, true, b"GET / HTTP/1.0\r\n\r\n");
    s.send(web, false, b"HTTP/1.0 200 OK\r\n\r\nhello");
    s.close(web, true);
    let bin = s.connect("203.0.113.5:40101".parse().unwrap(), "198.51.100.81:5000".parse().unwrap());
    s.send(bin, true, &[0, 1, 2, 3, 255, 254, 10, 13]);
    s.close(bin, true);
    let c = s.connect("203.0.113.5:40001".parse().unwrap(), sb.parse().unwrap());
    s.send(c, true, b"USR 1 alice@hotmail.com 1.2.3\r\n");
    s.send(c, false, b"USR 1 OK alice@hotmail.com Alice\r\n");
    s.send(c, true, b"CAL 2 bob@hotmail.com\r\n");
    s.send(c, false, b"CAL 2 RINGING 42\r\n");
    s.close(c, true);
    synth::pcap(&s.segs, Encap::Ethernet, None)
}

#[test]
fn switchboard_on_another_port_found_through_the_referral_and_through_content() {
    for with_referral in [true, false] {
        let doc = analyze(&switchboard_on(7001, with_referral), Options::default());
        let conns = doc["connections"].as_array().unwrap();
        let sb: Vec<&Value> = conns.iter().filter(|c| c["server"] == "198.51.100.9:7001").collect();
        assert_eq!(sb.len(), 1, "referral {with_referral}");
        assert_eq!(sb[0]["role"], "SB");
        assert_eq!(commands(sb[0]).len(), 4);
        assert_eq!(conns.len(), 1 + usize::from(with_referral), "HTTP and junk flows are not MSNP");
        assert!(sb[0]["events"].as_array().unwrap().iter().all(|e| e["kind"] != "malformed"));
    }
}

#[test]
fn content_probe_can_be_turned_off_and_ports_added_by_hand() {
    let pcap = switchboard_on(7001, false);
    let path = tmp("sb.pcap");
    std::fs::write(&path, &pcap).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_msntap"))
            .arg("read")
            .arg(&path)
            .args(["--json", "-"])
            .args(args)
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["connections"].as_array().unwrap().len()
    };
    assert_eq!(run(&[]), 1);
    assert_eq!(run(&["--no-content-probe"]), 0);
    assert_eq!(run(&["--no-content-probe", "--port", "7001"]), 1);
}

/// tshark's `follow,tcp,raw` of one stream: (node 0 address, node 0 bytes, node 1 bytes).
fn tshark_follow(file: &std::path::Path, stream: usize) -> Option<(String, Vec<u8>, Vec<u8>)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-q", "-z", &format!("follow,tcp,raw,{stream}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut node0 = String::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut body = false;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Node 0: ") {
            node0 = n.trim().to_string();
        } else if line.starts_with("Node 1: ") {
            body = true;
        } else if line.starts_with("====") {
            body = false;
        } else if body && !line.trim().is_empty() {
            let (dst, hexs) = match line.strip_prefix('\t') {
                Some(h) => (&mut b, h),
                None => (&mut a, line),
            };
            dst.extend(hex::decode(hexs.trim()).ok()?);
        }
    }
    Some((node0, a, b))
}

#[test]
fn dumped_streams_equal_what_tshark_reassembles() {
    if Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("tshark not installed: the comparison with tshark did not run");
        return;
    }
    let file = root().join("../shared/captures/msnms-2005-msnp11-midsession.pcap");
    let dir = tmp("dump");
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_msntap"))
        .arg("read")
        .arg(&file)
        .arg("--summary")
        .arg("--dump-streams")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        files.insert(e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap());
    }
    assert_eq!(files.len(), 12, "two files for each of six connections");
    for stream in 0..6 {
        let (node0, a, b) = tshark_follow(&file, stream).expect("tshark output");
        let client = node0.replace(':', ".");
        let c2s = files
            .iter()
            .find(|(n, _)| n.contains(&format!("_{client}_")) && n.ends_with("_c2s.bin"))
            .map(|(_, v)| v)
            .unwrap();
        let s2c = files
            .iter()
            .find(|(n, _)| n.contains(&format!("_{client}_")) && n.ends_with("_s2c.bin"))
            .map(|(_, v)| v)
            .unwrap();
        assert_eq!(c2s, &a, "stream {stream} client to server");
        assert_eq!(s2c, &b, "stream {stream} server to client");
    }
}

/// The events of a document without times (which differ when packets move).
fn shape(doc: &Value) -> Vec<(String, String, Option<u64>, usize)> {
    let mut out = Vec::new();
    for c in doc["connections"].as_array().unwrap() {
        for e in c["events"].as_array().unwrap() {
            let ty = e["kind"].as_str().unwrap().to_string();
            if ty == "fin" {
                continue;
            }
            out.push((
                ty,
                e["line"].as_str().unwrap_or("").to_string(),
                e["transaction"].as_u64(),
                e["violations"].as_array().unwrap().len(),
            ));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn segmentation_reordering_and_duplication_change_no_event(
        cuts in proptest::collection::vec(1usize..2000, 0..40),
        swaps in proptest::collection::vec((0usize..80, 1usize..3), 0..10),
        dups in proptest::collection::vec(0usize..80, 0..10),
    ) {
        let mut lines = String::new();
        for i in 1..30 {
            lines.push_str(&format!("CHG {i} NLN\r\n"));
            lines.push_str(&format!("PNG\r\nREA {} alice@hotmail.com Alice%20{i}\r\n", 100 + i));
        }
        let answers: String = (1..30).map(|i| format!("CHG {i} NLN\r\nQNG\r\nREA {} 7 alice@hotmail.com Alice%20{i}\r\n", 100 + i)).collect();
        let build = |split: &[usize], swaps: &[(usize, usize)], dups: &[usize]| {
            let mut s = Script::new(941_825_442_000_000_000, 4);
            let c = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.9:1863".parse().unwrap());
            for (client, line) in [
                (true, "VER 1 MSNP2"),
                (false, "VER 1 MSNP2"),
                (true, "INF 2"),
                (false, "INF 2 MD5"),
                (true, "USR 3 MD5 I alice@hotmail.com"),
                (false, "USR 3 MD5 S 1.2"),
                (true, "USR 4 MD5 S f59af8f2fa91d38aff7c870c17f99903"),
                (false, "USR 4 OK alice@hotmail.com Alice"),
            ] {
                s.send(c, client, format!("{line}\r\n").as_bytes());
            }
            let start = s.segs.len();
            s.send_split(c, true, lines.as_bytes(), split);
            let end = s.segs.len() - 1; // before the server's ACK
            s.send(c, false, answers.as_bytes());
            s.close(c, true);
            let mut segs: Vec<Seg> = s.segs.clone();
            let n = end - start;
            for &(i, k) in swaps {
                if n > 1 {
                    let a = start + i % n;
                    let b = (a + k).min(end - 1);
                    segs.swap(a, b);
                }
            }
            for &i in dups {
                if n > 0 {
                    let g = segs[start + i % n].clone();
                    segs.insert(end, g);
                }
            }
            // Keep capture time monotonic whatever moved.
            let t0 = segs[0].ts_ns;
            for (i, g) in segs.iter_mut().enumerate() {
                g.ts_ns = t0 + i as i64 * 1000;
            }
            synth::pcap(&segs, Encap::Ethernet, None)
        };
        let clean = analyze(&build(&[], &[], &[]), Options::default());
        let messy = analyze(&build(&cuts, &swaps, &dups), Options::default());
        prop_assert_eq!(shape(&messy), shape(&clean));
        prop_assert_eq!(rule_ids(&clean).len(), 0);
    }
}

#[test]
fn a_gap_inside_a_msg_payload_keeps_the_stream_in_step() {
    let mut s = Script::new(941_825_442_000_000_000, 8);
    let c = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.9:1863".parse().unwrap());
    s.send(c, true, b"USR 1 alice@hotmail.com 1.2.3\r\n");
    s.send(c, false, b"USR 1 OK alice@hotmail.com Alice\r\n");
    let body = "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n";
    let msg = format!("MSG 2 N {}\r\n{body}CAL 3 bob@hotmail.com\r\n", body.len());
    let cut = msg.find("line one").unwrap();
    s.send_split(c, true, msg.as_bytes(), &[cut, cut + 12]);
    s.send(c, false, b"CAL 3 RINGING 42\r\n");
    s.close(c, true);
    let mut segs = s.segs.clone();
    let lost = segs.iter().position(|g| g.payload.starts_with(b"line one")).unwrap();
    segs.remove(lost);
    let doc = analyze(&synth::pcap(&segs, Encap::Ethernet, None), Options::default());
    let c = &doc["connections"][0];
    let evs: Vec<&Value> = c["events"].as_array().unwrap().iter().collect();
    let msg_ev = evs.iter().find(|e| e["command"] == "MSG").unwrap();
    assert_eq!(msg_ev["payload"]["complete"], false);
    assert_eq!(msg_ev["payload"]["length"], body.len());
    let cal = evs
        .iter()
        .find(|e| e["command"] == "CAL" && e["dir"] == "c2s")
        .expect("the command after the payload is decoded");
    assert_eq!(cal["line"], "CAL 3 bob@hotmail.com");
    assert_eq!(rule_ids(&doc), ["MSNP-N001"]);
}

#[test]
fn mid_stream_pickup_starts_at_the_first_command_line() {
    let mut s = Script::new(941_825_442_000_000_000, 8);
    let c = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.9:1863".parse().unwrap());
    // (Resynchronisation finds commands at line starts: a payload that does not end in CRLF
    // hides the command glued to it.)
    let body = "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello there\r\n";
    let msg = format!("MSG 2 N {}\r\n{body}CAL 3 bob@hotmail.com\r\n", body.len());
    let cut = msg.find("Content-Type").unwrap();
    s.send_split(c, true, msg.as_bytes(), &[cut]);
    s.send(c, false, b"CAL 3 RINGING 42\r\n");
    s.close(c, true);
    // The capture starts with the second piece: the tail of a payload, then a command.
    let segs: Vec<Seg> = s.segs[4..].to_vec();
    let doc = analyze(&synth::pcap(&segs, Encap::Ethernet, None), Options::default());
    let c = &doc["connections"][0];
    assert_eq!(c["start_seen"], false);
    let lines: Vec<&str> = commands(c).iter().map(|e| e["line"].as_str().unwrap()).collect();
    assert_eq!(lines, ["CAL 3 bob@hotmail.com", "CAL 3 RINGING 42"]);
    let ids = rule_ids(&doc);
    assert_eq!(ids, ["MSNP-N003", "MSNP-N004"], "mid-stream, and the skipped payload tail");
}

#[test]
fn idle_connections_are_flushed_after_the_timeout() {
    let mut s = Script::new(941_825_442_000_000_000, 8);
    let a = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.5:1863".parse().unwrap());
    s.send(a, true, b"PNG\r\n");
    s.advance_ms(700_000);
    let b = s.connect("203.0.113.5:40001".parse().unwrap(), "198.51.100.5:1863".parse().unwrap());
    s.send(b, true, b"PNG\r\n");
    s.send(b, false, b"QNG\r\n");
    s.close(b, true);
    let doc = analyze(&synth::pcap(&s.segs, Encap::Ethernet, None), Options::default());
    let closes: Vec<&str> =
        doc["connections"].as_array().unwrap().iter().map(|c| c["close"].as_str().unwrap()).collect();
    assert_eq!(closes, ["idle", "fin"]);
}

/// The synthesiser's packets, byte for byte as etherparse's independent encoder writes them
/// (the same header choices: IPv4 id 1, don't-fragment, TTL 64; window 65,535, no options).
#[test]
fn the_synthesisers_packets_are_what_etherparse_encodes() {
    use etherparse::{IpHeaders, Ipv4Header, Ipv6Header, PacketBuilder};
    use msntap::net::TcpFlags;
    let mut segs = msntap::testkit::sample::script().segs;
    // And IPv6 ones.
    let mut s6 = Script::new(1_000_000_000, 9);
    let c = s6.connect("[2001:db8::1]:40000".parse().unwrap(), "[2001:db8::2]:1863".parse().unwrap());
    s6.send(c, true, b"VER 1 MSNP2 CVR0\r\n");
    s6.close(c, true);
    segs.extend(s6.segs);
    for seg in &segs {
        let header = match (seg.src.ip(), seg.dst.ip()) {
            (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => {
                let mut h = Ipv4Header::new(0, 64, etherparse::IpNumber::TCP, a.octets(), b.octets()).unwrap();
                h.identification = 1;
                IpHeaders::Ipv4(h, Default::default())
            }
            (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => IpHeaders::Ipv6(
                Ipv6Header {
                    hop_limit: 64,
                    source: a.octets(),
                    destination: b.octets(),
                    next_header: etherparse::IpNumber::TCP,
                    ..Default::default()
                },
                Default::default(),
            ),
            _ => unreachable!("the script uses one family per connection"),
        };
        let mut b = PacketBuilder::ip(header).tcp(seg.src.port(), seg.dst.port(), seg.seq, 65_535);
        let f = TcpFlags(seg.flags);
        if f.has(TcpFlags::SYN) {
            b = b.syn();
        }
        if f.has(TcpFlags::FIN) {
            b = b.fin();
        }
        if f.has(TcpFlags::RST) {
            b = b.rst();
        }
        if f.has(TcpFlags::PSH) {
            b = b.psh();
        }
        if f.has(TcpFlags::ACK) {
            b = b.ack(seg.ack);
        } else {
            assert_eq!(seg.ack, 0, "an ack number without ACK");
        }
        let mut want = Vec::new();
        b.write(&mut want, &seg.payload).unwrap();
        assert_eq!(msntap::net::build::ip_packet(seg), want, "{seg:?}");
    }
}

/// A capture taken on the client's own host with segmentation offload: its outgoing packets
/// show an IPv4 total length of 0. They are read by their captured length, as Wireshark does.
#[test]
fn offloaded_packets_with_ip_length_zero_are_read_whole() {
    let script = msntap::testkit::sample::script();
    let frames: Vec<(i64, Vec<u8>)> = script
        .segs
        .iter()
        .map(|seg| {
            let mut f = msntap::net::build::frame(seg, Encap::Ethernet);
            // Alice's machine captured her own packets before the NIC filled the length in.
            if seg.src.ip().to_string() == "203.0.113.10" {
                f[16] = 0;
                f[17] = 0;
            }
            (seg.ts_ns, f)
        })
        .collect();
    let tso = analyze(&synth::pcap_frames(&frames, Encap::Ethernet), Options::default());
    let plain = analyze(&msntap::testkit::sample::pcap(), Options::default());
    assert_eq!(rule_ids(&tso), Vec::<String>::new());
    assert_eq!(tso["summary"]["tcp"]["gaps"], 0);
    assert_eq!(tso["summary"]["malformed_packets"], 0);
    assert_eq!(tso["connections"], plain["connections"]);
}

/// Two clients referred to the same notification server by the dispatch server; the second
/// connects first. Each referral leads to its own client's connection, not to the first one
/// that reaches the address.
#[test]
fn a_referral_is_followed_by_its_own_clients_connection() {
    let mut s = Script::new(941_825_442_000_000_000, 7);
    let ds: std::net::SocketAddr = "198.51.100.1:1863".parse().unwrap();
    let ns: std::net::SocketAddr = "198.51.100.5:1863".parse().unwrap();
    let (alice, bob): (std::net::IpAddr, std::net::IpAddr) =
        ("203.0.113.10".parse().unwrap(), "203.0.113.20".parse().unwrap());
    for (ip, who) in [(alice, "alice"), (bob, "bob")] {
        let c = s.connect(std::net::SocketAddr::new(ip, 40000), ds);
        s.send(c, true, b"VER 1 MSNP2 CVR0\r\n");
        s.send(c, false, b"VER 1 MSNP2\r\n");
        s.send(c, true, format!("USR 2 MD5 I {who}@hotmail.com\r\n").as_bytes());
        s.send(c, false, b"XFR 2 NS 198.51.100.5:1863\r\n");
        s.close(c, false);
    }
    // Bob's notification connection comes first.
    for (ip, who) in [(bob, "bob"), (alice, "alice")] {
        let c = s.connect(std::net::SocketAddr::new(ip, 40001), ns);
        s.send(c, true, b"VER 1 MSNP2 CVR0\r\n");
        s.send(c, false, b"VER 1 MSNP2\r\n");
        s.send(c, true, format!("USR 2 MD5 I {who}@hotmail.com\r\n").as_bytes());
        s.close(c, true);
    }
    let doc = analyze(&synth::pcap(&s.segs, Encap::Ethernet, None), Options::default());
    let conns = doc["connections"].as_array().unwrap();
    let client_of =
        |id: &Value| conns.iter().find(|c| c["id"] == *id).map(|c| c["client"].as_str().unwrap().to_string());
    let links: Vec<&Value> = doc["links"].as_array().unwrap().iter().filter(|l| l["kind"] == "XFR NS").collect();
    assert_eq!(links.len(), 2, "{doc}");
    for l in links {
        let from = client_of(&l["from"]["connection"]).unwrap();
        let to = client_of(&l["to"]["connection"]).expect("followed");
        assert_eq!(from.rsplit_once(':').unwrap().0, to.rsplit_once(':').unwrap().0, "{l}");
    }
}

/// An announced switchboard address on a port msntap does not know is MSNP for the client the
/// referral went to, for the idle timeout after the referral: with the content probe off,
/// that client's connection there is analysed, another client's is not, and the same client's
/// after the timeout (a sweep between) is not either.
#[test]
fn an_announced_address_is_known_to_its_client_for_the_idle_timeout() {
    let mut s = Script::new(941_825_442_000_000_000, 11);
    let ns: std::net::SocketAddr = "198.51.100.5:1863".parse().unwrap();
    let sb: std::net::SocketAddr = "198.51.100.9:7001".parse().unwrap();
    let (alice, bob): (std::net::IpAddr, std::net::IpAddr) =
        ("203.0.113.10".parse().unwrap(), "203.0.113.20".parse().unwrap());
    let n = s.connect(std::net::SocketAddr::new(alice, 40001), ns);
    s.send(n, true, b"VER 1 MSNP2 CVR0\r\n");
    s.send(n, false, b"VER 1 MSNP2\r\n");
    s.send(n, true, b"XFR 2 SB\r\n");
    s.send(n, false, b"XFR 2 SB 198.51.100.9:7001 CKI 17.42\r\n");
    for (ip, port, wait_s) in [(alice, 40002, 1), (bob, 40003, 1), (alice, 40004, 30)] {
        s.advance_ms(wait_s * 1000);
        // Traffic elsewhere meanwhile: the reassembler sweeps on it.
        s.send(n, true, b"PNG\r\n");
        let c = s.connect(std::net::SocketAddr::new(ip, port), sb);
        s.send(c, true, b"USR 1 alice@hotmail.com 17.42\r\n");
        s.close(c, true);
    }
    let file = tmp("announced.pcap");
    std::fs::write(&file, synth::pcap(&s.segs, Encap::Ethernet, None)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"))
        .args(["read", "--summary", "--color", "never", "--no-content-probe", "--idle-timeout", "10"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let sb_lines: Vec<&str> = text.lines().filter(|l| l.contains("→ 198.51.100.9:7001")).collect();
    assert_eq!(sb_lines.len(), 1, "{text}");
    assert!(sb_lines[0].contains("203.0.113.10:40002"), "{text}");
}
