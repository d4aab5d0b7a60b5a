//! The analysis side of the proxy: one thread receives the relays' events in order and drives
//! the same [`Analyzer`] as `msntap read` (and the recorder), so the live transcript and exports
//! say exactly what reading the recording would.

use super::record::Recorder;
use super::ProxyEvent;
use crate::analysis::Analyzer;
use crate::flow::{ConnInfo, StreamSink};
use std::io::Write;
use tokio::sync::mpsc;

/// Feeds events to the analyzer (and recorder) until every sender is gone.
pub fn drive<W: Write>(
    rx: &mut mpsc::Receiver<ProxyEvent>,
    analyzer: &mut Analyzer<'_>,
    mut recorder: Option<&mut Recorder<W>>,
) {
    let mut first = true;
    // No reassembler sweeps here: referral state older than the idle timeout goes as
    // connections open, at the reassembler's cadence, so a long-running proxy's tables stay
    // bounded.
    let idle = crate::reassembly::Limits::default().idle_timeout_ns;
    let mut last_sweep = i64::MIN;
    while let Some(ev) = rx.blocking_recv() {
        if let ProxyEvent::Open { ts_ns, .. } = &ev {
            if *ts_ns > last_sweep.saturating_add(idle / 4) {
                last_sweep = *ts_ns;
                analyzer.swept(*ts_ns, idle);
            }
        }
        if let Some(r) = recorder.as_deref_mut() {
            r.record(&ev);
        }
        apply(analyzer, ev, &mut first);
    }
}

/// Applies one event to the analyzer.
pub fn apply(analyzer: &mut Analyzer<'_>, ev: ProxyEvent, first: &mut bool) {
    let ts = match &ev {
        ProxyEvent::Open { ts_ns, .. }
        | ProxyEvent::Data { ts_ns, .. }
        | ProxyEvent::HalfClose { ts_ns, .. }
        | ProxyEvent::Close { ts_ns, .. }
        | ProxyEvent::Failed { ts_ns, .. } => Some(*ts_ns),
        ProxyEvent::Rewrite { .. } => None,
    };
    if let (Some(ts), true) = (ts, *first) {
        *first = false;
        analyzer.begin(ts);
    }
    match ev {
        ProxyEvent::Open { id, client, server, ts_ns } => {
            analyzer.open(&ConnInfo {
                id,
                client,
                server,
                vlan: None,
                syn_seen: true,
                opened_ns: ts_ns,
                affinity: client.ip(),
            });
        }
        ProxyEvent::Data { id, dir, ts_ns, bytes } => analyzer.data(id, dir, ts_ns, &bytes),
        ProxyEvent::HalfClose { id, dir, ts_ns } => analyzer.half_close(id, dir, ts_ns),
        ProxyEvent::Close { id, ts_ns, how } => analyzer.close(id, ts_ns, how),
        ProxyEvent::Rewrite { id, kind, original, rewritten } => analyzer.note_rewrite(id, kind, original, rewritten),
        ProxyEvent::Failed { client, target, reason, ts_ns } => analyzer.failure(client, &target, &reason, ts_ns),
    }
}
