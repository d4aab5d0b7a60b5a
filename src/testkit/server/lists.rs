//! The testkit notification server's lists and settings, each edit answered in the
//! connection's dialect with the errors the specification gives: SYN's batch, ADD and REM
//! (MSNP2-9), ADC and REM by contact id (MSNP10-12), REA (MSNP2-9), the groups ADG, RMG and REG
//! (MSNP7-12), BLP and GTC, and ADL's list check (MSNP13+). Every change raises the list
//! version (serial).

use super::{Account, Ctx, Fault, State};
use crate::testkit::conn::Msg;
use crate::testkit::flavor::{contact_id, group_guid, Flavor, Lists};

/// Groups an account may have, the default one included [Y cmd/adg].
const MAX_GROUPS: usize = 30;
/// The longest group name ADG takes, URL-encoded [Y cmd/adg].
const MAX_GROUP_NAME: usize = 61;
/// The longest group name REG takes, URL-encoded [Y cmd/reg].
const MAX_GROUP_RENAME: usize = 127;
/// The longest friendly name, URL-encoded [D §5.5].
const MAX_NAME: usize = 387;

/// The reply to a list, group or setting command (`BLP`, `GTC`, `ADD`, `REM`, `ADC`, `ADG`,
/// `RMG`, `REG`) in dialect `f`, or `None` when the dialect has no such command.
pub(super) fn answer(ctx: &Ctx, me: &str, m: &Msg, f: Flavor) -> Option<String> {
    let n = f.number();
    Some(match m.verb() {
        "BLP" | "GTC" => setting(ctx, me, m),
        "ADD" | "REM" if n < 10 => add_rem(ctx, me, m, f),
        "REM" if n < 13 => rem_by_id(ctx, me, m),
        "ADC" if (10..13).contains(&n) => adc(ctx, me, m),
        "ADG" | "RMG" | "REG" if (7..13).contains(&n) => group_edit(ctx, me, m, f),
        _ => return None,
    })
}

/// Whether `h` is a handle: `local@domain` in RFC 822's characters, at most 129 bytes [D §5.4].
pub(super) fn valid_handle(h: &str) -> bool {
    let Some((local, domain)) = h.split_once('@') else { return false };
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
    h.len() <= 129 && ok(local) && ok(domain)
}

/// Borrowed pairs of owned (handle, name) pairs.
fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(h, n)| (h.as_str(), n.as_str())).collect()
}

/// Whether `who` is in the list opposite `list` (the block list for the allow list, and back).
fn in_opposite(a: &Account, list: &str, who: &str) -> bool {
    let other = match list {
        "AL" => &a.bl,
        "BL" => &a.al,
        _ => return false,
    };
    other.iter().any(|h| h == who)
}

/// The list `name` of an account.
fn list_mut<'a>(a: &'a mut Account, name: &str) -> Option<&'a mut Vec<String>> {
    match name {
        "FL" => Some(&mut a.fl),
        "AL" => Some(&mut a.al),
        "BL" => Some(&mut a.bl),
        _ => None,
    }
}

/// The SYN reply: the serial alone when the client is up to date, else the batch with GTC,
/// BLP, the groups and the four lists (RL: everyone who lists this user).
pub(super) fn syn_batch(ctx: &Ctx, st: &State, f: Flavor, handle: &str, t: &str, client_serial: &str) -> String {
    let Some(a) = st.accounts.get(handle) else { return format!("SYN {t} 0\r\n") };
    let serial = a.serial;
    if client_serial == serial.to_string() && !ctx.has(Fault::ListsOnCurrentSerial) {
        return format!("SYN {t} {serial}\r\n");
    }
    let name_of = |h: &str| st.accounts.get(h).map_or_else(|| h.to_string(), |a| a.name.clone());
    let mut rl: Vec<String> =
        st.accounts.values().filter(|o| o.fl.iter().any(|f| f == handle)).map(|o| o.handle.clone()).collect();
    rl.sort();
    let named = |l: &[String]| -> Vec<(String, String)> { l.iter().map(|h| (h.clone(), name_of(h))).collect() };
    let (fl, al, bl, rl) = (named(&a.fl), named(&a.al), named(&a.bl), named(&rl));
    let lists = Lists {
        fl: pairs(&fl),
        al: pairs(&al),
        bl: pairs(&bl),
        rl: pairs(&rl),
        groups: a.groups.iter().map(|(id, n)| (*id, n.as_str())).collect(),
        gtc: &a.gtc,
        blp: &a.blp,
    };
    let batch = f.syn_batch(t, serial, &a.name, &lists);
    if ctx.has(Fault::SynOutOfOrder) {
        // The lists first, GTC and BLP after them.
        let (settings, rest): (Vec<&str>, Vec<&str>) =
            batch.split_inclusive('\n').partition(|l| l.starts_with("GTC ") || l.starts_with("BLP "));
        let (head, lists): (Vec<&str>, Vec<&str>) = rest.into_iter().partition(|l| l.starts_with("SYN "));
        return [head, lists, settings].concat().concat();
    }
    batch
}

/// `BLP` (AL or BL) or `GTC` (A or N), echoed with the new serial; 201 for a value that is
/// neither, 218 for the value already set [D §7.6].
fn setting(ctx: &Ctx, me: &str, m: &Msg) -> String {
    let (t, value) = (m.arg(1), m.arg(2));
    let valid = if m.verb() == "BLP" { ["AL", "BL"].contains(&value) } else { ["A", "N"].contains(&value) };
    if !valid {
        return format!("201 {t}");
    }
    let Ok(mut st) = ctx.state.lock() else { return format!("500 {t}") };
    let Some(a) = st.accounts.get_mut(me) else { return format!("500 {t}") };
    let slot = if m.verb() == "BLP" { &mut a.blp } else { &mut a.gtc };
    if slot == value && !ctx.has(Fault::SameModeAccepted) {
        return format!("218 {t}");
    }
    *slot = value.to_string();
    a.serial += 1;
    format!("{} {t} {} {value}", m.verb(), a.serial)
}

/// `ADD t list handle name [group]` and `REM t list handle [group]` (MSNP2-9), with the
/// draft's errors: 201 (no such list, or not a handle), 205 (no such account), 206 (no
/// domain), 215 (already there), 216 (not there), 219 (in the opposite list), and 224 (no such
/// group, MSNP7+) [D §7.8], [Y cmd/add, cmd/rem].
fn add_rem(ctx: &Ctx, me: &str, m: &Msg, f: Flavor) -> String {
    let (t, list, who) = (m.arg(1), m.arg(2), m.arg(3));
    let Ok(mut st) = ctx.state.lock() else { return format!("500 {t}") };
    if !["FL", "AL", "BL"].contains(&list) {
        return format!("201 {t}");
    }
    if !who.contains('@') {
        return format!("206 {t}");
    }
    if !valid_handle(who) {
        return format!("201 {t}");
    }
    let exists = st.accounts.contains_key(who);
    let Some(a) = st.accounts.get_mut(me) else { return format!("500 {t}") };
    let add = m.verb() == "ADD";
    // A group id follows the name in ADD and the handle in REM (FL only, MSNP7+).
    let group = if add { m.tokens.get(5) } else { m.tokens.get(4) };
    let group = group.filter(|_| f.number() >= 7 && list == "FL");
    if let Some(g) = group {
        if !a.groups.iter().any(|(id, _)| id.to_string() == *g) {
            return format!("224 {t}");
        }
    }
    let tail = group.map(|g| format!(" {g}")).unwrap_or_default();
    let opposite = in_opposite(a, list, who);
    let Some(l) = list_mut(a, list) else { return format!("201 {t}") };
    let present = l.iter().any(|h| h == who);
    if add {
        if present {
            return format!("215 {t}");
        }
        if !exists {
            return format!("205 {t}");
        }
        if opposite && !ctx.has(Fault::OppositeListAccepted) {
            return format!("219 {t}");
        }
        l.push(who.to_string());
        a.serial += 1;
        format!("ADD {t} {list} {} {who} {}{tail}", a.serial, m.arg(4))
    } else {
        if !present {
            return format!("216 {t}");
        }
        // REM with a group takes the contact out of that group only.
        if group.is_none() {
            l.retain(|h| h != who);
        }
        a.serial += 1;
        format!("REM {t} {list} {} {who}{tail}", a.serial)
    }
}

/// `ADC t list N=handle [F=name]` (MSNP10-12): the contact added, FL answered with its contact
/// id (`C=`); 201 (not a handle), 208 (no such account), 215, 219 [Y cmd/adc].
fn adc(ctx: &Ctx, me: &str, m: &Msg) -> String {
    let (t, list) = (m.arg(1), m.arg(2));
    let Ok(mut st) = ctx.state.lock() else { return format!("500 {t}") };
    let Some(who) = m.arg(3).strip_prefix("N=") else { return format!("201 {t}") };
    if !["FL", "AL", "BL"].contains(&list) || !valid_handle(who) {
        return format!("201 {t}");
    }
    let exists = st.accounts.contains_key(who);
    let Some(a) = st.accounts.get_mut(me) else { return format!("500 {t}") };
    let opposite = in_opposite(a, list, who);
    let Some(l) = list_mut(a, list) else { return format!("201 {t}") };
    if l.iter().any(|h| h == who) {
        return format!("215 {t}");
    }
    if !exists {
        return format!("208 {t}");
    }
    if opposite {
        return format!("219 {t}");
    }
    l.push(who.to_string());
    a.serial += 1;
    if list == "FL" {
        let name = m.tokens.get(4).filter(|n| n.starts_with("F=")).map_or_else(|| format!("F={who}"), String::clone);
        format!("ADC {t} FL N={who} {name} C={}", contact_id(who))
    } else {
        format!("ADC {t} {list} N={who}")
    }
}

/// `REM t FL contact-id` or `REM t AL|BL handle` (MSNP10-12), echoed; 216 when not there
/// [Y cmd/rem].
fn rem_by_id(ctx: &Ctx, me: &str, m: &Msg) -> String {
    let (t, list, id) = (m.arg(1), m.arg(2), m.arg(3));
    let Ok(mut st) = ctx.state.lock() else { return format!("500 {t}") };
    let Some(a) = st.accounts.get_mut(me) else { return format!("500 {t}") };
    let Some(l) = list_mut(a, list) else { return format!("201 {t}") };
    let matches = |h: &String| if list == "FL" { contact_id(h) == id } else { h == id };
    if !l.iter().any(matches) {
        return format!("216 {t}");
    }
    l.retain(|h| !matches(h));
    a.serial += 1;
    format!("REM {t} {list} {id}")
}

/// `REA t handle name` (MSNP2-9): the user's own name (the new name, for presence) or a
/// contact's stored one; 209 for a name over 387 encoded bytes, 216 for a handle in no list
/// [D §5.5], [Y cmd/rea].
pub(super) fn rea(ctx: &Ctx, me: &str, m: &Msg) -> (String, Option<String>) {
    let (t, who, name) = (m.arg(1), m.arg(2), m.arg(3));
    let Ok(mut st) = ctx.state.lock() else { return (format!("500 {t}"), None) };
    if name.is_empty() || name.len() > MAX_NAME {
        return (format!("209 {t}"), None);
    }
    let Some(a) = st.accounts.get_mut(me) else { return (format!("500 {t}"), None) };
    let own = who == me;
    if !own && ![&a.fl, &a.al, &a.bl].iter().any(|l| l.iter().any(|h| h == who)) {
        return (format!("216 {t}"), None);
    }
    if own {
        a.name = name.to_string();
    }
    a.serial += 1;
    (format!("REA {t} {} {who} {name}", a.serial), own.then(|| name.to_string()))
}

/// The groups (MSNP7-12): `ADG t name 0`, `RMG t id`, `REG t id name 0`, with ids and the
/// list version up to MSNP9, GUIDs and no version from MSNP10; 223 (more than 30 groups), 224
/// (no such group), 229 (name too long), 230 (the default group cannot go) [Y cmd/adg, cmd/rmg,
/// cmd/reg].
fn group_edit(ctx: &Ctx, me: &str, m: &Msg, f: Flavor) -> String {
    let t = m.arg(1);
    let Ok(mut st) = ctx.state.lock() else { return format!("500 {t}") };
    let Some(a) = st.accounts.get_mut(me) else { return format!("500 {t}") };
    let guids = f.number() >= 10;
    let find = |a: &Account, key: &str| {
        a.groups.iter().position(|(id, _)| if guids { group_guid(*id) == key } else { id.to_string() == key })
    };
    match m.verb() {
        "ADG" => {
            let name = m.arg(2);
            if name.is_empty() || name.len() > MAX_GROUP_NAME {
                return format!("229 {t}");
            }
            if a.groups.len() >= MAX_GROUPS {
                return format!("223 {t}");
            }
            let id = (1..).find(|n| !a.groups.iter().any(|(g, _)| g == n)).unwrap_or(0);
            a.groups.push((id, name.to_string()));
            a.serial += 1;
            if guids {
                format!("ADG {t} {name} {}", group_guid(id))
            } else {
                format!("ADG {t} {} {name} {id} 0", a.serial)
            }
        }
        "RMG" => {
            let key = m.arg(2);
            let Some(at) = find(a, key) else { return format!("224 {t}") };
            if a.groups[at].0 == 0 && !ctx.has(Fault::DefaultGroupRemovable) {
                return format!("230 {t}");
            }
            a.groups.remove(at);
            a.serial += 1;
            if guids {
                format!("RMG {t} {key}")
            } else {
                format!("RMG {t} {} {key}", a.serial)
            }
        }
        _ => {
            let (key, name) = (m.arg(2), m.arg(3));
            let Some(at) = find(a, key) else { return format!("224 {t}") };
            if name.is_empty() || name.len() > MAX_GROUP_RENAME {
                return format!("229 {t}");
            }
            a.groups[at].1 = name.to_string();
            a.serial += 1;
            if guids {
                format!("REG {t} {key} {name}")
            } else {
                format!("REG {t} {} {key} {name} 0", a.serial)
            }
        }
    }
}

/// `ADL t length` with an `<ml>` list (MSNP13+): `ADL t OK`; 240 for a list that is not XML
/// or is empty, 241 for one the client may not send (reverse or pending list bits) [Y cmd/adl].
pub(super) fn adl(m: &Msg) -> String {
    let t = m.arg(1);
    match crate::msnp::xml::check_ml(m.payload.as_deref().unwrap_or_default()) {
        Err(_) => format!("240 {t}"),
        Ok(c) if c.is_empty() => format!("240 {t}"),
        Ok(c) if c.iter().any(|c| c.lists.unwrap_or(0) & !7 != 0) => format!("241 {t}"),
        Ok(_) => format!("ADL {t} OK"),
    }
}
