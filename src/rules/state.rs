//! Protocol-state rules (P): the order of the login, which commands each role and direction
//! may carry, the SYN batch and the IRO roster, what may follow a referral or OUT. The state
//! they follow is kept in [`Checker`].

use super::{
    syntax, Checker, Context, Violation, P001, P002, P003, P004, P005, P006, P008, P009, P010, P011, P012, P013, P014,
    P015,
};
use crate::msnp::catalog::Side;
use crate::msnp::command::Command;
use crate::msnp::dialect::Dialects;
use crate::msnp::params::decimal;
use crate::msnp::verbs::{ANS, BLP, BYE, CAL, CVQ, CVR, GTC, INF, JOI, LSG, LST, OUT, PNG, RNG, SYN, USR, VER, XFR};
use crate::msnp::Role;

/// How far a connection's login got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Nothing sent yet.
    Start,
    /// USR I sent / challenge seen.
    InProgress,
    /// USR OK received.
    Done,
    /// XFR NS received: the client must stop.
    Referred,
}

/// Progress through a SYN batch: stage 0 = SYN reply seen, 1 GTC, 2 BLP, 3.. LST FL, AL, BL, RL.
#[derive(Debug, Clone)]
pub struct SynBatch {
    txn: usize,
    serial: String,
    stage: usize,
    /// Next item expected in the current list and its total.
    item: u64,
    total: u64,
}

/// The IRO roster being checked: its transaction, the next item, the total, ANS OK seen.
#[derive(Debug, Clone, Copy)]
pub struct Roster {
    txn: usize,
    next: u64,
    total: u64,
    done: bool,
}

const SYN_LISTS: [&str; 4] = ["FL", "AL", "BL", "RL"];

/// P009: a command, or a form of one, that the negotiated dialect does not have. Only a
/// decided dialect says so (a fingerprinted one is what the commands allow).
pub fn outside_dialect(cmd: &Command<'_>, span: Dialects, decided: bool, v: &mut Vec<Violation>) {
    let (Some(spec), Some(d)) = (cmd.spec, span.exact().filter(|_| decided)) else { return };
    if !spec.dialects.contains(d) {
        v.push(Violation::new(P009, format!("{} belongs to {}, not {d}", spec.verb, spec.dialects.label())));
    } else if let Some(elsewhere) = cmd.elsewhere {
        v.push(Violation::new(P009, format!("this form of {} belongs to {}, not {d}", spec.verb, elsewhere.label())));
    }
}

/// SYN batches of MSNP8 and later: the reply announces how many LST and LSG lines follow.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// The SYN reply's event.
    reply: usize,
    users: u64,
    groups: u64,
    lst: u64,
    lsg: u64,
}

impl Batch {
    /// P015 on the reply when the batch ended short of what it announced.
    pub fn shortfall(&self) -> Option<(usize, Violation)> {
        (self.lst < self.users || self.lsg < self.groups).then(|| {
            let msg = format!(
                "SYN announced {} contacts and {} groups, the batch held {} LST and {} LSG lines",
                self.users, self.groups, self.lst, self.lsg
            );
            (self.reply, Violation::new(P015, msg))
        })
    }
}

/// P007: a switchboard login whose cookie no referral of `kind` announced (the analysis knows
/// when that user's referrals were captured, which is when this holds).
pub fn unknown_cookie(kind: crate::msnp::referral::ReferralKind) -> Violation {
    let verb = kind.login_verb().unwrap_or("USR");
    Violation::new(
        super::P007,
        format!("{verb} presents a cookie that no {} referral of this capture announced", kind.as_str()),
    )
}

/// P003: a command sent in a direction it never travels, or on a role it does not belong to
/// (in any dialect the connection may speak).
pub fn direction_and_role(cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
    let Some(s) = cmd.spec else { return };
    let side = Side::of(cx.from_client);
    if !s.forms.iter().any(|f| f.side == side) {
        let who = if cx.from_client { "client" } else { "server" };
        v.push(Violation::new(P003, format!("{} is never sent by the {who}", cmd.verb)));
        return;
    }
    let span = if s.dialects.overlaps(cx.dialects) { cx.dialects } else { Dialects::ALL };
    if cx.role != Role::Unknown && !s.forms_of(side, span).any(|f| f.roles.has(cx.role)) {
        v.push(Violation::new(P003, format!("{} is not a {} command", cmd.verb, cx.role.as_str())));
    }
}

impl Checker {
    /// Whether the login completed (USR OK seen).
    pub fn logged_in(&self) -> bool {
        self.login == Login::Done
    }

    /// Transactions the SYN batch and roster checks still refer to.
    pub fn referenced_txns(&self) -> impl Iterator<Item = usize> {
        self.syn.as_ref().map(|b| b.txn).into_iter().chain(self.roster.map(|r| r.txn))
    }

    /// P005, P001, P002, P006 and P013: what the client may send first, before login, after a
    /// referral and after OUT.
    pub(super) fn order(&mut self, cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        if !cx.from_client {
            return;
        }
        let (verb, code, a) = (cmd.verb, cmd.code, &cmd.args);
        let login_role = matches!(cx.role, Role::DS | Role::NS | Role::Unknown);
        if cx.start_seen && login_role && cx.role != Role::SB {
            if self.first_c2s && code != VER && !(code == XFR && a.first() == Some(&"NS")) {
                // SB logins are USR with a cookie; the role may not be known yet.
                let sb_like = (code == USR && a.len() == 2 && !matches!(a[0], "MD5" | "CTP")) || code == ANS;
                if !sb_like {
                    v.push(Violation::new(P005, format!("first command is {verb}")));
                }
            }
            if self.login != Login::Done
                && self.login != Login::Referred
                && !matches!(code, VER | INF | USR | CVR | CVQ | PNG | OUT | XFR)
            {
                v.push(Violation::new(P001, format!("{verb} before login completed")));
            }
            if code == USR && self.login == Login::Start && !self.cvr_seen && cx.applies(P014) {
                v.push(Violation::new(P014, "USR before CVR"));
            }
            self.cvr_seen |= code == CVR;
        }
        if self.login == Login::Referred && code != OUT {
            v.push(Violation::new(P002, format!("{verb} sent after the XFR NS referral")));
        }
        if cx.role == Role::SB && self.first_c2s && cx.start_seen && !matches!(code, USR | ANS) {
            v.push(Violation::new(P006, format!("first command is {verb}")));
        }
        self.first_c2s = false;
        if self.out_sent {
            v.push(Violation::new(P013, format!("{verb} after OUT")));
        }
        self.out_sent |= code == OUT;
    }

    /// The login's progress (INF, USR, XFR NS) and the checks that depend on it: P004, P012,
    /// the MD5 response (S009, S010), CTP (S012), referral packages (S011), CAL replies (P008),
    /// and JOI or BYE during the roster (P011).
    pub(super) fn progress(&mut self, cx: &Context<'_>, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        let (verb, a) = (cmd.verb, &cmd.args);
        match (cmd.code, cx.from_client) {
            (INF, true) => self.inf_seen = true,
            (JOI | BYE, false) => {
                if let Some(Roster { next, total, done: false, .. }) = self.roster {
                    if total > 0 || next > 1 {
                        v.push(Violation::new(P011, format!("{verb} before the roster ended with ANS OK")));
                    }
                }
            }
            (INF, false) => syntax::ctp_offered(cmd, v),
            (USR, true) if matches!(a.first(), Some(&"MD5") | Some(&"CTP") | Some(&"TWN") | Some(&"SSO")) => {
                syntax::ctp_used(cmd, v);
                if a.get(1) == Some(&"I") {
                    if a[0] == "MD5" && cx.applies(P004) && !self.inf_seen && cx.start_seen {
                        v.push(Violation::new(P004, "USR I sent without INF first"));
                    }
                    self.login = Login::InProgress;
                } else if a.get(1) == Some(&"S") && a[0] != "CTP" {
                    if self.login == Login::Start && cx.start_seen {
                        v.push(Violation::new(P012, format!("USR {} S without USR {} I before it", a[0], a[0])));
                    }
                    if a[0] == "MD5" {
                        syntax::md5_response(cmd, self.challenge.as_deref(), cx, v);
                    }
                }
            }
            (USR, false) => {
                if a.first() == Some(&"MD5") && a.get(1) == Some(&"S") {
                    self.challenge = a.get(2).map(|s| s.to_string());
                } else if a.first() == Some(&"OK") {
                    self.login = Login::Done;
                }
            }
            // A referral in answer to the login (or any before it completed) ends the login here.
            (XFR, false)
                if a.first() == Some(&"NS") && (cmd.trid.is_some_and(|t| t != 0) || self.login != Login::Done) =>
            {
                self.login = Login::Referred;
            }
            (XFR, false) if a.first() == Some(&"SB") => syntax::package(cmd, v),
            (RNG, false) => syntax::package(cmd, v),
            (CAL, false) if cmd.trid.is_some() && cmd.error.is_none() && a.first() != Some(&"RINGING") => {
                v.push(Violation::new(P008, format!("reply is {:?}", a.join(" "))));
            }
            _ => {}
        }
    }

    /// P010: the SYN batch comes in order, items 1 to total, with the reply's serial. `t` is
    /// the SYN's transaction; `cmd` one of the lines answering it.
    pub fn syn_batch(&mut self, t: usize, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        const PARTS: [&str; 7] = ["SYN", "GTC", "BLP", "LST FL", "LST AL", "LST BL", "LST RL"];
        let a = &cmd.args;
        if cmd.code == SYN {
            self.syn = a.first().map(|s| SynBatch { txn: t, serial: s.to_string(), stage: 0, item: 0, total: 0 });
            return;
        }
        let Some(b) = self.syn.as_mut().filter(|b| b.txn == t) else {
            v.push(Violation::new(P010, format!("{} before the SYN reply", cmd.verb)));
            return;
        };
        let (stage, serial) = match cmd.code {
            GTC => (1, a.first()),
            BLP => (2, a.first()),
            LST => match a.first().and_then(|l| SYN_LISTS.iter().position(|x| x == l)) {
                Some(i) => (3 + i, a.get(1)),
                None => return,
            },
            _ => return,
        };
        let same_list = stage == b.stage && stage >= 3;
        if !same_list && stage != b.stage + 1 {
            let msg = if stage <= b.stage {
                format!("{} after {} (the batch goes {})", PARTS[stage], PARTS[b.stage], PARTS.join(", "))
            } else {
                format!("{} came before {}", PARTS[stage], PARTS[b.stage + 1])
            };
            v.push(Violation::new(P010, msg));
        }
        if let Some(s) = serial.filter(|s| **s != b.serial) {
            v.push(Violation::new(P010, format!("serial {s} differs from the SYN reply's {}", b.serial)));
        }
        if !same_list && b.stage >= 3 && b.total > 0 && b.item <= b.total {
            let last = b.item.saturating_sub(1);
            v.push(Violation::new(P010, format!("{} ended at item {last} of {}", PARTS[b.stage], b.total)));
        }
        if cmd.code == LST {
            if !same_list {
                b.item = 1;
                b.total = 0;
            }
            let item = a.get(2).and_then(|x| decimal(x));
            let total = a.get(3).and_then(|x| decimal(x));
            if let (Some(item), Some(total)) = (item, total) {
                let (want, want_total) = if same_list {
                    (b.item, b.total)
                } else if total == 0 {
                    (0, 0)
                } else {
                    (1, total)
                };
                if item != want || total != want_total {
                    v.push(Violation::new(
                        P010,
                        format!("{} item {item} of {total}, expected {want} of {want_total}", PARTS[stage]),
                    ));
                }
                b.total = total;
                b.item = item.saturating_add(1);
            }
        }
        b.stage = stage;
    }

    /// P011: the IRO roster counts 1 to n and is complete before ANS OK. `t` is the ANS's
    /// transaction; `cmd` an IRO or the ANS OK answering it.
    pub fn roster(&mut self, t: usize, cmd: &Command<'_>, v: &mut Vec<Violation>) {
        let a = &cmd.args;
        let (next, total, done) = match self.roster {
            Some(r) if r.txn == t => (r.next, r.total, r.done),
            _ => (1, 0, false),
        };
        if cmd.verb == "IRO" {
            let k = a.first().and_then(|x| decimal(x));
            let n = a.get(1).and_then(|x| decimal(x));
            if done {
                v.push(Violation::new(P011, "IRO after ANS OK"));
            } else if k != Some(next) || (next > 1 && n != Some(total)) {
                v.push(Violation::new(
                    P011,
                    format!(
                        "IRO {} of {}, expected {next}",
                        a.first().copied().unwrap_or("?"),
                        a.get(1).copied().unwrap_or("?")
                    ),
                ));
            }
            let next = k.unwrap_or(next).saturating_add(1);
            self.roster = Some(Roster { txn: t, next, total: n.unwrap_or(total), done });
        } else {
            if total > 0 && next <= total {
                v.push(Violation::new(P011, format!("ANS OK after IRO {} of {total}", next.saturating_sub(1))));
            }
            self.roster = Some(Roster { txn: t, next, total, done: true });
        }
    }
}

impl Checker {
    /// P015: the LST and LSG lines of an MSNP8+ SYN batch against the totals its reply
    /// announces (`SYN t version users groups`, MSNP10: `SYN t version settings users groups`).
    pub(super) fn batch_counts(&mut self, cx: &Context<'_>, cmd: &Command<'_>, idx: usize, v: &mut Vec<Violation>) {
        if cx.from_client || (self.batch.is_none() && cmd.code != SYN) || !cx.applies(P015) {
            return;
        }
        let in_batch = cmd.form().is_some_and(|f| f.in_batch);
        if in_batch {
            if let Some(b) = self.batch.as_mut() {
                let over = match cmd.code {
                    LST => {
                        b.lst += 1;
                        b.lst > b.users
                    }
                    LSG => {
                        b.lsg += 1;
                        b.lsg > b.groups
                    }
                    _ => false,
                };
                if over {
                    let what = if cmd.code == LST { "contacts" } else { "groups" };
                    let n = if cmd.code == LST { b.users } else { b.groups };
                    v.push(Violation::new(
                        P015,
                        format!("{} line beyond the {n} {what} the SYN reply announced", cmd.verb),
                    ));
                }
            }
            return;
        }
        if let Some(b) = self.batch.take() {
            self.late.extend(b.shortfall());
        }
        if cmd.code == SYN && cmd.error.is_none() {
            let counts: Vec<u64> = cmd.args.iter().rev().take(2).filter_map(|x| x.parse().ok()).collect();
            let with_counts = cmd.form().is_some_and(|f| f.params.iter().any(|p| p.name == "users"))
                && cmd.args.len() >= if cx.dialects.low >= crate::msnp::dialect::Dialect::P10 { 4 } else { 3 };
            if let ([groups, users], true) = (counts.as_slice(), with_counts) {
                self.batch = Some(Batch { reply: idx, users: *users, groups: *groups, lst: 0, lsg: 0 });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msnp::command::parse;

    /// Item numbers at the limit of their type (the wire can say anything) are compared, not
    /// added to: no overflow, the violation reported.
    #[test]
    fn list_and_roster_items_at_u64_max() {
        let max = u64::MAX;
        let mut c = Checker::default();
        let mut v = Vec::new();
        c.syn_batch(0, &parse("SYN 1 5", false, Dialects::MSNP2), &mut v);
        c.syn_batch(0, &parse("GTC 1 5 A", false, Dialects::MSNP2), &mut v);
        c.syn_batch(0, &parse("BLP 1 5 AL", false, Dialects::MSNP2), &mut v);
        c.syn_batch(0, &parse(&format!("LST 1 FL 5 {max} {max} a@b.com A"), false, Dialects::MSNP2), &mut v);
        c.syn_batch(0, &parse(&format!("LST 1 FL 5 {max} {max} a@b.com A"), false, Dialects::MSNP2), &mut v);
        c.syn_batch(0, &parse("LST 1 AL 5 0 0", false, Dialects::MSNP2), &mut v);
        assert!(v.iter().all(|x| x.rule == "MSNP-P010") && !v.is_empty(), "{v:?}");

        let mut v = Vec::new();
        c.roster(1, &parse(&format!("IRO 2 {max} {max} a@b.com A"), false, Dialects::MSNP2), &mut v);
        c.roster(1, &parse(&format!("IRO 2 {max} {max} a@b.com A"), false, Dialects::MSNP2), &mut v);
        c.roster(1, &parse("ANS 2 OK", false, Dialects::MSNP2), &mut v);
        assert!(v.iter().all(|x| x.rule == "MSNP-P011") && !v.is_empty(), "{v:?}");
    }

    #[test]
    fn a_complete_batch_and_roster_are_clean() {
        let mut c = Checker::default();
        let mut v = Vec::new();
        for l in ["SYN 1 5", "GTC 1 5 A", "BLP 1 5 AL", "LST 1 FL 5 1 1 a@b.com A", "LST 1 AL 5 0 0"] {
            c.syn_batch(0, &parse(l, false, Dialects::MSNP2), &mut v);
        }
        for l in ["LST 1 BL 5 0 0", "LST 1 RL 5 0 0"] {
            c.syn_batch(0, &parse(l, false, Dialects::MSNP2), &mut v);
        }
        for l in ["IRO 2 1 2 a@b.com A", "IRO 2 2 2 c@d.com C", "ANS 2 OK"] {
            c.roster(1, &parse(l, false, Dialects::MSNP2), &mut v);
        }
        assert!(v.is_empty(), "{v:?}");
    }
}
