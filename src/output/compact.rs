//! Hand-written compact JSON for the two records written millions of times: events and
//! transactions. NDJSON export spent a third of its time in serde's generic serialiser and its
//! byte-at-a-time string escaper; these writers produce exactly the bytes
//! `serde_json::to_writer` produces for the same values (a test holds them to that), eight bytes
//! at a time where nothing needs escaping.

use crate::rules::Violation;
use crate::session::{Event, EventKind, PayloadInfo, Transaction};
use crate::shortstr::ShortStr;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any byte of `w` is below 0x20, `"` or `\` (the bytes JSON strings must escape).
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b;
    (below_space | quote | backslash) & HIGH != 0
}

#[inline]
fn escape_byte(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The index of the first byte of `bytes` at or after `from` that JSON must escape.
#[inline]
fn next_escape(bytes: &[u8], mut i: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if needs_escape(u64::from_le_bytes(w)) {
            break;
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(|&b| escape_byte(b)).map(|p| p + i)
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it.
#[inline]
pub fn string(out: &mut Vec<u8>, s: &str) {
    utf8_string(out, s.as_bytes());
}

/// Appends a short string (see [`string`]); its bytes are UTF-8 by construction.
#[inline]
fn short(out: &mut Vec<u8>, s: &ShortStr) {
    utf8_string(out, s.as_bytes());
}

/// [`string`] on bytes already known to be UTF-8.
#[inline]
fn utf8_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let Some(first) = next_escape(bytes, 0) else {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
    escaped(out, bytes, first);
}

/// The slow path of [`string`]: `bytes[at]` needs escaping.
#[cold]
fn escaped(out: &mut Vec<u8>, bytes: &[u8], mut at: usize) {
    out.reserve(bytes.len() + 8);
    out.push(b'"');
    let mut start = 0;
    loop {
        out.extend_from_slice(&bytes[start..at]);
        let b = bytes[at];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
        }
        start = at + 1;
        match next_escape(bytes, start) {
            Some(n) => at = n,
            None => break,
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends an unsigned integer.
pub fn uint(out: &mut Vec<u8>, v: u64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

/// Appends a float as serde_json writes it (`null` when not finite).
pub fn float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let mut buf = zmij::Buffer::new();
        out.extend_from_slice(buf.format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn opt_uint(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => uint(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends `,"key":` (or `"key":` when `first`).
fn key(out: &mut Vec<u8>, k: &str) {
    out.push(b',');
    string(out, k);
    out.push(b':');
}

/// A map key: field names are static strings, MIME header names short strings.
trait Key {
    fn utf8(&self) -> &[u8];
}

impl Key for &str {
    fn utf8(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Key for ShortStr {
    fn utf8(&self) -> &[u8] {
        self.as_bytes()
    }
}

fn pairs<K: Key>(out: &mut Vec<u8>, pairs: &[(K, ShortStr)]) {
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        utf8_string(out, k.utf8());
        out.push(b':');
        short(out, v);
    }
    out.push(b'}');
}

fn kind(k: EventKind) -> &'static str {
    match k {
        EventKind::Command => "command",
        EventKind::Error => "error",
        EventKind::Malformed => "malformed",
        EventKind::Gap => "gap",
        EventKind::Tcp => "tcp",
        EventKind::Fin => "fin",
    }
}

/// Appends `[a,b,…]`, each item written by `item`.
fn list<T>(out: &mut Vec<u8>, items: &[T], item: impl Fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, x);
    }
    out.push(b']');
}

/// Appends one violation object.
pub fn violation(out: &mut Vec<u8>, v: &Violation) {
    out.push(b'{');
    violation_fields(out, v);
}

/// Appends the fields of `v` without the opening brace: `"rule":…,…}`.
pub fn violation_fields(out: &mut Vec<u8>, v: &Violation) {
    out.extend_from_slice(b"\"rule\":");
    string(out, v.rule);
    out.extend_from_slice(b",\"severity\":\"");
    out.extend_from_slice(v.severity.as_str().as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    string(out, &v.message);
    out.push(b'}');
}

fn payload(out: &mut Vec<u8>, p: &PayloadInfo) {
    out.extend_from_slice(b"{\"length\":");
    uint(out, p.length);
    out.extend_from_slice(b",\"headers\":");
    pairs(out, &p.headers);
    out.extend_from_slice(b",\"body\":");
    string(out, &p.body);
    out.extend_from_slice(if p.complete { b",\"complete\":true}" } else { b",\"complete\":false}" });
}

/// Appends the fields of `e` without the opening brace: `"index":…,…}`.
pub fn event_fields(out: &mut Vec<u8>, e: &Event) {
    out.extend_from_slice(b"\"index\":");
    uint(out, e.index as u64);
    out.extend_from_slice(b",\"ts\":");
    float(out, crate::session::secs(e.ts));
    out.extend_from_slice(match e.dir {
        crate::reassembly::Dir::C2S => b",\"dir\":\"c2s\",\"kind\":\"",
        crate::reassembly::Dir::S2C => b",\"dir\":\"s2c\",\"kind\":\"",
    });
    out.extend_from_slice(kind(e.kind).as_bytes());
    out.extend_from_slice(b"\",\"command\":");
    match &e.command {
        Some(c) => short(out, c),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"trid\":");
    opt_uint(out, e.trid.map(u64::from));
    out.extend_from_slice(b",\"args\":");
    list(out, &e.args, short);
    out.extend_from_slice(b",\"line\":");
    match &e.line {
        Some(l) => string(out, l),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"fields\":");
    pairs(out, &e.fields);
    if let Some(n) = e.error_name {
        key(out, "error_name");
        string(out, n);
    }
    out.extend_from_slice(b",\"payload\":");
    match &e.payload {
        Some(p) => payload(out, p),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"transaction\":");
    opt_uint(out, e.transaction.map(|t| t as u64));
    if let Some(l) = e.link {
        key(out, "link");
        uint(out, l as u64);
    }
    out.extend_from_slice(b",\"offset\":");
    uint(out, e.offset);
    if let Some(l) = e.length {
        key(out, "length");
        uint(out, l);
    }
    if let Some(n) = &e.note {
        key(out, "note");
        string(out, n);
    }
    out.extend_from_slice(b",\"violations\":");
    list(out, &e.violations, violation);
    out.push(b'}');
}

/// Appends the fields of `t` without the opening brace: `"trid":…,…}`.
pub fn transaction_fields(out: &mut Vec<u8>, t: &Transaction) {
    out.extend_from_slice(b"\"trid\":");
    opt_uint(out, t.trid.map(u64::from));
    out.extend_from_slice(b",\"command\":");
    short(out, &t.command);
    out.extend_from_slice(b",\"request\":");
    uint(out, t.request as u64);
    out.extend_from_slice(b",\"responses\":");
    list(out, &t.responses, |out, r| uint(out, *r as u64));
    out.extend_from_slice(b",\"outcome\":\"");
    out.extend_from_slice(t.outcome.as_str().as_bytes());
    out.extend_from_slice(b"\",\"latency_ms\":");
    match t.latency_ms {
        Some(v) => float(out, v),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_string(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap_or_default()
    }

    #[test]
    fn strings_match_serde_json() {
        for s in [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "tab\there\r\n",
            "é ünïcødé 😀",
            "\u{8}\u{c}",
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(out, serde_string(s), "{s:?}");
        }
    }

    /// Checks every event and transaction the analysis produces against serde_json.
    struct Compare {
        events: usize,
        transactions: usize,
    }

    impl crate::analyzer::Report for Compare {
        fn events(&mut self, conn: &crate::session::Connection, from: usize) {
            for e in &conn.events[from..] {
                let mut out = vec![b'{'];
                event_fields(&mut out, e);
                assert_eq!(String::from_utf8_lossy(&out), serde_json::to_string(e).unwrap_or_default());
                self.events += 1;
            }
        }

        fn connection(&mut self, conn: &crate::session::Connection, _links: crate::analyzer::Links<'_>) {
            for t in &conn.transactions {
                let mut out = vec![b'{'];
                transaction_fields(&mut out, t);
                assert_eq!(String::from_utf8_lossy(&out), serde_json::to_string(t).unwrap_or_default());
                self.transactions += 1;
            }
        }

        fn finish(&mut self, _summary: &crate::analyzer::Summary, _links: crate::analyzer::Links<'_>) {}
    }

    fn compare(capture: &[u8]) -> (usize, usize) {
        let mut cmp = Compare { events: 0, transactions: 0 };
        crate::analyzer::run_on(capture, Default::default(), &[], Default::default(), &mut cmp).expect("capture");
        (cmp.events, cmp.transactions)
    }

    #[test]
    fn events_and_transactions_match_serde_json() {
        let (e, t) = compare(&crate::testkit::sample::pcap());
        assert!(e > 50 && t > 20, "{e} events, {t} transactions");

        let mut gen = Vec::new();
        let cfg = crate::testkit::gen::GenConfig { packets: 5_000, ..Default::default() };
        crate::testkit::gen::generate(cfg, &mut gen).expect("generate");
        let (e, t) = compare(&gen);
        assert!(e > 1000 && t > 300, "{e} events, {t} transactions");

        // Hostile bytes: controls, quotes, backslashes, invalid UTF-8, errors, a cut payload, a gap.
        use crate::testkit::synth::{Encap, Script};
        let mut s = Script::new(1_000_000_000, 7);
        let c = s.connect("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:1863".parse().unwrap());
        s.send(c, true, b"VER 1 MSNP2 CVR0\r\n");
        s.send(c, false, b"VER 1 MSNP2\r\n");
        s.send(c, true, b"USR 2 MD5 I a\"b\\c@x.com\r\nFOO \x01\x1f\x7f\xff\xfe bar\r\n\tBAD\n");
        s.send(c, false, b"911 2\r\nMSG a%22 b\\ 12\r\nX: \"y\"\r\n\r\n\x00\xc3");
        s.send(c, false, b"MSG x y 99\r\nshort");
        s.close(c, true);
        let (e, _) = compare(&crate::testkit::synth::pcap(&s.segs, Encap::Ethernet, None));
        assert!(e >= 6, "{e} events");
    }

    proptest! {
        #[test]
        fn any_string_matches_serde_json(s in any::<String>(), pad in 0usize..9) {
            let s = format!("{}{s}", "x".repeat(pad));
            let mut out = Vec::new();
            string(&mut out, &s);
            prop_assert_eq!(out, serde_string(&s));
        }

        #[test]
        fn ascii_controls_match_serde_json(bytes in proptest::collection::vec(0u8..0x80, 0..40)) {
            let s = String::from_utf8(bytes).unwrap_or_default();
            let mut out = Vec::new();
            string(&mut out, &s);
            prop_assert_eq!(out, serde_string(&s));
        }

        #[test]
        fn floats_match_serde_json(v in any::<f64>()) {
            let mut out = Vec::new();
            float(&mut out, v);
            prop_assert_eq!(out, serde_json::to_vec(&v).unwrap_or_default());
        }
    }
}
