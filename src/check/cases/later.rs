//! The cases of the dialects after MSNP2: CVR and Passport logins (MSNP8+), challenges (CHL,
//! QRY), groups (MSNP7-12), ADC (MSNP10-12) and ADL (MSNP13+), each citing the msnp-wiki's
//! command pages [Y cmd/...].

use super::*;

/// A version number as CVR gives them: digits and dots.
fn version_like(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

pub(super) async fn cvr_reply(ctx: &Ctx) -> Result<(), Stop> {
    let (handle, _) = ctx.user(0)?;
    let mut c = ctx.connect(&ctx.target).await?;
    let d = hello(ctx, &mut c, 1).await?;
    c.send(&cvr_line(d, 2, handle)).await?;
    let r = c.reply("2").await?;
    let versions = (2..5).all(|i| version_like(r.arg(i)));
    let form = "CVR 2 recommended recommended minimum download-url [info-url]";
    want(r.verb() == "CVR" && versions && r.arg(5).contains("://"), form, &r)
}

pub(super) async fn twn_policy(ctx: &Ctx) -> Result<(), Stop> {
    let (handle, _) = ctx.user(0)?;
    let (_c, scheme, r) = challenge(ctx, handle).await?;
    want(scheme == "TWN" && r.arg(4).contains('='), "USR 3 TWN S policy (key=value pairs)", &r)
}

pub(super) async fn twn_ticket(ctx: &Ctx) -> Result<(), Stop> {
    let (handle, password) = ctx.user(0)?;
    let (mut c, scheme, r) = challenge(ctx, handle).await?;
    c.send(&format!("USR 4 {scheme} S {}", answer(scheme, r.arg(4), password))).await?;
    let r = c.reply("4").await?;
    // The name went away in MSNP10; verified and restricted flags end the line [Y cmd/usr].
    let (flags, form) = if c.dialect >= 10 { (3, "USR 4 OK handle 1 0") } else { (4, "USR 4 OK handle name 1 0") };
    let flag = |s: &str| s == "0" || s == "1";
    let ok = r.verb() == "USR" && r.arg(2) == "OK" && r.arg(3).eq_ignore_ascii_case(handle);
    want(ok && flag(r.arg(flags + 1)) && flag(r.arg(flags + 2)), form, &r)
}

pub(super) async fn twn_wrong_ticket(ctx: &Ctx) -> Result<(), Stop> {
    let r = login_answer(ctx, |policy| local_ticket(policy, "not-the-password-at-all")).await?;
    want(r.verb() == "911", "911 4 (authentication failed)", &r)
}

pub(super) async fn syn_totals(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    let d = c.dialect;
    // A TrID no group id or name is likely to be, so that a line carrying it stands out.
    c.send(&syn_line(d, "4000")).await?;
    let r = c.reply("4000").await?;
    // MSNP8-9: SYN t version contacts groups; MSNP10+: two versions before the counts.
    let at = if d >= 10 { 4 } else { 3 };
    let (contacts, groups) = (r.arg(at).parse::<usize>(), r.arg(at + 1).parse::<usize>());
    let form = if d >= 10 { "SYN 4000 version version contacts groups" } else { "SYN 4000 version contacts groups" };
    let (Ok(contacts), Ok(groups)) = (contacts, groups) else { return Err(fail(form, r.shown())) };
    let (mut lst, mut lsg) = (0, 0);
    while lst < contacts || lsg < groups {
        let Some(l) = c.sees_within(ctx.timeout, |l| matches!(l.verb(), "LST" | "LSG")).await? else {
            return Err(fail(
                format!("{contacts} LST and {groups} LSG lines"),
                format!("{lst} LST and {lsg} LSG lines, then nothing"),
            ));
        };
        // From MSNP8 the batch's lines carry no TrID.
        want(l.arg(1) != "4000", &format!("{} without a TrID", l.verb()), &l)?;
        if l.verb() == "LST" {
            lst += 1;
        } else {
            lsg += 1;
        }
    }
    Ok(())
}

/// Logs in, gets the lists and goes online without answering the challenge that follows:
/// (the connection, the `CHL 0 challenge` line), or a skip when none comes.
async fn challenged(ctx: &Ctx) -> Result<(Client, Line), Stop> {
    let mut c = login(ctx, 0).await?;
    c.answer_challenges = false;
    get_lists(ctx, &mut c, 0).await?;
    c.send(&chg_line(c.dialect, "6", "NLN")).await?;
    match c.sees_within(ctx.timeout, |l| l.verb() == "CHL").await? {
        Some(chl) => Ok((c, chl)),
        None => Err(Stop::Skip(format!("no CHL came within {:?} of going online", ctx.timeout))),
    }
}

pub(super) async fn qry_answer(ctx: &Ctx) -> Result<(), Stop> {
    let (mut c, chl) = challenged(ctx).await?;
    want(chl.arg(1) == "0" && !chl.arg(2).is_empty(), "CHL 0 challenge", &chl)?;
    c.answer_challenges = true;
    c.answer_challenge(chl.arg(2)).await?;
    let r = c.wait_for("the reply to QRY", |l| l.verb() == "QRY" || l.is_error()).await?;
    want(r.verb() == "QRY", "QRY t (the answer taken)", &r)
}

pub(super) async fn qry_wrong(ctx: &Ctx) -> Result<(), Stop> {
    let (mut c, _) = challenged(ctx).await?;
    let Some(product) = crate::msnp::auth::client_product(c.dialect) else {
        return Err(Stop::Skip("no public product id for this dialect".into()));
    };
    c.send_payload(&format!("QRY 7 {product}"), &[b'0'; 32]).await?;
    let r = c.wait_for("the reply to QRY 7", |l| l.arg(1) == "7").await?;
    want(r.verb() == "540", "540 7 (wrong challenge response)", &r)
}

pub(super) async fn qng_seconds(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("PNG").await?;
    let r = c.wait_for("QNG", |l| l.verb() == "QNG" || l.is_error()).await?;
    let seconds = !r.arg(1).is_empty() && r.arg(1).bytes().all(|b| b.is_ascii_digit());
    want(r.verb() == "QNG" && seconds, "QNG seconds (to the next PNG)", &r)
}

/// Whether groups have GUIDs: from MSNP10 once the address book is migrated (numbers and no
/// list version otherwise) [Y cmd/adg].
fn guids(c: &Client) -> bool {
    c.dialect >= 10 && c.abch_migrated
}

/// A group's key in RMG and REG, from the ADG reply: its number (after the version up to
/// MSNP9), or its GUID.
fn group_key(c: &Client, adg: &Line) -> String {
    if c.dialect >= 10 {
        adg.arg(3).to_string()
    } else {
        adg.arg(4).to_string()
    }
}

/// `ADG t name` (and the trailing `0` up to MSNP9).
fn adg_line(d: u8, t: &str, name: &str) -> String {
    if d >= 10 {
        format!("ADG {t} {name}")
    } else {
        format!("ADG {t} {name} 0")
    }
}

/// Removes group `key` (cleaning up; the reply is not judged).
async fn remove_group(c: &mut Client, t: &str, key: &str) -> Result<(), Stop> {
    c.send(&format!("RMG {t} {key}")).await?;
    c.reply(t).await.map(|_| ())
}

pub(super) async fn groups(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = online(ctx, 0).await?;
    let d = c.dialect;
    c.send(&adg_line(d, "20", "msntap%20check")).await?;
    let r = c.reply("20").await?;
    if r.verb() != "ADG" {
        return Err(fail("ADG 20 ... msntap%20check ...", r.shown()));
    }
    let key = group_key(&c, &r);
    // Up to MSNP9 the reply holds the list version; from MSNP10 the id (a GUID once migrated).
    let added = if d >= 10 {
        r.arg(2) == "msntap%20check" && (!guids(&c) || r.arg(3).len() == 36)
    } else {
        r.arg(3) == "msntap%20check" && r.arg(4).parse::<u32>().is_ok()
    };
    let judged = async {
        want(added, if d >= 10 { "ADG 20 name id" } else { "ADG 20 version name id 0" }, &r)?;
        let reg =
            if d >= 10 { format!("REG 21 {key} msntap%20renamed") } else { format!("REG 21 {key} msntap%20renamed 0") };
        c.send(&reg).await?;
        let g = c.reply("21").await?;
        let renamed = if d >= 10 {
            g.arg(2) == key && g.arg(3) == "msntap%20renamed"
        } else {
            g.arg(3) == key && g.arg(4) == "msntap%20renamed"
        };
        want(g.verb() == "REG" && renamed, if d >= 10 { "REG 21 id name" } else { "REG 21 version id name 0" }, &g)?;
        c.send(&format!("RMG 22 {key}")).await?;
        let m = c.reply("22").await?;
        let removed = if d >= 10 { m.arg(2) == key } else { m.arg(3) == key };
        want(m.verb() == "RMG" && removed, if d >= 10 { "RMG 22 id" } else { "RMG 22 version id" }, &m)?;
        Ok(())
    }
    .await;
    match judged {
        Ok(()) => Ok(()),
        Err(e) => {
            // The group goes again before the case fails.
            let _ = remove_group(&mut c, "23", &key).await;
            Err(e)
        }
    }
}

pub(super) async fn rmg_default(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = online(ctx, 0).await?;
    c.send("RMG 20 0").await?;
    let r = c.reply("20").await?;
    if r.verb() == "RMG" {
        // Put it back as well as can be.
        c.send(&adg_line(c.dialect, "21", "Other%20Contacts")).await?;
        let _ = c.reply("21").await;
    }
    want(r.verb() == "230", "230 20 (the default group cannot be removed)", &r)
}

pub(super) async fn rmg_missing(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    // A group id the account does not use (ids run 0 to 29), from its SYN batch.
    c.send(&syn_line(c.dialect, "5")).await?;
    let r = c.reply("5").await?;
    // MSNP8-9 count the groups in the reply; MSNP7's batch lines carry the SYN's TrID.
    let (groups, wait) = if c.dialect >= 8 {
        (r.arg(4).parse().unwrap_or(0), ctx.timeout)
    } else {
        (usize::MAX, Duration::from_millis(300))
    };
    let mut used = Vec::new();
    for _ in 0..groups.min(1000) {
        let Some(l) = c.sees_within(wait, |l| l.verb() == "LSG").await? else { break };
        // MSNP7: LSG t version i n id name 0; MSNP8-9: LSG id name 0.
        used.push(if c.dialect >= 8 { l.arg(1).to_string() } else { l.arg(5).to_string() });
    }
    let Some(free) = (1..30u32).rev().map(|n| n.to_string()).find(|n| !used.contains(n)) else {
        return Err(Stop::Skip("the account uses every group id".into()));
    };
    c.send(&format!("RMG 20 {free}")).await?;
    let r = c.reply("20").await?;
    want(r.verb() == "224", "224 20 (no such group)", &r)
}

pub(super) async fn adg_long_name(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = online(ctx, 0).await?;
    c.send(&adg_line(c.dialect, "20", &"g".repeat(62))).await?;
    let r = c.reply("20").await?;
    if r.verb() == "ADG" {
        let key = group_key(&c, &r);
        remove_group(&mut c, "21", &key).await?;
    }
    want(r.verb() == "229", "229 20 (a group name is at most 61 encoded bytes)", &r)
}

pub(super) async fn adg_too_many(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = online(ctx, 0).await?;
    let d = c.dialect;
    let mut made = Vec::new();
    let mut refused = None;
    // At most 30 groups however many there are: the 31st ADG is refused at the latest.
    for i in 0..31u32 {
        let t = (100 + i).to_string();
        c.send(&adg_line(d, &t, &format!("msntap{i}"))).await?;
        let r = c.reply(&t).await?;
        if r.verb() != "ADG" {
            refused = Some(r);
            break;
        }
        made.push(group_key(&c, &r));
    }
    // Put the groups back before judging.
    for (i, key) in made.iter().enumerate() {
        let t = (200 + i).to_string();
        c.send(&format!("RMG {t} {key}")).await?;
        c.reply(&t).await?;
    }
    match refused {
        Some(r) => want(r.verb() == "223", "223 (at most 30 groups)", &r),
        None => Err(fail("223 (at most 30 groups) by the 31st ADG", "31 more groups made")),
    }
}

/// The contact id (`C=`) of `handle` in the forward list, from the SYN batch (MSNP10-12).
async fn contact_id_of(c: &mut Client, timeout: Duration, handle: &str) -> Result<Option<String>, Stop> {
    c.send(&syn_line(c.dialect, "5")).await?;
    let r = c.reply("5").await?;
    let contacts: usize = r.arg(4).parse().unwrap_or(0);
    let mut found = None;
    for _ in 0..contacts {
        let Some(l) = c.sees_within(timeout, |l| l.verb() == "LST").await? else { break };
        let n = l.tokens.iter().find_map(|t| t.strip_prefix("N="));
        let bits: u32 = l.tokens.iter().rev().find_map(|t| t.parse().ok()).unwrap_or(0);
        if n.is_some_and(|n| n.eq_ignore_ascii_case(handle)) && bits & 1 != 0 {
            found = l.tokens.iter().find_map(|t| t.strip_prefix("C=")).map(str::to_string);
        }
    }
    Ok(found)
}

pub(super) async fn adc_fl(ctx: &Ctx) -> Result<(), Stop> {
    let (other, _) = ctx.user(1)?;
    let mut c = login(ctx, 0).await?;
    let listed = contact_id_of(&mut c, ctx.timeout, other).await?;
    if let Some(id) = &listed {
        c.send(&format!("REM 20 FL {id}")).await?;
        let r = c.reply("20").await?;
        want(r.verb() == "REM" && r.arg(2) == "FL" && r.arg(3) == id, "REM 20 FL contact-id", &r)?;
    }
    c.send(&format!("ADC 21 FL N={other} F={other}")).await?;
    let r = c.reply("21").await?;
    let id = r.tokens.iter().find_map(|t| t.strip_prefix("C=")).map(str::to_string);
    if listed.is_none() {
        // Not a contact before the case: not one after it.
        if let Some(id) = &id {
            c.send(&format!("REM 22 FL {id}")).await?;
            let _ = c.reply("22").await;
        }
    }
    let named = r.arg(3).strip_prefix("N=").is_some_and(|n| n.eq_ignore_ascii_case(other));
    let ok = r.verb() == "ADC" && r.arg(2) == "FL" && named && id.is_some_and(|i| !i.is_empty());
    want(ok, "ADC 21 FL N=handle F=name C=contact-id", &r)
}

pub(super) async fn adc_no_account(ctx: &Ctx) -> Result<(), Stop> {
    let r = after_login(ctx, "ADC 20 FL N=msntap-no-such-account-7f3a@hotmail.com F=nobody").await?;
    want(r.verb() == "208", "208 20 (no such user; 205 before MSNP10)", &r)
}

/// `ADL 20` with `ml` after the login: the reply.
async fn adl_reply(ctx: &Ctx, ml: &str) -> Result<Line, Stop> {
    let mut c = login(ctx, 0).await?;
    c.send_payload("ADL 20", ml.as_bytes()).await?;
    c.reply("20").await
}

pub(super) async fn adl_contacts(ctx: &Ctx) -> Result<(), Stop> {
    let r = adl_reply(ctx, &contacts_ml(ctx, 0)).await?;
    want(r.verb() == "ADL" && r.arg(2) == "OK", "ADL 20 OK", &r)
}

pub(super) async fn adl_empty(ctx: &Ctx) -> Result<(), Stop> {
    let r = adl_reply(ctx, "<ml></ml>").await?;
    want(r.verb() == "240", "240 20 (an empty list)", &r)
}

pub(super) async fn adl_reverse(ctx: &Ctx) -> Result<(), Stop> {
    let (other, _) = ctx.user(1)?;
    let (local, domain) = other.split_once('@').unwrap_or((other, ""));
    let ml = format!("<ml><d n=\"{domain}\"><c n=\"{local}\" l=\"8\" t=\"1\" /></d></ml>");
    let r = adl_reply(ctx, &ml).await?;
    want(r.verb() == "241", "241 20 (the reverse list is the server's)", &r)
}
