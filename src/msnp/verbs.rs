//! Verbs as numbers: the three letters packed into a `u32`, so the checks compare and match on
//! them without comparing strings ([`crate::msnp::command::Command::code`]).

/// The code of a three-letter verb (0 for anything else).
pub const fn code(verb: &str) -> u32 {
    let b = verb.as_bytes();
    if b.len() != 3 {
        return 0;
    }
    (b[0] as u32) | (b[1] as u32) << 8 | (b[2] as u32) << 16
}

macro_rules! verbs {
    ($($v:ident),* $(,)?) => {
        $(
            #[doc = concat!("`", stringify!($v), "`")]
            pub const $v: u32 = code(stringify!($v));
        )*
    };
}

verbs!(
    ACK, ADC, ADD, ADG, ADL, ANS, BLP, BPR, BYE, CAL, CHG, CHL, CVQ, CVR, FLN, FND, FQY, GCF, GTC, ILN, INF, IPG, IRO,
    JOI, LSG, LST, MSG, NAK, NLN, NOT, OUT, PAG, PGD, PNG, PRP, QNG, QRY, REA, REG, REM, RML, RMG, RNG, SBP, SBS, SDC,
    SND, SYN, UBN, UBX, URL, USR, UUN, UUX, VER, XFR,
);

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_distinct_and_only_for_three_letters() {
        assert_ne!(super::USR, super::UUX);
        assert_eq!(super::code("USR"), super::USR);
        assert_eq!(super::code("US"), 0);
        assert_eq!(super::code("USRX"), 0);
    }
}
