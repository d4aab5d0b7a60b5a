//! From a framed line to a command: verb, TrID (where the form of the verb has a slot),
//! arguments, and the form of the catalog the line has in the connection's dialects. Unknown
//! verbs are a normal result, not an error: the catalog says what is known.

use super::catalog::{self, CommandSpec, Form, Reading, Side};
use super::dialect::Dialects;
use super::scan::low_bytes;

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
    /// Adds a token: inline while there is room, then on the heap (the spill stays empty
    /// until the inline array is full, and `len` stops growing there).
    #[inline(always)]
    fn push(&mut self, t: &'a str) {
        if let Some(slot) = self.inline.get_mut(self.len as usize) {
            *slot = t;
            self.len += 1;
        } else {
            self.push_spilled(t);
        }
    }

    /// The thirteenth token and those after it.
    #[cold]
    #[inline(never)]
    fn push_spilled(&mut self, t: &'a str) {
        if self.spill.is_empty() {
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(t);
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

/// Parses a line (without its ending) sent by the client (`from_client`) or the server, in a
/// connection whose dialect is one of `span`.
pub fn parse(line: &str, from_client: bool, span: Dialects) -> Command<'_> {
    // One pass, eight bytes at a time: tokens split on spaces and tabs; anything but single
    // spaces between tokens (leading, trailing, doubled, tabs) is odd spacing.
    let b = line.as_bytes();
    let (mut odd_spacing, mut controls) = (false, false);
    let mut verb: Option<&str> = None;
    let mut rest = Args::default();
    // Where the token being read starts.
    let mut start = 0;
    // The token from `start` to `$end`: the verb, or an argument.
    macro_rules! token {
        ($end:expr) => {
            // Token boundaries are ASCII separators, so these are char boundaries.
            let tok = line.get(start..$end).unwrap_or("");
            if verb.is_none() {
                verb = Some(tok);
            } else {
                rest.push(tok);
            }
        };
    }
    // The byte `$c` at `$p`, at or below the space: a separator (space or tab) ends a token;
    // an empty one (a separator first or after another) makes the spacing odd, as a tab
    // does. Any other such byte is a control byte inside a token.
    macro_rules! low {
        ($p:expr, $c:expr) => {
            let (p, c) = ($p, $c);
            if c == b' ' || c == b'\t' {
                odd_spacing |= c == b'\t';
                if p == start {
                    odd_spacing = true;
                } else {
                    token!(p);
                }
                start = p + 1;
            } else {
                controls = true;
            }
        };
    }
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let mut low = low_bytes(u64::from_le_bytes(word));
        while low != 0 {
            let k = (low.trailing_zeros() / 8) as usize;
            low &= low - 1;
            low!(i + k, word[k & 7]);
        }
        i += 8;
    }
    for (p, &c) in b.iter().enumerate().skip(i) {
        if c <= b' ' {
            low!(p, c);
        }
    }
    if start < b.len() {
        token!(b.len());
    } else if !b.is_empty() {
        // A separator last.
        odd_spacing = true;
    }
    let verb = verb.unwrap_or("");
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
