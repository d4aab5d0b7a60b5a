//! Builds TCP conversations packet by packet (handshake, data with ACKs, FIN, RST) and encodes
//! them on any supported link type, IPv4 or IPv6, with correct checksums. Segments are kept as
//! plain values until written, so tests can reorder, duplicate, drop or cut them.

use crate::capture::write::{PcapNgWriter, PcapWriter};
use crate::capture::LinkType;
use crate::net::TcpFlags;
use std::net::{IpAddr, SocketAddr};

/// One TCP segment to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    /// Capture time, ns since the epoch.
    pub ts_ns: i64,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits ([`TcpFlags`] constants).
    pub flags: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

/// How frames are encapsulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encap {
    /// Ethernet II.
    Ethernet,
    /// Ethernet with one 802.1Q tag.
    Vlan(u16),
    /// Linux cooked v1.
    Sll,
    /// Linux cooked v2.
    Sll2,
    /// BSD loopback (little-endian family).
    Null,
    /// Raw IP.
    Raw,
}

impl Encap {
    /// The pcap link type.
    pub fn link_type(self) -> LinkType {
        match self {
            Encap::Ethernet | Encap::Vlan(_) => LinkType::ETHERNET,
            Encap::Sll => LinkType::LINUX_SLL,
            Encap::Sll2 => LinkType::LINUX_SLL2,
            Encap::Null => LinkType::NULL,
            Encap::Raw => LinkType::RAW,
        }
    }
}

fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for p in parts {
        for &b in *p {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Encodes the IP packet (header, TCP header, payload) of a segment.
pub fn ip_packet(s: &Seg) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + s.payload.len());
    tcp.extend_from_slice(&s.src.port().to_be_bytes());
    tcp.extend_from_slice(&s.dst.port().to_be_bytes());
    tcp.extend_from_slice(&s.seq.to_be_bytes());
    tcp.extend_from_slice(&s.ack.to_be_bytes());
    tcp.push(5 << 4);
    tcp.push(s.flags);
    tcp.extend_from_slice(&65535u16.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&s.payload);
    let tcp_len = tcp.len() as u32;
    match (s.src.ip(), s.dst.ip()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let pseudo = [&a.octets()[..], &b.octets()[..], &[0, 6], &(tcp_len as u16).to_be_bytes()].concat();
            let c = checksum(&[&pseudo, &tcp]);
            tcp[16..18].copy_from_slice(&c.to_be_bytes());
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&a.octets());
            ip.extend_from_slice(&b.octets());
            let c = checksum(&[&ip]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            ip.extend_from_slice(&tcp);
            ip
        }
        (a, b) => {
            let a = match a {
                IpAddr::V6(x) => x,
                IpAddr::V4(x) => x.to_ipv6_mapped(),
            };
            let b = match b {
                IpAddr::V6(x) => x,
                IpAddr::V4(x) => x.to_ipv6_mapped(),
            };
            let pseudo = [&a.octets()[..], &b.octets()[..], &tcp_len.to_be_bytes(), &[0, 0, 0, 6]].concat();
            let c = checksum(&[&pseudo, &tcp]);
            tcp[16..18].copy_from_slice(&c.to_be_bytes());
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&(tcp_len as u16).to_be_bytes());
            ip.extend_from_slice(&[6, 64]);
            ip.extend_from_slice(&a.octets());
            ip.extend_from_slice(&b.octets());
            ip.extend_from_slice(&tcp);
            ip
        }
    }
}

/// Encodes a whole frame of a segment.
pub fn frame(s: &Seg, encap: Encap) -> Vec<u8> {
    wrap(&ip_packet(s), encap)
}

/// Splits a segment's IP packet into fragments carrying at most `chunk` bytes of the TCP
/// segment each (rounded down to a multiple of 8), with IP identification `id`; returns frames.
pub fn fragment_frames(s: &Seg, encap: Encap, chunk: usize, id: u32) -> Vec<Vec<u8>> {
    let ip = ip_packet(s);
    let v6 = ip[0] >> 4 == 6;
    let hl = if v6 { 40 } else { 20 };
    let tcp = &ip[hl..];
    let chunk = (chunk / 8).max(1) * 8;
    let mut out = Vec::new();
    let mut off = 0;
    while off < tcp.len() {
        let end = (off + chunk).min(tcp.len());
        let more = end < tcp.len();
        let part = &tcp[off..end];
        let mut p = Vec::with_capacity(hl + 8 + part.len());
        if v6 {
            p.extend_from_slice(&ip[..4]);
            p.extend_from_slice(&((8 + part.len()) as u16).to_be_bytes());
            p.push(44);
            p.push(ip[7]);
            p.extend_from_slice(&ip[8..40]);
            p.extend_from_slice(&[6, 0]);
            p.extend_from_slice(&(((off / 8) as u16) << 3 | u16::from(more)).to_be_bytes());
            p.extend_from_slice(&id.to_be_bytes());
        } else {
            p.extend_from_slice(&ip[..20]);
            p[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
            p[4..6].copy_from_slice(&(id as u16).to_be_bytes());
            let flags: u16 = if more { 0x2000 } else { 0 };
            p[6..8].copy_from_slice(&(flags | (off / 8) as u16).to_be_bytes());
            p[10..12].copy_from_slice(&[0, 0]);
            let c = checksum(&[&p[..20]]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
        }
        p.extend_from_slice(part);
        out.push(wrap(&p, encap));
        off = end;
    }
    out
}

/// Writes ready-made frames (capture time, bytes) as a pcap file.
pub fn pcap_frames(frames: &[(i64, Vec<u8>)], encap: Encap) -> Vec<u8> {
    let mut w = match PcapWriter::new(Vec::new(), encap.link_type(), false, 262_144) {
        Ok(w) => w,
        Err(_) => return Vec::new(),
    };
    for (ts, f) in frames {
        let _ = w.packet(*ts, f, f.len() as u32);
    }
    w.finish().unwrap_or_default()
}

/// Puts an IP packet in a link-layer frame.
pub fn wrap(ip: &[u8], encap: Encap) -> Vec<u8> {
    let v6 = ip[0] >> 4 == 6;
    let et: u16 = if v6 { 0x86DD } else { 0x0800 };
    let mut f = Vec::with_capacity(ip.len() + 24);
    match encap {
        Encap::Ethernet | Encap::Vlan(_) => {
            f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
            if let Encap::Vlan(id) = encap {
                f.extend_from_slice(&0x8100u16.to_be_bytes());
                f.extend_from_slice(&(id & 0x0fff).to_be_bytes());
            }
            f.extend_from_slice(&et.to_be_bytes());
        }
        Encap::Sll => {
            f.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            f.extend_from_slice(&et.to_be_bytes());
        }
        Encap::Sll2 => {
            f.extend_from_slice(&et.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        }
        Encap::Null => {
            let fam: u32 = if v6 { 30 } else { 2 };
            f.extend_from_slice(&fam.to_le_bytes());
        }
        Encap::Raw => {}
    }
    f.extend_from_slice(ip);
    f
}

/// Writes segments as a pcap file; `snaplen` cuts each frame to that many bytes.
pub fn pcap(segs: &[Seg], encap: Encap, snaplen: Option<usize>) -> Vec<u8> {
    let snap = snaplen.unwrap_or(262_144);
    let mut w = match PcapWriter::new(Vec::new(), encap.link_type(), false, snap as u32) {
        Ok(w) => w,
        Err(_) => return Vec::new(),
    };
    for s in segs {
        let f = frame(s, encap);
        let cut = &f[..f.len().min(snap)];
        let _ = w.packet(s.ts_ns, cut, f.len() as u32);
    }
    w.finish().unwrap_or_default()
}

/// Writes segments as a pcapng file with one interface.
pub fn pcapng(segs: &[Seg], encap: Encap) -> Vec<u8> {
    let build = || -> std::io::Result<Vec<u8>> {
        let mut w = PcapNgWriter::new(Vec::new(), "msntap testkit")?;
        let iface = w.interface(encap.link_type(), "synth0")?;
        for s in segs {
            let f = frame(s, encap);
            w.packet(iface, s.ts_ns, &f, f.len() as u32)?;
        }
        w.finish()
    };
    build().unwrap_or_default()
}

#[derive(Debug, Clone)]
struct ConnState {
    client: SocketAddr,
    server: SocketAddr,
    /// Next sequence numbers of client and server.
    cseq: u32,
    sseq: u32,
}

/// A script of TCP conversations on a clock.
#[derive(Debug, Clone)]
pub struct Script {
    /// The segments so far.
    pub segs: Vec<Seg>,
    conns: Vec<ConnState>,
    /// Current time (ns since the epoch).
    pub now_ns: i64,
    isn: u32,
}

impl Script {
    /// An empty script starting at `start_ns`; ISNs derive from `isn_seed`.
    pub fn new(start_ns: i64, isn_seed: u32) -> Self {
        Script { segs: Vec::new(), conns: Vec::new(), now_ns: start_ns, isn: isn_seed }
    }

    /// Moves the clock forward.
    pub fn advance_ms(&mut self, ms: u64) {
        self.now_ns += (ms * 1_000_000) as i64;
    }

    fn next_isn(&mut self) -> u32 {
        self.isn = self.isn.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        self.isn
    }

    fn push(&mut self, src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.segs.push(Seg { ts_ns: self.now_ns, src, dst, seq, ack, flags, payload: payload.to_vec() });
        self.now_ns += 50_000;
    }

    /// Opens a connection with a three-way handshake; returns its handle.
    pub fn connect(&mut self, client: SocketAddr, server: SocketAddr) -> usize {
        self.connect_with_isn(client, server, None)
    }

    /// Like [`Script::connect`] with chosen initial sequence numbers (client, server).
    pub fn connect_with_isn(&mut self, client: SocketAddr, server: SocketAddr, isn: Option<(u32, u32)>) -> usize {
        let (ci, si) = isn.unwrap_or_else(|| (self.next_isn(), self.next_isn()));
        self.push(client, server, ci, 0, TcpFlags::SYN, &[]);
        self.push(server, client, si, ci.wrapping_add(1), TcpFlags::SYN | TcpFlags::ACK, &[]);
        self.push(client, server, ci.wrapping_add(1), si.wrapping_add(1), TcpFlags::ACK, &[]);
        self.conns.push(ConnState { client, server, cseq: ci.wrapping_add(1), sseq: si.wrapping_add(1) });
        self.conns.len() - 1
    }

    /// Sends `data` in one segment, acknowledged by the peer.
    pub fn send(&mut self, c: usize, from_client: bool, data: &[u8]) {
        self.send_split(c, from_client, data, &[]);
    }

    /// Sends `data` cut at the given offsets, one segment per piece, then the peer's ACK.
    pub fn send_split(&mut self, c: usize, from_client: bool, data: &[u8], cuts: &[usize]) {
        let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&x| x > 0 && x < data.len()).collect();
        bounds.sort_unstable();
        bounds.dedup();
        bounds.push(data.len());
        let mut start = 0;
        for end in bounds {
            let st = self.conns[c].clone();
            let (src, dst, seq, ack) = if from_client {
                (st.client, st.server, st.cseq, st.sseq)
            } else {
                (st.server, st.client, st.sseq, st.cseq)
            };
            self.push(src, dst, seq, ack, TcpFlags::PSH | TcpFlags::ACK, &data[start..end]);
            let n = (end - start) as u32;
            if from_client {
                self.conns[c].cseq = seq.wrapping_add(n);
            } else {
                self.conns[c].sseq = seq.wrapping_add(n);
            }
            start = end;
        }
        self.ack(c, !from_client);
    }

    /// A pure ACK from one side.
    pub fn ack(&mut self, c: usize, from_client: bool) {
        let st = self.conns[c].clone();
        if from_client {
            self.push(st.client, st.server, st.cseq, st.sseq, TcpFlags::ACK, &[]);
        } else {
            self.push(st.server, st.client, st.sseq, st.cseq, TcpFlags::ACK, &[]);
        }
    }

    /// Closes: `first_client` sends FIN first, the peer answers FIN, then the last ACK.
    pub fn close(&mut self, c: usize, first_client: bool) {
        self.fin(c, first_client);
        self.fin(c, !first_client);
        self.ack(c, first_client);
    }

    /// One FIN (half-close) from a side.
    pub fn fin(&mut self, c: usize, from_client: bool) {
        let st = self.conns[c].clone();
        let f = TcpFlags::FIN | TcpFlags::ACK;
        if from_client {
            self.push(st.client, st.server, st.cseq, st.sseq, f, &[]);
            self.conns[c].cseq = st.cseq.wrapping_add(1);
        } else {
            self.push(st.server, st.client, st.sseq, st.cseq, f, &[]);
            self.conns[c].sseq = st.sseq.wrapping_add(1);
        }
    }

    /// A reset from a side.
    pub fn rst(&mut self, c: usize, from_client: bool) {
        let st = self.conns[c].clone();
        if from_client {
            self.push(st.client, st.server, st.cseq, st.sseq, TcpFlags::RST | TcpFlags::ACK, &[]);
        } else {
            self.push(st.server, st.client, st.sseq, st.cseq, TcpFlags::RST | TcpFlags::ACK, &[]);
        }
    }
}
