//! Packets into the analysis: each captured frame is sliced, defragmented and reassembled, and
//! the reassembler hands the streams to the [`Analyzer`]. Drives captures read from files, live
//! interfaces, and captures held in memory.

use super::report::Report;
use super::summary::Summary;
use super::Analyzer;
use crate::capture::{CaptureError, CaptureReader};
use crate::net::{self, Sliced};
use crate::reassembly::{Limits, Reassembler};
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
        if self.summary.packets == 0 {
            self.report.begin(ts_ns);
        }
        self.summary.packets += 1;
        if self.summary.packets % 4096 == 0 && self.progress.is_some() {
            let now = std::time::Instant::now();
            if now.duration_since(pipe.last_progress).as_millis() >= 200 {
                pipe.last_progress = now;
                let open = pipe.reasm.open_connections();
                if let Some(f) = self.progress.as_mut() {
                    f(offset, self.summary.packets, open);
                }
            }
        }
        pipe.last_ts = ts_ns;
        let k = self.summary.packets;
        match net::slice(link, data) {
            Sliced::Tcp(seg) => self.segment(pipe, &seg, ts_ns, k),
            Sliced::Fragment(f) => {
                if let Some(d) = pipe.defrag.push(&f, ts_ns) {
                    match d.tcp() {
                        Sliced::Tcp(seg) => self.segment(pipe, &seg, ts_ns, k),
                        Sliced::Malformed(_) => self.summary.malformed_packets += 1,
                        _ => self.summary.non_tcp += 1,
                    }
                }
            }
            Sliced::Other | Sliced::UnsupportedLink(_) => self.summary.non_tcp += 1,
            Sliced::Malformed(_) => self.summary.malformed_packets += 1,
        }
    }

    /// One TCP segment of packet `k`: a flow it starts takes `k` as its id (ids then follow
    /// packet order whoever analyses the flow, see [`super::shard`]).
    fn segment(&mut self, pipe: &mut Pipeline, seg: &net::Segment<'_>, ts_ns: i64, k: u64) {
        let limits = pipe.limits;
        let ports = &self.ports;
        let table = pipe.affinity.get_or_insert_with(|| super::affinity::Affinity::new(ports, limits.idle_timeout_ns));
        let affinity = table.of(seg, ts_ns);
        pipe.reasm.tick(ts_ns, self);
        pipe.reasm.segment_as(seg, ts_ns, k, Some(affinity), self);
    }

    /// Ends a packet source: every connection still open is flushed and reported.
    pub fn end(&mut self, mut pipe: Pipeline) {
        pipe.defrag.finish();
        self.summary.fragments = pipe.defrag.stats();
        pipe.reasm.finish(pipe.last_ts, self);
        self.summary.tcp = pipe.reasm.stats();
    }
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
