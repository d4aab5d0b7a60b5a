//! The outputs of one analysis, wired in one place for `read`, `sniff` and `proxy`: the
//! transcript (or summary) on stdout, and the JSON document and NDJSON stream where asked, all
//! showing what one filter lets through.

use super::filter::Filter;
use super::html::{HtmlOptions, HtmlReport};
use super::json::{JsonReport, Source, SourceKind};
use super::ladder::{LadderOptions, LadderReport};
use super::ndjson::NdjsonReport;
use super::text::{TextOptions, TextReport};
use crate::analysis::{Report, Tee};
use std::io::Write;
use std::path::PathBuf;

/// Where a machine-readable output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (instead of the transcript).
    Stdout,
    /// A file, created or truncated.
    File(PathBuf),
}

impl Target {
    /// `-` means stdout; anything else is a file.
    pub fn parse(s: &str) -> Target {
        if s == "-" {
            Target::Stdout
        } else {
            Target::File(PathBuf::from(s))
        }
    }
}

/// What to write.
#[derive(Debug, Clone, Default)]
pub struct OutputConfig {
    /// Colour the transcript.
    pub color: bool,
    /// A line per connection and the overall counts instead of the transcript.
    pub summary: bool,
    /// The JSON document.
    pub json: Option<Target>,
    /// The NDJSON stream.
    pub ndjson: Option<Target>,
    /// What the transcript and exports show.
    pub filter: Filter,
    /// Draw the ladder on stdout when the input ends (instead of the transcript, except in the
    /// proxy, whose live transcript it follows). Its filter and colour are the ones above.
    pub ladder: Option<LadderOptions>,
    /// Write the HTML report to this file when the input ends (instead of the transcript,
    /// except in the proxy).
    pub report: Option<PathBuf>,
}

impl OutputConfig {
    /// Whether something machine-readable takes stdout (the transcript is then not written).
    pub fn machine_on_stdout(&self) -> bool {
        self.json == Some(Target::Stdout) || self.ndjson == Some(Target::Stdout)
    }

    /// Whether stdout is written while an input is read (the transcript or a machine output),
    /// not only at its end (the summary).
    pub fn stdout_while_reading(&self) -> bool {
        self.machine_on_stdout() || (!self.summary && self.ladder.is_none() && self.report.is_none())
    }

    /// Whether any output shows events (the analysis builds their display parts, and makes an
    /// event of every line, only then): the transcript, the exports, the ladder, the report.
    pub fn shows_events(&self) -> bool {
        self.json.is_some() || self.ndjson.is_some() || !self.summary || self.ladder.is_some() || self.report.is_some()
    }
}

/// An output that could not be set up or written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be created.
    #[error("cannot create {0}")]
    Create(String, #[source] std::io::Error),
    /// Writing one of the outputs failed.
    #[error("writing {0}")]
    Write(&'static str, #[source] std::io::Error),
}

/// The reports of one analysis.
pub struct Outputs {
    /// None where nothing would read it: stdout taken by a machine output, the ladder or the
    /// HTML report (it would render every event into a sink).
    text: Option<TextReport<Box<dyn Write>>>,
    json: Option<JsonReport<Box<dyn Write>>>,
    ndjson: Option<NdjsonReport<Box<dyn Write>>>,
    ladder: Option<LadderReport<Box<dyn Write>>>,
    report: Option<HtmlReport<std::io::BufWriter<std::fs::File>>>,
    /// Whether a transcript that could not be written is an error (the proxy's live
    /// transcript is not: the proxy goes on relaying).
    transcript_matters: bool,
}

fn sink(target: &Target, stdout: &dyn Fn() -> Box<dyn Write>) -> Result<Box<dyn Write>, OutputError> {
    Ok(match target {
        Target::Stdout => stdout(),
        Target::File(p) => {
            let f = std::fs::File::create(p).map_err(|e| OutputError::Create(p.display().to_string(), e))?;
            Box::new(std::io::BufWriter::with_capacity(1 << 16, f))
        }
    })
}

impl Outputs {
    /// The outputs of `cfg` for the input named `label`; `stdout` makes a writer to standard
    /// output (buffered for captures, unbuffered for the proxy's live transcript).
    pub fn new(
        cfg: &OutputConfig,
        label: &str,
        source: Source,
        stdout: &dyn Fn() -> Box<dyn Write>,
    ) -> Result<Outputs, OutputError> {
        let live = source.kind != SourceKind::Capture;
        let transcript_matters = source.kind != SourceKind::Proxy;
        let ladder_replaces = (cfg.ladder.is_some() || cfg.report.is_some()) && source.kind != SourceKind::Proxy;
        let report = match &cfg.report {
            Some(p) => {
                let f = std::fs::File::create(p).map_err(|e| OutputError::Create(p.display().to_string(), e))?;
                let opts = HtmlOptions { filter: cfg.filter.clone(), ..HtmlOptions::default() };
                Some(HtmlReport::new(std::io::BufWriter::with_capacity(1 << 16, f), opts, label, source.clone()))
            }
            None => None,
        };
        let text_shown = !(cfg.machine_on_stdout() || ladder_replaces);
        let ladder = cfg.ladder.as_ref().filter(|_| !cfg.machine_on_stdout()).map(|l| {
            let opts = LadderOptions { color: cfg.color, filter: cfg.filter.clone(), ..l.clone() };
            LadderReport::new(stdout(), opts, label)
        });
        let text_opts = TextOptions {
            color: cfg.color,
            summary_only: cfg.summary,
            filter: cfg.filter.clone(),
            live: source.kind == SourceKind::Proxy,
        };
        let text = text_shown.then(|| TextReport::new(stdout(), text_opts, label));
        let json = match &cfg.json {
            Some(t) => Some(JsonReport::new(sink(t, stdout)?, source).with_filter(cfg.filter.clone())),
            None => None,
        };
        let ndjson = match &cfg.ndjson {
            Some(t) => Some(NdjsonReport::new(sink(t, stdout)?, cfg.filter.clone()).flush_each(live)),
            None => None,
        };
        Ok(Outputs { text, json, ndjson, ladder, report, transcript_matters })
    }

    /// Every report, to hand to the analysis.
    pub fn tee(&mut self) -> Tee<'_> {
        let mut reports: Vec<&mut dyn Report> = Vec::new();
        if let Some(t) = self.text.as_mut() {
            reports.push(t);
        }
        if let Some(j) = self.json.as_mut() {
            reports.push(j);
        }
        if let Some(n) = self.ndjson.as_mut() {
            reports.push(n);
        }
        if let Some(l) = self.ladder.as_mut() {
            reports.push(l);
        }
        if let Some(r) = self.report.as_mut() {
            reports.push(r);
        }
        Tee(reports)
    }

    /// The first write error of any output, once the analysis has finished.
    pub fn finish(mut self) -> Result<(), OutputError> {
        if let Some(e) = self.text.as_mut().and_then(|t| t.error.take()).filter(|_| self.transcript_matters) {
            return Err(OutputError::Write("the transcript", e));
        }
        if let Some(e) = self.json.as_mut().and_then(|j| j.error.take()) {
            return Err(OutputError::Write("the JSON document", e));
        }
        if let Some(e) = self.ndjson.as_mut().and_then(|j| j.error.take()) {
            return Err(OutputError::Write("NDJSON", e));
        }
        if let Some(e) = self.ladder.as_mut().and_then(|l| l.error.take()) {
            return Err(OutputError::Write("the ladder", e));
        }
        if let Some(e) = self.report.as_mut().and_then(|r| r.error.take()) {
            return Err(OutputError::Write("the HTML report", e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `cfg` runs the transcript, for a capture.
    fn transcript_runs(cfg: &OutputConfig) -> bool {
        let source = Source { kind: SourceKind::Capture, path: None, format: None };
        let stdout = || -> Box<dyn Write> { Box::new(std::io::sink()) };
        let report = std::env::temp_dir().join(format!("msntap-outputs-{}.html", std::process::id()));
        let cfg = OutputConfig { report: cfg.report.as_ref().map(|_| report.clone()), ..cfg.clone() };
        let runs = Outputs::new(&cfg, "t", source, &stdout).expect("outputs").text.is_some();
        let _ = std::fs::remove_file(&report);
        runs
    }

    #[test]
    fn no_transcript_is_rendered_where_nothing_reads_it() {
        let ladder = Some(LadderOptions::default());
        assert!(transcript_runs(&OutputConfig::default()));
        assert!(transcript_runs(&OutputConfig { summary: true, ..Default::default() }));
        let doc = std::env::temp_dir().join(format!("msntap-outputs-{}.json", std::process::id()));
        assert!(transcript_runs(&OutputConfig { json: Some(Target::File(doc.clone())), ..Default::default() }));
        let _ = std::fs::remove_file(&doc);
        assert!(!transcript_runs(&OutputConfig { json: Some(Target::Stdout), ..Default::default() }));
        assert!(!transcript_runs(&OutputConfig { ndjson: Some(Target::Stdout), ..Default::default() }));
        assert!(!transcript_runs(&OutputConfig { ladder, ..Default::default() }));
        assert!(!transcript_runs(&OutputConfig { report: Some("r".into()), ..Default::default() }));
    }

    /// Events are made (and not merely counted) whenever an output shows them, the summary
    /// with another output included.
    #[test]
    fn events_are_shown_by_every_output_but_the_summary_alone() {
        let summary = OutputConfig { summary: true, ..Default::default() };
        assert!(!summary.shows_events());
        assert!(OutputConfig::default().shows_events());
        for with in [
            OutputConfig { json: Some(Target::Stdout), ..summary.clone() },
            OutputConfig { ndjson: Some(Target::File("n".into())), ..summary.clone() },
            OutputConfig { ladder: Some(LadderOptions::default()), ..summary.clone() },
            OutputConfig { report: Some("r".into()), ..summary.clone() },
        ] {
            assert!(with.shows_events(), "{with:?}");
        }
    }
}
