//! A small but faithful MSNP2 server: a dispatch, a notification and a switchboard listener on
//! separate ports, accounts with passwords, MD5 login, SYN with lists, presence (CHG, ILN,
//! NLN, FLN), switchboard referrals (XFR SB) and invitations (RNG), CAL/ANS/IRO/JOI/BYE, MSG
//! with ACK/NAK, and the errors the specification gives. Used by the tests, the benchmarks,
//! `msntap serve` and `msntap demo`.

use super::conn::{LineConn, Logs, Msg};
use crate::msnp::auth::md5_response;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An account of the server.
#[derive(Debug, Clone)]
pub struct Account {
    /// Handle (`alice@hotmail.com`).
    pub handle: String,
    /// Password.
    pub password: String,
    /// Friendly name, URL-encoded.
    pub name: String,
    /// Forward list (contacts watched).
    pub fl: Vec<String>,
}

impl Account {
    /// Parses `handle:password[:name]`.
    pub fn parse(spec: &str) -> Option<Account> {
        let mut it = spec.splitn(3, ':');
        let handle = it.next()?.to_string();
        let password = it.next()?.to_string();
        let name = it.next().map(str::to_string).unwrap_or_else(|| handle.split('@').next().unwrap_or("").to_string());
        (!handle.is_empty() && handle.contains('@')).then(|| Account {
            handle,
            password,
            name: name.replace(' ', "%20"),
            fl: Vec::new(),
        })
    }
}

/// Makes every account a contact of every other (so presence and calls work at once).
pub fn befriend(accounts: &mut [Account]) {
    let all: Vec<String> = accounts.iter().map(|a| a.handle.clone()).collect();
    for a in accounts.iter_mut() {
        a.fl = all.iter().filter(|h| **h != a.handle).cloned().collect();
    }
}

type Tx = mpsc::UnboundedSender<Vec<u8>>;

/// A message body ending in this makes the testkit switchboard reset the connection.
pub const HANGUP: &[u8] = b"HANGUP-NOW";

struct Online {
    state: String,
    name: String,
    tx: Tx,
}

struct Session {
    /// handle → (name, sender to that participant's switchboard connection)
    members: BTreeMap<String, (String, Tx)>,
    /// callee handle → cookie of its invitation
    invited: HashMap<String, String>,
}

struct State {
    accounts: HashMap<String, Account>,
    online: HashMap<String, Online>,
    sessions: HashMap<u64, Session>,
    /// cookie → (handle, session it opens, if an invitation)
    cookies: HashMap<String, (String, Option<u64>)>,
    next: u64,
}

/// Addresses of a running server.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    /// Dispatch server.
    pub ds: SocketAddr,
    /// Notification server.
    pub ns: SocketAddr,
    /// Switchboard.
    pub sb: SocketAddr,
}

struct Ctx {
    state: Mutex<State>,
    addrs: Addrs,
    logs: Option<Logs>,
}

/// Starts a server with the three listeners (port 0 picks free ports). Runs until the runtime
/// ends; `logs` records every connection's bytes.
pub async fn start(
    ds: SocketAddr,
    ns: SocketAddr,
    sb: SocketAddr,
    accounts: Vec<Account>,
    logs: Option<Logs>,
) -> std::io::Result<Addrs> {
    let (dl, nl, sl) = (TcpListener::bind(ds).await?, TcpListener::bind(ns).await?, TcpListener::bind(sb).await?);
    let addrs = Addrs { ds: dl.local_addr()?, ns: nl.local_addr()?, sb: sl.local_addr()? };
    let state = State {
        accounts: accounts.into_iter().map(|a| (a.handle.clone(), a)).collect(),
        online: HashMap::new(),
        sessions: HashMap::new(),
        cookies: HashMap::new(),
        next: 1,
    };
    let ctx = Arc::new(Ctx { state: Mutex::new(state), addrs, logs });
    for (l, role) in [(dl, 0u8), (nl, 1), (sl, 2)] {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let c = LineConn::new(s, ctx.logs.as_ref());
                    let _ = match role {
                        0 => dispatch(c, &ctx).await,
                        1 => notification(c, ctx.clone()).await,
                        _ => switchboard(c, ctx.clone()).await,
                    };
                });
            }
        });
    }
    Ok(addrs)
}

/// The client's next command, meanwhile passing on what other connections queued for this one
/// (presence, invitations, messages). `None` when the client closed.
async fn next_command(c: &mut LineConn, rx: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> std::io::Result<Option<Msg>> {
    loop {
        tokio::select! {
            m = c.recv() => return m,
            out = rx.recv() => {
                if let Some(bytes) = out {
                    c.send_raw(&bytes).await?;
                }
            }
        }
    }
}

fn cookie(n: u64) -> String {
    format!("{}.{}.{}", 17_262_740 + n * 7919, 1_050_826_919u64.wrapping_add(n * 104_729), 32_308 + n)
}

/// VER and INF, shared by DS and NS; returns false when the connection should end.
async fn common(c: &mut LineConn, m: &Msg) -> std::io::Result<bool> {
    let t = m.arg(1);
    match m.verb() {
        "VER" => {
            if m.tokens[2..].iter().any(|d| d.eq_ignore_ascii_case("MSNP2")) {
                c.send(&format!("VER {t} MSNP2")).await?;
            } else {
                c.send(&format!("VER {t} 0")).await?;
                return Ok(false);
            }
        }
        "INF" => c.send(&format!("INF {t} MD5")).await?,
        _ => {}
    }
    Ok(true)
}

async fn dispatch(mut c: LineConn, ctx: &Ctx) -> std::io::Result<()> {
    while let Some(m) = c.recv().await? {
        match m.verb() {
            "VER" | "INF" => {
                if !common(&mut c, &m).await? {
                    break;
                }
            }
            "USR" if m.arg(2) == "MD5" && m.arg(3) == "I" => {
                c.send(&format!("XFR {} NS {}", m.arg(1), ctx.addrs.ns)).await?;
                break;
            }
            "OUT" => break,
            _ => {
                c.send(&format!("200 {}", m.arg(1))).await?;
                break;
            }
        }
    }
    c.close().await
}

async fn notification(mut c: LineConn, ctx: Arc<Ctx>) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut me: Option<String> = None;
    let mut challenge = String::new();
    let mut first_chg = true;
    let mut n = 0u64;
    let result: std::io::Result<()> = async {
        loop {
            let Some(m) = next_command(&mut c, &mut rx).await? else { break };
            let t = m.arg(1).to_string();
            match m.verb() {
                "VER" | "INF" => {
                    if !common(&mut c, &m).await? {
                        break;
                    }
                }
                "USR" if m.arg(2) == "MD5" && m.arg(3) == "I" => {
                    n += 1;
                    challenge = format!("{}.{}", 1_234_567_890 + n, 123_456_789 + n * 31);
                    me = Some(m.arg(4).to_string());
                    c.send(&format!("USR {t} MD5 S {challenge}")).await?;
                }
                "USR" if m.arg(2) == "MD5" && m.arg(3) == "S" => {
                    let handle = me.clone().unwrap_or_default();
                    let ok = {
                        let st = ctx.state.lock().map_err(|_| std::io::Error::other("poisoned"))?;
                        st.accounts.get(&handle).map(|a| (md5_response(&challenge, &a.password) == m.arg(4), a.name.clone()))
                    };
                    match ok {
                        Some((true, name)) => {
                            c.send(&format!("USR {t} OK {handle} {name}")).await?;
                            let profile = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 941825442\r\n\r\n";
                            c.send_payload("MSG Hotmail Hotmail", profile.as_bytes()).await?;
                            if let Ok(mut st) = ctx.state.lock() {
                                st.online.insert(handle.clone(), Online { state: "FLN".into(), name, tx: tx.clone() });
                            }
                        }
                        _ => {
                            c.send(&format!("911 {t}")).await?;
                            break;
                        }
                    }
                }
                _ if me.is_none() || !ctx.state.lock().map(|s| s.online.contains_key(me.as_deref().unwrap_or(""))).unwrap_or(false) => {
                    if m.verb() == "OUT" {
                        break;
                    }
                    c.send(&format!("302 {t}")).await?;
                }
                "SYN" => {
                    let handle = me.clone().unwrap_or_default();
                    let lines = {
                        let st = ctx.state.lock().map_err(|_| std::io::Error::other("poisoned"))?;
                        syn_batch(&st, &handle, &t, m.arg(2))
                    };
                    c.send_raw(lines.as_bytes()).await?;
                }
                "CHG" => {
                    let handle = me.clone().unwrap_or_default();
                    let state = m.arg(2).to_string();
                    if !["NLN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN", "HDN"].contains(&state.as_str()) {
                        c.send(&format!("201 {t}")).await?;
                        continue;
                    }
                    let mut out = format!("CHG {t} {state}\r\n");
                    if let Ok(mut st) = ctx.state.lock() {
                        if first_chg {
                            let fl = st.accounts.get(&handle).map(|a| a.fl.clone()).unwrap_or_default();
                            for f in fl {
                                if let Some(o) = st.online.get(&f).filter(|o| o.state != "FLN" && o.state != "HDN") {
                                    out.push_str(&format!("ILN {t} {} {f} {}\r\n", o.state, o.name));
                                }
                            }
                        }
                        if let Some(o) = st.online.get_mut(&handle) {
                            o.state = state.clone();
                        }
                        notify_watchers(&st, &handle);
                    }
                    first_chg = false;
                    c.send_raw(out.as_bytes()).await?;
                }
                "XFR" if m.arg(2) == "SB" => {
                    let handle = me.clone().unwrap_or_default();
                    let reply = match ctx.state.lock() {
                        Ok(mut st) if st.online.get(&handle).is_some_and(|o| o.state != "HDN" && o.state != "FLN") => {
                            st.next += 1;
                            let k = cookie(st.next);
                            st.cookies.insert(k.clone(), (handle.clone(), None));
                            format!("XFR {t} SB {} CKI {k}", ctx.addrs.sb)
                        }
                        _ => format!("913 {t}"),
                    };
                    c.send(&reply).await?;
                }
                "ADD" | "REM" => {
                    let reply = list_edit(&ctx, me.as_deref().unwrap_or(""), &m);
                    c.send(&reply).await?;
                }
                "PNG" => c.send("QNG").await?,
                "OUT" => {
                    c.send("OUT").await?;
                    break;
                }
                _ => {
                    c.send(&format!("200 {t}")).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Some(h) = me {
        if let Ok(mut st) = ctx.state.lock() {
            if st.online.get(&h).is_some_and(|o| o.tx.same_channel(&tx)) {
                if let Some(o) = st.online.get_mut(&h) {
                    o.state = "FLN".into();
                }
                notify_watchers(&st, &h);
                st.online.remove(&h);
            }
        }
    }
    let _ = c.close().await;
    result
}

fn syn_batch(st: &State, handle: &str, t: &str, client_serial: &str) -> String {
    let Some(a) = st.accounts.get(handle) else { return format!("SYN {t} 0\r\n") };
    let serial = 1 + a.fl.len();
    if client_serial == serial.to_string() {
        return format!("SYN {t} {serial}\r\n");
    }
    let name_of = |h: &str| st.accounts.get(h).map_or_else(|| h.to_string(), |a| a.name.clone());
    // Everyone who lists this user is on its reverse list.
    let rl: Vec<String> =
        st.accounts.values().filter(|o| o.fl.iter().any(|f| f == handle)).map(|o| o.handle.clone()).collect();
    let mut rl = rl;
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

fn notify_watchers(st: &State, handle: &str) {
    let Some(me) = st.online.get(handle) else { return };
    let line = if me.state == "FLN" || me.state == "HDN" {
        format!("FLN {handle}\r\n")
    } else {
        format!("NLN {} {handle} {}\r\n", me.state, me.name)
    };
    for (h, o) in &st.online {
        if h != handle && st.accounts.get(h).is_some_and(|a| a.fl.iter().any(|f| f == handle)) {
            let _ = o.tx.send(line.clone().into_bytes());
        }
    }
}

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

async fn switchboard(mut c: LineConn, ctx: Arc<Ctx>) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut me: Option<(String, String, u64)> = None; // handle, name, session
    let result: std::io::Result<()> = async {
        loop {
            let Some(m) = next_command(&mut c, &mut rx).await? else { break };
            let t = m.arg(1).to_string();
            match (m.verb(), &me) {
                ("USR", None) => {
                    let (handle, k) = (m.arg(2).to_string(), m.arg(3).to_string());
                    let joined = {
                        let mut st = ctx.state.lock().map_err(|_| std::io::Error::other("poisoned"))?;
                        match st.cookies.get(&k).cloned() {
                            Some((h, None)) if h == handle => {
                                st.cookies.remove(&k);
                                st.next += 1;
                                let sid = 11_752_013 + st.next;
                                let name = st.accounts.get(&h).map(|a| a.name.clone()).unwrap_or_default();
                                let mut members = BTreeMap::new();
                                members.insert(h.clone(), (name.clone(), tx.clone()));
                                st.sessions.insert(sid, Session { members, invited: HashMap::new() });
                                Some((h, name, sid))
                            }
                            _ => None,
                        }
                    };
                    match joined {
                        Some((h, name, sid)) => {
                            c.send(&format!("USR {t} OK {h} {name}")).await?;
                            me = Some((h, name, sid));
                        }
                        None => {
                            c.send(&format!("911 {t}")).await?;
                            break;
                        }
                    }
                }
                ("ANS", None) => {
                    let (handle, k, sid) =
                        (m.arg(2).to_string(), m.arg(3).to_string(), m.arg(4).parse::<u64>().unwrap_or(0));
                    let roster = {
                        let mut st = ctx.state.lock().map_err(|_| std::io::Error::other("poisoned"))?;
                        let valid = st.cookies.get(&k).is_some_and(|(h, s)| *h == handle && *s == Some(sid));
                        let name = st.accounts.get(&handle).map(|a| a.name.clone()).unwrap_or_default();
                        match st.sessions.get_mut(&sid).filter(|_| valid) {
                            Some(sess) => {
                                let roster: Vec<(String, String)> =
                                    sess.members.iter().map(|(h, (n, _))| (h.clone(), n.clone())).collect();
                                for (_, (_, otx)) in sess.members.iter() {
                                    let _ = otx.send(format!("JOI {handle} {name}\r\n").into_bytes());
                                }
                                sess.members.insert(handle.clone(), (name.clone(), tx.clone()));
                                sess.invited.remove(&handle);
                                st.cookies.remove(&k);
                                Some((roster, name))
                            }
                            None => None,
                        }
                    };
                    match roster {
                        Some((roster, name)) => {
                            let mut out = String::new();
                            for (i, (h, n)) in roster.iter().enumerate() {
                                out.push_str(&format!("IRO {t} {} {} {h} {n}\r\n", i + 1, roster.len()));
                            }
                            out.push_str(&format!("ANS {t} OK\r\n"));
                            c.send_raw(out.as_bytes()).await?;
                            me = Some((handle, name, sid));
                        }
                        None => {
                            c.send(&format!("911 {t}")).await?;
                            break;
                        }
                    }
                }
                (_, None) => {
                    c.send(&format!("302 {t}")).await?;
                    break;
                }
                ("CAL", Some((h, name, sid))) => {
                    let callee = m.arg(2).to_string();
                    let reply = {
                        let mut st = ctx.state.lock().map_err(|_| std::io::Error::other("poisoned"))?;
                        st.next += 1;
                        let k = cookie(st.next);
                        let in_session = st.sessions.get(sid).is_some_and(|s| s.members.contains_key(&callee));
                        let target = st
                            .online
                            .get(&callee)
                            .filter(|o| o.state != "HDN" && o.state != "FLN")
                            .map(|o| o.tx.clone());
                        match (in_session, target) {
                            (true, _) => format!("215 {t}"),
                            (false, None) => format!("217 {t}"),
                            (false, Some(ntx)) => {
                                st.cookies.insert(k.clone(), (callee.clone(), Some(*sid)));
                                if let Some(s) = st.sessions.get_mut(sid) {
                                    s.invited.insert(callee.clone(), k.clone());
                                }
                                let _ =
                                    ntx.send(format!("RNG {sid} {} CKI {k} {h} {name}\r\n", ctx.addrs.sb).into_bytes());
                                format!("CAL {t} RINGING {sid}")
                            }
                        }
                    };
                    c.send(&reply).await?;
                }
                ("MSG", Some((h, name, sid))) => {
                    let mode = m.arg(2).to_string();
                    let payload = m.payload.clone().unwrap_or_default();
                    // Test hook: a message ending in HANGUP-NOW makes the server drop the
                    // connection with a reset, as a crashing server would.
                    if payload.ends_with(HANGUP) {
                        c.reset();
                        return Err(std::io::Error::other("hung up on request"));
                    }
                    let delivered = {
                        let st = ctx.state.lock().map_err(|_| std::io::Error::other("poisoned"))?;
                        let mut n = 0;
                        if let Some(s) = st.sessions.get(sid) {
                            for (other, (_, otx)) in &s.members {
                                if other != h {
                                    let mut b = format!("MSG {h} {name} {}\r\n", payload.len()).into_bytes();
                                    b.extend_from_slice(&payload);
                                    if otx.send(b).is_ok() {
                                        n += 1;
                                    }
                                }
                            }
                        }
                        n
                    };
                    match (mode.as_str(), delivered > 0) {
                        ("A", true) => c.send(&format!("ACK {t}")).await?,
                        ("A" | "N", false) => c.send(&format!("NAK {t}")).await?,
                        _ => {}
                    }
                }
                ("OUT", _) => break,
                (_, Some(_)) => {
                    c.send(&format!("200 {t}")).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Some((h, _, sid)) = me {
        if let Ok(mut st) = ctx.state.lock() {
            let empty = match st.sessions.get_mut(&sid) {
                Some(s) => {
                    s.members.remove(&h);
                    for (_, (_, otx)) in s.members.iter() {
                        let _ = otx.send(format!("BYE {h}\r\n").into_bytes());
                    }
                    s.members.is_empty() && s.invited.is_empty()
                }
                None => false,
            };
            if empty {
                st.sessions.remove(&sid);
            }
        }
    }
    // The switchboard closes the connection itself (after an error, by dropping it).
    if result.is_ok() {
        let _ = c.close().await;
    }
    result
}
