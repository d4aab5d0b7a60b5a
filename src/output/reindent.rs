//! Turns compact JSON into serde_json's pretty layout as it streams through, with every line
//! after the first indented by a base amount. The JSON document keeps events compact while
//! their connection is open (half the bytes to hold or spill) and lays them out on the way out;
//! the result is byte-identical to pretty-printing the values (a test holds it to that).

use std::io::{self, Write};

/// A writer that re-lays compact JSON written to it. Input may arrive in any pieces.
pub struct Reindent<W: Write> {
    out: W,
    base: usize,
    level: usize,
    /// A container was just opened: its first item (or its close) decides the layout.
    fresh: bool,
    in_string: bool,
    escaped: bool,
    buf: Vec<u8>,
}

const SPACES: &[u8] = &[b' '; 128];

impl<W: Write> Reindent<W> {
    /// Re-lays onto `out`, lines after the first indented by `base` spaces.
    pub fn new(out: W, base: usize) -> Self {
        Reindent {
            out,
            base,
            level: 0,
            fresh: false,
            in_string: false,
            escaped: false,
            buf: Vec::with_capacity(1 << 16),
        }
    }

    fn newline(&mut self) {
        self.buf.push(b'\n');
        let mut n = self.base + 2 * self.level;
        while n > 0 {
            let k = n.min(SPACES.len());
            self.buf.extend_from_slice(&SPACES[..k]);
            n -= k;
        }
    }

    /// Starts the first item of a just-opened container on its own line.
    #[inline]
    fn item(&mut self) {
        if self.fresh {
            self.fresh = false;
            self.newline();
        }
    }

    fn relay(&mut self, input: &[u8]) {
        let mut i = 0;
        while i < input.len() {
            if self.in_string {
                // Copy up to the closing quote in one go.
                let run = input[i..].iter().position(|&b| self.escaped || b == b'"' || b == b'\\');
                let end = run.map_or(input.len(), |r| i + r);
                self.buf.extend_from_slice(&input[i..end]);
                i = end;
                if i == input.len() {
                    break;
                }
                let b = input[i];
                self.buf.push(b);
                i += 1;
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            match b {
                b'{' | b'[' => {
                    self.item();
                    self.buf.push(b);
                    self.level += 1;
                    self.fresh = true;
                }
                b'}' | b']' => {
                    self.level = self.level.saturating_sub(1);
                    if self.fresh {
                        self.fresh = false;
                    } else {
                        self.newline();
                    }
                    self.buf.push(b);
                }
                b',' => {
                    self.buf.push(b',');
                    self.newline();
                }
                b':' => self.buf.extend_from_slice(b": "),
                b'"' => {
                    self.item();
                    self.buf.push(b);
                    self.in_string = true;
                }
                _ => {
                    self.item();
                    self.buf.push(b);
                }
            }
        }
    }

    /// Writes what is buffered and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(self.out)
    }
}

impl<W: Write> Write for Reindent<W> {
    fn write(&mut self, input: &[u8]) -> io::Result<usize> {
        self.relay(input);
        if self.buf.len() >= 1 << 16 {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(input.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn relaid(compact: &[u8], base: usize, pieces: usize) -> String {
        let mut r = Reindent::new(Vec::new(), base);
        let step = compact.len().div_ceil(pieces.max(1)).max(1);
        for chunk in compact.chunks(step) {
            r.write_all(chunk).expect("write");
        }
        String::from_utf8(r.finish().expect("finish")).expect("utf-8")
    }

    fn pretty(v: &serde_json::Value, base: usize) -> String {
        let p = serde_json::to_string_pretty(v).expect("pretty");
        p.replace('\n', &format!("\n{}", " ".repeat(base)))
    }

    #[test]
    fn a_session_document_relays_like_serde_pretty() {
        let capture = crate::testkit::sample::pcap();
        let v = crate::app::analyze_to_json(&capture, Default::default(), &[], Default::default()).expect("doc");
        let compact = serde_json::to_vec(&v).expect("compact");
        for (base, pieces) in [(0, 1), (6, 7), (10, 1000), (3, compact.len())] {
            assert_eq!(relaid(&compact, base, pieces), pretty(&v, base), "base {base}, {pieces} pieces");
        }
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            "[ -~\\\\\"\u{0}-\u{1f}é😀]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::vec(("[a-z\\\\\"{}:,]{0,6}", inner), 0..6)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_value_relays_like_serde_pretty(v in json(), base in 0usize..12, pieces in 1usize..20) {
            let compact = serde_json::to_vec(&v).expect("compact");
            prop_assert_eq!(relaid(&compact, base, pieces), pretty(&v, base));
        }
    }
}
