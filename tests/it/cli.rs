//! The binary: exit codes, colour, outputs.

use super::common::*;
use std::process::Command;

fn msntap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msntap"));
    c.env_remove("NO_COLOR");
    c
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("msntap-it-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
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
    assert!(
        text.contains("── #5 SB 203.0.113.10:40003 → 198.51.100.9:1865 · alice@hotmail.com · MSNP2 · from #2 (XFR SB)")
    );
    assert!(text.contains("friendly-name=\"Carol ☃\""));
    assert!(text.contains("↩ USR 7, 21 ms"));
    assert!(text.contains("6 connections, 2 users, 82 commands, 26 transactions, 0 errors, 0 warnings"));
    assert!(!text.contains('\x1b'), "no colour with --color never");
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let out = msntap()
        .args(["read", "captures/msnp2-two-users.pcap", "--color", "always"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\x1b["));
    // auto: stdout is a pipe here, so no colour; NO_COLOR changes nothing for always.
    let out = msntap().args(["read", "captures/msnp2-two-users.pcap"]).current_dir(root()).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\x1b["));
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
    let out =
        msntap().args(["read", "captures/msnp2-two-users.pcap", "--json", "-"]).current_dir(root()).output().unwrap();
    let doc2: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON document");
    assert_eq!(doc2["connections"], doc["connections"]);
}

#[test]
fn usage_errors_exit_2_and_unreadable_input_exits_1() {
    let out = msntap().args(["read"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = msntap()
        .args(["read", "captures/msnp2-two-users.pcap", "--color", "purple"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
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
