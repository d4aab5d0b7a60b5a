//! The command catalog: every MSNP2 command with the server roles it belongs to, the directions
//! it travels, whether each form has a TrID slot, and its parameters by name; plus the commands
//! of later dialects (with the dialect that introduced them) so they can be recognised and
//! labelled instead of reported as garbage. Source: `msnp2-facts.md` §3 and §9.

use super::command::Command;
use super::role::Role;
pub use super::role::Roles;

/// One direction's form of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    /// Whether the first parameter is a TrID.
    pub trid: bool,
    /// Parameter names after the TrID; a trailing `...` name repeats.
    pub params: &'static [&'static str],
}

/// A catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The three-letter code.
    pub verb: &'static str,
    /// What it does, in a few words.
    pub summary: &'static str,
    /// Roles it is valid on in MSNP2 (all false for later-dialect commands).
    pub roles: Roles,
    /// Client-to-server form, if clients send it.
    pub client: Option<Form>,
    /// Server-to-client form, if servers send it.
    pub server: Option<Form>,
    /// The protocol version that introduced it (2 for MSNP2 commands).
    pub since: u8,
    /// Whether the IETF draft defines it.
    pub in_draft: bool,
    /// Where it is specified.
    pub cite: &'static str,
}

const fn r(ds: bool, ns: bool, sb: bool) -> Roles {
    Roles { ds, ns, sb }
}

const fn f(trid: bool, params: &'static [&'static str]) -> Option<Form> {
    Some(Form { trid, params })
}

const NONE: Roles = r(false, false, false);

macro_rules! later {
    ($verb:literal, $since:literal, $summary:literal) => {
        CommandSpec {
            verb: $verb,
            summary: $summary,
            roles: NONE,
            client: None,
            server: None,
            since: $since,
            in_draft: false,
            cite: "facts §9",
        }
    };
}

/// Every command msntap knows, MSNP2 first, sorted by verb within each group.
pub static CATALOG: &[CommandSpec] = &[
    CommandSpec {
        verb: "ACK",
        summary: "message delivered",
        roles: r(false, false, true),
        client: None,
        server: f(true, &[]),
        since: 2,
        in_draft: true,
        cite: "D §8.7",
    },
    CommandSpec {
        verb: "ADD",
        summary: "add to a list",
        roles: r(false, true, false),
        client: f(true, &["list", "handle", "friendly-name"]),
        server: f(true, &["list", "serial", "handle", "friendly-name"]),
        since: 2,
        in_draft: true,
        cite: "D §7.8",
    },
    CommandSpec {
        verb: "ANS",
        summary: "answer an invitation to a switchboard",
        roles: r(false, false, true),
        client: f(true, &["handle", "cookie", "session-id"]),
        server: f(true, &["status"]),
        since: 2,
        in_draft: true,
        cite: "D §8.4",
    },
    CommandSpec {
        verb: "BLP",
        summary: "privacy mode",
        roles: r(false, true, false),
        client: f(true, &["mode"]),
        server: f(true, &["serial", "mode"]),
        since: 2,
        in_draft: true,
        cite: "D §7.6",
    },
    CommandSpec {
        verb: "BYE",
        summary: "participant left",
        roles: r(false, false, true),
        client: None,
        server: f(false, &["handle"]),
        since: 2,
        in_draft: true,
        cite: "D §8.5",
    },
    CommandSpec {
        verb: "CAL",
        summary: "invite into the switchboard",
        roles: r(false, false, true),
        client: f(true, &["handle"]),
        server: f(true, &["status", "session-id"]),
        since: 2,
        in_draft: true,
        cite: "D §8.3",
    },
    CommandSpec {
        verb: "CHG",
        summary: "change own state",
        roles: r(false, true, false),
        client: f(true, &["state"]),
        server: f(true, &["state"]),
        since: 2,
        in_draft: true,
        cite: "D §7.7",
    },
    CommandSpec {
        verb: "CVQ",
        summary: "client version query (CVR0 dialect)",
        roles: r(true, false, false),
        client: f(true, &["lcid", "os-type", "os-version", "arch", "library", "client-version"]),
        server: f(true, &["recommended", "recommended-2", "minimum", "download-url", "info-url"]),
        since: 2,
        in_draft: false,
        cite: "Y cmd/cvq",
    },
    CommandSpec {
        verb: "CVR",
        summary: "client version check",
        roles: r(false, true, false),
        client: f(true, &["lcid", "os-type", "os-version", "arch", "library", "client-version"]),
        server: f(true, &["recommended", "recommended-2", "minimum", "download-url", "info-url"]),
        since: 2,
        in_draft: false,
        cite: "Y cmd/cvr",
    },
    CommandSpec {
        verb: "FLN",
        summary: "contact went offline",
        roles: r(false, true, false),
        client: None,
        server: f(false, &["handle"]),
        since: 2,
        in_draft: true,
        cite: "D §7.9",
    },
    CommandSpec {
        verb: "FND",
        summary: "member directory search",
        roles: r(false, true, false),
        client: f(true, &["fname", "lname", "city", "state", "country"]),
        server: f(true, &["item", "total", "fname", "lname", "city", "state", "country"]),
        since: 2,
        in_draft: false,
        cite: "Y cmd/fnd",
    },
    CommandSpec {
        verb: "GTC",
        summary: "reverse-list prompting",
        roles: r(false, true, false),
        client: f(true, &["setting"]),
        server: f(true, &["serial", "setting"]),
        since: 2,
        in_draft: true,
        cite: "D §7.6",
    },
    CommandSpec {
        verb: "ILN",
        summary: "initial presence of a contact",
        roles: r(false, true, false),
        client: None,
        server: f(true, &["state", "handle", "friendly-name"]),
        since: 2,
        in_draft: true,
        cite: "D §7.9",
    },
    CommandSpec {
        verb: "INF",
        summary: "security packages",
        roles: r(true, true, false),
        client: f(true, &[]),
        server: f(true, &["packages..."]),
        since: 2,
        in_draft: true,
        cite: "D §7.2",
    },
    CommandSpec {
        verb: "IRO",
        summary: "switchboard roster entry",
        roles: r(false, false, true),
        client: None,
        server: f(true, &["item", "total", "handle", "friendly-name"]),
        since: 2,
        in_draft: true,
        cite: "D §8.4",
    },
    CommandSpec {
        verb: "JOI",
        summary: "participant joined",
        roles: r(false, false, true),
        client: None,
        server: f(false, &["handle", "friendly-name"]),
        since: 2,
        in_draft: true,
        cite: "D §8.5",
    },
    CommandSpec {
        verb: "LST",
        summary: "list retrieval",
        roles: r(false, true, false),
        client: f(true, &["list"]),
        server: f(true, &["list", "serial", "item", "total", "handle", "friendly-name"]),
        since: 2,
        in_draft: true,
        cite: "D §7.6",
    },
    CommandSpec {
        verb: "MSG",
        summary: "message with payload",
        roles: r(false, true, true),
        client: f(true, &["ack-mode", "length"]),
        server: f(false, &["sender", "sender-name", "length"]),
        since: 2,
        in_draft: true,
        cite: "D §8.7",
    },
    CommandSpec {
        verb: "NAK",
        summary: "message not delivered",
        roles: r(false, false, true),
        client: None,
        server: f(true, &[]),
        since: 2,
        in_draft: true,
        cite: "D §8.7",
    },
    CommandSpec {
        verb: "NLN",
        summary: "contact presence change",
        roles: r(false, true, false),
        client: None,
        server: f(false, &["state", "handle", "friendly-name"]),
        since: 2,
        in_draft: true,
        cite: "D §7.9",
    },
    CommandSpec {
        verb: "OUT",
        summary: "sign out / closing",
        roles: r(true, true, true),
        client: f(false, &[]),
        server: f(false, &["reason"]),
        since: 2,
        in_draft: true,
        cite: "D §7.10",
    },
    CommandSpec {
        verb: "PNG",
        summary: "keep-alive ping",
        roles: r(false, true, false),
        client: f(false, &[]),
        server: None,
        since: 2,
        in_draft: false,
        cite: "Y cmd/png",
    },
    CommandSpec {
        verb: "QNG",
        summary: "keep-alive reply",
        roles: r(false, true, false),
        client: None,
        server: f(false, &[]),
        since: 2,
        in_draft: false,
        cite: "Y cmd/qng",
    },
    CommandSpec {
        verb: "REA",
        summary: "rename",
        roles: r(false, true, false),
        client: f(true, &["handle", "friendly-name"]),
        server: f(true, &["serial", "handle", "friendly-name"]),
        since: 2,
        in_draft: false,
        cite: "Y cmd/rea",
    },
    CommandSpec {
        verb: "REM",
        summary: "remove from a list",
        roles: r(false, true, false),
        client: f(true, &["list", "handle"]),
        server: f(true, &["list", "serial", "handle"]),
        since: 2,
        in_draft: true,
        cite: "D §7.8",
    },
    CommandSpec {
        verb: "RNG",
        summary: "incoming switchboard invitation",
        roles: r(false, true, false),
        client: None,
        server: f(false, &["session-id", "address", "package", "cookie", "caller", "caller-name"]),
        since: 2,
        in_draft: true,
        cite: "D §8.4",
    },
    CommandSpec {
        verb: "SND",
        summary: "e-mail invitation",
        roles: r(false, true, false),
        client: f(true, &["address"]),
        server: f(true, &["status"]),
        since: 2,
        in_draft: false,
        cite: "Y cmd/snd",
    },
    CommandSpec {
        verb: "SYN",
        summary: "list synchronisation",
        roles: r(false, true, false),
        client: f(true, &["serial"]),
        server: f(true, &["serial"]),
        since: 2,
        in_draft: true,
        cite: "D §7.5",
    },
    CommandSpec {
        verb: "URL",
        summary: "service URL",
        roles: r(false, true, false),
        client: f(true, &["service", "params..."]),
        server: f(true, &["redirect-url", "login-url"]),
        since: 2,
        in_draft: false,
        cite: "Y cmd/url",
    },
    CommandSpec {
        verb: "USR",
        summary: "authentication",
        roles: r(true, true, true),
        client: f(true, &["package|handle", "sequence|cookie", "data"]),
        server: f(true, &["package|status", "sequence|handle", "data"]),
        since: 2,
        in_draft: true,
        cite: "D §7.3",
    },
    CommandSpec {
        verb: "VER",
        summary: "protocol negotiation",
        roles: r(true, true, false),
        client: f(true, &["dialects..."]),
        server: f(true, &["dialects..."]),
        since: 2,
        in_draft: true,
        cite: "D §7.1",
    },
    CommandSpec {
        verb: "XFR",
        summary: "referral to another server",
        roles: r(true, true, false),
        client: f(true, &["server-type"]),
        server: f(true, &["server-type", "address", "package", "cookie"]),
        since: 2,
        in_draft: true,
        cite: "D §7.4",
    },
    later!("IMS", 3, "instant-message setting"),
    later!("BPR", 5, "contact phone property"),
    later!("PRP", 5, "own phone property"),
    later!("NOT", 5, "notification payload"),
    later!("PAG", 5, "page a mobile device"),
    later!("SDC", 5, "send e-mail invitation"),
    later!("CHL", 6, "challenge"),
    later!("QRY", 6, "challenge response"),
    later!("IPG", 6, "incoming page"),
    later!("LSG", 7, "group list"),
    later!("ADG", 7, "add group"),
    later!("REG", 7, "rename group"),
    later!("RMG", 7, "remove group"),
    later!("PGD", 9, "page device"),
    later!("ADC", 10, "add contact"),
    later!("SBP", 10, "set contact property"),
    later!("UUX", 11, "user data"),
    later!("UBX", 11, "contact data"),
    later!("GCF", 11, "get configuration"),
    later!("GSB", 11, "unknown"),
    later!("SBS", 11, "unknown"),
    later!("LKP", 12, "lookup"),
    later!("ADL", 13, "add to list (XML)"),
    later!("RML", 13, "remove from list (XML)"),
    later!("UUN", 13, "user notification"),
    later!("UBN", 13, "contact notification"),
    later!("RFS", 13, "refresh"),
    later!("FQY", 14, "federated query"),
    later!("UUM", 14, "unknown"),
    later!("UBM", 14, "message from a federated user"),
];

/// Looks a verb up (case-sensitive, as the protocol is).
pub fn lookup(verb: &str) -> Option<&'static CommandSpec> {
    lookup_bytes(verb.as_bytes())
}

/// Looks a verb up by its bytes (a table indexed by the three letters: no scan, no compare).
pub fn lookup_bytes(verb: &[u8]) -> Option<&'static CommandSpec> {
    CATALOG.get(index_bytes(verb)?)
}

/// The position of a verb in [`CATALOG`].
pub fn index_bytes(verb: &[u8]) -> Option<usize> {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let key = |v: &[u8]| -> Option<usize> {
        match v {
            [a @ b'A'..=b'Z', b @ b'A'..=b'Z', c @ b'A'..=b'Z'] => {
                Some(((a - b'A') as usize * 26 + (b - b'A') as usize) * 26 + (c - b'A') as usize)
            }
            _ => None,
        }
    };
    let table = TABLE.get_or_init(|| {
        let mut t = vec![u8::MAX; 26 * 26 * 26];
        for (i, c) in CATALOG.iter().enumerate() {
            if let Some(k) = key(c.verb.as_bytes()) {
                t[k] = i as u8;
            }
        }
        t
    });
    let i = *table.get(key(verb)?)?;
    (i != u8::MAX).then_some(i as usize)
}

/// Whether `verb` sent in this direction has a TrID slot. Errors have an optional one,
/// decided by the caller; unknown commands are assumed to have one.
pub fn has_trid(verb: &str, from_client: bool) -> bool {
    match lookup(verb) {
        Some(spec) => {
            let form = if from_client { spec.client.or(spec.server) } else { spec.server.or(spec.client) };
            match (spec.since, form) {
                (2, Some(form)) => form.trid,
                // Later dialects: the few TrID-less ones.
                _ => !matches!(verb, "UBX" | "NOT" | "IPG" | "UBN" | "UBM"),
            }
        }
        None => true,
    }
}

/// Expected argument counts (after the TrID) of MSNP2 forms: (verb, from client, min, max).
const ARITY: &[(&str, bool, usize, usize)] = &[
    ("VER", true, 1, 16),
    ("VER", false, 1, 16),
    ("INF", true, 0, 0),
    ("INF", false, 1, 8),
    ("CHG", true, 1, 1),
    ("CHG", false, 1, 1),
    ("ILN", false, 3, 3),
    ("NLN", false, 3, 3),
    ("FLN", false, 1, 1),
    ("SYN", true, 1, 1),
    ("SYN", false, 1, 1),
    ("GTC", true, 1, 1),
    ("GTC", false, 2, 2),
    ("BLP", true, 1, 1),
    ("BLP", false, 2, 2),
    ("LST", true, 1, 1),
    ("LST", false, 4, 6),
    ("ADD", true, 3, 3),
    ("ADD", false, 4, 4),
    ("REM", true, 2, 2),
    ("REM", false, 3, 3),
    ("RNG", false, 6, 6),
    ("JOI", false, 2, 2),
    ("BYE", false, 1, 2),
    ("IRO", false, 4, 4),
    ("CAL", true, 1, 1),
    ("CAL", false, 2, 2),
    ("ANS", true, 3, 3),
    ("ANS", false, 1, 1),
    ("MSG", true, 2, 2),
    ("MSG", false, 3, 3),
    ("ACK", false, 0, 0),
    ("NAK", false, 0, 0),
    ("OUT", true, 0, 0),
    ("OUT", false, 0, 1),
    ("PNG", true, 0, 0),
    ("QNG", false, 0, 0),
    ("XFR", true, 1, 1),
    ("CVR", true, 6, 6),
    ("CVR", false, 5, 5),
    ("CVQ", true, 6, 6),
    ("CVQ", false, 5, 5),
    ("REA", true, 2, 2),
    ("REA", false, 3, 3),
    ("SND", true, 1, 1),
    ("SND", false, 1, 1),
    ("URL", true, 1, 2),
    ("URL", false, 2, 2),
];

/// An argument count range (minimum, maximum), if the form has one.
type Arity = Option<(usize, usize)>;

/// The MSNP2 argument count range of a command in a direction, from [`ARITY`] through a table
/// indexed by catalog position (built once).
pub fn arity(cmd: &Command<'_>, from_client: bool) -> Option<(usize, usize)> {
    static TABLE: std::sync::OnceLock<Vec<[Arity; 2]>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        CATALOG
            .iter()
            .map(|spec| {
                let find = |client: bool| {
                    ARITY.iter().find(|(v, c, _, _)| *v == spec.verb && *c == client).map(|&(_, _, a, b)| (a, b))
                };
                [find(false), find(true)]
            })
            .collect()
    });
    let spec = cmd.spec?;
    let index = CATALOG.iter().position(|s| std::ptr::eq(s, spec))?;
    table.get(index)?[usize::from(from_client)]
}

/// Which response verbs may answer a request verb (errors answer anything).
pub fn compatible(request: &str, response: &str, role: Role) -> bool {
    match request {
        "USR" => response == "USR" || (response == "XFR" && role != Role::NS && role != Role::SB),
        "SYN" => matches!(response, "SYN" | "GTC" | "BLP" | "LST" | "PRP" | "BPR" | "LSG"),
        "CHG" => matches!(response, "CHG" | "ILN"),
        "ADD" => matches!(response, "ADD" | "ILN"),
        "ANS" => matches!(response, "IRO" | "ANS"),
        "MSG" => matches!(response, "ACK" | "NAK"),
        other => other == response,
    }
}
