//! Link, IP and TCP slicing: from a captured frame to the TCP segment it carries, with the
//! number of payload bytes that were on the wire but not captured (snap-length truncation), so
//! reassembly can report exactly what is missing. Knows nothing of MSNP.
//!
//! Every accessor works on a slice whose length was checked first; nothing here can panic on
//! any input.

use crate::flow::LinkType;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// TCP flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgement field is significant.
    pub const ACK: u8 = 0x10;

    /// Whether every bit of `bits` is set.
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

/// A TCP segment sliced out of a captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Outermost 802.1Q VLAN id, part of the flow key.
    pub vlan: Option<u16>,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when ACK is set).
    pub ack: u32,
    /// Flag bits.
    pub flags: TcpFlags,
    /// The captured payload bytes.
    pub payload: &'a [u8],
    /// Payload bytes that were sent but not captured (snap length).
    pub missing: u32,
}

/// An IP fragment: the first one carries the TCP header, later ones only data.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// Sender address.
    pub src: IpAddr,
    /// Receiver address.
    pub dst: IpAddr,
    /// IP identification (IPv4: 16 bits; IPv6: 32 bits).
    pub id: u32,
    /// Upper-layer protocol number.
    pub protocol: u8,
    /// Offset of this fragment's data in the original datagram.
    pub offset: u32,
    /// Whether more fragments follow.
    pub more: bool,
    /// Fragment data (captured part).
    pub data: &'a [u8],
    /// Bytes of the fragment data on the wire but not captured.
    pub missing: u32,
    /// Outermost VLAN id.
    pub vlan: Option<u16>,
}

/// What a frame turned out to be.
#[derive(Debug, Clone, Copy)]
pub enum Sliced<'a> {
    /// A TCP segment.
    Tcp(Segment<'a>),
    /// An IP fragment of some datagram.
    Fragment(Fragment<'a>),
    /// Well-formed but not TCP (UDP, ARP, ICMP, ...).
    Other,
    /// The link type is not one msntap decodes.
    UnsupportedLink(LinkType),
    /// Too short or inconsistent to slice; the reason names the layer.
    Malformed(&'static str),
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86DD;

/// Slices a captured frame of the given link type. Truncation is measured against the IP
/// length fields, so the frame's wire length is not needed.
pub fn slice(link: LinkType, frame: &[u8]) -> Sliced<'_> {
    match link {
        LinkType::ETHERNET => ethernet(frame),
        LinkType::LINUX_SLL => {
            if frame.len() < 16 {
                return Sliced::Malformed("Linux cooked header shorter than 16 bytes");
            }
            ether_type(be16(frame, 14), &frame[16..], None)
        }
        LinkType::LINUX_SLL2 => {
            if frame.len() < 20 {
                return Sliced::Malformed("Linux cooked v2 header shorter than 20 bytes");
            }
            ether_type(be16(frame, 0), &frame[20..], None)
        }
        LinkType::NULL | LinkType::LOOP => {
            if frame.len() < 4 {
                return Sliced::Malformed("loopback header shorter than 4 bytes");
            }
            // The family is in the writer's byte order for NULL; accept either order.
            let le = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let be = be32(frame, 0);
            let fam = if link == LinkType::LOOP {
                be
            } else if le < 256 {
                le
            } else {
                be
            };
            match fam {
                2 => ipv4(&frame[4..], None),
                10 | 24 | 28 | 30 => ipv6(&frame[4..], None),
                _ => Sliced::Other,
            }
        }
        LinkType::RAW | LinkType::RAW_BSD | LinkType::RAW_OPENBSD => raw_ip(frame),
        LinkType::IPV4 => ipv4(frame, None),
        LinkType::IPV6 => ipv6(frame, None),
        other => Sliced::UnsupportedLink(other),
    }
}

fn raw_ip(b: &[u8]) -> Sliced<'_> {
    match b.first().map(|v| v >> 4) {
        Some(4) => ipv4(b, None),
        Some(6) => ipv6(b, None),
        Some(_) => Sliced::Malformed("raw IP frame with unknown IP version"),
        None => Sliced::Malformed("empty raw IP frame"),
    }
}

fn ethernet(b: &[u8]) -> Sliced<'_> {
    if b.len() < 14 {
        return Sliced::Malformed("Ethernet header shorter than 14 bytes");
    }
    let mut et = be16(b, 12);
    let mut at = 14;
    let mut vlan = None;
    // 802.1Q, 802.1ad and the old QinQ type; at most a few tags.
    for _ in 0..4 {
        if !matches!(et, 0x8100 | 0x88A8 | 0x9100) {
            break;
        }
        if b.len() < at + 4 {
            return Sliced::Malformed("VLAN tag cut short");
        }
        if vlan.is_none() {
            vlan = Some(be16(b, at) & 0x0FFF);
        }
        et = be16(b, at + 2);
        at += 4;
    }
    ether_type(et, &b[at..], vlan)
}

fn ether_type(et: u16, b: &[u8], vlan: Option<u16>) -> Sliced<'_> {
    match et {
        ETH_IPV4 => ipv4(b, vlan),
        ETH_IPV6 => ipv6(b, vlan),
        _ => Sliced::Other,
    }
}

fn ipv4(b: &[u8], vlan: Option<u16>) -> Sliced<'_> {
    if b.len() < 20 {
        return Sliced::Malformed("IPv4 header cut short");
    }
    if b[0] >> 4 != 4 {
        return Sliced::Malformed("IPv4 header with another version");
    }
    let ihl = ((b[0] & 0x0f) as usize) * 4;
    let total = be16(b, 2) as usize;
    if ihl < 20 || total < ihl {
        return Sliced::Malformed("IPv4 header length fields inconsistent");
    }
    if b.len() < ihl {
        return Sliced::Malformed("IPv4 options cut short");
    }
    let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19]));
    let protocol = b[9];
    let frag = be16(b, 6);
    let more = frag & 0x2000 != 0;
    let offset = ((frag & 0x1fff) as u32) * 8;
    // Captured bytes of the IP payload; Ethernet padding beyond `total` is not payload.
    let end = total.min(b.len());
    let payload = &b[ihl..end];
    let missing = (total - ihl).saturating_sub(payload.len()) as u32;
    if more || offset > 0 {
        return Sliced::Fragment(Fragment {
            src,
            dst,
            id: be16(b, 4) as u32,
            protocol,
            offset,
            more,
            data: payload,
            missing,
            vlan,
        });
    }
    if protocol != 6 {
        return Sliced::Other;
    }
    tcp(src, dst, payload, missing, vlan)
}

fn ipv6(b: &[u8], vlan: Option<u16>) -> Sliced<'_> {
    if b.len() < 40 {
        return Sliced::Malformed("IPv6 header cut short");
    }
    if b[0] >> 4 != 6 {
        return Sliced::Malformed("IPv6 header with another version");
    }
    let plen = be16(b, 4) as usize;
    let mut src = [0u8; 16];
    src.copy_from_slice(&b[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&b[24..40]);
    let src = IpAddr::V6(Ipv6Addr::from(src));
    let dst = IpAddr::V6(Ipv6Addr::from(dst));
    let end = (40 + plen).min(b.len());
    let mut rest = &b[40..end];
    // Payload bytes on the wire still ahead of `rest`'s start.
    let mut wire_left = plen;
    let mut next = b[6];
    loop {
        match next {
            // Hop-by-hop, routing, destination options: length in 8-byte units after the first 8.
            0 | 43 | 60 => {
                if rest.len() < 8 {
                    return Sliced::Malformed("IPv6 extension header cut short");
                }
                let len = (rest[1] as usize + 1) * 8;
                if rest.len() < len || wire_left < len {
                    return Sliced::Malformed("IPv6 extension header cut short");
                }
                next = rest[0];
                rest = &rest[len..];
                wire_left -= len;
            }
            // Authentication header: length in 4-byte units, minus 2.
            51 => {
                if rest.len() < 8 {
                    return Sliced::Malformed("IPv6 authentication header cut short");
                }
                let len = (rest[1] as usize + 2) * 4;
                if rest.len() < len || wire_left < len {
                    return Sliced::Malformed("IPv6 authentication header cut short");
                }
                next = rest[0];
                rest = &rest[len..];
                wire_left -= len;
            }
            44 => {
                if rest.len() < 8 || wire_left < 8 {
                    return Sliced::Malformed("IPv6 fragment header cut short");
                }
                let fo = be16(rest, 2);
                let data = &rest[8..];
                let on_wire = wire_left - 8;
                return Sliced::Fragment(Fragment {
                    src,
                    dst,
                    id: be32(rest, 4),
                    protocol: rest[0],
                    offset: ((fo >> 3) as u32) * 8,
                    more: fo & 1 != 0,
                    data,
                    missing: on_wire.saturating_sub(data.len()) as u32,
                    vlan,
                });
            }
            6 => {
                let missing = wire_left.saturating_sub(rest.len()) as u32;
                return tcp(src, dst, rest, missing, vlan);
            }
            _ => return Sliced::Other,
        }
    }
}

/// Slices a TCP header off `b` (the captured part of the IP payload).
pub fn tcp<'a>(src: IpAddr, dst: IpAddr, b: &'a [u8], missing: u32, vlan: Option<u16>) -> Sliced<'a> {
    if b.len() < 20 {
        return Sliced::Malformed("TCP header cut short");
    }
    let off = ((b[12] >> 4) as usize) * 4;
    if off < 20 {
        return Sliced::Malformed("TCP data offset below 20 bytes");
    }
    if b.len() < off {
        return Sliced::Malformed("TCP options cut short");
    }
    Sliced::Tcp(Segment {
        src: SocketAddr::new(src, be16(b, 0)),
        dst: SocketAddr::new(dst, be16(b, 2)),
        vlan,
        seq: be32(b, 4),
        ack: be32(b, 8),
        flags: TcpFlags(b[13]),
        payload: &b[off..],
        missing,
    })
}

pub mod build;
pub mod defrag;
