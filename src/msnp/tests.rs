use super::catalog;
use super::command::{self, parse_trid};
use super::dialect::{self, Dialect, Dialects};
use super::errors;
use super::payload;
use super::wire::{Decoder, Ending, Frame, JunkReason, PayloadState, WireLimits};
use proptest::prelude::*;

fn decode_all(chunks: &[&[u8]], limits: WireLimits) -> Vec<Frame> {
    let mut d = Decoder::new(limits);
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        while let Some(f) = d.next_frame() {
            out.push(f);
        }
    }
    out.extend(d.finish());
    out
}

fn lines(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Line { line, .. } => String::from_utf8_lossy(line).into_owned(),
            Frame::Junk { reason, len, .. } => format!("<junk {reason:?} {len}>"),
        })
        .collect()
}

const STREAM: &[u8] = b"VER 1 MSNP2 CVR0\r\nMSG 3 N 44\r\nMIME-Version: 1.0\r\n\r\nUSR 4 MD5 I evil\r\nOUT\r\nCHG 5 NLN\r\nMSG 6 U 0\r\nOUT\r\n";

#[test]
fn payload_lines_that_look_like_commands_stay_payload() {
    let f = decode_all(&[STREAM], WireLimits::default());
    assert_eq!(lines(&f), ["VER 1 MSNP2 CVR0", "MSG 3 N 44", "CHG 5 NLN", "MSG 6 U 0", "OUT"]);
    match &f[1] {
        Frame::Line { payload: PayloadState::Some(p), .. } => {
            assert_eq!(p.declared, 44);
            assert_eq!(p.bytes, b"MIME-Version: 1.0\r\n\r\nUSR 4 MD5 I evil\r\nOUT\r\n");
            assert!(p.complete());
        }
        other => panic!("expected a payload, got {other:?}"),
    }
    match &f[3] {
        Frame::Line { payload: PayloadState::Some(p), .. } => assert_eq!(p.declared, 0),
        other => panic!("expected an empty payload, got {other:?}"),
    }
}

#[test]
fn every_split_point_gives_the_same_frames() {
    let whole = decode_all(&[STREAM], WireLimits::default());
    for i in 0..=STREAM.len() {
        for j in i..=STREAM.len() {
            let f = decode_all(&[&STREAM[..i], &STREAM[i..j], &STREAM[j..]], WireLimits::default());
            assert_eq!(f, whole, "split at {i} and {j}");
        }
    }
}

#[test]
fn byte_at_a_time_gives_the_same_frames() {
    let whole = decode_all(&[STREAM], WireLimits::default());
    let chunks: Vec<&[u8]> = STREAM.chunks(1).collect();
    assert_eq!(decode_all(&chunks, WireLimits::default()), whole);
}

#[test]
fn offsets_point_at_the_line_starts() {
    let f = decode_all(&[STREAM], WireLimits::default());
    let offsets: Vec<u64> = f
        .iter()
        .map(|f| match f {
            Frame::Line { offset, .. } | Frame::Junk { offset, .. } => *offset,
        })
        .collect();
    assert_eq!(offsets, [0, 18, 74, 85, 96]);
}

#[test]
fn msg_lengths_that_lie() {
    for (len, want) in [("abc", "not a decimal"), ("-1", "not a decimal"), ("4294967295", "exceeds the limit")] {
        let s = format!("MSG 1 U {len}\r\nOUT\r\n");
        let f = decode_all(&[s.as_bytes()], WireLimits::default());
        assert_eq!(lines(&f), [format!("MSG 1 U {len}"), "OUT".to_string()], "{len}");
        match &f[0] {
            Frame::Line { payload: PayloadState::BadLength(r), .. } => assert!(r.contains(want), "{r}"),
            other => panic!("{other:?}"),
        }
    }
    // A length longer than what follows: the payload is cut at the end of the stream.
    let f = decode_all(&[b"MSG 1 U 100\r\nshort"], WireLimits::default());
    match &f[0] {
        Frame::Line { payload: PayloadState::Some(p), .. } => {
            assert_eq!((p.declared, p.truncated, p.bytes.as_slice()), (100, 95, &b"short"[..]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn line_endings() {
    let f = decode_all(&[b"OUT\nCHG 1 NLN\r\nPNG"], WireLimits::default());
    let endings: Vec<Ending> = f
        .iter()
        .map(|f| match f {
            Frame::Line { ending, .. } => *ending,
            _ => panic!(),
        })
        .collect();
    assert_eq!(endings, [Ending::Lf, Ending::CrLf, Ending::Missing]);
}

#[test]
fn long_lines_are_junk_whatever_the_split() {
    let limits = WireLimits { max_line: 64, ..WireLimits::default() };
    let mut s = vec![b'A'; 1000];
    s.extend_from_slice(b"\r\nOUT\r\n");
    let whole = decode_all(&[&s], limits);
    assert_eq!(lines(&whole), ["<junk LineTooLong 1002>", "OUT"]);
    let chunks: Vec<&[u8]> = s.chunks(7).collect();
    assert_eq!(decode_all(&chunks, limits), whole);
}

#[test]
fn long_line_memory_stays_bounded() {
    let limits = WireLimits { max_line: 1024, ..WireLimits::default() };
    let mut d = Decoder::new(limits);
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..160 {
        d.push(&chunk);
        while d.next_frame().is_some() {}
        assert!(d.buffered() <= 2 * 64 * 1024, "buffered {}", d.buffered());
    }
    let f = d.finish();
    match &f[..] {
        [Frame::Junk { len, reason: JunkReason::LineTooLong, preview, .. }] => {
            assert_eq!(*len, 160 * 64 * 1024);
            assert_eq!(preview.len(), super::wire::PREVIEW);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gap_inside_a_payload_keeps_sync() {
    let mut d = Decoder::new(WireLimits::default());
    d.push(b"MSG 1 N 20\r\n0123456789");
    assert!(d.next_frame().is_none());
    let f = d.gap(5);
    assert!(f.is_empty());
    d.push(b"56789OUT\r\n");
    let mut out = Vec::new();
    while let Some(f) = d.next_frame() {
        out.push(f);
    }
    assert_eq!(lines(&out), ["MSG 1 N 20", "OUT"]);
    match &out[0] {
        Frame::Line { payload: PayloadState::Some(p), .. } => {
            assert_eq!((p.missing, p.bytes.len()), (5, 15));
            assert!(!p.complete());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gap_mid_line_resyncs_at_the_next_command() {
    let mut d = Decoder::new(WireLimits::default());
    d.push(b"CHG 1 NLN\r\nUSR 2 MD5 I al");
    let mut out: Vec<Frame> = std::iter::from_fn(|| d.next_frame()).collect();
    out.extend(d.gap(30));
    d.push(b"tmail.com Alice\r\nSYN 3 0\r\n");
    out.extend(std::iter::from_fn(|| d.next_frame()));
    out.extend(d.finish());
    assert_eq!(lines(&out), ["CHG 1 NLN", "USR 2 MD5 I al", "<junk Resync 17>", "SYN 3 0"]);
    match &out[1] {
        Frame::Line { ending, .. } => assert_eq!(*ending, Ending::Missing),
        _ => panic!(),
    }
    match &out[3] {
        Frame::Line { offset, .. } => assert_eq!(*offset, 25 + 30 + 17),
        _ => panic!(),
    }
}

#[test]
fn gap_on_a_line_boundary_resumes_at_once() {
    let mut d = Decoder::new(WireLimits::default());
    d.push(b"CHG 1 NLN\r\n");
    let mut out: Vec<Frame> = std::iter::from_fn(|| d.next_frame()).collect();
    out.extend(d.gap(11));
    d.push(b"SYN 3 0\r\n");
    out.extend(std::iter::from_fn(|| d.next_frame()));
    assert_eq!(lines(&out), ["CHG 1 NLN", "SYN 3 0"]);
}

#[test]
fn lines_are_read_in_place_only_while_nothing_is_buffered() {
    use super::wire::FastLine;
    let mut d = Decoder::new(WireLimits::default());
    let mut rest: &[u8] = b"CHG 1 NLN\r\nMSG 2 N 3\r\nabcSYN 3";
    let FastLine::Line(0, b"CHG 1 NLN", Ending::CrLf) = d.fast_line_in(&mut rest) else { panic!("first line") };
    let FastLine::Payload(11, b"MSG 2 N 3", Ending::CrLf, p) = d.fast_line_in(&mut rest) else { panic!("payload") };
    assert_eq!(p.bytes, b"abc");
    // A line cut by the end of the bytes is left for the buffer.
    assert!(matches!(d.fast_line_in(&mut rest), FastLine::Slow));
    assert_eq!(rest, b"SYN 3");
    d.push(rest);
    // Bytes buffered come first: the next chunk is not read in place.
    let mut next: &[u8] = b" 0\r\nPNG\r\n";
    assert!(matches!(d.fast_line_in(&mut next), FastLine::Slow));
    assert_eq!(next.len(), 9);
    d.push(next);
    let FastLine::Line(25, b"SYN 3 0", _) = d.fast_line() else { panic!("joined line") };
    let FastLine::Line(34, b"PNG", _) = d.fast_line() else { panic!("last line") };
    // Nothing buffered again: the stream offset carries on.
    let mut last: &[u8] = b"OUT\r\n";
    let FastLine::Line(39, b"OUT", _) = d.fast_line_in(&mut last) else { panic!("in place again") };
    assert!(last.is_empty());
}

proptest! {
    #[test]
    fn any_split_gives_the_same_frames(cuts in proptest::collection::vec(0usize..STREAM.len(), 0..12)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for c in cuts {
            chunks.push(&STREAM[last..c]);
            last = c;
        }
        chunks.push(&STREAM[last..]);
        prop_assert_eq!(decode_all(&chunks, WireLimits::default()), decode_all(&[STREAM], WireLimits::default()));
    }

    #[test]
    fn fast_path_gives_the_frames_of_the_slow_path(data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'M'), Just(b'S'), Just(b'G'), Just(b'1'), Just(b'X'), any::<u8>()], 0..300), sel in any::<u8>()) {
        let mut input = vec![sel];
        input.extend_from_slice(b"MSG 1 N 3\r\nabcVER 1 MSNP2\r\n");
        input.extend_from_slice(&data);
        crate::testkit::fuzzing::wire(&input);
    }

    #[test]
    fn garbage_never_panics_and_splits_agree(data in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
        let limits = WireLimits { max_line: 50, max_payload: 100, keep_payload: 30 };
        let cut = cut.min(data.len());
        let a = decode_all(&[&data], limits);
        let b = decode_all(&[&data[..cut], &data[cut..]], limits);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn catalog_covers_every_msnp2_command() {
    let msnp2 = "VER INF USR XFR OUT CVR CHG ILN NLN FLN SYN GTC BLP LST ADD REM REA FND SND URL PNG QNG RNG CAL ANS IRO JOI BYE MSG ACK NAK";
    for verb in msnp2.split(' ') {
        let spec = catalog::lookup(verb).unwrap_or_else(|| panic!("{verb} missing"));
        assert_eq!(spec.since(), 2, "{verb}");
        assert!(spec.dialects.contains(Dialect::P2), "{verb}");
        let r = spec.roles();
        assert!(r.ds || r.ns || r.sb, "{verb} has no role");
        assert!(!spec.forms.is_empty(), "{verb} has no form");
    }
    assert_eq!(catalog::lookup("CVQ").map(|c| c.dialects), Some(dialect::only(Dialect::CVR0)));
    assert_eq!(catalog::lookup("UBX").map(|c| c.since()), Some(11));
    assert!(catalog::lookup("ver").is_none(), "codes are case-sensitive");
}

#[test]
fn trid_slots_follow_the_facts() {
    let any = Dialects::ALL;
    // Server commands without a TrID slot [facts §1.1].
    for v in ["NLN", "FLN", "RNG", "JOI", "BYE", "MSG", "OUT", "QNG"] {
        assert!(!catalog::has_trid(v, false, any), "{v}");
    }
    for v in ["OUT", "PNG"] {
        assert!(!catalog::has_trid(v, true, any), "{v}");
    }
    for v in ["ILN", "IRO", "ACK", "NAK", "XFR", "USR", "LST"] {
        assert!(catalog::has_trid(v, false, any), "{v}");
    }
    assert!(catalog::has_trid("MSG", true, any));
}

#[test]
fn commands_parse_with_and_without_trids() {
    let c = command::parse("RNG 11752013 10.0.1.200:1865 CKI 849.520 alice@hotmail.com Alice", false, Dialects::MSNP2);
    assert_eq!((c.trid, c.args.len(), c.args[0]), (None, 6, "11752013"));
    let c = command::parse("ILN 9 NLN bob@hotmail.com Bob", false, Dialects::MSNP2);
    assert_eq!((c.trid, c.args.to_vec()), (Some(9), vec!["NLN", "bob@hotmail.com", "Bob"]));
    let many = command::parse("FND 1 a b c d e f g h i j k l m n", true, Dialects::MSNP2);
    assert_eq!(many.args.len(), 14);
    assert_eq!(many.args.last(), Some(&"n"));
    let c = command::parse("911 7", false, Dialects::MSNP2);
    assert_eq!((c.error, c.trid), (Some(911), Some(7)));
    let c = command::parse("600", false, Dialects::MSNP2);
    assert_eq!((c.error, c.trid), (Some(600), None));
    let c = command::parse("CHG x NLN", true, Dialects::MSNP2);
    assert_eq!((c.trid, c.bad_trid), (None, Some("x")));
    let c = command::parse("CHG  1 NLN", true, Dialects::MSNP2);
    assert!(c.odd_spacing && !c.controls);
    // Control bytes (a bare CR among them) are noted wherever they are; a tab is a separator.
    for (line, controls) in [("CHG 1\rNLN", true), ("CHG 1 NLN\r", true), ("\x00CHG 1", true), ("CHG\t1 NLN", false)] {
        assert_eq!(command::parse(line, true, Dialects::MSNP2).controls, controls, "{line:?}");
    }
    assert_eq!(parse_trid("4294967295"), Some(u32::MAX));
    assert_eq!(parse_trid("4294967296"), None);
    assert_eq!(parse_trid("+1"), None);
    assert_eq!(command::url_decode("Carol%20%E2%98%83"), "Carol ☃");
}

#[test]
fn error_codes_have_names() {
    assert_eq!(errors::error_code(911).map(|e| e.name), Some("ERR_AUTHENTICATION_FAILED"));
    assert_eq!(errors::error_code(217).map(|e| e.era), Some(errors::Era::Later));
    assert!(errors::error_code(999).is_none());
}

#[test]
fn mime_payloads_split_into_headers_and_body() {
    let m = payload::parse(b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi\r\nthere");
    assert!(m.has_blank_line);
    assert_eq!(m.content_type().as_deref(), Some("text/plain"));
    assert_eq!(m.body, b"Hi\r\nthere");
    let m = payload::parse(b"short");
    assert!(!m.has_blank_line);
    assert!(m.headers.is_empty());
}

#[test]
fn error_table_is_sorted_for_binary_search() {
    assert!(errors::ERRORS.windows(2).all(|w| w[0].code < w[1].code));
    for e in errors::ERRORS {
        assert_eq!(errors::error_code(e.code).map(|x| x.code), Some(e.code));
    }
    for c in catalog::all() {
        assert_eq!(catalog::lookup(c.verb).map(|x| x.verb), Some(c.verb));
    }
}

/// The tokens of a line, its odd spacing and control bytes, by the rule's words: tokens are
/// what lies between spaces and tabs; spacing is odd unless the line is tokens joined by
/// single spaces; control bytes are those below the space other than the tab.
fn tokens_by_the_rule(line: &str) -> (Vec<&str>, bool, bool) {
    let tokens: Vec<&str> = line.split([' ', '\t']).filter(|t| !t.is_empty()).collect();
    let odd = tokens.join(" ") != line;
    let controls = line.bytes().any(|b| b < b' ' && b != b'\t');
    (tokens, odd, controls)
}

proptest! {
    /// A TrID is one to ten ASCII digits whose value fits in 32 bits, nothing else.
    #[test]
    fn trids_are_ten_digits_at_most_within_32_bits(s in "[0-9]{0,12}|[0-9:/+ a]{0,4}") {
        let rule = (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten();
        prop_assert_eq!(parse_trid(&s), rule, "{:?}", s);
    }

    /// The parser's one pass splits every line as the rule says, whatever its spacing.
    #[test]
    fn lines_split_as_the_rule_says(parts in proptest::collection::vec(prop_oneof![
        Just(" "), Just("  "), Just("\t"), Just("\r"), Just("\x01"), Just("MSG"), Just("1"), Just("bob@x.com"),
        Just("é"), Just("A"), Just("\x7f"), Just("\x1f"), Just("!"),
    ], 0..16), other in "[ \t\x00-\x21a-z\x7fé€]{0,40}", pick in any::<bool>()) {
        let line = if pick { parts.concat() } else { other };
        let c = command::parse(&line, true, Dialects::ALL);
        let (tokens, odd, controls) = tokens_by_the_rule(&line);
        let mut got: Vec<&str> = Vec::new();
        if !c.verb.is_empty() {
            got.push(c.verb);
        }
        if let Some(t) = c.bad_trid {
            got.push(t);
        } else if let Some(t) = c.trid {
            // The TrID slot took the token after the verb (its text is that number's).
            prop_assert_eq!(tokens.get(1).and_then(|x| command::parse_trid(x)), Some(t));
            got.push(tokens[1]);
        }
        got.extend(c.args.iter().copied());
        prop_assert_eq!(got, tokens, "{:?}", line);
        prop_assert_eq!(c.odd_spacing, odd, "{:?}", line);
        prop_assert_eq!(c.controls, controls, "{:?}", line);
    }
}
