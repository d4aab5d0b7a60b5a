//! Compact JSON for the records written millions of times (events, transactions), through the
//! one definition of their fields in [`super::schema`]. NDJSON export spent a third of its time
//! in serde's generic serialiser and its byte-at-a-time string escaper; this writer produces
//! exactly the bytes `serde_json::to_writer` produces for the same values (a test holds it to
//! that), testing strings for bytes to escape a word at a time, and placing the short ones
//! (most fields) with copies of a fixed size instead of a call to `memcpy` each.

use super::schema::{Fields, Record, Text};
use crate::msnp::scan::equal_bytes;
use crate::shortstr::ShortStr;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any byte of `w` is below 0x20, `"` or `\` (the bytes JSON strings must escape).
/// Each term may flag a byte above a true one wrongly, never when there is none.
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (below_space | equal_bytes(w, b'"') | equal_bytes(w, b'\\')) != 0
}

#[inline]
const fn escape_byte(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// [`escape_byte`] of every byte, for strings too short for a word.
static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = escape_byte(b as u8);
        b += 1;
    }
    t
};

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

/// [`string`] on bytes already known to be UTF-8. Inlined where it is called: most strings
/// are short, and their path is a few instructions against the call's own dozen.
#[inline(always)]
fn utf8_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    let len = out.len();
    if n <= SHORT {
        // Quotes over the most the string can take, then the string placed over them: stores
        // of a fixed size, where a copy of `n` bytes is a call to `memcpy`.
        out.extend_from_slice(&QUOTES[..SHORT + 2]);
        if out.get_mut(len..).is_some_and(|tail| place_short::<1, true>(bytes, tail)) {
            out.truncate(len + n + 2);
            return;
        }
        out.truncate(len);
        return escaped(out, bytes);
    }
    long_string(out, bytes);
}

/// [`utf8_string`] past [`SHORT`] bytes.
#[inline(never)]
fn long_string(out: &mut Vec<u8>, bytes: &[u8]) {
    if any_escape(bytes) {
        escaped(out, bytes);
        return;
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// The longest string [`place_short`] takes: most fields (verbs, TrIDs, handles, short
/// lines) are no longer.
const SHORT: usize = 16;

/// Quotes for a short string or key to be placed over, in the output itself (not in a buffer
/// on the stack written in pieces and then copied: a load spanning several fresh stores
/// cannot take their bytes until they are written).
const QUOTES: [u8; SHORT + 4] = [b'"'; SHORT + 4];

/// Places `bytes` (at most [`SHORT`] of them) at `buf[AT..]`; false when one needs escaping
/// (tested only with `CHECK`). Read and placed as two overlapping words, or halves; fewer than
/// four as their first, middle and last byte, tested through [`ESCAPE`].
#[inline(always)]
fn place_short<const AT: usize, const CHECK: bool>(bytes: &[u8], buf: &mut [u8]) -> bool {
    let n = bytes.len();
    let mut put = |at: usize, b: &[u8]| {
        if let Some(to) = buf.get_mut(AT + at..AT + at + b.len()) {
            to.copy_from_slice(b);
        }
    };
    if n >= 8 {
        let (Some(first), Some(last)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) else {
            return false;
        };
        if CHECK && (needs_escape(u64::from_le_bytes(*first)) || needs_escape(u64::from_le_bytes(*last))) {
            return false;
        }
        put(0, first);
        put(n - 8, last);
    } else if n >= 4 {
        let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) else {
            return false;
        };
        if CHECK && needs_escape(u64::from(u32::from_le_bytes(*first)) | u64::from(u32::from_le_bytes(*last)) << 32) {
            return false;
        }
        put(0, first);
        put(n - 4, last);
    } else if let (Some(&a), Some(&b), Some(&c)) = (bytes.first(), bytes.get(n / 2), bytes.last()) {
        if CHECK && ESCAPE[a as usize] | ESCAPE[b as usize] | ESCAPE[c as usize] {
            return false;
        }
        put(0, &[a]);
        put(n / 2, &[b]);
        put(n - 1, &[c]);
    }
    true
}

/// Whether any of `bytes` needs escaping, tested a word at a time without a byte loop for the
/// tail: the last word overlaps the one before. (Strings this short go through
/// [`place_short`]; fewer than eight bytes are tested a byte at a time.)
#[inline]
fn any_escape(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let word = |i: usize| bytes.get(i..).and_then(|b| b.first_chunk::<8>()).map_or(0, |w| u64::from_le_bytes(*w));
    if n < 8 {
        return bytes.iter().any(|&b| escape_byte(b));
    }
    let mut i = 0;
    while i + 8 < n {
        if needs_escape(word(i)) {
            return true;
        }
        i += 8;
    }
    needs_escape(word(n - 8))
}

/// The slow path of [`string`]: some byte needs escaping.
#[cold]
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let Some(mut at) = next_escape(bytes, 0) else {
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
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

/// The compact writer of [`Record`]s: the bytes serde_json writes for the same record. Every
/// field is written after a comma; [`object`] turns the first comma into the opening brace.
struct Compact<'a> {
    out: &'a mut Vec<u8>,
}

impl Compact<'_> {
    /// Appends `,"key":`. Keys are the schema's field names, which need no escaping.
    #[inline(always)]
    fn key(&mut self, k: &'static str) {
        let k = k.as_bytes();
        let n = k.len();
        if n > SHORT {
            self.out.extend_from_slice(b",\"");
            self.out.extend_from_slice(k);
            self.out.extend_from_slice(b"\":");
            return;
        }
        let len = self.out.len();
        self.out.extend_from_slice(&QUOTES);
        if let Some(tail) = self.out.get_mut(len..) {
            place_short::<2, false>(k, tail);
            if let Some(comma) = tail.first_mut() {
                *comma = b',';
            }
            if let Some(colon) = tail.get_mut(n + 3) {
                *colon = b':';
            }
        }
        self.out.truncate(len + n + 4);
    }
}

impl Fields for Compact<'_> {
    #[inline]
    fn uint(&mut self, key: &'static str, v: u64) {
        self.key(key);
        uint(self.out, v);
    }
    #[inline]
    fn float(&mut self, key: &'static str, v: f64) {
        self.key(key);
        float(self.out, v);
    }
    #[inline]
    fn bool(&mut self, key: &'static str, v: bool) {
        self.key(key);
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
    }
    #[inline]
    fn str(&mut self, key: &'static str, v: &str) {
        self.key(key);
        string(self.out, v);
    }
    #[inline]
    fn short(&mut self, key: &'static str, v: &ShortStr) {
        self.key(key);
        utf8_string(self.out, v.as_bytes());
    }
    #[inline]
    fn null(&mut self, key: &'static str) {
        self.key(key);
        self.out.extend_from_slice(b"null");
    }
    fn shorts(&mut self, key: &'static str, v: &[ShortStr]) {
        self.key(key);
        list(self.out, v, |out, s| utf8_string(out, s.as_bytes()));
    }
    fn uints(&mut self, key: &'static str, v: &[usize]) {
        self.key(key);
        list(self.out, v, |out, n| uint(out, *n as u64));
    }
    fn map<K: Text>(&mut self, key: &'static str, v: &[(K, ShortStr)]) {
        self.key(key);
        self.out.push(b'{');
        for (i, (k, v)) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            utf8_string(self.out, k.bytes());
            self.out.push(b':');
            utf8_string(self.out, v.as_bytes());
        }
        self.out.push(b'}');
    }
    fn record<R: Record>(&mut self, key: &'static str, v: &R) {
        self.key(key);
        object(self.out, v);
    }
    fn records<R: Record>(&mut self, key: &'static str, v: &[R]) {
        self.key(key);
        list(self.out, v, |out, r| object(out, r));
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

/// Appends a record as a JSON object.
pub fn object<R: Record>(out: &mut Vec<u8>, r: &R) {
    let at = out.len();
    fields(out, r);
    // The first field's comma opens the object; with no fields, the brace comes before `}`.
    let len = out.len();
    match out.get_mut(at) {
        Some(b) if len > at + 1 => *b = b'{',
        _ => out.insert(at, b'{'),
    }
}

/// Appends a record's fields, each after a comma, and the closing brace (`,"a":…,"b":…}`), for
/// records that begin with fields of their own (NDJSON's `type`).
pub fn fields<R: Record>(out: &mut Vec<u8>, r: &R) {
    r.fields(&mut Compact { out });
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

    impl crate::analysis::Report for Compare {
        fn events(&mut self, conn: &crate::session::Connection, from: usize) {
            for e in &conn.events[from..] {
                let mut out = Vec::new();
                object(&mut out, e);
                assert_eq!(String::from_utf8_lossy(&out), serde_json::to_string(e).unwrap_or_default());
                self.events += 1;
            }
        }

        fn connection(&mut self, conn: &crate::session::Connection, _links: crate::analysis::Links<'_>) {
            for t in &conn.transactions {
                let mut out = Vec::new();
                object(&mut out, t);
                assert_eq!(String::from_utf8_lossy(&out), serde_json::to_string(t).unwrap_or_default());
                self.transactions += 1;
            }
        }

        fn finish(&mut self, _summary: &crate::analysis::Summary, _links: crate::analysis::Links<'_>) {}
    }

    fn compare(capture: &[u8]) -> (usize, usize) {
        let mut cmp = Compare { events: 0, transactions: 0 };
        crate::analysis::run_on(capture, Default::default(), &[], Default::default(), &mut cmp).expect("capture");
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

    /// Keys of every length to 24 (past the fixed-size copy), and a record without fields.
    #[test]
    fn keys_of_every_length_and_no_fields() {
        const KEYS: [&str; 25] = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdef",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghij",
            "abcdefghijk",
            "abcdefghijkl",
            "abcdefghijklm",
            "abcdefghijklmn",
            "abcdefghijklmno",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopqr",
            "abcdefghijklmnopqrs",
            "abcdefghijklmnopqrst",
            "abcdefghijklmnopqrstu",
            "abcdefghijklmnopqrstuv",
            "abcdefghijklmnopqrstuvw",
            "abcdefghijklmnopqrstuvwx",
        ];
        struct Keys(usize);
        impl Record for Keys {
            fn fields<W: Fields>(&self, w: &mut W) {
                for (i, k) in KEYS.iter().take(self.0).enumerate() {
                    w.uint(k, i as u64);
                }
            }
        }
        for count in 0..=KEYS.len() {
            let mut out = b"[".to_vec();
            object(&mut out, &Keys(count));
            let fields: Vec<String> =
                KEYS.iter().take(count).enumerate().map(|(i, k)| format!("\"{k}\":{i}")).collect();
            assert_eq!(String::from_utf8_lossy(&out), format!("[{{{}}}", fields.join(",")));
        }
    }

    /// Every length to 40 with each ASCII byte at every place, and none.
    #[test]
    fn one_escape_found_anywhere() {
        for len in 0..40 {
            for at in 0..=len {
                for bad in 0..0x80u8 {
                    let mut bytes = vec![b'a'; len];
                    if let Some(b) = bytes.get_mut(at) {
                        *b = bad;
                    }
                    let s = String::from_utf8(bytes).unwrap_or_default();
                    assert_eq!(any_escape(s.as_bytes()), at < len && escape_byte(bad), "{s:?}");
                    let mut out = b"x".to_vec();
                    string(&mut out, &s);
                    assert_eq!(out.get(1..), Some(&serde_string(&s)[..]), "{s:?}");
                }
            }
        }
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
