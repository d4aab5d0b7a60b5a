//! Sharded analysis of a capture that every thread can read for itself (a file, or bytes in
//! memory), for the summary: each thread reads and slices every packet and decides every
//! flow's affinity (each with the same table, so all decide alike), ticks its clock with every
//! segment and analyses only its shard's flows; what the threads hand on is merged as
//! [`super::shard`] merges it, block by block of packets. Only what they hand on crosses
//! between threads. Handing every segment and its payload to the workers ([`super::shard`]'s
//! batches) made two threads no faster than one whenever the two cores shared no cache: on
//! the 2-vCPU test machine the host places the vCPUs now on one L3 (a cache line's round trip
//! 60 ns), now on two (350 ns), and the summary then took 0.37 s instead of 0.21 s. With each
//! thread reading, it takes about 0.27 s there, for 0.23 → 0.25 s where the cores share one.

use super::affinity::Affinity;
use super::handon::{Keyed, Trash};
use super::pipeline::{slice_frame, Held};
use super::shard::{lost, Merge, Nothing, Shard, ShardSetup, Shards, AHEAD};
use super::summary::Summary;
use super::Analyzer;
use crate::capture::{CaptureError, CaptureReader, Packet};
use crate::net::defrag::Defrag;
use crate::reassembly::{FlowKey, Limits};
use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

/// Packets each thread reads between hand-ons.
const BLOCK: u64 = 2048;

/// Opens the capture again from its start, for one more thread to read it.
pub type Reread<'a> = dyn Fn() -> Result<CaptureReader<Box<dyn Read + 'a>>, CaptureError> + Sync + 'a;

/// What a reading worker hands on.
enum FromReader {
    /// What it handed on over one block of packets.
    Items(Vec<Keyed>),
    /// The end of its reading: what it handed on since the last block and at the end, its
    /// counts, and the packets it read.
    Done(Vec<Keyed>, Box<Summary>, u64),
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
    /// shard's (`me`).
    fn packet(&mut self, p: &Packet<'_>, k: u64, shard: &mut Shard<'_>, shards: &Shards, me: usize) -> Held {
        let ts = p.ts_ns;
        let affinity = &mut self.affinity;
        slice_frame(p.link, p.data, ts, &mut self.defrag, |seg| {
            // One flow key for the affinity table and the reassembler.
            let key = FlowKey::new(seg.src, seg.dst, seg.vlan);
            let aff = affinity.of_key(seg, key, ts);
            let mine = shards.of(aff) == me;
            shard.segment(mine.then_some((seg, key)), k, ts, aff);
        })
    }
}

/// What a reading worker is given.
struct Worker<'s, 'a> {
    me: usize,
    again: &'s Reread<'a>,
    shards: &'s Shards,
    ports: &'s HashSet<u16>,
    limits: Limits,
    /// Packets the analysis had counted before this capture (the first one read is `k0 + 1`,
    /// as the calling thread's [`Analyzer::count_frame`] numbers it).
    k0: u64,
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
        // An error ends the reading here as it ends the calling thread's, at the same packet.
        while let Ok(Some(p)) = reader.next_packet() {
            k += 1;
            last_ts = p.ts_ns;
            walk.packet(&p, k, &mut shard, self.shards, self.me);
            if (k - self.k0) % BLOCK == 0 {
                // What the merge is done with is freed here, where it was allocated.
                while let Ok(t) = trash.try_recv() {
                    drop(t);
                }
                if tx.send(FromReader::Items(shard.block())).is_err() {
                    return;
                }
            }
        }
        let (items, summary) = shard.end(last_ts);
        let _ = tx.send(FromReader::Done(items, summary, k - self.k0));
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
        std::thread::scope(|scope| {
            let mut merge = Merge::new(spawned + 1, 0);
            let mut from = Vec::new();
            let mut trash_to = Vec::new();
            for (me, open) in open.iter().enumerate().take(spawned) {
                let (tx, rx) = sync_channel(AHEAD);
                let (ttx, trx) = channel();
                from.push(rx);
                trash_to.push(ttx);
                let (setup, shards, ports) = (&setup, &shards, &port_set);
                scope.spawn(move || {
                    // A worker that panics (a bug) drops its channel: the merge then stops with
                    // an error instead of the scope panicking the whole process.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let mut nothing = Nothing;
                        let shard = Shard::new(me, setup.analyzer(&mut nothing), limits, open, false);
                        Worker { me, again, shards, ports, limits, k0 }.run(shard, tx, trx);
                    }));
                });
            }
            let mut local = Shard::new(spawned, setup.analyzer(&mut local_report), limits, &open[spawned], false);
            let mut walk = Walk::new(&port_set, limits);
            let mut pending: VecDeque<Vec<Keyed>> = VecDeque::new();
            let mut last_ts = 0;
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
                let held = walk.packet(&p, k, &mut local, &shards, spawned);
                self.count_held(held);
                if (k - k0) % BLOCK == 0 {
                    pending.push_back(local.block());
                    if pending.len() > AHEAD {
                        if let Err(e) = self.merge_block(&mut merge, &from, &trash_to, &mut pending) {
                            break Err(e);
                        }
                    }
                }
            }));
            // Whether every thread's results so far were merged (else the workers' ends are not
            // awaited: dropping their channels stops each at its next hand-on, and the scope
            // then joins them).
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
                match local.end_into(last_ts, &mut items) {
                    Some(s) => summaries.push(s),
                    None => {
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
                    Ok(FromReader::Done(i, s, n)) if n == packets => {
                        items.extend(i.into_iter().map(|k| (w, k)));
                        summaries.push(s);
                        continue;
                    }
                    Ok(FromReader::Done(..)) | Ok(FromReader::Items(_)) => changed(),
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
                Ok(FromReader::Items(i)) => items.extend(i.into_iter().map(|k| (w, k))),
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
        let bytes = capture(3 * BLOCK + 100);
        let (two, error) = two_threads(&bytes, &|| reader(&bytes));
        assert!(error.is_none(), "{error:?}");
        let one = one_thread(&bytes);
        assert!(one.connections > 10 && one.packets > 3 * BLOCK, "{} connections", one.connections);
        assert_eq!(format!("{two:?}"), format!("{one:?}"));
    }

    #[test]
    fn a_capture_of_whole_blocks_counts_what_one_thread_does() {
        // The generator stops near the packets asked for: cut the capture at 2 blocks exactly.
        let bytes = capture(2 * BLOCK + 500);
        let mut end = 24;
        for _ in 0..2 * BLOCK {
            end += 16 + u32::from_le_bytes(bytes[end + 8..end + 12].try_into().unwrap()) as usize;
        }
        let bytes = &bytes[..end];
        let (two, error) = two_threads(bytes, &|| reader(bytes));
        assert!(error.is_none(), "{error:?}");
        let one = one_thread(bytes);
        assert_eq!(one.packets, 2 * BLOCK);
        assert_eq!(format!("{two:?}"), format!("{one:?}"));
    }

    #[test]
    fn a_capture_that_changes_between_the_readings_is_an_error_not_a_hang() {
        let bytes = capture(3 * BLOCK + 100);
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

    #[test]
    fn a_worker_that_cannot_open_the_capture_stops_the_reading_with_its_error() {
        let bytes = capture(3 * BLOCK);
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
