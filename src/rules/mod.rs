//! The spec rules: the catalog as data (a stable id, a severity, the source it rests on, what it
//! checks) and the checks, a file per family: [`framing`] (F), [`transactions`] (T), [`syntax`]
//! (S), [`state`] (P) and [`network`] (N). The session calls the checks as it decodes; they refer
//! to rules by these constants, so a rule cannot be reported without being in the catalog.
//! `msntap rules` prints this table and `docs/rules.md` lists it; a test keeps the two in step.

pub mod framing;
pub mod network;
pub mod state;
pub mod syntax;
pub mod transactions;

use crate::msnp::command::Command;
use crate::msnp::dialect::{self, Dialect, Dialects};
use crate::msnp::Role;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// How bad a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Notable but allowed.
    Info,
    /// A "should", or a deviation real peers make.
    Warning,
    /// A "must" of the specification.
    Error,
}

impl Severity {
    /// Every severity, worst first (the order of counts in [`SeverityCounts`]).
    pub const ALL: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Info];

    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Violations counted by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    /// Errors.
    pub errors: u64,
    /// Warnings.
    pub warnings: u64,
    /// Notes (info).
    pub infos: u64,
}

impl SeverityCounts {
    /// Counts one violation of `s`.
    pub fn add(&mut self, s: Severity) {
        *self.get_mut(s) += 1;
    }

    /// The count of `s`.
    pub fn get(&self, s: Severity) -> u64 {
        match s {
            Severity::Error => self.errors,
            Severity::Warning => self.warnings,
            Severity::Info => self.infos,
        }
    }

    fn get_mut(&mut self, s: Severity) -> &mut u64 {
        match s {
            Severity::Error => &mut self.errors,
            Severity::Warning => &mut self.warnings,
            Severity::Info => &mut self.infos,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity {other:?}")),
        }
    }
}

/// A rule of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, `MSNP-` then F (framing), T (transactions), S (syntax), P (protocol state) or
    /// N (network) and three digits.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// The dialects it holds in. A connection is checked by it only when every dialect the
    /// connection may speak is among them.
    pub dialects: Dialects,
    /// Where it rests (`D §x` is the IETF draft; `Y`, `N` the wikis; see `docs/dialects.md`).
    pub cite: &'static str,
    /// What it checks.
    pub summary: &'static str,
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("id", self.id)?;
        m.serialize_entry("severity", &self.severity)?;
        m.serialize_entry("dialects", &self.dialects.label())?;
        m.serialize_entry("cite", self.cite)?;
        m.serialize_entry("summary", self.summary)?;
        m.end()
    }
}

/// Dialect ranges of the rules.
const ALL: Dialects = Dialects::ALL;
const MSNP2: Dialects = Dialects::MSNP2;
const P2_7: Dialects = dialect::range(Dialect::CVR0, Dialect::P7);
const P2_9: Dialects = dialect::range(Dialect::CVR0, Dialect::P9);
const P3UP: Dialects = dialect::from(Dialect::P3);
const P6UP: Dialects = dialect::from(Dialect::P6);
const P8UP: Dialects = dialect::from(Dialect::P8);
const P8_12: Dialects = dialect::range(Dialect::P8, Dialect::P12);
const P10_12: Dialects = dialect::range(Dialect::P10, Dialect::P12);
const P13UP: Dialects = dialect::from(Dialect::P13);

macro_rules! rules {
    ($($name:ident = $id:literal, $sev:ident, $dialects:ident, $cite:literal, $summary:literal;)*) => {
        $(
            // The summary is plain text shown to users (`<ml>`, `host[:port]`), not Markdown.
            #[doc = $summary]
            #[allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]
            pub const $name: &Rule =
                &Rule { id: $id, severity: Severity::$sev, dialects: $dialects, cite: $cite, summary: $summary };
        )*
        /// Every rule, in id order.
        pub static CATALOG: &[&Rule] = &[$($name),*];
    };
}

rules! {
    F001 = "MSNP-F001", Error, ALL, "D §5.2", "command code is not a known three-character code";
    F002 = "MSNP-F002", Error, ALL, "D §5.2", "line contains a bare CR";
    F003 = "MSNP-F003", Warning, ALL, "D §5.2", "line ends in a bare LF instead of CRLF";
    F004 = "MSNP-F004", Info, ALL, "D §5.2", "parameters separated by something other than one space";
    F005 = "MSNP-F005", Error, ALL, "D §8.7", "MSG length is not a usable decimal byte count";
    F006 = "MSNP-F006", Error, ALL, "D §8.7", "payload cut short: the stream ended before the declared length";
    F007 = "MSNP-F007", Warning, ALL, "D §8.8", "MSG payload has no header block ended by an empty line";
    F008 = "MSNP-F008", Warning, ALL, "H switchboard/messages", "MSG payload over 1664 bytes (later observed switchboard limit)";
    F009 = "MSNP-F009", Error, ALL, "D §5.2", "line longer than the line limit";
    F010 = "MSNP-F010", Error, ALL, "D §5.2", "line not terminated when the stream ended";
    F011 = "MSNP-F011", Error, ALL, "D §5.2", "command code in lower case (codes are case-sensitive upper case)";
    T001 = "MSNP-T001", Error, ALL, "D §5.6", "TrID missing or not a decimal from 0 to 4294967295";
    T002 = "MSNP-T002", Error, ALL, "D §5.6", "client reused a TrID while a request with it is still open";
    T003 = "MSNP-T003", Warning, ALL, "H general/commands", "client request uses TrID 0, which unsolicited server commands use";
    T004 = "MSNP-T004", Error, ALL, "D §5.6", "server line carries a non-zero TrID that matches no request";
    T005 = "MSNP-T005", Error, ALL, "D §5.6", "response does not fit the request with that TrID";
    T006 = "MSNP-T006", Error, ALL, "D §5.3", "request never answered before the connection ended (FIN, RST or reuse)";
    T007 = "MSNP-T007", Warning, ALL, "D §8.7", "MSG with ack mode A never acknowledged (MSNP2 servers did not implement A)";
    T008 = "MSNP-T008", Error, ALL, "D §8.7", "ACK or NAK answers a MSG whose ack mode forbids it";
    T009 = "MSNP-T009", Error, ALL, "Y cmd/qng", "QNG without an outstanding PNG";
    T010 = "MSNP-T010", Error, P6UP, "Y cmd/chl", "server challenge (CHL) never answered by QRY";
    S001 = "MSNP-S001", Error, ALL, "D §5.4", "user handle is not an e-mail address of at most 129 bytes";
    S002 = "MSNP-S002", Info, MSNP2, "D §5.4", "handle outside hotmail.com in an MSNP2 session";
    S003 = "MSNP-S003", Error, ALL, "D §5.5", "friendly name not valid URL-encoded UTF-8 of at most 387 bytes";
    S004 = "MSNP-S004", Error, ALL, "D §7.7", "state is not one of NLN FLN HDN BSY IDL BRB AWY PHN LUN";
    S005 = "MSNP-S005", Error, ALL, "D §5.7", "list is not FL, AL, BL or RL (clients: FL, AL or BL; PL from MSNP10)";
    S006 = "MSNP-S006", Error, ALL, "D §7.6", "GTC setting not A/N or BLP mode not AL/BL";
    S007 = "MSNP-S007", Error, MSNP2, "D §5.2", "wrong number of parameters for the MSNP2 form of the command";
    S008 = "MSNP-S008", Warning, ALL, "D §7.11", "error code not known for any dialect";
    S009 = "MSNP-S009", Error, ALL, "D §7.3", "MD5 response is not 32 lower-case hex digits";
    S010 = "MSNP-S010", Error, ALL, "D §7.3", "MD5 response does not match md5(challenge || password)";
    S011 = "MSNP-S011", Error, ALL, "D §8.1", "switchboard referral uses a package other than CKI";
    S012 = "MSNP-S012", Warning, ALL, "Y authschemes/ctp", "CTP authentication sends the password in clear text";
    S013 = "MSNP-S013", Error, ALL, "D §7.1", "VER reply chose a dialect the client did not offer";
    S014 = "MSNP-S014", Error, ALL, "D §7.4", "referral address is not host[:port] with a port from 1 to 65535";
    S015 = "MSNP-S015", Warning, ALL, "D §8.4", "session id is not a decimal number (Microsoft's servers sent decimal; some revival servers send hexadecimal)";
    S016 = "MSNP-S016", Error, P2_9, "D §7.5", "list serial number, item or total is not a decimal number";
    S017 = "MSNP-S017", Error, P6UP, "Y cmd/qry", "QRY is not a product id and a 32-character lower-case hex response";
    S018 = "MSNP-S018", Error, P6UP, "Y cmd/qry, Y files/chal", "QRY response does not answer the challenge for its public product key";
    S019 = "MSNP-S019", Error, P3UP, "Y cmd/xfr", "XFR NS lacks the fields of its dialect (MSNP3: 0; MSNP7: the current server; MSNP13: U D)";
    S020 = "MSNP-S020", Error, P6UP, "Y ver/msnp6, msnp8", "USR OK's verified or restricted flag is not 0 or 1";
    S021 = "MSNP-S021", Error, P10_12, "Y cmd/lst", "LST entry of a SYN batch without N=handle and lists, or with a malformed F=, C= or group id";
    S022 = "MSNP-S022", Error, P13UP, "Y cmd/adl, cmd/rml", "ADL or RML payload is not a well-formed <ml> list of <d n=...> domains of <c n=... l=... t=...> contacts";
    S023 = "MSNP-S023", Warning, MSNP2, "D §5.5", "friendly name holds raw non-ASCII bytes (MSNP2 names are URL-encoded; later servers sent raw UTF-8)";
    P001 = "MSNP-P001", Error, ALL, "D §7.3", "command that needs a completed login sent before USR OK";
    P002 = "MSNP-P002", Error, ALL, "D §7.4", "client sent a command after the server's XFR NS referral";
    P003 = "MSNP-P003", Error, ALL, "D §6", "command not valid for this server role or direction";
    P004 = "MSNP-P004", Warning, P2_7, "D §7.2", "login skipped INF";
    P005 = "MSNP-P005", Error, ALL, "D §7.1", "first command on a DS or NS connection is not VER";
    P006 = "MSNP-P006", Error, ALL, "D §8.2", "first command on a switchboard is neither USR nor ANS";
    P007 = "MSNP-P007", Error, ALL, "D §8.2", "switchboard cookie or session id matches no referral of that user";
    P008 = "MSNP-P008", Error, ALL, "D §8.3", "CAL reply status is not RINGING";
    P009 = "MSNP-P009", Warning, ALL, "Y ver/msnp2 - msnp18", "command or form that the negotiated dialect does not have (introduced later, or removed)";
    P010 = "MSNP-P010", Error, P2_7, "D §7.5", "SYN batch out of order (GTC, BLP, LST FL, AL, BL, RL), item numbers not 1 to total, or serial differing from the SYN reply";
    P011 = "MSNP-P011", Error, ALL, "D §8.4", "IRO roster not numbered 1 to n, or not complete before ANS OK and before any JOI or BYE";
    P012 = "MSNP-P012", Error, ALL, "D §7.3", "USR S sent before USR I";
    P013 = "MSNP-P013", Error, ALL, "D §7.10", "client sent a command after its OUT";
    P014 = "MSNP-P014", Error, P8UP, "Y ver/msnp8", "login not in the order VER, CVR, USR (MSNP8 and later)";
    P015 = "MSNP-P015", Error, P8_12, "Y cmd/syn, ver/msnp8", "SYN batch does not hold the numbers of LST and LSG lines its reply announces";
    N001 = "MSNP-N001", Warning, ALL, "design: reassembly", "bytes missing from the stream (not captured)";
    N002 = "MSNP-N002", Warning, ALL, "design: reassembly", "retransmission carried bytes different from those first seen";
    N003 = "MSNP-N003", Info, ALL, "design: reassembly", "connection picked up mid-stream (no SYN seen)";
    N004 = "MSNP-N004", Warning, ALL, "design: reassembly", "bytes skipped to resynchronise after a gap";
}

/// Looks a rule up by id.
pub fn lookup(id: &str) -> Option<&'static Rule> {
    CATALOG.iter().copied().find(|r| r.id == id)
}

/// One finding of a rule on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Rule id.
    pub rule: &'static str,
    /// Severity (the rule's).
    pub severity: Severity,
    /// What was wrong, with the concrete values.
    pub message: String,
}

impl Violation {
    /// A violation of `rule`. Cold: findings are rare in real traffic, and the compiler then
    /// lays the code that builds them out of the checks' way.
    #[cold]
    pub fn new(rule: &'static Rule, message: impl Into<String>) -> Self {
        Violation { rule: rule.id, severity: rule.severity, message: message.into() }
    }

    /// The rule's citation.
    pub fn cite(&self) -> &'static str {
        lookup(self.rule).map_or("", |r| r.cite)
    }
}

/// The catalog as a Markdown table (the body of `docs/rules.md`).
pub fn markdown_table() -> String {
    let mut s = String::from("| id | severity | dialects | source | checks |\n|---|---|---|---|---|\n");
    for r in CATALOG {
        s.push_str(&format!("| {} | {} | {} | {} | {} |\n", r.id, r.severity, r.dialects.label(), r.cite, r.summary));
    }
    s
}

/// At most `n` characters of `s` (for quoting wire values in messages).
pub(crate) fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What the checks of one command need to know of its connection.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The connection's server role as known now.
    pub role: Role,
    /// The dialects the connection may speak.
    pub dialects: Dialects,
    /// Whether VER or a referral decided them.
    pub decided: bool,
    /// Whether the connection's start was captured.
    pub start_seen: bool,
    /// Whether the command came from the client.
    pub from_client: bool,
    /// The connection's user, if known.
    pub user: Option<&'a str>,
    /// Known passwords by handle, to verify MD5 responses.
    pub passwords: &'a HashMap<String, String>,
    /// The line was not UTF-8: its text has replacement characters where its bytes were.
    pub lossy: bool,
}

impl Context<'_> {
    /// Whether `rule` holds in every dialect the connection may speak.
    pub fn applies(&self, rule: &Rule) -> bool {
        rule.dialects.covers(self.dialects)
    }
}

/// What the rules remember of one connection between its commands: how far the login got,
/// what the client offered and was challenged with, the SYN batch and IRO roster in progress.
#[derive(Debug)]
pub struct Checker {
    login: state::Login,
    inf_seen: bool,
    first_c2s: bool,
    out_sent: bool,
    offered: Vec<String>,
    challenge: Option<String>,
    /// Non-hotmail handles already reported (S002 is said once per handle).
    foreign: HashSet<String>,
    syn: Option<state::SynBatch>,
    roster: Option<state::Roster>,
    /// The client sent CVR (P014).
    cvr_seen: bool,
    /// The server's challenge not yet answered: its event and text (T010, S018).
    chl: Option<(usize, String)>,
    /// The MSNP8+ SYN batch being counted (P015).
    batch: Option<state::Batch>,
    /// Violations found on earlier events, for the session to add.
    late: Vec<(usize, Violation)>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            login: state::Login::Start,
            inf_seen: false,
            first_c2s: true,
            out_sent: false,
            offered: Vec::new(),
            challenge: None,
            foreign: HashSet::new(),
            syn: None,
            roster: None,
            cvr_seen: false,
            chl: None,
            batch: None,
            late: Vec::new(),
        }
    }
}

impl Checker {
    /// The checks of one command of a known verb (event `idx`, with its payload), in the order
    /// their violations are listed: login order, direction and role, login progress and
    /// referrals, error codes, the forms' values, then the later dialects' forms.
    pub fn command(
        &mut self,
        cx: &Context<'_>,
        cmd: &Command<'_>,
        idx: usize,
        payload: Option<&[u8]>,
        v: &mut Vec<Violation>,
    ) {
        self.order(cx, cmd, v);
        state::direction_and_role(cx, cmd, v);
        self.progress(cx, cmd, v);
        syntax::error_code(cmd, v);
        self.values(cx, cmd, v);
        self.later_forms(cx, cmd, idx, payload, v);
    }

    /// The checks of forms later dialects added: the challenge (T010, S017, S018), the SYN
    /// batch's totals (P015), XFR NS (S019), USR OK (S020), LST (S021) and the XML lists (S022).
    fn later_forms(
        &mut self,
        cx: &Context<'_>,
        cmd: &Command<'_>,
        idx: usize,
        payload: Option<&[u8]>,
        v: &mut Vec<Violation>,
    ) {
        self.challenge_response(cx, cmd, idx, payload, v);
        self.batch_counts(cx, cmd, idx, v);
        syntax::xfr_ns_fields(cx, cmd, v);
        syntax::usr_ok_flags(cx, cmd, v);
        syntax::lst_entry(cx, cmd, v);
        syntax::xml_list(cx, cmd, payload, v);
    }

    /// Violations found on earlier events since the last call (event index, violation).
    pub fn take_late(&mut self) -> Vec<(usize, Violation)> {
        std::mem::take(&mut self.late)
    }

    /// What the end of the connection leaves unfinished: a challenge never answered (T010),
    /// a SYN batch short of the lines it announced (P015). Only when the connection really
    /// `ended`: otherwise the rest may simply not have been seen (violations found late are
    /// returned either way).
    pub fn at_close(&mut self, ended: bool) -> Vec<(usize, Violation)> {
        let mut out = self.take_late();
        let (chl, batch) = (self.chl.take(), self.batch.take());
        if !ended {
            return out;
        }
        if let Some((event, text)) = chl {
            out.push((event, Violation::new(T010, format!("CHL {text} got no QRY before the connection ended"))));
        }
        if let Some(b) = batch {
            out.extend(b.shortfall());
        }
        out
    }
}
