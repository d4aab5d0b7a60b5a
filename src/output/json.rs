//! The annotated session document (`docs/json.md`): one JSON object with every connection, its
//! events and transactions, the links between connections and a summary. Being one document, it
//! is assembled in memory; connections are serialised as they finish, so the analysis state
//! itself is freed.

use crate::analyzer::{Link, Report, Summary};
use crate::session::Connection;
use serde::Serialize;
use serde_json::Value;

/// Where the analysed bytes came from.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// `capture`, `proxy` or `live`.
    pub kind: String,
    /// File path or interface, when there is one.
    pub path: Option<String>,
    /// `pcap` or `pcapng` for captures.
    pub format: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    version: u32,
    generator: String,
    source: &'a Source,
    connections: Vec<Value>,
    links: &'a [Link],
    summary: &'a Summary,
}

/// Collects the document and writes it at the end.
pub struct JsonReport<W: std::io::Write> {
    out: Option<W>,
    source: Source,
    connections: Vec<(u64, Value)>,
    filter: super::filter::Filter,
    /// The first write error, if any.
    pub error: Option<std::io::Error>,
}

impl<W: std::io::Write> JsonReport<W> {
    /// A report that writes to `out` when the input ends.
    pub fn new(out: W, source: Source) -> Self {
        JsonReport { out: Some(out), source, connections: Vec::new(), filter: Default::default(), error: None }
    }

    /// Shows only the connections and events `filter` lets through (transactions and links
    /// stay whole, so their event indices may name events left out).
    pub fn with_filter(mut self, filter: super::filter::Filter) -> Self {
        self.filter = filter;
        self
    }
}

impl<W: std::io::Write> Report for JsonReport<W> {
    fn connection(&mut self, conn: &Connection, _links: &[Link]) {
        if !self.filter.connection(conn) {
            return;
        }
        match serde_json::to_value(conn).map(|mut v| {
            if self.filter.filters_events() {
                if let Some(evs) = v.get_mut("events").and_then(|e| e.as_array_mut()) {
                    let keep: Vec<bool> = conn.events.iter().map(|e| self.filter.event(e)).collect();
                    let mut i = 0;
                    evs.retain(|_| {
                        i += 1;
                        keep[i - 1]
                    });
                }
            }
            v
        }) {
            Ok(v) => self.connections.push((conn.id, v)),
            Err(e) => self.error = self.error.take().or(Some(std::io::Error::other(e))),
        }
    }

    fn finish(&mut self, summary: &Summary, links: &[Link]) {
        self.connections.sort_by_key(|c| c.0);
        let doc = Document {
            format: "msntap-session",
            version: 1,
            generator: format!("msntap {}", env!("CARGO_PKG_VERSION")),
            source: &self.source,
            connections: std::mem::take(&mut self.connections).into_iter().map(|c| c.1).collect(),
            links,
            summary,
        };
        if let Some(mut out) = self.out.take() {
            let r = serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(|e| match e.io_error_kind() {
                    Some(kind) => std::io::Error::from(kind),
                    None => std::io::Error::other(e),
                })
                .and_then(|_| out.write_all(b"\n"))
                .and_then(|_| out.flush());
            if let Err(e) = r {
                self.error = Some(e);
            }
        }
    }
}
