//! Every rule of the catalog: a session that triggers it, and a corrected session that does not
//! (and reports nothing at all). Each case is the smallest conversation that shows the rule.

use super::common::*;
use msntap::app::analyze_to_json;
use msntap::reassembly::Limits;
use msntap::session::Options;
use msntap::testkit::synth::{self, Encap, Script};
use std::collections::BTreeSet;

const SB_ANS: &str = "> ANS 1 bob@hotmail.com 1.2.3 42";

const LOGIN: &[&str] = &[
    "> VER 1 MSNP2 CVR0",
    "< VER 1 MSNP2",
    "> INF 2",
    "< INF 2 MD5",
    "> USR 3 MD5 I alice@hotmail.com",
    "< USR 3 MD5 S 1234567890.123456789",
    "> USR 4 MD5 S f59af8f2fa91d38aff7c870c17f99903",
    "< USR 4 OK alice@hotmail.com Alice",
];

fn with_login(rest: &[&str]) -> Vec<String> {
    LOGIN.iter().chain(rest).map(|s| s.to_string()).collect()
}

/// An MSNP8 login (VER, CVR, USR TWN) followed by `rest`; `ok` is the USR OK line.
fn msnp8(ok: &str, rest: &[&str]) -> Vec<String> {
    let head = [
        "> VER 1 MSNP8 CVR0",
        "< VER 1 MSNP8",
        "> CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS alice@hotmail.com",
        "< CVR 2 5.0.0540 5.0.0540 5.0.0540 http://x.test/setup http://x.test/info",
        "> USR 3 TWN I alice@hotmail.com",
        "< USR 3 TWN S lc=1033,id=507,tw=40",
        "> USR 4 TWN S t=ticket&p=profile",
    ];
    head.iter().copied().chain([ok]).chain(rest.iter().copied()).map(String::from).collect()
}

/// An MSNP8 login that succeeds, then `rest`.
fn p8(rest: &[&str]) -> Vec<String> {
    msnp8("< USR 4 OK alice@hotmail.com Alice 1 0", rest)
}

/// An MSNP11 or MSNP13 login (`dialect`), then `rest`.
fn later_login(dialect: &str, rest: &[&str]) -> Vec<String> {
    let head = [
        format!("> VER 1 {dialect} CVR0"),
        format!("< VER 1 {dialect}"),
        "> CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.0.0787 msmsgs alice@hotmail.com".into(),
        "< CVR 2 8.0.0787 8.0.0787 8.0.0787 http://x.test/setup http://x.test/info".into(),
        "> USR 3 TWN I alice@hotmail.com".into(),
        "< USR 3 TWN S lc=1033,id=507,tw=40".into(),
        "> USR 4 TWN S t=ticket&p=profile".into(),
        "< USR 4 OK alice@hotmail.com 1 0".into(),
    ];
    head.into_iter().chain(rest.iter().map(|s| s.to_string())).collect()
}

fn qry(product: &str, body: &str) -> String {
    format!("> QRY 5 {product} {}\r\n{body}", body.len())
}

/// A switchboard session of the caller: `rest` after its USR (MSG belongs there).
fn on_sb(rest: &[&str]) -> Vec<String> {
    ["> USR 1 alice@hotmail.com 17.18.19", "< USR 1 OK alice@hotmail.com Alice"]
        .iter()
        .chain(rest)
        .map(|s| s.to_string())
        .collect()
}

fn ids_of(lines: &[String], opts: Options) -> Vec<String> {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    rule_ids(&analyze(&one_connection(&refs), opts))
}

fn msg(head: &str, body: &str) -> String {
    let p = format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{body}");
    format!("{head} {}\r\n{p}", p.len())
}

/// (rule, lines that trigger it, corrected lines, whether the login prefix is used)
fn cases() -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let l = |v: &[&str]| with_login(v);
    let raw = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let big = msg("> MSG 5 N", &"x".repeat(1700));
    let small = msg("> MSG 5 N", &"x".repeat(100));
    let long = format!("> CHG 5 {}", "N".repeat(20_000));
    vec![
        ("MSNP-F001", l(&["> XYZ 5 foo"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        ("MSNP-F002", l(&["> SYN 5 0\r\r\n", "< SYN 5 1"]), l(&["> SYN 5 0", "< SYN 5 1"])),
        ("MSNP-F003", l(&["> SYN 5 0\n", "< SYN 5 1"]), l(&["> SYN 5 0", "< SYN 5 1"])),
        ("MSNP-F004", l(&["> SYN  5 0", "< SYN 5 1"]), l(&["> SYN 5 0", "< SYN 5 1"])),
        ("MSNP-F005", on_sb(&["> MSG 5 N abc"]), on_sb(&[&small])),
        ("MSNP-F006", on_sb(&["> MSG 5 N 100\r\nshort"]), on_sb(&[&small])),
        ("MSNP-F007", on_sb(&["> MSG 5 N 5\r\nhello"]), on_sb(&[&small])),
        ("MSNP-F008", on_sb(&[&big]), on_sb(&[&small])),
        ("MSNP-F009", l(&[&long]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        ("MSNP-F010", l(&["!> CHG 5 NLN"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        ("MSNP-F011", l(&["> chg 5 NLN"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        ("MSNP-T001", l(&["> CHG x NLN"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        (
            "MSNP-T002",
            l(&["> CHG 5 NLN", "> CHG 5 BSY", "< CHG 5 NLN"]),
            l(&["> CHG 5 NLN", "> CHG 6 BSY", "< CHG 5 NLN", "< CHG 6 BSY"]),
        ),
        ("MSNP-T003", l(&["> CHG 0 NLN", "< CHG 0 NLN"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        ("MSNP-T004", l(&["< CHG 77 NLN"]), l(&["< CHG 0 NLN"])),
        ("MSNP-T005", l(&["> CHG 5 NLN", "< SYN 5 1", "< CHG 5 NLN"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        ("MSNP-T006", l(&["> SYN 5 0"]), l(&["> SYN 5 0", "< SYN 5 1"])),
        (
            "MSNP-T007",
            raw(&["> USR 1 alice@hotmail.com 1.2.3", "< USR 1 OK alice@hotmail.com Alice", &msg("> MSG 2 A", "hi")]),
            raw(&[
                "> USR 1 alice@hotmail.com 1.2.3",
                "< USR 1 OK alice@hotmail.com Alice",
                &msg("> MSG 2 A", "hi"),
                "< ACK 2",
            ]),
        ),
        (
            "MSNP-T008",
            raw(&[
                "> USR 1 alice@hotmail.com 1.2.3",
                "< USR 1 OK alice@hotmail.com Alice",
                &msg("> MSG 2 U", "hi"),
                "< ACK 2",
            ]),
            raw(&["> USR 1 alice@hotmail.com 1.2.3", "< USR 1 OK alice@hotmail.com Alice", &msg("> MSG 2 U", "hi")]),
        ),
        ("MSNP-T009", l(&["< QNG"]), l(&["> PNG", "< QNG"])),
        (
            "MSNP-S001",
            l(&["> ADD 5 FL bob Bob", "< 201 5"]),
            l(&["> ADD 5 FL bob@hotmail.com Bob", "< ADD 5 FL 13 bob@hotmail.com Bob"]),
        ),
        (
            "MSNP-S002",
            l(&["> ADD 5 FL bob@example.com Bob", "< ADD 5 FL 13 bob@example.com Bob"]),
            l(&["> ADD 5 FL bob@hotmail.com Bob", "< ADD 5 FL 13 bob@hotmail.com Bob"]),
        ),
        (
            "MSNP-S003",
            l(&["> ADD 5 FL bob@hotmail.com Bob%ZZ", "< 201 5"]),
            l(&["> ADD 5 FL bob@hotmail.com Bob%20B", "< ADD 5 FL 13 bob@hotmail.com Bob%20B"]),
        ),
        (
            "MSNP-S023",
            l(&["> ADD 5 FL bob@hotmail.com B\u{e9}b", "< ADD 5 FL 13 bob@hotmail.com B\u{e9}b"]),
            l(&["> ADD 5 FL bob@hotmail.com B%C3%A9b", "< ADD 5 FL 13 bob@hotmail.com B%C3%A9b"]),
        ),
        ("MSNP-S004", l(&["> CHG 5 XYZ", "< 201 5"]), l(&["> CHG 5 AWY", "< CHG 5 AWY"])),
        (
            "MSNP-S005",
            l(&["> ADD 5 RL bob@hotmail.com Bob", "< 201 5"]),
            l(&["> ADD 5 AL bob@hotmail.com Bob", "< ADD 5 AL 13 bob@hotmail.com Bob"]),
        ),
        ("MSNP-S006", l(&["> GTC 5 X", "< 201 5"]), l(&["> GTC 5 N", "< GTC 5 13 N"])),
        ("MSNP-S007", l(&["> SYN 5 0 1", "< SYN 5 1"]), l(&["> SYN 5 0", "< SYN 5 1"])),
        ("MSNP-S008", l(&["> SYN 5 0", "< 999 5"]), l(&["> SYN 5 0", "< 500 5"])),
        (
            "MSNP-S009",
            raw(&[
                "> VER 1 MSNP2",
                "< VER 1 MSNP2",
                "> INF 2",
                "< INF 2 MD5",
                "> USR 3 MD5 I alice@hotmail.com",
                "< USR 3 MD5 S 1.2",
                "> USR 4 MD5 S NOTHEX",
                "< 911 4",
            ]),
            with_login(&[]),
        ),
        (
            "MSNP-S011",
            l(&["> XFR 5 SB", "< XFR 5 SB 10.0.0.9:1865 MD5 1.2.3"]),
            l(&["> XFR 5 SB", "< XFR 5 SB 10.0.0.9:1865 CKI 1.2.3"]),
        ),
        (
            "MSNP-S012",
            raw(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> INF 2", "< INF 2 MD5,CTP"]),
            raw(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> INF 2", "< INF 2 MD5"]),
        ),
        ("MSNP-S013", raw(&["> VER 1 MSNP2 CVR0", "< VER 1 MSNP5"]), raw(&["> VER 1 MSNP2 CVR0", "< VER 1 msnp2"])),
        (
            "MSNP-S014",
            l(&["> XFR 5 SB", "< XFR 5 SB 10.0.0.9:99999 CKI 1.2.3"]),
            l(&["> XFR 5 SB", "< XFR 5 SB sb.example.com:1865 CKI 1.2.3"]),
        ),
        (
            "MSNP-S015",
            l(&["< RNG 12ab 10.0.0.9:1865 CKI 1.2.3 bob@hotmail.com Bob"]),
            l(&["< RNG 1234 10.0.0.9:1865 CKI 1.2.3 bob@hotmail.com Bob"]),
        ),
        (
            "MSNP-S016",
            l(&["> LST 5 FL", "< LST 5 FL x 1 1 bob@hotmail.com Bob"]),
            l(&["> LST 5 FL", "< LST 5 FL 3 1 1 bob@hotmail.com Bob"]),
        ),
        ("MSNP-P001", raw(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> SYN 2 0", "< 302 2"]), l(&["> SYN 5 0", "< SYN 5 1"])),
        (
            "MSNP-P002",
            raw(&[
                "> VER 1 MSNP2",
                "< VER 1 MSNP2",
                "> INF 2",
                "< INF 2 MD5",
                "> USR 3 MD5 I alice@hotmail.com",
                "< XFR 3 NS 10.0.0.2:1863",
                "> SYN 4 0",
            ]),
            raw(&[
                "> VER 1 MSNP2",
                "< VER 1 MSNP2",
                "> INF 2",
                "< INF 2 MD5",
                "> USR 3 MD5 I alice@hotmail.com",
                "< XFR 3 NS 10.0.0.2:1863",
            ]),
        ),
        ("MSNP-P003", l(&["> ACK 5"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        (
            "MSNP-P004",
            raw(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> USR 3 MD5 I alice@hotmail.com", "< USR 3 MD5 S 1.2"]),
            raw(&[
                "> VER 1 MSNP2",
                "< VER 1 MSNP2",
                "> INF 2",
                "< INF 2 MD5",
                "> USR 3 MD5 I alice@hotmail.com",
                "< USR 3 MD5 S 1.2",
            ]),
        ),
        (
            "MSNP-P005",
            raw(&["> INF 1", "< INF 1 MD5"]),
            raw(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> INF 2", "< INF 2 MD5"]),
        ),
        (
            "MSNP-P006",
            raw(&["> CAL 1 bob@hotmail.com", "< CAL 1 RINGING 123"]),
            raw(&[
                "> USR 1 alice@hotmail.com 1.2.3",
                "< USR 1 OK alice@hotmail.com Alice",
                "> CAL 2 bob@hotmail.com",
                "< CAL 2 RINGING 123",
            ]),
        ),
        (
            "MSNP-P008",
            raw(&[
                "> USR 1 alice@hotmail.com 1.2.3",
                "< USR 1 OK alice@hotmail.com Alice",
                "> CAL 2 bob@hotmail.com",
                "< CAL 2 CALLING 123",
            ]),
            raw(&[
                "> USR 1 alice@hotmail.com 1.2.3",
                "< USR 1 OK alice@hotmail.com Alice",
                "> CAL 2 bob@hotmail.com",
                "< CAL 2 RINGING 123",
            ]),
        ),
        ("MSNP-P009", l(&["> UUX 5 0", "< UUX 5 0"]), l(&["> CHG 5 NLN", "< CHG 5 NLN"])),
        (
            "MSNP-P010",
            l(&[
                "> SYN 5 0",
                "< SYN 5 7",
                "< BLP 5 7 AL",
                "< GTC 5 7 A",
                "< LST 5 FL 7 0 0",
                "< LST 5 AL 7 0 0",
                "< LST 5 BL 7 0 0",
                "< LST 5 RL 7 0 0",
            ]),
            l(&[
                "> SYN 5 0",
                "< SYN 5 7",
                "< GTC 5 7 A",
                "< BLP 5 7 AL",
                "< LST 5 FL 7 1 2 bob@hotmail.com Bob",
                "< LST 5 FL 7 2 2 eve@hotmail.com Eve",
                "< LST 5 AL 7 0 0",
                "< LST 5 BL 7 0 0",
                "< LST 5 RL 7 1 1 bob@hotmail.com Bob",
            ]),
        ),
        (
            "MSNP-P010",
            l(&[
                "> SYN 5 0",
                "< SYN 5 7",
                "< GTC 5 7 A",
                "< BLP 5 7 AL",
                "< LST 5 FL 7 1 2 bob@hotmail.com Bob",
                "< LST 5 AL 7 0 0",
                "< LST 5 BL 7 0 0",
                "< LST 5 RL 7 0 0",
            ]),
            l(&["> SYN 5 7", "< SYN 5 7"]),
        ),
        (
            "MSNP-P010",
            l(&[
                "> SYN 5 0",
                "< SYN 5 7",
                "< GTC 5 6 A",
                "< BLP 5 7 AL",
                "< LST 5 FL 7 0 0",
                "< LST 5 AL 7 0 0",
                "< LST 5 BL 7 0 0",
                "< LST 5 RL 7 0 0",
            ]),
            l(&[
                "> SYN 5 0",
                "< SYN 5 7",
                "< GTC 5 7 A",
                "< BLP 5 7 AL",
                "< LST 5 FL 7 0 0",
                "< LST 5 AL 7 0 0",
                "< LST 5 BL 7 0 0",
                "< LST 5 RL 7 0 0",
            ]),
        ),
        (
            "MSNP-P011",
            raw(&[SB_ANS, "< IRO 1 2 2 alice@hotmail.com Alice", "< IRO 1 1 2 carol@hotmail.com Carol", "< ANS 1 OK"]),
            raw(&[
                SB_ANS,
                "< IRO 1 1 2 alice@hotmail.com Alice",
                "< IRO 1 2 2 carol@hotmail.com Carol",
                "< ANS 1 OK",
                "< JOI dave@hotmail.com Dave",
            ]),
        ),
        (
            "MSNP-P011",
            raw(&[
                SB_ANS,
                "< IRO 1 1 2 alice@hotmail.com Alice",
                "< JOI dave@hotmail.com Dave",
                "< IRO 1 2 2 carol@hotmail.com Carol",
                "< ANS 1 OK",
            ]),
            raw(&[SB_ANS, "< ANS 1 OK", "< JOI dave@hotmail.com Dave"]),
        ),
        (
            "MSNP-P011",
            raw(&[SB_ANS, "< IRO 1 1 2 alice@hotmail.com Alice", "< ANS 1 OK"]),
            raw(&[SB_ANS, "< IRO 1 1 1 alice@hotmail.com Alice", "< ANS 1 OK"]),
        ),
        (
            "MSNP-P012",
            raw(&[
                "> VER 1 MSNP2",
                "< VER 1 MSNP2",
                "> INF 2",
                "< INF 2 MD5",
                "> USR 3 MD5 S f59af8f2fa91d38aff7c870c17f99903",
                "< 911 3",
            ]),
            with_login(&[]),
        ),
        ("MSNP-P013", l(&["> OUT", "< OUT", "> CHG 5 NLN"]), l(&["> CHG 5 NLN", "< CHG 5 NLN", "> OUT", "< OUT"])),
        // Rules of later dialects, each in its dialect.
        (
            "MSNP-T010",
            p8(&["< CHL 0 11111111111111111111"]),
            p8(&["< CHL 0 11111111111111111111", &qry("msmsgs@msnmsgr.com", "3b6666b60157322b6fc6e41a115968f5"), "< QRY 5"]),
        ),
        (
            "MSNP-S017",
            p8(&["< CHL 0 11111111111111111111", &qry("msmsgs@msnmsgr.com", "3B6666B6"), "< QRY 5"]),
            p8(&["< CHL 0 11111111111111111111", &qry("msmsgs@msnmsgr.com", "3b6666b60157322b6fc6e41a115968f5"), "< QRY 5"]),
        ),
        (
            "MSNP-S018",
            later_login(
                "MSNP11",
                &["< CHL 0 22210219642164014968", &qry("PROD0090YUAUV{2B", "3b6666b60157322b6fc6e41a115968f5"), "< QRY 5"],
            ),
            later_login(
                "MSNP11",
                &["< CHL 0 22210219642164014968", &qry("PROD0090YUAUV{2B", "85ecb0db8f32113df79ce0892b9a102c"), "< QRY 5"],
            ),
        ),
        (
            "MSNP-S019",
            raw(&[
                "> VER 1 MSNP8 CVR0",
                "< VER 1 MSNP8",
                "> CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS alice@hotmail.com",
                "< CVR 2 5.0.0540 5.0.0540 5.0.0540 http://x.test/setup http://x.test/info",
                "> USR 3 TWN I alice@hotmail.com",
                "< XFR 3 NS 10.0.0.5:1863",
            ]),
            raw(&[
                "> VER 1 MSNP8 CVR0",
                "< VER 1 MSNP8",
                "> CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS alice@hotmail.com",
                "< CVR 2 5.0.0540 5.0.0540 5.0.0540 http://x.test/setup http://x.test/info",
                "> USR 3 TWN I alice@hotmail.com",
                "< XFR 3 NS 10.0.0.5:1863 0 10.0.0.1:1863",
            ]),
        ),
        ("MSNP-S020", msnp8("< USR 4 OK alice@hotmail.com Alice 2 0", &[]), p8(&[])),
        (
            "MSNP-S021",
            later_login(
                "MSNP11",
                &[
                    "> SYN 5 0 0",
                    "< SYN 5 2024-09-28T17:18:18.6400000-07:00 2024-09-28T17:18:18.6400000-07:00 1 1",
                    "< GTC A",
                    "< BLP AL",
                    "< LSG Other%20Contacts d6deeacd-7849-4de4-93c5-d130915d0042",
                    "< LST N=bob@hotmail.com F=Bob C=notaguid 11 d6deeacd-7849-4de4-93c5-d130915d0042",
                ],
            ),
            later_login(
                "MSNP11",
                &[
                    "> SYN 5 0 0",
                    "< SYN 5 2024-09-28T17:18:18.6400000-07:00 2024-09-28T17:18:18.6400000-07:00 1 1",
                    "< GTC A",
                    "< BLP AL",
                    "< LSG Other%20Contacts d6deeacd-7849-4de4-93c5-d130915d0042",
                    "< LST N=bob@hotmail.com F=Bob C=c1f9a363-4ee9-4a33-a434-b056a4c55b98 11 d6deeacd-7849-4de4-93c5-d130915d0042",
                ],
            ),
        ),
        (
            "MSNP-S022",
            later_login("MSNP13", &["> ADL 5 22\r\n<ml><d n=x.com></d></ml>", "< ADL 5 OK"]),
            later_login("MSNP13", &["> ADL 5 56\r\n<ml><d n=\"hotmail.com\"><c n=\"bob\" l=\"1\" t=\"1\"/></d></ml>", "< ADL 5 OK"]),
        ),
        (
            "MSNP-P014",
            raw(&[
                "> VER 1 MSNP8 CVR0",
                "< VER 1 MSNP8",
                "> USR 3 TWN I alice@hotmail.com",
                "< USR 3 TWN S lc=1033,id=507,tw=40",
            ]),
            raw(&[
                "> VER 1 MSNP8 CVR0",
                "< VER 1 MSNP8",
                "> CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS alice@hotmail.com",
                "< CVR 2 5.0.0540 5.0.0540 5.0.0540 http://x.test/setup http://x.test/info",
                "> USR 3 TWN I alice@hotmail.com",
                "< USR 3 TWN S lc=1033,id=507,tw=40",
            ]),
        ),
        (
            "MSNP-P015",
            p8(&["> SYN 5 0", "< SYN 5 1 2 1", "< GTC A", "< BLP AL", "< LSG 0 Other%20Contacts 0", "< LST bob@hotmail.com Bob 11 0"]),
            p8(&["> SYN 5 0", "< SYN 5 1 1 1", "< GTC A", "< BLP AL", "< LSG 0 Other%20Contacts 0", "< LST bob@hotmail.com Bob 11 0"]),
        ),
    ]
}

#[test]
fn each_rule_triggers_on_its_case_and_not_on_the_corrected_one() {
    let mut covered = BTreeSet::new();
    for (rule, bad, good) in cases() {
        let ids = ids_of(&bad, Options::default());
        assert!(ids.iter().any(|r| r == rule), "{rule}: bad case reported {ids:?}");
        let ids = ids_of(&good, Options::default());
        assert!(ids.is_empty(), "{rule}: corrected case reported {ids:?}");
        covered.insert(rule);
    }
    // The rules whose cases need more than one connection or broken TCP are tested below.
    let elsewhere = ["MSNP-S010", "MSNP-P007", "MSNP-N001", "MSNP-N002", "MSNP-N003", "MSNP-N004"];
    for r in msntap::rules::CATALOG {
        assert!(covered.contains(r.id) || elsewhere.contains(&r.id), "{} has no case", r.id);
    }
}

/// The rules about what a connection's end leaves unfinished (a request unanswered, a
/// challenge, a SYN batch, a payload or a line cut short) fire when the connection ended, and
/// stay silent when the capture stopped with it open or it was flushed while idle: the rest may
/// simply not have been seen. The request is still counted unanswered.
#[test]
fn end_of_connection_rules_need_a_real_end() {
    let at_end = ["MSNP-T006", "MSNP-T007", "MSNP-T010", "MSNP-F006", "MSNP-F010", "MSNP-P015"];
    let mut seen = BTreeSet::new();
    for (rule, bad, _) in cases().into_iter().filter(|(r, _, _)| at_end.contains(r)) {
        seen.insert(rule);
        let refs: Vec<&str> = bad.iter().map(String::as_str).collect();
        for end in [ScriptEnd::Fin, ScriptEnd::Open, ScriptEnd::Idle] {
            let doc = analyze(&raw_connection_ending(&script_sends(&refs), end), Options::default());
            let ids = rule_ids(&doc);
            assert_eq!(ids.iter().any(|r| r == rule), end == ScriptEnd::Fin, "{rule} with {end:?}: {ids:?}");
            let closed = &doc["connections"][0]["close"];
            let want = match end {
                ScriptEnd::Fin => "fin",
                ScriptEnd::Open => "open",
                ScriptEnd::Idle => "idle",
            };
            assert_eq!(closed, want, "{rule} with {end:?}");
            if rule == "MSNP-F006" && end != ScriptEnd::Fin {
                let notes: Vec<&serde_json::Value> =
                    doc["connections"][0]["events"].as_array().into_iter().flatten().map(|e| &e["note"]).collect();
                let cut = notes.iter().filter_map(|n| n.as_str()).any(|n| n.starts_with("payload cut short"));
                assert!(cut, "{end:?}: {notes:?}");
            }
            if rule == "MSNP-T006" {
                let outcomes: Vec<&serde_json::Value> = doc["connections"][0]["transactions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| &t["outcome"])
                    .collect();
                assert!(outcomes.iter().any(|o| *o == "unanswered"), "{end:?}: {outcomes:?}");
            }
        }
    }
    assert_eq!(seen.len(), at_end.len(), "a case for each: {seen:?}");
}

#[test]
fn md5_response_is_checked_against_a_given_password() {
    // Test vector of the facts sheet: challenge 1234567890.123456789, password "password".
    let mut opts = Options::default();
    opts.passwords.insert("alice@hotmail.com".into(), "password".into());
    assert!(ids_of(&with_login(&[]), opts.clone()).is_empty());
    opts.passwords.insert("alice@hotmail.com".into(), "wrong".into());
    assert_eq!(ids_of(&with_login(&[]), opts), ["MSNP-S010"]);
}

fn two_connection_capture(sb_cookie: &str) -> Vec<u8> {
    let mut s = Script::new(941_825_442_000_000_000, 5);
    let ns = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.5:1863".parse().unwrap());
    for l in LOGIN {
        let (c, t) = l.split_at(2);
        s.send(ns, c == "> ", format!("{t}\r\n").as_bytes());
    }
    s.send(ns, true, b"XFR 5 SB\r\n");
    s.send(ns, false, b"XFR 5 SB 198.51.100.9:1865 CKI 1.2.3\r\n");
    let sb = s.connect("203.0.113.5:40001".parse().unwrap(), "198.51.100.9:1865".parse().unwrap());
    s.send(sb, true, format!("USR 1 alice@hotmail.com {sb_cookie}\r\n").as_bytes());
    s.send(sb, false, b"USR 1 OK alice@hotmail.com Alice\r\n");
    s.close(sb, true);
    s.close(ns, true);
    synth::pcap(&s.segs, Encap::Ethernet, None)
}

#[test]
fn switchboard_cookie_must_match_a_referral() {
    let doc = analyze(&two_connection_capture("9.9.9"), Options::default());
    assert_eq!(rule_ids(&doc), ["MSNP-P007"]);
    assert_eq!(doc["links"][0]["to"], serde_json::Value::Null);
    let doc = analyze(&two_connection_capture("1.2.3"), Options::default());
    assert!(rule_ids(&doc).is_empty());
    assert_eq!(doc["links"][0]["to"]["connection"], 2);
    assert_eq!(doc["connections"][1]["dialect"], "MSNP2");
    assert_eq!(doc["connections"][1]["dialect_source"], "inherited");
}

fn lossy_capture(drop_data: bool, conflict: bool, from_start: bool) -> Vec<u8> {
    let mut s = Script::new(941_825_442_000_000_000, 5);
    let c = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.5:1863".parse().unwrap());
    for l in LOGIN {
        let (d, t) = l.split_at(2);
        s.send(c, d == "> ", format!("{t}\r\n").as_bytes());
    }
    s.send_split(c, true, b"CHG 5 NLN\r\nSYN 6 0\r\n", &[4]);
    s.send(c, false, b"CHG 5 NLN\r\nSYN 6 1\r\n");
    s.close(c, true);
    let mut segs = s.segs.clone();
    let at = segs.iter().position(|g| g.payload == b"CHG ").unwrap();
    if drop_data {
        segs.remove(at);
    }
    if conflict {
        let mut evil = segs[at].clone();
        evil.payload = b"chg ".to_vec();
        segs.insert(at + 2, evil);
    }
    if !from_start {
        segs.drain(..3);
    }
    synth::pcap(&segs, Encap::Ethernet, None)
}

#[test]
fn network_rules() {
    let clean = lossy_capture(false, false, true);
    assert!(rule_ids(&analyze(&clean, Options::default())).is_empty());
    // A lost segment: the gap, then resynchronisation skips the rest of the cut line.
    let ids = rule_ids(&analyze(&lossy_capture(true, false, true), Options::default()));
    assert_eq!(
        ids,
        ["MSNP-N001", "MSNP-N004", "MSNP-T004"],
        "the CHG request was lost, so its answer pairs with nothing"
    );
    let ids = rule_ids(&analyze(&lossy_capture(false, true, true), Options::default()));
    assert_eq!(ids, ["MSNP-N002"]);
    let ids = rule_ids(&analyze(&lossy_capture(false, false, false), Options::default()));
    assert_eq!(ids, ["MSNP-N003"]);
}

#[test]
fn limits_are_options() {
    let opts =
        Options { wire: msntap::msnp::wire::WireLimits { max_line: 8, ..Default::default() }, ..Options::default() };
    let doc = analyze_to_json(&one_connection(&["> CHG 5 NLN"]), opts, &[], Limits::default()).unwrap();
    assert_eq!(rule_ids(&doc), ["MSNP-F009"]);
}

/// One broken session per rule family: exactly these rules, and nothing else.
#[test]
fn broken_sessions_by_family_report_exactly_their_rules() {
    let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        (
            "framing",
            on_sb(&[
                "> CAL 5 bob@hotmail.com\n",
                "< CAL 5 RINGING 11",
                "> chg 6 NLN",
                "> MSG 7 N 5\r\nhello",
                "!> OUT",
            ]),
            vec!["MSNP-F003", "MSNP-F011", "MSNP-F007", "MSNP-F010"],
        ),
        (
            "transactions",
            with_login(&["> CHG 5 NLN", "> CHG 5 BSY", "< CHG 5 NLN", "< CHG 77 NLN", "< QNG", "> SYN 6 0"]),
            // The reused TrID leaves the first CHG 5 without its answer: T006 on it too.
            vec!["MSNP-T006", "MSNP-T002", "MSNP-T004", "MSNP-T009", "MSNP-T006"],
        ),
        (
            "syntax",
            with_login(&["> ADD 5 FL bob Bob%ZZ", "< 201 5", "> CHG 6 XYZ", "< 201 6", "> GTC 7 X", "< 999 7"]),
            vec!["MSNP-S001", "MSNP-S003", "MSNP-S004", "MSNP-S006", "MSNP-S008"],
        ),
        (
            "protocol",
            vec![
                "> INF 1",
                "< INF 1 MD5",
                "> SYN 2 0",
                "< 302 2",
                "> USR 3 MD5 S f59af8f2fa91d38aff7c870c17f99903",
                "< 911 3",
                "> OUT",
                "> CHG 4 NLN",
                "< CHG 4 NLN",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            // Without VER the dialect is unknown: the rules of every dialect still hold.
            vec!["MSNP-P005", "MSNP-P001", "MSNP-P012", "MSNP-P001", "MSNP-P013"],
        ),
    ];
    for (family, lines, want) in cases {
        assert_eq!(ids_of(&lines, Options::default()), want, "{family}");
    }
}

/// One connection of `>`/`<` lines with CRLF, `~` sent as the Latin-1 byte 0xE9.
fn latin1_connection(lines: &[String]) -> Vec<u8> {
    let sends: Vec<(bool, Vec<u8>)> = lines
        .iter()
        .map(|l| {
            let mut b: Vec<u8> = l[2..].bytes().map(|c| if c == b'~' { 0xE9 } else { c }).collect();
            b.extend_from_slice(b"\r\n");
            (l.starts_with('>'), b)
        })
        .collect();
    raw_connection(&sends)
}

/// A client that offered only MSNP2, answered with a dialect it did not offer (`chosen`),
/// then `rest`.
fn unoffered(chosen: &str, rest: &[&str]) -> Vec<String> {
    let head = [
        "> VER 1 MSNP2 CVR0".to_string(),
        format!("< VER 1 {chosen}"),
        "> INF 2".into(),
        "< INF 2 MD5".into(),
        "> USR 3 MD5 I alice@hotmail.com".into(),
        "< USR 3 MD5 S 1234567890.123456789".into(),
    ];
    head.into_iter().chain(rest.iter().map(|s| s.to_string())).collect()
}

#[test]
fn msnp2_violations_are_found_when_the_server_chose_a_dialect_the_client_did_not_offer() {
    let login = ["> USR 4 MD5 S f59af8f2fa91d38aff7c870c17f99903", "< USR 4 OK alice@hotmail.com Alice"];
    let long = format!("< ILN 5 NLN {}@hotmail.com Bob", "b".repeat(130));
    // `~` stands for the Latin-1 byte 0xE9 (é), which is not UTF-8.
    let raw_name = "< ILN 5 NLN bob@hotmail.com B~b";
    let cases: [(&str, Vec<&str>); 5] = [
        // SYN before the login completed.
        ("MSNP-P001", vec!["> SYN 4 0", "< SYN 4 1"]),
        // An invalid CHG state.
        ("MSNP-S004", [&login[..], &["> CHG 5 XYZ", "< 201 5"]].concat()),
        // A client editing its reverse list.
        ("MSNP-S005", [&login[..], &["> ADD 5 RL bob@hotmail.com Bob", "< 201 5"]].concat()),
        // A handle over 129 bytes.
        ("MSNP-S001", [&login[..], &["> CHG 5 NLN", "< CHG 5 NLN", long.as_str()]].concat()),
        // A raw 8-bit friendly name.
        ("MSNP-S003", [&login[..], &["> CHG 5 NLN", "< CHG 5 NLN", raw_name]].concat()),
    ];
    for chosen in ["MSNP5", "MSNP8", "MSNP11", "MSNP18"] {
        for (rule, rest) in &cases {
            let ids = rule_ids(&analyze(&latin1_connection(&unoffered(chosen, rest)), Options::default()));
            assert!(ids.iter().any(|r| r == "MSNP-S013"), "{chosen}: the choice is an error: {ids:?}");
            assert!(ids.iter().any(|r| r == rule), "{chosen}: {rule} missed: {ids:?}");
        }
        // The corrected session reports only the unoffered choice.
        let clean = unoffered(chosen, &[&login[..], &["> CHG 5 NLN", "< CHG 5 NLN"]].concat());
        assert_eq!(ids_of(&clean, Options::default()), ["MSNP-S013"], "{chosen}");
    }
}

#[test]
fn a_clients_msg_to_the_notification_server_is_flagged_in_every_dialect() {
    let body = "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi";
    let m = msg("> MSG 9 N", body);
    for (name, session) in [
        ("MSNP2", with_login(&[m.as_str()])),
        ("MSNP8", p8(&[m.as_str()])),
        ("MSNP11", later_login("MSNP11", &[m.as_str()])),
        ("MSNP13", later_login("MSNP13", &[m.as_str()])),
        ("MSNP18", later_login("MSNP18", &[m.as_str()])),
    ] {
        let ids = ids_of(&session, Options::default());
        assert!(ids.iter().any(|r| r == "MSNP-P003"), "{name}: {ids:?}");
        // On a switchboard the same MSG is fine.
        let on_switchboard = on_sb(&[m.as_str()]);
        assert!(!ids_of(&on_switchboard, Options::default()).iter().any(|r| r == "MSNP-P003"), "{name}");
    }
}

#[test]
fn raw_utf8_names_are_flagged_in_msnp2_only_and_bytes_that_are_not_utf8_everywhere() {
    let iln = |name: &str| format!("< ILN 5 NLN bob@hotmail.com {name} 1073791020");
    let session = |name: &str| {
        let chg = ["> CHG 5 NLN 1073791020".to_string(), "< CHG 5 NLN 1073791020".to_string(), iln(name)];
        let chg: Vec<&str> = chg.iter().map(String::as_str).collect();
        later_login("MSNP11", &chg)
    };
    // Real MSNP11 servers sent raw UTF-8 names (the 2005 capture): not a violation there.
    assert!(ids_of(&session("Fr\u{e9}d"), Options::default()).is_empty());
    let ids = rule_ids(&analyze(&latin1_connection(&session("Fr~d")), Options::default()));
    assert_eq!(ids, ["MSNP-S003"]);
}

/// A client's unknown command is flagged, and the error the server answers it with pairs with
/// it (T004 would say the error answers nothing); unanswered, it is not T006 either.
#[test]
fn an_unknown_command_answered_with_an_error_is_paired() {
    let doc = analyze(
        &one_connection(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> ZZZ 5", "< 200 5", "> QQQ 6"]),
        Options::default(),
    );
    assert_eq!(rule_ids(&doc), ["MSNP-F001", "MSNP-F001"]);
    let txns = doc["connections"][0]["transactions"].as_array().unwrap();
    assert!(txns.iter().any(|t| t["command"] == "ZZZ" && t["outcome"] == "error"), "{txns:?}");
}
