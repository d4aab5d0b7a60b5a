//! The HTML report (`msntap report`, `proxy --report`): one self-contained file to hand to
//! someone without msntap, with no network access at all (a content security policy forbids
//! it). An overview (roles, users, dialects, counts, violations by rule, latency per verb), a
//! ladder per user journey as SVG, and the transcript with filters and search, violations
//! linking to their events. Rendered by minijinja from `report.html`, auto-escaped: every wire
//! string reaches the page as text. Bounded on any capture: events, connections, journeys and
//! arrows are kept up to limits, and the page says what was left out.

use super::filter::Filter;
use super::json::Source;
use super::ladder::{self, Arrows};
use super::sanitize;
use super::text::payload_note;
use crate::analysis::{Failure, Latency, Link, Links, Report, Summary};
use crate::fasthash::FastMap;
use crate::flow::Dir;
use crate::msnp::Role;
use crate::rules::{Severity, Violation};
use crate::session::{Connection, Event, EventKind, Transaction};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;

/// Limits of the report.
#[derive(Debug, Clone)]
pub struct HtmlOptions {
    /// Which connections and events it shows (the overview counts everything).
    pub filter: Filter,
    /// Transcript rows kept.
    pub max_events: usize,
    /// Connection rows kept.
    pub max_connections: usize,
    /// User journeys drawn.
    pub max_journeys: usize,
    /// Arrows drawn in all journeys together.
    pub max_arrows: usize,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions {
            filter: Filter::default(),
            max_events: 20_000,
            max_connections: 5_000,
            max_journeys: 20,
            max_arrows: 4_000,
        }
    }
}

/// A transcript row.
#[derive(Debug, Serialize)]
struct EventRow {
    conn: u64,
    index: usize,
    t: String,
    dir: &'static str,
    class: &'static str,
    command: String,
    line: String,
    ann: String,
    /// The worst severity of its violations (`""` when none).
    sev: &'static str,
    violations: Vec<ViolationRow>,
}

#[derive(Debug, Serialize)]
struct ViolationRow {
    rule: &'static str,
    severity: &'static str,
    message: String,
    cite: &'static str,
}

impl ViolationRow {
    fn new(v: &Violation) -> Self {
        ViolationRow {
            rule: v.rule,
            severity: v.severity.as_str(),
            message: sanitize(&v.message).into_owned(),
            cite: v.cite(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ConnRow {
    id: u64,
    role: &'static str,
    client: String,
    server: String,
    user: String,
    dialect: String,
    commands: u64,
    errors: u64,
    warnings: u64,
    infos: u64,
    close: &'static str,
    start: String,
    seconds: String,
}

#[derive(Debug, Serialize)]
struct SvgColumn {
    x: usize,
    name: String,
}

#[derive(Debug, Serialize)]
struct SvgArrow {
    y: usize,
    x1: usize,
    x2: usize,
    /// Where the label starts.
    lx: usize,
    label: String,
    title: String,
    class: &'static str,
    note: bool,
    href: String,
}

#[derive(Debug, Serialize)]
struct Journey {
    user: String,
    width: usize,
    height: usize,
    columns: Vec<SvgColumn>,
    arrows: Vec<SvgArrow>,
}

#[derive(Debug, Serialize)]
struct RuleRow {
    id: String,
    severity: &'static str,
    count: u64,
    summary: &'static str,
    cite: &'static str,
    first: Option<String>,
}

#[derive(Debug, Serialize)]
struct LatencyRow {
    verb: String,
    count: u64,
    p50: String,
    p90: String,
    p99: String,
    max: String,
}

/// The page's context.
#[derive(Debug, Serialize)]
struct Page<'a> {
    title: String,
    version: &'static str,
    source: &'a Source,
    label: String,
    input_error: Option<String>,
    summary: &'a Summary,
    roles: Vec<(String, u64)>,
    dialects: Vec<(String, u64)>,
    users: Vec<String>,
    rules: Vec<RuleRow>,
    latency: Vec<LatencyRow>,
    conns: &'a [ConnRow],
    journeys: Vec<Journey>,
    events: &'a [EventRow],
    failures: &'a [String],
    left_out: Vec<String>,
    filtered: bool,
}

/// The HTML report, written when the input ends.
pub struct HtmlReport<W: Write> {
    out: W,
    opts: HtmlOptions,
    source: Source,
    label: String,
    conns: Vec<ConnRow>,
    conns_left: u64,
    open: FastMap<u64, Vec<(EventRow, Vec<Violation>)>>,
    events: Vec<EventRow>,
    held: usize,
    events_left: u64,
    users: BTreeSet<String>,
    users_left: u64,
    dialects: BTreeMap<String, u64>,
    latency: BTreeMap<String, Latency>,
    arrows: Arrows,
    failures: Vec<String>,
    base: Option<i64>,
    /// The first write (or render) error.
    pub error: Option<std::io::Error>,
}

/// Users listed at most.
const MAX_USERS: usize = 10_000;

impl<W: Write> HtmlReport<W> {
    /// A report of the input `label` (from `source`), written to `out` at the end.
    pub fn new(out: W, opts: HtmlOptions, label: &str, source: Source) -> Self {
        let arrows = Arrows::new(opts.filter.clone(), opts.max_arrows);
        HtmlReport {
            out,
            opts,
            source,
            label: label.to_string(),
            conns: Vec::new(),
            conns_left: 0,
            open: FastMap::default(),
            events: Vec::new(),
            held: 0,
            events_left: 0,
            users: BTreeSet::new(),
            users_left: 0,
            dialects: BTreeMap::new(),
            latency: BTreeMap::new(),
            arrows,
            failures: Vec::new(),
            base: None,
            error: None,
        }
    }

    fn row(&self, conn: &Connection, e: &Event) -> EventRow {
        let base = self.base.unwrap_or(conn.opened);
        let class = match (e.kind, e.dir) {
            (EventKind::Error, _) => "error",
            (EventKind::Malformed, _) => "odd",
            (EventKind::Gap | EventKind::Tcp | EventKind::Fin, _) => "note",
            (_, Dir::C2S) => "client",
            (_, Dir::S2C) => "server",
        };
        let mut ann = String::new();
        if let Some(name) = e.error_name {
            let _ = write!(ann, "{name} ");
        }
        for (k, v) in &e.fields {
            if k.ends_with("name") && e.args.iter().all(|a| a != v) {
                let _ = write!(ann, "{k}=\"{}\" ", sanitize(v));
            }
        }
        if let Some(p) = &e.payload {
            let _ = write!(ann, "{} ", payload_note(e, p));
        }
        if let Some(tx) = e.transaction.and_then(|t| conn.txn(t)).filter(|t| t.request != e.index) {
            let lat = tx.latency_ms.filter(|_| tx.responses.first() == Some(&e.index));
            let _ = write!(ann, "↩ {}", tx.label());
            if let Some(ms) = lat {
                let _ = write!(ann, ", {ms:.1} ms");
            }
        }
        EventRow {
            conn: conn.id,
            index: e.index,
            t: format!("{:.3}", (e.ts - base) as f64 / 1e9),
            dir: match e.dir {
                Dir::C2S => "C→S",
                Dir::S2C => "S→C",
            },
            class,
            command: e.command.as_deref().unwrap_or("").to_string(),
            line: sanitize(e.line.as_deref().or(e.note.as_deref()).unwrap_or("")).into_owned(),
            ann: ann.trim_end().to_string(),
            sev: "",
            violations: Vec::new(),
        }
    }

    fn add_latency(&mut self, txns: &[Transaction]) {
        for t in txns {
            if let Some(ms) = t.latency_ms {
                // Verbs come from the wire: a peer could invent many; the table stays small.
                if self.latency.len() < 256 || self.latency.contains_key(t.command.as_str()) {
                    self.latency.entry(t.command.to_string()).or_default().add(ms);
                }
            }
        }
    }

    fn render(&mut self, summary: &Summary, links: Links<'_>) -> Result<(), minijinja::Error> {
        let arrows = self.arrows.finish(links);
        let journeys = journeys(&arrows, &self.arrows, self.opts.max_journeys, self.base.unwrap_or(0));
        let mut left_out = Vec::new();
        if self.events_left > 0 {
            left_out.push(format!(
                "{} events after the first {} are not in the transcript (narrow with --user, --conn or --command)",
                self.events_left, self.opts.max_events
            ));
        }
        if self.conns_left > 0 {
            left_out.push(format!(
                "{} connections after the first {} are not listed",
                self.conns_left,
                self.conns.len()
            ));
        }
        if self.users_left > 0 {
            left_out.push(format!("{} users after the first {MAX_USERS} are not listed", self.users_left));
        }
        let drawn_users = journeys.len();
        let all_users = self
            .arrows
            .conns
            .values()
            .filter_map(|c| c.user.as_ref().map(|u| u.to_ascii_lowercase()))
            .collect::<BTreeSet<_>>()
            .len();
        if drawn_users < all_users {
            left_out.push(format!(
                "journeys of {} users after the first {drawn_users} are not drawn",
                all_users - drawn_users
            ));
        }
        if self.arrows.left_out > 0 {
            left_out.push(format!(
                "{} lines after the first {} are not drawn in the journeys",
                self.arrows.left_out, self.opts.max_arrows
            ));
        }
        let mut first_of: FastMap<&str, String> = FastMap::default();
        for e in &self.events {
            for v in &e.violations {
                first_of.entry(v.rule).or_insert_with(|| format!("e{}-{}", e.conn, e.index));
            }
        }
        let rules = summary
            .by_rule
            .iter()
            .map(|(id, n)| {
                let r = crate::rules::CATALOG.iter().find(|r| r.id == id);
                RuleRow {
                    id: id.clone(),
                    severity: r.map_or("", |r| r.severity.as_str()),
                    count: *n,
                    summary: r.map_or("", |r| r.summary),
                    cite: r.map_or("", |r| r.cite),
                    first: first_of.get(id.as_str()).cloned(),
                }
            })
            .collect();
        let ms = |v: Option<f64>| v.map_or(String::from("–"), |v| format!("{v:.1}"));
        let latency = self
            .latency
            .iter()
            .map(|(verb, l)| LatencyRow {
                verb: verb.clone(),
                count: l.count(),
                p50: ms(l.percentile(50.0)),
                p90: ms(l.percentile(90.0)),
                p99: ms(l.percentile(99.0)),
                max: ms(l.percentile(100.0)),
            })
            .collect();
        let page = Page {
            title: format!("msntap report: {}", sanitize(&self.label)),
            version: env!("CARGO_PKG_VERSION"),
            source: &self.source,
            label: sanitize(&self.label).into_owned(),
            input_error: summary.input_error.as_deref().map(|e| sanitize(e).into_owned()),
            summary,
            roles: summary.roles.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            dialects: self.dialects.iter().map(|(k, v)| (sanitize(k).into_owned(), *v)).collect(),
            users: self.users.iter().map(|u| sanitize(u).into_owned()).collect(),
            rules,
            latency,
            conns: &self.conns,
            journeys,
            events: &self.events,
            failures: &self.failures,
            left_out,
            filtered: !self.opts.filter.is_empty(),
        };
        let mut env = minijinja::Environment::new();
        // A name the page does not have is a bug to see, not an empty cell.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template("report.html", include_str!("report.html"))?;
        env.get_template("report.html")?.render_captured_to(&page, &mut self.out)?;
        Ok(())
    }
}

impl<W: Write> Report for HtmlReport<W> {
    fn begin(&mut self, first_ts_ns: i64) {
        self.base.get_or_insert(first_ts_ns);
        self.arrows.begin(first_ts_ns);
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        self.base.get_or_insert(conn.opened);
        self.arrows.events(conn, from);
        for e in &conn.events[from..] {
            if self.held >= self.opts.max_events {
                self.events_left += 1;
                continue;
            }
            let row = self.row(conn, e);
            self.open.entry(conn.id).or_default().push((row, e.violations.clone()));
            self.held += 1;
        }
    }

    fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
        self.arrows.settled(conn, txns);
        self.add_latency(txns);
    }

    fn failure(&mut self, f: &Failure) {
        self.arrows.failure(f);
        if self.failures.len() < 1000 {
            self.failures.push(format!("{} → {}: {}", f.client, sanitize(&f.target), sanitize(&f.reason)));
        }
    }

    fn connection(&mut self, conn: &Connection, links: Links<'_>) {
        self.arrows.connection(conn, links);
        self.add_latency(&conn.transactions);
        if let Some(u) = &conn.user {
            if self.users.len() < MAX_USERS {
                self.users.insert(u.clone());
            } else if !self.users.contains(u) {
                self.users_left += 1;
            }
        }
        if let Some(d) = &conn.dialect {
            if self.dialects.len() < 64 || self.dialects.contains_key(d) {
                *self.dialects.entry(d.clone()).or_default() += 1;
            }
        }
        let mut rows = self.open.remove(&conn.id).unwrap_or_default();
        self.held -= rows.len();
        let filter = &self.opts.filter;
        if !filter.connection(conn) {
            return;
        }
        if self.conns.len() < self.opts.max_connections {
            let base = self.base.unwrap_or(conn.opened);
            let c = &conn.counts.violations;
            self.conns.push(ConnRow {
                id: conn.id,
                role: if conn.role == Role::Unknown { "?" } else { conn.role.as_str() },
                client: conn.client.to_string(),
                server: conn.server.to_string(),
                user: conn.user.as_deref().map(|u| sanitize(u).into_owned()).unwrap_or_default(),
                dialect: conn.dialect.as_deref().map(|d| sanitize(d).into_owned()).unwrap_or_default(),
                commands: conn.counts.commands,
                errors: c.errors,
                warnings: c.warnings,
                infos: c.infos,
                close: conn.close.map_or("open", |k| k.as_str()),
                start: format!("{:.3}", (conn.opened - base) as f64 / 1e9),
                seconds: format!("{:.3}", (conn.closed.unwrap_or(conn.opened) - conn.opened) as f64 / 1e9),
            });
        } else {
            self.conns_left += 1;
        }
        for (i, v) in &conn.late {
            if let Ok(k) = rows.binary_search_by_key(i, |(r, _)| r.index) {
                rows[k].1.push(v.clone());
            }
        }
        for (mut row, vs) in rows {
            let shown = (filter.commands.is_empty()
                || filter.commands.iter().any(|w| w.eq_ignore_ascii_case(&row.command)))
                && (!filter.only_violations || !vs.is_empty())
                && filter.min_severity.is_none_or(|m| vs.iter().any(|v| v.severity >= m));
            if !shown {
                continue;
            }
            row.sev = vs.iter().map(|v| v.severity).max().map_or("", Severity::as_str);
            row.violations = vs.iter().map(ViolationRow::new).collect();
            self.held += 1;
            self.events.push(row);
        }
    }

    fn retired(&mut self, index: usize, link: &Link) {
        self.arrows.retired(index, link);
    }

    fn finish(&mut self, summary: &Summary, links: Links<'_>) {
        self.events.sort_by_key(|e| (e.conn, e.index));
        self.conns.sort_by_key(|c| c.id);
        let rendered = self.render(summary, links);
        if let Err(e) = rendered {
            self.error = Some(std::io::Error::other(format!("rendering the report: {e}")));
        } else if let Err(e) = self.out.flush() {
            self.error = Some(e);
        }
    }
}

/// Pixels between columns, above the first arrow, and per arrow.
const COLUMN_PX: usize = 210;
const TOP_PX: usize = 56;
const ROW_PX: usize = 26;
/// Roughly the pixels of one label character.
const CHAR_PX: usize = 7;

/// A ladder per user (the connections whose client is that user), in order of first line.
fn journeys(arrows: &[ladder::Arrow], all: &Arrows, max: usize, base: i64) -> Vec<Journey> {
    let mut order: Vec<String> = Vec::new();
    let mut by_user: BTreeMap<String, Vec<&ladder::Arrow>> = BTreeMap::new();
    for a in arrows {
        let Some(u) = all.conns.get(&a.conn).and_then(|c| c.user.as_ref()) else { continue };
        let key = u.to_ascii_lowercase();
        if !by_user.contains_key(&key) {
            if order.len() >= max {
                continue;
            }
            order.push(key.clone());
        }
        by_user.entry(key).or_default().push(a);
    }
    let mut out = Vec::new();
    for key in order {
        let Some(mine) = by_user.remove(&key) else { continue };
        let owned: Vec<ladder::Arrow> = mine.into_iter().cloned().collect();
        let (cols, ends) = ladder::columns(&owned, &all.conns);
        let x = |k: usize| 100 + k * COLUMN_PX;
        let columns =
            cols.iter().enumerate().map(|(k, c)| SvgColumn { x: x(k), name: ladder::fit(&c.name, 28) }).collect();
        let mut svg = Vec::new();
        for (i, a) in owned.iter().enumerate() {
            let Some(&(ci, si)) = ends.get(&a.conn) else { continue };
            let (from, to) = if a.dir == Dir::C2S { (ci, si) } else { (si, ci) };
            let (x1, x2) = (x(from), x(to));
            let room = x1.abs_diff(x2) / CHAR_PX;
            let marks: String = a.rules.iter().map(|(r, _)| format!("✖ {r} ")).collect();
            let full = format!("{marks}{}{}", a.text, a.suffix);
            svg.push(SvgArrow {
                y: TOP_PX + i * ROW_PX + ROW_PX,
                x1,
                x2,
                lx: x1.min(x2) + 6,
                label: ladder::fit(&full, room.saturating_sub(1)),
                title: format!("{:.3} s  #{}  {full}", (a.ts - base) as f64 / 1e9, a.conn),
                class: a.class(),
                note: a.is_note(),
                href: format!("#e{}-{}", a.conn, a.index),
            });
        }
        let name = all
            .conns
            .values()
            .filter_map(|c| c.user.as_ref())
            .find(|u| u.to_ascii_lowercase() == key)
            .map_or(key.clone(), |u| sanitize(u).into_owned());
        out.push(Journey {
            user: name,
            width: x(cols.len().saturating_sub(1)) + 100,
            height: TOP_PX + (svg.len() + 1) * ROW_PX + 10,
            columns,
            arrows: svg,
        });
    }
    out
}
