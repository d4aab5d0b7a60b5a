//! Server addresses as MSNP writes them: `host[:port]` in referrals, port 1863 by default.

/// The default MSNP port.
pub const MSNP_PORT: u16 = 1863;

/// Parses `host[:port]`; the port defaults to 1863.
pub fn parse_address(s: &str) -> (String, u16) {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return (sa.ip().to_string(), sa.port());
    }
    match s.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(port) => (h.to_string(), port),
            Err(_) => (s.to_string(), MSNP_PORT),
        },
        None => (s.to_string(), MSNP_PORT),
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
