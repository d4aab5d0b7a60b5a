//! The notification server: MD5 login, SYN with the lists, presence (CHG, ILN, NLN, FLN),
//! list edits (ADD, REM), switchboard referrals (XFR SB), pings, and sign-out.

use super::{common, cookie, lock, next_command, visible, Ctx, Online, State, Tx};
use crate::msnp::auth::md5_response;
use crate::testkit::conn::{LineConn, Msg};
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
}

impl Notification {
    pub(super) fn new(c: LineConn, ctx: Arc<Ctx>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        Notification { c, ctx, tx, rx, me: None, challenge: String::new(), first_chg: true, logins: 0 }
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
                    notify_watchers(&st, &h);
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
        match m.verb() {
            "VER" | "INF" => {
                if !common(&mut self.c, m).await? {
                    return Ok(Next::End);
                }
            }
            "USR" if m.arg(2) == "MD5" && m.arg(3) == "I" => {
                self.logins += 1;
                let n = self.logins;
                self.challenge = format!("{}.{}", 1_234_567_890 + n, 123_456_789 + n * 31);
                self.me = Some(m.arg(4).to_string());
                self.c.send(&format!("USR {t} MD5 S {}", self.challenge)).await?;
            }
            "USR" if m.arg(2) == "MD5" && m.arg(3) == "S" => return self.login(&t, m.arg(4)).await,
            _ if !self.logged_in() => {
                if m.verb() == "OUT" {
                    return Ok(Next::End);
                }
                self.c.send(&format!("302 {t}")).await?;
            }
            "SYN" => {
                let lines = syn_batch(&*lock(&self.ctx)?, self.me.as_deref().unwrap_or(""), &t, m.arg(2));
                self.c.send_raw(lines.as_bytes()).await?;
            }
            "CHG" => self.chg(&t, m.arg(2)).await?,
            "XFR" if m.arg(2) == "SB" => self.xfr_sb(&t).await?,
            "ADD" | "REM" => {
                let reply = list_edit(&self.ctx, self.me.as_deref().unwrap_or(""), m);
                self.c.send(&reply).await?;
            }
            "PNG" => self.c.send("QNG").await?,
            "OUT" => {
                self.c.send("OUT").await?;
                return Ok(Next::End);
            }
            _ => self.c.send(&format!("200 {t}")).await?,
        }
        Ok(Next::Go)
    }

    /// `USR t MD5 S response`: the user is online, or the login fails with 911.
    async fn login(&mut self, t: &str, response: &str) -> std::io::Result<Next> {
        let handle = self.me.clone().unwrap_or_default();
        let ok = {
            let st = lock(&self.ctx)?;
            st.accounts.get(&handle).map(|a| (md5_response(&self.challenge, &a.password) == response, a.name.clone()))
        };
        let Some((true, name)) = ok else {
            self.c.send(&format!("911 {t}")).await?;
            return Ok(Next::End);
        };
        self.c.send(&format!("USR {t} OK {handle} {name}")).await?;
        let profile =
            "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 941825442\r\n\r\n";
        self.c.send_payload("MSG Hotmail Hotmail", profile.as_bytes()).await?;
        if let Ok(mut st) = self.ctx.state.lock() {
            st.online.insert(handle, Online { state: "FLN".into(), name, tx: self.tx.clone() });
        }
        Ok(Next::Go)
    }

    /// `CHG t state`: the new state, and after the first CHG the contacts online (ILN).
    async fn chg(&mut self, t: &str, state: &str) -> std::io::Result<()> {
        let handle = self.me.clone().unwrap_or_default();
        if !["NLN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN", "HDN"].contains(&state) {
            return self.c.send(&format!("201 {t}")).await;
        }
        let mut out = format!("CHG {t} {state}\r\n");
        if let Ok(mut st) = self.ctx.state.lock() {
            if self.first_chg {
                let fl = st.accounts.get(&handle).map(|a| a.fl.clone()).unwrap_or_default();
                for f in fl {
                    if let Some(o) = st.online.get(&f).filter(|o| visible(&o.state)) {
                        out.push_str(&format!("ILN {t} {} {f} {}\r\n", o.state, o.name));
                    }
                }
            }
            if let Some(o) = st.online.get_mut(&handle) {
                o.state = state.to_string();
            }
            notify_watchers(&st, &handle);
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
                format!("XFR {t} SB {} CKI {k}", self.ctx.addrs.sb)
            }
            _ => format!("913 {t}"),
        };
        self.c.send(&reply).await
    }
}

/// The SYN reply: the serial alone when the client is up to date, else GTC, BLP and the four
/// lists.
fn syn_batch(st: &State, handle: &str, t: &str, client_serial: &str) -> String {
    let Some(a) = st.accounts.get(handle) else { return format!("SYN {t} 0\r\n") };
    let serial = 1 + a.fl.len();
    if client_serial == serial.to_string() {
        return format!("SYN {t} {serial}\r\n");
    }
    let name_of = |h: &str| st.accounts.get(h).map_or_else(|| h.to_string(), |a| a.name.clone());
    // Everyone who lists this user is on its reverse list.
    let mut rl: Vec<String> =
        st.accounts.values().filter(|o| o.fl.iter().any(|f| f == handle)).map(|o| o.handle.clone()).collect();
    rl.sort();
    let mut out = format!("SYN {t} {serial}\r\nGTC {t} {serial} A\r\nBLP {t} {serial} AL\r\n");
    for (list, members) in [("FL", &a.fl), ("AL", &a.fl), ("BL", &Vec::new()), ("RL", &rl)] {
        if members.is_empty() {
            out.push_str(&format!("LST {t} {list} {serial} 0 0\r\n"));
        }
        for (i, h) in members.iter().enumerate() {
            out.push_str(&format!("LST {t} {list} {serial} {} {} {h} {}\r\n", i + 1, members.len(), name_of(h)));
        }
    }
    out
}

/// Tells everyone who watches `handle` its state (NLN, or FLN when offline or hidden).
fn notify_watchers(st: &State, handle: &str) {
    let Some(me) = st.online.get(handle) else { return };
    let line = if visible(&me.state) {
        format!("NLN {} {handle} {}\r\n", me.state, me.name)
    } else {
        format!("FLN {handle}\r\n")
    };
    for (h, o) in &st.online {
        if h != handle && st.accounts.get(h).is_some_and(|a| a.fl.iter().any(|f| f == handle)) {
            let _ = o.tx.send(line.clone().into_bytes());
        }
    }
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
