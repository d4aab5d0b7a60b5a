//! `msntap check-server`: a conformance suite for MSNP servers, as h2spec is for HTTP/2. Each
//! case ([`cases`]) runs on fresh connections as one or two clients ([`client`]), under a
//! deadline, and says what it sent, what it expected and what came back; afterwards every byte
//! the server sent goes through the same analysis as `msntap read`, so any rule violation is
//! reported with its rule id in whatever case it happened. [`print`](mod@print) writes the table, JSON and
//! JUnit.

pub mod cases;
pub mod client;
pub mod print;

use crate::analysis::{Analyzer, Links, Report, Summary};
use crate::rules::{Severity, Violation};
use crate::session::{Connection, Options};
use cases::{Case, Ctx, CASES};
use client::{CaseLog, Stop};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The server, `host:port`.
    pub target: String,
    /// Accounts: (handle, password).
    pub users: Vec<(String, String)>,
    /// Case ids to run, as globs (`msnp2/8.*`); empty runs all.
    pub select: Vec<String>,
    /// Case ids (globs) expected to fail: their failures do not fail the run.
    pub known_failures: Vec<String>,
    /// A rule violation (error or warning) by the server fails the case it happened in.
    pub strict: bool,
    /// Every wait's deadline.
    pub timeout: Duration,
    /// Speak only this dialect (and run only the cases that apply to it); each case offers all
    /// of its own when `None`.
    pub dialect: Option<u8>,
}

/// A case's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It did what the specification says.
    Pass,
    /// It did not.
    Fail,
    /// It failed, and was listed as a known failure.
    Known,
    /// It could not run here.
    Skip,
}

impl Verdict {
    /// The word printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Known => "known",
            Verdict::Skip => "skip",
        }
    }
}

/// A rule violation the analysis found in a case's traffic.
#[derive(Debug, Clone, Serialize)]
pub struct Seen {
    /// Rule id.
    pub rule: &'static str,
    /// Its severity.
    pub severity: &'static str,
    /// What was wrong.
    pub message: String,
    /// The line it is about, as the transcript shows it.
    pub line: String,
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case id.
    pub id: &'static str,
    /// Its title.
    pub title: &'static str,
    /// Its citation.
    pub cite: &'static str,
    /// The dialect the server chose for it (`MSNP11`), once VER was answered.
    pub dialect: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// What was expected (failures).
    pub expected: Option<String>,
    /// What came back instead (failures), or why it was skipped.
    pub actual: Option<String>,
    /// Every line sent and received, `#conn >> line` and `#conn << line`, cut and made safe.
    pub transcript: Vec<String>,
    /// Rule violations in the case's traffic (secrets stay redacted).
    pub violations: Vec<Seen>,
    /// How long it took, in seconds.
    pub seconds: f64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The server checked.
    pub target: String,
    /// Every case run, in order.
    pub cases: Vec<CaseResult>,
}

impl Run {
    /// Count of each verdict: (pass, fail, known, skip).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |v: Verdict| self.cases.iter().filter(|c| c.verdict == v).count();
        (n(Verdict::Pass), n(Verdict::Fail), n(Verdict::Known), n(Verdict::Skip))
    }

    /// Whether every case passed, was skipped, or failed as known.
    pub fn ok(&self) -> bool {
        self.counts().1 == 0
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A selection or known-failure pattern is not a glob.
    #[error("{0:?} is not a case glob: {1}")]
    Glob(String, String),
    /// No case matched the selection.
    #[error("no case matches {0:?}{1} (msntap check-server --list shows them)")]
    NoCase(Vec<String>, String),
    /// The runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The server cannot be reached at all.
    #[error("cannot reach {0}: {1}")]
    Unreachable(String, String),
}

fn globs(patterns: &[String]) -> Result<globset::GlobSet, CheckError> {
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        let g = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .build()
            .map_err(|e| CheckError::Glob(p.clone(), e.to_string()))?;
        b.add(g);
    }
    b.build().map_err(|e| CheckError::Glob(patterns.join(","), e.to_string()))
}

/// The cases `select` names (all when empty) that apply to `dialect` (any when `None`), in
/// catalog order.
pub fn selected(select: &[String], dialect: Option<u8>) -> Result<Vec<&'static Case>, CheckError> {
    let set = globs(select)?;
    let applies = |c: &Case| dialect.is_none_or(|d| (c.dialects.0..=c.dialects.1).contains(&d));
    let chosen: Vec<&Case> = CASES.iter().filter(|c| (select.is_empty() || set.is_match(c.id)) && applies(c)).collect();
    if chosen.is_empty() {
        let within = dialect.map(|d| format!(" in MSNP{d}")).unwrap_or_default();
        return Err(CheckError::NoCase(select.to_vec(), within));
    }
    Ok(chosen)
}

/// What the analysis made of a case's connections: the transcript (secrets redacted) and the
/// violations, with the lines they are about.
#[derive(Default)]
struct Violations(Vec<Seen>, Vec<String>);

impl Violations {
    fn add(&mut self, v: &Violation, line: &str) {
        self.0.push(Seen {
            rule: v.rule,
            severity: v.severity.as_str(),
            message: client::shown(&v.message),
            line: client::shown(line),
        });
    }
}

impl Report for Violations {
    fn events(&mut self, conn: &Connection, from: usize) {
        for e in &conn.events[from..] {
            let arrow = if e.dir == crate::flow::Dir::C2S { ">>" } else { "<<" };
            let text = e.line.as_deref().or(e.note.as_deref()).unwrap_or("");
            if self.1.len() < 2000 {
                self.1.push(format!("#{} {arrow} {}", conn.id, client::shown(text)));
            }
            // The server is under test: the cases' own probes (unknown commands, bad states)
            // break rules on purpose.
            if e.dir == crate::flow::Dir::C2S {
                continue;
            }
            for v in &e.violations {
                self.add(v, e.line.as_deref().or(e.note.as_deref()).unwrap_or(""));
            }
        }
    }

    fn connection(&mut self, conn: &Connection, _links: Links<'_>) {
        for (_, v) in &conn.late {
            self.add(v, "(found when the connection ended)");
        }
    }

    fn finish(&mut self, _summary: &Summary, _links: Links<'_>) {}
}

/// Runs the analysis over what a case sent and received: (transcript, violations).
fn analyse(log: CaseLog, port: u16) -> (Vec<String>, Vec<Seen>) {
    let mut found = Violations::default();
    {
        let opts = Options { stream_events: true, ..Options::default() };
        let mut analyzer = Analyzer::new(opts, &[port], &mut found);
        analyzer.all_msnp = true;
        let mut first = true;
        for ev in log.events {
            crate::proxy::feed::apply(&mut analyzer, ev, &mut first);
        }
        analyzer.finish();
    }
    (found.1, found.0)
}

async fn run_case(case: &'static Case, cfg: &CheckConfig, known: &globset::GlobSet) -> CaseResult {
    let log = Arc::new(Mutex::new(CaseLog::default()));
    let dialects = cfg.dialect.map_or(case.dialects, |d| (d, d));
    let ctx =
        Ctx { target: cfg.target.clone(), users: cfg.users.clone(), timeout: cfg.timeout, log: log.clone(), dialects };
    let started = Instant::now();
    // The whole case is bounded too: a server that trickles lines cannot hold it forever.
    let bound = cfg.timeout.saturating_mul(4).saturating_add(Duration::from_secs(2));
    let outcome = if case.users > cfg.users.len() {
        Err(Stop::Skip(format!("needs {} accounts (--user HANDLE:PASSWORD)", case.users)))
    } else {
        match tokio::time::timeout(bound, (case.body)(&ctx)).await {
            Ok(r) => r,
            Err(_) => Err(Stop::Timeout(format!("the case did not finish within {bound:?}"))),
        }
    };
    drop(ctx);
    // Connections still open end when the case does.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let log = Arc::try_unwrap(log).map_or_else(
        |l| l.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default(),
        |m| m.into_inner().unwrap_or_default(),
    );
    let dialect = log.dialect.map(|d| format!("MSNP{d}"));
    let port = crate::msnp::address::parse_address(&cfg.target).1;
    let (transcript, violations) = analyse(log, port);
    let (mut verdict, expected, actual) = match outcome {
        Ok(()) => (Verdict::Pass, None, None),
        Err(Stop::Skip(why)) => (Verdict::Skip, None, Some(why)),
        Err(Stop::Unexpected { expected, actual }) => (Verdict::Fail, Some(expected), Some(actual)),
        Err(Stop::Timeout(what)) => {
            (Verdict::Fail, Some("an answer in time".into()), Some(format!("timed out: {what}")))
        }
        Err(Stop::Closed(what)) => (Verdict::Fail, Some("the connection kept open".into()), Some(what)),
        Err(Stop::Io(what)) => (Verdict::Fail, Some("a working connection".into()), Some(what)),
    };
    let (mut expected, mut actual) = (expected, actual);
    if verdict == Verdict::Pass && cfg.strict {
        if let Some(v) = violations.iter().find(|v| v.severity != Severity::Info.as_str()) {
            verdict = Verdict::Fail;
            expected = Some("no rule violation (--strict)".into());
            actual = Some(format!("{} {}: {} on {:?}", v.rule, v.severity, v.message, v.line));
        }
    }
    if verdict == Verdict::Fail && known.is_match(case.id) {
        verdict = Verdict::Known;
    }
    CaseResult {
        id: case.id,
        title: case.title,
        cite: case.cite,
        dialect,
        verdict,
        expected,
        actual,
        transcript,
        violations,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Runs the selected cases one after another against the server.
pub fn run(cfg: &CheckConfig) -> Result<Run, CheckError> {
    let chosen = selected(&cfg.select, cfg.dialect)?;
    let known = globs(&cfg.known_failures)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CheckError::Runtime)?;
    rt.block_on(async {
        // A server that cannot be reached is a usage problem, not thirty failures.
        match tokio::time::timeout(cfg.timeout, tokio::net::TcpStream::connect(&cfg.target)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(CheckError::Unreachable(cfg.target.clone(), e.to_string())),
            Err(_) => {
                return Err(CheckError::Unreachable(cfg.target.clone(), format!("no answer within {:?}", cfg.timeout)))
            }
        }
        let mut cases = Vec::new();
        for c in chosen {
            tracing::debug!(case = c.id, "running");
            cases.push(run_case(c, cfg, &known).await);
        }
        Ok(Run { target: crate::escape::sanitize(&cfg.target).into_owned(), cases })
    })
}
