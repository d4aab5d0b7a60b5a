//! How the transcript writes things: an event's line and its annotations, a connection's
//! header, summary line and closing line, violations, and the overall summary tables.

use super::{styles, Style};
use crate::analysis::{Links, Summary};
use crate::flow::Dir;
use crate::output::sanitize;
use crate::rules::Severity;
use crate::session::{Connection, Event, EventKind, Outcome, Transaction};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The colour reset that ends every painted span (what anstyle's `render_reset` writes).
pub(super) const RESET: &str = "\x1b[0m";

pub(super) fn dir_arrow(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "C→S",
        Dir::S2C => "S→C",
    }
}

/// The line that closes a connection's events.
pub(super) fn ended_line(c: &Connection, st: Style) -> String {
    let how = c.close.map_or("open", |h| h.as_str());
    let events = c.base + c.events.len();
    let txns = c.outcome_counts().total();
    format!("          {}\n", st.paint(styles::DIM, &format!("ended: {how}, {events} events, {txns} transactions")))
}

/// A violation as a transcript line.
pub(super) fn violation_line(v: &crate::rules::Violation, st: Style, tag: &str) -> String {
    let (mark, color) = match v.severity {
        Severity::Error => ("✖", styles::ERROR),
        Severity::Warning => ("⚠", styles::WARNING),
        Severity::Info => ("ℹ", styles::INFO),
    };
    let text = format!("{mark} {} {}: {} [{}]", v.rule, v.severity, sanitize(&v.message), v.cite());
    format!("{tag}          {}\n", st.paint(color, &text))
}

/// The header line of a connection.
pub(super) fn header(c: &Connection, links: Links<'_>) -> String {
    let mut head = format!("── #{} {} {} → {}", c.id, c.role.as_str(), c.client, c.server);
    if let Some(v) = c.vlan {
        let _ = write!(head, " vlan {v}");
    }
    if let Some(u) = &c.user {
        let _ = write!(head, " · {}", sanitize(u));
    }
    // The dialect, and how it was decided unless VER named it and the client had offered it.
    use crate::session::DialectSource;
    match (&c.dialect, c.dialect_source) {
        (Some(d), Some(DialectSource::Negotiated)) if c.dialects().exact().is_some() => {
            let _ = write!(head, " · {}", sanitize(d));
        }
        (Some(d), Some(DialectSource::Inherited)) => {
            let _ = write!(head, " · {} (inherited)", sanitize(d));
        }
        (Some(d), Some(source)) => {
            let why = c.dialect_reason().map(|r| format!(": {r}")).unwrap_or_default();
            let _ = write!(head, " · {} ({}{})", sanitize(d), source.as_str(), sanitize(&why));
        }
        (Some(d), None) => {
            let _ = write!(head, " · {}", sanitize(d));
        }
        (None, _) => head.push_str(" · dialect unknown"),
    }
    if let Some(li) = c.linked_from.and_then(|i| links.get(i)) {
        let _ = write!(head, " · from #{} ({})", li.from.connection, li.kind.as_str());
    }
    if !c.start_seen {
        head.push_str(" · start not captured");
    }
    head
}

/// Spaces to pad a line to the annotations' column.
pub(super) const PAD: &str = "                                                                ";

/// One event (and its violations) as transcript lines, appended to `out`; `tag` goes before
/// the time. `tx` is the event's transaction; `no_answer` marks a request that was never
/// answered. Returns where the first line ends (from the start of what was appended), its
/// visible width before annotations, and whether it has annotations.
#[allow(clippy::too_many_arguments)]
pub(super) fn render_into(
    out: &mut String,
    e: &Event,
    tx: Option<&Transaction>,
    no_answer: bool,
    links: Links<'_>,
    base: i64,
    st: Style,
    tag: &str,
) -> (usize, usize, bool) {
    let start = out.len();
    let arrow = dir_arrow(e.dir);
    out.push_str(tag);
    crate::output::numfmt::push_secs3(out, e.ts.wrapping_sub(base), 9);
    out.push(' ');
    // The width the line shows before its annotations, counted from its parts: the time,
    // the arrow and the line (or note), whatever colours and notes the line itself has.
    let shown = sanitize(e.line.as_deref().unwrap_or(e.note.as_deref().unwrap_or("")));
    let width = out[start..].chars().count() + arrow.chars().count() + 1 + shown.chars().count();
    match e.kind {
        EventKind::Command | EventKind::Error => {
            let color = if e.kind == EventKind::Error {
                styles::ERROR_LINE
            } else if e.dir == Dir::C2S {
                styles::CLIENT
            } else {
                styles::SERVER
            };
            st.paint_into(out, color, arrow);
            out.push(' ');
            if e.line.is_some() {
                st.paint_into(out, color, &shown);
            } else {
                st.paint_into(out, color, "");
            }
        }
        EventKind::Malformed => {
            st.paint_into(out, styles::ODD, arrow);
            out.push(' ');
            st.open(out, styles::ODD);
            out.push_str(&sanitize(e.line.as_deref().unwrap_or("")));
            if let Some(n) = &e.note {
                let _ = write!(out, "  ({n})");
            }
            st.close(out, styles::ODD);
        }
        EventKind::Gap | EventKind::Tcp | EventKind::Fin => {
            out.push_str("    ");
            st.paint_into(out, styles::DIM, e.note.as_deref().unwrap_or(""));
        }
    }
    // The annotations are written in place; the padding and colour before them go in after.
    let ann_at = out.len();
    if let Some(name) = e.error_name {
        out.push(' ');
        out.push_str(name);
    }
    for (k, v) in &e.fields {
        let raw_differs = e.args.iter().all(|a| a != v);
        if k.ends_with("name") && raw_differs {
            let _ = write!(out, " {k}=\"{}\"", sanitize(v));
        }
    }
    if let Some(p) = &e.payload {
        out.push(' ');
        payload_note_into(out, e, p);
    }
    if let Some(tx) = tx {
        if tx.request != e.index {
            out.push_str("  ↩ ");
            out.push_str(&tx.command);
            if let Some(id) = tx.trid {
                out.push(' ');
                out.push_str(itoa::Buffer::new().format(id));
            }
            if let Some(l) = tx.latency_ms {
                out.push_str(", ");
                crate::output::numfmt::push_ms0(out, l);
                out.push_str(" ms");
            }
        } else if no_answer && tag.is_empty() {
            out.push_str("  (no answer)");
        }
    }
    if let Some(li) = e.link.and_then(|i| links.get(i)) {
        match li.to {
            Some(to) => {
                let _ = write!(out, "  ⇒ #{}", to.connection);
                if let Some(r) = &li.rewritten_to {
                    let _ = write!(out, " (client told {})", sanitize(r));
                }
            }
            None => {
                let _ = write!(out, "  ⇒ {}", sanitize(&li.address));
            }
        }
    }
    let has_ann = out.len() > ann_at;
    if has_ann {
        let pad = &PAD[..64usize.saturating_sub(width)];
        if st.on {
            out.insert_str(ann_at, &format!("{pad}{}", styles::DIM.render()));
            st.close(out, styles::DIM);
        } else {
            out.insert_str(ann_at, pad);
        }
    }
    let line_end = out.len() - start;
    out.push('\n');
    for v in &e.violations {
        out.push_str(&violation_line(v, st, tag));
    }
    (line_end, width, has_ann)
}

/// A payload in a few words: its type (or shape) in brackets and its first line, or the
/// headers that say something when it has no body; terminal-safe.
pub(crate) fn payload_note(e: &Event, p: &crate::session::PayloadInfo) -> String {
    let mut s = String::new();
    payload_note_into(&mut s, e, p);
    s
}

/// [`payload_note`], appended to `out`.
pub(super) fn payload_note_into(out: &mut String, e: &Event, p: &crate::session::PayloadInfo) {
    let ct = p.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("Content-Type")).map(|(_, v)| v.as_str()).unwrap_or(
        match () {
            // Only MIME payloads (MSG) should name their type; the others say their shape.
            _ if e.command.as_ref().is_some_and(|c| *c == "MSG") => "no content type",
            _ if p.length == 0 => "empty",
            _ if p.body == crate::session::REDACTED => "secret",
            _ if p.body.trim_start().starts_with('<') => "XML",
            _ => "data",
        },
    );
    out.push('[');
    out.push_str(&sanitize(ct));
    out.push_str("] ");
    /// At most the first 60 characters of `s`.
    fn first_60(s: &str) -> &str {
        s.char_indices().nth(60).map_or(s, |(i, _)| &s[..i])
    }
    match p.body.lines().find(|l| !l.trim().is_empty()) {
        Some(line) => out.push_str(&sanitize(first_60(line))),
        None => {
            // No body: show the headers that say something (a profile's LoginTime, say).
            let headers = p
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("MIME-Version") && !k.eq_ignore_ascii_case("Content-Type"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&sanitize(first_60(&headers)));
        }
    }
    if !p.complete {
        out.push_str(" (incomplete)");
    }
}

/// One line describing a finished connection (`--summary`).
pub(super) fn connection_line(c: &Connection, st: Style) -> String {
    let counts = c.outcome_counts();
    // Counted as events were emitted (late violations added here), so dropped events count too.
    let commands = c.counts.commands;
    let (mut errors, mut warnings) = (c.counts.violations.errors, c.counts.violations.warnings);
    for (_, v) in &c.late {
        match v.severity {
            Severity::Error => errors += 1,
            Severity::Warning => warnings += 1,
            Severity::Info => {}
        }
    }
    // One string written in place, without the formatter (a line per connection, thousands per
    // capture: its socket addresses and numbers were 6,000 instructions a line).
    use crate::output::numfmt::push_addr;
    let mut s = String::with_capacity(192);
    let mut num = itoa::Buffer::new();
    if st.on {
        let _ = write!(s, "{}", styles::BOLD.render());
    }
    s.push('#');
    s.push_str(num.format(c.id));
    s.push(' ');
    s.push_str(c.role.as_str());
    s.push(' ');
    push_addr(&mut s, &c.client);
    s.push_str(" → ");
    push_addr(&mut s, &c.server);
    s.push_str(" · ");
    s.push_str(&sanitize(c.user.as_deref().unwrap_or("user unknown")));
    s.push_str(" · ");
    s.push_str(&sanitize(c.dialect.as_deref().unwrap_or("dialect unknown")));
    if st.on {
        s.push_str(RESET);
    }
    s.push_str(": ");
    s.push_str(num.format(commands));
    s.push_str(" commands, ");
    s.push_str(num.format(counts.total()));
    s.push_str(" transactions (");
    // Outcomes by name: error, no reply expected, ok, unanswered.
    let mut any = false;
    for o in [Outcome::Error, Outcome::NoReplyExpected, Outcome::Ok, Outcome::Unanswered] {
        let n = counts.get(o);
        if n > 0 {
            let name = if o == Outcome::NoReplyExpected { "no reply expected" } else { o.as_str() };
            if any {
                s.push_str(", ");
            }
            s.push_str(num.format(n));
            s.push(' ');
            s.push_str(name);
            any = true;
        }
    }
    if !any {
        s.push_str("none");
    }
    s.push_str("), ");
    s.push_str(num.format(errors));
    s.push_str(" errors, ");
    s.push_str(num.format(warnings));
    s.push_str(" warnings, ended ");
    s.push_str(c.close.map_or("open", |k| k.as_str()));
    s.push('\n');
    s
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
