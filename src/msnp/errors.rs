//! Error codes: the three-digit replies a server sends instead of a command, with the draft's
//! names (or the client's HRESULT names for later codes) and where each code comes from (facts
//! §4.1 and §4.2; later codes from [Y errors] and [N err], see `docs/dialects.md`).

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
    e!(203, "ERR_INVALID_FEDERATED_USER", Later),
    e!(204, "ERR_UNROUTABLE_USER", Later),
    e!(205, "ERR_INVALID_USER", Draft),
    e!(206, "ERR_FQDN_MISSING", Draft),
    e!(207, "ERR_ALREADY_LOGIN", Draft),
    e!(208, "ERR_INVALID_USERNAME", Draft),
    e!(209, "ERR_INVALID_FRIENDLY_NAME", Draft),
    e!(210, "ERR_LIST_FULL", Draft),
    e!(211, "UNDOCUMENTED_211", Msnp2Undocumented),
    e!(212, "ERR_UNEXPECTED", Later),
    e!(213, "ERR_USER_DOESNT_EXIST", Later),
    e!(215, "ERR_ALREADY_THERE", Draft),
    e!(216, "ERR_NOT_ON_LIST", Draft),
    e!(217, "ERR_NOT_ONLINE", Later),
    e!(218, "ERR_ALREADY_IN_THE_MODE", Draft),
    e!(219, "ERR_ALREADY_IN_OPPOSITE_LIST", Draft),
    e!(220, "ERR_NOT_ACCEPTING_PAGES", Later),
    e!(223, "ERR_TOO_MANY_GROUPS", Later),
    e!(224, "ERR_INVALID_GROUP", Later),
    e!(225, "ERR_USER_NOT_IN_GROUP", Later),
    e!(228, "ERR_GROUP_EXISTS", Later),
    e!(229, "ERR_GROUP_NAME_TOO_LONG", Later),
    e!(230, "ERR_CANNOT_REMOVE_GROUP_ZERO", Later),
    e!(231, "ERR_INVALID_GROUP_NAME", Later),
    e!(232, "ERR_INVALID_MSISDN", Later),
    e!(233, "ERR_UNKNOWN_MSISDN", Later),
    e!(234, "ERR_UNKNOWN_KEITAI_DOMAIN", Later),
    e!(240, "ERR_EMPTY_DOMAIN", Later),
    e!(241, "ERR_INVALID_XML", Later),
    e!(280, "ERR_SWITCHBOARD_FAILED", Draft),
    e!(281, "ERR_NOTIFY_XFR_FAILED", Draft),
    e!(282, "ERR_MSG_MALFORMED", Later),
    e!(300, "ERR_REQUIRED_FIELDS_MISSING", Draft),
    e!(301, "ERR_TOO_MANY_HITS", Msnp2Undocumented),
    e!(302, "ERR_NOT_LOGGED_IN", Draft),
    e!(400, "ERR_ABCH_READ_ONLY", Later),
    e!(402, "ERR_ABCH_BUSY", Later),
    e!(403, "ERR_ABCH_UNAVAILABLE", Later),
    e!(413, "ERR_SUBSCRIPTION", Later),
    e!(414, "ERR_MARKET", Later),
    e!(416, "ERR_TRY_LATER_416", Later),
    e!(417, "ERR_TRY_LATER_417", Later),
    e!(418, "ERR_TRY_LATER_418", Later),
    e!(419, "ERR_TRY_LATER_419", Later),
    e!(420, "ERR_INVITE_REQUIRED", Later),
    e!(500, "ERR_INTERNAL_SERVER", Draft),
    e!(501, "ERR_DB_SERVER", Draft),
    e!(502, "ERR_CMD_DISABLED", Later),
    e!(503, "ERR_GENERIC_FAILURE", Msnp2Undocumented),
    e!(504, "ERR_UPS_UNAVAILABLE", Later),
    e!(505, "ERR_SCS_UNAVAILABLE", Later),
    e!(508, "ERR_FEDERATED_SERVER", Later),
    e!(509, "ERR_UUM_FAILED", Later),
    e!(510, "ERR_FILE_OPERATION", Draft),
    e!(511, "ERR_PASSPORT_PLATFORM", Later),
    e!(520, "ERR_MEMORY_ALLOC", Draft),
    e!(540, "ERR_CHALLENGE_RESPONSE_FAILED", Later),
    e!(600, "ERR_SERVER_BUSY", Draft),
    e!(601, "ERR_SERVER_UNAVAILABLE", Draft),
    e!(602, "ERR_PEER_NS_DOWN", Draft),
    e!(603, "ERR_DB_CONNECT", Draft),
    e!(604, "ERR_SERVER_GOING_DOWN", Draft),
    e!(606, "ERR_PAGING_UNAVAILABLE", Later),
    e!(707, "ERR_CREATE_CONNECTION", Draft),
    e!(710, "ERR_PAGING_UNAVAILABLE_710", Later),
    e!(711, "ERR_BLOCKING_WRITE", Draft),
    e!(712, "ERR_SESSION_OVERLOAD", Draft),
    e!(713, "ERR_USER_TOO_ACTIVE", Draft),
    e!(714, "ERR_TOO_MANY_SESSIONS", Draft),
    e!(715, "ERR_NOT_EXPECTED", Draft),
    e!(717, "ERR_BAD_FRIEND_FILE", Draft),
    e!(718, "ERR_RESTRICTED_USER", Later),
    e!(719, "ERR_FEDERATED_SESSION", Later),
    e!(726, "ERR_USER_IS_FEDERATED", Later),
    e!(729, "ERR_FEDERATED_BUSY", Later),
    e!(800, "ERR_CHANGING_TOO_FAST", Later),
    e!(910, "ERR_SERVER_TOO_BUSY", Later),
    e!(911, "ERR_AUTHENTICATION_FAILED", Draft),
    e!(912, "UNDOCUMENTED_912", Msnp2Undocumented),
    e!(913, "ERR_NOT_ALLOWED_WHEN_OFFLINE", Draft),
    e!(914, "UNDOCUMENTED_914", Msnp2Undocumented),
    e!(917, "ERR_INVALID_DOMAIN", Later),
    e!(918, "UNDOCUMENTED_918", Msnp2Undocumented),
    e!(919, "UNDOCUMENTED_919", Msnp2Undocumented),
    e!(920, "ERR_NOT_ACCEPTING_NEW_USERS", Draft),
    e!(921, "ERR_SERVER_TOO_BUSY", Later),
    e!(922, "ERR_SERVER_TOO_BUSY", Later),
    e!(923, "ERR_KIDS_WITHOUT_PARENTAL_CONSENT", Later),
    e!(924, "ERR_PASSPORT_NOT_VERIFIED", Later),
    e!(926, "ERR_MANAGED_USER_CVR", Later),
    e!(927, "ERR_PARENTAL_BLOCK", Later),
    e!(928, "ERR_BAD_TICKET", Later),
    e!(929, "ERR_MCAA_CHALLENGE_FAILED", Later),
    e!(930, "ERR_ENTERPRISE_DOMAIN", Later),
    e!(931, "ERR_ACCOUNT_ON_ANOTHER_SERVER", Later),
    e!(933, "ERR_INVALID_CIRCLE", Later),
    e!(934, "ERR_FSS_NO_ACCESS", Later),
];

/// Looks an error code up (the table is sorted by code).
pub fn error_code(code: u16) -> Option<&'static ErrorCode> {
    ERRORS.binary_search_by_key(&code, |e| e.code).ok().map(|i| &ERRORS[i])
}
