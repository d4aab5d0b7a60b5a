//! Session setup and login: VER, CVR, CVQ, INF, USR (every authentication scheme), XFR and
//! OUT. Sources: [D §7.1-7.4, §7.10], [Y cmd/ver, cvr, cvq, inf, usr, xfr, out], [Y ver/msnp3 -
//! msnp14], [N p18sso], `docs/dialects.md`.

use super::Kind::*;
use super::{client, d, opt, opt_secret, p, secret, server, up, CommandSpec, Param, DS, DS_NS, NS, SB};
use crate::msnp::dialect::Dialect;

const VERSION_PARAMS: &[Param] = &[
    p("lcid", Text),
    p("os-type", Text),
    p("os-version", Text),
    p("arch", Text),
    p("library", Text),
    p("client-version", Text),
    opt("codebase", Text),
    opt("handle", Handle),
    opt("hops", Text),
];

const VERSION_REPLY: &[Param] = &[
    p("recommended", Text),
    p("recommended-2", Text),
    p("minimum", Text),
    p("download-url", Text),
    p("info-url", Text),
];

pub(super) static SPECS: &[CommandSpec] = &[
    CommandSpec {
        verb: "VER",
        summary: "protocol negotiation",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.1",
        forms: &[
            client(d(2, 21), DS_NS, true, &[p("dialects", Rest)]).cite("D §7.1"),
            server(d(2, 21), DS_NS, true, &[p("dialects", Rest)]).cite("D §7.1"),
        ],
    },
    CommandSpec {
        verb: "CVR",
        summary: "client version check",
        dialects: d(2, 21),
        in_draft: false,
        cite: "Y cmd/cvr",
        forms: &[
            // Documented on the notification server up to MSNP7, on the dispatch server too from
            // MSNP8; where earlier clients sent it is not documented, so both roles are allowed.
            client(d(2, 21), DS_NS, true, VERSION_PARAMS).cite("Y ver/msnp2, msnp4, msnp8, N p21"),
            server(d(2, 21), DS_NS, true, VERSION_REPLY).cite("Y cmd/cvr"),
        ],
    },
    CommandSpec {
        verb: "CVQ",
        summary: "client version query (CVR0 dialect)",
        dialects: super::super::dialect::only(Dialect::CVR0),
        in_draft: false,
        cite: "Y ver/cvr0",
        forms: &[
            client(d(0, 0), DS, true, VERSION_PARAMS).cite("Y ver/cvr0"),
            server(d(0, 0), DS, true, VERSION_REPLY).cite("Y ver/cvr0"),
        ],
    },
    CommandSpec {
        verb: "INF",
        summary: "security packages",
        dialects: d(2, 7),
        in_draft: true,
        cite: "D §7.2",
        forms: &[
            client(d(2, 7), DS_NS, true, &[]).cite("D §7.2"),
            server(d(2, 7), DS_NS, true, &[p("packages", Rest)]).cite("D §7.2"),
        ],
    },
    CommandSpec {
        verb: "USR",
        summary: "authentication",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.3",
        forms: &[
            // Notification (and dispatch) logins, by package and step.
            client(d(2, 7), DS_NS, true, &[p("package", Lit("MD5")), p("sequence", Lit("I")), p("handle", Handle)])
                .cite("D §7.3"),
            client(d(2, 7), NS, true, &[p("package", Lit("MD5")), p("sequence", Lit("S")), secret("response", Text)])
                .cite("D §7.3"),
            client(
                d(2, 2),
                DS_NS,
                true,
                &[p("package", Lit("CTP")), p("sequence", Lit("I")), p("handle", Handle), opt_secret("password", Text)],
            )
            .cite("Y authschemes/ctp"),
            client(
                d(2, 2),
                DS_NS,
                true,
                &[p("package", Lit("CTP")), p("sequence", Lit("S")), secret("password", Text)],
            )
            .cite("Y cmd/usr"),
            client(d(8, 14), DS_NS, true, &[p("package", Lit("TWN")), p("sequence", Lit("I")), p("handle", Handle)])
                .cite("Y ver/msnp8"),
            client(d(8, 14), NS, true, &[p("package", Lit("TWN")), p("sequence", Lit("S")), secret("ticket", Text)])
                .cite("Y cmd/usr"),
            client(up(15), DS_NS, true, &[p("package", Lit("SSO")), p("sequence", Lit("I")), p("handle", Handle)])
                .cite("Y authschemes/sso"),
            client(
                up(15),
                NS,
                true,
                &[
                    p("package", Lit("SSO")),
                    p("sequence", Lit("S")),
                    secret("ticket", Text),
                    opt_secret("response", Text),
                    opt("machine-guid", Text),
                ],
            )
            .cite("Y authschemes/sso, N p18sso"),
            client(up(18), NS, true, &[p("package", Lit("SHA")), p("sequence", Lit("A")), secret("ticket", Text)])
                .cite("Y index (circles)"),
            // Switchboard: the caller presents its XFR SB cookie.
            client(d(2, 21), SB, true, &[p("handle", Handle), secret("cookie", Text)]).cite("D §8.2"),
            client(up(16), SB, true, &[p("handle", Endpoint), secret("cookie", Text)]).cite("Y cmd/usr"),
            server(d(2, 7), NS, true, &[p("package", Lit("MD5")), p("sequence", Lit("S")), p("challenge", Text)])
                .cite("D §7.3"),
            server(d(2, 2), NS, true, &[p("package", Lit("CTP")), p("sequence", Lit("S"))]).cite("Y cmd/usr"),
            server(d(8, 14), NS, true, &[p("package", Lit("TWN")), p("sequence", Lit("S")), p("policy", Text)])
                .cite("Y ver/msnp8"),
            server(
                up(15),
                NS,
                true,
                &[
                    p("package", Lit("SSO")),
                    p("sequence", Lit("S")),
                    p("policy", Text),
                    p("nonce", Text),
                    opt("machine-guid", Text),
                ],
            )
            .cite("Y authschemes/sso"),
            server(d(2, 5), NS, true, &[p("status", Lit("OK")), p("handle", Handle), p("friendly-name", Name)])
                .cite("D §7.3"),
            server(
                d(6, 7),
                NS,
                true,
                &[p("status", Lit("OK")), p("handle", Handle), p("friendly-name", Name), p("verified", Number)],
            )
            .cite("Y ver/msnp6"),
            server(
                d(8, 9),
                NS,
                true,
                &[
                    p("status", Lit("OK")),
                    p("handle", Handle),
                    p("friendly-name", Name),
                    p("verified", Number),
                    p("restricted", Number),
                ],
            )
            .cite("Y ver/msnp8"),
            server(
                up(10),
                NS,
                true,
                &[p("status", Lit("OK")), p("handle", Handle), p("verified", Number), p("restricted", Number)],
            )
            .cite("Y ver/msnp10"),
            server(d(2, 21), SB, true, &[p("status", Lit("OK")), p("handle", Endpoint), p("friendly-name", Name)])
                .cite("D §8.2"),
        ],
    },
    CommandSpec {
        verb: "XFR",
        summary: "referral to another server",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.4",
        forms: &[
            client(d(2, 21), DS_NS, true, &[p("server-type", Text)]).cite("D §7.4"),
            server(d(2, 2), DS_NS, true, &[p("server-type", Lit("NS")), p("address", Address)]).cite("D §7.4"),
            server(d(3, 6), DS_NS, true, &[p("server-type", Lit("NS")), p("address", Address), p("unused", Lit("0"))])
                .cite("Y cmd/xfr"),
            server(
                d(7, 12),
                DS_NS,
                true,
                &[
                    p("server-type", Lit("NS")),
                    p("address", Address),
                    p("unused", Lit("0")),
                    p("current-server", Address),
                ],
            )
            .cite("Y cmd/xfr"),
            server(
                d(13, 20),
                DS_NS,
                true,
                &[p("server-type", Lit("NS")), p("address", Address), p("u", Lit("U")), p("d", Lit("D"))],
            )
            .cite("Y cmd/xfr"),
            server(
                up(21),
                DS_NS,
                true,
                &[
                    p("server-type", Lit("NS")),
                    p("address", Address),
                    p("u", Lit("U")),
                    p("d", Lit("D")),
                    p("hops", Text),
                ],
            )
            .cite("N p21"),
            server(
                d(2, 12),
                NS,
                true,
                &[p("server-type", Lit("SB")), p("address", Address), p("package", Package), secret("cookie", Text)],
            )
            .cite("D §7.4"),
            server(
                d(13, 13),
                NS,
                true,
                &[
                    p("server-type", Lit("SB")),
                    p("address", Address),
                    p("package", Package),
                    secret("cookie", Text),
                    p("u", Lit("U")),
                    p("domain", Text),
                ],
            )
            .cite("Y cmd/xfr"),
            server(
                up(14),
                NS,
                true,
                &[
                    p("server-type", Lit("SB")),
                    p("address", Address),
                    p("package", Package),
                    secret("cookie", Text),
                    p("u", Lit("U")),
                    p("domain", Text),
                    p("direct", Number),
                ],
            )
            .cite("Y cmd/xfr"),
        ],
    },
    CommandSpec {
        verb: "OUT",
        summary: "sign out / closing",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.10",
        forms: &[
            client(d(2, 21), super::ANY, false, &[]).cite("D §7.10"),
            server(d(2, 21), super::ANY, false, &[opt("reason", Text), opt("minutes", Number)]).cite("Y cmd/out"),
        ],
    },
];
