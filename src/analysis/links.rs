//! Links across connections: a referral (`XFR NS`, `XFR SB`, `RNG`) on one connection leads
//! to the connection that uses its address, cookie and session id; the connection it leads to
//! inherits the referral's role, dialect and user.

use super::report::{Link, LinkFrom, LinkTo};
use super::Analyzer;
use crate::flow::ConnId;
use crate::msnp::address::parse_ip_address;
use crate::msnp::referral::ReferralKind;
use crate::msnp::Role;
use crate::session::{Connection, Notice, SbAuth};
use std::net::{IpAddr, SocketAddr};

impl Analyzer<'_> {
    pub(super) fn handle_notices(&mut self, id: ConnId, ts_ns: i64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let notices = conn.take_notices();
        if notices.is_empty() {
            return;
        }
        let (user, dialect, public, aff) =
            (conn.user.clone(), (conn.dialects(), conn.dialect_decided()), conn.id, conn.affinity);
        for n in notices {
            match n {
                Notice::Referral(r) => {
                    let (ip, port) = parse_ip_address(&r.address);
                    let role = r.kind.role();
                    match ip {
                        Some(ip) => {
                            self.announced.insert((aff, SocketAddr::new(ip, port)), (role, ts_ns));
                        }
                        None => {
                            self.announced_ports.insert((aff, port), ts_ns);
                        }
                    }
                    let li = self.next_link;
                    self.next_link += 1;
                    self.conn_links.entry(public).or_default().push(li);
                    match (r.kind, &r.cookie) {
                        (ReferralKind::XfrNs, _) => self.pending_ns.entry((aff, port)).or_default().push(li),
                        (kind, Some(cookie)) => {
                            self.pending_sb.insert((aff, kind, cookie.clone()), li);
                            if kind == ReferralKind::Rng {
                                self.rng_seen.insert(aff, ts_ns);
                            } else if let Some(u) = &user {
                                self.sb_referred_users.insert((aff, hash_str(u)), ts_ns);
                            }
                        }
                        _ => {}
                    }
                    let link = Link {
                        refs: 1,
                        kind: r.kind,
                        from: LinkFrom { connection: public, event: r.event },
                        to: None,
                        address: r.address.clone(),
                        rewritten_to: self.rewrites.get_mut(&id).and_then(|list| {
                            let at = list.iter().position(|(k, o, _)| *k == r.kind && *o == r.address)?;
                            Some(list.remove(at).2)
                        }),
                        session: r.session,
                        user: user.clone(),
                        dialect,
                    };
                    if let Some(log) = self.shard.as_mut().filter(|log| log.record) {
                        log.push(id, super::handon::Item::LinkMade(li, Box::new(link.clone())));
                    }
                    self.links.insert(li, link);
                    if let Some(c) = self.conns.get_mut(&id) {
                        if let Some(e) = c.event_mut(r.event) {
                            e.link = Some(li);
                        }
                    }
                }
                Notice::SbAuth(auth) => self.link_switchboard(id, auth),
                Notice::Dialect(_) => self.join_journey(id),
            }
        }
    }

    fn link_switchboard(&mut self, id: ConnId, auth: SbAuth) {
        let want = auth.answers;
        let Some(aff) = self.conns.get(&id).map(|c| c.affinity) else { return };
        let key = (aff, want, auth.cookie.clone());
        let found = self.pending_sb.get(&key).copied().filter(|li| {
            self.links.get(li).is_some_and(|l| {
                l.to.is_none() && (want != ReferralKind::Rng || l.session.as_deref() == auth.session.as_deref())
            })
        });
        if found.is_some() {
            self.pending_sb.remove(&key);
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match found {
            Some(li) => {
                let Some(l) = self.links.get_mut(&li) else { return };
                l.to = Some(LinkTo { connection: conn.id });
                if let Some(log) = self.shard.as_mut().filter(|log| log.record) {
                    log.push(id, super::handon::Item::LinkTo(li, conn.id));
                }
                l.refs += 1;
                let l = &*l;
                // The caller's user comes from the referring connection; the callee's is its own.
                let user = if want == ReferralKind::XfrSb { l.user.clone() } else { Some(auth.handle.clone()) };
                conn.inherit(Role::SB, l.dialect, user, li);
                let from = l.from.connection;
                if want == ReferralKind::Rng {
                    // The RNG went to the callee's notification connection: its user is the callee.
                    if let Some(ns) = self.by_public.get(&from).copied() {
                        if let Some(c) = self.conns.get_mut(&ns) {
                            c.learn_user(&auth.handle);
                        }
                        self.join_journey(ns);
                    }
                }
                self.join_journey(id);
            }
            None => {
                // Only a violation when that user's referrals were captured and none fits.
                let user_seen = if want == ReferralKind::Rng {
                    self.rng_seen.contains_key(&aff)
                } else {
                    self.sb_referred_users.contains_key(&(aff, hash_str(&auth.handle)))
                };
                conn.set_role_hint(Role::SB);
                if user_seen {
                    let v = crate::rules::state::unknown_cookie(want);
                    conn.add_violation(auth.event, v);
                }
            }
        }
    }
}

/// A user's name as a 64-bit number (users are counted and matched by it, not kept as text).
/// foldhash with its fixed seed: the same number in every run and on every thread; SipHash,
/// used before, cost about 120 instructions a name. Neither resists a peer choosing names that
/// collide (SipHash's keys were the public zero keys); a collision merges two users' counts.
pub(super) fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(s)
}

/// Links held before unresolved ones whose connection ended are retired too (streaming modes).
pub const MAX_LINKS: usize = 65_536;

impl Analyzer<'_> {
    /// Streaming modes: the links at either end of connection `public` (flow `flow`, led to by
    /// link `linked_from`) lose a reference; those with none left (and resolved, or beyond
    /// [`MAX_LINKS`]) are handed to the report and dropped.
    pub(super) fn retire_links(&mut self, flow: ConnId, public: u64, linked_from: Option<usize>) {
        let mut touched = self.conn_links.remove(&public).unwrap_or_default();
        touched.extend(linked_from);
        for li in touched {
            let done = match self.links.get_mut(&li) {
                Some(l) => {
                    l.refs = l.refs.saturating_sub(1);
                    l.refs == 0 && l.to.is_some()
                }
                None => false,
            };
            if done {
                self.retire(flow, li);
            }
        }
        // Referrals never followed: the oldest go once too many are held.
        while self.links.len() > MAX_LINKS {
            let Some(li) = self.links.iter().find(|(_, l)| l.refs == 0).map(|(k, _)| *k) else { break };
            self.retire(flow, li);
        }
    }

    /// Drops link `li`, handing it to the report (or, on a worker of sharded analysis that
    /// records, to its log).
    fn retire(&mut self, flow: ConnId, li: usize) {
        let Some(l) = self.links.remove(&li) else { return };
        match self.shard.as_mut().filter(|log| log.record) {
            Some(log) => log.push(flow, super::handon::Item::Retired(li)),
            None => self.report.retired(li, &l),
        }
    }
}

/// A user's connections from one client machine (affinity): they speak one dialect.
pub(super) type Journey = (IpAddr, u64);

/// What a journey's connections together say of its dialect, and who still holds it.
#[derive(Debug, Clone, Copy)]
pub(super) struct JourneyState {
    range: crate::msnp::dialect::Dialects,
    /// Its connections open now.
    pub open: u32,
    /// When the last of its connections to end ended.
    pub left: i64,
}

impl Analyzer<'_> {
    /// The journey a connection belongs to, once its user is known.
    fn journey_of(c: &Connection) -> Option<Journey> {
        let user = c.user.as_deref()?;
        Some((c.affinity, hash_str(&user.to_ascii_lowercase())))
    }

    /// What the connection says of its dialect joins what its user's other connections say.
    pub(super) fn join_journey(&mut self, id: ConnId) {
        let Some(c) = self.conns.get(&id) else { return };
        let Some(key) = Self::journey_of(c) else { return };
        let own = if c.dialect_decided() { c.dialects() } else { c.dialect_evidence() };
        let fresh = self.joined.get(&id) != Some(&key);
        if fresh {
            // A connection whose user changed leaves the journey it was in.
            if let Some(j) = self.joined.insert(id, key).and_then(|old| self.journeys.get_mut(&old)) {
                j.open = j.open.saturating_sub(1);
            }
        }
        let all = crate::msnp::dialect::Dialects::ALL;
        let entry = self.journeys.entry(key).or_insert(JourneyState { range: all, open: 0, left: i64::MIN });
        if fresh {
            entry.open = entry.open.saturating_add(1);
        }
        if let Some(both) = entry.range.intersect(own) {
            entry.range = both;
        }
    }

    /// A connection ending takes what its user's connections together say of the dialect.
    pub(super) fn settle_journey(&mut self, id: ConnId) {
        self.join_journey(id);
        let Some(c) = self.conns.get_mut(&id) else { return };
        if let Some(range) = Self::journey_of(c).and_then(|k| self.journeys.get(&k)).map(|j| j.range) {
            c.narrow_by_user(range);
        }
    }

    /// Connection `id` ended at `ts_ns`: its journey is held by one fewer (and is forgotten
    /// the idle timeout after none holds it).
    pub(super) fn leave_journey(&mut self, id: ConnId, ts_ns: i64) {
        if let Some(j) = self.joined.remove(&id).and_then(|key| self.journeys.get_mut(&key)) {
            j.open = j.open.saturating_sub(1);
            j.left = j.left.max(ts_ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::{Analyzer, Links, Report, Summary};
    use crate::capture::CaptureReader;
    use crate::reassembly::Limits;
    use crate::session::{Connection, Options};
    use crate::testkit::gen::{generate, GenConfig};

    /// The users of the connections reported.
    #[derive(Default)]
    struct Users(std::collections::HashSet<String>);

    impl Report for Users {
        fn connection(&mut self, c: &Connection, _: Links<'_>) {
            if let Some(u) = &c.user {
                self.0.insert(u.clone());
            }
        }
        fn finish(&mut self, _: &Summary, _: Links<'_>) {}
    }

    /// A generated capture read with an idle timeout of `idle_s` seconds: the users seen, and
    /// the journeys and users with switchboard referrals still held when it is read.
    fn read(idle_s: i64) -> (usize, usize, usize) {
        let mut bytes = Vec::new();
        let cfg = GenConfig { packets: 40_000, concurrency: 8, ..GenConfig::default() };
        generate(cfg, &mut bytes).expect("generated");
        let mut users = Users::default();
        let held;
        {
            let opts = Options { stream_events: true, terse: true, ..Options::default() };
            let mut a = Analyzer::new(opts, &[], &mut users);
            let mut reader = CaptureReader::new(&bytes[..]).expect("capture");
            let limits = Limits { idle_timeout_ns: idle_s * 1_000_000_000, ..Limits::default() };
            assert!(a.run_capture(&mut reader, limits).is_none());
            held = (a.journeys.len(), a.sb_referred_users.len());
            a.finish();
        }
        (users.0.len(), held.0, held.1)
    }

    #[test]
    fn journeys_and_referred_users_are_forgotten_after_their_connections() {
        // Eight sessions in flight at a time, over many idle timeouts of 40 s (without the
        // forgetting: 169 journeys and 74 referred users of 169 users; with it 8 and 1).
        let (users, journeys, referred) = read(40);
        assert!(users > 100, "{users} users");
        assert!(
            journeys < users / 4 && referred < users / 4,
            "{journeys} journeys, {referred} referred, {users} users"
        );
        // With an idle timeout longer than the capture, every user's are still held.
        let (users, journeys, referred) = read(1_000_000);
        assert!(
            journeys >= users * 9 / 10 && referred > users / 4,
            "{journeys} journeys, {referred} referred, {users} users"
        );
    }
}
