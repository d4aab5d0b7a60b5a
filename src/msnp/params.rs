//! Parameters: what each argument of a command form is called, which ones hold secrets, and
//! the syntax of values (handles, friendly names, states) as the draft defines them.

use super::scan::{find_byte, or_classes};

/// Whether `s` is one of the states a user can be in ([D §7.7]). Compared as three bytes: this
/// runs for every presence line.
pub fn is_state(s: &str) -> bool {
    <[u8; 3]>::try_from(s.as_bytes())
        .is_ok_and(|b| matches!(&b, b"NLN" | b"FLN" | b"HDN" | b"BSY" | b"IDL" | b"BRB" | b"AWY" | b"PHN" | b"LUN"))
}

/// Whether `s` is a phone contact (`tel:+15551234`, MSNP13+) rather than a handle.
pub fn is_phone(s: &str) -> bool {
    s.as_bytes().first_chunk::<4>() == Some(b"tel:")
}

/// `s` as a decimal, exactly as `s.parse::<u64>().ok()` reads it. Up to 19 plain digits
/// (which cannot overflow) are folded here: every MSG length and SYN batch count comes here,
/// and std's parser, with its signs and overflow checks, took more instructions. (TrIDs, which
/// take no sign, are read by [`super::command::parse_trid`].)
#[inline]
pub fn decimal(s: &str) -> Option<u64> {
    digits_value(s.as_bytes()).or_else(|| s.parse().ok())
}

/// The value of 1 to 19 ASCII digits, in one pass (`None` for anything else: empty, longer,
/// or any other byte). Nineteen digits cannot overflow a `u64`.
#[inline]
pub(crate) fn digits_value(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

/// Whether `h` ends with `@hotmail.com`, ignoring ASCII case (rule S002 asks it of every
/// valid handle). The twelve bytes are compared as two words: each letter with its case bit
/// (0x20) set, so that either case matches, and `@` and `.` exactly (with that bit set, other
/// bytes would match them). A byte at a time, this took 7 of 510 M instructions of a summary.
pub fn is_hotmail(h: &str) -> bool {
    const CASE: u8 = 0x20;
    const WANT_HEAD: u64 = u64::from_le_bytes(*b"@hotmail");
    const CASE_HEAD: u64 = u64::from_le_bytes([0, CASE, CASE, CASE, CASE, CASE, CASE, CASE]);
    const WANT_TAIL: u32 = u32::from_le_bytes(*b".com");
    const CASE_TAIL: u32 = u32::from_le_bytes([0, CASE, CASE, CASE]);
    let Some(suffix) = h.as_bytes().last_chunk::<12>() else { return false };
    let (Some(head), Some(tail)) = (suffix.first_chunk::<8>(), suffix.last_chunk::<4>()) else { return false };
    u64::from_le_bytes(*head) | CASE_HEAD == WANT_HEAD && u32::from_le_bytes(*tail) | CASE_TAIL == WANT_TAIL
}

/// Byte classes of a handle's parts, as lookup tables (every handle of every line goes through
/// them): `BAD` for a byte the part may not hold, `DOT` for the dot of a domain, 0 otherwise.
const DOT: u8 = 1;
const BAD: u8 = 2;

/// The classes of a part that holds ASCII letters, digits and `extra`.
const fn part_classes(extra: &[u8]) -> [u8; 256] {
    let mut t = [BAD; 256];
    let mut c = 0;
    while c < 256 {
        if (c as u8).is_ascii_alphanumeric() {
            t[c] = 0;
        }
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = 0;
        i += 1;
    }
    t
}
const LOCAL_CLASS: [u8; 256] = part_classes(b"._-+!#$&'*/=?^`{|}~");
const DOMAIN_CLASS: [u8; 256] = {
    let mut t = part_classes(b"-");
    t[b'.' as usize] = DOT;
    t
};

/// Whether `h` is a syntactically valid handle ([D §5.4]): a local part of the bytes it may
/// hold, the `@` (which neither part holds, so the first is the one), a domain of the bytes it
/// may hold with a dot, not first or last. Whole words at a time (every handle of every line
/// comes here: a byte at a time, this took 177 instructions a handle).
pub fn valid_handle(h: &str) -> bool {
    let b = h.as_bytes();
    if b.is_empty() || b.len() > 129 {
        return false;
    }
    let Some(at) = find_byte(b, b'@') else { return false };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    if local.is_empty() || or_classes(local, &LOCAL_CLASS) != 0 {
        return false;
    }
    let (Some(first), Some(last)) = (domain.first(), domain.last()) else { return false };
    if *first == b'.' || *last == b'.' {
        return false;
    }
    or_classes(domain, &DOMAIN_CLASS) == DOT
}

/// Checks a URL-encoded friendly name ([D §5.5]); `Err` says what is wrong.
pub fn check_friendly_name(raw: &str) -> Result<(), String> {
    const MAX: usize = 387;
    if raw.len() > MAX {
        return Err(format!("encoded length {} exceeds {MAX}", raw.len()));
    }
    let b = raw.as_bytes();
    // One pass for the usual case: escapes well formed, each decoding to ASCII. The name is
    // UTF-8 already and an escape is ASCII, so an ASCII byte in place of each escape leaves it
    // UTF-8: only escapes of bytes from 0x80 up need the name decoded.
    let mut i = 0;
    let mut ascii = true;
    while let Some(k) = b.get(i..).and_then(|rest| find_byte(rest, b'%')) {
        i += k;
        match (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (Some(h), Some(_)) => ascii &= h < 8,
            _ => return Err(format!("invalid %-escape at byte {i}")),
        }
        i += 3;
    }
    if ascii {
        return Ok(());
    }
    // Most names are short: a small buffer spares clearing the large one.
    if b.len() <= 64 {
        decodes_to_utf8::<64>(b)
    } else {
        decodes_to_utf8::<MAX>(b)
    }
}

/// The value of a hexadecimal digit.
fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Whether `%`-decoding `b` (at most `N` bytes) gives UTF-8. Decoded on the stack (never
/// longer than the encoded form): no allocation.
fn decodes_to_utf8<const N: usize>(b: &[u8]) -> Result<(), String> {
    let mut decoded = [0u8; N];
    let mut n = 0;
    let mut i = 0;
    while i < b.len() && n < N {
        let c = if b[i] == b'%' {
            match (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    i += 3;
                    h * 16 + l
                }
                _ => return Err(format!("invalid %-escape at byte {i}")),
            }
        } else {
            i += 1;
            b[i - 1]
        };
        decoded[n] = c;
        n += 1;
    }
    std::str::from_utf8(&decoded[..n]).map(|_| ()).map_err(|_| "decodes to invalid UTF-8".to_string())
}

/// Argument positions that hold secrets (at most two).
#[derive(Debug, Clone, Copy, Default)]
pub struct Secrets(pub [Option<usize>; 2]);

impl Secrets {
    /// Only argument `i`.
    pub fn one(i: usize) -> Self {
        Secrets([Some(i), None])
    }

    /// Whether argument `i` is a secret.
    pub fn contains(&self, i: usize) -> bool {
        self.0.contains(&Some(i))
    }

    /// The positions, in order.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().flatten().copied()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0 == [None, None]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `s` ends with `suffix`, ignoring ASCII case, a byte at a time.
    fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
        s.len() >= suffix.len() && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    }

    #[test]
    fn friendly_names_are_url_encoded_utf8() {
        assert!(check_friendly_name("Alice%20Liddell").is_ok());
        assert!(check_friendly_name("Carol%20%E2%98%83").is_ok());
        assert!(check_friendly_name(&"%41".repeat(129)).is_ok());
        assert!(check_friendly_name("Bob%ZZ").unwrap_err().contains("escape"));
        assert!(check_friendly_name("Bob%2").unwrap_err().contains("escape"));
        // Raw UTF-8 decodes to itself (real MSNP11 servers sent names so; S023 flags it in MSNP2).
        assert!(check_friendly_name("B\u{e9}b").is_ok());
        assert!(check_friendly_name("%E9").unwrap_err().contains("UTF-8"));
        assert!(check_friendly_name(&format!("{}%E9", "a".repeat(70))).unwrap_err().contains("UTF-8"));
        assert!(check_friendly_name(&"a".repeat(388)).unwrap_err().contains("387"));
        assert!(is_state("NLN") && !is_state("NL") && !is_state("XYZ"));
        assert!(is_phone("tel:+1555") && !is_phone("tel") && !is_phone("bob@x.com"));
        assert!(valid_handle("a.b+c@x-y.com") && !valid_handle("a@b") && !valid_handle("a b@x.com"));
    }

    /// The rule as [D §5.4] words it, one condition at a time (what `valid_handle` did before
    /// it took one pass).
    fn valid_handle_by_parts(h: &str) -> bool {
        let b = h.as_bytes();
        let Some(at) = b.iter().position(|c| *c == b'@') else { return false };
        let (local, domain) = (&b[..at], &b[at + 1..]);
        !h.is_empty()
            && h.len() <= 129
            && !local.is_empty()
            && !domain.is_empty()
            && domain.contains(&b'.')
            && domain[0] != b'.'
            && domain[domain.len() - 1] != b'.'
            && local.iter().all(|c| c.is_ascii_alphanumeric() || b"._-+!#$&'*/=?^`{|}~".contains(c))
            && domain.iter().all(|c| c.is_ascii_alphanumeric() || b".-".contains(c))
    }

    proptest::proptest! {
        /// The folded decimal reads what std's parser reads: digits of every length (20 digits
        /// past `u64::MAX` too), signs, and anything else.
        #[test]
        fn decimals_read_as_std_parses(s in "[+-]?[0-9]{0,22}|[0-9+ a-z:/]{0,6}", n in proptest::prelude::any::<u64>()) {
            proptest::prop_assert_eq!(decimal(&s), s.parse::<u64>().ok(), "{:?}", s);
            proptest::prop_assert_eq!(decimal(&n.to_string()), Some(n));
        }

        /// The one pass over a friendly name (plain words skipped eight bytes at a time) says
        /// what decoding the whole name says: the same error, or none.
        #[test]
        fn friendly_names_are_judged_as_decoding_says(name in "([a-zA-Z ]|%[0-9A-Fa-fG]{0,2}|é|€|\u{80}){0,60}") {
            proptest::prop_assert_eq!(check_friendly_name(&name), decodes_to_utf8::<387>(name.as_bytes()), "{:?}", name);
        }

        /// The two words compared decide as a byte at a time does: either case of each letter,
        /// the `@` and `.` exactly (not the bytes 0x20 below or above them).
        #[test]
        fn hotmail_handles_are_told_as_bytewise(
            h in "[a-z]{0,3}[@`][hH][oO][tT][mM][aA][iI][lL][.\\x0eN][cC][oOO][mM]",
            any in "\\PC{0,20}",
        ) {
            for s in [&h, &any] {
                proptest::prop_assert_eq!(is_hotmail(s), ends_with_ignore_case(s, "@hotmail.com"), "{:?}", s);
            }
            proptest::prop_assert!(is_hotmail("Bob@HotMail.COM") && !is_hotmail("hotmail.com"));
        }

        /// The one pass decides as the rule's parts do, on handle-like text and any text.
        #[test]
        fn handles_are_judged_as_the_rule_says(
            h in "[a-z.@+;: \\-]{0,12}(@[a-z.-]{0,8})?",
            any in "\\PC{0,140}",
            long in "[a-z]{120,130}@x\\.com",
            parts in "[a-zA-Z0-9.!#~_ +-]{0,20}@[a-zA-Z0-9._~ -]{0,20}",
        ) {
            for t in [&h, &any, &long, &parts] {
                proptest::prop_assert_eq!(valid_handle(t), valid_handle_by_parts(t), "{:?}", t);
            }
        }
    }
}
