//! From a framed line to a command: verb, TrID (where the form of the verb has a slot),
//! arguments, and the form of the catalog the line has in the connection's dialects. Unknown
//! verbs are a normal result, not an error: the catalog says what is known.

use super::catalog::{self, CommandSpec, Form, Reading, Side};
use super::dialect::Dialects;

/// A parsed command line. Fields borrow from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The command code as sent (three characters for well-formed lines).
    pub verb: &'a str,
    /// The verb as a number ([`super::verbs`]; 0 unless three bytes).
    pub code: u32,
    /// The numeric code when the line is an error line (`911 4`).
    pub error: Option<u16>,
    /// The TrID, when the verb has a slot and it holds a valid one.
    pub trid: Option<u32>,
    /// The TrID slot's text when it is not a valid TrID.
    pub bad_trid: Option<&'a str>,
    /// Arguments after the TrID (or after the verb for TrID-less commands).
    pub args: Args<'a>,
    /// Whether separators were anything but single spaces.
    pub odd_spacing: bool,
    /// Whether the line holds a control byte other than a tab (a bare CR, say): the framing
    /// checks look for a CR only then.
    pub controls: bool,
    /// Catalog entry for the verb.
    pub spec: Option<&'static CommandSpec>,
    /// The verb's position in [`catalog::all`] (with `spec`; looked up once a line).
    pub index: Option<usize>,
    /// How the parameters were read: the form the line has, and what it says of the dialect.
    pub reading: Option<Reading>,
    /// When the line fits no form of the connection's dialects but forms of others: those.
    pub elsewhere: Option<Dialects>,
    /// Whether the verb's form has a TrID slot (known verbs; unknown ones are assumed to).
    pub trid_slot: bool,
}

impl Command<'_> {
    /// The form the line has (for a line that fits none of its verb's forms, the likeliest).
    pub fn form(&self) -> Option<&'static Form> {
        self.reading.map(|r| r.form)
    }
}

/// A command's arguments: up to 12 kept inline (no allocation), more on the heap. Derefs to a
/// slice.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Args<'a> {
    inline: [&'a str; 12],
    len: u8,
    start: u8,
    spill: Vec<&'a str>,
}

impl<'a> Args<'a> {
    fn push(&mut self, t: &'a str) {
        if self.spill.is_empty() && (self.len as usize) < self.inline.len() {
            self.inline[self.len as usize] = t;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline[..self.len as usize]);
            }
            self.spill.push(t);
        }
    }

    fn skip_first(&mut self) {
        if !self.is_empty() {
            self.start += 1;
        }
    }
}

impl<'a> std::ops::Deref for Args<'a> {
    type Target = [&'a str];
    fn deref(&self) -> &[&'a str] {
        if self.spill.is_empty() {
            &self.inline[(self.start as usize).min(self.len as usize)..self.len as usize]
        } else {
            &self.spill[(self.start as usize).min(self.spill.len())..]
        }
    }
}

impl std::fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Parses a TrID: a decimal from 0 to 4294967295 (leading zeros tolerated). One pass: every
/// line with a TrID comes here.
pub fn parse_trid(s: &str) -> Option<u32> {
    if s.len() > 10 {
        return None;
    }
    super::params::digits_value(s.as_bytes()).and_then(|n| u32::try_from(n).ok())
}

/// The index of the first byte at or below the space (0x20) in `b` from `i` on, or `b.len()`.
/// Eight bytes at a time: a token is usually longer than the one comparison a byte took.
pub(super) fn next_low(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    while let Some(word) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let x = u64::from_le_bytes(word);
        // A byte below 0x21 borrows into its top bit; bytes from 0x80 up have it set already
        // and are masked out. The lowest flagged byte is exact (no borrow reaches it).
        let low = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        if low != 0 {
            return i + (low.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(|&c| c > b' ') {
        i += 1;
    }
    i.min(b.len())
}

/// Parses a line (without its ending) sent by the client (`from_client`) or the server, in a
/// connection whose dialect is one of `span`.
pub fn parse(line: &str, from_client: bool, span: Dialects) -> Command<'_> {
    // One pass: tokens split on spaces and tabs; anything but single spaces between tokens
    // (leading, trailing, doubled, tabs) is odd spacing.
    let b = line.as_bytes();
    let mut odd_spacing = false;
    let mut controls = false;
    let mut verb = "";
    let mut rest = Args::default();
    let mut i = 0;
    let mut first = true;
    while i < b.len() {
        let start = i;
        // A token runs to the next space or tab; other bytes at or below the space inside it
        // are control characters.
        loop {
            i = next_low(b, i);
            match b.get(i) {
                Some(b' ' | b'\t') | None => break,
                Some(_) => {
                    controls = true;
                    i += 1;
                }
            }
        }
        if i > start {
            // Token boundaries are ASCII separators, so these are char boundaries.
            let tok = line.get(start..i).unwrap_or("");
            if first {
                verb = tok;
                first = false;
            } else {
                rest.push(tok);
            }
        } else if start == 0 {
            odd_spacing = true;
        }
        // The usual separator, one space before a token's byte, settled at once.
        if b.get(i) == Some(&b' ') && b.get(i + 1).is_some_and(|c| *c > b' ') {
            i += 1;
            continue;
        }
        let sep_start = i;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            if b[i] == b'\t' {
                odd_spacing = true;
            }
            i += 1;
        }
        if i - sep_start > 1 || (i == b.len() && i > sep_start) {
            odd_spacing = true;
        }
    }
    let error =
        (verb.len() == 3 && verb.bytes().all(|b| b.is_ascii_digit())).then(|| verb.parse::<u16>().ok()).flatten();
    let index = catalog::index_bytes(verb.as_bytes());
    let spec = index.and_then(|i| catalog::all().get(i).copied());
    let side = Side::of(from_client);
    // A verb of another dialect is read by its own forms; one sent the wrong way, by the other
    // side's (for its TrID slot only).
    let read = |side, span| spec.and_then(|sp| catalog::read(sp, side, span, &rest));
    let reading = read(side, span).or_else(|| read(side, Dialects::ALL));
    let elsewhere = match reading {
        Some(r) if !r.fits && span != Dialects::ALL => read(side, Dialects::ALL).and_then(|r| r.evidence),
        _ => None,
    };
    let other = if from_client { Side::Server } else { Side::Client };
    let slot_form = reading.or_else(|| read(other, Dialects::ALL)).map(|r| r.form);
    let slot = match (error, slot_form) {
        // Errors carry a TrID when they answer a request; server-generated ones have none.
        (Some(_), _) => rest.first().is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit())),
        (None, Some(f)) => f.trid,
        // Unknown commands are assumed to have one.
        (None, None) => true,
    };
    let (mut trid, mut bad_trid) = (None, None);
    if slot {
        if let Some(&t) = rest.first() {
            match parse_trid(t) {
                Some(v) => trid = Some(v),
                None => bad_trid = Some(t),
            }
            rest.skip_first();
        }
    }
    let code = super::verbs::code(verb);
    Command {
        verb,
        code,
        error,
        trid,
        bad_trid,
        args: rest,
        odd_spacing,
        controls,
        spec,
        index: spec.and(index),
        reading,
        elsewhere,
        trid_slot: slot,
    }
}

/// The byte ranges of a line's tokens, split where `is_sep` says (used to replace one token,
/// such as a secret or an address, without touching the rest of the line).
pub fn token_spans(line: &str, is_sep: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if is_sep(c) {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// Decodes a URL-encoded parameter (friendly names) to text; invalid UTF-8 is replaced.
pub fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}
