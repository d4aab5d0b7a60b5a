//! A capture generator for benchmarks: many users, each with a dispatch login, a notification
//! session (MD5 login, SYN batch, presence churn, keep-alives, list edits) and switchboard
//! sessions (as caller via XFR SB, or as callee via RNG/ANS) with messages of realistic sizes
//! and typing notices; a configurable share of segments reordered or retransmitted.
//! Deterministic from a seed, and streaming: sessions are generated a few hundred at a time and
//! merged in time order, so memory stays flat whatever the size.

use super::synth::{frame, Encap, Script, Seg};
use crate::capture::write::PcapWriter;
use crate::flow::LinkType;
use crate::msnp::auth::md5_response;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    /// Stop after about this many packets.
    pub packets: u64,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
    /// Share of data segments delivered out of order (0.0–1.0).
    pub reorder: f64,
    /// Share of data segments retransmitted (0.0–1.0).
    pub retransmit: f64,
    /// Sessions in flight at once.
    pub concurrency: usize,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig { packets: 1_000_000, seed: 1, reorder: 0.01, retransmit: 0.01, concurrency: 256 }
    }
}

/// A small, fast, deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

const DS: &str = "198.51.100.1:1863";
const NS: &str = "198.51.100.5:1863";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or(crate::flow::DEFAULT_ADDR)
}

/// A distinct client address per user (10.0.0.1 upwards).
fn user_ip(u: u64) -> Ipv4Addr {
    Ipv4Addr::from(0x0A00_0001u32.wrapping_add(u as u32))
}

fn l(s: &str) -> Vec<u8> {
    format!("{s}\r\n").into_bytes()
}

/// One user's whole session as segments, starting at `start_ns`.
pub fn user_session(u: u64, start_ns: i64, rng: &mut Rng) -> Vec<Seg> {
    let mut s = Script::new(start_ns, rng.next_u64() as u32);
    let ip = user_ip(u);
    let handle = format!("user{u}@hotmail.com");
    let port = |k: u16| SocketAddr::new(ip.into(), 20_000 + k);
    // Dispatch.
    let d = s.connect(port(0), addr(DS));
    for (c, line) in [
        (true, "VER 1 MSNP2 CVR0".to_string()),
        (false, "VER 1 MSNP2".into()),
        (true, "INF 2".into()),
        (false, "INF 2 MD5".into()),
        (true, format!("USR 3 MD5 I {handle}")),
        (false, format!("XFR 3 NS {NS}")),
    ] {
        s.advance_ms(2 + rng.below(20));
        s.send(d, c, &l(&line));
    }
    s.close(d, false);
    // Notification login and SYN.
    s.advance_ms(100 + rng.below(400));
    let n = s.connect(port(1), addr(NS));
    let challenge = format!("{}.{}", 1_000_000_000 + rng.below(999_999_999), rng.below(999_999_999));
    let name = format!("User%20{u}");
    for (c, line) in [
        (true, "VER 4 MSNP2 CVR0".to_string()),
        (false, "VER 4 MSNP2".into()),
        (true, "INF 5".into()),
        (false, "INF 5 MD5".into()),
        (true, format!("USR 6 MD5 I {handle}")),
        (false, format!("USR 6 MD5 S {challenge}")),
        (true, format!("USR 7 MD5 S {}", md5_response(&challenge, "pw"))),
        (false, format!("USR 7 OK {handle} {name}")),
    ] {
        s.advance_ms(2 + rng.below(20));
        s.send(n, c, &l(&line));
    }
    let profile =
        "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 941825442\r\n\r\n";
    s.send(
        n,
        false,
        &[format!("MSG Hotmail Hotmail {}\r\n", profile.len()).into_bytes(), profile.as_bytes().to_vec()].concat(),
    );
    s.send(n, true, &l("SYN 8 0"));
    let contacts = 5 + rng.below(60);
    let serial = 100 + rng.below(900);
    let mut batch = format!("SYN 8 {serial}\r\nGTC 8 {serial} A\r\nBLP 8 {serial} AL\r\n");
    for list in ["FL", "AL", "BL", "RL"] {
        let count = if list == "BL" { rng.below(3) } else { contacts };
        if count == 0 {
            batch.push_str(&format!("LST 8 {list} {serial} 0 0\r\n"));
        }
        for i in 1..=count {
            batch.push_str(&format!(
                "LST 8 {list} {serial} {i} {count} friend{}@hotmail.com Friend%20{}\r\n",
                (u * 31 + i) % 100_000,
                i
            ));
        }
    }
    let b = batch.into_bytes();
    let cuts: Vec<usize> = (1..b.len() / 1400 + 1).map(|k| k * 1400).collect();
    s.send_split(n, false, &b, &cuts);
    s.send(n, true, &l("CHG 9 NLN"));
    let mut ch = String::from("CHG 9 NLN\r\n");
    for i in 0..rng.below(contacts.min(20)) {
        ch.push_str(&format!("ILN 9 NLN friend{}@hotmail.com Friend%20{}\r\n", (u * 31 + i + 1) % 100_000, i + 1));
    }
    s.send(n, false, ch.as_bytes());
    let mut trid = 10u32;
    // Presence churn, keep-alives, list edits and switchboards.
    for _ in 0..(3 + rng.below(12)) {
        s.advance_ms(500 + rng.below(30_000));
        match rng.below(10) {
            0..=3 => {
                let f = rng.below(100_000);
                let line = if rng.chance(0.3) {
                    format!("FLN friend{f}@hotmail.com")
                } else {
                    format!(
                        "NLN {} friend{f}@hotmail.com Friend%20{f}",
                        ["NLN", "AWY", "BSY", "IDL"][rng.below(4) as usize]
                    )
                };
                s.send(n, false, &l(&line));
            }
            4 | 5 => {
                s.send(n, true, &l("PNG"));
                s.advance_ms(20 + rng.below(50));
                s.send(n, false, &l("QNG"));
            }
            6 => {
                trid += 1;
                let f = rng.below(100_000);
                s.send(n, true, &l(&format!("ADD {trid} FL new{f}@hotmail.com New%20{f}")));
                s.advance_ms(5 + rng.below(20));
                s.send(
                    n,
                    false,
                    &l(&format!("ADD {trid} FL {} new{f}@hotmail.com New%20{f}", serial + u64::from(trid))),
                );
            }
            _ => {
                trid += 1;
                let k = 1 + trid as u16;
                switchboard(&mut s, n, &handle, &name, trid, port(k), rng);
            }
        }
    }
    s.send(n, true, &l("OUT"));
    s.send(n, false, &l("OUT"));
    s.close(n, false);
    retouch(s.segs, rng)
}

fn switchboard(s: &mut Script, n: usize, handle: &str, name: &str, trid: u32, local: SocketAddr, rng: &mut Rng) {
    let sb = SocketAddr::new(Ipv4Addr::new(198, 51, 100, 9 + rng.below(4) as u8).into(), 1864 + rng.below(3) as u16);
    let cookie = format!("{}.{}.{}", rng.below(1 << 30), rng.below(1 << 30), rng.below(99_999));
    let peer = format!("friend{}@hotmail.com", rng.below(100_000));
    let caller = rng.chance(0.5);
    let c = if caller {
        s.send(n, true, &l(&format!("XFR {trid} SB")));
        s.advance_ms(3);
        s.send(n, false, &l(&format!("XFR {trid} SB {sb} CKI {cookie}")));
        let c = s.connect(local, sb);
        s.send(c, true, &l(&format!("USR 1 {handle} {cookie}")));
        s.send(c, false, &l(&format!("USR 1 OK {handle} {name}")));
        s.send(c, true, &l(&format!("CAL 2 {peer}")));
        let sid = 1 + rng.below(1 << 30);
        s.send(c, false, &l(&format!("CAL 2 RINGING {sid}")));
        s.advance_ms(100 + rng.below(2000));
        s.send(c, false, &l(&format!("JOI {peer} Friend")));
        c
    } else {
        let sid = 1 + rng.below(1 << 30);
        s.send(n, false, &l(&format!("RNG {sid} {sb} CKI {cookie} {peer} Friend")));
        s.advance_ms(200 + rng.below(3000));
        let c = s.connect(local, sb);
        s.send(c, true, &l(&format!("ANS 1 {handle} {cookie} {sid}")));
        s.send(c, false, &format!("IRO 1 1 1 {peer} Friend\r\nANS 1 OK\r\n").into_bytes());
        c
    };
    let mut t = 2u32;
    for _ in 0..(2 + rng.below(25)) {
        s.advance_ms(300 + rng.below(8000));
        t += 1;
        if rng.chance(0.3) {
            let p =
                format!("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {handle}\r\n\r\n\r\n");
            s.send(c, true, &[format!("MSG {t} U {}\r\n", p.len()).into_bytes(), p.into_bytes()].concat());
        } else {
            // Message sizes: mostly short, some long (up to the 1664-byte observed limit).
            let len = if rng.chance(0.9) { 5 + rng.below(120) } else { 200 + rng.below(1400) } as usize;
            let body: String = (0..len).map(|i| (b'a' + ((i as u64 + t as u64) % 26) as u8) as char).collect();
            let p = format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=MS%20Sans%20Serif; EF=; CO=0; CS=0; PF=0\r\n\r\n{body}");
            let mode = if rng.chance(0.5) { "N" } else { "A" };
            s.send(c, true, &[format!("MSG {t} {mode} {}\r\n", p.len()).into_bytes(), p.clone().into_bytes()].concat());
            if mode == "A" {
                s.send(c, false, &l(&format!("ACK {t}")));
            }
            if rng.chance(0.7) {
                s.advance_ms(500 + rng.below(5000));
                s.send(c, false, &[format!("MSG {peer} Friend {}\r\n", p.len()).into_bytes(), p.into_bytes()].concat());
            }
        }
    }
    s.send(c, true, &l("OUT"));
    s.close(c, false);
}

/// Applies the configured share of reordering and retransmission (stored in the rng's use).
fn retouch(mut segs: Vec<Seg>, rng: &mut Rng) -> Vec<Seg> {
    let (reorder, retransmit) = RETOUCH.with(|r| *r.borrow());
    let mut i = 0;
    while i + 1 < segs.len() {
        if !segs[i].payload.is_empty() {
            if rng.chance(reorder) && segs[i + 1].src == segs[i].src && !segs[i + 1].payload.is_empty() {
                let (a, b) = (segs[i].ts_ns, segs[i + 1].ts_ns);
                segs.swap(i, i + 1);
                segs[i].ts_ns = a;
                segs[i + 1].ts_ns = b;
                i += 1;
            } else if rng.chance(retransmit) {
                let mut dup = segs[i].clone();
                dup.ts_ns = segs[i + 1].ts_ns;
                segs.insert(i + 1, dup);
                i += 1;
            }
        }
        i += 1;
    }
    segs
}

thread_local! {
    static RETOUCH: std::cell::RefCell<(f64, f64)> = const { std::cell::RefCell::new((0.0, 0.0)) };
}

/// Writes a generated capture (Ethernet pcap) to `out`; returns the packets written.
pub fn generate<W: Write>(cfg: GenConfig, out: W) -> std::io::Result<u64> {
    RETOUCH.with(|r| *r.borrow_mut() = (cfg.reorder, cfg.retransmit));
    let mut w = PcapWriter::new(std::io::BufWriter::with_capacity(1 << 20, out), LinkType::ETHERNET, false, 262_144)?;
    let mut rng = Rng::new(cfg.seed);
    // Active sessions: (next ts, session index) → segments and position.
    let mut sessions: Vec<(Vec<Seg>, usize)> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    let mut next_user = 0u64;
    let mut written = 0u64;
    let mut now = 941_825_442_000_000_000i64;
    let mut frame_buf;
    let mut start = |heap: &mut BinaryHeap<Reverse<(i64, usize)>>,
                     sessions: &mut Vec<(Vec<Seg>, usize)>,
                     slot: Option<usize>,
                     at: i64,
                     rng: &mut Rng| {
        let segs = user_session(next_user, at + rng.below(2_000_000_000) as i64, rng);
        next_user += 1;
        let first = segs.first().map_or(at, |g| g.ts_ns);
        let idx = match slot {
            Some(i) => {
                sessions[i] = (segs, 0);
                i
            }
            None => {
                sessions.push((segs, 0));
                sessions.len() - 1
            }
        };
        heap.push(Reverse((first, idx)));
    };
    for _ in 0..cfg.concurrency.max(1) {
        start(&mut heap, &mut sessions, None, now, &mut rng);
    }
    while written < cfg.packets {
        let Some(Reverse((_, idx))) = heap.pop() else { break };
        let (segs, pos) = &mut sessions[idx];
        let g = &segs[*pos];
        // Keep the capture's clock monotonic.
        now = now.max(g.ts_ns);
        frame_buf = frame(g, Encap::Ethernet);
        w.packet(now, &frame_buf, frame_buf.len() as u32)?;
        written += 1;
        *pos += 1;
        if *pos < segs.len() {
            let ts = segs[*pos].ts_ns;
            heap.push(Reverse((ts, idx)));
        } else {
            start(&mut heap, &mut sessions, Some(idx), now, &mut rng);
        }
    }
    w.finish()?.flush()?;
    Ok(written)
}

/// A capture for the hash-table benchmark: one MSNP2 notification session whose client sends
/// `requests` CHG requests in windows of 50,000, each window pipelined (a thousand to a
/// segment) before the server answers any of it, so the open-request table holds a whole
/// window at once. Their TrIDs are ten-digit numbers `step` apart (the same ones again in every
/// window): `step` 1 gives sequential ones, 65,536 ones whose low 16 bits are zero (what a weak
/// hash of the TrID turns into one bucket). `None` when the TrIDs would not fit in 32 bits.
pub fn trid_stress(requests: u32, step: u32) -> Option<Vec<u8>> {
    const FIRST: u64 = 1_000_000_000;
    const WINDOW: u32 = 50_000;
    let step = u64::from(step.max(1));
    let start = FIRST.div_ceil(step) * step;
    let last = start.checked_add(u64::from(requests.min(WINDOW)).checked_mul(step)?)?;
    if last > u64::from(u32::MAX) {
        return None;
    }
    let mut s = Script::new(941_825_442_000_000_000, 7);
    let client = SocketAddr::from((Ipv4Addr::new(203, 0, 113, 10), 40_002));
    let server = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 5), 1863));
    let c = s.connect(client, server);
    let l = |t: &str| format!("{t}\r\n").into_bytes();
    s.send(c, true, &l("VER 1 MSNP2 CVR0"));
    s.send(c, false, &l("VER 1 MSNP2"));
    s.send(c, true, &l("INF 2"));
    s.send(c, false, &l("INF 2 MD5"));
    s.send(c, true, &l("USR 3 MD5 I alice@hotmail.com"));
    s.send(c, false, &l("USR 3 MD5 S 1234567890.123456789"));
    s.send(c, true, &l(&format!("USR 4 MD5 S {}", md5_response("1234567890.123456789", "wonderland"))));
    s.send(c, false, &l("USR 4 OK alice@hotmail.com Alice"));
    let mut left = requests;
    while left > 0 {
        let n = left.min(WINDOW);
        left -= n;
        let trids: Vec<u64> = (0..u64::from(n)).map(|i| start + i * step).collect();
        for from_client in [true, false] {
            for chunk in trids.chunks(1000) {
                let lines: Vec<u8> = chunk.iter().flat_map(|t| l(&format!("CHG {t} NLN"))).collect();
                s.send(c, from_client, &lines);
            }
        }
    }
    s.close(c, true);
    Some(super::synth::pcap(&s.segs, Encap::Ethernet, None))
}

#[cfg(test)]
mod tests {
    #[test]
    fn trid_stress_captures_hold_their_windows_and_refuse_what_does_not_fit() {
        let doc = crate::app::analyze_to_json(
            &super::trid_stress(2_500, 65_536).unwrap_or_default(),
            crate::session::Options::default(),
            &[],
            crate::reassembly::Limits::default(),
        )
        .expect("reads");
        assert_eq!(doc["summary"]["transactions"]["ok"], 2_504);
        assert_eq!(doc["summary"]["by_severity"], serde_json::json!({}));
        // 50,000 TrIDs 100,000 apart pass 2^32; more requests reuse the window's TrIDs.
        assert!(super::trid_stress(50_000, 100_000).is_none());
        assert!(super::trid_stress(10, 100_000).is_some());
    }
}
