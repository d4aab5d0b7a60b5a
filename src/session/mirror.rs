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

/// What a connection is at a report call, but its events and transactions.
#[derive(Debug, Clone)]
pub struct Snapshot {
    role: Role,
    dialect: Option<String>,
    dialect_source: Option<DialectSource>,
    user: Option<String>,
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

/// The transactions the reported events name, as they stand: `txns[0]` has index `tx_base`.
#[derive(Debug, Default)]
pub struct Lent {
    tx_base: usize,
    txns: Vec<Transaction>,
}

impl Connection {
    /// The fields reports read, now; with the dialect's state when `start` (the first call).
    pub fn snapshot(&self, start: bool) -> Snapshot {
        Snapshot {
            role: self.role,
            dialect: self.dialect.clone(),
            dialect_source: self.dialect_source,
            user: self.user.clone(),
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

    /// The transactions `self.events[from..]` name, cloned: the contiguous run from the
    /// lowest to the highest still held, so [`Connection::txn`] finds each as it is now.
    pub fn lend_transactions(&self, from: usize) -> Lent {
        let held = self.tx_base..self.tx_base + self.transactions.len();
        let named = self.events.get(from..).unwrap_or_default().iter().filter_map(|e| e.transaction);
        let (lo, hi) = named.filter(|t| held.contains(t)).fold((usize::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
        if lo > hi {
            return Lent::default();
        }
        let txns = self.transactions[lo - self.tx_base..=hi - self.tx_base].to_vec();
        Lent { tx_base: lo, txns }
    }

    /// Takes what a worker handed on: its fields, and the transactions its events name. What
    /// the connection held is swapped into `s` and `lent`, to be dropped where it came from.
    pub fn take_snapshot(&mut self, s: &mut Snapshot, lent: &mut Lent) {
        self.role = s.role;
        std::mem::swap(&mut self.dialect, &mut s.dialect);
        self.dialect_source = s.dialect_source;
        std::mem::swap(&mut self.user, &mut s.user);
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
        self.tx_base = lent.tx_base;
        std::mem::swap(&mut self.transactions, &mut lent.txns);
    }
}
