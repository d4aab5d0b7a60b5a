//! Packets into the analysis: each captured frame is sliced, defragmented and reassembled, and
//! the reassembler hands the streams to the [`Analyzer`]. Drives captures read from files, live
//! interfaces, and captures held in memory.

use super::affinity::Affinity;
use super::report::Report;
use super::summary::Summary;
use super::Analyzer;
use crate::capture::{CaptureError, CaptureReader};
use crate::net::{self, Sliced};
use crate::reassembly::{FlowKey, Limits, Reassembler};
use crate::session::Options;
use std::io::Read;

/// The packet-level state of a packet source: TCP reassembly and IP defragmentation.
pub struct Pipeline {
    pub(super) reasm: Reassembler,
    /// Made at the first packet, from the analyzer's server ports.
    affinity: Option<super::affinity::Affinity>,
    limits: Limits,
    defrag: crate::net::defrag::Defrag,
    last_ts: i64,
    last_progress: std::time::Instant,
}

impl Pipeline {
    /// A pipeline with the given reassembly limits.
    pub fn new(limits: Limits) -> Self {
        Pipeline {
            reasm: Reassembler::new(limits),
            affinity: None,
            limits,
            defrag: Default::default(),
            last_ts: 0,
            last_progress: std::time::Instant::now(),
        }
    }
}

impl Analyzer<'_> {
    /// Reads a whole capture. Returns the error that stopped reading, after reporting
    /// everything decoded before it.
    pub fn run_capture<R: Read>(&mut self, reader: &mut CaptureReader<R>, limits: Limits) -> Option<CaptureError> {
        let mut pipe = Pipeline::new(limits);
        let error = loop {
            match reader.next_packet() {
                Ok(Some(p)) => self.packet(&mut pipe, p.link, p.ts_ns, p.data, p.file_offset),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        self.summary.bytes = reader.offset();
        self.summary.input_error = error.as_ref().map(|e| e.to_string());
        self.end(pipe);
        error
    }

    /// Analyses one captured frame (from a file or a live interface).
    pub fn packet(&mut self, pipe: &mut Pipeline, link: crate::flow::LinkType, ts_ns: i64, data: &[u8], offset: u64) {
        let reasm = &pipe.reasm;
        let k = self.count_frame(ts_ns, offset, &mut pipe.last_progress, || reasm.open_connections());
        pipe.last_ts = ts_ns;
        let Pipeline { reasm, affinity, defrag, limits, .. } = pipe;
        let held = slice_frame(link, data, ts_ns, defrag, |seg| {
            let table = affinity.get_or_insert_with(|| Affinity::new(&self.ports, limits.idle_timeout_ns));
            // One flow key for both tables.
            let key = FlowKey::new(seg.src, seg.dst, seg.vlan);
            let affinity = table.of_key(seg, key, ts_ns);
            // A flow it starts takes the packet's number as its id: ids then follow packet
            // order whoever analyses the flow (see `super::shard`).
            reasm.tick(ts_ns, self);
            reasm.segment_keyed(seg, key, ts_ns, k, Some(affinity), self);
        });
        self.count_held(held);
    }

    /// Counts a captured frame (the first one starts the reports' clock) and reports progress
    /// now and then; returns the frame's number.
    pub(super) fn count_frame(
        &mut self,
        ts_ns: i64,
        offset: u64,
        last_progress: &mut std::time::Instant,
        open: impl FnOnce() -> usize,
    ) -> u64 {
        if self.summary.packets == 0 {
            self.report.begin(ts_ns);
        }
        self.summary.packets += 1;
        let k = self.summary.packets;
        if k % 4096 == 0 && self.progress.is_some() {
            let now = std::time::Instant::now();
            if now.duration_since(*last_progress).as_millis() >= 200 {
                *last_progress = now;
                let open = open();
                if let Some(f) = self.progress.as_mut() {
                    f(offset, k, open);
                }
            }
        }
        k
    }

    /// Counts what a frame held that was not a TCP segment.
    pub(super) fn count_held(&mut self, held: Held) {
        match held {
            Held::NotTcp => self.summary.non_tcp += 1,
            Held::Malformed => self.summary.malformed_packets += 1,
            Held::Tcp | Held::Fragment => {}
        }
    }

    /// Ends a packet source: every connection still open is flushed and reported.
    pub fn end(&mut self, mut pipe: Pipeline) {
        pipe.defrag.finish();
        self.summary.fragments = pipe.defrag.stats();
        pipe.reasm.finish(pipe.last_ts, self);
        self.summary.tcp = pipe.reasm.stats();
    }
}

/// What a captured frame held.
pub(super) enum Held {
    /// A TCP segment (or the last fragment of a datagram carrying one).
    Tcp,
    /// A fragment of a datagram not yet whole.
    Fragment,
    /// Not TCP, or not IP.
    NotTcp,
    /// Could not be sliced.
    Malformed,
}

/// Slices a frame, defragmenting IP datagrams; a TCP segment goes to `on_tcp`.
pub(super) fn slice_frame(
    link: crate::flow::LinkType,
    data: &[u8],
    ts_ns: i64,
    defrag: &mut crate::net::defrag::Defrag,
    mut on_tcp: impl FnMut(&net::Segment<'_>),
) -> Held {
    match net::slice(link, data) {
        Sliced::Tcp(seg) => on_tcp(&seg),
        Sliced::Fragment(f) => match defrag.push(&f, ts_ns) {
            None => return Held::Fragment,
            Some(d) => match d.tcp() {
                Sliced::Tcp(seg) => on_tcp(&seg),
                Sliced::Malformed(_) => return Held::Malformed,
                _ => return Held::NotTcp,
            },
        },
        Sliced::Other | Sliced::UnsupportedLink(_) => return Held::NotTcp,
        Sliced::Malformed(_) => return Held::Malformed,
    }
    Held::Tcp
}

/// Analyses a capture held in memory into `report`, returning the summary, or the error that
/// stopped reading (after everything before it was reported).
pub fn run_on(
    capture: &[u8],
    opts: Options,
    extra_ports: &[u16],
    limits: Limits,
    report: &mut dyn Report,
) -> Result<Summary, CaptureError> {
    let mut reader = CaptureReader::new(capture)?;
    let mut analyzer = Analyzer::new(opts, extra_ports, report);
    let error = analyzer.run_capture(&mut reader, limits);
    let summary = analyzer.finish();
    error.map_or(Ok(summary), Err)
}
