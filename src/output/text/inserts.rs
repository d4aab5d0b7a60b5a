//! The transcript's inserts on their way to the spool that holds them until a finished
//! connection's text is written: records of an offset and bytes, appended in chunks and read
//! back a block at a time, so a connection that ends with many of them need not hold them in
//! memory.

use crate::output::spool::Spool;

/// Inserts on their way to the inserts spool, as records: the offset (8 bytes, little-endian),
/// the length (4 bytes) and the bytes.
#[derive(Default)]
pub(super) struct InsertLog {
    buf: Vec<u8>,
    last: u64,
    /// An insert came at a lower offset than one before it.
    pub(super) unsorted: bool,
}

impl InsertLog {
    /// Records at most this many bytes before they go to the spool.
    pub(super) const CHUNK: usize = 64 << 10;

    pub(super) fn push(&mut self, at: u64, bytes: Vec<u8>) {
        self.unsorted |= at < self.last;
        self.last = at;
        // A length past u32 is not made by one connection's inserts; split, it stays exact.
        for piece in bytes.chunks(u32::MAX as usize) {
            self.buf.extend_from_slice(&at.to_le_bytes());
            self.buf.extend_from_slice(&(piece.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(piece);
        }
    }

    pub(super) fn flush_if_full(&mut self, spool: &mut Spool<u64>, id: u64) {
        if self.buf.len() >= Self::CHUNK {
            self.flush(spool, id);
        }
    }

    pub(super) fn flush(&mut self, spool: &mut Spool<u64>, id: u64) {
        if !self.buf.is_empty() {
            spool.append(id, &self.buf);
            self.buf.clear();
        }
    }
}

/// Connection `id`'s inserts read back from the inserts spool, in the order written (a block
/// at a time); a read error ends them and is kept in `error`.
pub(super) struct Inserts<'a> {
    spool: &'a Spool<u64>,
    id: u64,
    /// Where the next block starts in the stream.
    at: u64,
    error: &'a mut Option<std::io::Error>,
    block: Vec<u8>,
    used: usize,
}

impl<'a> Inserts<'a> {
    pub(super) fn new(spool: &'a Spool<u64>, id: u64, error: &'a mut Option<std::io::Error>) -> Self {
        Inserts { spool, id, at: 0, error, block: Vec::new(), used: 0 }
    }

    /// The next `n` bytes, read on from the spool when the block runs out.
    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        if self.block.len() - self.used < n {
            let left = self.spool.len(self.id).saturating_sub(self.at);
            let want = (n - (self.block.len() - self.used)) as u64;
            let len = want.max(InsertLog::CHUNK as u64).min(left);
            if len < want {
                return None;
            }
            match self.spool.read_range(self.id, self.at, len as usize) {
                Ok(more) => {
                    self.block.drain(..self.used);
                    self.used = 0;
                    self.block.extend_from_slice(&more);
                    self.at += len;
                }
                Err(e) => {
                    *self.error = Some(e);
                    return None;
                }
            }
        }
        let out = self.block.get(self.used..self.used + n)?.to_vec();
        self.used += n;
        Some(out)
    }
}

impl Iterator for Inserts<'_> {
    type Item = (u64, Vec<u8>);

    fn next(&mut self) -> Option<(u64, Vec<u8>)> {
        if self.error.is_some() {
            return None;
        }
        let head = self.bytes(12)?;
        let (off, len) = head.split_at(8);
        let off = u64::from_le_bytes(off.try_into().unwrap_or_default());
        let len = u32::from_le_bytes(len.try_into().unwrap_or_default());
        Some((off, self.bytes(len as usize)?))
    }
}
