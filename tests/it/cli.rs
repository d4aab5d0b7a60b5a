//! The binary: exit codes, colour, outputs.

use super::common::*;
use std::process::Command;

fn msntap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msntap"));
    c.env_remove("NO_COLOR");
    c
}

#[test]
fn read_prints_a_transcript_and_exits_0() {
    let out = msntap()
        .args(["read", "captures/msnp2-two-users.pcap", "--color", "never"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("── #1 DS 203.0.113.10:40001 → 198.51.100.1:1863 · alice@hotmail.com · MSNP2"));
    assert!(text.contains(
        "── #5 SB 203.0.113.10:40003 → 198.51.100.9:1865 · alice@hotmail.com · MSNP2 (inherited) · from #2 (XFR SB)"
    ));
    assert!(text.contains("friendly-name=\"Carol ☃\""));
    assert!(text.contains("↩ USR 7, 21 ms"));
    assert!(text.contains("6 connections, 2 users, 82 commands, 26 transactions, 0 errors, 0 warnings"));
    assert!(!text.contains('\x1b'), "no colour with --color never");
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    assert!(run_read(&["--color", "always"]).1.contains("\x1b["));
    // auto: stdout is a pipe here, so no colour; NO_COLOR changes nothing for always.
    assert!(!run_read(&[]).1.contains("\x1b["));
    let out = msntap()
        .args(["read", "captures/msnp2-two-users.pcap", "--color", "auto"])
        .env("NO_COLOR", "1")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\x1b["));
}

#[test]
fn json_to_a_file_and_to_stdout() {
    let path = tmp("doc.json");
    let out = msntap()
        .args(["read", "captures/msnp2-two-users.pcap", "--json"])
        .arg(&path)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["format"], "msntap-session");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["connections"].as_array().unwrap().len(), 6);
    let doc2: serde_json::Value =
        serde_json::from_str(&run_read(&["--json", "-"]).1).expect("stdout is only the JSON document");
    assert_eq!(doc2["connections"], doc["connections"]);
}

#[test]
fn usage_errors_exit_2_and_unreadable_input_exits_1() {
    let out = msntap().args(["read"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(run_read(&["--color", "purple"]).0, Some(2));
    let out = msntap().args(["read", "/nonexistent/file.pcap"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.pcap"));
    let out = msntap().args(["read", "Cargo.toml"]).current_dir(root()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"));
}

#[test]
fn truncated_capture_reports_what_came_before_then_the_offset() {
    let full = msntap::testkit::sample::pcap();
    let cut = full.len() - 700;
    let path = tmp("cut.pcap");
    std::fs::write(&path, &full[..cut]).unwrap();
    let out = msntap().args(["read", "--color", "never"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("── #1 DS"), "what came before the cut is reported");
    assert!(text.contains("MSG 3 N 87"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated at offset"), "{err}");
}

#[test]
fn closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = msntap()
        .args(["read", "captures/msnp2-two-users.pcap", "--color", "never"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 10];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.code() == Some(0), "{:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
}

#[test]
fn rules_command_and_docs_agree() {
    let out = msntap().args(["rules", "--markdown"]).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    let doc = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    assert!(doc.contains(&table), "docs/rules.md must contain the output of `msntap rules --markdown`");
    let out = msntap().args(["rules"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for r in msntap::rules::CATALOG {
        assert!(text.contains(r.id));
    }
}

#[test]
fn sample_command_writes_the_committed_capture() {
    let path = tmp("sample.pcap");
    let out = msntap().arg("sample").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(root().join("captures/msnp2-two-users.pcap")).unwrap());
}

#[test]
fn wire_text_cannot_drive_the_terminal() {
    let pcap = one_connection(&["> CHG 1 NLN", "< CHG 1 NLN", "< NLN NLN evil@hotmail.com Evil%1B%5B2J\u{1b}[31m"]);
    let path = tmp("evil.pcap");
    std::fs::write(&path, pcap).unwrap();
    let out = msntap().args(["read", "--color", "never"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.contains("\\x1b[31m"));
    assert!(text.contains("Evil\\x1b[2J"), "decoded names are neutralised too");
}

fn run_read(args: &[&str]) -> (Option<i32>, String) {
    let out =
        msntap().arg("read").arg("captures/msnp2-two-users.pcap").args(args).current_dir(root()).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn ndjson_streams_typed_records() {
    let (code, text) = run_read(&["--ndjson", "-"]);
    assert_eq!(code, Some(0));
    let recs: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    let count = |t: &str| recs.iter().filter(|r| r["type"] == t).count();
    assert_eq!(count("connection"), 6);
    assert_eq!(count("connection-end"), 6);
    assert_eq!(count("transaction"), 26);
    assert_eq!(count("link"), 4);
    assert_eq!(count("summary"), 1);
    assert_eq!(recs.last().unwrap()["type"], "summary");
    // Every event of the JSON document appears, in order, before its connection ends.
    let doc = analyze(&msntap::testkit::sample::pcap(), Default::default());
    let total: usize =
        doc["connections"].as_array().unwrap().iter().map(|c| c["events"].as_array().unwrap().len()).sum();
    assert_eq!(count("event"), total);
    let first_end = recs.iter().position(|r| r["type"] == "connection-end").unwrap();
    let first_event = recs.iter().position(|r| r["type"] == "event").unwrap();
    assert!(first_event < first_end);
    // A connection-end record is the document's connection without its events and
    // transactions: one definition of the fields.
    for c in doc["connections"].as_array().unwrap() {
        let mut head = c.as_object().unwrap().clone();
        head.shift_remove("events");
        head.shift_remove("transactions");
        let end = recs.iter().find(|r| r["type"] == "connection-end" && r["id"] == c["id"]).unwrap();
        let mut end = end.as_object().unwrap().clone();
        end.shift_remove("type");
        assert_eq!(end, head);
        assert_eq!(end.keys().collect::<Vec<_>>(), head.keys().collect::<Vec<_>>());
    }
}

#[test]
fn ndjson_reports_late_violations() {
    let pcap = one_connection(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> SYN 2 0"]);
    let path = tmp("late.pcap");
    std::fs::write(&path, pcap).unwrap();
    let out = msntap().arg("read").arg(&path).args(["--ndjson", "-"]).output().unwrap();
    let recs: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let late: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "violation").collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["rule"], "MSNP-T006");
    assert_eq!(late[0]["event"], 2);
}

#[test]
fn filters_select_connections_and_events() {
    let (_, text) = run_read(&["--color", "never", "--user", "bob@hotmail.com"]);
    let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("──")).collect();
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(heads.iter().all(|h| h.contains("bob@hotmail.com")));
    let (_, text) = run_read(&["--color", "never", "--role", "SB", "--command", "MSG"]);
    let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("──")).collect();
    assert_eq!(heads.len(), 2);
    let events: Vec<&str> = text.lines().filter(|l| l.contains("C→S") || l.contains("S→C")).collect();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|l| l.contains(" MSG ")));
    let (_, text) = run_read(&["--json", "-", "--conn", "2", "--command", "215"]);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["connections"].as_array().unwrap().len(), 1);
    assert_eq!(doc["connections"][0]["events"].as_array().unwrap().len(), 1);
    assert_eq!(doc["summary"]["connections"], 6, "the summary counts everything");
}

#[test]
fn fail_on_gates_on_severity() {
    assert_eq!(run_read(&["--fail-on", "info"]).0, Some(0), "the sample is clean");
    let cap = root().join("../shared/captures/escargot-msnp2-two-users.pcapng");
    let code = |level: &str| {
        msntap().arg("read").arg(&cap).args(["--summary", "--fail-on", level]).output().unwrap().status.code()
    };
    // The server's quirks are warnings (hexadecimal session ids, TrID 0, a body without MIME).
    assert_eq!(code("error"), Some(0));
    assert_eq!(code("warning"), Some(3));
    let (code, text) = (
        msntap()
            .arg("read")
            .arg(&cap)
            .args(["--only-violations", "--min-severity", "warning", "--color", "never"])
            .output()
            .unwrap()
            .status
            .code(),
        String::from_utf8(
            msntap()
                .arg("read")
                .arg(&cap)
                .args(["--only-violations", "--min-severity", "warning", "--color", "never"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap(),
    );
    assert_eq!(code, Some(0), "without --fail-on, violations do not change the exit status");
    let events: Vec<&str> = text.lines().filter(|l| l.contains("C→S") || l.contains("S→C")).collect();
    assert!(
        events
            .iter()
            .all(|l| l.contains("CAL 2 RINGING") || l.contains("RNG") || l.contains("VER 0") || l.contains("MSG 4 N")),
        "{events:?}"
    );
}

#[test]
fn summary_mode_prints_counts_and_percentiles() {
    let (code, text) = run_read(&["--summary", "--color", "never"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("#2 NS 203.0.113.10:40002 → 198.51.100.5:1863 · alice@hotmail.com · MSNP2: 31 commands, 9 transactions (1 error, 8 ok)"));
    assert!(text.contains("transactions by outcome: error 1, no-reply-expected 1, ok 24"));
    assert!(text.contains("response latency: p50 "));
    assert!(text.contains("violations: none"));
    assert!(!text.contains("C→S"));
}

#[test]
fn many_files_in_parallel_print_in_argument_order() {
    let escargot = root().join("../shared/captures/escargot-msnp2-two-users.pcapng");
    let msnms = root().join("../shared/captures/msnms-2005-msnp11-midsession.pcap");
    let run = |jobs: &str| {
        let out = msntap()
            .args(["read", "--summary", "--color", "never", "-j", jobs, "captures/msnp2-two-users.pcap"])
            .arg(&escargot)
            .arg(&msnms)
            .current_dir(root())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, one) = run("1");
    assert_eq!(code, Some(0));
    let (_, three) = run("3");
    assert_eq!(one, three, "the same output whatever the parallelism");
    let at = |name: &str| one.find(&format!("{name}: ")).unwrap_or_else(|| panic!("{name} missing"));
    assert!(at("msnp2-two-users.pcap") < at("escargot-msnp2-two-users.pcapng"));
    assert!(at("escargot-msnp2-two-users.pcapng") < at("msnms-2005-msnp11-midsession.pcap"));
    // A directory expands to its captures; JSON wants one input.
    let out = msntap().args(["read", "--summary", "captures"]).current_dir(root()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("captures/msnp2-two-users.pcap: 173 packets"));
    let out = msntap()
        .args(["read", "--json", "-", "captures/msnp2-two-users.pcap"])
        .arg(&escargot)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("one input at a time"));
}

#[test]
fn ndjson_in_streaming_mode_writes_every_link_once() {
    let (code, text) = run_read(&["--summary", "--ndjson", "-"]);
    assert_eq!(code, Some(0));
    let recs: Vec<serde_json::Value> =
        text.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let links: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "link").collect();
    assert_eq!(links.len(), 4);
    assert!(links.iter().all(|l| l["to"]["connection"].is_u64()));
    assert_eq!(recs.iter().filter(|r| r["type"] == "transaction").count(), 26);
}

/// `msntap read` of the sample in summary mode with `env` set, its stdout a pipe or (through
/// util-linux `script`) a terminal; whether the output is coloured. `CI` is cleared: anstream
/// colours a terminal under CI whatever TERM says.
fn coloured(env: &[(&str, &str)], terminal: bool) -> bool {
    let bin = env!("CARGO_BIN_EXE_msntap");
    let cap = root().join("captures/msnp2-two-users.pcap");
    let mut cmd = if terminal {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &format!("{bin} read {} --summary", cap.display()), "/dev/null"]);
        c
    } else {
        let mut c = std::process::Command::new(bin);
        c.arg("read").arg(&cap).arg("--summary");
        c
    };
    for v in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM", "CI"] {
        cmd.env_remove(v);
    }
    cmd.env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs");
    String::from_utf8_lossy(&out.stdout).contains("\x1b[1m")
}

#[test]
fn colour_follows_no_color_clicolor_clicolor_force_and_term() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: colour on a terminal needs util-linux `script`, not installed");
        return;
    }
    // A terminal is coloured unless NO_COLOR, CLICOLOR=0 or TERM=dumb says otherwise.
    assert!(coloured(&[], true));
    assert!(!coloured(&[("NO_COLOR", "1")], true));
    assert!(!coloured(&[("CLICOLOR", "0")], true));
    assert!(!coloured(&[("TERM", "dumb")], true));
    // A pipe is not, unless CLICOLOR_FORCE asks; NO_COLOR still wins.
    assert!(!coloured(&[], false));
    assert!(coloured(&[("CLICOLOR_FORCE", "1")], false));
    assert!(!coloured(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], false));
}

/// What `msntap read ARGS` writes to its terminal (through util-linux `script`, stdout and
/// stderr both the terminal).
fn on_terminal(args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_msntap");
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{bin} read {args}"), "/dev/null"])
        .current_dir(root())
        .env_remove("RUST_LOG")
        .env("TERM", "xterm")
        .output()
        .expect("runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn progress_bars_are_drawn_on_a_terminal_only() {
    // stderr a pipe: nothing but the result.
    let out = msntap()
        .args(["read", "--summary", "captures/msnp2-two-users.pcap", "captures/msnp8-two-users.pcap"])
        .current_dir(root())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: progress on a terminal needs util-linux `script`, not installed");
        return;
    }
    // A terminal: a bar per file (bytes of the file's size), cleared when it is read.
    let one = on_terminal("--summary captures/msnp2-two-users.pcap");
    assert!(one.contains("ETA") && one.contains("/14.26 KiB"), "{one:?}");
    let two = on_terminal("--summary -j 2 captures/msnp2-two-users.pcap captures/msnp8-two-users.pcap");
    let bars: Vec<&str> = two.split(['\r', '\n']).filter(|l| l.contains("ETA")).collect();
    assert!(bars.iter().any(|l| l.contains("msnp2-two-users")) && bars.iter().any(|l| l.contains("msnp8-two-users")));
    // Not over a transcript scrolling on the same terminal, and not with -q.
    assert!(!on_terminal("captures/msnp2-two-users.pcap").contains("ETA"));
    assert!(!on_terminal("-q --summary captures/msnp2-two-users.pcap").contains("ETA"));
}

/// Peak RSS in KiB of `msntap` with `args`, `purge` as `MIMALLOC_PURGE_DELAY` (none: unset),
/// measured by GNU time; `None` when it is not installed.
fn peak_rss_kib(args: &[&std::ffi::OsStr], purge: Option<&str>) -> Option<u64> {
    let out_file = tmp(&format!("rss-{}.txt", purge.unwrap_or("unset")));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%M").arg("-o").arg(&out_file).arg(env!("CARGO_BIN_EXE_msntap")).args(args);
    cmd.env_remove("MIMALLOC_PURGE_DELAY");
    if let Some(p) = purge {
        cmd.env("MIMALLOC_PURGE_DELAY", p);
    }
    let out = cmd.stdout(std::process::Stdio::null()).output().ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&out_file).ok()?.trim().parse().ok()
}

/// `read` has mimalloc give freed memory back within a millisecond (mimalloc's default is a
/// second): a transcript of 200,000 pipelined requests, 50,000 of them open at a time, peaked
/// at about 108 MiB with the default and 58 MiB with the delay msntap sets (release build). The
/// environment still decides when it sets the delay.
#[test]
fn read_gives_freed_memory_back_soon() {
    if !std::path::Path::new("/usr/bin/time").exists() {
        eprintln!("SKIPPED: peak RSS needs GNU time (/usr/bin/time, Debian package time), not installed");
        return;
    }
    let cap = tmp("trid-200k.pcap");
    let gen = msntap().arg("generate").arg(&cap).args(["--trid-stress", "200000"]).output().expect("runs");
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    let args: Vec<&std::ffi::OsStr> = vec!["read".as_ref(), cap.as_os_str(), "--color".as_ref(), "never".as_ref()];
    let (Some(set), Some(default)) = (peak_rss_kib(&args, None), peak_rss_kib(&args, Some("1000"))) else {
        eprintln!("SKIPPED: GNU time gave no peak RSS");
        return;
    };
    assert!(set * 4 <= default * 3, "peak RSS {set} KiB with msntap's purge delay, {default} KiB with mimalloc's");
}
