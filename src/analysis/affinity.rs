//! Which client machine a TCP flow belongs to, decided from its packets before reassembly and
//! analysis. Every link in MSNP joins connections of one client machine (its dispatch
//! connection to its notification connection, a user's notification connection to the
//! switchboard it was referred to, a callee's to the switchboard it was invited to), so the
//! analysis matches referrals only within one affinity, and sharded analysis
//! ([`super::shard`]) puts all flows of one affinity on one worker. The table is the same in
//! both, so both decide alike.

use crate::fasthash::FastMap;
use crate::net::{Segment, TcpFlags};
use crate::reassembly::{FlowKey, TIME_WAIT_NS};
use std::collections::HashSet;
use std::net::IpAddr;

/// Flows remembered at most (the least recently seen half is forgotten past it).
pub const MAX_FLOWS: usize = 1 << 18;

/// The affinity of every flow seen lately.
pub struct Affinity {
    ports: HashSet<u16>,
    flows: FastMap<FlowKey, (IpAddr, i64)>,
    /// Entries unseen this long are forgotten (longer than the reassembler remembers a flow).
    keep_ns: i64,
    last_sweep_ns: i64,
}

impl Affinity {
    /// A table for flows on `ports` (the MSNP server ports) whose connections go idle after
    /// `idle_timeout_ns`.
    pub fn new(ports: &HashSet<u16>, idle_timeout_ns: i64) -> Self {
        Affinity {
            ports: ports.clone(),
            flows: FastMap::default(),
            keep_ns: idle_timeout_ns.max(0).saturating_add(TIME_WAIT_NS).saturating_mul(2),
            last_sweep_ns: i64::MIN,
        }
    }

    /// The affinity of the flow `seg` belongs to: decided at the flow's first segment (the
    /// SYN's sender, the SYN-ACK's receiver, the side not on a server port, or the side with
    /// the higher port) and kept while the flow is seen.
    pub fn of(&mut self, seg: &Segment<'_>, ts_ns: i64) -> IpAddr {
        if ts_ns > self.last_sweep_ns.saturating_add(self.keep_ns / 4) {
            self.sweep(ts_ns);
        }
        let key = FlowKey::new(seg.src, seg.dst, seg.vlan);
        if let Some((ip, seen)) = self.flows.get_mut(&key) {
            *seen = ts_ns;
            return *ip;
        }
        let ip = self.decide(seg);
        if self.flows.len() >= MAX_FLOWS {
            self.forget_oldest_half();
        }
        self.flows.insert(key, (ip, ts_ns));
        ip
    }

    fn decide(&self, seg: &Segment<'_>) -> IpAddr {
        let syn = seg.flags.has(TcpFlags::SYN);
        let ack = seg.flags.has(TcpFlags::ACK);
        if syn {
            return if ack { seg.dst.ip() } else { seg.src.ip() };
        }
        match (self.ports.contains(&seg.src.port()), self.ports.contains(&seg.dst.port())) {
            (true, false) => seg.dst.ip(),
            (false, true) => seg.src.ip(),
            // Ephemeral client ports are usually higher than service ports.
            _ if seg.src.port() < seg.dst.port() => seg.dst.ip(),
            _ => seg.src.ip(),
        }
    }

    fn sweep(&mut self, now_ns: i64) {
        self.last_sweep_ns = now_ns;
        let limit = now_ns.saturating_sub(self.keep_ns);
        self.flows.retain(|_, (_, seen)| *seen >= limit);
    }

    fn forget_oldest_half(&mut self) {
        let mut times: Vec<i64> = self.flows.values().map(|(_, t)| *t).collect();
        let mid = times.len() / 2;
        let cut = *times.select_nth_unstable(mid).1;
        self.flows.retain(|_, (_, t)| *t > cut);
    }

    /// Flows remembered now.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}
