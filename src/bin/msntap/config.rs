//! Flags into the library's configuration, validated: every flag's value is checked here, once,
//! so the library receives only configurations that make sense.

use crate::cli::{
    AnalysisArgs, ColorChoice, DemoArgs, Inputs, LadderArgs, LadderFlags, LadderFormatArg, LiveOutput, ProxyArgs,
    ReportArgs, ServeArgs,
};
use anyhow::{bail, Context, Result};
use msntap::app::proxy::{LiveConfig, ProxyRun};
use msntap::app::read::ReadConfig;
use msntap::app::AnalysisConfig;
use msntap::output::filter::Filter;
use msntap::output::ladder::{LadderFormat, LadderOptions};
use msntap::output::outputs::{OutputConfig, Target};
use msntap::proxy::ProxyConfig;
use msntap::reassembly::Limits;
use msntap::session::Options;
use msntap::testkit::demo::{DemoConfig, ServeConfig};
use msntap::testkit::server;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

/// Whether to colour: `--color`, and for `auto` what anstream decides for stdout: a terminal,
/// unless `NO_COLOR` is set, `CLICOLOR=0` or `TERM=dumb`; `CLICOLOR_FORCE` colours even a pipe.
pub fn color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
    }
}

/// `--password HANDLE=SECRET` flags.
fn passwords(flags: &[String]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for p in flags {
        let Some((h, s)) = p.split_once('=') else {
            bail!("--password takes HANDLE=SECRET, got {p:?}");
        };
        out.insert(h.to_string(), s.to_string());
    }
    Ok(out)
}

fn analysis(a: &AnalysisArgs) -> Result<AnalysisConfig> {
    let mut options =
        Options { reveal_secrets: a.reveal_secrets, passwords: passwords(&a.passwords)?, ..Options::default() };
    options.wire.max_line = a.max_line;
    options.wire.max_payload = a.max_payload;
    options.wire.keep_payload = a.keep_payload;
    Ok(AnalysisConfig {
        options,
        limits: Limits {
            max_ooo_bytes: a.max_ooo,
            idle_timeout_ns: (a.idle_timeout as i64).saturating_mul(1_000_000_000),
        },
        ports: a.ports.clone(),
        content_probe: !a.no_content_probe,
        dump_streams: a.dump_streams.clone(),
    })
}

fn output(a: &AnalysisArgs) -> Result<OutputConfig> {
    let (json, ndjson) = (a.json.as_deref().map(Target::parse), a.ndjson.as_deref().map(Target::parse));
    if json == Some(Target::Stdout) && ndjson == Some(Target::Stdout) {
        bail!("--json - and --ndjson - cannot both write to stdout");
    }
    Ok(OutputConfig {
        color: color(a.color),
        summary: a.summary,
        json,
        ndjson,
        filter: Filter {
            conns: a.conns.clone(),
            roles: a.roles.iter().map(|&r| r.into()).collect(),
            user: a.user.clone(),
            commands: a.commands.clone(),
            only_violations: a.only_violations,
            min_severity: a.min_severity.map(Into::into),
        },
        ladder: None,
        report: None,
    })
}

/// The ladder's options (its filter and colour are set with the outputs').
fn ladder(l: &LadderFlags) -> Result<LadderOptions> {
    let width = match l.width {
        Some(w) => w,
        None => terminal_size::terminal_size().map_or(100, |(w, _)| w.0 as usize),
    };
    let format = match l.format {
        LadderFormatArg::Text => LadderFormat::Text,
        LadderFormatArg::Mermaid => LadderFormat::Mermaid,
    };
    if format == LadderFormat::Text && l.width.is_some() && !(40..=1000).contains(&width) {
        bail!("--width {width}: a ladder takes 40 to 1000 columns");
    }
    // A terminal's width, whatever it is, within what a ladder can use.
    let width = width.clamp(40, 1000);
    Ok(LadderOptions { format, width, max_arrows: l.max_arrows.max(1), ..LadderOptions::default() })
}

/// `read`'s configuration (directories expanded). Progress bars are drawn when stderr is a
/// terminal and `quiet` is not asked for, except over a transcript scrolling on the same
/// terminal (with several files, outputs are held until all are read, so bars are drawn then).
pub fn read(inputs: &Inputs, common: &AnalysisArgs, quiet: bool) -> Result<ReadConfig> {
    let files = msntap::app::read::expand(&inputs.files)?;
    let output = output(common)?;
    let scrolling = std::io::stdout().is_terminal() && output.stdout_while_reading() && files.len() == 1;
    Ok(ReadConfig {
        jobs: inputs.jobs.unwrap_or_else(msntap::analysis::jobs::default_jobs).max(1),
        progress: !quiet && !scrolling && std::io::stderr().is_terminal(),
        files,
        analysis: analysis(common)?,
        output,
    })
}

/// `ladder`'s configuration: `read`'s, with the ladder on stdout instead of the transcript.
pub fn ladder_read(args: &LadderArgs, quiet: bool) -> Result<ReadConfig> {
    if args.common.summary {
        bail!("--summary does not go with the ladder (use msntap read --summary)");
    }
    let mut cfg = read(&args.inputs, &args.common, quiet)?;
    if cfg.output.machine_on_stdout() {
        bail!("the ladder uses stdout: give --json and --ndjson a file");
    }
    cfg.output.ladder = Some(ladder(&args.ladder)?);
    Ok(cfg)
}

/// `report`'s configuration: `read`'s, with the HTML report instead of the transcript. With
/// several captures the output is a directory (created if needed).
pub fn report_read(args: &ReportArgs, quiet: bool) -> Result<ReadConfig> {
    if args.common.summary {
        bail!("--summary does not go with the report (the report holds the summary)");
    }
    let mut cfg = read(&args.inputs, &args.common, quiet)?;
    if cfg.files.len() > 1 {
        std::fs::create_dir_all(&args.output)
            .with_context(|| format!("{} must be a directory for several captures", args.output.display()))?;
    } else if args.output.is_dir() {
        bail!("{} is a directory; give the report's file name", args.output.display());
    }
    cfg.output.report = Some(args.output.clone());
    Ok(cfg)
}

/// `check-server`'s configuration.
pub fn check(args: &crate::cli::CheckArgs) -> Result<msntap::check::CheckConfig> {
    if let Some(d) = args.dialect.filter(|d| !(2..=18).contains(d)) {
        bail!("--dialect takes 2 to 18 (MSNP2 to MSNP18), got {d}");
    }
    let mut users = Vec::new();
    for u in &args.users {
        let Some((h, p)) = u.split_once(':') else { bail!("--user takes HANDLE:PASSWORD, got {u:?}") };
        users.push((h.to_string(), p.to_string()));
    }
    let mut known_failures = Vec::new();
    if let Some(f) = &args.known_failures {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        known_failures.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    Ok(msntap::check::CheckConfig {
        target: args.target.clone().unwrap_or_default(),
        users,
        select: args.select.clone(),
        known_failures,
        strict: args.strict,
        timeout: Duration::from_secs(args.timeout.clamp(1, 3600)),
        dialect: args.dialect,
    })
}

/// `sniff`'s configuration.
#[cfg(feature = "live")]
pub fn sniff(args: &crate::cli::SniffArgs) -> Result<msntap::app::sniff::SniffConfig> {
    Ok(msntap::app::sniff::SniffConfig {
        interface: args.interface.clone().unwrap_or_default(),
        bpf: args.bpf.clone(),
        write: args.write.clone(),
        duration: args.duration.map(Duration::from_secs),
        analysis: analysis(&args.common)?,
        output: output(&args.common)?,
    })
}

fn live(out: &LiveOutput) -> Result<LiveConfig> {
    let json = out.json.as_deref().map(Target::parse);
    if json == Some(Target::Stdout) {
        bail!("the live transcript uses stdout: give --json a file");
    }
    Ok(LiveConfig {
        options: Options {
            reveal_secrets: out.reveal_secrets,
            passwords: passwords(&out.passwords)?,
            ..Options::default()
        },
        output: OutputConfig {
            color: color(out.color),
            json,
            ndjson: out.ndjson.as_deref().map(Target::parse),
            ladder: if out.ladder { Some(ladder(&out.ladder_flags)?) } else { None },
            report: out.report.clone(),
            ..OutputConfig::default()
        },
        record: out.record.clone(),
    })
}

/// `proxy`'s configuration.
pub fn proxy(args: &ProxyArgs) -> Result<ProxyRun> {
    Ok(ProxyRun {
        proxy: ProxyConfig {
            listen: args.listen,
            upstream: args.upstream.clone(),
            advertise: args.advertise.clone(),
            connect_timeout: Duration::from_secs(args.connect_timeout),
            ..ProxyConfig::default()
        },
        live: live(&args.out)?,
        duration: args.duration.map(Duration::from_secs),
    })
}

/// `demo`'s configuration.
pub fn demo(args: &DemoArgs) -> Result<DemoConfig> {
    let flavor = msntap::testkit::flavor::Flavor::new(args.dialect).context("not a dialect the testkit speaks")?;
    Ok(DemoConfig { rounds: args.rounds, flavor, live: live(&args.out)? })
}

/// `serve`'s configuration: accounts from `--user` and `--users-file`, or the two default ones.
pub fn serve(args: &ServeArgs) -> Result<ServeConfig> {
    let mut specs: Vec<String> = args.users.clone();
    if let Some(f) = &args.users_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        specs.extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    let accounts = if specs.is_empty() {
        msntap::testkit::demo::default_accounts()
    } else {
        let mut out = Vec::new();
        for s in specs {
            out.push(
                server::Account::parse(&s).with_context(|| format!("account {s:?} is not HANDLE:PASSWORD[:NAME]"))?,
            );
        }
        server::befriend(&mut out);
        out
    };
    let fault = match &args.fault {
        Some(name) => Some(
            server::Fault::named(name)
                .with_context(|| format!("no fault named {name:?} (msntap serve --list-faults shows them)"))?,
        ),
        None => None,
    };
    Ok(ServeConfig { ds: args.ds, ns: args.ns, sb: args.sb, accounts, fault })
}
