//! The switchboard and the invitation to it: RNG (sent on the notification server), CAL, ANS,
//! IRO, JOI, BYE, ACK, NAK. Endpoints (`handle;{machine-guid}`) appear in MSNP16, capabilities
//! on IRO and JOI in MSNP12. Sources: [D §8.2-8.7], [Y cmd/rng, cal, ans, iro, joi, bye],
//! [E sb].

use super::Kind::*;
use super::{client, d, opt, p, secret, server, up, CommandSpec, Param, NS, SB};

const RNG_P2: &[Param] = &[
    p("session-id", SessionId),
    p("address", Address),
    p("package", Package),
    secret("cookie", Text),
    p("caller", Handle),
    p("caller-name", Name),
];

pub(super) static SPECS: &[CommandSpec] = &[
    CommandSpec {
        verb: "RNG",
        summary: "incoming switchboard invitation",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.4",
        forms: &[
            server(d(2, 12), NS, false, RNG_P2).cite("D §8.4"),
            server(
                d(13, 13),
                NS,
                false,
                &[
                    p("session-id", SessionId),
                    p("address", Address),
                    p("package", Package),
                    secret("cookie", Text),
                    p("caller", Handle),
                    p("caller-name", Name),
                    p("u", Lit("U")),
                    p("domain", Text),
                ],
            )
            .cite("Y cmd/rng"),
            server(
                up(14),
                NS,
                false,
                &[
                    p("session-id", SessionId),
                    p("address", Address),
                    p("package", Package),
                    secret("cookie", Text),
                    p("caller", Handle),
                    p("caller-name", Name),
                    p("u", Lit("U")),
                    p("domain", Text),
                    p("direct", Number),
                ],
            )
            .cite("Y cmd/rng"),
        ],
    },
    CommandSpec {
        verb: "CAL",
        summary: "invite into the switchboard",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.3",
        forms: &[
            client(d(2, 21), SB, true, &[p("handle", Handle)]).cite("D §8.3"),
            server(d(2, 21), SB, true, &[p("status", Text), p("session-id", SessionId)]).cite("D §8.3"),
        ],
    },
    CommandSpec {
        verb: "ANS",
        summary: "answer an invitation to a switchboard",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.4",
        forms: &[
            client(d(2, 21), SB, true, &[p("handle", Handle), secret("cookie", Text), p("session-id", SessionId)])
                .cite("D §8.4"),
            client(up(16), SB, true, &[p("handle", Endpoint), secret("cookie", Text), p("session-id", SessionId)])
                .cite("Y cmd/ans"),
            server(d(2, 21), SB, true, &[p("status", Text)]).cite("D §8.4"),
        ],
    },
    CommandSpec {
        verb: "IRO",
        summary: "switchboard roster entry",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.4",
        forms: &[
            server(
                d(2, 11),
                SB,
                true,
                &[p("item", Count), p("total", Count), p("handle", Handle), p("friendly-name", Name)],
            )
            .cite("D §8.4"),
            server(
                d(12, 15),
                SB,
                true,
                &[
                    p("item", Count),
                    p("total", Count),
                    p("handle", Handle),
                    p("friendly-name", Name),
                    p("capabilities", Caps),
                ],
            )
            .cite("Y cmd/iro"),
            server(
                up(16),
                SB,
                true,
                &[
                    p("item", Count),
                    p("total", Count),
                    p("handle", Endpoint),
                    p("friendly-name", Name),
                    p("capabilities", Caps),
                ],
            )
            .cite("E sb"),
        ],
    },
    CommandSpec {
        verb: "JOI",
        summary: "participant joined",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.5",
        forms: &[
            server(d(2, 11), SB, false, &[p("handle", Handle), p("friendly-name", Name)]).cite("D §8.5"),
            server(d(12, 15), SB, false, &[p("handle", Handle), p("friendly-name", Name), p("capabilities", Caps)])
                .cite("Y cmd/joi"),
            server(up(16), SB, false, &[p("handle", Endpoint), p("friendly-name", Name), p("capabilities", Caps)])
                .cite("E sb"),
        ],
    },
    CommandSpec {
        verb: "BYE",
        summary: "participant left",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.5",
        forms: &[server(d(2, 21), SB, false, &[p("handle", Endpoint), opt("timeout", Text)]).cite("D §8.5, Y cmd/bye")],
    },
    CommandSpec {
        verb: "ACK",
        summary: "message delivered",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.7",
        forms: &[server(d(2, 21), SB, true, &[]).cite("D §8.7")],
    },
    CommandSpec {
        verb: "NAK",
        summary: "message not delivered",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.7",
        forms: &[server(d(2, 21), SB, true, &[]).cite("D §8.7")],
    },
];
