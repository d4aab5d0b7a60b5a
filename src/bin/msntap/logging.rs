//! Diagnostics: tracing events from the library go to stderr, never stdout (the transcript and
//! the exports are data). `RUST_LOG`, when set, chooses what is shown; otherwise warnings and
//! errors are, and `-v`/`-q` move the level. Peer bytes in fields were escaped by the library.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The level `-v` and `-q` ask for (warnings by default).
fn level(verbose: u8, quiet: u8) -> &'static str {
    match (verbose, quiet) {
        (0, 0) => "warn",
        (0, 1) => "error",
        (0, _) => "off",
        (1, _) => "info",
        (2, _) => "debug",
        _ => "trace",
    }
}

/// Installs the subscriber; a `RUST_LOG` that does not parse is said once and the flags decide.
pub fn init(verbose: u8, quiet: u8) {
    let flags = || EnvFilter::new(format!("msntap={}", level(verbose, quiet)));
    let mut bad = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).unwrap_or_else(|e| {
            bad = Some(format!("RUST_LOG={v:?} ignored: {e}"));
            flags()
        }),
        _ => flags(),
    };
    let ansi = std::io::stderr().is_terminal()
        && anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init()
        .is_ok();
    if let (true, Some(b)) = (installed, bad) {
        tracing::warn!("{}", msntap::escape::sanitize(&b));
    }
}
