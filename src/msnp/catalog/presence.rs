//! Presence and personal data: CHG, ILN, NLN, FLN, and the XML user data of MSNP11+ (UUX,
//! UBX) and MSNP13+ notifications (UUN, UBN). Capabilities join the presence lines in MSNP8,
//! msnobj in MSNP9, network ids in MSNP14, `network:handle` in MSNP18. Sources: [D §7.7, §7.9],
//! [Y cmd/chg, iln, nln, fln, uux, ubx], [P ns].

use super::Kind::*;
use super::{client, d, opt, p, server, up, CommandSpec, Param, NS};

const CHG_P8: &[Param] = &[p("state", State), opt("capabilities", Caps), opt("msnobj", Text)];

pub(super) static SPECS: &[CommandSpec] = &[
    CommandSpec {
        verb: "CHG",
        summary: "change own state",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.7",
        forms: &[
            client(d(2, 7), NS, true, &[p("state", State)]).cite("D §7.7"),
            client(up(8), NS, true, CHG_P8).cite("Y cmd/chg"),
            server(d(2, 7), NS, true, &[p("state", State)]).cite("D §7.7"),
            server(up(8), NS, true, CHG_P8).cite("Y cmd/chg"),
        ],
    },
    CommandSpec {
        verb: "ILN",
        summary: "initial presence of a contact",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.9",
        forms: &[
            server(d(2, 7), NS, true, &[p("state", State), p("handle", Handle), p("friendly-name", Name)])
                .cite("D §7.9"),
            server(
                d(8, 13),
                NS,
                true,
                &[
                    p("state", State),
                    p("handle", Handle),
                    p("friendly-name", Name),
                    opt("capabilities", Caps),
                    opt("msnobj", Text),
                ],
            )
            .cite("Y cmd/iln"),
            server(
                d(14, 17),
                NS,
                true,
                &[
                    p("state", State),
                    p("handle", Handle),
                    p("network", Number),
                    p("friendly-name", Name),
                    opt("capabilities", Caps),
                    opt("msnobj", Text),
                    opt("icon", Text),
                ],
            )
            .cite("Y cmd/iln"),
            server(
                up(18),
                NS,
                true,
                &[
                    p("state", State),
                    p("handle", NetHandle),
                    p("friendly-name", Name),
                    opt("capabilities", Caps),
                    opt("msnobj", Text),
                ],
            )
            .cite("E misc"),
        ],
    },
    CommandSpec {
        verb: "NLN",
        summary: "contact presence change",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.9",
        forms: &[
            server(d(2, 7), NS, false, &[p("state", State), p("handle", Handle), p("friendly-name", Name)])
                .cite("D §7.9"),
            server(
                d(8, 13),
                NS,
                false,
                &[
                    p("state", State),
                    p("handle", Handle),
                    p("friendly-name", Name),
                    opt("capabilities", Caps),
                    opt("msnobj", Text),
                ],
            )
            .cite("Y cmd/nln"),
            server(
                d(14, 17),
                NS,
                false,
                &[
                    p("state", State),
                    p("handle", Handle),
                    p("network", Number),
                    p("friendly-name", Name),
                    opt("capabilities", Caps),
                    opt("msnobj", Text),
                    opt("icon", Text),
                ],
            )
            .cite("Y cmd/nln"),
            server(
                up(18),
                NS,
                false,
                &[
                    p("state", State),
                    p("handle", NetHandle),
                    p("friendly-name", Name),
                    opt("capabilities", Caps),
                    opt("msnobj", Text),
                ],
            )
            .cite("P ns"),
        ],
    },
    CommandSpec {
        verb: "FLN",
        summary: "contact went offline",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.9",
        forms: &[
            server(d(2, 13), NS, false, &[p("handle", Handle)]).cite("D §7.9"),
            server(
                d(14, 17),
                NS,
                false,
                &[p("handle", Handle), p("network", Number), opt("capabilities", Caps), opt("icon", Text)],
            )
            .cite("Y cmd/fln"),
            server(up(18), NS, false, &[p("handle", NetHandle), opt("capabilities", Caps)]).cite("E misc"),
        ],
    },
    CommandSpec {
        verb: "UUX",
        summary: "own user data (XML)",
        dialects: up(11),
        in_draft: false,
        cite: "Y cmd/uux",
        forms: &[
            client(up(11), NS, true, &[p("length", Length)]).payload().cite("Y cmd/uux"),
            server(up(11), NS, true, &[opt("length", Length)]).payload().cite("Y cmd/uux"),
        ],
    },
    CommandSpec {
        verb: "UBX",
        summary: "a contact's user data (XML)",
        dialects: up(11),
        in_draft: false,
        cite: "Y cmd/ubx",
        forms: &[
            server(d(11, 13), NS, false, &[p("handle", Handle), p("length", Length)]).payload().cite("Y cmd/ubx"),
            server(d(14, 17), NS, false, &[p("handle", Handle), p("network", Number), p("length", Length)])
                .payload()
                .cite("Y cmd/ubx"),
            server(up(18), NS, false, &[p("handle", NetHandle), p("length", Length)]).payload().cite("P ns"),
        ],
    },
    CommandSpec {
        verb: "UUN",
        summary: "notification to a contact's endpoint",
        dialects: up(13),
        in_draft: false,
        cite: "P ns",
        forms: &[
            client(up(13), NS, true, &[p("target", Endpoint), p("type", Number), p("length", Length)])
                .payload()
                .cite("P ns"),
            server(up(13), NS, true, &[p("status", Lit("OK"))]).cite("P ns"),
        ],
    },
    CommandSpec {
        verb: "UBN",
        summary: "notification from a contact's endpoint",
        dialects: up(13),
        in_draft: false,
        cite: "P ns",
        forms: &[server(up(13), NS, false, &[p("sender", Endpoint), p("type", Number), p("length", Length)])
            .payload()
            .cite("P ns")],
    },
];
