//! The conformance cases: each an id (`msnpN/<section>/<name>`), a title, the citation it
//! holds the server to, the dialects it applies to, how many users it needs, and an async
//! function that drives fresh connections and returns the verdict. The MSNP2 cases
//! ([`msnp2`]) cite the draft's sections (\[D\], draft-movva-msn-messenger-protocol-00); the
//! later dialects' ([`later`]) cite the msnp-wiki's command pages ([Y cmd/...]). A case offers
//! its dialects in VER (newest first, or the one `--dialect` names) and speaks the one the
//! server picks: INF and MD5 up to MSNP7, CVR and Passport (TWN) from MSNP8 to MSNP14 (the
//! cases that log in stop there: MSNP15 logs in with SSO, which they do not speak), SYN up to
//! MSNP12, ADL from MSNP13.

mod later;
mod msnp2;

use later::*;
use msnp2::*;

use super::client::{Client, Line, Log, Stop};
use crate::msnp::auth::{local_ticket, md5_response};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What a case runs against.
pub struct Ctx {
    /// The server, `host:port` (a dispatch or a notification server).
    pub target: String,
    /// Accounts: (handle, password); cases needing two users use the first two.
    pub users: Vec<(String, String)>,
    /// Every wait's deadline.
    pub timeout: Duration,
    /// What the case sent and received.
    pub log: Log,
    /// The dialects the case offers in VER: (oldest, newest).
    pub dialects: (u8, u8),
}

/// A case's body.
pub type Body = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>>;

/// One conformance case.
pub struct Case {
    /// Stable id, `msnpN/<section>/<name>`.
    pub id: &'static str,
    /// What it checks.
    pub title: &'static str,
    /// Where the behaviour is specified.
    pub cite: &'static str,
    /// The dialects it applies to: (oldest, newest).
    pub dialects: (u8, u8),
    /// Users it needs.
    pub users: usize,
    /// Runs it.
    pub body: Body,
}

impl Case {
    /// The dialects it applies to, as `MSNP8` or `MSNP8-12`.
    pub fn dialect_range(&self) -> String {
        match self.dialects {
            (lo, hi) if lo == hi => format!("MSNP{lo}"),
            (lo, hi) => format!("MSNP{lo}-{hi}"),
        }
    }
}

/// A failed expectation.
fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Stop {
    Stop::Unexpected { expected: expected.into(), actual: actual.into() }
}

/// `Ok` when `ok`, else a failure saying `expected` and showing the line.
fn want(ok: bool, expected: &str, line: &Line) -> Result<(), Stop> {
    if ok {
        Ok(())
    } else {
        Err(fail(expected, line.shown()))
    }
}

impl Ctx {
    fn user(&self, i: usize) -> Result<(&str, &str), Stop> {
        self.users
            .get(i)
            .map(|(h, p)| (h.as_str(), p.as_str()))
            .ok_or_else(|| Stop::Skip(format!("needs {} accounts (--user HANDLE:PASSWORD)", i + 1)))
    }

    async fn connect(&self, addr: &str) -> Result<Client, Stop> {
        Client::connect(addr, self.timeout, &self.log).await
    }

    /// The VER list the case offers: its dialects newest first, then `CVR0`.
    fn offer(&self) -> String {
        let (lo, hi) = self.dialects;
        let mut v: Vec<String> = (lo..=hi).rev().map(|n| format!("MSNP{n}")).collect();
        v.push("CVR0".into());
        v.join(" ")
    }
}

/// `VER t` with the case's dialects: the one the server picks, kept on the client. A server
/// that speaks none of them skips the case (the VER cases are the ones that judge that).
async fn hello(ctx: &Ctx, c: &mut Client, t: u32) -> Result<u8, Stop> {
    let offer = ctx.offer();
    c.send(&format!("VER {t} {offer}")).await?;
    let r = c.reply(&t.to_string()).await?;
    if r.verb() == "VER" && r.arg(2) == "0" {
        return Err(Stop::Skip(format!("the server speaks none of {offer}")));
    }
    let chosen = r.arg(2).strip_prefix("MSNP").and_then(|n| n.parse::<u8>().ok());
    let (lo, hi) = ctx.dialects;
    match chosen {
        Some(n) if r.verb() == "VER" && (lo..=hi).contains(&n) => {
            c.dialect = n;
            if let Ok(mut l) = ctx.log.lock() {
                l.dialect = Some(n);
            }
            Ok(n)
        }
        _ => Err(fail(format!("VER {t} and one of {offer}"), r.shown())),
    }
}

/// The version line of a client of MSNP`d` (MSNP8+): `CVR t locale os arch client version
/// codebase handle` [Y cmd/cvr].
fn cvr_line(d: u8, t: u32, handle: &str) -> String {
    let (os, version, codebase) = match d {
        ..=9 => ("win 4.10", "5.0.0537", "MSMSGS"),
        10..=12 => ("winnt 5.1", "7.0.0777", "msmsgs"),
        _ => ("winnt 5.1", "8.0.0566", "msmsgs"),
    };
    format!("CVR {t} 0x0409 {os} i386 MSNMSGR {version} {codebase} {handle}")
}

/// The start of a login up to the server's challenge, following the dispatch server's
/// referral: (the notification connection, the authentication scheme, the challenge line).
async fn challenge(ctx: &Ctx, handle: &str) -> Result<(Client, &'static str, Line), Stop> {
    let mut addr = ctx.target.clone();
    for _ in 0..3 {
        let mut c = ctx.connect(&addr).await?;
        let d = hello(ctx, &mut c, 1).await?;
        let scheme = if d >= 8 { "TWN" } else { "MD5" };
        if d >= 8 {
            c.send(&cvr_line(d, 2, handle)).await?;
            let r = c.reply("2").await?;
            want(r.verb() == "CVR", "CVR 2 recommended-version ...", &r)?;
        } else {
            c.send("INF 2").await?;
            let r = c.reply("2").await?;
            want(r.verb() == "INF" && r.tokens[2..].iter().any(|p| p == "MD5"), "INF 2 MD5", &r)?;
        }
        c.send(&format!("USR 3 {scheme} I {handle}")).await?;
        let r = c.reply("3").await?;
        if r.verb() == "XFR" && r.arg(2) == "NS" {
            addr = r.arg(3).to_string();
            c.close().await;
            continue;
        }
        want(r.verb() == "USR" && r.arg(2) == scheme && r.arg(3) == "S", &format!("USR 3 {scheme} S challenge"), &r)?;
        return Ok((c, scheme, r));
    }
    Err(fail("a notification server after at most two referrals", "more referrals"))
}

/// The answer to a login challenge: the MD5 response, or (TWN) the ticket the server issues
/// locally.
fn answer(scheme: &str, challenge: &str, password: &str) -> String {
    if scheme == "TWN" {
        local_ticket(challenge, password)
    } else {
        md5_response(challenge, password)
    }
}

/// Logs user `who` in (through the dispatch server's referral when the target is one) and
/// returns the notification connection after `USR OK`.
async fn login(ctx: &Ctx, who: usize) -> Result<Client, Stop> {
    let (handle, password) = ctx.user(who)?;
    let (mut c, scheme, r) = challenge(ctx, handle).await?;
    c.send(&format!("USR 4 {scheme} S {}", answer(scheme, r.arg(4), password))).await?;
    let r = c.reply("4").await?;
    if scheme == "TWN" && r.verb() == "911" {
        // The cases about the ticket judge this; the others cannot run without a login.
        return Err(Stop::Skip(
            "the server refused the locally issued ticket (911): it takes tickets from a Passport service".into(),
        ));
    }
    want(r.verb() == "USR" && r.arg(2) == "OK", &format!("USR 4 OK {handle} ..."), &r)?;
    if c.dialect < 10 {
        c.name = r.arg(4).to_string();
    }
    if c.dialect >= 10 {
        // The profile says whether the address book gives GUIDs (MSNP10; MSNP11 always does).
        let profile = c.sees_within(Duration::from_millis(500), |l| l.verb() == "MSG").await?;
        let migrated = |p: &[u8]| String::from_utf8_lossy(p).lines().any(|l| l.replace(' ', "") == "ABCHMigrated:1");
        c.abch_migrated = c.dialect >= 11 || profile.and_then(|l| l.payload).is_some_and(|p| migrated(&p));
    }
    Ok(c)
}

/// The reply to `line` (its TrID is its second token) after the login of user 0.
async fn after_login(ctx: &Ctx, line: &str) -> Result<Line, Stop> {
    let mut c = login(ctx, 0).await?;
    c.send(line).await?;
    c.reply(line.split(' ').nth(1).unwrap_or("")).await
}

/// The server closes `c` within `wait` (and sends nothing more first).
async fn closes(c: &mut Client, wait: Duration) -> Result<(), Stop> {
    match c.recv_within(wait).await {
        Err(Stop::Closed(_)) => Ok(()),
        Ok(Some(l)) => Err(fail("the connection closed", l.shown())),
        Ok(None) => Err(fail("the connection closed", "still open")),
        Err(e) => Err(e),
    }
}

/// The other accounts as an MSNP13 contact list (ADL's payload): each in FL and AL.
fn contacts_ml(ctx: &Ctx, who: usize) -> String {
    let handles: Vec<&str> =
        ctx.users.iter().enumerate().filter(|(i, _)| *i != who).map(|(_, (h, _))| h.as_str()).collect();
    crate::msnp::xml::ml_payload(&handles)
}

/// Logs in, gets the lists (SYN; ADL from MSNP13) and goes online (NLN).
async fn online(ctx: &Ctx, who: usize) -> Result<Client, Stop> {
    let mut c = login(ctx, who).await?;
    get_lists(ctx, &mut c, who).await?;
    c.send(&chg_line(c.dialect, "6", "NLN")).await?;
    let r = c.wait_for("CHG 6 NLN", |l| l.verb() == "CHG" && l.arg(1) == "6").await?;
    want(r.arg(2) == "NLN", "CHG 6 NLN", &r)?;
    Ok(c)
}

/// The lists after the login of user `who`, with TrID 5: `SYN` up to MSNP12, from MSNP13 an
/// `ADL` making the other accounts contacts (a client with none sends no list).
async fn get_lists(ctx: &Ctx, c: &mut Client, who: usize) -> Result<(), Stop> {
    let d = c.dialect;
    if d >= 13 {
        if ctx.users.len() > 1 {
            c.send_payload("ADL 5", contacts_ml(ctx, who).as_bytes()).await?;
            let r = c.reply("5").await?;
            want(r.verb() == "ADL" && r.arg(2) == "OK", "ADL 5 OK", &r)?;
        }
    } else {
        c.send(&syn_line(d, "5")).await?;
        let r = c.reply("5").await?;
        want(r.verb() == "SYN", "SYN 5 ...", &r)?;
    }
    Ok(())
}

/// `SYN t 0`, with the second (settings) version from MSNP10.
fn syn_line(d: u8, t: &str) -> String {
    if d >= 10 {
        format!("SYN {t} 0 0")
    } else {
        format!("SYN {t} 0")
    }
}

/// `CHG t state`, with the capabilities of MSNP`d`'s clients from MSNP8.
fn chg_line(d: u8, t: &str, state: &str) -> String {
    match crate::msnp::dialect::client_caps(d) {
        Some(caps) => format!("CHG {t} {state} {caps}"),
        None => format!("CHG {t} {state}"),
    }
}

/// `XFR 10 SB` on a notification connection: the reply (`XFR 10 SB host:port CKI cookie`).
async fn refer_sb(ns: &mut Client) -> Result<Line, Stop> {
    ns.send("XFR 10 SB").await?;
    ns.reply("10").await
}

/// User 0 opens a switchboard session through `ns`: (the referral, the switchboard
/// connection, the reply to its `USR 1` with the referral's cookie).
async fn caller_sb(ctx: &Ctx, ns: &mut Client) -> Result<(Line, Client, Line), Stop> {
    let (handle, _) = ctx.user(0)?;
    let r = refer_sb(ns).await?;
    let mut sb = ctx.connect(r.arg(3)).await?;
    sb.send(&format!("USR 1 {handle} {}", r.arg(5))).await?;
    let usr = sb.reply("1").await?;
    Ok((r, sb, usr))
}

/// `CAL t` user `who` from the switchboard `sb`: (the reply to the CAL, the RNG the callee's
/// notification connection receives, or an empty line when the CAL was refused).
async fn ring_user(ctx: &Ctx, sb: &mut Client, t: &str, who: usize, callee: &mut Client) -> Result<(Line, Line), Stop> {
    let (handle, _) = ctx.user(who)?;
    sb.send(&format!("CAL {t} {handle}")).await?;
    let cal = sb.reply(t).await?;
    if cal.verb() != "CAL" {
        // Refused: nothing rings; the caller judges the reply.
        return Ok((cal, Line::default()));
    }
    let rng = callee.wait_for("RNG", |l| l.verb() == "RNG").await?;
    Ok((cal, rng))
}

/// `CAL 2` user 1 from the switchboard `sb` (see [`ring_user`]).
async fn ring(ctx: &Ctx, sb: &mut Client, callee: &mut Client) -> Result<(Line, Line), Stop> {
    ring_user(ctx, sb, "2", 1, callee).await
}

/// User `who` answers the invitation `rng` on a new switchboard connection: (that
/// connection, the reply lines to its `ANS 1` up to `ANS 1 OK` or an error).
async fn answer_ring(ctx: &Ctx, who: usize, rng: &Line) -> Result<(Client, Vec<Line>), Stop> {
    let (handle, _) = ctx.user(who)?;
    let mut sb = ctx.connect(rng.arg(2)).await?;
    sb.send(&format!("ANS 1 {handle} {} {}", rng.arg(4), rng.arg(1))).await?;
    let mut lines = Vec::new();
    loop {
        let l = sb.reply("1").await?;
        let done = l.verb() != "IRO";
        lines.push(l);
        if done || lines.len() > 1000 {
            return Ok((sb, lines));
        }
    }
}

/// Two users online and in one switchboard session: (caller's NS, callee's NS, caller's SB,
/// callee's SB), after the callee's ANS and the caller's JOI.
async fn conversation(ctx: &Ctx) -> Result<(Client, Client, Client, Client), Stop> {
    let mut a = online(ctx, 0).await?;
    let mut b = online(ctx, 1).await?;
    let (r, mut asb, u) = caller_sb(ctx, &mut a).await?;
    want(r.verb() == "XFR" && r.arg(2) == "SB" && r.arg(4) == "CKI", "XFR 10 SB host:port CKI cookie", &r)?;
    want(u.verb() == "USR" && u.arg(2) == "OK", "USR 1 OK", &u)?;
    let (c, rng) = ring(ctx, &mut asb, &mut b).await?;
    want(c.verb() == "CAL" && c.arg(2) == "RINGING", "CAL 2 RINGING session", &c)?;
    want(rng.arg(3) == "CKI", "RNG session host:port CKI cookie caller name", &rng)?;
    let (bsb, lines) = answer_ring(ctx, 1, &rng).await?;
    let last = lines.last().cloned().unwrap_or_default();
    want(last.verb() == "ANS" && last.arg(2) == "OK", "ANS 1 OK", &last)?;
    asb.wait_for("JOI", |l| l.verb() == "JOI").await?;
    Ok((a, b, asb, bsb))
}

/// The MSNP2 cases' dialect.
const M2: (u8, u8) = (2, 2);

macro_rules! case {
    ($d:expr, $id:literal, $title:literal, $cite:literal, $users:literal, $f:path) => {
        Case { id: $id, title: $title, cite: $cite, dialects: $d, users: $users, body: |ctx| Box::pin($f(ctx)) }
    };
}

/// Every case, in the order they run.
pub static CASES: &[Case] = &[
    case!(M2, "msnp2/7.1/ver-common-dialect", "VER with MSNP2 offered is answered MSNP2", "[D §7.1]", 0, ver_common),
    case!(
        M2,
        "msnp2/7.1/ver-several-offered",
        "VER offering several dialects is answered with one of them",
        "[D §7.1]",
        0,
        ver_several
    ),
    case!(
        M2,
        "msnp2/7.1/ver-no-common-dialect",
        "VER with no dialect in common is answered 0 and the connection closed",
        "[D §7.1]",
        0,
        ver_none
    ),
    case!(M2, "msnp2/7.2/inf-md5", "INF lists MD5", "[D §7.2]", 0, inf_md5),
    case!(M2, "msnp2/1.1/trid-zero", "TrID 0 is echoed", "[D §4]", 0, trid_zero),
    case!(M2, "msnp2/1.1/trid-large", "TrID 4294967295 is echoed", "[D §4]", 0, trid_large),
    case!(
        M2,
        "msnp2/1.1/pipelined",
        "requests sent in one segment are each answered with their TrID",
        "[D §4]",
        0,
        pipelined
    ),
    case!(
        M2,
        "msnp2/4/unknown-command",
        "an unknown command gets an error with its TrID",
        "[D §7]",
        0,
        unknown_command
    ),
    case!(
        M2,
        "msnp2/4/overlong-line",
        "a 100 KiB line is refused, skipped or ends the connection, and the server goes on",
        "[D §4, §5]",
        0,
        overlong_line
    ),
    case!(
        M2,
        "msnp2/7.4/xfr-ns-referral",
        "a dispatch server refers USR I to a notification server",
        "[D §7.4]",
        1,
        xfr_ns
    ),
    case!(M2, "msnp2/7.3/usr-right-password", "USR MD5 with the right response logs in", "[D §7.3]", 1, usr_right),
    case!(
        M2,
        "msnp2/7.3/usr-wrong-password",
        "USR MD5 with a wrong response is refused (911)",
        "[D §7.3]",
        1,
        usr_wrong
    ),
    case!(M2, "msnp2/7.3/usr-s-before-i", "USR MD5 S before USR MD5 I is refused", "[D §7.3]", 0, usr_s_first),
    case!(
        M2,
        "msnp2/7.5/syn-serial-0",
        "SYN 0 gets the serial, GTC, BLP and the four lists, in order, with its TrID",
        "[D §7.5, §7.6]",
        1,
        syn_zero
    ),
    case!(
        M2,
        "msnp2/7.5/syn-current-serial",
        "SYN with the current serial gets the serial alone",
        "[D §7.5]",
        1,
        syn_current
    ),
    case!(M2, "msnp2/7.7/chg-every-state", "CHG to each state is echoed with its TrID", "[D §7.7]", 1, chg_states),
    case!(
        M2,
        "msnp2/7.7/chg-invalid-state",
        "CHG to a state that does not exist is refused (201)",
        "[D §7.7]",
        1,
        chg_invalid
    ),
    case!(
        M2,
        "msnp2/7.8/add-rem-fl",
        "ADD and REM on the forward list are echoed with a new serial",
        "[D §7.8]",
        1,
        add_rem
    ),
    case!(
        M2,
        "msnp2/7.8/add-present-215",
        "ADD of a handle already in the list is refused (215)",
        "[D §7.8]",
        2,
        add_present
    ),
    case!(
        M2,
        "msnp2/7.8/rem-absent-216",
        "REM of a handle not in the list is refused (216)",
        "[D §7.8]",
        1,
        rem_absent
    ),
    case!(
        M2,
        "msnp2/7.8/add-invalid-201",
        "ADD of a handle that is not one is refused (201)",
        "[D §7.8]",
        1,
        add_invalid
    ),
    case!(
        M2,
        "msnp2/7.8/add-no-domain-206",
        "ADD of a handle without a domain is refused (206)",
        "[D §5.4, §7.11]",
        1,
        add_no_domain
    ),
    case!(
        M2,
        "msnp2/7.8/add-no-account-205",
        "ADD of a handle with no account is refused (205)",
        "[D §7.11]",
        1,
        add_no_account
    ),
    case!(
        M2,
        "msnp2/7.8/add-al-bl-219",
        "ADD to the block list of a contact in the allow list is refused (219)",
        "[D §7.8, §7.11]",
        2,
        add_al_bl
    ),
    case!(
        M2,
        "msnp2/7.8/al-bl-move",
        "REM from the allow list, ADD to and REM from the block list, each echoed with a new serial",
        "[D §7.8]",
        2,
        al_bl_move
    ),
    case!(M2, "msnp2/5.4/handle-129-bytes", "a handle of 129 bytes is taken as a handle", "[D §5.4]", 1, handle_129),
    case!(M2, "msnp2/5.4/handle-130-bytes-201", "a handle of 130 bytes is refused (201)", "[D §5.4]", 1, handle_130),
    case!(
        M2,
        "msnp2/5.5/rea-name-387-bytes",
        "REA to a friendly name of 387 encoded bytes is echoed",
        "[D §5.5], [Y cmd/rea]",
        1,
        rea_387
    ),
    case!(
        M2,
        "msnp2/5.5/rea-name-388-bytes-209",
        "REA to a friendly name of 388 encoded bytes is refused (209)",
        "[D §5.5], [Y cmd/rea]",
        1,
        rea_388
    ),
    case!(M2, "msnp2/7.6/blp", "BLP to BL and back to AL is echoed with the serial", "[D §7.6]", 1, blp),
    case!(
        M2,
        "msnp2/7.6/blp-invalid-201",
        "BLP to a mode that does not exist is refused (201)",
        "[D §7.6]",
        1,
        blp_invalid
    ),
    case!(M2, "msnp2/7.6/blp-same-218", "BLP to the mode already set is refused (218)", "[D §7.6, §7.11]", 1, blp_same),
    case!(M2, "msnp2/7.6/gtc", "GTC to N and back to A is echoed with the serial", "[D §7.6]", 1, gtc),
    case!(
        M2,
        "msnp2/7.6/gtc-invalid-201",
        "GTC to a setting that does not exist is refused (201)",
        "[D §7.6]",
        1,
        gtc_invalid
    ),
    case!(
        M2,
        "msnp2/7.6/gtc-same-218",
        "GTC to the setting already set is refused (218)",
        "[D §7.6, §7.11]",
        1,
        gtc_same
    ),
    case!(M2, "msnp2/7.9/presence-nln", "a contact going online is seen as NLN", "[D §7.9]", 2, presence_nln),
    case!(
        M2,
        "msnp2/7.9/presence-iln",
        "going online lists the contacts already online (ILN, with the CHG's TrID)",
        "[D §7.9]",
        2,
        presence_iln
    ),
    case!(M2, "msnp2/7.9/presence-fln", "a contact signing out is seen as FLN", "[D §7.9, §7.10]", 2, presence_fln),
    case!(M2, "msnp2/3/png-qng", "PNG is answered QNG", "[Y cmd/png]", 1, png_qng),
    case!(M2, "msnp2/7.10/out", "OUT is answered OUT and the connection closed", "[D §7.10]", 1, out_ns),
    case!(M2, "msnp2/8.1/xfr-sb", "XFR SB gives a switchboard address and a cookie", "[D §8.1]", 1, xfr_sb),
    case!(
        M2,
        "msnp2/8.2/sb-usr-wrong-cookie",
        "a switchboard refuses a cookie it did not issue (911)",
        "[D §8.2]",
        1,
        sb_wrong_cookie
    ),
    case!(M2, "msnp2/8.3/cal-offline", "CAL to a user who is not online is refused (217)", "[D §8.3]", 2, cal_offline),
    case!(
        M2,
        "msnp2/8.3/cal-invalid-208",
        "CAL to something that is not a handle is refused (208)",
        "[D §8.3, §7.11]",
        1,
        cal_invalid
    ),
    case!(
        M2,
        "msnp2/8.3/cal-in-session-215",
        "CAL to a user already in the session is refused (215)",
        "[D §8.3, §7.11]",
        2,
        cal_in_session
    ),
    case!(
        M2,
        "msnp2/8.3/cal-rng",
        "CAL rings the callee: RNG with a decimal session id, the address and a cookie",
        "[D §8.3, §8.4]",
        2,
        cal_rng
    ),
    case!(
        M2,
        "msnp2/8.4/ans-iro-joi",
        "ANS gets the roster (IRO i n) before ANS OK, and the caller sees JOI",
        "[D §8.4, §8.5]",
        2,
        ans_iro
    ),
    case!(
        M2,
        "msnp2/8.4/iro-three-users",
        "a third user called in gets IRO 1 1 2 and IRO 1 2 2, and both others see JOI",
        "[D §8.3, §8.4, §8.5]",
        3,
        iro_three
    ),
    case!(
        M2,
        "msnp2/8.7/msg-ack-mode-a",
        "MSG with ack mode A is delivered and acknowledged (ACK)",
        "[D §8.7]",
        2,
        msg_a
    ),
    case!(M2, "msnp2/8.7/msg-ack-mode-n", "MSG with ack mode N is delivered and gets no ACK", "[D §8.7]", 2, msg_n),
    case!(
        M2,
        "msnp2/8.7/msg-ack-mode-u",
        "MSG with ack mode U is delivered and gets no acknowledgement",
        "[D §8.7]",
        2,
        msg_u
    ),
    case!(M2, "msnp2/8.7/msg-not-echoed", "a MSG is not sent back to its sender", "[D §8.7]", 2, msg_not_echoed),
    case!(M2, "msnp2/8.5/bye-on-leave", "the others see BYE when a user leaves the session", "[D §8.5, §8.6]", 2, bye),
    case!(
        (8, 18),
        "msnp8/cvr/reply",
        "CVR is answered with the versions and a download address",
        "[Y cmd/cvr]",
        1,
        cvr_reply
    ),
    case!(
        (8, 18),
        "msnp8/usr/twn-policy",
        "USR TWN I is answered with the Passport policy",
        "[Y cmd/usr]",
        1,
        twn_policy
    ),
    case!(
        (8, 14),
        "msnp8/usr/twn-local-ticket",
        "USR TWN S with the ticket the server issued locally logs in (USR OK with its flags)",
        "[Y cmd/usr]",
        1,
        twn_ticket
    ),
    case!(
        (8, 18),
        "msnp8/usr/twn-wrong-ticket-911",
        "USR TWN S with a wrong ticket is refused (911)",
        "[Y cmd/usr]",
        1,
        twn_wrong_ticket
    ),
    case!(
        (8, 12),
        "msnp8/syn/totals",
        "SYN gives the contact and group counts, then as many TrID-less LST and LSG lines",
        "[Y cmd/syn, cmd/lsg]",
        1,
        syn_totals
    ),
    case!(
        (7, 13),
        "msnp7/chl/qry-answered",
        "CHL is sent, and the right QRY is answered QRY",
        "[Y cmd/chl, cmd/qry]",
        1,
        qry_answer
    ),
    case!((7, 13), "msnp7/qry/wrong-answer-540", "a wrong QRY is refused (540)", "[Y cmd/qry]", 1, qry_wrong),
    case!(
        (9, 18),
        "msnp9/png/qng-seconds",
        "PNG is answered QNG with the seconds to the next PNG",
        "[Y cmd/qng]",
        1,
        qng_seconds
    ),
    case!(
        (7, 12),
        "msnp7/adg/add-rename-remove",
        "ADG, REG and RMG are echoed (ids and versions to MSNP9, GUIDs from MSNP10)",
        "[Y cmd/adg, cmd/reg, cmd/rmg]",
        1,
        groups
    ),
    case!(
        (7, 12),
        "msnp7/adg/name-too-long-229",
        "ADG with a 62-byte name is refused (229)",
        "[Y cmd/adg]",
        1,
        adg_long_name
    ),
    case!((7, 12), "msnp7/adg/too-many-223", "ADG beyond 30 groups is refused (223)", "[Y cmd/adg]", 1, adg_too_many),
    case!((7, 9), "msnp7/rmg/default-group-230", "RMG of group 0 is refused (230)", "[Y cmd/rmg]", 1, rmg_default),
    case!(
        (7, 9),
        "msnp7/rmg/no-such-group-224",
        "RMG of a group that does not exist is refused (224)",
        "[Y cmd/rmg]",
        1,
        rmg_missing
    ),
    case!(
        (10, 12),
        "msnp10/adc/forward-list",
        "ADC to FL is answered with the contact id, and REM FL takes that id",
        "[Y cmd/adc, cmd/rem]",
        2,
        adc_fl
    ),
    case!(
        (10, 12),
        "msnp10/adc/no-account-208",
        "ADC of a handle with no account is refused (208)",
        "[Y cmd/adc]",
        1,
        adc_no_account
    ),
    case!((13, 14), "msnp13/adl/contacts", "ADL with the contacts is answered ADL OK", "[Y cmd/adl]", 2, adl_contacts),
    case!((13, 14), "msnp13/adl/empty-240", "ADL with an empty list is refused (240)", "[Y cmd/adl]", 1, adl_empty),
    case!(
        (13, 18),
        "msnp13/adl/reverse-list-241",
        "ADL putting a contact in the reverse list is refused (241)",
        "[Y cmd/adl]",
        2,
        adl_reverse
    ),
];
