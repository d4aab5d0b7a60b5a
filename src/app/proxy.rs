//! `msntap proxy`: the relays on a tokio runtime, and their analysis on a thread of its own,
//! fed by the relays' events, with the same outputs as `read` (a live transcript) and an
//! optional recording.

use super::Error;
use crate::analysis::{Analyzer, Summary};
use crate::output::json::{Source, SourceKind};
use crate::output::outputs::{OutputConfig, Outputs};
use crate::proxy::feed;
use crate::proxy::record::Recorder;
use crate::proxy::{Proxy, ProxyConfig, ProxyEvent};
use crate::session::Options;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// The outputs of a live analysis (the proxy's and the demo's).
#[derive(Debug, Clone, Default)]
pub struct LiveConfig {
    /// The analysis options (passwords, secrets).
    pub options: Options,
    /// Transcript, JSON (a file) and NDJSON.
    pub output: OutputConfig,
    /// Record every relayed connection as a pcapng file.
    pub record: Option<PathBuf>,
}

/// What `proxy` does.
#[derive(Debug, Clone)]
pub struct ProxyRun {
    /// The relays.
    pub proxy: ProxyConfig,
    /// The outputs.
    pub live: LiveConfig,
    /// Stop after this long (default: at Ctrl-C or SIGTERM).
    pub duration: Option<Duration>,
}

/// A multi-threaded runtime for relays and servers.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::because("starting the async runtime", e))
}

/// Runs the analysis of proxy events on a thread of its own; the thread returns the summary.
pub fn spawn_analysis(
    cfg: &LiveConfig,
    upstream_port: u16,
    mut rx: mpsc::Receiver<ProxyEvent>,
    label: String,
) -> std::thread::JoinHandle<Result<Summary, Error>> {
    // The live transcript prints events as they come: only the JSON document needs them kept.
    let opts = Options { stream_events: true, ..cfg.options.clone() };
    let (output, record) = (cfg.output.clone(), cfg.record.clone());
    std::thread::spawn(move || -> Result<Summary, Error> {
        let source = Source { kind: SourceKind::Proxy, path: None, format: None };
        let mut outputs = Outputs::new(&output, &label, source, &|| Box::new(std::io::stdout()) as Box<dyn Write>)?;
        let mut recorder = match &record {
            Some(p) => {
                let f = std::fs::File::create(p)
                    .map_err(|e| Error::because(format!("cannot create {}", p.display()), e))?;
                Some(
                    Recorder::new(std::io::BufWriter::new(f))
                        .map_err(|e| Error::because("writing the recording", e))?,
                )
            }
            None => None,
        };
        let mut tee = outputs.tee();
        let mut analyzer = Analyzer::new(opts, &[upstream_port], &mut tee);
        analyzer.all_msnp = true;
        feed::drive(&mut rx, &mut analyzer, recorder.as_mut());
        let summary = analyzer.finish();
        drop(tee);
        if let Some(r) = recorder {
            r.finish().map_err(|e| Error::because("writing the recording", e))?;
        }
        outputs.finish()?;
        Ok(summary)
    })
}

/// Waits for the analysis thread and returns its summary.
pub fn join(analysis: std::thread::JoinHandle<Result<Summary, Error>>) -> Result<Summary, Error> {
    analysis.join().map_err(|_| Error::Failed("the analysis thread panicked".into()))?
}

/// Registers Ctrl-C and SIGTERM now (so a signal arriving right after this returns is not
/// lost), and returns a future that ends at the first of them or after `duration`.
pub fn stop_signal(duration: Option<Duration>) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        let timer = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        {
            let int = async {
                match signals.0.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match signals.1.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = int => {}
                _ = term => {}
                _ = timer => {}
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = timer => {}
            }
        }
    }
}

/// `msntap proxy`: relays until stopped, analysing as it goes.
pub fn proxy(cfg: &ProxyRun) -> Result<Summary, Error> {
    let rt = runtime()?;
    let port = crate::msnp::address::parse_address(&cfg.proxy.upstream).1;
    let (tx, rx) = crate::proxy::channel(4096);
    let analysis = spawn_analysis(&cfg.live, port, rx, "msntap proxy".into());
    let listen = cfg.proxy.listen;
    rt.block_on(async {
        let p = Proxy::start(cfg.proxy.clone(), tx)
            .await
            .map_err(|e| Error::because(format!("cannot listen on {listen}"), e))?;
        let stop = stop_signal(cfg.duration);
        eprintln!("msntap proxy: listening on {}, relaying to {}", p.local_addr, cfg.proxy.upstream);
        stop.await;
        eprintln!("msntap proxy: stopping");
        p.shutdown().await;
        Ok::<(), Error>(())
    })?;
    drop(rt);
    join(analysis)
}
