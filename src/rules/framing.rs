//! Framing rules (F): how lines end, what they contain, whether their code is known, and
//! whether payloads are what their length says.

use super::{truncate, Violation, F001, F002, F003, F004, F005, F006, F007, F008, F009, F010, F011};
use crate::msnp::catalog;
use crate::msnp::command::Command;
use crate::msnp::wire::{Ending, PayloadView};

/// What cut a frame short that is not the peer's fault, if anything did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Nothing: the frame is as the peer sent it, and the stream went on or really ended.
    No,
    /// Bytes missing from the capture.
    Gap,
    /// The input ended (or the flow was flushed) with the connection still open.
    End,
}

/// F003, F010 and F002 on a line as it arrived; returns the note for a line cut short by a
/// gap or by the end of the input (neither is the peer's fault). `controls`: whether the line
/// may hold control bytes ([`Command::controls`]); a CR is looked for only then.
pub fn line(raw: &[u8], ending: Ending, cut: Cut, controls: bool, v: &mut Vec<Violation>) -> Option<String> {
    let mut note = None;
    match ending {
        Ending::CrLf => {}
        Ending::Lf => v.push(Violation::new(F003, "line ends in LF without CR")),
        Ending::Missing if cut == Cut::Gap => note = Some("line cut short by missing bytes".to_string()),
        Ending::Missing if cut == Cut::End => {
            note = Some("line cut short: the connection had not ended when its reading stopped".to_string())
        }
        Ending::Missing => {
            v.push(Violation::new(F010, format!("{} bytes without CRLF at the end of the stream", raw.len())))
        }
    }
    if controls && raw.contains(&b'\r') {
        v.push(Violation::new(F002, "bare CR inside the line"));
    }
    note
}

/// F011 and F001 on a line whose code the catalog does not know.
pub fn unknown_code(verb: &str, v: &mut Vec<Violation>) {
    let upper = verb.to_ascii_uppercase();
    if verb.len() == 3 && catalog::lookup(&upper).is_some() {
        v.push(Violation::new(F011, format!("command code {verb:?} should be {upper:?}")));
    } else if verb.is_empty() {
        v.push(Violation::new(F001, "empty line"));
    } else {
        v.push(Violation::new(F001, format!("unknown command code {:?}", truncate(verb, 40))));
    }
}

/// F004: separators other than single spaces.
pub fn spacing(cmd: &Command<'_>, v: &mut Vec<Violation>) {
    if cmd.odd_spacing {
        v.push(Violation::new(F004, "parameters separated by more than one space or by tabs"));
    }
}

/// F005: a payload command whose length field is not a usable length.
pub fn bad_length(reason: &str, v: &mut Vec<Violation>) {
    v.push(Violation::new(F005, format!("MSG {reason}")));
}

/// F006, F007 and F008 on a payload; `has_blank_line` says whether its MIME header block ended.
/// A payload the end of the input cut ([`Cut::End`]) is not F006: the rest may have followed.
pub fn payload(
    verb: &str,
    from_client: bool,
    p: &PayloadView<'_>,
    has_blank_line: bool,
    cut: Cut,
    v: &mut Vec<Violation>,
) {
    if p.truncated > 0 && cut != Cut::End {
        v.push(Violation::new(F006, format!("payload declared {} bytes, {} never arrived", p.declared, p.truncated)));
    }
    if verb == "MSG" && p.complete() && !has_blank_line {
        v.push(Violation::new(F007, "payload has no header block ended by an empty line"));
    }
    if verb == "MSG" && from_client && p.declared > 1664 {
        v.push(Violation::new(F008, format!("payload of {} bytes", p.declared)));
    }
}

/// F009: a line over the limit (the violation and the event's note).
pub fn too_long(len: u64, max_line: usize) -> (Violation, String) {
    (
        Violation::new(F009, format!("line of {len} bytes exceeds the limit of {max_line} bytes")),
        format!("{len}-byte line over the limit, skipped"),
    )
}
