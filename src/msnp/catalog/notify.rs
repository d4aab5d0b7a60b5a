//! Messages, notifications and services on the notification server: MSG (and its switchboard
//! forms), NOT, PAG, PGD, IPG, SDC, SND, FND, URL, IMS, GCF, the challenge (CHL, QRY), the
//! keep-alive (PNG, QNG) and the Yahoo! interop messages (UUM, UBM). Sources: [D §7.6, §8.7],
//! \[Y cmd/msg, not, pag, pgd, ipg, sdc, gcf, chl, qry, qng], \[F2\], \[P ns\].

use super::Kind::*;
use super::{client, d, opt, p, server, up, CommandSpec, NS, NS_SB, SB};

pub(super) static SPECS: &[CommandSpec] = &[
    CommandSpec {
        verb: "MSG",
        summary: "message with payload",
        dialects: d(2, 21),
        in_draft: true,
        cite: "D §8.7",
        forms: &[
            client(d(2, 21), SB, true, &[p("ack-mode", Word(&["U", "N", "A"])), p("length", Length)])
                .payload()
                .cite("D §8.7"),
            client(up(9), SB, true, &[p("ack-mode", Lit("D")), p("length", Length)]).payload().cite("N p9"),
            server(
                d(2, 21),
                NS,
                false,
                &[p("sender", Lit("Hotmail")), p("sender-name", Lit("Hotmail")), p("length", Length)],
            )
            .payload()
            .cite("D §7.6"),
            server(d(2, 21), NS_SB, false, &[p("sender", Sender), p("sender-name", Name), p("length", Length)])
                .payload()
                .cite("D §8.7"),
        ],
    },
    CommandSpec {
        verb: "NOT",
        summary: "notification (XML)",
        dialects: up(5),
        in_draft: false,
        cite: "Y cmd/not",
        forms: &[server(up(5), NS, false, &[p("length", Length)]).payload().cite("Y cmd/not")],
    },
    CommandSpec {
        verb: "PAG",
        summary: "page a mobile device",
        dialects: d(5, 8),
        in_draft: false,
        cite: "Y cmd/pag",
        forms: &[client(d(5, 8), NS, true, &[p("handle", Handle), p("length", Length)]).payload().cite("Y cmd/pag")],
    },
    CommandSpec {
        verb: "PGD",
        summary: "page a device",
        dialects: up(9),
        in_draft: false,
        cite: "Y cmd/pgd",
        forms: &[client(up(9), NS, true, &[p("handle", Handle), p("device", Number), p("length", Length)])
            .payload()
            .cite("Y cmd/pgd")],
    },
    CommandSpec {
        verb: "IPG",
        summary: "incoming page",
        dialects: up(6),
        in_draft: false,
        cite: "Y cmd/ipg",
        forms: &[server(up(6), NS, false, &[p("length", Length)]).payload().cite("Y cmd/ipg")],
    },
    CommandSpec {
        verb: "SDC",
        summary: "send e-mail invitation",
        dialects: up(5),
        in_draft: false,
        cite: "Y cmd/sdc",
        forms: &[
            client(
                up(5),
                NS,
                true,
                &[
                    p("target", Text),
                    p("lcid", Text),
                    p("library", Text),
                    p("codebase", Text),
                    p("x1", Text),
                    p("x2", Text),
                    p("friendly-name", Name),
                    p("length", Length),
                ],
            )
            .payload()
            .cite("Y cmd/sdc"),
            server(up(5), NS, true, &[p("status", Text)]).cite("Y cmd/sdc"),
        ],
    },
    CommandSpec {
        verb: "SND",
        summary: "e-mail invitation",
        dialects: d(2, 4),
        in_draft: false,
        cite: "Y cmd/snd",
        forms: &[
            client(
                d(2, 4),
                NS,
                true,
                &[p("email", Text), opt("lcid", Text), opt("library", Text), opt("codebase", Text)],
            )
            .cite("F2, Y ver/msnp3"),
            server(d(2, 4), NS, true, &[p("status", Text)]).cite("F2"),
        ],
    },
    CommandSpec {
        verb: "FND",
        summary: "member directory search",
        dialects: d(2, 7),
        in_draft: false,
        cite: "Y cmd/fnd",
        forms: &[
            client(
                d(2, 7),
                NS,
                true,
                &[p("fname", Text), p("lname", Text), p("city", Text), p("state", Text), p("country", Text)],
            )
            .cite("F2"),
            server(
                d(2, 7),
                NS,
                true,
                &[
                    p("item", Count),
                    p("total", Count),
                    opt("fname", Text),
                    opt("lname", Text),
                    opt("city", Text),
                    opt("state", Text),
                    opt("country", Text),
                ],
            )
            .cite("F2"),
        ],
    },
    CommandSpec {
        verb: "URL",
        summary: "service URL",
        dialects: d(2, 21),
        in_draft: false,
        cite: "Y cmd/url",
        forms: &[
            client(d(2, 21), NS, true, &[p("service", Text), opt("params", Rest)]).cite("F2"),
            server(d(2, 21), NS, true, &[p("redirect-url", Text), p("login-url", Text), opt("site-id", Text)])
                .cite("F2, P ns"),
        ],
    },
    CommandSpec {
        verb: "IMS",
        summary: "instant-message setting",
        dialects: up(3),
        in_draft: false,
        cite: "Y cmd/ims",
        forms: &[
            client(up(3), NS, true, &[p("setting", Text)]).cite("Y cmd/ims"),
            server(up(3), NS, true, &[p("unknown", Text), p("setting", Text)]).cite("Y cmd/ims"),
        ],
    },
    CommandSpec {
        verb: "GCF",
        summary: "configuration (XML)",
        dialects: up(11),
        in_draft: false,
        cite: "Y cmd/gcf",
        forms: &[
            client(d(11, 12), NS, true, &[p("file", Text)]).cite("Y cmd/gcf"),
            server(d(11, 12), NS, true, &[p("file", Text), p("length", Length)]).payload().cite("Y cmd/gcf"),
            server(up(13), NS, true, &[p("length", Length)]).payload().cite("Y cmd/gcf"),
        ],
    },
    CommandSpec {
        verb: "CHL",
        summary: "challenge",
        dialects: up(6),
        in_draft: false,
        cite: "Y cmd/chl",
        forms: &[
            client(up(6), NS, true, &[]).cite("Y cmd/chl"),
            server(up(6), NS, true, &[p("challenge", Text)]).cite("Y cmd/chl"),
        ],
    },
    CommandSpec {
        verb: "QRY",
        summary: "challenge response",
        dialects: up(6),
        in_draft: false,
        cite: "Y cmd/qry",
        forms: &[
            client(up(6), NS, true, &[p("product-id", Text), p("length", Length)]).payload().cite("Y cmd/qry"),
            server(up(6), NS, true, &[]).cite("Y cmd/qry"),
        ],
    },
    CommandSpec {
        verb: "PNG",
        summary: "keep-alive ping",
        dialects: d(2, 21),
        in_draft: false,
        cite: "Y cmd/png",
        forms: &[client(d(2, 21), NS, false, &[]).cite("Y cmd/png")],
    },
    CommandSpec {
        verb: "QNG",
        summary: "keep-alive reply",
        dialects: d(2, 21),
        in_draft: false,
        cite: "Y cmd/qng",
        forms: &[
            server(d(2, 8), NS, false, &[]).cite("Y cmd/qng"),
            server(up(9), NS, false, &[opt("seconds", Number)]).cite("Y cmd/qng"),
        ],
    },
    CommandSpec {
        verb: "UUM",
        summary: "message to a federated user",
        dialects: up(14),
        in_draft: false,
        cite: "P ns",
        forms: &[client(
            up(14),
            NS,
            true,
            &[p("handle", Handle), p("network", Number), p("type", Number), p("length", Length)],
        )
        .payload()
        .cite("P ns")],
    },
    CommandSpec {
        verb: "UBM",
        summary: "message from a federated user",
        dialects: up(14),
        in_draft: false,
        cite: "P ns",
        forms: &[server(up(14), NS_SB, false, &[p("fields", Rest)]).payload().cite("P ns, P sb")],
    },
];
