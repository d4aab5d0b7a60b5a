//! The coloured, annotated transcript. Connections are printed whole, in id order, as soon as
//! they and every connection before them have ended (at most [`MAX_HELD`] are held back; past
//! that they print in the order they end). Colour marks direction, errors and violations.

use super::sanitize;
use crate::analyzer::{Links, Report, Summary};
use crate::reassembly::Dir;
use crate::rules::Severity;
use crate::session::{Connection, EventKind, Outcome};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

/// Finished connections held back to keep id order.
pub const MAX_HELD: usize = 1024;

/// ANSI styles; empty strings when colour is off.
#[derive(Clone, Copy)]
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
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

/// Prints the transcript to a writer.
pub struct TextReport<W: Write> {
    out: W,
    opts: TextOptions,
    held: BTreeMap<u64, String>,
    next_id: u64,
    base_ns: Option<i64>,
    label: String,
    /// The first write error (a closed pipe ends output quietly).
    pub error: Option<std::io::Error>,
}

impl<W: Write> TextReport<W> {
    /// A transcript of the input named `label`.
    pub fn new(out: W, opts: TextOptions, label: &str) -> Self {
        TextReport {
            out,
            opts,
            held: BTreeMap::new(),
            next_id: 1,
            base_ns: None,
            label: label.to_string(),
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

    fn release(&mut self, all: bool) {
        while let Some((&id, _)) = self.held.iter().next() {
            if !all && id != self.next_id && self.held.len() <= MAX_HELD {
                break;
            }
            if let Some(s) = self.held.remove(&id) {
                self.write(&s);
            }
            self.next_id = self.next_id.max(id + 1);
        }
    }
}

fn dir_arrow(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "C→S",
        Dir::S2C => "S→C",
    }
}

/// Renders one connection as transcript text.
fn render(c: &Connection, links: Links<'_>, base: i64, st: Style, filter: &super::filter::Filter) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", st.paint("1", &header(c, links)));
    for e in c.events.iter().filter(|e| filter.event(e)) {
        s.push_str(&render_event(c, e, links, base, st, ""));
    }
    let how = c.close.map_or("open", |h| h.as_str());
    let _ = writeln!(
        s,
        "          {}",
        st.paint("2", &format!("ended: {how}, {} events, {} transactions", c.events.len(), c.transactions.len()))
    );
    s
}

/// The header line of a connection.
fn header(c: &Connection, links: Links<'_>) -> String {
    let mut head = format!("── #{} {} {} → {}", c.id, c.role.as_str(), c.client, c.server);
    if let Some(v) = c.vlan {
        let _ = write!(head, " vlan {v}");
    }
    if let Some(u) = &c.user {
        let _ = write!(head, " · {}", sanitize(u));
    }
    match (&c.dialect, c.dialect_source) {
        (Some(d), Some(crate::session::DialectSource::Fingerprint)) => {
            let _ = write!(head, " · {} (recognised by later-dialect commands; MSNP2-only rules off)", sanitize(d));
        }
        (Some(d), _) => {
            let _ = write!(head, " · {}", sanitize(d));
        }
        (None, _) => head.push_str(" · dialect unknown"),
    }
    if let Some(li) = c.linked_from.and_then(|i| links.get(i)) {
        let _ = write!(head, " · from #{} ({})", li.from.connection, li.kind);
    }
    if !c.start_seen {
        head.push_str(" · start not captured");
    }
    head
}

/// One event (and its violations) as transcript lines; `tag` goes before the time.
fn render_event(
    c: &Connection,
    e: &crate::session::Event,
    links: Links<'_>,
    base: i64,
    st: Style,
    tag: &str,
) -> String {
    let mut s = String::new();
    {
        let t = (e.ts - base) as f64 / 1e9;
        let arrow = dir_arrow(e.dir);
        let (arrow_c, body) = match e.kind {
            EventKind::Command | EventKind::Error => {
                let color = if e.kind == EventKind::Error {
                    "31"
                } else if e.dir == Dir::C2S {
                    "36"
                } else {
                    "32"
                };
                (st.paint(color, arrow), st.paint(color, &sanitize(e.line.as_deref().unwrap_or(""))))
            }
            EventKind::Malformed => {
                let line = e.line.as_deref().unwrap_or("");
                let mut b = sanitize(line).into_owned();
                if let Some(n) = &e.note {
                    let _ = write!(b, "  ({n})");
                }
                (st.paint("35", arrow), st.paint("35", &b))
            }
            EventKind::Gap | EventKind::Tcp | EventKind::Fin => {
                let n = e.note.as_deref().unwrap_or("");
                ("   ".to_string(), st.paint("2", n))
            }
        };
        let mut line = format!("{tag}{t:>9.3} {arrow_c} {body}");
        let visible =
            format!("{tag}{t:>9.3} {arrow} {}", sanitize(e.line.as_deref().unwrap_or(e.note.as_deref().unwrap_or(""))));
        let mut ann = String::new();
        if let Some(name) = e.error_name {
            let _ = write!(ann, " {name}");
        }
        for (k, v) in &e.fields {
            let raw_differs = e.args.iter().all(|a| a != v);
            if k.ends_with("name") && raw_differs {
                let _ = write!(ann, " {k}=\"{}\"", sanitize(v));
            }
        }
        if let Some(p) = &e.payload {
            let ct = p
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Content-Type"))
                .map(|(_, v)| v.as_str())
                .unwrap_or("no content type");
            let first = p.body.lines().find(|l| !l.trim().is_empty()).map(str::to_string).unwrap_or_else(|| {
                // No body: show the headers that say something (a profile's LoginTime, say).
                p.headers
                    .iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("MIME-Version") && !k.eq_ignore_ascii_case("Content-Type"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let first: String = first.chars().take(60).collect();
            let _ = write!(ann, " [{}] {}", sanitize(ct), sanitize(&first));
            if !p.complete {
                ann.push_str(" (incomplete)");
            }
        }
        if let Some(ti) = e.transaction {
            if let Some(tx) = c.txn(ti) {
                if tx.request != e.index {
                    let lat = tx.latency_ms.map(|l| format!(", {l:.0} ms")).unwrap_or_default();
                    let label = tx.trid.map_or(tx.command.to_string(), |id| format!("{} {id}", tx.command));
                    let _ = write!(ann, "  ↩ {label}{lat}");
                } else if tx.outcome == Outcome::Unanswered && tag.is_empty() {
                    ann.push_str("  (no answer)");
                }
            }
        }
        if let Some(li) = e.link.and_then(|i| links.get(i)) {
            match li.to {
                Some(to) => {
                    let _ = write!(ann, "  ⇒ #{}", to.connection);
                    if let Some(r) = &li.rewritten_to {
                        let _ = write!(ann, " (client told {})", sanitize(r));
                    }
                }
                None => {
                    let _ = write!(ann, "  ⇒ {}", sanitize(&li.address));
                }
            }
        }
        if !ann.is_empty() {
            let width = visible.chars().count();
            if width < 64 {
                line.push_str(&" ".repeat(64 - width));
            }
            line.push_str(&st.paint("2", &ann));
        }
        let _ = writeln!(s, "{line}");
        for v in &e.violations {
            let (mark, color) = match v.severity {
                Severity::Error => ("✖", "31;1"),
                Severity::Warning => ("⚠", "33"),
                Severity::Info => ("ℹ", "34"),
            };
            let text = format!("{mark} {} {}: {} [{}]", v.rule, v.severity, sanitize(&v.message), v.cite());
            let _ = writeln!(s, "{tag}          {}", st.paint(color, &text));
        }
    }
    s
}

/// One line describing a finished connection (`--summary`).
fn connection_line(c: &Connection, st: Style) -> String {
    // Settled early (streaming modes) plus those still held.
    let mut counts = c.settled_outcomes;
    for t in &c.transactions {
        counts[t.outcome.index()] += 1;
    }
    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    for (o, n) in Outcome::ALL.iter().zip(counts) {
        if n > 0 {
            outcomes.insert(["ok", "error", "unanswered", "no reply expected"][o.index()], n);
        }
    }
    // Counted as events were emitted (late violations added here), so dropped events count too.
    let commands = c.counts[0];
    let (mut errors, mut warnings) = (c.counts[3], c.counts[2]);
    for (_, v) in &c.late {
        match v.severity {
            Severity::Error => errors += 1,
            Severity::Warning => warnings += 1,
            Severity::Info => {}
        }
    }
    let outcomes: Vec<String> = outcomes.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let head = format!(
        "#{} {} {} → {} · {} · {}",
        c.id,
        c.role.as_str(),
        c.client,
        c.server,
        sanitize(c.user.as_deref().unwrap_or("user unknown")),
        sanitize(c.dialect.as_deref().unwrap_or("dialect unknown"))
    );
    format!(
        "{}: {commands} commands, {} transactions ({}), {errors} errors, {warnings} warnings, ended {}\n",
        st.paint("1", &head),
        c.transactions.len() + c.settled_outcomes.iter().sum::<u64>() as usize,
        if outcomes.is_empty() { "none".to_string() } else { outcomes.join(", ") },
        c.close.map_or("open", |k| k.as_str())
    )
}

/// The overall counts of `--summary`.
pub fn summary_tables(s: &Summary) -> String {
    let mut out = String::new();
    let list = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let _ = writeln!(out, "\nconnections by role: {}", list(&s.roles));
    let _ = writeln!(out, "commands by verb: {}", list(&s.by_command));
    let _ = writeln!(out, "transactions by outcome: {}", list(&s.transactions));
    if let (Some(p50), Some(p90), Some(p99)) =
        (s.latency.percentile(50.0), s.latency.percentile(90.0), s.latency.percentile(99.0))
    {
        let _ = writeln!(
            out,
            "response latency: p50 {p50:.3} ms, p90 {p90:.3} ms, p99 {p99:.3} ms over {} transactions",
            s.latency.count()
        );
    }
    if s.by_rule.is_empty() {
        let _ = writeln!(out, "violations: none");
    } else {
        let _ = writeln!(out, "violations by rule:");
        for (rule, n) in &s.by_rule {
            let r = crate::rules::lookup(rule);
            let _ = writeln!(
                out,
                "  {rule:<10} {:<8} {n:>6}  {}",
                r.map_or(String::new(), |r| r.severity.to_string()),
                r.map_or("", |r| r.summary)
            );
        }
    }
    let t = &s.tcp;
    let _ = writeln!(
        out,
        "tcp: {} segments, {} retransmitted, {} out of order, {} gaps ({} bytes); ip fragments: {} ({} datagrams reassembled, {} dropped)",
        t.segments, t.retransmissions, t.out_of_order, t.gaps, t.gap_bytes, s.fragments.fragments, s.fragments.reassembled, s.fragments.dropped
    );
    out
}

/// The one-line summary printed last.
pub fn summary_line(label: &str, s: &Summary) -> String {
    let errors = s.by_severity.get("error").copied().unwrap_or(0);
    let warnings = s.by_severity.get("warning").copied().unwrap_or(0);
    let infos = s.by_severity.get("info").copied().unwrap_or(0);
    let txns: u64 = s.transactions.values().sum();
    let packets = if s.packets > 0 { format!("{} packets, ", s.packets) } else { String::new() };
    let failed =
        if s.failures_total > 0 { format!(", {} failed connections", s.failures_total) } else { String::new() };
    format!(
        "{label}: {packets}{} connections, {} users, {} commands, {txns} transactions, {errors} errors, {warnings} warnings, {infos} notes{failed}",
        s.connections, s.users, s.commands
    )
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
            self.write(&format!("{}\n", st.paint("1", &line)));
        }
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        if !self.opts.live
            || self.opts.summary_only
            || (!self.opts.filter.conns.is_empty() && !self.opts.filter.conns.contains(&conn.id))
        {
            return;
        }
        let base = *self.base_ns.get_or_insert(conn.opened);
        let st = Style { on: self.opts.color };
        let role = if conn.role == crate::session::Role::Unknown { "?" } else { conn.role.as_str() };
        let tag = format!("#{:<3} {:<2} ", conn.id, role);
        let mut s = String::new();
        for e in conn.events[from..].iter().filter(|e| self.opts.filter.event(e)) {
            // Links are not passed while streaming; referral targets show in the end line.
            s.push_str(&render_event(conn, e, Links::EMPTY, base, st, &tag));
        }
        self.write(&s);
        if self.error.is_none() {
            let _ = self.out.flush();
        }
    }

    fn failure(&mut self, f: &crate::analyzer::Failure) {
        let st = Style { on: self.opts.color };
        let text = format!("!! {} → {}: {}", f.client, sanitize(&f.target), sanitize(&f.reason));
        self.write(&format!("{}\n", st.paint("31;1", &text)));
        if self.error.is_none() {
            let _ = self.out.flush();
        }
    }

    fn connection(&mut self, conn: &Connection, links: Links<'_>) {
        if self.opts.live {
            if self.opts.filter.connection(conn) && !self.opts.summary_only {
                let st = Style { on: self.opts.color };
                let how = conn.close.map_or("open", |k| k.as_str());
                let mut s = format!("{}\n", st.paint("1", &format!("{} · ended {how}", header(conn, links))));
                for (i, v) in &conn.late {
                    let text = format!(
                        "#{} event {i}: {} {}: {} [{}]",
                        conn.id,
                        v.rule,
                        v.severity,
                        sanitize(&v.message),
                        v.cite()
                    );
                    s.push_str(&format!("          {}\n", st.paint("33", &text)));
                }
                for l in links.iter().filter(|l| l.from.connection == conn.id) {
                    let to = l.to.map_or("(no connection yet)".to_string(), |t| format!("#{}", t.connection));
                    let via = l
                        .rewritten_to
                        .as_deref()
                        .map(|r| format!(" (client told {})", sanitize(r)))
                        .unwrap_or_default();
                    s.push_str(&format!("          {} {} ⇒ {to}{via}\n", l.kind, sanitize(&l.address)));
                }
                self.write(&s);
                if self.error.is_none() {
                    let _ = self.out.flush();
                }
            }
            return;
        }
        let base = *self.base_ns.get_or_insert(conn.opened);
        let st = Style { on: self.opts.color };
        // A connection not shown still takes its place in the id order.
        let text = if !self.opts.filter.connection(conn) {
            String::new()
        } else if self.opts.summary_only {
            connection_line(conn, st)
        } else {
            render(conn, links, base, st, &self.opts.filter)
        };
        self.held.insert(conn.id, text);
        self.release(false);
    }

    fn finish(&mut self, summary: &Summary, _links: Links<'_>) {
        self.release(true);
        let st = Style { on: self.opts.color };
        let mut s = String::new();
        if self.opts.summary_only {
            s.push_str(&summary_tables(summary));
        }
        let _ = writeln!(s, "{}", st.paint("1", &summary_line(&self.label, summary)));
        if let Some(e) = &summary.input_error {
            let _ = writeln!(s, "{}", st.paint("31;1", &format!("input error: {e}")));
        }
        self.write(&s);
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }
}
