//! IP fragment reassembly (IPv4 and IPv6), so TCP segments carried in fragments reach the
//! reassembler whole. Bounded: a limited number of datagrams in flight, each at most 64 KiB,
//! dropped (and counted) when incomplete after a timeout. Where fragments were lost or cut by
//! the snap length, the datagram never completes and TCP reassembly reports the hole as a gap.

use super::{Fragment, Sliced};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Limits of fragment reassembly.
#[derive(Debug, Clone, Copy)]
pub struct DefragLimits {
    /// Datagrams reassembled at once; the oldest is dropped past it.
    pub max_datagrams: usize,
    /// Capture time after which an incomplete datagram is dropped.
    pub timeout_ns: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits { max_datagrams: 1024, timeout_ns: 30 * 1_000_000_000 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
    vlan: Option<u16>,
}

#[derive(Debug, Default)]
struct Datagram {
    first_ns: i64,
    /// Which datagram of the table's this was to start: among those that started at the same
    /// time, the first is the oldest (the table's own order differs from run to run, and every
    /// thread of sharded analysis must drop the same one).
    started: u64,
    parts: BTreeMap<u32, Vec<u8>>,
    /// Length of the whole payload, known once the last fragment arrived.
    total: Option<u32>,
    bytes: usize,
}

/// A reassembled IP payload.
#[derive(Debug, Clone)]
pub struct Reassembled {
    /// Sender.
    pub src: IpAddr,
    /// Receiver.
    pub dst: IpAddr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Outer VLAN id.
    pub vlan: Option<u16>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Reassembled {
    /// Slices the TCP segment the payload carries.
    pub fn tcp(&self) -> Sliced<'_> {
        if self.protocol != 6 {
            return Sliced::Other;
        }
        super::tcp(self.src, self.dst, &self.payload, 0, self.vlan)
    }
}

/// Counters of fragment reassembly.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DefragStats {
    /// Fragments seen.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped incomplete (lost or truncated fragments, timeout, table full).
    pub dropped: u64,
}

/// The table of datagrams being reassembled.
#[derive(Debug, Default)]
pub struct Defrag {
    pending: HashMap<Key, Datagram>,
    limits: DefragLimits,
    stats: DefragStats,
    /// Datagrams started so far.
    started: u64,
}

const MAX_DATAGRAM: usize = 65_535;

impl Defrag {
    /// An empty table.
    pub fn new(limits: DefragLimits) -> Self {
        Defrag { pending: HashMap::new(), limits, stats: DefragStats::default(), started: 0 }
    }

    /// Counters so far (datagrams still pending are not counted as dropped).
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Adds a fragment; returns the datagram when it is complete.
    pub fn push(&mut self, f: &Fragment<'_>, ts_ns: i64) -> Option<Reassembled> {
        self.stats.fragments += 1;
        self.expire(ts_ns);
        let key = Key { src: f.src, dst: f.dst, id: f.id, protocol: f.protocol, vlan: f.vlan };
        if !self.pending.contains_key(&key) && self.pending.len() >= self.limits.max_datagrams {
            if let Some(oldest) = self.pending.iter().min_by_key(|(_, d)| (d.first_ns, d.started)).map(|(k, _)| *k) {
                self.pending.remove(&oldest);
                self.stats.dropped += 1;
            }
        }
        let started = &mut self.started;
        let d = self.pending.entry(key).or_insert_with(|| {
            *started += 1;
            Datagram { first_ns: ts_ns, started: *started, ..Datagram::default() }
        });
        let end = f.offset as usize + f.data.len() + f.missing as usize;
        if end > MAX_DATAGRAM || d.bytes + f.data.len() > MAX_DATAGRAM {
            self.pending.remove(&key);
            self.stats.dropped += 1;
            return None;
        }
        if !f.more {
            d.total = Some(end as u32);
        }
        // First data wins: an exact duplicate offset keeps the earlier fragment.
        if !f.data.is_empty() && !d.parts.contains_key(&f.offset) {
            d.bytes += f.data.len();
            d.parts.insert(f.offset, f.data.to_vec());
        }
        let total = d.total? as usize;
        let mut reached = 0usize;
        for (&off, data) in &d.parts {
            if off as usize > reached {
                return None;
            }
            reached = reached.max(off as usize + data.len());
        }
        if reached < total {
            return None;
        }
        let d = self.pending.remove(&key)?;
        let mut payload = vec![0u8; total];
        // Write later parts first so earlier ones win where they overlap.
        for (off, data) in d.parts.iter().rev() {
            let off = *off as usize;
            let n = data.len().min(total.saturating_sub(off));
            payload[off..off + n].copy_from_slice(&data[..n]);
        }
        self.stats.reassembled += 1;
        Some(Reassembled { src: key.src, dst: key.dst, protocol: key.protocol, vlan: key.vlan, payload })
    }

    fn expire(&mut self, now_ns: i64) {
        let limit = now_ns.saturating_sub(self.limits.timeout_ns);
        let before = self.pending.len();
        self.pending.retain(|_, d| d.first_ns >= limit);
        self.stats.dropped += (before - self.pending.len()) as u64;
    }

    /// Ends the input: datagrams still incomplete are dropped.
    pub fn finish(&mut self) {
        self.stats.dropped += self.pending.len() as u64;
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(id: u32, offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        let (src, dst) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        Fragment { src, dst, id, protocol: 6, offset, more, data, missing: 0, vlan: None }
    }

    #[test]
    fn a_full_table_drops_the_first_started_of_datagrams_that_started_at_once() {
        let limits = DefragLimits { max_datagrams: 16, ..DefragLimits::default() };
        let mut d = Defrag::new(limits);
        // Seventeen first halves at one time: the first one started goes, whatever the
        // table's order.
        for id in 0..17 {
            assert!(d.push(&fragment(id, 0, true, &[1; 8]), 5).is_none());
        }
        assert_eq!(d.stats().dropped, 1);
        for id in 1..17 {
            assert!(d.push(&fragment(id, 8, false, &[2; 8]), 5).is_some(), "datagram {id} completes");
        }
        assert!(d.push(&fragment(0, 8, false, &[2; 8]), 5).is_none(), "datagram 0 was dropped");
    }
}
