//! One connection's analysis: its bytes become events ([`driver`]), client requests are paired
//! with server responses by TrID ([`pairing`]), its role, dialect and user are worked out
//! ([`infer`], [`learn`]), secrets are redacted ([`redact`]) and the rules that can be checked
//! on one connection are checked (through [`crate::rules`]). Links across connections are made
//! by [`crate::analysis`], which owns all connections. A connection analysed on another thread
//! is reported through a mirror of it ([`mirror`]).

mod driver;
mod infer;
mod learn;
mod mirror;
pub mod model;
mod pairing;
mod redact;

pub use mirror::{Lent, Snapshot};
pub use model::{
    secs, DialectSource, Event, EventCounts, EventKind, Notice, Options, Outcome, OutcomeCounts, PayloadInfo,
    ReferralSeen, SbAuth, Transaction,
};
pub use pairing::{MAX_HELD, MAX_LISTED_RESPONSES, MAX_OPEN_TRIDS, MAX_PINGS, MAX_RESPONSES, SETTLE_AT};
pub use redact::REDACTED;

use crate::flow::{CloseKind, ConnId};
use crate::msnp::catalog::{Roles, Side};
use crate::msnp::dialect::Dialects;
use crate::msnp::wire::Decoder;
use crate::msnp::Role;
use crate::rules::{Checker, Violation};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// The analysis of one TCP connection.
#[derive(Debug)]
pub struct Connection {
    /// Connection id (from 1).
    pub id: ConnId,
    /// Client address.
    pub client: SocketAddr,
    /// The client machine it belongs to (`analysis::affinity`): connections are linked only
    /// within one. The client's address unless the analysis says otherwise.
    pub affinity: std::net::IpAddr,
    /// Server address.
    pub server: SocketAddr,
    /// VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// Server role.
    pub role: Role,
    /// Protocol dialect (`MSNP2`, `CVR0`, `MSNP11+`...), if known.
    pub dialect: Option<String>,
    /// How the dialect was decided.
    pub dialect_source: Option<DialectSource>,
    /// The user (handle) of the client side.
    pub user: Option<String>,
    /// First packet time (ns since the epoch).
    pub opened: i64,
    /// Close time (ns since the epoch).
    pub closed: Option<i64>,
    /// How it ended.
    pub close: Option<CloseKind>,
    /// Whether the TCP handshake was captured.
    pub start_seen: bool,
    /// Link (index into the document's links) that led to this connection.
    pub linked_from: Option<usize>,
    /// Events in order (in streaming modes, only those not yet handed on).
    pub events: Vec<Event>,
    /// Transactions in request order (in streaming modes, only those not yet settled).
    pub transactions: Vec<Transaction>,
    /// Transactions dropped from the front of `transactions` (the index of its first).
    pub tx_base: usize,
    /// Transactions settled early (streaming modes), waiting to be counted and reported.
    pub settled: Vec<Transaction>,
    /// Outcomes of transactions already settled and handed on.
    pub settled_outcomes: OutcomeCounts,
    /// Events already handed to streaming reports (counting dropped ones).
    pub emitted: usize,
    /// Events dropped from the front of `events` (the index of `events[0]`).
    pub base: usize,
    /// Commands and violations of the events handed on so far.
    pub counts: EventCounts,
    /// Violations added to events after they were emitted (event index, violation).
    pub late: Vec<(usize, Violation)>,
    st: State,
}

/// What a connection remembers between its lines.
#[derive(Debug)]
struct State {
    /// Each direction's wire decoder (taken out, `None`, only while its bytes are analysed).
    decoders: [Option<Box<Decoder>>; 2],
    /// Open requests by TrID (transaction index).
    open: crate::fasthash::FastMap<u32, usize>,
    /// PNGs waiting for their QNG, oldest first.
    pings: VecDeque<usize>,
    /// The rules' memory of the connection.
    rules: Checker,
    /// What is known of the dialect.
    dialect: infer::DialectState,
    /// The roles the commands seen so far allow.
    roles: Roles,
    /// The SYN whose MSNP8+ batch (lines without a TrID) may be arriving.
    syn_txn: Option<usize>,
    /// The line being checked was not UTF-8 (its text has replacement characters).
    lossy_line: bool,
    notices: Vec<Notice>,
    reveal: bool,
    /// Settle transactions early (the streaming modes).
    stream: bool,
    /// Nothing reads an event but its counts (streaming, and no output shows events): command
    /// lines are counted as they come ([`Connection::count_at_once`]) instead of kept as events
    /// until handed on.
    count_only: bool,
    /// Catalog positions of the commands counted so, not yet added to the overall counts.
    tallied: Vec<u8>,
    /// Transaction count that triggers the next settle pass.
    settle_next: usize,
    /// Response indices the held transactions list (at most [`MAX_LISTED_RESPONSES`]).
    listed: usize,
    /// A mirror's lent transactions' indices (`mirror::Lent`): `transactions[k]` is the
    /// transaction `lent_at[k]`. Empty in a connection analysed here.
    lent_at: Vec<usize>,
    /// The label and user as the last snapshot (`mirror`) sent them.
    sent_dialect: Option<String>,
    sent_user: Option<String>,
}

impl Connection {
    /// A new connection.
    pub fn new(
        id: ConnId,
        client: SocketAddr,
        server: SocketAddr,
        vlan: Option<u16>,
        start_seen: bool,
        opened: i64,
        opts: &Options,
    ) -> Self {
        Connection {
            id,
            client,
            affinity: client.ip(),
            server,
            vlan,
            role: Role::Unknown,
            dialect: None,
            dialect_source: None,
            user: None,
            opened,
            closed: None,
            close: None,
            start_seen,
            linked_from: None,
            events: Vec::new(),
            transactions: Vec::new(),
            tx_base: 0,
            settled: Vec::new(),
            settled_outcomes: OutcomeCounts::default(),
            emitted: 0,
            base: 0,
            counts: EventCounts::default(),
            late: Vec::new(),
            st: State {
                decoders: if start_seen {
                    [Decoder::new(opts.wire).sent_by(Side::Client), Decoder::new(opts.wire).sent_by(Side::Server)]
                } else {
                    [
                        Decoder::new_mid_stream(opts.wire).sent_by(Side::Client),
                        Decoder::new_mid_stream(opts.wire).sent_by(Side::Server),
                    ]
                }
                .map(|d| Some(Box::new(d))),
                open: Default::default(),
                pings: VecDeque::new(),
                rules: Checker::default(),
                dialect: infer::DialectState::default(),
                roles: Roles::ALL,
                syn_txn: None,
                lossy_line: false,
                notices: Vec::new(),
                reveal: opts.reveal_secrets,
                stream: opts.stream_events,
                count_only: opts.stream_events && opts.terse,
                tallied: Vec::new(),
                settle_next: SETTLE_AT,
                listed: 0,
                lent_at: Vec::new(),
                sent_dialect: None,
                sent_user: None,
            },
        }
    }

    /// Transactions by outcome: those settled and handed on early plus those still held.
    pub fn outcome_counts(&self) -> OutcomeCounts {
        let mut counts = self.settled_outcomes;
        for t in &self.transactions {
            counts.add(t.outcome);
        }
        counts
    }

    /// Adds a violation to an event, remembering it as late when the event was emitted.
    pub fn add_violation(&mut self, event: usize, v: Violation) {
        if event < self.emitted {
            self.late.push((event, v.clone()));
        }
        if let Some(e) = self.event_mut(event) {
            e.violations.push(v);
        }
    }

    /// The event with index `i`, unless it was dropped.
    pub fn event_mut(&mut self, i: usize) -> Option<&mut Event> {
        i.checked_sub(self.base).and_then(|k| self.events.get_mut(k))
    }

    /// The transaction with index `t`, unless it was settled and dropped (in a mirror, unless
    /// its reported events do not name it).
    pub fn txn(&self, t: usize) -> Option<&Transaction> {
        if !self.st.lent_at.is_empty() {
            return self.st.lent_at.binary_search(&t).ok().and_then(|k| self.transactions.get(k));
        }
        t.checked_sub(self.tx_base).and_then(|k| self.transactions.get(k))
    }

    /// Whether notices wait for [`Connection::take_notices`].
    pub fn has_notices(&self) -> bool {
        !self.st.notices.is_empty()
    }

    /// Notices produced since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.st.notices)
    }

    /// Sets the role, dialect and user learned from a referral: `dialect` is what the referring
    /// connection's dialect was then, and whether it was decided.
    pub fn inherit(&mut self, role: Role, dialect: (Dialects, bool), user: Option<String>, link: usize) {
        if self.role == Role::Unknown {
            self.role = role;
        }
        self.linked_from.get_or_insert(link);
        self.inherit_dialect(dialect.0, dialect.1);
        if self.user.is_none() {
            self.user = user;
        }
    }

    /// Learns the user from another connection (the switchboard that answered this one's RNG).
    pub fn learn_user(&mut self, user: &str) {
        if self.user.is_none() {
            self.user = Some(user.to_string());
        }
    }

    /// Sets the role from an address announced by a referral (before any byte is decoded).
    pub fn set_role_hint(&mut self, role: Role) {
        if self.role == Role::Unknown {
            self.role = role;
        }
    }

    /// Appends an event, giving it the next index; returns that index.
    fn push(&mut self, mut e: Event) -> usize {
        let index = self.base + self.events.len();
        e.index = index;
        self.events.push(e);
        index
    }

    /// Where nothing reads an event but its counts, counts the next event of a line at once, as
    /// handing it on would, instead of its being made and kept until then: one of `kind`
    /// without violations, while no event waits to be handed on. A command or error line is
    /// counted only when its verb is the catalog's (`verb`, its position); other kinds count
    /// nothing. Returns whether it did (otherwise the caller makes the event); a violation
    /// found on the line later is late, as on any event handed on. Making, keeping and dropping
    /// such events was 2 to 4 % of a summary's time.
    fn count_at_once(&mut self, kind: EventKind, verb: Option<usize>, violations: &[Violation]) -> bool {
        if !self.st.count_only || !self.events.is_empty() || self.emitted != self.base || !violations.is_empty() {
            return false;
        }
        let is_command = matches!(kind, EventKind::Command | EventKind::Error);
        match verb.and_then(|i| u8::try_from(i).ok()) {
            Some(i) if is_command => {
                self.st.tallied.push(i);
                self.counts.commands += 1;
            }
            _ if is_command => return false,
            _ => {}
        }
        self.base += 1;
        self.emitted += 1;
        true
    }

    /// The catalog positions of commands counted as they came ([`Connection::count_at_once`]),
    /// to add to the overall counts (and clear).
    pub(crate) fn tallied(&mut self) -> &mut Vec<u8> {
        &mut self.st.tallied
    }
}

/// A connection from 10.0.0.1:4000 to 10.0.0.2:1863, seen from its start, before any data,
/// for tests.
#[cfg(test)]
pub(crate) fn test_connection(opts: &Options) -> Connection {
    let client = SocketAddr::from(([10, 0, 0, 1], 4000));
    let server = SocketAddr::from(([10, 0, 0, 2], 1863));
    Connection::new(1, client, server, None, true, 0, opts)
}

/// [`test_connection`] once it has negotiated MSNP8, for tests.
#[cfg(test)]
pub(crate) fn msnp8_connection(opts: &Options) -> Connection {
    let mut c = test_connection(opts);
    c.data(crate::flow::Dir::C2S, 1, b"VER 1 MSNP8 CVR0\r\n", opts);
    c.data(crate::flow::Dir::S2C, 2, b"VER 1 MSNP8\r\n", opts);
    c
}
