//! pcapng files: a sequence of typed blocks. Each section header resets the byte order and the
//! interface table; interface blocks give each interface its link type and timestamp resolution.

use super::{CaptureError, LinkType, Packet, Window, MAX_RECORD};
use std::io::Read;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

#[derive(Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units: `true` for powers of two, with the exponent.
    binary: bool,
    exp: u8,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_s: i64,
    /// The most bytes captured per packet (0: no limit); simple packet blocks need it.
    snaplen: u32,
}

impl Interface {
    fn ts_ns(&self, units: u64) -> i64 {
        let ns: i128 = if self.binary {
            ((units as u128 * 1_000_000_000u128) >> self.exp.min(127)) as i128
        } else if self.exp <= 9 {
            units as i128 * 10i128.pow(9 - self.exp as u32)
        } else {
            let div = 10i128.checked_pow(self.exp as u32 - 9).unwrap_or(i128::MAX);
            units as i128 / div
        };
        (ns + self.offset_s as i128 * 1_000_000_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

pub(super) struct PcapNgReader<R> {
    pub w: Window<R>,
    big_endian: bool,
    interfaces: Vec<Interface>,
}

impl<R: Read> PcapNgReader<R> {
    pub fn new(w: Window<R>) -> Result<Self, CaptureError> {
        let mut r = PcapNgReader { w, big_endian: false, interfaces: Vec::new() };
        // The first block must be a section header; reading it sets the byte order.
        r.w.need(12, "pcapng section header")?;
        r.read_shb_order()?;
        Ok(r)
    }

    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let a = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn read_shb_order(&mut self) -> Result<(), CaptureError> {
        let h = self.w.avail();
        let bom = [h[8], h[9], h[10], h[11]];
        self.big_endian = match bom {
            [0x1A, 0x2B, 0x3C, 0x4D] => true,
            [0x4D, 0x3C, 0x2B, 0x1A] => false,
            _ => {
                return Err(CaptureError::Corrupt {
                    offset: self.w.offset + 8,
                    reason: format!("section header byte-order magic {bom:02x?}"),
                })
            }
        };
        self.interfaces.clear();
        Ok(())
    }

    pub fn next(&mut self, number: u64) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            if self.w.at_eof()? {
                return Ok(None);
            }
            self.w.need(12, "pcapng block header")?;
            let block_offset = self.w.offset;
            let kind = self.u32(self.w.avail(), 0);
            if kind == SHB {
                self.read_shb_order()?;
            }
            let len = self.u32(self.w.avail(), 4) as usize;
            if len < 12 || len % 4 != 0 || len > MAX_RECORD {
                return Err(CaptureError::Corrupt {
                    offset: block_offset,
                    reason: format!("block of type {kind:#x} has length {len}"),
                });
            }
            self.w.need(len, "pcapng block")?;
            let b = &self.w.avail()[..len];
            let trailer = self.u32(b, len - 4) as usize;
            if trailer != len {
                return Err(CaptureError::Corrupt {
                    offset: block_offset,
                    reason: format!("block length {len} but trailing length {trailer}"),
                });
            }
            let body = &b[8..len - 4];
            match kind {
                IDB => {
                    let iface = self.parse_idb(body, block_offset)?;
                    self.interfaces.push(iface);
                }
                EPB | OPB | SPB => {
                    let (iface_id, ts, caplen, origlen, data_at) = self.packet_fields(kind, body, block_offset)?;
                    let iface = self.interfaces.get(iface_id).copied().ok_or_else(|| CaptureError::Corrupt {
                        offset: block_offset,
                        reason: format!("packet names interface {iface_id}, which was not described"),
                    })?;
                    if data_at + caplen > body.len() {
                        return Err(CaptureError::Corrupt {
                            offset: block_offset,
                            reason: format!(
                                "packet claims {caplen} captured bytes, block holds {}",
                                body.len().saturating_sub(data_at)
                            ),
                        });
                    }
                    let ts_ns = match ts {
                        Some(units) => iface.ts_ns(units),
                        None => 0,
                    };
                    self.w.consume(len);
                    let block = self.w.avail_before(len);
                    let data = &block[8 + data_at..8 + data_at + caplen];
                    return Ok(Some(Packet {
                        number,
                        ts_ns,
                        link: iface.link,
                        data,
                        orig_len: origlen.max(caplen as u32),
                        file_offset: block_offset,
                        backing: self.w.backing(),
                    }));
                }
                // Section headers were handled above; name resolution, statistics, custom and
                // unknown blocks carry nothing msntap needs.
                _ => {}
            }
            self.w.consume(len);
        }
    }

    fn parse_idb(&self, body: &[u8], at: u64) -> Result<Interface, CaptureError> {
        if body.len() < 8 {
            return Err(CaptureError::Corrupt {
                offset: at,
                reason: "interface description block shorter than 8 bytes".into(),
            });
        }
        let mut iface = Interface {
            link: LinkType(self.u16(body, 0) as u32),
            binary: false,
            exp: 6,
            offset_s: 0,
            snaplen: self.u32(body, 4),
        };
        // Options: code u16, length u16, value padded to 4.
        let mut o = 8;
        while o + 4 <= body.len() {
            let code = self.u16(body, o);
            let olen = self.u16(body, o + 2) as usize;
            let v = o + 4;
            if code == 0 || v + olen > body.len() {
                break;
            }
            match (code, olen) {
                (9, 1) => {
                    iface.binary = body[v] & 0x80 != 0;
                    iface.exp = body[v] & 0x7f;
                }
                (14, 8) => {
                    let hi = self.u32(body, v) as u64;
                    let lo = self.u32(body, v + 4) as u64;
                    let raw = if self.big_endian { (hi << 32) | lo } else { (lo << 32) | hi };
                    iface.offset_s = raw as i64;
                }
                _ => {}
            }
            o = v + olen.div_ceil(4) * 4;
        }
        Ok(iface)
    }

    /// (interface, timestamp units, captured length, wire length, data offset in body)
    fn packet_fields(
        &self,
        kind: u32,
        body: &[u8],
        at: u64,
    ) -> Result<(usize, Option<u64>, usize, u32, usize), CaptureError> {
        let short = |n: usize| CaptureError::Corrupt {
            offset: at,
            reason: format!("packet block body of {} bytes, at least {n} needed", body.len()),
        };
        match kind {
            EPB => {
                if body.len() < 20 {
                    return Err(short(20));
                }
                let ts = ((self.u32(body, 4) as u64) << 32) | self.u32(body, 8) as u64;
                Ok((self.u32(body, 0) as usize, Some(ts), self.u32(body, 12) as usize, self.u32(body, 16), 20))
            }
            OPB => {
                if body.len() < 20 {
                    return Err(short(20));
                }
                let ts = ((self.u32(body, 4) as u64) << 32) | self.u32(body, 8) as u64;
                Ok((self.u16(body, 0) as usize, Some(ts), self.u32(body, 12) as usize, self.u32(body, 16), 20))
            }
            // A simple packet block: interface 0, no timestamp; it holds the packet up to the
            // interface's snap length, padded to four bytes.
            _ => {
                if body.len() < 4 {
                    return Err(short(4));
                }
                let orig = self.u32(body, 0);
                let snap = match self.interfaces.first().map_or(0, |i| i.snaplen) {
                    0 => u32::MAX,
                    s => s,
                };
                let cap = (orig.min(snap) as usize).min(body.len() - 4);
                Ok((0, None, cap, orig, 4))
            }
        }
    }
}
