//! The testkit's dialects: the sample capture of each is what the synthesiser writes and reads
//! clean, with every TrID slot, pairing and secret as the dialect has it; the live server and
//! clients run the two-user journey in each through the proxy.

use super::common::*;
use msntap::session::Options;
use msntap::testkit::flavor::Flavor;
use msntap::testkit::sample;
use serde_json::Value;

fn capture_name(f: Flavor) -> String {
    format!("captures/msnp{}-two-users.pcap", f.number())
}

#[test]
fn every_dialects_sample_is_what_the_synthesiser_writes() {
    for f in Flavor::all() {
        let committed = std::fs::read(root().join(capture_name(f))).expect("committed sample");
        assert!(
            sample::pcap_in(f) == committed,
            "{} differs; regenerate with: msntap sample {} --dialect {}",
            capture_name(f),
            capture_name(f),
            f.number()
        );
    }
}

/// The events of a connection that are commands, with their TrID and transaction.
fn lines(c: &Value) -> Vec<(String, Option<u64>, Option<u64>)> {
    commands(c)
        .iter()
        .map(|e| (e["command"].as_str().unwrap_or("").to_string(), e["trid"].as_u64(), e["transaction"].as_u64()))
        .collect()
}

#[test]
fn every_dialects_sample_reads_clean_with_its_trid_slots_and_pairs() {
    for f in Flavor::all() {
        let name = f.name();
        let doc = analyze(&sample::pcap_in(f), Options::default());
        assert_eq!(rule_ids(&doc), Vec::<String>::new(), "{name}");
        let conns = doc["connections"].as_array().unwrap();
        let roles: Vec<&str> = conns.iter().map(|c| c["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["DS", "NS", "DS", "NS", "SB", "SB"], "{name}");
        for c in conns {
            assert_eq!(c["dialect"], name.as_str(), "{name}: {}", c["id"]);
            // DS and NS negotiate; the switchboards inherit over the referral.
            let source = c["dialect_source"].as_str().unwrap();
            assert!(source == "negotiated" || source == "inherited", "{name}: {source}");
            // Every request answered (no unanswered or mismatched transaction).
            for t in c["transactions"].as_array().unwrap() {
                let outcome = t["outcome"].as_str().unwrap();
                assert!(["ok", "error", "no-reply-expected"].contains(&outcome), "{name}: {t}");
            }
        }
        // The SYN batch: with TrIDs up to MSNP7, without from MSNP8, answering the SYN either
        // way; MSNP13 has none.
        let ns = lines(&conns[1]);
        let syn = ns.iter().find(|(v, _, _)| v == "SYN").and_then(|l| l.2);
        let batch: Vec<_> = ns.iter().filter(|(v, _, _)| matches!(v.as_str(), "GTC" | "BLP" | "LST" | "LSG")).collect();
        if f.number() >= 13 {
            assert!(syn.is_none() && batch.iter().all(|l| l.0 == "BLP"), "{name}: {batch:?}");
            continue;
        }
        assert!(!batch.is_empty(), "{name}");
        for (verb, trid, txn) in batch {
            assert_eq!(*txn, syn, "{name}: {verb} answers the SYN");
            assert_eq!(trid.is_some(), f.number() < 8, "{name}: {verb}'s TrID slot");
        }
    }
}

/// What each dialect's sample would leak: passwords' MD5 responses, Passport tickets, the
/// profile's Passport cookies, QRY answers and switchboard cookies.
fn secrets(f: Flavor) -> Vec<String> {
    let mut out = vec!["17262740.1050826919.32308".to_string(), "849102291.520491113".to_string()];
    let users = [
        ("alice@hotmail.com", sample::ALICE_PASSWORD, "1234567890.123456789", 1),
        ("bob@hotmail.com", sample::BOB_PASSWORD, "9876543210.987654321", 2),
    ];
    for (handle, pw, md5_challenge, n) in users {
        let challenge = if f.passport() { f.challenge("6", n).1 } else { md5_challenge.to_string() };
        let answer = f.answer(&challenge, pw);
        // A ticket's two halves, each on its own.
        out.extend(answer.split('&').map(|p| p.trim_start_matches("t=").trim_start_matches("p=").to_string()));
        for (k, v) in f.profile("941825442", handle, pw) {
            if k.starts_with("MSP") {
                out.push(v.trim_end_matches('$').to_string());
            }
        }
        if let Some(chl) = f.chl(n) {
            let (_, body) = f.qry(1, &chl).expect("an answer");
            out.push(String::from_utf8(body).unwrap());
        }
    }
    out
}

#[test]
fn no_secret_of_any_dialect_reaches_an_output_unless_revealed() {
    for f in Flavor::all() {
        let cap = root().join(capture_name(f));
        let (json, ndjson) =
            (tmp(&format!("secrets-{}.json", f.number())), tmp(&format!("secrets-{}.ndjson", f.number())));
        let run = |reveal: bool| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"));
            cmd.arg("read").arg(&cap).args(["--color", "never", "--json"]).arg(&json).arg("--ndjson").arg(&ndjson);
            if reveal {
                cmd.arg("--reveal-secrets");
            }
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let mut all = String::from_utf8(out.stdout).unwrap();
            all.push_str(&std::fs::read_to_string(&json).unwrap());
            all.push_str(&std::fs::read_to_string(&ndjson).unwrap());
            all
        };
        let (hidden, shown) = (run(false), run(true));
        let secrets = secrets(f);
        assert!(secrets.len() >= 4, "{}", f.name());
        for s in &secrets {
            assert!(shown.contains(s.as_str()), "{}: {s} is in the capture", f.name());
            assert!(!hidden.contains(s.as_str()), "{}: {s} leaked", f.name());
        }
        // The words around them stay.
        assert!(hidden.contains(&format!("USR 7 {} S <redacted>", f.scheme())), "{}", f.name());
    }
}

#[test]
fn the_live_testkit_runs_the_journey_in_every_dialect() {
    for f in Flavor::all() {
        let json = tmp(&format!("demo-{}.json", f.number()));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"))
            .args(["demo", "--rounds", "2", "--color", "never", "--dialect", &f.number().to_string(), "--json"])
            .arg(&json)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", f.name(), String::from_utf8_lossy(&out.stderr));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(rule_ids(&doc), Vec::<String>::new(), "{}", f.name());
        let conns = doc["connections"].as_array().unwrap();
        assert_eq!(conns.len(), 6, "{}", f.name());
        assert!(conns.iter().all(|c| c["dialect"] == f.name().as_str()), "{}", f.name());
        let mut roles: Vec<&str> = conns.iter().map(|c| c["role"].as_str().unwrap()).collect();
        roles.sort_unstable();
        assert_eq!(roles, ["DS", "DS", "NS", "NS", "SB", "SB"], "{}", f.name());
    }
}

#[test]
fn the_server_answers_the_newest_dialect_offered_and_refuses_others() {
    let lines = |offer: &str| -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let a = msntap::testkit::server::start(any, any, any, Vec::new(), None).await.unwrap();
            let mut c = msntap::testkit::conn::LineConn::connect(&a.ds.to_string(), None).await.unwrap();
            c.send(&format!("VER 1 {offer}")).await.unwrap();
            let m = c.recv().await.unwrap().unwrap();
            m.tokens
        })
    };
    assert_eq!(lines("MSNP9 MSNP8 CVR0"), ["VER", "1", "MSNP8"]);
    assert_eq!(lines("MSNP18 MSNP13 MSNP11 CVR0"), ["VER", "1", "MSNP13"]);
    assert_eq!(lines("MSNP4 MSNP3 CVR0"), ["VER", "1", "0"]);
}

/// Runs `msntap read` on `capture` (transcript, JSON and NDJSON), returning all three.
fn every_output(capture: &[u8], name: &str, reveal: bool) -> String {
    let (cap, json, ndjson) =
        (tmp(&format!("{name}.pcap")), tmp(&format!("{name}.json")), tmp(&format!("{name}.ndjson")));
    std::fs::write(&cap, capture).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"));
    cmd.arg("read").arg(&cap).args(["--color", "never", "--json"]).arg(&json).arg("--ndjson").arg(&ndjson);
    if reveal {
        cmd.arg("--reveal-secrets");
    }
    let out = cmd.output().unwrap();
    let mut all = String::from_utf8(out.stdout).unwrap();
    all.push_str(&std::fs::read_to_string(&json).unwrap());
    all.push_str(&std::fs::read_to_string(&ndjson).unwrap());
    all
}

#[test]
fn secrets_of_the_other_schemes_are_redacted_in_every_output() {
    // (scheme, session, the secrets in it, the words around them that stay)
    let nonce = "Hk4yf3jbLswUm+g1ZrJtNtrxE5NtNw5sv2fMNiBgRxUMlUB5hhOw4UaR4LqeXvaW";
    let response = "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAAAAAAAAAAAA";
    let cases: Vec<(&str, Vec<String>, Vec<&str>, &str)> = vec![
        (
            "CTP",
            vec![
                "> VER 1 MSNP2 CVR0".into(),
                "< VER 1 MSNP2".into(),
                "> INF 2".into(),
                "< INF 2 CTP".into(),
                "> USR 3 CTP I alice@hotmail.com".into(),
                "< USR 3 CTP S".into(),
                "> USR 4 CTP S hunter2secret".into(),
                "< USR 4 OK alice@hotmail.com Alice".into(),
            ],
            vec!["hunter2secret"],
            "USR 4 CTP S <redacted>",
        ),
        (
            "SSO",
            vec![
                "> VER 1 MSNP15 CVR0".into(),
                "< VER 1 MSNP15".into(),
                "> CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.1.0178 msmsgs alice@hotmail.com".into(),
                "< CVR 2 8.1.0178 8.1.0178 8.1.0178 http://x.test/s http://x.test/i".into(),
                "> USR 3 SSO I alice@hotmail.com".into(),
                format!("< USR 3 SSO S MBI_KEY_OLD {nonce}"),
                format!("> USR 4 SSO S t=EwCoARAnAAAUssoticket1234&p= {response}"),
                "< USR 4 OK alice@hotmail.com 1 0".into(),
            ],
            vec!["EwCoARAnAAAUssoticket1234", response],
            "USR 4 SSO S <redacted> <redacted>",
        ),
        (
            "SHA",
            vec![
                "> VER 1 MSNP18 CVR0".into(),
                "< VER 1 MSNP18".into(),
                "> CVR 2 0x0409 winnt 6.1 i386 MSNMSGR 14.0.8089 msmsgs alice@hotmail.com".into(),
                "< CVR 2 14.0.8089 14.0.8089 14.0.8089 http://x.test/s http://x.test/i".into(),
                "> USR 3 SSO I alice@hotmail.com".into(),
                format!("< USR 3 SSO S MBI_KEY_OLD {nonce}"),
                format!(
                    "> USR 4 SSO S t=EwCoARAnAAAUssoticket1234&p= {response} {{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}}"
                ),
                "< USR 4 OK alice@hotmail.com 1 0".into(),
                "> USR 5 SHA A PFRpY2tldCB4bWxucz0iaHR0cDovL3NjaGVtYXMuY2lyY2xldGlja2V0".into(),
                "< USR 5 OK alice@hotmail.com 1 0".into(),
            ],
            vec!["EwCoARAnAAAUssoticket1234", response, "PFRpY2tldCB4bWxucz0iaHR0cDovL3NjaGVtYXMuY2lyY2xldGlja2V0"],
            "USR 5 SHA A <redacted>",
        ),
    ];
    for (scheme, session, secrets, kept) in cases {
        let lines: Vec<&str> = session.iter().map(String::as_str).collect();
        let capture = one_connection(&lines);
        let hidden = every_output(&capture, &format!("scheme-{scheme}"), false);
        let shown = every_output(&capture, &format!("scheme-{scheme}-shown"), true);
        for s in secrets {
            assert!(shown.contains(s), "{scheme}: {s} is in the capture");
            assert!(!hidden.contains(s), "{scheme}: {s} leaked");
        }
        assert!(hidden.contains(kept), "{scheme}: {kept} missing");
    }
}

#[test]
fn a_dialect_msntap_does_not_know_is_named_and_said_so() {
    let evidence = |offer: &str, chosen: &str| {
        let lines = [format!("> VER 1 {offer}"), format!("< VER 1 {chosen}"), "> INF 2".into(), "< INF 2 MD5".into()];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let doc = analyze(&one_connection(&lines), Options::default());
        let c = &doc["connections"][0];
        (c["dialect"].as_str().unwrap_or("").to_string(), c["dialect_evidence"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(
        evidence("MSNP24 MSNP2 CVR0", "MSNP24"),
        ("MSNP24".into(), "named by VER, a dialect msntap does not know".into())
    );
    assert_eq!(evidence("MSNP2 CVR0", "MSNP5"), ("MSNP5".into(), "named by VER but not offered".into()));
}
