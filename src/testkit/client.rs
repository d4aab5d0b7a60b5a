//! Scripted clients of the testkit's dialects: log in through the dispatch server, synchronise,
//! go online, answer the challenge, open a switchboard and call someone, answer a call, chat,
//! sign out, as the clients of each era did (`msnp2-facts.md` §5 for MSNP2, [`Flavor`] for the
//! lines of the others). Every step checks the server's answer, so a test fails where the
//! conversation goes wrong.

use super::conn::{LineConn, Logs, Msg};
use super::flavor::Flavor;
use std::io::{Error, ErrorKind, Result};

fn bad(what: &str, m: &Msg) -> Error {
    Error::new(ErrorKind::InvalidData, format!("expected {what}, got {:?}", m.tokens.join(" ")))
}

/// A client logged in at a notification server.
pub struct Ns {
    /// The connection.
    pub conn: LineConn,
    /// The user's handle.
    pub handle: String,
    trid: u32,
    flavor: Flavor,
}

impl Ns {
    fn next(&mut self) -> u32 {
        self.trid += 1;
        self.trid
    }

    /// Asks for a switchboard: returns its address and cookie.
    pub async fn request_switchboard(&mut self) -> Result<(String, String)> {
        let t = self.next();
        self.conn.send(&format!("XFR {t} SB")).await?;
        let m = self.conn.expect("XFR").await?;
        if m.arg(2) != "SB" || m.arg(4) != "CKI" {
            return Err(bad("XFR SB", &m));
        }
        Ok((m.arg(3).to_string(), m.arg(5).to_string()))
    }

    /// Waits for an invitation: (session id, address, cookie, caller).
    pub async fn wait_ring(&mut self) -> Result<(String, String, String, String)> {
        let m = self.conn.expect("RNG").await?;
        Ok((m.arg(1).to_string(), m.arg(2).to_string(), m.arg(4).to_string(), m.arg(5).to_string()))
    }

    /// The dialect the client logged in with.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Keep-alive.
    pub async fn ping(&mut self) -> Result<()> {
        self.conn.send("PNG").await?;
        self.conn.expect("QNG").await.map(|_| ())
    }

    /// Signs out: OUT, the server's OUT, close.
    pub async fn sign_out(mut self) -> Result<()> {
        self.conn.send("OUT").await?;
        let _ = self.conn.expect("OUT").await;
        self.conn.close().await
    }
}

/// VER with the dialect's list, then INF (up to MSNP7) or CVR (MSNP8+); TrIDs from `t`.
async fn greet(c: &mut LineConn, f: Flavor, handle: &str, t: &mut u32) -> Result<()> {
    *t += 1;
    c.send(&format!("VER {t} {}", f.offer())).await?;
    let m = c.expect("VER").await?;
    if m.arg(2) != f.name() {
        return Err(bad(&format!("VER {t} {}", f.name()), &m));
    }
    *t += 1;
    if f.passport() {
        c.send(&f.cvr(*t, handle)).await?;
        c.expect("CVR").await?;
    } else {
        c.send(&format!("INF {t}")).await?;
        c.expect("INF").await?;
    }
    Ok(())
}

/// Who logs in, and how.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// The handle.
    pub handle: &'a str,
    /// The password.
    pub password: &'a str,
    /// The dialect.
    pub flavor: Flavor,
    /// The contacts the client lists with ADL (MSNP13+, where lists come from elsewhere).
    pub contacts: &'a [&'a str],
}

/// Logs in with MSNP2 (see [`login_as`]).
pub async fn login(ds: &str, handle: &str, password: &str, logs: Option<&Logs>) -> Result<Ns> {
    login_as(ds, &Login { handle, password, flavor: Flavor::MSNP2, contacts: &[] }, logs).await
}

/// Logs in in the dialect of `who`: dispatch (VER, INF or CVR, USR I, XFR NS), then the notification
/// server it names (VER, INF or CVR, USR I, USR S with the MD5 response or the testkit's
/// Passport ticket, USR OK, profile), SYN (MSNP13: BLP, ADL, PRP), GCF (MSNP11), CHG NLN, the
/// challenge (MSNP7+: CHL answered by QRY) and a personal message (MSNP11+: UUX).
pub async fn login_as(ds: &str, who: &Login<'_>, logs: Option<&Logs>) -> Result<Ns> {
    let (handle, password, f) = (who.handle, who.password, who.flavor);
    let mut t = 0;
    let mut d = LineConn::connect(ds, logs).await?;
    greet(&mut d, f, handle, &mut t).await?;
    t += 1;
    d.send(&format!("USR {t} {} I {handle}", f.scheme())).await?;
    let m = d.expect("XFR").await?;
    if m.arg(2) != "NS" {
        return Err(bad("XFR NS", &m));
    }
    let ns_addr = m.arg(3).to_string();
    d.close().await?;

    let mut c = LineConn::connect(&ns_addr, logs).await?;
    greet(&mut c, f, handle, &mut t).await?;
    t += 1;
    c.send(&format!("USR {t} {} I {handle}", f.scheme())).await?;
    let m = c.expect("USR").await?;
    if m.arg(2) != f.scheme() || m.arg(3) != "S" {
        return Err(bad(&format!("USR {} S", f.scheme()), &m));
    }
    t += 1;
    c.send(&format!("USR {t} {} S {}", f.scheme(), f.answer(m.arg(4), password))).await?;
    let m = c.recv().await?.ok_or_else(|| Error::new(ErrorKind::UnexpectedEof, "closed during login"))?;
    if m.verb() != "USR" || m.arg(2) != "OK" {
        return Err(bad("USR OK", &m));
    }
    c.expect("MSG").await?;
    t += 1;
    if let Some(syn) = f.syn(t) {
        c.send(&syn).await?;
        c.expect("SYN").await?;
    } else {
        c.send(&format!("BLP {t} AL")).await?;
        c.expect("BLP").await?;
        t += 1;
        let contacts: Vec<(&str, &str)> = who.contacts.iter().map(|h| (*h, "")).collect();
        c.send_payload(&format!("ADL {t}"), Flavor::ml(&contacts).as_bytes()).await?;
        c.expect("ADL").await?;
        t += 1;
        c.send(&format!("PRP {t} MFN {}", handle.split('@').next().unwrap_or(handle))).await?;
        c.expect("PRP").await?;
    }
    if f.gcf_request() {
        t += 1;
        c.send(&format!("GCF {t} Shields.xml")).await?;
        c.expect("GCF").await?;
    }
    t += 1;
    c.send(&f.chg(&t.to_string(), "NLN")).await?;
    c.expect("CHG").await?;
    if f.product().is_some() {
        let chl = c.expect("CHL").await?;
        t += 1;
        if let Some((head, body)) = f.qry(t, chl.arg(2)) {
            c.send_payload(&head, &body).await?;
            c.expect("QRY").await?;
        }
    }
    if f.personal_messages() {
        t += 1;
        c.send_payload(&format!("UUX {t}"), f.psm("testing msntap").as_bytes()).await?;
        c.expect("UUX").await?;
    }
    Ok(Ns { conn: c, handle: handle.to_string(), trid: t, flavor: f })
}

/// A client in a switchboard session.
pub struct Sb {
    /// The connection.
    pub conn: LineConn,
    trid: u32,
}

impl Sb {
    /// Joins as the caller (USR with the XFR cookie) and calls `callee` (CAL, RINGING).
    pub async fn call(addr: &str, handle: &str, cookie: &str, callee: &str, logs: Option<&Logs>) -> Result<Sb> {
        let mut c = LineConn::connect(addr, logs).await?;
        c.send(&format!("USR 1 {handle} {cookie}")).await?;
        let m = c.expect("USR").await?;
        if m.arg(2) != "OK" {
            return Err(bad("USR OK", &m));
        }
        c.send(&format!("CAL 2 {callee}")).await?;
        let m = c.recv().await?.ok_or_else(|| Error::new(ErrorKind::UnexpectedEof, "closed after CAL"))?;
        if m.verb() != "CAL" || m.arg(2) != "RINGING" {
            return Err(bad("CAL RINGING", &m));
        }
        Ok(Sb { conn: c, trid: 2 })
    }

    /// Joins as the callee (ANS with the RNG cookie and session id), reading the roster.
    pub async fn answer(addr: &str, handle: &str, cookie: &str, session: &str, logs: Option<&Logs>) -> Result<Sb> {
        let mut c = LineConn::connect(addr, logs).await?;
        c.send(&format!("ANS 1 {handle} {cookie} {session}")).await?;
        loop {
            let m = c.recv().await?.ok_or_else(|| Error::new(ErrorKind::UnexpectedEof, "closed after ANS"))?;
            match (m.verb(), m.arg(2)) {
                ("IRO", _) => continue,
                ("ANS", "OK") => break,
                _ => return Err(bad("IRO or ANS OK", &m)),
            }
        }
        Ok(Sb { conn: c, trid: 1 })
    }

    /// Waits until someone joins.
    pub async fn wait_join(&mut self) -> Result<String> {
        Ok(self.conn.expect("JOI").await?.arg(1).to_string())
    }

    /// Sends a text message with ack mode `mode` (`U`, `N` or `A`); with `A`, waits for the ACK.
    pub async fn say(&mut self, mode: char, text: &str) -> Result<()> {
        self.trid += 1;
        let payload = format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}");
        self.conn.send_payload(&format!("MSG {} {mode}", self.trid), payload.as_bytes()).await?;
        if mode == 'A' {
            let m = self.conn.recv().await?.ok_or_else(|| Error::new(ErrorKind::UnexpectedEof, "closed after MSG"))?;
            if m.verb() != "ACK" {
                return Err(bad("ACK", &m));
            }
        }
        Ok(())
    }

    /// Waits for a message; returns (sender, text body).
    pub async fn hear(&mut self) -> Result<(String, String)> {
        let m = self.conn.expect("MSG").await?;
        let p = m.payload.clone().unwrap_or_default();
        let body = crate::msnp::payload::parse(&p).body.to_vec();
        Ok((m.arg(1).to_string(), String::from_utf8_lossy(&body).into_owned()))
    }

    /// Waits for `BYE`.
    pub async fn wait_bye(&mut self) -> Result<String> {
        Ok(self.conn.expect("BYE").await?.arg(1).to_string())
    }

    /// Leaves: OUT, then waits for the switchboard to close.
    pub async fn leave(mut self) -> Result<()> {
        self.conn.send("OUT").await?;
        self.conn.close().await
    }
}

/// One whole conversation between two users who are both online at `ds`: `a` calls `b`,
/// they exchange `rounds` messages each way, `b` leaves, then `a`. Returns what each heard.
pub async fn chat(a: &mut Ns, b: &mut Ns, rounds: usize, logs: Option<&Logs>) -> Result<(Vec<String>, Vec<String>)> {
    let (sb, k) = a.request_switchboard().await?;
    let mut asb = Sb::call(&sb, &a.handle, &k, &b.handle, logs).await?;
    let (sid, addr, k2, _caller) = b.wait_ring().await?;
    let mut bsb = Sb::answer(&addr, &b.handle, &k2, &sid, logs).await?;
    asb.wait_join().await?;
    let (mut heard_a, mut heard_b) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        asb.say('N', &format!("hello {i} from {}", a.handle)).await?;
        heard_b.push(bsb.hear().await?.1);
        bsb.say('A', &format!("reply {i} from {}", b.handle)).await?;
        heard_a.push(asb.hear().await?.1);
    }
    bsb.leave().await?;
    asb.wait_bye().await?;
    asb.leave().await?;
    Ok((heard_a, heard_b))
}
