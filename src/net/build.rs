//! Packet building: TCP segments encoded as IP packets with correct checksums, IPv4 or IPv6,
//! whole or in fragments, in any supported link-layer frame. The capture synthesiser and the
//! proxy's recorder both write their packets through it.

use crate::flow::LinkType;
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
    /// Flag bits ([`super::TcpFlags`] constants).
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
