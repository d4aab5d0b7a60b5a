//! The coloured, annotated transcript. Connections are printed whole, in id order, as soon as
//! they and every connection before them have ended (at most [`MAX_HELD`] are held back; past
//! that they print in the order they end). Colour marks direction, errors and violations.
//!
//! Events are rendered as they are reported and the text kept in a [`Spool`] (memory up to a
//! budget, then a temporary file), so memory does not grow with open connections' events. What
//! is only known when a connection ends is spliced in then: "(no answer)" on requests never
//! answered, violations found later, and referral lines (rendered last, with their targets).

mod inserts;
mod render;

use super::sanitize;
use super::spool::Spool;
use crate::analysis::{Links, Report, Summary};
use crate::fasthash::FastMap;
use crate::session::{Connection, Event, Outcome, Transaction};
use inserts::{InsertLog, Inserts};
pub(crate) use render::payload_note;
use render::{connection_line, ended_line, header, render_into, violation_line, RESET};
pub use render::{summary_line, summary_tables};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

/// Finished connections held back to keep id order.
pub const MAX_HELD: usize = 1024;

/// Whether the transcript is coloured: each renderer is told, there is no global switch.
#[derive(Clone, Copy)]
pub(crate) struct Style {
    pub(crate) on: bool,
}

/// The transcript's styles (anstyle).
pub(crate) mod styles {
    use anstyle::{AnsiColor, Style};
    pub const BOLD: Style = Style::new().bold();
    pub const DIM: Style = Style::new().dimmed();
    pub const ERROR: Style = AnsiColor::Red.on_default().bold();
    pub const WARNING: Style = AnsiColor::Yellow.on_default();
    pub const INFO: Style = AnsiColor::Blue.on_default();
    pub const ERROR_LINE: Style = AnsiColor::Red.on_default();
    pub const CLIENT: Style = AnsiColor::Cyan.on_default();
    pub const SERVER: Style = AnsiColor::Green.on_default();
    pub const ODD: Style = AnsiColor::Magenta.on_default();
}

impl Style {
    pub(crate) fn paint(&self, style: anstyle::Style, s: &str) -> String {
        if self.on {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_string()
        }
    }

    /// [`Style::paint`], appended to `out`.
    pub(crate) fn paint_into(&self, out: &mut String, style: anstyle::Style, s: &str) {
        self.open(out, style);
        out.push_str(s);
        self.close(out, style);
    }

    /// Starts `style` in `out` (when colour is on).
    pub(crate) fn open(&self, out: &mut String, style: anstyle::Style) {
        if self.on {
            let _ = write!(out, "{}", style.render());
        }
    }

    /// Ends `style` in `out` (when colour is on).
    pub(crate) fn close(&self, out: &mut String, style: anstyle::Style) {
        if self.on {
            let _ = write!(out, "{}", style.render_reset());
        }
    }
}

/// Options of the transcript.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// Use ANSI colours.
    pub color: bool,
    /// Print a line per connection and the overall counts instead of the events.
    pub summary_only: bool,
    /// Which connections and events to show.
    pub filter: super::filter::Filter,
    /// Print events as they are decoded, each tagged with its connection, instead of whole
    /// connections when they end (the proxy's live transcript).
    pub live: bool,
}

/// Where an event's text went in its connection's spool, for what is added at the end.
#[derive(Clone, Copy)]
struct Mark {
    /// End of the event's first line (before its newline).
    line_end: u64,
    /// End of its whole text (violation lines included).
    block_end: u64,
    /// Visible width of the first line before annotations.
    width: u32,
    /// Whether the first line has annotations (an "(no answer)" joins them).
    ann: bool,
    /// Not written: left out by the filter or rendered at the end (offsets are where it goes).
    written: bool,
}

/// Bytes of a mark in the marks spool (fixed, so mark `i` is at `i * MARK_BYTES`).
const MARK_BYTES: usize = 22;

impl Mark {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line_end.to_le_bytes());
        out.extend_from_slice(&self.block_end.to_le_bytes());
        out.extend_from_slice(&self.width.to_le_bytes());
        out.push(self.ann as u8);
        out.push(self.written as u8);
    }

    fn decode(b: &[u8]) -> Option<Mark> {
        let b: &[u8; MARK_BYTES] = b.get(..MARK_BYTES)?.try_into().ok()?;
        let u64_at = |i: usize| b[i..i + 8].try_into().map(u64::from_le_bytes).ok();
        Some(Mark {
            line_end: u64_at(0)?,
            block_end: u64_at(8)?,
            width: b[16..20].try_into().map(u32::from_le_bytes).ok()?,
            ann: b[20] != 0,
            written: b[21] != 0,
        })
    }
}

/// What is kept of a connection still open.
#[derive(Default)]
struct OpenText {
    /// Marks written to the marks spool (one per event index, in order).
    marked: usize,
    /// Referral lines, rendered when the connection ends (their targets are known then), with
    /// the transaction they answer as it was when they arrived.
    deferred: BTreeMap<usize, (Event, Option<Transaction>)>,
    left_out: super::LeftOut,
    /// Requests settled unanswered before the end.
    unanswered: Vec<usize>,
}

/// A finished connection waiting for its turn.
enum Held {
    /// Text in full (summary lines, or nothing for a connection the filter leaves out).
    Text(String),
    /// Header, the spool's text with the insertions the inserts spool holds for it, and the
    /// closing line.
    Spooled { head: String, tail: String },
}

/// Prints the transcript to a writer.
pub struct TextReport<W: Write> {
    out: W,
    opts: TextOptions,
    spool: Spool<u64>,
    /// Each open connection's marks ([`MARK_BYTES`] each): a connection of millions of events
    /// keeps them on disk, not in memory.
    marks: Spool<u64>,
    /// What goes into each finished connection's text, by offset ([`InsertLog`] records), until
    /// it is written: a connection that ends with hundreds of thousands of requests unanswered
    /// keeps them on disk, not in memory.
    ins: Spool<u64>,
    open: FastMap<u64, OpenText>,
    held: BTreeMap<u64, Held>,
    next_id: u64,
    base_ns: Option<i64>,
    label: String,
    /// Reused to render events before they go to the spool.
    scratch: String,
    /// Reused to encode marks before they go to the marks spool.
    mark_scratch: Vec<u8>,
    /// The first write error (a closed pipe ends output quietly).
    pub error: Option<std::io::Error>,
}

impl<W: Write> TextReport<W> {
    /// A transcript of the input named `label`.
    pub fn new(out: W, opts: TextOptions, label: &str) -> Self {
        TextReport {
            out,
            opts,
            spool: Spool::new(super::spool::DEFAULT_BUDGET),
            marks: Spool::new(super::spool::DEFAULT_BUDGET / 4),
            ins: Spool::new(super::spool::DEFAULT_BUDGET / 4),
            open: FastMap::default(),
            held: BTreeMap::new(),
            next_id: 1,
            base_ns: None,
            label: label.to_string(),
            scratch: String::new(),
            mark_scratch: Vec::new(),
            error: None,
        }
    }

    fn write(&mut self, s: &str) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(s.as_bytes()) {
                self.error = Some(e);
            }
        }
    }

    /// Keeps at most `bytes` of rendered events in memory (the rest goes to a temporary file).
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.spool = Spool::new(bytes);
        self.marks = Spool::new(bytes / 4);
        self.ins = Spool::new(bytes / 4);
        self
    }

    fn release(&mut self, all: bool) {
        while let Some((&id, _)) = self.held.iter().next() {
            if !all && id != self.next_id && self.held.len() <= MAX_HELD {
                break;
            }
            match self.held.remove(&id) {
                Some(Held::Text(s)) => self.write(&s),
                Some(Held::Spooled { head, tail }) => {
                    self.write(&head);
                    if self.error.is_none() {
                        let mut read_error = None;
                        let inserts = Inserts::new(&self.ins, id, &mut read_error);
                        if let Err(e) = self.spool.take_with(id, inserts, &mut self.out) {
                            self.error = Some(e);
                        }
                        if let Some(e) = read_error {
                            self.error.get_or_insert(e);
                        }
                    }
                    self.ins.discard(id);
                    self.write(&tail);
                }
                None => {}
            }
            self.next_id = self.next_id.max(id + 1);
        }
    }

    /// Renders new events of a connection into its spool (the whole-connection transcript).
    fn spool_events(&mut self, conn: &Connection, from: usize) {
        let base = *self.base_ns.get_or_insert(conn.opened);
        let st = Style { on: self.opts.color };
        let open = self.open.entry(conn.id).or_default();
        // The new events are rendered into one buffer, appended to the spool at once.
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let mut marks = std::mem::take(&mut self.mark_scratch);
        marks.clear();
        let at = self.spool.len(conn.id);
        for e in &conn.events[from..] {
            let pos = at + buf.len() as u64;
            let skipped = Mark { line_end: pos, block_end: pos, width: 0, ann: false, written: false };
            // Event indices are consecutive; any not seen take an empty mark.
            while open.marked < e.index {
                skipped.encode(&mut marks);
                open.marked += 1;
            }
            open.marked += 1;
            let tx = e.transaction.and_then(|t| conn.txn(t));
            if !self.opts.filter.event(e) {
                open.left_out.offer(&self.opts.filter, conn, e);
                skipped.encode(&mut marks);
                continue;
            }
            if e.link.is_some() {
                open.deferred.insert(e.index, (e.clone(), tx.cloned()));
                skipped.encode(&mut marks);
                continue;
            }
            let (line_end, width, ann) = render_into(&mut buf, e, tx, false, Links::EMPTY, base, st, "");
            Mark {
                line_end: pos + line_end as u64,
                block_end: at + buf.len() as u64,
                width: width as u32,
                ann,
                written: true,
            }
            .encode(&mut marks);
        }
        if !buf.is_empty() {
            self.spool.append(conn.id, buf.as_bytes());
        }
        if !marks.is_empty() {
            self.marks.append(conn.id, &marks);
        }
        if buf.capacity() <= 1 << 20 {
            self.scratch = buf;
        }
        if marks.capacity() <= 1 << 20 {
            self.mark_scratch = marks;
        }
    }

    /// What goes into a finished connection's spooled text, by offset: into the inserts spool.
    fn inserts(&mut self, conn: &Connection, links: Links<'_>) {
        let mut open = self.open.remove(&conn.id).unwrap_or_default();
        let base = self.base_ns.unwrap_or(conn.opened);
        let st = Style { on: self.opts.color };
        let late = super::late_by_event(conn);
        let mut unanswered: crate::fasthash::FastSet<usize> = open.unanswered.iter().copied().collect();
        unanswered.extend(conn.transactions.iter().filter(|t| t.outcome == Outcome::Unanswered).map(|t| t.request));
        let mut touched: Vec<usize> = late.keys().copied().chain(unanswered.iter().copied()).collect();
        touched.extend(open.deferred.keys().copied());
        touched.sort_unstable();
        touched.dedup();
        let mut inserts = InsertLog::default();
        for i in touched {
            let Some(m) = self.mark(conn.id, i) else { continue };
            let no_answer = unanswered.contains(&i);
            let late_here = late.get(&i).map_or(&[][..], |l| &l[..]);
            if let Some((mut e, tx)) = open.deferred.remove(&i) {
                e.violations.extend(late_here.iter().map(|v| (*v).clone()));
                let mut r = String::new();
                render_into(&mut r, &e, tx.as_ref(), no_answer, links, base, st, "");
                inserts.push(m.line_end, r.into_bytes());
            } else if !m.written {
                // Left out when it arrived: a violation found since may let it through.
                if let Some(e) = open.left_out.recover(conn, i, late_here, &self.opts.filter) {
                    let tx = e.transaction.and_then(|t| conn.txn(t));
                    let mut r = String::new();
                    render_into(&mut r, &e, tx, no_answer, links, base, st, "");
                    inserts.push(m.line_end, r.into_bytes());
                }
            } else {
                if no_answer {
                    let text = "  (no answer)";
                    if m.ann && st.on {
                        // Inside the annotations' colour, before its reset.
                        inserts.push(m.line_end.saturating_sub(RESET.len() as u64), text.as_bytes().to_vec());
                    } else if m.ann {
                        inserts.push(m.line_end, text.as_bytes().to_vec());
                    } else {
                        let pad = " ".repeat(64usize.saturating_sub(m.width as usize));
                        inserts.push(m.line_end, format!("{pad}{}", st.paint(styles::DIM, text)).into_bytes());
                    }
                }
                let lines: String = late_here.iter().map(|v| violation_line(v, st, "")).collect();
                if !lines.is_empty() {
                    inserts.push(m.block_end, lines.into_bytes());
                }
            }
            inserts.flush_if_full(&mut self.ins, conn.id);
        }
        self.marks.discard(conn.id);
        inserts.flush(&mut self.ins, conn.id);
        if inserts.unsorted {
            // Not met in practice (marks grow with the events), but if so: sorted as a whole.
            self.sort_inserts(conn.id);
        }
    }

    /// Sorts connection `id`'s inserts by offset (stably), in memory.
    fn sort_inserts(&mut self, id: u64) {
        let mut error = None;
        let mut all: Vec<(u64, Vec<u8>)> = Inserts::new(&self.ins, id, &mut error).collect();
        if let Some(e) = error {
            self.error.get_or_insert(e);
        }
        all.sort_by_key(|(at, _)| *at);
        self.ins.discard(id);
        let mut log = InsertLog::default();
        for (at, b) in all {
            log.push(at, b);
            log.flush_if_full(&mut self.ins, id);
        }
        log.flush(&mut self.ins, id);
    }

    /// The mark of event `i` of connection `id`, if it has one (a read error stops the
    /// output, as one of the text's would).
    fn mark(&mut self, id: u64, i: usize) -> Option<Mark> {
        let at = (i as u64).checked_mul(MARK_BYTES as u64)?;
        match self.marks.read_range(id, at, MARK_BYTES) {
            Ok(b) => Mark::decode(&b),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
}

impl<W: Write> Report for TextReport<W> {
    fn begin(&mut self, first_ts_ns: i64) {
        self.base_ns.get_or_insert(first_ts_ns);
    }

    fn opened(&mut self, conn: &Connection) {
        if self.opts.live
            && !self.opts.summary_only
            && (self.opts.filter.conns.is_empty() || self.opts.filter.conns.contains(&conn.id))
        {
            let st = Style { on: self.opts.color };
            let line = format!("── #{} opened {} → {}", conn.id, conn.client, conn.server);
            self.write(&format!("{}\n", st.paint(styles::BOLD, &line)));
        }
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        if self.opts.summary_only || (!self.opts.filter.conns.is_empty() && !self.opts.filter.conns.contains(&conn.id))
        {
            return;
        }
        if !self.opts.live {
            self.spool_events(conn, from);
            return;
        }
        let base = *self.base_ns.get_or_insert(conn.opened);
        let st = Style { on: self.opts.color };
        let role = if conn.role == crate::msnp::Role::Unknown { "?" } else { conn.role.as_str() };
        let tag = format!("#{:<3} {:<2} ", conn.id, role);
        let mut s = String::new();
        for e in conn.events[from..].iter().filter(|e| self.opts.filter.event(e)) {
            // Links are not passed while streaming; referral targets show in the end line.
            let tx = e.transaction.and_then(|t| conn.txn(t));
            render_into(&mut s, e, tx, false, Links::EMPTY, base, st, &tag);
        }
        self.write(&s);
        if self.error.is_none() {
            let _ = self.out.flush();
        }
    }

    fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
        if self.opts.live || self.opts.summary_only {
            return;
        }
        if let Some(open) = self.open.get_mut(&conn.id) {
            open.left_out.settled(txns);
            open.unanswered.extend(txns.iter().filter(|t| t.outcome == Outcome::Unanswered).map(|t| t.request));
        }
    }

    fn failure(&mut self, f: &crate::analysis::Failure) {
        let st = Style { on: self.opts.color };
        let text = format!("!! {} → {}: {}", f.client, sanitize(&f.target), sanitize(&f.reason));
        self.write(&format!("{}\n", st.paint(styles::ERROR, &text)));
        if self.error.is_none() {
            let _ = self.out.flush();
        }
    }

    fn connection(&mut self, conn: &Connection, links: Links<'_>) {
        if self.opts.live {
            if self.opts.filter.connection(conn) && !self.opts.summary_only {
                let st = Style { on: self.opts.color };
                let how = conn.close.map_or("open", |k| k.as_str());
                let mut s = format!("{}\n", st.paint(styles::BOLD, &format!("{} · ended {how}", header(conn, links))));
                for (i, v) in &conn.late {
                    let text = format!(
                        "#{} event {i}: {} {}: {} [{}]",
                        conn.id,
                        v.rule,
                        v.severity,
                        sanitize(&v.message),
                        v.cite()
                    );
                    s.push_str(&format!("          {}\n", st.paint(styles::WARNING, &text)));
                }
                for l in links.iter().filter(|l| l.from.connection == conn.id) {
                    let to = l.to.map_or("(no connection yet)".to_string(), |t| format!("#{}", t.connection));
                    let via = l
                        .rewritten_to
                        .as_deref()
                        .map(|r| format!(" (client told {})", sanitize(r)))
                        .unwrap_or_default();
                    s.push_str(&format!("          {} {} ⇒ {to}{via}\n", l.kind.as_str(), sanitize(&l.address)));
                }
                self.write(&s);
                if self.error.is_none() {
                    let _ = self.out.flush();
                }
            }
            return;
        }
        let st = Style { on: self.opts.color };
        // A connection not shown still takes its place in the id order.
        let held = if !self.opts.filter.connection(conn) {
            self.open.remove(&conn.id);
            self.spool.discard(conn.id);
            self.marks.discard(conn.id);
            Held::Text(String::new())
        } else if self.opts.summary_only {
            Held::Text(connection_line(conn, st))
        } else {
            self.inserts(conn, links);
            let head = format!("{}\n", st.paint(styles::BOLD, &header(conn, links)));
            Held::Spooled { head, tail: ended_line(conn, st) }
        };
        self.held.insert(conn.id, held);
        self.release(false);
    }

    fn finish(&mut self, summary: &Summary, _links: Links<'_>) {
        self.release(true);
        let st = Style { on: self.opts.color };
        let mut s = String::new();
        if self.opts.summary_only {
            s.push_str(&summary_tables(summary));
        }
        let _ = writeln!(s, "{}", st.paint(styles::BOLD, &summary_line(&self.label, summary)));
        if let Some(e) = &summary.input_error {
            let _ = writeln!(s, "{}", st.paint(styles::ERROR, &format!("input error: {e}")));
        }
        self.write(&s);
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_ends_in_the_reset_the_splicer_knows() {
        use styles::*;
        for st in [BOLD, DIM, ERROR, WARNING, INFO, ERROR_LINE, CLIENT, SERVER, ODD] {
            assert_eq!(st.render_reset().to_string(), RESET);
        }
    }
    use crate::output::filter::Filter;
    use crate::session::Options;

    /// Each connection rendered whole when it ends from its kept events: how the transcript was
    /// made before it was spooled.
    struct Whole {
        st: Style,
        filter: Filter,
        base: i64,
        conns: Vec<(u64, String)>,
    }

    impl Report for Whole {
        fn begin(&mut self, first_ts_ns: i64) {
            self.base = first_ts_ns;
        }

        fn connection(&mut self, c: &Connection, links: Links<'_>) {
            if !self.filter.connection(c) {
                return;
            }
            let mut s = format!("{}\n", self.st.paint(styles::BOLD, &header(c, links)));
            for e in c.events.iter().filter(|e| self.filter.event(e)) {
                let tx = e.transaction.and_then(|t| c.txn(t));
                let no_answer = tx.is_some_and(|t| t.request == e.index && t.outcome == Outcome::Unanswered);
                render_into(&mut s, e, tx, no_answer, links, self.base, self.st, "");
            }
            s.push_str(&ended_line(c, self.st));
            self.conns.push((c.id, s));
        }

        fn finish(&mut self, _summary: &Summary, _links: Links<'_>) {}
    }

    fn run(capture: &[u8], opts: Options, report: &mut dyn Report) {
        crate::analysis::run_on(capture, opts, &[], Default::default(), report).expect("capture");
    }

    #[test]
    fn spooled_transcript_matches_whole_connections() {
        let captures = crate::testkit::sample::output_test_captures();
        let filters = [
            Filter::default(),
            Filter { only_violations: true, ..Default::default() },
            Filter { commands: vec!["CHG".into(), "ADD".into(), "XFR".into()], ..Default::default() },
        ];
        let (mut no_answer, mut referrals, mut late) = (0, 0, 0);
        for cap in &captures {
            for filter in &filters {
                for color in [false, true] {
                    let st = Style { on: color };
                    let mut whole = Whole { st, filter: filter.clone(), base: 0, conns: Vec::new() };
                    run(cap, Options::default(), &mut whole);
                    whole.conns.sort_by_key(|c| c.0);
                    let want: String = whole.conns.iter().map(|c| c.1.as_str()).collect();
                    no_answer += want.matches("(no answer)").count();
                    referrals += want.matches("⇒ #").count();
                    late += want.matches("MSNP-T006").count();
                    for (stream, budget) in [(false, 1 << 20), (true, 1 << 20), (true, 256)] {
                        let mut out = Vec::new();
                        {
                            let opts = TextOptions { color, filter: filter.clone(), ..Default::default() };
                            let mut report = TextReport::new(&mut out, opts, "t").with_memory_budget(budget);
                            run(cap, Options { stream_events: stream, ..Default::default() }, &mut report);
                            assert!(report.error.is_none());
                        }
                        let got = String::from_utf8(out).expect("utf-8");
                        assert!(
                            got.starts_with(&want),
                            "stream {stream} budget {budget} colour {color}:\nwant\n{want}\ngot\n{got}"
                        );
                    }
                }
            }
        }
        assert!(no_answer >= 4 && referrals >= 4 && late >= 4, "{no_answer} {referrals} {late}");
    }

    /// A transcript that notes, whenever it is told something, what its marks hold.
    struct MarksProbe<W: Write> {
        inner: TextReport<W>,
        most_memory: usize,
        most_on_disk: u64,
        /// The most bytes of inserts held in memory and on disk.
        most_ins: (usize, u64),
    }

    impl<W: Write> MarksProbe<W> {
        fn note(&mut self) {
            self.most_memory = self.most_memory.max(self.inner.marks.memory());
            self.most_on_disk = self.most_on_disk.max(self.inner.marks.on_disk());
            let (m, d) = self.most_ins;
            self.most_ins = (m.max(self.inner.ins.memory()), d.max(self.inner.ins.on_disk()));
        }
    }

    impl<W: Write> Report for MarksProbe<W> {
        fn begin(&mut self, first_ts_ns: i64) {
            self.inner.begin(first_ts_ns);
        }
        fn opened(&mut self, conn: &Connection) {
            self.inner.opened(conn);
        }
        fn events(&mut self, conn: &Connection, from: usize) {
            self.inner.events(conn, from);
            self.note();
        }
        fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
            self.inner.settled(conn, txns);
        }
        fn connection(&mut self, conn: &Connection, links: Links<'_>) {
            self.note();
            self.inner.connection(conn, links);
            self.note();
        }
        fn finish(&mut self, summary: &Summary, links: Links<'_>) {
            self.inner.finish(summary, links);
        }
        fn failure(&mut self, f: &crate::analysis::Failure) {
            self.inner.failure(f);
        }
        fn retired(&mut self, index: usize, link: &crate::analysis::Link) {
            self.inner.retired(index, link);
        }
    }

    #[test]
    fn a_long_session_keeps_its_marks_within_the_budget() {
        let cap = crate::testkit::sample::long_session_pcap();
        let opts = Options { stream_events: true, ..Default::default() };
        let transcript = |budget: usize| {
            let mut out = Vec::new();
            let inner = TextReport::new(&mut out, TextOptions::default(), "t").with_memory_budget(budget);
            let mut probe = MarksProbe { inner, most_memory: 0, most_on_disk: 0, most_ins: (0, 0) };
            run(&cap, opts.clone(), &mut probe);
            assert!(probe.inner.error.is_none());
            let (memory, on_disk) = (probe.most_memory, probe.most_on_disk);
            (String::from_utf8(out).expect("utf-8"), memory, on_disk)
        };
        let (roomy, _, roomy_disk) = transcript(64 << 20);
        let (tight, memory, on_disk) = transcript(256);
        // 6,005 marks of 22 bytes: past the 32 KiB a tight budget leaves them, they go to disk.
        assert_eq!(roomy_disk, 0);
        assert!(on_disk >= 100_000, "{on_disk} bytes of marks on disk");
        assert!(memory <= 64 << 10, "{memory} bytes of marks in memory");
        assert_eq!(tight, roomy);
        // The INF's mark (the third event's, spilled first) was read back from disk.
        let inf = tight.lines().find(|l| l.contains("INF 2")).expect("the INF");
        assert!(inf.contains("(no answer)"), "{inf}");
        assert!(tight.contains("MSNP-T006"));
    }

    /// A connection that ends with 3,000 requests unanswered while an earlier one is still
    /// open (so its text waits, inserts and all): under a tight budget the inserts wait on
    /// disk, and the transcript is the same.
    #[test]
    fn a_waiting_connection_keeps_its_inserts_within_the_budget() {
        use crate::testkit::synth::{self, Encap, Script};
        use std::net::SocketAddr;
        let mut s = Script::new(1_000_000_000, 5);
        let server = SocketAddr::from(([10, 0, 0, 2], 1863));
        let first = s.connect(SocketAddr::from(([10, 0, 0, 1], 40001)), server);
        s.send(first, true, b"VER 1 MSNP2 CVR0\r\n");
        let second = s.connect(SocketAddr::from(([10, 0, 0, 3], 40002)), server);
        s.send(second, true, b"VER 1 MSNP2 CVR0\r\n");
        s.send(second, false, b"VER 1 MSNP2\r\n");
        let asks: String = (2..3_002).map(|t| format!("CHG {t} NLN\r\n")).collect();
        s.send(second, true, asks.as_bytes());
        s.close(second, true);
        s.send(first, false, b"VER 1 MSNP2\r\n");
        s.close(first, true);
        let cap = synth::pcap(&s.segs, Encap::Ethernet, None);
        let opts = Options { stream_events: true, ..Default::default() };
        let transcript = |budget: usize| {
            let mut out = Vec::new();
            let most_ins = {
                let inner = TextReport::new(&mut out, TextOptions::default(), "t").with_memory_budget(budget);
                let mut probe = MarksProbe { inner, most_memory: 0, most_on_disk: 0, most_ins: (0, 0) };
                run(&cap, opts.clone(), &mut probe);
                assert!(probe.inner.error.is_none());
                let ins = &probe.inner.ins;
                assert!(ins.is_empty(1) && ins.is_empty(2) && ins.on_disk() == 0, "inserts left behind");
                probe.most_ins
            };
            (String::from_utf8(out).expect("utf-8"), most_ins)
        };
        let (roomy, (roomy_memory, roomy_disk)) = transcript(64 << 20);
        let (tight, (memory, on_disk)) = transcript(256);
        // About 190 bytes of inserts for each of 3,000 requests.
        assert!(roomy_memory >= 500_000 && roomy_disk == 0, "{roomy_memory} {roomy_disk}");
        assert!(on_disk >= 500_000, "{on_disk} bytes of inserts on disk");
        assert!(memory <= 160 << 10, "{memory} bytes of inserts in memory");
        assert_eq!(tight, roomy);
        assert_eq!(tight.matches("MSNP-T006").count(), 3_000);
        assert_eq!(tight.matches("(no answer)").count(), 3_000);
    }

    /// Inserts that came out of order are sorted as a whole, stably, and read back block by
    /// block from disk.
    #[test]
    fn inserts_out_of_order_are_sorted_stably() {
        let mut t = TextReport::new(Vec::new(), TextOptions::default(), "t").with_memory_budget(256);
        let mut log = InsertLog::default();
        // Offsets falling and rising, twenty inserts at each.
        let pushed: Vec<(u64, Vec<u8>)> =
            (0..20_000u64).map(|i| ((i * 7_919) % 1_000, format!("{i};").into_bytes())).collect();
        for (at, b) in &pushed {
            log.push(*at, b.clone());
            log.flush_if_full(&mut t.ins, 9);
        }
        log.flush(&mut t.ins, 9);
        assert!(log.unsorted);
        t.sort_inserts(9);
        assert!(t.ins.on_disk() > 0);
        let mut error = None;
        let back: Vec<(u64, Vec<u8>)> = Inserts::new(&t.ins, 9, &mut error).collect();
        assert!(error.is_none());
        let mut expected = pushed;
        expected.sort_by_key(|(at, _)| *at);
        assert_eq!(back, expected);
    }
}
