//! The catalog's data holds together, and lines of every dialect read as their forms say.

use super::*;
use crate::msnp::command::parse;
use crate::msnp::dialect::{from, only, range};

#[test]
fn every_form_lies_within_its_verb_and_its_payload_ends_in_a_length() {
    let mut seen = std::collections::HashSet::new();
    for spec in all() {
        assert!(seen.insert(spec.verb), "{} twice", spec.verb);
        assert!(!spec.forms.is_empty(), "{}", spec.verb);
        for f in spec.forms {
            assert!(
                spec.dialects.covers(f.dialects),
                "{} form {:?} outside {:?}",
                spec.verb,
                f.dialects,
                spec.dialects
            );
            assert!(f.roles != Roles::NONE, "{} form without a role", spec.verb);
            if f.payload {
                let last = f.params.last().map(|p| p.kind);
                assert!(matches!(last, Some(Kind::Length) | Some(Kind::Rest)), "{} payload form", spec.verb);
            }
            // Optional parameters come last.
            let first_opt = f.params.iter().position(|p| p.optional).unwrap_or(f.params.len());
            assert!(
                f.params[first_opt..].iter().all(|p| p.optional),
                "{}: a required parameter after an optional",
                spec.verb
            );
            assert!(
                !f.in_batch || (!f.trid && f.side == Side::Server),
                "{}: batch lines are TrID-less server lines",
                spec.verb
            );
        }
    }
    assert!(all().len() > 60, "{} verbs", all().len());
}

/// The form name of each argument of `line` in `span`.
fn names(line: &str, from_client: bool, span: Dialects) -> (Option<u32>, Vec<&'static str>) {
    let c = parse(line, from_client, span);
    let f = c.form().expect("a form");
    (c.trid, (0..c.args.len()).filter_map(|i| f.param(i).map(|p| p.name)).collect())
}

#[test]
fn msnp8_batch_lines_have_no_trid_and_msnp2_ones_do() {
    let p8 = only(Dialect::P8);
    assert_eq!(names("GTC A", false, p8), (None, vec!["setting"]));
    assert_eq!(names("LSG 0 Other%20Contacts 0", false, p8), (None, vec!["group-id", "name", "unused"]));
    assert_eq!(names("LST bob@x.com Bob 11 0", false, p8), (None, vec!["handle", "friendly-name", "lists", "groups"]));
    assert_eq!(names("BPR 4 bob@x.com PHH", false, p8), (None, vec!["serial", "handle", "property"]));
    // A reply to a client's BLP keeps its TrID in MSNP8.
    assert_eq!(names("BLP 5 6 AL", false, p8).0, Some(5));
    let p2 = Dialects::MSNP2;
    assert_eq!(names("LST 8 FL 5 1 1 bob@x.com Bob", false, p2).0, Some(8));
    assert_eq!(names("GTC 8 5 A", false, p2), (Some(8), vec!["serial", "setting"]));
}

#[test]
fn usr_forms_by_package_and_their_secrets() {
    let any = Dialects::ALL;
    let secrets = |line: &str, from_client: bool| -> Vec<&'static str> {
        let c = parse(line, from_client, any);
        let f = c.form().expect("form");
        f.params.iter().filter(|p| p.secret).map(|p| p.name).take(c.args.len()).collect()
    };
    assert_eq!(names("USR 3 TWN I alice@x.com", true, any), (Some(3), vec!["package", "sequence", "handle"]));
    assert_eq!(secrets("USR 3 TWN I alice@x.com", true), Vec::<&str>::new());
    assert_eq!(secrets("USR 4 TWN S t=abc&p=", true), vec!["ticket"]);
    assert_eq!(secrets("USR 4 SSO S t=abc response {guid}", true), vec!["ticket", "response"]);
    assert_eq!(secrets("USR 4 MD5 S f59af8f2fa91d38aff7c870c17f99903", true), vec!["response"]);
    assert_eq!(secrets("USR 1 alice@x.com 123.456", true), vec!["cookie"]);
    assert_eq!(secrets("USR 1 alice@x.com;{f52973b6-c926-4bad-9ba8-7c1e840e4ab0} 123.456", true), vec!["cookie"]);
    assert_eq!(secrets("USR 9 SHA A c2lnbmVk", true), vec!["ticket"]);
    // The server's TWN policy and MD5 challenge are not secrets.
    assert_eq!(secrets("USR 3 TWN S ct=1,rver=1", false), Vec::<&str>::new());
}

#[test]
fn referral_forms_say_their_dialects() {
    let evidence = |line: &str| parse(line, false, Dialects::ALL).reading.and_then(|r| r.evidence);
    assert_eq!(evidence("XFR 3 NS 10.0.0.5:1863"), Some(Dialects::MSNP2));
    assert_eq!(evidence("XFR 3 NS 10.0.0.5:1863 0"), Some(range(Dialect::P3, Dialect::P6)));
    assert_eq!(evidence("XFR 3 NS 10.0.0.5:1863 0 10.0.0.1:1863"), Some(range(Dialect::P7, Dialect::P12)));
    assert_eq!(evidence("XFR 3 NS 10.0.0.5:1863 U D"), Some(range(Dialect::P13, Dialect::at(20))));
    assert_eq!(evidence("XFR 5 SB 10.0.1.2:1865 CKI 17.1"), Some(range(Dialect::CVR0, Dialect::P12)));
    assert_eq!(evidence("XFR 5 SB 10.0.1.2:1865 CKI 17.1 U messenger.msn.com 1"), Some(from(Dialect::P14)));
    assert_eq!(evidence("QNG 60"), Some(from(Dialect::P9)));
    assert_eq!(evidence("UBX bob@x.com 0"), Some(range(Dialect::P11, Dialect::P13)));
    assert_eq!(evidence("IRO 1 1 1 bob@x.com Bob"), Some(range(Dialect::CVR0, Dialect::P11)));
}

#[test]
fn roles_of_forms() {
    let roles = |line: &str, from_client: bool| parse(line, from_client, Dialects::ALL).reading.map(|r| r.roles);
    assert_eq!(roles("MSG Hotmail Hotmail 94", false), Some(NS));
    assert_eq!(roles("MSG bob@x.com Bob 94", false), Some(NS_SB));
    assert_eq!(roles("MSG 4 N 12", true), Some(SB));
    assert_eq!(roles("USR 1 alice@x.com 123.456", true), Some(SB));
    assert_eq!(roles("USR 3 TWN I alice@x.com", true), Some(DS_NS));
    assert_eq!(roles("SYN 5 0", true), Some(NS));
}

#[test]
fn kinds_that_do_not_decide_take_any_token_and_fits_tests_only_those_that_do() {
    let odd = ["", "x", "@;:", "tel:", "12", "N=a", "Hotmail", "\u{e9}"];
    for spec in all() {
        for f in spec.forms {
            for p in f.params.iter().filter(|p| !p.kind.decides()) {
                for t in odd {
                    assert!(p.kind.fits(t), "{} {:?} refuses {t:?}", spec.verb, p.kind);
                }
            }
        }
    }
    // A deciding kind past a free one is still tested: LST's handle after its counts.
    let lst = lookup("LST").and_then(|s| s.forms.iter().find(|f| f.side == Side::Server && f.trid));
    let lst = lst.expect("an MSNP2 LST reply form");
    assert!(lst.fits(&["FL", "3", "1", "2", "bob@x.com", "Bob"]));
    assert!(!lst.fits(&["FL", "3", "1", "2", "not-a-handle", "Bob"]));
}

proptest::proptest! {
    /// A handle's shape, tested with the marks table, is what its definition says: an `@` and
    /// no `;`, or a `tel:` number.
    #[test]
    fn handle_shapes_are_judged_as_defined(t in "[a-z@;:.]{0,24}", any in "\\PC{0,40}") {
        for s in [t.as_str(), any.as_str(), "tel:+1555", "bob@x.com;{g}"] {
            let want = (s.contains('@') && !s.contains(';')) || s.starts_with("tel:");
            proptest::prop_assert_eq!(Kind::Handle.fits(s), want, "{:?}", s);
        }
    }
}
