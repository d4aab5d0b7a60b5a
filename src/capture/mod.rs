//! Packet sources. A capture file is read as a stream of packets, never loaded whole, so a
//! multi-gigabyte capture costs one record's worth of memory. pcap (micro- and nanosecond,
//! either byte order) and pcapng (several sections and interfaces, any timestamp resolution)
//! are recognised by their magic numbers.

#[cfg(feature = "live")]
pub mod live;
mod pcap;
mod pcapng;
pub mod write;

pub use crate::flow::LinkType;
use std::io::{self, Read};
use std::sync::Arc;

/// Largest record msntap accepts; a bigger length field is treated as corruption.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Ordinal of the packet in the file, from 1 (as Wireshark numbers frames).
    pub number: u64,
    /// Capture time in nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Link type of the interface the packet was captured on.
    pub link: LinkType,
    /// The captured bytes (possibly fewer than were on the wire).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// Offset of the record in the file.
    pub file_offset: u64,
    /// The reader's buffer that `data` lies in.
    pub(crate) backing: Backing<'a>,
}

/// The reader's buffer a packet's bytes lie in, shared: sharded analysis hands segments to its
/// workers as places in it instead of copies ([`Window`] then reads on into another buffer).
#[derive(Clone, Copy)]
pub(crate) struct Backing<'a>(pub(crate) &'a Arc<Vec<u8>>);

impl std::fmt::Debug for Backing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backing({} bytes)", self.0.len())
    }
}

/// The two container formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap.
    Pcap,
    /// pcap next generation.
    PcapNg,
}

/// Why a capture could not be read further. Every variant names the file offset.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The operating system refused to read.
    #[error("read error at offset {offset}: {source}")]
    Io {
        /// Offset where reading failed.
        offset: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// The first bytes are neither pcap nor pcapng.
    #[error("not a pcap or pcapng file (magic {magic:02x?} at offset 0)")]
    NotACapture {
        /// The first bytes seen.
        magic: Vec<u8>,
    },
    /// The file ends inside a header or a record.
    #[error("capture truncated at offset {offset}: {what} needs {need} bytes, only {have} present")]
    Truncated {
        /// Offset of the incomplete structure.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// Bytes the structure needs.
        need: u64,
        /// Bytes that were present.
        have: u64,
    },
    /// A structure holds impossible values.
    #[error("corrupt capture at offset {offset}: {reason}")]
    Corrupt {
        /// Offset of the bad structure.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// The window's usual size.
const WINDOW: usize = 256 * 1024;
/// Buffers lent out and kept for reuse once given back, at most.
const SPARE: usize = 16;

/// A growable window over a `Read`, tracking the file offset of its first byte. Its buffer may
/// be lent out (a clone of the `Arc`, see [`Backing`]): bytes lent are never written again; the
/// window moves its live bytes into a buffer no one else holds before it reads on.
pub(crate) struct Window<R> {
    inner: R,
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    pub offset: u64,
    eof: bool,
    /// Buffers of [`WINDOW`] bytes replaced while lent, reused once no one else holds them.
    spare: Vec<Arc<Vec<u8>>>,
}

impl<R: Read> Window<R> {
    fn new(inner: R) -> Self {
        Window { inner, buf: Arc::new(vec![0; WINDOW]), start: 0, end: 0, offset: 0, eof: false, spare: Vec::new() }
    }

    /// Bytes available from the current position.
    pub fn avail(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes at least `n` bytes available; returns how many are (fewer only at end of file).
    /// Inline for the usual case, three times a packet: the bytes are already there.
    #[inline]
    pub fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
        let have = self.end - self.start;
        if have >= n || self.eof {
            return Ok(have);
        }
        self.refill(n)
    }

    /// [`Window::fill`] when the window must read.
    #[inline(never)]
    fn refill(&mut self, n: usize) -> Result<usize, CaptureError> {
        while self.end - self.start < n && !self.eof {
            if Arc::get_mut(&mut self.buf).is_none() {
                self.unlend(n);
            }
            let Some(buf) = Arc::get_mut(&mut self.buf) else {
                // `unlend` left a buffer no one else holds; nothing to read into otherwise.
                return Ok(self.end - self.start);
            };
            if buf.len() - self.start < n {
                // Move the live bytes to the front, growing if one record needs more room.
                buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if buf.len() < n {
                    buf.resize(n.next_power_of_two(), 0);
                }
            }
            let end = self.end;
            match self.inner.read(&mut buf[end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io { offset: self.offset + (self.end - self.start) as u64, source })
                }
            }
        }
        Ok(self.end - self.start)
    }

    /// Moves the live bytes out of a buffer that is lent into one no one else holds (a spare
    /// given back, else a new one), at least `n` bytes long.
    #[cold]
    fn unlend(&mut self, n: usize) {
        let want = n.max(WINDOW);
        let given_back = self.spare.iter().position(|b| Arc::strong_count(b) == 1 && b.len() >= want);
        let fresh = match given_back {
            Some(i) => self.spare.swap_remove(i),
            None => Arc::new(vec![0; want.next_power_of_two()]),
        };
        let old = std::mem::replace(&mut self.buf, fresh);
        let live = old.get(self.start..self.end).unwrap_or_default();
        if let Some(buf) = Arc::get_mut(&mut self.buf) {
            if let Some(to) = buf.get_mut(..live.len()) {
                to.copy_from_slice(live);
            }
        }
        self.end = live.len();
        self.start = 0;
        if old.len() == WINDOW && self.spare.len() < SPARE {
            self.spare.push(old);
        }
    }

    /// Like `fill`, but a short read is a `Truncated` error naming `what`.
    pub fn need(&mut self, n: usize, what: &'static str) -> Result<(), CaptureError> {
        let have = self.fill(n)?;
        if have < n {
            return Err(CaptureError::Truncated { offset: self.offset, what, need: n as u64, have: have as u64 });
        }
        Ok(())
    }

    /// The `n` bytes just consumed (valid until the next `fill`).
    pub fn avail_before(&self, n: usize) -> &[u8] {
        &self.buf[self.start - n.min(self.start)..self.start]
    }

    /// The buffer [`Window::avail_before`] lends from.
    pub fn backing(&self) -> Backing<'_> {
        Backing(&self.buf)
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// True when no byte is left.
    pub fn at_eof(&mut self) -> Result<bool, CaptureError> {
        Ok(self.fill(1)? == 0)
    }
}

enum Inner<R> {
    Pcap(pcap::PcapReader<R>),
    PcapNg(pcapng::PcapNgReader<R>),
}

/// Streaming reader for pcap and pcapng files.
pub struct CaptureReader<R> {
    inner: Inner<R>,
    number: u64,
}

impl<R: Read> CaptureReader<R> {
    /// Recognises the format from the first bytes and reads the file header.
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        let mut w = Window::new(reader);
        let have = w.fill(4)?;
        let magic = w.avail()[..have.min(4)].to_vec();
        let inner = match magic.as_slice() {
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => Inner::Pcap(pcap::PcapReader::new(w)?),
            [0x0a, 0x0d, 0x0d, 0x0a] => Inner::PcapNg(pcapng::PcapNgReader::new(w)?),
            _ => return Err(CaptureError::NotACapture { magic }),
        };
        Ok(CaptureReader { inner, number: 0 })
    }

    /// Which container this is.
    pub fn format(&self) -> Format {
        match self.inner {
            Inner::Pcap(_) => Format::Pcap,
            Inner::PcapNg(_) => Format::PcapNg,
        }
    }

    /// Bytes of the file consumed so far.
    pub fn offset(&self) -> u64 {
        match &self.inner {
            Inner::Pcap(r) => r.w.offset,
            Inner::PcapNg(r) => r.w.offset,
        }
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        self.number += 1;
        let number = self.number;
        let p = match &mut self.inner {
            Inner::Pcap(r) => r.next(number)?,
            Inner::PcapNg(r) => r.next(number)?,
        };
        if p.is_none() {
            self.number -= 1;
        }
        Ok(p)
    }
}

/// A file read from its start to a given length through positioned reads, so that several
/// readers (threads of sharded analysis) share one open file: all read the same file even if
/// its path is replaced meanwhile, and to the same length even if it grows.
pub struct FileAt<'f> {
    file: &'f std::fs::File,
    at: u64,
    end: u64,
}

impl<'f> FileAt<'f> {
    /// `file`'s first `len` bytes.
    pub fn new(file: &'f std::fs::File, len: u64) -> Self {
        FileAt { file, at: 0, end: len }
    }
}

impl Read for FileAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.at)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let Some(to) = buf.get_mut(..want) else { return Ok(0) };
        if to.is_empty() {
            return Ok(0);
        }
        let n = std::os::unix::fs::FileExt::read_at(self.file, to, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl CaptureReader<std::fs::File> {
    /// Opens a file by path (the reader buffers by itself).
    pub fn open(path: &std::path::Path) -> Result<Self, CaptureError> {
        let f = std::fs::File::open(path).map_err(|source| CaptureError::Io { offset: 0, source })?;
        CaptureReader::new(f)
    }
}

#[cfg(test)]
mod tests;
