//! The `msntap` binary: flags become a validated configuration ([`config`]), each subcommand is
//! one library call, and errors reach the user once, here. Exit status: 0 on success, 1 when an
//! input could not be read (wholly or in part) or a subcommand failed, 2 on usage errors, 3 when
//! `--fail-on LEVEL` is given and a violation of that level or worse was found.

mod cli;
mod config;
mod logging;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command};
use msntap::app;
use std::io::Write;
use std::process::ExitCode;

/// mimalloc: the analysis allocates and frees many small strings; measured 1M-packet summary
/// read time drops with it (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option ([`libmimalloc_sys`] names the options 0 to 14 and 16 on,
/// not this one; its index in mimalloc.h's `mi_option_e`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's `arena_eager_commit` option (index 4 in `mi_option_e` of the v2 and v3 headers
/// of libmimalloc-sys 0.1.49, the version Cargo.lock pins; not named by [`libmimalloc_sys`]).
/// `MIMALLOC_ARENA_EAGER_COMMIT` in the environment, when set, decides instead.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Arena memory is committed as it is used, not the whole arena at once: on Linux, whose
/// overcommit makes mimalloc commit eagerly by default, peak RSS halves in every mode (1M
/// capture: summary 47 -> 26 MiB, two workers 86 -> 34 MiB, NDJSON 61 -> 34 MiB) at the same
/// speed (docs/performance.md). It must run before the first allocation makes the first
/// arena, so it runs as an ELF constructor, before the Rust runtime starts.
#[cfg(target_os = "linux")]
extern "C" fn commit_arenas_lazily(_argc: i32, _argv: *const *const u8, envp: *const *const u8) {
    const NAME: &[u8] = b"MIMALLOC_ARENA_EAGER_COMMIT=";
    // SAFETY: `envp` is the NULL-terminated array of NUL-terminated strings the C runtime
    // passes to `.init_array` functions; each is read up to its NUL or the name's length.
    // Then one of mimalloc's documented options is set to a documented value.
    #[allow(unsafe_code)]
    unsafe {
        let mut p = envp;
        while !p.is_null() && !(*p).is_null() {
            let var = *p;
            let mut i = 0;
            while i < NAME.len() && *var.add(i) == NAME[i] {
                i += 1;
            }
            if i == NAME.len() {
                // The environment decides.
                return;
            }
            p = p.add(1);
        }
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

/// Sets how long mimalloc keeps freed memory before it goes back to the system: 1 ms for the
/// commands that analyse, unless `MIMALLOC_PURGE_DELAY` in the environment decides. With
/// mimalloc's default (1 s)
/// what a connection frees when its held requests settle still counts while the analysis goes
/// on allocating: on the open-request capture of `bench/run.sh` (50,000 requests in flight)
/// the transcript peaked at 106-110 MiB, NDJSON 92, JSON 102 and the summary 51-62 MiB, against
/// 59, 52, 58-61 and 33-34 MiB with 1 ms (1 M generated capture: the transcript 43-45 -> 36-37
/// MiB), for about 3 % more time in the transcript and none measured in the summary, NDJSON and
/// JSON (docs/performance.md). The report, which builds its page from tens of thousands of
/// short-lived strings at the end, uses 0 (74-94 MiB peak against 54-60 MiB, no slower).
/// Other commands keep mimalloc's default.
fn purge_freed_memory_soon(command: &Command) {
    let ms: std::ffi::c_long = match command {
        Command::Report(_) => 0,
        Command::Read(_) | Command::Ladder(_) | Command::Sniff(_) => 1,
        _ => return,
    };
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one of mimalloc's documented options to a documented value; options may be
    // set at any time.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms);
    }
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_ARENAS_LAZILY: extern "C" fn(i32, *const *const u8, *const *const u8) = commit_arenas_lazily;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    logging::init(cli.verbose, cli.quiet);
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
    purge_freed_memory_soon(&cli.command);
    match cli.command {
        Command::Read(args) => read(config::read(&args.inputs, &args.common, cli.quiet > 0)?, args.common.fail_on),
        Command::Ladder(args) => read(config::ladder_read(&args, cli.quiet > 0)?, args.common.fail_on),
        Command::Report(args) => read(config::report_read(&args, cli.quiet > 0)?, args.common.fail_on),
        Command::Rules { markdown, json } => {
            let mut out = std::io::stdout().lock();
            if markdown {
                out.write_all(msntap::rules::markdown_table().as_bytes())?;
            } else if json {
                serde_json::to_writer_pretty(&mut out, msntap::rules::CATALOG)?;
                writeln!(out)?;
            } else {
                for r in msntap::rules::CATALOG {
                    let d = r.dialects.label();
                    writeln!(out, "{:<10} {:<8} {:<12} {:<24} {}", r.id, r.severity.to_string(), d, r.cite, r.summary)?;
                }
            }
            Ok(0)
        }
        Command::Sniff(args) => sniff(&args),
        Command::Proxy(args) => {
            app::proxy::proxy(&config::proxy(&args)?)?;
            Ok(0)
        }
        Command::Serve(args) if args.list_faults => {
            for (_, name, what, case) in msntap::testkit::server::FAULTS {
                println!("{name:<24} {what} (caught by {case})");
            }
            Ok(0)
        }
        Command::CheckServer(args) => check_server(&args),
        Command::Serve(args) => {
            msntap::testkit::demo::serve(&config::serve(&args)?)?;
            Ok(0)
        }
        Command::Demo(args) => {
            msntap::testkit::demo::demo(&config::demo(&args)?)?;
            Ok(0)
        }
        Command::Generate(g) if g.trid_stress.is_some() => {
            let n = g.trid_stress.unwrap_or(0);
            let bytes = msntap::testkit::gen::trid_stress(n, g.trid_step)
                .with_context(|| format!("{n} TrIDs {} apart do not fit in 32 bits", g.trid_step))?;
            std::fs::write(&g.out, bytes).with_context(|| format!("cannot write {}", g.out.display()))?;
            eprintln!("wrote {n} pipelined requests to {}", g.out.display());
            Ok(0)
        }
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
        Command::Sample { out, dialect } => {
            let flavor = msntap::testkit::flavor::Flavor::new(dialect).context("not a dialect the testkit speaks")?;
            let out = out.unwrap_or_else(|| format!("msnp{dialect}-two-users.pcap").into());
            std::fs::write(&out, msntap::testkit::sample::pcap_in(flavor))
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {}", out.display());
            Ok(0)
        }
    }
}

/// The status of one analysis: 1 when its input was damaged, 3 when `--fail-on` is met.
fn status(label: &str, f: &app::Finished, fail_on: Option<cli::SeverityArg>) -> u8 {
    if let Some(e) = &f.input_error {
        eprintln!("msntap: {label}: {e}");
        return 1;
    }
    let level = fail_on.map(msntap::rules::Severity::from);
    if f.worst().is_some_and(|w| level.is_some_and(|l| w >= l)) {
        return 3;
    }
    0
}

fn read(cfg: msntap::app::read::ReadConfig, fail_on: Option<cli::SeverityArg>) -> Result<u8> {
    let results = app::read::read(&cfg)?;
    let one = results.len() == 1;
    let mut code = 0;
    for r in results {
        let label = r.path.display().to_string();
        match r.result {
            Ok(f) => code = code.max(status(&label, &f, fail_on)),
            // One file alone fails the way any command fails; among several, each says which.
            Err(e) if one => return Err(e.into()),
            Err(e) => {
                eprintln!("msntap: {label}: {:#}", anyhow::Error::from(e));
                code = code.max(1);
            }
        }
    }
    Ok(code)
}

/// `check-server`: 0 when every case passed (known failures allowed), 1 on a failure, 2 on a
/// usage or connection error.
fn check_server(args: &cli::CheckArgs) -> Result<u8> {
    if args.list {
        if args.markdown {
            print!("{}", msntap::check::print::markdown());
        } else {
            for c in msntap::check::cases::CASES {
                println!("{:<44} {:<10} {:<24} {}", c.id, c.dialect_range(), c.cite, c.title);
            }
        }
        return Ok(0);
    }
    let cfg = match config::check(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("msntap: {e:#}");
            return Ok(2);
        }
    };
    let run = match msntap::check::run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("msntap: {e}");
            return Ok(2);
        }
    };
    if let Some(p) = &args.junit {
        std::fs::write(p, msntap::check::print::junit(&run)).with_context(|| format!("writing {}", p.display()))?;
    }
    let json = serde_json::to_string_pretty(&run)? + "\n";
    match args.json.as_deref() {
        Some("-") => print!("{json}"),
        Some(f) => {
            std::fs::write(f, &json).with_context(|| format!("writing {f}"))?;
            print!("{}", msntap::check::print::text(&run));
        }
        None => print!("{}", msntap::check::print::text(&run)),
    }
    Ok(if run.ok() { 0 } else { 1 })
}

#[cfg(feature = "live")]
fn sniff(args: &cli::SniffArgs) -> Result<u8> {
    if args.list_interfaces {
        for (name, desc) in app::sniff::interfaces()? {
            println!("{name}{}", desc.map(|d| format!("  ({d})")).unwrap_or_default());
        }
        return Ok(0);
    }
    let cfg = config::sniff(args)?;
    let f = app::sniff::sniff(&cfg)?;
    Ok(status(&format!("interface {}", cfg.interface), &f, args.common.fail_on))
}

#[cfg(not(feature = "live"))]
fn sniff(_args: &cli::SniffArgs) -> Result<u8> {
    anyhow::bail!(
        "this msntap was built without live capture. Rebuild it with the `live` feature (it needs libpcap; on Debian: apt-get install libpcap-dev): cargo build --release --features live"
    )
}
