//! The pipeline of `read` (and, later, `sniff`): packets are sliced, reassembled, decoded and
//! analysed; finished connections go to a [`Report`] as soon as they close, so memory grows with
//! the connections open at once, not with the capture. This module also makes the links across
//! connections: a referral (`XFR NS`, `XFR SB`, `RNG`) on one connection leads to the connection
//! that uses its address, cookie and session id.

use crate::capture::{CaptureError, CaptureReader};
use crate::net::{self, Sliced};
use crate::reassembly::{
    Accept, CloseKind, ConnId, ConnInfo, Dir, GapReason, Limits, Reassembler, StreamSink, TcpAnomaly,
};
use crate::session::{Connection, Notice, Options, Role};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};

/// An unspecified address, for places that need one.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// The default MSNP port.
pub const MSNP_PORT: u16 = 1863;

/// One end of a link.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct LinkFrom {
    /// Connection id.
    pub connection: ConnId,
    /// Event index of the referral line.
    pub event: usize,
}

/// The connection a link leads to.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct LinkTo {
    /// Connection id.
    pub connection: ConnId,
}

/// A referral and the connection it led to.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// `XFR NS`, `XFR SB` or `RNG`.
    pub kind: &'static str,
    /// The referral line.
    pub from: LinkFrom,
    /// The connection it led to, if captured.
    pub to: Option<LinkTo>,
    /// The announced address.
    pub address: String,
    /// The address the proxy gave the client instead, when proxied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewritten_to: Option<String>,
    /// Connections at its ends still open (streaming modes drop it when none is).
    #[serde(skip)]
    refs: u8,
    #[serde(skip)]
    session: Option<String>,
    #[serde(skip)]
    user: Option<String>,
    #[serde(skip)]
    dialect: Option<String>,
}

static EMPTY_LINKS: BTreeMap<usize, Link> = BTreeMap::new();

/// The links known now, by index. In the streaming modes links whose connections have all
/// ended are handed to [`Report::retired`] and leave this table.
#[derive(Clone, Copy)]
pub struct Links<'a>(&'a BTreeMap<usize, Link>);

impl<'a> Links<'a> {
    /// No links.
    pub const EMPTY: Links<'static> = Links(&EMPTY_LINKS);

    /// The link with index `i`, if still held.
    pub fn get(&self, i: usize) -> Option<&'a Link> {
        self.0.get(&i)
    }

    /// The links held, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &'a Link> + 'a {
        self.0.values()
    }

    /// The links held with their indices, in index order.
    pub fn iter_indexed(&self) -> impl Iterator<Item = (usize, &'a Link)> + 'a {
        self.0.iter().map(|(i, l)| (*i, l))
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Links<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.values())
    }
}

/// Receives the results as they are decided.
pub trait Report {
    /// The time of the first packet (the transcript's time zero).
    fn begin(&mut self, _first_ts_ns: i64) {}
    /// A connection is being analysed (role, user and dialect may still change).
    fn opened(&mut self, _conn: &Connection) {}
    /// New events: `conn.events[from..]`.
    fn events(&mut self, _conn: &Connection, _from: usize) {}
    /// A proxied connection failed.
    fn failure(&mut self, _failure: &Failure) {}
    /// Transactions settled before their connection ended (streaming modes).
    fn settled(&mut self, _conn: &Connection, _txns: &[crate::session::Transaction]) {}
    /// A connection ended; its analysis is final.
    fn connection(&mut self, conn: &Connection, links: Links<'_>);
    /// The input ended.
    fn finish(&mut self, summary: &Summary, links: Links<'_>);
    /// Streaming modes: a link whose connections have all ended leaves the table.
    fn retired(&mut self, _index: usize, _link: &Link) {}
}

/// Counts over the whole input.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Packets read.
    pub packets: u64,
    /// Bytes of capture file read.
    pub bytes: u64,
    /// Packets that were not TCP (or not IP).
    pub non_tcp: u64,
    /// Frames that could not be sliced.
    pub malformed_packets: u64,
    /// IP fragments seen, datagrams reassembled from them, and datagrams dropped incomplete.
    pub fragments: crate::net::defrag::DefragStats,
    /// Connections analysed.
    pub connections: u64,
    /// Connections by role.
    pub roles: BTreeMap<String, u64>,
    /// Distinct users seen.
    pub users: u64,
    /// Commands and error lines.
    pub commands: u64,
    /// Commands by verb.
    pub by_command: BTreeMap<String, u64>,
    /// Transactions by outcome.
    pub transactions: BTreeMap<String, u64>,
    /// Violations by severity.
    pub by_severity: BTreeMap<String, u64>,
    /// Violations by rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Request-to-first-response latency over all transactions.
    pub latency: Latency,
    /// Segments retransmitted, out of order, gaps.
    pub tcp: crate::reassembly::Stats,
    /// The error that stopped reading, if any.
    pub input_error: Option<String>,
    /// Proxied connections that failed (at most 1,000 kept; `failures_total` counts all).
    pub failures: Vec<Failure>,
    /// Failed proxied connections.
    pub failures_total: u64,
}

/// A latency histogram with fixed memory: exact to the microsecond below 1 ms, then buckets 1 %
/// wide, so percentiles are exact to within 1 % however many transactions there are.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    buckets: BTreeMap<u32, u64>,
    count: u64,
    max_ms: f64,
}

impl Latency {
    fn bucket(us: f64) -> u32 {
        if us < 1000.0 {
            us.max(0.0) as u32
        } else {
            1000 + ((us / 1000.0).ln() / 1.01f64.ln()) as u32
        }
    }

    fn value_ms(bucket: u32) -> f64 {
        if bucket < 1000 {
            bucket as f64 / 1000.0
        } else {
            1.01f64.powi((bucket - 1000) as i32)
        }
    }

    /// Records one latency.
    pub fn add(&mut self, ms: f64) {
        *self.buckets.entry(Self::bucket(ms * 1000.0)).or_default() += 1;
        self.count += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `p`-th percentile (0–100) in milliseconds.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(Self::value_ms(*b).min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("count", &self.count)?;
        for (k, p) in [("p50_ms", 50.0), ("p90_ms", 90.0), ("p99_ms", 99.0)] {
            m.serialize_entry(k, &self.percentile(p).map(|v| (v * 1000.0).round() / 1000.0))?;
        }
        m.serialize_entry("max_ms", &(self.count > 0).then_some(self.max_ms))?;
        m.end()
    }
}

/// A proxied connection that could not be relayed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Time (seconds since the epoch).
    pub ts: f64,
    /// The client's address.
    pub client: String,
    /// The target the proxy tried.
    pub target: String,
    /// Why it failed.
    pub reason: String,
}

/// The packet-level state of a packet source: TCP reassembly and IP defragmentation.
pub struct Pipeline {
    reasm: Reassembler,
    defrag: crate::net::defrag::Defrag,
    last_ts: i64,
    last_progress: std::time::Instant,
}

impl Pipeline {
    /// A pipeline with the given reassembly limits.
    pub fn new(limits: Limits) -> Self {
        Pipeline {
            reasm: Reassembler::new(limits),
            defrag: Default::default(),
            last_ts: 0,
            last_progress: std::time::Instant::now(),
        }
    }
}

/// The analysis engine: a [`StreamSink`] for the reassembler.
pub struct Analyzer<'r> {
    opts: Options,
    ports: HashSet<u16>,
    conns: crate::fasthash::FastMap<ConnId, Connection>,
    /// Addresses announced by referrals, with the role they lead to.
    announced: HashMap<SocketAddr, Role>,
    /// Ports announced with a host name (address unknown).
    announced_ports: HashSet<u16>,
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
    /// NS referrals not yet followed, by announced port.
    pending_ns: HashMap<u16, Vec<usize>>,
    /// Switchboard referrals not yet followed, by kind and cookie.
    pending_sb: HashMap<(&'static str, String), usize>,
    /// Users (by hash) whose XFR SB referrals were captured; whether any RNG was.
    sb_referred_users: crate::fasthash::FastSet<u64>,
    rng_seen: bool,
    /// Referral rewrites not yet matched to their referral line: id → (kind, original, new).
    rewrites: HashMap<ConnId, Vec<(&'static str, String, String)>>,
}

/// Called now and then while reading: (bytes read, packets, connections open).
pub type ProgressFn = Box<dyn FnMut(u64, u64, usize)>;

/// A flow being probed: its first bytes in each direction.
struct Probe {
    info: ConnInfo,
    bufs: [Vec<u8>; 2],
}

/// Bytes of a direction looked at before deciding a flow is not MSNP.
pub const PROBE_BYTES: usize = 4096;

/// Whether the first bytes of a stream look like the start of an MSNP connection:
/// `VER n MSNPx`, `USR n handle cookie` (switchboard caller), `USR n MD5 I handle` or
/// `ANS n handle cookie session`. `None` until a whole line is there.
pub fn recognise(first: &[u8]) -> Option<bool> {
    let Some(nl) = first.iter().position(|b| *b == b'\n') else {
        let hopeless = first.len() >= 4 && crate::msnp::wire::plausible_start(first) == Some(false);
        return if first.len() >= PROBE_BYTES || hopeless { Some(false) } else { None };
    };
    let line = String::from_utf8_lossy(&first[..nl]);
    let t: Vec<&str> = line.trim_end_matches('\r').split(' ').collect();
    let trid = |i: usize| t.get(i).is_some_and(|x| crate::msnp::command::parse_trid(x).is_some());
    let handle = |i: usize| t.get(i).is_some_and(|x| x.contains('@'));
    Some(match t.first().copied() {
        Some("VER") => {
            trid(1)
                && t[2..].iter().any(|d| d.to_ascii_uppercase().starts_with("MSNP") || d.eq_ignore_ascii_case("CVR0"))
        }
        Some("USR") => trid(1) && ((t.len() == 4 && handle(2)) || (t.len() >= 5 && t[3] == "I" && handle(4))),
        Some("ANS") => trid(1) && t.len() == 5 && handle(2),
        _ => false,
    })
}

/// Writes each direction's reassembled bytes to a file of its own (`--dump-streams`).
pub struct StreamDump {
    dir: std::path::PathBuf,
    open: HashMap<(u64, Dir), std::io::BufWriter<std::fs::File>>,
    names: HashMap<u64, (SocketAddr, SocketAddr)>,
    /// The first write error.
    pub error: Option<std::io::Error>,
}

/// Files kept open at once by [`StreamDump`]; others are reopened for appending.
const DUMP_OPEN_FILES: usize = 128;

impl StreamDump {
    /// Dumps into `dir`, which is created if needed.
    pub fn new(dir: &std::path::Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(StreamDump { dir: dir.to_path_buf(), open: HashMap::new(), names: HashMap::new(), error: None })
    }

    /// The file of a connection's direction: `0001_10.0.0.1.40000_10.0.0.2.1863_c2s.bin`
    /// (IPv6 colons become dashes).
    pub fn file_name(id: u64, client: SocketAddr, server: SocketAddr, dir: Dir) -> String {
        let ep = |a: SocketAddr| format!("{}.{}", a.ip(), a.port()).replace(':', "-");
        format!("{id:04}_{}_{}_{}.bin", ep(client), ep(server), dir.as_str())
    }

    fn start(&mut self, id: u64, client: SocketAddr, server: SocketAddr) {
        for d in [Dir::C2S, Dir::S2C] {
            if let Err(e) = std::fs::File::create(self.dir.join(Self::file_name(id, client, server, d))) {
                self.error.get_or_insert(e);
            }
        }
        self.names.insert(id, (client, server));
    }

    fn write(&mut self, id: u64, dir: Dir, bytes: &[u8]) {
        use std::io::Write;
        if self.error.is_some() {
            return;
        }
        if !self.open.contains_key(&(id, dir)) {
            if self.open.len() >= DUMP_OPEN_FILES {
                for (_, mut w) in self.open.drain() {
                    if let Err(e) = w.flush() {
                        self.error.get_or_insert(e);
                    }
                }
            }
            let Some(&(client, server)) = self.names.get(&id) else {
                return;
            };
            let path = self.dir.join(Self::file_name(id, client, server, dir));
            match std::fs::OpenOptions::new().append(true).open(path) {
                Ok(f) => {
                    self.open.insert((id, dir), std::io::BufWriter::new(f));
                }
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        if let Some(w) = self.open.get_mut(&(id, dir)) {
            if let Err(e) = w.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    fn finish_connection(&mut self, id: u64) {
        use std::io::Write;
        for d in [Dir::C2S, Dir::S2C] {
            if let Some(mut w) = self.open.remove(&(id, d)) {
                if let Err(e) = w.flush() {
                    self.error.get_or_insert(e);
                }
            }
        }
        self.names.remove(&id);
    }
}

/// Parses `host[:port]`; the port defaults to 1863.
pub fn parse_address(s: &str) -> (String, u16) {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return (sa.ip().to_string(), sa.port());
    }
    match s.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(port) => (h.to_string(), port),
            Err(_) => (s.to_string(), MSNP_PORT),
        },
        None => (s.to_string(), MSNP_PORT),
    }
}

impl<'r> Analyzer<'r> {
    /// An analyzer reporting to `report`; `extra_ports` adds to 1863.
    pub fn new(opts: Options, extra_ports: &[u16], report: &'r mut dyn Report) -> Self {
        let mut ports: HashSet<u16> = extra_ports.iter().copied().collect();
        ports.insert(MSNP_PORT);
        Analyzer {
            opts,
            ports,
            conns: Default::default(),
            announced: HashMap::new(),
            announced_ports: HashSet::new(),
            links: BTreeMap::new(),
            next_link: 0,
            conn_links: Default::default(),
            users: Default::default(),
            summary: Summary::default(),
            verbs: vec![0; crate::msnp::catalog::CATALOG.len()],
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
            rng_seen: false,
            rewrites: HashMap::new(),
        }
    }

    /// Starts the clock of the reports (time zero of the transcript).
    pub fn begin(&mut self, first_ts_ns: i64) {
        self.report.begin(first_ts_ns);
    }

    /// The proxy replaced a referral's address on connection `id`.
    pub fn note_rewrite(&mut self, id: ConnId, kind: &'static str, original: String, rewritten: String) {
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

    fn known_endpoint(&self, a: SocketAddr) -> bool {
        self.all_msnp
            || self.announced.contains_key(&a)
            || self.announced_ports.contains(&a.port())
            || self.ports.contains(&a.port())
    }

    /// Starts the analysis of a connection known (or found) to be MSNP.
    fn start_connection(&mut self, info: &ConnInfo) {
        let public = self.next_public;
        self.next_public += 1;
        let mut c =
            Connection::new(public, info.client, info.server, info.vlan, info.syn_seen, info.opened_ns, &self.opts);
        if let Some(role) = self.role_of(info.server) {
            c.set_role_hint(role);
        }
        if !info.syn_seen {
            let v = crate::rules::Violation::new(crate::rules::N003, "the connection's start was not captured");
            c.events.push(crate::session::Event {
                note: Some("picked up mid-stream: the start was not captured".into()),
                violations: vec![v],
                ..crate::session::Event::new(info.opened_ns, Dir::C2S, crate::session::EventKind::Gap)
            });
        }
        // An NS referral leads to the first connection to its address after it.
        let pending = self.pending_ns.get_mut(&info.server.port());
        let found = pending.and_then(|v| {
            let links = &self.links;
            v.retain(|li| links.contains_key(li));
            let at = v.iter().position(|li| {
                links.get(li).is_some_and(|l| {
                    let (h, _) = parse_address(&l.address);
                    h.parse::<IpAddr>().map_or(true, |ip| ip == info.server.ip())
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
            c.inherit(Role::NS, None, user, li);
        }
        if let Some(d) = self.dump.as_mut() {
            d.start(public, info.client, info.server);
        }
        self.report.opened(&c);
        emit(&mut c, &mut self.summary, &mut self.verbs, &mut *self.report, self.opts.stream_events);
        self.conns.insert(info.id, c);
    }

    fn feed(&mut self, id: ConnId, dir: Dir, ts_ns: i64, bytes: &[u8]) {
        if let Some(c) = self.conns.get_mut(&id) {
            if let Some(d) = self.dump.as_mut() {
                d.write(c.id, dir, bytes);
            }
            c.data(dir, ts_ns, bytes, &self.opts);
        }
        self.after_event(id);
    }

    /// Counters so far.
    pub fn summary(&mut self) -> &Summary {
        self.fold_verbs();
        &self.summary
    }

    /// Moves the per-verb counts into the summary.
    fn fold_verbs(&mut self) {
        for (spec, n) in crate::msnp::catalog::CATALOG.iter().zip(self.verbs.iter_mut()) {
            if *n > 0 {
                *self.summary.by_command.entry(spec.verb.to_string()).or_default() += *n;
                *n = 0;
            }
        }
    }

    fn role_of(&self, addr: SocketAddr) -> Option<Role> {
        self.announced.get(&addr).copied()
    }

    fn after_event(&mut self, id: ConnId) {
        self.handle_notices(id);
        // Hand new events to streaming reports, count them, and drop them if nobody needs more.
        if let Some(c) = self.conns.get_mut(&id) {
            emit(c, &mut self.summary, &mut self.verbs, &mut *self.report, self.opts.stream_events);
        }
    }

    fn handle_notices(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let notices = conn.take_notices();
        if notices.is_empty() {
            return;
        }
        let (user, dialect, public) = (conn.user.clone(), conn.dialect_label(), conn.id);
        for n in notices {
            match n {
                Notice::Referral(r) => {
                    let (host, port) = parse_address(&r.address);
                    let role = if r.kind == "XFR NS" { Role::NS } else { Role::SB };
                    match host.parse::<IpAddr>() {
                        Ok(ip) => {
                            self.announced.insert(SocketAddr::new(ip, port), role);
                        }
                        Err(_) => {
                            self.announced_ports.insert(port);
                        }
                    }
                    let li = self.next_link;
                    self.next_link += 1;
                    self.conn_links.entry(public).or_default().push(li);
                    match (r.kind, &r.cookie) {
                        ("XFR NS", _) => self.pending_ns.entry(port).or_default().push(li),
                        (kind, Some(cookie)) => {
                            self.pending_sb.insert((kind, cookie.clone()), li);
                            if kind == "RNG" {
                                self.rng_seen = true;
                            } else if let Some(u) = &user {
                                self.sb_referred_users.insert(hash_str(u));
                            }
                        }
                        _ => {}
                    }
                    self.links.insert(
                        li,
                        Link {
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
                            dialect: dialect.clone(),
                        },
                    );
                    if let Some(c) = self.conns.get_mut(&id) {
                        if let Some(e) = c.event_mut(r.event) {
                            e.link = Some(li);
                        }
                    }
                }
                Notice::SbAuth(auth) => self.link_switchboard(id, auth),
            }
        }
    }

    fn link_switchboard(&mut self, id: ConnId, auth: crate::session::SbAuth) {
        let want = if auth.verb == "USR" { "XFR SB" } else { "RNG" };
        let found = self.pending_sb.get(&(want, auth.cookie.clone())).copied().filter(|li| {
            self.links
                .get(li)
                .is_some_and(|l| l.to.is_none() && (want != "RNG" || l.session.as_deref() == auth.session.as_deref()))
        });
        if found.is_some() {
            self.pending_sb.remove(&(want, auth.cookie.clone()));
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match found {
            Some(li) => {
                let Some(l) = self.links.get_mut(&li) else { return };
                l.to = Some(LinkTo { connection: conn.id });
                l.refs += 1;
                let l = &*l;
                // The caller's user comes from the referring connection; the callee's is its own.
                let user = if want == "XFR SB" { l.user.clone() } else { Some(auth.handle.clone()) };
                conn.inherit(Role::SB, l.dialect.clone(), user, li);
            }
            None => {
                // Only a violation when that user's referrals were captured and none fits.
                let user_seen = if want == "RNG" {
                    self.rng_seen
                } else {
                    self.sb_referred_users.contains(&hash_str(&auth.handle))
                };
                conn.set_role_hint(Role::SB);
                if user_seen {
                    let v = crate::rules::Violation::new(
                        crate::rules::P007,
                        format!("{} presents a cookie that no {want} referral of this capture announced", auth.verb),
                    );
                    conn.add_violation(auth.event, v);
                }
            }
        }
    }

    /// Reads a whole capture. Returns the error that stopped reading, after reporting
    /// everything decoded before it.
    pub fn run_capture<R: Read>(&mut self, reader: &mut CaptureReader<R>, limits: Limits) -> Option<CaptureError> {
        let mut pipe = Pipeline::new(limits);
        let error = loop {
            match reader.next_packet() {
                Ok(Some(p)) => self.packet(&mut pipe, p.link, p.ts_ns, p.data, p.file_offset),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        self.summary.bytes = reader.offset();
        self.summary.input_error = error.as_ref().map(|e| e.to_string());
        self.end(pipe);
        error
    }

    /// Analyses one captured frame (from a file or a live interface).
    pub fn packet(
        &mut self,
        pipe: &mut Pipeline,
        link: crate::capture::LinkType,
        ts_ns: i64,
        data: &[u8],
        offset: u64,
    ) {
        if self.summary.packets == 0 {
            self.report.begin(ts_ns);
        }
        self.summary.packets += 1;
        if self.summary.packets % 4096 == 0 && self.progress.is_some() {
            let now = std::time::Instant::now();
            if now.duration_since(pipe.last_progress).as_millis() >= 200 {
                pipe.last_progress = now;
                let open = pipe.reasm.open_connections();
                if let Some(f) = self.progress.as_mut() {
                    f(offset, self.summary.packets, open);
                }
            }
        }
        pipe.last_ts = ts_ns;
        match net::slice(link, data) {
            Sliced::Tcp(seg) => pipe.reasm.segment(&seg, ts_ns, self),
            Sliced::Fragment(f) => {
                if let Some(d) = pipe.defrag.push(&f, ts_ns) {
                    match d.tcp() {
                        Sliced::Tcp(seg) => pipe.reasm.segment(&seg, ts_ns, self),
                        Sliced::Malformed(_) => self.summary.malformed_packets += 1,
                        _ => self.summary.non_tcp += 1,
                    }
                }
            }
            Sliced::Other | Sliced::UnsupportedLink(_) => self.summary.non_tcp += 1,
            Sliced::Malformed(_) => self.summary.malformed_packets += 1,
        }
    }

    /// Ends a packet source: every connection still open is flushed and reported.
    pub fn end(&mut self, mut pipe: Pipeline) {
        pipe.defrag.finish();
        self.summary.fragments = pipe.defrag.stats();
        pipe.reasm.finish(pipe.last_ts, self);
        self.summary.tcp = pipe.reasm.stats();
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
        self.fold_verbs();
        self.report.finish(&self.summary, Links(&self.links));
        self.summary
    }

    fn tally(&mut self, c: &Connection) {
        let s = &mut self.summary;
        s.connections += 1;
        bump(&mut s.roles, c.role.as_str());
        if let Some(u) = &c.user {
            self.users.insert(hash_str(u));
        }
        // Events were counted as they were emitted; violations found on them later now.
        for (_, v) in &c.late {
            count_violation(s, v);
        }
        for t in &c.transactions {
            tally_txn(s, t);
        }
    }
}

/// Counts one transaction's outcome and latency.
fn tally_txn(s: &mut Summary, t: &crate::session::Transaction) {
    {
        {
            if let Some(ms) = t.latency_ms {
                s.latency.add(ms);
            }
            bump(&mut s.transactions, t.outcome.as_str());
        }
    }
}

impl StreamSink for Analyzer<'_> {
    fn accept(&mut self, src: SocketAddr, dst: SocketAddr, _syn: bool) -> Accept {
        if self.known_endpoint(dst) {
            return Accept::Track { server: Some(dst) };
        }
        if self.known_endpoint(src) {
            return Accept::Track { server: Some(src) };
        }
        if self.probe_content {
            return Accept::Track { server: None };
        }
        Accept::Ignore
    }

    fn open(&mut self, info: &ConnInfo) {
        if self.known_endpoint(info.server) || self.known_endpoint(info.client) {
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

    fn gap(&mut self, id: ConnId, dir: Dir, ts_ns: i64, offset: u64, len: u64, reason: GapReason) {
        if self.probes.remove(&id).is_some() {
            // A flow whose first line was not captured cannot be recognised.
            self.dropped.insert(id);
            return;
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.gap(dir, ts_ns, offset, len, reason, &self.opts);
        }
        self.after_event(id);
    }

    fn half_close(&mut self, id: ConnId, dir: Dir, ts_ns: i64) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.half_close(dir, ts_ns, &self.opts);
        }
        self.after_event(id);
    }

    fn anomaly(&mut self, id: ConnId, dir: Dir, ts_ns: i64, anomaly: TcpAnomaly) {
        if let Some(c) = self.conns.get_mut(&id) {
            let TcpAnomaly::ConflictingRetransmission { offset, len, segment_len } = anomaly;
            let text = format!(
                "retransmission of {segment_len} bytes differs from the {len} bytes first seen at stream offset {offset}; the first version is kept"
            );
            c.tcp_anomaly(dir, ts_ns, text);
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
        self.after_event(id);
        self.rewrites.remove(&id);
        if let Some(c) = self.conns.remove(&id) {
            if let Some(d) = self.dump.as_mut() {
                d.finish_connection(c.id);
            }
            self.tally(&c);
            self.report.connection(&c, Links(&self.links));
            if self.opts.stream_events {
                self.retire_links(&c);
            }
        }
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Links held before unresolved ones whose connection ended are retired too (streaming modes).
pub const MAX_LINKS: usize = 65_536;

impl Analyzer<'_> {
    /// Streaming modes: the links at either end of `c` lose a reference; those with none left
    /// (and resolved, or beyond [`MAX_LINKS`]) are handed to the report and dropped.
    fn retire_links(&mut self, c: &Connection) {
        let mut touched = self.conn_links.remove(&c.id).unwrap_or_default();
        touched.extend(c.linked_from);
        for li in touched {
            let done = match self.links.get_mut(&li) {
                Some(l) => {
                    l.refs = l.refs.saturating_sub(1);
                    l.refs == 0 && l.to.is_some()
                }
                None => false,
            };
            if done {
                if let Some(l) = self.links.remove(&li) {
                    self.report.retired(li, &l);
                }
            }
        }
        // Referrals never followed: the oldest go once too many are held.
        while self.links.len() > MAX_LINKS {
            let Some(li) = self.links.iter().find(|(_, l)| l.refs == 0).map(|(k, _)| *k) else { break };
            if let Some(l) = self.links.remove(&li) {
                self.report.retired(li, &l);
            }
        }
    }
}

/// Hands a connection's new events to the report, counts them, and drops them when streaming.
fn emit(c: &mut Connection, s: &mut Summary, verbs: &mut [u64], report: &mut dyn Report, stream: bool) {
    if !c.settled.is_empty() {
        let settled = std::mem::take(&mut c.settled);
        for t in &settled {
            tally_txn(s, t);
            c.settled_outcomes[t.outcome.index()] += 1;
        }
        report.settled(c, &settled);
    }
    let total = c.base + c.events.len();
    if total <= c.emitted {
        return;
    }
    let from = c.emitted - c.base;
    c.emitted = total;
    for e in &c.events[from..] {
        if matches!(e.kind, crate::session::EventKind::Command | crate::session::EventKind::Error) {
            if let Some(cmd) = &e.command {
                c.counts[0] += 1;
                s.commands += 1;
                match crate::msnp::catalog::index_bytes(cmd.as_bytes()).and_then(|i| verbs.get_mut(i)) {
                    Some(n) => *n += 1,
                    None => bump(&mut s.by_command, cmd.as_str()),
                }
            }
        }
        for v in &e.violations {
            count_violation(s, v);
            c.counts[1 + v.severity as usize] += 1;
        }
    }
    report.events(c, from);
    if stream {
        c.base += c.events.len();
        c.events.clear();
    }
}

fn count_violation(s: &mut Summary, v: &crate::rules::Violation) {
    bump(&mut s.by_severity, v.severity.as_str());
    bump(&mut s.by_rule, v.rule);
}

/// Adds one to `key`'s count, allocating the key only the first time.
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// Analyses a capture held in memory into `report`, returning the summary, or the error that
/// stopped reading (after everything before it was reported).
pub fn run_on(
    capture: &[u8],
    opts: Options,
    extra_ports: &[u16],
    limits: Limits,
    report: &mut dyn Report,
) -> Result<Summary, CaptureError> {
    let mut reader = CaptureReader::new(capture)?;
    let mut analyzer = Analyzer::new(opts, extra_ports, report);
    let error = analyzer.run_capture(&mut reader, limits);
    let summary = analyzer.finish();
    error.map_or(Ok(summary), Err)
}

/// Analyses a capture held in memory and returns the JSON session document (for tests and
/// tools that want the document as a value).
pub fn analyze_to_json(
    capture: &[u8],
    opts: Options,
    extra_ports: &[u16],
    limits: Limits,
) -> Result<serde_json::Value, CaptureError> {
    let source = crate::output::json::Source { kind: "capture".into(), path: None, format: None };
    let mut out = Vec::new();
    {
        let mut report = crate::output::json::JsonReport::new(&mut out, source);
        run_on(capture, opts, extra_ports, limits, &mut report)?;
    }
    serde_json::from_slice(&out)
        .map_err(|e| CaptureError::Corrupt { offset: 0, reason: format!("internal: JSON document did not parse: {e}") })
}
