//! Transaction rules (T): TrIDs, and whether each server line answers the request it names.
//! The session pairs requests with responses; these functions judge what it found.

use super::{
    truncate, Checker, Context, Violation, S017, S018, T001, T002, T003, T004, T005, T006, T007, T008, T009, T010,
};
use crate::msnp::auth;
use crate::msnp::catalog;
use crate::msnp::command::Command;
use crate::msnp::verbs::{CHL, QRY};
use crate::msnp::Role;

/// T001: a TrID slot holding no valid TrID, or a command with a slot and no TrID.
pub fn trid(cmd: &Command<'_>, known: bool, v: &mut Vec<Violation>) {
    if let Some(bad) = cmd.bad_trid {
        v.push(Violation::new(T001, format!("TrID {:?} is not a decimal from 0 to 4294967295", truncate(bad, 40))));
    } else if known && cmd.error.is_none() && cmd.trid.is_none() && cmd.trid_slot {
        v.push(Violation::new(T001, format!("{} needs a TrID", cmd.verb)));
    }
}

/// T003 and T002 on a new request: TrID 0, or a TrID still open. `open` is the request that
/// holds the TrID now, with whether it still waits for its answer.
pub fn request(verb: &str, trid: u32, open: Option<(&str, bool)>, v: &mut Vec<Violation>) {
    if trid == 0 {
        v.push(Violation::new(T003, format!("{verb} 0")));
    }
    if let Some((old, true)) = open {
        v.push(Violation::new(T002, format!("TrID {trid} reused by {verb} while {old} {trid} is unanswered")));
    }
}

/// T009: a QNG with no PNG to answer.
pub fn pong_without_ping(v: &mut Vec<Violation>) {
    v.push(Violation::new(T009, "QNG with no PNG outstanding"));
}

/// T004: a server line whose TrID matches no request (TrID 0 is the unsolicited form).
pub fn unmatched(verb: &str, trid: u32, v: &mut Vec<Violation>) {
    if trid != 0 {
        v.push(Violation::new(T004, format!("{verb} {trid} answers no request")));
    }
}

/// T005: whether `verb` can answer `request` (errors answer anything); reports it when not,
/// except on TrID 0, which unsolicited lines carry.
pub fn fits(request: &str, verb: &str, is_error: bool, trid: u32, role: Role, v: &mut Vec<Violation>) -> bool {
    if is_error || catalog::compatible(request, verb, role) {
        return true;
    }
    if trid != 0 {
        v.push(Violation::new(T005, format!("{verb} {trid} cannot answer {request} {trid}")));
    }
    false
}

/// T008: an ACK or NAK that the MSG's ack mode forbids.
pub fn ack_mode(verb: &str, trid: u32, mode: Option<char>, v: &mut Vec<Violation>) {
    let bad = match verb {
        "ACK" => matches!(mode, Some('U') | Some('N')),
        "NAK" => mode == Some('U'),
        _ => false,
    };
    if bad {
        v.push(Violation::new(T008, format!("{verb} answers MSG {trid} with ack mode {}", mode.unwrap_or('?'))));
    }
}

/// T007 or T006: a request never answered; `why` ends the message ("before the connection
/// ended (fin)", ...).
pub fn unanswered(label: &str, ack_mode: Option<char>, why: &str) -> Violation {
    if ack_mode == Some('A') {
        Violation::new(T007, format!("{label} (ack mode A) was never acknowledged"))
    } else {
        Violation::new(T006, format!("{label} got no response{why}"))
    }
}

impl Checker {
    /// The server's challenge (CHL) and the client's answer (QRY): T010 when a challenge is
    /// left unanswered, S017 when the answer is malformed, S018 when it is wrong for a public
    /// product key.
    pub(super) fn challenge_response(
        &mut self,
        cx: &Context<'_>,
        cmd: &Command<'_>,
        idx: usize,
        payload: Option<&[u8]>,
        v: &mut Vec<Violation>,
    ) {
        if !matches!(cmd.code, CHL | QRY) || !cx.applies(T010) {
            return;
        }
        match (cmd.code, cx.from_client) {
            (CHL, false) => {
                if let Some((event, text)) = self.chl.take() {
                    self.late.push((event, Violation::new(T010, format!("CHL {text} got no QRY before the next CHL"))));
                }
                if let Some(c) = cmd.args.first() {
                    self.chl = Some((idx, c.to_string()));
                }
            }
            (QRY, true) => {
                let challenge = self.chl.take().map(|(_, c)| c);
                let product = cmd.args.first().copied().unwrap_or("");
                let response = payload.unwrap_or(&[]);
                let hex =
                    response.len() == 32 && response.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
                if product.is_empty() || !hex {
                    v.push(Violation::new(
                        S017,
                        format!("product id {:?}, response of {} bytes", truncate(product, 40), response.len()),
                    ));
                } else if let (Some(ch), true) = (challenge, cx.applies(S018)) {
                    if let Some(want) = auth::qry_response(&ch, product) {
                        if want.as_bytes() != response {
                            v.push(Violation::new(S018, format!("response for {product} does not answer CHL {ch}")));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
