//! The annotated session document (`docs/json.md`): one JSON object with every connection, its
//! events and transactions, the links between connections and a summary. It is written as it
//! goes: the head first, each connection as soon as it and every connection before it have
//! ended (at most [`MAX_HELD`] are held back for id order; past that they are written in the
//! order they end), then links and summary. Memory stays bounded however large the capture.

use crate::analyzer::{Links, Report, Summary};
use crate::session::Connection;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// Finished connections held back (serialised) to keep id order.
pub const MAX_HELD: usize = 256;

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

/// Writes the document while the analysis runs.
pub struct JsonReport<W: Write> {
    out: W,
    source: Source,
    started: bool,
    first: bool,
    held: BTreeMap<u64, Vec<u8>>,
    next_id: u64,
    filter: super::filter::Filter,
    /// The first write error, if any.
    pub error: Option<std::io::Error>,
}

/// Serialises `v` pretty-printed, every line indented by `indent` spaces after the first.
fn pretty<T: Serialize>(v: &T, indent: usize) -> Result<Vec<u8>, serde_json::Error> {
    let text = serde_json::to_vec_pretty(v)?;
    let pad = " ".repeat(indent);
    let mut out = Vec::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
            out.extend_from_slice(pad.as_bytes());
        }
        out.extend_from_slice(line);
    }
    Ok(out)
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
            held: BTreeMap::new(),
            next_id: 1,
            filter: Default::default(),
            error: None,
        }
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
            if let Some(bytes) = self.held.remove(&id) {
                if !bytes.is_empty() {
                    let sep: &[u8] = if self.first { b"\n    " } else { b",\n    " };
                    self.first = false;
                    self.write(sep);
                    self.write(&bytes);
                }
            }
            self.next_id = self.next_id.max(id + 1);
        }
    }
}

impl<W: Write> Report for JsonReport<W> {
    fn connection(&mut self, conn: &Connection, _links: Links<'_>) {
        self.head();
        let bytes = if !self.filter.connection(conn) {
            Ok(Vec::new())
        } else if self.filter.filters_events() {
            serde_json::to_value(conn)
                .map(|mut v| {
                    if let Some(evs) = v.get_mut("events").and_then(|e| e.as_array_mut()) {
                        let keep: Vec<bool> = conn.events.iter().map(|e| self.filter.event(e)).collect();
                        let mut i = 0;
                        evs.retain(|_| {
                            i += 1;
                            keep.get(i - 1).copied().unwrap_or(true)
                        });
                    }
                    v
                })
                .and_then(|v| pretty(&v, 4))
        } else {
            pretty(conn, 4)
        };
        match bytes {
            Ok(b) => {
                self.held.insert(conn.id, b);
                self.release(false);
            }
            Err(e) => {
                self.error.get_or_insert(io_err(e));
            }
        }
    }

    fn finish(&mut self, summary: &Summary, links: Links<'_>) {
        self.head();
        self.release(true);
        let tail = pretty(&links, 2).and_then(|l| pretty(summary, 2).map(|s| (l, s)));
        match tail {
            Ok((l, s)) => {
                let close: &[u8] = if self.first { b"],\n  \"links\": " } else { b"\n  ],\n  \"links\": " };
                self.write(close);
                self.write(&l);
                self.write(b",\n  \"summary\": ");
                self.write(&s);
                self.write(b"\n}\n");
            }
            Err(e) => {
                self.error.get_or_insert(io_err(e));
            }
        }
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }
}
