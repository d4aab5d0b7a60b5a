//! The seam between packet sources and the analysis: the vocabulary both sides share, so that
//! captures, live interfaces, the reassembler and the proxy feed the same analysis without
//! knowing each other. Connection ids, directions, how connections end, why bytes are missing,
//! the stream sink the analysis implements, and link-layer type numbers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// An unspecified address, for places that need one.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// A link-layer type as numbered in the tcpdump LINKTYPE registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II, possibly with 802.1Q tags.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (the value some BSDs use).
    pub const RAW_BSD: LinkType = LinkType(12);
    /// Raw IP (OpenBSD's value).
    pub const RAW_OPENBSD: LinkType = LinkType(14);
    /// Raw IPv4 or IPv6.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4 only.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6 only.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// Identifier of a connection, from 1 in order of first packet.
pub type ConnId = u64;

/// Direction of a byte stream within a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server.
    C2S,
    /// Server to client.
    S2C,
}

spelled!(Dir { C2S => "c2s", S2C => "s2c" });

impl Dir {
    /// Index 0 for client-to-server, 1 for server-to-client.
    pub fn index(self) -> usize {
        match self {
            Dir::C2S => 0,
            Dir::S2C => 1,
        }
    }

    /// The other direction.
    pub fn flip(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// Both sides sent FIN.
    Fin,
    /// A reset.
    Rst,
    /// Still open when the input ended.
    Open,
    /// Flushed after the idle timeout.
    Idle,
    /// A new SYN on the same addresses started another connection.
    Reused,
    /// The consumer lost interest ([`StreamSink::keep`] said no); its packets are ignored.
    Abandoned,
}

impl CloseKind {
    /// Whether the connection really ended (FIN, RST, or its addresses reused by a new SYN).
    /// Still open at the input's end, flushed after the idle timeout or abandoned, it may yet
    /// have carried the answers the analysis did not see.
    pub fn ended(self) -> bool {
        matches!(self, CloseKind::Fin | CloseKind::Rst | CloseKind::Reused)
    }
}

spelled!(CloseKind {
    Fin => "fin",
    Rst => "rst",
    Open => "open",
    Idle => "idle",
    Reused => "reused",
    Abandoned => "abandoned",
});

/// Why bytes are missing from a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapReason {
    /// The peer acknowledged bytes that were never captured.
    Acked,
    /// The connection ended with a hole still open.
    Closed,
    /// The out-of-order buffer limit was reached.
    BufferLimit,
    /// The packet was captured with a snap length shorter than the packet.
    Snaplen,
    /// An IP fragment could not be reassembled.
    Fragment,
}

spelled!(GapReason {
    Acked => "acked",
    Closed => "closed",
    BufferLimit => "buffer-limit",
    Snaplen => "snaplen",
    Fragment => "fragment",
});

/// TCP-level anomalies worth reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpAnomaly {
    /// A retransmission carried bytes different from those already accepted.
    ConflictingRetransmission {
        /// Stream offset of the overlap.
        offset: u64,
        /// Length of the overlapping range.
        len: u64,
        /// Length of the segment that brought the new version.
        segment_len: u64,
    },
}

/// A connection as the reassembler sees it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Identifier.
    pub id: ConnId,
    /// The client's address (who sent the SYN, or the side the consumer did not call server).
    pub client: SocketAddr,
    /// The server's address.
    pub server: SocketAddr,
    /// Outer VLAN id.
    pub vlan: Option<u16>,
    /// Whether the SYN was captured (the stream start was seen).
    pub syn_seen: bool,
    /// First packet time, ns since the epoch.
    pub opened_ns: i64,
    /// The client machine the flow belongs to, as decided before reassembly (see
    /// `analysis::affinity`): connections with the same affinity can be linked.
    pub affinity: IpAddr,
}

/// What the consumer decides about a new flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Not interesting: do not track it.
    Ignore,
    /// Track it; `server` is the server's address if the consumer knows it.
    Track {
        /// The server side, when known (otherwise SYN direction or port order decides).
        server: Option<SocketAddr>,
    },
}

/// Receives reassembled streams. Implemented by the analyzer and by tests.
pub trait StreamSink {
    /// A packet starts a flow not yet tracked: should it be?
    fn accept(&mut self, src: SocketAddr, dst: SocketAddr, syn: bool, affinity: IpAddr) -> Accept;
    /// A connection is now tracked.
    fn open(&mut self, info: &ConnInfo);
    /// In-order bytes of one direction.
    fn data(&mut self, id: ConnId, dir: Dir, ts_ns: i64, bytes: &[u8]);
    /// Bytes that will never be seen.
    fn gap(&mut self, id: ConnId, dir: Dir, ts_ns: i64, offset: u64, len: u64, reason: GapReason);
    /// The direction's sender finished (FIN and all data before it delivered).
    fn half_close(&mut self, id: ConnId, dir: Dir, ts_ns: i64);
    /// A TCP anomaly.
    fn anomaly(&mut self, id: ConnId, dir: Dir, ts_ns: i64, anomaly: TcpAnomaly);
    /// The connection is gone; no more calls for `id`.
    fn close(&mut self, id: ConnId, ts_ns: i64, how: CloseKind);
    /// Asked after each segment: whether the connection is still wanted. When not, it is
    /// closed as [`CloseKind::Abandoned`] and its later packets are dropped unseen.
    fn keep(&self, _id: ConnId) -> bool {
        true
    }
    /// The reassembler flushed the flows idle since `now_ns - idle_timeout_ns`. It sweeps at
    /// the same segments however its flows are shared out, so state dropped here is dropped
    /// alike in one thread and in several.
    fn swept(&mut self, _now_ns: i64, _idle_timeout_ns: i64) {}
}
