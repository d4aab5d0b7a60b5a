//! The ladder (`msntap ladder`, `proxy --ladder`): the conversation as a picture, a column per
//! endpoint (each user's client, each dispatch, notification and switchboard server) and an
//! arrow per line between them, in time order across connections, as sngrep draws SIP calls.
//! Answers carry their latency, referrals the connection they led to, violations their rule
//! ids on the arrow. Rendered as text that fits a width, or as a Mermaid `sequenceDiagram` for
//! issue trackers. Arrows are kept (compactly) until the input ends, at most `max_arrows` of
//! them; what is left out beyond is counted and said.

use super::filter::Filter;
use super::sanitize;
use super::text::{payload_note, styles, summary_line, Style};
use crate::analysis::{Failure, Link, Links, Report, Summary};
use crate::fasthash::FastMap;
use crate::flow::Dir;
use crate::msnp::Role;
use crate::rules::Severity;
use crate::session::{Connection, Event, EventKind, Outcome, Transaction};
use crate::shortstr::ShortStr;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use unicode_width::UnicodeWidthStr;

/// How the ladder is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LadderFormat {
    /// Box-drawing text that fits a width.
    #[default]
    Text,
    /// A Mermaid `sequenceDiagram`.
    Mermaid,
}

/// Options of the ladder.
#[derive(Debug, Clone)]
pub struct LadderOptions {
    /// Text or Mermaid.
    pub format: LadderFormat,
    /// Columns of text the ladder fits in (text format).
    pub width: usize,
    /// Use ANSI colours (text format).
    pub color: bool,
    /// Which connections and events to draw.
    pub filter: Filter,
    /// The most arrows kept; later ones are counted and left out.
    pub max_arrows: usize,
}

impl Default for LadderOptions {
    fn default() -> Self {
        LadderOptions {
            format: LadderFormat::Text,
            width: 100,
            color: false,
            filter: Filter::default(),
            max_arrows: DEFAULT_MAX_ARROWS,
        }
    }
}

/// Arrows kept by default.
pub const DEFAULT_MAX_ARROWS: usize = 5000;

/// Failed proxied connections listed at most.
const MAX_FAILURES: usize = 1000;

/// Narrowest column drawn; below it the ladder grows past the width.
const MIN_COLUMN: usize = 6;

/// The time column: `%9.3f` and a space.
const MARGIN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A command line: a solid arrow.
    Command,
    /// An error reply: a solid arrow, painted as an error.
    Error,
    /// A line that did not parse.
    Malformed,
    /// A gap, a FIN or a reset: a dotted line without a head.
    Note,
}

/// One line between a client and a server.
#[derive(Debug, Clone)]
pub(crate) struct Arrow {
    pub(crate) ts: i64,
    pub(crate) conn: u64,
    pub(crate) index: usize,
    pub(crate) dir: Dir,
    shape: Shape,
    command: Option<ShortStr>,
    /// The line (or note) and its payload's summary, terminal-safe.
    pub(crate) text: String,
    /// What follows the text and is never cut: latency, no answer, the referral's target.
    pub(crate) suffix: String,
    pub(crate) rules: Vec<(&'static str, Severity)>,
    link: Option<usize>,
}

impl Arrow {
    /// Whether it is a note (a gap, FIN or reset) rather than a line.
    pub(crate) fn is_note(&self) -> bool {
        self.shape == Shape::Note
    }

    /// Its class for painting: `client`, `server`, `error`, `odd`, `note`, or `violation`.
    pub(crate) fn class(&self) -> &'static str {
        match (self.shape, self.dir) {
            _ if !self.rules.is_empty() => "violation",
            (Shape::Error, _) => "error",
            (Shape::Malformed, _) => "odd",
            (Shape::Note, _) => "note",
            (_, Dir::C2S) => "client",
            (_, Dir::S2C) => "server",
        }
    }
}

/// What the columns need of a connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    client: SocketAddr,
    server: SocketAddr,
    role: Role,
    /// The user of its client side.
    pub(crate) user: Option<String>,
}

/// A column: who it stands for, and the connections drawn on it.
#[derive(Debug)]
pub(crate) struct Column {
    /// Its name (a user, a client address, or a server's role and address), terminal-safe.
    pub(crate) name: String,
    /// The connections drawn on it.
    pub(crate) conns: Vec<u64>,
}

/// The arrows of an input, collected as the analysis reports them: those of open connections
/// in event order, then (once a connection ends and its late violations, unanswered requests
/// and filter are known) those drawn. At most `max` are held; the rest are counted.
pub(crate) struct Arrows {
    filter: Filter,
    max: usize,
    open: FastMap<u64, Vec<Arrow>>,
    done: Vec<Arrow>,
    held: usize,
    /// Lines not kept (beyond `max`).
    pub(crate) left_out: u64,
    /// What the columns need of each connection drawn.
    pub(crate) conns: BTreeMap<u64, ConnInfo>,
    /// Link index → the connection it led to, for the links of arrows kept.
    link_to: FastMap<usize, u64>,
    /// Links of arrows kept.
    wanted: crate::fasthash::FastSet<usize>,
    /// Failed proxied connections, as lines (at most [`MAX_FAILURES`]).
    pub(crate) failures: Vec<String>,
    /// Failed proxied connections not kept.
    pub(crate) failures_left: u64,
    /// The time of the first packet.
    pub(crate) base: Option<i64>,
}

impl Arrows {
    /// Collects what `filter` lets through, at most `max` arrows.
    pub(crate) fn new(filter: Filter, max: usize) -> Self {
        Arrows {
            filter,
            max,
            open: FastMap::default(),
            done: Vec::new(),
            held: 0,
            left_out: 0,
            conns: BTreeMap::new(),
            link_to: FastMap::default(),
            wanted: Default::default(),
            failures: Vec::new(),
            failures_left: 0,
            base: None,
        }
    }

    fn mark_unanswered(&mut self, conn: u64, txns: &[Transaction]) {
        let Some(arrows) = self.open.get_mut(&conn) else { return };
        for t in txns.iter().filter(|t| t.outcome == Outcome::Unanswered) {
            if let Ok(k) = arrows.binary_search_by_key(&t.request, |a| a.index) {
                if !arrows[k].suffix.contains("no answer") {
                    arrows[k].suffix.push_str(" (no answer)");
                }
            }
        }
    }

    /// Learns where the wanted links that `links` still holds led.
    fn learn_links(&mut self, links: Links<'_>) {
        for &i in &self.wanted {
            if let Some(to) = links.get(i).and_then(|l| l.to) {
                self.link_to.insert(i, to.connection);
            }
        }
    }

    /// The input ended: the arrows drawn, in time order, referrals naming their targets.
    pub(crate) fn finish(&mut self, links: Links<'_>) -> Vec<Arrow> {
        self.learn_links(links);
        let mut arrows = std::mem::take(&mut self.done);
        arrows.sort_by_key(|a| (a.ts, a.conn, a.index));
        for a in arrows.iter_mut() {
            if let Some(to) = a.link.and_then(|l| self.link_to.get(&l)) {
                let _ = write!(a.suffix, " ⇒ #{to}");
            }
        }
        arrows
    }
}

impl Report for Arrows {
    fn begin(&mut self, first_ts_ns: i64) {
        self.base.get_or_insert(first_ts_ns);
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        self.base.get_or_insert(conn.opened);
        // Connection ids are known at once (roles and users only at the end): lines of
        // connections not asked for take no room.
        if !self.filter.conns.is_empty() && !self.filter.conns.contains(&conn.id) {
            return;
        }
        for e in &conn.events[from..] {
            if self.held >= self.max {
                self.left_out += 1;
                continue;
            }
            let a = arrow(conn, e);
            self.open.entry(conn.id).or_default().push(a);
            self.held += 1;
        }
    }

    fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
        self.mark_unanswered(conn.id, txns);
    }

    fn failure(&mut self, f: &Failure) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(format!("!! {} → {}: {}", f.client, sanitize(&f.target), sanitize(&f.reason)));
        } else {
            self.failures_left += 1;
        }
    }

    fn connection(&mut self, conn: &Connection, links: Links<'_>) {
        self.mark_unanswered(conn.id, &conn.transactions);
        let mut arrows = self.open.remove(&conn.id).unwrap_or_default();
        self.held -= arrows.len();
        if !self.filter.connection(conn) {
            return;
        }
        for (i, v) in &conn.late {
            if let Ok(k) = arrows.binary_search_by_key(i, |a| a.index) {
                arrows[k].rules.push((v.rule, v.severity));
            }
        }
        arrows.retain(|a| shown(&self.filter, a));
        if arrows.is_empty() {
            return;
        }
        self.held += arrows.len();
        for i in arrows.iter().filter_map(|a| a.link) {
            self.wanted.insert(i);
            if let Some(to) = links.get(i).and_then(|l| l.to) {
                self.link_to.insert(i, to.connection);
            }
        }
        self.conns.insert(
            conn.id,
            ConnInfo { client: conn.client, server: conn.server, role: conn.role, user: conn.user.clone() },
        );
        self.done.append(&mut arrows);
    }

    fn retired(&mut self, index: usize, link: &Link) {
        if let Some(to) = link.to.filter(|_| self.wanted.contains(&index)) {
            self.link_to.insert(index, to.connection);
        }
    }

    fn finish(&mut self, _summary: &Summary, _links: Links<'_>) {}
}

/// An event as an arrow.
fn arrow(conn: &Connection, e: &Event) -> Arrow {
    let shape = match e.kind {
        EventKind::Command => Shape::Command,
        EventKind::Error => Shape::Error,
        EventKind::Malformed => Shape::Malformed,
        EventKind::Gap | EventKind::Tcp | EventKind::Fin => Shape::Note,
    };
    let mut text = sanitize(e.line.as_deref().or(e.note.as_deref()).unwrap_or("")).into_owned();
    if let Some(name) = e.error_name {
        let _ = write!(text, " {name}");
    }
    if let Some(p) = &e.payload {
        let _ = write!(text, " {}", payload_note(e, p));
    }
    let tx = e.transaction.and_then(|t| conn.txn(t));
    let mut suffix = String::new();
    // The latency on the first answer only: the rest of a list came with it.
    if let Some(ms) = tx.filter(|t| t.responses.first() == Some(&e.index)).and_then(|t| t.latency_ms) {
        // Tenths below 10 ms (a loopback proxy answers in well under one).
        let _ = if ms < 10.0 { write!(suffix, " ({ms:.1} ms)") } else { write!(suffix, " ({ms:.0} ms)") };
    }
    Arrow {
        ts: e.ts,
        conn: conn.id,
        index: e.index,
        dir: e.dir,
        shape,
        command: e.command.clone(),
        text,
        suffix,
        rules: e.violations.iter().map(|v| (v.rule, v.severity)).collect(),
        link: e.link,
    }
}

/// Whether an event's filter lets an arrow through (with the violations known at the end).
fn shown(f: &Filter, a: &Arrow) -> bool {
    if !f.commands.is_empty()
        && !a.command.as_ref().is_some_and(|c| f.commands.iter().any(|w| w.eq_ignore_ascii_case(c)))
    {
        return false;
    }
    if f.only_violations && a.rules.is_empty() {
        return false;
    }
    f.min_severity.is_none_or(|min| a.rules.iter().any(|(_, s)| *s >= min))
}

/// The ladder report.
pub struct LadderReport<W: Write> {
    out: W,
    opts: LadderOptions,
    label: String,
    arrows: Arrows,
    /// The first write error.
    pub error: Option<std::io::Error>,
}

impl<W: Write> LadderReport<W> {
    /// A ladder written to `out` when the input ends; `label` names the input.
    pub fn new(out: W, opts: LadderOptions, label: &str) -> Self {
        let arrows = Arrows::new(opts.filter.clone(), opts.max_arrows);
        LadderReport { out, opts, label: label.to_string(), arrows, error: None }
    }

    fn write_out(&mut self, s: &str) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(s.as_bytes()).and_then(|_| self.out.flush()) {
                self.error = Some(e);
            }
        }
    }
}

impl<W: Write> Report for LadderReport<W> {
    fn begin(&mut self, first_ts_ns: i64) {
        self.arrows.begin(first_ts_ns);
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        self.arrows.events(conn, from);
    }

    fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
        self.arrows.settled(conn, txns);
    }

    fn failure(&mut self, f: &Failure) {
        self.arrows.failure(f);
    }

    fn connection(&mut self, conn: &Connection, links: Links<'_>) {
        self.arrows.connection(conn, links);
    }

    fn retired(&mut self, index: usize, link: &Link) {
        self.arrows.retired(index, link);
    }

    fn finish(&mut self, summary: &Summary, links: Links<'_>) {
        let arrows = self.arrows.finish(links);
        let (columns, ends) = columns(&arrows, &self.arrows.conns);
        let mut s = match self.opts.format {
            LadderFormat::Text => text(&arrows, &columns, &ends, &self.opts, self.arrows.base.unwrap_or(0)),
            LadderFormat::Mermaid => mermaid(&arrows, &columns, &ends),
        };
        let mermaid = self.opts.format == LadderFormat::Mermaid;
        let mut tail = Vec::new();
        if self.arrows.left_out > 0 {
            tail.push(format!(
                "{} more lines left out after the first {} (narrow with --user, --conn or --command, or raise --max-arrows)",
                self.arrows.left_out, self.opts.max_arrows
            ));
        }
        tail.append(&mut self.arrows.failures);
        if self.arrows.failures_left > 0 {
            tail.push(format!("!! {} more failed connections not listed", self.arrows.failures_left));
        }
        tail.push(summary_line(&self.label, summary));
        if let Some(e) = &summary.input_error {
            tail.push(format!("input error: {}", sanitize(e)));
        }
        let st = Style { on: self.opts.color && !mermaid };
        for t in tail {
            if mermaid {
                let _ = writeln!(s, "    %% {}", mermaid_text(&t));
            } else {
                let style =
                    if t.starts_with("input error") || t.starts_with("!!") { styles::ERROR } else { styles::BOLD };
                let _ = writeln!(s, "{}", st.paint(style, &t));
            }
        }
        self.write_out(&s);
    }
}

/// The columns in order of first appearance, and each connection's (client, server) column.
pub(crate) fn columns(
    arrows: &[Arrow],
    conns: &BTreeMap<u64, ConnInfo>,
) -> (Vec<Column>, FastMap<u64, (usize, usize)>) {
    let mut cols: Vec<Column> = Vec::new();
    let mut by_key: FastMap<String, usize> = FastMap::default();
    let mut ends: FastMap<u64, (usize, usize)> = FastMap::default();
    for a in arrows {
        if ends.contains_key(&a.conn) {
            continue;
        }
        let Some(c) = conns.get(&a.conn) else { continue };
        let client = match &c.user {
            Some(u) => (format!("user {}", u.to_ascii_lowercase()), sanitize(u).into_owned()),
            None => (format!("client {}", c.client.ip()), format!("client {}", c.client.ip())),
        };
        let role = if c.role == Role::Unknown { "?" } else { c.role.as_str() };
        let server = (format!("server {}", c.server), format!("{role} {}", c.server));
        let mut at = |(key, name): (String, String)| -> usize {
            let i = *by_key.entry(key).or_insert_with(|| {
                cols.push(Column { name: name.clone(), conns: Vec::new() });
                cols.len() - 1
            });
            cols[i].conns.push(a.conn);
            i
        };
        let ci = at(client);
        let si = at(server);
        ends.insert(a.conn, (ci, si));
    }
    (cols, ends)
}

/// `s` cut to `width` display columns, with `…` where it was cut.
pub(crate) fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        // Measured as a whole: a variation selector can widen the character before it.
        out.push(c);
        if out.width() + 1 > width {
            out.pop();
            break;
        }
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// The label of an arrow in `room` columns: the rule marks and the suffix kept whole where
/// they fit, the line cut first.
fn label(a: &Arrow, room: usize) -> String {
    let marks: String = a.rules.iter().map(|(r, _)| format!("✖ {r} ")).collect();
    let room_for_text = room.saturating_sub(marks.width() + a.suffix.width());
    if room_for_text >= 4 || a.text.width() <= room_for_text {
        fit(&format!("{marks}{}{}", fit(&a.text, room_for_text), a.suffix), room)
    } else {
        fit(&format!("{marks}{}{}", a.text, a.suffix), room)
    }
}

/// One row of the text ladder: the time margin (`MARGIN` columns), a lifeline at each of
/// `centres`, and right after `span`'s first centre its `fill` (exactly as wide as the room to
/// its second), painted; lifelines inside the span are covered.
fn row(
    margin: &str,
    centres: &[usize],
    span: Option<(usize, usize, &str)>,
    st: Style,
    paint: anstyle::Style,
) -> String {
    let mut s = String::with_capacity(128);
    s.push_str(margin);
    let mut p = MARGIN;
    for &c in centres {
        if span.is_some_and(|(lo, hi, _)| c > lo && c < hi) {
            continue;
        }
        s.push_str(&" ".repeat(c.saturating_sub(p)));
        s.push('│');
        p = c + 1;
        if let Some((lo, hi, fill)) = span.filter(|(lo, _, _)| *lo == c) {
            s.push_str(&st.paint(paint, fill));
            p = hi.max(lo + 1);
        }
    }
    s.truncate(s.trim_end().len());
    s.push('\n');
    s
}

fn text(
    arrows: &[Arrow],
    cols: &[Column],
    ends: &FastMap<u64, (usize, usize)>,
    opts: &LadderOptions,
    base: i64,
) -> String {
    let st = Style { on: opts.color };
    let mut s = String::new();
    if cols.is_empty() {
        s.push_str("(no MSNP lines to draw)\n");
        return s;
    }
    let all_cols = cols.len();
    // As many columns as the width holds; lines to endpoints beyond are counted.
    let n = cols.len().min((opts.width.saturating_sub(MARGIN) / MIN_COLUMN).max(2));
    let cols = &cols[..n];
    let colw = (opts.width.saturating_sub(MARGIN) / n).max(MIN_COLUMN);
    let mut beyond = 0u64;
    let centres: Vec<usize> = (0..n).map(|k| MARGIN + k * colw + colw / 2).collect();
    // Headers: each column's name and its connections, centred on the lifeline.
    for line in 0..2 {
        let mut h = " ".repeat(MARGIN);
        let mut p = MARGIN;
        for (k, c) in cols.iter().enumerate() {
            let text = if line == 0 {
                c.name.clone()
            } else {
                c.conns.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(",")
            };
            let t = fit(&text, colw - 1);
            let start = (centres[k] + 1).saturating_sub(t.width().div_ceil(2)).max(p);
            h.push_str(&" ".repeat(start - p));
            h.push_str(&t);
            p = start + t.width();
        }
        h.truncate(h.trim_end().len());
        let _ = writeln!(s, "{}", st.paint(styles::BOLD, &h));
    }
    s.push_str(&row(&" ".repeat(MARGIN), &centres, None, st, styles::DIM));
    for a in arrows {
        let Some(&(ci, si)) = ends.get(&a.conn) else { continue };
        if ci >= n || si >= n {
            beyond += 1;
            continue;
        }
        let (from, to) = if a.dir == Dir::C2S { (ci, si) } else { (si, ci) };
        let (lo, hi) = (centres[from.min(to)], centres[from.max(to)]);
        let inner = hi - lo - 1;
        let paint = match a.class() {
            "violation" => styles::ERROR,
            "error" => styles::ERROR_LINE,
            "odd" => styles::ODD,
            "note" => styles::DIM,
            "client" => styles::CLIENT,
            _ => styles::SERVER,
        };
        let l = label(a, inner.saturating_sub(1));
        let text = format!(" {l}{}", " ".repeat(inner.saturating_sub(l.width() + 1)));
        let t = (a.ts - base) as f64 / 1e9;
        // Past 99,999 s (a proxy running for days) whole seconds still fit.
        let time = if t < 99_999.0 { format!("{t:>9.3}") } else { fit(&format!("{t:>9.0}"), MARGIN - 1) };
        let margin = format!("{time:<9} ");
        s.push_str(&row(&margin, &centres, Some((lo, hi, &text)), st, paint));
        let line = match a.shape {
            Shape::Note => "┄".repeat(inner),
            _ if from < to => format!("{}>", "─".repeat(inner.saturating_sub(1))),
            _ => format!("<{}", "─".repeat(inner.saturating_sub(1))),
        };
        s.push_str(&row(&" ".repeat(MARGIN), &centres, Some((lo, hi, &line)), st, paint));
    }
    s.push_str(&row(&" ".repeat(MARGIN), &centres, None, st, styles::DIM));
    if beyond > 0 {
        let more = all_cols - n;
        let _ = writeln!(
            s,
            "{beyond} lines to {more} more endpoints are not drawn: {} columns fit in {} (narrow with --user or --conn, or widen --width)",
            n, opts.width
        );
    }
    s
}

/// Text made safe inside a Mermaid label: characters Mermaid reads (`#` and `;`, and `<`, `>`,
/// `&` and quotes, which it would take for HTML) become its `#NN;` entity codes; control
/// characters were escaped before.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // `$` is not let through: Mermaid draws `$$...$$` as a formula; `%` and `{` could
        // start a directive.
        if c.is_alphanumeric() || " .,:@_-+=/()[]*!?'€…✖⇒↩".contains(c) {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}

fn mermaid(arrows: &[Arrow], cols: &[Column], ends: &FastMap<u64, (usize, usize)>) -> String {
    let mut s = String::from("sequenceDiagram\n");
    for (k, c) in cols.iter().enumerate() {
        // Connection ids in brackets: `#` would start an entity code in an alias.
        let ids: Vec<String> = c.conns.iter().map(|i| i.to_string()).collect();
        let _ = writeln!(s, "    participant P{k} as {} [{}]", mermaid_text(&c.name), ids.join(" "));
    }
    for a in arrows {
        let Some(&(ci, si)) = ends.get(&a.conn) else { continue };
        let (from, to) = if a.dir == Dir::C2S { (ci, si) } else { (si, ci) };
        let marks: String = a.rules.iter().map(|(r, _)| format!("✖ {r} ")).collect();
        let text = mermaid_text(&format!("{marks}{}{}", fit(&a.text, 120), a.suffix));
        match a.shape {
            Shape::Note => {
                let _ = writeln!(s, "    Note over P{},P{}: {text}", from.min(to), from.max(to));
            }
            _ => {
                // The client's lines solid, the server's dashed.
                let arrow = if a.dir == Dir::C2S { "->>" } else { "-->>" };
                let _ = writeln!(s, "    P{from}{arrow}P{to}: {text}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_by_display_width() {
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語です", 5), "日本…");
        assert_eq!(fit("abc", 0), "");
        // A variation selector widens the heart before it: measured as a whole.
        let hearts = fit("❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}x", 5);
        assert!(hearts.width() <= 5, "{hearts:?}");
    }

    #[test]
    fn mermaid_text_escapes_what_mermaid_reads() {
        assert_eq!(mermaid_text("a;b#c<d>e&f\"g"), "a#59;b#35;c#60;d#62;e#38;f#34;g");
        assert_eq!(mermaid_text("VER 1 MSNP2"), "VER 1 MSNP2");
    }
}
