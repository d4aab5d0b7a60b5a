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

/// A pcapng encoder for fixtures, in either byte order, independent of [`PcapNgWriter`].
struct Ng {
    be: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(be: bool) -> Ng {
        let mut n = Ng { be, out: Vec::new() };
        n.section(be);
        n
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn block(&mut self, kind: u32, body: &[u8]) {
        let len = 12 + body.len().div_ceil(4) * 4;
        let (k, l) = (self.u32(kind), self.u32(len as u32));
        self.out.extend_from_slice(&k);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.extend(std::iter::repeat_n(0u8, len - 12 - body.len()));
        self.out.extend_from_slice(&l);
    }

    /// A new section in byte order `be` (its interfaces start again from 0).
    fn section(&mut self, be: bool) {
        self.be = be;
        let mut body = self.u32(0x1A2B_3C4D).to_vec();
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0A0D_0D0A, &body);
    }

    /// An interface with these options (code, value), values in this byte order already.
    fn interface(&mut self, link: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) {
        let mut body = self.u16(link).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32(snaplen));
        for (code, v) in options {
            body.extend_from_slice(&self.u16(*code));
            body.extend_from_slice(&self.u16(v.len() as u16));
            body.extend_from_slice(v);
            body.extend(std::iter::repeat_n(0u8, v.len().div_ceil(4) * 4 - v.len()));
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(1, &body);
    }

    fn ts_words(&self, units: u64) -> Vec<u8> {
        [self.u32((units >> 32) as u32), self.u32(units as u32)].concat()
    }

    fn epb(&mut self, iface: u32, units: u64, data: &[u8], orig: u32) {
        let mut body = self.u32(iface).to_vec();
        body.extend(self.ts_words(units));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(orig));
        body.extend_from_slice(data);
        self.block(6, &body);
    }

    /// The obsolete packet block: a 16-bit interface id and a drop count.
    fn opb(&mut self, iface: u16, units: u64, data: &[u8], orig: u32) {
        let mut body = self.u16(iface).to_vec();
        body.extend_from_slice(&self.u16(7));
        body.extend(self.ts_words(units));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(orig));
        body.extend_from_slice(data);
        self.block(2, &body);
    }

    fn spb(&mut self, orig: u32, data: &[u8]) {
        let mut body = self.u32(orig).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body);
    }

    /// if_tsoffset: seconds, a signed 64-bit integer in the section's order.
    fn tsoffset(&self, s: i64) -> (u16, Vec<u8>) {
        (14, if self.be { s.to_be_bytes().to_vec() } else { s.to_le_bytes().to_vec() })
    }
}

#[test]
fn pcapng_binary_resolutions_are_powers_of_two() {
    for be in [false, true] {
        let mut n = Ng::new(be);
        // 2^-20 s and 2^-30 s units; 10^-12 s (finer than a nanosecond).
        n.interface(1, 0, &[(9, vec![0x80 | 20])]);
        n.interface(1, 0, &[(9, vec![0x80 | 30])]);
        n.interface(1, 0, &[(9, vec![12])]);
        n.epb(0, 3 << 19, b"a", 1); // 1.5 s
        n.epb(1, (1u64 << 30) * 1_000_000_000 + (1 << 29), b"b", 1); // 1e9 s + 0.5 s
        n.epb(2, 2_000_000_000_123_456, b"c", 1); // 2000 s and 123.456 ns
        let (p, e) = collect(&n.out);
        assert!(e.is_none(), "{e:?}");
        let ts: Vec<i64> = p.iter().map(|r| r.1).collect();
        assert_eq!(ts, vec![1_500_000_000, 1_000_000_000_500_000_000, 2_000_000_000_123], "big-endian: {be}");
    }
}

#[test]
fn pcapng_tsoffset_in_either_byte_order() {
    for be in [false, true] {
        let mut n = Ng::new(be);
        let (plus, minus) = (n.tsoffset(1_000_000_000), n.tsoffset(-5));
        n.interface(1, 0, &[(9, vec![9]), plus]);
        n.interface(1, 0, &[minus]);
        n.epb(0, 250, b"x", 1);
        n.epb(1, 7_000_000, b"y", 1);
        let (p, e) = collect(&n.out);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(p[0].1, 1_000_000_000_000_000_250, "big-endian: {be}");
        assert_eq!(p[1].1, 2_000_000_000, "big-endian: {be}");
    }
}

#[test]
fn pcapng_big_endian_with_every_packet_block() {
    let mut n = Ng::new(true);
    n.interface(101, 3, &[(2, b"wan0".to_vec()), (9, vec![3])]);
    n.interface(1, 0, &[]);
    n.epb(1, 1_000_001, b"enhanced", 60);
    n.opb(0, 42, b"obsolete", 8);
    // Simple packet blocks belong to interface 0 and keep its snap length (3 here): the
    // padding after a cut packet is not data.
    n.spb(10, b"sim");
    n.spb(2, b"ab");
    let (p, e) = collect(&n.out);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(p[0], (1, 1_000_001_000, 1, b"enhanced".to_vec(), 60));
    assert_eq!(p[1], (2, 42_000_000, 101, b"obsolete".to_vec(), 8));
    assert_eq!(p[2], (3, 0, 101, b"sim".to_vec(), 10));
    assert_eq!(p[3], (4, 0, 101, b"ab".to_vec(), 2));
}

#[test]
fn pcapng_sections_change_byte_order_and_interfaces() {
    let mut n = Ng::new(false);
    n.interface(1, 0, &[]);
    n.epb(0, 1, b"le", 2);
    n.section(true);
    n.interface(113, 0, &[(9, vec![9])]);
    n.epb(0, 5, b"be", 2);
    n.opb(1, 5, b"no such interface", 17);
    let (p, e) = collect(&n.out);
    assert_eq!(p[0], (1, 1_000, 1, b"le".to_vec(), 2));
    assert_eq!(p[1], (2, 5, 113, b"be".to_vec(), 2));
    // The new section's table has one interface: the second packet names one not described.
    assert!(matches!(e, Some(CaptureError::Corrupt { .. })), "{e:?}");
}

/// A reader that returns at most `step` bytes a call (pipes and sockets do).
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(out.len()).min(self.bytes.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Packets of many sizes (one past the window), each byte telling its packet and place.
fn varied_packets() -> Vec<Vec<u8>> {
    (0..400u32)
        .map(|i| {
            let len = match i {
                17 => 300 * 1024,
                _ => (i as usize * 7919) % 9000,
            };
            (0..len).map(|k| (i as usize * 31 + k * 7) as u8).collect()
        })
        .collect()
}

#[test]
fn lent_buffers_are_never_written_again() {
    let packets = varied_packets();
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, false, 1 << 20).unwrap();
    let mut ng = PcapNgWriter::new(Vec::new(), "test").unwrap();
    let eth = ng.interface(LinkType::ETHERNET, "eth0").unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.packet(i as i64 * 1000, p, p.len() as u32).unwrap();
        ng.packet(eth, i as i64 * 1000, p, p.len() as u32).unwrap();
    }
    for file in [w.finish().unwrap(), ng.finish().unwrap()] {
        for step in [usize::MAX, 7_001] {
            let mut r = CaptureReader::new(Trickle { bytes: &file, step }).unwrap();
            // Every packet's buffer held to the end, as batches of sharded analysis hold them.
            let mut held: Vec<(Arc<Vec<u8>>, usize, usize)> = Vec::new();
            while let Some(p) = r.next_packet().unwrap() {
                let buf = p.backing.0;
                let at = p.data.as_ptr().addr() - buf.as_ptr().addr();
                assert_eq!(buf.get(at..at + p.data.len()), Some(p.data), "the data lies in its backing");
                held.push((Arc::clone(buf), at, p.data.len()));
            }
            assert_eq!(held.len(), packets.len());
            for (i, ((buf, at, len), want)) in held.iter().zip(&packets).enumerate() {
                assert_eq!(&buf[*at..at + len], &want[..], "packet {i} (step {step}) overwritten");
            }
        }
    }
}

#[test]
fn a_buffer_not_lent_is_read_into_again() {
    let packets = varied_packets();
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, false, 1 << 20).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.packet(i as i64 * 1000, p, p.len() as u32).unwrap();
    }
    let file = w.finish().unwrap();
    let mut r = CaptureReader::new(&file[..]).unwrap();
    let mut first: Option<*const Vec<u8>> = None;
    let mut n = 0;
    while let Some(p) = r.next_packet().unwrap() {
        let here = Arc::as_ptr(p.backing.0);
        assert_eq!(*first.get_or_insert(here), here, "one buffer (grown in place) when none is lent");
        assert_eq!(p.data, &packets[n][..]);
        n += 1;
    }
    assert_eq!(n, packets.len());
    let Inner::Pcap(pr) = &r.inner else { panic!("pcap") };
    assert!(pr.w.spare.is_empty());
}

#[test]
fn readers_at_one_file_each_read_it_from_its_start_to_the_length_given() {
    let path = std::env::temp_dir().join(format!("msntap-file-at-{}.bin", std::process::id()));
    let bytes: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let (mut a, mut b) = (FileAt::new(&file, 9_000), FileAt::new(&file, 20_000));
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    // Interleaved small reads: neither moves the other's place.
    let mut buf = [0u8; 777];
    loop {
        let n = a.read(&mut buf).unwrap();
        got_a.extend_from_slice(&buf[..n]);
        let m = b.read(&mut buf).unwrap();
        got_b.extend_from_slice(&buf[..m]);
        if n == 0 && m == 0 {
            break;
        }
    }
    // The file grows: the readers made before keep to their lengths.
    std::fs::write(&path, [&bytes[..], &bytes[..]].concat()).unwrap();
    assert_eq!(a.read(&mut buf).unwrap(), 0);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(got_a, &bytes[..9_000]);
    assert_eq!(got_b, bytes);
}
