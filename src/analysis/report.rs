//! What the analysis hands on: the [`Report`] interface every output implements, the links
//! between connections it decides, and [`Tee`] to feed several reports at once.

use super::summary::{Failure, Summary};
use crate::flow::ConnId;
use crate::msnp::referral::ReferralKind;
use crate::session::{Connection, Transaction};
use serde::Serialize;
use std::collections::BTreeMap;

/// One end of a link.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct LinkFrom {
    /// Connection id.
    pub connection: ConnId,
    /// Event index of the referral line.
    pub event: usize,
}

/// The connection a link leads to.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct LinkTo {
    /// Connection id.
    pub connection: ConnId,
}

/// A referral and the connection it led to.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// Which referral.
    pub kind: ReferralKind,
    /// The referral line.
    pub from: LinkFrom,
    /// The connection it led to, if captured.
    pub to: Option<LinkTo>,
    /// The announced address.
    pub address: String,
    /// The address the proxy gave the client instead, when proxied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewritten_to: Option<String>,
    /// Connections at its ends still open (streaming modes drop it when none is).
    #[serde(skip)]
    pub(super) refs: u8,
    #[serde(skip)]
    pub(super) session: Option<String>,
    #[serde(skip)]
    pub(super) user: Option<String>,
    #[serde(skip)]
    pub(super) dialect: (crate::msnp::dialect::Dialects, bool),
}

static EMPTY_LINKS: BTreeMap<usize, Link> = BTreeMap::new();

/// The links known now, by index. In the streaming modes links whose connections have all
/// ended are handed to [`Report::retired`] and leave this table.
#[derive(Clone, Copy)]
pub struct Links<'a>(pub(super) &'a BTreeMap<usize, Link>);

impl<'a> Links<'a> {
    /// No links.
    pub const EMPTY: Links<'static> = Links(&EMPTY_LINKS);

    /// The link with index `i`, if still held.
    pub fn get(&self, i: usize) -> Option<&'a Link> {
        self.0.get(&i)
    }

    /// The links held, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &'a Link> + 'a {
        self.0.values()
    }

    /// The links held with their indices, in index order.
    pub fn iter_indexed(&self) -> impl Iterator<Item = (usize, &'a Link)> + 'a {
        self.0.iter().map(|(i, l)| (*i, l))
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Links<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.values())
    }
}

/// Receives the results as they are decided.
pub trait Report {
    /// The time of the first packet (the transcript's time zero).
    fn begin(&mut self, _first_ts_ns: i64) {}
    /// A connection is being analysed (role, user and dialect may still change).
    fn opened(&mut self, _conn: &Connection) {}
    /// New events: `conn.events[from..]`.
    fn events(&mut self, _conn: &Connection, _from: usize) {}
    /// A proxied connection failed.
    fn failure(&mut self, _failure: &Failure) {}
    /// Transactions settled before their connection ended (streaming modes).
    fn settled(&mut self, _conn: &Connection, _txns: &[crate::session::Transaction]) {}
    /// A connection ended; its analysis is final.
    fn connection(&mut self, conn: &Connection, links: Links<'_>);
    /// The input ended.
    fn finish(&mut self, summary: &Summary, links: Links<'_>);
    /// Streaming modes: a link whose connections have all ended leaves the table.
    fn retired(&mut self, _index: usize, _link: &Link) {}
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

    fn settled(&mut self, conn: &Connection, txns: &[Transaction]) {
        for r in self.0.iter_mut() {
            r.settled(conn, txns);
        }
    }

    fn failure(&mut self, f: &Failure) {
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
