//! Micro-benchmarks: the wire decoder, the reassembler, the whole pipeline on an in-memory
//! capture, and rendering its events as compact JSON (NDJSON's records). Run with `cargo bench`;
//! `bench/run.sh` prints the end-to-end table.

use msntap::analysis::{Analyzer, Links, Pipeline, Report, Summary};
use msntap::app::analyze_to_json;
use msntap::capture::CaptureReader;
use msntap::flow::{Accept, CloseKind, ConnId, ConnInfo, Dir, GapReason, StreamSink, TcpAnomaly};
use msntap::msnp::wire::{Decoder, WireLimits};
use msntap::net::{self, Sliced};
use msntap::reassembly::{Limits, Reassembler};
use msntap::session::{Connection, Options};
use std::net::SocketAddr;

fn main() {
    divan::main();
}

fn capture() -> Vec<u8> {
    let cfg = msntap::testkit::gen::GenConfig { packets: 50_000, ..Default::default() };
    let mut out = Vec::new();
    let _ = msntap::testkit::gen::generate(cfg, &mut out);
    out
}

/// A stream of MSNP2 lines and payloads, as a switchboard carries.
fn stream() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..2000 {
        s.extend_from_slice(format!("MSG {i} N 79\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello there, {i:05}\r\n").as_bytes());
        s.extend_from_slice(format!("ACK {i}\r\nNLN NLN bob@hotmail.com Bob\r\n").as_bytes());
    }
    s
}

#[divan::bench]
fn wire_decoder(b: divan::Bencher) {
    let data = stream();
    b.counter(divan::counter::BytesCount::new(data.len())).bench(|| {
        let mut d = Decoder::new(WireLimits::default());
        let mut n = 0;
        for chunk in data.chunks(1460) {
            d.push(chunk);
            while d.next_frame().is_some() {
                n += 1;
            }
        }
        n
    });
}

#[divan::bench]
fn session_analysis(b: divan::Bencher) {
    let data = stream();
    let opts = Options { stream_events: true, terse: true, ..Options::default() };
    b.counter(divan::counter::BytesCount::new(data.len())).bench(|| {
        let mut c = Connection::new(
            1,
            SocketAddr::from(([10, 0, 0, 1], 1)),
            SocketAddr::from(([10, 0, 0, 2], 1863)),
            None,
            false,
            0,
            &opts,
        );
        for chunk in data.chunks(1460) {
            c.data(Dir::C2S, 0, chunk, &opts);
            c.events.clear();
        }
        c.transactions.len()
    });
}

struct Null;

impl StreamSink for Null {
    fn accept(&mut self, _: SocketAddr, _: SocketAddr, _: bool, _: std::net::IpAddr) -> Accept {
        Accept::Track { server: None }
    }
    fn open(&mut self, _: &ConnInfo) {}
    fn data(&mut self, _: ConnId, _: Dir, _: i64, bytes: &[u8]) {
        divan::black_box(bytes);
    }
    fn gap(&mut self, _: ConnId, _: Dir, _: i64, _: u64, _: u64, _: GapReason) {}
    fn half_close(&mut self, _: ConnId, _: Dir, _: i64) {}
    fn anomaly(&mut self, _: ConnId, _: Dir, _: i64, _: TcpAnomaly) {}
    fn close(&mut self, _: ConnId, _: i64, _: CloseKind) {}
}

#[divan::bench]
fn reassembler(b: divan::Bencher) {
    let cap = capture();
    b.counter(divan::counter::BytesCount::new(cap.len())).bench(|| {
        let mut r = Reassembler::new(Limits::default());
        let mut reader = CaptureReader::new(cap.as_slice()).expect("capture");
        let mut sink = Null;
        while let Ok(Some(p)) = reader.next_packet() {
            if let Sliced::Tcp(seg) = net::slice(p.link, p.data) {
                r.segment(&seg, p.ts_ns, &mut sink);
            }
        }
        r.stats().segments
    });
}

struct Count(u64);

impl Report for Count {
    fn connection(&mut self, c: &Connection, _: Links<'_>) {
        self.0 += c.counts.commands;
    }
    fn finish(&mut self, _: &Summary, _: Links<'_>) {}
}

#[divan::bench]
fn pipeline_summary(b: divan::Bencher) {
    let cap = capture();
    b.counter(divan::counter::BytesCount::new(cap.len())).bench(|| {
        let mut count = Count(0);
        let opts = Options { stream_events: true, terse: true, ..Options::default() };
        let mut a = Analyzer::new(opts, &[], &mut count);
        let mut reader = CaptureReader::new(cap.as_slice()).expect("capture");
        let mut pipe = Pipeline::new(Limits::default());
        while let Ok(Some(p)) = reader.next_packet() {
            a.packet(&mut pipe, p.link, p.ts_ns, p.data, 0);
        }
        a.end(pipe);
        a.finish();
        count.0
    });
}

#[divan::bench(sample_count = 10)]
fn pipeline_json(b: divan::Bencher) {
    let cap = capture();
    b.counter(divan::counter::BytesCount::new(cap.len()))
        .bench(|| analyze_to_json(&cap, Options::default(), &[], Limits::default()).map(|d| d.to_string().len()));
}

/// Keeps every event the analysis reports, for the rendering benches.
struct Keep(Vec<msntap::session::Event>);

impl Report for Keep {
    fn events(&mut self, c: &Connection, from: usize) {
        self.0.extend(c.events[from..].iter().cloned());
    }
    fn connection(&mut self, _: &Connection, _: Links<'_>) {}
    fn finish(&mut self, _: &Summary, _: Links<'_>) {}
}

/// The events of the generated capture, as NDJSON and the JSON document render them.
fn events() -> Vec<msntap::session::Event> {
    let cap = capture();
    let mut keep = Keep(Vec::new());
    let opts = Options { stream_events: true, ..Options::default() };
    let _ = msntap::analysis::run_on(&cap, opts, &[], Limits::default(), &mut keep);
    keep.0
}

#[divan::bench]
fn render_events_compact(b: divan::Bencher) {
    let events = events();
    let mut out = Vec::with_capacity(1 << 20);
    b.counter(divan::counter::ItemsCount::new(events.len())).bench_local(|| {
        out.clear();
        for e in &events {
            msntap::output::compact::object(&mut out, e);
            if out.len() > 1 << 19 {
                out.clear();
            }
        }
        out.len()
    });
}
