//! The sample session committed as `captures/msnp2-two-users.pcap`: Alice and Bob each log in
//! through the dispatch server (VER, INF, USR MD5 I, XFR NS), log in at the notification server
//! with MD5, synchronise their lists, go online and see each other's presence; Alice asks for a
//! switchboard (XFR SB), calls Bob (CAL), Bob is rung (RNG) and answers (ANS, IRO), they chat
//! (MSG with ack modes N and A, ACK), Bob leaves (BYE), both sign out. Everything follows
//! `msnp2-facts.md` §5, so msntap reports no error or warning on it.

use super::flavor::{Flavor, Lists};
use super::synth::{self, Encap, Script};
use std::net::SocketAddr;

/// Capture start: 1999-11-05 17:30:42 UTC, the LoginTime of the profile message.
pub const START_NS: i64 = 941_825_442 * 1_000_000_000;

/// Alice's password (for `--password`).
pub const ALICE_PASSWORD: &str = "wonderland";
/// Bob's password.
pub const BOB_PASSWORD: &str = "builder";

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn l(s: &str) -> Vec<u8> {
    format!("{s}\r\n").into_bytes()
}

fn lines(ls: &[&str]) -> Vec<u8> {
    ls.iter().flat_map(|s| l(s)).collect()
}

/// A MSG line from a server or client with its MIME payload.
pub fn msg(head: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut p = String::new();
    for (k, v) in headers {
        p.push_str(&format!("{k}: {v}\r\n"));
    }
    p.push_str("\r\n");
    p.push_str(body);
    let mut out = format!("{head} {}\r\n", p.len()).into_bytes();
    out.extend_from_slice(p.as_bytes());
    out
}

const ALICE: &str = "alice@hotmail.com";
const BOB: &str = "bob@hotmail.com";
const ALICE_IP: &str = "203.0.113.10";
const BOB_IP: &str = "203.0.113.20";
const DS: &str = "198.51.100.1:1863";
const NS: &str = "198.51.100.5:1863";
const SB: &str = "198.51.100.9:1865";
const XFR_COOKIE: &str = "17262740.1050826919.32308";
const RNG_COOKIE: &str = "849102291.520491113";
const SESSION: &str = "11752013";

fn dispatch(s: &mut Script, f: Flavor, client: &str, handle: &str) {
    let c = s.connect(a(client), a(DS));
    s.advance_ms(3);
    s.send(c, true, &l(&format!("VER 1 {}", f.offer())));
    s.advance_ms(12);
    s.send(c, false, &l(&format!("VER 1 {}", f.name())));
    s.advance_ms(2);
    if f.passport() {
        s.send(c, true, &l(&f.cvr(2, handle)));
        s.advance_ms(9);
        s.send(c, false, &l(&f.cvr_reply("2")));
    } else {
        s.send(c, true, &l("INF 2"));
        s.advance_ms(9);
        s.send(c, false, &l("INF 2 MD5"));
    }
    s.advance_ms(2);
    s.send(c, true, &l(&format!("USR 3 {} I {handle}", f.scheme())));
    s.advance_ms(19);
    s.send(c, false, &l(&f.xfr_ns("3", NS, DS)));
    s.advance_ms(1);
    s.close(c, false);
}

/// One user's login at the notification server.
struct User<'a> {
    client: &'a str,
    handle: &'a str,
    name: &'a str,
    password: &'a str,
    /// The MD5 challenge (Passport logins derive their policy from `n`).
    challenge: &'a str,
    n: u64,
    lists: Lists<'a>,
}

/// Logs in at the NS and synchronises; returns the connection handle and the next TrID.
fn notification(s: &mut Script, f: Flavor, u: &User<'_>) -> (usize, u32) {
    let c = s.connect(a(u.client), a(NS));
    s.advance_ms(4);
    s.send(c, true, &l(&format!("VER 4 {}", f.offer())));
    s.advance_ms(10);
    s.send(c, false, &l(&format!("VER 4 {}", f.name())));
    if f.passport() {
        s.send(c, true, &l(&f.cvr(5, u.handle)));
        s.advance_ms(8);
        s.send(c, false, &l(&f.cvr_reply("5")));
    } else {
        s.send(c, true, &l("INF 5"));
        s.advance_ms(8);
        s.send(c, false, &l("INF 5 MD5"));
    }
    s.send(c, true, &l(&format!("USR 6 {} I {}", f.scheme(), u.handle)));
    s.advance_ms(15);
    let (line, challenge) = if f.passport() {
        f.challenge("6", u.n)
    } else {
        (format!("USR 6 MD5 S {}", u.challenge), u.challenge.to_string())
    };
    if f.adl() {
        s.send(c, false, &payload_line("GCF 0", f.shields().as_bytes()));
    }
    s.send(c, false, &l(&line));
    s.advance_ms(2);
    s.send(c, true, &l(&format!("USR 7 {} S {}", f.scheme(), f.answer(&challenge, u.password))));
    s.advance_ms(21);
    s.send(c, false, &l(&f.usr_ok("7", u.handle, u.name)));
    if f.sbs() {
        s.send(c, false, &l("SBS 0 null"));
    }
    // The profile message, its command line and payload in separate segments.
    let headers = f.profile("941825442", u.handle, u.password);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let profile = msg("MSG Hotmail Hotmail", &headers, "");
    let cut = profile.iter().position(|b| *b == b'\n').map_or(0, |p| p + 1);
    s.send_split(c, false, &profile, &[cut]);
    s.advance_ms(30);
    let mut t = 8;
    if let Some(syn) = f.syn(t) {
        s.send(c, true, &l(&syn));
        s.advance_ms(25);
        let batch = f.syn_batch("8", 12, u.name, &u.lists).into_bytes();
        // A batch bigger than one line per segment, cut mid-line as a busy server would.
        s.send_split(c, false, &batch, &[batch.len() / 2]);
        s.advance_ms(40);
        t += 1;
    } else {
        s.send(c, true, &l(&format!("BLP {t} AL")));
        s.advance_ms(6);
        s.send(c, false, &l(&format!("BLP {t} AL")));
        t += 1;
        s.send(c, true, &payload_line(&format!("ADL {t}"), Flavor::ml(&u.lists.fl).as_bytes()));
        s.advance_ms(12);
        s.send(c, false, &l(&format!("ADL {t} OK")));
        t += 1;
        s.send(c, true, &l(&format!("PRP {t} MFN {}", u.name)));
        s.advance_ms(5);
        s.send(c, false, &l(&format!("PRP {t} MFN {}", u.name)));
        s.advance_ms(40);
        t += 1;
    }
    if f.gcf_request() {
        s.send(c, true, &l(&format!("GCF {t} Shields.xml")));
        s.advance_ms(9);
        s.send(c, false, &payload_line(&format!("GCF {t} Shields.xml"), f.shields().as_bytes()));
        s.advance_ms(20);
        t += 1;
    }
    (c, t)
}

/// A payload command: `head`, the payload's length, CRLF, the payload.
fn payload_line(head: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = format!("{head} {}\r\n", payload.len()).into_bytes();
    b.extend_from_slice(payload);
    b
}

/// After the first CHG: the challenge and its answer (MSNP7+), then the personal message
/// (MSNP11+) and, on `watcher`'s connection, the UBX that tells it. Returns the next TrID.
fn after_chg(s: &mut Script, f: Flavor, c: usize, mut t: u32, n: u64, who: &str, watcher: Option<usize>) -> u32 {
    if let Some(chl) = f.chl(n) {
        s.advance_ms(2);
        s.send(c, false, &l(&format!("CHL 0 {chl}")));
        s.advance_ms(40);
        if let Some((head, body)) = f.qry(t, &chl) {
            s.send(c, true, &payload_line(&head, &body));
            s.advance_ms(8);
            s.send(c, false, &l(&format!("QRY {t}")));
            t += 1;
        }
    }
    if f.personal_messages() {
        let psm = f.psm(if watcher.is_some() { "at work" } else { "busy day" });
        s.advance_ms(15);
        s.send(c, true, &payload_line(&format!("UUX {t}"), psm.as_bytes()));
        s.advance_ms(6);
        s.send(c, false, &l(&format!("UUX {t} 0")));
        t += 1;
        if let Some(w) = watcher {
            s.advance_ms(2);
            s.send(w, false, &payload_line(&format!("UBX {who}"), psm.as_bytes()));
        }
    }
    t
}

/// Builds the whole two-user session in MSNP2.
pub fn script() -> Script {
    script_in(Flavor::MSNP2)
}

/// Builds the whole two-user session in dialect `f`.
pub fn script_in(f: Flavor) -> Script {
    let mut script = Script::new(START_NS, 0x5eed + u32::from(f.number()) - 2);
    let s = &mut script;
    let (alice, bob, alice_ip, bob_ip) = (ALICE, BOB, ALICE_IP, BOB_IP);
    let bob_c = (bob, "Bob");
    let alice_c = (alice, "Alice%20Liddell");
    let carol_c = ("carol@hotmail.com", "Carol%20%E2%98%83");

    // Alice: dispatch, then notification.
    dispatch(s, f, &format!("{alice_ip}:40001"), alice);
    s.advance_ms(480);
    let client = format!("{alice_ip}:40002");
    let (ans, mut at) = notification(
        s,
        f,
        &User {
            client: &client,
            handle: alice,
            name: "Alice%20Liddell",
            password: ALICE_PASSWORD,
            challenge: "1234567890.123456789",
            n: 1,
            lists: Lists {
                fl: vec![bob_c, carol_c],
                al: vec![bob_c, carol_c],
                bl: vec![],
                rl: vec![bob_c],
                ..Lists::default()
            },
        },
    );
    s.send(ans, true, &l(&f.chg(&at.to_string(), "NLN")));
    s.advance_ms(6);
    s.send(ans, false, &l(&f.chg(&at.to_string(), "NLN")));
    at = after_chg(s, f, ans, at + 1, 1, alice, None);
    s.advance_ms(1500);

    // Bob: dispatch, then notification; Alice sees him come online.
    dispatch(s, f, &format!("{bob_ip}:51001"), bob);
    s.advance_ms(350);
    let client = format!("{bob_ip}:51002");
    let (bns, bt) = notification(
        s,
        f,
        &User {
            client: &client,
            handle: bob,
            name: "Bob",
            password: BOB_PASSWORD,
            challenge: "9876543210.987654321",
            n: 2,
            lists: Lists { fl: vec![alice_c], al: vec![alice_c], bl: vec![], rl: vec![alice_c], ..Lists::default() },
        },
    );
    let bt_s = bt.to_string();
    s.send(bns, true, &l(&f.chg(&bt_s, "NLN")));
    s.advance_ms(7);
    let reply = [f.chg(&bt_s, "NLN"), f.iln(&bt_s, "NLN", alice, "Alice%20Liddell")];
    s.send(bns, false, &lines(&[reply[0].as_str(), reply[1].as_str()]));
    s.advance_ms(3);
    s.send(ans, false, &l(&f.nln("NLN", bob, "Bob")));
    after_chg(s, f, bns, bt + 1, 2, bob, Some(ans));
    s.advance_ms(900);

    let at = switchboard(s, f, ans, bns, at);
    sign_out(s, f, ans, bns, at);
    script
}

/// Alice asks for a switchboard and calls Bob; they chat and leave. Returns Alice's next TrID.
fn switchboard(s: &mut Script, f: Flavor, ans: usize, bns: usize, mut at: u32) -> u32 {
    let (alice, bob, alice_ip, bob_ip) = (ALICE, BOB, ALICE_IP, BOB_IP);
    let t = at.to_string();
    s.send(ans, true, &l(&format!("XFR {t} SB")));
    s.advance_ms(3);
    s.send(ans, false, &l(&f.xfr_sb(&t, SB, XFR_COOKIE)));
    at += 1;
    s.advance_ms(5);
    let asb = s.connect(a(&format!("{alice_ip}:40003")), a(SB));
    s.advance_ms(2);
    s.send(asb, true, &l(&format!("USR 1 {alice} {XFR_COOKIE}")));
    s.advance_ms(11);
    s.send(asb, false, &l(&format!("USR 1 OK {alice} Alice%20Liddell")));
    s.send(asb, true, &l(&format!("CAL 2 {bob}")));
    s.advance_ms(14);
    s.send(asb, false, &l(&format!("CAL 2 RINGING {SESSION}")));
    s.advance_ms(4);
    s.send(bns, false, &l(&f.rng(SESSION, SB, RNG_COOKIE, alice, "Alice%20Liddell")));
    s.advance_ms(120);
    let bsb = s.connect(a(&format!("{bob_ip}:51003")), a(SB));
    s.advance_ms(2);
    s.send(bsb, true, &l(&format!("ANS 1 {bob} {RNG_COOKIE} {SESSION}")));
    s.advance_ms(9);
    let iro = f.iro("1", 1, 1, alice, "Alice%20Liddell");
    s.send(bsb, false, &lines(&[iro.as_str(), "ANS 1 OK"]));
    s.advance_ms(2);
    s.send(asb, false, &l(&f.joi(bob, "Bob")));
    s.advance_ms(1200);

    // They chat: Alice with ack mode N, Bob with A.
    let text = [("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=UTF-8")];
    s.send(asb, true, &msg("MSG 3 N", &text, "Hello Bob, are you there?"));
    s.advance_ms(6);
    s.send(bsb, false, &msg(&format!("MSG {alice} Alice%20Liddell"), &text, "Hello Bob, are you there?"));
    s.advance_ms(2300);
    let reply = "Yes! Sending you the notes now.";
    let long = msg("MSG 2 A", &text, reply);
    // A message split across two segments mid-payload.
    s.send_split(bsb, true, &long, &[long.len() - 10]);
    s.advance_ms(5);
    s.send(bsb, false, &l("ACK 2"));
    s.send(asb, false, &msg(&format!("MSG {bob} Bob"), &text, reply));
    s.advance_ms(1800);

    // Bob leaves the switchboard; Alice is told.
    s.send(bsb, true, &l("OUT"));
    s.advance_ms(4);
    s.close(bsb, false);
    s.send(asb, false, &l(&format!("BYE {bob}")));
    s.advance_ms(500);
    s.send(asb, true, &l("OUT"));
    s.advance_ms(3);
    s.close(asb, false);

    at
}

/// Keep-alive, a refused ADD (up to MSNP9), and both users sign out.
fn sign_out(s: &mut Script, f: Flavor, ans: usize, bns: usize, at: u32) {
    // Keep-alive and (up to MSNP9, which have ADD) an ADD the server refuses.
    s.advance_ms(20_000);
    s.send(ans, true, &l("PNG"));
    s.advance_ms(30);
    s.send(ans, false, &l(f.qng()));
    s.advance_ms(700);
    if f.number() <= 9 {
        s.send(ans, true, &l(&format!("ADD {at} AL bob@hotmail.com Bob")));
        s.advance_ms(5);
        s.send(ans, false, &l(&format!("215 {at}")));
    }
    s.advance_ms(3000);

    // Bob signs out; Alice sees him go; Alice signs out.
    s.send(bns, true, &l("OUT"));
    s.advance_ms(2);
    s.send(bns, false, &l("OUT"));
    s.close(bns, false);
    s.advance_ms(5);
    s.send(ans, false, &l("FLN bob@hotmail.com"));
    s.advance_ms(1000);
    s.send(ans, true, &l("OUT"));
    s.advance_ms(2);
    s.send(ans, false, &l("OUT"));
    s.close(ans, false);
}

/// The sample capture of dialect `f` (Ethernet, microsecond pcap): `captures/msnpN-two-users.pcap`.
pub fn pcap_in(f: Flavor) -> Vec<u8> {
    synth::pcap(&script_in(f).segs, Encap::Ethernet, None)
}

/// The sample capture's bytes (Ethernet, microsecond pcap).
pub fn pcap() -> Vec<u8> {
    synth::pcap(&script().segs, Encap::Ethernet, None)
}

/// A short capture whose requests end unanswered when the connection closes: one with no
/// violation of its own, one with odd spacing (so violations found later join an empty and a
/// non-empty list) and one whose friendly name is annotated, between answered ones. For the tests of what outputs add at the end.
pub fn unanswered_pcap() -> Vec<u8> {
    let mut s = Script::new(1_000_000_000, 3);
    let c = s.connect(SocketAddr::from(([10, 0, 0, 1], 40000)), SocketAddr::from(([10, 0, 0, 2], 1863)));
    s.send(c, true, b"VER 1 MSNP2 CVR0\r\n");
    s.send(c, false, b"VER 1 MSNP2\r\n");
    s.send(c, true, b"INF  2\r\nCHG 3 NLN\r\n");
    s.send(c, false, b"CHG 3 NLN\r\n");
    s.send(c, true, b"ADD 4 FL bob@hotmail.com bob\r\nADD 5 FL carol@hotmail.com Carol%20C\r\n");
    s.close(c, true);
    synth::pcap(&s.segs, Encap::Ethernet, None)
}

/// One notification connection of 6,005 events: an `INF` never answered (so a violation and
/// "no answer" reach its third event when the client closes), then 3,000 `ADD`s answered,
/// 500 to a segment. What outputs keep per event of an open connection outgrows small memory
/// budgets here.
pub fn long_session_pcap() -> Vec<u8> {
    let mut s = Script::new(1_000_000_000, 3);
    let c = s.connect(SocketAddr::from(([10, 0, 0, 1], 40001)), SocketAddr::from(([10, 0, 0, 2], 1863)));
    s.send(c, true, b"VER 1 MSNP2 CVR0\r\n");
    s.send(c, false, b"VER 1 MSNP2\r\n");
    s.send(c, true, b"INF 2\r\n");
    for k in 0..6u32 {
        let trids = 10 + k * 500..10 + (k + 1) * 500;
        let asks: String = trids.clone().map(|t| format!("ADD {t} FL u{t}@hotmail.com U\r\n")).collect();
        let answers: String = trids.map(|t| format!("ADD {t} FL {t} u{t}@hotmail.com U\r\n")).collect();
        s.send(c, true, asks.as_bytes());
        s.send(c, false, answers.as_bytes());
    }
    s.close(c, true);
    synth::pcap(&s.segs, Encap::Ethernet, None)
}

/// Captures for tests of the outputs: the two-user sample, a generated capture of 6,000
/// packets (reordering, retransmissions, many connections), [`unanswered_pcap`] and
/// [`long_session_pcap`].
pub fn output_test_captures() -> Vec<Vec<u8>> {
    let mut gen = Vec::new();
    let cfg = super::gen::GenConfig { packets: 6_000, ..Default::default() };
    // Writing to memory cannot fail.
    let _ = super::gen::generate(cfg, &mut gen);
    vec![pcap(), gen, unanswered_pcap(), long_session_pcap()]
}
