//! Link, IP and TCP slicing: from a captured frame to the TCP segment it carries, with the
//! number of payload bytes that were on the wire but not captured (snap-length truncation), so
//! reassembly can report exactly what is missing. Knows nothing of MSNP.
//!
//! Every accessor works on a slice whose length was checked first; nothing here can panic on
//! any input.

use crate::flow::LinkType;
use std::net::{IpAddr, SocketAddr};

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

/// IPv4: the usual packet read in place, any other through etherparse.
fn ipv4(b: &[u8], vlan: Option<u16>) -> Sliced<'_> {
    if let Some(s) = plain_ipv4_tcp(b, vlan) {
        return s;
    }
    lax_ipv4(b, vlan)
}

/// The usual packet, a whole TCP segment in an unfragmented IPv4 packet without options, read
/// in place: exactly what [`lax_ipv4`] gives it (a property test holds the two equal), in
/// about half the instructions. `None` for anything else, which etherparse reads.
#[inline]
fn plain_ipv4_tcp(b: &[u8], vlan: Option<u16>) -> Option<Sliced<'_>> {
    let h = b.first_chunk::<20>()?;
    // Version 4 with a 20-byte header, carrying TCP.
    if h[0] != 0x45 || h[9] != 6 {
        return None;
    }
    // Neither more fragments nor an offset.
    if be16(h, 6) & 0x3fff != 0 {
        return None;
    }
    // All captured, room for a TCP header (a total of 0 or one beyond the capture: etherparse).
    let total = usize::from(be16(h, 2));
    let payload = b.get(20..total).filter(|p| p.len() >= 20)?;
    let t = payload.first_chunk::<20>()?;
    let data = usize::from(t[12] >> 4) * 4;
    if data < 20 {
        return None;
    }
    let src = IpAddr::V4(std::net::Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(std::net::Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    Some(Sliced::Tcp(Segment {
        src: SocketAddr::new(src, be16(t, 0)),
        dst: SocketAddr::new(dst, be16(t, 2)),
        vlan,
        seq: be32(t, 4),
        ack: be32(t, 8),
        flags: TcpFlags(t[13]),
        payload: payload.get(data..)?,
        missing: 0,
    }))
}

/// IPv4 through etherparse's lax slicer. A total length of 0 is what a capture on the
/// sending host shows for segmentation-offloaded packets: like Wireshark, the captured bytes
/// are then the packet. A total length beyond the captured bytes is snap-length truncation
/// (`missing`); Ethernet padding beyond it is not payload.
fn lax_ipv4(b: &[u8], vlan: Option<u16>) -> Sliced<'_> {
    let ip = match etherparse::LaxIpv4Slice::from_slice(b) {
        Ok((ip, _)) => ip,
        Err(etherparse::err::ipv4::HeaderSliceError::Len(_)) => return Sliced::Malformed("IPv4 header cut short"),
        Err(etherparse::err::ipv4::HeaderSliceError::Content(e)) => {
            return Sliced::Malformed(match e {
                etherparse::err::ipv4::HeaderError::UnexpectedVersion { .. } => "IPv4 header with another version",
                _ => "IPv4 header length fields inconsistent",
            })
        }
    };
    let h = ip.header();
    let total = usize::from(h.total_len());
    if total != 0 && total < h.slice().len() {
        return Sliced::Malformed("IPv4 header length fields inconsistent");
    }
    let p = ip.payload();
    let missing = total.saturating_sub(b.len()) as u32;
    let (src, dst) = (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()));
    let frag = p
        .fragmented
        .then(|| (u32::from(h.identification()), u32::from(h.fragments_offset().byte_offset()), h.more_fragments()));
    carried(src, dst, p, frag, missing, vlan)
}

/// What an IP packet carries: a fragment (`frag`: id, byte offset, more to come), a TCP
/// segment, or something msntap does not decode.
fn carried<'a>(
    src: IpAddr,
    dst: IpAddr,
    p: &etherparse::LaxIpPayloadSlice<'a>,
    frag: Option<(u32, u32, bool)>,
    missing: u32,
    vlan: Option<u16>,
) -> Sliced<'a> {
    if let Some((id, offset, more)) = frag {
        return Sliced::Fragment(Fragment {
            src,
            dst,
            id,
            protocol: p.ip_number.0,
            offset,
            more,
            data: p.payload,
            missing,
            vlan,
        });
    }
    if p.ip_number != etherparse::IpNumber::TCP {
        return Sliced::Other;
    }
    tcp(src, dst, p.payload, missing, vlan)
}

/// IPv6 and its extension headers through etherparse's lax slicer (a payload length of 0 is
/// read as the captured bytes, as for IPv4).
fn ipv6(b: &[u8], vlan: Option<u16>) -> Sliced<'_> {
    let (ip, stop) = match etherparse::LaxIpv6Slice::from_slice(b) {
        Ok(x) => x,
        Err(etherparse::err::ipv6::HeaderSliceError::Len(_)) => return Sliced::Malformed("IPv6 header cut short"),
        Err(etherparse::err::ipv6::HeaderSliceError::Content(_)) => {
            return Sliced::Malformed("IPv6 header with another version")
        }
    };
    if stop.is_some() {
        return Sliced::Malformed("IPv6 extension header cut short");
    }
    let h = ip.header();
    let (src, dst) = (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()));
    let plen = usize::from(h.payload_length());
    let missing = if plen == 0 { 0 } else { (40 + plen).saturating_sub(b.len()) as u32 };
    let p = ip.payload();
    let mut frag = None;
    if p.fragmented {
        let header = ip.extensions().clone().into_iter().find_map(|e| match e {
            etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
            _ => None,
        });
        let Some(f) = header else { return Sliced::Malformed("IPv6 fragment header cut short") };
        frag = Some((f.identification(), u32::from(f.fragment_offset().byte_offset()), f.more_fragments()));
    }
    carried(src, dst, p, frag, missing, vlan)
}

/// Slices a TCP header off `b` (the captured part of the IP payload) with etherparse.
pub fn tcp<'a>(src: IpAddr, dst: IpAddr, b: &'a [u8], missing: u32, vlan: Option<u16>) -> Sliced<'a> {
    let t = match etherparse::TcpSlice::from_slice(b) {
        Ok(t) => t,
        Err(etherparse::err::tcp::HeaderSliceError::Len(e)) if e.required_len <= 20 => {
            return Sliced::Malformed("TCP header cut short")
        }
        Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => return Sliced::Malformed("TCP options cut short"),
        Err(etherparse::err::tcp::HeaderSliceError::Content(_)) => {
            return Sliced::Malformed("TCP data offset below 20 bytes")
        }
    };
    Sliced::Tcp(Segment {
        src: SocketAddr::new(src, t.source_port()),
        dst: SocketAddr::new(dst, t.destination_port()),
        vlan,
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        flags: TcpFlags(t.header_slice().get(13).copied().unwrap_or(0)),
        payload: t.payload(),
        missing,
    })
}

pub mod build;
pub mod defrag;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An IPv4 packet carrying a TCP segment with `options` words of TCP options (no-ops) and
    /// `data`, then `pad` bytes of link padding: [`build::ip_packet`]'s, the options put in.
    fn packet(options: usize, data: &[u8], pad: usize) -> Vec<u8> {
        let seg = build::Seg {
            ts_ns: 0,
            src: SocketAddr::from(([10, 0, 0, 1], 4000)),
            dst: SocketAddr::from(([10, 0, 0, 2], 1863)),
            seq: 1000,
            ack: 2000,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            payload: data.to_vec(),
        };
        let mut b = build::ip_packet(&seg);
        b.splice(40..40, std::iter::repeat_n(1, 4 * options));
        b[32] = ((5 + options) as u8) << 4;
        let total = b.len() as u16;
        b[2..4].copy_from_slice(&total.to_be_bytes());
        b.extend(std::iter::repeat_n(0, pad));
        b
    }

    #[test]
    fn the_usual_packet_is_read_in_place() {
        let b = packet(1, b"VER 1 MSNP8\r\n", 6);
        let Some(Sliced::Tcp(s)) = plain_ipv4_tcp(&b, Some(7)) else { panic!("not read in place") };
        assert_eq!((s.src.to_string(), s.dst.to_string()), ("10.0.0.1:4000".into(), "10.0.0.2:1863".into()));
        assert_eq!((s.seq, s.ack, s.vlan, s.missing), (1000, 2000, Some(7), 0));
        assert_eq!(s.payload, b"VER 1 MSNP8\r\n");
        assert_eq!(format!("{:?}", Sliced::Tcp(s)), format!("{:?}", lax_ipv4(&b, Some(7))));
    }

    /// A byte of the headers, mostly one of the fields the reading decides by: version and
    /// header length, total length, flags and fragment offset, protocol, TCP data offset.
    fn field() -> impl Strategy<Value = usize> {
        prop_oneof![Just(0usize), Just(2), Just(3), Just(6), Just(7), Just(9), Just(32), 0usize..48]
    }

    proptest! {
        /// Whatever a header's fields say, the in-place reading either declines or gives
        /// exactly etherparse's reading; the usual packet it never declines.
        #[test]
        fn the_in_place_reading_is_etherparses(
            options in 0usize..4,
            data in proptest::collection::vec(any::<u8>(), 0..40),
            pad in 0usize..8,
            edits in proptest::collection::vec((field(), prop_oneof![Just(0u8), Just(6), Just(0x44), Just(0x45), Just(0x46), Just(0x20), Just(0x40), Just(0x50), any::<u8>()]), 0..4),
            cut in 0usize..120,
        ) {
            let mut b = packet(options, &data, pad);
            let usual = plain_ipv4_tcp(&b, None).is_some();
            prop_assert!(usual);
            for (at, v) in edits {
                if let Some(x) = b.get_mut(at) {
                    *x = v;
                }
            }
            b.truncate(cut.max(1).min(b.len()));
            if let Some(fast) = plain_ipv4_tcp(&b, None) {
                prop_assert_eq!(format!("{fast:?}"), format!("{:?}", lax_ipv4(&b, None)));
            }
        }
    }
}
