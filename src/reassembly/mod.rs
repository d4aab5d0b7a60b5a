//! TCP reassembly: turns segments into each direction's byte stream, in order, exactly as the
//! peer sent it, and says precisely where it could not (gaps). Knows nothing of MSNP: the
//! consumer decides which flows matter and who the server is through [`StreamSink`].
//!
//! Policy (see `docs/reassembly.md`): 32-bit sequence numbers become 64-bit stream offsets
//! relative to the initial sequence number; out-of-order data is buffered up to a limit; on
//! overlap the first data wins and differing bytes are reported; a hole becomes a gap when the
//! peer acknowledges past it, the connection ends, or the buffering limit is reached.

use crate::flow::{Accept, CloseKind, ConnId, ConnInfo, Dir, GapReason, StreamSink, TcpAnomaly};
use crate::net::Segment;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Limits that keep memory bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Out-of-order bytes buffered per direction before the hole is declared a gap.
    pub max_ooo_bytes: usize,
    /// Connections idle this long (capture time) are flushed.
    pub idle_timeout_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_ooo_bytes: 1 << 20, idle_timeout_ns: 600 * 1_000_000_000 }
    }
}

/// Counters over everything the reassembler saw.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Stats {
    /// Segments that belonged to tracked connections.
    pub segments: u64,
    /// Segments whose bytes had all been seen already.
    pub retransmissions: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order: u64,
    /// Gaps declared.
    pub gaps: u64,
    /// Bytes in gaps.
    pub gap_bytes: u64,
}

const RECENT: usize = 4096;

/// The ring's first size: a stream shorter than this never grows it again, a longer one grows
/// it once, to [`RECENT`] (a doubling list reallocated and copied it nine times per direction,
/// 4 % of a summary's time, most streams being short).
const RECENT_FIRST: usize = 512;

/// Closed flows remembered at most (the oldest half is forgotten past it).
pub const MAX_TIME_WAIT: usize = 65_536;

/// How long (capture time) a closed flow's stray packets are ignored: twice the usual MSL.
pub const TIME_WAIT_NS: i64 = 240 * 1_000_000_000;

#[derive(Debug, Default)]
struct Half {
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: usize,
    /// Offset of the FIN, once seen.
    fin_at: Option<u64>,
    /// Highest offset the peer acknowledged.
    acked: u64,
    finished: bool,
    /// The last bytes delivered, to compare retransmissions with.
    recent: Recent,
}

/// The last [`RECENT`] bytes of a stream, in a ring (remembering a segment costs its length,
/// not a shift of everything kept).
#[derive(Debug, Default)]
struct Recent {
    /// Grows to `RECENT` bytes (room for [`RECENT_FIRST`], then for all), then wraps.
    buf: Vec<u8>,
    /// Where the oldest byte is once `buf` is full (and so where the next byte goes).
    head: usize,
}

impl Recent {
    fn len(&self) -> usize {
        self.buf.len()
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }

    fn push(&mut self, mut bytes: &[u8]) {
        if bytes.len() > RECENT {
            bytes = &bytes[bytes.len() - RECENT..];
        }
        if self.buf.len() < RECENT {
            let n = (RECENT - self.buf.len()).min(bytes.len());
            let want = self.buf.len() + n;
            if want > self.buf.capacity() {
                let size = if want <= RECENT_FIRST { RECENT_FIRST } else { RECENT };
                self.buf.reserve_exact(size - self.buf.len());
            }
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        while !bytes.is_empty() {
            let n = (RECENT - self.head).min(bytes.len());
            self.buf[self.head..self.head + n].copy_from_slice(&bytes[..n]);
            self.head = (self.head + n) % RECENT;
            bytes = &bytes[n..];
        }
    }

    /// Whether the bytes from position `p` (0: the oldest kept) equal `theirs`.
    fn equals_at(&self, p: usize, theirs: &[u8]) -> bool {
        let len = self.buf.len();
        if p + theirs.len() > len {
            return false;
        }
        let start = if len < RECENT { p } else { (self.head + p) % RECENT };
        let first = (len - start).min(theirs.len());
        self.buf[start..start + first] == theirs[..first] && self.buf[..theirs.len() - first] == theirs[first..]
    }
}

impl Half {
    /// Maps a sequence number to a stream offset near `next` (may be negative: before start).
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let expected = base.wrapping_add(self.next as u32);
        let delta = seq.wrapping_sub(expected) as i32 as i64;
        Some(self.next as i64 + delta)
    }

    fn remember(&mut self, bytes: &[u8]) {
        self.recent.push(bytes);
    }

    /// Compares `bytes` (at stream offset `off`, entirely before `next`) with what was delivered.
    fn differs_from_delivered(&self, off: u64, bytes: &[u8]) -> Option<(u64, u64)> {
        let recent_start = self.next - self.recent.len() as u64;
        let a = off.max(recent_start);
        let b = (off + bytes.len() as u64).min(self.next);
        if a >= b {
            return None;
        }
        let theirs = &bytes[(a - off) as usize..(b - off) as usize];
        (!self.recent.equals_at((a - recent_start) as usize, theirs)).then_some((a, b - a))
    }
}

struct Conn {
    info: ConnInfo,
    halves: [Half; 2],
    last_ns: i64,
}

/// A flow's addresses in either direction, as one key: five words (the two addresses, as
/// IPv6 does or IPv4 widened, then both ports, the VLAN and which addresses are IPv6), so the
/// tables compare and hash it a word at a time. Keys were two `SocketAddr`s, compared part by
/// part: the comparison of each lookup was 2.5 % of a summary's time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowKey([u64; 5]);

impl PartialEq for FlowKey {
    /// All five words at once, without branches (the array's own comparison calls `memcmp`).
    fn eq(&self, o: &Self) -> bool {
        self.0.iter().zip(o.0).fold(0, |d, (a, b)| d | (a ^ b)) == 0
    }
}

impl Eq for FlowKey {}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for w in self.0 {
            h.write_u64(w);
        }
    }
}

impl FlowKey {
    /// The key of the flow between `a` and `b`, whichever sends (the two ends in one order
    /// both ways: by address, port and family).
    pub(crate) fn new(a: SocketAddr, b: SocketAddr, vlan: Option<u16>) -> Self {
        let end = |x: SocketAddr| match x.ip() {
            std::net::IpAddr::V4(v) => (u128::from(v.to_bits()), x.port(), 0u64),
            std::net::IpAddr::V6(v) => (v.to_bits(), x.port(), 1u64),
        };
        let (mut lo, mut hi) = (end(a), end(b));
        if hi < lo {
            std::mem::swap(&mut lo, &mut hi);
        }
        let vlan = vlan.map_or(0, |v| u64::from(v) | 1 << 16);
        let rest = u64::from(lo.1) | u64::from(hi.1) << 16 | vlan << 32 | lo.2 << 49 | hi.2 << 50;
        FlowKey([(lo.0 >> 64) as u64, lo.0 as u64, (hi.0 >> 64) as u64, hi.0 as u64, rest])
    }
}

/// The connection table.
pub struct Reassembler {
    conns: crate::fasthash::FastMap<FlowKey, Conn>,
    /// Flows closed by FIN or RST, with the close time: their stray ACKs and FINs are ignored
    /// (TIME-WAIT), a new SYN starts a new connection.
    closed: crate::fasthash::FastMap<FlowKey, i64>,
    /// Closed flows the consumer abandoned (a subset of `closed`).
    abandoned: std::collections::HashSet<FlowKey>,
    next_id: ConnId,
    limits: Limits,
    stats: Stats,
    last_sweep_ns: i64,
}

impl Reassembler {
    /// An empty table with the given limits.
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            conns: Default::default(),
            closed: Default::default(),
            abandoned: Default::default(),
            next_id: 1,
            limits,
            stats: Stats::default(),
            last_sweep_ns: i64::MIN,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Connections currently tracked.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Flows remembered in any way: open connections and closed flows in TIME-WAIT.
    pub fn tracked_flows(&self) -> usize {
        self.conns.len() + self.closed.len()
    }

    /// Feeds one segment captured at `ts_ns`: a new flow gets the next id, and as affinity the
    /// SYN's sender (the SYN-ACK's receiver), else the side with the higher port.
    pub fn segment(&mut self, seg: &Segment<'_>, ts_ns: i64, sink: &mut dyn StreamSink) {
        self.tick(ts_ns, sink);
        let id = self.next_id;
        self.segment_as(seg, ts_ns, id, None, sink);
    }

    /// The clock of the captured segment at `ts_ns`: connections idle past the timeout are
    /// flushed now and then. Every segment of the input ticks, whoever owns its flow (sharded
    /// analysis ticks every shard's table with every segment so that all flush at one point).
    pub fn tick(&mut self, ts_ns: i64, sink: &mut dyn StreamSink) {
        if ts_ns > self.quiet_until() {
            self.sweep(ts_ns, sink);
        }
    }

    /// The latest capture time a [`Reassembler::tick`] passes without sweeping (it moves only
    /// when a tick sweeps).
    pub fn quiet_until(&self) -> i64 {
        self.last_sweep_ns.saturating_add(self.limits.idle_timeout_ns / 4)
    }

    /// Feeds one segment without ticking the clock ([`Reassembler::tick`] comes first). A flow
    /// it starts takes `new_id` (it must exceed every id given before: flows are closed in id
    /// order) and `affinity` (by default the client side's address).
    pub fn segment_as(
        &mut self,
        seg: &Segment<'_>,
        ts_ns: i64,
        new_id: ConnId,
        affinity: Option<std::net::IpAddr>,
        sink: &mut dyn StreamSink,
    ) {
        let key = FlowKey::new(seg.src, seg.dst, seg.vlan);
        self.segment_keyed(seg, key, ts_ns, new_id, affinity, sink);
    }

    /// [`Reassembler::segment_as`] with the segment's flow key already made (the affinity
    /// table made it).
    pub(crate) fn segment_keyed(
        &mut self,
        seg: &Segment<'_>,
        key: FlowKey,
        ts_ns: i64,
        new_id: ConnId,
        affinity: Option<std::net::IpAddr>,
        sink: &mut dyn StreamSink,
    ) {
        let syn = seg.flags.has(crate::net::TcpFlags::SYN);
        let ack = seg.flags.has(crate::net::TcpFlags::ACK);

        // A SYN (not SYN-ACK) with a new ISN on a known flow whose data has started: port reuse.
        if syn && !ack {
            let reused = self.conns.get(&key).is_some_and(|c| {
                let d = dir_of(&c.info, seg.src);
                let h = &c.halves[d.index()];
                h.base != Some(seg.seq.wrapping_add(1))
                    && (h.next > 0 || c.halves[1 - d.index()].next > 0 || h.finished)
            });
            if reused {
                self.close_key(&key, ts_ns, CloseKind::Reused, sink);
            }
        }

        // One lookup for a flow tracked already (nearly every segment).
        let conn = match self.conns.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                if let Some(&closed_at) = self.closed.get(&key) {
                    let abandoned = self.abandoned.contains(&key);
                    let late = !abandoned && ts_ns.saturating_sub(closed_at) > TIME_WAIT_NS;
                    if syn || late {
                        self.closed.remove(&key);
                        self.abandoned.remove(&key);
                    } else if abandoned || (seg.payload.is_empty() && seg.missing == 0) {
                        // Abandoned flows stay ignored while packets keep coming.
                        if abandoned {
                            self.closed.insert(key, ts_ns);
                        }
                        return;
                    }
                }
                // A connection starts with a SYN or with data; a stray ACK, FIN or RST of a flow
                // not (or no longer) tracked starts nothing.
                if !syn && seg.payload.is_empty() && seg.missing == 0 {
                    return;
                }
                let affinity = affinity.unwrap_or_else(|| decide_sides(seg, syn, ack, None).0.ip());
                let server = match sink.accept(seg.src, seg.dst, syn && !ack, affinity) {
                    Accept::Ignore => return,
                    Accept::Track { server } => server,
                };
                let (client, server) = decide_sides(seg, syn, ack, server);
                let info =
                    ConnInfo { id: new_id, client, server, vlan: seg.vlan, syn_seen: syn, opened_ns: ts_ns, affinity };
                self.next_id = new_id.max(self.next_id).saturating_add(1);
                sink.open(&info);
                v.insert(Conn { info, halves: [Half::default(), Half::default()], last_ns: ts_ns })
            }
        };
        self.stats.segments += 1;
        let limits = self.limits;
        conn.last_ns = ts_ns;
        let id = conn.info.id;
        let d = dir_of(&conn.info, seg.src);

        if seg.flags.has(crate::net::TcpFlags::RST) {
            self.close_key(&key, ts_ns, CloseKind::Rst, sink);
            return;
        }

        {
            let h = &mut conn.halves[d.index()];
            if syn {
                if h.base.is_none() || (h.next == 0 && h.ooo.is_empty()) {
                    h.base = Some(seg.seq.wrapping_add(1));
                }
            } else if h.base.is_none() && (!seg.payload.is_empty() || seg.missing > 0) {
                // Picked up mid-stream: the first data seen is offset 0.
                h.base = Some(seg.seq);
            }
        }

        // Data.
        let data_seq = if syn { seg.seq.wrapping_add(1) } else { seg.seq };
        let total_len = seg.payload.len() as u64 + seg.missing as u64;
        let mut stats = self.stats;
        if total_len > 0 {
            let h = &mut conn.halves[d.index()];
            if let Some(off) = h.offset_of(data_seq) {
                deliver_segment(h, id, d, ts_ns, off, seg.payload, seg.missing, &limits, &mut stats, sink);
            }
        }
        if seg.flags.has(crate::net::TcpFlags::FIN) {
            let h = &mut conn.halves[d.index()];
            if h.base.is_none() {
                h.base = Some(data_seq);
            }
            if let Some(off) = h.offset_of(data_seq) {
                let fin = (off + total_len as i64).max(0) as u64;
                h.fin_at.get_or_insert(fin);
            }
        }
        // The ACK tells what the peer received of the other direction. A hole it passes is
        // declared a gap only when confirmed (a later ACK, or later data), since captures may
        // see an ACK before the data it acknowledges.
        if ack {
            let other = &mut conn.halves[1 - d.index()];
            if let Some(acked) = other.offset_of(seg.ack) {
                let mut acked = acked.max(0) as u64;
                if let Some(fin) = other.fin_at {
                    acked = acked.min(fin);
                }
                // Confirmed at once when the ACK also covers data buffered beyond the hole.
                let beyond = other.ooo.keys().next().is_some_and(|k| *k < acked);
                let confirmed = if beyond { acked } else { other.acked };
                other.acked = other.acked.max(acked);
                acked_gap(other, id, d.flip(), ts_ns, confirmed, &mut stats, sink);
            }
        }
        self.stats = stats;
        let mut both_done = true;
        for dir in [Dir::C2S, Dir::S2C] {
            let h = &mut conn.halves[dir.index()];
            if !h.finished && h.fin_at.is_some_and(|f| h.next >= f) {
                h.finished = true;
                sink.half_close(id, dir, ts_ns);
            }
            both_done &= h.finished;
        }
        if both_done {
            self.close_key(&key, ts_ns, CloseKind::Fin, sink);
        } else if !sink.keep(id) {
            if let Some(conn) = self.conns.remove(&key) {
                sink.close(conn.info.id, ts_ns, CloseKind::Abandoned);
                self.closed.insert(key, ts_ns);
                self.abandoned.insert(key);
            }
        }
    }

    fn close_key(&mut self, key: &FlowKey, ts_ns: i64, how: CloseKind, sink: &mut dyn StreamSink) {
        if let Some(mut conn) = self.conns.remove(key) {
            let id = conn.info.id;
            for dir in [Dir::C2S, Dir::S2C] {
                let h = &mut conn.halves[dir.index()];
                flush(h, id, dir, ts_ns, &mut self.stats, sink);
                if !h.finished && h.fin_at.is_some_and(|f| h.next >= f) {
                    h.finished = true;
                    sink.half_close(id, dir, ts_ns);
                }
            }
            sink.close(id, ts_ns, how);
            if matches!(how, CloseKind::Fin | CloseKind::Rst) {
                if self.closed.len() >= MAX_TIME_WAIT {
                    // Bounded: forget the oldest half.
                    let mut times: Vec<i64> = self.closed.values().copied().collect();
                    let mid = times.len() / 2;
                    let cut = *times.select_nth_unstable(mid).1;
                    self.closed.retain(|_, t| *t > cut);
                    let closed = &self.closed;
                    self.abandoned.retain(|k| closed.contains_key(k));
                }
                self.closed.insert(*key, ts_ns);
            }
        }
    }

    /// Flushes connections idle for longer than the timeout.
    fn sweep(&mut self, now_ns: i64, sink: &mut dyn StreamSink) {
        self.last_sweep_ns = now_ns;
        let limit = now_ns.saturating_sub(self.limits.idle_timeout_ns);
        let mut idle: Vec<(ConnId, FlowKey, i64)> =
            self.conns.iter().filter(|(_, c)| c.last_ns < limit).map(|(k, c)| (c.info.id, *k, c.last_ns)).collect();
        idle.sort_by_key(|t| t.0);
        for (_, key, last) in idle {
            self.close_key(&key, last, CloseKind::Idle, sink);
        }
        sink.swept(now_ns, self.limits.idle_timeout_ns);
        let quiet = now_ns.saturating_sub(TIME_WAIT_NS);
        self.closed.retain(|_, t| *t >= quiet);
        let closed = &self.closed;
        self.abandoned.retain(|k| closed.contains_key(k));
    }

    /// Ends the input: every connection still tracked is flushed and closed as `Open`.
    pub fn finish(&mut self, ts_ns: i64, sink: &mut dyn StreamSink) {
        let mut all: Vec<(ConnId, FlowKey)> = self.conns.iter().map(|(k, c)| (c.info.id, *k)).collect();
        all.sort_by_key(|t| t.0);
        for (_, key) in all {
            let last = self.conns.get(&key).map_or(ts_ns, |c| c.last_ns);
            self.close_key(&key, last, CloseKind::Open, sink);
        }
    }
}

fn dir_of(info: &ConnInfo, src: SocketAddr) -> Dir {
    if src == info.client {
        Dir::C2S
    } else {
        Dir::S2C
    }
}

fn decide_sides(seg: &Segment<'_>, syn: bool, ack: bool, hint: Option<SocketAddr>) -> (SocketAddr, SocketAddr) {
    if syn && !ack {
        return (seg.src, seg.dst);
    }
    if syn && ack {
        return (seg.dst, seg.src);
    }
    if let Some(server) = hint {
        if server == seg.src {
            return (seg.dst, seg.src);
        }
        if server == seg.dst {
            return (seg.src, seg.dst);
        }
    }
    // Ephemeral client ports are usually higher than service ports.
    if seg.src.port() < seg.dst.port() {
        (seg.dst, seg.src)
    } else {
        (seg.src, seg.dst)
    }
}

/// Declares the hole before `acked` (an offset the peer acknowledged earlier) a gap.
fn acked_gap(h: &mut Half, id: ConnId, dir: Dir, ts_ns: i64, acked: u64, stats: &mut Stats, sink: &mut dyn StreamSink) {
    if acked <= h.next {
        return;
    }
    let until = h.ooo.keys().next().copied().map_or(acked, |k| k.min(acked));
    if until > h.next {
        declare_gap(h, id, dir, ts_ns, until, GapReason::Acked, stats, sink);
        drain(h, id, dir, ts_ns, sink);
    }
}

#[allow(clippy::too_many_arguments)]
fn deliver_segment(
    h: &mut Half,
    id: ConnId,
    dir: Dir,
    ts_ns: i64,
    off: i64,
    payload: &[u8],
    missing: u32,
    limits: &Limits,
    stats: &mut Stats,
    sink: &mut dyn StreamSink,
) {
    // Bytes before the stream start cannot be placed.
    let (mut off, mut payload) = if off < 0 {
        let cut = (-off) as u64;
        if cut >= payload.len() as u64 {
            return;
        }
        (0u64, &payload[cut as usize..])
    } else {
        (off as u64, payload)
    };
    let end = off + payload.len() as u64;
    if off < h.next {
        // Overlaps what was delivered: first data wins; report differing bytes.
        if let Some((at, len)) = h.differs_from_delivered(off, payload) {
            sink.anomaly(
                id,
                dir,
                ts_ns,
                TcpAnomaly::ConflictingRetransmission { offset: at, len, segment_len: payload.len() as u64 },
            );
        }
        if end <= h.next {
            if missing == 0 || end + missing as u64 <= h.next {
                stats.retransmissions += 1;
                return;
            }
            payload = &[];
            off = end;
        } else {
            payload = &payload[(h.next - off) as usize..];
            off = h.next;
        }
    }
    if off == h.next {
        if !payload.is_empty() {
            // The new bytes may overlap data already buffered out of order: that data was first.
            let cut = h.ooo.keys().next().copied().filter(|k| *k < off + payload.len() as u64);
            if let Some(k) = cut {
                let keep = (k - off) as usize;
                insert_ooo(h, id, dir, ts_ns, off + keep as u64, &payload[keep..], sink);
                payload = &payload[..keep];
            }
            deliver(h, id, dir, ts_ns, payload, sink);
        }
        if missing > 0 && h.ooo.keys().next().is_none_or(|k| *k >= h.next) {
            let until = h.next + missing as u64;
            let until = h.ooo.keys().next().map_or(until, |k| (*k).min(until));
            declare_gap(h, id, dir, ts_ns, until, GapReason::Snaplen, stats, sink);
        }
        drain(h, id, dir, ts_ns, sink);
    } else {
        stats.out_of_order += 1;
        insert_ooo(h, id, dir, ts_ns, off, payload, sink);
        let acked = h.acked;
        acked_gap(h, id, dir, ts_ns, acked, stats, sink);
        if h.ooo_bytes > limits.max_ooo_bytes {
            if let Some(first) = h.ooo.keys().next().copied() {
                declare_gap(h, id, dir, ts_ns, first, GapReason::BufferLimit, stats, sink);
                drain(h, id, dir, ts_ns, sink);
            }
        }
    }
}

fn deliver(h: &mut Half, id: ConnId, dir: Dir, ts_ns: i64, bytes: &[u8], sink: &mut dyn StreamSink) {
    if bytes.is_empty() {
        return;
    }
    sink.data(id, dir, ts_ns, bytes);
    h.remember(bytes);
    h.next += bytes.len() as u64;
}

/// Buffers out-of-order bytes, keeping what was buffered first where ranges overlap.
fn insert_ooo(h: &mut Half, id: ConnId, dir: Dir, ts_ns: i64, off: u64, bytes: &[u8], sink: &mut dyn StreamSink) {
    if bytes.is_empty() {
        return;
    }
    let end = off + bytes.len() as u64;
    let mut pieces: Vec<(u64, u64)> = Vec::new();
    let mut pos = off;
    let before = h.ooo.range(..off).next_back().map(|(k, v)| (*k, *k + v.len() as u64));
    let overlapping: Vec<(u64, u64)> =
        before.into_iter().chain(h.ooo.range(off..end).map(|(k, v)| (*k, *k + v.len() as u64))).collect();
    for (cs, ce) in overlapping {
        if ce <= pos {
            continue;
        }
        if cs > pos {
            pieces.push((pos, cs.min(end)));
        }
        let (a, b) = (cs.max(pos), ce.min(end));
        if a < b {
            if let Some(chunk) = h.ooo.get(&cs) {
                let mine = &chunk[(a - cs) as usize..(b - cs) as usize];
                let theirs = &bytes[(a - off) as usize..(b - off) as usize];
                if mine != theirs {
                    sink.anomaly(
                        id,
                        dir,
                        ts_ns,
                        TcpAnomaly::ConflictingRetransmission {
                            offset: a,
                            len: b - a,
                            segment_len: bytes.len() as u64,
                        },
                    );
                }
            }
        }
        pos = pos.max(ce);
        if pos >= end {
            break;
        }
    }
    if pos < end {
        pieces.push((pos, end));
    }
    for (a, b) in pieces {
        h.ooo_bytes += (b - a) as usize;
        h.ooo.insert(a, bytes[(a - off) as usize..(b - off) as usize].to_vec());
    }
}

/// Delivers buffered chunks that have become contiguous.
fn drain(h: &mut Half, id: ConnId, dir: Dir, ts_ns: i64, sink: &mut dyn StreamSink) {
    while let Some((&k, _)) = h.ooo.iter().next() {
        if k > h.next {
            break;
        }
        let Some(chunk) = h.ooo.remove(&k) else {
            break;
        };
        h.ooo_bytes -= chunk.len();
        let end = k + chunk.len() as u64;
        if end > h.next {
            let skip = (h.next - k) as usize;
            deliver(h, id, dir, ts_ns, &chunk[skip..], sink);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn declare_gap(
    h: &mut Half,
    id: ConnId,
    dir: Dir,
    ts_ns: i64,
    until: u64,
    reason: GapReason,
    stats: &mut Stats,
    sink: &mut dyn StreamSink,
) {
    if until <= h.next {
        return;
    }
    let len = until - h.next;
    sink.gap(id, dir, ts_ns, h.next, len, reason);
    stats.gaps += 1;
    stats.gap_bytes += len;
    h.next = until;
    h.recent.clear();
}

/// At close: every remaining hole is a gap and every buffered byte is delivered.
fn flush(h: &mut Half, id: ConnId, dir: Dir, ts_ns: i64, stats: &mut Stats, sink: &mut dyn StreamSink) {
    while let Some(first) = h.ooo.keys().next().copied() {
        declare_gap(h, id, dir, ts_ns, first, GapReason::Closed, stats, sink);
        drain(h, id, dir, ts_ns, sink);
    }
    if let Some(fin) = h.fin_at {
        declare_gap(h, id, dir, ts_ns, fin, GapReason::Closed, stats, sink);
    }
}

#[cfg(test)]
mod tests;
