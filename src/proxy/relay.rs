//! One relayed connection: the proxy reaches the target, then copies bytes both ways until
//! both sides have finished, passing on half-closes and resets. Server-to-client bytes go
//! through the referral rewriter; everything is reported to the analysis with the bytes as the
//! sender sent them.

use super::rewrite::{Referral, Rewriter};
use super::{listener_for, now_ns, ProxyEvent, Shared};
use crate::escape::sanitize;
use crate::flow::{CloseKind, Dir};
use crate::msnp::address::with_default_port;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Makes closing the socket send a reset (SO_LINGER with a zero timeout, which never blocks).
fn reset_on_close(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// A connection being relayed.
struct Relay<'a> {
    id: u64,
    client: TcpStream,
    server: TcpStream,
    client_addr: SocketAddr,
    shared: &'a Arc<Shared>,
    rewriter: Rewriter,
    /// One buffer serves both directions (one read is handled at a time), and idle connections
    /// wait on readiness without holding a read in progress: memory per connection stays small.
    buf: Vec<u8>,
    /// What the client is sent (the server's bytes, rewritten).
    out: Vec<u8>,
}

/// Whether the relay goes on after a step; `Err` ends it with that close.
type Step = Result<(), CloseKind>;

/// Relays `client` to `target` until both sides are done.
pub(super) async fn relay(client: TcpStream, client_addr: SocketAddr, target: String, shared: &Arc<Shared>) {
    let Some(server) = connect(&client, client_addr, target, shared).await else { return };
    let server_addr = server.peer_addr().unwrap_or(client_addr);
    let id = shared.events.new_id();
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tracing::debug!(id, client = %client_addr, server = %server_addr, "relaying");
    shared.events.send(ProxyEvent::Open { id, client: client_addr, server: server_addr, ts_ns: now_ns() }).await;
    let mut r = Relay {
        id,
        client,
        server,
        client_addr,
        shared,
        rewriter: Rewriter::default(),
        buf: vec![0u8; 16 * 1024],
        out: Vec::new(),
    };
    let how = r.run().await;
    if how != CloseKind::Fin {
        // Pass the reset (or the end of the grace period) on to both sides.
        reset_on_close(&r.client);
        reset_on_close(&r.server);
    }
    drop(r.client);
    drop(r.server);
    tracing::debug!(id, how = how.as_str(), "relay ended");
    shared.events.send(ProxyEvent::Close { id, ts_ns: now_ns(), how }).await;
}

/// Reaches the target; a refusal or a timeout is reported and the client reset.
async fn connect(
    client: &TcpStream,
    client_addr: SocketAddr,
    target: String,
    shared: &Arc<Shared>,
) -> Option<TcpStream> {
    let timeout = shared.cfg.connect_timeout;
    let reason = match tokio::time::timeout(timeout, TcpStream::connect(&target)).await {
        Ok(Ok(s)) => return Some(s),
        Ok(Err(e)) => {
            tracing::warn!(client = %client_addr, target = %sanitize(&target), error = %e, "the server refused the connection; client reset");
            format!("cannot connect: {e}")
        }
        Err(_) => {
            tracing::warn!(client = %client_addr, target = %sanitize(&target), ?timeout, "the server did not answer in time; client reset");
            format!("no answer within {timeout:?}")
        }
    };
    shared.events.send(ProxyEvent::Failed { client: client_addr, target, reason, ts_ns: now_ns() }).await;
    reset_on_close(client);
    None
}

impl Relay<'_> {
    /// Copies both ways until both sides finished (FIN), one failed (RST) or the grace period
    /// after a shutdown ended (Idle).
    async fn run(&mut self) -> CloseKind {
        let (mut c_done, mut s_done) = (false, false);
        let mut stop = self.shared.shutdown.clone();
        let mut grace_end: Option<tokio::time::Instant> = None;
        loop {
            if c_done && s_done {
                return CloseKind::Fin;
            }
            let grace = async {
                match grace_end {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let step = tokio::select! {
                r = self.client.readable(), if !c_done => match r.and_then(|_| self.client.try_read(&mut self.buf)) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
                    Ok(0) => {
                        c_done = true;
                        self.client_done().await
                    }
                    Ok(n) => self.client_sent(n).await,
                    Err(_) => Err(CloseKind::Rst),
                },
                r = self.server.readable(), if !s_done => match r.and_then(|_| self.server.try_read(&mut self.buf)) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
                    Ok(0) => {
                        s_done = true;
                        self.server_done().await
                    }
                    Ok(n) => self.server_sent(n).await,
                    Err(_) => Err(CloseKind::Rst),
                },
                _ = stop.changed(), if grace_end.is_none() => {
                    grace_end = Some(tokio::time::Instant::now() + self.shared.cfg.grace);
                    Ok(())
                }
                _ = grace => Err(CloseKind::Idle),
            };
            if let Err(how) = step {
                return how;
            }
        }
    }

    fn data(&self, dir: Dir, ts_ns: i64, n: usize) -> ProxyEvent {
        ProxyEvent::Data { id: self.id, dir, ts_ns, bytes: self.buf[..n].to_vec() }
    }

    /// The client's `n` bytes: forwarded first, analysed after (the analysis is off the
    /// latency path).
    async fn client_sent(&mut self, n: usize) -> Step {
        let ts_ns = now_ns();
        let sent = self.server.write_all(&self.buf[..n]).await;
        self.shared.events.send(self.data(Dir::C2S, ts_ns, n)).await;
        sent.map_err(|_| CloseKind::Rst)
    }

    /// The client finished sending: the server is told.
    async fn client_done(&mut self) -> Step {
        self.shared.events.send(ProxyEvent::HalfClose { id: self.id, dir: Dir::C2S, ts_ns: now_ns() }).await;
        self.server.shutdown().await.map_err(|_| CloseKind::Rst)
    }

    /// The server's `n` bytes, with referrals rewritten. A referral is analysed before the
    /// client sees it, so the connection it leads to cannot reach the analysis first; anything
    /// else is forwarded first.
    async fn server_sent(&mut self, n: usize) -> Step {
        self.out.clear();
        let mut rewrites = Vec::new();
        let mut refused = Vec::new();
        let shared = self.shared;
        self.rewriter.push(&self.buf[..n], &mut self.out, &mut |r: &Referral| match listener_for(
            &with_default_port(&r.address),
            shared,
        ) {
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
        let referral = !rewrites.is_empty() || !refused.is_empty();
        for target in refused {
            let reason =
                format!("referral not followed: no listener for it (limit of {} targets)", shared.cfg.max_targets);
            let client = self.client_addr;
            shared.events.send(ProxyEvent::Failed { client, target, reason, ts_ns }).await;
        }
        for (kind, original, rewritten) in rewrites {
            tracing::debug!(id = self.id, kind = kind.as_str(), original = %sanitize(&original), %rewritten, "referral rewritten");
            shared.events.send(ProxyEvent::Rewrite { id: self.id, kind, original, rewritten }).await;
        }
        if referral {
            shared.events.send(self.data(Dir::S2C, ts_ns, n)).await;
        }
        let sent = self.client.write_all(&self.out).await;
        if !referral {
            shared.events.send(self.data(Dir::S2C, ts_ns, n)).await;
        }
        if self.out.capacity() > 64 * 1024 {
            self.out = Vec::new();
        }
        sent.map_err(|_| CloseKind::Rst)
    }

    /// The server finished sending: what the rewriter still holds goes out, and the client is
    /// told.
    async fn server_done(&mut self) -> Step {
        self.out.clear();
        self.rewriter.finish(&mut self.out);
        if !self.out.is_empty() && self.client.write_all(&self.out).await.is_err() {
            return Err(CloseKind::Rst);
        }
        self.shared.events.send(ProxyEvent::HalfClose { id: self.id, dir: Dir::S2C, ts_ns: now_ns() }).await;
        self.client.shutdown().await.map_err(|_| CloseKind::Rst)
    }
}
