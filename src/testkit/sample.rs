//! The sample session committed as `captures/msnp2-two-users.pcap`: Alice and Bob each log in
//! through the dispatch server (VER, INF, USR MD5 I, XFR NS), log in at the notification server
//! with MD5, synchronise their lists, go online and see each other's presence; Alice asks for a
//! switchboard (XFR SB), calls Bob (CAL), Bob is rung (RNG) and answers (ANS, IRO), they chat
//! (MSG with ack modes N and A, ACK), Bob leaves (BYE), both sign out. Everything follows
//! `msnp2-facts.md` §5, so msntap reports no error or warning on it.

use super::synth::{self, Encap, Script};
use crate::msnp::auth::md5_response;
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

const DS: &str = "198.51.100.1:1863";
const NS: &str = "198.51.100.5:1863";
const SB: &str = "198.51.100.9:1865";
const XFR_COOKIE: &str = "17262740.1050826919.32308";
const RNG_COOKIE: &str = "849102291.520491113";
const SESSION: &str = "11752013";

fn dispatch(s: &mut Script, client: &str, handle: &str) {
    let c = s.connect(a(client), a(DS));
    s.advance_ms(3);
    s.send(c, true, &l("VER 1 MSNP2 CVR0"));
    s.advance_ms(12);
    s.send(c, false, &l("VER 1 MSNP2"));
    s.advance_ms(2);
    s.send(c, true, &l("INF 2"));
    s.advance_ms(9);
    s.send(c, false, &l("INF 2 MD5"));
    s.advance_ms(2);
    s.send(c, true, &l(&format!("USR 3 MD5 I {handle}")));
    s.advance_ms(19);
    s.send(c, false, &l(&format!("XFR 3 NS {NS}")));
    s.advance_ms(1);
    s.close(c, false);
}

/// Logs in at the NS and synchronises; returns the connection handle.
fn notification(
    s: &mut Script,
    client: &str,
    handle: &str,
    name: &str,
    pw: &str,
    challenge: &str,
    lists: &[&str],
) -> usize {
    let c = s.connect(a(client), a(NS));
    s.advance_ms(4);
    s.send(c, true, &l("VER 4 MSNP2 CVR0"));
    s.advance_ms(10);
    s.send(c, false, &l("VER 4 MSNP2"));
    s.send(c, true, &l("INF 5"));
    s.advance_ms(8);
    s.send(c, false, &l("INF 5 MD5"));
    s.send(c, true, &l(&format!("USR 6 MD5 I {handle}")));
    s.advance_ms(15);
    s.send(c, false, &l(&format!("USR 6 MD5 S {challenge}")));
    s.advance_ms(2);
    s.send(c, true, &l(&format!("USR 7 MD5 S {}", md5_response(challenge, pw))));
    s.advance_ms(21);
    s.send(c, false, &l(&format!("USR 7 OK {handle} {name}")));
    // The profile message, its command line and payload in separate segments.
    let profile = msg(
        "MSG Hotmail Hotmail",
        &[("MIME-Version", "1.0"), ("Content-Type", "text/x-msmsgsprofile; charset=UTF-8"), ("LoginTime", "941825442")],
        "",
    );
    let cut = profile.iter().position(|b| *b == b'\n').map_or(0, |p| p + 1);
    s.send_split(c, false, &profile, &[cut]);
    s.advance_ms(30);
    s.send(c, true, &l("SYN 8 0"));
    s.advance_ms(25);
    let mut batch = vec!["SYN 8 12", "GTC 8 12 A", "BLP 8 12 AL"];
    batch.extend_from_slice(lists);
    let batch = lines(&batch);
    // A batch bigger than one line per segment, cut mid-line as a busy server would.
    s.send_split(c, false, &batch, &[batch.len() / 2]);
    s.advance_ms(40);
    c
}

/// Builds the whole two-user session.
pub fn script() -> Script {
    let mut s = Script::new(START_NS, 0x5eed);
    let alice = "alice@hotmail.com";
    let bob = "bob@hotmail.com";
    let alice_ip = "203.0.113.10";
    let bob_ip = "203.0.113.20";

    // Alice: dispatch, then notification.
    dispatch(&mut s, &format!("{alice_ip}:40001"), alice);
    s.advance_ms(480);
    let ans = notification(
        &mut s,
        &format!("{alice_ip}:40002"),
        alice,
        "Alice%20Liddell",
        ALICE_PASSWORD,
        "1234567890.123456789",
        &[
            "LST 8 FL 12 1 2 bob@hotmail.com Bob",
            "LST 8 FL 12 2 2 carol@hotmail.com Carol%20%E2%98%83",
            "LST 8 AL 12 1 2 bob@hotmail.com Bob",
            "LST 8 AL 12 2 2 carol@hotmail.com Carol%20%E2%98%83",
            "LST 8 BL 12 0 0",
            "LST 8 RL 12 1 1 bob@hotmail.com Bob",
        ],
    );
    s.send(ans, true, &l("CHG 9 NLN"));
    s.advance_ms(6);
    s.send(ans, false, &l("CHG 9 NLN"));
    s.advance_ms(1500);

    // Bob: dispatch, then notification; Alice sees him come online.
    dispatch(&mut s, &format!("{bob_ip}:51001"), bob);
    s.advance_ms(350);
    let bns = notification(
        &mut s,
        &format!("{bob_ip}:51002"),
        bob,
        "Bob",
        BOB_PASSWORD,
        "9876543210.987654321",
        &[
            "LST 8 FL 12 1 1 alice@hotmail.com Alice%20Liddell",
            "LST 8 AL 12 1 1 alice@hotmail.com Alice%20Liddell",
            "LST 8 BL 12 0 0",
            "LST 8 RL 12 1 1 alice@hotmail.com Alice%20Liddell",
        ],
    );
    s.send(bns, true, &l("CHG 9 NLN"));
    s.advance_ms(7);
    s.send(bns, false, &lines(&["CHG 9 NLN", "ILN 9 NLN alice@hotmail.com Alice%20Liddell"]));
    s.advance_ms(3);
    s.send(ans, false, &l("NLN NLN bob@hotmail.com Bob"));
    s.advance_ms(900);

    // Alice asks for a switchboard and calls Bob.
    s.send(ans, true, &l("XFR 10 SB"));
    s.advance_ms(3);
    s.send(ans, false, &l(&format!("XFR 10 SB {SB} CKI {XFR_COOKIE}")));
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
    s.send(bns, false, &l(&format!("RNG {SESSION} {SB} CKI {RNG_COOKIE} {alice} Alice%20Liddell")));
    s.advance_ms(120);
    let bsb = s.connect(a(&format!("{bob_ip}:51003")), a(SB));
    s.advance_ms(2);
    s.send(bsb, true, &l(&format!("ANS 1 {bob} {RNG_COOKIE} {SESSION}")));
    s.advance_ms(9);
    s.send(bsb, false, &lines(&["IRO 1 1 1 alice@hotmail.com Alice%20Liddell", "ANS 1 OK"]));
    s.advance_ms(2);
    s.send(asb, false, &l(&format!("JOI {bob} Bob")));
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

    // Keep-alive and an ADD the server refuses.
    s.advance_ms(20_000);
    s.send(ans, true, &l("PNG"));
    s.advance_ms(30);
    s.send(ans, false, &l("QNG"));
    s.advance_ms(700);
    s.send(ans, true, &l("ADD 11 AL bob@hotmail.com Bob"));
    s.advance_ms(5);
    s.send(ans, false, &l("215 11"));
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
    s
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

/// Captures for tests of the outputs: the two-user sample, a generated capture of 6,000
/// packets (reordering, retransmissions, many connections) and [`unanswered_pcap`].
pub fn output_test_captures() -> Vec<Vec<u8>> {
    let mut gen = Vec::new();
    let cfg = super::gen::GenConfig { packets: 6_000, ..Default::default() };
    // Writing to memory cannot fail.
    let _ = super::gen::generate(cfg, &mut gen);
    vec![pcap(), gen, unanswered_pcap()]
}
