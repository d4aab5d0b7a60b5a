//! What the analysis of a connection produces: events, transactions and their outcomes, the
//! dialect's source, and the notices the analysis acts on across connections.

use crate::flow::Dir;
use crate::msnp::referral::ReferralKind;
use crate::msnp::wire::WireLimits;
use crate::rules::Violation;
use crate::shortstr::ShortStr;
use std::collections::HashMap;

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
    /// output shows events. With `stream_events`, nothing reads an event but its counts then,
    /// and the lines without violations are counted as they come instead of made into events
    /// (while no event waits to be handed on).
    pub terse: bool,
}

/// What an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

spelled!(EventKind {
    Command => "command",
    Error => "error",
    Malformed => "malformed",
    Gap => "gap",
    Tcp => "tcp",
    Fin => "fin",
});

/// A payload as exported.
#[derive(Debug, Clone)]
pub struct PayloadInfo {
    /// Declared length.
    pub length: u64,
    /// MIME headers in order.
    pub headers: Vec<(ShortStr, ShortStr)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// Whether every declared byte arrived.
    pub complete: bool,
}

/// One thing that happened on a connection.
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the connection's event list.
    pub index: usize,
    /// Capture time in seconds since the epoch.
    pub ts: i64,
    /// Direction.
    pub dir: Dir,
    /// Kind.
    pub kind: EventKind,
    /// The verb, or the three digits of an error line.
    pub command: Option<ShortStr>,
    /// TrID; `null` where the command has no TrID slot.
    pub trid: Option<u32>,
    /// Arguments after the TrID (secrets redacted unless revealed).
    pub args: Vec<ShortStr>,
    /// The exact line without its ending (secrets redacted unless revealed).
    pub line: Option<String>,
    /// Named, decoded parameters (friendly names URL-decoded).
    pub fields: Vec<(&'static str, ShortStr)>,
    /// The error code's name, for error lines.
    pub error_name: Option<&'static str>,
    /// The payload, for payload commands (boxed: most events have none, and every event is
    /// moved into its connection's list).
    pub payload: Option<Box<PayloadInfo>>,
    /// Index into the connection's transactions.
    pub transaction: Option<usize>,
    /// Index into the document's links, for referrals.
    pub link: Option<usize>,
    /// Stream offset of the event's first byte.
    pub offset: u64,
    /// Length in bytes (for gaps and junk).
    pub length: Option<u64>,
    /// Human explanation for non-command events.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

spelled!(Outcome { Ok => "ok", Error => "error", Unanswered => "unanswered", NoReplyExpected => "no-reply-expected" });

impl Outcome {
    /// Every outcome, in the order the transcript lists them.
    pub const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::Error, Outcome::Unanswered, Outcome::NoReplyExpected];
}

/// Transactions counted by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts([u64; 4]);

impl OutcomeCounts {
    /// Counts one transaction with outcome `o`.
    pub fn add(&mut self, o: Outcome) {
        self.0[o as usize] += 1;
    }

    /// The count of `o`.
    pub fn get(&self, o: Outcome) -> u64 {
        self.0[o as usize]
    }

    /// Adds what `other` counted.
    pub fn absorb(&mut self, other: &OutcomeCounts) {
        for (n, m) in self.0.iter_mut().zip(other.0) {
            *n += m;
        }
    }

    /// All transactions counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Commands and violations counted on a connection as its events are handed on (they outlive
/// dropped events).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Commands and error lines.
    pub commands: u64,
    /// Violations by severity.
    pub violations: crate::rules::SeverityCounts,
}

/// A client request and the server lines that answered it.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// TrID (`null` for PNG/QNG, which pair by order).
    pub trid: Option<u32>,
    /// The request's verb.
    pub command: ShortStr,
    /// Event index of the request.
    pub request: usize,
    /// Event indices of the responses: the first [`MAX_RESPONSES`](super::MAX_RESPONSES), while
    /// the connection lists fewer than [`MAX_LISTED_RESPONSES`](super::MAX_LISTED_RESPONSES)
    /// (the first always: empty means unanswered).
    pub responses: Vec<usize>,
    /// Responses past either bound, counted but not listed.
    pub responses_omitted: u64,
    /// Outcome.
    pub outcome: Outcome,
    /// Time from request to first response.
    pub latency_ms: Option<f64>,
    /// Whether the request expects a reply (MSG U and N do not).
    pub expects_reply: bool,
    /// The MSG's ack mode.
    pub ack_mode: Option<char>,
    /// The request's time.
    pub ts: i64,
}

impl Transaction {
    /// A copy that lists only the first response (field by field: cloning the whole list on
    /// each hand-over of sharded analysis was quadratic in a request answered many times).
    pub fn with_first_response(&self) -> Transaction {
        Transaction {
            trid: self.trid,
            command: self.command.clone(),
            request: self.request,
            responses: self.responses.first().copied().into_iter().collect(),
            responses_omitted: 0,
            outcome: self.outcome,
            latency_ms: self.latency_ms,
            expects_reply: self.expects_reply,
            ack_mode: self.ack_mode,
            ts: self.ts,
        }
    }

    /// The request as messages name it: `verb trid`, or the verb alone (PNG).
    pub fn label(&self) -> String {
        self.trid.map_or(self.command.to_string(), |id| format!("{} {id}", self.command))
    }
}

/// Where the connection's dialect label comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialectSource {
    /// The VER exchange.
    Negotiated,
    /// The referral that led here.
    Inherited,
    /// The client version its CVR or CVQ names.
    ClientVersion,
    /// The forms of its commands (each fits only some dialects).
    Fingerprint,
}

spelled!(DialectSource {
    Negotiated => "negotiated",
    Inherited => "inherited",
    ClientVersion => "client-version",
    Fingerprint => "fingerprint",
});

/// A referral seen on a connection, as the analyzer needs it to make links.
#[derive(Debug, Clone)]
pub struct ReferralSeen {
    /// Which referral.
    pub kind: ReferralKind,
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
    /// The referral it answers: XFR SB for a caller's `USR`, RNG for a callee's `ANS`.
    pub answers: ReferralKind,
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
    /// The connection's own commands narrowed its dialect to these.
    Dialect(crate::msnp::dialect::Dialects),
}

/// A capture time in nanoseconds as exported: seconds, rounded to the microsecond.
pub fn secs(ns: i64) -> f64 {
    (ns as f64 / 1e3).round() / 1e6
}
