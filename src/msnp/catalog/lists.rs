//! Contact lists, groups and properties: SYN and its batch (GTC, BLP, PRP, LSG, LST, BPR),
//! list edits (ADD, ADC, REM, REA), groups (ADG, REG, RMG), properties (PRP, SBP, SBS), and the
//! XML list commands of MSNP13+ (ADL, RML, FQY). From MSNP8 the lines of a SYN batch carry no
//! TrID. Sources: [D §7.5-7.8], [Y cmd/syn, gtc, blp, lst, lsg, add, adc, rem, adg, reg, rmg,
//! prp, bpr, sbp, adl, rml, fqy], [Y ver/msnp5 - msnp13].

use super::Kind::*;
use super::{client, d, opt, p, server, up, CommandSpec, NS};

pub(super) static SPECS: &[CommandSpec] = &[
    CommandSpec {
        verb: "SYN",
        summary: "list synchronisation",
        dialects: d(2, 12),
        in_draft: true,
        cite: "D §7.5",
        forms: &[
            client(d(2, 9), NS, true, &[p("serial", Serial)]).cite("D §7.5"),
            client(d(10, 12), NS, true, &[p("list-version", Text), p("settings-version", Text)]).cite("Y ver/msnp10"),
            server(d(2, 7), NS, true, &[p("serial", Serial)]).cite("D §7.5"),
            server(d(8, 9), NS, true, &[p("serial", Serial), opt("users", Count), opt("groups", Count)])
                .cite("Y ver/msnp8"),
            server(
                d(10, 12),
                NS,
                true,
                &[p("list-version", Text), p("settings-version", Text), opt("users", Count), opt("groups", Count)],
            )
            .cite("Y ver/msnp10"),
        ],
    },
    CommandSpec {
        verb: "GTC",
        summary: "reverse-list prompting",
        dialects: d(2, 12),
        in_draft: true,
        cite: "D §7.6",
        forms: &[
            client(d(2, 12), NS, true, &[p("setting", Text)]).cite("D §7.6"),
            server(d(2, 9), NS, true, &[p("serial", Serial), p("setting", Text)]).cite("D §7.6"),
            server(d(10, 12), NS, true, &[p("setting", Text)]).cite("Y ver/msnp10"),
            server(d(8, 12), NS, false, &[p("setting", Text)]).in_batch().cite("Y ver/msnp8"),
        ],
    },
    CommandSpec {
        verb: "BLP",
        summary: "privacy mode",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §7.6",
        forms: &[
            client(d(2, 21), NS, true, &[p("mode", Text)]).cite("D §7.6"),
            server(d(2, 9), NS, true, &[p("serial", Serial), p("mode", Text)]).cite("D §7.6"),
            server(up(10), NS, true, &[p("mode", Text)]).cite("Y ver/msnp10"),
            server(d(8, 12), NS, false, &[p("mode", Text)]).in_batch().cite("Y ver/msnp8"),
        ],
    },
    CommandSpec {
        verb: "LST",
        summary: "list retrieval",
        dialects: d(2, 12),
        in_draft: true,
        cite: "D §7.6",
        forms: &[
            client(d(2, 9), NS, true, &[p("list", List)]).cite("D §7.6"),
            server(
                d(2, 9),
                NS,
                true,
                &[
                    p("list", List),
                    p("serial", Serial),
                    p("item", Count),
                    p("total", Count),
                    opt("handle", Handle),
                    opt("friendly-name", Name),
                    opt("groups", Text),
                ],
            )
            .cite("D §7.6, Y cmd/lst"),
            server(
                d(8, 9),
                NS,
                false,
                &[p("handle", Handle), p("friendly-name", Name), p("lists", Number), opt("groups", Text)],
            )
            .in_batch()
            .cite("Y ver/msnp8"),
            server(
                d(10, 11),
                NS,
                false,
                &[
                    p("handle", Prefixed("N=")),
                    p("friendly-name", Prefixed("F=")),
                    p("contact-id", Prefixed("C=")),
                    p("lists", Number),
                    opt("groups", Text),
                ],
            )
            .in_batch()
            .cite("Y cmd/lst"),
            server(
                d(10, 11),
                NS,
                false,
                &[
                    p("handle", Prefixed("N=")),
                    p("friendly-name", Prefixed("F=")),
                    p("lists", Number),
                    opt("groups", Text),
                ],
            )
            .in_batch()
            .cite("Y cmd/lst"),
            server(
                d(12, 12),
                NS,
                false,
                &[
                    p("handle", Prefixed("N=")),
                    p("friendly-name", Prefixed("F=")),
                    p("contact-id", Prefixed("C=")),
                    p("lists", Number),
                    p("network", Number),
                    opt("groups", Text),
                ],
            )
            .in_batch()
            .cite("Y cmd/lst"),
            server(d(10, 12), NS, false, &[p("handle", Prefixed("N=")), p("lists", Number), opt("network", Number)])
                .in_batch()
                .cite("Y cmd/lst"),
        ],
    },
    CommandSpec {
        verb: "LSG",
        summary: "group list",
        dialects: d(7, 12),
        in_draft: false,
        cite: "Y cmd/lsg",
        forms: &[
            client(d(7, 9), NS, true, &[]).cite("Y cmd/lsg"),
            server(
                d(7, 9),
                NS,
                true,
                &[
                    p("serial", Serial),
                    p("item", Count),
                    p("total", Count),
                    p("group-id", Text),
                    p("name", Name),
                    opt("unused", Text),
                ],
            )
            .cite("Y cmd/lsg"),
            server(d(8, 9), NS, false, &[p("group-id", Number), p("name", Name), p("unused", Text)])
                .in_batch()
                .cite("Y cmd/lsg"),
            server(d(10, 12), NS, false, &[p("name", Name), p("group-id", Text)]).in_batch().cite("Y cmd/lsg"),
        ],
    },
    CommandSpec {
        verb: "ADD",
        summary: "add to a list",
        dialects: d(2, 9),
        in_draft: true,
        cite: "D §7.8",
        forms: &[
            client(
                d(2, 9),
                NS,
                true,
                &[p("list", List), p("handle", Handle), p("friendly-name", Name), opt("group-id", Text)],
            )
            .cite("D §7.8, Y cmd/add"),
            server(
                d(2, 9),
                NS,
                true,
                &[
                    p("list", List),
                    p("serial", Serial),
                    p("handle", Handle),
                    p("friendly-name", Name),
                    opt("group-id", Text),
                ],
            )
            .cite("D §7.8, Y cmd/add"),
        ],
    },
    CommandSpec {
        verb: "ADC",
        summary: "add contact",
        dialects: d(10, 12),
        in_draft: false,
        cite: "Y cmd/adc",
        forms: &[
            client(d(10, 12), NS, true, &[p("list", List), p("contact", Rest)]).cite("Y cmd/adc"),
            server(d(10, 12), NS, true, &[p("list", List), p("contact", Rest)]).cite("Y cmd/adc"),
        ],
    },
    CommandSpec {
        verb: "REM",
        summary: "remove from a list",
        dialects: d(2, 12),
        in_draft: true,
        cite: "D §7.8",
        forms: &[
            client(d(2, 9), NS, true, &[p("list", List), p("handle", Handle), opt("group-id", Text)]).cite("D §7.8"),
            client(d(10, 12), NS, true, &[p("list", List), p("contact", Text), opt("group-id", Text)])
                .cite("Y cmd/rem"),
            server(
                d(2, 9),
                NS,
                true,
                &[p("list", List), p("serial", Serial), p("handle", Handle), opt("group-id", Text)],
            )
            .cite("D §7.8"),
            server(d(10, 12), NS, true, &[p("list", List), p("contact", Text), opt("group-id", Text)])
                .cite("Y cmd/rem"),
        ],
    },
    CommandSpec {
        verb: "REA",
        summary: "rename",
        dialects: d(2, 9),
        in_draft: false,
        cite: "Y cmd/rea",
        forms: &[
            client(d(2, 9), NS, true, &[p("handle", Handle), p("friendly-name", Name)]).cite("F2"),
            server(d(2, 9), NS, true, &[p("serial", Serial), p("handle", Handle), p("friendly-name", Name)]).cite("F2"),
        ],
    },
    CommandSpec {
        verb: "ADG",
        summary: "add group",
        dialects: d(7, 12),
        in_draft: false,
        cite: "Y cmd/adg",
        forms: &[
            client(d(7, 9), NS, true, &[p("name", Name), opt("unused", Text)]).cite("Y cmd/adg"),
            client(d(10, 12), NS, true, &[p("name", Name)]).cite("Y cmd/adg"),
            server(
                d(7, 9),
                NS,
                true,
                &[p("serial", Serial), p("name", Name), p("group-id", Text), opt("unused", Text)],
            )
            .cite("Y cmd/adg"),
            server(d(10, 12), NS, true, &[p("name", Name), p("group-id", Text)]).cite("Y cmd/adg"),
        ],
    },
    CommandSpec {
        verb: "REG",
        summary: "rename group",
        dialects: d(7, 12),
        in_draft: false,
        cite: "Y cmd/reg",
        forms: &[
            client(d(7, 12), NS, true, &[p("group-id", Text), p("name", Name), opt("unused", Text)]).cite("Y cmd/reg"),
            server(
                d(7, 9),
                NS,
                true,
                &[p("serial", Serial), p("group-id", Text), p("name", Name), opt("unused", Text)],
            )
            .cite("Y cmd/reg"),
            server(d(10, 12), NS, true, &[p("fields", Rest)]).cite("Y cmd/reg"),
        ],
    },
    CommandSpec {
        verb: "RMG",
        summary: "remove group",
        dialects: d(7, 12),
        in_draft: false,
        cite: "Y cmd/rmg",
        forms: &[
            client(d(7, 12), NS, true, &[p("group-id", Text)]).cite("Y cmd/rmg"),
            server(d(7, 9), NS, true, &[p("serial", Serial), p("group-id", Text)]).cite("Y cmd/rmg"),
            server(d(10, 12), NS, true, &[p("group-id", Text)]).cite("Y cmd/rmg"),
        ],
    },
    CommandSpec {
        verb: "PRP",
        summary: "own phone numbers and name",
        dialects: up(5),
        in_draft: false,
        cite: "Y cmd/prp",
        forms: &[
            client(up(5), NS, true, &[p("property", Text), opt("value", Name)]).cite("Y cmd/prp"),
            server(d(5, 9), NS, true, &[p("serial", Serial), p("property", Text), opt("value", Name)])
                .cite("Y cmd/prp"),
            server(up(10), NS, true, &[p("property", Text), opt("value", Name)]).cite("Y cmd/prp"),
            server(d(8, 12), NS, false, &[p("property", Text), opt("value", Name)]).in_batch().cite("Y ver/msnp8"),
        ],
    },
    CommandSpec {
        verb: "BPR",
        summary: "a contact's phone numbers",
        dialects: d(5, 12),
        in_draft: false,
        cite: "Y cmd/bpr",
        forms: &[
            server(
                d(5, 9),
                NS,
                false,
                &[p("serial", Serial), p("handle", Handle), p("property", Text), opt("value", Name)],
            )
            .cite("Y cmd/bpr"),
            server(d(10, 12), NS, false, &[p("handle", Handle), p("property", Text), opt("value", Name)])
                .cite("Y cmd/bpr"),
            server(d(8, 12), NS, false, &[p("property", Text), opt("value", Name)]).in_batch().cite("Y ver/msnp8"),
        ],
    },
    CommandSpec {
        verb: "SBP",
        summary: "set contact property",
        dialects: d(10, 12),
        in_draft: false,
        cite: "Y cmd/sbp",
        forms: &[
            client(
                d(10, 12),
                NS,
                true,
                &[p("contact-id", Text), p("property", Text), p("value", Name), opt("flag", Text)],
            )
            .cite("Y cmd/sbp"),
            server(
                d(10, 12),
                NS,
                true,
                &[p("contact-id", Text), p("property", Text), p("value", Name), opt("flag", Text)],
            )
            .cite("Y cmd/sbp"),
        ],
    },
    CommandSpec {
        verb: "SBS",
        summary: "unknown (sent after login)",
        dialects: up(11),
        in_draft: false,
        cite: "Y ver/msnp11",
        forms: &[server(up(11), NS, true, &[opt("value", Text)]).cite("Y ver/msnp11")],
    },
    CommandSpec {
        verb: "ADL",
        summary: "add to list (XML)",
        dialects: up(13),
        in_draft: false,
        cite: "Y cmd/adl",
        forms: &[
            client(up(13), NS, true, &[p("length", Length)]).payload().cite("Y cmd/adl"),
            server(up(13), NS, true, &[p("status", Lit("OK"))]).cite("Y cmd/adl"),
            server(up(13), NS, true, &[p("length", Length)]).payload().cite("Y cmd/adl"),
        ],
    },
    CommandSpec {
        verb: "RML",
        summary: "remove from list (XML)",
        dialects: up(13),
        in_draft: false,
        cite: "Y cmd/rml",
        forms: &[
            client(up(13), NS, true, &[p("length", Length)]).payload().cite("Y cmd/rml"),
            server(up(13), NS, true, &[p("status", Lit("OK"))]).cite("Y cmd/rml"),
            server(up(13), NS, true, &[p("length", Length)]).payload().cite("Y cmd/rml"),
        ],
    },
    CommandSpec {
        verb: "FQY",
        summary: "federated query",
        dialects: up(14),
        in_draft: false,
        cite: "Y cmd/fqy",
        forms: &[
            client(up(14), NS, true, &[p("length", Length)]).payload().cite("Y cmd/fqy"),
            server(up(14), NS, true, &[p("length", Length)]).payload().cite("Y cmd/fqy"),
        ],
    },
    CommandSpec {
        verb: "GSB",
        summary: "unknown",
        dialects: d(11, 11),
        in_draft: false,
        cite: "Y ver/msnp11",
        forms: &[
            client(d(11, 11), NS, true, &[p("fields", Rest)]).cite("Y ver/msnp11"),
            server(d(11, 11), NS, true, &[p("fields", Rest)]).cite("Y ver/msnp11"),
        ],
    },
    CommandSpec {
        verb: "LKP",
        summary: "lookup",
        dialects: d(12, 12),
        in_draft: false,
        cite: "Y ver/msnp12",
        forms: &[
            client(d(12, 12), NS, true, &[p("fields", Rest)]).cite("Y ver/msnp12"),
            server(d(12, 12), NS, true, &[p("fields", Rest)]).cite("Y ver/msnp12"),
        ],
    },
    CommandSpec {
        verb: "RFS",
        summary: "refresh",
        dialects: up(13),
        in_draft: false,
        cite: "Y ver/msnp13",
        forms: &[
            client(up(13), NS, true, &[p("fields", Rest)]).cite("Y ver/msnp13"),
            server(up(13), NS, true, &[p("fields", Rest)]).cite("Y ver/msnp13"),
        ],
    },
];
