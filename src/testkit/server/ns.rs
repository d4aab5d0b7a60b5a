//! The notification server: MD5 or Passport login, SYN with the lists (ADL from MSNP13),
//! presence (CHG, ILN, NLN, FLN), challenges (CHL, QRY), the shields policy (GCF), personal
//! messages (UUX, UBX), the list, group and setting commands (ADD, REM, ADC, REA, ADG, RMG,
//! REG, BLP, GTC, ADL; answered by [`super::lists`]), switchboard referrals (XFR SB), pings, and
//! sign-out, each in the connection's dialect.

use super::{common, cookie, lists, lock, next_command, visible, Ctx, Fault, Online, State, Tx};
use crate::msnp::auth::qry_response;
use crate::testkit::conn::{LineConn, Msg};
use crate::testkit::flavor::Flavor;
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
                let lines =
                    lists::syn_batch(&self.ctx, &*lock(&self.ctx)?, f, self.me.as_deref().unwrap_or(""), &t, m.arg(2));
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
            "ADL" if f.adl() => self.c.send(&lists::adl(m)).await?,
            "BLP" if f.adl() => self.c.send(&format!("BLP {t} {}", m.arg(2))).await?,
            "PRP" if f.adl() => self.c.send(&format!("PRP {t} {} {}", m.arg(2), m.arg(3))).await?,
            "BLP" | "GTC" | "ADD" | "REM" | "ADC" | "ADG" | "RMG" | "REG" => {
                let reply = lists::answer(&self.ctx, self.me.as_deref().unwrap_or(""), m, f);
                self.c.send(&reply.unwrap_or_else(|| format!("200 {t}"))).await?;
            }
            "REA" if f.number() < 10 => self.rea(m).await?,
            "XFR" if m.arg(2) == "SB" => self.xfr_sb(&t).await?,
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
        if want.is_some_and(|w| w == answer) || self.ctx.has(Fault::QryUnchecked) {
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

    /// `REA t handle name`: the reply; a new name of the user's own is told to its watchers.
    async fn rea(&mut self, m: &Msg) -> std::io::Result<()> {
        let me = self.me.clone().unwrap_or_default();
        let (reply, renamed) = lists::rea(&self.ctx, &me, m);
        self.c.send(&reply).await?;
        if let Some(name) = renamed {
            if let Ok(mut st) = self.ctx.state.lock() {
                if let Some(o) = st.online.get_mut(&me) {
                    o.name = name;
                }
                notify_watchers(&st, &me);
            }
        }
        Ok(())
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
