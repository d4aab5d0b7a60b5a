//! Builds TCP conversations packet by packet (handshake, data with ACKs, FIN, RST) and writes
//! them as pcap or pcapng captures (the packets themselves are encoded by
//! [`crate::net::build`]). Segments are kept as plain values until written, so tests can
//! reorder, duplicate, drop or cut them.

use crate::capture::write::{PcapNgWriter, PcapWriter};
pub use crate::net::build::{fragment_frames, frame, ip_packet, wrap, Encap, Seg};
use crate::net::TcpFlags;
use std::net::SocketAddr;

/// The most payload [`Script`] puts in one segment (an IPv4 packet holds 65,535 bytes).
pub const MAX_SEGMENT: usize = 65_000;

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

    /// Sends `data` cut at the given offsets, one segment per piece, then the peer's ACK. A
    /// piece is also cut every [`MAX_SEGMENT`] bytes, so that its IP length fits 16 bits.
    pub fn send_split(&mut self, c: usize, from_client: bool, data: &[u8], cuts: &[usize]) {
        let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&x| x > 0 && x < data.len()).collect();
        bounds.extend((MAX_SEGMENT..data.len()).step_by(MAX_SEGMENT));
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
