//! The notification server: MD5 or Passport login, SYN with the lists (ADL from MSNP13),
//! presence (CHG, ILN, NLN, FLN), challenges (CHL, QRY), the shields policy (GCF), personal
//! messages (UUX, UBX), list edits (ADD, REM), switchboard referrals (XFR SB), pings, and
//! sign-out, each in the connection's dialect.

use super::{common, cookie, lock, next_command, visible, Ctx, Fault, Online, State, Tx};
use crate::msnp::auth::qry_response;
use crate::testkit::conn::{LineConn, Msg};
use crate::testkit::flavor::{Flavor, Lists};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the loop does after a command.
enum Next {
    Go,
    End,
}

/// One notification connection.
pub(super) struct Notification {
    c: LineConn,
    ctx: Arc<Ctx>,
    /// Where other connections queue lines for this user (presence, invitations).
    tx: Tx,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    /// The user, once USR I named one.
    me: Option<String>,
    challenge: String,
    first_chg: bool,
    /// Logins attempted on this connection (each gets its own challenge).
    logins: u64,
    /// The connection's dialect (VER sets it).
    flavor: Flavor,
    /// The challenge (CHL) not yet answered.
    chl: Option<String>,
}

impl Notification {
    pub(super) fn new(c: LineConn, ctx: Arc<Ctx>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        Notification {
            c,
            ctx,
            tx,
            rx,
            me: None,
            challenge: String::new(),
            first_chg: true,
            logins: 0,
            flavor: Flavor::MSNP2,
            chl: None,
        }
    }

    /// Serves the connection until either side ends it; the user then goes offline.
    pub(super) async fn run(mut self) -> std::io::Result<()> {
        let result = self.serve().await;
        if let Some(h) = self.me.take() {
            if let Ok(mut st) = self.ctx.state.lock() {
                if st.online.get(&h).is_some_and(|o| o.tx.same_channel(&self.tx)) {
                    if let Some(o) = st.online.get_mut(&h) {
                        o.state = "FLN".into();
                    }
                    if !self.ctx.has(Fault::NoFln) {
                        notify_watchers(&st, &h);
                    }
                    st.online.remove(&h);
                }
            }
        }
        let _ = self.c.close().await;
        result
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        while let Some(m) = next_command(&mut self.c, &mut self.rx).await? {
            if let Next::End = self.command(&m).await? {
                break;
            }
        }
        Ok(())
    }

    fn logged_in(&self) -> bool {
        let me = self.me.as_deref().unwrap_or("");
        self.me.is_some() && self.ctx.state.lock().map(|s| s.online.contains_key(me)).unwrap_or(false)
    }

    async fn command(&mut self, m: &Msg) -> std::io::Result<Next> {
        let t = m.arg(1).to_string();
        let f = self.flavor;
        match m.verb() {
            "VER" | "INF" | "CVR" => {
                if !common(&mut self.c, m, &mut self.flavor, &self.ctx).await? {
                    return Ok(Next::End);
                }
            }
            "USR" if m.arg(2) == f.scheme() && m.arg(3) == "I" => {
                self.logins += 1;
                let (line, challenge) = f.challenge(&t, self.logins);
                self.challenge = challenge;
                self.me = Some(m.arg(4).to_string());
                if f.adl() {
                    // MSNP13 servers push the shields policy before the Passport step.
                    self.c.send_payload("GCF 0", f.shields().as_bytes()).await?;
                }
                self.c.send(&line).await?;
            }
            "USR" if m.arg(2) == f.scheme() && m.arg(3) == "S" => return self.login(&t, m.arg(4)).await,
            _ if !self.logged_in() => {
                if m.verb() == "OUT" {
                    return Ok(Next::End);
                }
                self.c.send(&format!("302 {t}")).await?;
            }
            "SYN" if f.syn(0).is_some() => {
                let lines = syn_batch(&self.ctx, &*lock(&self.ctx)?, f, self.me.as_deref().unwrap_or(""), &t, m.arg(2));
                self.c.send_raw(lines.as_bytes()).await?;
            }
            "CHG" => self.chg(&t, m.arg(2)).await?,
            "QRY" => return self.qry(&t, m).await,
            "GCF" if f.gcf_request() => {
                let head = format!("GCF {t} {}", m.arg(2));
                self.c.send_payload(&head, f.shields().as_bytes()).await?;
            }
            "UUX" if f.personal_messages() => {
                self.c.send(&format!("UUX {t} 0")).await?;
                let me = self.me.clone().unwrap_or_default();
                let data = m.payload.clone().unwrap_or_default();
                if let Ok(st) = self.ctx.state.lock() {
                    for_watchers(&st, &me, |o| {
                        if o.flavor.personal_messages() {
                            let mut b = format!("UBX {me} {}\r\n", data.len()).into_bytes();
                            b.extend_from_slice(&data);
                            let _ = o.tx.send(b);
                        }
                    });
                }
            }
            "ADL" if f.adl() => self.c.send(&format!("ADL {t} OK")).await?,
            "BLP" if f.adl() => self.c.send(&format!("BLP {t} {}", m.arg(2))).await?,
            "PRP" if f.adl() => self.c.send(&format!("PRP {t} {} {}", m.arg(2), m.arg(3))).await?,
            "BLP" | "GTC" => {
                let reply = setting(&self.ctx, self.me.as_deref().unwrap_or(""), m);
                self.c.send(&reply).await?
            }
            "XFR" if m.arg(2) == "SB" => self.xfr_sb(&t).await?,
            "ADD" | "REM" => {
                let reply = list_edit(&self.ctx, self.me.as_deref().unwrap_or(""), m);
                self.c.send(&reply).await?;
            }
            "PNG" if self.ctx.has(Fault::DropOnPng) => return Ok(Next::End),
            "PNG" => self.c.send(f.qng()).await?,
            "OUT" => {
                self.c.send("OUT").await?;
                return Ok(Next::End);
            }
            _ => self.c.send(&format!("200 {t}")).await?,
        }
        Ok(Next::Go)
    }

    /// `QRY t product 32` with the answer to the last challenge: `QRY t`, or 540 and the end.
    async fn qry(&mut self, t: &str, m: &Msg) -> std::io::Result<Next> {
        let answer = m.payload.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        let want = self.chl.take().and_then(|c| qry_response(&c, m.arg(2)));
        if want.is_some_and(|w| w == answer) {
            self.c.send(&format!("QRY {t}")).await?;
            Ok(Next::Go)
        } else {
            self.c.send(&format!("540 {t}")).await?;
            Ok(Next::End)
        }
    }

    /// `USR t MD5 S response` or `USR t TWN S ticket`: the user is online, or the login fails
    /// with 911.
    async fn login(&mut self, t: &str, response: &str) -> std::io::Result<Next> {
        let handle = self.me.clone().unwrap_or_default();
        let f = self.flavor;
        let ok = {
            let st = lock(&self.ctx)?;
            st.accounts
                .get(&handle)
                .map(|a| (f.answer(&self.challenge, &a.password) == response, a.name.clone(), a.password.clone()))
        };
        let ok = match ok {
            Some((_, name, password)) if self.ctx.has(Fault::WrongMd5Accepted) => Some((true, name, password)),
            other => other,
        };
        let Some((true, name, password)) = ok else {
            self.c.send(&format!("911 {t}")).await?;
            return Ok(Next::End);
        };
        self.c.send(&f.usr_ok(t, &handle, &name)).await?;
        if f.sbs() {
            self.c.send("SBS 0 null").await?;
        }
        let mut profile = String::new();
        for (k, v) in f.profile("941825442", &handle, &password) {
            profile.push_str(&format!("{k}: {v}\r\n"));
        }
        profile.push_str("\r\n");
        self.c.send_payload("MSG Hotmail Hotmail", profile.as_bytes()).await?;
        if let Ok(mut st) = self.ctx.state.lock() {
            st.online.insert(handle, Online { state: "FLN".into(), name, tx: self.tx.clone(), flavor: f });
        }
        Ok(Next::Go)
    }

    /// `CHG t state`: the new state, and after the first CHG the contacts online (ILN).
    async fn chg(&mut self, t: &str, state: &str) -> std::io::Result<()> {
        let handle = self.me.clone().unwrap_or_default();
        if !["NLN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN", "HDN"].contains(&state) {
            return self.c.send(&format!("201 {t}")).await;
        }
        let f = self.flavor;
        let shown_t = if self.ctx.has(Fault::WrongTrid) {
            t.parse::<u64>().map_or(t.to_string(), |n| n.wrapping_add(1).to_string())
        } else {
            t.to_string()
        };
        let mut out = format!("{}\r\n", f.chg(&shown_t, state));
        if let Ok(mut st) = self.ctx.state.lock() {
            if self.first_chg {
                let fl = st.accounts.get(&handle).map(|a| a.fl.clone()).unwrap_or_default();
                for f in fl {
                    if let Some(o) = st.online.get(&f).filter(|o| visible(&o.state)) {
                        out.push_str(&format!("{}\r\n", self.flavor.iln(t, &o.state, &f, &o.name)));
                    }
                }
            }
            if let Some(o) = st.online.get_mut(&handle) {
                o.state = state.to_string();
            }
            notify_watchers(&st, &handle);
        }
        if self.first_chg {
            if let Some(chl) = f.chl(self.logins) {
                out.push_str(&format!("CHL 0 {chl}\r\n"));
                self.chl = Some(chl);
            }
        }
        self.first_chg = false;
        self.c.send_raw(out.as_bytes()).await
    }

    /// `XFR t SB`: a switchboard and a cookie for it, unless the user is hidden (913).
    async fn xfr_sb(&mut self, t: &str) -> std::io::Result<()> {
        let handle = self.me.clone().unwrap_or_default();
        let reply = match self.ctx.state.lock() {
            Ok(mut st) if st.online.get(&handle).is_some_and(|o| visible(&o.state)) => {
                st.next += 1;
                let k = cookie(st.next);
                st.cookies.insert(k.clone(), (handle.clone(), None));
                self.flavor.xfr_sb(t, &self.ctx.addrs.sb.to_string(), &k)
            }
            _ => format!("913 {t}"),
        };
        self.c.send(&reply).await
    }
}

/// The SYN reply: the serial alone when the client is up to date, else the batch with GTC, BLP
/// and the four lists (FL and AL: the contacts; RL: everyone who lists this user).
fn syn_batch(ctx: &Ctx, st: &State, f: Flavor, handle: &str, t: &str, client_serial: &str) -> String {
    let Some(a) = st.accounts.get(handle) else { return format!("SYN {t} 0\r\n") };
    let serial = 1 + a.fl.len() as u64;
    if client_serial == serial.to_string() && !ctx.has(Fault::ListsOnCurrentSerial) {
        return format!("SYN {t} {serial}\r\n");
    }
    let name_of = |h: &str| st.accounts.get(h).map_or_else(|| h.to_string(), |a| a.name.clone());
    let mut rl: Vec<String> =
        st.accounts.values().filter(|o| o.fl.iter().any(|f| f == handle)).map(|o| o.handle.clone()).collect();
    rl.sort();
    let fl: Vec<(String, String)> = a.fl.iter().map(|h| (h.clone(), name_of(h))).collect();
    let rl: Vec<(String, String)> = rl.iter().map(|h| (h.clone(), name_of(h))).collect();
    let lists = Lists { fl: pairs(&fl), al: pairs(&fl), bl: Vec::new(), rl: pairs(&rl) };
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

/// Borrowed pairs of owned (handle, name) pairs.
fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(h, n)| (h.as_str(), n.as_str())).collect()
}

/// Calls `each` with every online user who watches `handle` (lists it in FL).
fn for_watchers(st: &State, handle: &str, mut each: impl FnMut(&Online)) {
    for (h, o) in &st.online {
        if h != handle && st.accounts.get(h).is_some_and(|a| a.fl.iter().any(|f| f == handle)) {
            each(o);
        }
    }
}

/// Tells everyone who watches `handle` its state (NLN, or FLN when offline or hidden), each in
/// the dialect of its own connection.
fn notify_watchers(st: &State, handle: &str) {
    let Some(me) = st.online.get(handle) else { return };
    for_watchers(st, handle, |o| {
        let line = if visible(&me.state) {
            format!("{}\r\n", o.flavor.nln(&me.state, handle, &me.name))
        } else {
            format!("FLN {handle}\r\n")
        };
        let _ = o.tx.send(line.into_bytes());
    });
}

/// `BLP` (AL or BL) or `GTC` (A or N) of the MSNP2 family, echoed with the list serial, or 201
/// for a value that is neither.
fn setting(ctx: &Ctx, me: &str, m: &Msg) -> String {
    let (t, value) = (m.arg(1), m.arg(2));
    let valid = if m.verb() == "BLP" { ["AL", "BL"].contains(&value) } else { ["A", "N"].contains(&value) };
    if !valid {
        return format!("201 {t}");
    }
    let serial = ctx.state.lock().ok().and_then(|st| st.accounts.get(me).map(|a| 1 + a.fl.len())).unwrap_or(1);
    format!("{} {t} {serial} {value}", m.verb())
}

/// `ADD` or `REM` on a list, with the draft's errors (201, 215, 216).
fn list_edit(ctx: &Ctx, me: &str, m: &Msg) -> String {
    let (t, list, who) = (m.arg(1), m.arg(2), m.arg(3));
    let Ok(mut st) = ctx.state.lock() else { return format!("500 {t}") };
    if !["FL", "AL", "BL"].contains(&list) || !who.contains('@') {
        return format!("201 {t}");
    }
    let Some(a) = st.accounts.get_mut(me) else { return format!("500 {t}") };
    let present = a.fl.iter().any(|f| f == who);
    let serial = 1 + a.fl.len();
    match (m.verb(), list, present) {
        ("ADD", "FL", false) => {
            a.fl.push(who.to_string());
            format!("ADD {t} FL {} {who} {}", serial + 1, m.arg(4))
        }
        ("REM", "FL", true) => {
            a.fl.retain(|f| f != who);
            format!("REM {t} FL {} {who}", serial - 1)
        }
        ("ADD", _, true) => format!("215 {t}"),
        ("REM", _, false) => format!("216 {t}"),
        ("ADD", _, false) => format!("ADD {t} {list} {serial} {who} {}", m.arg(4)),
        _ => format!("REM {t} {list} {serial} {who}"),
    }
}
