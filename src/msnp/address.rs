//! Server addresses as MSNP writes them: `host[:port]` in referrals, port 1863 by default.

/// The default MSNP port.
pub const MSNP_PORT: u16 = 1863;

/// Parses `host[:port]`; the port defaults to 1863.
pub fn parse_address(s: &str) -> (String, u16) {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return (sa.ip().to_string(), sa.port());
    }
    let (host, port) = host_and_port(s);
    (host.to_string(), port)
}

/// `host[:port]` as [`parse_address`] reads it, with the host as an IP address when it is one:
/// a socket address is read once, not written out as text and read back (every referral comes
/// here; the round trip was 1,700 instructions).
pub fn parse_ip_address(s: &str) -> (Option<std::net::IpAddr>, u16) {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return (Some(sa.ip()), sa.port());
    }
    let (host, port) = host_and_port(s);
    (host.parse().ok(), port)
}

/// `host[:port]` that is not a socket address, split at its last `:` when a port follows it;
/// otherwise the whole text with port 1863.
fn host_and_port(s: &str) -> (&str, u16) {
    match s.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(port) => (h, port),
            Err(_) => (s, MSNP_PORT),
        },
        None => (s, MSNP_PORT),
    }
}

/// Where a referral address leads: `host` alone means port 1863.
pub fn with_default_port(address: &str) -> String {
    if address.contains(':') {
        address.to_string()
    } else {
        format!("{address}:{MSNP_PORT}")
    }
}

/// Whether `a` is `host[:port]` with a non-empty host and a port from 1 to 65535.
pub fn valid_address(a: &str) -> bool {
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    };
    let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Reading the socket address once gives what reading the host as text and then as an
        /// IP address gave: IPv4 and IPv6 (bracketed, scoped), names, bad ports, no port.
        #[test]
        fn ip_addresses_read_once_as_twice(
            v4 in any::<[u8; 4]>(), v6 in any::<[u16; 8]>(), port in any::<u16>(),
            text in "[0-9a-f:.\\[\\]%a-z]{0,24}",
        ) {
            let [a, b, c, d] = v4;
            let six = std::net::Ipv6Addr::from(v6);
            for s in [
                format!("{a}.{b}.{c}.{d}:{port}"), format!("{a}.{b}.{c}.{d}"), format!("[{six}]:{port}"),
                format!("[{six}%3]:{port}"), format!("{six}"), format!("host.example:{port}"), text.clone(),
                format!("{a}.{b}.{c}.{d}:{port}9"),
            ] {
                let (host, p) = parse_address(&s);
                prop_assert_eq!(parse_ip_address(&s), (host.parse().ok(), p), "{:?}", s);
            }
        }
    }
}
