//! Referrals: the server lines that send a client to another server (`XFR NS` to a
//! notification server, `XFR SB` and `RNG` to a switchboard), and the switchboard logins that
//! follow them.

use super::Role;

/// A kind of referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferralKind {
    /// `XFR n NS address`: log in at this notification server.
    XfrNs,
    /// `XFR n SB address CKI cookie`: the switchboard the client asked for.
    XfrSb,
    /// `RNG session address CKI cookie caller`: an invitation to a switchboard.
    Rng,
}

spelled!(ReferralKind { XfrNs => "XFR NS", XfrSb => "XFR SB", Rng => "RNG" });

impl ReferralKind {
    /// The role of the server it leads to.
    pub fn role(self) -> Role {
        match self {
            ReferralKind::XfrNs => Role::NS,
            ReferralKind::XfrSb | ReferralKind::Rng => Role::SB,
        }
    }

    /// The switchboard login that presents its cookie: `USR` after XFR SB, `ANS` after RNG.
    pub fn login_verb(self) -> Option<&'static str> {
        match self {
            ReferralKind::XfrNs => None,
            ReferralKind::XfrSb => Some("USR"),
            ReferralKind::Rng => Some("ANS"),
        }
    }
}
