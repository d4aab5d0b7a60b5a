//! check-server: the clean testkit server passes every case; each of its faults is caught by
//! the case meant for it; hostile servers fail cases without hanging the run; known failures,
//! JUnit, JSON, exit statuses, redaction, and the generated case document.

use super::common::*;
use msntap::testkit::server::{self, Fault, FAULTS};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;

const ANY: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Three accounts, each in the others' lists.
fn accounts() -> Vec<server::Account> {
    let mut accounts: Vec<server::Account> =
        ["alice@hotmail.com:wonderland:Alice", "bob@hotmail.com:builder:Bob", "carol@hotmail.com:lighthouse:Carol"]
            .iter()
            .filter_map(|s| server::Account::parse(s))
            .collect();
    server::befriend(&mut accounts);
    accounts
}

/// A testkit server with `fault` (and the three accounts); its dispatch address.
fn server_with(rt: &tokio::runtime::Runtime, fault: Option<Fault>) -> SocketAddr {
    let accounts = accounts();
    rt.block_on(server::start_with(ANY.into(), ANY.into(), ANY.into(), accounts, None, fault)).unwrap().ds
}

/// `msntap check-server TARGET` with the default accounts and `extra`; (status, JSON results).
fn check(target: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_msntap"))
        .args(["check-server", target, "--user", "alice@hotmail.com:wonderland", "--user", "bob@hotmail.com:builder"])
        .args(["--user", "carol@hotmail.com:lighthouse"])
        .args(["--json", "-"])
        .args(if extra.contains(&"--timeout") { &[][..] } else { &["--timeout", "2"][..] })
        .args(extra)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), v)
}

fn verdicts(run: &Value) -> Vec<(String, String)> {
    run["cases"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| (c["id"].as_str().unwrap().to_string(), c["verdict"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_clean_testkit_server_passes_every_case_with_no_violation() {
    let rt = rt();
    let ds = server_with(&rt, None).to_string();
    let (code, run) = check(&ds, &["--strict"]);
    let v = verdicts(&run);
    assert!(v.len() >= 30, "{run}");
    assert!(v.iter().all(|(_, verdict)| verdict == "pass"), "{v:?}");
    assert_eq!(code, Some(0));
    for c in run["cases"].as_array().unwrap() {
        assert_eq!(c["violations"].as_array().unwrap().len(), 0, "{}", c["id"]);
        for l in c["transcript"].as_array().unwrap() {
            let l = l.as_str().unwrap();
            // Cookies and MD5 responses are redacted, as in every other output.
            if let Some(after) = l.split(" CKI ").nth(1) {
                assert!(after.starts_with("<redacted>"), "{l}");
            }
            assert!(!(l.contains(" MD5 S ") && l.contains(">>") && !l.contains("<redacted>")), "{l}");
        }
    }
}

#[test]
fn a_notification_server_without_dispatch_is_checked_too() {
    let rt = rt();
    let ns = rt.block_on(server::start(ANY.into(), ANY.into(), ANY.into(), accounts(), None)).unwrap().ns.to_string();
    let (code, run) = check(&ns, &[]);
    let v = verdicts(&run);
    assert_eq!(code, Some(0), "{v:?}");
    // The referral case cannot run there and says why; everything else passes.
    assert!(v.contains(&("msnp2/7.4/xfr-ns-referral".into(), "skip".into())), "{v:?}");
    assert_eq!(v.iter().filter(|(_, x)| x == "pass").count(), v.len() - 1);
}

#[test]
fn each_fault_is_caught_by_the_case_meant_for_it() {
    let rt = rt();
    for (fault, name, _, case) in FAULTS {
        let ds = server_with(&rt, Some(*fault)).to_string();
        let (code, run) = check(&ds, &["-s", case]);
        assert_eq!(verdicts(&run), vec![(case.to_string(), "fail".to_string())], "fault {name}: {run}");
        assert_eq!(code, Some(1), "fault {name}");
        let c = &run["cases"][0];
        assert!(c["expected"].is_string() && c["actual"].is_string(), "{c}");
    }
    // And a fault fails only where it is meant to: the clean cases around it still pass.
    let ds = server_with(&rt, Some(Fault::MsgEcho)).to_string();
    let (_, run) = check(&ds, &["-s", "msnp2/8.*"]);
    let failed: Vec<String> = verdicts(&run).into_iter().filter(|(_, v)| v == "fail").map(|(id, _)| id).collect();
    assert_eq!(failed, ["msnp2/8.7/msg-not-echoed"]);
}

#[test]
fn known_failures_junit_and_exit_statuses() {
    let rt = rt();
    let ds = server_with(&rt, Some(Fault::WrongMd5Accepted)).to_string();
    let known = tmp("known-failures.txt");
    std::fs::write(&known, "# the server accepts any password for now\nmsnp2/7.3/usr-wrong-*\n").unwrap();
    let junit = tmp("check.xml");
    let (code, run) = check(
        &ds,
        &["-s", "msnp2/7.3/*", "--known-failures", known.to_str().unwrap(), "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{run}");
    assert!(verdicts(&run).contains(&("msnp2/7.3/usr-wrong-password".into(), "known".into())));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("<testsuite ")
            && xml.contains("tests=\"3\" failures=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("name=\"msnp2/7.3/usr-wrong-password\"") && xml.contains("<skipped message=\"known failure"));
    // Nobody listening: a usage-level error, exit 2; an unknown case glob too.
    let refuser = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    refuser.bind(&SocketAddr::from(ANY).into()).unwrap();
    let closed = refuser.local_addr().unwrap().as_socket().unwrap().to_string();
    assert_eq!(check(&closed, &[]).0, Some(2));
    assert_eq!(check(&ds, &["-s", "msnp99/*"]).0, Some(2));
    assert_eq!(check(&ds, &["--dialect", "19"]).0, Some(2));
    assert_eq!(check(&ds, &["--dialect", "2", "-s", "msnp8/*"]).0, Some(2));
}

#[test]
fn each_case_speaks_the_dialect_the_server_picks_or_the_one_named() {
    let rt = rt();
    let ds = server_with(&rt, None).to_string();
    // Offered every dialect it applies to, a case speaks the newest the testkit has.
    let (code, run) = check(&ds, &["-s", "msnp7/*,msnp8/*,msnp10/*,msnp13/*"]);
    assert_eq!(code, Some(0), "{run}");
    let spoken = |run: &Value, id: &str| -> String {
        run["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["dialect"].to_string())
            .unwrap_or_default()
    };
    assert_eq!(spoken(&run, "msnp7/rmg/default-group-230"), "\"MSNP8\"");
    assert_eq!(spoken(&run, "msnp7/adg/add-rename-remove"), "\"MSNP11\"");
    assert_eq!(spoken(&run, "msnp8/syn/totals"), "\"MSNP11\"");
    assert_eq!(spoken(&run, "msnp10/adc/forward-list"), "\"MSNP11\"");
    assert_eq!(spoken(&run, "msnp13/adl/contacts"), "\"MSNP13\"");
    // --dialect N offers MSNP<N> alone and runs only the cases that hold there (MSNP7: the
    // groups with numbers and versions; MSNP13: ADL), each passing with no violation.
    for (d, at_least) in [("7", 6), ("8", 10), ("11", 12), ("13", 9)] {
        let (code, run) = check(&ds, &["--dialect", d, "--strict"]);
        assert_eq!(code, Some(0), "MSNP{d}: {run}");
        let cases = run["cases"].as_array().unwrap();
        assert!(cases.len() >= at_least, "MSNP{d}: {run}");
        let name = format!("MSNP{d}");
        assert!(cases.iter().all(|c| c["dialect"] == name.as_str() && c["verdict"] == "pass"), "{run}");
        assert!(cases.iter().all(|c| !c["id"].as_str().unwrap().starts_with("msnp2/")));
    }
    // A dialect the server does not speak skips the case, saying so.
    let (code, run) = check(&ds, &["--dialect", "9", "-s", "msnp8/cvr/*"]);
    assert_eq!(code, Some(0), "{run}");
    assert_eq!(run["cases"][0]["verdict"], "skip");
    assert!(run["cases"][0]["actual"].as_str().unwrap().contains("MSNP9"), "{run}");
}

/// A server that answers every connection with `reply` (and then holds it open).
fn hostile(rt: &tokio::runtime::Runtime, reply: Vec<u8>) -> String {
    use tokio::io::AsyncWriteExt;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(SocketAddr::from(ANY)).await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let reply = reply.clone();
                tokio::spawn(async move {
                    let _ = s.write_all(&reply).await;
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                });
            }
        });
        addr
    })
}

#[test]
fn hostile_servers_fail_cases_and_never_hang_the_run() {
    let rt = rt();
    let started = std::time::Instant::now();
    let silent = hostile(&rt, Vec::new());
    let mut huge = vec![b'A'; 2 << 20];
    huge.extend_from_slice(b"\r\n");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    // A server that never stops sending lines that answer nothing: each wait still ends at
    // its own deadline.
    let flood = rt.block_on(async {
        use tokio::io::AsyncWriteExt;
        let l = tokio::net::TcpListener::bind(SocketAddr::from(ANY)).await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move { while s.write_all(b"NLN NLN x@hotmail.com X\r\n").await.is_ok() {} });
            }
        });
        addr
    });
    let (code, run) = check(&flood, &["-s", "msnp2/7.2/inf-md5", "--timeout", "1"]);
    assert_eq!(code, Some(1));
    let actual = run["cases"][0]["actual"].as_str().unwrap_or("");
    assert!(actual.contains("waiting for the reply to TrID 1"), "{actual}");
    // The three run at once: each waits out its timeouts.
    let runs: Vec<_> = [(silent, "silent"), (hostile(&rt, huge), "megabyte line"), (hostile(&rt, garbage), "garbage")]
        .into_iter()
        .map(|(target, what)| {
            std::thread::spawn(move || (check(&target, &["-s", "msnp2/7.1/*", "--timeout", "1"]), what))
        })
        .collect();
    for r in runs {
        let ((code, run), what) = r.join().unwrap();
        assert_eq!(code, Some(1), "{what}: {run}");
        for c in run["cases"].as_array().unwrap() {
            assert_eq!(c["verdict"], "fail", "{what}");
            let actual = c["actual"].as_str().unwrap();
            assert!(actual.len() < 400 && !actual.contains('\u{1b}'), "{what}: {actual}");
        }
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
}

#[test]
fn the_case_document_is_generated_from_the_catalog() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_msntap")).args(["check-server", "--list", "--markdown"]).output().unwrap();
    let doc = std::fs::read_to_string(root().join("docs/check-server.md")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), doc, "docs/check-server.md is stale: regenerate it");
    // serve lists its faults, name first.
    let out = Command::new(env!("CARGO_BIN_EXE_msntap")).args(["serve", "--list-faults"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), FAULTS.len());
    assert!(FAULTS.len() >= 10 && text.lines().all(|l| FAULTS.iter().any(|f| l.starts_with(f.1))));
}

#[test]
fn a_server_that_refuses_the_local_ticket_skips_the_later_logins() {
    let rt = rt();
    let ds = server_with(&rt, None).to_string();
    // A password the server does not have stands for a ticket it did not issue.
    let out = Command::new(env!("CARGO_BIN_EXE_msntap"))
        .args(["check-server", &ds, "--user", "alice@hotmail.com:not-this", "--user", "bob@hotmail.com:builder"])
        .args(["--dialect", "11", "--timeout", "2", "--json", "-"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = verdicts(&run);
    assert_eq!(out.status.code(), Some(1), "{v:?}");
    let of = |id: &str| v.iter().find(|(i, _)| i == id).map(|(_, x)| x.as_str()).unwrap_or("");
    assert_eq!(of("msnp8/usr/twn-local-ticket"), "fail");
    assert_eq!(of("msnp8/usr/twn-wrong-ticket-911"), "pass");
    assert_eq!(of("msnp8/cvr/reply"), "pass");
    assert_eq!(of("msnp10/adc/forward-list"), "skip");
    let skip = run["cases"].as_array().unwrap().iter().find(|c| c["id"] == "msnp8/syn/totals").unwrap();
    assert!(skip["actual"].as_str().unwrap().contains("locally issued ticket"), "{skip}");
}
