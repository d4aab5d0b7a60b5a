//! The live subcommands of the binary: `proxy`, `serve` and `demo`. They own the tokio runtime
//! and the analysis thread; everything else is library code (`msntap::proxy`,
//! `msntap::testkit`).

use crate::cli::{ColorChoice, DemoArgs, LiveOutput, ProxyArgs, ServeArgs};
use anyhow::{bail, Context, Result};
use msntap::analyzer::{Analyzer, Summary};
use msntap::output::json::{JsonReport, Source};
use msntap::output::ndjson::NdjsonReport;
use msntap::output::text::{TextOptions, TextReport};
use msntap::output::Tee;
use msntap::proxy::record::Recorder;
use msntap::proxy::{live as drive, Proxy, ProxyConfig, ProxyEvent};
use msntap::session::Options;
use msntap::testkit::{client, server};
use msntap::Report;
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio::sync::mpsc;

/// Whether to colour: `--color`, and for `auto` a terminal on stdout without `NO_COLOR`.
pub(crate) fn color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Runs the analysis of proxy events on a thread of its own; returns the summary.
fn spawn_analysis(
    out: &LiveOutput,
    upstream_port: u16,
    mut rx: mpsc::Receiver<ProxyEvent>,
    label: String,
) -> Result<std::thread::JoinHandle<Result<Summary>>> {
    // The live transcript prints events as they come: only the JSON document needs them kept.
    let mut opts = Options { reveal_secrets: out.reveal_secrets, stream_events: true, ..Options::default() };
    for p in &out.passwords {
        let Some((h, s)) = p.split_once('=') else { bail!("--password takes HANDLE=SECRET, got {p:?}") };
        opts.passwords.insert(h.to_string(), s.to_string());
    }
    let color = color(out.color);
    let (json, ndjson, record) = (out.json.clone(), out.ndjson.clone(), out.record.clone());
    if json.as_deref() == Some("-") {
        bail!("the live transcript uses stdout: give --json a file");
    }
    let ndjson_stdout = ndjson.as_deref() == Some("-");
    Ok(std::thread::spawn(move || -> Result<Summary> {
        let text_out: Box<dyn Write> =
            if ndjson_stdout { Box::new(std::io::sink()) } else { Box::new(std::io::stdout()) };
        let mut text = TextReport::new(text_out, TextOptions { color, live: true, ..Default::default() }, &label);
        let source = Source { kind: "proxy".into(), path: None, format: None };
        let mut json = match json.as_deref() {
            Some(p) => Some(JsonReport::new(
                std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {p}"))?),
                source,
            )),
            None => None,
        };
        let nd_out: Option<Box<dyn Write>> = match ndjson.as_deref() {
            Some("-") => Some(Box::new(std::io::stdout())),
            Some(p) => Some(Box::new(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("cannot create {p}"))?,
            ))),
            None => None,
        };
        // Read as it happens: records go out at once.
        let mut nd = nd_out.map(|w| NdjsonReport::new(w, Default::default()).flush_each(true));
        let mut recorder = match &record {
            Some(p) => Some(Recorder::new(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
            ))?),
            None => None,
        };
        let mut reports: Vec<&mut dyn Report> = vec![&mut text];
        if let Some(j) = json.as_mut() {
            reports.push(j);
        }
        if let Some(n) = nd.as_mut() {
            reports.push(n);
        }
        let mut tee = Tee(reports);
        let mut analyzer = Analyzer::new(opts, &[upstream_port], &mut tee);
        analyzer.all_msnp = true;
        drive::drive(&mut rx, &mut analyzer, recorder.as_mut());
        let summary = analyzer.finish();
        drop(tee);
        if let Some(r) = recorder {
            r.finish().context("writing the recording")?;
        }
        if let Some(e) = json.as_mut().and_then(|j| j.error.take()) {
            return Err(e).context("writing the JSON document");
        }
        if let Some(e) = nd.as_mut().and_then(|j| j.error.take()) {
            return Err(e).context("writing NDJSON");
        }
        let _ = text.error.take();
        Ok(summary)
    }))
}

/// Registers Ctrl-C and SIGTERM now (so a signal arriving right after this returns is not
/// lost), and returns a future that ends at the first of them or after `duration` seconds.
pub(crate) fn stop_signal(duration: Option<u64>) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        let timer = async {
            match duration {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
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

pub fn proxy(args: ProxyArgs) -> Result<u8> {
    let rt = runtime()?;
    let port = msntap::analyzer::parse_address(&args.upstream).1;
    let (tx, rx) = mpsc::channel(4096);
    let analysis = spawn_analysis(&args.out, port, rx, "msntap proxy".into())?;
    rt.block_on(async {
        let cfg = ProxyConfig {
            listen: args.listen,
            upstream: args.upstream.clone(),
            advertise: args.advertise.clone(),
            connect_timeout: Duration::from_secs(args.connect_timeout),
            ..ProxyConfig::default()
        };
        let p = Proxy::start(cfg, tx).await.with_context(|| format!("cannot listen on {}", args.listen))?;
        let stop = stop_signal(args.duration);
        eprintln!("msntap proxy: listening on {}, relaying to {}", p.local_addr, args.upstream);
        stop.await;
        eprintln!("msntap proxy: stopping");
        p.shutdown().await;
        anyhow::Ok(())
    })?;
    drop(rt);
    analysis.join().map_err(|_| anyhow::anyhow!("the analysis thread panicked"))??;
    Ok(0)
}

fn accounts(users: &[String], file: Option<&std::path::Path>) -> Result<Vec<server::Account>> {
    let mut specs: Vec<String> = users.to_vec();
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        specs.extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    if specs.is_empty() {
        specs = vec!["alice@hotmail.com:wonderland:Alice".into(), "bob@hotmail.com:builder:Bob".into()];
    }
    let mut out = Vec::new();
    for s in specs {
        out.push(server::Account::parse(&s).with_context(|| format!("account {s:?} is not HANDLE:PASSWORD[:NAME]"))?);
    }
    server::befriend(&mut out);
    Ok(out)
}

pub fn serve(args: ServeArgs) -> Result<u8> {
    let accts = accounts(&args.users, args.users_file.as_deref())?;
    let rt = runtime()?;
    rt.block_on(async {
        let names: Vec<String> = accts.iter().map(|a| a.handle.clone()).collect();
        let a = server::start(args.ds, args.ns, args.sb, accts, None)
            .await
            .context("cannot open the server's listeners")?;
        eprintln!(
            "msntap serve: dispatch {}, notification {}, switchboard {}; accounts: {}",
            a.ds,
            a.ns,
            a.sb,
            names.join(", ")
        );
        stop_signal(None).await;
        anyhow::Ok(())
    })?;
    Ok(0)
}

pub fn demo(args: DemoArgs) -> Result<u8> {
    let rt = runtime()?;
    let (tx, rx) = mpsc::channel(4096);
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let accts = accounts(&[], None)?;
    let (ds, proxy) = rt.block_on(async {
        let a = server::start(any, any, any, accts, None).await?;
        let cfg = ProxyConfig { listen: any, upstream: a.ds.to_string(), ..ProxyConfig::default() };
        let p = Proxy::start(cfg, tx).await?;
        std::io::Result::Ok((a.ds, p))
    })?;
    let analysis = spawn_analysis(&args.out, ds.port(), rx, "msntap demo".into())?;
    let front = proxy.local_addr.to_string();
    let rounds = args.rounds;
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
    let summary = analysis.join().map_err(|_| anyhow::anyhow!("the analysis thread panicked"))??;
    let (heard_a, heard_b) = result.context("the scripted session failed")?;
    if heard_a.len() != rounds || heard_b.len() != rounds || summary.connections != 6 {
        bail!("the demo session was incomplete: {} connections", summary.connections);
    }
    Ok(0)
}

/// `msntap sniff`: analyses live traffic exactly as `read` analyses a file.
#[cfg(feature = "live")]
pub fn sniff(args: crate::cli::SniffArgs) -> Result<u8> {
    use msntap::capture::live;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if args.list_interfaces {
        for (name, desc) in live::interfaces()? {
            println!("{name}{}", desc.map(|d| format!("  ({d})")).unwrap_or_default());
        }
        return Ok(0);
    }
    let iface = args.interface.clone().unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    {
        // Ctrl-C, SIGTERM or --duration set the flag; the capture loop polls it.
        // The handlers are registered before capturing starts, so no signal is lost.
        let stop = stop.clone();
        let duration = args.duration;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(async {
                    let signals = stop_signal(duration);
                    let _ = ready_tx.send(());
                    signals.await;
                });
            }
            stop.store(true, Ordering::Relaxed);
        });
        let _ = ready_rx.recv();
    }
    let mut writer = match &args.write {
        Some(p) => {
            let f = std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            let mut w = msntap::capture::write::PcapNgWriter::new(std::io::BufWriter::new(f), "msntap sniff")?;
            let iface_id = w.interface(msntap::capture::LinkType::ETHERNET, &iface)?;
            Some((w, iface_id, None::<msntap::capture::LinkType>))
        }
        None => None,
    };
    let source = Source { kind: "live".into(), path: Some(iface.clone()), format: None };
    let label = format!("interface {iface}");
    let filter = args.bpf.clone();
    let mut write_error = None;
    let stdout = Box::new(std::io::BufWriter::new(std::io::stdout()));
    let code = crate::analyse(args.common, label, source, 0, stdout, |analyzer, limits| {
        let mut pipe = msntap::analyzer::Pipeline::new(limits);
        let ready = || eprintln!("msntap sniff: capturing on {iface} with filter {filter:?}");
        let r = live::run(&iface, &filter, &stop, ready, |link, ts, data, wire| {
            if let Some((w, id, seen)) = writer.as_mut() {
                // The pcapng interface was declared as Ethernet; other link types get their own.
                if *seen != Some(link) {
                    if link != msntap::capture::LinkType::ETHERNET {
                        if let Ok(new) = w.interface(link, "live") {
                            *id = new;
                        }
                    }
                    *seen = Some(link);
                }
                if let Err(e) = w.packet(*id, ts, data, wire) {
                    write_error.get_or_insert(e);
                }
            }
            analyzer.packet(&mut pipe, link, ts, data, 0);
        });
        analyzer.end(pipe);
        match r {
            Ok((n, dropped)) => {
                if dropped > 0 {
                    // Lost packets show up as gaps in the streams; this says why.
                    eprintln!("msntap sniff: libpcap reports {dropped} packets dropped ({n} captured)");
                }
                None
            }
            Err(e) => Some(e.to_string()),
        }
    })?;
    if let Some((w, _, _)) = writer {
        w.finish().context("writing the --write file")?;
    }
    if let Some(e) = write_error {
        return Err(e).context("writing the --write file");
    }
    Ok(code)
}

/// `msntap sniff` in a build without live capture.
#[cfg(not(feature = "live"))]
pub fn sniff(_args: crate::cli::SniffArgs) -> Result<u8> {
    bail!(
        "this msntap was built without live capture. Rebuild it with the `live` feature (it needs libpcap; on Debian: apt-get install libpcap-dev): cargo build --release --features live"
    )
}

/// `msntap bench-proxy`: MSG round-trip latency between two testkit clients directly and
/// through the proxy (p50, p99, p99.9), bulk MSG throughput, and the memory of the proxy — the
/// real `msntap proxy` in a process of its own, analysis included — with many idle sessions.
pub fn bench_proxy(args: crate::cli::BenchProxyArgs) -> Result<u8> {
    use std::io::BufRead;
    let rt = runtime()?;
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut accts: Vec<server::Account> =
        ["a@hotmail.com:pa:A", "b@hotmail.com:pb:B"].iter().filter_map(|s| server::Account::parse(s)).collect();
    server::befriend(&mut accts);
    for i in 0..args.idle {
        accts.extend(server::Account::parse(&format!("idle{i}@hotmail.com:p:I")));
    }
    let addrs = rt.block_on(server::start(any, any, any, accts, None))?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["proxy", "--listen", "127.0.0.1:0", "--upstream", &addrs.ds.to_string(), "--color", "never"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting msntap proxy")?;
    let mut first = String::new();
    if let Some(e) = child.stderr.take() {
        std::io::BufReader::new(e).read_line(&mut first)?;
    }
    let front = first
        .split("listening on ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .map(str::to_string)
        .context("the proxy did not say where it listens")?;
    let pid = child.id();
    let rss = |field: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .unwrap_or(0) as f64
            / 1024.0
    };
    let n = args.round_trips;
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[((v.len() as f64 * p / 100.0).ceil() as usize).clamp(1, v.len()) - 1]
    };
    let measure = |target: String| -> Result<(Vec<f64>, f64)> {
        rt.block_on(async {
            let mut a = client::login(&target, "a@hotmail.com", "pa", None).await?;
            let mut b = client::login(&target, "b@hotmail.com", "pb", None).await?;
            let (sb, k) = a.request_switchboard().await?;
            let mut asb = client::Sb::call(&sb, "a@hotmail.com", &k, "b@hotmail.com", None).await?;
            let (sid, addr, k2, _) = b.wait_ring().await?;
            let mut bsb = client::Sb::answer(&addr, "b@hotmail.com", &k2, &sid, None).await?;
            asb.wait_join().await?;
            let mut lat = Vec::with_capacity(n);
            for i in 0..n {
                let t0 = std::time::Instant::now();
                asb.say('N', &format!("ping {i}")).await?;
                bsb.hear().await?;
                lat.push(t0.elapsed().as_secs_f64() * 1e6);
            }
            // Bulk: 1,000-byte messages one way, as fast as they go.
            let body = "x".repeat(1000);
            let t0 = std::time::Instant::now();
            let bulk = 5_000;
            let reader = async {
                for _ in 0..bulk {
                    bsb.hear().await?;
                }
                std::io::Result::Ok(())
            };
            let writer = async {
                for _ in 0..bulk {
                    asb.say('U', &body).await?;
                }
                std::io::Result::Ok(())
            };
            let (r, w) = tokio::join!(reader, writer);
            r?;
            w?;
            let mbps = (bulk * 1000) as f64 / t0.elapsed().as_secs_f64() / 1e6;
            bsb.leave().await?;
            asb.wait_bye().await?;
            asb.leave().await?;
            a.sign_out().await?;
            b.sign_out().await?;
            anyhow::Ok((lat, mbps))
        })
    };
    let (mut direct, direct_mbps) = measure(addrs.ds.to_string())?;
    let (mut proxied, proxied_mbps) = measure(front.clone())?;
    for p in [50.0, 99.0, 99.9] {
        let (d, x) = (pct(&mut direct, p), pct(&mut proxied, p));
        println!("round trip p{p}: direct {d:.1} us, proxied {x:.1} us, added {:.1} us", x - d);
    }
    println!("bulk MSG throughput one way: direct {direct_mbps:.1} MB/s, proxied {proxied_mbps:.1} MB/s");
    let before = rss("VmRSS:");
    let held = rt.block_on(async {
        let mut held = Vec::new();
        for chunk in (0..args.idle).collect::<Vec<_>>().chunks(200) {
            let mut set = tokio::task::JoinSet::new();
            for &i in chunk {
                let front = front.clone();
                set.spawn(async move { client::login(&front, &format!("idle{i}@hotmail.com"), "p", None).await });
            }
            while let Some(r) = set.join_next().await {
                if let Ok(Ok(ns)) = r {
                    held.push(ns);
                }
            }
        }
        held
    });
    let after = rss("VmRSS:");
    println!(
        "idle sessions: {} of {} logged in and held open through the proxy; msntap proxy RSS {before:.1} MiB -> {after:.1} MiB (peak {:.1} MiB)",
        held.len(),
        args.idle,
        rss("VmHWM:")
    );
    drop(held);
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();
    drop(rt);
    Ok(0)
}
