//! `msntap read`: captures from files, one after another or several at once (each file's
//! output buffered and printed in argument order).

use super::{analyse, AnalysisConfig, Error, Finished, Progress};
use crate::capture::{CaptureReader, Format};
use crate::output::json::{Source, SourceKind};
use crate::output::outputs::OutputConfig;
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
    /// Show progress on stderr (one file at a time only).
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
    if cfg.files.len() == 1 {
        let path = cfg.files[0].clone();
        let stdout = || -> Box<dyn Write> { Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())) };
        let result = read_one(&path, cfg, &stdout, cfg.progress);
        if cfg.progress {
            eprint!("\r\x1b[2K");
        }
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
        let result = read_one(path, cfg, &move || Box::new(b.clone()), false);
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
    progress: bool,
) -> Result<Finished, Error> {
    let label = file.display().to_string();
    let mut reader = CaptureReader::open(file).map_err(|e| Error::because(format!("cannot read {label}"), e))?;
    let format = match reader.format() {
        Format::Pcap => "pcap",
        Format::PcapNg => "pcapng",
    };
    let source = Source { kind: SourceKind::Capture, path: Some(label.clone()), format: Some(format.into()) };
    let total = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let progress = progress.then(|| progress_line(total));
    analyse(&cfg.analysis, &cfg.output, &label, source, stdout, progress, |analyzer, limits| {
        analyzer.run_capture(&mut reader, limits).map(|e| e.to_string())
    })
}

/// The progress line: share of the file read, bytes, packets, open connections.
fn progress_line(total: u64) -> Progress {
    Box::new(move |bytes, packets, conns| {
        let pct = if total > 0 { bytes as f64 * 100.0 / total as f64 } else { 0.0 };
        eprint!("\r\x1b[2K{pct:5.1}% {:.1} MB, {packets} packets, {conns} connections open", bytes as f64 / 1e6);
    })
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
