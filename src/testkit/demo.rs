//! `msntap serve` (the testkit server until stopped, in every dialect it speaks) and `msntap
//! demo` (the server, the proxy in front of it and two scripted clients through their whole
//! journey in one dialect, with the proxy's live analysis).

use super::{client, server};
use crate::app::proxy::{join, runtime, spawn_analysis, stop_signal, LiveConfig};
use crate::app::Error;
use crate::proxy::{Proxy, ProxyConfig};

/// What `serve` does.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Dispatch server address.
    pub ds: std::net::SocketAddr,
    /// Notification server address.
    pub ns: std::net::SocketAddr,
    /// Switchboard address.
    pub sb: std::net::SocketAddr,
    /// The accounts (each lists every other).
    pub accounts: Vec<server::Account>,
    /// A deliberate fault (`--fault`), for trying check-server.
    pub fault: Option<server::Fault>,
}

/// What `demo` does.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Messages each user sends.
    pub rounds: usize,
    /// The dialect the two clients speak.
    pub flavor: super::flavor::Flavor,
    /// The outputs.
    pub live: LiveConfig,
}

/// `msntap serve`: the testkit server until stopped.
pub fn serve(cfg: &ServeConfig) -> Result<(), Error> {
    let rt = runtime()?;
    rt.block_on(async {
        let names: Vec<String> = cfg.accounts.iter().map(|a| a.handle.clone()).collect();
        let a = server::start_with(cfg.ds, cfg.ns, cfg.sb, cfg.accounts.clone(), None, cfg.fault)
            .await
            .map_err(|e| Error::because("cannot open the server's listeners", e))?;
        eprintln!(
            "msntap serve: dispatch {}, notification {}, switchboard {}; accounts: {}",
            a.ds,
            a.ns,
            a.sb,
            names.join(", ")
        );
        stop_signal(None).await;
        Ok(())
    })
}

/// The accounts `serve` and `demo` use when none are given.
pub fn default_accounts() -> Vec<server::Account> {
    let mut accounts: Vec<server::Account> = ["alice@hotmail.com:wonderland:Alice", "bob@hotmail.com:builder:Bob"]
        .iter()
        .filter_map(|s| server::Account::parse(s))
        .collect();
    server::befriend(&mut accounts);
    accounts
}

/// `msntap demo`: a server, the proxy in front of it and two scripted clients through their
/// whole journey; ends by itself.
pub fn demo(cfg: &DemoConfig) -> Result<(), Error> {
    let rt = runtime()?;
    let (tx, rx) = crate::proxy::channel(4096);
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let io = |e: std::io::Error| Error::because("the demo's server and proxy did not start", e);
    let (ds, proxy) = rt
        .block_on(async {
            let a = server::start(any, any, any, default_accounts(), None).await?;
            let pc = ProxyConfig { listen: any, upstream: a.ds.to_string(), ..ProxyConfig::default() };
            let p = Proxy::start(pc, tx).await?;
            std::io::Result::Ok((a.ds, p))
        })
        .map_err(io)?;
    let analysis = spawn_analysis(&cfg.live, ds.port(), rx, "msntap demo".into());
    let front = proxy.local_addr.to_string();
    let rounds = cfg.rounds;
    let result = rt.block_on(async {
        let (a, b) = ("alice@hotmail.com", "bob@hotmail.com");
        let (a_contacts, b_contacts) = ([b], [a]);
        let f = cfg.flavor;
        let who = |handle, password, contacts| client::Login { handle, password, flavor: f, contacts };
        let mut alice = client::login_as(&front, &who(a, "wonderland", &a_contacts), None).await?;
        let mut bob = client::login_as(&front, &who(b, "builder", &b_contacts), None).await?;
        let (heard_a, heard_b) = client::chat(&mut alice, &mut bob, rounds, None).await?;
        alice.ping().await?;
        bob.sign_out().await?;
        alice.sign_out().await?;
        proxy.shutdown().await;
        std::io::Result::Ok((heard_a, heard_b))
    });
    drop(rt);
    let summary = join(analysis)?;
    let (heard_a, heard_b) = result.map_err(|e| Error::because("the scripted session failed", e))?;
    if heard_a.len() != rounds || heard_b.len() != rounds || summary.connections != 6 {
        return Err(Error::Failed(format!("the demo session was incomplete: {} connections", summary.connections)));
    }
    Ok(())
}
