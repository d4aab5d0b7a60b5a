//! What a connection is: its server role from the forms of the commands it carries, and its
//! dialect from the VER exchange, the referral that led to it, the client version its CVR names,
//! or, failing those, the forms of its commands (each fits only some dialects).

use super::model::DialectSource;
use super::Connection;
use crate::msnp::catalog::Roles;
use crate::msnp::command::Command;
use crate::msnp::dialect::{self, Dialect, Dialects};
use crate::msnp::verbs::{CVQ, CVR, XFR};
use crate::msnp::Role;

/// What is known of a connection's dialect.
#[derive(Debug, Clone)]
pub struct DialectState {
    /// The dialects the connection may speak: its lines are read and checked against these.
    pub span: Dialects,
    /// Decided by VER or a referral (`span` is then one dialect, or every dialect when the
    /// server chose one the client did not offer).
    pub decided: bool,
    /// What the connection's own commands allow (narrowed line by line).
    pub evidence: Dialects,
    /// What narrowed the evidence, for the label's explanation.
    pub notes: Vec<Note>,
    /// The label as negotiated, when the server chose a name msntap does not know.
    pub named: Option<String>,
    /// The named dialect was offered by the client but is not one msntap knows.
    pub unknown_name: bool,
}

impl Default for DialectState {
    fn default() -> Self {
        DialectState {
            span: Dialects::ALL,
            decided: false,
            evidence: Dialects::ALL,
            notes: Vec::new(),
            named: None,
            unknown_name: false,
        }
    }
}

/// What narrowed a connection's evidence, kept as it came and put in words only when the
/// explanation is shown (most connections are never shown with theirs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A verb only these dialects have.
    Verb(&'static str, Dialects),
    /// A form of the verb only these dialects have.
    Form(&'static str, Dialects),
    /// The client version a CVR names.
    ClientVersion(String, Dialects),
    /// The user's other connections.
    Users(Dialects),
    /// The referral that led to the connection.
    Referral(Dialects),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Verb(verb, d) => write!(f, "{verb} ({})", d.label()),
            Note::Form(verb, d) => write!(f, "{verb} form ({})", d.label()),
            Note::ClientVersion(version, d) => write!(f, "client version {version} ({})", d.label()),
            Note::Users(d) => write!(f, "the user's other connections ({})", d.label()),
            Note::Referral(d) => write!(f, "the referral that led here ({})", d.label()),
        }
    }
}

/// Evidence notes kept per connection.
const MAX_NOTES: usize = 4;

impl DialectState {
    /// Narrows the evidence to `range` for `why`; evidence that contradicts what is known is
    /// set aside (a lenient peer is not a different dialect).
    pub fn narrow(&mut self, range: Dialects, why: impl FnOnce() -> Note) -> bool {
        match self.evidence.intersect(range) {
            Some(e) if e != self.evidence => {
                self.evidence = e;
                if self.notes.len() < MAX_NOTES {
                    self.notes.push(why());
                }
                if !self.decided {
                    self.span = e;
                }
                true
            }
            _ => false,
        }
    }
}

impl Connection {
    /// The dialects this connection may speak (what its lines are read and checked against).
    pub fn dialects(&self) -> Dialects {
        self.st.dialect.span
    }

    /// Whether the dialect was decided by VER or a referral.
    pub fn dialect_decided(&self) -> bool {
        self.st.dialect.decided
    }

    /// What the connection's own commands say of its dialect.
    pub fn dialect_evidence(&self) -> Dialects {
        self.st.dialect.evidence
    }

    /// The forms of `cmd` narrow the dialect; its CVR names the client's version.
    pub(super) fn fingerprint(&mut self, cmd: &Command<'_>, from_client: bool) {
        let Some(spec) = cmd.spec else { return };
        let verb = spec.verb;
        let st = &mut self.st.dialect;
        let mut changed = st.narrow(spec.dialects, || Note::Verb(verb, spec.dialects));
        if let Some(range) = cmd.reading.and_then(|r| r.evidence) {
            changed |= st.narrow(range, || Note::Form(verb, range));
        }
        if from_client && matches!(cmd.code, CVR | CVQ) {
            let client = cmd.args.get(4).copied().unwrap_or("");
            if let Some(range) = cmd.args.get(5).and_then(|v| dialect::of_client_version(client, v)) {
                let version = cmd.args.get(5).copied().unwrap_or("");
                if st.narrow(range, || Note::ClientVersion(version.to_string(), range)) {
                    changed = true;
                    if !st.decided {
                        self.dialect_source.get_or_insert(DialectSource::ClientVersion);
                    }
                }
            }
        }
        if changed {
            self.st.notices.push(super::Notice::Dialect(self.st.dialect.evidence));
            if !self.st.dialect.decided {
                self.sync_decoders();
                self.settle_dialect();
            }
        }
    }

    /// The role, from what the forms of the commands seen so far allow.
    pub(super) fn infer_role(&mut self, cmd: &Command<'_>, from_client: bool) {
        let a = &cmd.args;
        let referral_answer =
            !from_client && cmd.code == XFR && a.first() == Some(&"NS") && cmd.trid.is_some_and(|t| t != 0);
        if referral_answer && !self.st.rules.logged_in() && matches!(self.role, Role::Unknown | Role::NS) {
            // The login answered by a referral: this was a dispatch connection.
            self.role = Role::DS;
            return;
        }
        if self.role != Role::Unknown {
            return;
        }
        let Some(r) = cmd.reading else { return };
        let left = self.st.roles.intersect(r.roles);
        if left != Roles::NONE {
            self.st.roles = left;
        }
        if let Some(role) = self.st.roles.single() {
            self.role = role;
        }
    }

    /// A server's VER reply decides the dialect: the one it names, or (named but not offered)
    /// none in particular, so that only the rules of every dialect apply.
    pub(super) fn negotiated(&mut self, cmd: &Command<'_>, from_client: bool, offered_it: bool) {
        if from_client {
            return;
        }
        let Some(chosen) = cmd.args.first() else { return };
        let up = chosen.to_ascii_uppercase();
        if up == "0" {
            return;
        }
        let st = &mut self.st.dialect;
        st.decided = true;
        match Dialect::parse(&up).filter(|_| offered_it) {
            Some(d) => {
                st.span = dialect::only(d);
                st.named = None;
                st.unknown_name = false;
            }
            None => {
                st.span = Dialects::ALL;
                // Offered but not one msntap knows (MSNP24), or not offered at all (S013).
                st.unknown_name = offered_it;
                st.named = Some(up);
            }
        }
        self.dialect_source = Some(DialectSource::Negotiated);
        self.sync_decoders();
        self.settle_dialect();
    }

    /// Tells the wire decoders the dialects (their payload forms depend on them).
    pub(super) fn sync_decoders(&mut self) {
        let span = self.st.dialect.span;
        for d in self.st.decoders.iter_mut().flatten() {
            d.set_dialects(span);
        }
    }

    /// The dialect as a label (`MSNP11`, `MSNP11-12`, `MSNP9+`), once anything is known.
    pub fn dialect_label(&self) -> Option<String> {
        let st = &self.st.dialect;
        if let Some(n) = &st.named {
            return Some(n.clone());
        }
        let span = if st.decided { st.span } else { st.evidence };
        (span != Dialects::ALL).then(|| span.label())
    }

    /// What decided the dialect, in words (the evidence notes for a fingerprint).
    pub fn dialect_reason(&self) -> Option<String> {
        let st = &self.st.dialect;
        match self.dialect_source {
            Some(DialectSource::Negotiated) if st.unknown_name => {
                Some("named by VER, a dialect msntap does not know".into())
            }
            Some(DialectSource::Negotiated) if st.named.is_some() => Some("named by VER but not offered".into()),
            Some(DialectSource::Negotiated) => Some("VER".into()),
            Some(DialectSource::Inherited) => Some("the referral that led here".into()),
            _ if st.notes.is_empty() => None,
            _ => Some(st.notes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")),
        }
    }

    /// The label and source as they stand, written into the connection's fields (at its end,
    /// and whenever the analysis reports it).
    pub fn settle_dialect(&mut self) {
        self.dialect = self.dialect_label();
        if self.dialect.is_some() && self.dialect_source.is_none() {
            self.dialect_source = Some(DialectSource::Fingerprint);
        }
    }

    /// The user's other connections say the dialect is one of `range` (what they and this one
    /// allow together); a connection without a decided dialect takes it.
    pub fn narrow_by_user(&mut self, range: Dialects) {
        if self.st.dialect.decided {
            return;
        }
        let st = &mut self.st.dialect;
        if let Some(e) = st.evidence.intersect(range).filter(|e| *e != st.evidence) {
            st.evidence = e;
            st.span = e;
            if st.notes.len() < MAX_NOTES {
                st.notes.push(Note::Users(range));
            }
            self.sync_decoders();
            self.settle_dialect();
        }
    }

    /// The dialect learned from the referral that led here: decided when the referring
    /// connection's was, else evidence.
    pub(super) fn inherit_dialect(&mut self, span: Dialects, decided: bool) {
        let st = &mut self.st.dialect;
        if st.decided || span == Dialects::ALL {
            return;
        }
        if decided {
            st.decided = true;
            st.span = span;
            self.dialect_source = Some(DialectSource::Inherited);
        } else if st.narrow(span, || Note::Referral(span)) {
            self.dialect_source.get_or_insert(DialectSource::Inherited);
        }
        self.sync_decoders();
        self.settle_dialect();
    }
}
