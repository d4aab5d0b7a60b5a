//! One capture on several cores: the calling thread reads, slices and defragments packets and
//! decides each TCP segment's affinity ([`super::affinity`]); shards of affinities each run a
//! reassembler and an analyzer over their flows, on worker threads and, for the summary, on
//! the calling thread too (between batches, a share smaller by what reading costs); the
//! calling thread merges what they decide back into the order one thread would have decided
//! it, so the result is byte-identical to [`Analyzer::run_capture`]. (The summary on two
//! threads over an input that opens again has each thread read it instead: [`super::reread`].)
//!
//! Why the order can be restored: every link joins connections of one affinity, so nothing a
//! worker decides depends on another's flows. Every worker sees every segment's time, so all
//! flush idle flows at the same packet. A flow takes the number of the packet that started it
//! as its id, so idle flows (flushed in id order) and the flows closed at the end order alike
//! across workers. What a worker hands on ([`Item`], [`super::handon`]: a connection started or ended, and what
//! it records, below) carries the key (packet, phase, flow, sequence) that orders it as one
//! thread would have met it.
//!
//! The summary needs only what is decided when a connection ends: a worker hands on the
//! connection then and the merge gives it its id. Every other output is also told of events
//! as they are decided: a worker then records what its reports would have been told (the
//! connection's start, its new events and settled transactions at each hand-on, the links
//! made, followed and retired) and the merge replays it, in key order, through a mirror of
//! each open connection ([`crate::session::Snapshot`]), with the workers' connection and link
//! ids mapped to the ones one thread gives. The reports run on the calling thread as they do
//! on one; what the merge is done with goes back to its worker to be freed.
//! Bounds that act on all flows together act per worker: past them (65,536 flows closed
//! within four minutes, 65,536 links held, the affinity table full) or with capture times
//! going back by more than the idle timeout, the result may differ from one thread's.

use super::handon::{Emitted, Item, Keyed, ShardLog, Trash};
use super::reread::Reread;
use super::summary::Summary;
use super::{Analyzer, Report};
use crate::capture::{Backing, CaptureError, CaptureReader};
use crate::net::{self, Segment, TcpFlags};
use crate::reassembly::{FlowKey, Limits, Reassembler};
use crate::session::{Connection, Lent};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// Segments per batch handed to the workers, and payload bytes at most (a batch is handed on
/// when either is reached: captures of offloaded traffic hold 64 KiB segments), whether they
/// lie in the reader's buffers the batch holds or were copied into its own.
const BATCH: usize = 2048;
/// Segments per batch when the workers record events: the events cross to the reporting
/// thread while still in its caches (1 M capture, transcript, two workers: 512 took 2.80 s of
/// CPU and 44 MiB, 2,048 took 2.98 s and 69 MiB).
const BATCH_RECORDING: usize = 512;
const BATCH_BYTES: usize = 1 << 20;
/// Payload bytes per batch when the workers record events: a batch's events are held until
/// the merge replays them, and 1 MiB of pipelined 12-byte requests made 87,000 of them (a
/// capture of 100,000 such requests took 172 MiB with the transcript, 114 MiB on one thread).
const BATCH_BYTES_RECORDING: usize = 128 << 10;
/// Bytes of the reader's buffers a batch may hold ([`Batch::hold`]): four windows.
const HOLD: usize = 1 << 20;
/// Batches read ahead of the merge (bounds memory and lets workers run while the reader reads).
pub(super) const AHEAD: usize = 4;

/// One TCP segment, owned: its payload a place in one of its batch's buffers.
struct Seg {
    k: u64,
    ts: i64,
    shard: usize,
    affinity: IpAddr,
    src: SocketAddr,
    dst: SocketAddr,
    vlan: Option<u16>,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    missing: u32,
    /// Which of the batch's reader buffers holds the payload ([`OWN`]: its own buffer).
    chunk: u32,
    at: usize,
    len: usize,
}

/// [`Seg::chunk`] of a payload copied into the batch's own buffer.
const OWN: u32 = u32::MAX;

#[derive(Default)]
struct Batch {
    segs: Vec<Seg>,
    /// The reader's buffers the segments' payloads lie in, shared instead of copied (the copy
    /// of every payload on the reading thread took 2 to 3 % of a two-thread summary's time).
    chunks: Vec<Arc<Vec<u8>>>,
    /// Payloads that lie in no reader buffer (reassembled IP datagrams), or in one past
    /// `hold`, copied.
    payload: Vec<u8>,
    /// Payload bytes of all segments.
    bytes: usize,
    /// Bytes of reader buffers the batch may hold in `chunks`: past them payloads are copied.
    /// Without it a batch held one buffer per segment where each lay in a buffer of its own (a
    /// capture of large frames of other protocols between small TCP segments, or a pipe read a
    /// few hundred bytes at a time: the window reads on into a new buffer while one is lent), up
    /// to 2,048 buffers of 256 KiB a batch (a pipe of 160-byte writes took 108.7 MB against
    /// 17.6 MB on one thread).
    hold: usize,
}

impl Batch {
    /// Adds `seg`, whose packet's bytes lie in `backing`.
    fn push(&mut self, seg: &Segment<'_>, backing: Backing<'_>, k: u64, ts: i64, shard: usize, affinity: IpAddr) {
        let len = seg.payload.len();
        self.bytes += len;
        let buffer = backing.0;
        // Where the payload starts in the reader's buffer, if it lies there (addresses compared,
        // never followed).
        let within = seg
            .payload
            .as_ptr()
            .addr()
            .checked_sub(buffer.as_ptr().addr())
            .filter(|at| len > 0 && at.checked_add(len).is_some_and(|end| end <= buffer.len()));
        let shared = within.and_then(|at| {
            if !self.chunks.last().is_some_and(|c| Arc::ptr_eq(c, buffer)) {
                let held: usize = self.chunks.iter().map(|c| c.len()).sum();
                if held.saturating_add(buffer.len()) > self.hold {
                    return None;
                }
                self.chunks.push(Arc::clone(buffer));
            }
            u32::try_from(self.chunks.len() - 1).ok().filter(|&c| c != OWN).map(|c| (c, at))
        });
        let (chunk, at) = shared.unwrap_or_else(|| {
            let at = self.payload.len();
            self.payload.extend_from_slice(seg.payload);
            (OWN, at)
        });
        self.segs.push(Seg {
            k,
            ts,
            shard,
            affinity,
            src: seg.src,
            dst: seg.dst,
            vlan: seg.vlan,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            missing: seg.missing,
            chunk,
            at,
            len,
        });
    }

    /// `s`'s payload.
    fn payload_of(&self, s: &Seg) -> &[u8] {
        let from = if s.chunk == OWN { Some(&self.payload) } else { self.chunks.get(s.chunk as usize).map(|c| &**c) };
        from.and_then(|f| f.get(s.at..s.at + s.len)).unwrap_or_default()
    }
}

enum ToWorker {
    /// Segments, and what the merge is done with of what the worker handed on (dropped where it
    /// was allocated: memory freed by another thread costs mimalloc far more).
    Batch(Arc<Batch>, Vec<Trash>),
    End {
        last_ts: i64,
    },
}

enum FromWorker {
    Items(Vec<Keyed>),
    Done(Vec<Keyed>, Box<Summary>),
}

/// Buckets an affinity hashes to; [`Shards`] gives each bucket its shard.
const BUCKETS: usize = 64;

/// Which shard analyses which affinities: `BUCKETS` hash buckets, each given to one shard.
pub(super) struct Shards([u8; BUCKETS]);

impl Shards {
    /// `spawned` shards on threads of their own, round robin; with `local`, shard `spawned` (the
    /// calling thread's) takes that share of the buckets first.
    pub(super) fn new(spawned: usize, local: Option<f64>) -> Shards {
        let mut table = [0u8; BUCKETS];
        let mine = local.map_or(0, |x| ((x.clamp(0.0, 1.0) * BUCKETS as f64).round() as usize).min(BUCKETS));
        for (b, slot) in table.iter_mut().enumerate() {
            let shard = if b < mine || spawned == 0 { spawned } else { (b - mine) % spawned };
            *slot = u8::try_from(shard).unwrap_or(u8::MAX);
        }
        Shards(table)
    }

    /// The shard of an affinity.
    pub(super) fn of(&self, ip: IpAddr) -> usize {
        let x = match ip {
            IpAddr::V4(v) => u64::from(u32::from(v)),
            IpAddr::V6(v) => {
                let n = u128::from(v);
                (n as u64) ^ ((n >> 64) as u64)
            }
        };
        // A multiplicative hash: neighbouring addresses spread over the buckets.
        let bucket = ((x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % BUCKETS as u64) as usize;
        usize::from(self.0[bucket])
    }
}

/// The share of the flows the calling thread analyses itself when the summary runs on
/// `threads` threads in all: it also reads and slices the capture (about a fifth of one
/// thread's time), so it takes what is left of its 1/`threads`; none from five threads on.
fn local_share(threads: usize) -> f64 {
    const READING: f64 = 0.2;
    ((1.0 / threads.max(1) as f64 - READING) / (1.0 - READING)).max(0.0)
}

/// One shard's reassembler and analyzer, on a worker thread or on the calling thread.
pub(super) struct Shard<'a> {
    me: usize,
    analyzer: Analyzer<'a>,
    reasm: Reassembler,
    /// The reassembler's [`Reassembler::quiet_until`] (it moves only when a tick sweeps).
    quiet: i64,
    open: &'a AtomicUsize,
}

impl<'a> Shard<'a> {
    pub(super) fn new(
        me: usize,
        mut analyzer: Analyzer<'a>,
        limits: Limits,
        open: &'a AtomicUsize,
        record: bool,
    ) -> Shard<'a> {
        analyzer.shard = Some(ShardLog::new(record));
        let reasm = Reassembler::new(limits);
        Shard { me, analyzer, quiet: reasm.quiet_until(), reasm, open }
    }

    fn take(&mut self) -> Vec<Keyed> {
        self.analyzer.shard.as_mut().map(|l| std::mem::take(&mut l.items)).unwrap_or_default()
    }

    /// Its flows' segments of one batch, everyone's clock; what it hands on.
    fn batch(&mut self, b: &Batch) -> Vec<Keyed> {
        for s in &b.segs {
            // Built only for its own flows: the others' segments tick the clock alone.
            let seg = (s.shard == self.me).then(|| Segment {
                src: s.src,
                dst: s.dst,
                vlan: s.vlan,
                seq: s.seq,
                ack: s.ack,
                flags: s.flags,
                payload: b.payload_of(s),
                missing: s.missing,
            });
            let seg = seg.as_ref().map(|g| (g, FlowKey::new(g.src, g.dst, g.vlan)));
            self.segment(seg, s.k, s.ts, s.affinity);
        }
        self.block()
    }

    /// One segment of packet `k` at `ts`: its time ticks the clock, and the segment (with its
    /// flow key) is analysed when it is one of this shard's flows (`Some`).
    pub(super) fn segment(&mut self, seg: Option<(&Segment<'_>, FlowKey)>, k: u64, ts: i64, affinity: IpAddr) {
        // Only a tick that sweeps hands anything on, keyed by the packet it happens at.
        if ts > self.quiet {
            self.analyzer.at(k, 0);
            self.reasm.tick(ts, &mut self.analyzer);
            self.quiet = self.reasm.quiet_until();
        }
        if let Some((seg, key)) = seg {
            self.analyzer.at(k, 1);
            self.reasm.segment_keyed(seg, key, ts, k, Some(affinity), &mut self.analyzer);
        }
    }

    /// What it handed on since the last block, its open connections counted for the progress.
    pub(super) fn block(&mut self) -> Vec<Keyed> {
        self.open.store(self.reasm.open_connections(), Ordering::Relaxed);
        self.take()
    }

    /// [`Shard::end`] on the calling thread: what it hands on added to `items` (under its
    /// number); its counts, or none when it panicked (a bug).
    pub(super) fn end_into(&mut self, last_ts: i64, items: &mut Vec<(usize, Keyed)>) -> Option<Box<Summary>> {
        let me = self.me;
        let (i, s) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.end(last_ts))).ok()?;
        items.extend(i.into_iter().map(|k| (me, k)));
        Some(s)
    }

    /// The end of the input: what it hands on, and its counts.
    pub(super) fn end(&mut self, last_ts: i64) -> (Vec<Keyed>, Box<Summary>) {
        self.analyzer.at(u64::MAX, 2);
        self.reasm.finish(last_ts, &mut self.analyzer);
        let items = self.take();
        self.analyzer.fold_counts();
        let mut summary = std::mem::take(&mut self.analyzer.summary);
        summary.tcp = self.reasm.stats();
        (items, Box::new(summary))
    }
}

/// A worker thread: one shard's flows, everyone's clock.
fn worker(mut shard: Shard<'_>, rx: Receiver<ToWorker>, tx: Sender<FromWorker>) {
    for msg in rx {
        match msg {
            ToWorker::Batch(b, trash) => {
                drop(trash);
                let items = shard.batch(&b);
                // Let go of the batch first: the reader takes its buffers back once merged.
                drop(b);
                if tx.send(FromWorker::Items(items)).is_err() {
                    return;
                }
            }
            ToWorker::End { last_ts } => {
                let (items, summary) = shard.end(last_ts);
                let _ = tx.send(FromWorker::Done(items, summary));
                return;
            }
        }
    }
}

/// Reports nothing (a worker's analyzer hands on through its [`ShardLog`]).
pub(super) struct Nothing;

/// What a shard's analyzer is made with.
pub(super) struct ShardSetup<'s> {
    pub opts: &'s crate::session::Options,
    pub ports: &'s [u16],
    pub probe_content: bool,
    pub all_msnp: bool,
}

impl ShardSetup<'_> {
    pub(super) fn analyzer<'r>(&self, report: &'r mut Nothing) -> Analyzer<'r> {
        let mut a = Analyzer::new(self.opts.clone(), self.ports, report);
        a.probe_content = self.probe_content;
        a.all_msnp = self.all_msnp;
        a
    }
}

impl Report for Nothing {
    fn connection(&mut self, _: &Connection, _: super::Links<'_>) {}
    fn finish(&mut self, _: &Summary, _: super::Links<'_>) {}
}

/// The workers' ends of the channels, the calling thread's own shard, the ids they gave
/// connections and links now known by the merge's, and the mirrors of connections open (when
/// recording).
pub(super) struct Merge<'a> {
    to: Vec<SyncSender<ToWorker>>,
    from: Vec<Receiver<FromWorker>>,
    /// The shard the calling thread analyses between reading batches (the summary only): shard
    /// `to.len()`.
    local: Option<Shard<'a>>,
    /// What the local shard handed on, by batch in flight.
    local_items: std::collections::VecDeque<Vec<Keyed>>,
    ids: crate::fasthash::FastMap<(usize, u64), u64>,
    link_ids: crate::fasthash::FastMap<(usize, usize), usize>,
    mirrors: crate::fasthash::FastMap<(usize, u64), Connection>,
    /// By worker: what goes back with its next batch.
    pub trash: Vec<Vec<Trash>>,
    /// Batches handed out whose results are not merged yet.
    in_flight: std::collections::VecDeque<Arc<Batch>>,
    /// Batches merged, their buffers kept for reuse (each allocated by this thread once).
    spare: Vec<Batch>,
    /// [`Batch::hold`] of the batches made.
    hold: usize,
}

impl<'a> Merge<'a> {
    /// A merge of what `shards` shards hand on, whose batches may hold `hold` bytes of the
    /// reader's buffers.
    pub(super) fn new(shards: usize, hold: usize) -> Merge<'a> {
        Merge {
            to: Vec::new(),
            from: Vec::new(),
            local: None,
            local_items: Default::default(),
            ids: Default::default(),
            link_ids: Default::default(),
            mirrors: Default::default(),
            trash: (0..shards).map(|_| Vec::new()).collect(),
            in_flight: Default::default(),
            spare: Vec::new(),
            hold,
        }
    }

    fn fresh(&mut self) -> Batch {
        let hold = self.hold;
        self.spare.pop().unwrap_or_else(|| Batch {
            segs: Vec::with_capacity(BATCH),
            chunks: Vec::new(),
            payload: Vec::new(),
            bytes: 0,
            hold,
        })
    }
}

impl Analyzer<'_> {
    /// Sets the packet and phase a worker analyzer is handling.
    fn at(&mut self, k: u64, phase: u8) {
        if let Some(l) = self.shard.as_mut() {
            l.at = (k, phase);
        }
    }

    /// Reads a whole capture as [`Analyzer::run_capture`] does, its flows analysed by
    /// `workers` threads. The reports see what they would see on one thread: with `record`,
    /// everything (workers hand on events as they are decided, and the links); without, only
    /// what is decided when a connection ends, which is all the summary reads, and the calling
    /// thread is one of the `workers` (it analyses a share of the flows between reading
    /// batches). One worker, or recording without the streaming modes
    /// (`Options::stream_events`), is one thread.
    ///
    /// With `again`, which opens the same capture anew from its start (the same bytes every
    /// time), the summary's two threads each read the capture themselves ([`super::reread`])
    /// instead of being handed the calling thread's segments; `reader` is then not read.
    pub fn run_capture_sharded<R: Read>(
        &mut self,
        reader: &mut CaptureReader<R>,
        again: Option<&Reread<'_>>,
        limits: Limits,
        workers: usize,
        record: bool,
    ) -> Option<CaptureError> {
        if workers <= 1 || (record && !self.opts.stream_events) {
            return self.run_capture(reader, limits);
        }
        // Two threads only: each more reads the whole capture once more, where one reader
        // hands segments to any number (see `super::reread`).
        if let Some(again) = again.filter(|_| !record && workers == 2) {
            // The calling thread reads its own copy too, so that all read the same bytes (a
            // file is read to the length it had when it was opened).
            if let Ok(own) = again() {
                return self.run_capture_rereading(own, again, limits, workers);
            }
        }
        // Recording, the calling thread is busy reporting what the workers record.
        let (spawned, local) = if record { (workers, None) } else { (workers - 1, Some(local_share(workers))) };
        let shards = Shards::new(spawned, local);
        let ports: Vec<u16> = self.ports.iter().copied().collect();
        let open: Vec<AtomicUsize> = (0..=spawned).map(|_| AtomicUsize::new(0)).collect();
        let mut affinity = super::affinity::Affinity::new(&self.ports, limits.idle_timeout_ns);
        let mut defrag = net::defrag::Defrag::default();
        let mut last_progress = std::time::Instant::now();
        let (opts, probe_content, all_msnp) = (self.opts.clone(), self.probe_content, self.all_msnp);
        let setup = ShardSetup { opts: &opts, ports: &ports, probe_content, all_msnp };
        let mut local_report = Nothing;
        std::thread::scope(|scope| {
            // Recording batches are handed on at 128 KiB of payload: they copy (holding a
            // 256 KiB buffer for each would double what they keep).
            let mut merge = Merge::new(spawned + 1, if record { 0 } else { HOLD });
            for (me, open) in open.iter().enumerate().take(spawned) {
                let (to, rx) = sync_channel(AHEAD);
                let (tx, from) = channel();
                merge.to.push(to);
                merge.from.push(from);
                let setup = &setup;
                scope.spawn(move || {
                    // A worker that panics (a bug) drops its channels: the merge then stops with
                    // an error instead of the scope panicking the whole process.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let mut nothing = Nothing;
                        let shard = Shard::new(me, setup.analyzer(&mut nothing), limits, open, record);
                        worker(shard, rx, tx);
                    }));
                });
            }
            if local.is_some() {
                let a = setup.analyzer(&mut local_report);
                merge.local = Some(Shard::new(spawned, a, limits, &open[spawned], record));
            }
            let (batch_segs, batch_bytes) =
                if record { (BATCH_RECORDING, BATCH_BYTES_RECORDING) } else { (BATCH, BATCH_BYTES) };
            let mut batch = merge.fresh();
            let mut last_ts = 0;
            let error = loop {
                let p = match reader.next_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                };
                let k = self.count_frame(p.ts_ns, p.file_offset, &mut last_progress, || {
                    open.iter().map(|o| o.load(Ordering::Relaxed)).sum()
                });
                last_ts = p.ts_ns;
                let ts = p.ts_ns;
                let held = super::pipeline::slice_frame(p.link, p.data, ts, &mut defrag, |seg| {
                    let aff = affinity.of(seg, ts);
                    batch.push(seg, p.backing, k, ts, shards.of(aff), aff);
                });
                self.count_held(held);
                if batch.segs.len() >= batch_segs || batch.bytes >= batch_bytes {
                    let full = std::mem::replace(&mut batch, merge.fresh());
                    if !self.hand_out(&mut merge, full) {
                        break Some(lost());
                    }
                }
            };
            let mut error = error;
            if !batch.segs.is_empty() && !self.hand_out(&mut merge, batch) {
                error.get_or_insert_with(lost);
            }
            while !merge.in_flight.is_empty() {
                if !self.merge_one(&mut merge) {
                    error.get_or_insert_with(lost);
                    break;
                }
            }
            for to in &merge.to {
                let _ = to.send(ToWorker::End { last_ts });
            }
            let mut items = Vec::new();
            let mut summaries = Vec::new();
            if let Some(mut shard) = merge.local.take() {
                match shard.end_into(last_ts, &mut items) {
                    Some(s) => summaries.push(s),
                    None => {
                        error.get_or_insert_with(lost);
                    }
                }
            }
            for (w, from) in merge.from.iter().enumerate() {
                match from.recv() {
                    Ok(FromWorker::Done(i, s)) => {
                        items.extend(i.into_iter().map(|k| (w, k)));
                        summaries.push(s);
                    }
                    _ => {
                        error.get_or_insert_with(lost);
                    }
                }
            }
            self.apply(&mut merge, items);
            defrag.finish();
            self.summary.fragments = defrag.stats();
            for s in summaries {
                self.summary.absorb(&s);
            }
            self.summary.bytes = reader.offset();
            self.summary.input_error = error.as_ref().map(|e| e.to_string());
            error
        })
    }

    /// Hands a batch to every worker and analyses the local shard's part of it, merging the
    /// oldest results once enough are in flight. False when a worker is gone.
    fn hand_out(&mut self, merge: &mut Merge<'_>, batch: Batch) -> bool {
        let batch = Arc::new(batch);
        for (to, trash) in merge.to.iter().zip(merge.trash.iter_mut()) {
            if to.send(ToWorker::Batch(batch.clone(), std::mem::take(trash))).is_err() {
                return false;
            }
        }
        if let Some(shard) = merge.local.as_mut() {
            // What the merge is done with of the local shard's is freed here, on its thread.
            if let Some(t) = merge.trash.get_mut(shard.me) {
                t.clear();
            }
            // A panic (a bug) ends the read with an error, as a worker thread's does.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shard.batch(&batch))) {
                Ok(items) => merge.local_items.push_back(items),
                Err(_) => {
                    merge.local = None;
                    return false;
                }
            }
        }
        merge.in_flight.push_back(batch);
        while merge.in_flight.len() > AHEAD {
            if !self.merge_one(merge) {
                return false;
            }
        }
        true
    }

    /// Merges the oldest batch's results from every worker. False when a worker is gone.
    fn merge_one(&mut self, merge: &mut Merge<'_>) -> bool {
        let mut items = Vec::new();
        for (w, from) in merge.from.iter().enumerate() {
            match from.recv() {
                Ok(FromWorker::Items(i)) => items.extend(i.into_iter().map(|k| (w, k))),
                _ => return false,
            }
        }
        if let Some(mine) = merge.local_items.pop_front() {
            let me = merge.to.len();
            items.extend(mine.into_iter().map(|k| (me, k)));
        }
        if let Some(done) = merge.in_flight.pop_front() {
            // Every worker is done with it: its buffers serve again.
            if let Ok(mut b) = Arc::try_unwrap(done) {
                b.segs.clear();
                // The reader's buffers are given back here, on its thread.
                b.chunks.clear();
                b.payload.clear();
                b.bytes = 0;
                b.payload.shrink_to(2 * BATCH_BYTES);
                merge.spare.push(b);
            }
        }
        self.apply(merge, items);
        true
    }

    /// Applies items in one thread's order: a start takes the next id, a link the next link
    /// index; what the workers recorded is reported through the mirrors, an end is counted and
    /// reported under its id.
    pub(super) fn apply(&mut self, merge: &mut Merge<'_>, mut items: Vec<(usize, Keyed)>) {
        // Each shard's items come in key order, one list after another: the stable sort finds
        // those runs and merges them (keys are unique across shards, so no order of equals
        // is chosen).
        items.sort_by_key(|(_, Keyed(key, _))| *key);
        for (w, Keyed(_, item)) in items {
            match item {
                Item::Started(local, opening) => {
                    let id = self.next_public;
                    self.next_public += 1;
                    merge.ids.insert((w, local), id);
                    if let Some(o) = opening {
                        let mut m = Connection::new(id, o.client, o.server, o.vlan, o.start_seen, o.opened, &self.opts);
                        m.affinity = o.affinity;
                        let mut snapshot = o.snapshot;
                        snapshot.linked_from = link_of(merge, w, snapshot.linked_from);
                        m.take_snapshot(&mut snapshot, &mut Lent::default());
                        self.report.opened(&m);
                        merge.mirrors.insert((w, local), m);
                    }
                }
                Item::Emitted(e) => self.replay(merge, w, e),
                Item::LinkMade(local, mut link) => {
                    let li = self.next_link;
                    self.next_link += 1;
                    merge.link_ids.insert((w, local), li);
                    // Made unresolved: a LinkTo follows when its connection starts.
                    link.from.connection = merge.ids.get(&(w, link.from.connection)).copied().unwrap_or(0);
                    self.links.insert(li, *link);
                }
                Item::LinkTo(local, conn) => {
                    let to = merge.ids.get(&(w, conn)).copied().unwrap_or(0);
                    let li = link_of(merge, w, Some(local));
                    if let Some(l) = li.and_then(|li| self.links.get_mut(&li)) {
                        l.to = Some(super::LinkTo { connection: to });
                    }
                }
                Item::Retired(local) => {
                    if let Some(li) = merge.link_ids.remove(&(w, local)) {
                        if let Some(l) = self.links.remove(&li) {
                            self.report.retired(li, &l);
                        }
                    }
                }
                Item::Ended(mut c) => {
                    merge.mirrors.remove(&(w, c.id));
                    c.linked_from = link_of(merge, w, c.linked_from);
                    c.id = merge.ids.remove(&(w, c.id)).unwrap_or(0);
                    self.tally(&c);
                    self.report.connection(&c, super::Links(&self.links));
                    if let Some(t) = merge.trash.get_mut(w) {
                        t.push(c);
                    }
                }
            }
        }
    }

    /// Reports what a worker recorded at one call of `summary::emit`, through the mirror of
    /// its connection.
    fn replay(&mut self, merge: &mut Merge<'_>, w: usize, mut e: Box<Emitted>) {
        e.snapshot.linked_from = link_of(merge, w, e.snapshot.linked_from);
        for ev in e.events.iter_mut() {
            ev.link = link_of(merge, w, ev.link);
        }
        if let Some(m) = merge.mirrors.get_mut(&(w, e.id)) {
            // Swapped in, so what the mirror held goes back to the worker with the rest.
            m.take_snapshot(&mut e.snapshot, &mut e.lent);
            if !e.settled.is_empty() {
                self.report.settled(m, &e.settled);
            }
            if let Some(from) = e.from {
                std::mem::swap(&mut m.events, &mut e.events);
                self.report.events(m, from);
                std::mem::swap(&mut m.events, &mut e.events);
            }
        }
        if let Some(t) = merge.trash.get_mut(w) {
            t.push(e);
        }
    }
}

/// The merge's index of worker `w`'s link `local`.
fn link_of(merge: &Merge<'_>, w: usize, local: Option<usize>) -> Option<usize> {
    local.and_then(|l| merge.link_ids.get(&(w, l)).copied())
}

/// The error given when a worker stopped (it panicked: a bug; the panic is printed on stderr).
pub(super) fn lost() -> CaptureError {
    CaptureError::Corrupt { offset: 0, reason: "internal: an analysis worker stopped".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's segment carrying `payload`.
    fn seg(payload: &[u8]) -> Segment<'_> {
        let ip = IpAddr::from([10, 0, 0, 1]);
        Segment {
            src: SocketAddr::new(ip, 40000),
            dst: SocketAddr::new(ip, 1863),
            vlan: None,
            seq: 0,
            ack: 0,
            flags: TcpFlags(0),
            payload,
            missing: 0,
        }
    }

    #[test]
    fn a_batch_shares_the_readers_buffer_and_copies_only_what_lies_elsewhere() {
        let buffer = Arc::new(b"MSG 1 N 5\r\nhello".to_vec());
        let other = Arc::new(b"a second buffer".to_vec());
        let datagram = b"reassembled".to_vec();
        let ip = seg(b"").src.ip();
        let mut b = Batch { hold: HOLD, ..Batch::default() };
        b.push(&seg(&buffer[..11]), Backing(&buffer), 1, 0, 0, ip);
        b.push(&seg(&datagram), Backing(&buffer), 2, 0, 0, ip);
        b.push(&seg(&[]), Backing(&buffer), 3, 0, 0, ip);
        b.push(&seg(&buffer[11..]), Backing(&buffer), 4, 0, 0, ip);
        b.push(&seg(&other[2..8]), Backing(&other), 5, 0, 0, ip);
        // A payload in another buffer than the packet's is copied, not misplaced.
        b.push(&seg(&other[..1]), Backing(&buffer), 6, 0, 0, ip);
        assert_eq!(b.chunks.len(), 2, "each reader buffer held once, in turn");
        assert_eq!(b.payload, b"reassembleda", "only what lies in no packet's buffer is copied");
        assert_eq!(b.bytes, 11 + 11 + 5 + 6 + 1);
        let got: Vec<&[u8]> = b.segs.iter().map(|s| b.payload_of(s)).collect();
        let want: [&[u8]; 6] = [b"MSG 1 N 5\r\n", b"reassembled", b"", b"hello", b"second", b"a"];
        assert_eq!(got, want);
    }

    #[test]
    fn a_batch_holds_reader_buffers_up_to_its_bound_then_copies() {
        let ip = seg(b"").src.ip();
        // Each segment in a buffer of its own (a pipe read a little at a time).
        let buffers: Vec<Arc<Vec<u8>>> = (0..5u8).map(|i| Arc::new(vec![b'a' + i; 100])).collect();
        for (hold, kept) in [(250, 2), (0, 0), (HOLD, 5)] {
            let mut b = Batch { hold, ..Batch::default() };
            for (k, buf) in buffers.iter().enumerate() {
                b.push(&seg(&buf[10..13]), Backing(buf), k as u64, 0, 0, ip);
            }
            assert_eq!(b.chunks.len(), kept, "hold {hold}");
            assert!(b.chunks.iter().map(|c| c.len()).sum::<usize>() <= hold);
            assert_eq!(b.payload.len(), 3 * (5 - kept), "the rest copied");
            let got: Vec<&[u8]> = b.segs.iter().map(|s| b.payload_of(s)).collect();
            assert_eq!(got, [b"aaa", b"bbb", b"ccc", b"ddd", b"eee"]);
        }
    }

    fn count(s: &Shards, shard: usize) -> usize {
        s.0.iter().filter(|&&x| usize::from(x) == shard).count()
    }

    #[test]
    fn the_calling_thread_takes_what_reading_leaves_of_its_share() {
        assert!((local_share(2) - 0.375).abs() < 1e-9);
        assert!((local_share(3) - (1.0 / 3.0 - 0.2) / 0.8).abs() < 1e-9);
        assert_eq!(local_share(5), 0.0);
        assert_eq!(local_share(64), 0.0);
        // Two threads: one worker and the calling thread (shard 1), 24 of 64 buckets.
        let two = Shards::new(1, Some(local_share(2)));
        assert_eq!((count(&two, 1), count(&two, 0)), (24, 40));
        // Recording: the calling thread takes none, the workers share alike.
        let rec = Shards::new(3, None);
        assert_eq!([count(&rec, 0), count(&rec, 1), count(&rec, 2), count(&rec, 3)], [22, 21, 21, 0]);
        // Every address lands on a shard that exists.
        for last in 0..=255u8 {
            let ip = IpAddr::from([10, 0, 0, last]);
            assert!(two.of(ip) <= 1);
            assert!(rec.of(ip) < 3);
        }
    }
}
