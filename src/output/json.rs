//! The annotated session document (`docs/json.md`): one JSON object with every connection, its
//! events and transactions, the links between connections and a summary. It is written as it
//! goes: the head first, each connection as soon as it and every connection before it have
//! ended (at most [`MAX_HELD`] are held back for id order; past that they are written in the
//! order they end), then links and summary. Each event and transaction is serialised when it
//! is reported and kept in a [`Spool`] (memory up to a budget, then a temporary file) until its
//! connection is written; violations found on an event later are spliced in then. Memory stays
//! bounded however large the capture and however long its connections.

use super::compact;
use super::reindent::Reindent;
use super::spool::Spool;
use crate::analysis::{Links, Report, Summary};
use crate::fasthash::FastMap;
use crate::session::{Connection, Transaction};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// Finished connections held back (serialised) to keep id order.
pub const MAX_HELD: usize = 256;

/// What kind of input the analysed bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A capture file.
    Capture,
    /// The proxy's relays.
    Proxy,
    /// A live interface.
    Live,
}

spelled!(SourceKind { Capture => "capture", Proxy => "proxy", Live => "live" });

/// Where the analysed bytes came from.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// Capture file, proxy or live interface.
    pub kind: SourceKind,
    /// File path or interface, when there is one.
    pub path: Option<String>,
    /// `pcap` or `pcapng` for captures.
    pub format: Option<String>,
}

/// Spool streams of a connection.
const EVENTS: u8 = 0;
const TRANSACTIONS: u8 = 1;
/// For each event index, 8 bytes (little-endian): where a violation found later goes, or with
/// [`LEFT_OUT`] where the event would go if such a violation lets it through the filter after
/// all. Kept in the spool, so a connection of millions of events keeps them on disk.
const LATE_AT: u8 = 3;
/// The spool stream (of connection 0, which no connection has) of links retired early.
const LINKS: (u64, u8) = (0, 2);
/// Marks an event whose violation list was empty when it was written.
const EMPTY_LIST: u64 = 1 << 63;
/// Marks an event left out by the filter (the offset is where it would have gone).
const LEFT_OUT: u64 = 1 << 62;
/// Every item is written after this separator; the first item's comma is dropped on output.
const ITEM_SEP: &[u8] = b",";
/// Indentation of the lines holding a connection's fields (its `events` and `transactions`
/// arrays are laid out from there).
const FIELD: usize = 6;

/// What is kept of an open connection.
#[derive(Default)]
struct Open {
    /// Entries written to its [`LATE_AT`] stream (one per event index, in order).
    marked: usize,
    left_out: super::LeftOut,
}

/// A finished connection waiting for its turn: its head, and violations to splice in.
struct Finished {
    head: Vec<u8>,
    inserts: Vec<(u64, Vec<u8>)>,
}

/// Writes the document while the analysis runs.
pub struct JsonReport<W: Write> {
    out: W,
    source: Source,
    started: bool,
    first: bool,
    open: FastMap<u64, Open>,
    spool: Spool<(u64, u8)>,
    /// Finished connections by id (`None`: left out by the filter).
    held: BTreeMap<u64, Option<Finished>>,
    /// Links handed over before the end: index, offset and length in the spool.
    retired: Vec<(usize, u64, usize)>,
    /// Reused for each event's text.
    scratch: Vec<u8>,
    /// Reused for the [`LATE_AT`] entries of a hand-on of events.
    late_scratch: Vec<u8>,
    next_id: u64,
    filter: super::filter::Filter,
    /// The first write error, if any.
    pub error: Option<std::io::Error>,
}

/// Serialises `v` pretty-printed, every line indented by `indent` spaces after the first
/// (compact serde output laid out by the same [`Reindent`] as the spooled events).
fn pretty<T: Serialize>(v: &T, indent: usize) -> Result<Vec<u8>, serde_json::Error> {
    let mut r = Reindent::new(Vec::new(), indent);
    serde_json::to_writer(&mut r, v)?;
    r.finish().map_err(serde_json::Error::io)
}

fn io_err(e: serde_json::Error) -> std::io::Error {
    match e.io_error_kind() {
        Some(kind) => std::io::Error::from(kind),
        None => std::io::Error::other(e),
    }
}

impl<W: Write> JsonReport<W> {
    /// A report that writes to `out`.
    pub fn new(out: W, source: Source) -> Self {
        JsonReport {
            out,
            source,
            started: false,
            first: true,
            open: FastMap::default(),
            spool: Spool::new(super::spool::DEFAULT_BUDGET),
            held: BTreeMap::new(),
            retired: Vec::new(),
            scratch: Vec::new(),
            late_scratch: Vec::new(),
            next_id: 1,
            filter: Default::default(),
            error: None,
        }
    }

    /// Keeps at most `bytes` of serialised events in memory (the rest goes to a temporary file).
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.spool = Spool::new(bytes);
        self
    }

    /// Shows only the connections and events `filter` lets through (transactions and links
    /// stay whole, so their event indices may name events left out).
    pub fn with_filter(mut self, filter: super::filter::Filter) -> Self {
        self.filter = filter;
        self
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    fn head(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        let source = match pretty(&self.source, 2) {
            Ok(s) => s,
            Err(e) => {
                self.error.get_or_insert(io_err(e));
                return;
            }
        };
        let mut h = format!(
            "{{\n  \"format\": \"msntap-session\",\n  \"version\": 1,\n  \"generator\": \"msntap {}\",\n  \"source\": ",
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes();
        h.extend_from_slice(&source);
        h.extend_from_slice(b",\n  \"connections\": [");
        self.write(&h);
    }

    fn release(&mut self, all: bool) {
        while let Some((&id, _)) = self.held.iter().next() {
            if !all && id != self.next_id && self.held.len() <= MAX_HELD {
                break;
            }
            if let Some(Some(f)) = self.held.remove(&id) {
                let sep: &[u8] = if self.first { b"\n    " } else { b",\n    " };
                self.first = false;
                self.write(sep);
                self.write_connection(id, f);
            }
            self.next_id = self.next_id.max(id + 1);
        }
    }

    fn write_connection(&mut self, id: u64, f: Finished) {
        self.write(&f.head);
        self.write(b",\n      \"events\": ");
        self.write_array((id, EVENTS), &f.inserts);
        self.write(b",\n      \"transactions\": ");
        self.write_array((id, TRANSACTIONS), &[]);
        self.write(b"\n    }");
    }

    /// Writes a spooled array (compact items, each after a comma) laid out as the document's.
    fn write_array(&mut self, k: (u64, u8), inserts: &[(u64, Vec<u8>)]) {
        if self.error.is_some() {
            self.spool.discard(k);
            return;
        }
        let mut r = Reindent::new(&mut self.out, FIELD);
        let res = r
            .write_all(b"[")
            .and_then(|_| self.spool.take(k, inserts, &mut SkipFirst { out: &mut r, skip: true }))
            .and_then(|_| r.write_all(b"]"))
            .and_then(|_| r.finish().map(|_| ()));
        if let Err(e) = res {
            self.error = Some(e);
        }
    }

    /// Writes the `links` array in index order: those retired early (from the spool) and those
    /// held.
    fn write_links(&mut self, links: Links<'_>) -> std::io::Result<()> {
        if self.retired.is_empty() {
            let l = pretty(&links, 2).map_err(io_err)?;
            self.write(&l);
            return Ok(());
        }
        enum Item<'l> {
            Spooled(u64, usize),
            Held(&'l crate::analysis::Link),
        }
        let mut all: Vec<(usize, Item<'_>)> =
            self.retired.iter().map(|&(i, off, len)| (i, Item::Spooled(off, len))).collect();
        all.extend(links.iter_indexed().map(|(i, l)| (i, Item::Held(l))));
        all.sort_by_key(|(i, _)| *i);
        self.write(b"[");
        for (n, (_, item)) in all.iter().enumerate() {
            self.write(if n == 0 { b"\n    " } else { b",\n    " });
            let bytes = match item {
                Item::Spooled(off, len) => self.spool.read_range(LINKS, *off, *len)?,
                Item::Held(l) => pretty(l, 4).map_err(io_err)?,
            };
            self.write(&bytes);
        }
        self.write(b"\n  ]");
        Ok(())
    }

    fn transactions(&mut self, id: u64, txns: &[Transaction]) {
        for t in txns {
            self.scratch.clear();
            self.scratch.extend_from_slice(ITEM_SEP);
            compact::object(&mut self.scratch, t);
            self.spool.append((id, TRANSACTIONS), &self.scratch);
        }
    }
}

/// Where violations found later go in an event written compact as `bytes` at `start`: before
/// the `]` of its violation list, its last field (`[]`, or `[...]`).
fn late_point(start: u64, bytes: &[u8]) -> u64 {
    let close = bytes.iter().rposition(|b| *b == b']').unwrap_or(0);
    let at = start + close as u64;
    if close > 0 && bytes[close - 1] == b'[' {
        at | EMPTY_LIST
    } else {
        at
    }
}

/// A writer that drops the first byte written through it (the first item's separator comma).
struct SkipFirst<'a, W: Write> {
    out: &'a mut W,
    skip: bool,
}

impl<W: Write> Write for SkipFirst<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.skip && !buf.is_empty() {
            self.skip = false;
            return self.out.write(&buf[1..]).map(|n| n + 1);
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The [`LATE_AT`] entry of event `i` of connection `id`, if it has one.
fn read_late_at(spool: &Spool<(u64, u8)>, id: u64, i: usize) -> std::io::Result<Option<u64>> {
    let Some(at) = (i as u64).checked_mul(8) else { return Ok(None) };
    let b = spool.read_range((id, LATE_AT), at, 8)?;
    Ok(b.as_slice().try_into().ok().map(u64::from_le_bytes))
}

/// The text spliced into an event's violation list for violations found after it was written.
fn late_text(at: u64, list: &[&crate::rules::Violation]) -> (u64, Vec<u8>) {
    let mut text = Vec::new();
    let empty = at & EMPTY_LIST != 0;
    for (i, v) in list.iter().enumerate() {
        if !(empty && i == 0) {
            text.push(b',');
        }
        compact::object(&mut text, *v);
    }
    (at & !EMPTY_LIST, text)
}

impl<W: Write> Report for JsonReport<W> {
    fn events(&mut self, conn: &Connection, from: usize) {
        self.head();
        let id = conn.id;
        let open = self.open.entry(id).or_default();
        let mut late_at = std::mem::take(&mut self.late_scratch);
        late_at.clear();
        for e in &conn.events[from..] {
            // Event indices are consecutive; any not seen are left out where they would go.
            while open.marked < e.index {
                late_at.extend_from_slice(&(LEFT_OUT | self.spool.len((id, EVENTS))).to_le_bytes());
                open.marked += 1;
            }
            open.marked += 1;
            if !self.filter.event(e) {
                late_at.extend_from_slice(&(LEFT_OUT | self.spool.len((id, EVENTS))).to_le_bytes());
                open.left_out.offer(&self.filter, conn, e);
                continue;
            }
            self.scratch.clear();
            self.scratch.extend_from_slice(ITEM_SEP);
            compact::object(&mut self.scratch, e);
            let start = self.spool.len((id, EVENTS)) + ITEM_SEP.len() as u64;
            late_at.extend_from_slice(&late_point(start, &self.scratch[ITEM_SEP.len()..]).to_le_bytes());
            self.spool.append((id, EVENTS), &self.scratch);
        }
        if !late_at.is_empty() {
            self.spool.append((id, LATE_AT), &late_at);
        }
        if late_at.capacity() <= 1 << 20 {
            self.late_scratch = late_at;
        }
    }

    fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
        if let Some(open) = self.open.get_mut(&conn.id) {
            open.left_out.settled(txns);
        }
        self.transactions(conn.id, txns);
    }

    fn connection(&mut self, conn: &Connection, _links: Links<'_>) {
        self.head();
        let id = conn.id;
        if !self.filter.connection(conn) {
            self.open.remove(&id);
            self.spool.discard((id, EVENTS));
            self.spool.discard((id, TRANSACTIONS));
            self.spool.discard((id, LATE_AT));
            self.held.insert(id, None);
            self.release(false);
            return;
        }
        self.transactions(id, &conn.transactions);
        let mut open = self.open.remove(&id).unwrap_or_default();
        let finished = pretty(&super::schema::Head(conn), 4).map(|mut head| {
            // Reopen the object: its events and transactions follow.
            head.truncate(head.len().saturating_sub(6));
            let mut inserts = Vec::new();
            for (i, list) in super::late_by_event(conn) {
                let at = match read_late_at(&self.spool, id, i) {
                    Ok(Some(at)) => at,
                    Ok(None) => continue,
                    Err(e) => {
                        self.error.get_or_insert(e);
                        continue;
                    }
                };
                if at & LEFT_OUT == 0 {
                    inserts.push(late_text(at, &list));
                } else if let Some(e) = open.left_out.recover(conn, i, &list, &self.filter) {
                    // Left out when written: a violation found since lets it through.
                    let mut text = ITEM_SEP.to_vec();
                    compact::object(&mut text, &e);
                    inserts.push((at & !LEFT_OUT, text));
                }
            }
            // Stable: an event let in goes before the violations of the written event after it.
            inserts.sort_by_key(|(at, _)| *at);
            Finished { head, inserts }
        });
        self.spool.discard((id, LATE_AT));
        match finished {
            Ok(f) => {
                self.held.insert(id, Some(f));
                self.release(false);
            }
            Err(e) => {
                self.error.get_or_insert(io_err(e));
            }
        }
    }

    fn retired(&mut self, index: usize, link: &crate::analysis::Link) {
        match pretty(link, 4) {
            Ok(b) => {
                self.retired.push((index, self.spool.len(LINKS), b.len()));
                self.spool.append(LINKS, &b);
            }
            Err(e) => {
                self.error.get_or_insert(io_err(e));
            }
        }
    }

    fn finish(&mut self, summary: &Summary, links: Links<'_>) {
        self.head();
        self.release(true);
        let close: &[u8] = if self.first { b"],\n  \"links\": " } else { b"\n  ],\n  \"links\": " };
        self.write(close);
        if let Err(e) = self.write_links(links) {
            self.error.get_or_insert(e);
        }
        // The rules reported, with the dialects each holds in.
        let fired: Vec<&crate::rules::Rule> =
            summary.by_rule.keys().filter_map(|id| crate::rules::lookup(id)).collect();
        match pretty(&fired, 2).map_err(io_err) {
            Ok(r) => {
                self.write(b",\n  \"rules\": ");
                self.write(&r);
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        match pretty(summary, 2).map_err(io_err) {
            Ok(s) => {
                self.write(b",\n  \"summary\": ");
                self.write(&s);
                self.write(b"\n}\n");
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
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
    use crate::analysis::run_on;
    use crate::session::Options;

    /// Each connection as the document wrote it before spooling: the whole connection,
    /// events kept to the end, serialised at once.
    struct Whole {
        filter: super::super::filter::Filter,
        conns: Vec<(u64, Vec<u8>)>,
    }

    impl Report for Whole {
        fn connection(&mut self, conn: &Connection, _links: Links<'_>) {
            if !self.filter.connection(conn) {
                return;
            }
            let mut v = serde_json::to_value(conn).expect("value");
            if let Some(evs) = v.get_mut("events").and_then(|e| e.as_array_mut()) {
                let keep: Vec<bool> = conn.events.iter().map(|e| self.filter.event(e)).collect();
                let mut i = 0;
                evs.retain(|_| {
                    i += 1;
                    keep[i - 1]
                });
            }
            self.conns.push((conn.id, pretty(&v, 4).expect("pretty")));
        }

        fn finish(&mut self, _summary: &Summary, _links: Links<'_>) {}
    }

    /// The document, and how many links were retired before the end.
    fn document(
        capture: &[u8],
        stream: bool,
        budget: usize,
        filter: &super::super::filter::Filter,
    ) -> (Vec<u8>, usize) {
        let source = Source { kind: crate::output::json::SourceKind::Capture, path: None, format: None };
        let mut out = Vec::new();
        let retired;
        {
            let mut report = JsonReport::new(&mut out, source).with_memory_budget(budget).with_filter(filter.clone());
            let opts = Options { stream_events: stream, ..Default::default() };
            run_on(capture, opts, &[], Default::default(), &mut report).expect("capture");
            assert!(report.error.is_none(), "{:?}", report.error);
            if budget < 4096 {
                assert!(report.spool.disk_error.is_none());
            }
            retired = report.retired.len();
        }
        (out, retired)
    }

    /// The document's connections as the whole-connection writer wrote them, in id order.
    fn whole(capture: &[u8], filter: &super::super::filter::Filter) -> (usize, String) {
        let mut w = Whole { filter: filter.clone(), conns: Vec::new() };
        run_on(capture, Options::default(), &[], Default::default(), &mut w).expect("capture");
        w.conns.sort_by_key(|c| c.0);
        let parts: Vec<String> = w.conns.iter().map(|c| String::from_utf8_lossy(&c.1).into_owned()).collect();
        (parts.len(), parts.join(",\n    "))
    }

    #[test]
    fn indented_pretty_is_serde_pretty_shifted() {
        let capture = crate::testkit::sample::pcap();
        let v = crate::app::analyze_to_json(&capture, Options::default(), &[], Default::default()).expect("doc");
        for indent in [0, 4, 13] {
            let plain = serde_json::to_vec_pretty(&v).expect("pretty");
            let pad = format!("\n{}", " ".repeat(indent));
            let want = String::from_utf8(plain).expect("utf-8").replace('\n', &pad);
            assert_eq!(String::from_utf8(pretty(&v, indent).expect("pretty")).expect("utf-8"), want);
        }
    }

    /// Notes, as each connection ends, the bytes of its [`LATE_AT`] stream and its events.
    struct LateAtProbe<W: Write> {
        inner: JsonReport<W>,
        seen: Vec<(u64, usize)>,
    }

    impl<W: Write> Report for LateAtProbe<W> {
        fn events(&mut self, conn: &Connection, from: usize) {
            self.inner.events(conn, from);
        }
        fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
            self.inner.settled(conn, txns);
        }
        fn connection(&mut self, conn: &Connection, links: Links<'_>) {
            let events = conn.base + conn.events.len();
            self.seen.push((self.inner.spool.len((conn.id, LATE_AT)), events));
            self.inner.connection(conn, links);
        }
        fn retired(&mut self, index: usize, link: &crate::analysis::Link) {
            self.inner.retired(index, link);
        }
        fn finish(&mut self, summary: &Summary, links: Links<'_>) {
            self.inner.finish(summary, links);
        }
    }

    #[test]
    fn late_points_of_a_long_session_are_spooled() {
        let cap = crate::testkit::sample::long_session_pcap();
        let source = Source { kind: SourceKind::Capture, path: None, format: None };
        let mut out = Vec::new();
        {
            let inner = JsonReport::new(&mut out, source).with_memory_budget(256);
            let mut probe = LateAtProbe { inner, seen: Vec::new() };
            let opts = Options { stream_events: true, ..Default::default() };
            run_on(&cap, opts, &[], Default::default(), &mut probe).expect("capture");
            assert!(probe.inner.error.is_none());
            // 8 bytes per event in the spool (within its budget, or on disk), none kept beside it.
            assert_eq!(probe.seen, vec![(8 * 6_005, 6_005)]);
            assert!(probe.inner.spool.is_empty((1, LATE_AT)), "discarded once written");
        }
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
        let inf = &doc["connections"][0]["events"][2];
        assert_eq!(inf["command"], "INF");
        assert_eq!(inf["violations"][0]["rule"], "MSNP-T006", "{inf}");
    }

    #[test]
    fn spooled_document_matches_whole_connections() {
        let captures = crate::testkit::sample::output_test_captures();
        let filters = [
            Default::default(),
            super::super::filter::Filter { only_violations: true, ..Default::default() },
            super::super::filter::Filter { commands: vec!["CHG".into(), "ADD".into()], ..Default::default() },
        ];
        let mut spliced = 0;
        for cap in &captures {
            for filter in &filters {
                let (count, want) = whole(cap, filter);
                spliced += want.matches("MSNP-T006").count();
                let mut first_links = None;
                for (stream, budget) in [
                    (false, super::super::spool::DEFAULT_BUDGET),
                    (true, super::super::spool::DEFAULT_BUDGET),
                    (true, 512),
                ] {
                    let (doc, retired) = document(cap, stream, budget, filter);
                    let text = String::from_utf8(doc.clone()).expect("utf-8");
                    let v: serde_json::Value = serde_json::from_slice(&doc).expect("document parses");
                    let got = v["connections"].as_array().map_or(0, |a| a.len());
                    assert_eq!(got, count, "stream {stream} budget {budget}");
                    // Links come back in index order however early they were retired.
                    let links = v["links"].clone();
                    let first = first_links.get_or_insert_with(|| links.clone());
                    assert_eq!(&links, first, "stream {stream} budget {budget}");
                    if stream && links.as_array().is_some_and(|a| !a.is_empty()) {
                        assert!(retired > 0, "no link was retired early");
                    }
                    assert!(text.contains(&want), "stream {stream} budget {budget}: want\n{want}\ngot\n{text}");
                }
            }
        }
        assert!(spliced >= 6, "late violations exercised: {spliced}");
    }
}
