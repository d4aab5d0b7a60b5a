//! The proxy, end to end on loopback ports the system picks: scripted clients through the
//! proxy to the testkit server; bytes compared on both sides; the live analysis compared with
//! the analysis of the proxy's own recording; faults.

use super::common::*;
use msntap::analysis::Analyzer;
use msntap::app::analyze_to_json;
use msntap::output::json::{JsonReport, Source};
use msntap::proxy::record::Recorder;
use msntap::proxy::{feed, Proxy, ProxyConfig, ProxyEvent};
use msntap::reassembly::Limits;
use msntap::session::Options;
use msntap::testkit::conn::{LineConn, Logs};
use msntap::testkit::{client, server};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const ANY: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// The live analysis of a proxy: its JSON document and its recording.
struct Analysis(std::thread::JoinHandle<(Value, Vec<u8>)>);

impl Analysis {
    fn start(rx: mpsc::Receiver<ProxyEvent>, upstream_port: u16) -> Self {
        Analysis(std::thread::spawn(move || {
            let mut rx = rx;
            let mut doc = Vec::new();
            let mut rec = Recorder::new(Vec::new()).unwrap();
            {
                let mut report = JsonReport::new(
                    &mut doc,
                    Source { kind: msntap::output::json::SourceKind::Proxy, path: None, format: None },
                );
                let mut analyzer = Analyzer::new(Options::default(), &[upstream_port], &mut report);
                analyzer.all_msnp = true;
                feed::drive(&mut rx, &mut analyzer, Some(&mut rec));
                analyzer.finish();
            }
            let pcap = rec.into_inner().unwrap();
            (serde_json::from_slice(&doc).unwrap(), pcap)
        }))
    }

    fn join(self) -> (Value, Vec<u8>) {
        self.0.join().unwrap()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The testkit server (ports the system picks) and a proxy in front of its dispatch server.
async fn server_and_proxy(
    accounts: Vec<server::Account>,
    logs: Option<Logs>,
    tx: msntap::proxy::Events,
) -> (server::Addrs, Proxy) {
    let a = server::start(ANY.into(), ANY.into(), ANY.into(), accounts, logs).await.unwrap();
    let p = Proxy::start(ProxyConfig { listen: ANY.into(), upstream: a.ds.to_string(), ..Default::default() }, tx)
        .await
        .unwrap();
    (a, p)
}

fn accounts(n: usize, friends: bool) -> Vec<server::Account> {
    let mut a: Vec<server::Account> =
        (0..n).map(|i| server::Account::parse(&format!("user{i}@hotmail.com:pw{i}:User%20{i}")).unwrap()).collect();
    if friends {
        server::befriend(&mut a);
    }
    a
}

/// Lines of a byte stream.
fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b).split("\r\n").map(str::to_string).collect()
}

/// Equal, except the address of XFR/RNG referral lines.
fn equal_but_referrals(server_sent: &[u8], client_got: &[u8]) -> bool {
    let (a, b) = (lines(server_sent), lines(client_got));
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            if x == y {
                return true;
            }
            let (tx, ty): (Vec<&str>, Vec<&str>) = (x.split(' ').collect(), y.split(' ').collect());
            let at = if tx.first() == Some(&"RNG") { 2 } else { 3 };
            (tx[0] == "XFR" || tx[0] == "RNG")
                && tx.len() == ty.len()
                && tx.iter().zip(&ty).enumerate().all(|(i, (p, q))| i == at || p == q)
        })
}

#[test]
fn two_users_through_the_proxy_byte_exact_and_linked() {
    let rt = rt();
    let server_logs: Logs = Arc::new(Mutex::new(Vec::new()));
    let client_logs: Logs = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = msntap::proxy::channel(1024);
    let (addrs, proxy) = rt.block_on(server_and_proxy(accounts(2, true), Some(server_logs.clone()), tx));
    let analysis = Analysis::start(rx, addrs.ds.port());
    let front = proxy.local_addr.to_string();
    let (heard_a, heard_b) = rt.block_on(async {
        let mut a = client::login(&front, "user0@hotmail.com", "pw0", Some(&client_logs)).await.unwrap();
        let mut b = client::login(&front, "user1@hotmail.com", "pw1", Some(&client_logs)).await.unwrap();
        let heard = client::chat(&mut a, &mut b, 3, Some(&client_logs)).await.unwrap();
        b.sign_out().await.unwrap();
        a.sign_out().await.unwrap();
        proxy.shutdown().await;
        heard
    });
    drop(rt);
    let (doc, _) = analysis.join();
    assert_eq!(
        heard_b,
        ["hello 0 from user0@hotmail.com", "hello 1 from user0@hotmail.com", "hello 2 from user0@hotmail.com"]
    );
    assert_eq!(heard_a.len(), 3);

    // Every byte each endpoint received equals what the other sent, but rewritten addresses.
    let (clients, servers) = (client_logs.lock().unwrap().clone(), server_logs.lock().unwrap().clone());
    assert_eq!(clients.len(), 6, "DS, NS and SB for both users, all through the proxy");
    for c in &clients {
        let c = c.lock().unwrap();
        assert!(
            c.peer.is_some_and(|p| p.ip().is_loopback() && p != addrs.ds && p != addrs.ns && p != addrs.sb),
            "client connected to the proxy, not the server: {:?}",
            c.peer
        );
        let s = servers
            .iter()
            .map(|s| s.lock().unwrap().clone())
            .find(|s| s.received == c.sent)
            .expect("a server connection received exactly what the client sent");
        assert!(equal_but_referrals(&s.sent, &c.received), "client got what the server sent, but referral addresses");
    }
    // The analysis: six connections, linked, clean.
    let roles: Vec<&str> = doc["connections"].as_array().unwrap().iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(roles.len(), 6);
    assert_eq!(roles.iter().filter(|r| **r == "SB").count(), 2);
    let links = doc["links"].as_array().unwrap();
    assert_eq!(links.len(), 4);
    for l in links {
        assert!(l["to"]["connection"].is_u64(), "{l}");
        assert!(l["rewritten_to"].as_str().is_some_and(|r| r.starts_with("127.0.0.1:")), "{l}");
        assert_ne!(l["rewritten_to"], l["address"]);
    }
    assert_eq!(rule_ids(&doc), Vec::<String>::new());
}

/// What must be the same between the live analysis and the analysis of its recording.
fn essence(doc: &Value) -> Value {
    let conns: Vec<Value> = doc["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let events: Vec<Value> = c["events"].as_array().unwrap().iter().map(|e| serde_json::json!([e["kind"], e["dir"], e["line"], e["transaction"], e["violations"]])).collect();
            let txns: Vec<Value> = c["transactions"].as_array().unwrap().iter().map(|t| serde_json::json!([t["trid"], t["command"], t["request"], t["responses"], t["outcome"]])).collect();
            serde_json::json!({"id": c["id"], "client": c["client"], "server": c["server"], "role": c["role"], "user": c["user"], "dialect": c["dialect"], "close": c["close"], "events": events, "transactions": txns})
        })
        .collect();
    let links: Vec<Value> = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| serde_json::json!([l["kind"], l["from"], l["to"], l["address"]]))
        .collect();
    serde_json::json!({"connections": conns, "links": links})
}

#[test]
fn recording_reads_back_to_the_same_analysis() {
    let rt = rt();
    let (tx, rx) = msntap::proxy::channel(1024);
    let (addrs, proxy) = rt.block_on(server_and_proxy(accounts(2, true), None, tx));
    let analysis = Analysis::start(rx, addrs.ds.port());
    let front = proxy.local_addr.to_string();
    rt.block_on(async {
        let mut a = client::login(&front, "user0@hotmail.com", "pw0", None).await.unwrap();
        let mut b = client::login(&front, "user1@hotmail.com", "pw1", None).await.unwrap();
        client::chat(&mut a, &mut b, 2, None).await.unwrap();
        a.ping().await.unwrap();
        b.sign_out().await.unwrap();
        a.sign_out().await.unwrap();
        proxy.shutdown().await;
    });
    drop(rt);
    let (live_doc, pcapng) = analysis.join();
    let read_doc = analyze_to_json(&pcapng, Options::default(), &[addrs.ds.port()], Limits::default()).unwrap();
    assert_eq!(essence(&read_doc), essence(&live_doc));
    assert_eq!(read_doc["connections"].as_array().unwrap().len(), 6);
}

#[test]
fn faults_are_reported_and_the_proxy_keeps_serving() {
    let rt = rt();
    let (tx, rx) = msntap::proxy::channel(1024);
    // An upstream that refuses: a port nobody listens on.
    // Bound but not listening: connections are refused, and the port stays taken for the whole
    // test (a dropped listener's port can be handed to the next listener, here or in a
    // parallel test, which then answers instead of refusing).
    let refuser = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    refuser.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    let closed = refuser.local_addr().unwrap().as_socket().unwrap();
    // A server that resets in the middle of a MSG payload, one that never answers, and one
    // that swallows whatever comes.
    let (reset_srv, silent_srv, sink_srv, received) = rt.block_on(async {
        let r = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let k = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (ra, sa, ka) = (r.local_addr().unwrap(), s.local_addr().unwrap(), k.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut c, _) = r.accept().await.unwrap();
            let mut buf = [0u8; 64];
            let _ = c.read(&mut buf).await;
            c.write_all(b"MSG Hotmail Hotmail 100\r\nMIME-Version: 1.0\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).unwrap();
        });
        tokio::spawn(async move {
            let (c, _) = s.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(c);
        });
        let got = Arc::new(Mutex::new(0usize));
        let g = got.clone();
        tokio::spawn(async move {
            let (mut c, _) = k.accept().await.unwrap();
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = c.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                *g.lock().unwrap() += n;
            }
        });
        (ra, sa, ka, got)
    });
    let analysis = {
        let rx = rx;
        Analysis::start(rx, 1)
    };
    let mk = |upstream: SocketAddr, tx: msntap::proxy::Events| {
        let cfg = ProxyConfig {
            listen: ANY.into(),
            upstream: upstream.to_string(),
            connect_timeout: Duration::from_secs(2),
            grace: Duration::from_millis(300),
            ..Default::default()
        };
        rt.block_on(Proxy::start(cfg, tx)).unwrap()
    };
    let p_closed = mk(closed, tx.clone());
    let p_reset = mk(reset_srv, tx.clone());
    let p_silent = mk(silent_srv, tx.clone());
    let p_sink = mk(sink_srv, tx.clone());
    drop(tx);
    rt.block_on(async {
        // Refused upstream: the client's connection is closed.
        // (The reset may already reach the connect.)
        if let Ok(mut c) = tokio::net::TcpStream::connect(p_closed.local_addr).await {
            let mut buf = [0u8; 16];
            let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await.expect("closed promptly");
            assert!(matches!(n, Ok(0) | Err(_)));
        }
        // Reset in the middle of a payload: the client sees the reset too.
        let mut c = tokio::net::TcpStream::connect(p_reset.local_addr).await.unwrap();
        c.write_all(b"VER 1 MSNP2\r\n").await.unwrap();
        let mut got = Vec::new();
        let end = loop {
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await.expect("no hang") {
                Ok(0) => break "fin",
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break "rst",
            }
        };
        assert_eq!(end, "rst");
        assert_eq!(got, b"MSG Hotmail Hotmail 100\r\nMIME-Version: 1.0\r\n");
        // A server that never answers: the client gives up, nothing hangs.
        let mut c = LineConn::connect(&p_silent.local_addr.to_string(), None).await.unwrap();
        c.send("VER 1 MSNP2").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(c);
        // Garbage and a 10 MB line: forwarded, every byte.
        let mut c = tokio::net::TcpStream::connect(p_sink.local_addr).await.unwrap();
        let mut junk = vec![0u8, 1, 2, 255, b'\r', b'\n'];
        junk.extend(std::iter::repeat_n(b'A', 10 << 20));
        junk.extend_from_slice(b"\r\nOUT\r\n");
        c.write_all(&junk).await.unwrap();
        c.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest).await;
        for _ in 0..100 {
            if *received.lock().unwrap() == junk.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*received.lock().unwrap(), junk.len());
        for p in [p_closed, p_reset, p_silent, p_sink] {
            p.shutdown().await;
        }
    });
    drop(rt);
    let (doc, _) = analysis.join();
    assert_eq!(doc["summary"]["failures_total"], 1);
    assert!(doc["summary"]["failures"][0]["reason"].as_str().unwrap().contains("cannot connect"));
    let conns = doc["connections"].as_array().unwrap();
    let closes: Vec<&str> = conns.iter().map(|c| c["close"].as_str().unwrap()).collect();
    let servers: Vec<&str> = conns.iter().map(|c| c["server"].as_str().unwrap()).collect();
    assert_eq!(closes.len(), 3, "{closes:?} {servers:?} reset {reset_srv} silent {silent_srv} sink {sink_srv}");
    assert!(closes.contains(&"rst"), "{closes:?}");
    let ids = rule_ids(&doc);
    for want in ["MSNP-F006", "MSNP-F009", "MSNP-T006"] {
        assert!(ids.iter().any(|r| r == want), "{want} missing from {ids:?}");
    }
}

#[test]
fn five_hundred_concurrent_sessions() {
    let rt = rt();
    let (tx, rx) = msntap::proxy::channel(4096);
    let n = 500;
    let (addrs, proxy) = rt.block_on(server_and_proxy(accounts(n, false), None, tx));
    let analysis = Analysis::start(rx, addrs.ds.port());
    let front = proxy.local_addr.to_string();
    let ok = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let front = front.clone();
            set.spawn(async move {
                let mut ns = client::login(&front, &format!("user{i}@hotmail.com"), &format!("pw{i}"), None).await?;
                ns.ping().await?;
                ns.sign_out().await
            });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            if matches!(r, Ok(Ok(()))) {
                ok += 1;
            }
        }
        proxy.shutdown().await;
        ok
    });
    drop(rt);
    let (doc, _) = analysis.join();
    assert_eq!(ok, n);
    assert_eq!(doc["summary"]["connections"], 2 * n as u64);
    assert_eq!(doc["summary"]["by_severity"].get("error"), None);
}

#[test]
fn demo_runs_and_ends_by_itself() {
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_msntap")).args(["demo", "--color", "never"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("6 connections, 2 users"));
    assert!(text.contains("XFR SB") && text.contains("⇒ #5 (client told 127.0.0.1:"));
}

#[test]
fn sigterm_stops_the_proxy_and_writes_complete_files() {
    let rt = rt();
    let addrs = rt.block_on(server::start(ANY.into(), ANY.into(), ANY.into(), accounts(2, true), None)).unwrap();
    let dir = tmp("proxy");
    std::fs::create_dir_all(&dir).unwrap();
    let (json, rec) = (dir.join("live.json"), dir.join("live.pcapng"));
    let upstream = addrs.ds.to_string();
    let args = ["proxy", "--listen", "127.0.0.1:0", "--upstream", &upstream, "--color", "never", "--json"]
        .map(std::ffi::OsStr::new)
        .into_iter()
        .chain([json.as_os_str(), "--record".as_ref(), rec.as_os_str()]);
    // Its stderr stays open (held) until the end, as the proxy may still write to it.
    let (mut child, _err, first) = spawn_msntap(args, std::process::Stdio::piped());
    let listen = first.split("listening on ").nth(1).and_then(|s| s.split(',').next()).expect(&first).to_string();
    rt.block_on(async {
        let ns = client::login(&listen, "user0@hotmail.com", "pw0", None).await.unwrap();
        ns.sign_out().await.unwrap();
    });
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("a complete JSON document");
    assert_eq!(doc["connections"].as_array().unwrap().len(), 2);
    let read =
        analyze_to_json(&std::fs::read(&rec).unwrap(), Options::default(), &[addrs.ds.port()], Limits::default())
            .unwrap();
    assert_eq!(essence(&read), essence(&doc));
}

#[test]
fn an_upstream_that_never_accepts_times_out_and_is_reported() {
    use socket2::{Domain, Socket, Type};
    // A loopback listener with a one-place accept queue that is never drained: once the queue
    // is full the kernel drops further SYNs, so connecting to it times out.
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    sock.listen(0).unwrap();
    let full: SocketAddr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&full.into());
        fillers.push(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    let rt = rt();
    let (tx, rx) = msntap::proxy::channel(64);
    let analysis = Analysis::start(rx, 1);
    let cfg = ProxyConfig {
        listen: ANY.into(),
        upstream: full.to_string(),
        connect_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let p = rt.block_on(Proxy::start(cfg, tx)).unwrap();
    rt.block_on(async {
        let started = std::time::Instant::now();
        if let Ok(mut c) = tokio::net::TcpStream::connect(p.local_addr).await {
            let mut buf = [0u8; 8];
            let r = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf))
                .await
                .expect("the client is closed, not left hanging");
            assert!(matches!(r, Ok(0) | Err(_)));
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        p.shutdown().await;
    });
    drop(rt);
    let (doc, _) = analysis.join();
    assert_eq!(doc["summary"]["failures_total"], 1, "{}", doc["summary"]);
    assert!(
        doc["summary"]["failures"][0]["reason"].as_str().unwrap().contains("no answer within"),
        "{}",
        doc["summary"]["failures"]
    );
    drop(fillers);
    drop(sock);
}

/// Runs `msntap proxy` with `env` and `flags` in front of an upstream that sends two referrals,
/// one to a port that refuses and one whose address carries a terminal escape; follows the
/// first. Returns the proxy's stdout and stderr.
fn proxy_diagnostics(env: &[(&str, &str)], flags: &[&str]) -> (String, Vec<u8>) {
    use std::io::{BufRead, Read, Write};
    let refuser = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    refuser.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    let closed = refuser.local_addr().unwrap().as_socket().unwrap();
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = upstream.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = upstream.accept() {
            let _ = write!(c, "XFR 1 NS {closed} 0\r\nXFR 2 NS 127.0.0.1:9\x1b[2J 0\r\n");
            std::thread::sleep(Duration::from_millis(1500));
        }
    });
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"));
    cmd.args(["proxy", "--listen", "127.0.0.1:0", "--upstream", &up, "--duration", "2", "--color", "never"])
        .args(flags)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("msntap proxy: listening on ") {
        seen.extend_from_slice(line.as_bytes());
        line.clear();
    }
    seen.extend_from_slice(line.as_bytes());
    let listen = line.split("listening on ").nth(1).and_then(|s| s.split(',').next()).expect(&line).to_string();
    let mut c = std::net::TcpStream::connect(&listen).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"0\r\n") || got.iter().filter(|&&b| b == b'\n').count() < 2 {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got).to_string();
    let first = text.split_whitespace().nth(3).expect(&text).to_string();
    // The proxy reaches for the refusing port and resets this client.
    let mut follow = std::net::TcpStream::connect(&first).unwrap();
    follow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = follow.read(&mut buf);
    let out = child.wait_with_output().unwrap();
    err.read_to_end(&mut seen).unwrap();
    (String::from_utf8_lossy(&out.stdout).to_string(), seen)
}

#[test]
fn rust_log_debug_shows_refusals_and_rewrites_on_stderr_with_peer_bytes_escaped() {
    let (stdout, stderr) = proxy_diagnostics(&[("RUST_LOG", "debug")], &[]);
    let log = String::from_utf8_lossy(&stderr);
    assert!(log.contains("WARN") && log.contains("the server refused the connection"), "{log}");
    assert!(log.contains("DEBUG") && log.contains("referral rewritten"), "{log}");
    assert!(log.contains("connection accepted") && log.contains("listening for a referral target"), "{log}");
    // The escape the upstream sent is shown escaped, never as the byte.
    assert!(log.contains("127.0.0.1:9\\x1b[2J"), "{log}");
    assert!(!stderr.contains(&0x1b), "{log}");
    // Logs are diagnostics: none reach stdout, where the live transcript goes.
    assert!(stdout.contains("XFR 1 NS") && !stdout.contains("DEBUG") && !stdout.contains("WARN"), "{stdout}");
}

#[test]
fn warnings_show_by_default_and_quiet_flags_remove_them() {
    // The three proxies run at once: each waits out its two-second duration.
    let runs: Vec<_> = [&[][..], &["-v"][..], &["-qq"][..]]
        .into_iter()
        .map(|flags| std::thread::spawn(move || String::from_utf8_lossy(&proxy_diagnostics(&[], flags).1).to_string()))
        .collect();
    let [plain, verbose, quiet]: [String; 3] =
        runs.into_iter().map(|r| r.join().unwrap()).collect::<Vec<_>>().try_into().unwrap();
    let log = plain;
    assert!(log.contains("the server refused the connection") && !log.contains("DEBUG"), "{log}");
    let log = verbose;
    assert!(log.contains("INFO") && log.contains("listening for a referral target") && !log.contains("DEBUG"), "{log}");
    let log = quiet;
    assert!(!log.contains("refused") && !log.contains("WARN"), "{log}");
}
