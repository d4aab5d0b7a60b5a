//! What a connection is: its server role from the commands it carries, and its dialect from
//! the VER exchange or, failing that, from commands only later dialects have.

use super::model::DialectSource;
use super::Connection;
use crate::msnp::command::Command;
use crate::msnp::Role;

/// Whether a dialect name is MSNP2 (or its CVR0 fallback).
pub fn is_msnp2(d: &str) -> bool {
    d.eq_ignore_ascii_case("MSNP2") || d.eq_ignore_ascii_case("CVR0")
}

impl Connection {
    /// Later-dialect commands and forms point to the dialect that introduced them.
    pub(super) fn fingerprint(&mut self, cmd: &Command<'_>, from_client: bool) {
        let (verb, a) = (cmd.verb, &cmd.args);
        let mut at_least = |n: u8| self.st.later = self.st.later.max(n);
        if let Some(s) = cmd.spec.filter(|s| s.since > 2) {
            at_least(s.since);
        }
        if verb == "QNG" && !a.is_empty() {
            at_least(9);
        }
        if verb == "MSG" && from_client && a.first() == Some(&"D") {
            at_least(9);
        }
        if verb == "USR" && a.first().is_some_and(|p| *p == "TWN" || *p == "SSO") {
            at_least(if a[0] == "SSO" { 15 } else { 8 });
        }
        if verb == "XFR" && !from_client && a.first() == Some(&"NS") && a.len() >= 3 {
            at_least(3);
        }
        if let Some(code) = cmd.error {
            if crate::msnp::errors::error_code(code).is_some_and(|e| e.era == crate::msnp::errors::Era::Later) {
                at_least(3);
            }
        }
    }

    /// The role, from the first command that only one role carries.
    pub(super) fn infer_role(&mut self, cmd: &Command<'_>, from_client: bool) {
        let (verb, a) = (cmd.verb, &cmd.args);
        if self.role == Role::Unknown {
            self.role = match (verb, from_client) {
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
        } else if self.role == Role::NS && verb == "XFR" && !from_client && a.first() == Some(&"NS") {
            // The login answered by a referral: this was a dispatch connection.
            if !self.st.rules.logged_in() && cmd.trid.is_some_and(|t| t != 0) {
                self.role = Role::DS;
            }
        }
    }

    /// A server's VER reply decides the dialect.
    pub(super) fn negotiated(&mut self, cmd: &Command<'_>, from_client: bool) {
        if from_client {
            return;
        }
        if let Some(chosen) = cmd.args.first() {
            let up = chosen.to_ascii_uppercase();
            if up != "0" {
                self.st.strict = is_msnp2(&up);
                self.dialect = Some(up);
                self.dialect_source = Some(DialectSource::Negotiated);
            }
        }
    }

    /// At the end, a connection without a negotiated or inherited dialect is labelled with
    /// what its commands point to.
    pub(super) fn infer_at_close(&mut self) {
        if self.dialect.is_none() && self.st.later > 0 {
            self.dialect = Some(format!("MSNP{}+", self.st.later));
            self.dialect_source = Some(DialectSource::Fingerprint);
        }
    }
}
