//! `msntap read`: captures from files, one after another or several at once (each file's
//! output buffered and printed in argument order).

use super::{analyse, AnalysisConfig, Error, Finished, Progress};
use crate::capture::{CaptureError, CaptureReader, Format};
use crate::escape::sanitize;
use crate::output::json::{Source, SourceKind};
use crate::output::outputs::OutputConfig;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `read` does.
#[derive(Debug, Clone)]
pub struct ReadConfig {
    /// Capture files (directories already expanded, see [`expand`]).
    pub files: Vec<PathBuf>,
    /// Files analysed at once.
    pub jobs: usize,
    /// The analysis.
    pub analysis: AnalysisConfig,
    /// The outputs.
    pub output: OutputConfig,
    /// Show a progress bar per file on stderr while it is read (drawn only on a terminal).
    pub progress: bool,
}

/// One file's result.
#[derive(Debug)]
pub struct FileResult {
    /// The file.
    pub path: PathBuf,
    /// What its analysis found, or why it could not be analysed.
    pub result: Result<Finished, Error>,
}

/// The captures named: files as given, directories as the `.pcap`, `.pcapng` and `.cap` files
/// in them, sorted by name.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for f in paths {
        if f.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(f)
                .map_err(|e| Error::because(format!("cannot read directory {}", f.display()), e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(f.clone());
        }
    }
    Ok(files)
}

/// Reads every file; the outputs go to stdout (and the files the configuration names) in
/// argument order.
pub fn read(cfg: &ReadConfig) -> Result<Vec<FileResult>, Error> {
    let bars = cfg.progress.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    if cfg.files.len() == 1 {
        let path = cfg.files[0].clone();
        let stdout = || -> Box<dyn Write> { Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())) };
        let result = read_one(&path, cfg, &stdout, bars.as_ref());
        return Ok(vec![FileResult { path, result }]);
    }
    let o = &cfg.output;
    if o.json.is_some() || o.ndjson.is_some() || cfg.analysis.dump_streams.is_some() {
        return Err(Error::Failed(format!(
            "--json, --ndjson and --dump-streams take one input at a time ({} given)",
            cfg.files.len()
        )));
    }
    // Every file in a worker of its own, output buffered per file and printed in order.
    let done = crate::analysis::jobs::in_parallel(&cfg.files, cfg.jobs, |path| {
        let buf = SharedBuf::default();
        let b = buf.clone();
        let result = read_one(path, cfg, &move || Box::new(b.clone()), bars.as_ref());
        (buf.take(), result)
    });
    let mut out = std::io::stdout().lock();
    let mut results = Vec::new();
    for (path, slot) in cfg.files.iter().zip(done) {
        let Some((text, result)) = slot else { continue };
        out.write_all(&text).map_err(|e| Error::because("writing the transcript", e))?;
        results.push(FileResult { path: path.clone(), result });
    }
    Ok(results)
}

fn read_one(
    file: &Path,
    cfg: &ReadConfig,
    stdout: &dyn Fn() -> Box<dyn Write>,
    bars: Option<&MultiProgress>,
) -> Result<Finished, Error> {
    let label = file.display().to_string();
    let shown = sanitize(&label).into_owned();
    let started = std::time::Instant::now();
    let mut reader = CaptureReader::open(file).map_err(|e| {
        tracing::debug!(file = %shown, error = %e, "cannot read");
        Error::because(format!("cannot read {label}"), e)
    })?;
    let format = match reader.format() {
        Format::Pcap => "pcap",
        Format::PcapNg => "pcapng",
    };
    let meta = std::fs::metadata(file).ok();
    let total = meta.as_ref().map_or(0, |m| m.len());
    tracing::debug!(file = %shown, format, bytes = total, "reading");
    let source = Source { kind: SourceKind::Capture, path: Some(label.clone()), format: Some(format.into()) };
    // Several captures' reports go into the directory given, each named after its capture.
    let per_file;
    let output = match &cfg.output.report {
        Some(dir) if cfg.files.len() > 1 => {
            let stem = file.file_stem().map_or("capture".into(), |s| s.to_string_lossy().into_owned());
            per_file = OutputConfig { report: Some(dir.join(format!("{stem}.html"))), ..cfg.output.clone() };
            &per_file
        }
        _ => &cfg.output,
    };
    let bar = bars.map(|m| file_bar(m, &shown, total));
    let progress = bar.clone().map(|b| -> Progress {
        Box::new(move |bytes, packets, conns| {
            b.set_position(bytes);
            b.set_message(format!("{packets} packets, {conns} connections open"));
        })
    });
    let (workers, record) = analysis_workers(cfg);
    // A regular file can be read again by each thread, through one handle (the same file
    // whatever happens to its path), to the length it has now; a pipe cannot.
    let shared = meta.filter(|m| m.is_file()).and_then(|m| std::fs::File::open(file).ok().map(|f| (f, m.len())));
    let again = shared.as_ref().map(|(f, len)| {
        move || -> Result<CaptureReader<Box<dyn std::io::Read + '_>>, CaptureError> {
            CaptureReader::new(Box::new(crate::capture::FileAt::new(f, *len)))
        }
    });
    let result = analyse(&cfg.analysis, output, &label, source, stdout, progress, |analyzer, limits| {
        let again = again.as_ref().map(|f| f as &crate::analysis::Reread<'_>);
        analyzer.run_capture_sharded(&mut reader, again, limits, workers, record).map(|e| e.to_string())
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(f) => match &f.input_error {
            Some(e) => {
                tracing::debug!(file = %shown, packets = f.summary.packets, secs, error = %sanitize(e), "read in part")
            }
            None => tracing::debug!(file = %shown, packets = f.summary.packets, secs, "read"),
        },
        Err(e) => tracing::debug!(file = %shown, secs, error = %e, "analysis failed"),
    }
    result
}

/// Analysis workers within one file (`-j` when one file is read), and whether they hand on
/// events as they are decided (every output but the summary reads them).
fn analysis_workers(cfg: &ReadConfig) -> (usize, bool) {
    let o = &cfg.output;
    let summary_only = o.summary && o.json.is_none() && o.ndjson.is_none() && o.ladder.is_none() && o.report.is_none();
    // One file on every worker; several files go one per worker instead. The stream dump
    // writes as bytes arrive, on one thread.
    let workers = if cfg.files.len() == 1 && cfg.analysis.dump_streams.is_none() { cfg.jobs } else { 1 };
    // Only the summary reads nothing but what is decided when a connection ends.
    (workers, !summary_only)
}

/// A file's bar: its name, bytes read of its size, rate, time left, packets and connections.
fn file_bar(multi: &MultiProgress, name: &str, total: u64) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix} {bar:24} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = multi.add(ProgressBar::new(total).with_style(style).with_prefix(name.to_string()));
    // Drawn at once: a small file may be read before the first update.
    bar.tick();
    bar
}

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
