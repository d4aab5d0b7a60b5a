//! The `msntap` binary: parses flags, runs the library, reports errors once. Exit status: 0 on
//! success, 1 when the input could not be read (wholly or in part), 2 on usage errors.

mod cli;
mod live;

use anyhow::{bail, Context, Result};
use clap::Parser;
use cli::{AnalysisArgs, Cli, Command, ReadArgs};
use msntap::analyzer::{Analyzer, StreamDump};
use msntap::capture::{CaptureReader, Format};
use msntap::output::filter::Filter;
use msntap::output::json::{JsonReport, Source};
use msntap::output::ndjson::NdjsonReport;
use msntap::output::text::{TextOptions, TextReport};
use msntap::output::Tee;
use msntap::reassembly::Limits;
use msntap::session::Options;
use msntap::Report;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: the analysis allocates and frees many small strings; measured 1M-packet summary
/// read time drops with it (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("msntap: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Read(args) => read(*args),
        Command::Rules { markdown } => {
            let mut out = std::io::stdout().lock();
            if markdown {
                out.write_all(msntap::rules::markdown_table().as_bytes())?;
            } else {
                for r in msntap::rules::CATALOG {
                    writeln!(out, "{:<10} {:<8} {:<24} {}", r.id, r.severity, r.cite, r.summary)?;
                }
            }
            Ok(0)
        }
        Command::Sniff(args) => live::sniff(*args),
        Command::Proxy(args) => live::proxy(*args),
        Command::Serve(args) => live::serve(args),
        Command::Demo(args) => live::demo(args),
        Command::Generate(g) => {
            let cfg = msntap::testkit::gen::GenConfig {
                packets: g.packets,
                seed: g.seed,
                reorder: g.reorder,
                retransmit: g.retransmit,
                ..Default::default()
            };
            let f = std::fs::File::create(&g.out).with_context(|| format!("cannot create {}", g.out.display()))?;
            let n = msntap::testkit::gen::generate(cfg, f)?;
            eprintln!("wrote {n} packets to {}", g.out.display());
            Ok(0)
        }
        Command::BenchProxy(b) => live::bench_proxy(b),
        Command::Sample { out } => {
            std::fs::write(&out, msntap::testkit::sample::pcap())
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {}", out.display());
            Ok(0)
        }
    }
}

fn read(args: ReadArgs) -> Result<u8> {
    // Directories expand to the captures in them, sorted by name.
    let mut files = Vec::new();
    for f in &args.files {
        if f.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(f)
                .with_context(|| format!("cannot read directory {}", f.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(f.clone());
        }
    }
    if files.len() == 1 {
        return read_one(
            &files[0],
            args.common,
            Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())),
        );
    }
    let c = &args.common;
    if c.json.is_some() || c.ndjson.is_some() || c.dump_streams.is_some() {
        bail!("--json, --ndjson and --dump-streams take one input at a time ({} given)", files.len());
    }
    // Every file in a worker of its own, output buffered per file and printed in order.
    QUIET_PROGRESS.store(true, std::sync::atomic::Ordering::Relaxed);
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Slot> = files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(files.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let buf = SharedBuf::default();
                let r = read_one(path, args.common.clone(), Box::new(buf.clone()));
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some((buf.take(), r));
                }
            });
        }
    });
    let mut out = std::io::stdout().lock();
    let mut code = 0u8;
    for (path, slot) in files.iter().zip(results) {
        let Some((text, r)) = slot.into_inner().ok().flatten() else { continue };
        out.write_all(&text)?;
        match r {
            Ok(c) => code = code.max(c),
            Err(e) => {
                eprintln!("msntap: {}: {e:#}", path.display());
                code = code.max(1);
            }
        }
    }
    Ok(code)
}

/// One file's output and result, filled in by a worker.
type Slot = std::sync::Mutex<Option<(Vec<u8>, Result<u8>)>>;

/// Set when several files are read at once: their progress lines would interleave.
static QUIET_PROGRESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A writer into a shared buffer (one file's output while workers run).
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        self.0.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn read_one(file: &std::path::Path, common: AnalysisArgs, out: Box<dyn Write + Send>) -> Result<u8> {
    let label = file.display().to_string();
    let mut reader = CaptureReader::open(file).with_context(|| format!("cannot read {label}"))?;
    let format = match reader.format() {
        Format::Pcap => "pcap",
        Format::PcapNg => "pcapng",
    };
    let source = Source { kind: "capture".into(), path: Some(label.clone()), format: Some(format.into()) };
    let total = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    analyse(common, label, source, total, out, |analyzer, limits| {
        analyzer.run_capture(&mut reader, limits).map(|e| e.to_string())
    })
}

/// Runs an analysis with the outputs, filters and limits of `args`; `run` feeds it packets and
/// returns the error that stopped the input, if any.
pub(crate) fn analyse(
    args: AnalysisArgs,
    label: String,
    source: Source,
    total_bytes: u64,
    stdout: Box<dyn Write + Send>,
    run: impl FnOnce(&mut Analyzer, Limits) -> Option<String>,
) -> Result<u8> {
    let mut opts = Options::default();
    opts.wire.max_line = args.max_line;
    opts.wire.max_payload = args.max_payload;
    opts.wire.keep_payload = args.keep_payload;
    opts.reveal_secrets = args.reveal_secrets;
    for p in &args.passwords {
        let Some((h, s)) = p.split_once('=') else {
            bail!("--password takes HANDLE=SECRET, got {p:?}");
        };
        opts.passwords.insert(h.to_string(), s.to_string());
    }
    let limits = Limits {
        max_ooo_bytes: args.max_ooo,
        idle_timeout_ns: (args.idle_timeout as i64).saturating_mul(1_000_000_000),
    };
    let color = live::color(args.color);
    // Events are dropped as soon as they are counted and written (the transcript and the JSON
    // document keep their text in a spool until the connection ends); display text is built
    // only when shown.
    opts.stream_events = true;
    opts.terse = args.json.is_none() && args.ndjson.is_none() && args.summary;
    if opts.terse {
        // Only the rules look at payloads then, and they need the header block at most.
        opts.wire.keep_payload = opts.wire.keep_payload.min(4096);
    }
    let filter = Filter {
        conns: args.conns.clone(),
        roles: args.roles.clone(),
        user: args.user.clone(),
        commands: args.commands.clone(),
        only_violations: args.only_violations,
        min_severity: args.min_severity,
    };
    let to_stdout = |o: &Option<String>| o.as_deref() == Some("-");
    if to_stdout(&args.json) && to_stdout(&args.ndjson) {
        bail!("--json - and --ndjson - cannot both write to stdout");
    }
    let machine_on_stdout = to_stdout(&args.json) || to_stdout(&args.ndjson);
    let sink = |target: &str| -> Result<Box<dyn Write>> {
        Ok(if target == "-" {
            Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()))
        } else {
            let f = std::fs::File::create(target).with_context(|| format!("cannot create {target}"))?;
            Box::new(std::io::BufWriter::with_capacity(1 << 16, f))
        })
    };
    let text_out: Box<dyn Write> = if machine_on_stdout { Box::new(std::io::sink()) } else { stdout };
    let mut text = TextReport::new(
        text_out,
        TextOptions { color, summary_only: args.summary, filter: filter.clone(), live: false },
        &label,
    );
    let live_input = source.kind != "capture";
    let mut json = match args.json.as_deref() {
        None => None,
        Some(target) => Some(JsonReport::new(sink(target)?, source).with_filter(filter.clone())),
    };
    let mut ndjson = match args.ndjson.as_deref() {
        None => None,
        // A live capture is read as it happens: records go out at once.
        Some(target) => Some(NdjsonReport::new(sink(target)?, filter.clone()).flush_each(live_input)),
    };
    let mut reports: Vec<&mut dyn Report> = vec![&mut text];
    if let Some(j) = json.as_mut() {
        reports.push(j);
    }
    if let Some(n) = ndjson.as_mut() {
        reports.push(n);
    }
    let mut tee = Tee(reports);
    let mut analyzer = Analyzer::new(opts, &args.ports, &mut tee);
    analyzer.probe_content = !args.no_content_probe;
    if let Some(dir) = &args.dump_streams {
        let dump = StreamDump::new(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        analyzer.dump_streams(dump);
    }
    let progress = std::io::stderr().is_terminal() && !QUIET_PROGRESS.load(std::sync::atomic::Ordering::Relaxed);
    if progress {
        let total = total_bytes;
        analyzer.progress(Box::new(move |bytes, packets, conns| {
            let pct = if total > 0 { bytes as f64 * 100.0 / total as f64 } else { 0.0 };
            eprint!("\r\x1b[2K{pct:5.1}% {:.1} MB, {packets} packets, {conns} connections open", bytes as f64 / 1e6);
        }));
    }
    let input_error = run(&mut analyzer, limits);
    let dump_error = analyzer.dump_error();
    let summary = analyzer.finish();
    if progress {
        eprint!("\r\x1b[2K");
    }
    drop(tee);
    if let Some(e) = dump_error {
        return Err(e).context("writing --dump-streams files");
    }
    if let Some(e) = text.error.take() {
        return Err(e).context("writing the transcript");
    }
    if let Some(e) = json.as_mut().and_then(|j| j.error.take()) {
        return Err(e).context("writing the JSON document");
    }
    if let Some(e) = ndjson.as_mut().and_then(|j| j.error.take()) {
        return Err(e).context("writing NDJSON");
    }
    if let Some(e) = input_error {
        eprintln!("msntap: {label}: {e}");
        return Ok(1);
    }
    if let Some(level) = args.fail_on {
        let worst = summary
            .by_severity
            .iter()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(k, _)| k.parse::<msntap::rules::Severity>().ok())
            .max();
        if worst.is_some_and(|w| w >= level) {
            return Ok(3);
        }
    }
    Ok(0)
}
