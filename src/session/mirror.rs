//! A connection analysed on another thread, as the reports see it. Sharded analysis
//! (`crate::analysis::shard`) analyses connections on worker threads and reports them on the
//! calling thread: at each report call a worker hands on a [`Snapshot`] of the connection's
//! fields with the events it reports, and the calling thread keeps a mirror [`Connection`]
//! that takes them, so every report sees what it would have seen on one thread.

use super::infer::DialectState;
use super::model::{DialectSource, EventCounts, OutcomeCounts, Transaction};
use super::Connection;
use crate::flow::CloseKind;
use crate::msnp::Role;

/// What a connection is at a report call, but its events and transactions. Not mirrored: the
/// violations found late, the dialect's state after the start (what `dialect_reason` and
/// `dialects` answer from) and transactions the events do not name; reports read those only
/// in `Report::connection`, which gets the connection itself (`tests/it/shards.rs` compares).
#[derive(Debug)]
pub struct Snapshot {
    role: Role,
    /// The label and the user when they changed since the last snapshot (or at the start).
    dialect: Option<Option<String>>,
    dialect_source: Option<DialectSource>,
    user: Option<Option<String>>,
    closed: Option<i64>,
    close: Option<CloseKind>,
    /// The worker's link index: the calling thread maps it to its own.
    pub linked_from: Option<usize>,
    settled_outcomes: OutcomeCounts,
    emitted: usize,
    base: usize,
    counts: EventCounts,
    /// At the connection's start only (the mirror's dialect methods answer from it).
    dialect_state: Option<Box<DialectState>>,
}

/// The transactions reported events name, as they stand, by index (`at` ascending). Each
/// keeps its first response only: what reports read of a transaction when told of an event
/// (whether an event answers it, and its latency); the whole list goes with it when it is
/// settled or its connection ends. So what is lent stays small however a peer answers.
#[derive(Debug, Default)]
pub struct Lent {
    at: Vec<usize>,
    txns: Vec<Transaction>,
}

impl Connection {
    /// The fields reports read, now; with the dialect's state when `start` (the first call).
    pub fn snapshot(&mut self, start: bool) -> Snapshot {
        let changed = |now: &Option<String>, sent: &mut Option<String>| {
            (start || now != sent).then(|| {
                sent.clone_from(now);
                now.clone()
            })
        };
        Snapshot {
            role: self.role,
            dialect: changed(&self.dialect, &mut self.st.sent_dialect),
            dialect_source: self.dialect_source,
            user: changed(&self.user, &mut self.st.sent_user),
            closed: self.closed,
            close: self.close,
            linked_from: self.linked_from,
            settled_outcomes: self.settled_outcomes,
            emitted: self.emitted,
            base: self.base,
            counts: self.counts,
            dialect_state: start.then(|| Box::new(self.st.dialect.clone())),
        }
    }

    /// The transactions `self.events[from..]` name, cloned (see [`Lent`]) so that
    /// [`Connection::txn`] finds each as it is now.
    pub fn lend_transactions(&self, from: usize) -> Lent {
        let mut named: Vec<usize> =
            self.events.get(from..).unwrap_or_default().iter().filter_map(|e| e.transaction).collect();
        named.sort_unstable();
        named.dedup();
        let (at, txns) = named.into_iter().filter_map(|i| Some((i, self.txn(i)?.with_first_response()))).unzip();
        Lent { at, txns }
    }

    /// Takes what a worker handed on: its fields, and the transactions its events name. What
    /// the connection held is swapped into `s` and `lent`, to be dropped where it came from.
    pub fn take_snapshot(&mut self, s: &mut Snapshot, lent: &mut Lent) {
        self.role = s.role;
        if let Some(d) = s.dialect.as_mut() {
            std::mem::swap(&mut self.dialect, d);
        }
        self.dialect_source = s.dialect_source;
        if let Some(u) = s.user.as_mut() {
            std::mem::swap(&mut self.user, u);
        }
        self.closed = s.closed;
        self.close = s.close;
        self.linked_from = s.linked_from;
        self.settled_outcomes = s.settled_outcomes;
        self.emitted = s.emitted;
        self.base = s.base;
        self.counts = s.counts;
        if let Some(d) = s.dialect_state.as_mut() {
            std::mem::swap(&mut self.st.dialect, d);
        }
        std::mem::swap(&mut self.st.lent_at, &mut lent.at);
        std::mem::swap(&mut self.transactions, &mut lent.txns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Dir;
    use crate::session::Options;

    /// A connection holding many open requests and one request answered many times: what a
    /// hand-on lends is what its events name, not the run between them, and one response each.
    #[test]
    fn lends_only_the_named_transactions_with_one_response_each() {
        let opts = Options::default();
        let mut c = crate::session::msnp8_connection(&opts);
        let (client, server) = (c.client, c.server);
        let mut requests = Vec::new();
        for t in 2..2_002 {
            requests.extend_from_slice(format!("CHG {t} NLN 0\r\n").as_bytes());
        }
        c.data(Dir::C2S, 3, &requests, &opts);
        let mut answers = b"CHG 2 NLN 0\r\n".to_vec();
        for _ in 0..500 {
            answers.extend_from_slice(b"911 2\r\n");
        }
        answers.extend_from_slice(b"CHG 2001 NLN 0\r\n");
        let from = c.events.len();
        c.data(Dir::S2C, 4, &answers, &opts);
        let named: Vec<usize> = c.events[from..].iter().filter_map(|e| e.transaction).collect();
        assert!(named.len() > 500, "{} events name a transaction", named.len());
        let lent = c.lend_transactions(from);
        assert_eq!(lent.txns.len(), 2, "lent {:?}", lent.at);
        assert!(lent.txns.iter().all(|t| t.responses.len() == 1));
        let first = c.txn(named[0]).map(|t| t.responses.len());
        assert!(first > Some(1), "the request answered many times: {first:?} responses");
        // The mirror finds each named transaction as the connection does, and no other.
        let mut m = Connection::new(1, client, server, None, true, 0, &opts);
        let (mut s, mut lent) = (c.snapshot(true), lent);
        m.take_snapshot(&mut s, &mut lent);
        for t in named {
            let (a, b) = (c.txn(t), m.txn(t));
            assert_eq!(a.map(|t| (t.request, t.responses.first())), b.map(|t| (t.request, t.responses.first())));
        }
        assert!(m.txn(3).is_none() && c.txn(3).is_some());
    }
}
