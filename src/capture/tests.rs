use super::write::{PcapNgWriter, PcapWriter};
use super::*;

type Row = (u64, i64, u32, Vec<u8>, u32);

fn collect(bytes: &[u8]) -> (Vec<Row>, Option<CaptureError>) {
    let (rows, _, e) = collect_ends(bytes);
    (rows, e)
}

/// Packets, the file offset where each record ends, and the error that stopped reading.
fn collect_ends(bytes: &[u8]) -> (Vec<Row>, Vec<u64>, Option<CaptureError>) {
    let mut r = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    let mut ends = Vec::new();
    loop {
        let row = match r.next_packet() {
            Ok(Some(p)) => (p.number, p.ts_ns, p.link.0, p.data.to_vec(), p.orig_len),
            Ok(None) => return (out, ends, None),
            Err(e) => return (out, ends, Some(e)),
        };
        out.push(row);
        ends.push(r.offset());
    }
}

fn sample_pcap(nanos: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, nanos, 65535).unwrap();
    w.packet(1_000_000_123_456_789, b"first", 5).unwrap();
    w.packet(1_000_000_124_000_001, b"second!", 60).unwrap();
    w.finish().unwrap()
}

#[test]
fn pcap_micro_and_nanoseconds() {
    let (p, e) = collect(&sample_pcap(false));
    assert!(e.is_none());
    assert_eq!(p[0], (1, 1_000_000_123_456_000, 1, b"first".to_vec(), 5));
    assert_eq!(p[1].4, 60, "wire length kept");
    let (p, _) = collect(&sample_pcap(true));
    assert_eq!(p[0].1, 1_000_000_123_456_789);
    assert_eq!(p[1].1, 1_000_000_124_000_001);
}

#[test]
fn pcap_big_endian() {
    let mut f = vec![0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 101];
    f.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 3, b'a', b'b', b'c']);
    let (p, e) = collect(&f);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(p, vec![(1, 7_000_009_000, 101, b"abc".to_vec(), 3)]);
}

#[test]
fn pcapng_interfaces_and_unknown_blocks() {
    let mut w = PcapNgWriter::new(Vec::new(), "test").unwrap();
    let a = w.interface(LinkType::ETHERNET, "eth0").unwrap();
    w.raw_block(0x0BAD_F00D, b"custom!!").unwrap();
    let b = w.interface(LinkType::LINUX_SLL2, "any").unwrap();
    w.packet(a, 5_000_000_001, b"one", 3).unwrap();
    w.packet(b, 6_000_000_002, b"two", 10).unwrap();
    let bytes = w.finish().unwrap();
    let (p, e) = collect(&bytes);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(p[0], (1, 5_000_000_001, 1, b"one".to_vec(), 3));
    assert_eq!(p[1], (2, 6_000_000_002, 276, b"two".to_vec(), 10));
}

#[test]
fn pcapng_default_resolution_is_microseconds() {
    // An interface block without options: timestamps count microseconds.
    let mut f = Vec::new();
    let shb: [u8; 28] = [
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 28, 0, 0, 0,
    ];
    f.extend_from_slice(&shb);
    f.extend_from_slice(&[1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 20, 0, 0, 0]);
    let ts: u64 = 1_500_000;
    let mut epb = vec![6, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0];
    epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    epb.extend_from_slice(&(ts as u32).to_le_bytes());
    epb.extend_from_slice(&[4, 0, 0, 0, 4, 0, 0, 0, b'd', b'a', b't', b'a', 36, 0, 0, 0]);
    f.extend_from_slice(&epb);
    let (p, e) = collect(&f);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(p[0].1, 1_500_000_000);
}

#[test]
fn truncation_at_every_offset_is_a_clear_error_never_a_panic() {
    for bytes in [sample_pcap(false), {
        let mut w = PcapNgWriter::new(Vec::new(), "t").unwrap();
        let i = w.interface(LinkType::RAW, "x").unwrap();
        w.packet(i, 1, b"abcdef", 6).unwrap();
        w.packet(i, 2, b"ghijkl", 6).unwrap();
        w.finish().unwrap()
    }] {
        let (full, ends, e) = collect_ends(&bytes);
        assert!(e.is_none());
        for cut in 0..bytes.len() {
            let (p, e) = collect(&bytes[..cut]);
            // Every packet whose record ends before the cut is still delivered.
            let complete = ends.iter().filter(|end| **end <= cut as u64).count();
            assert_eq!(p, full[..complete].to_vec(), "cut {cut}");
            // A cut on a record boundary is a shorter capture; anywhere else it is an error
            // that names an offset.
            let on_boundary = cut > 0 && (ends.contains(&(cut as u64)) || p.is_empty() && e.is_none());
            match e {
                None => assert!(on_boundary, "cut {cut}: no error"),
                Some(e) => assert!(e.to_string().contains("offset"), "cut {cut}: {e}"),
            }
        }
    }
}

#[test]
fn truncated_record_names_its_offset() {
    let b = sample_pcap(false);
    let (_, e) = collect(&b[..24 + 16 + 5 + 16 + 3]);
    match e {
        Some(CaptureError::Truncated { offset, what, .. }) => {
            assert_eq!((offset, what), (45, "pcap record"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_lengths_are_errors() {
    let mut b = sample_pcap(false);
    // incl_len of the first record set to 0xffffffff.
    b[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    match collect(&b).1 {
        Some(CaptureError::Corrupt { offset: 24, .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut w = PcapNgWriter::new(Vec::new(), "t").unwrap();
    let i = w.interface(LinkType::RAW, "x").unwrap();
    w.packet(i, 1, b"abcdef", 6).unwrap();
    let mut b = w.finish().unwrap();
    let n = b.len();
    b[n - 4] ^= 0x40;
    assert!(matches!(collect(&b).1, Some(CaptureError::Corrupt { .. })));
}

#[test]
fn not_a_capture() {
    assert!(matches!(collect(b"hello world").1, Some(CaptureError::NotACapture { .. })));
    assert!(matches!(collect(b"").1, Some(CaptureError::NotACapture { .. })));
}

#[test]
fn packet_naming_an_undescribed_interface() {
    let mut w = PcapNgWriter::new(Vec::new(), "t").unwrap();
    w.packet(3, 1, b"abc", 3).unwrap();
    let b = w.finish().unwrap();
    assert!(matches!(collect(&b).1, Some(CaptureError::Corrupt { .. })));
}
