//! The subcommands that run live: `proxy` (relays and their analysis thread), `serve` (the
//! testkit server) and `demo` (server, proxy and two scripted clients). They own the tokio
//! runtime; the analysis runs on a thread of its own, fed by the relays' events.

use super::Error;
use crate::analysis::{Analyzer, Summary};
use crate::output::json::{Source, SourceKind};
use crate::output::outputs::{OutputConfig, Outputs};
use crate::proxy::feed;
use crate::proxy::record::Recorder;
use crate::proxy::{Proxy, ProxyConfig, ProxyEvent};
use crate::session::Options;
use crate::testkit::{client, server};
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

/// What `serve` does.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Dispatch server address.
    pub ds: std::net::SocketAddr,
    /// Notification server address.
    pub ns: std::net::SocketAddr,
    /// Switchboard address.
    pub sb: std::net::SocketAddr,
    /// The accounts (each lists every other).
    pub accounts: Vec<server::Account>,
}

/// What `demo` does.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Messages each user sends.
    pub rounds: usize,
    /// The outputs.
    pub live: LiveConfig,
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::because("starting the async runtime", e))
}

/// Runs the analysis of proxy events on a thread of its own; the thread returns the summary.
fn spawn_analysis(
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

fn join(analysis: std::thread::JoinHandle<Result<Summary, Error>>) -> Result<Summary, Error> {
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

/// `msntap serve`: the testkit server until stopped.
pub fn serve(cfg: &ServeConfig) -> Result<(), Error> {
    let rt = runtime()?;
    rt.block_on(async {
        let names: Vec<String> = cfg.accounts.iter().map(|a| a.handle.clone()).collect();
        let a = server::start(cfg.ds, cfg.ns, cfg.sb, cfg.accounts.clone(), None)
            .await
            .map_err(|e| Error::because("cannot open the server's listeners", e))?;
        eprintln!(
            "msntap serve: dispatch {}, notification {}, switchboard {}; accounts: {}",
            a.ds,
            a.ns,
            a.sb,
            names.join(", ")
        );
        stop_signal(None).await;
        Ok(())
    })
}

/// The accounts `serve` and `demo` use when none are given.
pub fn default_accounts() -> Vec<server::Account> {
    let mut accounts: Vec<server::Account> = ["alice@hotmail.com:wonderland:Alice", "bob@hotmail.com:builder:Bob"]
        .iter()
        .filter_map(|s| server::Account::parse(s))
        .collect();
    server::befriend(&mut accounts);
    accounts
}

/// `msntap demo`: a server, the proxy in front of it and two scripted clients through their
/// whole journey; ends by itself.
pub fn demo(cfg: &DemoConfig) -> Result<(), Error> {
    let rt = runtime()?;
    let (tx, rx) = crate::proxy::channel(4096);
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let io = |e: std::io::Error| Error::because("the demo's server and proxy did not start", e);
    let (ds, proxy) = rt
        .block_on(async {
            let a = server::start(any, any, any, default_accounts(), None).await?;
            let pc = ProxyConfig { listen: any, upstream: a.ds.to_string(), ..ProxyConfig::default() };
            let p = Proxy::start(pc, tx).await?;
            std::io::Result::Ok((a.ds, p))
        })
        .map_err(io)?;
    let analysis = spawn_analysis(&cfg.live, ds.port(), rx, "msntap demo".into());
    let front = proxy.local_addr.to_string();
    let rounds = cfg.rounds;
    let result = rt.block_on(async {
        let mut alice = client::login(&front, "alice@hotmail.com", "wonderland", None).await?;
        let mut bob = client::login(&front, "bob@hotmail.com", "builder", None).await?;
        let (heard_a, heard_b) = client::chat(&mut alice, &mut bob, rounds, None).await?;
        alice.ping().await?;
        bob.sign_out().await?;
        alice.sign_out().await?;
        proxy.shutdown().await;
        std::io::Result::Ok((heard_a, heard_b))
    });
    drop(rt);
    let summary = join(analysis)?;
    let (heard_a, heard_b) = result.map_err(|e| Error::because("the scripted session failed", e))?;
    if heard_a.len() != rounds || heard_b.len() != rounds || summary.connections != 6 {
        return Err(Error::Failed(format!("the demo session was incomplete: {} connections", summary.connections)));
    }
    Ok(())
}
