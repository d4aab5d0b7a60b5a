//! Syntax and value rules (S): parameter counts and the values in them (handles, friendly
//! names, states, lists, addresses, numbers), error codes, authentication responses, packages
//! and the dialect the server chose.

use super::{
    truncate, Checker, Context, Violation, S001, S002, S003, S004, S005, S006, S007, S008, S009, S010, S011, S012,
    S013, S014, S015, S016, S019, S020, S021, S022, S023,
};
use crate::msnp::address::valid_address;
use crate::msnp::catalog::{Kind, Param};
use crate::msnp::command::Command;
use crate::msnp::dialect::Dialect;
use crate::msnp::params::{check_friendly_name, is_hotmail, is_phone, is_state, valid_handle};
use crate::msnp::verbs::{ADL, BLP, GTC, LST, REM, RML, USR, XFR};
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
    /// (its first dialect, S013). Returns whether the choice was offered (or nothing was seen
    /// to compare it with).
    pub fn ver(&mut self, cmd: &Command<'_>, from_client: bool, v: &mut Vec<Violation>) -> bool {
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
                return false;
            }
        }
        true
    }

    /// S007 (MSNP2 only) and the value checks (S001-S006, S014-S016) of the parameters by
    /// their kinds in the line's form, each where its rule holds.
    pub(super) fn values(&mut self, cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        let (verb, a, from_client) = (cmd.verb, &cmd.args, cx.from_client);
        if cx.applies(S007) {
            if let Some((min, max)) = catalog::arity(cmd, from_client) {
                if a.len() < min || a.len() > max {
                    let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                    v.push(Violation::new(
                        S007,
                        format!("{verb} has {} parameters after the TrID, MSNP2 has {want}", a.len()),
                    ));
                }
            }
        }
        if let Some(form) = cmd.form() {
            for (i, value) in a.iter().enumerate() {
                let Some(param) = form.param(i) else { break };
                self.value(cx, cmd, param, value, v);
            }
        }
        match cmd.code {
            GTC if cx.applies(S006) => {
                if let Some(s) = a.last().filter(|s| !matches!(**s, "A" | "N")) {
                    v.push(Violation::new(S006, format!("GTC setting {s:?}")));
                }
            }
            BLP if cx.applies(S006) => {
                if let Some(s) = a.last().filter(|s| !matches!(**s, "AL" | "BL")) {
                    v.push(Violation::new(S006, format!("BLP mode {s:?}")));
                }
            }
            _ => {}
        }
    }

    /// The check of one parameter by its kind.
    fn value(&mut self, cx: &Context<'_>, cmd: &Command<'_>, param: &Param, value: &str, v: &mut Vec<Violation>) {
        let (name, verb, code) = (param.name, cmd.verb, cmd.code);
        match param.kind {
            Kind::Handle | Kind::Endpoint | Kind::NetHandle | Kind::Sender => {
                if (param.kind == Kind::Sender && value == "Hotmail") || is_phone(value) {
                    return;
                }
                // A valid handle holds no `;` or `:`, so a valid value is its own handle part:
                // one scan for the usual line instead of two.
                let whole = valid_handle(value);
                let handle = if whole { value } else { handle_part(value) };
                if !whole && !valid_handle(handle) {
                    if cx.applies(S001) {
                        v.push(Violation::new(
                            S001,
                            format!("{name} {:?} is not a valid handle", truncate(value, 140)),
                        ));
                    }
                } else if cx.applies(S002) && !is_hotmail(handle) && self.foreign.insert(handle.to_string()) {
                    v.push(Violation::new(S002, format!("{handle} is not a hotmail.com handle")));
                }
            }
            Kind::Name if !(name == "sender-name" && value == "Hotmail") => {
                let why = if cx.lossy && value.contains('\u{fffd}') {
                    Err("holds bytes that are not UTF-8".to_string())
                } else {
                    check_friendly_name(value)
                };
                match why {
                    Err(why) if cx.applies(S003) => v.push(Violation::new(S003, format!("{name}: {why}"))),
                    Ok(()) if cx.applies(S023) && !value.is_ascii() => {
                        v.push(Violation::new(S023, format!("{name} {:?} is not URL-encoded", truncate(value, 80))));
                    }
                    _ => {}
                }
            }
            Kind::Address if cx.applies(S014) && !valid_address(value) => {
                v.push(Violation::new(S014, format!("address {:?}", truncate(value, 80))));
            }
            // The server issues session ids; a client only echoes them.
            Kind::SessionId
                if !cx.from_client
                    && cx.applies(S015)
                    && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit())) =>
            {
                v.push(Violation::new(S015, format!("session id {:?}", truncate(value, 80))));
            }
            Kind::Serial | Kind::Count
                if cx.applies(S016) && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit())) =>
            {
                v.push(Violation::new(S016, format!("{name} {:?}", truncate(value, 80))));
            }
            Kind::State if cx.applies(S004) && !is_state(value) => {
                v.push(Violation::new(S004, format!("state {value:?}")));
            }
            Kind::List if cx.applies(S005) => {
                let pl = Dialect::P10 <= cx.dialects.low;
                let list = <[u8; 2]>::try_from(value.as_bytes()).ok();
                let ok = match list.as_ref() {
                    Some(b"FL" | b"AL" | b"BL") => true,
                    Some(b"RL") => !cx.from_client || code == LST,
                    Some(b"PL") => pl && (!cx.from_client || code == LST || code == REM),
                    _ => false,
                };
                if !ok {
                    v.push(Violation::new(S005, format!("{verb} list {value:?}")));
                }
            }
            _ => {}
        }
    }
}

/// The handle a handle-bearing token names: `handle;{machine-guid}` (MSNP16+) and
/// `network:handle` (MSNP18) name one too. One scan finds the first `;` or `:` (both ASCII, so
/// the cuts fall on character boundaries): most tokens hold neither.
fn handle_part(value: &str) -> &str {
    let b = value.as_bytes();
    match b.iter().position(|c| matches!(c, b';' | b':')) {
        None => value,
        Some(i) if b[i] == b';' => value.get(..i).unwrap_or(value),
        // The first `:`, before any `;`: a network id when digits come before it.
        Some(i) => {
            let end = b[i..].iter().position(|c| *c == b';').map_or(b.len(), |k| i + k);
            let from = if i > 0 && b[..i].iter().all(u8::is_ascii_digit) { i + 1 } else { 0 };
            value.get(from..end).unwrap_or(value)
        }
    }
}

/// S019: an XFR NS referral without the fields its (decided) dialect adds: MSNP3 `0`, MSNP7 the
/// current server, MSNP13 `U D`.
pub fn xfr_ns_fields(cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
    let a = &cmd.args;
    if cx.from_client || cmd.code != XFR || a.first() != Some(&"NS") || a.get(1) == Some(&"0") {
        return;
    }
    let Some(d) = cx.dialects.exact().filter(|_| cx.decided && cx.applies(S019)) else { return };
    if cmd.reading.is_some_and(|r| !r.fits) {
        let want = match d.number() {
            3..=6 => "NS address 0",
            7..=12 => "NS address 0 current-server",
            13..=20 => "NS address U D",
            _ => "NS address U D hops",
        };
        v.push(Violation::new(S019, format!("XFR NS has {} parameters; {d} has {want}", a.len())));
    }
}

/// S020: USR OK's verified (MSNP6+) and restricted (MSNP8+) flags are 0 or 1.
pub fn usr_ok_flags(cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
    if cx.from_client || cmd.code != USR || cmd.args.first() != Some(&"OK") || !cx.applies(S020) {
        return;
    }
    let Some(form) = cmd.form() else { return };
    for (p, value) in form.params.iter().zip(cmd.args.iter()) {
        if matches!(p.name, "verified" | "restricted") && !matches!(*value, "0" | "1") {
            v.push(Violation::new(S020, format!("{} flag {:?}", p.name, truncate(value, 40))));
        }
    }
}

/// Whether `s` is a GUID (`8-4-4-4-12` hex digits, braces allowed).
fn is_guid(s: &str) -> bool {
    let s = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// S021: an MSNP10-12 LST entry: `N=` a handle, `F=` a friendly name, `C=` a contact id (a GUID,
/// or a handle before address-book migration), the lists a number from 1 to 31, groups decimal
/// ids or GUIDs separated by commas.
pub fn lst_entry(cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
    if cx.from_client || cmd.code != LST || !cx.applies(S021) {
        return;
    }
    let a = &cmd.args;
    let mut bad = Vec::new();
    let mut lists = None;
    let mut handle = None;
    for (i, t) in a.iter().enumerate() {
        if let Some(h) = t.strip_prefix("N=") {
            handle = Some(h);
            if !valid_handle(h) && !is_phone(h) {
                bad.push(format!("N={}", truncate(h, 60)));
            }
        } else if let Some(n) = t.strip_prefix("F=") {
            if check_friendly_name(n).is_err() {
                bad.push("F= is not URL-encoded UTF-8".to_string());
            }
        } else if let Some(c) = t.strip_prefix("C=") {
            if !is_guid(c) && !valid_handle(c) {
                bad.push(format!("C={}", truncate(c, 60)));
            }
        } else if lists.is_none() && t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() {
            lists = t.parse::<u32>().ok();
            if !lists.is_some_and(|n| (1..=31).contains(&n)) {
                bad.push(format!("lists {t}"));
            }
        } else if i + 1 == a.len()
            && lists.is_some()
            && !t.split(',').all(|g| is_guid(g) || (!g.is_empty() && g.bytes().all(|b| b.is_ascii_digit())))
        {
            bad.push(format!("groups {}", truncate(t, 80)));
        }
    }
    if handle.is_none() {
        bad.insert(0, "no N=handle".into());
    }
    if lists.is_none() {
        bad.push("no lists number".into());
    }
    if !bad.is_empty() {
        v.push(Violation::new(S021, bad.join("; ")));
    }
}

/// S022: an ADL or RML payload is an `<ml>` list: `<d n="domain">` elements of `<c n="local"
/// l="lists" t="network"/>` contacts (and at most one `<t>` of `<c n="tel:..." l=".."/>`).
pub fn xml_list(cx: &Context<'_>, cmd: &Command<'_>, payload: Option<&[u8]>, v: &mut Vec<Violation>) {
    if !matches!(cmd.code, ADL | RML) || !cx.applies(S022) {
        return;
    }
    let Some(body) = payload.filter(|b| !b.is_empty()) else { return };
    if let Err(why) = crate::msnp::xml::check_ml(body) {
        v.push(Violation::new(S022, why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handle a token names, cut as it was before one scan did it: up to the first `;`,
    /// after a `:` that digits come before.
    fn handle_part_in_two_scans(value: &str) -> &str {
        let b = value.as_bytes();
        let end = b.iter().position(|c| *c == b';').unwrap_or(b.len());
        match b[..end].iter().position(|c| *c == b':') {
            Some(i) if i > 0 && b[..i].iter().all(u8::is_ascii_digit) => value.get(i + 1..end),
            _ => value.get(..end),
        }
        .unwrap_or(value)
    }

    #[test]
    fn handle_parts_of_every_form() {
        assert_eq!(handle_part("bob@x.com"), "bob@x.com");
        assert_eq!(handle_part("bob@x.com;{F26D1F07-95E2-403C-BC18-D4BFED493428}"), "bob@x.com");
        assert_eq!(handle_part("1:bob@x.com"), "bob@x.com");
        assert_eq!(handle_part("1:bob@x.com;{guid}"), "bob@x.com");
        assert_eq!(handle_part("x:bob@x.com"), "x:bob@x.com");
        assert_eq!(handle_part(":bob"), ":bob");
    }

    proptest::proptest! {
        /// One scan cuts every token where the two did.
        #[test]
        fn one_scan_cuts_as_two(t in "[0-9a-z@.:;{}]{0,16}", any in "\\PC{0,40}") {
            proptest::prop_assert_eq!(handle_part(&t), handle_part_in_two_scans(&t));
            proptest::prop_assert_eq!(handle_part(&any), handle_part_in_two_scans(&any));
        }

        /// What `value` skips for a valid token holds: it is its own handle part.
        #[test]
        fn valid_handles_are_their_own_part(t in "[0-9a-z.:;_+-]{0,8}@[0-9a-z.:;-]{0,10}", any in "\\PC{0,40}") {
            for v in [t.as_str(), any.as_str(), "1:bob@x.com", "bob@x.com;{g}"] {
                if valid_handle(v) {
                    proptest::prop_assert_eq!(handle_part(v), v);
                }
            }
        }
    }
}
