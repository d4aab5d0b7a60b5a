//! Helpers shared by the integration tests.

use msntap::app::analyze_to_json;
use msntap::reassembly::Limits;
use msntap::session::Options;
use msntap::testkit::synth::{self, Encap, Script};
use serde_json::Value;
use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch file of this test run, in `msntap-it-<pid>` under the system's temporary
/// directory. The first call removes the directories of earlier runs whose process is gone (the
/// test harness has no hook at its end), so at most the last run's scratch stays behind.
pub fn tmp(name: &str) -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_earlier_runs);
    let d = std::env::temp_dir().join(format!("msntap-it-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Removes `msntap-it-<pid>` directories of processes that no longer run (where `/proc` tells).
fn sweep_earlier_runs() {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("msntap-it-")).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A capture of `../shared/captures`, which CI has beside the checkout.
pub fn shared_capture(name: &str) -> Vec<u8> {
    let p = root().join("../shared/captures").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (../shared must be beside the checkout)", p.display()))
}

/// The JSON document of a capture. With `MSNTAP_CORPUS` set, the capture is also written into
/// that directory (named by its hash), so `tools/same-output` can run every capture the tests
/// build through two binaries.
pub fn analyze(bytes: &[u8], opts: Options) -> Value {
    if let Some(dir) = std::env::var_os("MSNTAP_CORPUS") {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        let _ = std::fs::write(PathBuf::from(dir).join(format!("test-{:016x}.pcap", h.finish())), bytes);
    }
    analyze_to_json(bytes, opts, &[], Limits::default()).expect("capture analyses")
}

/// Every violation's rule id in a document, in order.
pub fn rule_ids(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in doc["connections"].as_array().into_iter().flatten() {
        for e in c["events"].as_array().into_iter().flatten() {
            for v in e["violations"].as_array().into_iter().flatten() {
                out.push(v["rule"].as_str().unwrap_or("").to_string());
            }
        }
    }
    out
}

/// Command events (commands and errors) of one connection.
pub fn commands(conn: &Value) -> Vec<&Value> {
    conn["events"].as_array().into_iter().flatten().filter(|e| e["kind"] == "command" || e["kind"] == "error").collect()
}

/// One scripted connection to port 1863: `>` lines are the client's, `<` lines the server's;
/// every line gets CRLF unless it holds a line feed already or starts with `!`.
pub fn one_connection(lines: &[&str]) -> Vec<u8> {
    raw_connection(&script_sends(lines))
}

/// The sends of a script as [`one_connection`] reads it (client when `true`).
pub fn script_sends(lines: &[&str]) -> Vec<(bool, Vec<u8>)> {
    lines
        .iter()
        .map(|l| {
            // `!` before the direction: send the text as written, without a line ending.
            let (verbatim, l) = match l.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, *l),
            };
            let (from_client, text) = match l.split_at(2) {
                ("> ", t) => (true, t),
                ("< ", t) => (false, t),
                _ => panic!("script line {l:?} must start with '> ' or '< '"),
            };
            // A line with a line feed of its own is sent as written too.
            let bytes = if verbatim || text.contains('\n') {
                text.as_bytes().to_vec()
            } else {
                format!("{text}\r\n").into_bytes()
            };
            (from_client, bytes)
        })
        .collect()
}

/// How a scripted connection ends in its capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptEnd {
    /// The client closes first, then the server (FIN both ways).
    Fin,
    /// The capture stops with the connection open.
    Open,
    /// The connection falls silent: 11 minutes later another connection starts, and the
    /// first is flushed after the 10-minute idle timeout.
    Idle,
}

/// One scripted connection from raw sends (client when `true`).
pub fn raw_connection(sends: &[(bool, Vec<u8>)]) -> Vec<u8> {
    raw_connection_ending(sends, ScriptEnd::Fin)
}

/// One scripted connection from raw sends, ending as `end` says.
pub fn raw_connection_ending(sends: &[(bool, Vec<u8>)], end: ScriptEnd) -> Vec<u8> {
    let mut s = Script::new(941_825_442_000_000_000, 11);
    let c = s.connect("203.0.113.5:40000".parse().unwrap(), "198.51.100.5:1863".parse().unwrap());
    for (from_client, bytes) in sends {
        s.send(c, *from_client, bytes);
        s.advance_ms(5);
    }
    match end {
        ScriptEnd::Fin => s.close(c, true),
        ScriptEnd::Open => {}
        ScriptEnd::Idle => {
            s.advance_ms(11 * 60 * 1000);
            let d = s.connect("203.0.113.6:40001".parse().unwrap(), "198.51.100.5:1863".parse().unwrap());
            s.close(d, true);
        }
    }
    synth::pcap(&s.segs, Encap::Ethernet, None)
}

/// Starts the msntap binary with `args` (stdout as given, stderr piped) and reads the first line
/// it writes to stderr (where it says it is ready); returns the process, the rest of its stderr
/// and that line.
pub fn spawn_msntap<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
    stdout: std::process::Stdio,
) -> (std::process::Child, std::io::BufReader<std::process::ChildStderr>, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_msntap"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    (child, err, first)
}
