//! Live capture from a network interface through libpcap (cargo feature `live`). The capture
//! is non-blocking and polled, so a stop request is honoured within a few milliseconds even on
//! an idle interface (libpcap's read timeout is no such guarantee).

use super::LinkType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Why a live capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface does not exist.
    #[error("no interface named {0:?} (msntap sniff --list-interfaces lists them)")]
    NoSuchInterface(String),
    /// The process may not capture.
    #[error("not permitted to capture on {iface}: run as root, or give the binary the capabilities it needs with `setcap cap_net_raw,cap_net_admin=eip $(which msntap)` ({detail})")]
    NotPermitted {
        /// The interface.
        iface: String,
        /// libpcap's words.
        detail: String,
    },
    /// The filter does not compile.
    #[error("capture filter {filter:?} is not valid: {detail}")]
    BadFilter {
        /// The filter.
        filter: String,
        /// libpcap's words.
        detail: String,
    },
    /// Anything else libpcap said.
    #[error("live capture on {iface}: {detail}")]
    Pcap {
        /// The interface.
        iface: String,
        /// libpcap's words.
        detail: String,
    },
}

/// A packet header's time in ns since the epoch (time_t's width differs between platforms).
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn ts_ns(h: &pcap::PacketHeader) -> i64 {
    (h.ts.tv_sec as i64).saturating_mul(1_000_000_000).saturating_add(h.ts.tv_usec as i64 * 1000)
}

/// The interfaces libpcap can capture on: (name, description).
pub fn interfaces() -> Result<Vec<(String, Option<String>)>, LiveError> {
    pcap::Device::list()
        .map(|ds| ds.into_iter().map(|d| (d.name, d.desc)).collect())
        .map_err(|e| LiveError::Pcap { iface: "any".into(), detail: e.to_string() })
}

fn classify(iface: &str, e: pcap::Error) -> LiveError {
    let detail = e.to_string();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") || lower.contains("eperm") {
        LiveError::NotPermitted { iface: iface.into(), detail }
    } else if lower.contains("no such device") || lower.contains("doesn't exist") || lower.contains("not found") {
        LiveError::NoSuchInterface(iface.into())
    } else {
        LiveError::Pcap { iface: iface.into(), detail }
    }
}

/// Captures on `iface` with the BPF `filter`, calling `ready()` once capturing has begun and
/// `each(link, ts_ns, data, wire_len)` for every packet until `stop` is set. Returns (packets
/// seen, packets the kernel dropped).
pub fn run(
    iface: &str,
    filter: &str,
    stop: &AtomicBool,
    ready: impl FnOnce(),
    mut each: impl FnMut(LinkType, i64, &[u8], u32),
) -> Result<(u64, u64), LiveError> {
    if !interfaces()?.iter().any(|(n, _)| n == iface) {
        return Err(LiveError::NoSuchInterface(iface.into()));
    }
    let cap = pcap::Capture::from_device(iface).map_err(|e| classify(iface, e))?;
    let mut cap = cap
        .snaplen(65_535)
        .buffer_size(64 << 20)
        .immediate_mode(true)
        .timeout(50)
        .open()
        .map_err(|e| classify(iface, e))?;
    cap.filter(filter, true).map_err(|e| LiveError::BadFilter { filter: filter.into(), detail: e.to_string() })?;
    let mut cap = cap.setnonblock().map_err(|e| classify(iface, e))?;
    let link = LinkType(cap.get_datalink().0 as u32);
    ready();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(p) => {
                n += 1;
                let ts = ts_ns(p.header);
                each(link, ts, p.data, p.header.len);
            }
            Err(pcap::Error::TimeoutExpired) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(classify(iface, e)),
        }
    }
    // Whatever the kernel still holds.
    while let Ok(p) = cap.next_packet() {
        n += 1;
        let ts = ts_ns(p.header);
        each(link, ts, p.data, p.header.len);
    }
    let dropped = cap.stats().map(|s| s.dropped as u64).unwrap_or(0);
    Ok((n, dropped))
}
