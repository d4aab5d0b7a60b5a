//! The referral rewriter of the proxy, sans-IO: server-to-client bytes in, the same bytes out,
//! except that the address in `XFR n NS host[:port]`, `XFR n SB host:port CKI cookie` and
//! `RNG sid host:port CKI cookie handle name` is replaced by one the caller chooses. Only lines
//! that start with `XFR ` or `RNG ` are held until their line ending; every other byte is passed
//! on as soon as it arrives, and MSG payloads (which may contain anything) are never inspected.

use crate::msnp::catalog::Side;
use crate::msnp::dialect::Dialects;
use crate::msnp::framing::{self, Follows};
use crate::msnp::referral::ReferralKind;

/// A referral found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// Which referral.
    pub kind: ReferralKind,
    /// The address as the server wrote it.
    pub address: String,
}

/// Longest referral line held back; a longer one is passed on unchanged.
pub const MAX_HELD: usize = 4096;

/// The longest command line whose payload length is parsed; longer lines are not payload
/// commands the rewriter needs to follow.
const MAX_HEAD: usize = 1024;

#[derive(Debug)]
enum State {
    /// At the start of a line; the bytes seen so far may still begin `XFR ` or `RNG `.
    LineStart(Vec<u8>),
    /// Holding a referral line until its LF.
    Held(Vec<u8>),
    /// Passing a line on; a copy of its start is kept to find payload lengths.
    Line(Vec<u8>),
    /// Passing a payload of this many more bytes on.
    Payload(u64),
}

/// The rewriter of one server-to-client stream.
#[derive(Debug)]
pub struct Rewriter {
    state: State,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter { state: State::LineStart(Vec::new()) }
    }
}

fn could_be_referral(prefix: &[u8]) -> bool {
    let n = prefix.len().min(4);
    b"XFR "[..n] == prefix[..n] || b"RNG "[..n] == prefix[..n]
}

/// Rewrites the address token of a referral line; `None` when the line is not one or `map`
/// keeps it.
pub fn rewrite_line(line: &[u8], map: &mut dyn FnMut(&Referral) -> Option<String>) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    // Token spans on single spaces/tabs (and a CR), so everything but the address stays byte
    // for byte.
    let spans = crate::msnp::command::token_spans(text, |c| c == ' ' || c == '\t' || c == '\r');
    let tok = |i: usize| spans.get(i).map(|&(s, e)| &text[s..e]);
    let (kind, at) = match (tok(0), tok(2)) {
        (Some("XFR"), Some("NS")) => (ReferralKind::XfrNs, 3),
        (Some("XFR"), Some("SB")) => (ReferralKind::XfrSb, 3),
        (Some("RNG"), _) => (ReferralKind::Rng, 2),
        _ => return None,
    };
    let (s, e) = *spans.get(at)?;
    let address = &text[s..e];
    if address == "0" {
        return None;
    }
    let new = map(&Referral { kind, address: address.to_string() })?;
    let mut out = Vec::with_capacity(line.len() + new.len());
    out.extend_from_slice(&line[..s]);
    out.extend_from_slice(new.as_bytes());
    out.extend_from_slice(&line[e..]);
    Some(out)
}

/// The payload length a server line declares, judged by its form in any dialect (the proxy
/// does not know the dialect; no form of one dialect contradicts another's on this).
fn payload_len(head: &[u8]) -> Option<u64> {
    let line = head.strip_suffix(b"\r").unwrap_or(head);
    if !framing::may_carry_payload(line.get(..3)?) || line.get(3) != Some(&b' ') {
        return None;
    }
    match framing::follows(line, Some(Side::Server), Dialects::ALL, u64::MAX) {
        Follows::Payload(n) => Some(n),
        Follows::Nothing | Follows::BadLength(_) => None,
    }
}

impl Rewriter {
    /// Processes `input`, appending what may be forwarded now to `out`. `map` decides each
    /// referral's new address (`None` keeps it).
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>, map: &mut dyn FnMut(&Referral) -> Option<String>) {
        let mut i = 0;
        while i < input.len() {
            match &mut self.state {
                State::Payload(left) => {
                    let n = (*left).min((input.len() - i) as u64) as usize;
                    out.extend_from_slice(&input[i..i + n]);
                    *left -= n as u64;
                    i += n;
                    if *left == 0 {
                        self.state = State::LineStart(Vec::new());
                    }
                }
                State::LineStart(prefix) => {
                    let b = input[i];
                    prefix.push(b);
                    i += 1;
                    if prefix.len() >= 4 && could_be_referral(prefix) {
                        let held = std::mem::take(prefix);
                        self.state = State::Held(held);
                    } else if !could_be_referral(prefix) {
                        // Not a referral: pass on what was held and keep going as a line.
                        let held = std::mem::take(prefix);
                        out.extend_from_slice(&held);
                        if b == b'\n' {
                            self.end_line(&held);
                        } else {
                            self.state = State::Line(held);
                        }
                    }
                }
                State::Held(line) => {
                    let rest = &input[i..];
                    match rest.iter().position(|b| *b == b'\n') {
                        Some(nl) => {
                            line.extend_from_slice(&rest[..nl + 1]);
                            i += nl + 1;
                            let full = std::mem::take(line);
                            let body = &full[..full.len() - 1];
                            // Whatever the split, a line over the limit passes unchanged.
                            let new = if full.len() > MAX_HELD { None } else { rewrite_line(body, map) };
                            match new {
                                Some(mut new) => {
                                    new.push(b'\n');
                                    out.extend_from_slice(&new);
                                }
                                None => out.extend_from_slice(&full),
                            }
                            self.state = State::LineStart(Vec::new());
                        }
                        None => {
                            line.extend_from_slice(rest);
                            i = input.len();
                            if line.len() > MAX_HELD {
                                let held = std::mem::take(line);
                                out.extend_from_slice(&held);
                                self.state = State::Line(held[..MAX_HEAD.min(held.len())].to_vec());
                            }
                        }
                    }
                }
                State::Line(head) => {
                    let rest = &input[i..];
                    match rest.iter().position(|b| *b == b'\n') {
                        Some(nl) => {
                            out.extend_from_slice(&rest[..nl + 1]);
                            if head.len() < MAX_HEAD {
                                let room = MAX_HEAD - head.len();
                                head.extend_from_slice(&rest[..nl.min(room)]);
                            }
                            i += nl + 1;
                            let head = std::mem::take(head);
                            self.end_line(&head);
                        }
                        None => {
                            out.extend_from_slice(rest);
                            if head.len() < MAX_HEAD {
                                let room = MAX_HEAD - head.len();
                                head.extend_from_slice(&rest[..rest.len().min(room)]);
                            }
                            i = input.len();
                        }
                    }
                }
            }
        }
    }

    fn end_line(&mut self, head: &[u8]) {
        let head = head.strip_suffix(b"\n").unwrap_or(head);
        self.state = match payload_len(head) {
            Some(n) if n > 0 => State::Payload(n),
            _ => State::LineStart(Vec::new()),
        };
    }

    /// The stream ended: whatever is held is passed on unchanged.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match std::mem::replace(&mut self.state, State::LineStart(Vec::new())) {
            State::LineStart(b) | State::Held(b) => out.extend_from_slice(&b),
            State::Line(_) | State::Payload(_) => {}
        }
    }

    /// Bytes held back now (at most [`MAX_HELD`] plus one read).
    pub fn held(&self) -> usize {
        match &self.state {
            State::LineStart(b) | State::Held(b) => b.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(r: &Referral) -> Option<String> {
        Some(format!("127.0.0.1:{}", if r.kind == ReferralKind::XfrNs { 5001 } else { 5002 }))
    }

    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut rw = Rewriter::default();
        let mut out = Vec::new();
        for c in chunks {
            rw.push(c, &mut out, &mut map);
        }
        rw.finish(&mut out);
        out
    }

    const IN: &[u8] = b"VER 1 MSNP2\r\nMSG Hotmail Hotmail 30\r\nXFR 9 SB 10.0.0.1:1865 CKI a\r\nXFR 3 NS 10.0.0.5:1863\r\nRNG 77 10.0.0.9:1865 CKI 1.2 bob@hotmail.com Bob\r\nXFRX 1\r\nRN\r\nXFR 0 NS 0\r\n";
    const OUT: &[u8] = b"VER 1 MSNP2\r\nMSG Hotmail Hotmail 30\r\nXFR 9 SB 10.0.0.1:1865 CKI a\r\nXFR 3 NS 127.0.0.1:5001\r\nRNG 77 127.0.0.1:5002 CKI 1.2 bob@hotmail.com Bob\r\nXFRX 1\r\nRN\r\nXFR 0 NS 0\r\n";

    #[test]
    fn rewrites_only_addresses_and_never_inside_payloads() {
        assert_eq!(run(&[IN]), OUT);
    }

    #[test]
    fn every_split_gives_the_same_bytes() {
        for i in 0..=IN.len() {
            assert_eq!(run(&[&IN[..i], &IN[i..]]), OUT, "split at {i}");
        }
    }

    #[test]
    fn other_lines_are_not_held_back() {
        let mut rw = Rewriter::default();
        let mut out = Vec::new();
        rw.push(b"CHG 1 NL", &mut out, &mut map);
        assert_eq!(out, b"CHG 1 NL");
        rw.push(b"N\r\nXF", &mut out, &mut map);
        assert_eq!(out, b"CHG 1 NLN\r\n", "only the possible referral start is held");
        assert_eq!(rw.held(), 2);
        rw.push(b"R 5 SB 1.2.3.4:5 CKI x\r\n", &mut out, &mut map);
        assert_eq!(out, b"CHG 1 NLN\r\nXFR 5 SB 127.0.0.1:5002 CKI x\r\n");
    }

    #[test]
    fn spacing_and_other_fields_are_kept_exactly() {
        assert_eq!(run(&[b"XFR  5 SB\t1.2.3.4:5  CKI  x.y \r\n"]), b"XFR  5 SB\t127.0.0.1:5002  CKI  x.y \r\n");
    }

    #[test]
    fn huge_referral_like_lines_pass_unchanged() {
        let mut line = b"XFR 1 SB ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 10_000));
        line.extend_from_slice(b"\r\nOUT\r\n");
        assert_eq!(run(&[&line]), line);
    }

    proptest! {
        #[test]
        fn garbage_passes_byte_for_byte_when_nothing_is_rewritten(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
            let cut = cut.min(data.len());
            let mut rw = Rewriter::default();
            let mut out = Vec::new();
            let mut keep = |_: &Referral| None;
            rw.push(&data[..cut], &mut out, &mut keep);
            rw.push(&data[cut..], &mut out, &mut keep);
            rw.finish(&mut out);
            prop_assert_eq!(out, data);
        }
    }
}
