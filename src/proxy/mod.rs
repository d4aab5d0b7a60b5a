//! `msntap proxy`: a man in the middle that follows the client from dispatch to switchboard.
//! The client connects to msntap as if it were the server; msntap connects to the real one and
//! relays every byte unchanged, except the address in server referrals (`XFR ... NS`,
//! `XFR ... SB`, `RNG`), which becomes the address of a listener the proxy opens for that
//! target, so the follow-up connections run through it too. It connects only to the upstream
//! and to targets the upstream announced: it is not an open relay.
//!
//! Relaying and analysis are decoupled: relays ([`relay`]) send [`ProxyEvent`]s (with the
//! original bytes) over a bounded channel to one analysis thread ([`feed`]), which drives the
//! same analyzer as `msntap read` and can record a pcapng file ([`record`]). Referral lines are
//! rewritten by [`rewrite`].

pub mod feed;
pub mod record;
mod relay;
pub mod rewrite;

use crate::escape::sanitize;
use crate::flow::{CloseKind, Dir};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
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
        /// Which referral.
        kind: crate::msnp::referral::ReferralKind,
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

/// Where relays send their events: a bounded channel to the analysis, and the connection ids,
/// which every proxy sending to the same analysis shares (clones share both).
#[derive(Debug, Clone)]
pub struct Events {
    tx: mpsc::Sender<ProxyEvent>,
    next_id: Arc<AtomicU64>,
}

impl Events {
    /// The next connection id (from 1).
    fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends an event, waiting while the channel is full; an analysis that has gone is ignored.
    async fn send(&self, ev: ProxyEvent) {
        let _ = self.tx.send(ev).await;
    }
}

/// A channel for proxy events holding at most `capacity` of them: the sending side for
/// [`Proxy::start`] and the receiving side for the analysis.
pub fn channel(capacity: usize) -> (Events, mpsc::Receiver<ProxyEvent>) {
    let (tx, rx) = mpsc::channel(capacity);
    (Events { tx, next_id: Arc::new(AtomicU64::new(1)) }, rx)
}

struct Shared {
    cfg: ProxyConfig,
    events: Events,
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
    pub async fn start(cfg: ProxyConfig, events: Events) -> std::io::Result<Proxy> {
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
        tracing::info!(listener = %local_addr, upstream = %cfg.upstream, "proxy listening");
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
    let local = listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, client)) => {
                    tracing::debug!(listener = %local, %client, "connection accepted");
                    let shared = shared.clone();
                    let target = target.clone();
                    shared.open.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        relay::relay(sock, client, target, &shared).await;
                        shared.open.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                // Out of descriptors and the like: keep serving the others.
                Err(e) => {
                    tracing::warn!(listener = %local, error = %e, "accept failed; still listening");
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
            },
            _ = stop.changed() => break,
        }
    }
    tracing::debug!(listener = %local, "listener closed");
}

/// The advertised address for a referral target, opening its listener on first use.
fn listener_for(target: &str, shared: &Arc<Shared>) -> Option<String> {
    let mut map = shared.targets.lock().ok()?;
    if let Some(a) = map.get(target) {
        return Some(a.clone());
    }
    if map.len() >= shared.cfg.max_targets {
        tracing::warn!(
            target = %sanitize(target),
            limit = shared.cfg.max_targets,
            "referral not followed: the proxy already listens for as many targets as it may"
        );
        return None;
    }
    let opened = std::net::TcpListener::bind(SocketAddr::new(shared.cfg.listen.ip(), 0)).and_then(|l| {
        l.set_nonblocking(true)?;
        let port = l.local_addr()?.port();
        Ok((TcpListener::from_std(l)?, port))
    });
    let (listener, port) = match opened {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(target = %sanitize(target), error = %e, "cannot open a listener for a referral target");
            return None;
        }
    };
    let advertised = SocketAddr::new(shared.advertise_ip, port).to_string();
    tracing::info!(target = %sanitize(target), listener = %advertised, "listening for a referral target");
    map.insert(target.to_string(), advertised.clone());
    tokio::spawn(accept_loop(listener, target.to_string(), shared.clone()));
    Some(advertised)
}
