//! The analysis of a whole input: the table of connections being analysed, fed by any packet
//! source through [`StreamSink`] ([`pipeline`] drives it from captures and live interfaces; the
//! proxy feeds it directly). Finished connections go to a [`Report`] as soon as they close, so
//! memory grows with the connections open at once, not with the input. It also decides which
//! flows are MSNP ([`probe`]), makes the links across connections ([`links`]), keeps the counts
//! ([`summary`]), dumps streams ([`dump`]) and runs several inputs at once ([`jobs`]).

pub mod affinity;
pub mod dump;
mod handon;
pub mod jobs;
mod links;
pub mod pipeline;
pub mod probe;
pub mod report;
mod reread;
mod shard;
pub mod summary;

pub use dump::StreamDump;
pub use pipeline::{run_on, Pipeline};
pub use report::{Link, LinkFrom, LinkTo, Links, Report, Tee};
pub use reread::Reread;
pub use summary::{Failure, Latency, Summary};

use crate::flow::{Accept, CloseKind, ConnId, ConnInfo, Dir, GapReason, StreamSink, TcpAnomaly};
use crate::msnp::address::MSNP_PORT;
use crate::msnp::referral::ReferralKind;
use crate::msnp::Role;
use crate::session::{Connection, Options};
use probe::{recognise, Probe, PROBE_BYTES};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

/// The analysis engine: a [`StreamSink`] for the reassembler.
pub struct Analyzer<'r> {
    opts: Options,
    ports: HashSet<u16>,
    conns: crate::fasthash::FastMap<ConnId, Connection>,
    /// Addresses announced by referrals to each client machine (affinity), with the role they
    /// lead to and the time of the latest such referral (entries older than the idle timeout go
    /// at the reassembler's sweeps: a client connects within seconds of its referral).
    announced: crate::fasthash::FastMap<(IpAddr, SocketAddr), (Role, i64)>,
    /// Ports announced with a host name (address unknown), by affinity, with the time of the
    /// latest such referral.
    announced_ports: HashMap<(IpAddr, u16), i64>,
    links: BTreeMap<usize, Link>,
    next_link: usize,
    /// Links each connection (by public id) announced.
    conn_links: crate::fasthash::FastMap<u64, Vec<usize>>,
    /// Distinct users, by hash (only counted).
    users: crate::fasthash::FastSet<u64>,
    summary: Summary,
    /// Commands counted by catalog position (folded into `summary.by_command` when read).
    verbs: Vec<u64>,
    report: &'r mut dyn Report,
    /// Flows on no known port, waiting for their first line to tell whether they are MSNP.
    probes: HashMap<ConnId, Probe>,
    /// Probed flows found not to be MSNP (until the reassembler lets them go).
    dropped: HashSet<ConnId>,
    next_public: u64,
    dump: Option<StreamDump>,
    /// Recognise MSNP by content on ports not known to carry it.
    pub probe_content: bool,
    progress: Option<ProgressFn>,
    /// Every flow is MSNP (the proxy's case).
    pub all_msnp: bool,
    /// NS referrals not yet followed, by the affinity they were sent to and the announced
    /// port (only that client machine's next connection follows one).
    pending_ns: HashMap<(IpAddr, u16), Vec<usize>>,
    /// Switchboard referrals not yet followed, by affinity, kind and cookie.
    pending_sb: HashMap<(IpAddr, ReferralKind, String), usize>,
    /// Users (affinity and handle hash) whose XFR SB referrals were captured; affinities that
    /// were sent any RNG; each with the time of the last one (forgotten after the idle
    /// timeout, so the tables do not grow with the users a capture holds).
    sb_referred_users: crate::fasthash::FastMap<(IpAddr, u64), i64>,
    rng_seen: crate::fasthash::FastMap<IpAddr, i64>,
    /// Connections by public id (for the links, which name connections that way).
    by_public: crate::fasthash::FastMap<u64, ConnId>,
    /// What each user journey's connections together say of its dialect (kept while one of
    /// them is open, and for the idle timeout after the last ends).
    journeys: crate::fasthash::FastMap<links::Journey, links::JourneyState>,
    /// The journey each open connection joined.
    joined: crate::fasthash::FastMap<ConnId, links::Journey>,
    /// Referral rewrites not yet matched to their referral line: id → (kind, original, new).
    rewrites: HashMap<ConnId, Vec<(ReferralKind, String, String)>>,
    /// A worker of sharded analysis hands connections on here instead of reporting them (and,
    /// when it records, what its reports would have been told).
    shard: Option<handon::ShardLog>,
}

/// Called now and then while reading: (bytes read, packets, connections open).
pub type ProgressFn = Box<dyn FnMut(u64, u64, usize)>;

impl<'r> Analyzer<'r> {
    /// An analyzer reporting to `report`; `extra_ports` adds to 1863.
    pub fn new(opts: Options, extra_ports: &[u16], report: &'r mut dyn Report) -> Self {
        let mut ports: HashSet<u16> = extra_ports.iter().copied().collect();
        ports.insert(MSNP_PORT);
        Analyzer {
            opts,
            ports,
            conns: Default::default(),
            announced: Default::default(),
            announced_ports: HashMap::new(),
            links: BTreeMap::new(),
            next_link: 0,
            conn_links: Default::default(),
            users: Default::default(),
            summary: Summary::default(),
            verbs: vec![0; crate::msnp::catalog::all().len()],
            report,
            probes: HashMap::new(),
            dropped: HashSet::new(),
            next_public: 1,
            dump: None,
            probe_content: true,
            progress: None,
            all_msnp: false,
            pending_ns: HashMap::new(),
            pending_sb: HashMap::new(),
            sb_referred_users: Default::default(),
            rng_seen: Default::default(),
            rewrites: HashMap::new(),
            by_public: Default::default(),
            journeys: Default::default(),
            joined: Default::default(),
            shard: None,
        }
    }

    /// Starts the clock of the reports (time zero of the transcript).
    pub fn begin(&mut self, first_ts_ns: i64) {
        self.report.begin(first_ts_ns);
    }

    /// The proxy replaced a referral's address on connection `id`.
    pub fn note_rewrite(&mut self, id: ConnId, kind: ReferralKind, original: String, rewritten: String) {
        self.rewrites.entry(id).or_default().push((kind, original, rewritten));
    }

    /// A proxied connection failed before it could be relayed.
    pub fn failure(&mut self, client: SocketAddr, target: &str, reason: &str, ts_ns: i64) {
        let f = Failure {
            ts: ts_ns as f64 / 1e9,
            client: client.to_string(),
            target: target.to_string(),
            reason: reason.to_string(),
        };
        self.report.failure(&f);
        self.summary.failures_total += 1;
        if self.summary.failures.len() < 1000 {
            self.summary.failures.push(f);
        }
    }

    /// Reports progress about every 200 ms while a capture is read.
    pub fn progress(&mut self, f: ProgressFn) {
        self.progress = Some(f);
    }

    /// Also writes every direction's reassembled bytes under `dump`.
    pub fn dump_streams(&mut self, dump: StreamDump) {
        self.dump = Some(dump);
    }

    /// The stream dump's first error, if any.
    pub fn dump_error(&mut self) -> Option<std::io::Error> {
        self.dump.as_mut().and_then(|d| d.error.take())
    }

    fn known_endpoint(&self, a: SocketAddr, affinity: IpAddr) -> bool {
        self.all_msnp
            || self.ports.contains(&a.port())
            || self.announced.contains_key(&(affinity, a))
            || self.announced_ports.contains_key(&(affinity, a.port()))
    }

    /// Starts the analysis of a connection known (or found) to be MSNP.
    fn start_connection(&mut self, info: &ConnInfo) {
        let public = self.next_public;
        self.next_public += 1;
        let mut c =
            Connection::new(public, info.client, info.server, info.vlan, info.syn_seen, info.opened_ns, &self.opts);
        c.affinity = info.affinity;
        if let Some((role, _)) = self.announced.get(&(info.affinity, info.server)).copied() {
            c.set_role_hint(role);
        }
        if !info.syn_seen {
            let (v, note) = crate::rules::network::mid_stream();
            c.events.push(crate::session::Event {
                note: Some(note),
                violations: vec![v],
                ..crate::session::Event::new(info.opened_ns, Dir::C2S, crate::session::EventKind::Gap)
            });
        }
        // An NS referral leads to the first connection from the client it was sent to, to its
        // address, after it (another client's connection there is not its follow-up).
        let pending = self.pending_ns.get_mut(&(info.affinity, info.server.port()));
        let found = pending.and_then(|v| {
            let links = &self.links;
            v.retain(|li| links.contains_key(li));
            let at = v.iter().position(|li| {
                links.get(li).is_some_and(|l| {
                    let (ip, _) = crate::msnp::address::parse_ip_address(&l.address);
                    ip.is_none_or(|ip| ip == info.server.ip())
                })
            })?;
            Some(v.remove(at))
        });
        if let Some(li) = found {
            let user = self.links.get_mut(&li).and_then(|l| {
                l.to = Some(LinkTo { connection: public });
                l.refs += 1;
                l.user.clone()
            });
            c.inherit(Role::NS, (crate::msnp::dialect::Dialects::ALL, false), user, li);
        }
        if let Some(d) = self.dump.as_mut() {
            d.start(public, info.client, info.server);
        }
        self.by_public.insert(public, info.id);
        if let Some(log) = self.shard.as_mut() {
            let opening = log.record.then(|| Box::new(handon::Opening::of(&mut c)));
            log.push(info.id, handon::Item::Started(public, opening));
            if let Some(li) = found.filter(|_| log.record) {
                log.push(info.id, handon::Item::LinkTo(li, public));
            }
        }
        self.report.opened(&c);
        let counts = (&mut self.summary, &mut self.verbs[..]);
        hand_on(&mut c, info.id, counts, &mut *self.report, self.shard.as_mut(), self.opts.stream_events);
        self.conns.insert(info.id, c);
    }

    fn feed(&mut self, id: ConnId, dir: Dir, ts_ns: i64, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        if let Some(d) = self.dump.as_mut() {
            d.write(c.id, dir, bytes);
        }
        c.data(dir, ts_ns, bytes, &self.opts);
        if c.has_notices() {
            self.after_event(id, ts_ns);
            return;
        }
        // Nothing for the links (nearly every call): the connection is handed on as found,
        // without the two more lookups `after_event` makes.
        let counts = (&mut self.summary, &mut self.verbs[..]);
        hand_on(c, id, counts, &mut *self.report, self.shard.as_mut(), self.opts.stream_events);
    }

    /// Counters so far.
    pub fn summary(&mut self) -> &Summary {
        self.fold_counts();
        &self.summary
    }

    /// Moves the per-verb counts and the transactions' outcomes into the summary.
    fn fold_counts(&mut self) {
        self.summary.fold();
        for (spec, n) in crate::msnp::catalog::all().iter().zip(self.verbs.iter_mut()) {
            if *n > 0 {
                *self.summary.by_command.entry(spec.verb.to_string()).or_default() += *n;
                *n = 0;
            }
        }
    }

    fn after_event(&mut self, id: ConnId, ts_ns: i64) {
        self.handle_notices(id, ts_ns);
        // Hand new events to streaming reports, count them, and drop them if nobody needs more.
        if let Some(c) = self.conns.get_mut(&id) {
            let counts = (&mut self.summary, &mut self.verbs[..]);
            hand_on(c, id, counts, &mut *self.report, self.shard.as_mut(), self.opts.stream_events);
        }
    }

    /// Ends the analysis: reports the summary and links.
    pub fn finish(mut self) -> Summary {
        // Connections still open (only when driven by hand, not by `run_capture`).
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.close(id, 0, CloseKind::Open);
        }
        self.summary.users = self.users.len() as u64;
        self.fold_counts();
        self.report.finish(&self.summary, Links(&self.links));
        self.summary
    }

    fn tally(&mut self, c: &Connection) {
        if let Some(u) = &c.user {
            self.users.insert(links::hash_str(u));
        }
        self.summary.connection(c);
    }
}

/// Hands `c`'s new events and settled transactions on, counted: to the report, or, on a worker
/// of sharded analysis that records them, to its log under flow `flow`.
fn hand_on(
    c: &mut Connection,
    flow: ConnId,
    (summary, verbs): (&mut Summary, &mut [u64]),
    report: &mut dyn Report,
    shard: Option<&mut handon::ShardLog>,
    stream: bool,
) {
    match shard.filter(|l| l.record) {
        Some(log) => {
            if let Some(e) = summary::emit_recorded(c, summary, verbs) {
                log.push(flow, handon::Item::Emitted(Box::new(e)));
            }
        }
        None => summary::emit(c, summary, verbs, report, stream),
    }
}

impl StreamSink for Analyzer<'_> {
    fn accept(&mut self, src: SocketAddr, dst: SocketAddr, _syn: bool, affinity: IpAddr) -> Accept {
        if self.known_endpoint(dst, affinity) {
            return Accept::Track { server: Some(dst) };
        }
        if self.known_endpoint(src, affinity) {
            return Accept::Track { server: Some(src) };
        }
        if self.probe_content {
            return Accept::Track { server: None };
        }
        Accept::Ignore
    }

    fn open(&mut self, info: &ConnInfo) {
        if self.known_endpoint(info.server, info.affinity) || self.known_endpoint(info.client, info.affinity) {
            self.start_connection(info);
        } else {
            self.probes.insert(info.id, Probe { info: info.clone(), bufs: [Vec::new(), Vec::new()] });
        }
    }

    fn data(&mut self, id: ConnId, dir: Dir, ts_ns: i64, bytes: &[u8]) {
        let Some(p) = self.probes.get_mut(&id) else {
            self.feed(id, dir, ts_ns, bytes);
            return;
        };
        let buf = &mut p.bufs[dir.index()];
        let held = buf.len();
        let take = PROBE_BYTES.saturating_sub(held).min(bytes.len());
        buf.extend_from_slice(&bytes[..take]);
        match recognise(buf) {
            None => {}
            Some(true) => {
                let Some(p) = self.probes.remove(&id) else {
                    return;
                };
                self.start_connection(&p.info);
                // Replay what was held back, then this whole delivery.
                let other = dir.flip();
                let before = p.bufs[other.index()].clone();
                if !before.is_empty() {
                    self.feed(id, other, ts_ns, &before);
                }
                let mine = p.bufs[dir.index()][..held].to_vec();
                if !mine.is_empty() {
                    self.feed(id, dir, ts_ns, &mine);
                }
                self.feed(id, dir, ts_ns, bytes);
            }
            Some(false) => {
                self.probes.remove(&id);
                self.dropped.insert(id);
            }
        }
    }

    fn keep(&self, id: ConnId) -> bool {
        !self.dropped.contains(&id)
    }

    fn swept(&mut self, now_ns: i64, idle_timeout_ns: i64) {
        // Referral state no connection will follow any more: announced addresses older than the
        // idle timeout, referrals whose link has gone (followed, or retired past MAX_LINKS).
        let old = now_ns.saturating_sub(idle_timeout_ns);
        self.announced.retain(|_, (_, at)| *at >= old);
        self.announced_ports.retain(|_, at| *at >= old);
        let links = &self.links;
        self.pending_ns.retain(|_, v| {
            v.retain(|li| links.contains_key(li));
            !v.is_empty()
        });
        self.pending_sb.retain(|_, li| links.get(li).is_some_and(|l| l.to.is_none()));
        // What users' connections said: while one is open, and the idle timeout after.
        self.journeys.retain(|_, j| j.open > 0 || j.left >= old);
        self.sb_referred_users.retain(|_, at| *at >= old);
        self.rng_seen.retain(|_, at| *at >= old);
    }

    fn gap(&mut self, id: ConnId, dir: Dir, ts_ns: i64, offset: u64, len: u64, reason: GapReason) {
        if self.probes.remove(&id).is_some() {
            // A flow whose first line was not captured cannot be recognised.
            self.dropped.insert(id);
            return;
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.gap(dir, ts_ns, offset, len, reason, &self.opts);
        }
        self.after_event(id, ts_ns);
    }

    fn half_close(&mut self, id: ConnId, dir: Dir, ts_ns: i64) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.half_close(dir, ts_ns, &self.opts);
        }
        self.after_event(id, ts_ns);
    }

    fn anomaly(&mut self, id: ConnId, dir: Dir, ts_ns: i64, anomaly: TcpAnomaly) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.tcp_anomaly(dir, ts_ns, anomaly);
        }
    }

    fn close(&mut self, id: ConnId, ts_ns: i64, how: CloseKind) {
        self.dropped.remove(&id);
        if let Some(p) = self.probes.remove(&id) {
            // Ended before a whole first line: MSNP only if what came would be recognised.
            let looks = p.bufs.iter().any(|b| {
                let mut line = b.clone();
                line.extend_from_slice(b"\r\n");
                !b.is_empty() && recognise(&line) == Some(true)
            });
            if !looks {
                return;
            }
            self.start_connection(&p.info);
            for d in [Dir::C2S, Dir::S2C] {
                let held = p.bufs[d.index()].clone();
                if !held.is_empty() {
                    self.feed(id, d, ts_ns, &held);
                }
            }
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.close(ts_ns, how, &self.opts);
        }
        self.after_event(id, ts_ns);
        self.settle_journey(id);
        self.leave_journey(id, ts_ns);
        self.rewrites.remove(&id);
        if let Some(c) = self.conns.remove(&id) {
            self.by_public.remove(&c.id);
            if let Some(d) = self.dump.as_mut() {
                d.finish_connection(c.id);
            }
            let (public, linked_from) = (c.id, c.linked_from);
            // A worker of sharded analysis hands the connection on to be reported; the links
            // it retires are reported after it, as here.
            match self.shard.as_mut() {
                Some(log) => log.push(id, handon::Item::Ended(Box::new(c))),
                None => {
                    self.tally(&c);
                    self.report.connection(&c, Links(&self.links));
                }
            }
            if self.opts.stream_events {
                self.retire_links(id, public, linked_from);
            }
        }
    }
}
