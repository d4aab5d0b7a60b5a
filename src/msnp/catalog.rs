//! The command catalog: every MSNP2 command with the server roles it belongs to, the directions
//! it travels, whether each form has a TrID slot, and its parameters by name; plus the commands
//! of later dialects (with the dialect that introduced them) so they can be recognised and
//! labelled instead of reported as garbage. Source: `msnp2-facts.md` §3 and §9.

/// Server roles a command is valid on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Dispatch server.
    pub ds: bool,
    /// Notification server.
    pub ns: bool,
    /// Switchboard.
    pub sb: bool,
}

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

/// An error code's draft name and whether it belongs to MSNP2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// Three-digit code.
    pub code: u16,
    /// Name (draft name where the draft has one).
    pub name: &'static str,
    /// Which list it comes from.
    pub era: Era,
}

/// Where an error code comes from (facts §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Listed in the draft.
    Draft,
    /// Known to the MSNP2-era client but not in the draft.
    Msnp2Undocumented,
    /// Seen with later versions.
    Later,
}

macro_rules! e {
    ($c:literal, $n:literal, $era:ident) => {
        ErrorCode { code: $c, name: $n, era: Era::$era }
    };
}

/// Error codes (facts §4.1 and §4.2).
pub static ERRORS: &[ErrorCode] = &[
    e!(100, "UNDOCUMENTED_100", Msnp2Undocumented),
    e!(146, "UNDOCUMENTED_146", Msnp2Undocumented),
    e!(200, "ERR_SYNTAX_ERROR", Draft),
    e!(201, "ERR_INVALID_PARAMETER", Draft),
    e!(205, "ERR_INVALID_USER", Draft),
    e!(206, "ERR_FQDN_MISSING", Draft),
    e!(207, "ERR_ALREADY_LOGIN", Draft),
    e!(208, "ERR_INVALID_USERNAME", Draft),
    e!(209, "ERR_INVALID_FRIENDLY_NAME", Draft),
    e!(210, "ERR_LIST_FULL", Draft),
    e!(211, "UNDOCUMENTED_211", Msnp2Undocumented),
    e!(215, "ERR_ALREADY_THERE", Draft),
    e!(216, "ERR_NOT_ON_LIST", Draft),
    e!(217, "ERR_NOT_ONLINE", Later),
    e!(218, "ERR_ALREADY_IN_THE_MODE", Draft),
    e!(219, "ERR_ALREADY_IN_OPPOSITE_LIST", Draft),
    e!(224, "ERR_INVALID_GROUP", Later),
    e!(225, "ERR_USER_NOT_IN_GROUP", Later),
    e!(229, "ERR_GROUP_NAME_TOO_LONG", Later),
    e!(230, "ERR_CANNOT_REMOVE_GROUP_ZERO", Later),
    e!(231, "ERR_INVALID_GROUP_NAME", Later),
    e!(240, "ERR_EMPTY_DOMAIN", Later),
    e!(241, "ERR_INVALID_XML", Later),
    e!(280, "ERR_SWITCHBOARD_FAILED", Draft),
    e!(281, "ERR_NOTIFY_XFR_FAILED", Draft),
    e!(282, "ERR_MSG_MALFORMED", Later),
    e!(300, "ERR_REQUIRED_FIELDS_MISSING", Draft),
    e!(301, "ERR_TOO_MANY_HITS", Msnp2Undocumented),
    e!(302, "ERR_NOT_LOGGED_IN", Draft),
    e!(420, "ERR_INVITE_REQUIRED", Later),
    e!(500, "ERR_INTERNAL_SERVER", Draft),
    e!(501, "ERR_DB_SERVER", Draft),
    e!(502, "ERR_CMD_DISABLED", Later),
    e!(503, "ERR_GENERIC_FAILURE", Msnp2Undocumented),
    e!(510, "ERR_FILE_OPERATION", Draft),
    e!(520, "ERR_MEMORY_ALLOC", Draft),
    e!(540, "ERR_CHALLENGE_RESPONSE_FAILED", Later),
    e!(600, "ERR_SERVER_BUSY", Draft),
    e!(601, "ERR_SERVER_UNAVAILABLE", Draft),
    e!(602, "ERR_PEER_NS_DOWN", Draft),
    e!(603, "ERR_DB_CONNECT", Draft),
    e!(604, "ERR_SERVER_GOING_DOWN", Draft),
    e!(707, "ERR_CREATE_CONNECTION", Draft),
    e!(711, "ERR_BLOCKING_WRITE", Draft),
    e!(712, "ERR_SESSION_OVERLOAD", Draft),
    e!(713, "ERR_USER_TOO_ACTIVE", Draft),
    e!(714, "ERR_TOO_MANY_SESSIONS", Draft),
    e!(715, "ERR_NOT_EXPECTED", Draft),
    e!(717, "ERR_BAD_FRIEND_FILE", Draft),
    e!(800, "ERR_CHANGING_TOO_FAST", Later),
    e!(910, "ERR_SERVER_TOO_BUSY", Later),
    e!(911, "ERR_AUTHENTICATION_FAILED", Draft),
    e!(912, "UNDOCUMENTED_912", Msnp2Undocumented),
    e!(913, "ERR_NOT_ALLOWED_WHEN_OFFLINE", Draft),
    e!(914, "UNDOCUMENTED_914", Msnp2Undocumented),
    e!(918, "UNDOCUMENTED_918", Msnp2Undocumented),
    e!(919, "UNDOCUMENTED_919", Msnp2Undocumented),
    e!(920, "ERR_NOT_ACCEPTING_NEW_USERS", Draft),
    e!(921, "ERR_SERVER_TOO_BUSY", Later),
    e!(922, "ERR_SERVER_TOO_BUSY", Later),
    e!(923, "ERR_KIDS_WITHOUT_PARENTAL_CONSENT", Later),
    e!(924, "ERR_PASSPORT_NOT_VERIFIED", Later),
    e!(928, "ERR_BAD_TICKET", Later),
    e!(931, "ERR_ACCOUNT_ON_ANOTHER_SERVER", Later),
];

/// Looks an error code up (the table is sorted by code).
pub fn error_code(code: u16) -> Option<&'static ErrorCode> {
    ERRORS.binary_search_by_key(&code, |e| e.code).ok().map(|i| &ERRORS[i])
}
