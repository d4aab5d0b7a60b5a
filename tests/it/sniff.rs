//! `msntap sniff` (feature `live`): capture a scripted session on the loopback interface.

#[cfg(feature = "live")]
#[test]
fn sniffing_loopback_decodes_and_pairs_every_command() {
    use crate::common::{spawn_msntap, tmp};
    use msntap::testkit::{client, server};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut accts: Vec<server::Account> =
        ["a@hotmail.com:pa:A", "b@hotmail.com:pb:B"].iter().map(|s| server::Account::parse(s).unwrap()).collect();
    server::befriend(&mut accts);
    let addrs = rt.block_on(server::start(any, any, any, accts, None)).unwrap();
    let bpf = format!("tcp port {} or tcp port {} or tcp port {}", addrs.ds.port(), addrs.ns.port(), addrs.sb.port());
    let json = tmp("sniff.json");
    let args = ["sniff", "-i", "lo", "--bpf", &bpf, "--color", "never", "--json"].map(std::ffi::OsStr::new);
    let (mut child, mut err, first) =
        spawn_msntap(args.into_iter().chain([json.as_os_str()]), std::process::Stdio::null());
    if !first.contains("capturing on lo") {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        let _ = child.wait();
        assert!(first.contains("not permitted") || rest.contains("not permitted"), "sniff failed: {first}{rest}");
        eprintln!(
            "NOTE: this process may not capture on lo (needs root or CAP_NET_RAW): the live capture test did not run"
        );
        return;
    }
    rt.block_on(async {
        let ds = addrs.ds.to_string();
        let mut a = client::login(&ds, "a@hotmail.com", "pa", None).await.unwrap();
        let mut b = client::login(&ds, "b@hotmail.com", "pb", None).await.unwrap();
        client::chat(&mut a, &mut b, 2, None).await.unwrap();
        b.sign_out().await.unwrap();
        a.sign_out().await.unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    assert_eq!(status.code(), Some(0), "{rest}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let conns = doc["connections"].as_array().unwrap();
    let roles: Vec<&str> = conns.iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(roles.len(), 6, "{roles:?}");
    assert_eq!(roles.iter().filter(|r| **r == "SB").count(), 2);
    for c in conns {
        assert_eq!(c["start_seen"], true);
        for t in c["transactions"].as_array().unwrap() {
            assert!(t["outcome"] == "ok" || t["outcome"] == "no-reply-expected", "{t}");
        }
    }
    assert_eq!(doc["links"].as_array().unwrap().iter().filter(|l| l["to"].is_object()).count(), 4);
    assert_eq!(super::common::rule_ids(&doc), Vec::<String>::new());
}

#[cfg(not(feature = "live"))]
#[test]
fn sniff_without_the_feature_says_how_to_get_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msntap")).args(["sniff", "-i", "lo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features live"));
}
