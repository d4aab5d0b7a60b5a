//! What the user sees: printers behind one interface ([`crate::analysis::Report`]): the
//! coloured transcript and summary ([`text`]), the annotated JSON document ([`json`]) and
//! NDJSON ([`ndjson`]), all writing the export's one shape ([`schema`]) and wired together in
//! [`outputs`]. Renderers take an explicit colour flag (no global state), and every byte that
//! came off the wire is printed through [`sanitize`], so a peer cannot drive the reader's
//! terminal.

pub mod compact;
pub mod filter;
pub mod html;
pub mod json;
pub mod ladder;
pub mod ndjson;
mod numfmt;
pub mod outputs;
pub mod reindent;
pub mod schema;
pub mod spool;
pub mod text;

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

pub use crate::escape::sanitize;
