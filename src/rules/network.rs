//! Network rules (N): what the capture or TCP did to the stream: missing bytes, conflicting
//! retransmissions, connections picked up mid-stream, bytes skipped to resynchronise.

use super::{Violation, N001, N002, N003, N004};
use crate::flow::{GapReason, TcpAnomaly};

/// N001: bytes missing from the stream (the violation and the event's note).
pub fn gap(offset: u64, len: u64, reason: GapReason) -> (Violation, String) {
    let why = match reason {
        GapReason::Acked => "acknowledged by the peer but not captured",
        GapReason::Closed => "never captured before the connection ended",
        GapReason::BufferLimit => "hole left when the out-of-order buffer limit was reached",
        GapReason::Snaplen => "cut off by the capture's snap length",
        GapReason::Fragment => "in an IP fragment that could not be reassembled",
    };
    (
        Violation::new(N001, format!("{len} bytes at stream offset {offset} missing: {why}")),
        format!("{len} bytes missing ({why})"),
    )
}

/// N002: a TCP anomaly (the violation and its text).
pub fn anomaly(anomaly: TcpAnomaly) -> (Violation, String) {
    let TcpAnomaly::ConflictingRetransmission { offset, len, segment_len } = anomaly;
    let text = format!(
        "retransmission of {segment_len} bytes differs from the {len} bytes first seen at stream offset {offset}; the first version is kept"
    );
    (Violation::new(N002, text.clone()), text)
}

/// N003: the connection's start was not captured (the violation and the event's note).
pub fn mid_stream() -> (Violation, String) {
    (
        Violation::new(N003, "the connection's start was not captured"),
        "picked up mid-stream: the start was not captured".into(),
    )
}

/// N004: bytes skipped after a gap (the violation and the event's note).
pub fn resync(len: u64) -> (Violation, String) {
    (
        Violation::new(N004, format!("{len} bytes skipped after a gap until a command line")),
        format!("{len} bytes skipped to resynchronise"),
    )
}
