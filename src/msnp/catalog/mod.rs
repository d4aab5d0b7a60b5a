//! The command catalog: every verb of MSNP2 to MSNP21, and for each the dialects that have it
//! and its forms. A form is one shape of the verb: who sends it (client or server), in which
//! dialects and on which server roles, whether it has a TrID slot, its parameters by name and
//! kind (and which hold secrets), whether a length-prefixed payload follows, and whether it is a
//! line of a SYN batch (which later dialects send without a TrID). One file per command family
//! holds everything known of its verbs: [`login`], [`lists`], [`presence`], [`notify`],
//! [`switchboard`]. Sources: `msnp2-facts.md`, the msnp-wiki [Y] and NINA [N] pages named in
//! each form's citation; `docs/dialects.md` summarises them.

mod lists;
mod login;
mod notify;
mod presence;
mod switchboard;

use super::command::Command;
use super::dialect::{Dialect, Dialects};
use super::role::Role;
pub use super::role::Roles;

/// Who sends a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client.
    Client,
    /// The server.
    Server,
}

impl Side {
    /// The side of a line sent by the client when `from_client`.
    pub fn of(from_client: bool) -> Side {
        if from_client {
            Side::Client
        } else {
            Side::Server
        }
    }
}

/// What a parameter holds. Kinds that name structure (literals, word sets, numbers, handles,
/// prefixes) decide which form a line has; the others accept any token and are checked by the
/// rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything.
    Text,
    /// Exactly this token.
    Lit(&'static str),
    /// One of these tokens.
    Word(&'static [&'static str]),
    /// A decimal number.
    Number,
    /// A payload length (decimal).
    Length,
    /// A user handle (`user@domain`; `tel:` numbers from MSNP11).
    Handle,
    /// A handle, or `handle;{machine-guid}` (MSNP16+).
    Endpoint,
    /// `network-id:handle` (MSNP18).
    NetHandle,
    /// A message sender: a handle, or `Hotmail` on the notification server.
    Sender,
    /// A URL-encoded friendly name.
    Name,
    /// A presence state.
    State,
    /// A list name (FL, AL, BL, RL, PL).
    List,
    /// A list version (decimal up to MSNP9).
    Serial,
    /// An item number or total of a list (decimal).
    Count,
    /// A switchboard session id.
    SessionId,
    /// `host[:port]`.
    Address,
    /// A switchboard's authentication package (CKI).
    Package,
    /// A token starting with this prefix (`N=`, `F=`, `C=`).
    Prefixed(&'static str),
    /// Client capabilities: decimal, or `caps:extcaps` (MSNP16+).
    Caps,
    /// Everything left on the line.
    Rest,
}

impl Kind {
    /// Whether `token` can be this kind (the shape test that picks a line's form).
    fn fits(self, token: &str) -> bool {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        match self {
            Kind::Lit(l) => token == l,
            Kind::Word(ws) => ws.contains(&token),
            Kind::Number | Kind::Length => digits(token),
            Kind::Handle => (token.contains('@') && !token.contains(';')) || token.starts_with("tel:"),
            Kind::Sender => token != "Hotmail",
            Kind::Endpoint => token.contains('@'),
            Kind::NetHandle => token.split_once(':').is_some_and(|(n, h)| digits(n) && h.contains('@')),
            Kind::Prefixed(p) => token.starts_with(p),
            Kind::Caps => match token.split_once(':') {
                Some((a, b)) => digits(a) && digits(b),
                None => digits(token),
            },
            _ => true,
        }
    }
}

/// One parameter of a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name in exports (`handle`, `friendly-name`, ...).
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// Whether it may be missing (it and every parameter after it).
    pub optional: bool,
    /// Whether it is a secret (redacted in every output unless revealed).
    pub secret: bool,
}

/// A parameter.
pub const fn p(name: &'static str, kind: Kind) -> Param {
    Param { name, kind, optional: false, secret: false }
}

/// A parameter that may be missing, with every one after it.
pub const fn opt(name: &'static str, kind: Kind) -> Param {
    Param { name, kind, optional: true, secret: false }
}

/// A parameter that holds a secret.
pub const fn secret(name: &'static str, kind: Kind) -> Param {
    Param { name, kind, optional: false, secret: true }
}

/// A secret parameter that may be missing.
pub const fn opt_secret(name: &'static str, kind: Kind) -> Param {
    Param { name, kind, optional: true, secret: true }
}

/// One shape of a verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    /// Who sends it.
    pub side: Side,
    /// The dialects it is sent in.
    pub dialects: Dialects,
    /// The server roles it belongs to.
    pub roles: Roles,
    /// Whether the first parameter is a TrID.
    pub trid: bool,
    /// The parameters after the TrID.
    pub params: &'static [Param],
    /// Whether a payload follows, its length the last parameter.
    pub payload: bool,
    /// A line of a SYN batch: it answers the SYN without a TrID of its own.
    pub in_batch: bool,
    /// Where it is described.
    pub cite: &'static str,
}

impl Form {
    /// A form sent by `side` in `dialects` on `roles`.
    pub const fn new(side: Side, dialects: Dialects, roles: Roles, trid: bool, params: &'static [Param]) -> Form {
        Form { side, dialects, roles, trid, params, payload: false, in_batch: false, cite: "" }
    }

    /// With a payload (its length the last parameter).
    pub const fn payload(mut self) -> Form {
        self.payload = true;
        self
    }

    /// As a line of a SYN batch.
    pub const fn in_batch(mut self) -> Form {
        self.in_batch = true;
        self
    }

    /// With its source.
    pub const fn cite(mut self, cite: &'static str) -> Form {
        self.cite = cite;
        self
    }

    /// Parameters that must be present.
    pub fn required(&self) -> usize {
        self.params.iter().take_while(|p| !p.optional && p.kind != Kind::Rest).count()
    }

    /// The most parameters the form takes (`None`: any number, it ends with [`Kind::Rest`]).
    pub fn most(&self) -> Option<usize> {
        (!self.params.iter().any(|p| p.kind == Kind::Rest)).then_some(self.params.len())
    }

    /// Whether `args` (the parameters after the TrID) have this form's shape.
    pub fn fits(&self, args: &[&str]) -> bool {
        if args.len() < self.required() || self.most().is_some_and(|m| args.len() > m) {
            return false;
        }
        self.params.iter().zip(args).all(|(p, a)| p.kind == Kind::Rest || p.kind.fits(a))
    }

    /// The parameter that argument `i` is (the last one repeats when it is [`Kind::Rest`]).
    pub fn param(&self, i: usize) -> Option<&'static Param> {
        match self.params.get(i) {
            Some(p) => Some(p),
            None => self.params.last().filter(|p| p.kind == Kind::Rest),
        }
    }
}

/// A client form.
pub const fn client(dialects: Dialects, roles: Roles, trid: bool, params: &'static [Param]) -> Form {
    Form::new(Side::Client, dialects, roles, trid, params)
}

/// A server form.
pub const fn server(dialects: Dialects, roles: Roles, trid: bool, params: &'static [Param]) -> Form {
    Form::new(Side::Server, dialects, roles, trid, params)
}

/// A catalog entry: a verb and its forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The three-letter code.
    pub verb: &'static str,
    /// What it does, in a few words.
    pub summary: &'static str,
    /// The dialects that have it.
    pub dialects: Dialects,
    /// Whether the IETF draft defines it.
    pub in_draft: bool,
    /// Where it is specified.
    pub cite: &'static str,
    /// Its forms, the more specific first within each side.
    pub forms: &'static [Form],
}

impl CommandSpec {
    /// The dialect that introduced it (2 for MSNP2 commands).
    pub fn since(&self) -> u8 {
        self.dialects.low.number().max(2)
    }

    /// The forms `side` sends in any of `span`.
    pub fn forms_of(&self, side: Side, span: Dialects) -> impl Iterator<Item = &'static Form> + '_ {
        self.forms.iter().filter(move |f| f.side == side && f.dialects.overlaps(span))
    }

    /// The server roles any of its forms belongs to.
    pub fn roles(&self) -> Roles {
        self.forms.iter().fold(Roles::NONE, |r, f| r.union(f.roles))
    }
}

/// Roles for form definitions: dispatch, notification, switchboard.
pub(crate) const DS: Roles = Roles { ds: true, ns: false, sb: false };
pub(crate) const NS: Roles = Roles { ds: false, ns: true, sb: false };
pub(crate) const SB: Roles = Roles { ds: false, ns: false, sb: true };
pub(crate) const DS_NS: Roles = Roles { ds: true, ns: true, sb: false };
pub(crate) const NS_SB: Roles = Roles { ds: false, ns: true, sb: true };
pub(crate) const ANY: Roles = Roles { ds: true, ns: true, sb: true };

/// Every verb, by family.
static FAMILIES: &[&[CommandSpec]] = &[login::SPECS, lists::SPECS, presence::SPECS, notify::SPECS, switchboard::SPECS];

/// Every verb msntap knows, in one list (the order of [`index_bytes`]).
pub fn all() -> &'static [&'static CommandSpec] {
    static ALL: std::sync::OnceLock<Vec<&'static CommandSpec>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| FAMILIES.iter().flat_map(|f| f.iter()).collect())
}

/// Looks a verb up (case-sensitive, as the protocol is).
pub fn lookup(verb: &str) -> Option<&'static CommandSpec> {
    lookup_bytes(verb.as_bytes())
}

/// Looks a verb up by its bytes (a table indexed by the three letters: no scan, no compare).
pub fn lookup_bytes(verb: &[u8]) -> Option<&'static CommandSpec> {
    all().get(index_bytes(verb)?).copied()
}

/// The position of a verb in [`all`].
pub fn index_bytes(verb: &[u8]) -> Option<usize> {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let key = |v: &[u8]| -> Option<usize> {
        match v {
            [a @ b'A'..=b'Z', b @ b'A'..=b'Z', c @ b'A'..=b'Z'] => {
                Some(((a - b'A') as usize * 26 + (b - b'A') as usize) * 26 + (c - b'A') as usize)
            }
            _ => None,
        }
    };
    let table = TABLE.get_or_init(|| {
        let mut t = vec![u8::MAX; 26 * 26 * 26];
        for (i, c) in all().iter().enumerate() {
            if let Some(k) = key(c.verb.as_bytes()) {
                t[k] = i as u8;
            }
        }
        t
    });
    let i = *table.get(key(verb)?)?;
    (i != u8::MAX).then_some(i as usize)
}

/// How a line's parameters were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The form the line has (for a line that fits none, the likeliest).
    pub form: &'static Form,
    /// Whether the line fits it.
    pub fits: bool,
    /// The dialects of every form of the verb the line fits (its evidence; `None` when it
    /// fits none).
    pub evidence: Option<Dialects>,
    /// The roles of every form the line fits (of every candidate form when it fits none).
    pub roles: Roles,
}

/// Reads the tokens after a known verb (`rest`, the TrID included when there is one) sent by
/// `side` in a connection whose dialect is one of `span`: which form the line has. A line that
/// fits no form is read as the first whose literals and count fit, else the first whose count
/// fits, else the first.
pub fn read(spec: &'static CommandSpec, side: Side, span: Dialects, rest: &[&str]) -> Option<Reading> {
    let (mut first, mut count_fits, mut words_fit, mut chosen) = (None, None, None, None);
    let mut evidence: Option<Dialects> = None;
    let (mut roles, mut any_roles) = (Roles::NONE, Roles::NONE);
    for f in spec.forms_of(side, span) {
        first.get_or_insert(f);
        any_roles = any_roles.union(f.roles);
        let args = if f.trid { rest.get(1..).unwrap_or(&[]) } else { rest };
        let trid_ok = !f.trid || rest.first().is_some_and(|t| Kind::Number.fits(t));
        if trid_ok && f.fits(args) {
            chosen.get_or_insert(f);
            evidence = Some(evidence.map_or(f.dialects, |e| e.hull(f.dialects)));
            roles = roles.union(f.roles);
        } else if args.len() >= f.required() && f.most().is_none_or(|m| args.len() <= m) {
            count_fits.get_or_insert(f);
            let literal = |k: Kind| matches!(k, Kind::Lit(_) | Kind::Word(_));
            if f.params.iter().zip(args).all(|(p, a)| !literal(p.kind) || p.kind.fits(a)) {
                words_fit.get_or_insert(f);
            }
        }
    }
    let fits = chosen.is_some();
    let form = chosen.or(words_fit).or(count_fits).or(first)?;
    let roles = if fits { roles } else { any_roles };
    Some(Reading { form, fits, evidence, roles })
}

/// Whether `verb` sent by this side has a TrID slot in some dialect of `span`. Errors have an
/// optional one, decided by the caller; unknown commands are assumed to have one.
pub fn has_trid(verb: &str, from_client: bool, span: Dialects) -> bool {
    match lookup(verb) {
        Some(spec) => {
            let side = Side::of(from_client);
            let mut forms = spec.forms_of(side, span).peekable();
            if forms.peek().is_none() {
                // Sent the other way only: judge it by that side's forms.
                let other = if from_client { Side::Server } else { Side::Client };
                return spec.forms_of(other, span).any(|f| f.trid);
            }
            forms.any(|f| f.trid && !f.in_batch)
        }
        None => true,
    }
}

/// Expected argument counts (after the TrID) of MSNP2 forms, as the draft gives them: (verb,
/// from client, min, max). The data of rule S007.
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

/// The MSNP2 argument count range of a command in a direction (rule S007's data).
pub fn arity(cmd: &Command<'_>, from_client: bool) -> Option<(usize, usize)> {
    let spec = cmd.spec?;
    ARITY.iter().find(|(v, c, _, _)| *v == spec.verb && *c == from_client).map(|&(_, _, a, b)| (a, b))
}

/// Which response verbs may answer a request verb (errors answer anything).
pub fn compatible(request: &str, response: &str, role: Role) -> bool {
    match request {
        "USR" => response == "USR" || (response == "XFR" && role != Role::NS && role != Role::SB),
        "SYN" => matches!(response, "SYN" | "GTC" | "BLP" | "LST" | "PRP" | "BPR" | "LSG"),
        "CHG" => matches!(response, "CHG" | "ILN"),
        "ADD" | "ADC" | "ADL" => response == request || response == "ILN",
        "ANS" => matches!(response, "IRO" | "ANS"),
        "MSG" => matches!(response, "ACK" | "NAK"),
        other => other == response,
    }
}

/// Dialects `lo` to `hi` for the tables (2 includes CVR0, the MSNP2-era version check).
pub(crate) const fn d(lo: u8, hi: u8) -> Dialects {
    super::dialect::range(Dialect::at(if lo <= 2 { 0 } else { lo }), Dialect::at(hi))
}

/// Dialect `lo` and every later one.
pub(crate) const fn up(lo: u8) -> Dialects {
    d(lo, 21)
}

#[cfg(test)]
mod tests;
