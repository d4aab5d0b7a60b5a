//! The switchboard: the caller's USR with the cookie of its XFR SB, the callee's ANS with the
//! cookie and session id of its RNG (answered by the IRO roster and ANS OK), CAL, MSG with ACK
//! and NAK by ack mode, JOI when someone joins and BYE when someone leaves.

use super::{cookie, lock, next_command, visible, Ctx, Fault, Session, State, HANGUP};
use crate::testkit::conn::{LineConn, Msg};
use crate::testkit::flavor::Flavor;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A participant of a session: handle, friendly name, session id.
struct Member {
    handle: String,
    name: String,
    session: u64,
}

/// The dialect `handle` logged in with (MSNP2 when not online): the switchboard speaks it to
/// that user.
fn flavor_of(st: &State, handle: &str) -> Flavor {
    st.online.get(handle).map_or(Flavor::MSNP2, |o| o.flavor)
}

/// What the loop does after a command.
enum Next {
    Go,
    End,
}

/// One switchboard connection.
pub(super) struct Switchboard {
    c: LineConn,
    ctx: Arc<Ctx>,
    /// Where the session's other members queue lines for this one.
    tx: super::Tx,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    me: Option<Member>,
}

impl Switchboard {
    pub(super) fn new(c: LineConn, ctx: Arc<Ctx>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        Switchboard { c, ctx, tx, rx, me: None }
    }

    /// Serves the connection; when it ends, the others in the session hear BYE.
    pub(super) async fn run(mut self) -> std::io::Result<()> {
        let result = self.serve().await;
        if let Some(me) = self.me.take() {
            self.leave(&me);
        }
        // The switchboard closes the connection itself (after an error, by dropping it).
        if result.is_ok() {
            let _ = self.c.close().await;
        }
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

    async fn command(&mut self, m: &Msg) -> std::io::Result<Next> {
        let t = m.arg(1).to_string();
        match (m.verb(), self.me.is_some()) {
            ("USR", false) => return self.caller(&t, m.arg(2), m.arg(3)).await,
            ("ANS", false) => return self.callee(&t, m.arg(2), m.arg(3), m.arg(4).parse().unwrap_or(0)).await,
            (_, false) => {
                self.c.send(&format!("302 {t}")).await?;
                return Ok(Next::End);
            }
            ("CAL", true) => self.cal(&t, m.arg(2)).await?,
            ("MSG", true) => self.msg(&t, m).await?,
            ("OUT", _) => return Ok(Next::End),
            (_, true) => self.c.send(&format!("200 {t}")).await?,
        }
        Ok(Next::Go)
    }

    /// `USR t handle cookie`: the caller opens a session with the cookie of its XFR SB.
    async fn caller(&mut self, t: &str, handle: &str, k: &str) -> std::io::Result<Next> {
        let joined = {
            let mut st = lock(&self.ctx)?;
            match st.cookies.get(k).cloned() {
                Some((h, None)) if h == handle => {
                    st.cookies.remove(k);
                    st.next += 1;
                    let sid = 11_752_013 + st.next;
                    let name = st.accounts.get(&h).map(|a| a.name.clone()).unwrap_or_default();
                    let flavor = flavor_of(&st, &h);
                    let mut members = BTreeMap::new();
                    members.insert(h.clone(), (name.clone(), self.tx.clone(), flavor));
                    st.sessions.insert(sid, Session { members, invited: HashMap::new() });
                    Some(Member { handle: h, name, session: sid })
                }
                _ => None,
            }
        };
        let Some(me) = joined else {
            self.c.send(&format!("911 {t}")).await?;
            return Ok(Next::End);
        };
        self.c.send(&format!("USR {t} OK {} {}", me.handle, me.name)).await?;
        self.me = Some(me);
        Ok(Next::Go)
    }

    /// `ANS t handle cookie session`: the callee joins; it hears the roster, the others JOI.
    async fn callee(&mut self, t: &str, handle: &str, k: &str, sid: u64) -> std::io::Result<Next> {
        let roster = {
            let mut st = lock(&self.ctx)?;
            let valid = st.cookies.get(k).is_some_and(|(h, s)| *h == handle && *s == Some(sid));
            let name = st.accounts.get(handle).map(|a| a.name.clone()).unwrap_or_default();
            let flavor = flavor_of(&st, handle);
            match st.sessions.get_mut(&sid).filter(|_| valid) {
                Some(sess) => {
                    let roster: Vec<(String, String)> =
                        sess.members.iter().map(|(h, (n, _, _))| (h.clone(), n.clone())).collect();
                    for (_, (_, otx, of)) in sess.members.iter() {
                        let _ = otx.send(format!("{}\r\n", of.joi(handle, &name)).into_bytes());
                    }
                    sess.members.insert(handle.to_string(), (name.clone(), self.tx.clone(), flavor));
                    sess.invited.remove(handle);
                    st.cookies.remove(k);
                    Some((roster, name, flavor))
                }
                None => None,
            }
        };
        let Some((roster, name, flavor)) = roster else {
            self.c.send(&format!("911 {t}")).await?;
            return Ok(Next::End);
        };
        let mut out = String::new();
        if self.ctx.has(Fault::AnsOkBeforeIro) {
            out.push_str(&format!("ANS {t} OK\r\n"));
        }
        for (i, (h, n)) in roster.iter().enumerate() {
            out.push_str(&format!("{}\r\n", flavor.iro(t, i + 1, roster.len(), h, n)));
        }
        if !self.ctx.has(Fault::AnsOkBeforeIro) {
            out.push_str(&format!("ANS {t} OK\r\n"));
        }
        self.c.send_raw(out.as_bytes()).await?;
        self.me = Some(Member { handle: handle.to_string(), name, session: sid });
        Ok(Next::Go)
    }

    /// `CAL t handle`: the callee is rung (RNG on its notification connection), or the
    /// call fails: 208 for what is not a handle, 215 when already in the session, 217 when
    /// offline.
    async fn cal(&mut self, t: &str, callee: &str) -> std::io::Result<()> {
        let Some(me) = &self.me else { return Ok(()) };
        let reply = {
            let mut st = lock(&self.ctx)?;
            st.next += 1;
            let k = cookie(st.next);
            let sid = me.session;
            let in_session = st.sessions.get(&sid).is_some_and(|s| s.members.contains_key(callee));
            let valid = super::lists::valid_handle(callee);
            let target = st.online.get(callee).filter(|o| visible(&o.state)).map(|o| (o.tx.clone(), o.flavor));
            match (in_session, target) {
                _ if !valid => format!("208 {t}"),
                (true, _) => format!("215 {t}"),
                (false, None) => format!("217 {t}"),
                (false, Some((ntx, nf))) => {
                    st.cookies.insert(k.clone(), (callee.to_string(), Some(sid)));
                    if let Some(s) = st.sessions.get_mut(&sid) {
                        s.invited.insert(callee.to_string(), k.clone());
                    }
                    let sb = self.ctx.addrs.sb.to_string();
                    let shown_sid =
                        if self.ctx.has(Fault::HexSessionId) { format!("{sid:x}") } else { sid.to_string() };
                    let mut ring = format!("{}\r\n", nf.rng(&shown_sid, &sb, &k, &me.handle, &me.name));
                    if self.ctx.has(Fault::RngWithoutCookie) {
                        ring = ring.replace(&format!(" CKI {k}"), "");
                    }
                    let _ = ntx.send(ring.into_bytes());
                    format!("CAL {t} RINGING {sid}")
                }
            }
        };
        self.c.send(&reply).await
    }

    /// `MSG t mode length`: delivered to the others; acknowledged as the mode asks (A: ACK
    /// when delivered; A and N: NAK when not).
    async fn msg(&mut self, t: &str, m: &Msg) -> std::io::Result<()> {
        let Some(me) = &self.me else { return Ok(()) };
        let payload = m.payload.clone().unwrap_or_default();
        // Test hook: a message ending in HANGUP-NOW makes the server drop the connection with
        // a reset, as a crashing server would.
        if payload.ends_with(HANGUP) {
            self.c.reset();
            return Err(std::io::Error::other("hung up on request"));
        }
        let delivered = {
            let st = lock(&self.ctx)?;
            let mut n = 0;
            if let Some(s) = st.sessions.get(&me.session) {
                for (other, (_, otx, _)) in &s.members {
                    if *other != me.handle {
                        let mut b = format!("MSG {} {} {}\r\n", me.handle, me.name, payload.len()).into_bytes();
                        b.extend_from_slice(&payload);
                        if otx.send(b).is_ok() {
                            n += 1;
                        }
                    }
                }
            }
            n
        };
        if self.ctx.has(Fault::MsgEcho) {
            let mut b = format!("MSG {} {} {}\r\n", me.handle, me.name, payload.len()).into_bytes();
            b.extend_from_slice(&payload);
            self.c.send_raw(&b).await?;
        }
        match (m.arg(2), delivered > 0) {
            ("N", true) if self.ctx.has(Fault::AckForModeN) => self.c.send(&format!("ACK {t}")).await,
            ("A", true) => self.c.send(&format!("ACK {t}")).await,
            ("A" | "N", false) => self.c.send(&format!("NAK {t}")).await,
            _ => Ok(()),
        }
    }

    /// The member leaves its session: the others hear BYE; an empty session ends.
    fn leave(&self, me: &Member) {
        let Ok(mut st) = self.ctx.state.lock() else { return };
        let empty = match st.sessions.get_mut(&me.session) {
            Some(s) => {
                s.members.remove(&me.handle);
                for (_, (_, otx, _)) in s.members.iter() {
                    let _ = otx.send(format!("BYE {}\r\n", me.handle).into_bytes());
                }
                s.members.is_empty() && s.invited.is_empty()
            }
            None => false,
        };
        if empty {
            st.sessions.remove(&me.session);
        }
    }
}
