//! What the user sees: a coloured transcript ([`text`]) and the annotated JSON document
//! ([`json`]), both implementing [`crate::analyzer::Report`]. Renderers take an explicit colour
//! flag (no global state), and every byte that came off the wire is printed through
//! [`sanitize`], so a peer cannot drive the reader's terminal.

pub mod compact;
pub mod filter;
pub mod json;
pub mod ndjson;
pub mod reindent;
pub mod spool;
pub mod text;

use crate::analyzer::{Link, Links, Report, Summary};
use crate::rules::Violation;
use crate::session::{Connection, Event, Transaction};
use std::collections::BTreeMap;

/// Violations found on a connection's events after they were reported, by event index.
pub(crate) fn late_by_event(conn: &Connection) -> BTreeMap<usize, Vec<&Violation>> {
    let mut by_event: BTreeMap<usize, Vec<&Violation>> = BTreeMap::new();
    for (i, v) in &conn.late {
        by_event.entry(*i).or_default().push(v);
    }
    by_event
}

/// Client requests that an event filter on violations left out, kept while they might still
/// end unanswered (the only events that gain violations after they are reported), for the
/// outputs that write a connection whole when it ends.
#[derive(Default)]
pub(crate) struct LeftOut(BTreeMap<usize, Event>);

impl LeftOut {
    /// Keeps `e`, just left out by `filter`, if a violation found later could let it in.
    pub(crate) fn offer(&mut self, filter: &filter::Filter, conn: &Connection, e: &Event) {
        let judges_violations = filter.only_violations || filter.min_severity.is_some();
        let request = e.transaction.and_then(|t| conn.txn(t)).is_some_and(|t| t.request == e.index);
        if judges_violations && request {
            self.0.insert(e.index, e.clone());
        }
    }

    /// Forgets the requests of transactions settled with an answer.
    pub(crate) fn settled(&mut self, txns: &[Transaction]) {
        for t in txns.iter().filter(|t| t.outcome != crate::session::Outcome::Unanswered) {
            self.0.remove(&t.request);
        }
    }

    /// Event `i`, left out when reported, with the violations found on it since, if `filter`
    /// lets it through now (from the connection when it still holds its events).
    pub(crate) fn recover(
        &mut self,
        conn: &Connection,
        i: usize,
        late: &[&Violation],
        filter: &filter::Filter,
    ) -> Option<Event> {
        let event = match i.checked_sub(conn.base).and_then(|k| conn.events.get(k)) {
            Some(e) => Some(e.clone()),
            None => self.0.remove(&i).map(|mut e| {
                e.violations.extend(late.iter().map(|v| (*v).clone()));
                e
            }),
        };
        event.filter(|e| filter.event(e))
    }
}

/// Makes wire text safe for a terminal: control characters (C0, DEL, C1) become escapes.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            match c {
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c => out.push_str(&format!("\\x{:02x}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || u == 0x7f
        || (0x80..0xa0).contains(&u)
        || matches!(u, 0x2028 | 0x2029 | 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069)
}

/// Sends results to several reports.
pub struct Tee<'a>(pub Vec<&'a mut dyn Report>);

impl Report for Tee<'_> {
    fn begin(&mut self, first_ts_ns: i64) {
        for r in self.0.iter_mut() {
            r.begin(first_ts_ns);
        }
    }

    fn opened(&mut self, conn: &Connection) {
        for r in self.0.iter_mut() {
            r.opened(conn);
        }
    }

    fn events(&mut self, conn: &Connection, from: usize) {
        for r in self.0.iter_mut() {
            r.events(conn, from);
        }
    }

    fn settled(&mut self, conn: &Connection, txns: &[crate::session::Transaction]) {
        for r in self.0.iter_mut() {
            r.settled(conn, txns);
        }
    }

    fn failure(&mut self, f: &crate::analyzer::Failure) {
        for r in self.0.iter_mut() {
            r.failure(f);
        }
    }

    fn connection(&mut self, conn: &Connection, links: Links<'_>) {
        for r in self.0.iter_mut() {
            r.connection(conn, links);
        }
    }

    fn finish(&mut self, summary: &Summary, links: Links<'_>) {
        for r in self.0.iter_mut() {
            r.finish(summary, links);
        }
    }

    fn retired(&mut self, index: usize, link: &Link) {
        for r in self.0.iter_mut() {
            r.retired(index, link);
        }
    }
}
