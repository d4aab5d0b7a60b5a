//! The proxy soak test, in a test binary of its own so that its descriptor and memory figures
//! are not disturbed by other tests running in the same process.

use msntap::analysis::Analyzer;
use msntap::proxy::{feed, Proxy, ProxyConfig, ProxyEvent};
use msntap::session::Options;
use msntap::testkit::{client, server};
use std::time::Duration;

const ANY: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn accounts(n: usize) -> Vec<server::Account> {
    (0..n).map(|i| server::Account::parse(&format!("user{i}@hotmail.com:pw{i}:User%20{i}")).unwrap()).collect()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Counts what the analysis reports, keeping nothing else.
#[derive(Default)]
struct Closes(std::collections::BTreeMap<String, u64>);

impl msntap::Report for Closes {
    fn connection(&mut self, conn: &msntap::session::Connection, _links: msntap::analysis::Links<'_>) {
        *self.0.entry(conn.close.map_or("none", |k| k.as_str()).to_string()).or_default() += 1;
    }
    fn finish(&mut self, _s: &msntap::Summary, _l: msntap::analysis::Links<'_>) {}
}

#[test]
fn soak_a_hundred_thousand_exchanges_with_random_disconnects() {
    let started = std::time::Instant::now();
    let (pairs, per_pair) = (50usize, 2300usize);
    let fds_before = open_fds();
    let rss_before = rss_kib();
    let rt = rt();
    let (tx, mut rx) = msntap::proxy::channel(8192);
    let (addrs, proxy) = rt.block_on(async {
        let a = server::start(ANY.into(), ANY.into(), ANY.into(), accounts(2 * pairs), None).await.unwrap();
        let p = Proxy::start(ProxyConfig { listen: ANY.into(), upstream: a.ds.to_string(), ..Default::default() }, tx)
            .await
            .unwrap();
        (a, p)
    });
    let analysis = std::thread::spawn(move || {
        let mut closes = Closes::default();
        let mut opened = 0u64;
        {
            let mut analyzer = Analyzer::new(Options::default(), &[addrs.ds.port()], &mut closes);
            analyzer.all_msnp = true;
            let mut first = true;
            while let Some(ev) = rx.blocking_recv() {
                opened += u64::from(matches!(ev, ProxyEvent::Open { .. }));
                feed::apply(&mut analyzer, ev, &mut first);
            }
            analyzer.finish();
        }
        (opened, closes.0)
    });
    let front = proxy.local_addr.to_string();
    let completed = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for p in 0..pairs {
            let front = front.clone();
            set.spawn(async move {
                let (ha, hb) = (format!("user{}@hotmail.com", 2 * p), format!("user{}@hotmail.com", 2 * p + 1));
                let mut a = client::login(&front, &ha, &format!("pw{}", 2 * p), None).await?;
                let mut b = client::login(&front, &hb, &format!("pw{}", 2 * p + 1), None).await?;
                let (sb, k) = a.request_switchboard().await?;
                let mut asb = client::Sb::call(&sb, &a.handle, &k, &b.handle, None).await?;
                let (sid, addr, k2, _) = b.wait_ring().await?;
                let mut bsb = client::Sb::answer(&addr, &b.handle, &k2, &sid, None).await?;
                asb.wait_join().await?;
                // One pair in five is cut: a client resets, or the server hangs up.
                let cut = (p % 5 == 0).then(|| (p * 7919) % per_pair);
                let mut done = 0usize;
                for i in 0..per_pair {
                    if cut == Some(i) {
                        if p % 10 == 0 {
                            asb.conn.reset();
                            drop(asb);
                        } else {
                            let payload = [b"MIME-Version: 1.0\r\n\r\n".as_slice(), server::HANGUP].concat();
                            asb.conn.send_payload("MSG 99999 U", &payload).await?;
                            drop(asb);
                        }
                        drop(bsb);
                        let _ = a.sign_out().await;
                        let _ = b.sign_out().await;
                        return std::io::Result::Ok(done);
                    }
                    let text = format!("pair {p} message {i} {}", "x".repeat(i % 300));
                    asb.say('N', &text).await?;
                    let (from, body) = bsb.hear().await?;
                    assert_eq!((from.as_str(), body.as_str()), (ha.as_str(), text.as_str()), "byte-exact delivery");
                    done += 1;
                }
                bsb.leave().await?;
                asb.wait_bye().await?;
                asb.leave().await?;
                a.sign_out().await?;
                b.sign_out().await?;
                Ok(done)
            });
        }
        let mut total = 0;
        while let Some(r) = set.join_next().await {
            total += r.expect("no task panics").expect("sessions complete or end where they were cut");
        }
        // Relays end a moment after the clients see their last byte.
        for _ in 0..200 {
            if proxy.open_connections() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(proxy.open_connections(), 0, "every relay task ended");
        proxy.shutdown().await;
        total
    });
    drop(rt);
    let (opened, closes) = analysis.join().unwrap();
    assert!(completed >= 100_000, "{completed} exchanges");
    let reported: u64 = closes.values().sum();
    assert_eq!(reported, opened, "every connection that ended is reported: {closes:?}");
    assert!(closes.get("rst").copied().unwrap_or(0) >= (pairs / 5) as u64, "{closes:?}");
    assert!(closes.keys().all(|k| k == "fin" || k == "rst"), "{closes:?}");
    let (fds_after, rss_after) = (open_fds(), rss_kib());
    assert!(fds_after <= fds_before + 2, "descriptors leaked: {fds_before} before, {fds_after} after");
    eprintln!("soak: {completed} exchanges, {opened} connections {closes:?}, rss {rss_before} -> {rss_after} KiB, fds {fds_before} -> {fds_after}, {:?}", started.elapsed());
    assert!(rss_after < rss_before + 64 * 1024, "memory did not come back: {rss_before} -> {rss_after} KiB");
    assert!(started.elapsed().as_secs() < 300);
}
