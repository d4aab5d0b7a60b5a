//! From bytes to events: each direction's bytes go through its wire decoder, and every frame
//! becomes an event with the violations found on it. Gaps, TCP anomalies, half-closes and the
//! end of the connection become events too.

use super::model::{Event, EventKind, Options, Outcome, PayloadInfo};
use super::redact::redact;
use super::Connection;
use crate::flow::{CloseKind, Dir, GapReason};
use crate::msnp::command::{self, Command};
use crate::msnp::errors;
use crate::msnp::payload;
use crate::msnp::wire::{Decoder, Ending, FastLine, Frame, JunkReason, PayloadRef};
use crate::rules::framing::Cut;
use crate::rules::{self, framing, network, Violation};
use crate::shortstr::ShortStr;

impl Connection {
    /// Bytes of one direction, in order.
    pub fn data(&mut self, dir: Dir, ts: i64, bytes: &[u8], opts: &Options) {
        // The decoder is taken out while its lines are analysed, so ordinary lines can be lent
        // to the analysis without a copy (a pointer moved, not the decoder).
        let Some(mut dec) = self.st.decoders[dir.index()].take() else { return };
        // Whole lines at the front of the bytes, while nothing is buffered, are read where they
        // lie; only what is left is copied into the decoder.
        let mut rest = bytes;
        while self.fast(dir, ts, dec.fast_line_in(&mut rest), opts) {
            dec.set_dialects(self.st.dialect.span);
        }
        dec.push(rest);
        // With nothing buffered no frame can come out (how most segments end).
        while dec.buffered() > 0 {
            if !self.fast(dir, ts, dec.fast_line(), opts) {
                match dec.next_frame() {
                    Some(frame) => self.frame(dir, ts, frame, Cut::No, opts),
                    None => break,
                }
            }
            // A line may have decided the dialect, which frames the next ones.
            dec.set_dialects(self.st.dialect.span);
        }
        self.st.decoders[dir.index()] = Some(dec);
    }

    /// Analyses a line the decoder lent; `false` (nothing done) for [`FastLine::Slow`].
    fn fast(&mut self, dir: Dir, ts: i64, found: FastLine<'_>, opts: &Options) -> bool {
        match found {
            FastLine::Line(offset, line, ending) => {
                self.line(dir, ts, offset, line, ending, PayloadRef::None, Cut::No, opts);
            }
            FastLine::Payload(offset, line, ending, payload) => {
                self.line(dir, ts, offset, line, ending, PayloadRef::Some(payload), Cut::No, opts);
            }
            FastLine::Slow => return false,
        }
        true
    }

    /// A direction's decoder (`None` only while [`Connection::data`] has it out).
    fn decoder(&mut self, dir: Dir) -> Option<&mut Decoder> {
        self.st.decoders[dir.index()].as_deref_mut()
    }

    /// Bytes that were never captured.
    pub fn gap(&mut self, dir: Dir, ts: i64, offset: u64, len: u64, reason: GapReason, opts: &Options) {
        let frames = self.decoder(dir).map(|d| d.gap(len)).unwrap_or_default();
        let mut cut = Vec::new();
        for f in frames {
            // A line cut by the gap is not the peer's fault; frames before it are ordinary.
            let by_gap = matches!(&f, Frame::Line { ending: Ending::Missing, .. });
            if by_gap {
                cut.push(f);
            } else {
                self.frame(dir, ts, f, Cut::No, opts);
            }
        }
        for f in cut {
            self.frame(dir, ts, f, Cut::Gap, opts);
        }
        let (v, note) = network::gap(offset, len, reason);
        self.push(Event {
            kind: EventKind::Gap,
            offset,
            length: Some(len),
            note: Some(note),
            violations: vec![v],
            ..Event::new(ts, dir, EventKind::Command)
        });
    }

    /// A TCP anomaly.
    pub fn tcp_anomaly(&mut self, dir: Dir, ts: i64, anomaly: crate::flow::TcpAnomaly) {
        let (v, text) = network::anomaly(anomaly);
        self.push(Event {
            kind: EventKind::Tcp,
            note: Some(text),
            violations: vec![v],
            ..Event::new(ts, dir, EventKind::Command)
        });
    }

    /// One side finished sending (FIN).
    pub fn half_close(&mut self, dir: Dir, ts: i64, opts: &Options) {
        let frames = self.decoder(dir).map(Decoder::finish).unwrap_or_default();
        for f in frames {
            self.frame(dir, ts, f, Cut::No, opts);
        }
        let who = if dir == Dir::C2S { "client" } else { "server" };
        self.push(Event {
            kind: EventKind::Fin,
            note: Some(format!("{who} closed (FIN)")),
            ..Event::new(ts, dir, EventKind::Command)
        });
    }

    /// The connection ended: what the decoders still hold is decoded, and requests never
    /// answered are settled as such. They are violations (T006, T007) only when it really ended
    /// ([`CloseKind::ended`]): a capture that stops, or a flow flushed while idle, may have
    /// missed the answer.
    pub fn close(&mut self, ts: i64, how: CloseKind, opts: &Options) {
        // What the decoders hold was cut by the end of the input, unless the connection ended.
        let cut = if how.ended() { Cut::No } else { Cut::End };
        for dir in [Dir::C2S, Dir::S2C] {
            let frames = self.decoder(dir).map(Decoder::finish).unwrap_or_default();
            for f in frames {
                self.frame(dir, ts, f, cut, opts);
            }
        }
        self.closed = Some(ts);
        self.close = Some(how);
        let why = format!(" before the connection ended ({})", how.as_str());
        if how.ended() {
            // Each unanswered request whose event was handed on gets a late violation: room for
            // them at once, not a list doubling as it grows (300,000 unanswered requests, summary:
            // 98.7 -> 94.9 MiB peak).
            let emitted = self.emitted;
            let late =
                self.transactions.iter().filter(|t| t.responses.is_empty() && t.expects_reply && t.request < emitted);
            let n = late.count();
            self.late.reserve_exact(n.saturating_add(16));
        }
        for i in 0..self.transactions.len() {
            let t = &self.transactions[i];
            if !t.responses.is_empty() {
                continue;
            }
            if !t.expects_reply {
                self.transactions[i].outcome = Outcome::NoReplyExpected;
                continue;
            }
            let (req, label, ack) = (t.request, t.label(), t.ack_mode);
            self.transactions[i].outcome = Outcome::Unanswered;
            if how.ended() {
                self.add_violation(req, rules::transactions::unanswered(&label, ack, &why));
            }
        }
        for (event, v) in self.st.rules.at_close(how.ended()) {
            self.add_violation(event, v);
        }
        self.settle_dialect();
    }

    fn frame(&mut self, dir: Dir, ts: i64, frame: Frame, cut: Cut, opts: &Options) {
        match frame {
            Frame::Junk { offset, len, preview, reason } => {
                let (v, note) = match reason {
                    JunkReason::LineTooLong => framing::too_long(len, opts.wire.max_line),
                    JunkReason::Resync => network::resync(len),
                };
                self.push(Event {
                    kind: EventKind::Malformed,
                    offset,
                    length: Some(len),
                    line: Some(String::from_utf8_lossy(&preview).into_owned()),
                    note: Some(note),
                    violations: vec![v],
                    ..Event::new(ts, dir, EventKind::Command)
                });
            }
            Frame::Line { offset, line, ending, payload } => {
                self.line(dir, ts, offset, &line, ending, payload.view(), cut, opts);
            }
        }
    }

    /// One line (and its payload): framing checks, the command's checks and pairing, then the
    /// event with its display parts (unless `opts.terse`), or, where nothing reads events but
    /// their counts, the line counted at once ([`Connection::count_at_once`]).
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        dir: Dir,
        ts: i64,
        offset: u64,
        raw: &[u8],
        ending: Ending,
        payload: PayloadRef<'_>,
        cut: Cut,
        opts: &Options,
    ) {
        // Checked first: valid UTF-8 (nearly every line) needs no lossy pass.
        let text = match bstr::ByteSlice::to_str(raw) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(raw),
        };
        self.st.lossy_line = matches!(text, std::borrow::Cow::Owned(_));
        let text: &str = &text;
        let from_client = dir == Dir::C2S;
        let cmd = command::parse(text, from_client, self.st.dialect.span);
        let mut v: Vec<Violation> = Vec::new();
        let mut note = framing::line(raw, ending, cut, cmd.controls, &mut v);
        if let (Cut::End, PayloadRef::Some(p)) = (cut, &payload) {
            if p.truncated > 0 && note.is_none() {
                note = Some(format!(
                    "payload cut short: the connection had not ended when its reading stopped, {} of {} bytes unseen",
                    p.truncated, p.declared
                ));
            }
        }
        let known = cmd.spec.is_some() || cmd.error.is_some();
        let mut kind = if cmd.error.is_some() { EventKind::Error } else { EventKind::Command };
        if cut != Cut::No && !known {
            kind = EventKind::Malformed;
        } else if !known {
            framing::unknown_code(cmd.verb, &mut v);
            kind = EventKind::Malformed;
        }
        framing::spacing(&cmd, &mut v);
        rules::transactions::trid(&cmd, known, &mut v);
        let payload_info = self.payload(&cmd, from_client, &payload, cut, opts, &mut v);
        let body = match &payload {
            PayloadRef::Some(p) => Some(p.bytes),
            _ => None,
        };

        let idx = self.base + self.events.len();
        let (fields, secrets) =
            if known && !opts.terse { self.fields_and_secrets(&cmd) } else { (Vec::new(), Default::default()) };
        let checked = known && kind != EventKind::Malformed;
        if checked {
            self.check(&cmd, dir, idx, body, opts, &mut v);
        }
        // A client's unknown command still holds a TrID: the error the server answers it with
        // pairs with it (it answers something, not nothing).
        let unknown_request = !known && cut == Cut::No && from_client && cmd.trid.is_some();
        let transaction = if checked || unknown_request { self.pair(&cmd, dir, ts, idx, &mut v) } else { None };
        let verb = cmd.index;
        if self.count_at_once(kind, verb, &v) {
            return;
        }
        let found = Findings { kind, fields, secrets, payload: payload_info, transaction, offset, note, violations: v };
        self.make_event(dir, ts, text, &cmd, found, opts);
    }

    /// The event of a line that is not only counted. Out of line: a summary counts nearly
    /// every line at once, and this code kept beside the per-line checks took room in the
    /// instruction cache.
    #[inline(never)]
    fn make_event(&mut self, dir: Dir, ts: i64, text: &str, cmd: &Command<'_>, found: Findings, opts: &Options) {
        // Secrets are redacted in the exported line and arguments.
        let (line, args) = if opts.terse {
            (None, Vec::new())
        } else {
            let (l, a) = redact(text, cmd, found.secrets, self.st.reveal);
            (Some(l), a)
        };
        let error_name = cmd.error.and_then(errors::error_code).map(|e| e.name);
        self.push(Event {
            kind: found.kind,
            // A catalog verb's text is static: no copy (a copy was 2 % of a summary's time).
            command: match cmd.spec {
                Some(spec) => Some(ShortStr::const_new(spec.verb)),
                None => (!cmd.verb.is_empty()).then(|| ShortStr::new(cmd.verb)),
            },
            trid: cmd.trid,
            args,
            line,
            fields: found.fields,
            error_name,
            payload: found.payload,
            transaction: found.transaction,
            offset: found.offset,
            note: found.note,
            violations: found.violations,
            ..Event::new(ts, dir, EventKind::Command)
        });
    }

    /// The payload's checks, and its display form unless `opts.terse`.
    fn payload(
        &self,
        cmd: &Command<'_>,
        from_client: bool,
        payload: &PayloadRef<'_>,
        cut: Cut,
        opts: &Options,
        v: &mut Vec<Violation>,
    ) -> Option<Box<PayloadInfo>> {
        match payload {
            PayloadRef::None => None,
            PayloadRef::BadLength(reason) => {
                framing::bad_length(reason, v);
                None
            }
            PayloadRef::Some(p) if opts.terse => {
                framing::payload(cmd.verb, from_client, p, payload::header_block_ends(p.bytes), cut, v);
                None
            }
            PayloadRef::Some(p) => {
                let mime = payload::parse(p.bytes);
                framing::payload(cmd.verb, from_client, p, mime.has_blank_line, cut, v);
                // Passport cookies in headers and challenge responses are secrets.
                let reveal = self.st.reveal;
                let hide = |k: &str| !reveal && super::redact::secret_header(k);
                let body_secret = !reveal && cmd.code == crate::msnp::verbs::QRY;
                Some(Box::new(PayloadInfo {
                    length: p.declared,
                    headers: mime
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            (ShortStr::new(k), ShortStr::new(if hide(k) { super::redact::REDACTED } else { v }))
                        })
                        .collect(),
                    body: if body_secret {
                        super::redact::REDACTED.to_string()
                    } else {
                        String::from_utf8_lossy(mime.body).into_owned()
                    },
                    complete: p.complete(),
                }))
            }
        }
    }

    /// The checks of a command of a known verb, and what the connection learns from it.
    fn check(
        &mut self,
        cmd: &Command<'_>,
        dir: Dir,
        idx: usize,
        body: Option<&[u8]>,
        opts: &Options,
        v: &mut Vec<Violation>,
    ) {
        let from_client = dir == Dir::C2S;
        let decided = self.st.dialect.decided;
        rules::state::outside_dialect(cmd, self.st.dialect.span, decided, v);
        self.fingerprint(cmd, from_client);
        self.infer_role(cmd, from_client);
        if cmd.code == crate::msnp::verbs::VER {
            let offered = self.st.rules.ver(cmd, from_client, v);
            self.negotiated(cmd, from_client, offered);
        }
        let cx = rules::Context {
            role: self.role,
            dialects: self.st.dialect.span,
            decided: self.st.dialect.decided,
            start_seen: self.start_seen,
            from_client,
            user: self.user.as_deref(),
            passwords: &opts.passwords,
            lossy: self.st.lossy_line,
        };
        self.st.rules.command(&cx, cmd, idx, body, v);
        for (event, late) in self.st.rules.take_late() {
            self.add_violation(event, late);
        }
        self.learn(cmd, from_client, idx, body);
    }
}

/// What a line's analysis found, handed to [`Connection::make_event`].
struct Findings {
    kind: EventKind,
    fields: Vec<(&'static str, ShortStr)>,
    secrets: crate::msnp::params::Secrets,
    payload: Option<Box<PayloadInfo>>,
    transaction: Option<usize>,
    offset: u64,
    note: Option<String>,
    violations: Vec<Violation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line that decides the dialect frames the next line of the same segment by it:
    /// `nnn TrID length` carries a payload from MSNP13 on, not in MSNP8.
    #[test]
    fn a_line_that_decides_the_dialect_frames_the_next_in_its_segment() {
        let opts = Options::default();
        for (chosen, want) in [("MSNP8", vec!["VER", "201", "OUT"]), ("MSNP13", vec!["VER", "201"])] {
            let mut c = crate::session::test_connection(&opts);
            c.data(Dir::C2S, 1, b"VER 1 MSNP13 MSNP8 CVR0\r\n", &opts);
            let reply = format!("VER 1 {chosen}\r\n201 2 5\r\nOUT\r\n");
            c.data(Dir::S2C, 2, reply.as_bytes(), &opts);
            let got: Vec<&str> =
                c.events.iter().filter(|e| e.dir == Dir::S2C).filter_map(|e| e.command.as_deref()).collect();
            assert_eq!(got, want, "{chosen}");
        }
    }

    /// Requests handed on and never answered get their late violations in a list made once for
    /// them all (a doubling list would be 2,048 long for 1,100).
    #[test]
    fn unanswered_requests_get_their_late_violations_in_one_list() {
        let opts = Options::default();
        let mut c = crate::session::msnp8_connection(&opts);
        let requests: String = (2..1_102).map(|t| format!("CHG {t} NLN 0\r\n")).collect();
        c.data(Dir::C2S, 3, requests.as_bytes(), &opts);
        // As the analysis does once it has handed the events on.
        c.emitted = c.base + c.events.len();
        c.close(4, CloseKind::Fin, &opts);
        let t006 = c.late.iter().filter(|(_, v)| v.rule == "MSNP-T006").count();
        assert_eq!(t006, 1_100);
        assert!(c.late.capacity() <= c.late.len() + 16, "{} for {}", c.late.capacity(), c.late.len());
    }
}
