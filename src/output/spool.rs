//! Byte streams kept per open connection for outputs that must write a connection whole (the
//! transcript, the JSON document): in memory up to a budget, and past it in unlinked temporary
//! files, so memory stays bounded however many events open connections collect. Memory is
//! handed out in blocks of a few fixed sizes that are reused (no growing buffers for the
//! allocator to scatter): a stream's blocks double from [`MIN_BLOCK`] to [`BLOCK`], so
//! thousands of open streams with a few lines each fit in the budget, and the streams spilled
//! are those holding the most bytes, in one write per [`STAGE`] bytes. Disk space is handed
//! back: a new file is started every [`FILE_SIZE`] bytes, a file is closed (freed) once no
//! stream has a part in it, and when a new file is started the parts still alive in files that
//! are less than half alive are copied into it (long connections would otherwise pin every
//! file), so disk use stays within about twice the live bytes. Reading a stream back can
//! splice text in at recorded offsets (what is only known when the connection ends).

use crate::fasthash::FastMap;
use std::fs::File;
use std::io::{self, Seek, Write};

/// Default bytes held in memory across all streams before the largest are moved to disk.
pub const DEFAULT_BUDGET: usize = 4 << 20;
/// Size of a stream's largest memory blocks.
const BLOCK: usize = 16 << 10;
/// Size of a stream's first memory block (each next one doubles, up to [`BLOCK`]).
const MIN_BLOCK: usize = 512;
/// Block sizes: `MIN_BLOCK << class`.
const CLASSES: usize = 6;
/// Spilled bytes are gathered into writes of about this size.
const STAGE: usize = 256 << 10;
/// A new temporary file is started once the current one holds this many bytes.
pub const FILE_SIZE: u64 = 64 << 20;

/// The size of a stream's `i`-th block in memory.
fn block_size(i: usize) -> usize {
    MIN_BLOCK << i.min(CLASSES - 1)
}

/// The class of a block of capacity `cap` (blocks are made with exactly a class's size).
fn class_of(cap: usize) -> usize {
    (0..CLASSES).find(|&c| MIN_BLOCK << c >= cap).unwrap_or(CLASSES - 1)
}

/// A part of a stream on disk: file, offset, length.
#[derive(Clone, Copy)]
struct Part {
    file: usize,
    at: u64,
    len: u64,
}

#[derive(Default)]
struct Stream {
    /// Parts already on disk, in order.
    spilled: Vec<Part>,
    /// The bytes after them, in blocks of [`block_size`] capacity.
    blocks: Vec<Vec<u8>>,
    /// Bytes in `blocks`.
    in_memory: usize,
    /// Total length.
    len: u64,
}

/// A temporary file, and how many parts and bytes still live in it.
struct TempFile {
    file: File,
    len: u64,
    parts: u64,
    live: u64,
}

/// Streams keyed by `K`, appended to and finally read back once.
pub struct Spool<K> {
    streams: FastMap<K, Stream>,
    /// Capacity of the blocks handed out.
    held: usize,
    /// Blocks free for reuse, by class, and their capacity.
    free: [Vec<Vec<u8>>; CLASSES],
    free_bytes: usize,
    budget: usize,
    files: Vec<Option<TempFile>>,
    file_size: u64,
    /// Set when a temporary file could not be made or written: streams then stay in memory.
    pub disk_error: Option<io::Error>,
}

/// Streams' blocks gathered for one write to file `file`.
struct Staged<K> {
    file: usize,
    bytes: Vec<u8>,
    /// Capacity of the blocks gathered (still counted in the spool's `held`).
    held: usize,
    /// Stream, its blocks (given back once written) and the bytes they hold.
    from: Vec<(K, Vec<Vec<u8>>, usize)>,
}

impl<K: std::hash::Hash + Eq + Copy> Spool<K> {
    /// A spool holding at most about `budget` bytes in memory.
    pub fn new(budget: usize) -> Self {
        Spool {
            streams: FastMap::default(),
            held: 0,
            free: Default::default(),
            free_bytes: 0,
            budget: budget.max(2 * BLOCK),
            files: Vec::new(),
            file_size: FILE_SIZE,
            disk_error: None,
        }
    }

    /// Starts a new temporary file every `bytes` (instead of [`FILE_SIZE`]).
    pub fn with_file_size(mut self, bytes: u64) -> Self {
        self.file_size = bytes.max(1);
        self
    }

    /// Length of stream `k` so far (0 if it has none).
    pub fn len(&self, k: K) -> u64 {
        self.streams.get(&k).map_or(0, |s| s.len)
    }

    /// Whether stream `k` holds no bytes.
    pub fn is_empty(&self, k: K) -> bool {
        self.len(k) == 0
    }

    /// Bytes of memory held in blocks (in use or free for reuse).
    pub fn memory(&self) -> usize {
        self.held + self.free_bytes
    }

    /// Bytes of temporary files still open (disk in use).
    pub fn on_disk(&self) -> u64 {
        self.files.iter().flatten().map(|f| f.len).sum()
    }

    /// Parts of streams on disk (each one read back by itself).
    #[cfg(test)]
    fn parts(&self) -> usize {
        self.streams.values().map(|s| s.spilled.len()).sum()
    }

    /// Appends to stream `k`.
    pub fn append(&mut self, k: K, mut bytes: &[u8]) {
        let s = self.streams.entry(k).or_default();
        s.len += bytes.len() as u64;
        s.in_memory += bytes.len();
        while !bytes.is_empty() {
            let room = s.blocks.last().map_or(0, |b| b.capacity() - b.len());
            if room == 0 {
                let size = block_size(s.blocks.len());
                let b = self.free[class_of(size)].pop().map_or_else(
                    || Vec::with_capacity(size),
                    |b| {
                        self.free_bytes -= b.capacity();
                        b
                    },
                );
                self.held += b.capacity();
                s.blocks.push(b);
                continue;
            }
            let n = room.min(bytes.len());
            if let Some(b) = s.blocks.last_mut() {
                b.extend_from_slice(&bytes[..n]);
            }
            bytes = &bytes[n..];
        }
        if self.held > self.budget && self.disk_error.is_none() {
            self.spill();
        }
    }

    /// Moves the streams holding the most bytes to disk until half the budget is in use.
    fn spill(&mut self) {
        let mut sizes: Vec<(usize, K)> =
            self.streams.iter().filter(|(_, s)| !s.blocks.is_empty()).map(|(k, s)| (s.in_memory, *k)).collect();
        sizes.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        let started = self.files.len();
        let file = match current_file(&mut self.files, self.file_size) {
            Ok(f) => f,
            Err(e) => return self.disk_failed(e),
        };
        if self.files.len() > started {
            if let Err(e) = self.compact(file) {
                return self.disk_failed(e);
            }
        }
        let mut stage = Staged { file, bytes: Vec::new(), held: 0, from: Vec::new() };
        for (_, k) in sizes {
            if self.held - stage.held <= self.budget / 2 {
                break;
            }
            let Some(s) = self.streams.get_mut(&k) else { continue };
            let blocks = std::mem::take(&mut s.blocks);
            let n = std::mem::take(&mut s.in_memory);
            for b in &blocks {
                stage.bytes.extend_from_slice(b);
                stage.held += b.capacity();
            }
            stage.from.push((k, blocks, n));
            if stage.bytes.len() >= STAGE {
                if let Err(e) = self.write_staged(&mut stage) {
                    return self.disk_failed(e);
                }
            }
        }
        if !stage.from.is_empty() {
            if let Err(e) = self.write_staged(&mut stage) {
                self.disk_failed(e);
            }
        }
    }

    /// Writes the staged bytes: their streams gain parts and give their blocks back. If the
    /// write fails the blocks go back to their streams (nothing is lost).
    fn write_staged(&mut self, stage: &mut Staged<K>) -> io::Result<()> {
        let from = std::mem::take(&mut stage.from);
        stage.held = 0;
        let written = match self.files.get_mut(stage.file).and_then(Option::as_mut) {
            Some(tf) => tf.file.write_all(&stage.bytes).map(|()| tf.len),
            None => Err(closed()),
        };
        stage.bytes.clear();
        let mut at = match written {
            Ok(at) => at,
            Err(e) => {
                for (k, blocks, n) in from {
                    if let Some(s) = self.streams.get_mut(&k) {
                        s.blocks = blocks;
                        s.in_memory = n;
                    }
                }
                return Err(e);
            }
        };
        for (k, blocks, n) in from {
            let part = Part { file: stage.file, at, len: n as u64 };
            at += n as u64;
            if let Some(s) = self.streams.get_mut(&k) {
                s.spilled.push(part);
            }
            if let Some(tf) = self.files.get_mut(stage.file).and_then(Option::as_mut) {
                tf.len = at;
                tf.parts += 1;
                tf.live += n as u64;
            }
            self.give_back(blocks);
        }
        Ok(())
    }

    /// Keeps streams in memory from now on: a temporary file could not be made or written.
    fn disk_failed(&mut self, e: io::Error) {
        tracing::warn!(error = %e, "cannot spool to a temporary file; the transcript is held in memory instead");
        self.disk_error = Some(e);
    }

    /// Takes blocks back for reuse (up to a quarter of the budget in all; the rest are freed).
    fn give_back(&mut self, blocks: Vec<Vec<u8>>) {
        for mut b in blocks {
            b.clear();
            self.held -= b.capacity();
            if self.free_bytes + b.capacity() <= self.budget / 4 {
                self.free_bytes += b.capacity();
                self.free[class_of(b.capacity())].push(b);
            }
        }
    }

    /// A part of file `i` is gone: when none is left, the file is closed (freeing its space),
    /// or emptied if it is the one being written.
    fn forget_part(&mut self, p: &Part) {
        let current = self.files.len().saturating_sub(1);
        let Some(slot) = self.files.get_mut(p.file) else { return };
        let Some(tf) = slot.as_mut() else { return };
        tf.parts -= 1;
        tf.live -= p.len;
        if tf.parts > 0 {
            return;
        }
        if p.file != current {
            *slot = None;
        } else if tf.file.set_len(0).and_then(|()| tf.file.rewind()).is_ok() {
            // Writes go where the cursor is: back to the start of the emptied file.
            tf.len = 0;
        }
    }

    /// Copies the parts still alive in files less than half alive into file `to` (just
    /// started), and closes the files they leave empty.
    fn compact(&mut self, to: usize) -> io::Result<()> {
        let sparse: Vec<usize> = (0..to)
            .filter(|&i| self.files.get(i).and_then(Option::as_ref).is_some_and(|tf| tf.live * 2 < tf.len))
            .collect();
        if sparse.is_empty() {
            return Ok(());
        }
        let mut buf = vec![0u8; BLOCK];
        let mut moved = Vec::new();
        for s in self.streams.values_mut() {
            for p in s.spilled.iter_mut().filter(|p| sparse.contains(&p.file)) {
                let mut done = 0u64;
                while done < p.len {
                    let n = (p.len - done).min(BLOCK as u64) as usize;
                    let from = self.files.get(p.file).and_then(Option::as_ref).ok_or_else(closed)?;
                    read_at(&from.file, &mut buf[..n], p.at + done)?;
                    let dst = self.files.get_mut(to).and_then(Option::as_mut).ok_or_else(closed)?;
                    dst.file.write_all(&buf[..n])?;
                    done += n as u64;
                }
                let dst = self.files.get_mut(to).and_then(Option::as_mut).ok_or_else(closed)?;
                moved.push(*p);
                *p = Part { file: to, at: dst.len, len: p.len };
                dst.len += p.len;
                dst.parts += 1;
                dst.live += p.len;
            }
        }
        // The sparse files lose these parts and close once none is left (none is current).
        for p in &moved {
            self.forget_part(p);
        }
        Ok(())
    }

    /// Gives back a stream's memory and disk parts.
    fn release(&mut self, s: Stream) {
        self.give_back(s.blocks);
        for p in &s.spilled {
            self.forget_part(p);
        }
    }

    /// Forgets stream `k`.
    pub fn discard(&mut self, k: K) {
        if let Some(s) = self.streams.remove(&k) {
            self.release(s);
        }
    }

    /// `len` bytes of stream `k` from offset `off` (fewer where the stream is shorter).
    pub fn read_range(&self, k: K, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let Some(s) = self.streams.get(&k) else { return Ok(out) };
        let mut pos = 0u64;
        let mut want = off;
        for p in &s.spilled {
            if want < pos + p.len && out.len() < len {
                let start = want - pos;
                let n = (p.len - start).min((len - out.len()) as u64) as usize;
                let at = out.len();
                out.resize(at + n, 0);
                self.read_part(p, start, &mut out[at..])?;
                want += n as u64;
            }
            pos += p.len;
        }
        for b in &s.blocks {
            let blen = b.len() as u64;
            if want < pos + blen && out.len() < len {
                let start = (want - pos) as usize;
                let n = (b.len() - start).min(len - out.len());
                out.extend_from_slice(&b[start..start + n]);
                want += n as u64;
            }
            pos += blen;
        }
        Ok(out)
    }

    fn read_part(&self, p: &Part, start: u64, buf: &mut [u8]) -> io::Result<()> {
        match self.files.get(p.file).and_then(Option::as_ref) {
            Some(tf) => read_at(&tf.file, buf, p.at + start),
            None => Err(closed()),
        }
    }

    /// Writes stream `k` to `out` with `inserts` (offset, bytes; sorted by offset) spliced in
    /// before the byte at each offset, and forgets it.
    pub fn take(&mut self, k: K, inserts: &[(u64, Vec<u8>)], out: &mut dyn Write) -> io::Result<()> {
        self.take_with(k, inserts.iter().map(|(off, b)| (*off, b.as_slice())), out)
    }

    /// [`Spool::take`] with the inserts from an iterator (sorted by offset), so they need not
    /// all be in memory at once.
    pub fn take_with<B: AsRef<[u8]>>(
        &mut self,
        k: K,
        inserts: impl Iterator<Item = (u64, B)>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let Some(s) = self.streams.remove(&k) else {
            for (_, b) in inserts {
                out.write_all(b.as_ref())?;
            }
            return Ok(());
        };
        let r = self.write_stream(&s, inserts, out);
        self.release(s);
        r
    }

    fn write_stream<B: AsRef<[u8]>>(
        &self,
        s: &Stream,
        inserts: impl Iterator<Item = (u64, B)>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let mut ins = inserts.peekable();
        let mut pos = 0u64;
        // Disk parts are read a block at a time (one buffer, not one as large as the part).
        let mut buf = vec![0u8; BLOCK];
        let pieces = s
            .spilled
            .iter()
            .flat_map(|p| (0..p.len.div_ceil(BLOCK as u64)).map(move |i| Some((p, i * BLOCK as u64))))
            .chain(s.blocks.iter().map(|_| None));
        let mut block = 0;
        for piece in pieces {
            let bytes: &[u8] = match piece {
                Some((p, start)) => {
                    let n = (p.len - start).min(BLOCK as u64) as usize;
                    self.read_part(p, start, &mut buf[..n])?;
                    &buf[..n]
                }
                None => {
                    block += 1;
                    &s.blocks[block - 1]
                }
            };
            let len = bytes.len() as u64;
            let mut i = 0usize;
            while let Some((off, b)) = ins.next_if(|(off, _)| *off <= pos + len) {
                let cut = (off.saturating_sub(pos) as usize).min(bytes.len());
                out.write_all(&bytes[i.min(cut)..cut])?;
                out.write_all(b.as_ref())?;
                i = i.max(cut);
            }
            out.write_all(&bytes[i.min(bytes.len())..])?;
            pos += len;
        }
        for (_, b) in ins {
            out.write_all(b.as_ref())?;
        }
        Ok(())
    }
}

fn closed() -> io::Error {
    io::Error::other("spool part in a file already closed")
}

/// The file to append to: the last one, or a new one when there is none or the last holds
/// `size` bytes.
fn current_file(files: &mut Vec<Option<TempFile>>, size: u64) -> io::Result<usize> {
    if let Some(Some(tf)) = files.last() {
        if tf.len < size {
            return Ok(files.len() - 1);
        }
    }
    let file = temp_file()?;
    // Closed files leave `None` behind; the list stays short (one entry per file size written).
    files.push(Some(TempFile { file, len: 0, parts: 0, live: 0 }));
    Ok(files.len() - 1)
}

fn read_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
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

/// A new file in the temporary directory that no other user can open: made without a name
/// where the system allows (`O_TMPFILE`), else under a random name with mode 0600 and removed
/// from the directory at once; it lives while open, and nothing is left behind whatever
/// happens to the process.
fn temp_file() -> io::Result<File> {
    let f = tempfile::tempfile()?;
    #[cfg(unix)]
    {
        // O_TMPFILE files get the umask's mode; they should never be linked, but if one were,
        // it would still be its owner's alone.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn spool_files_have_no_name_and_only_their_owner_may_open_them() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let f = temp_file().expect("a temporary file");
        let m = f.metadata().expect("its metadata");
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(m.nlink(), 0, "no directory entry names it");
    }

    fn take(sp: &mut Spool<u32>, k: u32, ins: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        sp.take(k, ins, &mut out).expect("take");
        out
    }

    #[test]
    fn streams_come_back_whole_with_splices_in_memory_and_on_disk() {
        for budget in [1 << 20, 2 * BLOCK, 1] {
            let mut sp: Spool<u32> = Spool::new(budget);
            let mut want: [Vec<u8>; 3] = Default::default();
            for i in 0..3000u32 {
                let k = i % 3;
                let chunk = format!("<{i}:{}>", "x".repeat((i % 97) as usize));
                sp.append(k, chunk.as_bytes());
                want[k as usize].extend_from_slice(chunk.as_bytes());
            }
            if budget < BLOCK * 8 {
                assert!(sp.on_disk() > 0, "budget {budget}: nothing spilled");
            }
            assert!(sp.memory() <= (budget / BLOCK).max(2) * BLOCK + 3 * BLOCK, "budget {budget}: {}", sp.memory());
            assert_eq!(sp.len(1), want[1].len() as u64);
            let n1 = want[1].len();
            for (off, len) in [(0, 5), (3, 40), (100, 100_000), (BLOCK - 3, 7), (n1 - 2, 10)] {
                let got = sp.read_range(1, off as u64, len).expect("read");
                assert_eq!(got, want[1][off..(off + len).min(n1)], "range {off}+{len}");
            }
            // Splices at the start, inside, at block boundaries and at the end.
            let n = want[0].len() as u64;
            let b = BLOCK as u64;
            let ins: Vec<(u64, Vec<u8>)> = [0, 1, 7, 7, b - 1, b, b + 1, n / 2, n - 1, n]
                .iter()
                .map(|&o| (o, format!("[{o}]").into_bytes()))
                .collect();
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
            // Everything taken: disk space is handed back.
            assert_eq!(sp.on_disk(), 0, "budget {budget}");
        }
    }

    #[test]
    fn many_open_streams_spill_in_large_parts_and_large_writes() {
        // Thousands of connections open at once, each adding a line now and then (a server's
        // notification connections): each holds a small block, and only the streams holding
        // the most go to disk, so parts hold several lines (a budget of 16 KiB blocks held a
        // line or two per part) and reading them back takes few reads.
        let mut sp: Spool<u32> = Spool::new(DEFAULT_BUDGET);
        let mut want = vec![Vec::new(); 4000];
        for round in 0..40u32 {
            for k in 0..4000u32 {
                let line = format!("{round:>6} {k} {}\n", "x".repeat(((k * 7 + round) % 150) as usize));
                sp.append(k, line.as_bytes());
                want[k as usize].extend_from_slice(line.as_bytes());
            }
        }
        let total: usize = want.iter().map(Vec::len).sum();
        assert!(sp.on_disk() > 0, "nothing spilled");
        let parts = sp.parts();
        assert!(parts > 0 && sp.on_disk() / parts as u64 >= 768, "{parts} parts for {} bytes on disk", sp.on_disk());
        assert!(sp.memory() <= DEFAULT_BUDGET + BLOCK, "memory {}", sp.memory());
        for (k, w) in want.iter().enumerate() {
            assert_eq!(&take(&mut sp, k as u32, &[]), w, "stream {k}");
        }
        assert_eq!(sp.on_disk(), 0);
        assert!(total > 2 * DEFAULT_BUDGET);
    }

    #[test]
    fn one_large_stream_is_spilled_and_small_ones_stay_in_memory() {
        // A connection with megabytes of text beside one with a line: the large one is written
        // (in several staged writes) and that frees enough; the small one is not touched.
        let mut sp: Spool<u32> = Spool::new(DEFAULT_BUDGET);
        sp.append(1, b"x");
        let big: Vec<u8> = (0..5u32 << 20).map(|i| (i % 251) as u8).collect();
        sp.append(0, &big);
        assert_eq!(sp.parts(), 1, "only the large stream is on disk");
        assert!(sp.memory() <= DEFAULT_BUDGET, "memory {}", sp.memory());
        assert_eq!(take(&mut sp, 0, &[]), big);
        assert_eq!(take(&mut sp, 1, &[]), b"x");
    }

    #[test]
    fn disk_use_follows_live_streams_not_all_that_was_written() {
        // Streams come and go (as connections do); only live ones may keep disk space.
        let mut sp: Spool<u32> = Spool::new(2 * BLOCK).with_file_size(1 << 20);
        let chunk = vec![b'x'; 1000];
        let mut peak = 0;
        let mut forever = Vec::new();
        for conn in 0..400u32 {
            for _ in 0..200 {
                sp.append(conn, &chunk);
            }
            // One stream lives throughout (a connection open for the whole capture).
            sp.append(u32::MAX, &chunk[..100]);
            forever.extend_from_slice(&chunk[..100]);
            if conn >= 2 {
                let mut sink = io::sink();
                sp.take(conn - 2, &[], &mut sink).expect("take");
            }
            peak = peak.max(sp.on_disk());
        }
        // 400 streams of 200 kB went through: 80 MB. At most three are live at once, in files
        // of 1 MiB.
        assert!(peak < 4 << 20, "peak disk {peak}");
        assert!(sp.files.len() > 40, "files {}", sp.files.len());
        assert_eq!(take(&mut sp, u32::MAX, &[]), forever);
        assert!(sp.memory() <= 4 * BLOCK, "memory {}", sp.memory());
    }
}
