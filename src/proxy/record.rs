//! `--record FILE.pcapng`: writes each relayed connection as TCP packets between the client's
//! address and the original server's address, with the bytes each side really sent (the
//! server's before rewriting), so the recording opens in Wireshark and `msntap read` of it
//! gives the same analysis as the proxy's own.

use super::ProxyEvent;
use crate::capture::write::PcapNgWriter;
use crate::flow::LinkType;
use crate::flow::{CloseKind, Dir};
use crate::net::build::{frame, Encap, Seg};
use crate::net::TcpFlags;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;

/// Largest payload written in one packet (IPv4 packets are at most 64 KiB).
const MAX_SEGMENT: usize = 32 * 1024;

struct Flow {
    client: SocketAddr,
    server: SocketAddr,
    cseq: u32,
    sseq: u32,
}

impl Flow {
    /// (sender, receiver, sender's next sequence number, acknowledgement) for a direction.
    fn ends(&self, dir: Dir) -> (SocketAddr, SocketAddr, u32, u32) {
        match dir {
            Dir::C2S => (self.client, self.server, self.cseq, self.sseq),
            Dir::S2C => (self.server, self.client, self.sseq, self.cseq),
        }
    }

    /// Sets the sender's next sequence number of a direction.
    fn set_seq(&mut self, dir: Dir, seq: u32) {
        match dir {
            Dir::C2S => self.cseq = seq,
            Dir::S2C => self.sseq = seq,
        }
    }
}

/// Writes proxy events as a pcapng capture.
pub struct Recorder<W: Write> {
    out: PcapNgWriter<W>,
    iface: u32,
    flows: HashMap<u64, Flow>,
    /// The first write error.
    pub error: Option<std::io::Error>,
}

impl<W: Write> Recorder<W> {
    /// Starts a capture (section header and one Ethernet interface).
    pub fn new(out: W) -> std::io::Result<Self> {
        let mut out = PcapNgWriter::new(out, "msntap proxy")?;
        let iface = out.interface(LinkType::ETHERNET, "msntap-proxy")?;
        Ok(Recorder { out, iface, flows: HashMap::new(), error: None })
    }

    fn packet(&mut self, seg: Seg) {
        if self.error.is_some() {
            return;
        }
        let f = frame(&seg, Encap::Ethernet);
        if let Err(e) = self.out.packet(self.iface, seg.ts_ns, &f, f.len() as u32) {
            self.error = Some(e);
        }
    }

    /// Records one event.
    pub fn record(&mut self, ev: &ProxyEvent) {
        match ev {
            ProxyEvent::Open { id, client, server, ts_ns } => {
                // Deterministic initial sequence numbers from the id.
                let (ci, si) = ((*id as u32).wrapping_mul(0x9E37_79B9), (*id as u32).wrapping_mul(0x85EB_CA6B));
                self.packet(Seg {
                    ts_ns: *ts_ns,
                    src: *client,
                    dst: *server,
                    seq: ci,
                    ack: 0,
                    flags: TcpFlags::SYN,
                    payload: Vec::new(),
                });
                self.packet(Seg {
                    ts_ns: *ts_ns,
                    src: *server,
                    dst: *client,
                    seq: si,
                    ack: ci.wrapping_add(1),
                    flags: TcpFlags::SYN | TcpFlags::ACK,
                    payload: Vec::new(),
                });
                self.packet(Seg {
                    ts_ns: *ts_ns,
                    src: *client,
                    dst: *server,
                    seq: ci.wrapping_add(1),
                    ack: si.wrapping_add(1),
                    flags: TcpFlags::ACK,
                    payload: Vec::new(),
                });
                self.flows.insert(
                    *id,
                    Flow { client: *client, server: *server, cseq: ci.wrapping_add(1), sseq: si.wrapping_add(1) },
                );
            }
            ProxyEvent::Data { id, dir, ts_ns, bytes } => {
                let Some(f) = self.flows.get(id) else { return };
                let (src, dst, mut seq, ack) = f.ends(*dir);
                for chunk in bytes.chunks(MAX_SEGMENT) {
                    self.packet(Seg {
                        ts_ns: *ts_ns,
                        src,
                        dst,
                        seq,
                        ack,
                        flags: TcpFlags::PSH | TcpFlags::ACK,
                        payload: chunk.to_vec(),
                    });
                    seq = seq.wrapping_add(chunk.len() as u32);
                }
                if let Some(f) = self.flows.get_mut(id) {
                    f.set_seq(*dir, seq);
                }
            }
            ProxyEvent::HalfClose { id, dir, ts_ns } => {
                let Some(f) = self.flows.get(id) else { return };
                let (src, dst, seq, ack) = f.ends(*dir);
                self.packet(Seg {
                    ts_ns: *ts_ns,
                    src,
                    dst,
                    seq,
                    ack,
                    flags: TcpFlags::FIN | TcpFlags::ACK,
                    payload: Vec::new(),
                });
                if let Some(f) = self.flows.get_mut(id) {
                    f.set_seq(*dir, seq.wrapping_add(1));
                }
            }
            ProxyEvent::Close { id, ts_ns, how } => {
                let Some(f) = self.flows.remove(id) else { return };
                match how {
                    CloseKind::Fin => self.packet(Seg {
                        ts_ns: *ts_ns,
                        src: f.client,
                        dst: f.server,
                        seq: f.cseq,
                        ack: f.sseq,
                        flags: TcpFlags::ACK,
                        payload: Vec::new(),
                    }),
                    _ => self.packet(Seg {
                        ts_ns: *ts_ns,
                        src: f.server,
                        dst: f.client,
                        seq: f.sseq,
                        ack: f.cseq,
                        flags: TcpFlags::RST | TcpFlags::ACK,
                        payload: Vec::new(),
                    }),
                }
            }
            ProxyEvent::Rewrite { .. } | ProxyEvent::Failed { .. } => {}
        }
    }

    /// Flushes the file and returns the writer.
    pub fn into_inner(self) -> std::io::Result<W> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.finish()
    }

    /// Flushes the file.
    pub fn finish(self) -> std::io::Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.finish().map(|_| ())
    }
}
