//! What follows a command line: nothing, or a payload of the length the line declares. Decided
//! by the form of the line in the connection's dialect, never by "the last token is a number"
//! alone: `QRY 7` from a server ends there, `ADL 5 OK` carries nothing, `UUX 5 0` an empty
//! payload, and from MSNP13 an error line `241 5 70` carries 70 bytes of XML.

use super::catalog::{self, Kind, Side};
use super::dialect::{Dialect, Dialects};

/// What follows a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follows {
    /// The next line.
    Nothing,
    /// A payload of this many bytes.
    Payload(u64),
    /// A MSG whose length field is not a usable length (nothing is consumed).
    BadLength(String),
}

/// Whether a line starting with `verb` may carry a payload at all (the cheap test before
/// [`follows`]): a verb with a payload form, or an error code.
#[inline]
pub fn may_carry_payload(verb: &[u8]) -> bool {
    static TABLE: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    match verb {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => true,
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z', c @ b'A'..=b'Z'] => {
            let table = TABLE.get_or_init(|| {
                let mut t = vec![false; 26 * 26 * 26];
                for s in catalog::all().iter().filter(|s| s.forms.iter().any(|f| f.payload)) {
                    if let [x, y, z] = s.verb.as_bytes() {
                        t[((x - b'A') as usize * 26 + (y - b'A') as usize) * 26 + (z - b'A') as usize] = true;
                    }
                }
                t
            });
            table[((a - b'A') as usize * 26 + (b - b'A') as usize) * 26 + (c - b'A') as usize]
        }
        _ => false,
    }
}

/// What follows `line` (without its ending) sent by `side` (`None`: either side) in a
/// connection whose dialect is one of `span`; lengths over `max_payload` are not trusted.
pub fn follows(line: &[u8], side: Option<Side>, span: Dialects, max_payload: u64) -> Follows {
    let length = |t: &str| -> Result<u64, String> {
        if !t.bytes().all(|b| b.is_ascii_digit()) || t.is_empty() {
            return Err(format!("length {t:?} is not a decimal number"));
        }
        match super::params::decimal(t) {
            Some(n) if n <= max_payload => Ok(n),
            Some(n) => Err(format!("length {n} exceeds the limit of {max_payload}")),
            None => Err("length does not fit in 64 bits".to_string()),
        }
    };
    let sep = |b: &u8| *b == b' ' || *b == b'\t';
    if let Some(rest) = line.strip_prefix(b"MSG").filter(|r| r.first().is_none_or(sep)) {
        // Every form of MSG ends in its length (found by byte, from the end: MSG is every other
        // line). `rest` is empty or starts with a separator, so a last token is never "MSG".
        let Some(end) = rest.iter().rposition(|b| !sep(b)) else {
            return Follows::BadLength("no length parameter".to_string());
        };
        let start = rest[..end].iter().rposition(sep).map_or(0, |i| i + 1);
        return match std::str::from_utf8(&rest[start..=end]) {
            Ok(last) => match length(last) {
                Ok(n) => Follows::Payload(n),
                Err(reason) => Follows::BadLength(reason),
            },
            Err(_) => Follows::BadLength("length is not a decimal number".to_string()),
        };
    }
    let Ok(text) = std::str::from_utf8(line) else { return Follows::Nothing };
    let mut split = text.split([' ', '\t']).filter(|t| !t.is_empty());
    let verb = split.next().unwrap_or("");
    let rest: Vec<&str> = split.collect();
    let rest = rest.as_slice();
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if verb.len() == 3 && digits(verb) {
        // `nnn TrID length` from MSNP13 (ADL, RML and FQY errors with the offending XML).
        let late = span.high >= Dialect::P13 && side != Some(Side::Client);
        return match rest {
            [trid, len] if late && digits(trid) => length(len).map_or(Follows::Nothing, Follows::Payload),
            _ => Follows::Nothing,
        };
    }
    let Some(spec) = catalog::lookup(verb) else { return Follows::Nothing };
    let sides: &[Side] = match side {
        Some(Side::Client) => &[Side::Client],
        Some(Side::Server) => &[Side::Server],
        None => &[Side::Client, Side::Server],
    };
    for &s in sides {
        let reading = catalog::read(spec, s, span, rest).or_else(|| catalog::read(spec, s, Dialects::ALL, rest));
        let Some(r) = reading else { continue };
        let form = r.form;
        if !form.payload {
            continue;
        }
        let args = if form.trid { rest.get(1..).unwrap_or(&[]) } else { rest };
        // The length is the last parameter, when the line has it.
        let present = match form.params.last() {
            Some(p) if p.kind == Kind::Rest => !args.is_empty(),
            Some(p) if p.kind == Kind::Length => args.len() == form.params.len(),
            _ => false,
        };
        if present {
            if let Some(Ok(n)) = args.last().map(|t| length(t)) {
                return Follows::Payload(n);
            }
        }
    }
    Follows::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msnp::dialect::{from, only};

    fn f(line: &str, side: Side, span: Dialects) -> Follows {
        follows(line.as_bytes(), Some(side), span, 1 << 20)
    }

    #[test]
    fn payloads_by_form_and_dialect() {
        let any = Dialects::ALL;
        assert_eq!(f("MSG 4 N 12", Side::Client, any), Follows::Payload(12));
        assert_eq!(f("MSG Hotmail Hotmail 94", Side::Server, any), Follows::Payload(94));
        assert!(matches!(f("MSG 4 N x", Side::Client, any), Follows::BadLength(_)));
        // QRY: the client's carries 32 bytes, the server's answer nothing.
        assert_eq!(f("QRY 7 PROD0090YUAUV{2B 32", Side::Client, any), Follows::Payload(32));
        assert_eq!(f("QRY 7", Side::Server, any), Follows::Nothing);
        // ADL: a length from the client, OK or a length from the server.
        assert_eq!(f("ADL 5 57", Side::Client, any), Follows::Payload(57));
        assert_eq!(f("ADL 5 OK", Side::Server, any), Follows::Nothing);
        assert_eq!(f("ADL 0 60", Side::Server, any), Follows::Payload(60));
        // UUX: the server's reply may carry an empty payload or none.
        assert_eq!(f("UUX 11 0", Side::Server, any), Follows::Payload(0));
        assert_eq!(f("UUX 11", Side::Server, any), Follows::Nothing);
        // GCF: the MSNP11 request names a file; the answer carries it.
        assert_eq!(f("GCF 9 Shields.xml", Side::Client, any), Follows::Nothing);
        assert_eq!(f("GCF 9 Shields.xml 145", Side::Server, any), Follows::Payload(145));
        assert_eq!(f("GCF 0 1187", Side::Server, from(Dialect::P13)), Follows::Payload(1187));
        assert_eq!(f("UBX bob@x.com 61", Side::Server, any), Follows::Payload(61));
        assert_eq!(f("UBX 1:bob@x.com 0", Side::Server, any), Follows::Payload(0));
        assert_eq!(f("NOT 300", Side::Server, any), Follows::Payload(300));
        // Lines whose last token is a number but carry nothing.
        for l in ["CHL 0 11111111111111111111", "QNG 60", "XFR 0 NS 0", "LST bob@x.com Bob 11 0", "ILN 9 NLN b@x B 0"] {
            assert_eq!(f(l, Side::Server, any), Follows::Nothing, "{l}");
        }
        // Error payloads exist from MSNP13 only.
        assert_eq!(f("241 5 70", Side::Server, from(Dialect::P13)), Follows::Payload(70));
        assert_eq!(f("241 5 70", Side::Server, only(Dialect::P8)), Follows::Nothing);
        assert_eq!(f("911 5", Side::Server, any), Follows::Nothing);
    }

    /// MSG's length as the token splitting found it before the search from the end.
    fn msg_length_by_tokens(line: &[u8]) -> Follows {
        let sep = |b: &u8| *b == b' ' || *b == b'\t';
        let mut tokens = line.split(sep).filter(|t| !t.is_empty());
        tokens.next();
        match tokens.next_back().map(std::str::from_utf8) {
            Some(Ok(last)) => match last.parse::<u64>() {
                Ok(n) if last.bytes().all(|b| b.is_ascii_digit()) && n <= 1 << 20 => Follows::Payload(n),
                _ => Follows::BadLength(String::new()),
            },
            Some(Err(_)) => Follows::BadLength(String::new()),
            None => Follows::BadLength(String::new()),
        }
    }

    proptest::proptest! {
        /// The search from the end finds MSG's last token, as splitting the line into tokens did.
        #[test]
        fn msg_lengths_are_the_last_token(parts in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(&b" "[..]), proptest::strategy::Just(&b"\t"[..]), proptest::strategy::Just(&b"12"[..]),
            proptest::strategy::Just(&b"N"[..]), proptest::strategy::Just(&b"\xff"[..]), proptest::strategy::Just(&b"x"[..]),
            proptest::strategy::Just(&b"99999999999999999999"[..]),
        ], 0..8)) {
            // The verb ends at a separator or the line's end ("MSG12" is not MSG).
            let first: &[u8] = match parts.first() {
                Some(p) if !matches!(p.first(), Some(b' ' | b'\t')) => b" ",
                _ => b"",
            };
            let line = [&b"MSG"[..], first, &parts.concat()].concat();
            let (got, want) = (follows(&line, None, Dialects::ALL, 1 << 20), msg_length_by_tokens(&line));
            match (&got, &want) {
                (Follows::BadLength(_), Follows::BadLength(_)) => {}
                _ => proptest::prop_assert_eq!(got, want, "{:?}", line),
            }
        }
    }

    #[test]
    fn the_cheap_test_lets_every_payload_verb_through() {
        for v in [
            "MSG", "NOT", "QRY", "UUX", "UBX", "GCF", "ADL", "RML", "FQY", "UUN", "UBN", "PAG", "PGD", "IPG", "SDC",
            "241",
        ] {
            assert!(may_carry_payload(v.as_bytes()), "{v}");
        }
        for v in ["VER", "USR", "LST", "CHL", "QNG"] {
            assert!(!may_carry_payload(v.as_bytes()), "{v}");
        }
    }
}
