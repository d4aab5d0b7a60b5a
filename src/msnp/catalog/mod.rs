//! The command catalog: every verb of MSNP2 to MSNP21, and for each the dialects that have it
//! and its forms. A form is one shape of the verb: who sends it (client or server), in which
//! dialects and on which server roles, whether it has a TrID slot, its parameters by name and
//! kind (and which hold secrets), whether a length-prefixed payload follows, and whether it is a
//! line of a SYN batch (which later dialects send without a TrID). One file per command family
//! holds everything known of its verbs: [`login`], [`lists`], [`presence`], [`notify`],
//! [`switchboard`]. Sources: `msnp2-facts.md`, the msnp-wiki \[Y\] and NINA \[N\] pages named in
//! each form's citation; `docs/dialects.md` summarises them.

mod lists;
mod login;
mod notify;
mod presence;
mod switchboard;

use super::command::Command;
use super::dialect::{Dialect, Dialects};
use super::params::is_phone;
use super::role::Role;
pub use super::role::Roles;
use super::verbs;

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

/// Whether `t` is a number's shape: one or more ASCII digits (`Kind::Number` and
/// `Kind::Length`, and the parts of the kinds built of numbers).
#[inline]
fn digits(t: &[u8]) -> bool {
    !t.is_empty() && t.iter().all(u8::is_ascii_digit)
}

/// A handle's marks by byte: 1 for `@`, 2 for `;`, 0 for the rest.
const HANDLE_MARKS: [u8; 256] = {
    let mut t = [0; 256];
    t[b'@' as usize] = 1;
    t[b';' as usize] = 2;
    t
};

impl Kind {
    /// Whether the kind's shape test can fail (the others take any token).
    const fn decides(self) -> bool {
        matches!(
            self,
            Kind::Lit(_)
                | Kind::Word(_)
                | Kind::Number
                | Kind::Length
                | Kind::Handle
                | Kind::Sender
                | Kind::Endpoint
                | Kind::NetHandle
                | Kind::Prefixed(_)
                | Kind::Caps
        )
    }

    /// Whether `token` can be this kind (the shape test that picks a line's form). Byte
    /// comparisons throughout: this runs for every form of every line.
    #[inline]
    fn fits(self, token: &str) -> bool {
        let t = token.as_bytes();
        let same = |t: &[u8], l: &str| t.len() == l.len() && t.iter().zip(l.as_bytes()).all(|(a, b)| a == b);
        let has = |t: &[u8], c: u8| t.contains(&c);
        match self {
            Kind::Lit(l) => same(t, l),
            Kind::Word(ws) => ws.iter().any(|w| same(t, w)),
            Kind::Number | Kind::Length => digits(t),
            // An `@` and no `;`: the marks of every byte or-ed together (no branch a byte).
            Kind::Handle => t.iter().fold(0, |m, b| m | HANDLE_MARKS[*b as usize]) == 1 || is_phone(token),
            Kind::Sender => !same(t, "Hotmail"),
            Kind::Endpoint => has(t, b'@'),
            Kind::NetHandle => match t.iter().position(|b| *b == b':') {
                Some(i) => digits(&t[..i]) && has(&t[i + 1..], b'@'),
                None => false,
            },
            Kind::Prefixed(p) => t.starts_with(p.as_bytes()),
            Kind::Caps => match t.iter().position(|b| *b == b':') {
                Some(i) => digits(&t[..i]) && digits(&t[i + 1..]),
                None => digits(t),
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
    /// Parameters that must be present (computed from `params`).
    required: u8,
    /// The most parameters it takes (`u8::MAX`: any number, it ends with [`Kind::Rest`]).
    most: u8,
    /// Bit `i`: parameter `i` has a kind that decides the form (the others take any token).
    shaped: u32,
}

impl Form {
    /// A form sent by `side` in `dialects` on `roles`.
    pub const fn new(side: Side, dialects: Dialects, roles: Roles, trid: bool, params: &'static [Param]) -> Form {
        let (mut required, mut i, mut rest, mut shaped) = (0u8, 0, false, 0u32);
        while i < params.len() {
            let p = &params[i];
            if p.kind.decides() && i < 32 {
                shaped |= 1 << i;
            }
            if matches!(p.kind, Kind::Rest) {
                rest = true;
            } else if !p.optional && required as usize == i {
                required += 1;
            }
            i += 1;
        }
        let most = if rest { u8::MAX } else { params.len() as u8 };
        Form { side, dialects, roles, trid, params, payload: false, in_batch: false, cite: "", required, most, shaped }
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
        self.required as usize
    }

    /// The most parameters the form takes (`None`: any number, it ends with [`Kind::Rest`]).
    pub fn most(&self) -> Option<usize> {
        (self.most != u8::MAX).then_some(self.most as usize)
    }

    /// Whether as many parameters as `n` fit the form.
    #[inline]
    fn count_fits(&self, n: usize) -> bool {
        n >= self.required as usize && (self.most == u8::MAX || n <= self.most as usize)
    }

    /// Whether `args` (the parameters after the TrID) have this form's shape.
    pub fn fits(&self, args: &[&str]) -> bool {
        if !self.count_fits(args.len()) {
            return false;
        }
        // Only the parameters whose kind decides are tested, in order.
        let mut m = self.shaped;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            match (self.params.get(i), args.get(i)) {
                (Some(p), Some(a)) if !p.kind.fits(a) => return false,
                (Some(_), Some(_)) => {}
                _ => break,
            }
        }
        true
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
    // `Kind::Number.fits` without the kind's match: every line has one.
    let trid_shaped = rest.first().is_some_and(|t| digits(t.as_bytes()));
    let mut forms = spec.forms_of(side, span);
    let only = forms.next()?;
    if forms.next().is_none() {
        // One candidate (the usual case once the dialect is known): it is the reading.
        let args = if only.trid { rest.get(1..).unwrap_or(&[]) } else { rest };
        let fits = (!only.trid || trid_shaped) && only.fits(args);
        return Some(Reading { form: only, fits, evidence: fits.then_some(only.dialects), roles: only.roles });
    }
    for f in spec.forms_of(side, span) {
        first.get_or_insert(f);
        any_roles = any_roles.union(f.roles);
        let args = if f.trid { rest.get(1..).unwrap_or(&[]) } else { rest };
        let trid_ok = !f.trid || trid_shaped;
        if trid_ok && f.fits(args) {
            chosen.get_or_insert(f);
            evidence = Some(evidence.map_or(f.dialects, |e| e.hull(f.dialects)));
            roles = roles.union(f.roles);
        } else if f.count_fits(args.len()) {
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
const ARITY: &[(u32, bool, usize, usize)] = &[
    (verbs::VER, true, 1, 16),
    (verbs::VER, false, 1, 16),
    (verbs::INF, true, 0, 0),
    (verbs::INF, false, 1, 8),
    (verbs::CHG, true, 1, 1),
    (verbs::CHG, false, 1, 1),
    (verbs::ILN, false, 3, 3),
    (verbs::NLN, false, 3, 3),
    (verbs::FLN, false, 1, 1),
    (verbs::SYN, true, 1, 1),
    (verbs::SYN, false, 1, 1),
    (verbs::GTC, true, 1, 1),
    (verbs::GTC, false, 2, 2),
    (verbs::BLP, true, 1, 1),
    (verbs::BLP, false, 2, 2),
    (verbs::LST, true, 1, 1),
    (verbs::LST, false, 4, 6),
    (verbs::ADD, true, 3, 3),
    (verbs::ADD, false, 4, 4),
    (verbs::REM, true, 2, 2),
    (verbs::REM, false, 3, 3),
    (verbs::RNG, false, 6, 6),
    (verbs::JOI, false, 2, 2),
    (verbs::BYE, false, 1, 2),
    (verbs::IRO, false, 4, 4),
    (verbs::CAL, true, 1, 1),
    (verbs::CAL, false, 2, 2),
    (verbs::ANS, true, 3, 3),
    (verbs::ANS, false, 1, 1),
    (verbs::MSG, true, 2, 2),
    (verbs::MSG, false, 3, 3),
    (verbs::ACK, false, 0, 0),
    (verbs::NAK, false, 0, 0),
    (verbs::OUT, true, 0, 0),
    (verbs::OUT, false, 0, 1),
    (verbs::PNG, true, 0, 0),
    (verbs::QNG, false, 0, 0),
    (verbs::XFR, true, 1, 1),
    (verbs::CVR, true, 6, 6),
    (verbs::CVR, false, 5, 5),
    (verbs::CVQ, true, 6, 6),
    (verbs::CVQ, false, 5, 5),
    (verbs::REA, true, 2, 2),
    (verbs::REA, false, 3, 3),
    (verbs::SND, true, 1, 1),
    (verbs::SND, false, 1, 1),
    (verbs::URL, true, 1, 2),
    (verbs::URL, false, 2, 2),
];

/// The MSNP2 argument count range of a command in a direction (rule S007's data).
pub fn arity(cmd: &Command<'_>, from_client: bool) -> Option<(usize, usize)> {
    // By verb index and direction: this runs for every command of an MSNP2 connection.
    static BY_VERB: std::sync::OnceLock<Vec<Option<(usize, usize)>>> = std::sync::OnceLock::new();
    let index = cmd.index?;
    let table = BY_VERB.get_or_init(|| {
        let mut t = vec![None; all().len() * 2];
        for &(v, c, lo, hi) in ARITY {
            let verb = u32::to_le_bytes(v);
            if let Some(i) = index_bytes(&verb[..3]) {
                t[i * 2 + usize::from(c)] = Some((lo, hi));
            }
        }
        t
    });
    *table.get(index * 2 + usize::from(from_client))?
}

/// Which response verbs may answer a request verb (errors answer anything).
pub fn compatible(request: &str, response: &str, role: Role) -> bool {
    // By verb code (three letters packed, one to one): every response line comes here.
    use verbs::{ACK, ADC, ADD, ADL, ANS, BLP, BPR, CHG, GTC, ILN, IRO, LSG, LST, MSG, NAK, PRP, SYN, USR, XFR};
    let (q, r) = (verbs::code(request), verbs::code(response));
    match q {
        USR => r == USR || (r == XFR && role != Role::NS && role != Role::SB),
        SYN => matches!(r, SYN | GTC | BLP | LST | PRP | BPR | LSG),
        CHG => matches!(r, CHG | ILN),
        ADD | ADC | ADL => r == q || r == ILN,
        ANS => matches!(r, IRO | ANS),
        MSG => matches!(r, ACK | NAK),
        _ => request == response,
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
