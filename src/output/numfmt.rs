//! Times and latencies written as the transcript has always shown them (`{:>9.3}` of seconds,
//! `{:.0}` of milliseconds, from `f64`), without the float formatter where integers give the
//! same digits: that formatter was a twentieth of the transcript's time. Values where the two
//! could differ (exact halves, huge or negative values) still go through it. Socket addresses
//! likewise: IPv4 ones without the formatter, which took 1,300 instructions each.

use std::fmt::Write as _;

/// Nanoseconds below which `ns as f64 / 1e9` rounds to the same millisecond as `ns` itself
/// (half an ulp of the quotient stays far below the nanosecond that separates `ns` from a
/// rounding boundary; about 11.5 days).
const EXACT_NS: i64 = 1_000_000 * 1_000_000_000;

/// Appends `format!("{:>width$.3}", ns as f64 / 1e9)`.
pub(crate) fn push_secs3(out: &mut String, ns: i64, width: usize) {
    if (0..EXACT_NS).contains(&ns) && ns % 1_000_000 != 500_000 {
        let ms = (ns + 500_000) / 1_000_000;
        let mut ibuf = itoa::Buffer::new();
        let whole = ibuf.format(ms / 1000);
        let frac = (ms % 1000) as u32;
        let len = whole.len() + 4;
        out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
        out.push_str(whole);
        out.push('.');
        for d in [frac / 100, frac / 10 % 10, frac % 10] {
            out.push(char::from(b'0' + d as u8));
        }
    } else {
        let _ = write!(out, "{:>width$.3}", ns as f64 / 1e9);
    }
}

/// Appends `format!("{:.0}", ms)`.
pub(crate) fn push_ms0(out: &mut String, ms: f64) {
    if ms.is_sign_positive() && ms < 1e15 {
        let floor = ms.floor();
        // Exact: both are below 2^53. The formatter rounds an exact half to even.
        let r = if ms - floor == 0.5 { floor + (floor % 2.0) } else { ms.round() };
        out.push_str(itoa::Buffer::new().format(r as u64));
    } else {
        let _ = write!(out, "{ms:.0}");
    }
}

/// Appends `format!("{addr}")` (IPv6 addresses through the formatter).
pub(crate) fn push_addr(out: &mut String, addr: &std::net::SocketAddr) {
    match addr {
        std::net::SocketAddr::V4(a) => {
            let mut ibuf = itoa::Buffer::new();
            for (i, octet) in a.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(ibuf.format(octet));
            }
            out.push(':');
            out.push_str(ibuf.format(a.port()));
        }
        std::net::SocketAddr::V6(_) => {
            let _ = write!(out, "{addr}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(ns: i64) -> String {
        let mut s = String::new();
        push_secs3(&mut s, ns, 9);
        s
    }

    fn ms0(ms: f64) -> String {
        let mut s = String::new();
        push_ms0(&mut s, ms);
        s
    }

    #[test]
    fn times_read_as_the_float_formatter_writes_them() {
        let edges = [
            0,
            1,
            499_999,
            500_000,
            500_001,
            1_500_000,
            2_500_000,
            999_499_999,
            999_500_000,
            999_999_999,
            1_000_000_000,
            123_456_789_012,
            99_999_999_999_999,
            EXACT_NS - 1,
            EXACT_NS,
            // Past 2^53 ns the float is no longer exact: these go through the formatter.
            9_007_206_198_500_001,
            9_425_487_320_500_001,
            10_000_000_000_500_001,
            999_999_999_999_499_999,
            -1,
            -500_000,
            i64::MAX,
            i64::MIN,
        ];
        for ns in edges {
            assert_eq!(secs(ns), format!("{:>9.3}", ns as f64 / 1e9), "{ns} ns");
        }
        let mut narrow = String::new();
        push_secs3(&mut narrow, 1_234_567_890_123, 0);
        assert_eq!(narrow, "1234.568");
    }

    #[test]
    fn latencies_read_as_the_float_formatter_writes_them() {
        for ms in [0.0, 0.4, 0.5, 1.5, 2.5, 3.5, 13.456, 999.999, 1e14 + 0.5, 1e15, -0.0, -2.5, f64::NAN, f64::INFINITY]
        {
            assert_eq!(ms0(ms), format!("{ms:.0}"), "{ms} ms");
        }
    }

    proptest! {
        #[test]
        fn any_time_reads_the_same(ns in any::<i64>(), small in 0i64..100_000_000_000, big in (1i64 << 40)..(1i64 << 62), off in -200i64..200) {
            // Near a rounding boundary of a large time, where the quotient's error is largest.
            let near = (big / 1_000_000 * 1_000_000 + 500_000).saturating_add(off);
            prop_assert_eq!(secs(near), format!("{:>9.3}", near as f64 / 1e9));
            prop_assert_eq!(secs(ns), format!("{:>9.3}", ns as f64 / 1e9));
            prop_assert_eq!(secs(small), format!("{:>9.3}", small as f64 / 1e9));
            // Halves of a millisecond, where the float's binary value decides.
            let half = small / 1_000_000 * 1_000_000 + 500_000;
            prop_assert_eq!(secs(half), format!("{:>9.3}", half as f64 / 1e9));
        }

        #[test]
        fn any_latency_reads_the_same(us in 0i64..10_000_000_000, x in any::<f64>()) {
            // As pairing computes them: whole microseconds in milliseconds.
            let ms = (us as f64).round() / 1e3;
            prop_assert_eq!(ms0(ms), format!("{ms:.0}"));
            prop_assert_eq!(ms0(x), format!("{x:.0}"));
        }
    }

    proptest! {
        /// Any address, either family, reads as its `Display`.
        #[test]
        fn addresses_read_as_display(v4 in any::<[u8; 4]>(), v6 in any::<[u16; 8]>(), port in any::<u16>(), scope in any::<u32>()) {
            use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
            for a in [
                SocketAddr::from((Ipv4Addr::from(v4), port)),
                SocketAddr::from((Ipv6Addr::from(v6), port)),
                SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(v6), port, 0, scope)),
            ] {
                let mut s = String::from("x");
                push_addr(&mut s, &a);
                prop_assert_eq!(s, format!("x{a}"));
            }
        }
    }
}
