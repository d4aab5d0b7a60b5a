//! NDJSON: one JSON object per line, written as things are decided, for long captures and for
//! `jq`. Records: `connection` (when analysis starts), `event` (as decoded), `violation` (found
//! on an event after it was written, such as an unanswered request), `transaction` and
//! `connection-end` (when the connection ends), `link` and `summary` (at the end). See
//! `docs/json.md`.

use super::compact;
use super::filter::Filter;
use super::schema::Head;
use crate::analysis::{Link, Links, Report, Summary};
use crate::session::Connection;
use serde::Serialize;
use std::io::Write;

/// Records are collected up to this many bytes before they are written.
const SPILL_AT: usize = 1 << 16;

/// Appends `{"type":"KIND","connection":ID`.
fn head(buf: &mut Vec<u8>, kind: &str, connection: u64) {
    buf.extend_from_slice(b"{\"type\":\"");
    buf.extend_from_slice(kind.as_bytes());
    buf.extend_from_slice(b"\",\"connection\":");
    compact::uint(buf, connection);
}

/// Streams records to a writer.
pub struct NdjsonReport<W: Write> {
    out: W,
    filter: Filter,
    /// Records not yet passed to `out`.
    buf: Vec<u8>,
    /// Pass records on (and flush) after every call, for live inputs.
    flush_each: bool,
    /// The first write error.
    pub error: Option<std::io::Error>,
}

impl<W: Write> NdjsonReport<W> {
    /// A report writing to `out`, showing what `filter` lets through.
    pub fn new(out: W, filter: Filter) -> Self {
        NdjsonReport { out, filter, buf: Vec::with_capacity(SPILL_AT + 4096), flush_each: false, error: None }
    }

    /// With `on`, every record is passed on and flushed as soon as it is made (a live capture
    /// or the proxy, read as it happens); otherwise records go out in batches of 64 KiB.
    pub fn flush_each(mut self, on: bool) -> Self {
        self.flush_each = on;
        self
    }

    /// In live mode, passes on and flushes what the last call wrote.
    fn after_call(&mut self) {
        if self.flush_each {
            self.spill(true);
            if self.error.is_none() {
                if let Err(e) = self.out.flush() {
                    self.error = Some(e);
                }
            }
        }
    }

    fn line<T: Serialize>(&mut self, v: &T) {
        if self.error.is_some() {
            return;
        }
        match serde_json::to_writer(&mut self.buf, v) {
            Ok(()) => self.buf.push(b'\n'),
            Err(e) => self.error = Some(std::io::Error::other(e)),
        }
        self.spill(false);
    }

    /// Writes `{"type":KIND,"connection":ID` and then the rest of the record, which `fields`
    /// writes (each field after a comma, closing brace included).
    fn record(&mut self, kind: &str, connection: u64, fields: impl FnOnce(&mut Vec<u8>)) {
        head(&mut self.buf, kind, connection);
        fields(&mut self.buf);
        self.buf.push(b'\n');
        self.spill(false);
    }

    /// Passes the record buffer on to the writer once it is large (or always, with `all`).
    fn spill(&mut self, all: bool) {
        if self.buf.len() < SPILL_AT && !all {
            return;
        }
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
        self.buf.clear();
    }

    fn transactions(&mut self, connection: u64, txns: &[crate::session::Transaction]) {
        if self.error.is_some() {
            return;
        }
        for t in txns {
            self.record("transaction", connection, |b| compact::fields(b, t));
        }
    }

    fn link_record(&mut self, index: usize, l: &Link) {
        #[derive(Serialize)]
        struct L<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            index: usize,
            #[serde(flatten)]
            link: &'a Link,
        }
        self.line(&L { kind: "link", index, link: l });
    }

    /// A `connection` or `connection-end` record: the connection's head, as the JSON document
    /// writes it.
    fn conn_record(&mut self, c: &Connection, kind: &'static str) {
        self.buf.extend_from_slice(b"{\"type\":\"");
        self.buf.extend_from_slice(kind.as_bytes());
        self.buf.push(b'"');
        compact::fields(&mut self.buf, &Head(c));
        self.buf.push(b'\n');
        self.spill(false);
    }
}

impl<W: Write> Report for NdjsonReport<W> {
    fn opened(&mut self, conn: &Connection) {
        if self.filter.conns.is_empty() || self.filter.connection(conn) {
            self.conn_record(conn, "connection");
        }
        self.after_call();
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        // Role and user may still be unknown: only the id filter applies while streaming.
        if !self.filter.conns.is_empty() && !self.filter.conns.contains(&conn.id) {
            return;
        }
        if self.error.is_some() {
            return;
        }
        for e in &conn.events[from..] {
            if self.filter.event(e) {
                self.record("event", conn.id, |b| compact::fields(b, e));
            }
        }
        self.after_call();
    }

    fn settled(&mut self, conn: &Connection, txns: &[crate::session::Transaction]) {
        if self.filter.conns.is_empty() || self.filter.conns.contains(&conn.id) {
            self.transactions(conn.id, txns);
        }
        self.after_call();
    }

    fn connection(&mut self, conn: &Connection, _links: Links<'_>) {
        if !self.filter.connection(conn) {
            return;
        }
        for (event, v) in &conn.late {
            self.record("violation", conn.id, |b| {
                b.extend_from_slice(b",\"event\":");
                compact::uint(b, *event as u64);
                compact::fields(b, v);
            });
        }
        self.transactions(conn.id, &conn.transactions);
        self.conn_record(conn, "connection-end");
        // Reading a capture, the records go on in 64 KiB batches across connections: a write
        // and a flush at every connection's end cost a system call and a copy into the
        // writer's buffer each (2,075 of them in the 100 k capture).
        self.after_call();
    }

    fn retired(&mut self, index: usize, link: &Link) {
        self.link_record(index, link);
        self.after_call();
    }

    fn finish(&mut self, summary: &Summary, links: Links<'_>) {
        for (i, l) in links.iter_indexed() {
            self.link_record(i, l);
        }
        #[derive(Serialize)]
        struct S<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(flatten)]
            summary: &'a Summary,
        }
        self.line(&S { kind: "summary", summary });
        self.spill(true);
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
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A writer whose bytes can be looked at while the report still holds it.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// After each batch of events: (events reported so far, event records already written).
    struct Probe {
        written: Shared,
        events: usize,
        seen: Vec<(usize, usize)>,
    }

    impl Report for Probe {
        fn events(&mut self, conn: &Connection, from: usize) {
            self.events += conn.events.len() - from;
            let out = self.written.0.borrow();
            self.seen.push((self.events, String::from_utf8_lossy(&out).matches("\"type\":\"event\"").count()));
        }

        fn connection(&mut self, _c: &Connection, _l: Links<'_>) {}

        fn finish(&mut self, _s: &Summary, _l: Links<'_>) {}
    }

    fn run(flush_each: bool) -> Probe {
        let written = Shared::default();
        let mut nd = NdjsonReport::new(written.clone(), Filter::default()).flush_each(flush_each);
        let mut probe = Probe { written, events: 0, seen: Vec::new() };
        {
            let mut tee = crate::analysis::Tee(vec![&mut nd, &mut probe]);
            let capture = crate::testkit::sample::pcap();
            crate::analysis::run_on(&capture, Default::default(), &[], Default::default(), &mut tee).expect("capture");
        }
        probe
    }

    #[test]
    fn live_records_go_out_at_once_and_batches_wait() {
        let live = run(true);
        assert!(live.events > 50);
        // Every event was out by the time the next report heard of it.
        for (reported, written) in &live.seen {
            assert_eq!(reported, written);
        }
        // Batched: the first events wait for 64 KiB of records (or the end).
        let batched = run(false);
        assert_eq!(batched.seen.first().map(|s| s.1), Some(0));
    }
}
