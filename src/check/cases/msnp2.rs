//! The MSNP2 cases' bodies: the draft's behaviours (\[D\], draft-movva-msn-messenger-protocol-00),
//! each on fresh connections in MSNP2.

use super::*;

pub(super) async fn ver_common(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    c.send("VER 1 MSNP2 CVR0").await?;
    let r = c.reply("1").await?;
    want(r.verb() == "VER" && r.arg(2) == "MSNP2", "VER 1 MSNP2", &r)
}

pub(super) async fn ver_several(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    c.send("VER 7 MSNP1 MSNP2 CVR0").await?;
    let r = c.reply("7").await?;
    want(r.verb() == "VER" && ["MSNP1", "MSNP2", "CVR0"].contains(&r.arg(2)), "VER 7 and one of MSNP1, MSNP2", &r)
}

pub(super) async fn ver_none(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    c.send("VER 3 MSNP99").await?;
    let r = c.reply("3").await?;
    want(r.verb() == "VER" && r.arg(2) == "0", "VER 3 0", &r)?;
    closes(&mut c, ctx.timeout).await
}

pub(super) async fn inf_md5(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(ctx, &mut c, 1).await?;
    c.send("INF 2").await?;
    let r = c.reply("2").await?;
    want(r.verb() == "INF" && r.tokens[2..].iter().any(|p| p == "MD5"), "INF 2 MD5", &r)
}

pub(super) async fn trid_echo(ctx: &Ctx, t: &str) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(ctx, &mut c, 1).await?;
    c.send(&format!("INF {t}")).await?;
    let r = c.wait_for(&format!("INF {t}"), |l| l.verb() == "INF" || l.is_error()).await?;
    want(r.verb() == "INF" && r.arg(1) == t, &format!("INF {t} MD5"), &r)
}

pub(super) async fn trid_zero(ctx: &Ctx) -> Result<(), Stop> {
    trid_echo(ctx, "0").await
}

pub(super) async fn trid_large(ctx: &Ctx) -> Result<(), Stop> {
    trid_echo(ctx, "4294967295").await
}

pub(super) async fn pipelined(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    c.send_raw(b"VER 11 MSNP2 CVR0\r\nINF 12\r\n").await?;
    let v = c.recv().await?;
    want(v.verb() == "VER" && v.arg(1) == "11", "VER 11 MSNP2 first", &v)?;
    let i = c.recv().await?;
    want(i.verb() == "INF" && i.arg(1) == "12", "INF 12 MD5 next", &i)
}

pub(super) async fn unknown_command(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(ctx, &mut c, 1).await?;
    c.send("ZZZ 5").await?;
    let r = c.reply("5").await?;
    want(r.is_error(), "an error code with TrID 5 (200, syntax error)", &r)
}

pub(super) async fn xfr_ns(ctx: &Ctx) -> Result<(), Stop> {
    let (handle, _) = ctx.user(0)?;
    let mut c = ctx.connect(&ctx.target).await?;
    hello(ctx, &mut c, 1).await?;
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

pub(super) async fn usr_right(ctx: &Ctx) -> Result<(), Stop> {
    login(ctx, 0).await.map(|_| ())
}

/// Runs the login of user 0 up to the challenge and answers it with `response`; the reply.
pub(super) async fn login_answer(ctx: &Ctx, response: impl Fn(&str) -> String) -> Result<Line, Stop> {
    let (handle, _) = ctx.user(0)?;
    let (mut c, scheme, r) = challenge(ctx, handle).await?;
    c.send(&format!("USR 4 {scheme} S {}", response(r.arg(4)))).await?;
    c.reply("4").await
}

pub(super) async fn usr_wrong(ctx: &Ctx) -> Result<(), Stop> {
    let r = login_answer(ctx, |chl| md5_response(chl, "not-the-password-at-all")).await?;
    want(r.verb() == "911", "911 4 (authentication failed)", &r)
}

pub(super) async fn usr_s_first(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(ctx, &mut c, 1).await?;
    c.send("USR 2 MD5 S 0123456789abcdef0123456789abcdef").await?;
    let r = c.reply("2").await?;
    want(r.is_error(), "an error code with TrID 2", &r)
}

/// SYN 5 0 after login: the replies with TrID 5, in order.
pub(super) async fn syn_lines(c: &mut Client) -> Result<Vec<Line>, Stop> {
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

pub(super) async fn syn_zero(ctx: &Ctx) -> Result<(), Stop> {
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

pub(super) async fn syn_current(ctx: &Ctx) -> Result<(), Stop> {
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

pub(super) async fn chg_states(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    for (i, s) in ["NLN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN", "HDN", "NLN"].iter().enumerate() {
        let t = (20 + i).to_string();
        c.send(&format!("CHG {t} {s}")).await?;
        let r = c.wait_for(&format!("CHG {t}"), |l| (l.verb() == "CHG" || l.is_error()) && l.arg(1) != "0").await?;
        want(r.verb() == "CHG" && r.arg(1) == t && r.arg(2) == *s, &format!("CHG {t} {s}"), &r)?;
    }
    Ok(())
}

pub(super) async fn chg_invalid(ctx: &Ctx) -> Result<(), Stop> {
    refused(ctx, "CHG 9 XYZ").await
}

/// `verb t list handle [name]` on `c`, expecting the echo with a serial above `above`: the
/// new serial.
async fn list_change(c: &mut Client, line: &str, above: u64) -> Result<u64, Stop> {
    let parts: Vec<&str> = line.split(' ').collect();
    let (verb, t, list, who) = (parts[0], parts[1], parts[2], parts[3]);
    c.send(line).await?;
    let r = c.reply(t).await?;
    let form = format!("{verb} {t} {list} serial {who}");
    want(r.verb() == verb && r.arg(2) == list && r.arg(4).eq_ignore_ascii_case(who), &form, &r)?;
    let serial: u64 = r.arg(3).parse().unwrap_or(0);
    want(serial > above, &format!("{form} with a serial above {above}"), &r)?;
    Ok(serial)
}

pub(super) async fn add_rem(ctx: &Ctx) -> Result<(), Stop> {
    let (other, _) = ctx.user(1)?;
    let mut c = login(ctx, 0).await?;
    let serial: u64 = syn_lines(&mut c).await?[0].arg(2).parse().unwrap_or(0);
    // Out and back in when the contact is listed, in and back out when not: the list ends
    // as it was.
    c.send(&format!("REM 8 FL {other}")).await?;
    let first = c.reply("8").await?;
    let (serial, listed) = match first.verb() {
        "REM" => (first.arg(3).parse().unwrap_or(serial), true),
        "216" => (serial, false),
        _ => return Err(fail(format!("REM 8 FL serial {other}, or 216 8 when not listed"), first.shown())),
    };
    let add = format!("ADD 9 FL {other} {other}");
    let rem = format!("REM 10 FL {other}");
    if listed {
        list_change(&mut c, &add, serial).await.map(|_| ())
    } else {
        let s = list_change(&mut c, &add, serial).await?;
        list_change(&mut c, &rem, s).await.map(|_| ())
    }
}

pub(super) async fn add_present(ctx: &Ctx) -> Result<(), Stop> {
    let (other, _) = ctx.user(1)?;
    let mut c = login(ctx, 0).await?;
    // Added once (or already there), then again.
    c.send(&format!("ADD 9 FL {other} {other}")).await?;
    c.reply("9").await?;
    c.send(&format!("ADD 10 FL {other} {other}")).await?;
    let r = c.reply("10").await?;
    want(r.verb() == "215", "215 10 (already in the list)", &r)
}

pub(super) async fn rem_absent(ctx: &Ctx) -> Result<(), Stop> {
    let r = after_login(ctx, "REM 9 FL nobody-here@example.com").await?;
    want(r.verb() == "216", "216 9 (not in the list)", &r)
}

pub(super) async fn add_invalid(ctx: &Ctx) -> Result<(), Stop> {
    let r = after_login(ctx, "ADD 9 XL msntap-check@hotmail.com msntap-check").await?;
    want(r.verb() == "201", "201 9 (invalid parameter: there is no list XL)", &r)
}

pub(super) async fn add_no_domain(ctx: &Ctx) -> Result<(), Stop> {
    let r = after_login(ctx, "ADD 9 FL msntap-check msntap-check").await?;
    // [D §5.4] names 206; servers were also seen answering 201.
    want(r.verb() == "206" || r.verb() == "201", "206 9 (domain missing; 201 was also seen)", &r)
}

pub(super) async fn add_no_account(ctx: &Ctx) -> Result<(), Stop> {
    let r = after_login(ctx, "ADD 9 FL msntap-no-such-account-7f3a@hotmail.com nobody").await?;
    want(r.verb() == "205", "205 9 (no such user)", &r)
}

pub(super) async fn add_al_bl(ctx: &Ctx) -> Result<(), Stop> {
    let (other, _) = ctx.user(1)?;
    let mut c = login(ctx, 0).await?;
    c.send(&format!("ADD 9 AL {other} {other}")).await?;
    let r = c.reply("9").await?;
    want(r.verb() == "ADD" || r.verb() == "215", &format!("ADD 9 AL serial {other} name, or 215 9"), &r)?;
    c.send(&format!("ADD 10 BL {other} {other}")).await?;
    let r = c.reply("10").await?;
    if r.verb() == "ADD" {
        // Put the lists back before failing.
        c.send(&format!("REM 11 BL {other}")).await?;
        let _ = c.reply("11").await;
    }
    want(r.verb() == "219", "219 10 (already in the opposite list)", &r)
}

/// A handle of `len` bytes, `aaa...@hotmail.com`.
fn long_handle(len: usize) -> String {
    let domain = "@hotmail.com";
    format!("{}{domain}", "a".repeat(len.saturating_sub(domain.len())))
}

pub(super) async fn handle_129(ctx: &Ctx) -> Result<(), Stop> {
    let h = long_handle(129);
    let mut c = login(ctx, 0).await?;
    c.send(&format!("ADD 9 FL {h} long")).await?;
    let r = c.reply("9").await?;
    if r.verb() == "ADD" {
        c.send(&format!("REM 10 FL {h}")).await?;
        let _ = c.reply("10").await;
    }
    // It is a handle: added, or refused for having no account, not as malformed.
    want(r.verb() == "ADD" || r.verb() == "205", "ADD 9 FL ... or 205 9 (a 129-byte handle is valid)", &r)
}

pub(super) async fn handle_130(ctx: &Ctx) -> Result<(), Stop> {
    let r = after_login(ctx, &format!("ADD 9 FL {} long", long_handle(130))).await?;
    want(r.verb() == "201", "201 9 (a handle is at most 129 bytes)", &r)
}

/// `REA 9 own-handle name` with a name of `len` encoded bytes: the reply (the old name is put
/// back when it changed).
async fn rename(ctx: &Ctx, len: usize) -> Result<Line, Stop> {
    let (me, _) = ctx.user(0)?;
    let mut c = login(ctx, 0).await?;
    let old = if c.name.is_empty() { me.split('@').next().unwrap_or("msntap").to_string() } else { c.name.clone() };
    c.send(&format!("REA 9 {me} {}", "n".repeat(len))).await?;
    let r = c.reply("9").await?;
    if r.verb() == "REA" {
        c.send(&format!("REA 10 {me} {old}")).await?;
        let _ = c.reply("10").await;
    }
    Ok(r)
}

pub(super) async fn rea_387(ctx: &Ctx) -> Result<(), Stop> {
    let (me, _) = ctx.user(0)?;
    let r = rename(ctx, 387).await?;
    let ok = r.verb() == "REA" && r.arg(2).parse::<u64>().is_ok() && r.arg(3).eq_ignore_ascii_case(me);
    want(ok && r.arg(4).len() == 387, &format!("REA 9 serial {me} name (387 bytes are allowed)"), &r)
}

pub(super) async fn rea_388(ctx: &Ctx) -> Result<(), Stop> {
    let r = rename(ctx, 388).await?;
    want(r.verb() == "209", "209 9 (a friendly name is at most 387 encoded bytes)", &r)
}

pub(super) async fn overlong_line(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = ctx.connect(&ctx.target).await?;
    hello(ctx, &mut c, 1).await?;
    let mut line = b"INF 2 ".to_vec();
    line.resize(100 * 1024, b'x');
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line).await?;
    // Closing or refusing are fine; so is skipping the line and going on; hanging is not.
    match c.sees_within(ctx.timeout, |l| l.is_error() || l.verb() == "INF").await {
        Ok(Some(_)) | Err(Stop::Closed(_)) => {}
        Ok(None) => {
            c.send("INF 3").await?;
            let r = c.reply("3").await?;
            want(r.verb() == "INF", "INF 3 MD5 (the server went on after the long line)", &r)?;
        }
        Err(e) => return Err(e),
    }
    let mut again = ctx.connect(&ctx.target).await?;
    hello(ctx, &mut again, 1).await.map(|_| ())
}

/// Sets `verb` to each of `values` and back; each echoed with its TrID and a serial.
pub(super) async fn setting(ctx: &Ctx, verb: &str, values: [&str; 2]) -> Result<(), Stop> {
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

pub(super) async fn blp(ctx: &Ctx) -> Result<(), Stop> {
    setting(ctx, "BLP", ["BL", "AL"]).await
}

pub(super) async fn gtc(ctx: &Ctx) -> Result<(), Stop> {
    setting(ctx, "GTC", ["N", "A"]).await
}

/// `line` (TrID 9) after the login is refused with 201.
async fn refused(ctx: &Ctx, line: &str) -> Result<(), Stop> {
    let r = after_login(ctx, line).await?;
    want(r.verb() == "201", "201 9 (invalid parameter)", &r)
}

pub(super) async fn blp_invalid(ctx: &Ctx) -> Result<(), Stop> {
    refused(ctx, "BLP 9 XX").await
}

pub(super) async fn gtc_invalid(ctx: &Ctx) -> Result<(), Stop> {
    refused(ctx, "GTC 9 X").await
}

pub(super) async fn presence_nln(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let _b = online(ctx, 1).await?;
    let r = a.wait_for(&format!("NLN NLN {b_handle}"), |l| l.verb() == "NLN").await?;
    want(r.arg(1) == "NLN" && r.arg(2).eq_ignore_ascii_case(b_handle), &format!("NLN NLN {b_handle} name"), &r)
}

pub(super) async fn presence_iln(ctx: &Ctx) -> Result<(), Stop> {
    let (a_handle, _) = ctx.user(0)?;
    let _a = online(ctx, 0).await?;
    let mut b = login(ctx, 1).await?;
    b.send("SYN 5 0").await?;
    b.reply("5").await?;
    b.send("CHG 6 NLN").await?;
    let r = b.wait_for(&format!("ILN 6 NLN {a_handle}"), |l| l.verb() == "ILN").await?;
    want(r.arg(1) == "6" && r.arg(2) == "NLN" && r.arg(3).eq_ignore_ascii_case(a_handle), "ILN 6 NLN handle name", &r)
}

pub(super) async fn presence_fln(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let mut b = online(ctx, 1).await?;
    a.wait_for("NLN", |l| l.verb() == "NLN").await?;
    b.send("OUT").await?;
    b.close().await;
    let r = a.wait_for(&format!("FLN {b_handle}"), |l| l.verb() == "FLN").await?;
    want(r.arg(1).eq_ignore_ascii_case(b_handle), &format!("FLN {b_handle}"), &r)
}

pub(super) async fn png_qng(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("PNG").await?;
    let r = c.wait_for("QNG", |l| l.verb() == "QNG" || l.is_error()).await?;
    want(r.verb() == "QNG", "QNG", &r)
}

pub(super) async fn out_ns(ctx: &Ctx) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send("OUT").await?;
    let r = c.wait_for("OUT", |l| l.verb() == "OUT").await?;
    want(r.verb() == "OUT", "OUT", &r)?;
    closes(&mut c, ctx.timeout).await
}

pub(super) async fn xfr_sb(ctx: &Ctx) -> Result<(), Stop> {
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

pub(super) async fn sb_wrong_cookie(ctx: &Ctx) -> Result<(), Stop> {
    let (handle, _) = ctx.user(0)?;
    let mut c = online(ctx, 0).await?;
    let r = refer_sb(&mut c).await?;
    let mut sb = ctx.connect(r.arg(3)).await?;
    sb.send(&format!("USR 1 {handle} 999.999.999")).await?;
    let u = sb.reply("1").await?;
    want(u.verb() == "911", "911 1 (authentication failed)", &u)
}

pub(super) async fn cal_offline(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let mut a = online(ctx, 0).await?;
    let (_, mut sb, _) = caller_sb(ctx, &mut a).await?;
    sb.send(&format!("CAL 2 {b_handle}")).await?;
    let c = sb.reply("2").await?;
    want(c.verb() == "217", "217 2 (user not online)", &c)
}

pub(super) async fn cal_rng(ctx: &Ctx) -> Result<(), Stop> {
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

pub(super) async fn ans_iro(ctx: &Ctx) -> Result<(), Stop> {
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

pub(super) const TEXT: &[u8] = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nmsntap check";

/// A MSG in `mode` from the caller; whether the callee got it and what the caller got back.
pub(super) async fn msg_in(ctx: &Ctx, mode: char) -> Result<(Option<Line>, Line), Stop> {
    let (_a, _b, mut asb, mut bsb) = conversation(ctx).await?;
    asb.send_payload(&format!("MSG 3 {mode}"), TEXT).await?;
    let got = bsb.wait_for("MSG", |l| l.verb() == "MSG").await?;
    let back = asb.sees_within(Duration::from_millis(500), |l| l.arg(1) == "3").await?;
    Ok((back, got))
}

pub(super) async fn msg_a(ctx: &Ctx) -> Result<(), Stop> {
    let (back, got) = msg_in(ctx, 'A').await?;
    want(got.payload.as_deref() == Some(TEXT), "the MSG delivered with its payload", &got)?;
    match back {
        Some(l) if l.verb() == "ACK" => Ok(()),
        Some(l) => Err(fail("ACK 3", l.shown())),
        None => Err(fail("ACK 3", "nothing")),
    }
}

pub(super) async fn msg_n(ctx: &Ctx) -> Result<(), Stop> {
    let (back, _) = msg_in(ctx, 'N').await?;
    match back {
        Some(l) if l.verb() == "ACK" => Err(fail("no ACK (ack mode N)", l.shown())),
        _ => Ok(()),
    }
}

pub(super) async fn msg_u(ctx: &Ctx) -> Result<(), Stop> {
    let (back, _) = msg_in(ctx, 'U').await?;
    match back {
        Some(l) => Err(fail("nothing for TrID 3 (ack mode U)", l.shown())),
        None => Ok(()),
    }
}

pub(super) async fn msg_not_echoed(ctx: &Ctx) -> Result<(), Stop> {
    let (_a, _b, mut asb, mut bsb) = conversation(ctx).await?;
    asb.send_payload("MSG 3 U", TEXT).await?;
    bsb.wait_for("MSG", |l| l.verb() == "MSG").await?;
    match asb.sees_within(Duration::from_millis(500), |l| l.verb() == "MSG").await? {
        Some(l) => Err(fail("no MSG back to the sender", l.shown())),
        None => Ok(()),
    }
}

pub(super) async fn bye(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let (_a, _b, mut asb, mut bsb) = conversation(ctx).await?;
    bsb.send("OUT").await?;
    bsb.close().await;
    let r = asb.wait_for(&format!("BYE {b_handle}"), |l| l.verb() == "BYE").await?;
    want(r.arg(1).eq_ignore_ascii_case(b_handle), &format!("BYE {b_handle}"), &r)
}

pub(super) async fn blp_same(ctx: &Ctx) -> Result<(), Stop> {
    same_mode(ctx, "BLP", "BL", "AL").await
}

pub(super) async fn gtc_same(ctx: &Ctx) -> Result<(), Stop> {
    same_mode(ctx, "GTC", "N", "A").await
}

/// `verb` set to `value` twice (the second is refused, 218), then back to `default`.
async fn same_mode(ctx: &Ctx, verb: &str, value: &str, default: &str) -> Result<(), Stop> {
    let mut c = login(ctx, 0).await?;
    c.send(&format!("{verb} 30 {value}")).await?;
    let r = c.reply("30").await?;
    want(r.verb() == verb || r.verb() == "218", &format!("{verb} 30 serial {value}"), &r)?;
    c.send(&format!("{verb} 31 {value}")).await?;
    let again = c.reply("31").await?;
    c.send(&format!("{verb} 32 {default}")).await?;
    let _ = c.reply("32").await;
    want(again.verb() == "218", "218 31 (already in that mode)", &again)
}

pub(super) async fn cal_invalid(ctx: &Ctx) -> Result<(), Stop> {
    let mut a = online(ctx, 0).await?;
    let (_, mut sb, _) = caller_sb(ctx, &mut a).await?;
    sb.send("CAL 2 @@a").await?;
    let r = sb.reply("2").await?;
    want(r.verb() == "208", "208 2 (invalid user name)", &r)
}

pub(super) async fn cal_in_session(ctx: &Ctx) -> Result<(), Stop> {
    let (b_handle, _) = ctx.user(1)?;
    let (_a, _b, mut asb, _bsb) = conversation(ctx).await?;
    asb.send(&format!("CAL 3 {b_handle}")).await?;
    let r = asb.reply("3").await?;
    want(r.verb() == "215", "215 3 (already in the session)", &r)
}

pub(super) async fn iro_three(ctx: &Ctx) -> Result<(), Stop> {
    let handles: Vec<&str> = (0..3).map(|i| ctx.user(i).map(|u| u.0)).collect::<Result<_, _>>()?;
    let (_a, _b, mut asb, mut bsb) = conversation(ctx).await?;
    let mut c = online(ctx, 2).await?;
    let (cal, rng) = ring_user(ctx, &mut asb, "3", 2, &mut c).await?;
    want(cal.verb() == "CAL" && cal.arg(2) == "RINGING", "CAL 3 RINGING session", &cal)?;
    let (_csb, lines) = answer_ring(ctx, 2, &rng).await?;
    let (iro, rest): (Vec<&Line>, Vec<&Line>) = lines.iter().partition(|l| l.verb() == "IRO");
    let last = rest.first().map(|l| (*l).clone()).unwrap_or_default();
    want(last.verb() == "ANS" && last.arg(2) == "OK", "ANS 1 OK after the roster", &last)?;
    if iro.len() != 2 {
        return Err(fail("IRO 1 1 2 and IRO 1 2 2 (the two already there)", format!("{} IRO lines", iro.len())));
    }
    for (i, l) in iro.iter().enumerate() {
        let (n, of) = ((i + 1).to_string(), "2");
        want(l.arg(2) == n && l.arg(3) == of, &format!("IRO 1 {n} {of} handle name"), l)?;
    }
    let named: Vec<String> = iro.iter().map(|l| l.arg(4).to_ascii_lowercase()).collect();
    for h in &handles[..2] {
        if !named.contains(&h.to_ascii_lowercase()) {
            return Err(fail(format!("an IRO naming {h}"), named.join(", ")));
        }
    }
    for sb in [&mut asb, &mut bsb] {
        let j = sb.wait_for("JOI", |l| l.verb() == "JOI").await?;
        want(j.arg(1).eq_ignore_ascii_case(handles[2]), &format!("JOI {} name", handles[2]), &j)?;
    }
    Ok(())
}

pub(super) async fn al_bl_move(ctx: &Ctx) -> Result<(), Stop> {
    let (other, _) = ctx.user(1)?;
    let mut c = login(ctx, 0).await?;
    let serial: u64 = syn_lines(&mut c).await?[0].arg(2).parse().unwrap_or(0);
    // Into the allow list first (already there is fine), then across to the block list and back.
    c.send(&format!("ADD 8 AL {other} {other}")).await?;
    let r = c.reply("8").await?;
    want(r.verb() == "ADD" || r.verb() == "215", &format!("ADD 8 AL serial {other} name, or 215 8"), &r)?;
    let serial = if r.verb() == "ADD" { r.arg(3).parse().unwrap_or(serial) } else { serial };
    let s = list_change(&mut c, &format!("REM 9 AL {other}"), serial).await?;
    let s = list_change(&mut c, &format!("ADD 10 BL {other} {other}"), s).await?;
    let s = list_change(&mut c, &format!("REM 11 BL {other}"), s).await?;
    list_change(&mut c, &format!("ADD 12 AL {other} {other}"), s).await.map(|_| ())
}
