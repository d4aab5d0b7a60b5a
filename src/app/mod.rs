//! One function per subcommand, over the rest of the library: a validated configuration in,
//! the sources, analysis and outputs wired together, a result out. The binary only turns flags
//! into these configurations and results into exit statuses; nothing here knows of flags.
//! [`read`] reads captures, `sniff` a live interface, [`proxy`] runs the proxy (`serve` and
//! `demo` are the testkit's, in [`crate::testkit::demo`]).

pub mod proxy;
pub mod read;
#[cfg(feature = "live")]
pub mod sniff;

use crate::analysis::{Analyzer, StreamDump, Summary};
use crate::output::json::Source;
use crate::output::outputs::{OutputConfig, OutputError, Outputs};
use crate::reassembly::Limits;
use crate::rules::Severity;
use crate::session::Options;
use std::io::Write;
use std::path::PathBuf;

/// A subcommand that could not do its work. The message is whole; the source, when there is
/// one, says why.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something failed for a reason below it.
    #[error("{0}")]
    Because(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    /// An output could not be set up or written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Something failed, said in full.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// An error whose cause is `source`.
    pub fn because(what: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Because(what.into(), Box::new(source))
    }
}

/// How the analysis runs, whatever the source.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConfig {
    /// The per-connection options (limits, passwords, secrets).
    pub options: Options,
    /// Reassembly limits.
    pub limits: Limits,
    /// Ports treated as MSNP besides 1863.
    pub ports: Vec<u16>,
    /// Recognise MSNP by content on other ports.
    pub content_probe: bool,
    /// Write each direction's reassembled bytes into this directory.
    pub dump_streams: Option<PathBuf>,
}

/// What an analysis found.
#[derive(Debug)]
pub struct Finished {
    /// The counts.
    pub summary: Summary,
    /// The error that stopped the input early, after everything before it was reported.
    pub input_error: Option<String>,
}

impl Finished {
    /// The worst severity among the violations found.
    pub fn worst(&self) -> Option<Severity> {
        self.summary
            .by_severity
            .iter()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(k, _)| Severity::ALL.into_iter().find(|s| s.as_str() == k))
            .max()
    }
}

/// Called about every 200 ms while an input is read: (bytes read, packets, connections open).
pub type Progress = crate::analysis::ProgressFn;

/// Runs one analysis with the outputs of `out`; `run` feeds it and returns the error that
/// stopped the input, if any.
pub fn analyse(
    cfg: &AnalysisConfig,
    out: &OutputConfig,
    label: &str,
    source: Source,
    stdout: &dyn Fn() -> Box<dyn Write>,
    progress: Option<Progress>,
    run: impl FnOnce(&mut Analyzer, Limits) -> Option<String>,
) -> Result<Finished, Error> {
    let mut opts = cfg.options.clone();
    // Events are dropped as soon as they are counted and written (the transcript and the JSON
    // document keep their text in a spool until the connection ends); display text is built
    // only when shown.
    opts.stream_events = true;
    opts.terse = !out.shows_events();
    if opts.terse {
        // Only the rules look at payloads then, and they need the header block at most.
        opts.wire.keep_payload = opts.wire.keep_payload.min(4096);
    }
    let mut outputs = Outputs::new(out, label, source, stdout)?;
    let mut tee = outputs.tee();
    let mut analyzer = Analyzer::new(opts, &cfg.ports, &mut tee);
    analyzer.probe_content = cfg.content_probe;
    if let Some(dir) = &cfg.dump_streams {
        let dump = StreamDump::new(dir).map_err(|e| Error::because(format!("cannot create {}", dir.display()), e))?;
        analyzer.dump_streams(dump);
    }
    if let Some(p) = progress {
        analyzer.progress(p);
    }
    let input_error = run(&mut analyzer, cfg.limits);
    let dump_error = analyzer.dump_error();
    let summary = analyzer.finish();
    drop(tee);
    if let Some(e) = dump_error {
        return Err(Error::because("writing --dump-streams files", e));
    }
    outputs.finish()?;
    Ok(Finished { summary, input_error })
}

/// Analyses a capture held in memory and returns the JSON session document (for tests and
/// tools that want the document as a value).
pub fn analyze_to_json(
    capture: &[u8],
    opts: crate::session::Options,
    extra_ports: &[u16],
    limits: crate::reassembly::Limits,
) -> Result<serde_json::Value, crate::capture::CaptureError> {
    let source = Source { kind: crate::output::json::SourceKind::Capture, path: None, format: None };
    let mut out = Vec::new();
    {
        let mut report = crate::output::json::JsonReport::new(&mut out, source);
        crate::analysis::run_on(capture, opts, extra_ports, limits, &mut report)?;
    }
    serde_json::from_slice(&out).map_err(|e| crate::capture::CaptureError::Corrupt {
        offset: 0,
        reason: format!("internal: JSON document did not parse: {e}"),
    })
}

/// The summary `read --summary` prints for a capture held in memory, its flows analysed by
/// `workers` threads (1: one thread, as every other mode). For tests and tools that compare
/// the two.
pub fn summary_text(
    capture: &[u8],
    opts: crate::session::Options,
    limits: Limits,
    workers: usize,
) -> Result<Vec<u8>, crate::capture::CaptureError> {
    summary_of(capture, crate::session::Options { terse: true, ..opts }, limits, workers, true)
}

/// [`summary_text`] with the calling thread reading the capture alone and handing each
/// segment to the others, as for an input that cannot be read twice (a pipe). For tests and
/// tools that compare it with one thread.
pub fn summary_text_handed(
    capture: &[u8],
    opts: crate::session::Options,
    limits: Limits,
    workers: usize,
) -> Result<Vec<u8>, crate::capture::CaptureError> {
    summary_of(capture, crate::session::Options { terse: true, ..opts }, limits, workers, false)
}

/// [`summary_text`] on one thread with every event made and kept until handed on, as when an
/// output shows them (`read --summary` counts events nothing shows as they come instead). For
/// tests and tools that compare the two.
pub fn summary_text_keeping_events(
    capture: &[u8],
    opts: crate::session::Options,
    limits: Limits,
) -> Result<Vec<u8>, crate::capture::CaptureError> {
    summary_of(capture, crate::session::Options { terse: false, ..opts }, limits, 1, false)
}

/// The summary of `capture` on `workers` threads, which each read it themselves when
/// `reread`.
fn summary_of(
    capture: &[u8],
    opts: crate::session::Options,
    limits: Limits,
    workers: usize,
    reread: bool,
) -> Result<Vec<u8>, crate::capture::CaptureError> {
    use crate::output::text::{TextOptions, TextReport};
    let mut reader = crate::capture::CaptureReader::new(capture)?;
    let mut out = Vec::new();
    {
        let text_opts = TextOptions { color: false, summary_only: true, filter: Default::default(), live: false };
        let mut report = TextReport::new(&mut out, text_opts, "capture");
        let opts = crate::session::Options { stream_events: true, ..opts };
        let mut analyzer = Analyzer::new(opts, &[], &mut report);
        let again = || crate::capture::CaptureReader::new(Box::new(capture) as Box<dyn std::io::Read>);
        let again = reread.then_some(&again as &crate::analysis::Reread<'_>);
        analyzer.run_capture_sharded(&mut reader, again, limits, workers, false);
        analyzer.finish();
    }
    Ok(out)
}

/// What every output `read` writes says of a capture held in memory: the transcript, the
/// JSON document, NDJSON, the ladder and the HTML report, in that order, all fed by one
/// analysis on `workers` threads (1: one thread) and shown through `filter`. For tests and
/// tools that compare one thread's outputs with several's.
pub fn every_output(
    capture: &[u8],
    opts: Options,
    limits: Limits,
    workers: usize,
    filter: crate::output::filter::Filter,
) -> Result<[Vec<u8>; 5], crate::capture::CaptureError> {
    use crate::analysis::{Report, Tee};
    use crate::output::{html, json, ladder, ndjson, text};
    let mut reader = crate::capture::CaptureReader::new(capture)?;
    let mut outs: [Vec<u8>; 5] = Default::default();
    {
        let [t, j, n, l, h] = &mut outs;
        let source = || Source { kind: json::SourceKind::Capture, path: None, format: None };
        let text_opts = text::TextOptions { color: false, summary_only: false, filter: filter.clone(), live: false };
        let mut transcript = text::TextReport::new(t, text_opts, "capture");
        let mut document = json::JsonReport::new(j, source()).with_filter(filter.clone());
        let mut stream = ndjson::NdjsonReport::new(n, filter.clone());
        let ladder_opts = ladder::LadderOptions { filter: filter.clone(), ..Default::default() };
        let mut arrows = ladder::LadderReport::new(l, ladder_opts, "capture");
        let html_opts = html::HtmlOptions { filter, ..Default::default() };
        let mut page = html::HtmlReport::new(h, html_opts, "capture", source());
        let reports: Vec<&mut dyn Report> = vec![&mut transcript, &mut document, &mut stream, &mut arrows, &mut page];
        let mut tee = Tee(reports);
        let opts = Options { stream_events: true, ..opts };
        let mut analyzer = Analyzer::new(opts, &[], &mut tee);
        analyzer.run_capture_sharded(&mut reader, None, limits, workers, true);
        analyzer.finish();
    }
    Ok(outs)
}
