//! A line connection for the testkit's server and clients: owns the socket and the read
//! buffer, reads whole frames with the library's own wire decoder, and logs every byte sent
//! and received so tests can check that a proxy changed nothing it should not.

use crate::msnp::wire::{Decoder, Frame, JunkReason, PayloadState, WireLimits};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one side of a connection sent and received.
#[derive(Debug, Clone, Default)]
pub struct ByteLog {
    /// This side's address.
    pub local: Option<SocketAddr>,
    /// The peer's address.
    pub peer: Option<SocketAddr>,
    /// Bytes written.
    pub sent: Vec<u8>,
    /// Bytes read.
    pub received: Vec<u8>,
}

/// Logs of many connections, shared.
pub type Logs = Arc<Mutex<Vec<Arc<Mutex<ByteLog>>>>>;

/// A command line and its payload, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The line's tokens.
    pub tokens: Vec<String>,
    /// The payload, for payload commands.
    pub payload: Option<Vec<u8>>,
}

impl Msg {
    /// The verb.
    pub fn verb(&self) -> &str {
        self.tokens.first().map_or("", String::as_str)
    }

    /// Token `i` (0 is the verb), or "".
    pub fn arg(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", String::as_str)
    }
}

/// A connection speaking MSNP lines.
pub struct LineConn {
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
    log: Option<Arc<Mutex<ByteLog>>>,
}

impl LineConn {
    /// Wraps a connected stream; when `logs` is given, its bytes are logged there.
    pub fn new(stream: TcpStream, logs: Option<&Logs>) -> Self {
        let _ = stream.set_nodelay(true);
        let log = logs.map(|l| {
            let entry = Arc::new(Mutex::new(ByteLog {
                local: stream.local_addr().ok(),
                peer: stream.peer_addr().ok(),
                ..Default::default()
            }));
            if let Ok(mut all) = l.lock() {
                all.push(entry.clone());
            }
            entry
        });
        let limits = WireLimits { max_line: 64 * 1024, max_payload: 16 << 20, keep_payload: 16 << 20 };
        LineConn { stream, decoder: Decoder::new(limits), buf: vec![0; 64 * 1024], log }
    }

    /// Connects to `addr`.
    pub async fn connect(addr: &str, logs: Option<&Logs>) -> std::io::Result<Self> {
        Ok(LineConn::new(TcpStream::connect(addr).await?, logs))
    }

    /// The peer's address.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.stream.peer_addr().ok()
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(l) = &self.log {
            if let Ok(mut l) = l.lock() {
                l.sent.extend_from_slice(bytes);
            }
        }
        self.stream.write_all(bytes).await
    }

    /// Sends one line (CRLF added).
    pub async fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await
    }

    /// Sends a payload command: `head` then the payload's length, CRLF, the payload.
    pub async fn send_payload(&mut self, head: &str, payload: &[u8]) -> std::io::Result<()> {
        let mut b = format!("{head} {}\r\n", payload.len()).into_bytes();
        b.extend_from_slice(payload);
        self.send_raw(&b).await
    }

    /// The next command, or `None` when the peer closed.
    pub async fn recv(&mut self) -> std::io::Result<Option<Msg>> {
        loop {
            while let Some(f) = self.decoder.next_frame() {
                if let Frame::Junk { reason: JunkReason::LineTooLong, .. } = f {
                    // A line longer than any command: the connection ends, as MSN's did.
                    return Ok(None);
                }
                if let Frame::Line { line, payload, .. } = f {
                    let text = String::from_utf8_lossy(&line);
                    let tokens = text.split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect();
                    let payload = match payload {
                        PayloadState::Some(p) => Some(p.bytes),
                        _ => None,
                    };
                    return Ok(Some(Msg { tokens, payload }));
                }
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return Ok(None);
            }
            if let Some(l) = &self.log {
                if let Ok(mut l) = l.lock() {
                    l.received.extend_from_slice(&self.buf[..n]);
                }
            }
            self.decoder.push(&self.buf[..n]);
        }
    }

    /// Receives until a command with verb `verb` arrives (others are returned in order too).
    pub async fn expect(&mut self, verb: &str) -> std::io::Result<Msg> {
        loop {
            match self.recv().await? {
                Some(m) if m.verb() == verb => return Ok(m),
                Some(_) => continue,
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("closed while waiting for {verb}"),
                    ))
                }
            }
        }
    }

    /// Makes the connection end with a reset when it is dropped.
    pub fn reset(&self) {
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(std::time::Duration::ZERO));
    }

    /// Closes the sending side (FIN) and waits for the peer to close.
    pub async fn close(mut self) -> std::io::Result<()> {
        self.stream.shutdown().await?;
        while self.recv().await?.is_some() {}
        Ok(())
    }
}
