//! The dialects the testkit speaks (MSNP2, 5, 7, 8, 11 and 13) and every line that differs
//! between them, in one place: the live server, the scripted clients and the sample captures
//! all format those lines here, so what the testkit says in a dialect is written once. The
//! forms follow the research notes' sources: msnp-wiki `docs/versions/msnpN.md` and
//! `docs/commands/*.md` \[Y\], and the NINA wiki's MSNP pages \[N\] (see `docs/dialects.md`).
//!
//! Passport logins (TWN, MSNP8+) need a ticket from an HTTPS service; the testkit issues its
//! own instead: [`Flavor::ticket`] derives it from the server's policy string and the
//! password, so the server can check it without any other service.

use crate::msnp::auth::{md5_response, qry_response};

/// The dialects the testkit speaks, oldest first.
pub const SPOKEN: [u8; 6] = [2, 5, 7, 8, 11, 13];

/// One dialect the testkit speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor(u8);

/// A contact in a list: handle, URL-encoded friendly name.
pub type Contact<'a> = (&'a str, &'a str);

/// A user's lists, as the SYN batch gives them.
#[derive(Debug, Clone, Default)]
pub struct Lists<'a> {
    /// Forward list.
    pub fl: Vec<Contact<'a>>,
    /// Allow list.
    pub al: Vec<Contact<'a>>,
    /// Block list.
    pub bl: Vec<Contact<'a>>,
    /// Reverse list.
    pub rl: Vec<Contact<'a>>,
    /// Groups (MSNP7+): id and URL-encoded name; none means the one default group (a SYN
    /// batch always lists at least one).
    pub groups: Vec<(u32, &'a str)>,
    /// The GTC and BLP settings; empty means the defaults, `A` and `AL`.
    pub gtc: &'a str,
    /// See `gtc`.
    pub blp: &'a str,
}

impl Lists<'_> {
    fn settings(&self) -> (&str, &str) {
        let gtc = if self.gtc.is_empty() { "A" } else { self.gtc };
        let blp = if self.blp.is_empty() { "AL" } else { self.blp };
        (gtc, blp)
    }

    fn groups(&self) -> Vec<(u32, &str)> {
        if self.groups.is_empty() {
            vec![(0, DEFAULT_GROUP)]
        } else {
            self.groups.clone()
        }
    }
}

/// The name of the group every contact starts in.
pub const DEFAULT_GROUP: &str = "Other%20Contacts";

/// The group every contact is in (MSNP7+): id 0, or this GUID once the address book is
/// migrated (MSNP10+).
const GROUP_GUID: &str = "d6deeacd-7849-4de4-93c5-d130915d0042";
/// The list version timestamp of MSNP10+ (ABCHMigrated) SYN replies.
const LIST_TIME: &str = "2024-09-28T17:18:18.6400000-07:00";

impl Flavor {
    /// MSNP2, the dialect of the draft.
    pub const MSNP2: Flavor = Flavor(2);

    /// MSNP`n`, when the testkit speaks it.
    pub fn new(n: u8) -> Option<Flavor> {
        SPOKEN.contains(&n).then_some(Flavor(n))
    }

    /// Every dialect the testkit speaks, oldest first.
    pub fn all() -> impl DoubleEndedIterator<Item = Flavor> {
        SPOKEN.into_iter().map(Flavor)
    }

    /// The protocol version number.
    pub fn number(self) -> u8 {
        self.0
    }

    /// `MSNPn`.
    pub fn name(self) -> String {
        format!("MSNP{}", self.0)
    }

    /// The newest of the testkit's dialects in a client's VER list.
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str> + Clone) -> Option<Flavor> {
        Flavor::all().rev().find(|f| offered.clone().into_iter().any(|d| d.eq_ignore_ascii_case(&f.name())))
    }

    /// The client's VER list, as the clients of the time offered it [Y ver/msnpN].
    pub fn offer(self) -> &'static str {
        match self.0 {
            2 => "MSNP2 CVR0",
            5 => "MSNP5 MSNP4 CVR0",
            7 => "MSNP7 MSNP6 MSNP5 MSNP4 CVR0",
            8 => "MSNP8 CVR0",
            11 => "MSNP11 MSNP10 CVR0",
            _ => "MSNP13 CVR0",
        }
    }

    /// Whether the login is Passport's (TWN, MSNP8+) rather than MD5; those clients send CVR
    /// where the older ones send INF.
    pub fn passport(self) -> bool {
        self.0 >= 8
    }

    /// The authentication scheme's name in USR.
    pub fn scheme(self) -> &'static str {
        if self.passport() {
            "TWN"
        } else {
            "MD5"
        }
    }

    /// The client's version line (MSNP8+): `CVR t locale os arch client version codebase
    /// handle` [Y cmd/cvr].
    pub fn cvr(self, t: u32, handle: &str) -> String {
        let (os, v) = match self.0 {
            8 => ("win 4.10", "5.0.0537"),
            11 => ("winnt 5.1", "7.0.0777"),
            _ => ("winnt 5.1", "8.0.0566"),
        };
        let codebase = if self.0 < 11 { "MSMSGS" } else { "msmsgs" };
        format!("CVR {t} 0x0409 {os} i386 MSNMSGR {v} {codebase} {handle}")
    }

    /// The server's answer to CVR: recommended, recommended again, minimum version, and where
    /// to download and read about it.
    pub fn cvr_reply(self, t: &str) -> String {
        let v = match self.0 {
            8 => "5.0.0537",
            11 => "7.0.0777",
            _ => "8.0.0566",
        };
        format!("CVR {t} {v} {v} {v} http://messenger.example/setup.exe http://messenger.example/info")
    }

    /// The dispatch server's referral to the notification server `ns`; `ds` is the dispatch
    /// server itself [Y cmd/xfr].
    pub fn xfr_ns(self, t: &str, ns: &str, ds: &str) -> String {
        match self.0 {
            2 => format!("XFR {t} NS {ns}"),
            3..=6 => format!("XFR {t} NS {ns} 0"),
            7..=12 => format!("XFR {t} NS {ns} 0 {ds}"),
            _ => format!("XFR {t} NS {ns} U D"),
        }
    }

    /// The server's challenge for login `n` of a connection: the line and the challenge
    /// (MD5: a salt; TWN: the Passport policy string, whose `ct` and `tpf` vary).
    pub fn challenge(self, t: &str, n: u64) -> (String, String) {
        let challenge = if self.passport() {
            format!(
                "lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct={},kpp=1,kv=5,ver=2.1.0173.1,tpf={}",
                1_062_764_229 + n,
                md5_response(&n.to_string(), "tpf")
            )
        } else {
            format!("{}.{}", 1_234_567_890 + n, 123_456_789 + n * 31)
        };
        (format!("USR {t} {} S {challenge}", self.scheme()), challenge)
    }

    /// The client's answer to `challenge`: the MD5 response, or the Passport ticket.
    pub fn answer(self, challenge: &str, password: &str) -> String {
        if self.passport() {
            Flavor::ticket(challenge, password)
        } else {
            md5_response(challenge, password)
        }
    }

    /// The testkit's Passport ticket for a policy string and password, in the form the real
    /// service gave (`t=...&p=...`).
    pub fn ticket(policy: &str, password: &str) -> String {
        crate::msnp::auth::local_ticket(policy, password)
    }

    /// The login's success: `USR t OK handle` with the name (up to MSNP9), the verified flag
    /// (MSNP6+) and the restricted flag (MSNP8+) [Y cmd/usr].
    pub fn usr_ok(self, t: &str, handle: &str, name: &str) -> String {
        match self.0 {
            2..=5 => format!("USR {t} OK {handle} {name}"),
            6..=7 => format!("USR {t} OK {handle} {name} 1"),
            8..=9 => format!("USR {t} OK {handle} {name} 1 0"),
            _ => format!("USR {t} OK {handle} 1 0"),
        }
    }

    /// The headers of the profile message the server sends after the login (`MSG Hotmail
    /// Hotmail`): Passport cookies (`MSPAuth`, secret) from MSNP5, the client's address
    /// from MSNP8, `ABCHMigrated` from MSNP11.
    pub fn profile(self, login_time: &str, handle: &str, password: &str) -> Vec<(String, String)> {
        let mut h = vec![
            ("MIME-Version".to_string(), "1.0".to_string()),
            ("Content-Type".to_string(), "text/x-msmsgsprofile; charset=UTF-8".to_string()),
            ("LoginTime".to_string(), login_time.to_string()),
        ];
        if self.0 >= 5 {
            h.push(("MSPAuth".into(), format!("{}$", md5_response(handle, password).to_uppercase())));
            h.push(("MSPProf".into(), md5_response(password, handle)));
        }
        if self.0 >= 8 {
            h.push(("ClientIP".into(), "192.0.2.10".into()));
            h.push(("ClientPort".into(), "18183".into()));
        }
        if self.0 >= 11 {
            h.push(("ABCHMigrated".into(), "1".into()));
        }
        h
    }

    /// The client's SYN (`None` from MSNP13, where the lists come over SOAP).
    pub fn syn(self, t: u32) -> Option<String> {
        match self.0 {
            ..=9 => Some(format!("SYN {t} 0")),
            10..=12 => Some(format!("SYN {t} 0 0")),
            _ => None,
        }
    }

    /// The SYN reply and its batch for list version `serial` [Y cmd/syn]: GTC, BLP, then the
    /// lists, each line with the SYN's TrID and version up to MSNP7 (PRP and BPR from MSNP5,
    /// LSG from MSNP7); from MSNP8 totals in the reply and one TrID-less LST per contact.
    pub fn syn_batch(self, t: &str, serial: u64, me: &str, lists: &Lists<'_>) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push_str("\r\n");
        };
        let (gtc, blp) = lists.settings();
        let groups = lists.groups();
        if self.0 >= 8 {
            // One LST per contact with its lists as bits: FL 1, AL 2, BL 4, RL 8.
            let mut contacts: Vec<(Contact<'_>, u32)> = Vec::new();
            for (bit, list) in [(1, &lists.fl), (2, &lists.al), (4, &lists.bl), (8, &lists.rl)] {
                for c in list.iter() {
                    match contacts.iter_mut().find(|(x, _)| x.0 == c.0) {
                        Some((_, bits)) => *bits |= bit,
                        None => contacts.push((*c, bit)),
                    }
                }
            }
            let n = contacts.len();
            let g = groups.len();
            if self.0 >= 10 {
                line(format!("SYN {t} {LIST_TIME} {LIST_TIME} {n} {g}"));
            } else {
                line(format!("SYN {t} {serial} {n} {g}"));
            }
            line(format!("GTC {gtc}"));
            line(format!("BLP {blp}"));
            if self.0 >= 10 {
                line(format!("PRP MFN {me}"));
            }
            for (id, name) in &groups {
                if self.0 >= 10 {
                    line(format!("LSG {name} {}", group_guid(*id)));
                } else {
                    line(format!("LSG {id} {name} 0"));
                }
            }
            for ((h, name), bits) in contacts {
                let group = if bits & 1 != 0 {
                    if self.0 >= 10 {
                        format!(" {GROUP_GUID}")
                    } else {
                        " 0".into()
                    }
                } else {
                    String::new()
                };
                if self.0 >= 10 {
                    line(format!("LST N={h} F={name} C={} {bits}{group}", contact_id(h)));
                } else {
                    line(format!("LST {h} {name} {bits}{group}"));
                }
            }
            return out;
        }
        line(format!("SYN {t} {serial}"));
        line(format!("GTC {t} {serial} {gtc}"));
        line(format!("BLP {t} {serial} {blp}"));
        if self.0 >= 5 {
            line(format!("PRP {t} {serial} PHH 1%20(555)%20010%200100"));
            for p in ["PHW", "PHM"] {
                line(format!("PRP {t} {serial} {p}"));
            }
            for p in ["MOB", "MBE"] {
                line(format!("PRP {t} {serial} {p} N"));
            }
        }
        if self.0 >= 7 {
            for (i, (id, name)) in groups.iter().enumerate() {
                line(format!("LSG {t} {serial} {} {} {id} {name} 0", i + 1, groups.len()));
            }
        }
        for (name, list) in [("FL", &lists.fl), ("AL", &lists.al), ("BL", &lists.bl), ("RL", &lists.rl)] {
            if list.is_empty() {
                line(format!("LST {t} {name} {serial} 0 0"));
            }
            for (i, (h, n)) in list.iter().enumerate() {
                let group = if self.0 >= 7 && name == "FL" { " 0" } else { "" };
                line(format!("LST {t} {name} {serial} {} {} {h} {n}{group}", i + 1, list.len()));
                if self.0 >= 5 && name == "FL" {
                    for p in ["PHH", "PHW", "PHM"] {
                        line(format!("BPR {serial} {h} {p}"));
                    }
                    line(format!("BPR {serial} {h} MOB N"));
                }
            }
        }
        out
    }

    /// The client capabilities sent with presence (MSNP8+).
    fn caps(self) -> Option<&'static str> {
        crate::msnp::dialect::client_caps(self.0)
    }

    /// ` caps` when the dialect sends them, else nothing.
    fn with_caps(self) -> String {
        self.caps().map(|c| format!(" {c}")).unwrap_or_default()
    }

    /// A state change, either way: `CHG t state` with the capabilities from MSNP8.
    pub fn chg(self, t: &str, state: &str) -> String {
        format!("CHG {t} {state}{}", self.with_caps())
    }

    /// A contact's initial state after the first CHG.
    pub fn iln(self, t: &str, state: &str, handle: &str, name: &str) -> String {
        format!("ILN {t} {state} {handle} {name}{}", self.with_caps())
    }

    /// A contact's new state.
    pub fn nln(self, state: &str, handle: &str, name: &str) -> String {
        format!("NLN {state} {handle} {name}{}", self.with_caps())
    }

    /// The public product id and key the client answers challenges with (MSNP6+) [Y cmd/qry].
    pub fn product(self) -> Option<&'static str> {
        crate::msnp::auth::client_product(self.0)
    }

    /// The challenge the server sends after the first CHG (`CHL 0 challenge`), when the
    /// dialect has them.
    pub fn chl(self, n: u64) -> Option<String> {
        self.product().map(|_| format!("{:020}", 22_210_219_642_164_014_968u128.wrapping_add(u128::from(n))))
    }

    /// The client's answer to a challenge: the QRY line's head and its 32-byte body.
    pub fn qry(self, t: u32, challenge: &str) -> Option<(String, Vec<u8>)> {
        let product = self.product()?;
        let body = qry_response(challenge, product)?;
        Some((format!("QRY {t} {product}"), body.into_bytes()))
    }

    /// Whether the server's QNG carries the seconds to the next PNG (MSNP9+).
    pub fn qng(self) -> &'static str {
        if self.0 >= 9 {
            "QNG 60"
        } else {
            "QNG"
        }
    }

    /// Whether the client fetches the shields policy (GCF, MSNP11-12) and publishes a personal
    /// message (UUX, MSNP11+).
    pub fn gcf_request(self) -> bool {
        matches!(self.0, 11..=12)
    }

    /// The shields policy the server gives (GCF's payload).
    pub fn shields(self) -> &'static str {
        if self.0 >= 13 {
            concat!(
                "<Policies><Policy type=\"SHIELDS\" checksum=\"94A347C122C483F8BEAD525832DB2F71\">",
                "<config><shield><cli maj=\"7\" min=\"0\" minbld=\"0\" maxbld=\"9999\" deny=\" \" />",
                "</shield><block></block></config></Policy></Policies>"
            )
        } else {
            concat!(
                "<?xml version=\"1.0\" encoding=\"utf-8\" ?><config><shield><cli maj=\"7\" min=\"0\" ",
                "minbld=\"0\" maxbld=\"9999\" deny=\" \" /></shield><block></block></config>"
            )
        }
    }

    /// Whether personal messages (UUX, UBX) exist.
    pub fn personal_messages(self) -> bool {
        self.0 >= 11
    }

    /// A personal message as UUX and UBX carry it.
    pub fn psm(self, text: &str) -> String {
        if self.0 >= 13 {
            format!(
                "<Data><PSM>{text}</PSM><CurrentMedia></CurrentMedia><MachineGuid>{{44BFD5A4-7450-4BDA-BA3A-C51B3031126D}}</MachineGuid></Data>"
            )
        } else {
            format!("<Data><PSM>{text}</PSM><CurrentMedia></CurrentMedia></Data>")
        }
    }

    /// Whether the contact list is sent with ADL (MSNP13+) instead of fetched with SYN.
    pub fn adl(self) -> bool {
        self.0 >= 13
    }

    /// The ADL payload for the forward list `fl` (all in FL and AL: `l="3"`, Messenger
    /// users: `t="1"`) [Y cmd/adl].
    pub fn ml(fl: &[Contact<'_>]) -> String {
        let handles: Vec<&str> = fl.iter().map(|(h, _)| *h).collect();
        crate::msnp::xml::ml_payload(&handles)
    }

    /// Whether the server says the user's status (`SBS 0 null`) after USR OK (MSNP11+).
    pub fn sbs(self) -> bool {
        self.0 >= 11
    }

    /// The switchboard referral: `XFR t SB address CKI cookie`, and from MSNP13 `U
    /// messenger.msn.com`.
    pub fn xfr_sb(self, t: &str, sb: &str, cookie: &str) -> String {
        let tail = if self.0 >= 13 { " U messenger.msn.com" } else { "" };
        format!("XFR {t} SB {sb} CKI {cookie}{tail}")
    }

    /// An invitation to a switchboard; from MSNP13 it ends `U messenger.hotmail.com`.
    pub fn rng(self, session: &str, sb: &str, cookie: &str, handle: &str, name: &str) -> String {
        let tail = if self.0 >= 13 { " U messenger.hotmail.com" } else { "" };
        format!("RNG {session} {sb} CKI {cookie} {handle} {name}{tail}")
    }

    /// Someone joins the session (with capabilities from MSNP12).
    pub fn joi(self, handle: &str, name: &str) -> String {
        format!("JOI {handle} {name}{}", self.sb_caps())
    }

    /// One roster line of an answered invitation (with capabilities from MSNP12).
    pub fn iro(self, t: &str, i: usize, n: usize, handle: &str, name: &str) -> String {
        format!("IRO {t} {i} {n} {handle} {name}{}", self.sb_caps())
    }

    fn sb_caps(self) -> String {
        if self.0 >= 12 {
            self.with_caps()
        } else {
            String::new()
        }
    }
}

/// The contact id (a GUID) the MSNP10+ address book gives `handle`: derived from it, so the
/// same contact keeps the same id.
pub fn contact_id(handle: &str) -> String {
    guid(&md5_response(handle, "contact"))
}

/// The GUID of group `id` (MSNP10+): the default group's is fixed, the others derived.
pub fn group_guid(id: u32) -> String {
    if id == 0 {
        GROUP_GUID.to_string()
    } else {
        guid(&md5_response(&id.to_string(), "group"))
    }
}

/// 32 hex digits as a GUID.
fn guid(h: &str) -> String {
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_offered_dialect_is_chosen() {
        assert_eq!(Flavor::choose(["MSNP8", "CVR0"]), Flavor::new(8));
        assert_eq!(Flavor::choose(["MSNP7", "MSNP6", "MSNP5", "MSNP4", "CVR0"]), Flavor::new(7));
        assert_eq!(Flavor::choose(["MSNP18", "MSNP17", "CVR0"]), None);
        for f in Flavor::all() {
            assert_eq!(Flavor::choose(f.offer().split(' ')), Some(f), "{}", f.name());
        }
    }

    #[test]
    fn lines_follow_each_dialect() {
        let f = |n| Flavor::new(n).expect("spoken");
        assert_eq!(f(2).xfr_ns("3", "10.0.0.5:1863", "10.0.0.1:1863"), "XFR 3 NS 10.0.0.5:1863");
        assert_eq!(f(5).xfr_ns("3", "10.0.0.5:1863", "x"), "XFR 3 NS 10.0.0.5:1863 0");
        assert_eq!(f(7).xfr_ns("3", "a:1", "b:2"), "XFR 3 NS a:1 0 b:2");
        assert_eq!(f(13).xfr_ns("3", "a:1", "b:2"), "XFR 3 NS a:1 U D");
        assert_eq!(f(7).usr_ok("7", "a@b.c", "A"), "USR 7 OK a@b.c A 1");
        assert_eq!(f(8).usr_ok("7", "a@b.c", "A"), "USR 7 OK a@b.c A 1 0");
        assert_eq!(f(11).usr_ok("7", "a@b.c", "A"), "USR 7 OK a@b.c 1 0");
        assert_eq!(f(8).chg("9", "NLN"), "CHG 9 NLN 0");
        assert_eq!(f(2).chg("9", "NLN"), "CHG 9 NLN");
        assert_eq!(f(13).rng("1", "s:1", "k", "a@b.c", "A"), "RNG 1 s:1 CKI k a@b.c A U messenger.hotmail.com");
        assert_eq!(f(13).joi("a@b.c", "A"), "JOI a@b.c A 1342554172");
        assert_eq!(f(11).joi("a@b.c", "A"), "JOI a@b.c A");
        // The published MSNP11 challenge vector.
        let (head, body) = f(11).qry(12, "22210219642164014968").expect("MSNP11 answers challenges");
        assert_eq!(head, "QRY 12 PROD0090YUAUV{2B");
        assert_eq!(body, b"85ecb0db8f32113df79ce0892b9a102c");
        assert!(f(5).qry(1, "1").is_none());
        assert_eq!(f(11).chl(0).as_deref(), Some("22210219642164014968"));
    }

    #[test]
    fn syn_batches_by_generation() {
        let lists = Lists {
            fl: vec![("bob@hotmail.com", "Bob")],
            al: vec![("bob@hotmail.com", "Bob")],
            bl: vec![],
            rl: vec![("bob@hotmail.com", "Bob")],
            ..Lists::default()
        };
        let two = Flavor::MSNP2.syn_batch("8", 12, "Alice", &lists);
        assert!(two.starts_with("SYN 8 12\r\nGTC 8 12 A\r\nBLP 8 12 AL\r\nLST 8 FL 12 1 1 bob@hotmail.com Bob\r\n"));
        assert!(two.contains("LST 8 BL 12 0 0\r\n"));
        let seven = Flavor::new(7).map(|f| f.syn_batch("8", 9, "Alice", &lists)).unwrap_or_default();
        assert!(seven.contains(
            "LSG 8 9 1 1 0 Other%20Contacts 0\r\nLST 8 FL 9 1 1 bob@hotmail.com Bob 0\r\nBPR 9 bob@hotmail.com PHH\r\n"
        ));
        let eight = Flavor::new(8).map(|f| f.syn_batch("8", 15, "Alice", &lists)).unwrap_or_default();
        assert_eq!(
            eight,
            "SYN 8 15 1 1\r\nGTC A\r\nBLP AL\r\nLSG 0 Other%20Contacts 0\r\nLST bob@hotmail.com Bob 11 0\r\n"
        );
        let eleven = Flavor::new(11).map(|f| f.syn_batch("8", 15, "Alice", &lists)).unwrap_or_default();
        assert!(eleven.contains("LST N=bob@hotmail.com F=Bob C="), "{eleven}");
        assert!(eleven.ends_with(" 11 d6deeacd-7849-4de4-93c5-d130915d0042\r\n"), "{eleven}");
    }

    #[test]
    fn tickets_and_lists() {
        let t = Flavor::ticket("lc=1033", "pw");
        assert!(t.starts_with("t=") && t.contains("&p=") && t.len() == 2 + 32 + 3 + 32);
        assert_eq!(
            Flavor::ml(&[("bob@example.com", "Bob")]),
            "<ml l=\"1\"><d n=\"example.com\"><c n=\"bob\" l=\"3\" t=\"1\" /></d></ml>"
        );
    }
}
