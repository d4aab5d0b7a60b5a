//! The content probe: flows on no known port are held until their first line says whether
//! they are MSNP (a VER, a switchboard USR or ANS, or an MD5 login).

use crate::flow::ConnInfo;

/// A flow being probed: its first bytes in each direction.
pub(super) struct Probe {
    pub(super) info: ConnInfo,
    pub(super) bufs: [Vec<u8>; 2],
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
