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

/// Flows remembered at most (past it, new flows are decided by their addresses alone).
pub const MAX_FLOWS: usize = 1 << 18;

/// The affinity of every flow seen lately.
pub struct Affinity {
    ports: HashSet<u16>,
    /// Each flow's affinity and its place in `seen`.
    flows: FastMap<FlowKey, (IpAddr, u32)>,
    /// When each flow was last seen, by place: a packet of the flow just looked up (two in
    /// three of the generated capture's packets) refreshes it without hashing its key again.
    seen: Vec<i64>,
    /// Places in `seen` no flow holds.
    free: Vec<u32>,
    /// The flow last looked up: its key, affinity and place.
    last: Option<(FlowKey, IpAddr, u32)>,
    /// Entries unseen this long are forgotten: past it the reassembler has forgotten the flow
    /// too (an open flow idle for its timeout, a closed one after TIME-WAIT, each swept within a
    /// quarter of the idle timeout), so no flow changes affinity while it is tracked.
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
            seen: Vec::new(),
            free: Vec::new(),
            last: None,
            keep_ns: idle_timeout_ns.max(TIME_WAIT_NS).saturating_add(idle_timeout_ns.max(0) / 2),
            last_sweep_ns: i64::MIN,
        }
    }

    /// The affinity of the flow `seg` belongs to: decided at the flow's first segment (the
    /// SYN's sender, the SYN-ACK's receiver, the side not on a server port, or the side with
    /// the higher port) and kept while the flow is seen.
    pub fn of(&mut self, seg: &Segment<'_>, ts_ns: i64) -> IpAddr {
        self.of_key(seg, FlowKey::new(seg.src, seg.dst, seg.vlan), ts_ns)
    }

    /// [`Affinity::of`] with the segment's flow key already made.
    pub(crate) fn of_key(&mut self, seg: &Segment<'_>, key: FlowKey, ts_ns: i64) -> IpAddr {
        if ts_ns > self.last_sweep_ns.saturating_add(self.keep_ns / 4) {
            self.sweep(ts_ns);
        }
        if let Some((last, ip, at)) = self.last {
            if last == key {
                return self.saw(ip, at, ts_ns);
            }
        }
        if let Some(&(ip, at)) = self.flows.get(&key) {
            self.last = Some((key, ip, at));
            return self.saw(ip, at, ts_ns);
        }
        if self.flows.len() >= MAX_FLOWS {
            // Full (a flood of flows): new flows are decided by their addresses alone, the same
            // for every packet of theirs, and not remembered; no remembered flow is forgotten
            // before its time, so none changes affinity while it is tracked.
            return self.by_ports(seg);
        }
        let ip = self.decide(seg);
        let at = match self.free.pop() {
            Some(at) => at,
            None => {
                self.seen.push(ts_ns);
                // At most `MAX_FLOWS` places are ever made.
                u32::try_from(self.seen.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.flows.insert(key, (ip, at));
        self.last = Some((key, ip, at));
        self.saw(ip, at, ts_ns)
    }

    /// Marks the flow at place `at` seen at `ts_ns`; its affinity is `ip`.
    fn saw(&mut self, ip: IpAddr, at: u32, ts_ns: i64) -> IpAddr {
        if let Some(t) = self.seen.get_mut(at as usize) {
            *t = ts_ns;
        }
        ip
    }

    fn decide(&self, seg: &Segment<'_>) -> IpAddr {
        let syn = seg.flags.has(TcpFlags::SYN);
        let ack = seg.flags.has(TcpFlags::ACK);
        if syn {
            return if ack { seg.dst.ip() } else { seg.src.ip() };
        }
        self.by_ports(seg)
    }

    /// The side not on a server port, else the side with the higher port, else the higher
    /// address: the same in both directions.
    fn by_ports(&self, seg: &Segment<'_>) -> IpAddr {
        let (s, d) = (seg.src.port(), seg.dst.port());
        match (self.ports.contains(&s), self.ports.contains(&d)) {
            (true, false) => seg.dst.ip(),
            (false, true) => seg.src.ip(),
            // Ephemeral client ports are usually higher than service ports.
            _ if s < d => seg.dst.ip(),
            _ if s > d => seg.src.ip(),
            _ => seg.src.ip().max(seg.dst.ip()),
        }
    }

    fn sweep(&mut self, now_ns: i64) {
        self.last_sweep_ns = now_ns;
        let limit = now_ns.saturating_sub(self.keep_ns);
        let (seen, free) = (&self.seen, &mut self.free);
        self.flows.retain(|_, &mut (_, at)| {
            let keep = seen.get(at as usize).is_some_and(|&t| t >= limit);
            if !keep {
                free.push(at);
            }
            keep
        });
        self.last = None;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn seg(src: &str, dst: &str, flags: u8) -> Segment<'static> {
        Segment {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            vlan: None,
            seq: 1,
            ack: 0,
            flags: TcpFlags(flags),
            payload: b"",
            missing: 0,
        }
    }

    fn table() -> Affinity {
        Affinity::new(&HashSet::from([1863]), 600_000_000_000)
    }

    fn ip(a: &str) -> IpAddr {
        a.parse::<SocketAddr>().unwrap().ip()
    }

    #[test]
    fn the_syn_decides_and_the_decision_is_kept_for_the_flow() {
        let mut t = table();
        let (client, server) = ("10.0.0.1:1100", "10.0.0.9:7001");
        // A low client port against a higher server port: the SYN still names the client.
        assert_eq!(t.of(&seg(client, server, TcpFlags::SYN), 0), ip(client));
        assert_eq!(t.of(&seg(server, client, TcpFlags::SYN | TcpFlags::ACK), 1), ip(client));
        assert_eq!(t.of(&seg(server, client, TcpFlags::ACK), 2), ip(client));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn without_a_syn_the_server_port_then_the_higher_port_decides() {
        let mut t = table();
        assert_eq!(t.of(&seg("10.0.0.9:1863", "10.0.0.1:1100", TcpFlags::ACK), 0), ip("10.0.0.1:1100"));
        assert_eq!(t.of(&seg("10.0.0.9:1864", "10.0.0.2:50000", TcpFlags::ACK), 0), ip("10.0.0.2:50000"));
        assert_eq!(t.of(&seg("10.0.0.3:50000", "10.0.0.9:1864", TcpFlags::ACK), 0), ip("10.0.0.3:50000"));
        // The SYN-ACK's receiver is the client.
        assert_eq!(t.of(&seg("10.0.0.9:9", "10.0.0.4:8", TcpFlags::SYN | TcpFlags::ACK), 0), ip("10.0.0.4:8"));
    }

    #[test]
    fn a_flow_seen_again_and_again_is_kept_by_its_latest_packet() {
        let mut t = table();
        let keep = t.keep_ns;
        let (client, server) = ("10.0.0.1:1100", "10.0.0.9:7001");
        assert_eq!(t.of(&seg(client, server, TcpFlags::SYN), 0), ip(client));
        // The same flow again at once (the flow last looked up), before the next sweep is due.
        assert_eq!(t.of(&seg(server, client, TcpFlags::ACK), keep / 8), ip(client));
        // Another flow's packet sweeps what was unseen since `keep / 16`: the first flow was
        // seen at `keep / 8`, so it stays.
        t.of(&seg("10.0.0.2:50000", "10.0.0.9:1863", TcpFlags::ACK), keep + keep / 16);
        assert_eq!(t.len(), 2);
        // Kept: its SYN still decides, not these ports (7001 is higher).
        assert_eq!(t.of(&seg(server, client, TcpFlags::ACK), keep + keep / 16 + 1), ip(client));
    }

    #[test]
    fn a_flow_unseen_past_the_keeping_time_is_decided_anew() {
        let mut t = table();
        let keep = t.keep_ns;
        assert_eq!(t.of(&seg("10.0.0.1:1100", "10.0.0.9:7001", TcpFlags::SYN), 0), ip("10.0.0.1:1100"));
        // Seen within the keeping time: kept, whatever this packet would say.
        assert_eq!(t.of(&seg("10.0.0.9:7001", "10.0.0.1:1100", TcpFlags::ACK), keep - 1), ip("10.0.0.1:1100"));
        // Unseen for longer: forgotten, and this ACK decides by the ports (7001 is higher).
        let later = 2 * keep + 1;
        assert_eq!(t.of(&seg("10.0.0.9:7001", "10.0.0.1:1100", TcpFlags::ACK), later), ip("10.0.0.9:7001"));
    }
}
