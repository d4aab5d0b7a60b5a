//! The HTML report: its content against the analysis, escaping of wire text, damaged input,
//! several captures, the proxy's report, and (when Debian's `chromium` is installed) the page
//! loaded in a real headless browser.

use super::common::*;
use std::process::Command;

fn msntap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msntap"));
    c.current_dir(root()).env_remove("RUST_LOG");
    c
}

const SAMPLE: &str = "captures/msnp2-two-users.pcap";

/// Writes the report of `capture` to a scratch file; returns the exit status and the page.
fn report(capture: &std::path::Path, name: &str, extra: &[&str]) -> (Option<i32>, String, std::path::PathBuf) {
    let out = tmp(name);
    let st = msntap().arg("report").arg(capture).arg("-o").arg(&out).args(extra).status().unwrap();
    let page = std::fs::read_to_string(&out).unwrap_or_default();
    (st.code(), page, out)
}

/// A capture whose server names the user `<img src=x onerror=alert(1)>` (URL-encoded, as
/// MSNP2 sends names) and whose client sends a raw `<script>`.
fn hostile_capture() -> std::path::PathBuf {
    let cap = one_connection(&[
        "> VER 1 MSNP2",
        "< VER 1 MSNP2",
        "> INF 2",
        "< INF 2 MD5",
        "> USR 3 MD5 I mallory@hotmail.com",
        "< USR 3 MD5 S 1234.5678",
        "> USR 4 MD5 S 0123456789abcdef0123456789abcdef",
        "< USR 4 OK mallory@hotmail.com %3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "> CAL 5 <script>alert(2)</script>",
        "< 217 5",
    ]);
    let path = tmp("hostile-report.pcap");
    std::fs::write(&path, cap).unwrap();
    path
}

#[test]
fn the_report_holds_what_the_analysis_found() {
    let (code, page, _) = report(&root().join(SAMPLE), "sample.html", &[]);
    assert_eq!(code, Some(0));
    let doc = analyze(&std::fs::read(root().join(SAMPLE)).unwrap(), Default::default());
    let conns = doc["connections"].as_array().unwrap();
    assert_eq!(page.matches("<tr class=\"conn\"").count(), conns.len());
    for c in conns {
        assert!(page.contains(&format!("data-id=\"{}\"", c["id"])));
    }
    assert_eq!(page.matches("<li class=\"user\">").count(), 2);
    assert!(page.contains("<li class=\"user\">alice@hotmail.com</li>") && page.contains(">bob@hotmail.com</li>"));
    let events: usize = conns.iter().map(|c| c["events"].as_array().unwrap().len()).sum();
    assert_eq!(page.matches("<tr id=\"e").count(), events);
    // Two journeys (one per user), latency per verb, the source and the version.
    assert_eq!(page.matches("<h3 class=\"journey-user\">").count(), 2);
    assert!(page.contains("<td><code>USR</code></td>") && page.contains("msntap 0."));
    // Self-contained: no script, style or image from anywhere, and a policy that forbids it.
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    for bad in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(bad), "{bad}");
    }
    // Secrets stay redacted.
    assert!(page.contains("&lt;redacted&gt;") && !page.contains("wonderland"));
}

#[test]
fn violations_link_to_their_events_and_wire_text_stays_text() {
    let cap = hostile_capture();
    let (code, page, _) = report(&cap, "hostile.html", &[]);
    assert_eq!(code, Some(0));
    assert!(!page.contains("<img") && !page.contains("<script>alert"), "markup from the wire reached the page");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "the friendly name is shown as text");
    // minijinja escapes the slash too.
    assert!(page.contains("CAL 5 &lt;script&gt;alert(2)&lt;&#x2f;script&gt;"), "the raw line is shown as text");
    // Each rule's first event is linked, and the target exists.
    let link = page.split("<a href=\"#e").nth(1).and_then(|s| s.split('"').next()).expect("a violation link");
    assert!(page.contains(&format!("<tr id=\"e{link}\"")), "{link}");
    assert!(page.contains("MSNP-"));
}

#[test]
fn a_damaged_capture_is_reported_up_to_the_damage_with_reads_status() {
    let bytes = std::fs::read(root().join(SAMPLE)).unwrap();
    let cut = tmp("cut-report.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, page, _) = report(&cut, "cut.html", &[]);
    assert_eq!(code, Some(1));
    assert!(page.contains("id=\"input-error\"") && page.contains("VER 1 MSNP2"));
    assert!(page.trim_end().ends_with("</html>"));
}

#[test]
fn several_captures_give_a_report_each_in_a_directory() {
    let dir = tmp("reports");
    let st = msntap().args(["report", SAMPLE, "captures/msnp8-two-users.pcap", "-o"]).arg(&dir).status().unwrap();
    assert_eq!(st.code(), Some(0));
    for name in ["msnp2-two-users.html", "msnp8-two-users.html"] {
        let page = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(page.contains("</html>") && page.contains("alice@hotmail.com"), "{name}");
    }
}

#[test]
fn the_proxy_writes_its_report_when_it_stops() {
    let out = tmp("demo.html");
    let st = msntap().args(["demo", "--color", "never", "--report"]).arg(&out).output().unwrap();
    assert_eq!(st.status.code(), Some(0), "{}", String::from_utf8_lossy(&st.stderr));
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.matches("<tr class=\"conn\"").count(), 6);
    assert!(page.contains(">proxy<") || page.contains("proxy ·"), "the source is the proxy");
}

/// Debian's chromium, if installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[test]
fn the_report_loads_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: the report's browser test needs chromium (Debian: apt-get install chromium), not installed"
        );
        return;
    };
    let cap = hostile_capture();
    for (capture, name) in [(root().join(SAMPLE), "browser-sample.html"), (cap, "browser-hostile.html")] {
        let (code, _, path) = report(&capture, name, &[]);
        assert_eq!(code, Some(0));
        let profile = tmp(&format!("{name}-profile"));
        let out = Command::new(browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--enable-logging=stderr"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--virtual-time-budget=2000", "--dump-dom"])
            .arg(format!("file://{}", path.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(dom.contains("data-ready=\"1\""), "the page's script did not finish: {log}");
        assert!(dom.contains("<div id=\"js-errors\" class=\"banner\"></div>"), "script errors: {dom}");
        let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect();
        assert!(console.is_empty(), "console messages: {console:?}");
        if name == "browser-sample.html" {
            assert_eq!(dom.matches("<tr class=\"conn\"").count(), 6);
            assert!(dom.contains(">alice@hotmail.com</li>") && dom.contains(">bob@hotmail.com</li>"));
            assert_eq!(dom.matches("<svg").count(), 2);
        } else {
            // The browser parsed the name as text: no element came of it.
            assert!(!dom.contains("<img") && !dom.contains("<script>alert"), "{dom}");
            assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
        }
    }
}
