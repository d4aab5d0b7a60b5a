//! Framing: bytes of one direction of a connection in, frames out. A frame is a command line,
//! a payload command line with exactly its declared payload, or junk with the reason. The
//! decoder is sans-IO and incremental: any split of the same bytes yields the same frames, and
//! "need more bytes" is simply `None`. Lines and payloads are bounded by [`WireLimits`]; after a
//! gap it resynchronises at the next line that starts with a plausible command.

use super::catalog::{self, Side};
use super::dialect::Dialects;
use super::framing::{self, Follows};

/// Limits of the decoder. Crossing one is reported as a frame, never a crash.
#[derive(Debug, Clone, Copy)]
pub struct WireLimits {
    /// Longest command line accepted, without its line ending.
    pub max_line: usize,
    /// Largest declared payload length trusted; a larger one is reported and not consumed.
    pub max_payload: u64,
    /// Payload bytes kept per frame (the rest is counted, not stored).
    pub keep_payload: usize,
}

impl Default for WireLimits {
    fn default() -> Self {
        WireLimits { max_line: 16 * 1024, max_payload: 1 << 20, keep_payload: 64 * 1024 }
    }
}

/// Bytes of junk kept for display.
pub const PREVIEW: usize = 256;

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// CR LF, as the protocol requires.
    CrLf,
    /// A bare LF.
    Lf,
    /// The stream ended (or a gap came) before any line ending.
    Missing,
}

/// A payload that followed its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The length the command line declared.
    pub declared: u64,
    /// The bytes kept (at most `keep_payload`).
    pub bytes: Vec<u8>,
    /// Bytes that were lost in gaps.
    pub missing: u64,
    /// Bytes that never arrived because the stream ended.
    pub truncated: u64,
}

impl Payload {
    /// Whether every declared byte arrived.
    pub fn complete(&self) -> bool {
        self.view().complete()
    }

    /// The payload, borrowed.
    pub fn view(&self) -> PayloadView<'_> {
        PayloadView { declared: self.declared, bytes: &self.bytes, missing: self.missing, truncated: self.truncated }
    }
}

/// A payload as the checks read it: a [`Payload`], or one lent straight out of the decoder's
/// buffer or the bytes just received ([`FastLine::Payload`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadView<'a> {
    /// The length the command line declared.
    pub declared: u64,
    /// The bytes kept (at most `keep_payload`).
    pub bytes: &'a [u8],
    /// Bytes that were lost in gaps.
    pub missing: u64,
    /// Bytes that never arrived because the stream ended.
    pub truncated: u64,
}

impl PayloadView<'_> {
    /// Whether every declared byte arrived.
    pub fn complete(&self) -> bool {
        self.missing == 0 && self.truncated == 0
    }
}

/// What followed a command line, borrowed ([`PayloadState`] as the checks read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadRef<'a> {
    /// Not a payload command.
    None,
    /// A payload command with its payload.
    Some(PayloadView<'a>),
    /// A payload command whose length field is not a usable length.
    BadLength(&'a str),
}

/// What followed a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadState {
    /// Not a payload command.
    None,
    /// A payload command with its payload.
    Some(Payload),
    /// A payload command whose length field is not a usable length; nothing was consumed.
    BadLength(String),
}

impl PayloadState {
    /// Borrowed.
    pub fn view(&self) -> PayloadRef<'_> {
        match self {
            PayloadState::None => PayloadRef::None,
            PayloadState::Some(p) => PayloadRef::Some(p.view()),
            PayloadState::BadLength(reason) => PayloadRef::BadLength(reason),
        }
    }
}

/// Why bytes were not a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JunkReason {
    /// A line longer than `max_line`.
    LineTooLong,
    /// Bytes skipped after a gap until a plausible command line.
    Resync,
}

/// One unit of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A command line (and its payload, for payload commands).
    Line {
        /// Stream offset of the line's first byte.
        offset: u64,
        /// The line without its ending.
        line: Vec<u8>,
        /// How it ended.
        ending: Ending,
        /// Its payload.
        payload: PayloadState,
    },
    /// Bytes that are not a command line.
    Junk {
        /// Stream offset of the first byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
        /// The first bytes, for display.
        preview: Vec<u8>,
        /// Why.
        reason: JunkReason,
    },
}

#[derive(Debug)]
enum State {
    Line,
    Payload { head: Box<(u64, Vec<u8>, Ending)>, payload: Payload, need: u64 },
    SkipLine { offset: u64, len: u64, preview: Vec<u8> },
    Resync { offset: u64, len: u64, preview: Vec<u8> },
}

/// What [`Decoder::fast_line`] or [`Decoder::fast_line_in`] found.
#[derive(Debug)]
pub enum FastLine<'a> {
    /// An ordinary command line: stream offset, the line without its ending, the ending.
    Line(u64, &'a [u8], Ending),
    /// A payload command whose whole payload is at hand: as [`FastLine::Line`], then the
    /// payload (the bytes [`Decoder::next_frame`] would keep of it).
    Payload(u64, &'a [u8], Ending, PayloadView<'a>),
    /// Anything else: use [`Decoder::next_frame`].
    Slow,
}

/// A frame the fast path found at the start of some bytes: the line's end and ending, the
/// length of the payload that follows it, and the bytes the frame takes in all.
struct Fast {
    end: usize,
    ending: Ending,
    payload: Option<usize>,
    used: usize,
}

impl Fast {
    /// The frame, lent out of `bytes` (which it starts), at stream offset `offset`.
    fn lend(self, bytes: &[u8], offset: u64, keep: usize) -> FastLine<'_> {
        let line = &bytes[..self.end];
        match self.payload {
            None => FastLine::Line(offset, line, self.ending),
            Some(n) => {
                let from = self.used - n;
                let payload = PayloadView {
                    declared: n as u64,
                    bytes: &bytes[from..from + n.min(keep)],
                    missing: 0,
                    truncated: 0,
                };
                FastLine::Payload(offset, line, self.ending, payload)
            }
        }
    }
}

/// Incremental decoder for one direction.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    pos: usize,
    /// Stream offset of `buf[pos]`.
    offset: u64,
    state: State,
    limits: WireLimits,
    /// Who sends these bytes (`None`: either; payloads are then judged by both sides' forms).
    side: Option<Side>,
    /// The dialects the connection may speak (payload forms differ between them).
    span: Dialects,
}

/// Whether `b` starts like a command line: a known verb or three digits, then a space or line end.
pub fn plausible_start(b: &[u8]) -> Option<bool> {
    if b.len() < 4 {
        // Not decidable yet, unless already impossible.
        let ok = b.iter().take(3).all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        return if ok { None } else { Some(false) };
    }
    let verb = &b[..3];
    let sep = matches!(b[3], b' ' | b'\r' | b'\n');
    let digits = verb.iter().all(u8::is_ascii_digit);
    Some(sep && (digits || catalog::lookup_bytes(verb).is_some()))
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(WireLimits::default())
    }
}

impl Decoder {
    /// A decoder at stream offset 0.
    pub fn new(limits: WireLimits) -> Self {
        Decoder { buf: Vec::new(), pos: 0, offset: 0, state: State::Line, limits, side: None, span: Dialects::ALL }
    }

    /// The bytes are sent by `side` (payloads are framed by that side's forms).
    pub fn sent_by(mut self, side: Side) -> Self {
        self.side = Some(side);
        self
    }

    /// The connection's dialect is now known to be one of `span`.
    pub fn set_dialects(&mut self, span: Dialects) {
        self.span = span;
    }

    /// A decoder for a stream picked up mid-way: it skips to the first line that starts with a
    /// plausible command (reporting what it skipped).
    pub fn new_mid_stream(limits: WireLimits) -> Self {
        let mut d = Decoder::new(limits);
        d.state = State::Resync { offset: 0, len: 0, preview: Vec::new() };
        d
    }

    /// Appends bytes that follow what was pushed before.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 64 * 1024 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet framed. While it is 0, [`Decoder::next_frame`] gives nothing
    /// (every frame is decided by at least one buffered byte).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) {
        self.pos += n;
        self.offset += n as u64;
    }

    /// The common cases without copying: a complete, ordinary command line (not too long) is
    /// lent straight out of the buffer, and so is a payload command with its whole payload.
    /// [`FastLine::Slow`] means "ask [`Decoder::next_frame`]", which gives exactly the frame
    /// this would have.
    pub fn fast_line(&mut self) -> FastLine<'_> {
        if !matches!(self.state, State::Line) {
            return FastLine::Slow;
        }
        let start = self.pos;
        let Some(found) = self.fast_scan(&self.buf[start..]) else { return FastLine::Slow };
        let offset = self.offset;
        self.take(found.used);
        found.lend(&self.buf[start..], offset, self.limits.keep_payload)
    }

    /// As [`Decoder::push`] of `rest` then [`Decoder::fast_line`], but lent straight out of
    /// `rest` when nothing is buffered (how nearly every segment of whole lines arrives): the
    /// frame's bytes are taken off the front of `rest` and never copied. [`FastLine::Slow`]
    /// (nothing taken) means "push what is left and go on as usual".
    pub fn fast_line_in<'a>(&mut self, rest: &mut &'a [u8]) -> FastLine<'a> {
        if !matches!(self.state, State::Line) || self.buffered() > 0 {
            return FastLine::Slow;
        }
        let bytes: &'a [u8] = rest;
        let Some(found) = self.fast_scan(bytes) else { return FastLine::Slow };
        let offset = self.offset;
        self.offset += found.used as u64;
        *rest = &bytes[found.used..];
        found.lend(bytes, offset, self.limits.keep_payload)
    }

    /// Where the fast path's frame lies at the start of `avail` (`None`: not a fast case).
    fn fast_scan(&self, avail: &[u8]) -> Option<Fast> {
        // Nothing left (how a segment of whole lines ends): no search.
        if avail.is_empty() {
            return None;
        }
        let nl = memchr(b'\n', avail)?;
        let (end, ending) = if nl > 0 && avail[nl - 1] == b'\r' { (nl - 1, Ending::CrLf) } else { (nl, Ending::Lf) };
        if end > self.limits.max_line {
            return None;
        }
        let body = &avail[..end];
        if framing::may_carry_payload(body.get(..3).unwrap_or(body)) && body.get(3).is_none_or(|c| *c == b' ') {
            // As `after_line` frames it, when the payload is all here.
            match framing::follows(body, self.side, self.span, self.limits.max_payload) {
                Follows::Nothing => {}
                Follows::Payload(n) if n <= (avail.len() - nl - 1) as u64 => {
                    let n = n as usize;
                    return Some(Fast { end, ending, payload: Some(n), used: nl + 1 + n });
                }
                Follows::Payload(_) | Follows::BadLength(_) => return None,
            }
        }
        Some(Fast { end, ending, payload: None, used: nl + 1 })
    }

    /// The next complete frame, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let avail = &self.buf[self.pos..];
            match &mut self.state {
                State::Line => {
                    if avail.is_empty() {
                        return None;
                    }
                    let Some(nl) = memchr(b'\n', avail) else {
                        if avail.len() > self.limits.max_line + 1 {
                            let preview = avail[..PREVIEW.min(avail.len())].to_vec();
                            let len = avail.len() as u64;
                            self.state = State::SkipLine { offset: self.offset, len, preview };
                            self.take(len as usize);
                        }
                        return None;
                    };
                    let offset = self.offset;
                    let (body, ending) = if nl > 0 && avail[nl - 1] == b'\r' {
                        (&avail[..nl - 1], Ending::CrLf)
                    } else {
                        (&avail[..nl], Ending::Lf)
                    };
                    if body.len() > self.limits.max_line {
                        let preview = avail[..PREVIEW.min(nl + 1)].to_vec();
                        self.take(nl + 1);
                        return Some(Frame::Junk {
                            offset,
                            len: nl as u64 + 1,
                            preview,
                            reason: JunkReason::LineTooLong,
                        });
                    }
                    let line = body.to_vec();
                    self.take(nl + 1);
                    if let Some(f) = self.after_line(offset, line, ending) {
                        return Some(f);
                    }
                }
                State::Payload { payload, need, .. } => {
                    let n = (*need).min(avail.len() as u64) as usize;
                    let keep = self.limits.keep_payload.saturating_sub(payload.bytes.len()).min(n);
                    payload.bytes.extend_from_slice(&avail[..keep]);
                    *need -= n as u64;
                    let done = *need == 0;
                    self.take(n);
                    if !done {
                        return None;
                    }
                    return Some(self.finish_payload());
                }
                State::SkipLine { offset, len, preview } => match memchr(b'\n', avail) {
                    Some(nl) => {
                        extend_preview(preview, &avail[..nl + 1]);
                        let f = Frame::Junk {
                            offset: *offset,
                            len: *len + nl as u64 + 1,
                            preview: std::mem::take(preview),
                            reason: JunkReason::LineTooLong,
                        };
                        self.state = State::Line;
                        self.take(nl + 1);
                        return Some(f);
                    }
                    None => {
                        let n = avail.len();
                        extend_preview(preview, avail);
                        *len += n as u64;
                        self.take(n);
                        return None;
                    }
                },
                State::Resync { offset, len, preview } => {
                    // Try every line start: the current position, then after each LF.
                    let mut i = 0;
                    loop {
                        match plausible_start(&avail[i..]) {
                            None => {
                                // Undecidable until more bytes arrive: keep them buffered.
                                let skip = i;
                                extend_preview(preview, &avail[..skip]);
                                *len += skip as u64;
                                self.take(skip);
                                return None;
                            }
                            Some(true) => {
                                extend_preview(preview, &avail[..i]);
                                *len += i as u64;
                                let f = (*len > 0).then(|| Frame::Junk {
                                    offset: *offset,
                                    len: *len,
                                    preview: std::mem::take(preview),
                                    reason: JunkReason::Resync,
                                });
                                self.state = State::Line;
                                self.take(i);
                                if let Some(f) = f {
                                    return Some(f);
                                }
                                break;
                            }
                            Some(false) => match memchr(b'\n', &avail[i..]) {
                                Some(nl) => i += nl + 1,
                                None => {
                                    let n = avail.len();
                                    extend_preview(preview, avail);
                                    *len += n as u64;
                                    self.take(n);
                                    return None;
                                }
                            },
                        }
                    }
                }
            }
        }
    }

    /// Frames a line; `None` when a payload must follow first.
    fn after_line(&mut self, offset: u64, line: Vec<u8>, ending: Ending) -> Option<Frame> {
        let none = PayloadState::None;
        let verb = line.get(..3).unwrap_or(&line);
        if !framing::may_carry_payload(verb) || line.get(3).is_some_and(|c| *c != b' ') {
            return Some(Frame::Line { offset, line, ending, payload: none });
        }
        let n = match framing::follows(&line, self.side, self.span, self.limits.max_payload) {
            Follows::Nothing => return Some(Frame::Line { offset, line, ending, payload: none }),
            Follows::BadLength(reason) => {
                return Some(Frame::Line { offset, line, ending, payload: PayloadState::BadLength(reason) })
            }
            Follows::Payload(n) => n,
        };
        let payload = Payload {
            declared: n,
            bytes: Vec::with_capacity((n as usize).min(self.limits.keep_payload)),
            missing: 0,
            truncated: 0,
        };
        self.state = State::Payload { head: Box::new((offset, line, ending)), payload, need: n };
        (n == 0).then(|| self.finish_payload())
    }

    fn finish_payload(&mut self) -> Frame {
        match std::mem::replace(&mut self.state, State::Line) {
            State::Payload { head, payload, .. } => {
                let (offset, line, ending) = *head;
                Frame::Line { offset, line, ending, payload: PayloadState::Some(payload) }
            }
            other => {
                self.state = other;
                Frame::Junk { offset: self.offset, len: 0, preview: Vec::new(), reason: JunkReason::Resync }
            }
        }
    }

    /// `len` bytes at the current position will never arrive. Returns frames completed by it
    /// (a payload cut by the gap, or a line that the gap ended).
    pub fn gap(&mut self, len: u64) -> Vec<Frame> {
        let mut out = Vec::new();
        // Frames completed by earlier pushes come first.
        while let Some(f) = self.next_frame() {
            out.push(f);
        }
        let mut len = len;
        match &mut self.state {
            State::Payload { payload, need, .. } => {
                let n = (*need).min(len);
                payload.missing += n;
                *need -= n;
                len -= n;
                if *need == 0 {
                    out.push(self.finish_payload());
                }
                if len == 0 {
                    return out;
                }
            }
            State::Line => {
                let rest = self.buf.len() - self.pos;
                if rest > 0 {
                    let offset = self.offset;
                    let line = self.buf[self.pos..].to_vec();
                    self.take(rest);
                    out.push(Frame::Line { offset, line, ending: Ending::Missing, payload: PayloadState::None });
                }
            }
            State::SkipLine { .. } | State::Resync { .. } => {}
        }
        // Continue after the gap in resync mode; bytes skipped before it are reported first.
        if let State::SkipLine { offset, len: skipped, preview } | State::Resync { offset, len: skipped, preview } =
            std::mem::replace(&mut self.state, State::Line)
        {
            if skipped > 0 {
                let reason = JunkReason::Resync;
                out.push(Frame::Junk { offset, len: skipped, preview, reason });
            }
        }
        self.offset += len;
        self.state = State::Resync { offset: self.offset, len: 0, preview: Vec::new() };
        out
    }

    /// The stream ended: whatever is pending becomes a final frame.
    pub fn finish(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(f) = self.next_frame() {
            out.push(f);
        }
        let rest = self.buf[self.pos..].to_vec();
        let rest_len = rest.len();
        match std::mem::replace(&mut self.state, State::Line) {
            State::Line => {
                if !rest.is_empty() {
                    let (line, ending) = (rest, Ending::Missing);
                    out.push(Frame::Line { offset: self.offset, line, ending, payload: PayloadState::None });
                }
            }
            State::Payload { head, mut payload, need } => {
                payload.truncated = need;
                let (offset, line, ending) = *head;
                out.push(Frame::Line { offset, line, ending, payload: PayloadState::Some(payload) });
            }
            State::SkipLine { offset, len, mut preview } => {
                extend_preview(&mut preview, &rest);
                out.push(Frame::Junk { offset, len: len + rest_len as u64, preview, reason: JunkReason::LineTooLong });
            }
            State::Resync { offset, len, mut preview } => {
                extend_preview(&mut preview, &rest);
                let len = len + rest_len as u64;
                if len > 0 {
                    out.push(Frame::Junk { offset, len, preview, reason: JunkReason::Resync });
                }
            }
        }
        self.take(rest_len);
        out
    }
}

fn extend_preview(preview: &mut Vec<u8>, bytes: &[u8]) {
    let room = PREVIEW.saturating_sub(preview.len());
    preview.extend_from_slice(&bytes[..room.min(bytes.len())]);
}

/// Position of the first `needle` in `hay` (the memchr crate: SIMD where the machine has it).
pub fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}
