//! The ladder: golden text at several widths, every line within the width, one arrow per
//! event, Mermaid's participants and arrows, filters, hostile text, damaged input.

use super::common::*;
use std::process::Command;
use unicode_width::UnicodeWidthStr;

fn msntap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msntap"));
    c.current_dir(root()).env_remove("RUST_LOG");
    c
}

/// `msntap ladder ARGS` on the MSNP2 sample: exit status and stdout.
fn ladder(args: &[&str]) -> (Option<i32>, String) {
    let out = msntap().arg("ladder").args(args).args(["--color", "never"]).output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// Compares with `tests/golden/NAME`; `UPDATE_GOLDEN=1` rewrites it instead.
fn golden(name: &str, got: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(want == got, "{name} differs from the golden file; got:\n{got}");
}

const SAMPLE: &str = "captures/msnp2-two-users.pcap";

/// The events the ladder draws (every event of the sample's JSON document).
fn sample_events() -> usize {
    let doc = analyze(&std::fs::read(root().join(SAMPLE)).unwrap(), Default::default());
    doc["connections"].as_array().unwrap().iter().map(|c| c["events"].as_array().unwrap().len()).sum()
}

#[test]
fn text_ladders_match_their_golden_files_and_fit_their_width() {
    let events = sample_events();
    for width in [80, 100, 140] {
        let w = width.to_string();
        let (code, out) = ladder(&[SAMPLE, "--width", &w]);
        assert_eq!(code, Some(0));
        golden(&format!("ladder-msnp2-{width}.txt"), &out);
        let drawn: Vec<&str> = out.lines().take_while(|l| !l.starts_with(SAMPLE)).collect();
        for l in &drawn {
            assert!(l.width() <= width, "wider than {width}: {l:?}");
        }
        // Two rows per event: a label and its arrow (or dotted line).
        let arrows = drawn.iter().filter(|l| l.contains('─') || l.contains('┄')).count();
        assert_eq!(arrows, events, "width {width}");
        // Five columns: alice, DS, NS, bob, SB; each lifeline on every row.
        assert!(drawn[0].contains("alice@hotmail.com") || drawn[0].contains("alice@hot"), "{}", drawn[0]);
        assert_eq!(drawn[2].matches('│').count(), 5);
        assert!(out.contains("173 packets, 6 connections, 2 users"));
    }
    let (_, wide) = ladder(&[SAMPLE, "--width", "140"]);
    assert!(wide.contains("⇒ #5") && wide.contains("(12 ms)") && wide.contains("<redacted>"));
}

#[test]
fn mermaid_has_a_participant_per_endpoint_and_an_arrow_per_line() {
    let (code, out) = ladder(&[SAMPLE, "--format", "mermaid"]);
    assert_eq!(code, Some(0));
    golden("ladder-msnp2.mmd", &out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "sequenceDiagram");
    let participants: Vec<&str> =
        lines.iter().filter(|l| l.trim_start().starts_with("participant ")).copied().collect();
    assert_eq!(
        participants,
        [
            "    participant P0 as alice@hotmail.com [1 2 5]",
            "    participant P1 as DS 198.51.100.1:1863 [1 3]",
            "    participant P2 as NS 198.51.100.5:1863 [2 4]",
            "    participant P3 as bob@hotmail.com [3 4 6]",
            "    participant P4 as SB 198.51.100.9:1865 [5 6]",
        ]
    );
    let (mut solid, mut dashed, mut notes) = (0, 0, 0);
    for l in &lines[6..] {
        let l = l.trim_start();
        if l.starts_with("%%") {
            continue;
        }
        if l.starts_with("Note over P") {
            notes += 1;
            continue;
        }
        let (ends, text) = l.split_once(": ").unwrap_or_else(|| panic!("not an arrow: {l:?}"));
        let (a, b) =
            ends.split_once("-->>").map(|x| (x, false)).or(ends.split_once("->>").map(|x| (x, true))).map_or_else(
                || panic!("not an arrow: {l:?}"),
                |((a, b), c2s)| {
                    if c2s {
                        solid += 1
                    } else {
                        dashed += 1
                    }
                    (a.to_string(), b.to_string())
                },
            );
        for p in [a, b] {
            assert!(participants.iter().any(|d| d.contains(&format!("participant {p} "))), "{p} undeclared");
        }
        // Nothing Mermaid would read as markup, an entity or a statement end, but entities.
        let mut bare = text.to_string();
        while let Some(at) = bare.find('#') {
            let end = bare[at..].find(';').map(|k| at + k).unwrap_or_else(|| panic!("bare # in {text}"));
            assert!(bare[at + 1..end].bytes().all(|b| b.is_ascii_digit()), "{text}");
            bare.replace_range(at..=end, "");
        }
        assert!(!bare.contains(['<', '>', ';', '"', '&']), "{text}");
    }
    let doc = analyze(&std::fs::read(root().join(SAMPLE)).unwrap(), Default::default());
    let (mut c2s, mut s2c, mut other) = (0, 0, 0);
    for c in doc["connections"].as_array().unwrap() {
        for e in c["events"].as_array().unwrap() {
            match (e["kind"].as_str().unwrap(), e["dir"].as_str().unwrap()) {
                ("command" | "error" | "malformed", "c2s") => c2s += 1,
                ("command" | "error" | "malformed", _) => s2c += 1,
                _ => other += 1,
            }
        }
    }
    assert_eq!((solid, dashed, notes), (c2s, s2c, other));
}

#[test]
fn a_users_journey_and_a_command_filter() {
    let (_, bob) = ladder(&[SAMPLE, "--user", "bob@hotmail.com", "--width", "120"]);
    let head = bob.lines().next().unwrap();
    assert!(head.contains("bob@hotmail.com") && !head.contains("alice"), "{head}");
    assert!(!bob.contains("USR 3 MD5 I alice"));
    let (_, xfr) = ladder(&[SAMPLE, "--command", "XFR", "--width", "120"]);
    let doc = analyze(&std::fs::read(root().join(SAMPLE)).unwrap(), Default::default());
    let xfrs = doc["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["events"].as_array().unwrap())
        .filter(|e| e["command"] == "XFR")
        .count();
    let labels: Vec<&str> = xfr.lines().filter(|l| l.contains("XFR")).collect();
    assert_eq!(labels.len(), xfrs, "{xfr}");
    assert!(!xfr.contains("VER 1"));
}

#[test]
fn connections_not_asked_for_take_no_room() {
    // Connection 2 starts after connection 1's lines would fill ten arrows.
    let (_, out) = ladder(&[SAMPLE, "--conn", "2", "--max-arrows", "10", "--width", "100"]);
    let arrows = out.lines().filter(|l| l.contains('─') || l.contains('┄')).count();
    assert_eq!(arrows, 10, "{out}");
    assert!(out.contains("VER 4 MSNP2") && !out.contains("VER 1 MSNP2"), "{out}");
}

#[test]
fn wire_text_stays_text_in_both_formats() {
    let cap =
        one_connection(&["> VER 1 MSNP2", "< VER 1 MSNP2", "> CAL 2 <script>alert(1)</script>;#x\x1b[2J", "< 217 2"]);
    let path = tmp("hostile-ladder.pcap");
    std::fs::write(&path, cap).unwrap();
    let p = path.to_str().unwrap();
    let (_, text) = ladder(&[p, "--width", "160"]);
    assert!(!text.contains('\x1b') && text.contains("\\x1b[2J"), "{text}");
    let (_, mmd) = ladder(&[p, "--format", "mermaid"]);
    assert!(mmd.contains("#60;script#62;alert(1)#60;/script#62;#59;#35;x#92;x1b[2J"), "{mmd}");
    assert!(!mmd.contains("<script"));
}

#[test]
fn a_damaged_capture_draws_what_came_before_and_fails_as_read_does() {
    let bytes = std::fs::read(root().join(SAMPLE)).unwrap();
    let path = tmp("cut-ladder.pcap");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (code, out) = ladder(&[path.to_str().unwrap(), "--width", "100"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("VER 1 MSNP2") && out.contains("input error:"), "{out}");
    let read = msntap().args(["read", "--summary"]).arg(&path).output().unwrap();
    assert_eq!(read.status.code(), code);
}

#[test]
fn too_many_lines_are_counted_and_said() {
    let (code, out) = ladder(&[SAMPLE, "--max-arrows", "10", "--width", "100"]);
    assert_eq!(code, Some(0));
    let arrows = out.lines().filter(|l| l.contains('─') || l.contains('┄')).count();
    assert_eq!(arrows, 10);
    assert!(out.contains("more lines left out after the first 10"), "{out}");
}

#[test]
fn the_proxy_draws_the_whole_session_when_it_stops() {
    let out = msntap().args(["demo", "--ladder", "--width", "100", "--color", "never"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // The live transcript first, then the ladder of every connection.
    let live = text.find("── #1 opened").expect("live transcript");
    let head = text
        .lines()
        .position(|l| l.contains("alice@hotmail.com") && l.contains("bob@hotmail.com") && l.contains("SB 127.0.0.1:"))
        .expect("ladder");
    assert!(text.lines().take(head).map(|l| l.len() + 1).sum::<usize>() > live);
    let ladder: Vec<&str> = text.lines().skip(head).collect();
    assert!(ladder[0].contains("bob@hotmail.com") && ladder[0].contains("SB 127.0.0.1:"), "{}", ladder[0]);
    assert_eq!(ladder[2].matches('│').count(), 5);
    assert!(ladder.iter().any(|l| l.contains("XFR 10 SB")) && ladder.iter().any(|l| l.contains("RNG")));
    assert!(ladder.iter().all(|l| l.width() <= 100 || l.starts_with("msntap demo")));
}

#[test]
fn many_endpoints_still_fit_and_what_does_not_is_said() {
    let cap = tmp("many-users.pcap");
    let st = msntap().arg("generate").arg(&cap).args(["--packets", "20000"]).output().unwrap();
    assert!(st.status.success());
    let (code, out) = ladder(&[cap.to_str().unwrap(), "--width", "100"]);
    assert_eq!(code, Some(0));
    for l in out.lines().filter(|l| l.contains('│')) {
        assert!(l.width() <= 100, "{l}");
    }
    assert!(out.contains("more endpoints are not drawn: 15 columns fit in 100"), "{out}");
}
