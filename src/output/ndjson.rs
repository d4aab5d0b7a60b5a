//! NDJSON: one JSON object per line, written as things are decided, for long captures and for
//! `jq`. Records: `connection` (when analysis starts), `event` (as decoded), `violation` (found
//! on an event after it was written, such as an unanswered request), `transaction` and
//! `connection-end` (when the connection ends), `link` and `summary` (at the end). See
//! `docs/json.md`.

use super::filter::Filter;
use crate::analyzer::{Link, Report, Summary};
use crate::session::Connection;
use serde::Serialize;
use std::io::Write;

/// Streams records to a writer.
pub struct NdjsonReport<W: Write> {
    out: W,
    filter: Filter,
    /// The first write error.
    pub error: Option<std::io::Error>,
}

#[derive(Serialize)]
struct ConnRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: u64,
    client: String,
    server: String,
    role: &'static str,
    dialect: Option<&'a str>,
    user: Option<&'a str>,
    start_seen: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    close: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    linked_from: Option<usize>,
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    connection: u64,
    #[serde(flatten)]
    item: &'a T,
}

#[derive(Serialize)]
struct LateViolation<'a> {
    event: usize,
    #[serde(flatten)]
    violation: &'a crate::rules::Violation,
}

impl<W: Write> NdjsonReport<W> {
    /// A report writing to `out`, showing what `filter` lets through.
    pub fn new(out: W, filter: Filter) -> Self {
        NdjsonReport { out, filter, error: None }
    }

    fn line<T: Serialize>(&mut self, v: &T) {
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut self.out, v)
            .map_err(std::io::Error::other)
            .and_then(|_| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    fn conn_record(&mut self, c: &Connection, kind: &'static str) {
        let rec = ConnRecord {
            kind,
            id: c.id,
            client: c.client.to_string(),
            server: c.server.to_string(),
            role: c.role.as_str(),
            dialect: c.dialect.as_deref(),
            user: c.user.as_deref(),
            start_seen: c.start_seen,
            close: c.close.map(|k| k.as_str()),
            linked_from: c.linked_from,
        };
        self.line(&rec);
    }
}

impl<W: Write> Report for NdjsonReport<W> {
    fn opened(&mut self, conn: &Connection) {
        if self.filter.conns.is_empty() || self.filter.connection(conn) {
            self.conn_record(conn, "connection");
        }
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        // Role and user may still be unknown: only the id filter applies while streaming.
        if !self.filter.conns.is_empty() && !self.filter.conns.contains(&conn.id) {
            return;
        }
        for e in &conn.events[from..] {
            if self.filter.event(e) {
                self.line(&Tagged { kind: "event", connection: conn.id, item: e });
            }
        }
    }

    fn connection(&mut self, conn: &Connection, _links: &[Link]) {
        if !self.filter.connection(conn) {
            return;
        }
        for (event, v) in &conn.late {
            self.line(&Tagged {
                kind: "violation",
                connection: conn.id,
                item: &LateViolation { event: *event, violation: v },
            });
        }
        for t in &conn.transactions {
            self.line(&Tagged { kind: "transaction", connection: conn.id, item: t });
        }
        self.conn_record(conn, "connection-end");
        let _ = self.out.flush();
    }

    fn finish(&mut self, summary: &Summary, links: &[Link]) {
        for l in links {
            #[derive(Serialize)]
            struct L<'a> {
                #[serde(rename = "type")]
                kind: &'static str,
                #[serde(flatten)]
                link: &'a Link,
            }
            self.line(&L { kind: "link", link: l });
        }
        #[derive(Serialize)]
        struct S<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(flatten)]
            summary: &'a Summary,
        }
        self.line(&S { kind: "summary", summary });
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }
}
