//! Dialects: the protocol versions a client and server negotiate with VER (CVR0, then MSNP2
//! to MSNP21), ranges of them (what a rule or a command form holds in, what the evidence of a
//! connection allows), and what the official clients' versions say about the dialect they speak.

/// One dialect. `CVR0` (the version-check pseudo-dialect every client offers last) orders
/// before MSNP2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dialect(u8);

impl Dialect {
    /// The version-check pseudo-dialect.
    pub const CVR0: Dialect = Dialect(0);
    /// MSNP2, the IETF draft's protocol (Messenger 1.0).
    pub const P2: Dialect = Dialect(2);
    /// MSNP3.
    pub const P3: Dialect = Dialect(3);
    /// MSNP4.
    pub const P4: Dialect = Dialect(4);
    /// MSNP5.
    pub const P5: Dialect = Dialect(5);
    /// MSNP6.
    pub const P6: Dialect = Dialect(6);
    /// MSNP7.
    pub const P7: Dialect = Dialect(7);
    /// MSNP8.
    pub const P8: Dialect = Dialect(8);
    /// MSNP9.
    pub const P9: Dialect = Dialect(9);
    /// MSNP10.
    pub const P10: Dialect = Dialect(10);
    /// MSNP11.
    pub const P11: Dialect = Dialect(11);
    /// MSNP12.
    pub const P12: Dialect = Dialect(12);
    /// MSNP13.
    pub const P13: Dialect = Dialect(13);
    /// MSNP14.
    pub const P14: Dialect = Dialect(14);
    /// MSNP15.
    pub const P15: Dialect = Dialect(15);
    /// MSNP16.
    pub const P16: Dialect = Dialect(16);
    /// MSNP17.
    pub const P17: Dialect = Dialect(17);
    /// MSNP18.
    pub const P18: Dialect = Dialect(18);
    /// MSNP21, the last dialect msntap knows.
    pub const P21: Dialect = Dialect(21);

    /// `MSNPn`, with n clamped to 2..=21 (0 and 1 give CVR0), for tables.
    pub const fn at(n: u8) -> Dialect {
        Dialect(if n < 2 {
            0
        } else if n > 21 {
            21
        } else {
            n
        })
    }

    /// `MSNPn` for n from 2 to 21.
    pub const fn msnp(n: u8) -> Option<Dialect> {
        if n >= 2 && n <= 21 {
            Some(Dialect(n))
        } else {
            None
        }
    }

    /// The dialect a VER token names (`MSNP8`, `msnp8`, `CVR0`).
    pub fn parse(s: &str) -> Option<Dialect> {
        if s.eq_ignore_ascii_case("CVR0") {
            return Some(Dialect::CVR0);
        }
        let n = s.get(..4).filter(|p| p.eq_ignore_ascii_case("MSNP")).and(s.get(4..))?;
        if n.is_empty() || n.len() > 2 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Dialect::msnp(n.parse().ok()?)
    }

    /// The version number (0 for CVR0).
    pub fn number(self) -> u8 {
        self.0
    }

    /// `MSNP8`, or `CVR0`.
    pub fn name(self) -> String {
        if self == Dialect::CVR0 {
            "CVR0".into()
        } else {
            format!("MSNP{}", self.0)
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// A range of dialects, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dialects {
    /// The first.
    pub low: Dialect,
    /// The last.
    pub high: Dialect,
}

/// `low..=high` as a [`Dialects`].
pub const fn range(low: Dialect, high: Dialect) -> Dialects {
    Dialects { low, high }
}

/// `low` and every later dialect.
pub const fn from(low: Dialect) -> Dialects {
    Dialects { low, high: Dialect::P21 }
}

/// One dialect alone.
pub const fn only(d: Dialect) -> Dialects {
    Dialects { low: d, high: d }
}

impl Dialects {
    /// Every dialect.
    pub const ALL: Dialects = Dialects { low: Dialect::CVR0, high: Dialect::P21 };
    /// MSNP2 and its CVR0 fallback: where the IETF draft is the specification.
    pub const MSNP2: Dialects = Dialects { low: Dialect::CVR0, high: Dialect::P2 };

    /// Whether `d` is in the range.
    pub fn contains(self, d: Dialect) -> bool {
        self.low <= d && d <= self.high
    }

    /// Whether every dialect of `other` is in this range.
    pub fn covers(self, other: Dialects) -> bool {
        self.low <= other.low && other.high <= self.high
    }

    /// Whether the two ranges share a dialect.
    pub fn overlaps(self, other: Dialects) -> bool {
        self.low <= other.high && other.low <= self.high
    }

    /// The dialects in both, if any.
    pub fn intersect(self, other: Dialects) -> Option<Dialects> {
        let (low, high) = (self.low.max(other.low), self.high.min(other.high));
        (low <= high).then_some(Dialects { low, high })
    }

    /// The smallest range holding both.
    pub fn hull(self, other: Dialects) -> Dialects {
        Dialects { low: self.low.min(other.low), high: self.high.max(other.high) }
    }

    /// The one dialect, when the range holds just one.
    pub fn exact(self) -> Option<Dialect> {
        (self.low == self.high).then_some(self.low)
    }

    /// `MSNP11`, `MSNP11+` (to the last), `MSNP9-11`, `any`.
    pub fn label(self) -> String {
        if self == Dialects::ALL {
            return "any".into();
        }
        match (self.exact(), self.high == Dialect::P21) {
            (Some(d), _) => d.name(),
            (None, true) => format!("{}+", self.low.name()),
            (None, false) if self.low == Dialect::CVR0 => format!("up to {}", self.high.name()),
            (None, false) => format!("{}-{}", self.low.name(), self.high.number()),
        }
    }
}

/// The dialects an official client named `client` (`MSNMSGR`, `MSMSGS`) of version `version`
/// (the `client-lib` and `client-ver` parameters of CVR or CVQ, `7.0.0777`) speaks, by the
/// version grid of [N grid]. Windows Messenger also calls itself `MSMSGS`, and its 4.7 to 5.1
/// speak MSNP8 and later: those versions under that name get the wider range. `None` for
/// versions msntap does not know (third-party clients use their own numbers).
pub fn of_client_version(client: &str, version: &str) -> Option<Dialects> {
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().unwrap_or("0").parse().ok()?;
    let d = Dialect;
    let windows_messenger = client.eq_ignore_ascii_case("MSMSGS");
    Some(match (major, minor) {
        (4, 7..) if windows_messenger => range(d(4), d(10)),
        (5, _) if windows_messenger => range(d(8), d(10)),
        (1, _) => range(d(2), d(2)),
        (2, 0) => range(d(2), d(3)),
        (2, _) => range(d(3), d(4)),
        (3, 0..=5) => range(d(4), d(5)),
        (3, _) => range(d(4), d(6)),
        (4, _) => range(d(4), d(7)),
        (5, _) => range(d(8), d(8)),
        (6, 0) => range(d(8), d(9)),
        (6, _) => range(d(9), d(10)),
        (7, 0) => range(d(10), d(11)),
        (7, _) => range(d(10), d(12)),
        (8, 0) => range(d(13), d(14)),
        (8, _) => range(d(13), d(15)),
        (9, _) => range(d(15), d(16)),
        (14, _) => range(d(17), d(18)),
        (15 | 16, _) => range(d(17), d(21)),
        _ => return None,
    })
}

/// The client capabilities the official clients of MSNP`dialect` send with `CHG` (MSNP8+; the
/// testkit and `check-server` send them too) [Y cmd/chg].
pub fn client_caps(dialect: u8) -> Option<&'static str> {
    match dialect {
        ..=7 => None,
        8..=10 => Some("0"),
        11 => Some("1073791020"),
        _ => Some("1342554172"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_order() {
        assert_eq!(Dialect::parse("MSNP8"), Some(Dialect::P8));
        assert_eq!(Dialect::parse("msnp13"), Some(Dialect::P13));
        assert_eq!(Dialect::parse("CVR0"), Some(Dialect::CVR0));
        for bad in ["MSNP", "MSNP1", "MSNP22", "MSNP+8", "MSNP08x", "MSN8", "", "0"] {
            assert_eq!(Dialect::parse(bad), None, "{bad}");
        }
        assert!(Dialect::CVR0 < Dialect::P2 && Dialect::P2 < Dialect::P21);
        assert_eq!(Dialect::P11.to_string(), "MSNP11");
    }

    #[test]
    fn ranges_intersect_and_label() {
        let a = range(Dialect::P9, Dialect::P12);
        assert_eq!(a.intersect(from(Dialect::P11)), Some(range(Dialect::P11, Dialect::P12)));
        assert_eq!(a.intersect(only(Dialect::P2)), None);
        assert!(Dialects::ALL.covers(a) && !a.covers(Dialects::ALL));
        assert_eq!(only(Dialect::P11).label(), "MSNP11");
        assert_eq!(from(Dialect::P11).label(), "MSNP11+");
        assert_eq!(a.label(), "MSNP9-12");
        assert_eq!(Dialects::ALL.label(), "any");
        assert_eq!(Dialects::MSNP2.label(), "up to MSNP2");
    }

    #[test]
    fn client_versions_name_their_dialects() {
        let v = |version| of_client_version("MSNMSGR", version);
        assert_eq!(v("7.0.0777"), Some(range(Dialect::P10, Dialect::P11)));
        assert_eq!(v("5.0.0540"), Some(only(Dialect::P8)));
        assert_eq!(v("8.0.0787"), Some(range(Dialect::P13, Dialect::P14)));
        assert_eq!(of_client_version("MSMSGS", "1.0.0863"), Some(only(Dialect::P2)));
        assert_eq!(v("banana"), None);
        assert_eq!(v("99.1"), None);
        // MSN Messenger 4.7 and Windows Messenger 4.7 both say MSMSGS 4.7: MSNP4 to MSNP8+.
        assert_eq!(of_client_version("MSMSGS", "4.7.3001"), Some(range(Dialect(4), Dialect(10))));
        assert_eq!(of_client_version("MSMSGS", "4.5.0121"), Some(range(Dialect(4), Dialect(7))));
        assert_eq!(of_client_version("MSMSGS", "5.1.0701"), Some(range(Dialect(8), Dialect(10))));
    }
}
