//! What a shard hands on, for the merge to put back into one thread's order: keyed items
//! (connections started and ended, and, when recording, events and links), the log a shard's
//! analyzer records them in, and what goes back to be freed. Both ways of sharding
//! ([`super::shard`], [`super::reread`]) hand on these.

use super::report::Link;
use crate::flow::ConnId;
use crate::session::{Connection, Event, Lent, Snapshot, Transaction};
use std::net::{IpAddr, SocketAddr};

/// When, in one thread's order, a worker decided something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    /// The packet being handled (`u64::MAX` at the end of the input).
    pub k: u64,
    /// 0: idle flows flushed by its time; 1: its segment; 2: the end of the input.
    pub phase: u8,
    /// In phases 0 and 2, the flow being flushed (flows are flushed in id order); else 0.
    pub flow: ConnId,
    /// Order within the worker.
    pub seq: u64,
}

/// What a worker hands on. Ids of connections and links are the worker's own; the merge maps
/// them to the ones one thread would have given.
pub(super) enum Item {
    /// A connection started, with the id the worker gave it (and what reports are told of it
    /// then, when recording).
    Started(u64, Option<Box<Opening>>),
    /// A connection's new events and settled transactions (recording).
    Emitted(Box<Emitted>),
    /// A link was made (recording).
    LinkMade(usize, Box<Link>),
    /// A link found the connection it led to (recording).
    LinkTo(usize, u64),
    /// A link left the table (recording).
    Retired(usize),
    /// A connection ended (its id is still the worker's).
    Ended(Box<Connection>),
}

/// What a worker handed on, reported and sent back to be dropped.
pub(super) type Trash = Box<dyn std::any::Any + Send>;

/// A connection as it started, for the merge's mirror of it.
pub(super) struct Opening {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub vlan: Option<u16>,
    pub start_seen: bool,
    pub opened: i64,
    pub affinity: IpAddr,
    pub snapshot: Snapshot,
}

impl Opening {
    pub fn of(c: &mut Connection) -> Opening {
        Opening {
            client: c.client,
            server: c.server,
            vlan: c.vlan,
            start_seen: c.start_seen,
            opened: c.opened,
            affinity: c.affinity,
            snapshot: c.snapshot(true),
        }
    }
}

/// What one call of [`super::summary::emit`] would have reported of connection `id`.
pub(super) struct Emitted {
    pub id: u64,
    pub snapshot: Snapshot,
    pub lent: Lent,
    pub settled: Vec<Transaction>,
    /// Where the new events start in the connection's list then, if there are any.
    pub from: Option<usize>,
    pub events: Vec<Event>,
}

/// An item and its key.
pub(super) struct Keyed(pub Key, pub Item);

/// A worker analyzer's record of what it hands on.
#[derive(Default)]
pub(super) struct ShardLog {
    pub items: Vec<Keyed>,
    /// Record what the reports are told as it happens (the outputs that stream events), not
    /// only the connections' starts and ends.
    pub record: bool,
    /// The packet and phase being handled.
    pub at: (u64, u8),
    seq: u64,
}

impl ShardLog {
    /// An empty log, recording events too when `record`.
    pub fn new(record: bool) -> ShardLog {
        ShardLog { record, ..ShardLog::default() }
    }

    /// Records `item` about flow `flow`.
    pub fn push(&mut self, flow: ConnId, item: Item) {
        let (k, phase) = self.at;
        let flow = if phase == 1 { 0 } else { flow };
        self.seq += 1;
        self.items.push(Keyed(Key { k, phase, flow, seq: self.seq }, item));
    }
}
