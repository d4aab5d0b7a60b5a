//! The conformance cases: each an id (`msnp2/<section>/<name>`), a title, the citation it
//! holds the server to, how many users it needs, and an async function that drives fresh
//! connections and returns the verdict. MSNP2 only for now: the sections are the draft's
//! ([D], draft-movva-msn-messenger-protocol-00) unless the citation says otherwise.

use super::client::{Client, Line, Log, Stop};
use crate::msnp::auth::md5_response;
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
}

/// A case's body.
pub type Body = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>>;

/// One conformance case.
pub struct Case {
    /// Stable id, `msnp2/<section>/<name>`.
    pub id: &'static str,
    /// What it checks.
    pub title: &'static str,
    /// Where the behaviour is specified.
    pub cite: &'static str,
    /// Users it needs.
    pub users: usize,
    /// Runs it.
    pub body: Body,
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
}

/// `VER t MSNP2 CVR0` answered with MSNP2.
async fn hello(c: &mut Client, t: u32) -> Result<(), Stop> {
    c.send(&format!("VER {t} MSNP2 CVR0")).await?;
    let r = c.reply(&t.to_string()).await?;
    want(r.verb() == "VER" && r.arg(2) == "MSNP2", &format!("VER {t} MSNP2"), &r)
}

/// Logs user `who` in (through the dispatch server's referral when the target is one) and
/// returns the notification connection after `USR OK`.
async fn login(ctx: &Ctx, who: usize) -> Result<Client, Stop> {
    let (handle, password) = ctx.user(who)?;
    let mut addr = ctx.target.clone();
    for _ in 0..3 {
        let mut c = ctx.connect(&addr).await?;
        hello(&mut c, 1).await?;
        c.send("INF 2").await?;
        let r = c.reply("2").await?;
        want(r.verb() == "INF" && r.tokens[2..].iter().any(|p| p == "MD5"), "INF 2 MD5", &r)?;
        c.send(&format!("USR 3 MD5 I {handle}")).await?;
        let r = c.reply("3").await?;
        if r.verb() == "XFR" && r.arg(2) == "NS" {
            addr = r.arg(3).to_string();
            c.close().await;
            continue;
        }
        want(r.verb() == "USR" && r.arg(3) == "S", "USR 3 MD5 S challenge", &r)?;
        c.send(&format!("USR 4 MD5 S {}", md5_response(r.arg(4), password))).await?;
        let r = c.reply("4").await?;
        want(r.verb() == "USR" && r.arg(2) == "OK", &format!("USR 4 OK {handle} name"), &r)?;
        return Ok(c);
    }
    Err(fail("a notification server after at most two referrals", "more referrals"))
}

/// Logs in, synchronises and goes online (NLN).
async fn online(ctx: &Ctx, who: usize) -> Result<Client, Stop> {
    let mut c = login(ctx, who).await?;
    c.send("SYN 5 0").await?;
    let r = c.reply("5").await?;
    want(r.verb() == "SYN", "SYN 5 serial", &r)?;
    c.send("CHG 6 NLN").await?;
    let r = c.wait_for("CHG 6 NLN", |l| l.verb() == "CHG" && l.arg(1) == "6").await?;
    want(r.arg(2) == "NLN", "CHG 6 NLN", &r)?;
    Ok(c)
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

/// `CAL 2` user 1 from the switchboard `sb`: (the reply to the CAL, the RNG user 1's `callee`
/// notification connection receives, or an empty line when the CAL was refused).
async fn ring(ctx: &Ctx, sb: &mut Client, callee: &mut Client) -> Result<(Line, Line), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    sb.send(&format!("CAL 2 {b_handle}")).await?;
    let cal = sb.reply("2").await?;
    if cal.verb() != "CAL" {
        // Refused: nothing rings; the caller judges the reply.
        return Ok((cal, Line::default()));
    }
    let rng = callee.wait_for("RNG", |l| l.verb() == "RNG").await?;
    Ok((cal, rng))
}

/// Two users online and in one switchboard session: (caller's NS, callee's NS, caller's SB,
/// callee's SB), after the callee's ANS and the caller's JOI.
async fn conversation(ctx: &Ctx) -> Result<(Client, Client, Client, Client), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let mut b = online(ctx, 1).await?;
    let (r, mut asb, u) = caller_sb(ctx, &mut a).await?;
    want(r.verb() == "XFR" && r.arg(2) == "SB" && r.arg(4) == "CKI", "XFR 10 SB host:port CKI cookie", &r)?;
    want(u.verb() == "USR" && u.arg(2) == "OK", "USR 1 OK", &u)?;
    let (c, rng) = ring(ctx, &mut asb, &mut b).await?;
    want(c.verb() == "CAL" && c.arg(2) == "RINGING", "CAL 2 RINGING session", &c)?;
    want(rng.arg(3) == "CKI", "RNG session host:port CKI cookie caller name", &rng)?;
    let mut bsb = ctx.connect(rng.arg(2)).await?;
    bsb.send(&format!("ANS 1 {b_handle} {} {}", rng.arg(4), rng.arg(1))).await?;
    bsb.wait_for("ANS 1 OK", |l| l.verb() == "ANS" && l.arg(1) == "1").await?;
    asb.wait_for("JOI", |l| l.verb() == "JOI").await?;
    Ok((a, b, asb, bsb))
}

macro_rules! case {
    ($id:literal, $title:literal, $cite:literal, $users:literal, $f:ident) => {
        Case { id: $id, title: $title, cite: $cite, users: $users, body: |ctx| Box::pin($f(ctx)) }
    };
}

/// Every case, in the order they run.
pub static CASES: &[Case] = &[
    case!("msnp2/7.1/ver-common-dialect", "VER with MSNP2 offered is answered MSNP2", "[D §7.1]", 0, ver_common),
    case!(
        "msnp2/7.1/ver-several-offered",
        "VER offering several dialects is answered with one of them",
        "[D §7.1]",
        0,
        ver_several
    ),
    case!(
        "msnp2/7.1/ver-no-common-dialect",
        "VER with no dialect in common is answered 0 and the connection closed",
        "[D §7.1]",
        0,
        ver_none
    ),
    case!("msnp2/7.2/inf-md5", "INF lists MD5", "[D §7.2]", 0, inf_md5),
    case!("msnp2/1.1/trid-zero", "TrID 0 is echoed", "[D §4]", 0, trid_zero),
    case!("msnp2/1.1/trid-large", "TrID 4294967295 is echoed", "[D §4]", 0, trid_large),
    case!(
        "msnp2/1.1/pipelined",
        "requests sent in one segment are each answered with their TrID",
        "[D §4]",
        0,
        pipelined
    ),
    case!("msnp2/4/unknown-command", "an unknown command gets an error with its TrID", "[D §7]", 0, unknown_command),
    case!(
        "msnp2/7.4/xfr-ns-referral",
        "a dispatch server refers USR I to a notification server",
        "[D §7.4]",
        1,
        xfr_ns
    ),
    case!("msnp2/7.3/usr-right-password", "USR MD5 with the right response logs in", "[D §7.3]", 1, usr_right),
    case!("msnp2/7.3/usr-wrong-password", "USR MD5 with a wrong response is refused (911)", "[D §7.3]", 1, usr_wrong),
    case!("msnp2/7.3/usr-s-before-i", "USR MD5 S before USR MD5 I is refused", "[D §7.3]", 0, usr_s_first),
    case!(
        "msnp2/7.5/syn-serial-0",
        "SYN 0 gets the serial, GTC, BLP and the four lists, in order, with its TrID",
        "[D §7.5, §7.6]",
        1,
        syn_zero
    ),
    case!(
        "msnp2/7.5/syn-current-serial",
        "SYN with the current serial gets the serial alone",
        "[D §7.5]",
        1,
        syn_current
    ),
    case!("msnp2/7.7/chg-every-state", "CHG to each state is echoed with its TrID", "[D §7.7]", 1, chg_states),
    case!(
        "msnp2/7.7/chg-invalid-state",
        "CHG to a state that does not exist is refused (201)",
        "[D §7.7]",
        1,
        chg_invalid
    ),
    case!(
        "msnp2/7.8/add-rem-fl",
        "ADD and REM on the forward list are echoed with a new serial",
        "[D §7.8]",
        1,
        add_rem
    ),
    case!(
        "msnp2/7.8/add-present-215",
        "ADD of a handle already in the list is refused (215)",
        "[D §7.8]",
        2,
        add_present
    ),
    case!("msnp2/7.8/rem-absent-216", "REM of a handle not in the list is refused (216)", "[D §7.8]", 1, rem_absent),
    case!("msnp2/7.8/add-invalid-201", "ADD of a handle that is not one is refused (201)", "[D §7.8]", 1, add_invalid),
    case!("msnp2/7.6/blp", "BLP to BL and back to AL is echoed with the serial", "[D §7.6]", 1, blp),
    case!(
        "msnp2/7.6/blp-invalid-201",
        "BLP to a mode that does not exist is refused (201)",
        "[D §7.6]",
        1,
        blp_invalid
    ),
    case!("msnp2/7.6/gtc", "GTC to N and back to A is echoed with the serial", "[D §7.6]", 1, gtc),
    case!(
        "msnp2/7.6/gtc-invalid-201",
        "GTC to a setting that does not exist is refused (201)",
        "[D §7.6]",
        1,
        gtc_invalid
    ),
    case!("msnp2/7.9/presence-nln", "a contact going online is seen as NLN", "[D §7.9]", 2, presence_nln),
    case!(
        "msnp2/7.9/presence-iln",
        "going online lists the contacts already online (ILN, with the CHG's TrID)",
        "[D §7.9]",
        2,
        presence_iln
    ),
    case!("msnp2/7.9/presence-fln", "a contact signing out is seen as FLN", "[D §7.9, §7.10]", 2, presence_fln),
    case!("msnp2/3/png-qng", "PNG is answered QNG", "[Y cmd/png]", 1, png_qng),
    case!("msnp2/7.10/out", "OUT is answered OUT and the connection closed", "[D §7.10]", 1, out_ns),
    case!("msnp2/8.1/xfr-sb", "XFR SB gives a switchboard address and a cookie", "[D §8.1]", 1, xfr_sb),
    case!(
        "msnp2/8.2/sb-usr-wrong-cookie",
        "a switchboard refuses a cookie it did not issue (911)",
        "[D §8.2]",
        1,
        sb_wrong_cookie
    ),
    case!("msnp2/8.3/cal-offline", "CAL to a user who is not online is refused (217)", "[D §8.3]", 2, cal_offline),
    case!(
        "msnp2/8.3/cal-rng",
        "CAL rings the callee: RNG with a decimal session id, the address and a cookie",
        "[D §8.3, §8.4]",
        2,
        cal_rng
    ),
    case!(
        "msnp2/8.4/ans-iro-joi",
        "ANS gets the roster (IRO i n) before ANS OK, and the caller sees JOI",
        "[D §8.4, §8.5]",
        2,
        ans_iro
    ),
    case!("msnp2/8.7/msg-ack-mode-a", "MSG with ack mode A is delivered and acknowledged (ACK)", "[D §8.7]", 2, msg_a),
    case!("msnp2/8.7/msg-ack-mode-n", "MSG with ack mode N is delivered and gets no ACK", "[D §8.7]", 2, msg_n),
    case!(
        "msnp2/8.7/msg-ack-mode-u",
        "MSG with ack mode U is delivered and gets no acknowledgement",
        "[D §8.7]",
        2,
        msg_u
    ),
    case!("msnp2/8.7/msg-not-echoed", "a MSG is not sent back to its sender", "[D §8.7]", 2, msg_not_echoed),
    case!("msnp2/8.5/bye-on-leave", "the others see BYE when a user leaves the session", "[D §8.5, §8.6]", 2, bye),
];

async fn ver_common(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(&mut c, 1).await
}

async fn ver_several(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    c.send("VER 7 MSNP1 MSNP2 CVR0").await?;
    let r = c.reply("7").await?;
    want(r.verb() == "VER" && ["MSNP1", "MSNP2", "CVR0"].contains(&r.arg(2)), "VER 7 and one of MSNP1, MSNP2", &r)
}

async fn ver_none(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    c.send("VER 3 MSNP99").await?;
    let r = c.reply("3").await?;
    want(r.verb() == "VER" && r.arg(2) == "0", "VER 3 0", &r)?;
    match c.recv_within(ctx.timeout).await {
        Err(Stop::Closed(_)) => Ok(()),
        Ok(Some(l)) => Err(fail("the connection closed", l.shown())),
        Ok(None) => Err(fail("the connection closed", "still open")),
        Err(e) => Err(e),
    }
}

async fn inf_md5(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(&mut c, 1).await?;
    c.send("INF 2").await?;
    let r = c.reply("2").await?;
    want(r.verb() == "INF" && r.tokens[2..].iter().any(|p| p == "MD5"), "INF 2 MD5", &r)
}

async fn trid_echo(ctx: &Ctx, t: &str) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(&mut c, 1).await?;
    c.send(&format!("INF {t}")).await?;
    let r = c.wait_for(&format!("INF {t}"), |l| l.verb() == "INF" || l.is_error()).await?;
    want(r.verb() == "INF" && r.arg(1) == t, &format!("INF {t} MD5"), &r)
}

async fn trid_zero(ctx: &Ctx) -> Result<(), Stop> {
    trid_echo(ctx, "0").await
}

async fn trid_large(ctx: &Ctx) -> Result<(), Stop> {
    trid_echo(ctx, "4294967295").await
}

async fn pipelined(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    c.send_raw(b"VER 11 MSNP2 CVR0\r\nINF 12\r\n").await?;
    let v = c.recv().await?;
    want(v.verb() == "VER" && v.arg(1) == "11", "VER 11 MSNP2 first", &v)?;
    let i = c.recv().await?;
    want(i.verb() == "INF" && i.arg(1) == "12", "INF 12 MD5 next", &i)
}

async fn unknown_command(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(&mut c, 1).await?;
    c.send("ZZZ 5").await?;
    let r = c.reply("5").await?;
    want(r.is_error(), "an error code with TrID 5 (200, syntax error)", &r)
}

async fn xfr_ns(ctx: &Ctx) -> Result<(), Stop> {
    let (handle, _) = ctx.user(0)?;
    let mut c = ctx.connect(&ctx.target).await?;
    hello(&mut c, 1).await?;
    c.send("INF 2").await?;
    c.reply("2").await?;
    c.send(&format!("USR 3 MD5 I {handle}")).await?;
    let r = c.reply("3").await?;
    if r.verb() == "USR" {
        return Err(Stop::Skip("the target is a notification server (no dispatch in front of it)".into()));
    }
    let (host, port) = crate::msnp::address::parse_address(r.arg(3));
    want(r.verb() == "XFR" && r.arg(2) == "NS" && !host.is_empty() && port != 0, "XFR 3 NS host:port", &r)
}

async fn usr_right(ctx: &Ctx) -> Result<(), Stop> {
    login(ctx, 0).await.map(|_| ())
}

/// Runs the login of user 0 up to the challenge and answers it with `response`; the reply.
async fn login_answer(ctx: &Ctx, response: impl Fn(&str) -> String) -> Result<Line, Stop> {
    let (handle, _) = ctx.user(0)?;
    let mut addr = ctx.target.clone();
    for _ in 0..3 {
        let mut c = ctx.connect(&addr).await?;
        hello(&mut c, 1).await?;
        c.send(&format!("USR 3 MD5 I {handle}")).await?;
        let r = c.reply("3").await?;
        if r.verb() == "XFR" {
            addr = r.arg(3).to_string();
            continue;
        }
        want(r.verb() == "USR" && r.arg(3) == "S", "USR 3 MD5 S challenge", &r)?;
        c.send(&format!("USR 4 MD5 S {}", response(r.arg(4)))).await?;
        return c.reply("4").await;
    }
    Err(fail("a notification server", "more referrals"))
}

async fn usr_wrong(ctx: &Ctx) -> Result<(), Stop> {
    let r = login_answer(ctx, |chl| md5_response(chl, "not-the-password-at-all")).await?;
    want(r.verb() == "911", "911 4 (authentication failed)", &r)
}

async fn usr_s_first(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(&mut c, 1).await?;
    c.send("USR 2 MD5 S 0123456789abcdef0123456789abcdef").await?;
    let r = c.reply("2").await?;
    want(r.is_error(), "an error code with TrID 2", &r)
}

/// SYN 5 0 after login: the replies with TrID 5, in order.
async fn syn_lines(c: &mut Client) -> Result<Vec<Line>, Stop> {
    c.send("SYN 5 0").await?;
    let first = c.reply("5").await?;
    want(first.verb() == "SYN", "SYN 5 serial", &first)?;
    let mut out = vec![first];
    // The batch ends with the last list's last item (RL); what has no items says 0 0.
    while let Some(l) = c.sees_within(Duration::from_millis(300), |l| l.arg(1) == "5").await? {
        out.push(l);
        if out.len() > 10_000 {
            break;
        }
    }
    Ok(out)
}

async fn syn_zero(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    let lines = syn_lines(&mut c).await?;
    let verbs: Vec<String> = lines
        .iter()
        .map(|l| if l.verb() == "LST" { format!("LST {}", l.arg(2)) } else { l.verb().to_string() })
        .collect();
    let mut order: Vec<String> = verbs.clone();
    order.dedup();
    let expected = ["SYN", "GTC", "BLP", "LST FL", "LST AL", "LST BL", "LST RL"];
    if order != expected {
        return Err(fail(expected.join(", "), order.join(", ")));
    }
    let serial = lines[0].arg(2);
    for l in &lines[1..] {
        let s = if l.verb() == "LST" { l.arg(3) } else { l.arg(2) };
        want(s == serial, &format!("serial {serial} on every line of the batch"), l)?;
    }
    Ok(())
}

async fn syn_current(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    let lines = syn_lines(&mut c).await?;
    let serial = lines[0].arg(2).to_string();
    c.send(&format!("SYN 8 {serial}")).await?;
    let r = c.reply("8").await?;
    want(r.verb() == "SYN" && r.arg(2) == serial, &format!("SYN 8 {serial}"), &r)?;
    match c.sees_within(Duration::from_millis(300), |l| l.arg(1) == "8").await? {
        Some(l) => Err(fail("nothing more for TrID 8 (the lists are current)", l.shown())),
        None => Ok(()),
    }
}

async fn chg_states(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    for (i, s) in ["NLN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN", "HDN", "NLN"].iter().enumerate() {
        let t = (20 + i).to_string();
        c.send(&format!("CHG {t} {s}")).await?;
        let r = c.wait_for(&format!("CHG {t}"), |l| (l.verb() == "CHG" || l.is_error()) && l.arg(1) != "0").await?;
        want(r.verb() == "CHG" && r.arg(1) == t && r.arg(2) == *s, &format!("CHG {t} {s}"), &r)?;
    }
    Ok(())
}

async fn chg_invalid(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("CHG 9 XYZ").await?;
    let r = c.reply("9").await?;
    want(r.verb() == "201", "201 9 (invalid parameter)", &r)
}

async fn add_rem(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    let serial: u64 = syn_lines(&mut c).await?[0].arg(2).parse().unwrap_or(0);
    c.send("ADD 9 FL msntap-check@example.com msntap-check@example.com").await?;
    let r = c.reply("9").await?;
    want(
        r.verb() == "ADD" && r.arg(2) == "FL" && r.arg(4) == "msntap-check@example.com",
        "ADD 9 FL serial msntap-check@example.com name",
        &r,
    )?;
    let added: u64 = r.arg(3).parse().unwrap_or(0);
    want(added > serial, &format!("a serial above {serial}"), &r)?;
    c.send("REM 10 FL msntap-check@example.com").await?;
    let r = c.reply("10").await?;
    want(r.verb() == "REM" && r.arg(2) == "FL" && r.arg(4) == "msntap-check@example.com", "REM 10 FL serial handle", &r)
}

async fn add_present(ctx: &Ctx) -> Result<(), Stop> {
    let (other, _) = ctx.user(1)?;
    let mut c = login(ctx, 0).await?;
    // Added once (or already there), then again.
    c.send(&format!("ADD 9 FL {other} {other}")).await?;
    c.reply("9").await?;
    c.send(&format!("ADD 10 FL {other} {other}")).await?;
    let r = c.reply("10").await?;
    want(r.verb() == "215", "215 10 (already in the list)", &r)
}

async fn rem_absent(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("REM 9 FL nobody-here@example.com").await?;
    let r = c.reply("9").await?;
    want(r.verb() == "216", "216 9 (not in the list)", &r)
}

async fn add_invalid(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("ADD 9 FL not-a-handle not-a-handle").await?;
    let r = c.reply("9").await?;
    want(r.verb() == "201", "201 9 (invalid parameter)", &r)
}

/// Sets `verb` to each of `values` and back; each echoed with its TrID and a serial.
async fn setting(ctx: &Ctx, verb: &str, values: [&str; 2]) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    for (i, v) in values.iter().enumerate() {
        let t = (30 + i).to_string();
        c.send(&format!("{verb} {t} {v}")).await?;
        let r = c.reply(&t).await?;
        let serial = r.arg(2).parse::<u64>().is_ok();
        want(r.verb() == verb && serial && r.arg(3) == *v, &format!("{verb} {t} serial {v}"), &r)?;
    }
    Ok(())
}

async fn blp(ctx: &Ctx) -> Result<(), Stop> {
    setting(ctx, "BLP", ["BL", "AL"]).await
}

async fn gtc(ctx: &Ctx) -> Result<(), Stop> {
    setting(ctx, "GTC", ["N", "A"]).await
}

async fn refused(ctx: &Ctx, line: &str) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send(line).await?;
    let r = c.reply("9").await?;
    want(r.verb() == "201", "201 9 (invalid parameter)", &r)
}

async fn blp_invalid(ctx: &Ctx) -> Result<(), Stop> {
    refused(ctx, "BLP 9 XX").await
}

async fn gtc_invalid(ctx: &Ctx) -> Result<(), Stop> {
    refused(ctx, "GTC 9 X").await
}

async fn presence_nln(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let _b = online(ctx, 1).await?;
    let r = a.wait_for(&format!("NLN NLN {b_handle}"), |l| l.verb() == "NLN").await?;
    want(r.arg(1) == "NLN" && r.arg(2).eq_ignore_ascii_case(b_handle), &format!("NLN NLN {b_handle} name"), &r)
}

async fn presence_iln(ctx: &Ctx) -> Result<(), Stop> {
    let (a_handle, _) = ctx.user(0)?;
    let _a = online(ctx, 0).await?;
    let mut b = login(ctx, 1).await?;
    b.send("SYN 5 0").await?;
    b.reply("5").await?;
    b.send("CHG 6 NLN").await?;
    let r = b.wait_for(&format!("ILN 6 NLN {a_handle}"), |l| l.verb() == "ILN").await?;
    want(r.arg(1) == "6" && r.arg(2) == "NLN" && r.arg(3).eq_ignore_ascii_case(a_handle), "ILN 6 NLN handle name", &r)
}

async fn presence_fln(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let mut b = online(ctx, 1).await?;
    a.wait_for("NLN", |l| l.verb() == "NLN").await?;
    b.send("OUT").await?;
    b.close().await;
    let r = a.wait_for(&format!("FLN {b_handle}"), |l| l.verb() == "FLN").await?;
    want(r.arg(1).eq_ignore_ascii_case(b_handle), &format!("FLN {b_handle}"), &r)
}

async fn png_qng(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("PNG").await?;
    let r = c.wait_for("QNG", |l| l.verb() == "QNG" || l.is_error()).await?;
    want(r.verb() == "QNG", "QNG", &r)
}

async fn out_ns(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("OUT").await?;
    let r = c.wait_for("OUT", |l| l.verb() == "OUT").await?;
    want(r.verb() == "OUT", "OUT", &r)?;
    match c.recv_within(ctx.timeout).await {
        Err(Stop::Closed(_)) => Ok(()),
        Ok(Some(l)) => Err(fail("the connection closed", l.shown())),
        Ok(None) => Err(fail("the connection closed", "still open")),
        Err(e) => Err(e),
    }
}

async fn xfr_sb(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = online(ctx, 0).await?;
    let r = refer_sb(&mut c).await?;
    let (host, port) = crate::msnp::address::parse_address(r.arg(3));
    want(
        r.verb() == "XFR"
            && r.arg(2) == "SB"
            && !host.is_empty()
            && port != 0
            && r.arg(4) == "CKI"
            && !r.arg(5).is_empty(),
        "XFR 10 SB host:port CKI cookie",
        &r,
    )
}

async fn sb_wrong_cookie(ctx: &Ctx) -> Result<(), Stop> {
    let (handle, _) = ctx.user(0)?;
    let mut c = online(ctx, 0).await?;
    let r = refer_sb(&mut c).await?;
    let mut sb = ctx.connect(r.arg(3)).await?;
    sb.send(&format!("USR 1 {handle} 999.999.999")).await?;
    let u = sb.reply("1").await?;
    want(u.verb() == "911", "911 1 (authentication failed)", &u)
}

async fn cal_offline(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let (_, mut sb, _) = caller_sb(ctx, &mut a).await?;
    sb.send(&format!("CAL 2 {b_handle}")).await?;
    let c = sb.reply("2").await?;
    want(c.verb() == "217", "217 2 (user not online)", &c)
}

async fn cal_rng(ctx: &Ctx) -> Result<(), Stop> {
    let (a_handle, _) = ctx.user(0)?;
    let mut a = online(ctx, 0).await?;
    let mut b = online(ctx, 1).await?;
    let (_, mut sb, _) = caller_sb(ctx, &mut a).await?;
    let (c, rng) = ring(ctx, &mut sb, &mut b).await?;
    want(c.verb() == "CAL" && c.arg(2) == "RINGING", "CAL 2 RINGING session", &c)?;
    let decimal = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    want(decimal(rng.arg(1)), "a decimal session id", &rng)?;
    want(rng.arg(1) == c.arg(3), &format!("the session id CAL gave ({})", c.arg(3)), &rng)?;
    want(rng.arg(3) == "CKI" && !rng.arg(4).is_empty(), "RNG session host:port CKI cookie caller name", &rng)?;
    want(rng.arg(5).eq_ignore_ascii_case(a_handle), &format!("the caller {a_handle}"), &rng)
}

async fn ans_iro(ctx: &Ctx) -> Result<(), Stop> {
    let (a_handle, _) = ctx.user(0)?;
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let mut b = online(ctx, 1).await?;
    let (_, mut asb, _) = caller_sb(ctx, &mut a).await?;
    let (_, rng) = ring(ctx, &mut asb, &mut b).await?;
    let mut bsb = ctx.connect(rng.arg(2)).await?;
    bsb.send(&format!("ANS 1 {b_handle} {} {}", rng.arg(4), rng.arg(1))).await?;
    let first = bsb.reply("1").await?;
    want(first.verb() == "IRO", "IRO 1 1 1 caller name first", &first)?;
    want(first.arg(2) == "1" && first.arg(3) == "1", "IRO 1 1 1 (item 1 of 1)", &first)?;
    want(first.arg(4).eq_ignore_ascii_case(a_handle), &format!("IRO naming {a_handle}"), &first)?;
    let ok = bsb.reply("1").await?;
    want(ok.verb() == "ANS" && ok.arg(2) == "OK", "ANS 1 OK after the roster", &ok)?;
    let j = asb.wait_for("JOI", |l| l.verb() == "JOI").await?;
    want(j.arg(1).eq_ignore_ascii_case(b_handle), &format!("JOI {b_handle} name"), &j)
}

const TEXT: &[u8] = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nmsntap check";

/// A MSG in `mode` from the caller; whether the callee got it and what the caller got back.
async fn msg_in(ctx: &Ctx, mode: char) -> Result<(Option<Line>, Line), Stop> {
    let (_a, _b, mut asb, mut bsb) = conversation(ctx).await?;
    asb.send_payload(&format!("MSG 3 {mode}"), TEXT).await?;
    let got = bsb.wait_for("MSG", |l| l.verb() == "MSG").await?;
    let back = asb.sees_within(Duration::from_millis(500), |l| l.arg(1) == "3").await?;
    Ok((back, got))
}

async fn msg_a(ctx: &Ctx) -> Result<(), Stop> {
    let (back, got) = msg_in(ctx, 'A').await?;
    want(got.payload.as_deref() == Some(TEXT), "the MSG delivered with its payload", &got)?;
    match back {
        Some(l) if l.verb() == "ACK" => Ok(()),
        Some(l) => Err(fail("ACK 3", l.shown())),
        None => Err(fail("ACK 3", "nothing")),
    }
}

async fn msg_n(ctx: &Ctx) -> Result<(), Stop> {
    let (back, _) = msg_in(ctx, 'N').await?;
    match back {
        Some(l) if l.verb() == "ACK" => Err(fail("no ACK (ack mode N)", l.shown())),
        _ => Ok(()),
    }
}

async fn msg_u(ctx: &Ctx) -> Result<(), Stop> {
    let (back, _) = msg_in(ctx, 'U').await?;
    match back {
        Some(l) => Err(fail("nothing for TrID 3 (ack mode U)", l.shown())),
        None => Ok(()),
    }
}

async fn msg_not_echoed(ctx: &Ctx) -> Result<(), Stop> {
    let (_a, _b, mut asb, mut bsb) = conversation(ctx).await?;
    asb.send_payload("MSG 3 U", TEXT).await?;
    bsb.wait_for("MSG", |l| l.verb() == "MSG").await?;
    match asb.sees_within(Duration::from_millis(500), |l| l.verb() == "MSG").await? {
        Some(l) => Err(fail("no MSG back to the sender", l.shown())),
        None => Ok(()),
    }
}

async fn bye(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let (_a, _b, mut asb, mut bsb) = conversation(ctx).await?;
    bsb.send("OUT").await?;
    bsb.close().await;
    let r = asb.wait_for(&format!("BYE {b_handle}"), |l| l.verb() == "BYE").await?;
    want(r.arg(1).eq_ignore_ascii_case(b_handle), &format!("BYE {b_handle}"), &r)
}
