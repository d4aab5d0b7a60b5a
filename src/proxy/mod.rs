//! `msntap proxy`: a man in the middle that follows the client from dispatch to switchboard.
//! The client connects to msntap as if it were the server; msntap connects to the real one and
//! relays every byte unchanged, except the address in server referrals (`XFR ... NS`,
//! `XFR ... SB`, `RNG`), which becomes the address of a listener the proxy opens for that
//! target, so the follow-up connections run through it too. It connects only to the upstream
//! and to targets the upstream announced: it is not an open relay.
//!
//! Relaying and analysis are decoupled: relays send [`ProxyEvent`]s (with the original bytes)
//! over a bounded channel to one analysis thread ([`live`]), which drives the same analyzer as
//! `msntap read` and can record a pcapng file ([`record`]).

pub mod live;
pub mod record;
pub mod rewrite;

use crate::reassembly::{CloseKind, Dir};
use rewrite::{Referral, Rewriter};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// What the relays tell the analysis, in the order it happened.
#[derive(Debug, Clone)]
pub enum ProxyEvent {
    /// A client connected and the proxy reached its target.
    Open {
        /// Connection id (from 1).
        id: u64,
        /// The client's address.
        client: SocketAddr,
        /// The real server's address.
        server: SocketAddr,
        /// Time, ns since the epoch.
        ts_ns: i64,
    },
    /// Bytes relayed (as the sender sent them, before any rewriting).
    Data {
        /// Connection id.
        id: u64,
        /// Direction.
        dir: Dir,
        /// Time.
        ts_ns: i64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A referral's address was replaced.
    Rewrite {
        /// Connection id.
        id: u64,
        /// `XFR NS`, `XFR SB` or `RNG`.
        kind: &'static str,
        /// What the server announced.
        original: String,
        /// What the client was given.
        rewritten: String,
    },
    /// One side closed its sending direction.
    HalfClose {
        /// Connection id.
        id: u64,
        /// The direction that ended.
        dir: Dir,
        /// Time.
        ts_ns: i64,
    },
    /// The connection is over.
    Close {
        /// Connection id.
        id: u64,
        /// Time.
        ts_ns: i64,
        /// How.
        how: CloseKind,
    },
    /// A connection was refused or could not reach its target.
    Failed {
        /// The client's address.
        client: SocketAddr,
        /// The target.
        target: String,
        /// Why.
        reason: String,
        /// Time.
        ts_ns: i64,
    },
}

/// Configuration of the proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where clients connect.
    pub listen: SocketAddr,
    /// The real dispatch (or notification) server, `host:port`.
    pub upstream: String,
    /// The host written into rewritten referrals (default: the listen address's IP).
    pub advertise: Option<String>,
    /// How long to wait for a target to accept a connection.
    pub connect_timeout: Duration,
    /// How long open connections may go on after shutdown was asked for.
    pub grace: Duration,
    /// The most referral targets the proxy will open listeners for.
    pub max_targets: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 1863)),
            upstream: "127.0.0.1:1864".into(),
            advertise: None,
            connect_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(2),
            max_targets: 1024,
        }
    }
}

/// Time now, ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Connection ids, unique in the process (several proxies may share one analysis).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct Shared {
    cfg: ProxyConfig,
    events: mpsc::Sender<ProxyEvent>,
    /// Original target → advertised address of its listener.
    targets: Mutex<HashMap<String, String>>,
    shutdown: watch::Receiver<bool>,
    advertise_ip: IpAddr,
    open: AtomicU64,
}

/// A running proxy.
pub struct Proxy {
    /// Where clients connect.
    pub local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Binds the listener and starts relaying; events go to `events`.
    pub async fn start(cfg: ProxyConfig, events: mpsc::Sender<ProxyEvent>) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let local_addr = listener.local_addr()?;
        let advertise_ip = match &cfg.advertise {
            Some(h) => h.parse().unwrap_or(local_addr.ip()),
            None => local_addr.ip(),
        };
        let (tx, rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            events,
            targets: Mutex::new(HashMap::new()),
            shutdown: rx,
            advertise_ip,
            open: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, cfg.upstream.clone(), shared.clone()));
        Ok(Proxy { local_addr, shutdown: tx, shared, accept })
    }

    /// Connections being relayed now.
    pub fn open_connections(&self) -> u64 {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// Listeners opened for referral targets: (original target, advertised address).
    pub fn targets(&self) -> Vec<(String, String)> {
        self.shared.targets.lock().map(|t| t.iter().map(|(a, b)| (a.clone(), b.clone())).collect()).unwrap_or_default()
    }

    /// Stops accepting, lets open connections finish for the grace period, then ends them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept.await;
        let deadline = tokio::time::Instant::now() + self.shared.cfg.grace + Duration::from_millis(200);
        while self.shared.open.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn accept_loop(listener: TcpListener, target: String, shared: Arc<Shared>) {
    let mut stop = shared.shutdown.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, client)) => {
                    let shared = shared.clone();
                    let target = target.clone();
                    shared.open.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        relay(sock, client, target, &shared).await;
                        shared.open.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                // Out of descriptors and the like: keep serving the others.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = stop.changed() => break,
        }
    }
}

/// The advertised address for a referral target, opening its listener on first use.
fn listener_for(target: &str, shared: &Arc<Shared>) -> Option<String> {
    let mut map = shared.targets.lock().ok()?;
    if let Some(a) = map.get(target) {
        return Some(a.clone());
    }
    if map.len() >= shared.cfg.max_targets {
        return None;
    }
    let std_listener = std::net::TcpListener::bind(SocketAddr::new(shared.cfg.listen.ip(), 0)).ok()?;
    std_listener.set_nonblocking(true).ok()?;
    let port = std_listener.local_addr().ok()?.port();
    let listener = TcpListener::from_std(std_listener).ok()?;
    let advertised = SocketAddr::new(shared.advertise_ip, port).to_string();
    map.insert(target.to_string(), advertised.clone());
    tokio::spawn(accept_loop(listener, target.to_string(), shared.clone()));
    Some(advertised)
}

/// Makes closing the socket send a reset (SO_LINGER with a zero timeout, which never blocks).
fn reset_on_close(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Where a referral address leads (`host` alone means port 1863).
fn target_of(address: &str) -> String {
    if address.contains(':') {
        address.to_string()
    } else {
        format!("{address}:{}", crate::analyzer::MSNP_PORT)
    }
}

async fn relay(mut client: TcpStream, client_addr: SocketAddr, target: String, shared: &Arc<Shared>) {
    let ev = &shared.events;
    let server = match tokio::time::timeout(shared.cfg.connect_timeout, TcpStream::connect(&target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let _ = ev
                .send(ProxyEvent::Failed {
                    client: client_addr,
                    target,
                    reason: format!("cannot connect: {e}"),
                    ts_ns: now_ns(),
                })
                .await;
            reset_on_close(&client);
            return;
        }
        Err(_) => {
            let reason = format!("no answer within {:?}", shared.cfg.connect_timeout);
            let _ = ev.send(ProxyEvent::Failed { client: client_addr, target, reason, ts_ns: now_ns() }).await;
            reset_on_close(&client);
            return;
        }
    };
    let mut server = server;
    let server_addr = server.peer_addr().unwrap_or(client_addr);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = ev.send(ProxyEvent::Open { id, client: client_addr, server: server_addr, ts_ns: now_ns() }).await;

    let mut rewriter = Rewriter::default();
    // One buffer serves both directions (one read is handled at a time), and idle connections
    // wait on readiness without holding a read in progress: memory per connection stays small.
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    let (mut c_done, mut s_done) = (false, false);
    let mut stop = shared.shutdown.clone();
    let mut grace_end: Option<tokio::time::Instant> = None;
    let how = loop {
        if c_done && s_done {
            break CloseKind::Fin;
        }
        let grace = async {
            match grace_end {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = client.readable(), if !c_done => match r.and_then(|_| client.try_read(&mut buf)) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Ok(0) => {
                    c_done = true;
                    let _ = ev.send(ProxyEvent::HalfClose { id, dir: Dir::C2S, ts_ns: now_ns() }).await;
                    if server.shutdown().await.is_err() { break CloseKind::Rst; }
                }
                Ok(n) => {
                    // Forwarded first, analysed after: the analysis is off the latency path.
                    let ts_ns = now_ns();
                    let sent = server.write_all(&buf[..n]).await;
                    let _ = ev.send(ProxyEvent::Data { id, dir: Dir::C2S, ts_ns, bytes: buf[..n].to_vec() }).await;
                    if sent.is_err() { break CloseKind::Rst; }
                }
                Err(_) => break CloseKind::Rst,
            },
            r = server.readable(), if !s_done => match r.and_then(|_| server.try_read(&mut buf)) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Ok(0) => {
                    s_done = true;
                    out.clear();
                    rewriter.finish(&mut out);
                    if !out.is_empty() && client.write_all(&out).await.is_err() { break CloseKind::Rst; }
                    let _ = ev.send(ProxyEvent::HalfClose { id, dir: Dir::S2C, ts_ns: now_ns() }).await;
                    if client.shutdown().await.is_err() { break CloseKind::Rst; }
                }
                Ok(n) => {
                    out.clear();
                    let mut rewrites = Vec::new();
                    let mut refused = Vec::new();
                    rewriter.push(&buf[..n], &mut out, &mut |r: &Referral| match listener_for(&target_of(&r.address), shared) {
                        Some(new) => {
                            rewrites.push((r.kind, r.address.clone(), new.clone()));
                            Some(new)
                        }
                        None => {
                            refused.push(r.address.clone());
                            None
                        }
                    });
                    let ts_ns = now_ns();
                    // A referral is analysed before the client sees it, so the connection it
                    // leads to cannot reach the analysis first; anything else is forwarded first.
                    let referral = !rewrites.is_empty() || !refused.is_empty();
                    for target in refused {
                        let reason = format!("referral not followed: no listener for it (limit of {} targets)", shared.cfg.max_targets);
                        let _ = ev.send(ProxyEvent::Failed { client: client_addr, target, reason, ts_ns }).await;
                    }
                    for (kind, original, rewritten) in rewrites {
                        let _ = ev.send(ProxyEvent::Rewrite { id, kind, original, rewritten }).await;
                    }
                    if referral {
                        let _ = ev.send(ProxyEvent::Data { id, dir: Dir::S2C, ts_ns, bytes: buf[..n].to_vec() }).await;
                    }
                    let sent = client.write_all(&out).await;
                    if !referral {
                        let _ = ev.send(ProxyEvent::Data { id, dir: Dir::S2C, ts_ns, bytes: buf[..n].to_vec() }).await;
                    }
                    if sent.is_err() { break CloseKind::Rst; }
                    if out.capacity() > 64 * 1024 {
                        out = Vec::new();
                    }
                }
                Err(_) => break CloseKind::Rst,
            },
            _ = stop.changed(), if grace_end.is_none() => {
                grace_end = Some(tokio::time::Instant::now() + shared.cfg.grace);
            }
            _ = grace => break CloseKind::Idle,
        }
    };
    if how != CloseKind::Fin {
        // Pass the reset (or the end of the grace period) on to both sides.
        reset_on_close(&client);
        reset_on_close(&server);
    }
    drop(client);
    drop(server);
    let _ = ev.send(ProxyEvent::Close { id, ts_ns: now_ns(), how }).await;
}
