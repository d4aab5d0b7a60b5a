//! Byte streams kept per open connection for outputs that must write a connection whole
//! (the JSON document): in memory up to a budget, and past it in an unlinked temporary file,
//! so memory stays bounded however many events open connections collect. Reading a stream
//! back can splice text in at recorded offsets (violations found after an event was written).

use crate::fasthash::FastMap;
use std::fs::File;
use std::io::{self, Write};

/// Default bytes held in memory across all streams before the largest are moved to disk.
pub const DEFAULT_BUDGET: usize = 4 << 20;

#[derive(Default)]
struct Stream {
    /// Parts already on disk: (file offset, length), in order.
    spilled: Vec<(u64, u64)>,
    /// The bytes after them.
    mem: Vec<u8>,
    /// Total length.
    len: u64,
}

/// Streams keyed by `K`, appended to and finally read back once.
pub struct Spool<K> {
    streams: FastMap<K, Stream>,
    in_memory: usize,
    budget: usize,
    file: Option<File>,
    file_len: u64,
    /// Set when the temporary file could not be made or written: streams then stay in memory.
    pub disk_error: Option<io::Error>,
}

impl<K: std::hash::Hash + Eq + Copy> Spool<K> {
    /// A spool holding at most `budget` bytes in memory.
    pub fn new(budget: usize) -> Self {
        Spool { streams: FastMap::default(), in_memory: 0, budget, file: None, file_len: 0, disk_error: None }
    }

    /// Length of stream `k` so far (0 if it has none).
    pub fn len(&self, k: K) -> u64 {
        self.streams.get(&k).map_or(0, |s| s.len)
    }

    /// Whether stream `k` holds no bytes.
    pub fn is_empty(&self, k: K) -> bool {
        self.len(k) == 0
    }

    /// Bytes of all streams currently on disk.
    pub fn on_disk(&self) -> u64 {
        self.streams.values().map(|s| s.spilled.iter().map(|p| p.1).sum::<u64>()).sum()
    }

    /// Appends to stream `k`.
    pub fn append(&mut self, k: K, bytes: &[u8]) {
        let s = self.streams.entry(k).or_default();
        s.mem.extend_from_slice(bytes);
        s.len += bytes.len() as u64;
        self.in_memory += bytes.len();
        if self.in_memory > self.budget && self.disk_error.is_none() {
            self.spill();
        }
    }

    /// Moves the largest in-memory parts to disk until half the budget is left.
    fn spill(&mut self) {
        if self.file.is_none() {
            match temp_file() {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    self.disk_error = Some(e);
                    return;
                }
            }
        }
        let Some(file) = self.file.as_mut() else { return };
        let mut sizes: Vec<(usize, K)> =
            self.streams.iter().filter(|(_, s)| !s.mem.is_empty()).map(|(k, s)| (s.mem.len(), *k)).collect();
        sizes.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        for (_, k) in sizes {
            if self.in_memory <= self.budget / 2 {
                break;
            }
            let Some(s) = self.streams.get_mut(&k) else { continue };
            if let Err(e) = file.write_all(&s.mem) {
                self.disk_error = Some(e);
                return;
            }
            s.spilled.push((self.file_len, s.mem.len() as u64));
            self.file_len += s.mem.len() as u64;
            self.in_memory -= s.mem.len();
            s.mem = Vec::new();
        }
    }

    /// `len` bytes of stream `k` from offset `off` (fewer where the stream is shorter).
    pub fn read_range(&self, k: K, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let Some(s) = self.streams.get(&k) else { return Ok(out) };
        let mut pos = 0u64;
        let mut want = off;
        for &(at, plen) in &s.spilled {
            if want < pos + plen && out.len() < len {
                let start = want - pos;
                let n = (plen - start).min((len - out.len()) as u64) as usize;
                let mut buf = vec![0u8; n];
                read_at(self.file.as_ref(), &mut buf, at + start)?;
                out.extend_from_slice(&buf);
                want += n as u64;
            }
            pos += plen;
        }
        if out.len() < len && want >= pos {
            let start = (want - pos) as usize;
            if let Some(rest) = s.mem.get(start..) {
                out.extend_from_slice(&rest[..rest.len().min(len - out.len())]);
            }
        }
        Ok(out)
    }

    /// Forgets stream `k`.
    pub fn discard(&mut self, k: K) {
        if let Some(s) = self.streams.remove(&k) {
            self.in_memory -= s.mem.len();
        }
    }

    /// Writes stream `k` to `out` with `inserts` (offset, bytes; sorted by offset) spliced in
    /// before the byte at each offset, and forgets it.
    pub fn take(&mut self, k: K, inserts: &[(u64, Vec<u8>)], out: &mut dyn Write) -> io::Result<()> {
        let Some(s) = self.streams.remove(&k) else {
            for (_, b) in inserts {
                out.write_all(b)?;
            }
            return Ok(());
        };
        self.in_memory -= s.mem.len();
        let mut ins = inserts.iter().peekable();
        let mut pos = 0u64;
        let mut buf = Vec::new();
        let parts =
            s.spilled.iter().map(|&(at, len)| (Some(at), len)).chain(std::iter::once((None, s.mem.len() as u64)));
        for (at, len) in parts {
            let bytes: &[u8] = match at {
                Some(at) => {
                    buf.resize(len as usize, 0);
                    read_at(self.file.as_ref(), &mut buf, at)?;
                    &buf
                }
                None => &s.mem,
            };
            let mut i = 0usize;
            while let Some((off, b)) = ins.next_if(|(off, _)| *off <= pos + len) {
                let cut = (off.saturating_sub(pos) as usize).min(bytes.len());
                out.write_all(&bytes[i.min(cut)..cut])?;
                out.write_all(b)?;
                i = i.max(cut);
            }
            out.write_all(&bytes[i.min(bytes.len())..])?;
            pos += len;
        }
        for (_, b) in ins {
            out.write_all(b)?;
        }
        Ok(())
    }
}

fn read_at(file: Option<&File>, buf: &mut [u8], at: u64) -> io::Result<()> {
    let Some(f) = file else { return Err(io::Error::other("spool part without a file")) };
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = f;
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(buf)?;
        f.seek(SeekFrom::End(0))?;
        Ok(())
    }
}

/// A new file in the temporary directory, removed from the directory at once (it lives while
/// open). Appends go to its end.
fn temp_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!("msntap-spool-{}-{nanos}-{attempt}", std::process::id()));
        match std::fs::OpenOptions::new().read(true).append(true).create_new(true).open(&path) {
            Ok(f) => {
                // Unlinked while open: nothing is left behind, whatever happens to the process.
                let _ = std::fs::remove_file(&path);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("could not make a temporary file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(sp: &mut Spool<u32>, k: u32, ins: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        sp.take(k, ins, &mut out).expect("take");
        out
    }

    #[test]
    fn streams_come_back_whole_with_splices_in_memory_and_on_disk() {
        for budget in [1 << 20, 64, 1] {
            let mut sp: Spool<u32> = Spool::new(budget);
            let mut want: [Vec<u8>; 3] = Default::default();
            for i in 0..300u32 {
                let k = i % 3;
                let chunk = format!("<{i}:{}>", "x".repeat((i % 17) as usize));
                sp.append(k, chunk.as_bytes());
                want[k as usize].extend_from_slice(chunk.as_bytes());
            }
            if budget < 1000 {
                assert!(sp.on_disk() > 0, "budget {budget}: nothing spilled");
            }
            assert_eq!(sp.len(1), want[1].len() as u64);
            for (off, len) in [(0, 5), (3, 40), (100, 1000), (want[1].len() - 2, 10)] {
                let got = sp.read_range(1, off as u64, len).expect("read");
                assert_eq!(got, want[1][off..(off + len).min(want[1].len())], "range {off}+{len}");
            }
            // Splices at the start, inside, at part boundaries and at the end.
            let n = want[0].len() as u64;
            let ins: Vec<(u64, Vec<u8>)> =
                [0, 1, 7, 7, n / 2, n - 1, n].iter().map(|&o| (o, format!("[{o}]").into_bytes())).collect();
            let mut expect = Vec::new();
            let mut last = 0usize;
            for (o, b) in &ins {
                expect.extend_from_slice(&want[0][last..*o as usize]);
                expect.extend_from_slice(b);
                last = *o as usize;
            }
            expect.extend_from_slice(&want[0][last..]);
            assert_eq!(take(&mut sp, 0, &ins), expect, "budget {budget}");
            assert_eq!(take(&mut sp, 1, &[]), want[1]);
            sp.discard(2);
            assert!(sp.is_empty(2));
            assert_eq!(take(&mut sp, 9, &[(0, b"only".to_vec())]), b"only");
        }
    }
}
