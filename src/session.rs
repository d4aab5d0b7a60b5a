//! Per-connection analysis: frames become events, client requests are paired with server
//! responses by TrID, the connection's role, user and dialect are worked out, and the rules that
//! can be checked on one connection are checked. Cross-connection links (referrals) are made by
//! the [`crate::analyzer`], which owns all connections.

use crate::msnp::catalog::{self, Era};
use crate::msnp::command::{self, Command};
use crate::msnp::payload;
use crate::msnp::wire::{Decoder, Ending, Frame, JunkReason, PayloadState, WireLimits};
use crate::reassembly::{CloseKind, ConnId, Dir, GapReason};
use crate::rules::{self, Violation};
use crate::shortstr::ShortStr;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// Options of the analysis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Limits of the wire decoder.
    pub wire: WireLimits,
    /// Known passwords by handle, to verify MD5 responses.
    pub passwords: HashMap<String, String>,
    /// Show cookies and MD5 responses instead of `<redacted>`.
    pub reveal_secrets: bool,
    /// Drop each event once every report has seen it (when no output needs whole
    /// connections), so a long connection's memory does not grow with its events.
    pub stream_events: bool,
    /// Build the display parts of events (line, arguments, fields, payload text); off when no
    /// output shows events.
    pub terse: bool,
}

/// Server role of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, clap::ValueEnum)]
pub enum Role {
    /// Dispatch server.
    DS,
    /// Notification server.
    NS,
    /// Switchboard.
    SB,
    /// Not decided.
    #[serde(rename = "unknown")]
    #[value(name = "unknown")]
    Unknown,
}

impl Role {
    /// `DS`, `NS`, `SB` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::DS => "DS",
            Role::NS => "NS",
            Role::SB => "SB",
            Role::Unknown => "unknown",
        }
    }
}

/// What an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A command line.
    Command,
    /// An error line (three-digit code).
    Error,
    /// Bytes that are not a usable command line.
    Malformed,
    /// Bytes missing from the stream.
    Gap,
    /// A TCP-level anomaly.
    Tcp,
    /// A half-close (FIN) by one side.
    Fin,
}

/// A payload as exported.
#[derive(Debug, Clone, Serialize)]
pub struct PayloadInfo {
    /// Declared length.
    pub length: u64,
    /// MIME headers in order.
    #[serde(serialize_with = "pairs_as_map")]
    pub headers: Vec<(ShortStr, ShortStr)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// Whether every declared byte arrived.
    pub complete: bool,
}

/// One thing that happened on a connection.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Position in the connection's event list.
    pub index: usize,
    /// Capture time in seconds since the epoch.
    #[serde(serialize_with = "ns_as_secs")]
    pub ts: i64,
    /// Direction.
    pub dir: Dir,
    /// Kind.
    pub kind: EventKind,
    /// The verb, or the three digits of an error line.
    pub command: Option<crate::shortstr::ShortStr>,
    /// TrID; `null` where the command has no TrID slot.
    pub trid: Option<u32>,
    /// Arguments after the TrID (secrets redacted unless revealed).
    pub args: Vec<ShortStr>,
    /// The exact line without its ending (secrets redacted unless revealed).
    pub line: Option<String>,
    /// Named, decoded parameters (friendly names URL-decoded).
    #[serde(serialize_with = "pairs_as_map")]
    pub fields: Vec<(&'static str, ShortStr)>,
    /// The error code's name, for error lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_name: Option<&'static str>,
    /// The payload, for payload commands.
    pub payload: Option<PayloadInfo>,
    /// Index into the connection's transactions.
    pub transaction: Option<usize>,
    /// Index into the document's links, for referrals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<usize>,
    /// Stream offset of the event's first byte.
    pub offset: u64,
    /// Length in bytes (for gaps and junk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Human explanation for non-command events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Rule violations found on this event.
    pub violations: Vec<Violation>,
}

impl Event {
    /// An empty event of `kind` (fields filled in by the caller).
    pub fn new(ts: i64, dir: Dir, kind: EventKind) -> Event {
        Event {
            index: 0,
            ts,
            dir,
            kind,
            command: None,
            trid: None,
            args: Vec::new(),
            line: None,
            fields: Vec::new(),
            error_name: None,
            payload: None,
            transaction: None,
            link: None,
            offset: 0,
            length: None,
            note: None,
            violations: Vec::new(),
        }
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Answered by a non-error response.
    Ok,
    /// Answered by an error (or NAK).
    Error,
    /// Never answered.
    Unanswered,
    /// The request expects no reply (MSG U/N) and none came.
    NoReplyExpected,
}

impl Outcome {
    /// Every outcome, in [`Outcome::index`] order.
    pub const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::Error, Outcome::Unanswered, Outcome::NoReplyExpected];

    /// Position in [`Outcome::ALL`] (for per-outcome counters).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        ["ok", "error", "unanswered", "no-reply-expected"][self.index()]
    }
}

/// A client request and the server lines that answered it.
#[derive(Debug, Clone, Serialize)]
pub struct Transaction {
    /// TrID (`null` for PNG/QNG, which pair by order).
    pub trid: Option<u32>,
    /// The request's verb.
    pub command: crate::shortstr::ShortStr,
    /// Event index of the request.
    pub request: usize,
    /// Event indices of the responses.
    pub responses: Vec<usize>,
    /// Outcome.
    pub outcome: Outcome,
    /// Time from request to first response.
    pub latency_ms: Option<f64>,
    #[serde(skip)]
    expects_reply: bool,
    #[serde(skip)]
    ack_mode: Option<char>,
    #[serde(skip)]
    ts: i64,
}

/// Where the connection's dialect label comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectSource {
    /// The VER exchange.
    Negotiated,
    /// The referral that led here.
    Inherited,
    /// Commands or forms only later dialects have.
    Fingerprint,
}

/// A referral seen on a connection, as the analyzer needs it to make links.
#[derive(Debug, Clone)]
pub struct ReferralSeen {
    /// `XFR NS`, `XFR SB` or `RNG`.
    pub kind: &'static str,
    /// Event index of the referral line.
    pub event: usize,
    /// Announced address as written.
    pub address: String,
    /// Cookie (SB referrals).
    pub cookie: Option<String>,
    /// Session id (RNG).
    pub session: Option<String>,
}

/// What an SB connection presented to prove its referral.
#[derive(Debug, Clone)]
pub struct SbAuth {
    /// `USR` (caller) or `ANS` (callee).
    pub verb: &'static str,
    /// Event index.
    pub event: usize,
    /// The handle presented.
    pub handle: String,
    /// The cookie presented.
    pub cookie: String,
    /// Session id (ANS).
    pub session: Option<String>,
}

/// Something the analyzer must act on after an event.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A referral was sent by the server.
    Referral(ReferralSeen),
    /// A switchboard login presented a cookie.
    SbAuth(SbAuth),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Login {
    #[default]
    Start,
    /// USR I sent / challenge seen.
    InProgress,
    /// USR OK received.
    Done,
    /// XFR NS received: the client must stop.
    Referred,
}

/// The analysis of one TCP connection.
#[derive(Debug, Serialize)]
pub struct Connection {
    /// Connection id (from 1).
    pub id: ConnId,
    /// Client address.
    #[serde(serialize_with = "display")]
    pub client: SocketAddr,
    /// Server address.
    #[serde(serialize_with = "display")]
    pub server: SocketAddr,
    /// VLAN id, if tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Server role.
    pub role: Role,
    /// Protocol dialect (`MSNP2`, `CVR0`, `MSNP11+`...), if known.
    pub dialect: Option<String>,
    /// How the dialect was decided.
    pub dialect_source: Option<DialectSource>,
    /// The user (handle) of the client side.
    pub user: Option<String>,
    /// First packet time (seconds).
    #[serde(serialize_with = "ns_as_secs")]
    pub opened: i64,
    /// Close time (seconds).
    #[serde(serialize_with = "opt_ns_as_secs")]
    pub closed: Option<i64>,
    /// How it ended.
    pub close: Option<CloseKind>,
    /// Whether the TCP handshake was captured.
    pub start_seen: bool,
    /// Link (index into the document's links) that led to this connection.
    pub linked_from: Option<usize>,
    /// Events in order.
    pub events: Vec<Event>,
    /// Transactions in request order (in streaming modes, only those not yet settled).
    pub transactions: Vec<Transaction>,
    /// Transactions dropped from the front of `transactions` (the index of its first).
    #[serde(skip)]
    pub tx_base: usize,
    /// Transactions settled early (streaming modes), waiting to be counted and reported.
    #[serde(skip)]
    pub settled: Vec<Transaction>,
    /// Outcomes of transactions already settled and handed on: ok, error, unanswered, no reply.
    #[serde(skip)]
    pub settled_outcomes: [u64; 4],
    /// Events already handed to streaming reports (counting dropped ones).
    #[serde(skip)]
    pub emitted: usize,
    /// Events dropped from the front of `events` (the index of `events[0]`).
    #[serde(skip)]
    pub base: usize,
    /// Commands and error lines, and violations by severity (error, warning, info), counted
    /// as events are emitted (they outlive dropped events).
    #[serde(skip)]
    pub counts: [u64; 4],
    /// Violations added to events after they were emitted (event index, violation).
    #[serde(skip)]
    pub late: Vec<(usize, Violation)>,
    #[serde(skip)]
    st: State,
}

/// A connection's own fields as the JSON document writes them before its events (the
/// document is written piece by piece; see `output::json`).
#[derive(Serialize)]
pub struct ConnectionHead<'a> {
    id: ConnId,
    #[serde(serialize_with = "display")]
    client: &'a SocketAddr,
    #[serde(serialize_with = "display")]
    server: &'a SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<u16>,
    role: Role,
    dialect: Option<&'a str>,
    dialect_source: Option<DialectSource>,
    user: Option<&'a str>,
    #[serde(serialize_with = "ns_as_secs")]
    opened: i64,
    #[serde(serialize_with = "opt_ns_as_secs")]
    closed: Option<i64>,
    close: Option<CloseKind>,
    start_seen: bool,
    linked_from: Option<usize>,
}

impl Connection {
    /// Transactions by outcome (in [`Outcome::index`] order): those settled and handed on early
    /// plus those still held.
    pub fn outcome_counts(&self) -> [u64; 4] {
        let mut counts = self.settled_outcomes;
        for t in &self.transactions {
            counts[t.outcome.index()] += 1;
        }
        counts
    }

    /// The fields written before `events` in the JSON document.
    pub fn head(&self) -> ConnectionHead<'_> {
        ConnectionHead {
            id: self.id,
            client: &self.client,
            server: &self.server,
            vlan: self.vlan,
            role: self.role,
            dialect: self.dialect.as_deref(),
            dialect_source: self.dialect_source,
            user: self.user.as_deref(),
            opened: self.opened,
            closed: self.closed,
            close: self.close,
            start_seen: self.start_seen,
            linked_from: self.linked_from,
        }
    }
}

#[derive(Debug)]
struct State {
    decoders: [Decoder; 2],
    open: crate::fasthash::FastMap<u32, usize>,
    pings: VecDeque<usize>,
    login: Login,
    inf_seen: bool,
    first_c2s: bool,
    offered: Vec<String>,
    challenge: Option<String>,
    login_handle: Option<String>,
    later: u8,
    /// Whether MSNP2-only checks apply (the dialect is known to be MSNP2).
    strict: bool,
    notices: Vec<Notice>,
    opts_reveal: bool,
    /// Non-hotmail handles already reported (S002 is said once per handle).
    foreign: std::collections::HashSet<String>,
    /// Settle transactions early (the streaming modes).
    stream: bool,
    /// Transaction count that triggers the next settle pass.
    settle_next: usize,
    /// The SYN batch being checked (P010).
    syn: Option<SynBatch>,
    /// The IRO roster being checked (P011): (transaction, next item, total, ANS OK seen).
    roster: Option<(usize, u64, u64, bool)>,
    /// The client sent OUT.
    out_sent: bool,
}

/// Progress through a SYN batch: stage 0 = SYN reply seen, 1 GTC, 2 BLP, 3.. LST FL, AL, BL, RL.
#[derive(Debug, Clone)]
struct SynBatch {
    txn: usize,
    serial: String,
    stage: usize,
    /// Next item expected in the current list and its total.
    item: u64,
    total: u64,
}

const SYN_LISTS: [&str; 4] = ["FL", "AL", "BL", "RL"];

/// Largest number of TrIDs tracked per connection; beyond it answered ones are forgotten first.
pub const MAX_OPEN_TRIDS: usize = 65_536;

/// Outstanding PNGs tracked per connection; beyond it the oldest is forgotten (unanswered).
pub const MAX_PINGS: usize = 65_536;

/// In the streaming modes, transactions kept before the unreachable ones are settled.
pub const SETTLE_AT: usize = 4_096;

/// A capture time in nanoseconds as exported: seconds, rounded to the microsecond.
pub fn secs(ns: i64) -> f64 {
    (ns as f64 / 1e3).round() / 1e6
}

fn ns_as_secs<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(secs(*ns))
}

fn opt_ns_as_secs<S: Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ns {
        Some(v) => ns_as_secs(v, s),
        None => s.serialize_none(),
    }
}

fn display<S: Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn pairs_as_map<S: Serializer, K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k.as_ref(), v.as_ref())?;
    }
    m.end()
}

const STATES: [&str; 9] = ["NLN", "FLN", "HDN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN"];
const REDACTED: &str = "<redacted>";

/// Whether `s` ends with `suffix`, ignoring ASCII case.
fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len() && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Whether `h` is a syntactically valid handle ([D §5.4]).
pub fn valid_handle(h: &str) -> bool {
    if h.is_empty() || h.len() > 129 {
        return false;
    }
    let Some((local, domain)) = h.split_once('@') else {
        return false;
    };
    let ok = |c: u8| c.is_ascii_alphanumeric() || b"._-+!#$&'*/=?^`{|}~".contains(&c);
    !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && local.bytes().all(ok)
        && domain.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// Whether `a` is `host[:port]` with a non-empty host and a port from 1 to 65535.
pub fn valid_address(a: &str) -> bool {
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    };
    let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0))
}

/// Checks a URL-encoded friendly name ([D §5.5]); `Err` says what is wrong.
pub fn check_friendly_name(raw: &str) -> Result<(), String> {
    const MAX: usize = 387;
    if raw.len() > MAX {
        return Err(format!("encoded length {} exceeds {MAX}", raw.len()));
    }
    // Decoded on the stack (it is never longer than the encoded form): no allocation.
    let mut decoded = [0u8; MAX];
    let mut n = 0;
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            match (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    i += 3;
                    (h * 16 + l) as u8
                }
                _ => return Err(format!("invalid %-escape at byte {i}")),
            }
        } else {
            i += 1;
            b[i - 1]
        };
        decoded[n] = c;
        n += 1;
    }
    std::str::from_utf8(&decoded[..n]).map(|_| ()).map_err(|_| "decodes to invalid UTF-8".to_string())
}

/// Expected argument counts (after the TrID) of MSNP2 forms: (verb, from client, min, max).
const ARITY: &[(&str, bool, usize, usize)] = &[
    ("VER", true, 1, 16),
    ("VER", false, 1, 16),
    ("INF", true, 0, 0),
    ("INF", false, 1, 8),
    ("CHG", true, 1, 1),
    ("CHG", false, 1, 1),
    ("ILN", false, 3, 3),
    ("NLN", false, 3, 3),
    ("FLN", false, 1, 1),
    ("SYN", true, 1, 1),
    ("SYN", false, 1, 1),
    ("GTC", true, 1, 1),
    ("GTC", false, 2, 2),
    ("BLP", true, 1, 1),
    ("BLP", false, 2, 2),
    ("LST", true, 1, 1),
    ("LST", false, 4, 6),
    ("ADD", true, 3, 3),
    ("ADD", false, 4, 4),
    ("REM", true, 2, 2),
    ("REM", false, 3, 3),
    ("RNG", false, 6, 6),
    ("JOI", false, 2, 2),
    ("BYE", false, 1, 2),
    ("IRO", false, 4, 4),
    ("CAL", true, 1, 1),
    ("CAL", false, 2, 2),
    ("ANS", true, 3, 3),
    ("ANS", false, 1, 1),
    ("MSG", true, 2, 2),
    ("MSG", false, 3, 3),
    ("ACK", false, 0, 0),
    ("NAK", false, 0, 0),
    ("OUT", true, 0, 0),
    ("OUT", false, 0, 1),
    ("PNG", true, 0, 0),
    ("QNG", false, 0, 0),
    ("XFR", true, 1, 1),
    ("CVR", true, 6, 6),
    ("CVR", false, 5, 5),
    ("CVQ", true, 6, 6),
    ("CVQ", false, 5, 5),
    ("REA", true, 2, 2),
    ("REA", false, 3, 3),
    ("SND", true, 1, 1),
    ("SND", false, 1, 1),
    ("URL", true, 1, 2),
    ("URL", false, 2, 2),
];

/// An argument count range (minimum, maximum), if the form has one.
type Arity = Option<(usize, usize)>;

/// The MSNP2 argument count range of a command in a direction, from [`ARITY`] through a table
/// indexed by catalog position (built once).
fn arity(cmd: &Command<'_>, from_client: bool) -> Option<(usize, usize)> {
    static TABLE: std::sync::OnceLock<Vec<[Arity; 2]>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        catalog::CATALOG
            .iter()
            .map(|spec| {
                let find = |client: bool| {
                    ARITY.iter().find(|(v, c, _, _)| *v == spec.verb && *c == client).map(|&(_, _, a, b)| (a, b))
                };
                [find(false), find(true)]
            })
            .collect()
    });
    let spec = cmd.spec?;
    let index = catalog::CATALOG.iter().position(|s| std::ptr::eq(s, spec))?;
    table.get(index)?[usize::from(from_client)]
}

/// Which response verbs may answer a request verb (errors answer anything).
fn compatible(request: &str, response: &str, role: Role) -> bool {
    match request {
        "USR" => response == "USR" || (response == "XFR" && role != Role::NS && role != Role::SB),
        "SYN" => matches!(response, "SYN" | "GTC" | "BLP" | "LST" | "PRP" | "BPR" | "LSG"),
        "CHG" => matches!(response, "CHG" | "ILN"),
        "ADD" => matches!(response, "ADD" | "ILN"),
        "ANS" => matches!(response, "IRO" | "ANS"),
        "MSG" => matches!(response, "ACK" | "NAK"),
        other => other == response,
    }
}

impl Connection {
    /// A new connection.
    pub fn new(
        id: ConnId,
        client: SocketAddr,
        server: SocketAddr,
        vlan: Option<u16>,
        start_seen: bool,
        opened: i64,
        opts: &Options,
    ) -> Self {
        Connection {
            id,
            client,
            server,
            vlan,
            role: Role::Unknown,
            dialect: None,
            dialect_source: None,
            user: None,
            opened,
            closed: None,
            close: None,
            start_seen,
            linked_from: None,
            events: Vec::new(),
            transactions: Vec::new(),
            tx_base: 0,
            settled: Vec::new(),
            settled_outcomes: [0; 4],
            emitted: 0,
            base: 0,
            counts: [0; 4],
            late: Vec::new(),
            st: State {
                decoders: if start_seen {
                    [Decoder::new(opts.wire), Decoder::new(opts.wire)]
                } else {
                    [Decoder::new_mid_stream(opts.wire), Decoder::new_mid_stream(opts.wire)]
                },
                open: Default::default(),
                pings: VecDeque::new(),
                login: Login::Start,
                inf_seen: false,
                first_c2s: true,
                offered: Vec::new(),
                challenge: None,
                login_handle: None,
                later: 0,
                strict: false,
                notices: Vec::new(),
                opts_reveal: opts.reveal_secrets,
                foreign: Default::default(),
                stream: opts.stream_events,
                settle_next: SETTLE_AT,
                syn: None,
                roster: None,
                out_sent: false,
            },
        }
    }

    /// Adds a violation to an event, remembering it as late when the event was emitted.
    pub fn add_violation(&mut self, event: usize, v: Violation) {
        if event < self.emitted {
            self.late.push((event, v.clone()));
        }
        if let Some(e) = self.event_mut(event) {
            e.violations.push(v);
        }
    }

    /// The event with index `i`, unless it was dropped.
    pub fn event_mut(&mut self, i: usize) -> Option<&mut Event> {
        i.checked_sub(self.base).and_then(|k| self.events.get_mut(k))
    }

    /// Notices produced since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.st.notices)
    }

    /// Sets the role and dialect learned from a referral.
    pub fn inherit(&mut self, role: Role, dialect: Option<String>, user: Option<String>, link: usize) {
        if self.role == Role::Unknown {
            self.role = role;
        }
        self.linked_from.get_or_insert(link);
        if self.dialect.is_none() {
            if let Some(d) = dialect {
                self.st.strict = is_msnp2(&d);
                self.dialect = Some(d);
                self.dialect_source = Some(DialectSource::Inherited);
            }
        }
        if self.user.is_none() {
            self.user = user;
        }
    }

    /// Sets the role from an address announced by a referral (before any byte is decoded).
    pub fn set_role_hint(&mut self, role: Role) {
        if self.role == Role::Unknown {
            self.role = role;
        }
    }

    /// Whether MSNP2-only checks run on this connection.
    pub fn strict(&self) -> bool {
        self.st.strict
    }

    /// Bytes of one direction, in order.
    pub fn data(&mut self, dir: Dir, ts: i64, bytes: &[u8], opts: &Options) {
        // The decoder is taken out while its lines are analysed, so ordinary lines can be lent
        // to the analysis without a copy.
        let mut dec = std::mem::take(&mut self.st.decoders[dir.index()]);
        dec.push(bytes);
        loop {
            match dec.fast_line() {
                crate::msnp::wire::FastLine::Line(offset, line, ending) => {
                    self.line(dir, ts, offset, line, ending, PayloadState::None, false, opts);
                }
                crate::msnp::wire::FastLine::Slow => match dec.next_frame() {
                    Some(frame) => self.frame(dir, ts, frame, false, opts),
                    None => break,
                },
            }
        }
        self.st.decoders[dir.index()] = dec;
    }

    /// Bytes that were never captured.
    pub fn gap(&mut self, dir: Dir, ts: i64, offset: u64, len: u64, reason: GapReason, opts: &Options) {
        let frames = self.st.decoders[dir.index()].gap(len);
        let mut cut = Vec::new();
        for f in frames {
            // A line cut by the gap is not the peer's fault; frames before it are ordinary.
            let by_gap = matches!(&f, Frame::Line { ending: Ending::Missing, .. });
            if by_gap {
                cut.push(f);
            } else {
                self.frame(dir, ts, f, false, opts);
            }
        }
        for f in cut {
            self.frame(dir, ts, f, true, opts);
        }
        let why = match reason {
            GapReason::Acked => "acknowledged by the peer but not captured",
            GapReason::Closed => "never captured before the connection ended",
            GapReason::BufferLimit => "hole left when the out-of-order buffer limit was reached",
            GapReason::Snaplen => "cut off by the capture's snap length",
            GapReason::Fragment => "in an IP fragment that could not be reassembled",
        };
        let v = Violation::new(rules::N001, format!("{len} bytes at stream offset {offset} missing: {why}"));
        self.push(Event {
            kind: EventKind::Gap,
            offset,
            length: Some(len),
            note: Some(format!("{len} bytes missing ({why})")),
            violations: vec![v],
            ..self.blank(ts, dir)
        });
    }

    /// A TCP anomaly.
    pub fn tcp_anomaly(&mut self, dir: Dir, ts: i64, text: String) {
        let v = Violation::new(rules::N002, text.clone());
        self.push(Event { kind: EventKind::Tcp, note: Some(text), violations: vec![v], ..self.blank(ts, dir) });
    }

    /// One side finished sending (FIN).
    pub fn half_close(&mut self, dir: Dir, ts: i64, opts: &Options) {
        let frames = self.st.decoders[dir.index()].finish();
        for f in frames {
            self.frame(dir, ts, f, false, opts);
        }
        let who = if dir == Dir::C2S { "client" } else { "server" };
        self.push(Event { kind: EventKind::Fin, note: Some(format!("{who} closed (FIN)")), ..self.blank(ts, dir) });
    }

    /// The connection ended.
    pub fn close(&mut self, ts: i64, how: CloseKind, opts: &Options) {
        for dir in [Dir::C2S, Dir::S2C] {
            let frames = self.st.decoders[dir.index()].finish();
            for f in frames {
                self.frame(dir, ts, f, false, opts);
            }
        }
        self.closed = Some(ts);
        self.close = Some(how);
        // Requests never answered.
        for i in 0..self.transactions.len() {
            let t = &self.transactions[i];
            if !t.responses.is_empty() {
                continue;
            }
            if !t.expects_reply {
                self.transactions[i].outcome = Outcome::NoReplyExpected;
                continue;
            }
            let (req, cmd, trid, ack) = (t.request, t.command.clone(), t.trid, t.ack_mode);
            self.transactions[i].outcome = Outcome::Unanswered;
            let label = trid.map_or(cmd.to_string(), |id| format!("{cmd} {id}"));
            let v = if ack == Some('A') {
                Violation::new(rules::T007, format!("{label} (ack mode A) was never acknowledged"))
            } else {
                Violation::new(
                    rules::T006,
                    format!("{label} got no response before the connection ended ({})", how.as_str()),
                )
            };
            self.add_violation(req, v);
        }
        if self.dialect.is_none() && self.st.later > 0 {
            self.dialect = Some(format!("MSNP{}+", self.st.later));
            self.dialect_source = Some(DialectSource::Fingerprint);
        }
    }

    fn blank(&self, ts: i64, dir: Dir) -> Event {
        Event::new(ts, dir, EventKind::Command)
    }

    /// The dialect, or what later-dialect commands seen so far suggest.
    pub fn dialect_label(&self) -> Option<String> {
        self.dialect.clone().or_else(|| (self.st.later > 0).then(|| format!("MSNP{}+", self.st.later)))
    }

    fn push(&mut self, mut e: Event) -> usize {
        e.index = self.base + self.events.len();
        self.events.push(e);
        e_index(self)
    }

    fn frame(&mut self, dir: Dir, ts: i64, frame: Frame, cut_by_gap: bool, opts: &Options) {
        match frame {
            Frame::Junk { offset, len, preview, reason } => {
                let (v, note) = match reason {
                    JunkReason::LineTooLong => (
                        Violation::new(
                            rules::F009,
                            format!("line of {len} bytes exceeds the limit of {} bytes", opts.wire.max_line),
                        ),
                        format!("{len}-byte line over the limit, skipped"),
                    ),
                    JunkReason::Resync => (
                        Violation::new(rules::N004, format!("{len} bytes skipped after a gap until a command line")),
                        format!("{len} bytes skipped to resynchronise"),
                    ),
                };
                self.push(Event {
                    kind: EventKind::Malformed,
                    offset,
                    length: Some(len),
                    line: Some(String::from_utf8_lossy(&preview).into_owned()),
                    note: Some(note),
                    violations: vec![v],
                    ..self.blank(ts, dir)
                });
            }
            Frame::Line { offset, line, ending, payload } => {
                self.line(dir, ts, offset, &line, ending, payload, cut_by_gap, opts);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        dir: Dir,
        ts: i64,
        offset: u64,
        raw: &[u8],
        ending: Ending,
        payload: PayloadState,
        cut_by_gap: bool,
        opts: &Options,
    ) {
        // Checked first: valid UTF-8 (nearly every line) needs no lossy pass.
        let text = match std::str::from_utf8(raw) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(raw),
        };
        let text: &str = &text;
        let from_client = dir == Dir::C2S;
        let cmd = command::parse(text, from_client);
        let mut v: Vec<Violation> = Vec::new();
        let mut note = None;
        match ending {
            Ending::CrLf => {}
            Ending::Lf => v.push(Violation::new(rules::F003, "line ends in LF without CR")),
            Ending::Missing if cut_by_gap => note = Some("line cut short by missing bytes".to_string()),
            Ending::Missing => v.push(Violation::new(
                rules::F010,
                format!("{} bytes without CRLF at the end of the stream", raw.len()),
            )),
        }
        if raw.contains(&b'\r') {
            v.push(Violation::new(rules::F002, "bare CR inside the line"));
        }
        let known = cmd.spec.is_some() || cmd.error.is_some();
        let mut kind = if cmd.error.is_some() { EventKind::Error } else { EventKind::Command };
        if cut_by_gap && !known {
            kind = EventKind::Malformed;
        } else if !known {
            let upper = cmd.verb.to_ascii_uppercase();
            if cmd.verb.len() == 3 && catalog::lookup(&upper).is_some() {
                v.push(Violation::new(rules::F011, format!("command code {:?} should be {upper:?}", cmd.verb)));
            } else if cmd.verb.is_empty() {
                v.push(Violation::new(rules::F001, "empty line"));
            } else {
                v.push(Violation::new(rules::F001, format!("unknown command code {:?}", truncate(cmd.verb, 40))));
            }
            kind = EventKind::Malformed;
        }
        if cmd.odd_spacing {
            v.push(Violation::new(rules::F004, "parameters separated by more than one space or by tabs"));
        }
        if let Some(bad) = cmd.bad_trid {
            v.push(Violation::new(
                rules::T001,
                format!("TrID {:?} is not a decimal from 0 to 4294967295", truncate(bad, 40)),
            ));
        } else if known && cmd.error.is_none() && cmd.trid.is_none() && catalog::has_trid(cmd.verb, from_client) {
            v.push(Violation::new(rules::T001, format!("{} needs a TrID", cmd.verb)));
        }

        // Payload.
        let payload_info = match payload {
            PayloadState::None => None,
            PayloadState::BadLength(reason) => {
                v.push(Violation::new(rules::F005, format!("MSG {reason}")));
                None
            }
            PayloadState::Some(p) => {
                if p.truncated > 0 {
                    v.push(Violation::new(
                        rules::F006,
                        format!("payload declared {} bytes, {} never arrived", p.declared, p.truncated),
                    ));
                }
                let mime = payload::parse(&p.bytes);
                if cmd.verb == "MSG" && p.complete() && !mime.has_blank_line {
                    v.push(Violation::new(rules::F007, "payload has no header block ended by an empty line"));
                }
                if cmd.verb == "MSG" && from_client && p.declared > 1664 {
                    v.push(Violation::new(rules::F008, format!("payload of {} bytes", p.declared)));
                }
                (!opts.terse).then(|| PayloadInfo {
                    length: p.declared,
                    headers: mime.headers.iter().map(|(k, v)| (ShortStr::new(k), ShortStr::new(v))).collect(),
                    body: String::from_utf8_lossy(mime.body).into_owned(),
                    complete: p.complete(),
                })
            }
        };

        let idx = self.base + self.events.len();
        let (fields, secrets) = if known && !opts.terse {
            self.fields_and_secrets(&cmd, from_client)
        } else {
            (Vec::new(), Secrets::default())
        };
        if known && kind != EventKind::Malformed {
            self.check(&cmd, dir, idx, opts, &mut v);
        }
        let transaction =
            if known && kind != EventKind::Malformed { self.pair(&cmd, dir, ts, idx, &mut v) } else { None };

        // Redact secrets in the exported line and arguments.
        let reveal = self.st.opts_reveal;
        let (line, args) = if opts.terse {
            (None, Vec::new())
        } else {
            let (l, a) = redact(text, &cmd, secrets, reveal);
            (Some(l), a)
        };
        let error_name = cmd.error.and_then(catalog::error_code).map(|e| e.name);
        self.push(Event {
            kind,
            command: (!cmd.verb.is_empty()).then(|| crate::shortstr::ShortStr::new(cmd.verb)),
            trid: cmd.trid,
            args,
            line,
            fields,
            error_name,
            payload: payload_info,
            transaction,
            offset,
            note,
            violations: v,
            ..self.blank(ts, dir)
        });
    }

    /// Named, decoded parameters, and the argument positions that hold secrets.
    fn fields_and_secrets(&self, cmd: &Command<'_>, from_client: bool) -> (Vec<(&'static str, ShortStr)>, Secrets) {
        let (names, secrets) = param_names(cmd, from_client);
        let a = &cmd.args;
        let mut fields = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let Some(value) = a.get(i) else { break };
            let (name, repeats) = match name.strip_suffix("...") {
                Some(n) => (n, true),
                None => (*name, false),
            };
            let shown = if secrets.contains(i) && !self.st.opts_reveal {
                ShortStr::new(REDACTED)
            } else if repeats {
                a[i..].join(" ").into()
            } else if name.ends_with("name") {
                command::url_decode(value).into()
            } else {
                ShortStr::new(value)
            };
            fields.push((name, shown));
        }
        (fields, secrets)
    }

    /// Per-command checks (state, syntax) and notices for the analyzer.
    fn check(&mut self, cmd: &Command<'_>, dir: Dir, idx: usize, opts: &Options, v: &mut Vec<Violation>) {
        let from_client = dir == Dir::C2S;
        let a = &cmd.args;
        let verb = cmd.verb;
        let spec = cmd.spec;
        // Dialect: later commands fingerprint a later dialect.
        if let Some(s) = spec {
            if s.since > 2 {
                self.st.later = self.st.later.max(s.since);
                if self.st.strict {
                    v.push(Violation::new(rules::P009, format!("{verb} belongs to MSNP{}", s.since)));
                }
            }
        }
        if verb == "QNG" && !a.is_empty() {
            self.st.later = self.st.later.max(9);
        }
        if verb == "MSG" && from_client && a.first() == Some(&"D") {
            self.st.later = self.st.later.max(9);
        }
        if verb == "USR" && a.first().is_some_and(|p| *p == "TWN" || *p == "SSO") {
            self.st.later = self.st.later.max(if a[0] == "SSO" { 15 } else { 8 });
        }

        // Role inference from evidence.
        if self.role == Role::Unknown {
            let r = match (verb, from_client) {
                ("ANS", true)
                | ("CAL", _)
                | ("JOI", false)
                | ("IRO", false)
                | ("BYE", false)
                | ("ACK", false)
                | ("NAK", false) => Role::SB,
                ("USR", true) if a.len() == 2 && !matches!(a[0], "MD5" | "CTP" | "TWN" | "SSO") => Role::SB,
                (
                    "SYN" | "CHG" | "ILN" | "NLN" | "FLN" | "RNG" | "LST" | "ADD" | "REM" | "GTC" | "BLP" | "PNG"
                    | "QNG",
                    _,
                ) => Role::NS,
                ("USR", false) if a.first() == Some(&"OK") || a.first() == Some(&"MD5") => Role::NS,
                ("MSG", false) if a.first() == Some(&"Hotmail") => Role::NS,
                ("MSG", true) => Role::SB,
                ("XFR", false) if a.first() == Some(&"NS") && cmd.trid.is_some_and(|t| t != 0) => Role::DS,
                _ => Role::Unknown,
            };
            self.role = r;
        } else if self.role == Role::NS && verb == "XFR" && !from_client && a.first() == Some(&"NS") {
            // The login answered by a referral: this was a dispatch connection.
            if self.st.login != Login::Done && cmd.trid.is_some_and(|t| t != 0) {
                self.role = Role::DS;
            }
        }

        // VER: negotiation decides the dialect.
        if verb == "VER" {
            if from_client {
                self.st.offered = a.iter().map(|s| s.to_ascii_uppercase()).collect();
            } else if let Some(chosen) = a.first() {
                let up = chosen.to_ascii_uppercase();
                if up != "0" && !self.st.offered.is_empty() && !self.st.offered.contains(&up) {
                    v.push(Violation::new(
                        rules::S013,
                        format!("server chose {chosen}, client offered {}", self.st.offered.join(" ")),
                    ));
                }
                if up != "0" {
                    self.st.strict = is_msnp2(&up);
                    self.dialect = Some(up);
                    self.dialect_source = Some(DialectSource::Negotiated);
                }
            }
        }
        let strict = self.st.strict;
        let login_role = matches!(self.role, Role::DS | Role::NS | Role::Unknown);

        // Login order (DS/NS), checked when the connection start was seen.
        if from_client && self.start_seen && login_role && self.role != Role::SB {
            if self.st.first_c2s
                && verb != "VER"
                && !(verb == "XFR" && a.first() == Some(&"NS"))
                && self.role != Role::SB
            {
                // SB logins are USR with a cookie; role may not be known yet.
                let sb_like = (verb == "USR" && a.len() == 2 && !matches!(a[0], "MD5" | "CTP")) || verb == "ANS";
                if !sb_like {
                    v.push(Violation::new(rules::P005, format!("first command is {verb}")));
                }
            }
            if strict
                && self.st.login != Login::Done
                && self.st.login != Login::Referred
                && !matches!(verb, "VER" | "INF" | "USR" | "CVR" | "CVQ" | "PNG" | "OUT" | "XFR")
            {
                v.push(Violation::new(rules::P001, format!("{verb} before login completed")));
            }
        }
        if from_client && self.st.login == Login::Referred && verb != "OUT" {
            v.push(Violation::new(rules::P002, format!("{verb} sent after the XFR NS referral")));
        }
        if from_client
            && self.role == Role::SB
            && self.st.first_c2s
            && self.start_seen
            && !matches!(verb, "USR" | "ANS")
        {
            v.push(Violation::new(rules::P006, format!("first command is {verb}")));
        }
        if from_client {
            self.st.first_c2s = false;
            if self.st.out_sent {
                v.push(Violation::new(rules::P013, format!("{verb} after OUT")));
            }
            self.st.out_sent |= verb == "OUT";
        }

        // Direction and role validity of MSNP2 commands.
        if let Some(s) = spec.filter(|s| s.since == 2) {
            let form = if from_client { s.client } else { s.server };
            let role_ok = match self.role {
                Role::DS => s.roles.ds,
                Role::NS => s.roles.ns,
                Role::SB => s.roles.sb,
                Role::Unknown => true,
            };
            if form.is_none() {
                let who = if from_client { "client" } else { "server" };
                v.push(Violation::new(rules::P003, format!("{verb} is never sent by the {who}")));
            } else if !role_ok && (strict || self.role == Role::SB) {
                v.push(Violation::new(rules::P003, format!("{verb} is not a {} command", self.role.as_str())));
            }
        }

        // Login progress, users, MD5.
        match (verb, from_client) {
            ("INF", true) => self.st.inf_seen = true,
            ("JOI" | "BYE", false) => {
                if let Some((_, next, total, false)) = self.st.roster {
                    if total > 0 || next > 1 {
                        v.push(Violation::new(rules::P011, format!("{verb} before the roster ended with ANS OK")));
                    }
                }
            }
            ("INF", false) if a.iter().any(|p| p.split(',').any(|x| x == "CTP")) => {
                v.push(Violation::new(rules::S012, "server offers CTP (clear-text password)"));
            }
            ("USR", true) => match a.first().copied() {
                Some("MD5") | Some("CTP") => {
                    if a[0] == "CTP" {
                        v.push(Violation::new(rules::S012, "client authenticates with CTP (clear-text password)"));
                    }
                    if a.get(1) == Some(&"I") {
                        if strict && !self.st.inf_seen && self.start_seen {
                            v.push(Violation::new(rules::P004, "USR I sent without INF first"));
                        }
                        if let Some(h) = a.get(2) {
                            self.st.login_handle = Some(h.to_string());
                            self.user.get_or_insert_with(|| h.to_string());
                        }
                        self.st.login = Login::InProgress;
                    } else if a.get(1) == Some(&"S") && a[0] == "MD5" {
                        if self.st.login == Login::Start && self.start_seen {
                            v.push(Violation::new(rules::P012, "USR MD5 S without USR MD5 I before it"));
                        }
                        if let Some(resp) = a.last().filter(|_| a.len() >= 3) {
                            if resp.len() != 32
                                || !resp.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                            {
                                v.push(Violation::new(
                                    rules::S009,
                                    format!("response is {} characters, not 32 lower-case hex digits", resp.len()),
                                ));
                            } else if let (Some(ch), Some(user)) = (&self.st.challenge, self.user.as_ref()) {
                                if let Some(pw) = opts.passwords.get(user) {
                                    let want = md5_response(ch, pw);
                                    if *resp != want {
                                        v.push(Violation::new(
                                            rules::S010,
                                            format!("response for {user} does not match the password given"),
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
                _ if a.len() >= 2 => {
                    self.user.get_or_insert_with(|| a[0].to_string());
                    self.st.notices.push(Notice::SbAuth(SbAuth {
                        verb: "USR",
                        event: idx,
                        handle: a[0].to_string(),
                        cookie: a[1].to_string(),
                        session: None,
                    }));
                }
                _ => {}
            },
            ("USR", false) => {
                if a.first() == Some(&"MD5") && a.get(1) == Some(&"S") {
                    self.st.challenge = a.get(2).map(|s| s.to_string());
                } else if a.first() == Some(&"OK") {
                    self.st.login = Login::Done;
                    if let Some(h) = a.get(1) {
                        self.user = Some(h.to_string());
                    }
                    if self.role == Role::Unknown {
                        self.role = Role::NS;
                    }
                }
            }
            ("ANS", true) if a.len() >= 3 => {
                self.user.get_or_insert_with(|| a[0].to_string());
                self.st.notices.push(Notice::SbAuth(SbAuth {
                    verb: "ANS",
                    event: idx,
                    handle: a[0].to_string(),
                    cookie: a[1].to_string(),
                    session: Some(a[2].to_string()),
                }));
            }
            ("XFR", false) => {
                let kind = a.first().copied();
                if kind == Some("NS") {
                    if cmd.trid.is_some_and(|t| t != 0) || self.st.login != Login::Done {
                        self.st.login = Login::Referred;
                    }
                    if let Some(addr) = a.get(1).filter(|x| **x != "0") {
                        self.st.notices.push(Notice::Referral(ReferralSeen {
                            kind: "XFR NS",
                            event: idx,
                            address: addr.to_string(),
                            cookie: None,
                            session: None,
                        }));
                    }
                    if a.len() >= 3 {
                        self.st.later = self.st.later.max(3);
                    }
                } else if kind == Some("SB") {
                    if let Some(pkg) = a.get(2).filter(|p| **p != "CKI") {
                        v.push(Violation::new(rules::S011, format!("package {pkg}")));
                    }
                    if let Some(addr) = a.get(1) {
                        let cookie = a.get(3).map(|s| s.to_string());
                        self.st.notices.push(Notice::Referral(ReferralSeen {
                            kind: "XFR SB",
                            event: idx,
                            address: addr.to_string(),
                            cookie,
                            session: None,
                        }));
                    }
                }
            }
            ("RNG", false) => {
                if let Some(pkg) = a.get(2).filter(|p| **p != "CKI") {
                    v.push(Violation::new(rules::S011, format!("package {pkg}")));
                }
                if a.len() >= 4 {
                    self.st.notices.push(Notice::Referral(ReferralSeen {
                        kind: "RNG",
                        event: idx,
                        address: a[1].to_string(),
                        cookie: Some(a[3].to_string()),
                        session: Some(a[0].to_string()),
                    }));
                }
            }
            ("CAL", false)
                if cmd.trid.is_some()
                    && (a.first() != Some(&"RINGING")
                        || !a.get(1).is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))) =>
            {
                v.push(Violation::new(rules::P008, format!("reply is {:?}", a.join(" "))));
            }
            _ => {}
        }

        // Error codes.
        if let Some(code) = cmd.error {
            match catalog::error_code(code) {
                None => v.push(Violation::new(rules::S008, format!("error code {code} is not known"))),
                Some(e) if e.era == Era::Later => self.st.later = self.st.later.max(3),
                _ => {}
            }
        }

        if !strict {
            return;
        }
        // MSNP2 syntax checks.
        if let Some((min, max)) = arity(cmd, from_client) {
            if a.len() < min || a.len() > max {
                let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                v.push(Violation::new(
                    rules::S007,
                    format!("{verb} has {} parameters after the TrID, MSNP2 has {want}", a.len()),
                ));
            }
        }
        // One pass over the parameters, checking each by its name.
        let (names, _) = param_names(cmd, from_client);
        for (name, value) in names.iter().zip(a.iter()) {
            let (name, value) = (*name, *value);
            match name {
                "handle" | "sender" | "caller" => {
                    if name == "sender" && value == "Hotmail" {
                        continue;
                    }
                    if !valid_handle(value) {
                        v.push(Violation::new(
                            rules::S001,
                            format!("{name} {:?} is not a valid handle", truncate(value, 140)),
                        ));
                    } else if !ends_with_ignore_case(value, "@hotmail.com") && self.st.foreign.insert(value.to_string())
                    {
                        v.push(Violation::new(rules::S002, format!("{value} is not a hotmail.com handle")));
                    }
                }
                "friendly-name" | "sender-name" | "caller-name" => {
                    if name == "sender-name" && value == "Hotmail" {
                        continue;
                    }
                    if let Err(why) = check_friendly_name(value) {
                        v.push(Violation::new(rules::S003, format!("{name}: {why}")));
                    }
                }
                "address" if !valid_address(value) => {
                    v.push(Violation::new(rules::S014, format!("address {:?}", truncate(value, 80))));
                }
                "session-id" if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) => {
                    v.push(Violation::new(rules::S015, format!("session id {:?}", truncate(value, 80))));
                }
                "serial" | "item" | "total" if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) => {
                    v.push(Violation::new(rules::S016, format!("{name} {:?}", truncate(value, 80))));
                }
                "state" if !STATES.contains(&value) => {
                    v.push(Violation::new(rules::S004, format!("state {value:?}")));
                }
                "list" => {
                    let ok = if from_client && verb != "LST" {
                        matches!(value, "FL" | "AL" | "BL")
                    } else {
                        matches!(value, "FL" | "AL" | "BL" | "RL")
                    };
                    if !ok {
                        v.push(Violation::new(rules::S005, format!("{verb} list {value:?}")));
                    }
                }
                _ => {}
            }
        }
        match verb {
            "GTC" => {
                if let Some(s) = a.last().filter(|s| !matches!(**s, "A" | "N")) {
                    v.push(Violation::new(rules::S006, format!("GTC setting {s:?}")));
                }
            }
            "BLP" => {
                if let Some(s) = a.last().filter(|s| !matches!(**s, "AL" | "BL")) {
                    v.push(Violation::new(rules::S006, format!("BLP mode {s:?}")));
                }
            }
            _ => {}
        }
    }

    /// Pairs requests and responses; returns the transaction the event belongs to.
    fn pair(&mut self, cmd: &Command<'_>, dir: Dir, ts: i64, idx: usize, v: &mut Vec<Violation>) -> Option<usize> {
        let verb = cmd.verb;
        if dir == Dir::C2S {
            if verb == "PNG" {
                let t = self.new_txn(None, verb, idx, ts, true, None);
                self.st.pings.push_back(t);
                if self.st.pings.len() > MAX_PINGS {
                    self.st.pings.pop_front();
                }
                return Some(t);
            }
            let trid = cmd.trid?;
            if trid == 0 {
                v.push(Violation::new(rules::T003, format!("{verb} 0")));
            }
            if let Some(o) = self.st.open.get(&trid).and_then(|&old| self.txn(old)) {
                if o.responses.is_empty() && o.expects_reply {
                    v.push(Violation::new(
                        rules::T002,
                        format!("TrID {trid} reused by {verb} while {} {trid} is unanswered", o.command),
                    ));
                }
            }
            let ack_mode = (verb == "MSG").then(|| cmd.args.first().and_then(|m| m.chars().next())).flatten();
            let expects = match ack_mode {
                Some('U') | Some('N') => false,
                _ => verb != "OUT",
            };
            let t = self.new_txn(Some(trid), verb, idx, ts, expects, ack_mode);
            if self.st.open.len() >= MAX_OPEN_TRIDS {
                let (txns, base) = (&self.transactions, self.tx_base);
                self.st.open.retain(|_, t| {
                    t.checked_sub(base).and_then(|k| txns.get(k)).is_some_and(|x| x.responses.is_empty())
                });
                if self.st.open.len() >= MAX_OPEN_TRIDS {
                    self.st.open.clear();
                }
            }
            self.st.open.insert(trid, t);
            return Some(t);
        }
        // Server side.
        if verb == "QNG" {
            return match self.st.pings.pop_front() {
                Some(t) => {
                    self.answer(t, idx, ts, false);
                    Some(t)
                }
                None => {
                    v.push(Violation::new(rules::T009, "QNG with no PNG outstanding"));
                    None
                }
            };
        }
        let trid = cmd.trid?;
        let Some(&t) = self.st.open.get(&trid) else {
            if trid != 0 {
                v.push(Violation::new(rules::T004, format!("{verb} {trid} answers no request")));
            }
            return None;
        };
        let req = self.txn(t).map(|x| x.command.clone())?;
        let is_error = cmd.error.is_some();
        if !is_error && !compatible(&req, verb, self.role) {
            if trid == 0 {
                return None;
            }
            v.push(Violation::new(rules::T005, format!("{verb} {trid} cannot answer {req} {trid}")));
            return None;
        }
        if req == "MSG" {
            let mode = self.txn(t).and_then(|x| x.ack_mode);
            let bad = match verb {
                "ACK" => matches!(mode, Some('U') | Some('N')),
                "NAK" => mode == Some('U'),
                _ => false,
            };
            if bad {
                v.push(Violation::new(
                    rules::T008,
                    format!("{verb} answers MSG {trid} with ack mode {}", mode.unwrap_or('?')),
                ));
            }
        }
        self.answer(t, idx, ts, is_error || verb == "NAK");
        if !is_error {
            match req.as_str() {
                "SYN" if self.st.strict => self.check_syn_batch(t, cmd, v),
                "ANS" => self.check_roster(t, cmd, v),
                _ => {}
            }
        }
        Some(t)
    }

    /// P010: the SYN batch comes in order, items 1 to total, with the reply's serial.
    fn check_syn_batch(&mut self, t: usize, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        const PARTS: [&str; 7] = ["SYN", "GTC", "BLP", "LST FL", "LST AL", "LST BL", "LST RL"];
        let a = &cmd.args;
        if cmd.verb == "SYN" {
            self.st.syn = a.first().map(|s| SynBatch { txn: t, serial: s.to_string(), stage: 0, item: 0, total: 0 });
            return;
        }
        let Some(b) = self.st.syn.as_mut().filter(|b| b.txn == t) else {
            v.push(Violation::new(rules::P010, format!("{} before the SYN reply", cmd.verb)));
            return;
        };
        let (stage, serial) = match cmd.verb {
            "GTC" => (1, a.first()),
            "BLP" => (2, a.first()),
            "LST" => match a.first().and_then(|l| SYN_LISTS.iter().position(|x| x == l)) {
                Some(i) => (3 + i, a.get(1)),
                None => return,
            },
            _ => return,
        };
        let same_list = stage == b.stage && stage >= 3;
        if !same_list && stage != b.stage + 1 {
            let msg = if stage <= b.stage {
                format!("{} after {} (the batch goes {})", PARTS[stage], PARTS[b.stage], PARTS.join(", "))
            } else {
                format!("{} came before {}", PARTS[stage], PARTS[b.stage + 1])
            };
            v.push(Violation::new(rules::P010, msg));
        }
        if let Some(s) = serial.filter(|s| **s != b.serial) {
            v.push(Violation::new(rules::P010, format!("serial {s} differs from the SYN reply's {}", b.serial)));
        }
        if !same_list && b.stage >= 3 && b.total > 0 && b.item <= b.total {
            v.push(Violation::new(
                rules::P010,
                format!("{} ended at item {} of {}", PARTS[b.stage], b.item - 1, b.total),
            ));
        }
        if cmd.verb == "LST" {
            if !same_list {
                b.item = 1;
                b.total = 0;
            }
            let item = a.get(2).and_then(|x| x.parse::<u64>().ok());
            let total = a.get(3).and_then(|x| x.parse::<u64>().ok());
            if let (Some(item), Some(total)) = (item, total) {
                let (want, want_total) = if same_list {
                    (b.item, b.total)
                } else if total == 0 {
                    (0, 0)
                } else {
                    (1, total)
                };
                if item != want || total != want_total {
                    v.push(Violation::new(
                        rules::P010,
                        format!("{} item {item} of {total}, expected {want} of {want_total}", PARTS[stage]),
                    ));
                }
                b.total = total;
                b.item = item + 1;
            }
        }
        b.stage = stage;
    }

    /// P011: the IRO roster counts 1 to n and is complete before ANS OK, JOI and BYE.
    fn check_roster(&mut self, t: usize, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        let a = &cmd.args;
        let (next, total, done) = match self.st.roster {
            Some((rt, next, total, done)) if rt == t => (next, total, done),
            _ => (1, 0, false),
        };
        match cmd.verb {
            "IRO" => {
                let k = a.first().and_then(|x| x.parse::<u64>().ok());
                let n = a.get(1).and_then(|x| x.parse::<u64>().ok());
                if done {
                    v.push(Violation::new(rules::P011, "IRO after ANS OK"));
                } else if k != Some(next) || (next > 1 && n != Some(total)) {
                    v.push(Violation::new(
                        rules::P011,
                        format!(
                            "IRO {} of {}, expected {next}",
                            a.first().copied().unwrap_or("?"),
                            a.get(1).copied().unwrap_or("?")
                        ),
                    ));
                }
                self.st.roster = Some((t, k.unwrap_or(next) + 1, n.unwrap_or(total), done));
            }
            _ => {
                if total > 0 && next <= total {
                    v.push(Violation::new(rules::P011, format!("ANS OK after IRO {} of {total}", next - 1)));
                }
                self.st.roster = Some((t, next, total, true));
            }
        }
    }

    fn new_txn(
        &mut self,
        trid: Option<u32>,
        verb: &str,
        idx: usize,
        ts: i64,
        expects_reply: bool,
        ack_mode: Option<char>,
    ) -> usize {
        self.transactions.push(Transaction {
            trid,
            command: crate::shortstr::ShortStr::new(verb),
            request: idx,
            responses: Vec::new(),
            outcome: if expects_reply { Outcome::Unanswered } else { Outcome::NoReplyExpected },
            latency_ms: None,
            expects_reply,
            ack_mode,
            ts,
        });
        let t = self.tx_base + self.transactions.len() - 1;
        if self.st.stream && self.transactions.len() >= self.st.settle_next {
            self.settle_unreferenced(t);
            // Amortised: the next pass waits until the list has doubled.
            self.st.settle_next = SETTLE_AT.max(2 * self.transactions.len());
        }
        t
    }

    /// The transaction with index `t`, unless it was settled and dropped.
    pub fn txn(&self, t: usize) -> Option<&Transaction> {
        t.checked_sub(self.tx_base).and_then(|k| self.transactions.get(k))
    }

    /// Streaming modes: transactions at the front that no response can reach any more (their
    /// TrID was reused or evicted, or their PNG dropped) are settled now, so a connection's
    /// memory does not grow with its requests. `keep` (the newest) always stays.
    fn settle_unreferenced(&mut self, keep: usize) {
        let mut referenced: crate::fasthash::FastSet<usize> = self.st.open.values().copied().collect();
        referenced.extend(self.st.pings.iter().copied());
        referenced.insert(keep);
        referenced.extend(self.st.syn.as_ref().map(|b| b.txn));
        referenced.extend(self.st.roster.map(|r| r.0));
        let mut n = 0;
        while n < self.transactions.len() && !referenced.contains(&(self.tx_base + n)) {
            n += 1;
        }
        if n == 0 {
            return;
        }
        let drained: Vec<Transaction> = self.transactions.drain(..n).collect();
        self.tx_base += n;
        for mut t in drained {
            if t.responses.is_empty() && t.expects_reply {
                t.outcome = Outcome::Unanswered;
                let label = t.trid.map_or(t.command.to_string(), |id| format!("{} {id}", t.command));
                let v = if t.ack_mode == Some('A') {
                    Violation::new(rules::T007, format!("{label} (ack mode A) was never acknowledged"))
                } else {
                    Violation::new(rules::T006, format!("{label} got no response, and none can pair with it any more"))
                };
                self.add_violation(t.request, v);
            }
            self.settled.push(t);
        }
    }

    fn answer(&mut self, t: usize, idx: usize, ts: i64, error: bool) {
        let Some(txn) = t.checked_sub(self.tx_base).and_then(|k| self.transactions.get_mut(k)) else { return };
        if txn.responses.is_empty() {
            txn.latency_ms = Some(((ts - txn.ts) as f64 / 1e3).round() / 1e3);
            txn.outcome = if error { Outcome::Error } else { Outcome::Ok };
        } else if error {
            txn.outcome = Outcome::Error;
        }
        txn.responses.push(idx);
    }
}

/// `md5(challenge || password)` in lower-case hex ([D §7.3]).
pub fn md5_response(challenge: &str, password: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

/// Whether a dialect name is MSNP2 (or its CVR0 fallback).
pub fn is_msnp2(d: &str) -> bool {
    d.eq_ignore_ascii_case("MSNP2") || d.eq_ignore_ascii_case("CVR0")
}

fn e_index(c: &Connection) -> usize {
    c.base + c.events.len() - 1
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Argument positions that hold secrets (at most two).
#[derive(Debug, Clone, Copy, Default)]
pub struct Secrets([Option<usize>; 2]);

impl Secrets {
    fn one(i: usize) -> Self {
        Secrets([Some(i), None])
    }

    /// Whether argument `i` is a secret.
    pub fn contains(&self, i: usize) -> bool {
        self.0.contains(&Some(i))
    }

    /// The positions, in order.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().flatten().copied()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0 == [None, None]
    }
}

/// The names of a command's parameters (after the TrID) and which hold secrets.
fn param_names(cmd: &Command<'_>, from_client: bool) -> (&'static [&'static str], Secrets) {
    let a = &cmd.args;
    match (cmd.verb, from_client) {
        ("USR", true) if a.first() == Some(&"MD5") || a.first() == Some(&"CTP") => {
            let secret = ((a.get(1) == Some(&"S") || a.first() == Some(&"CTP")) && a.len() >= 3).then(|| a.len() - 1);
            let names: &'static [&'static str] = if a.get(1) == Some(&"I") {
                &["package", "sequence", "handle"]
            } else {
                &["package", "sequence", "response"]
            };
            (names, Secrets([secret, None]))
        }
        ("USR", true) => (&["handle", "cookie"], Secrets::one(1)),
        ("USR", false) if a.first() == Some(&"OK") => (&["status", "handle", "friendly-name"], Secrets::default()),
        ("USR", false) => (&["package", "sequence", "challenge"], Secrets::default()),
        ("XFR", false) if a.first() == Some(&"SB") => {
            (&["server-type", "address", "package", "cookie"], Secrets::one(3))
        }
        ("RNG", false) => (&["session-id", "address", "package", "cookie", "caller", "caller-name"], Secrets::one(3)),
        ("ANS", true) => (&["handle", "cookie", "session-id"], Secrets::one(1)),
        ("LST", false) if a.len() == 4 => (&["list", "serial", "item", "total"], Secrets::default()),
        _ => match cmd.spec.and_then(|s| if from_client { s.client } else { s.server }) {
            Some(form) if cmd.spec.is_some_and(|s| s.since == 2) => (form.params, Secrets::default()),
            _ => (&[], Secrets::default()),
        },
    }
}

/// Rebuilds the line and arguments with secret arguments replaced.
fn redact(text: &str, cmd: &Command<'_>, secrets: Secrets, reveal: bool) -> (String, Vec<ShortStr>) {
    let args: Vec<ShortStr> = cmd
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| ShortStr::new(if !reveal && secrets.contains(i) { REDACTED } else { a }))
        .collect();
    if reveal || secrets.is_empty() {
        return (text.to_string(), args);
    }
    let mut secrets: Vec<usize> = secrets.positions().collect();
    secrets.sort_unstable();
    secrets.dedup();
    let spans = command::token_spans(text, |c| c == ' ' || c == '\t');
    // Arguments start after the verb and, when present, the TrID.
    let first_arg = 1 + usize::from(cmd.trid.is_some() || cmd.bad_trid.is_some());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &i in &secrets {
        if let Some(&(s, e)) = spans.get(first_arg + i) {
            out.push_str(&text[last..s]);
            out.push_str(REDACTED);
            last = e;
        }
    }
    out.push_str(&text[last..]);
    (out, args)
}
