//! Classic libpcap files: a 24-byte header, then 16-byte record headers each followed by data.

use super::{CaptureError, LinkType, Packet, Window, MAX_RECORD};
use std::io::Read;

pub(super) struct PcapReader<R> {
    pub w: Window<R>,
    big_endian: bool,
    nanos: bool,
    link: LinkType,
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// A record header's four fields (seconds, fraction, captured and original length): from a
/// fixed-size array, so no index is checked at run time.
fn record_header(h: &[u8; 16], be: bool) -> [u32; 4] {
    std::array::from_fn(|k| {
        let w = [h[4 * k], h[4 * k + 1], h[4 * k + 2], h[4 * k + 3]];
        if be {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    })
}

impl<R: Read> PcapReader<R> {
    pub fn new(mut w: Window<R>) -> Result<Self, CaptureError> {
        w.need(24, "pcap file header")?;
        let h = w.avail();
        let (big_endian, nanos) = match [h[0], h[1], h[2], h[3]] {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            _ => (true, true),
        };
        // The upper bits of the link type field carry FCS information, not the type.
        let link = LinkType(u32_at(h, 20, big_endian) & 0x0FFF_FFFF);
        w.consume(24);
        Ok(PcapReader { w, big_endian, nanos, link })
    }

    pub fn next(&mut self, number: u64) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.w.at_eof()? {
            return Ok(None);
        }
        self.w.need(16, "pcap record header")?;
        let Some(h) = self.w.avail().first_chunk::<16>() else {
            return Err(CaptureError::Truncated {
                offset: self.w.offset,
                what: "pcap record header",
                need: 16,
                have: self.w.avail().len() as u64,
            });
        };
        let [secs, frac, incl, orig] = record_header(h, self.big_endian);
        let (secs, frac, incl) = (i64::from(secs), i64::from(frac), incl as usize);
        let record_offset = self.w.offset;
        if incl > MAX_RECORD {
            return Err(CaptureError::Corrupt {
                offset: record_offset,
                reason: format!("record claims {incl} captured bytes (limit {MAX_RECORD})"),
            });
        }
        let ts_ns = secs * 1_000_000_000 + if self.nanos { frac } else { frac * 1000 };
        self.w.consume(16);
        if let Err(e) = self.w.need(incl, "pcap record data") {
            // Name the record, not the data, so the user can find it.
            return Err(match e {
                CaptureError::Truncated { need, have, .. } => CaptureError::Truncated {
                    offset: record_offset,
                    what: "pcap record",
                    need: need + 16,
                    have: have + 16,
                },
                other => other,
            });
        }
        // Consume now; the bytes stay valid in the window until the next fill.
        self.w.consume(incl);
        let data = self.w.avail_before(incl);
        Ok(Some(Packet {
            number,
            ts_ns,
            link: self.link,
            data,
            orig_len: orig.max(incl as u32),
            file_offset: record_offset,
            backing: self.w.backing(),
        }))
    }
}
