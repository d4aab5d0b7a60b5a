//! Counts over the whole input: packets, connections by role, users, commands by verb,
//! transactions by outcome, violations by severity and rule, and a latency histogram with
//! fixed memory.

use super::report::Report;
use crate::rules::Violation;
use crate::session::{Connection, EventKind, Outcome, OutcomeCounts, Transaction};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts over the whole input.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Packets read.
    pub packets: u64,
    /// Bytes of capture file read.
    pub bytes: u64,
    /// Packets that were not TCP (or not IP).
    pub non_tcp: u64,
    /// Frames that could not be sliced.
    pub malformed_packets: u64,
    /// IP fragments seen, datagrams reassembled from them, and datagrams dropped incomplete.
    pub fragments: crate::net::defrag::DefragStats,
    /// Connections analysed.
    pub connections: u64,
    /// Connections by role.
    pub roles: BTreeMap<String, u64>,
    /// Distinct users seen.
    pub users: u64,
    /// Commands and error lines.
    pub commands: u64,
    /// Commands by verb.
    pub by_command: BTreeMap<String, u64>,
    /// Transactions by outcome.
    pub transactions: BTreeMap<String, u64>,
    /// Outcomes counted since the last [`Summary::fold`], not yet in `transactions`.
    #[serde(skip)]
    outcomes: OutcomeCounts,
    /// Violations by severity.
    pub by_severity: BTreeMap<String, u64>,
    /// Violations by rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Request-to-first-response latency over all transactions.
    pub latency: Latency,
    /// Segments retransmitted, out of order, gaps.
    pub tcp: crate::reassembly::Stats,
    /// The error that stopped reading, if any.
    pub input_error: Option<String>,
    /// Proxied connections that failed (at most 1,000 kept; `failures_total` counts all).
    pub failures: Vec<Failure>,
    /// Failed proxied connections.
    pub failures_total: u64,
}

/// A latency histogram with fixed memory: exact to the microsecond below 1 ms, then buckets 1 %
/// wide, so percentiles are exact to within 1 % however many transactions there are. The
/// counts are a list indexed by bucket, as long as the highest bucket used (a tree map was
/// about 140 instructions a transaction); at most [`Latency::TOP`] + 1 of them.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    buckets: Vec<u64>,
    count: u64,
    max_ms: f64,
}

impl Latency {
    /// The highest bucket: 1.01^4500 ms, past any latency an i64 of nanoseconds can hold.
    const TOP: u32 = 1000 + 4500;

    fn bucket(us: f64) -> u32 {
        if us < 1000.0 {
            us.max(0.0) as u32
        } else {
            1000 + (((us / 1000.0).ln() / 1.01f64.ln()) as u32).min(Self::TOP - 1000)
        }
    }

    fn value_ms(bucket: u32) -> f64 {
        if bucket < 1000 {
            bucket as f64 / 1000.0
        } else {
            1.01f64.powi((bucket - 1000) as i32)
        }
    }

    /// Records one latency.
    pub fn add(&mut self, ms: f64) {
        let b = Self::bucket(ms * 1000.0) as usize;
        if b >= self.buckets.len() {
            self.buckets.resize(b + 1, 0);
        }
        if let Some(n) = self.buckets.get_mut(b) {
            *n += 1;
        }
        self.count += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `p`-th percentile (0–100) in milliseconds.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in (0u32..).zip(&self.buckets) {
            seen += n;
            if seen >= rank {
                return Some(Self::value_ms(b).min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("count", &self.count)?;
        for (k, p) in [("p50_ms", 50.0), ("p90_ms", 90.0), ("p99_ms", 99.0)] {
            m.serialize_entry(k, &self.percentile(p).map(|v| (v * 1000.0).round() / 1000.0))?;
        }
        m.serialize_entry("max_ms", &(self.count > 0).then_some(self.max_ms))?;
        m.end()
    }
}

/// A proxied connection that could not be relayed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Time (seconds since the epoch).
    pub ts: f64,
    /// The client's address.
    pub client: String,
    /// The target the proxy tried.
    pub target: String,
    /// Why it failed.
    pub reason: String,
}

impl Latency {
    /// Adds what `other` recorded.
    fn absorb(&mut self, other: &Latency) {
        if other.buckets.len() > self.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, n) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += n;
        }
        self.count += other.count;
        self.max_ms = self.max_ms.max(other.max_ms);
    }
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        match into.get_mut(k) {
            Some(m) => *m += n,
            None => {
                into.insert(k.clone(), *n);
            }
        }
    }
}

impl Summary {
    /// Adds the counts a worker of sharded analysis kept: its events and transactions settled
    /// early, and its reassembly (the merge counts packets and connections itself).
    pub(super) fn absorb(&mut self, w: &Summary) {
        self.commands += w.commands;
        add_counts(&mut self.by_command, &w.by_command);
        add_counts(&mut self.transactions, &w.transactions);
        self.outcomes.absorb(&w.outcomes);
        add_counts(&mut self.by_severity, &w.by_severity);
        add_counts(&mut self.by_rule, &w.by_rule);
        self.latency.absorb(&w.latency);
        let (t, o) = (&mut self.tcp, &w.tcp);
        t.segments += o.segments;
        t.retransmissions += o.retransmissions;
        t.out_of_order += o.out_of_order;
        t.gaps += o.gaps;
        t.gap_bytes += o.gap_bytes;
    }

    /// Counts a connection that ended: its role, the violations found on its events after they
    /// were handed on (the events themselves were counted then), and its transactions.
    pub(super) fn connection(&mut self, c: &Connection) {
        self.connections += 1;
        bump(&mut self.roles, c.role.as_str());
        for (_, v) in &c.late {
            self.violation(v);
        }
        for t in &c.transactions {
            self.transaction(t);
        }
    }

    /// Counts one transaction's outcome and latency.
    fn transaction(&mut self, t: &Transaction) {
        if let Some(ms) = t.latency_ms {
            self.latency.add(ms);
        }
        self.outcomes.add(t.outcome);
    }

    /// Moves the outcomes counted since the last call into `transactions` (done before the
    /// summary is read: counting by name was a tree lookup a transaction).
    pub(super) fn fold(&mut self) {
        for o in Outcome::ALL {
            let n = self.outcomes.get(o);
            if n > 0 {
                *self.transactions.entry(o.as_str().to_string()).or_default() += n;
            }
        }
        self.outcomes = OutcomeCounts::default();
    }

    fn violation(&mut self, v: &Violation) {
        bump(&mut self.by_severity, v.severity.as_str());
        bump(&mut self.by_rule, v.rule);
    }
}

/// Hands a connection's new events (and transactions settled early) to the report, counts
/// them, and drops them when streaming. `verbs` counts commands by catalog position.
pub(super) fn emit(c: &mut Connection, s: &mut Summary, verbs: &mut [u64], report: &mut dyn Report, stream: bool) {
    let settled = take_settled(c, s);
    if !settled.is_empty() {
        report.settled(c, &settled);
    }
    let Some(from) = count_new(c, s, verbs) else { return };
    report.events(c, from);
    if stream {
        c.base += c.events.len();
        c.events.clear();
    }
}

/// What [`emit`] would report, counted the same way but handed back instead (a worker of
/// sharded analysis passes it to the thread that reports); the events leave the connection.
/// Streaming modes only.
pub(super) fn emit_recorded(c: &mut Connection, s: &mut Summary, verbs: &mut [u64]) -> Option<super::handon::Emitted> {
    let settled = take_settled(c, s);
    let from = count_new(c, s, verbs);
    if settled.is_empty() && from.is_none() {
        return None;
    }
    let snapshot = c.snapshot(false);
    let lent = from.map(|f| c.lend_transactions(f)).unwrap_or_default();
    let events = match from {
        Some(_) => {
            c.base += c.events.len();
            std::mem::take(&mut c.events)
        }
        None => Vec::new(),
    };
    Some(super::handon::Emitted { id: c.id, snapshot, lent, settled, from, events })
}

/// Transactions settled early since the last call, counted.
fn take_settled(c: &mut Connection, s: &mut Summary) -> Vec<Transaction> {
    let settled = std::mem::take(&mut c.settled);
    for t in &settled {
        s.transaction(t);
        c.settled_outcomes.add(t.outcome);
    }
    settled
}

/// Counts the events not handed on yet and marks them handed on; returns the position of the
/// first in `c.events`, if there is any.
fn count_new(c: &mut Connection, s: &mut Summary, verbs: &mut [u64]) -> Option<usize> {
    // Commands the connection counted as they came (it kept no event of them).
    for i in c.tallied().drain(..) {
        s.commands += 1;
        if let Some(n) = verbs.get_mut(usize::from(i)) {
            *n += 1;
        }
    }
    let total = c.base + c.events.len();
    if total <= c.emitted {
        return None;
    }
    let from = c.emitted - c.base;
    c.emitted = total;
    for e in &c.events[from..] {
        if matches!(e.kind, EventKind::Command | EventKind::Error) {
            if let Some(cmd) = &e.command {
                c.counts.commands += 1;
                s.commands += 1;
                match crate::msnp::catalog::index_bytes(cmd.as_bytes()).and_then(|i| verbs.get_mut(i)) {
                    Some(n) => *n += 1,
                    None => bump(&mut s.by_command, cmd.as_str()),
                }
            }
        }
        for v in &e.violations {
            s.violation(v);
            c.counts.violations.add(v.severity);
        }
    }
    Some(from)
}

/// Adds one to `key`'s count, allocating the key only the first time.
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_percentiles_and_bounds() {
        let mut l = Latency::default();
        for ms in [0.25, 0.25, 0.5, 3.0, 40.0] {
            l.add(ms);
        }
        assert_eq!(l.count(), 5);
        assert_eq!(l.percentile(40.0), Some(0.25));
        assert_eq!(l.percentile(60.0), Some(0.5));
        // 3 ms lies in a 1 % bucket whose lower edge is within 1 % of it.
        let p80 = l.percentile(80.0).unwrap_or_default();
        assert!((2.97..=3.0).contains(&p80), "{p80}");
        let top = l.percentile(100.0).unwrap_or_default();
        assert!((39.6..=40.0).contains(&top), "{top}");
        // Values no capture gives stay within the list's bound.
        for ms in [f64::INFINITY, f64::MAX, 1e300, -5.0, f64::NAN] {
            l.add(ms);
        }
        assert!(l.buckets.len() <= Latency::TOP as usize + 1);
        assert_eq!(l.count(), 10);
    }

    #[test]
    fn latencies_absorbed_count_as_if_recorded_in_one() {
        let (mut a, mut b, mut all) = (Latency::default(), Latency::default(), Latency::default());
        for (i, ms) in [0.1, 7.0, 0.1, 900.0, 2.5, 0.003].into_iter().enumerate() {
            if i % 2 == 0 {
                a.add(ms)
            } else {
                b.add(ms)
            }
            all.add(ms);
        }
        // The shorter list absorbs the longer one, and the other way round.
        let (mut ab, mut ba) = (a.clone(), b.clone());
        ab.absorb(&b);
        ba.absorb(&a);
        for l in [&ab, &ba] {
            assert_eq!(l.count(), all.count());
            for p in [1.0, 34.0, 50.0, 67.0, 99.0] {
                assert_eq!(l.percentile(p), all.percentile(p));
            }
        }
    }

    #[test]
    fn outcomes_are_named_when_folded_and_absorbed_unfolded() {
        let (mut s, mut w) = (Summary::default(), Summary::default());
        for o in [Outcome::Ok, Outcome::Ok, Outcome::Error] {
            s.outcomes.add(o);
        }
        w.outcomes.add(Outcome::Unanswered);
        w.outcomes.add(Outcome::Ok);
        assert!(s.transactions.is_empty(), "counted, not yet named");
        s.absorb(&w);
        s.fold();
        s.fold();
        let got: Vec<(&str, u64)> = s.transactions.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(got, [("error", 1), ("ok", 3), ("unanswered", 1)]);
    }
}
