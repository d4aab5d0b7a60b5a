//! A small but faithful server of the testkit's dialects ([`Flavor`]: MSNP2, 5, 7, 8, 11, 13),
//! answering each client in the newest one it offers: a dispatch ([`ds`]), a notification
//! ([`ns`]) and a switchboard ([`sb`]) listener on separate ports, accounts with passwords, MD5
//! or Passport (TWN) login, SYN with lists or ADL, the lists, groups and settings ([`lists`]),
//! presence (CHG, ILN, NLN, FLN), challenges (CHL, QRY), personal messages (UUX, UBX),
//! switchboard referrals (XFR SB) and invitations (RNG), CAL/ANS/IRO/JOI/BYE, MSG with ACK/NAK,
//! and the errors the specification gives; [`fault`] breaks one behaviour on purpose. Used by
//! the tests, the benchmarks, `msntap serve`, `msntap demo` and `check-server`'s tests. This
//! file holds what the three share: accounts, who is online, switchboard sessions and cookies.

mod ds;
pub mod fault;
mod lists;
mod ns;
mod sb;

pub use fault::{Fault, FAULTS};

use super::conn::{LineConn, Logs, Msg};
use super::flavor::Flavor;
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
    /// Allow list.
    pub al: Vec<String>,
    /// Block list.
    pub bl: Vec<String>,
    /// GTC and BLP settings.
    pub gtc: String,
    /// See `gtc`.
    pub blp: String,
    /// Groups (MSNP7+): id and URL-encoded name; group 0 is there from the start (and stays,
    /// unless the `default-group-removable` fault lets RMG take it).
    pub groups: Vec<(u32, String)>,
    /// The list version: raised by every change (0: not yet set, the server starts it).
    pub serial: u64,
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
            al: Vec::new(),
            bl: Vec::new(),
            gtc: "A".into(),
            blp: "AL".into(),
            groups: vec![(0, super::flavor::DEFAULT_GROUP.to_string())],
            serial: 0,
        })
    }
}

/// Makes every account a contact of every other (so presence and calls work at once).
pub fn befriend(accounts: &mut [Account]) {
    let all: Vec<String> = accounts.iter().map(|a| a.handle.clone()).collect();
    for a in accounts.iter_mut() {
        a.fl = all.iter().filter(|h| **h != a.handle).cloned().collect();
        a.al = a.fl.clone();
    }
}

type Tx = mpsc::UnboundedSender<Vec<u8>>;

/// A message body ending in this makes the testkit switchboard reset the connection.
pub const HANGUP: &[u8] = b"HANGUP-NOW";

struct Online {
    state: String,
    name: String,
    tx: Tx,
    /// The dialect of the user's notification connection (what others' lines to it use).
    flavor: Flavor,
}

struct Session {
    /// handle → (name, sender to that participant's switchboard connection, its dialect)
    members: BTreeMap<String, (String, Tx, Flavor)>,
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
    fault: Option<Fault>,
}

impl Ctx {
    /// Whether the server was told to have `f`.
    fn has(&self, f: Fault) -> bool {
        self.fault == Some(f)
    }
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
    start_with(ds, ns, sb, accounts, logs, None).await
}

/// [`start`], with one deliberate fault (see [`FAULTS`]).
pub async fn start_with(
    ds: SocketAddr,
    ns: SocketAddr,
    sb: SocketAddr,
    accounts: Vec<Account>,
    logs: Option<Logs>,
    fault: Option<Fault>,
) -> std::io::Result<Addrs> {
    let (dl, nl, sl) = (TcpListener::bind(ds).await?, TcpListener::bind(ns).await?, TcpListener::bind(sb).await?);
    let addrs = Addrs { ds: dl.local_addr()?, ns: nl.local_addr()?, sb: sl.local_addr()? };
    let state = State {
        accounts: accounts
            .into_iter()
            .map(|mut a| {
                if a.serial == 0 {
                    a.serial = 1 + a.fl.len() as u64;
                }
                (a.handle.clone(), a)
            })
            .collect(),
        online: HashMap::new(),
        sessions: HashMap::new(),
        cookies: HashMap::new(),
        next: 1,
    };
    let ctx = Arc::new(Ctx { state: Mutex::new(state), addrs, logs, fault });
    for (l, role) in [(dl, 0u8), (nl, 1), (sl, 2)] {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let c = LineConn::new(s, ctx.logs.as_ref());
                    let _ = match role {
                        0 => ds::dispatch(c, &ctx).await,
                        1 => ns::Notification::new(c, ctx.clone()).run().await,
                        _ => sb::Switchboard::new(c, ctx.clone()).run().await,
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

/// VER, CVR and INF, shared by DS and NS, answered in the connection's dialect (`flavor`, which
/// VER sets to the newest the client offers); returns false when the connection should end.
async fn common(c: &mut LineConn, m: &Msg, flavor: &mut Flavor, ctx: &Ctx) -> std::io::Result<bool> {
    let t = m.arg(1);
    match m.verb() {
        "VER" => {
            let offered = m.tokens.get(2..).unwrap_or_default().iter().map(String::as_str);
            match Flavor::choose(offered) {
                Some(f) => {
                    *flavor = f;
                    c.send(&format!("VER {t} {}", f.name())).await?;
                }
                None if ctx.has(Fault::VerIgnoresOffer) => c.send(&format!("VER {t} MSNP2")).await?,
                None => {
                    c.send(&format!("VER {t} 0")).await?;
                    return Ok(false);
                }
            }
        }
        "CVR" => c.send(&flavor.cvr_reply(t)).await?,
        "INF" => c.send(&format!("INF {t} MD5")).await?,
        _ => {}
    }
    Ok(true)
}

/// The state, locked (a poisoned lock ends the connection that meets it).
fn lock(ctx: &Ctx) -> std::io::Result<std::sync::MutexGuard<'_, State>> {
    ctx.state.lock().map_err(|_| std::io::Error::other("poisoned"))
}

/// Whether `state` shows the user to others.
fn visible(state: &str) -> bool {
    state != "HDN" && state != "FLN"
}
