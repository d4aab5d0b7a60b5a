//! Syntax and value rules (S): parameter counts and the values in them (handles, friendly
//! names, states, lists, addresses, numbers), error codes, authentication responses, packages
//! and the dialect the server chose.

use super::{
    truncate, Checker, Context, Violation, S001, S002, S003, S004, S005, S006, S007, S008, S009, S010, S011, S012,
    S013, S014, S015, S016,
};
use crate::msnp::address::valid_address;
use crate::msnp::command::Command;
use crate::msnp::params::{check_friendly_name, ends_with_ignore_case, param_names, valid_handle, STATES};
use crate::msnp::{auth, catalog, errors};

/// S008: an error code no dialect is known to use.
pub fn error_code(cmd: &Command<'_>, v: &mut Vec<Violation>) {
    if let Some(code) = cmd.error {
        if errors::error_code(code).is_none() {
            v.push(Violation::new(S008, format!("error code {code} is not known")));
        }
    }
}

/// S012: a server that offers CTP in its INF reply.
pub fn ctp_offered(cmd: &Command<'_>, v: &mut Vec<Violation>) {
    if cmd.args.iter().any(|p| p.split(',').any(|x| x == "CTP")) {
        v.push(Violation::new(S012, "server offers CTP (clear-text password)"));
    }
}

/// S012: a client that logs in with CTP.
pub fn ctp_used(cmd: &Command<'_>, v: &mut Vec<Violation>) {
    if cmd.args.first() == Some(&"CTP") {
        v.push(Violation::new(S012, "client authenticates with CTP (clear-text password)"));
    }
}

/// S009 and S010: the MD5 response of `USR n MD5 S response` is 32 lower-case hex digits and,
/// when the user's password is known, the right one for `challenge`.
pub fn md5_response(cmd: &Command<'_>, challenge: Option<&str>, cx: &Context<'_>, v: &mut Vec<Violation>) {
    let a = &cmd.args;
    let Some(resp) = a.last().filter(|_| a.len() >= 3) else { return };
    if resp.len() != 32 || !resp.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        v.push(Violation::new(S009, format!("response is {} characters, not 32 lower-case hex digits", resp.len())));
    } else if let (Some(ch), Some(user)) = (challenge, cx.user) {
        if let Some(pw) = cx.passwords.get(user) {
            if *resp != auth::md5_response(ch, pw) {
                v.push(Violation::new(S010, format!("response for {user} does not match the password given")));
            }
        }
    }
}

/// S011: a switchboard referral (XFR SB, RNG) with a package other than CKI.
pub fn package(cmd: &Command<'_>, v: &mut Vec<Violation>) {
    if let Some(pkg) = cmd.args.get(2).filter(|p| **p != "CKI") {
        v.push(Violation::new(S011, format!("package {pkg}")));
    }
}

impl Checker {
    /// Remembers the dialects a client's VER offers, and checks a server's choice among them
    /// (S013). `chosen` is the server's first dialect, upper-cased.
    pub fn ver(&mut self, cmd: &Command<'_>, from_client: bool, v: &mut Vec<Violation>) {
        let a = &cmd.args;
        if from_client {
            self.offered = a.iter().map(|s| s.to_ascii_uppercase()).collect();
        } else if let Some(chosen) = a.first() {
            let up = chosen.to_ascii_uppercase();
            if up != "0" && !self.offered.is_empty() && !self.offered.contains(&up) {
                v.push(Violation::new(
                    S013,
                    format!("server chose {chosen}, client offered {}", self.offered.join(" ")),
                ));
            }
        }
    }

    /// S007 and the value checks (S001-S006, S014-S016) of the MSNP2 forms.
    pub(super) fn msnp2_forms(&mut self, cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        let (verb, a, from_client) = (cmd.verb, &cmd.args, cx.from_client);
        if let Some((min, max)) = catalog::arity(cmd, from_client) {
            if a.len() < min || a.len() > max {
                let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                v.push(Violation::new(
                    S007,
                    format!("{verb} has {} parameters after the TrID, MSNP2 has {want}", a.len()),
                ));
            }
        }
        // One pass over the parameters, checking each by its name.
        let (names, _) = param_names(cmd, from_client);
        for (name, value) in names.iter().zip(a.iter()) {
            self.value(verb, from_client, name, value, v);
        }
        match verb {
            "GTC" => {
                if let Some(s) = a.last().filter(|s| !matches!(**s, "A" | "N")) {
                    v.push(Violation::new(S006, format!("GTC setting {s:?}")));
                }
            }
            "BLP" => {
                if let Some(s) = a.last().filter(|s| !matches!(**s, "AL" | "BL")) {
                    v.push(Violation::new(S006, format!("BLP mode {s:?}")));
                }
            }
            _ => {}
        }
    }

    /// The check of one parameter by its name.
    fn value(&mut self, verb: &str, from_client: bool, name: &str, value: &str, v: &mut Vec<Violation>) {
        match name {
            "handle" | "sender" | "caller" => {
                if name == "sender" && value == "Hotmail" {
                    return;
                }
                if !valid_handle(value) {
                    v.push(Violation::new(S001, format!("{name} {:?} is not a valid handle", truncate(value, 140))));
                } else if !ends_with_ignore_case(value, "@hotmail.com") && self.foreign.insert(value.to_string()) {
                    v.push(Violation::new(S002, format!("{value} is not a hotmail.com handle")));
                }
            }
            "friendly-name" | "sender-name" | "caller-name" => {
                if name == "sender-name" && value == "Hotmail" {
                    return;
                }
                if let Err(why) = check_friendly_name(value) {
                    v.push(Violation::new(S003, format!("{name}: {why}")));
                }
            }
            "address" if !valid_address(value) => {
                v.push(Violation::new(S014, format!("address {:?}", truncate(value, 80))));
            }
            "session-id" if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) => {
                v.push(Violation::new(S015, format!("session id {:?}", truncate(value, 80))));
            }
            "serial" | "item" | "total" if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) => {
                v.push(Violation::new(S016, format!("{name} {:?}", truncate(value, 80))));
            }
            "state" if !STATES.contains(&value) => {
                v.push(Violation::new(S004, format!("state {value:?}")));
            }
            "list" => {
                let ok = if from_client && verb != "LST" {
                    matches!(value, "FL" | "AL" | "BL")
                } else {
                    matches!(value, "FL" | "AL" | "BL" | "RL")
                };
                if !ok {
                    v.push(Violation::new(S005, format!("{verb} list {value:?}")));
                }
            }
            _ => {}
        }
    }
}
