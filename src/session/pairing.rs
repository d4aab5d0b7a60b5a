//! Pairing: each client request opens a transaction under its TrID (PNGs queue for their QNG),
//! and each server line with a TrID answers the request that holds it. Memory is bounded: at
//! most [`MAX_OPEN_TRIDS`] TrIDs and [`MAX_PINGS`] pings are tracked, a transaction lists at
//! most [`MAX_RESPONSES`] responses and a connection's held ones about
//! [`MAX_LISTED_RESPONSES`] in all, and in the streaming modes transactions that nothing can
//! answer any more, or that were answered long ago, are settled early, [`MAX_HELD`] at most
//! staying.

use super::model::{Outcome, Transaction};
use super::Connection;
use crate::flow::Dir;
use crate::msnp::command::Command;
use crate::msnp::verbs::{ANS, MSG, NAK, OUT, PNG, QNG, SYN};
use crate::rules::transactions;
use crate::rules::Violation;
use crate::shortstr::ShortStr;

/// Largest number of TrIDs tracked per connection; beyond it answered ones are forgotten first.
pub const MAX_OPEN_TRIDS: usize = 65_536;

/// Outstanding PNGs tracked per connection; beyond it the oldest is forgotten (unanswered).
pub const MAX_PINGS: usize = 65_536;

/// Responses listed per transaction (a SYN batch of the largest contact lists fits); the rest
/// are counted.
pub const MAX_RESPONSES: usize = 4_096;

/// Responses listed by all the transactions a connection holds (8 MiB of indices); past it
/// each lists only its first, and the rest are counted.
pub const MAX_LISTED_RESPONSES: usize = 1 << 20;

/// In the streaming modes, transactions kept before the unreachable ones are settled.
pub const SETTLE_AT: usize = 4_096;

/// In the streaming modes, transactions held per connection at most: past it the oldest are
/// settled even where a TrID or PNG still holds them (they are forgotten, unanswered).
pub const MAX_HELD: usize = 1 << 18;

impl Connection {
    /// Pairs requests and responses; returns the transaction the event belongs to.
    pub(super) fn pair(
        &mut self,
        cmd: &Command<'_>,
        dir: Dir,
        ts: i64,
        idx: usize,
        v: &mut Vec<Violation>,
    ) -> Option<usize> {
        if dir == Dir::C2S {
            self.request(cmd, ts, idx, v)
        } else {
            self.response(cmd, ts, idx, v)
        }
    }

    fn request(&mut self, cmd: &Command<'_>, ts: i64, idx: usize, v: &mut Vec<Violation>) -> Option<usize> {
        let verb = cmd.verb;
        if cmd.code == PNG {
            let t = self.new_txn(None, verb, idx, ts, true, None);
            self.st.pings.push_back(t);
            if self.st.pings.len() > MAX_PINGS {
                self.st.pings.pop_front();
            }
            return Some(t);
        }
        let trid = cmd.trid?;
        let open = self.st.open.get(&trid).and_then(|&old| self.txn(old));
        transactions::request(
            verb,
            trid,
            open.map(|o| (o.command.as_str(), o.responses.is_empty() && o.expects_reply)),
            v,
        );
        let ack_mode = (cmd.code == MSG).then(|| cmd.args.first().and_then(|m| m.chars().next())).flatten();
        let expects = match ack_mode {
            Some('U') | Some('N') => false,
            // An unknown command may want no reply; an error that answers it still pairs.
            _ if cmd.spec.is_none() => false,
            _ => cmd.code != OUT,
        };
        let t = self.new_txn(Some(trid), verb, idx, ts, expects, ack_mode);
        if self.st.open.len() >= MAX_OPEN_TRIDS {
            let (txns, base) = (&self.transactions, self.tx_base);
            self.st
                .open
                .retain(|_, t| t.checked_sub(base).and_then(|k| txns.get(k)).is_some_and(|x| x.responses.is_empty()));
            if self.st.open.len() >= MAX_OPEN_TRIDS {
                self.st.open.clear();
            }
        }
        self.st.open.insert(trid, t);
        Some(t)
    }

    fn response(&mut self, cmd: &Command<'_>, ts: i64, idx: usize, v: &mut Vec<Violation>) -> Option<usize> {
        let verb = cmd.verb;
        if cmd.code == QNG {
            return match self.st.pings.pop_front() {
                Some(t) => {
                    self.answer(t, idx, ts, false);
                    Some(t)
                }
                None => {
                    transactions::pong_without_ping(v);
                    None
                }
            };
        }
        if cmd.trid.is_none() && cmd.form().is_some_and(|f| f.in_batch) {
            // A line of an MSNP8+ SYN batch answers the SYN without a TrID.
            let t = self.st.syn_txn?;
            self.answer(t, idx, ts, false);
            return Some(t);
        }
        self.st.syn_txn = None;
        let trid = cmd.trid?;
        let Some(&t) = self.st.open.get(&trid) else {
            transactions::unmatched(verb, trid, v);
            return None;
        };
        let req = self.txn(t).map(|x| x.command.clone())?;
        let is_error = cmd.error.is_some();
        if !transactions::fits(&req, verb, is_error, trid, self.role, v) {
            return None;
        }
        let req_code = crate::msnp::verbs::code(req.as_str());
        if req_code == MSG {
            transactions::ack_mode(verb, trid, self.txn(t).and_then(|x| x.ack_mode), v);
        }
        self.answer(t, idx, ts, is_error || cmd.code == NAK);
        if cmd.code == SYN && req_code == SYN {
            self.st.syn_txn = Some(t);
        }
        if !is_error {
            match req_code {
                SYN if crate::rules::P010.dialects.covers(self.st.dialect.span) => self.st.rules.syn_batch(t, cmd, v),
                ANS => self.st.rules.roster(t, cmd, v),
                _ => {}
            }
        }
        Some(t)
    }

    fn new_txn(
        &mut self,
        trid: Option<u32>,
        verb: &str,
        idx: usize,
        ts: i64,
        expects_reply: bool,
        ack_mode: Option<char>,
    ) -> usize {
        self.transactions.push(Transaction {
            trid,
            command: ShortStr::new(verb),
            request: idx,
            responses: Vec::new(),
            responses_omitted: 0,
            outcome: if expects_reply { Outcome::Unanswered } else { Outcome::NoReplyExpected },
            latency_ms: None,
            expects_reply,
            ack_mode,
            ts,
        });
        let t = self.tx_base + self.transactions.len() - 1;
        if self.st.stream && self.transactions.len() >= self.st.settle_next {
            self.settle_unreferenced(t);
            // Amortised: the next pass waits until the list has doubled, or reached MAX_HELD.
            self.st.settle_next = SETTLE_AT.max(2 * self.transactions.len()).min(MAX_HELD);
        }
        t
    }

    /// Streaming modes: transactions at the front that no response can reach any more (their
    /// TrID was reused or evicted, or their PNG dropped), or that were answered and are more
    /// than [`SETTLE_AT`] transactions old, are settled now, so a connection's memory does not
    /// grow with its requests (a later answer on such a TrID pairs with nothing, silently).
    /// `keep` (the newest) always stays.
    fn settle_unreferenced(&mut self, keep: usize) {
        // A login's answered TrIDs stay open to the end: they must not hold the rest back.
        let recent = (self.tx_base + self.transactions.len()).saturating_sub(SETTLE_AT);
        let (txns, base) = (&self.transactions, self.tx_base);
        let pins = |t: &usize| {
            *t >= recent || t.checked_sub(base).and_then(|k| txns.get(k)).is_some_and(|x| x.responses.is_empty())
        };
        let mut referenced: crate::fasthash::FastSet<usize> = self.st.open.values().copied().filter(pins).collect();
        referenced.extend(self.st.pings.iter().copied());
        referenced.insert(keep);
        referenced.extend(self.st.rules.referenced_txns());
        let mut n = 0;
        while n < self.transactions.len() && !referenced.contains(&(self.tx_base + n)) {
            n += 1;
        }
        // An old request nothing answers holds every later transaction back: past MAX_HELD
        // the oldest half goes, and what still names it forgets it.
        let forced = self.transactions.len() - n >= MAX_HELD;
        if forced {
            n = self.transactions.len() - MAX_HELD / 2;
        }
        if n == 0 {
            return;
        }
        let drained: Vec<Transaction> = self.transactions.drain(..n).collect();
        self.tx_base += n;
        if forced {
            let base = self.tx_base;
            self.st.open.retain(|_, t| *t >= base);
            self.st.pings.retain(|t| *t >= base);
            self.st.syn_txn = self.st.syn_txn.filter(|t| *t >= base);
        }
        for mut t in drained {
            self.st.listed = self.st.listed.saturating_sub(t.responses.len());
            if t.responses.is_empty() && t.expects_reply {
                t.outcome = Outcome::Unanswered;
                let why = ", and none can pair with it any more";
                self.add_violation(t.request, transactions::unanswered(&t.label(), t.ack_mode, why));
            }
            self.settled.push(t);
        }
    }

    fn answer(&mut self, t: usize, idx: usize, ts: i64, error: bool) {
        let Some(txn) = t.checked_sub(self.tx_base).and_then(|k| self.transactions.get_mut(k)) else { return };
        if txn.responses.is_empty() {
            txn.latency_ms = Some(((ts - txn.ts) as f64 / 1e3).round() / 1e3);
            txn.outcome = if error { Outcome::Error } else { Outcome::Ok };
        } else if error {
            txn.outcome = Outcome::Error;
        }
        // The first is always listed: an empty list means unanswered.
        let room = txn.responses.len() < MAX_RESPONSES && self.st.listed < MAX_LISTED_RESPONSES;
        if txn.responses.is_empty() || room {
            if txn.responses.is_empty() {
                // Most requests get one answer: room for one, not the four a first push makes.
                txn.responses.reserve_exact(1);
            }
            txn.responses.push(idx);
            self.st.listed += 1;
        } else {
            txn.responses_omitted = txn.responses_omitted.saturating_add(1);
        }
    }
}
