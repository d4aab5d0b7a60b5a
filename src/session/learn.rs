//! What a connection tells about the world around it: the user it belongs to, the role its
//! login proves, and the notices the analysis acts on across connections (referrals sent by the
//! server, switchboard logins presenting a cookie).

use super::model::{Notice, ReferralSeen, SbAuth};
use super::Connection;
use crate::msnp::command::Command;
use crate::msnp::referral::ReferralKind;
use crate::msnp::verbs::{ANS, MSG, RNG, USR, XFR};
use crate::msnp::Role;

impl Connection {
    /// Learns the user, the role and the notices that the command `cmd` (event `idx`, with its
    /// payload) carries.
    pub(super) fn learn(&mut self, cmd: &Command<'_>, from_client: bool, idx: usize, payload: Option<&[u8]>) {
        let a = &cmd.args;
        // A switchboard login is the form of USR or ANS that only switchboards take.
        let sb_form = cmd.reading.is_some_and(|r| r.fits && r.form.roles == crate::msnp::catalog::Roles::SB_ONLY);
        match (cmd.code, from_client) {
            // A login's USR I names the user; its other steps name no one.
            (USR, true) if !sb_form => {
                let handle = a.get(2).filter(|_| a.get(1) == Some(&"I"));
                if let Some(h) = handle {
                    self.user.get_or_insert_with(|| h.to_string());
                }
            }
            (USR, true) if a.len() >= 2 => {
                self.user.get_or_insert_with(|| a[0].to_string());
                self.sb_login(ReferralKind::XfrSb, idx, a[0], a[1], None);
            }
            (USR, false) if a.first() == Some(&"OK") => {
                if let Some(h) = a.get(1) {
                    self.user = Some(h.to_string());
                }
                if self.role == Role::Unknown {
                    self.role = Role::NS;
                }
            }
            (ANS, true) if a.len() >= 3 => {
                self.user.get_or_insert_with(|| a[0].to_string());
                self.sb_login(ReferralKind::Rng, idx, a[0], a[1], Some(a[2]));
            }
            (XFR, false) if a.first() == Some(&"NS") => {
                if let Some(addr) = a.get(1).filter(|x| **x != "0") {
                    self.referral(ReferralKind::XfrNs, idx, addr, None, None);
                }
            }
            (XFR, false) if a.first() == Some(&"SB") => {
                if let Some(addr) = a.get(1) {
                    self.referral(ReferralKind::XfrSb, idx, addr, a.get(3).copied(), None);
                }
            }
            (RNG, false) if a.len() >= 4 => {
                self.referral(ReferralKind::Rng, idx, a[1], Some(a[3]), Some(a[0]));
            }
            // A switchboard picked up after its login: the client's typing notifications name
            // its user.
            (MSG, true) if self.user.is_none() => {
                let mime = crate::msnp::payload::parse(payload.unwrap_or(&[]));
                if mime.content_type().as_deref() == Some("text/x-msmsgscontrol") {
                    if let Some(h) = mime.header("TypingUser").filter(|h| h.contains('@')) {
                        self.user = Some(h.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    fn referral(
        &mut self,
        kind: ReferralKind,
        event: usize,
        address: &str,
        cookie: Option<&str>,
        session: Option<&str>,
    ) {
        self.st.notices.push(Notice::Referral(ReferralSeen {
            kind,
            event,
            address: address.to_string(),
            cookie: cookie.map(str::to_string),
            session: session.map(str::to_string),
        }));
    }

    fn sb_login(&mut self, answers: ReferralKind, event: usize, handle: &str, cookie: &str, session: Option<&str>) {
        self.st.notices.push(Notice::SbAuth(SbAuth {
            answers,
            event,
            handle: handle.to_string(),
            cookie: cookie.to_string(),
            session: session.map(str::to_string),
        }));
    }
}
