//! Sharded analysis of a capture that every thread can read for itself (a file, or bytes in
//! memory), for the summary: each thread reads and slices every packet and decides every
//! flow's affinity (each with the same table, so all decide alike), ticks its clock with every
//! segment and analyses only its shard's flows; what the threads hand on is merged as
//! [`super::shard`] merges it, block by block of packets. Only what they hand on crosses
//! between threads. Handing every segment and its payload to the workers ([`super::shard`]'s
//! batches) made two threads no faster than one whenever the two cores shared no cache: on
//! the 2-vCPU test machine the host places the vCPUs now on one L3 (a cache line's round trip
//! 60 ns), now on two (350 ns), and the summary then took 0.37 s instead of 0.21 s.

use super::affinity::Affinity;
use super::pipeline::{slice_frame, Held};
use super::shard::{lost, Keyed, Merge, Nothing, Shard, ShardSetup, Shards, Trash, AHEAD};
use super::summary::Summary;
use super::Analyzer;
use crate::capture::{CaptureError, CaptureReader, Packet};
use crate::net::defrag::Defrag;
use crate::reassembly::{FlowKey, Limits};
use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

/// Where a block of packets ends: after so many packets or so many bytes of TCP payload,
/// whichever comes first. Every thread reads the same packets, so all end their blocks alike.
#[derive(Debug, Clone, Copy)]
struct Bound {
    packets: u64,
    bytes: usize,
}

/// The summary's blocks (what is handed on is little: the connections that ended).
const SUMMARY: Bound = Bound { packets: 2048, bytes: 1 << 20 };
/// Blocks when the workers record events: as [`super::shard`]'s recording batches, small, so
/// that their events cross to the reporting thread while in its caches and are held briefly.
const RECORDING: Bound = Bound { packets: 512, bytes: 128 << 10 };

/// A block being read.
struct Block {
    bound: Bound,
    packets: u64,
    bytes: usize,
}

impl Block {
    fn new(bound: Bound) -> Block {
        Block { bound, packets: 0, bytes: 0 }
    }

    /// Counts a packet holding `bytes` of TCP payload; true when the block ends with it.
    fn ends_after(&mut self, bytes: usize) -> bool {
        self.packets += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.packets >= self.bound.packets || self.bytes >= self.bound.bytes {
            (self.packets, self.bytes) = (0, 0);
            return true;
        }
        false
    }
}

/// What a worker counted of the packets it read since its last hand-on (the reporting
/// thread, which reads nothing when the workers record, takes the first worker's).
#[derive(Debug, Default)]
struct Counts {
    packets: u64,
    non_tcp: u64,
    malformed: u64,
    /// The first packet's capture time.
    first_ts: Option<i64>,
    /// The last packet's offset in the file.
    offset: u64,
}

/// What a worker knows when its reading ends.
struct Tail {
    /// Since its last hand-on.
    counts: Counts,
    fragments: crate::net::defrag::DefragStats,
    /// Bytes read.
    bytes: u64,
    /// The error that ended the reading, if one did.
    error: Option<CaptureError>,
}

/// Opens the capture again from its start, for one more thread to read it.
pub type Reread<'a> = dyn Fn() -> Result<CaptureReader<Box<dyn Read + 'a>>, CaptureError> + Sync + 'a;

/// What a reading worker hands on.
enum FromReader {
    /// What it handed on over one block of packets, and what it counted.
    Items(Vec<Keyed>, Counts),
    /// The end of its reading: what it handed on since the last block and at the end, its
    /// analysis's counts, the packets it read, and the rest of what it knows then.
    Done(Vec<Keyed>, Box<Summary>, u64, Box<Tail>),
    /// It could not open the capture.
    Unread(CaptureError),
}

/// What a thread keeps to slice packets and decide their affinity.
struct Walk {
    affinity: Affinity,
    defrag: Defrag,
}

impl Walk {
    fn new(ports: &HashSet<u16>, limits: Limits) -> Walk {
        Walk { affinity: Affinity::new(ports, limits.idle_timeout_ns), defrag: Defrag::default() }
    }

    /// Packet `k`: its segment ticks `shard`'s clock and is analysed when its flow is the
    /// shard's (`me`). What the packet held, and its TCP payload's length.
    fn packet(&mut self, p: &Packet<'_>, k: u64, shard: &mut Shard<'_>, shards: &Shards, me: usize) -> (Held, usize) {
        let ts = p.ts_ns;
        let affinity = &mut self.affinity;
        let mut bytes = 0;
        let held = slice_frame(p.link, p.data, ts, &mut self.defrag, |seg| {
            bytes = seg.payload.len();
            // One flow key for the affinity table and the reassembler.
            let key = FlowKey::new(seg.src, seg.dst, seg.vlan);
            let aff = affinity.of_key(seg, key, ts);
            let mine = shards.of(aff) == me;
            shard.segment(mine.then_some((seg, key)), k, ts, aff);
        });
        (held, bytes)
    }
}

/// What a reading worker is given.
#[derive(Clone, Copy)]
struct Worker<'s, 'a> {
    me: usize,
    again: &'s Reread<'a>,
    shards: &'s Shards,
    ports: &'s HashSet<u16>,
    limits: Limits,
    /// Packets the analysis had counted before this capture (the first one read is `k0 + 1`).
    k0: u64,
    bound: Bound,
}

impl Worker<'_, '_> {
    /// Reads the whole capture, analysing its shard's flows, and hands on block by block;
    /// stops early when the merge is gone.
    fn run(&self, mut shard: Shard<'_>, tx: SyncSender<FromReader>, trash: Receiver<Vec<Trash>>) {
        let mut reader = match (self.again)() {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(FromReader::Unread(e));
                return;
            }
        };
        let mut walk = Walk::new(self.ports, self.limits);
        let (mut k, mut last_ts) = (self.k0, 0);
        let (mut block, mut counts) = (Block::new(self.bound), Counts::default());
        // An error ends the reading here as it ends the calling thread's, at the same packet.
        let error = loop {
            let p = match reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break None,
                Err(e) => break Some(e),
            };
            k += 1;
            last_ts = p.ts_ns;
            counts.packets += 1;
            counts.first_ts.get_or_insert(p.ts_ns);
            counts.offset = p.file_offset;
            let (held, bytes) = walk.packet(&p, k, &mut shard, self.shards, self.me);
            match held {
                Held::NotTcp => counts.non_tcp += 1,
                Held::Malformed => counts.malformed += 1,
                Held::Tcp | Held::Fragment => {}
            }
            if block.ends_after(bytes) {
                // What the merge is done with is freed here, where it was allocated.
                while let Ok(t) = trash.try_recv() {
                    drop(t);
                }
                if tx.send(FromReader::Items(shard.block(), std::mem::take(&mut counts))).is_err() {
                    return;
                }
            }
        };
        let (items, summary) = shard.end(last_ts);
        walk.defrag.finish();
        let tail = Tail { counts, fragments: walk.defrag.stats(), bytes: reader.offset(), error };
        let _ = tx.send(FromReader::Done(items, summary, k - self.k0, Box::new(tail)));
    }
}

/// The calling thread's share of the flows when every thread reads: it also merges (a few
/// per cent of its time), so a little less than the others'.
fn local_share(threads: usize) -> f64 {
    const MERGING: f64 = 0.03;
    (1.0 / threads.max(1) as f64 - MERGING).max(0.0)
}

/// The error given when a worker read another number of packets than the calling thread: the
/// file changed between their readings.
fn changed() -> CaptureError {
    CaptureError::Corrupt { offset: 0, reason: "the capture changed while it was read".into() }
}

/// Starts a reading worker for each of the first `open.len()` shards, as `worker` says (its
/// `me` set to each), in `scope`; returns their channels: what they hand on, and what goes back
/// to them to be freed.
fn spawn_readers<'s, 'e: 's, 'a: 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    worker: Worker<'e, 'a>,
    setup: &'e ShardSetup<'e>,
    open: &'e [AtomicUsize],
    record: bool,
) -> (Vec<Receiver<FromReader>>, Vec<Sender<Vec<Trash>>>) {
    let (mut from, mut trash_to) = (Vec::new(), Vec::new());
    for (me, open) in open.iter().enumerate() {
        let (tx, rx) = sync_channel(AHEAD);
        let (ttx, trx) = channel();
        from.push(rx);
        trash_to.push(ttx);
        scope.spawn(move || {
            // A worker that panics (a bug) drops its channel: the merge then stops with an
            // error instead of the scope panicking the whole process.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut nothing = Nothing;
                let shard = Shard::new(me, setup.analyzer(&mut nothing), worker.limits, open, record);
                Worker { me, ..worker }.run(shard, tx, trx);
            }));
        });
    }
    (from, trash_to)
}

impl Analyzer<'_> {
    /// [`Analyzer::run_capture_sharded`] for the summary with every thread reading the
    /// capture for itself: `own` is the calling thread's reader, `again` opens one for each of
    /// the `workers - 1` others.
    pub(super) fn run_capture_rereading(
        &mut self,
        mut own: CaptureReader<Box<dyn Read + '_>>,
        again: &Reread<'_>,
        limits: Limits,
        workers: usize,
    ) -> Option<CaptureError> {
        let spawned = workers.saturating_sub(1);
        let shards = Shards::new(spawned, Some(local_share(workers)));
        let ports: Vec<u16> = self.ports.iter().copied().collect();
        let port_set = self.ports.clone();
        let open: Vec<AtomicUsize> = (0..=spawned).map(|_| AtomicUsize::new(0)).collect();
        let k0 = self.summary.packets;
        let (opts, probe_content, all_msnp) = (self.opts.clone(), self.probe_content, self.all_msnp);
        let setup = ShardSetup { opts: &opts, ports: &ports, probe_content, all_msnp };
        let mut local_report = Nothing;
        let mut last_progress = std::time::Instant::now();
        let worker = Worker { me: 0, again, shards: &shards, ports: &port_set, limits, k0, bound: SUMMARY };
        std::thread::scope(|scope| {
            let mut merge = Merge::new(spawned + 1, 0);
            let (from, trash_to) = spawn_readers(scope, worker, &setup, &open[..spawned], false);
            let mut local = Shard::new(spawned, setup.analyzer(&mut local_report), limits, &open[spawned], false);
            let mut walk = Walk::new(&port_set, limits);
            let mut pending: VecDeque<Vec<Keyed>> = VecDeque::new();
            let (mut last_ts, mut block) = (0, Block::new(SUMMARY));
            // Ok: the reading ended, at the end of the capture or at an error in it (everything
            // before it is reported); Err: the merge failed. A panic (a bug) ends the read with
            // an error, as a worker thread's does.
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
                let p = match own.next_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) => break Ok(None),
                    Err(e) => break Ok(Some(e)),
                };
                let k = self.count_frame(p.ts_ns, p.file_offset, &mut last_progress, || {
                    open.iter().map(|o| o.load(std::sync::atomic::Ordering::Relaxed)).sum()
                });
                last_ts = p.ts_ns;
                let (held, bytes) = walk.packet(&p, k, &mut local, &shards, spawned);
                self.count_held(held);
                if block.ends_after(bytes) {
                    pending.push_back(local.block());
                    if pending.len() > AHEAD {
                        if let Err(e) = self.merge_block(&mut merge, &from, &trash_to, &mut pending) {
                            break Err(e);
                        }
                    }
                }
            }));
            // Whether every thread's results so far were merged (else the workers are not
            // waited for: dropping their channels stops them).
            let (mut error, mut whole) = match read {
                Ok(Ok(e)) => (e, true),
                Ok(Err(e)) => (Some(e), false),
                Err(_) => (Some(lost()), false),
            };
            while whole && !pending.is_empty() {
                if let Err(e) = self.merge_block(&mut merge, &from, &trash_to, &mut pending) {
                    error.get_or_insert(e);
                    whole = false;
                }
            }
            let mut items = Vec::new();
            let mut summaries = Vec::new();
            if whole {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| local.end(last_ts))) {
                    Ok((i, s)) => {
                        items.extend(i.into_iter().map(|k| (spawned, k)));
                        summaries.push(s);
                    }
                    Err(_) => {
                        error.get_or_insert_with(lost);
                        whole = false;
                    }
                }
            }
            let packets = self.summary.packets - k0;
            for (w, rx) in from.iter().enumerate() {
                if !whole {
                    break;
                }
                let failed = match rx.recv() {
                    Ok(FromReader::Done(i, s, n, _)) if n == packets => {
                        items.extend(i.into_iter().map(|k| (w, k)));
                        summaries.push(s);
                        continue;
                    }
                    Ok(FromReader::Done(..)) | Ok(FromReader::Items(..)) => changed(),
                    Ok(FromReader::Unread(e)) => e,
                    Err(_) => lost(),
                };
                error.get_or_insert(failed);
                whole = false;
            }
            self.apply(&mut merge, items);
            walk.defrag.finish();
            self.summary.fragments = walk.defrag.stats();
            for s in summaries {
                self.summary.absorb(&s);
            }
            self.summary.bytes = own.offset();
            self.summary.input_error = error.as_ref().map(|e| e.to_string());
            error
        })
    }

    /// [`Analyzer::run_capture_sharded`] when the workers record events: `workers` threads
    /// each read the capture (opened by `again`) and analyse their shard's flows; the calling
    /// thread reads nothing: it counts what the first worker counted, merges and reports.
    pub(super) fn run_recording_rereading(
        &mut self,
        again: &Reread<'_>,
        limits: Limits,
        workers: usize,
    ) -> Option<CaptureError> {
        let shards = Shards::new(workers, None);
        let ports: Vec<u16> = self.ports.iter().copied().collect();
        let port_set = self.ports.clone();
        let open: Vec<AtomicUsize> = (0..workers).map(|_| AtomicUsize::new(0)).collect();
        let k0 = self.summary.packets;
        let (opts, probe_content, all_msnp) = (self.opts.clone(), self.probe_content, self.all_msnp);
        let setup = ShardSetup { opts: &opts, ports: &ports, probe_content, all_msnp };
        let mut last_progress = std::time::Instant::now();
        let worker = Worker { me: 0, again, shards: &shards, ports: &port_set, limits, k0, bound: RECORDING };
        std::thread::scope(|scope| {
            let mut merge = Merge::new(workers, 0);
            let (from, trash_to) = spawn_readers(scope, worker, &setup, &open, true);
            // One block from every worker at a time, until all end (with the same number of
            // packets) or one fails.
            let outcome = loop {
                let mut items = Vec::new();
                let mut ends = Vec::new();
                let mut failed = None;
                for (w, rx) in from.iter().enumerate() {
                    match rx.recv() {
                        Ok(FromReader::Items(i, counts)) => {
                            if w == 0 {
                                self.count_block(&counts, &mut last_progress, &open);
                            }
                            items.extend(i.into_iter().map(|k| (w, k)));
                        }
                        Ok(FromReader::Done(i, summary, packets, tail)) => {
                            if w == 0 {
                                self.count_block(&tail.counts, &mut last_progress, &open);
                            }
                            items.extend(i.into_iter().map(|k| (w, k)));
                            ends.push((summary, packets, tail));
                        }
                        Ok(FromReader::Unread(e)) => failed = failed.or(Some(e)),
                        Err(_) => failed = failed.or_else(|| Some(lost())),
                    }
                    if failed.is_some() {
                        break;
                    }
                }
                if let Some(e) = failed {
                    break Err(e);
                }
                if !ends.is_empty() && (ends.len() < from.len() || ends.iter().any(|e| e.1 != ends[0].1)) {
                    break Err(changed());
                }
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply(&mut merge, items))).is_err() {
                    break Err(lost());
                }
                for (t, to) in merge.trash.iter_mut().zip(&trash_to) {
                    if !t.is_empty() {
                        let _ = to.send(std::mem::take(t));
                    }
                }
                if !ends.is_empty() {
                    break Ok(ends);
                }
            };
            let error = match outcome {
                Ok(ends) => {
                    let mut error = None;
                    for (w, (summary, _, tail)) in ends.into_iter().enumerate() {
                        self.summary.absorb(&summary);
                        if w == 0 {
                            let tail = *tail;
                            self.summary.fragments = tail.fragments;
                            self.summary.bytes = tail.bytes;
                            error = tail.error;
                        }
                    }
                    error
                }
                Err(e) => Some(e),
            };
            self.summary.input_error = error.as_ref().map(|e| e.to_string());
            error
        })
    }

    /// Counts the packets a worker counted over a block, as [`Analyzer::count_frame`] counts
    /// one (the first starts the reports' clock), and reports progress now and then.
    fn count_block(&mut self, c: &Counts, last_progress: &mut std::time::Instant, open: &[AtomicUsize]) {
        if c.packets == 0 {
            return;
        }
        if self.summary.packets == 0 {
            if let Some(ts) = c.first_ts {
                self.report.begin(ts);
            }
        }
        self.summary.packets += c.packets;
        self.summary.non_tcp += c.non_tcp;
        self.summary.malformed_packets += c.malformed;
        if self.progress.is_some() && last_progress.elapsed().as_millis() >= 200 {
            *last_progress = std::time::Instant::now();
            let open = open.iter().map(|o| o.load(std::sync::atomic::Ordering::Relaxed)).sum();
            let packets = self.summary.packets;
            if let Some(f) = self.progress.as_mut() {
                f(c.offset, packets, open);
            }
        }
    }

    /// Merges the oldest block's results from every worker and the calling thread, and sends
    /// what the merge is done with back to be freed.
    fn merge_block(
        &mut self,
        merge: &mut Merge<'_>,
        from: &[Receiver<FromReader>],
        trash_to: &[Sender<Vec<Trash>>],
        pending: &mut VecDeque<Vec<Keyed>>,
    ) -> Result<(), CaptureError> {
        let mut items = Vec::new();
        for (w, rx) in from.iter().enumerate() {
            match rx.recv() {
                Ok(FromReader::Items(i, _)) => items.extend(i.into_iter().map(|k| (w, k))),
                Ok(FromReader::Unread(e)) => return Err(e),
                Ok(FromReader::Done(..)) => return Err(changed()),
                Err(_) => return Err(lost()),
            }
        }
        if let Some(mine) = pending.pop_front() {
            items.extend(mine.into_iter().map(|k| (from.len(), k)));
        }
        self.apply(merge, items);
        for (w, t) in merge.trash.iter_mut().enumerate() {
            match trash_to.get(w) {
                Some(to) if !t.is_empty() => {
                    let _ = to.send(std::mem::take(t));
                }
                _ => t.clear(),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Options;
    use crate::testkit::gen::{generate, GenConfig};
    use std::sync::atomic::Ordering;

    fn capture(packets: u64) -> Vec<u8> {
        let mut out = Vec::new();
        generate(GenConfig { packets, seed: 7, concurrency: 16, ..GenConfig::default() }, &mut out).expect("generated");
        out
    }

    fn reader(bytes: &[u8]) -> Result<CaptureReader<Box<dyn Read + '_>>, CaptureError> {
        CaptureReader::new(Box::new(bytes))
    }

    /// The summary and error of `own` on two threads, the worker's reader made by `other`.
    fn two_threads(own: &[u8], other: &Reread<'_>) -> (Summary, Option<CaptureError>) {
        let mut report = Nothing;
        let opts = Options { terse: true, stream_events: true, ..Options::default() };
        let mut a = Analyzer::new(opts, &[], &mut report);
        let own = reader(own).expect("opens");
        let error = a.run_capture_rereading(own, other, Limits::default(), 2);
        (a.finish(), error)
    }

    fn one_thread(bytes: &[u8]) -> Summary {
        let mut report = Nothing;
        let opts = Options { terse: true, stream_events: true, ..Options::default() };
        let mut a = Analyzer::new(opts, &[], &mut report);
        let mut r = reader(bytes).expect("opens");
        assert!(a.run_capture(&mut r, Limits::default()).is_none());
        a.finish()
    }

    #[test]
    fn two_threads_reading_the_same_capture_count_what_one_does() {
        let bytes = capture(3 * SUMMARY.packets + 100);
        let (two, error) = two_threads(&bytes, &|| reader(&bytes));
        assert!(error.is_none(), "{error:?}");
        let one = one_thread(&bytes);
        assert!(one.connections > 10 && one.packets > 3 * SUMMARY.packets, "{} connections", one.connections);
        assert_eq!(format!("{two:?}"), format!("{one:?}"));
    }

    #[test]
    fn a_capture_that_changes_between_the_readings_is_an_error_not_a_hang() {
        let bytes = capture(3 * SUMMARY.packets + 100);
        // Cut in its middle (the worker ends early, at a truncated record); longer by one
        // packet (within the last block: only the counts differ) and by a whole copy of its
        // packets (the worker goes on where the calling thread ended).
        let first = 16 + u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
        let cut = bytes[..bytes.len() / 2].to_vec();
        let one_more = [&bytes[..], &bytes[24..24 + first]].concat();
        let twice = [&bytes[..], &bytes[24..]].concat();
        for other in [&cut, &one_more, &twice] {
            let (_, error) = two_threads(&bytes, &|| reader(other));
            let error = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("changed while it was read"), "{error}");
        }
    }

    /// The summary and error of `bytes` on two recording workers, the second's reader made by
    /// `second` (the first reads `bytes`).
    fn recording(bytes: &[u8], second: &[u8]) -> (Summary, Option<CaptureError>) {
        let mut report = Nothing;
        let opts = Options { stream_events: true, ..Options::default() };
        let mut a = Analyzer::new(opts, &[], &mut report);
        let calls = AtomicUsize::new(0);
        let again = || reader(if calls.fetch_add(1, Ordering::Relaxed) == 0 { bytes } else { second });
        let error = a.run_recording_rereading(&again, Limits::default(), 2);
        (a.finish(), error)
    }

    #[test]
    fn two_recording_workers_count_what_one_thread_does_and_notice_a_changed_capture() {
        let bytes = capture(3 * RECORDING.packets + 100);
        let (two, error) = recording(&bytes, &bytes);
        assert!(error.is_none(), "{error:?}");
        let one = one_thread(&bytes);
        assert!(one.packets > 3 * RECORDING.packets, "{} packets", one.packets);
        assert_eq!(format!("{two:?}"), format!("{one:?}"));
        let first = 16 + u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
        for other in [bytes[..bytes.len() / 2].to_vec(), [&bytes[..], &bytes[24..24 + first]].concat()] {
            let (_, error) = recording(&bytes, &other);
            let error = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("changed while it was read"), "{error}");
        }
    }

    #[test]
    fn a_worker_that_cannot_open_the_capture_stops_the_reading_with_its_error() {
        let bytes = capture(3 * SUMMARY.packets);
        let calls = AtomicUsize::new(0);
        let (_, error) = two_threads(&bytes, &|| {
            calls.fetch_add(1, Ordering::Relaxed);
            reader(b"not a capture")
        });
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        let error = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("not a pcap or pcapng file"), "{error}");
    }

    #[test]
    fn the_calling_thread_takes_a_little_less_than_its_even_share() {
        assert!((local_share(2) - 0.47).abs() < 1e-9);
        assert!(local_share(64) == 0.0);
    }
}
