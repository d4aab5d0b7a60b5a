//! The proxy's benchmark (`bench/run.sh` runs it): MSG round-trip latency between two testkit
//! clients directly and through the proxy (p50, p99, p99.9), bulk MSG throughput, and the
//! memory of the proxy (the real `msntap proxy` in a process of its own, analysis included)
//! with many idle sessions.
//!
//!     cargo bench --bench proxy -- [--round-trips N] [--idle N]

use anyhow::{Context, Result};
use clap::Parser;
use msntap::testkit::{client, server};

/// Flags of the benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Message round trips to time.
    #[arg(long, default_value_t = 20_000)]
    round_trips: usize,
    /// Idle sessions to hold open for the memory figure.
    #[arg(long, default_value_t = 5_000)]
    idle: usize,
    /// Ignored (cargo bench passes it).
    #[arg(long, hide = true)]
    bench: bool,
}

/// `msntap bench-proxy`: MSG round-trip latency between two testkit clients directly and
/// through the proxy (p50, p99, p99.9), bulk MSG throughput, and the memory of the proxy — the
/// real `msntap proxy` in a process of its own, analysis included — with many idle sessions.
fn main() -> Result<()> {
    let args = Args::parse();
    use std::io::BufRead;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut accts: Vec<server::Account> =
        ["a@hotmail.com:pa:A", "b@hotmail.com:pb:B"].iter().filter_map(|s| server::Account::parse(s)).collect();
    server::befriend(&mut accts);
    for i in 0..args.idle {
        accts.extend(server::Account::parse(&format!("idle{i}@hotmail.com:p:I")));
    }
    let addrs = rt.block_on(server::start(any, any, any, accts, None))?;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"))
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
    let pct = |v: &mut Vec<f64>, p: f64| msntap::testkit::percentile(v, p);
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
        match (pct(&mut direct, p), pct(&mut proxied, p)) {
            (Some(d), Some(x)) => {
                println!("round trip p{p}: direct {d:.1} us, proxied {x:.1} us, added {:.1} us", x - d)
            }
            _ => println!("round trip p{p}: no round trips timed"),
        }
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
    Ok(())
}
