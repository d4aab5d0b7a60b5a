//! The export's shape, defined once: the fields of every exported record (connection head,
//! event, payload, violation, transaction), in order, with their JSON names. Two writers go
//! through these definitions: the fast compact writer ([`super::compact`]) that the JSON
//! document and NDJSON use, and serde (`Serialize`, for library users and tests). A new field is
//! added here and nowhere else. `docs/json.md` describes the result.

use crate::rules::Violation;
use crate::session::{secs, Connection, Event, PayloadInfo, Transaction};
use crate::shortstr::ShortStr;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Something exported as a JSON object.
pub trait Record {
    /// Writes every field, in order.
    fn fields<W: Fields>(&self, w: &mut W);
}

/// Text a record holds: a string, or a short string whose bytes need no second check.
pub trait Text {
    /// The text.
    fn text(&self) -> &str;
    /// Its UTF-8 bytes.
    fn bytes(&self) -> &[u8] {
        self.text().as_bytes()
    }
}

impl Text for &str {
    fn text(&self) -> &str {
        self
    }
}

impl Text for ShortStr {
    fn text(&self) -> &str {
        self.as_str()
    }
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Receives a record's fields. Keys are the JSON names.
pub trait Fields {
    /// An unsigned integer.
    fn uint(&mut self, key: &'static str, v: u64);
    /// A number of seconds (or milliseconds) as a float; `null` when not finite.
    fn float(&mut self, key: &'static str, v: f64);
    /// `true` or `false`.
    fn bool(&mut self, key: &'static str, v: bool);
    /// A string.
    fn str(&mut self, key: &'static str, v: &str);
    /// A short string.
    fn short(&mut self, key: &'static str, v: &ShortStr);
    /// `null`.
    fn null(&mut self, key: &'static str);
    /// A list of short strings.
    fn shorts(&mut self, key: &'static str, v: &[ShortStr]);
    /// A list of unsigned integers.
    fn uints(&mut self, key: &'static str, v: &[usize]);
    /// An object of string values, keys in order.
    fn map<K: Text>(&mut self, key: &'static str, v: &[(K, ShortStr)]);
    /// A nested record.
    fn record<R: Record>(&mut self, key: &'static str, v: &R);
    /// A list of records.
    fn records<R: Record>(&mut self, key: &'static str, v: &[R]);

    /// An unsigned integer or `null`.
    fn opt_uint(&mut self, key: &'static str, v: Option<u64>) {
        match v {
            Some(v) => self.uint(key, v),
            None => self.null(key),
        }
    }

    /// A float or `null`.
    fn opt_float(&mut self, key: &'static str, v: Option<f64>) {
        match v {
            Some(v) => self.float(key, v),
            None => self.null(key),
        }
    }

    /// A string or `null`.
    fn opt_str(&mut self, key: &'static str, v: Option<&str>) {
        match v {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    /// A nested record or `null`.
    fn opt_record<R: Record>(&mut self, key: &'static str, v: Option<&R>) {
        match v {
            Some(v) => self.record(key, v),
            None => self.null(key),
        }
    }
}

/// A connection's own fields, as the JSON document writes them before its events and NDJSON
/// writes them in its `connection` and `connection-end` records.
pub struct Head<'a>(pub &'a Connection);

impl Record for Head<'_> {
    fn fields<W: Fields>(&self, w: &mut W) {
        let c = self.0;
        w.uint("id", c.id);
        let mut addr = String::with_capacity(48);
        crate::output::numfmt::push_addr(&mut addr, &c.client);
        w.str("client", &addr);
        addr.clear();
        crate::output::numfmt::push_addr(&mut addr, &c.server);
        w.str("server", &addr);
        if let Some(vlan) = c.vlan {
            w.uint("vlan", u64::from(vlan));
        }
        w.str("role", c.role.as_str());
        w.opt_str("dialect", c.dialect.as_deref());
        w.opt_str("dialect_source", c.dialect_source.map(|d| d.as_str()));
        w.opt_str("dialect_evidence", c.dialect_reason().as_deref());
        w.opt_str("user", c.user.as_deref());
        w.float("opened", secs(c.opened));
        w.opt_float("closed", c.closed.map(secs));
        w.opt_str("close", c.close.map(|k| k.as_str()));
        w.bool("start_seen", c.start_seen);
        w.opt_uint("linked_from", c.linked_from.map(|l| l as u64));
    }
}

impl Record for Connection {
    fn fields<W: Fields>(&self, w: &mut W) {
        Head(self).fields(w);
        w.records("events", &self.events);
        w.records("transactions", &self.transactions);
    }
}

impl Record for Event {
    fn fields<W: Fields>(&self, w: &mut W) {
        w.uint("index", self.index as u64);
        w.float("ts", secs(self.ts));
        w.str("dir", self.dir.as_str());
        w.str("kind", self.kind.as_str());
        match &self.command {
            Some(c) => w.short("command", c),
            None => w.null("command"),
        }
        w.opt_uint("trid", self.trid.map(u64::from));
        w.shorts("args", &self.args);
        w.opt_str("line", self.line.as_deref());
        w.map("fields", &self.fields);
        if let Some(n) = self.error_name {
            w.str("error_name", n);
        }
        w.opt_record("payload", self.payload.as_deref());
        w.opt_uint("transaction", self.transaction.map(|t| t as u64));
        if let Some(l) = self.link {
            w.uint("link", l as u64);
        }
        w.uint("offset", self.offset);
        if let Some(l) = self.length {
            w.uint("length", l);
        }
        if let Some(n) = &self.note {
            w.str("note", n);
        }
        w.records("violations", &self.violations);
    }
}

impl Record for PayloadInfo {
    fn fields<W: Fields>(&self, w: &mut W) {
        w.uint("length", self.length);
        w.map("headers", &self.headers);
        w.str("body", &self.body);
        w.bool("complete", self.complete);
    }
}

impl Record for Violation {
    fn fields<W: Fields>(&self, w: &mut W) {
        w.str("rule", self.rule);
        w.str("severity", self.severity.as_str());
        w.str("message", &self.message);
    }
}

impl Record for Transaction {
    fn fields<W: Fields>(&self, w: &mut W) {
        w.opt_uint("trid", self.trid.map(u64::from));
        w.short("command", &self.command);
        w.uint("request", self.request as u64);
        w.uints("responses", &self.responses);
        if self.responses_omitted > 0 {
            w.uint("responses_omitted", self.responses_omitted);
        }
        w.str("outcome", self.outcome.as_str());
        w.opt_float("latency_ms", self.latency_ms);
    }
}

/// A record as serde sees it.
pub struct AsSerde<'a, R>(pub &'a R);

impl<R: Record> Serialize for AsSerde<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut w = SerdeFields { map: s.serialize_map(None)?, error: None };
        self.0.fields(&mut w);
        match w.error {
            Some(e) => Err(e),
            None => w.map.end(),
        }
    }
}

macro_rules! serialize_as_record {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                AsSerde(self).serialize(s)
            }
        }
    )*};
}

serialize_as_record!(Connection, Event, PayloadInfo, Violation, Transaction, Head<'_>);

/// The serde writer: each field becomes a map entry; the first error is kept.
struct SerdeFields<M: SerializeMap> {
    map: M,
    error: Option<M::Error>,
}

impl<M: SerializeMap> SerdeFields<M> {
    fn entry<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) {
        if self.error.is_none() {
            if let Err(e) = self.map.serialize_entry(key, v) {
                self.error = Some(e);
            }
        }
    }
}

struct Pairs<'a, K>(&'a [(K, ShortStr)]);

impl<K: Text> Serialize for Pairs<'_, K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k.text(), v.as_str())?;
        }
        m.end()
    }
}

struct Seq<'a, R>(&'a [R]);

impl<R: Record> Serialize for Seq<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for r in self.0 {
            seq.serialize_element(&AsSerde(r))?;
        }
        seq.end()
    }
}

impl<M: SerializeMap> Fields for SerdeFields<M> {
    fn uint(&mut self, key: &'static str, v: u64) {
        self.entry(key, &v);
    }
    fn float(&mut self, key: &'static str, v: f64) {
        self.entry(key, &v);
    }
    fn bool(&mut self, key: &'static str, v: bool) {
        self.entry(key, &v);
    }
    fn str(&mut self, key: &'static str, v: &str) {
        self.entry(key, v);
    }
    fn short(&mut self, key: &'static str, v: &ShortStr) {
        self.entry(key, v.as_str());
    }
    fn null(&mut self, key: &'static str) {
        self.entry(key, &());
    }
    fn shorts(&mut self, key: &'static str, v: &[ShortStr]) {
        let strs: Vec<&str> = v.iter().map(|s| s.as_str()).collect();
        self.entry(key, &strs);
    }
    fn uints(&mut self, key: &'static str, v: &[usize]) {
        self.entry(key, v);
    }
    fn map<K: Text>(&mut self, key: &'static str, v: &[(K, ShortStr)]) {
        self.entry(key, &Pairs(v));
    }
    fn record<R: Record>(&mut self, key: &'static str, v: &R) {
        self.entry(key, &AsSerde(v));
    }
    fn records<R: Record>(&mut self, key: &'static str, v: &[R]) {
        self.entry(key, &Seq(v));
    }
}
