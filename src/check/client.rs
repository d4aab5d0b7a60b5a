//! The conformance client's connection: one TCP connection to the server under test, read
//! with the library's own frame decoder, every read under the case's deadline. Everything sent
//! and received is kept twice: as short, terminal-safe transcript lines for the case's report,
//! and as proxy events with the exact bytes, which the analysis reads after the case (so every
//! rule applies to the server's lines whatever the case is about).

use crate::escape::sanitize;
use crate::flow::{CloseKind, Dir};
use crate::msnp::wire::{Decoder, Frame, PayloadState, WireLimits};
use crate::proxy::{now_ns, ProxyEvent};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest transcript line kept (longer ones are cut and say so).
const SHOWN: usize = 160;

/// A line as received: its tokens and its payload.
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// The tokens of the line.
    pub tokens: Vec<String>,
    /// The payload of a payload command.
    pub payload: Option<Vec<u8>>,
}

impl Line {
    /// The verb (or error code).
    pub fn verb(&self) -> &str {
        self.arg(0)
    }

    /// Token `i` (0 is the verb), or "".
    pub fn arg(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", String::as_str)
    }

    /// The line as sent, tokens joined by spaces, made safe and cut for a report, with the
    /// cookie after `CKI` (XFR SB, RNG) redacted.
    pub fn shown(&self) -> String {
        let mut t = self.tokens.clone();
        for i in 1..t.len() {
            if t[i - 1] == "CKI" {
                t[i] = crate::session::REDACTED.to_string();
            }
        }
        shown(&t.join(" "))
    }

    /// Whether it is an error reply (three digits).
    pub fn is_error(&self) -> bool {
        self.verb().len() == 3 && self.verb().bytes().all(|b| b.is_ascii_digit())
    }
}

/// Wire text made safe and cut to [`SHOWN`] characters.
pub fn shown(s: &str) -> String {
    let s = sanitize(s);
    if s.chars().count() <= SHOWN {
        return s.into_owned();
    }
    let cut: String = s.chars().take(SHOWN).collect();
    format!("{cut}… ({} bytes)", s.len())
}

/// What one case sent and received, over all its connections: the exact bytes, for the
/// analysis (which also makes the case's transcript, with secrets redacted as everywhere).
#[derive(Debug, Default)]
pub struct CaseLog {
    /// Events in the order they happened.
    pub events: Vec<ProxyEvent>,
    next: u64,
    /// Bytes kept so far; beyond [`MAX_LOGGED`] data is counted, not kept.
    bytes: usize,
    /// Bytes not kept.
    pub cut: u64,
    /// The dialect the server chose (the last VER answered).
    pub dialect: Option<u8>,
}

/// Bytes of a case's traffic kept for the analysis (a server flooding a case is cut there).
const MAX_LOGGED: usize = 8 << 20;

/// The shared log of a case.
pub type Log = Arc<Mutex<CaseLog>>;

/// Why a case could not go on.
#[derive(Debug, Clone)]
pub enum Stop {
    /// The server did not answer in time.
    Timeout(String),
    /// The server closed the connection.
    Closed(String),
    /// The connection could not be made or broke.
    Io(String),
    /// The server answered something the case cannot go on from.
    Unexpected {
        /// What the specification asks for.
        expected: String,
        /// What came back.
        actual: String,
    },
    /// The case needs something the target or the options do not give.
    Skip(String),
}

/// A client connection of a case.
pub struct Client {
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
    id: u64,
    timeout: Duration,
    log: Log,
    /// Lines read but not yet taken.
    pending: std::collections::VecDeque<Line>,
    closed: bool,
    /// The dialect VER settled on (2 until then).
    pub dialect: u8,
    /// The friendly name `USR OK` gave (up to MSNP9), or "".
    pub name: String,
    /// Answer the server's challenges (`CHL 0 challenge`) with `QRY`, as a client must.
    pub answer_challenges: bool,
    /// The TrID of the last `QRY` sent by [`Client::answer_challenge`].
    qry_trid: u32,
    /// The automatic `QRY` not yet answered.
    qry_wait: Option<u32>,
    /// Bytes of the lines held back since the automatic `QRY` was sent.
    held: usize,
    /// The login's profile said the address book is migrated (`ABCHMigrated: 1`): groups and
    /// contacts have GUIDs (MSNP10; always from MSNP11).
    pub abch_migrated: bool,
}

/// Bytes of lines held back while an automatic `QRY` is unanswered.
const MAX_HELD: usize = 8 << 20;

impl Client {
    /// Connects to `addr` within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration, log: &Log) -> Result<Client, Stop> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Stop::Io(format!("cannot connect to {}: {e}", shown(addr)))),
            Err(_) => return Err(Stop::Timeout(format!("connecting to {}", shown(addr)))),
        };
        let _ = stream.set_nodelay(true);
        let (client, server) = (
            stream.local_addr().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
            stream.peer_addr().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
        );
        let id = {
            let mut l = log.lock().map_err(|_| Stop::Io("log poisoned".into()))?;
            l.next += 1;
            let id = l.next;
            l.events.push(ProxyEvent::Open { id, client, server, ts_ns: now_ns() });
            id
        };
        let limits = WireLimits { max_line: 1 << 20, max_payload: 1 << 20, keep_payload: 1 << 20 };
        Ok(Client {
            stream,
            decoder: Decoder::new(limits),
            buf: vec![0; 64 * 1024],
            id,
            timeout,
            log: log.clone(),
            pending: Default::default(),
            closed: false,
            dialect: 2,
            name: String::new(),
            answer_challenges: true,
            qry_trid: 900,
            qry_wait: None,
            held: 0,
            abch_migrated: false,
        })
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let ev = ProxyEvent::Data { id: self.id, dir: Dir::C2S, ts_ns: now_ns(), bytes: bytes.to_vec() };
        self.note_event(ev);
        self.stream.write_all(bytes).await.map_err(|e| Stop::Io(format!("sending: {e}")))
    }

    fn note_event(&self, ev: ProxyEvent) {
        if let Ok(mut l) = self.log.lock() {
            if let ProxyEvent::Data { bytes, .. } = &ev {
                if l.bytes + bytes.len() > MAX_LOGGED {
                    l.cut += bytes.len() as u64;
                    return;
                }
                l.bytes += bytes.len();
            }
            l.events.push(ev);
        }
    }

    /// Sends a line (CRLF added).
    pub async fn send(&mut self, line: &str) -> Result<(), Stop> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await
    }

    /// Sends a payload command: `head`, the payload's length, CRLF, the payload.
    pub async fn send_payload(&mut self, head: &str, payload: &[u8]) -> Result<(), Stop> {
        let mut b = format!("{head} {}\r\n", payload.len()).into_bytes();
        b.extend_from_slice(payload);
        self.send_raw(&b).await
    }

    /// The next line, waiting at most `wait`; `Ok(None)` when nothing came in time. While an
    /// automatic `QRY` is unanswered, the lines after the challenge are held back (up to
    /// `wait`, and at most [`MAX_HELD`] bytes of them) so that its answer is read before the
    /// case goes on.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Line>, Stop> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // While an automatic QRY is unanswered, lines are held back, so that a case never
            // ends with it open.
            if self.qry_wait.is_none() {
                if let Some(l) = self.pending.pop_front() {
                    return Ok(Some(l));
                }
            }
            // A server that never stops sending has a ready socket: the deadline is checked
            // here, not only by the read's timer.
            if tokio::time::Instant::now() >= deadline {
                self.qry_wait = None;
                return Ok(self.pending.pop_front());
            }
            let mut decoded = false;
            while let Some(f) = self.decoder.next_frame() {
                // Gaps and junk are the analysis's to report.
                if let Frame::Line { line, payload, .. } = f {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    let tokens = text.split([' ', '\t']).filter(|t| !t.is_empty()).map(str::to_string).collect();
                    let payload = match payload {
                        PayloadState::Some(p) => Some(p.bytes),
                        _ => None,
                    };
                    let line = Line { tokens, payload };
                    if self.qry_wait.is_some_and(|t| line.arg(1) == t.to_string()) {
                        self.qry_wait = None;
                    }
                    let challenge = (line.verb() == "CHL" && self.answer_challenges && self.qry_wait.is_none())
                        .then(|| line.arg(2).to_string());
                    if self.qry_wait.is_some() {
                        self.held += line.tokens.iter().map(String::len).sum::<usize>()
                            + line.payload.as_ref().map_or(0, Vec::len);
                    }
                    self.pending.push_back(line);
                    if let Some(chl) = challenge {
                        // One answer at a time, sent within the wait; a send that fails is the
                        // next read's to report.
                        if let Ok(Ok(Some(t))) = tokio::time::timeout_at(deadline, self.answer_challenge(&chl)).await {
                            self.qry_wait = Some(t);
                            self.held = 0;
                        }
                    }
                    if self.held > MAX_HELD {
                        self.qry_wait = None;
                    }
                    decoded = true;
                    break;
                }
            }
            if decoded {
                continue;
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf)).await;
            let n = match read {
                Err(_) => continue,
                Ok(Err(e)) => return Err(Stop::Io(format!("reading: {e}"))),
                Ok(Ok(0)) if !self.pending.is_empty() => {
                    self.qry_wait = None;
                    continue;
                }
                Ok(Ok(0)) => {
                    self.note_event(ProxyEvent::HalfClose { id: self.id, dir: Dir::S2C, ts_ns: now_ns() });
                    return Err(Stop::Closed("the server closed the connection".into()));
                }
                Ok(Ok(n)) => n,
            };
            let ev = ProxyEvent::Data { id: self.id, dir: Dir::S2C, ts_ns: now_ns(), bytes: self.buf[..n].to_vec() };
            self.note_event(ev);
            self.decoder.push(&self.buf[..n]);
        }
    }

    /// Answers a challenge with `QRY t product 32` and the response of the dialect's official
    /// client, when its key is public: the QRY's TrID, or `None` when nothing was sent.
    pub async fn answer_challenge(&mut self, challenge: &str) -> Result<Option<u32>, Stop> {
        let Some(product) = crate::msnp::auth::client_product(self.dialect) else { return Ok(None) };
        let Some(response) = crate::msnp::auth::qry_response(challenge, product) else { return Ok(None) };
        self.qry_trid = self.qry_trid.wrapping_add(1);
        self.send_payload(&format!("QRY {} {product}", self.qry_trid), response.as_bytes()).await?;
        Ok(Some(self.qry_trid))
    }

    /// The next line within the case's deadline.
    pub async fn recv(&mut self) -> Result<Line, Stop> {
        match self.recv_within(self.timeout).await? {
            Some(l) => Ok(l),
            None => Err(Stop::Timeout(format!("no line within {:?}", self.timeout))),
        }
    }

    /// The first line that `want` accepts; lines before it are skipped (the server may send
    /// presence and messages at any time). `what` says what was waited for.
    pub async fn wait_for(&mut self, what: &str, want: impl Fn(&Line) -> bool) -> Result<Line, Stop> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_within(left).await {
                Ok(Some(l)) if want(&l) => return Ok(l),
                Ok(Some(_)) => continue,
                Ok(None) => return Err(Stop::Timeout(format!("waiting for {what}"))),
                Err(Stop::Closed(_)) => {
                    return Err(Stop::Closed(format!("the server closed while we waited for {what}")))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The reply to TrID `trid`: the first line with that TrID in its TrID slot (a command's
    /// second token, or an error code's).
    pub async fn reply(&mut self, trid: &str) -> Result<Line, Stop> {
        self.wait_for(&format!("the reply to TrID {trid}"), |l| l.arg(1) == trid).await
    }

    /// Whether a line `want` accepts arrives within `wait` (lines before it skipped).
    pub async fn sees_within(&mut self, wait: Duration, want: impl Fn(&Line) -> bool) -> Result<Option<Line>, Stop> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_within(left).await? {
                Some(l) if want(&l) => return Ok(Some(l)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Ends the connection (FIN), noting it for the analysis.
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
        let ts_ns = now_ns();
        self.note_event(ProxyEvent::HalfClose { id: self.id, dir: Dir::C2S, ts_ns });
        // What the server still sends is read for a moment (and analysed), then it is over.
        let mut tail = Vec::new();
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            while let Ok(n) = self.stream.read(&mut self.buf).await {
                if n == 0 || tail.len() > 1 << 20 {
                    break;
                }
                tail.extend_from_slice(&self.buf[..n]);
            }
        })
        .await;
        if !tail.is_empty() {
            self.note_event(ProxyEvent::Data { id: self.id, dir: Dir::S2C, ts_ns: now_ns(), bytes: tail });
        }
        self.end();
    }

    fn end(&mut self) {
        if !self.closed {
            self.closed = true;
            self.note_event(ProxyEvent::Close { id: self.id, ts_ns: now_ns(), how: CloseKind::Fin });
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A connection dropped without `close` still ends for the analysis.
        self.end();
    }
}
