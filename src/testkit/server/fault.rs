//! Faults the testkit server can be told to have (`msntap serve --fault NAME`), each breaking
//! exactly one behaviour, so that `check-server` can be shown to catch it with the case meant
//! for it.

/// One deliberate deviation from the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// CHG answered with the TrID plus one.
    WrongTrid,
    /// RNG gives the session id in hexadecimal.
    HexSessionId,
    /// ANS OK sent before the IRO roster.
    AnsOkBeforeIro,
    /// A MSG is echoed to its sender as well.
    MsgEcho,
    /// A MSG in ack mode N is acknowledged with ACK.
    AckForModeN,
    /// USR MD5 accepts any response.
    WrongMd5Accepted,
    /// SYN with the current serial resends the lists.
    ListsOnCurrentSerial,
    /// RNG without `CKI cookie`.
    RngWithoutCookie,
    /// The SYN batch sends the lists before GTC and BLP.
    SynOutOfOrder,
    /// The connection is dropped on PNG.
    DropOnPng,
    /// Contacts are not told FLN when a user signs out.
    NoFln,
    /// VER with no dialect in common is answered MSNP2 anyway.
    VerIgnoresOffer,
    /// BLP and GTC to the value already set are echoed instead of refused (218).
    SameModeAccepted,
    /// A contact in one of the allow and block lists is added to the other too (no 219).
    OppositeListAccepted,
    /// Any answer to a challenge is taken (no 540).
    QryUnchecked,
    /// The default group can be removed (no 230).
    DefaultGroupRemovable,
}

/// Every fault: (fault, name, what it breaks, the check-server case that catches it).
pub const FAULTS: &[(Fault, &str, &str, &str)] = &[
    (Fault::WrongTrid, "wrong-trid", "CHG is answered with the TrID plus one", "msnp2/7.7/chg-every-state"),
    (Fault::HexSessionId, "hex-session-id", "RNG gives the session id in hexadecimal", "msnp2/8.3/cal-rng"),
    (Fault::AnsOkBeforeIro, "ans-ok-before-iro", "ANS OK comes before the IRO roster", "msnp2/8.4/ans-iro-joi"),
    (Fault::MsgEcho, "msg-echo", "a MSG is sent back to its sender too", "msnp2/8.7/msg-not-echoed"),
    (Fault::AckForModeN, "ack-for-mode-n", "a MSG in ack mode N gets ACK", "msnp2/8.7/msg-ack-mode-n"),
    (Fault::WrongMd5Accepted, "wrong-md5-accepted", "USR MD5 accepts a wrong response", "msnp2/7.3/usr-wrong-password"),
    (
        Fault::ListsOnCurrentSerial,
        "lists-on-current-serial",
        "SYN with the current serial resends the lists",
        "msnp2/7.5/syn-current-serial",
    ),
    (Fault::RngWithoutCookie, "rng-without-cookie", "RNG has no CKI cookie", "msnp2/8.3/cal-rng"),
    (
        Fault::SynOutOfOrder,
        "syn-out-of-order",
        "the SYN batch sends the lists before GTC and BLP",
        "msnp2/7.5/syn-serial-0",
    ),
    (Fault::DropOnPng, "drop-on-png", "the connection is dropped on PNG", "msnp2/3/png-qng"),
    (Fault::NoFln, "no-fln", "contacts are not told FLN when a user signs out", "msnp2/7.9/presence-fln"),
    (
        Fault::VerIgnoresOffer,
        "ver-ignores-offer",
        "VER with no dialect in common is answered MSNP2",
        "msnp2/7.1/ver-no-common-dialect",
    ),
    (
        Fault::SameModeAccepted,
        "same-mode-accepted",
        "BLP to the mode already set is echoed, not 218",
        "msnp2/7.6/blp-same-218",
    ),
    (
        Fault::OppositeListAccepted,
        "opposite-list-accepted",
        "a contact in the allow list is put in the block list too (no 219)",
        "msnp2/7.8/add-al-bl-219",
    ),
    (Fault::QryUnchecked, "qry-unchecked", "a wrong answer to CHL is taken (no 540)", "msnp7/qry/wrong-answer-540"),
    (
        Fault::DefaultGroupRemovable,
        "default-group-removable",
        "RMG removes the default group (no 230)",
        "msnp7/rmg/default-group-230",
    ),
];

impl Fault {
    /// The fault named `name`.
    pub fn named(name: &str) -> Option<Fault> {
        FAULTS.iter().find(|f| f.1 == name).map(|f| f.0)
    }
}
