//! Writers for pcap and pcapng, used by the capture synthesiser, the proxy's recorder and tests.
//! Output is little-endian and deterministic: the same packets give the same bytes.

use super::LinkType;
use std::io::{self, Write};

/// Writes a classic pcap file (microsecond or nanosecond timestamps).
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W, link: LinkType, nanos: bool, snaplen: u32) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.write_all(&magic.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&link.0.to_le_bytes())?;
        Ok(PcapWriter { out, nanos })
    }

    /// Writes one record; `orig_len` may exceed `data.len()` for a truncated packet.
    pub fn packet(&mut self, ts_ns: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let secs = ts_ns.div_euclid(1_000_000_000) as u32;
        let sub = ts_ns.rem_euclid(1_000_000_000) as u32;
        let frac = if self.nanos { sub } else { sub / 1000 };
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&frac.to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out.write_all(&orig_len.to_le_bytes())?;
        self.out.write_all(data)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a pcapng file with one section; interfaces are added as needed.
pub struct PcapNgWriter<W: Write> {
    out: W,
    interfaces: Vec<LinkType>,
}

fn block<W: Write>(out: &mut W, kind: u32, body: &[u8]) -> io::Result<()> {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&[0u8; 3][..pad])?;
    out.write_all(&len.to_le_bytes())
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the section header block, naming the application in `shb_userappl`.
    pub fn new(mut out: W, application: &str) -> io::Result<Self> {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        push_option(&mut body, 4, application.as_bytes());
        push_option(&mut body, 0, &[]);
        block(&mut out, 0x0A0D_0D0A, &body)?;
        Ok(PcapNgWriter { out, interfaces: Vec::new() })
    }

    /// Declares an interface with nanosecond timestamps; returns its id.
    pub fn interface(&mut self, link: LinkType, name: &str) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&(link.0 as u16).to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&262_144u32.to_le_bytes());
        push_option(&mut body, 2, name.as_bytes());
        push_option(&mut body, 9, &[9]);
        push_option(&mut body, 0, &[]);
        block(&mut self.out, 1, &body)?;
        self.interfaces.push(link);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Writes an enhanced packet block on interface `iface`.
    pub fn packet(&mut self, iface: u32, ts_ns: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let ts = ts_ns.max(0) as u64;
        let mut body = Vec::with_capacity(20 + data.len());
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&orig_len.to_le_bytes());
        body.extend_from_slice(data);
        block(&mut self.out, 6, &body)
    }

    /// Writes a block of any type with a raw body (for tests of unknown blocks).
    pub fn raw_block(&mut self, kind: u32, body: &[u8]) -> io::Result<()> {
        block(&mut self.out, kind, body)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn push_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    body.extend(std::iter::repeat_n(0u8, (4 - value.len() % 4) % 4));
}
